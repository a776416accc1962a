#!/usr/bin/env python3
"""Stray segments at an anycast node (issue 6 step 2; RFC 9293 3.10.7.1/.2).

A node that routing moved a client to has no connection for that client's
segments. This sends such segments, crafted with scapy, to the engine's
anycast VIP and to its port address, and checks the exact answers, the
counters of `show anycast json` and `show conn json`, and the reset rate
limit under a flood.

Run in the namespace that holds the kernel side of the engine's TAP. The
frames come from an address and MAC the kernel does not own (--src-ip,
--src-mac), so the kernel neither answers them nor takes the engine's
answers; those are read from an AF_PACKET socket with a BPF filter (ether
dst = --src-mac, IPv4, TCP): tcp_rfc.py's Wire, imported from this folder.

  stray.py --iface ae0 --dst-mac M --port-ip 10.0.2.2 --vip 203.0.113.10
           --anyedge BIN --ctl-sock S [--cases abcdef]

HTTP listens on --http-port (a LISTEN TCB on every local address); nothing
listens on --closed-port (CLOSED). With X = VIP and PORT_IP:

  a  stray ACK to X:http, VIP:closed     -> <SEQ=SEG.ACK><CTL=RST>, from X
  b  stray data+ACK to X:http            -> <SEQ=SEG.ACK><CTL=RST>
  c  to X:closed, no ACK: data, FIN+data, SYN
                                         -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  d  to X:http (LISTEN), no ACK, no SYN: data, FIN
                                         -> nothing (3.10.7.2 "fourth": drop),
                                            counted as table.listen_dropped
  e  RST to X:http, VIP:closed; RST+ACK to VIP:http
                                         -> nothing within 1 s
     then: the counters moved by exactly the answers above, no connection
  f  --flood stray ACKs to VIP:http, as fast as one AF_PACKET socket sends,
     after 1.1 s of quiet -> answered + rate-limited == delivered, at most
     --rst-per-sec per window per receiving queue (exactly that many when
     the flood fits in one window), every RST on the wire counted and exact;
     after 1.1 s more, a stray ACK is answered again

Prints every segment sent and received and one line per check:
  CHECK PASS <description>   or   CHECK FAIL <description>
Exit status 0 when every check passed.
"""

import argparse
import errno
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcp_rfc import IP, TCP, Engine, Ether, Raw, Wire, flags_str, seg_str, tcp_len  # noqa: E402

FAILS = 0
RST, ACK_F = 0x04, 0x10


def check(ok, desc):
    global FAILS
    if not ok:
        FAILS += 1
    print("CHECK %s %s" % ("PASS" if ok else "FAIL", desc), flush=True)
    return ok


def say(msg):
    print(msg, flush=True)


class Counters:
    """The counters this test reads: show anycast json + show conn json's table."""

    def __init__(self, eng):
        self.eng = eng

    def read(self):
        an = json.loads(self.eng.ctl("show anycast json"))
        conn = json.loads(self.eng.ctl("show conn json"))
        v = {"anycast." + k: an[k] for k in ("rst_stray_ack", "rst_sent")}
        v.update({"table." + k: val for k, val in conn["table"].items()})
        v["conns"] = len(conn["conns"])
        v["_anycast"] = an
        return v

    @staticmethod
    def delta(a, b):
        return {k: b[k] - a[k] for k in b if not k.startswith("_") and b[k] != a[k]}


class Stray:
    def __init__(self, a):
        self.a = a
        self.wire = Wire(a.iface, a.src_mac)
        self.eng = Engine(a.anyedge, a.ctl_sock)
        self.ctr = Counters(self.eng)
        self.rnd = random.Random(a.seed)
        self.eth = Ether(src=a.src_mac, dst=a.dst_mac)
        self.used = set()
        # what the single-segment cases a..e expect the counters to do
        self.want = {"rst_sent": 0, "rst_stray_ack": 0, "rst_ignored": 0, "listen_dropped": 0}
        self.c0 = None

    def sport(self):
        while True:
            p = self.rnd.randint(20000, 60000)
            if p not in self.used:
                self.used.add(p)
                return p

    def frame(self, dst, sport, dport, flags, seq, ack=0, payload=b""):
        p = self.eth / IP(src=self.a.src_ip, dst=dst, ttl=64) / TCP(
            sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535)
        if payload:
            p = p / Raw(payload)
        return Ether(bytes(p))  # lengths and checksums filled in

    def flow(self, dst, sport, dport):
        def m(p):
            return (IP in p and TCP in p and p[IP].src == dst and p[IP].dst == self.a.src_ip
                    and p[TCP].sport == dport and p[TCP].dport == sport)
        return m

    def send(self, p, wait=1.0, expect_answer=True):
        """Send P; every answer of its flow within WAIT s (0.3 s past the first)."""
        dst, sport, dport = p[IP].dst, p[TCP].sport, p[TCP].dport
        self.wire.drain()
        say("  sent: %s" % seg_str(p))
        self.wire.send(p)
        got = self.wire.recv_for(wait, stop_after=1 if expect_answer else None,
                                 match=self.flow(dst, sport, dport))
        for r in got:
            say("  recv: %s" % seg_str(r))
        if not got:
            say("  recv: nothing within %.1f s" % wait)
        return got

    def answer_common(self, tag, p, r):
        """Addresses, ports and length of the answer R to P."""
        check(r[Ether].dst == self.a.src_mac and r[Ether].src == self.a.dst_mac,
              "%s: answer goes from the engine's MAC to the sender's (%s > %s)" % (tag, r[Ether].src, r[Ether].dst))
        check(r[IP].src == p[IP].dst and r[IP].dst == p[IP].src,
              "%s: answer's source address is the address the segment was sent to, %s (got %s > %s)"
              % (tag, p[IP].dst, r[IP].src, r[IP].dst))
        check(r[TCP].sport == p[TCP].dport and r[TCP].dport == p[TCP].sport,
              "%s: answer's ports are the segment's, swapped (%d > %d)" % (tag, r[TCP].sport, r[TCP].dport))
        check(tcp_len(r) == 0, "%s: the RST carries no data (%d bytes)" % (tag, tcp_len(r)))

    # -- a, b: ACK-bearing -> <SEQ=SEG.ACK><CTL=RST> ---------------------------
    def with_ack(self, name, dst, dport, flags, payload, what):
        tag = "%s %s:%d" % (name, dst, dport)
        say("case %s: %s to %s:%d, no connection" % (name, what, dst, dport))
        seq, ack = self.rnd.getrandbits(32), self.rnd.getrandbits(32)
        p = self.frame(dst, self.sport(), dport, flags, seq, ack, payload)
        got = self.send(p)
        self.want["rst_sent"] += 1
        self.want["rst_stray_ack"] += 1
        if not check(len(got) == 1, "%s: %s answered by exactly one segment (got %d)" % (tag, what, len(got))):
            return
        r = got[0]
        check(int(r[TCP].flags) == RST, "%s: the answer is RST alone, no ACK flag (flags %s)"
              % (tag, flags_str(r[TCP].flags)))
        check(r[TCP].seq == ack, "%s: RST seq == SEG.ACK %d (got %d)" % (tag, ack, r[TCP].seq))
        self.answer_common(tag, p, r)

    # -- c: no ACK, closed port -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> ---
    def no_ack(self, name, dst, dport, flags, payload, what):
        tag = "%s %s:%d" % (name, dst, dport)
        say("case %s: %s to %s:%d (closed)" % (name, what, dst, dport))
        seq = self.rnd.getrandbits(32)
        p = self.frame(dst, self.sport(), dport, flags, seq, 0, payload)
        seg_len = len(payload) + ("S" in flags) + ("F" in flags)
        want = (seq + seg_len) & 0xFFFFFFFF
        got = self.send(p)
        self.want["rst_sent"] += 1
        if not check(len(got) == 1, "%s: %s answered by exactly one segment (got %d)" % (tag, what, len(got))):
            return
        r = got[0]
        check(int(r[TCP].flags) == RST | ACK_F, "%s: the answer to %s is RST+ACK (flags %s)"
              % (tag, what, flags_str(r[TCP].flags)))
        check(r[TCP].seq == 0, "%s: RST seq == 0 (got %d)" % (tag, r[TCP].seq))
        check(r[TCP].ack == want, "%s: RST ack == SEG.SEQ+SEG.LEN = %d+%d = %d (got %d)"
              % (tag, seq, seg_len, want, r[TCP].ack))
        self.answer_common(tag, p, r)

    # -- d, e: no answer -------------------------------------------------------
    def silent(self, name, dst, dport, flags, payload, what, counter):
        tag = "%s %s:%d" % (name, dst, dport)
        say("case %s: %s to %s:%d" % (name, what, dst, dport))
        p = self.frame(dst, self.sport(), dport, flags, self.rnd.getrandbits(32),
                       self.rnd.getrandbits(32) if "A" in flags else 0, payload)
        got = self.send(p, wait=1.0, expect_answer=False)
        self.want[counter] += 1
        check(len(got) == 0, "%s: no answer to %s within 1 s (got %d: %s)"
              % (tag, what, len(got), ", ".join(flags_str(g[TCP].flags) for g in got)))

    def counters_after_single(self):
        c1 = self.ctr.read()
        d = Counters.delta(self.c0, c1)
        w = self.want
        say("counters after the single segments: delta %s; expected rst_sent +%d, rst_stray_ack +%d, "
            "rst_ignored +%d, listen_dropped +%d" % (json.dumps(d), w["rst_sent"], w["rst_stray_ack"], w["rst_ignored"],
                                         w["listen_dropped"]))
        say("  show anycast json: %s" % json.dumps(c1["_anycast"]))
        for k in ("anycast.rst_stray_ack", "table.rst_stray_ack"):
            check(d.get(k, 0) == w["rst_stray_ack"], "show %s: %s rose by %d, one per answered ACK-bearing stray (%d)"
                  % (k.split(".")[0].replace("table", "conn"), k, d.get(k, 0), w["rst_stray_ack"]))
        for k in ("anycast.rst_sent", "table.rst_sent"):
            check(d.get(k, 0) == w["rst_sent"], "show %s: %s rose by %d, one per RST on the wire (%d)"
                  % (k.split(".")[0].replace("table", "conn"), k, d.get(k, 0), w["rst_sent"]))
        check(d.get("table.rst_ignored", 0) == w["rst_ignored"],
              "show conn: table.rst_ignored rose by %d, one per stray RST (%d)" % (d.get("table.rst_ignored", 0), w["rst_ignored"]))
        check(d.get("table.listen_dropped", 0) == w["listen_dropped"],
              "show conn: table.listen_dropped rose by %d, one per segment without SYN or ACK to the listening port (%d)"
              % (d.get("table.listen_dropped", 0), w["listen_dropped"]))
        check(d.get("table.rst_rate_limited", 0) == 0,
              "show conn: table.rst_rate_limited unchanged by single segments (+%d)" % d.get("table.rst_rate_limited", 0))
        check(d.get("table.opened", 0) == 0 and d.get("table.cookies_accepted", 0) == 0 and c1["conns"] == 0,
              "no stray segment opened a connection (opened +%d, cookies_accepted +%d, %d live)"
              % (d.get("table.opened", 0), d.get("table.cookies_accepted", 0), c1["conns"]))

    # -- f: the rate limit ------------------------------------------------------
    def flood(self, name):
        n, vip, dport = self.a.flood, self.a.vip, self.a.http_port
        rate, queues = self.a.rst_per_sec, self.a.queues
        say("case %s: %d stray ACKs to %s:%d as fast as possible, after 1.1 s of quiet" % (name, n, vip, dport))
        frames, acks = [], {}
        for i in range(n):
            ack = self.rnd.getrandbits(32)
            sport = 1024 + i
            acks[(sport, ack)] = True
            frames.append(bytes(self.frame(vip, sport, dport, "A", self.rnd.getrandbits(32), ack)))
        say("  e.g. sent: %s" % seg_str(Ether(frames[0])))

        def kstat(what):
            with open("/sys/class/net/%s/statistics/%s" % (self.a.iface, what)) as f:
                return int(f.read())

        time.sleep(1.1)  # the limiter's window from cases a..e is over
        c0, kd0 = self.ctr.read(), kstat("tx_dropped")
        self.wire.drain()
        retries = 0
        ts = time.monotonic()
        for f in frames:
            while True:
                try:
                    self.wire.send(f)
                    break
                except OSError as e:  # a full qdisc: wait, the frame is not sent
                    if e.errno != errno.ENOBUFS or retries > 100000:
                        raise
                    retries += 1
                    time.sleep(0.0005)
        elapsed = time.monotonic() - ts

        def rst_from_vip(p):
            return IP in p and TCP in p and p[IP].src == vip and p[TCP].sport == dport and int(p[TCP].flags) & RST

        got = self.wire.recv_for(1.5, match=rst_from_vip)
        c1, kd1 = self.ctr.read(), kstat("tx_dropped")
        d = Counters.delta(c0, c1)
        kd = kd1 - kd0
        delivered = n - kd
        # RSTs the limiter deferred (the last stray segment of a 4-tuple is
        # answered when the limit allows, if the client's MAC is known) are
        # not answers of this window.
        answered = d.get("table.rst_sent", 0) - d.get("table.rst_deferred", 0)
        limited = d.get("table.rst_rate_limited", 0)
        # The limiter is a fixed one-second window of rst_per_sec per table
        # (one per receiving queue); a flood sent in under 0.9 s is one window.
        windows = int(elapsed + 0.1) + 1
        bound = rate * windows * queues
        say("  sent %d frames in %.3f s (%d ENOBUFS retries); kernel %s tx_dropped +%d, so %d delivered; "
            "RSTs on the wire %d" % (n, elapsed, retries, self.a.iface, kd, delivered, len(got)))
        say("  counters delta: %s" % json.dumps(d))
        say("  limit: %d/s per table, %d receiving queue(s), %d window(s) -> at most %d answers"
            % (rate, queues, windows, bound))
        check(elapsed < 2.0, "%s: %d stray ACKs sent within 2 s (%.3f s, %.0f/s)" % (name, n, elapsed, n / elapsed))
        check(delivered > rate * queues,
              "%s: more stray ACKs reached the engine (%d) than one window of the limit (%d)" % (name, delivered, rate * queues))
        check(answered + limited == delivered,
              "%s: answered + rate-limited == delivered: table.rst_sent +%d + table.rst_rate_limited +%d == %d sent - %d kernel drops"
              % (name, answered, limited, n, kd))
        check(limited > 0, "%s: table.rst_rate_limited rose (+%d)" % (name, limited))
        check(answered <= bound, "%s: at most the limit answered: %d <= %d" % (name, answered, bound))
        check(answered >= min(delivered, rate), "%s: the first window is used in full: %d >= %d"
              % (name, answered, min(delivered, rate)))
        if windows == 1 and queues == 1:
            check(answered == rate, "%s: one window, one queue: exactly rst_per_sec = %d answered (got %d)"
                  % (name, rate, answered))
        check(d.get("anycast.rst_stray_ack", 0) == answered and d.get("anycast.rst_sent", 0) == answered,
              "%s: show anycast: rst_stray_ack +%d and rst_sent +%d == the answers (%d)"
              % (name, d.get("anycast.rst_stray_ack", 0), d.get("anycast.rst_sent", 0), answered))
        check(len(got) == answered, "%s: RSTs seen on the wire (%d) == table.rst_sent delta (%d)"
              % (name, len(got), answered))
        exact = [g for g in got if int(g[TCP].flags) == RST and (g[TCP].dport, g[TCP].seq) in acks
                 and g[IP].dst == self.a.src_ip and tcp_len(g) == 0]
        check(len(exact) == len(got), "%s: every RST on the wire is <SEQ=SEG.ACK><CTL=RST> for one of our ACKs "
              "(%d of %d)" % (name, len(exact), len(got)))
        uniq = {(g[TCP].dport, g[TCP].seq) for g in exact}
        check(len(uniq) == len(exact), "%s: no stray ACK answered twice (%d distinct of %d)" % (name, len(uniq), len(exact)))
        check(c1["conns"] == 0 and d.get("table.opened", 0) == 0, "%s: the flood opened no connection" % name)

        say("  - after 1.1 s more, the limiter lets a stray ACK through again")
        time.sleep(1.1)
        self.with_ack(name, vip, dport, "A", b"", "stray ACK after the flood")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True, help="the engine's MAC")
    ap.add_argument("--src-mac", default="02:00:00:00:00:77")
    ap.add_argument("--src-ip", default="10.0.2.77")
    ap.add_argument("--port-ip", default="10.0.2.2")
    ap.add_argument("--vip", default="203.0.113.10")
    ap.add_argument("--http-port", type=int, default=80)
    ap.add_argument("--closed-port", type=int, default=81)
    ap.add_argument("--anyedge", required=True)
    ap.add_argument("--ctl-sock", required=True)
    ap.add_argument("--cases", default="abcdef")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flood", type=int, default=5000)
    ap.add_argument("--rst-per-sec", type=int, default=1000, help="the engine's [tcp] rst_per_sec")
    ap.add_argument("--queues", type=int, default=1, help="receive queues of the engine's port (one limiter each)")
    a = ap.parse_args()
    a.src_mac, a.dst_mac = a.src_mac.lower(), a.dst_mac.lower()

    s = Stray(a)
    say("stray.py: from %s (%s) to the engine %s on %s: VIP %s, port %s, http %d, closed %d, seed %d"
        % (a.src_ip, a.src_mac, a.dst_mac, a.iface, a.vip, a.port_ip, a.http_port, a.closed_port, a.seed))
    h, c = a.http_port, a.closed_port
    both = (a.vip, a.port_ip)
    s.c0 = s.ctr.read()
    for case in a.cases:
        try:
            if case == "a":
                for dst in both:
                    s.with_ack("a", dst, h, "A", b"", "stray ACK")
                s.with_ack("a", a.vip, c, "A", b"", "stray ACK")
            elif case == "b":
                for dst in both:
                    s.with_ack("b", dst, h, "PA", b"anyedge-stray-data-" * 10, "stray data+ACK")
            elif case == "c":
                for dst in both:
                    s.no_ack("c", dst, c, "P", b"anyedge-bare-data-" * 5, "data without ACK")
                    s.no_ack("c", dst, c, "F", b"anyedge-fin-data", "FIN+data without ACK")
                    s.no_ack("c", dst, c, "S", b"", "bare SYN")
            elif case == "d":
                for dst in both:
                    s.silent("d", dst, h, "P", b"anyedge-bare-data-" * 5, "data without ACK (LISTEN)", "listen_dropped")
                    s.silent("d", dst, h, "F", b"", "FIN without ACK (LISTEN)", "listen_dropped")
            elif case == "e":
                for dst in both:
                    s.silent("e", dst, h, "R", b"", "a stray RST", "rst_ignored")
                s.silent("e", a.vip, c, "R", b"", "a stray RST", "rst_ignored")
                s.silent("e", a.vip, h, "RA", b"", "a stray RST+ACK", "rst_ignored")
                s.counters_after_single()
            elif case == "f":
                s.flood("f")
            else:
                check(False, "unknown case %r" % case)
        except Exception as e:  # noqa: BLE001 - a crashed case is a failed check
            import traceback

            traceback.print_exc(file=sys.stdout)
            check(False, "case %s ran to the end (%r)" % (case, e))
    say("stray.py: %d failed checks" % FAILS)
    return 0 if FAILS == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
