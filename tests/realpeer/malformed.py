#!/usr/bin/env python3
"""Malformed and random frame generator for the real-peer tests.

Frames are built with scapy and sent with a plain AF_PACKET socket from the
kernel side of a TAP (or any interface), so the bytes on the wire are exactly
the bytes built here.

  malformed.py cases --iface ae0 --dst-mac M --src-ip 10.0.2.1 --dst-ip 10.0.2.2
      send every malformed case (--repeat times); print one JSON object
      {"cases": [{"case", "counter", "len", "sent"}...], "counters": [...]}
      where "counter" is the engine drop reason the case must raise.
  malformed.py cases --dry-run ...   build and print the frames, send nothing
  malformed.py burst --iface ae0 --dst-mac M --count 100000
      random frames, lengths 14..1514, even-numbered ones to dst-mac, odd ones
      with random first 6 bytes; paced (--rate), bounded (--max-seconds);
      prints {"attempted", "sent", "errors", ...}
  malformed.py listen --iface X --count N --timeout T
      print received frames as JSON lines (hex); for checking this tool.
"""

import argparse
import errno
import json
import random
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def _scapy():
    # Imported lazily so `--help` works without scapy.
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw  # noqa: F401

    return Ether, IP, TCP, UDP, ICMP, Raw


def inet_cksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def mac_bytes(mac: str) -> bytes:
    b = bytes(int(x, 16) for x in mac.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC %r" % mac)
    return b


def corrupt(value: int) -> int:
    """A checksum value that is surely wrong (and never 0, 'no checksum')."""
    v = value ^ 0x5A5A
    return v if v != 0 else 0x0101


def build_cases(dst_mac, src_mac, src_ip, dst_ip):
    """[(case name, engine drop counter, frame bytes)]."""
    Ether, IP, TCP, UDP, ICMP, Raw = _scapy()
    eth = Ether(dst=dst_mac, src=src_mac)
    pay = Raw(b"anyedge-malformed")
    cases = []

    def ip_layer(**kw):
        return IP(src=src_ip, dst=dst_ip, ttl=64, id=0x4145, **kw)

    # IPv4 EtherType but only 10 bytes of IP header.
    good_ip = bytes(ip_layer() / UDP(sport=40000, dport=53) / pay)
    cases.append(("truncated", "truncated", bytes(Ether(dst=dst_mac, src=src_mac, type=0x0800)) + good_ip[:10]))

    # IHL=3 (12 bytes, below the 20-byte minimum); the header checksum is
    # made valid over the 20 bytes that follow, so IHL is the only defect.
    b = bytearray(good_ip)
    b[0] = 0x43
    b[10:12] = b"\0\0"
    b[10:12] = struct.pack("!H", inet_cksum(bytes(b[:20])))
    cases.append(("bad_ihl", "bad_ihl", bytes(Ether(dst=dst_mac, src=src_mac, type=0x0800)) + bytes(b)))

    # Total length far beyond the frame; header checksum valid for it.
    cases.append(
        (
            "bad_ip_total_len",
            "bad_ip_total_len",
            bytes(eth / ip_layer(len=1000) / UDP(sport=40000, dport=53) / pay),
        )
    )

    # Wrong IPv4 header checksum.
    p = ip_layer() / UDP(sport=40000, dport=53) / pay
    good = IP(bytes(p)).chksum
    cases.append(("bad_ip_checksum", "bad_ip_checksum", bytes(eth / ip_layer(chksum=corrupt(good)) / UDP(sport=40000, dport=53) / pay)))

    # Wrong TCP checksum on a SYN to port 80.
    t = ip_layer() / TCP(sport=40001, dport=80, flags="S", seq=1000, window=64240)
    good = IP(bytes(t))[TCP].chksum
    cases.append(
        (
            "bad_tcp_checksum",
            "bad_tcp_checksum",
            bytes(eth / ip_layer() / TCP(sport=40001, dport=80, flags="S", seq=1000, window=64240, chksum=corrupt(good))),
        )
    )

    # TCP data offset 4 (< 5); checksum valid over the segment.
    cases.append(
        (
            "bad_tcp_data_offset",
            "bad_tcp_data_offset",
            bytes(eth / ip_layer() / TCP(sport=40002, dport=80, flags="S", seq=1000, window=64240, dataofs=4)),
        )
    )

    # First fragment (MF set, offset 0) of a UDP datagram; checksums valid.
    cases.append(("ip_fragment", "ip_fragment", bytes(eth / ip_layer(flags="MF", frag=0) / UDP(sport=40003, dport=53) / pay)))

    # Unknown EtherType 0x88b5 (IEEE local experimental).
    cases.append(("unknown_ethertype", "unknown_ethertype", bytes(Ether(dst=dst_mac, src=src_mac, type=0x88B5) / Raw(bytes(range(46))))))

    # Wrong (non-zero) UDP checksum.
    u = ip_layer() / UDP(sport=40004, dport=53) / pay
    good = IP(bytes(u))[UDP].chksum
    cases.append(("bad_udp_checksum", "bad_udp_checksum", bytes(eth / ip_layer() / UDP(sport=40004, dport=53, chksum=corrupt(good)) / pay)))

    # UDP length 200 but only 8+17 bytes in the IP payload; no UDP checksum
    # (0) so the length is the only defect.
    cases.append(("bad_udp_length", "bad_udp_length", bytes(eth / ip_layer() / UDP(sport=40005, dport=53, len=200, chksum=0) / pay)))

    # ICMP echo request with a wrong checksum.
    i = ip_layer() / ICMP(type=8, code=0, id=0xAE, seq=1) / pay
    good = IP(bytes(i))[ICMP].chksum
    cases.append(("bad_icmp_checksum", "bad_icmp_checksum", bytes(eth / ip_layer() / ICMP(type=8, code=0, id=0xAE, seq=1, chksum=corrupt(good)) / pay)))

    # ARP request with hardware address length 8 (Ethernet is 6).
    arp = struct.pack("!HHBBH", 1, 0x0800, 8, 4, 1)
    arp += mac_bytes(src_mac) + b"\0\0" + socket.inet_aton(src_ip)
    arp += b"\0" * 8 + socket.inet_aton(dst_ip)
    cases.append(("bad_arp", "bad_arp", bytes(Ether(dst=dst_mac, src=src_mac, type=0x0806)) + arp))

    return cases


def verify_cases(cases):
    """Self-check: every frame really carries its defect (and only the
    obvious one), independent of how scapy filled in the fields."""
    by = {c: f for c, _, f in cases}

    def ip(f):
        return f[14:]

    def ihl(f):
        return (ip(f)[0] & 0xF) * 4

    def l4(f):
        return ip(f)[ihl(f):]

    def pseudo(f, proto, length):
        return ip(f)[12:20] + struct.pack("!BBH", 0, proto, length)

    def ok_ip(f):
        return ip(f)[0] >> 4 == 4 and ihl(f) == 20 and inet_cksum(ip(f)[:20]) == 0

    errs = []

    def need(cond, msg):
        if not cond:
            errs.append(msg)

    f = by["truncated"]
    need(f[12:14] == b"\x08\x00" and len(f) == 24, "truncated: not 14+10 bytes of IPv4")
    f = by["bad_ihl"]
    need(ip(f)[0] == 0x43 and inet_cksum(ip(f)[:20]) == 0, "bad_ihl: not IHL=3 with valid 20-byte checksum")
    f = by["bad_ip_total_len"]
    need(ok_ip(f) and struct.unpack("!H", ip(f)[2:4])[0] > len(ip(f)), "bad_ip_total_len: total length not beyond frame")
    f = by["bad_ip_checksum"]
    need(ip(f)[0] == 0x45 and inet_cksum(ip(f)[:20]) != 0, "bad_ip_checksum: checksum is valid")
    for name, proto, want_ok in (("bad_tcp_checksum", 6, False), ("bad_tcp_data_offset", 6, True)):
        f = by[name]
        seg = l4(f)
        need(ok_ip(f) and ip(f)[9] == proto, name + ": bad IP layer")
        need((inet_cksum(pseudo(f, proto, len(seg)) + seg) == 0) == want_ok, name + ": TCP checksum validity wrong")
    need(l4(by["bad_tcp_data_offset"])[12] >> 4 == 4, "bad_tcp_data_offset: data offset not 4")
    need(l4(by["bad_tcp_checksum"])[12] >> 4 == 5, "bad_tcp_checksum: data offset not 5")
    f = by["ip_fragment"]
    need(ok_ip(f) and ip(f)[6] & 0x20 and struct.unpack("!H", ip(f)[6:8])[0] & 0x1FFF == 0, "ip_fragment: MF not set")
    need(by["unknown_ethertype"][12:14] == b"\x88\xb5", "unknown_ethertype: wrong type")
    f = by["bad_udp_checksum"]
    seg = l4(f)
    need(ok_ip(f) and seg[6:8] != b"\0\0" and inet_cksum(pseudo(f, 17, len(seg)) + seg) != 0, "bad_udp_checksum: checksum valid or 0")
    f = by["bad_udp_length"]
    seg = l4(f)
    need(ok_ip(f) and struct.unpack("!H", seg[4:6])[0] > len(seg) and seg[6:8] == b"\0\0", "bad_udp_length: length not beyond payload")
    f = by["bad_icmp_checksum"]
    seg = l4(f)
    need(ok_ip(f) and seg[0] == 8 and inet_cksum(seg) != 0, "bad_icmp_checksum: checksum valid")
    f = by["bad_arp"]
    need(f[12:14] == b"\x08\x06" and f[18] == 8 and len(f) == 14 + 8 + 2 * 8 + 2 * 4, "bad_arp: hlen not 8")
    for name, _, fr in cases:
        if name not in ("unknown_ethertype", "bad_arp"):
            need(fr[12:14] == b"\x08\x00", name + ": EtherType is not IPv4")
    # every frame is addressed to the engine
    dst = cases[0][2][:6]
    need(all(fr[:6] == dst for _, _, fr in cases), "not all frames to the same destination MAC")
    return errs


def iface_mac(iface):
    with open("/sys/class/net/%s/address" % iface) as fh:
        return fh.read().strip()


def raw_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # send only
    s.bind((iface, 0))
    s.settimeout(1.0)  # a send can never block the test for long
    return s


def cmd_cases(a):
    src_mac = a.src_mac or (iface_mac(a.iface) if a.iface else "02:00:00:00:00:01")
    cases = build_cases(a.dst_mac.lower(), src_mac, a.src_ip, a.dst_ip)
    errs = verify_cases(cases)
    if errs:
        for e in errs:
            print("self-check failed: " + e, file=sys.stderr)
        return 2
    if a.only:
        cases = [c for c in cases if c[0] in a.only]
    out = []
    s = None if a.dry_run else raw_socket(a.iface)
    for name, counter, frame in cases:
        sent = 0
        for _ in range(a.repeat):
            if s is not None:
                s.send(frame)
                sent += 1
                time.sleep(0.002)
        rec = {"case": name, "counter": counter, "len": len(frame), "sent": sent}
        if a.dry_run or a.verbose:
            rec["hex"] = frame.hex()
        out.append(rec)
    print(json.dumps({"cases": out, "counters": sorted({c["counter"] for c in out})}))
    return 0


def cmd_burst(a):
    rng = random.Random(a.seed)
    dst = mac_bytes(a.dst_mac.lower())
    s = raw_socket(a.iface)
    errors = {}
    sent = to_engine = nbytes = attempted = 0
    t0 = time.monotonic()
    deadline = t0 + a.max_seconds
    truncated_by_time = False
    for i in range(a.count):
        if i % 256 == 0:
            now = time.monotonic()
            if now > deadline:
                truncated_by_time = True
                break
            ahead = t0 + i / a.rate - now
            if ahead > 0:
                time.sleep(ahead)
        length = rng.randint(a.min_len, a.max_len)
        if i % 2 == 0:
            frame = dst + rng.randbytes(length - 6)
        else:
            frame = rng.randbytes(length)
        attempted += 1
        try:
            s.send(frame)
        except OSError as e:  # ENOBUFS, timeout: counted, not fatal
            key = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
            errors[key] = errors.get(key, 0) + 1
            continue
        sent += 1
        nbytes += length
        if i % 2 == 0:
            to_engine += 1
    print(
        json.dumps(
            {
                "attempted": attempted,
                "sent": sent,
                "sent_to_engine_mac": to_engine,
                "sent_random_dst": sent - to_engine,
                "bytes": nbytes,
                "errors": errors,
                "seconds": round(time.monotonic() - t0, 3),
                "stopped_by_time_limit": truncated_by_time,
                "seed": a.seed,
            }
        )
    )
    return 0


def cmd_listen(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    deadline = time.monotonic() + a.timeout
    n = 0
    while n < a.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if a.incoming_only and addr[2] == socket.PACKET_OUTGOING:
            continue
        print(json.dumps({"len": len(data), "pkttype": addr[2], "hex": data.hex()}), flush=True)
        n += 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    c = sub.add_parser("cases", help="send every malformed case")
    c.add_argument("--iface")
    c.add_argument("--dst-mac", required=True, help="the engine's port MAC")
    c.add_argument("--src-mac", help="default: the interface's MAC")
    c.add_argument("--src-ip", default="10.0.2.1")
    c.add_argument("--dst-ip", default="10.0.2.2")
    c.add_argument("--repeat", type=int, default=3)
    c.add_argument("--only", nargs="*", help="case names to send")
    c.add_argument("--dry-run", action="store_true", help="build and print, do not send")
    c.add_argument("--verbose", action="store_true", help="include the frame hex")
    c.set_defaults(fn=cmd_cases)

    b = sub.add_parser("burst", help="random frames")
    b.add_argument("--iface", required=True)
    b.add_argument("--dst-mac", required=True)
    b.add_argument("--count", type=int, default=100000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--rate", type=float, default=50000.0, help="frames per second (pacing)")
    b.add_argument("--max-seconds", type=float, default=60.0)
    b.add_argument("--min-len", type=int, default=14)
    b.add_argument("--max-len", type=int, default=1514)
    b.set_defaults(fn=cmd_burst)

    lsn = sub.add_parser("listen", help="print received frames")
    lsn.add_argument("--iface", required=True)
    lsn.add_argument("--count", type=int, default=100)
    lsn.add_argument("--timeout", type=float, default=10.0)
    lsn.add_argument("--incoming-only", action="store_true")
    lsn.set_defaults(fn=cmd_listen)

    a = p.parse_args()
    if a.cmd == "cases" and not a.dry_run and not a.iface:
        p.error("--iface is required unless --dry-run")
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
