#!/usr/bin/env python3
"""Crafted TCP segments against the engine (RFC 9293 3.10.7.1, RFC 5961).

Run in the namespace that holds the kernel side of the engine's TAP. Frames
are built with scapy from an address the kernel does not own (--src-ip,
--src-mac), sent with a plain AF_PACKET socket to the engine's MAC, and the
answers are read from another AF_PACKET socket on the same interface with a
classic BPF filter (ether dst = --src-mac, IPv4, TCP) attached. The kernel
drops those answers (not its MAC, not its address) and sends nothing itself.

  tcp_rfc.py --iface ae0 --dst-mac M --port-ip 10.0.2.2 --vip 203.0.113.10
             --anyedge BIN --ctl-sock S [--cases abcdefg]

Cases:
  a  stray ACK to PORT_IP:80 (no listener)      -> one RST, seq = our ack, no ACK
  b  stray ACK to VIP:9 (listening, no conn)    -> one RST, seq = our ack, no ACK
  c  bare SYN to PORT_IP:81                     -> one RST|ACK, seq 0, ack = seq+1
  d  FIN+data, no ACK, to PORT_IP:80            -> one RST|ACK, ack = seq+len+1
  e  RST to PORT_IP:80                          -> nothing within 1 s
  f  handshake with echo (PORT_IP:7); in-window RST (seq = RCV.NXT+10) ->
     challenge ACK, still ESTABLISHED; SYN on it -> challenge ACK; a burst
     of in-window RSTs -> at most 100 challenge ACKs per second; an
     out-of-window RST -> nothing; data still echoed; the exact RST
     (seq = RCV.NXT) -> nothing, and the connection is gone
  g  3000 stray ACKs within < 2 s -> rst_sent rises by at most 1000 per
     started second (+100), rst_rate_limited rises, and the RSTs seen on the
     wire match rst_sent

Prints what is sent and received, and one line per check:
  CHECK PASS <description>   or   CHECK FAIL <description>
Exit status 0 when every check passed.
"""

import argparse
import ctypes
import json
import math
import random
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
PACKET_OUTGOING = 4

FAILS = 0


def _scapy():
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import IP, TCP, Ether, Raw

    return Ether, IP, TCP, Raw


Ether, IP, TCP, Raw = _scapy()


def check(ok, desc):
    global FAILS
    if not ok:
        FAILS += 1
    print("CHECK %s %s" % ("PASS" if ok else "FAIL", desc), flush=True)
    return ok


def say(msg):
    print(msg, flush=True)


def mac_bytes(mac):
    b = bytes(int(x, 16) for x in mac.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC %r" % mac)
    return b


def flags_str(f):
    return str(TCP(flags=int(f)).flags) or "none"


def tcp_len(p):
    """TCP payload length from the IP total length (frames may be padded)."""
    ip, t = p[IP], p[TCP]
    return ip.len - ip.ihl * 4 - t.dataofs * 4


def seg_str(p):
    """One line for a frame: addresses, flags, seq/ack, window, length."""
    if IP not in p or TCP not in p:
        return p.summary()
    ip, t = p[IP], p[TCP]
    plen = tcp_len(p)
    opts = ""
    if t.options:
        opts = " opts=%s" % ",".join(
            "%s=%s" % (o[0], o[1]) if o[1] not in (b"", None) else str(o[0]) for o in t.options
        )
    return "%s %s:%d > %s:%d flags=%s seq=%d ack=%d win=%d len=%d%s" % (
        p[Ether].src if Ether in p else "",
        ip.src, t.sport, ip.dst, t.dport, flags_str(t.flags), t.seq, t.ack, t.window, plen, opts,
    )


class Wire:
    """Send raw frames and receive the engine's answers to --src-mac."""

    def __init__(self, iface, src_mac):
        self.iface = iface
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.tx.bind((iface, 0))
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:  # room for a burst of answers; root may pass rmem_max
            self.rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            self.rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self._attach_filter(mac_bytes(src_mac))
        self.rx.bind((iface, ETH_P_ALL))
        self.drain()

    def _attach_filter(self, mac):
        # ether dst == mac && ethertype == IPv4 && ip proto == TCP
        hi, lo = struct.unpack("!IH", mac)
        prog = [
            (0x20, 0, 0, 0),  # ld [0]
            (0x15, 0, 7, hi),  # jeq hi
            (0x28, 0, 0, 4),  # ldh [4]
            (0x15, 0, 5, lo),  # jeq lo
            (0x28, 0, 0, 12),  # ldh [12]
            (0x15, 0, 3, 0x0800),  # jeq IPv4
            (0x30, 0, 0, 23),  # ldb [23]
            (0x15, 0, 1, 6),  # jeq TCP
            (0x06, 0, 0, 0xFFFF),  # ret accept
            (0x06, 0, 0, 0),  # ret drop
        ]
        insns = b"".join(struct.pack("HBBI", *i) for i in prog)
        self._fbuf = ctypes.create_string_buffer(insns)  # keep alive
        fprog = struct.pack("HL", len(prog), ctypes.addressof(self._fbuf))
        self.rx.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def drain(self):
        self.rx.setblocking(False)
        n = 0
        try:
            while True:
                self.rx.recv(65535)
                n += 1
        except BlockingIOError:
            pass
        return n

    def send(self, frame):
        return self.tx.send(frame if isinstance(frame, bytes) else bytes(frame))

    def recv_for(self, seconds, stop_after=None, match=None):
        """Frames received within SECONDS (as scapy packets); returns early
        once STOP_AFTER matching frames arrived and 0.3 s more passed."""
        got = []
        end = time.monotonic() + seconds
        extended = False
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return got
            self.rx.settimeout(left)
            try:
                data, addr = self.rx.recvfrom(65535)
            except socket.timeout:
                return got
            if addr[2] == PACKET_OUTGOING:
                continue
            p = Ether(data)
            if match is not None and not match(p):
                continue
            got.append(p)
            if stop_after is not None and len(got) >= stop_after and not extended:
                # keep listening a little for duplicates
                end = min(end, time.monotonic() + 0.3)
                extended = True


class Engine:
    def __init__(self, binary, sock):
        self.binary, self.sock = binary, sock

    def ctl(self, cmd):
        r = subprocess.run([self.binary, "ctl", self.sock, cmd], capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError("ctl %r failed: %s" % (cmd, r.stderr.strip()))
        return r.stdout

    def conns(self):
        return json.loads(self.ctl("show conn json"))

    def table(self):
        return self.conns()["table"]

    def drops(self):
        return json.loads(self.ctl("show drops json"))["drops"]


def delta(a, b):
    return {k: b[k] - a.get(k, 0) for k in b if isinstance(b[k], int) and b[k] != a.get(k, 0)}


class Runner:
    def __init__(self, a):
        self.a = a
        self.wire = Wire(a.iface, a.src_mac)
        self.eng = Engine(a.anyedge, a.ctl_sock)
        self.rnd = random.Random(a.seed)
        self.eth = Ether(src=a.src_mac, dst=a.dst_mac)
        self.used_ports = set()

    def sport(self):
        while True:
            p = self.rnd.randint(20000, 60000)
            if p not in self.used_ports:
                self.used_ports.add(p)
                return p

    def frame(self, dst_ip, sport, dport, flags, seq, ack=0, payload=b"", options=None, window=65535):
        t = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=window, options=options or [])
        p = self.eth / IP(src=self.a.src_ip, dst=dst_ip, ttl=64) / t
        if payload:
            p = p / Raw(payload)
        return Ether(bytes(p))  # checksums filled in

    def match_flow(self, dst_ip, sport, dport):
        def m(p):
            return (
                IP in p and TCP in p and p[IP].src == dst_ip and p[IP].dst == self.a.src_ip
                and p[TCP].sport == dport and p[TCP].dport == sport
            )
        return m

    def exchange(self, p, wait=1.0, stop_after=1):
        """Send P, print it and every answer of its flow within WAIT seconds."""
        dst, sport, dport = p[IP].dst, p[TCP].sport, p[TCP].dport
        self.wire.drain()
        say("  sent: %s" % seg_str(p))
        self.wire.send(p)
        got = self.wire.recv_for(wait, stop_after=stop_after, match=self.match_flow(dst, sport, dport))
        if not got:
            say("  recv: nothing within %.1f s" % wait)
        for r in got:
            say("  recv: %s" % seg_str(r))
        return got

    # -- a, b: stray ACK -> <SEQ=SEG.ACK><CTL=RST> -------------------------
    def stray_ack(self, name, dst_ip, dport, what):
        say("case %s: stray ACK to %s:%d (%s)" % (name, dst_ip, dport, what))
        t0 = self.eng.table()
        seq, ack = self.rnd.getrandbits(32), self.rnd.getrandbits(32)
        p = self.frame(dst_ip, self.sport(), dport, "A", seq, ack)
        got = self.exchange(p)
        t1 = self.eng.table()
        say("  table delta: %s" % json.dumps(delta(t0, t1)))
        check(len(got) == 1, "%s: stray ACK to %s:%d answered by exactly one segment (got %d)"
              % (name, dst_ip, dport, len(got)))
        if got:
            r = got[0][TCP]
            check(int(r.flags) == 0x04, "%s: the answer is a bare RST, no ACK flag (flags %s)"
                  % (name, flags_str(r.flags)))
            check(r.seq == ack, "%s: RST seq == our ack %d (got %d)" % (name, ack, r.seq))
            check(tcp_len(got[0]) == 0, "%s: RST carries no data" % name)
        check(t1["rst_sent"] - t0["rst_sent"] == 1, "%s: table.rst_sent rose by 1 (by %d)"
              % (name, t1["rst_sent"] - t0["rst_sent"]))

    # -- c, d: no ACK -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> ----------
    def no_ack(self, name, dport, flags, payload, what):
        say("case %s: %s to %s:%d" % (name, what, self.a.port_ip, dport))
        t0 = self.eng.table()
        seq = self.rnd.getrandbits(32)
        p = self.frame(self.a.port_ip, self.sport(), dport, flags, seq, 0, payload)
        seg_len = len(payload) + (1 if "S" in flags else 0) + (1 if "F" in flags else 0)
        want_ack = (seq + seg_len) & 0xFFFFFFFF
        got = self.exchange(p)
        t1 = self.eng.table()
        say("  table delta: %s" % json.dumps(delta(t0, t1)))
        check(len(got) == 1, "%s: answered by exactly one segment (got %d)" % (name, len(got)))
        if got:
            r = got[0][TCP]
            check(int(r.flags) == 0x14, "%s: the answer is RST|ACK (flags %s)" % (name, flags_str(r.flags)))
            check(r.seq == 0, "%s: RST seq == 0 (got %d)" % (name, r.seq))
            check(r.ack == want_ack, "%s: RST ack == SEG.SEQ+SEG.LEN = %d+%d = %d (got %d)"
                  % (name, seq, seg_len, want_ack, r.ack))
            check(tcp_len(got[0]) == 0, "%s: RST carries no data" % name)
        check(t1["rst_sent"] - t0["rst_sent"] == 1, "%s: table.rst_sent rose by 1 (by %d)"
              % (name, t1["rst_sent"] - t0["rst_sent"]))

    # -- e: a RST gets nothing --------------------------------------------
    def rst(self, name, dport):
        say("case %s: RST to %s:%d (no connection)" % (name, self.a.port_ip, dport))
        t0, d0 = self.eng.table(), self.eng.drops()
        seq = self.rnd.getrandbits(32)
        p = self.frame(self.a.port_ip, self.sport(), dport, "R", seq, 0)
        got = self.exchange(p, wait=1.0, stop_after=None)
        t1, d1 = self.eng.table(), self.eng.drops()
        say("  table delta: %s, drops delta: %s" % (json.dumps(delta(t0, t1)), json.dumps(delta(d0, d1))))
        check(len(got) == 0, "%s: no answer to a RST within 1 s (got %d)" % (name, len(got)))
        check(t1["rst_sent"] == t0["rst_sent"], "%s: table.rst_sent unchanged" % name)
        check(t1["rst_ignored"] - t0["rst_ignored"] == 1, "%s: table.rst_ignored rose by 1 (by %d)"
              % (name, t1["rst_ignored"] - t0["rst_ignored"]))
        check(d1["tcp_refused"] - d0["tcp_refused"] >= 1, "%s: drops.tcp_refused rose (by %d)"
              % (name, d1["tcp_refused"] - d0["tcp_refused"]))

    # -- f: RFC 5961 on an established connection --------------------------
    def find_conn(self, local, remote, where="conns"):
        rows = [r for r in self.eng.conns()[where] if r["local"] == local and r["remote"] == remote]
        return rows[-1] if rows else None

    def wait_state(self, local, remote, pred, seconds):
        end = time.monotonic() + seconds
        while True:
            row = self.find_conn(local, remote)
            if pred(row):
                return row, True
            if time.monotonic() >= end:
                return row, False
            time.sleep(0.1)

    def challenge(self, name, got, snd_nxt, rcv_nxt, what):
        check(len(got) == 1, "%s: %s answered by exactly one segment (got %d)" % (name, what, len(got)))
        if got:
            r = got[0][TCP]
            check(int(r.flags) == 0x10, "%s: the answer to %s is a bare ACK (flags %s)"
                  % (name, what, flags_str(r.flags)))
            check(r.ack == snd_nxt, "%s: challenge ACK ack == RCV.NXT %d (got %d)" % (name, snd_nxt, r.ack))
            check(r.seq == rcv_nxt, "%s: challenge ACK seq == SND.NXT %d (got %d)" % (name, rcv_nxt, r.seq))
            check(tcp_len(got[0]) == 0, "%s: challenge ACK carries no data" % name)

    def rfc5961(self, name):
        dst, dport, sport = self.a.port_ip, self.a.echo_port, self.sport()
        local, remote = "%s:%d" % (dst, dport), "%s:%d" % (self.a.src_ip, sport)
        say("case %s: RFC 5961 on a connection %s -> %s (echo)" % (name, remote, local))
        isn = self.rnd.getrandbits(32)
        syn = self.frame(dst, sport, dport, "S", isn, 0, options=[("MSS", 1460)])
        got = self.exchange(syn)
        synack = [g for g in got if int(g[TCP].flags) & 0x12 == 0x12]
        if not check(len(synack) >= 1, "%s: SYN to %s answered by SYN-ACK" % (name, local)):
            return
        sa = synack[0][TCP]
        check(sa.ack == (isn + 1) & 0xFFFFFFFF, "%s: SYN-ACK ack == ISN+1 (got %d)" % (name, sa.ack))
        snd_nxt = (isn + 1) & 0xFFFFFFFF  # ours == the engine's RCV.NXT
        rcv_nxt = (sa.seq + 1) & 0xFFFFFFFF  # ours == the engine's SND.NXT
        got = self.exchange(self.frame(dst, sport, dport, "A", snd_nxt, rcv_nxt), wait=0.3, stop_after=None)
        check(len(got) == 0, "%s: nothing answers the handshake's ACK (got %d)" % (name, len(got)))
        row, ok = self.wait_state(local, remote, lambda r: r is not None and r["state"] == "ESTABLISHED", 3)
        say("  engine: %s" % json.dumps(row))
        check(ok, "%s: connection listed ESTABLISHED after the handshake" % name)

        say("  - in-window RST, seq = RCV.NXT+10")
        t0 = self.eng.table()
        got = self.exchange(self.frame(dst, sport, dport, "R", (snd_nxt + 10) & 0xFFFFFFFF, 0))
        self.challenge(name, got, snd_nxt, rcv_nxt, "an in-window RST with seq != RCV.NXT")
        row = self.find_conn(local, remote)
        say("  engine: %s" % json.dumps(row))
        check(row is not None and row["state"] == "ESTABLISHED",
              "%s: connection still ESTABLISHED after the in-window RST" % name)

        say("  - SYN on the established connection, seq = RCV.NXT")
        got = self.exchange(self.frame(dst, sport, dport, "S", snd_nxt, 0, options=[("MSS", 1460)]))
        self.challenge(name, got, snd_nxt, rcv_nxt, "a SYN on an established connection")
        row = self.find_conn(local, remote)
        say("  engine: %s" % json.dumps(row))
        check(row is not None and row["state"] == "ESTABLISHED",
              "%s: connection still ESTABLISHED after the SYN" % name)
        t1 = self.eng.table()
        check(t1["rst_sent"] == t0["rst_sent"], "%s: no RST sent for the in-window RST or the SYN" % name)

        n = self.a.challenge_burst
        say("  - %d in-window RSTs (seq = RCV.NXT+1..), after 1.1 s of quiet" % n)
        time.sleep(1.1)
        frames = [bytes(self.frame(dst, sport, dport, "R", (snd_nxt + 1 + i) & 0xFFFFFFFF, 0)) for i in range(n)]
        self.wire.drain()
        ts = time.monotonic()
        for f in frames:
            self.wire.send(f)
        elapsed = time.monotonic() - ts
        got = self.wire.recv_for(1.0, match=self.match_flow(dst, sport, dport))
        acks = [g for g in got if int(g[TCP].flags) == 0x10 and g[TCP].ack == snd_nxt and g[TCP].seq == rcv_nxt]
        limit = 100 * max(1, math.ceil(elapsed)) + 10
        say("  sent %d in %.3f s, received %d segments, %d of them challenge ACKs" % (n, elapsed, len(got), len(acks)))
        check(len(got) == len(acks), "%s: every answer to the RST burst is a challenge ACK" % name)
        check(1 <= len(acks) <= limit, "%s: challenge ACKs rate-limited: 1 <= %d <= %d (100/s per connection)"
              % (name, len(acks), limit))
        row = self.find_conn(local, remote)
        check(row is not None and row["state"] == "ESTABLISHED",
              "%s: connection still ESTABLISHED after the RST burst" % name)

        say("  - out-of-window RST, seq = RCV.NXT+2^31 (RFC 9293 3.10.7.4: drop it, no answer)")
        got = self.exchange(self.frame(dst, sport, dport, "R", (snd_nxt + (1 << 31)) & 0xFFFFFFFF, 0),
                            wait=1.0, stop_after=None)
        check(len(got) == 0, "%s: no answer to an out-of-window RST within 1 s (got %d)" % (name, len(got)))
        row = self.find_conn(local, remote)
        check(row is not None and row["state"] == "ESTABLISHED",
              "%s: connection still ESTABLISHED after the out-of-window RST" % name)

        msg = b"anyedge-rfc5961-still-alive"
        say("  - data on the connection: %r, echoed back?" % msg)
        self.wire.drain()
        p = self.frame(dst, sport, dport, "PA", snd_nxt, rcv_nxt, msg)
        say("  sent: %s" % seg_str(p))
        self.wire.send(p)
        echoed = b""
        last_ack = None
        end = time.monotonic() + 2.0
        while len(echoed) < len(msg) and time.monotonic() < end:
            for g in self.wire.recv_for(end - time.monotonic(), stop_after=1, match=self.match_flow(dst, sport, dport)):
                say("  recv: %s" % seg_str(g))
                t = g[TCP]
                n = tcp_len(g)
                if n and t.seq == (rcv_nxt + len(echoed)) & 0xFFFFFFFF:
                    echoed += bytes(t.payload)[:n]
                last_ack = t.ack
        snd_nxt = (snd_nxt + len(msg)) & 0xFFFFFFFF
        rcv_nxt = (rcv_nxt + len(echoed)) & 0xFFFFFFFF
        check(echoed == msg, "%s: the connection still works: data echoed back (%r)" % (name, echoed))
        check(last_ack == snd_nxt, "%s: the engine acknowledged the data (ack %s, want %d)" % (name, last_ack, snd_nxt))
        # acknowledge the echo so nothing is retransmitted into the next step
        got = self.exchange(self.frame(dst, sport, dport, "A", snd_nxt, rcv_nxt), wait=0.3, stop_after=None)
        check(len(got) == 0, "%s: nothing answers our ACK of the echo (got %d)" % (name, len(got)))

        say("  - exact RST, seq = RCV.NXT")
        got = self.exchange(self.frame(dst, sport, dport, "R", snd_nxt, 0), wait=1.0, stop_after=None)
        check(len(got) == 0, "%s: no answer to the exact RST within 1 s (got %d)" % (name, len(got)))
        row, ok = self.wait_state(local, remote, lambda r: r is None, 3)
        check(ok, "%s: connection gone from the live connections after the exact RST (%s)"
              % (name, json.dumps(row)))
        rec = self.find_conn(local, remote, where="recent")
        say("  engine recent: %s" % json.dumps(rec))
        check(rec is not None and rec["state"] == "CLOSED (reset)",
              "%s: connection listed in recent as 'CLOSED (reset)' (%s)" % (name, rec and rec["state"]))

    # -- g: reset rate limit -----------------------------------------------
    def rate_limit(self, name):
        n, rate = self.a.burst, self.a.burst_rate
        dst = self.a.port_ip
        say("case %s: %d stray ACKs to %s:80 at up to %d/s, after 1.1 s of quiet" % (name, n, dst, rate))
        frames = []
        acks = set()
        for i in range(n):
            ack = self.rnd.getrandbits(32)
            acks.add(ack)
            frames.append(bytes(self.frame(dst, 30000 + i % 30000, 80, "A", self.rnd.getrandbits(32), ack)))
        say("  e.g. sent: %s" % seg_str(Ether(frames[0])))

        def kdrop():
            with open("/sys/class/net/%s/statistics/tx_dropped" % self.a.iface) as f:
                return int(f.read())

        time.sleep(1.1)
        t0, k0 = self.eng.table(), kdrop()
        self.wire.drain()
        ts = time.monotonic()
        sent = 0
        for i, f in enumerate(frames):
            self.wire.send(f)
            sent += 1
            if i % 50 == 49:
                ahead = ts + (i + 1) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        elapsed = time.monotonic() - ts

        def is_rst(p):
            return IP in p and TCP in p and p[IP].src == dst and p[TCP].sport == 80 and int(p[TCP].flags) & 0x04

        got = self.wire.recv_for(1.0, match=is_rst)
        t1, k1 = self.eng.table(), kdrop()
        d = delta(t0, t1)
        kd = k1 - k0
        # Deferred RSTs (sent later, when the limit allows) are not this
        # window's answers.
        rst_sent = (t1["rst_sent"] - t0["rst_sent"]) - (t1.get("rst_deferred", 0) - t0.get("rst_deferred", 0))
        limited = t1["rst_rate_limited"] - t0["rst_rate_limited"]
        limit = 1000 * max(1, math.ceil(elapsed)) + 100
        say("  sent %d frames in %.3f s; kernel ae0 tx_dropped +%d; RSTs on the wire %d" % (sent, elapsed, kd, len(got)))
        say("  table delta: %s" % json.dumps(d))
        check(elapsed < 2.0, "%s: %d stray ACKs sent within 2 s (%.3f s)" % (name, n, elapsed))
        check(limited > 0, "%s: table.rst_rate_limited rose (by %d)" % (name, limited))
        check(rst_sent <= limit, "%s: table.rst_sent rose by %d <= %d (1000 per started second + 100)"
              % (name, rst_sent, limit))
        check(rst_sent >= 900, "%s: table.rst_sent rose by %d >= 900 (the limiter still lets ~1000/s out)"
              % (name, rst_sent))
        check(rst_sent + limited == sent - kd, "%s: every delivered stray ACK was answered or rate-limited "
              "(rst_sent %d + rst_rate_limited %d == sent %d - kernel drops %d)" % (name, rst_sent, limited, sent, kd))
        check(len(got) == rst_sent, "%s: RSTs seen on the wire (%d) == table.rst_sent delta (%d)"
              % (name, len(got), rst_sent))
        good = [g for g in got if int(g[TCP].flags) == 0x04 and g[TCP].seq in acks]
        check(len(good) == len(got), "%s: every RST on the wire is a bare RST with seq == one of our acks (%d of %d)"
              % (name, len(good), len(got)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True, help="the engine's MAC")
    ap.add_argument("--src-mac", default="02:00:00:00:00:77")
    ap.add_argument("--src-ip", default="10.0.2.77")
    ap.add_argument("--port-ip", default="10.0.2.2")
    ap.add_argument("--vip", default="203.0.113.10")
    ap.add_argument("--echo-port", type=int, default=7)
    ap.add_argument("--discard-port", type=int, default=9)
    ap.add_argument("--anyedge", required=True)
    ap.add_argument("--ctl-sock", required=True)
    ap.add_argument("--cases", default="abcdefg")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--burst", type=int, default=3000)
    ap.add_argument("--burst-rate", type=int, default=6000)
    ap.add_argument("--challenge-burst", type=int, default=300)
    a = ap.parse_args()

    r = Runner(a)
    say("tcp_rfc.py: from %s (%s) to the engine %s on %s, seed %d" % (a.src_ip, a.src_mac, a.dst_mac, a.iface, a.seed))
    for c in a.cases:
        try:
            if c == "a":
                r.stray_ack("a", a.port_ip, 80, "no listener")
            elif c == "b":
                r.stray_ack("b", a.vip, a.discard_port, "VIP, listening port, no connection")
            elif c == "c":
                r.no_ack("c", 81, "S", b"", "bare SYN")
            elif c == "d":
                r.no_ack("d", 80, "F", b"anyedge-fin-data", "FIN+data without ACK")
            elif c == "e":
                r.rst("e", 80)
            elif c == "f":
                r.rfc5961("f")
            elif c == "g":
                r.rate_limit("g")
            else:
                check(False, "unknown case %r" % c)
        except Exception as e:  # noqa: BLE001 - a crashed case is a failed check
            import traceback

            traceback.print_exc(file=sys.stdout)
            check(False, "case %s ran to the end (%r)" % (c, e))
    say("tcp_rfc.py: %d failed checks" % FAILS)
    return 0 if FAILS == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
