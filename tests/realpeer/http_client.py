#!/usr/bin/env python3
"""HTTP/1.1 client pieces for the real-peer HTTP tests (test_http_*.sh).

Everything here talks to the engine over plain kernel sockets, with a
timeout on every socket operation, and prints one JSON object; the exit
status is 0 only when the checks asked for held.

  http_client.py raw --dst IP [--port 80] (--send STR | --send-file F)
                     [--timeout S]
      send the bytes (STR is a Python string literal body: \\r\\n, \\x00 and
      friends are decoded), then read until the server closes (or the
      timeout); print the first response: status, headers, body length, the
      bytes after it, whether the server closed, and the first 200 body bytes.
  http_client.py multipart --headers H --body B --file F --expect R[,R...]
      check a multipart/byteranges response saved by curl (-D H -o B)
      against the local file F: boundary from Content-Type, each part's
      Content-Range and bytes; R is first-last, in order
  http_client.py pipeline --dst IP [--port 80] --host H --get PATH=FILE ...
      send one GET per --get in ONE write (pipelining, RFC 9112 9.3.2), read
      the responses in order (Content-Length framing) and compare each body
      with FILE
  http_client.py slowloris --dst IP [--port 80] --path P [--interval 1]
                           [--max 30]
      send a request head one byte per INTERVAL seconds, never finishing it;
      report after how many seconds the server closed the connection
  http_client.py slowread --dst IP [--port 80] --path P --sha256 X
                          [--rcvbuf 4096] [--sleep 5] [--marker FILE]
      small receive buffer, send a GET, do not read for SLEEP seconds
      (print the local endpoint and touch MARKER when the pause starts),
      then read everything and compare the sha256 of the body
"""

import argparse
import hashlib
import json
import os
import socket
import sys
import time


def out(res, ok):
    res["ok"] = bool(ok)
    print(json.dumps(res), flush=True)
    return 0 if ok else 1


def decode_literal(s):
    """The bytes of a Python string-literal body (escapes decoded)."""
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def split_head(buf):
    """(status, headers as a list of (lower name, value), head length) or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return status, lines[0], headers, end + 4


def hdr(headers, name):
    vals = [v for n, v in headers if n == name]
    return vals[0] if vals else None


def read_until_close(s, limit_s):
    buf = bytearray()
    closed = False
    err = None
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except OSError as e:  # RST
            err = str(e)
            closed = True
            break
        if not b:
            closed = True
            break
        buf += b
    return bytes(buf), closed, err


def cmd_raw(a):
    data = open(a.send_file, "rb").read() if a.send_file else decode_literal(a.send)
    res = {"mode": "raw", "sent_bytes": len(data)}
    s = socket.create_connection((a.dst, a.port), timeout=5)
    try:
        s.sendall(data)
    except OSError as e:
        res["send_error"] = str(e)
    buf, closed, err = read_until_close(s, a.timeout)
    s.close()
    res["closed"] = closed
    res["recv_error"] = err
    res["received_bytes"] = len(buf)
    h = split_head(buf)
    if h is None:
        res["status"] = None
        res["first_bytes"] = buf[:200].decode("latin-1")
        return out(res, False)
    status, line, headers, hlen = h
    res["status"] = status
    res["status_line"] = line
    res["headers"] = {}
    for n, v in headers:
        res["headers"].setdefault(n, v)
    cl = hdr(headers, "content-length")
    rest = buf[hlen:]
    res["after_head_bytes"] = len(rest)
    res["body_head"] = rest[:200].decode("latin-1")
    if cl is not None and cl.isdigit():
        res["content_length"] = int(cl)
    return out(res, True)


def cmd_multipart(a):
    res = {"mode": "multipart"}
    raw_head = open(a.headers, "rb").read()
    # curl -D keeps every response head; the last one is the answer
    heads = [h for h in raw_head.split(b"\r\n\r\n") if h.strip()]
    h = split_head(heads[-1] + b"\r\n\r\n")
    status, _, headers, _ = h
    res["status"] = status
    ctype = hdr(headers, "content-type") or ""
    res["content_type"] = ctype
    body = open(a.body, "rb").read()
    data = open(a.file, "rb").read()
    res["body_len"] = len(body)
    errors = []
    if status != 206:
        errors.append("status %d, not 206" % status)
    if hdr(headers, "content-range") is not None:
        errors.append("a multipart response has a Content-Range header field")
    cl = hdr(headers, "content-length")
    if cl is None or int(cl) != len(body):
        errors.append("Content-Length %s != body length %d" % (cl, len(body)))
    mt, _, params = ctype.partition(";")
    if mt.strip().lower() != "multipart/byteranges":
        errors.append("Content-Type is %r" % ctype)
    boundary = None
    for p in params.split(";"):
        k, _, v = p.strip().partition("=")
        if k.lower() == "boundary":
            boundary = v.strip('"')
    res["boundary"] = boundary
    parts = []
    if boundary:
        delim = b"--" + boundary.encode()
        # RFC 2046 5.1.1: the body is [preamble CRLF] delimiter ... close-delimiter
        if not (body.startswith(delim + b"\r\n") or (b"\r\n" + delim + b"\r\n") in body):
            errors.append("body does not start with the delimiter")
        if not body.rstrip(b"\r\n").endswith(delim + b"--"):
            errors.append("body does not end with the close delimiter")
        framed = b"\r\n" + body if body.startswith(delim) else body
        chunks = framed.split(b"\r\n" + delim)
        # chunks[0] = preamble (empty), chunks[-1] = "--" epilogue
        for c in chunks[1:]:
            if c.startswith(b"--"):
                break
            if not c.startswith(b"\r\n"):
                errors.append("delimiter not followed by CRLF")
                break
            c = c[2:]
            end = c.find(b"\r\n\r\n")
            if end < 0:
                hdr_block, content = c, b""
                errors.append("part without an empty line after its header fields")
            else:
                hdr_block, content = c[:end], c[end + 4:]
            ph = {}
            for line in hdr_block.decode("latin-1").split("\r\n"):
                n, _, v = line.partition(":")
                ph[n.strip().lower()] = v.strip()
            parts.append((ph, content))
    want = []
    for r in a.expect.split(","):
        f, _, l = r.partition("-")
        want.append((int(f), int(l)))
    res["parts"] = []
    for i, (ph, content) in enumerate(parts):
        cr = ph.get("content-range", "")
        info = {"content_range": cr, "content_type": ph.get("content-type"), "len": len(content)}
        res["parts"].append(info)
        if i >= len(want):
            continue
        f, l = want[i]
        exp_cr = "bytes %d-%d/%d" % (f, l, len(data))
        if cr != exp_cr:
            errors.append("part %d: Content-Range %r, expected %r" % (i, cr, exp_cr))
        if content != data[f:l + 1]:
            errors.append("part %d: %d bytes differ from the file's bytes %d-%d" % (i, len(content), f, l))
        info["bytes_match"] = content == data[f:l + 1]
    if len(parts) != len(want):
        errors.append("%d parts, expected %d" % (len(parts), len(want)))
    res["errors"] = errors
    return out(res, not errors)


def read_response(s, buf, head_only=False):
    """One response from the socket (Content-Length framing); returns
    (status, headers, body, leftover)."""
    while True:
        h = split_head(buf)
        if h is not None:
            break
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed before a complete response head (%d bytes)" % len(buf))
        buf += b
    status, _, headers, hlen = h
    n = 0 if head_only else int(hdr(headers, "content-length") or 0)
    while len(buf) < hlen + n:
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed after %d of %d body bytes" % (len(buf) - hlen, n))
        buf += b
    return status, headers, bytes(buf[hlen:hlen + n]), bytearray(buf[hlen + n:])


def cmd_pipeline(a):
    res = {"mode": "pipeline", "responses": []}
    gets = [g.split("=", 1) for g in a.get]
    req = b"".join(b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (p.encode(), a.host.encode())
                   for p, _ in gets)
    s = socket.create_connection((a.dst, a.port), timeout=10)
    res["local"] = "%s:%d" % s.getsockname()
    s.sendall(req)  # one write, all requests
    res["request_bytes"] = len(req)
    errors = []
    buf = bytearray()
    try:
        for path, f in gets:
            status, headers, body, buf = read_response(s, buf)
            want = open(f, "rb").read()
            r = {"path": path, "status": status, "len": len(body), "match": body == want,
                 "connection": hdr(headers, "connection")}
            res["responses"].append(r)
            if status != 200 or body != want:
                errors.append("%s: status %d, %d bytes, match %s" % (path, status, len(body), body == want))
        s.settimeout(0.3)
        try:
            extra = s.recv(65536)
        except socket.timeout:
            extra = b""
        if buf or extra:
            errors.append("%d unexpected bytes after the last response" % (len(buf) + len(extra)))
    except (OSError, ConnectionError) as e:
        errors.append("error: %s" % e)
    s.close()
    res["errors"] = errors
    return out(res, not errors and len(res["responses"]) == len(gets))


def cmd_slowloris(a):
    head = ("GET %s HTTP/1.1\r\nHost: slow\r\nUser-Agent: slowloris\r\n" % a.path).encode()
    head += b"X-Slow: " + b"a" * 200
    res = {"mode": "slowloris", "interval_s": a.interval}
    s = socket.create_connection((a.dst, a.port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    res["local"] = "%s:%d" % s.getsockname()
    print(json.dumps({"started": res["local"]}), flush=True)
    t0 = time.monotonic()
    sent = 0
    closed_after = None
    how = None
    got = b""
    while time.monotonic() - t0 < a.max and sent < len(head):
        try:
            s.send(head[sent:sent + 1])
            sent += 1
        except OSError as e:
            closed_after, how = time.monotonic() - t0, "send: %s" % e
            break
        # wait one interval, watching for the server closing
        end = time.monotonic() + a.interval
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                b = s.recv(4096)
            except socket.timeout:
                continue
            except OSError as e:
                closed_after, how = time.monotonic() - t0, "recv: %s" % e
                break
            if not b:
                closed_after, how = time.monotonic() - t0, "EOF"
                break
            got += b
        if closed_after is not None:
            break
    s.close()
    res["sent_bytes"] = sent
    res["closed_after_s"] = None if closed_after is None else round(closed_after, 2)
    res["closed_by"] = how
    res["received"] = got[:200].decode("latin-1")
    return out(res, closed_after is not None)


def cmd_slowread(a):
    res = {"mode": "slowread", "rcvbuf_asked": a.rcvbuf}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.settimeout(10)
    s.connect((a.dst, a.port))
    res["rcvbuf"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    res["local"] = "%s:%d" % s.getsockname()
    s.sendall(b"GET %s HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n" % a.path.encode())
    print(json.dumps({"paused": res["local"]}), flush=True)
    if a.marker:
        open(a.marker, "w").write(res["local"] + "\n")
    time.sleep(a.sleep)
    t0 = time.monotonic()
    buf = bytearray()
    errors = []
    try:
        status, headers, body, rest = read_response(s, buf)
        res["status"] = status
        res["body_len"] = len(body)
        res["sha256"] = hashlib.sha256(body).hexdigest()
        if status != 200:
            errors.append("status %d" % status)
        if res["sha256"] != a.sha256:
            errors.append("sha256 mismatch")
        # Connection: close: the server ends the connection after the body
        s.settimeout(5)
        tail = s.recv(65536)
        if rest or tail:
            errors.append("%d bytes after the body" % (len(rest) + len(tail)))
    except (OSError, ConnectionError) as e:
        errors.append("error: %s" % e)
    res["read_s"] = round(time.monotonic() - t0, 2)
    s.close()
    res["errors"] = errors
    return out(res, not errors)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("raw")
    r.add_argument("--dst", required=True)
    r.add_argument("--port", type=int, default=80)
    r.add_argument("--send")
    r.add_argument("--send-file")
    r.add_argument("--timeout", type=float, default=5)
    m = sub.add_parser("multipart")
    m.add_argument("--headers", required=True)
    m.add_argument("--body", required=True)
    m.add_argument("--file", required=True)
    m.add_argument("--expect", required=True)
    p = sub.add_parser("pipeline")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--host", required=True)
    p.add_argument("--get", action="append", required=True)
    sl = sub.add_parser("slowloris")
    sl.add_argument("--dst", required=True)
    sl.add_argument("--port", type=int, default=80)
    sl.add_argument("--path", required=True)
    sl.add_argument("--interval", type=float, default=1.0)
    sl.add_argument("--max", type=float, default=30)
    sr = sub.add_parser("slowread")
    sr.add_argument("--dst", required=True)
    sr.add_argument("--port", type=int, default=80)
    sr.add_argument("--path", required=True)
    sr.add_argument("--sha256", required=True)
    sr.add_argument("--rcvbuf", type=int, default=4096)
    sr.add_argument("--sleep", type=float, default=5)
    sr.add_argument("--marker")
    a = ap.parse_args()
    if a.cmd == "raw" and not (a.send or a.send_file):
        ap.error("raw needs --send or --send-file")
    return {"raw": cmd_raw, "multipart": cmd_multipart, "pipeline": cmd_pipeline,
            "slowloris": cmd_slowloris, "slowread": cmd_slowread}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
