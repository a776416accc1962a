#!/usr/bin/env python3
"""Echo (RFC 862) client for the real-peer TCP tests, run by the kernel.

  tcp_echo.py roundtrip --dst IP --port 7 --count 10000 --max-len 2000 --seed S
      one connection; COUNT messages of random length 1..MAX_LEN and random
      content (random.Random(SEED)), each sent and read back completely
      before the next, compared byte for byte
  tcp_echo.py concurrent --dst IP --port 7 --conns 1000 --seed S
      open all CONNS connections first, then send a small unique message on
      each, then read every answer back and compare, then close all

Each prints one JSON object with what was done and what failed, and exits 0
only when everything succeeded. Every socket operation has a timeout.
"""

import argparse
import json
import random
import resource
import socket
import sys
import time


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        b = s.recv(n - len(buf))
        if not b:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return bytes(buf)


def roundtrip(a):
    rnd = random.Random(a.seed)
    res = {"mode": "roundtrip", "dst": "%s:%d" % (a.dst, a.port), "seed": a.seed,
           "count": a.count, "ok": 0, "bytes": 0, "first_error": None}
    t0 = time.monotonic()
    s = socket.create_connection((a.dst, a.port), timeout=a.timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    res["local"] = "%s:%d" % s.getsockname()
    try:
        for i in range(a.count):
            n = rnd.randint(1, a.max_len)
            msg = rnd.randbytes(n)
            s.sendall(msg)
            got = recv_exact(s, n)
            if got != msg:
                at = next(j for j in range(n) if got[j] != msg[j])
                res["first_error"] = "message %d (len %d): differs at byte %d" % (i, n, at)
                break
            res["ok"] += 1
            res["bytes"] += n
        # the echo server must not send anything more
        s.settimeout(0.2)
        try:
            extra = s.recv(65536)
            if extra:
                res["first_error"] = res["first_error"] or "%d unexpected extra bytes" % len(extra)
        except socket.timeout:
            pass
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        res["first_error"] = res["first_error"] or "message %d: %r" % (res["ok"], e)
    finally:
        s.close()
    res["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(res))
    return 0 if res["ok"] == a.count and res["first_error"] is None else 1


def concurrent(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard), hard))
    rnd = random.Random(a.seed)
    res = {"mode": "concurrent", "dst": "%s:%d" % (a.dst, a.port), "seed": a.seed,
           "conns": a.conns, "opened": 0, "sent": 0, "echoed": 0, "closed": 0,
           "errors": [], "error_count": 0}

    def err(msg):
        res["error_count"] += 1
        if len(res["errors"]) < 10:
            res["errors"].append(msg)

    t0 = time.monotonic()
    socks = []
    for i in range(a.conns):
        try:
            s = socket.create_connection((a.dst, a.port), timeout=a.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
            res["opened"] += 1
        except Exception as e:  # noqa: BLE001
            socks.append(None)
            err("connect %d: %r" % (i, e))
    res["open_seconds"] = round(time.monotonic() - t0, 3)
    msgs = []
    for i, s in enumerate(socks):
        m = b"anyedge-echo conn %04d %s\n" % (i, rnd.randbytes(8).hex().encode())
        msgs.append(m)
        if s is None:
            continue
        try:
            s.sendall(m)
            res["sent"] += 1
        except Exception as e:  # noqa: BLE001
            err("send %d: %r" % (i, e))
    for i, s in enumerate(socks):
        if s is None:
            continue
        try:
            got = recv_exact(s, len(msgs[i]))
            if got == msgs[i]:
                res["echoed"] += 1
            else:
                err("conn %d: got %r, sent %r" % (i, got, msgs[i]))
        except Exception as e:  # noqa: BLE001
            err("recv %d: %r" % (i, e))
    for i, s in enumerate(socks):
        if s is None:
            continue
        try:
            s.close()
            res["closed"] += 1
        except Exception as e:  # noqa: BLE001
            err("close %d: %r" % (i, e))
    res["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(res))
    ok = res["opened"] == res["sent"] == res["echoed"] == res["closed"] == a.conns
    return 0 if ok and res["error_count"] == 0 else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("roundtrip", "concurrent"):
        p = sub.add_parser(name)
        p.add_argument("--dst", required=True)
        p.add_argument("--port", type=int, default=7)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--timeout", type=float, default=10.0)
        if name == "roundtrip":
            p.add_argument("--count", type=int, default=10000)
            p.add_argument("--max-len", type=int, default=2000)
        else:
            p.add_argument("--conns", type=int, default=1000)
    a = ap.parse_args()
    return roundtrip(a) if a.cmd == "roundtrip" else concurrent(a)


if __name__ == "__main__":
    sys.exit(main())
