#!/usr/bin/env python3
"""Query the engine's `show conn json` for the real-peer TCP tests.

The JSON is read from stdin (it can be far larger than one argv string when
a thousand connections are listed).

  tcp_conn.py find [--in conns|recent] [--local IP:PORT] [--remote IP:PORT]
                   [--app NAME] [--field F]
      print the last matching row as JSON (or only its field F); exit 1 when
      no row matches
  tcp_conn.py live [--exclude-state S ...]
      print {"live": N, "states": {state: count}} for the rows of "conns"
      whose state is not excluded; exit 1 when N > 0
  tcp_conn.py table FIELD
      print one counter of "table"
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("find")
    f.add_argument("--in", dest="where", choices=["conns", "recent"], default="recent")
    f.add_argument("--local")
    f.add_argument("--remote")
    f.add_argument("--app")
    f.add_argument("--field")
    lv = sub.add_parser("live")
    lv.add_argument("--exclude-state", action="append", default=[])
    t = sub.add_parser("table")
    t.add_argument("field")
    a = ap.parse_args()

    d = json.load(sys.stdin)
    if a.cmd == "find":
        rows = [
            r
            for r in d[a.where]
            if (a.local is None or r.get("local") == a.local)
            and (a.remote is None or r.get("remote") == a.remote)
            and (a.app is None or r.get("app") == a.app)
        ]
        if not rows:
            return 1
        v = rows[-1] if a.field is None else rows[-1][a.field]
        print(v if isinstance(v, str) else json.dumps(v))
        return 0
    if a.cmd == "live":
        states = {}
        for r in d["conns"]:
            if r.get("state") in a.exclude_state:
                continue
            states[r.get("state")] = states.get(r.get("state"), 0) + 1
        n = sum(states.values())
        print(json.dumps({"live": n, "states": states}))
        return 0 if n == 0 else 1
    if a.cmd == "table":
        print(json.dumps(d["table"][a.field]))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
