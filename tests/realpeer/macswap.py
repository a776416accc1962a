#!/usr/bin/env python3
"""Frames crafted with scapy go through a forwarder in macswap mode and come
back with their MAC addresses swapped and every other byte unchanged.

Run in the namespace that holds the kernel side of the forwarder's TAP. The
frames come from a MAC the kernel does not own (--src-mac) with the IEEE
local experimental EtherType 0x88B5, so the kernel neither sends nor takes
anything of theirs; the returned frames are read from an AF_PACKET socket
whose BPF filter takes ether dst == --src-mac and that EtherType only. Each
frame carries its index and a length from 60 to 1514 bytes.

  macswap.py --iface ae0 --dst-mac M [--count N] [--src-mac S]

Prints one line per check (CHECK PASS/FAIL ...), exit status 0 when all
passed.
"""
import argparse
import ctypes
import socket
import struct
import sys
import time

from scapy.all import Ether, Raw  # noqa: E402

ETH_P_ALL = 0x0003
ETHERTYPE = 0x88B5
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
failed = 0


def check(ok, what):
    global failed
    print(("CHECK PASS " if ok else "CHECK FAIL ") + what, flush=True)
    if not ok:
        failed += 1


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def rx_socket(iface, mac):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    hi, lo = struct.unpack("!IH", mac)
    prog = [
        (0x20, 0, 0, 0),  # ld [0]
        (0x15, 0, 5, hi),  # jeq dst[0:4]
        (0x28, 0, 0, 4),  # ldh [4]
        (0x15, 0, 3, lo),  # jeq dst[4:6]
        (0x28, 0, 0, 12),  # ldh [12]
        (0x15, 0, 1, ETHERTYPE),  # jeq ethertype
        (0x06, 0, 0, 0xFFFF),  # accept
        (0x06, 0, 0, 0),  # drop
    ]
    insns = b"".join(struct.pack("HBBI", *i) for i in prog)
    buf = ctypes.create_string_buffer(insns)
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    s.bind((iface, ETH_P_ALL))
    return s, buf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True, help="the forwarder's port MAC")
    ap.add_argument("--src-mac", default="02:00:5e:10:00:99")
    ap.add_argument("--count", type=int, default=1000)
    a = ap.parse_args()

    src, dst = mac_bytes(a.src_mac), mac_bytes(a.dst_mac)
    rx, _keep = rx_socket(a.iface, src)
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((a.iface, 0))

    frames = []
    for i in range(a.count):
        size = 1514 if i == a.count - 1 else 60 + (i * 37) % (1514 - 60 + 1)
        body = struct.pack("!I", i) + bytes((i + k) & 0xFF for k in range(size - 14 - 4))
        f = bytes(Ether(src=a.src_mac, dst=a.dst_mac, type=ETHERTYPE) / Raw(body))
        assert len(f) == size
        frames.append(f)
    # Bounded: 32 frames, then a pause, so that neither the TAP queue nor
    # the forwarder's ring overflows.
    for k in range(0, len(frames), 32):
        for f in frames[k : k + 32]:
            tx.send(f)
        time.sleep(0.002)

    got = {}
    dup = 0
    end = time.monotonic() + 5
    rx.settimeout(0.2)
    while time.monotonic() < end and len(got) < a.count:
        try:
            b = rx.recv(65535)
        except socket.timeout:
            continue
        if len(b) < 18:
            continue
        i = struct.unpack("!I", b[14:18])[0]
        if i in got:
            dup += 1
        got[i] = b

    check(len(got) == a.count, f"{len(got)} of {a.count} frames came back")
    check(dup == 0, f"no frame came back twice ({dup})")
    swapped = sum(
        1
        for i, b in got.items()
        if i < a.count and b[:6] == src and b[6:12] == dst
    )
    check(swapped == len(got), f"MACs swapped in {swapped} of {len(got)}")
    same = sum(1 for i, b in got.items() if i < a.count and b[12:] == frames[i][12:])
    check(same == len(got), f"the rest of the frame unchanged in {same} of {len(got)}")
    sizes = {len(b) for b in got.values()}
    check(min(sizes, default=0) == 60 and max(sizes, default=0) == 1514,
          f"sizes 60..1514 came back ({min(sizes, default=0)}..{max(sizes, default=0)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
