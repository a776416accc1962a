#!/usr/bin/env python3
"""Check a character generator (RFC 864) stream read from stdin.

RFC 864 (TCP) sends lines of 72 printable ASCII characters (0x20..0x7e, 95
of them, taken in a rotating window) followed by CR LF; each line starts one
character later than the one before. The stream therefore repeats every
95 lines (95 * 74 = 7030 bytes).

Reads all of stdin and prints one JSON object:
  {"bytes": N, "line1": "...", "line2": "...", "line1_ok": bool,
   "line2_ok": bool, "stream_ok": bool, "first_mismatch": offset or null}
Exit 0 when the first two lines and the whole stream match the pattern.
"""

import json
import sys

PRINTABLE = bytes(range(0x20, 0x7F))  # 95 characters
LINE = 72


def expected_line(i: int) -> bytes:
    s = i % len(PRINTABLE)
    return (PRINTABLE * 2)[s : s + LINE] + b"\r\n"


def main():
    period = b"".join(expected_line(i) for i in range(len(PRINTABLE)))
    plen = len(period)
    # a pattern buffer long enough to compare any chunk at any phase
    chunk = 1 << 20
    pattern = period * (chunk // plen + 2)
    inp = sys.stdin.buffer
    total = 0
    head = b""
    mismatch = None
    while True:
        buf = inp.read(chunk)
        if not buf:
            break
        if len(head) < 2 * (LINE + 2):
            head += buf[: 2 * (LINE + 2) - len(head)]
        if mismatch is None:
            ph = total % plen
            exp = pattern[ph : ph + len(buf)]
            if buf != exp:
                for j in range(len(buf)):
                    if buf[j] != exp[j]:
                        mismatch = total + j
                        break
        total += len(buf)
    l1, l2 = head[: LINE + 2], head[LINE + 2 : 2 * (LINE + 2)]
    want1 = b' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n'
    res = {
        "bytes": total,
        "line1": l1.decode("latin-1"),
        "line2": l2.decode("latin-1"),
        "line1_ok": l1 == want1 and l1 == expected_line(0),
        "line2_ok": l2 == expected_line(1) and l2[:LINE - 1] == l1[1:LINE],
        "stream_ok": mismatch is None,
        "first_mismatch": mismatch,
    }
    print(json.dumps(res))
    return 0 if res["line1_ok"] and res["line2_ok"] and res["stream_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
