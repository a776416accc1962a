#!/usr/bin/env bash
# HTTP/1.1 load: wrk with 256 keep-alive connections against the engine.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the anycast VIP
# 203.0.113.10, [http] port 80 and [cache] dir = a content directory holding
# t.txt; the kernel side of ae0 is 10.0.2.1/24 with a route to the VIP via
# 10.0.2.2. `wrk -t2 -c256 -d20s http://203.0.113.10/t.txt` must finish with
# no socket errors (connect, read, write, timeout) and no non-2xx/3xx
# response; the engine's 200 count must cover wrk's requests; afterwards the
# engine must still answer ping and curl, and the connections wrk closed must
# be gone from the table (TIME-WAIT aside) within 15 s.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping curl wrk timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's HTTP service (FWD=anyedge)"

CONN=$AE_LIB_DIR/tcp_conn.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
DURATION=${AE_HTTP_WRK_SECS:-20}
CONNS=${AE_HTTP_WRK_CONNS:-256}

new_ns HOST host

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
printf 'small text object\n' >"$CONTENT/t.txt"

start_http_engine "$HOST" "$CONTENT"
code=$(timeout 20 ip netns exec "$HOST" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://$VIP/t.txt") || code="curl failed"
check "curl /t.txt before the load: 200 (got $code)" test "$code" = 200

HTTP0=$(ectl 'show http json')
OPENED0=$(ectl 'show conn json' | "$PYTHON" "$CONN" table opened)

log "wrk -t2 -c$CONNS -d${DURATION}s http://$VIP/t.txt"
timeout 60 ip netns exec "$HOST" wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://$VIP/t.txt" \
    >"$AE_TMP/wrk.log" 2>&1 && rc=0 || rc=$?
indent <"$AE_TMP/wrk.log"
check "wrk exited 0 within 60 s (exit $rc)" test "$rc" -eq 0

# wrk's summary: "N requests in Xs", optional "Socket errors: connect A, read
# B, write C, timeout D", optional "Non-2xx or 3xx responses: N", "Requests/sec".
WRK=$("$PYTHON" - "$AE_TMP/wrk.log" <<'EOF'
import json, re, sys
t = open(sys.argv[1], errors="replace").read()
m = re.search(r"(\d+) requests in", t)
se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
n2 = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
print(json.dumps({
    "requests": int(m.group(1)) if m else -1,
    "socket_errors": [int(x) for x in se.groups()] if se else [0, 0, 0, 0],
    "non2xx": int(n2.group(1)) if n2 else 0,
    "rps": float(rps.group(1)) if rps else -1,
}))
EOF
)
echo "    parsed: $WRK"
reqs=$(json_get "$WRK" requests)
log "wrk: $reqs requests, $(json_get "$WRK" rps) requests/s"
check "wrk completed requests ($reqs)" test "$reqs" -gt 0
check "no socket errors (connect, read, write, timeout = $(json_get "$WRK" socket_errors))" \
    test "$(json_get "$WRK" socket_errors)" = "[0, 0, 0, 0]"
check "no non-2xx/3xx responses ($(json_get "$WRK" non2xx))" test "$(json_get "$WRK" non2xx)" = 0

HTTP1=$(ectl 'show http json')
echo "    show http: $HTTP1"
d200=$(("$(json_get "$HTTP1" status.200)" - "$(json_get "$HTTP0" status.200)"))
dreq=$(("$(json_get "$HTTP1" requests)" - "$(json_get "$HTTP0" requests)"))
check "engine answered 200 at least as often as wrk counted ($d200 >= $reqs)" test "$d200" -ge "$reqs"
check "every request the engine parsed was a 200 ($dreq requests, $d200 x 200)" test "$dreq" -eq "$d200"
OPENED1=$(ectl 'show conn json' | "$PYTHON" "$CONN" table opened)
log "table.opened grew by $((OPENED1 - OPENED0)) (wrk keeps its $CONNS connections alive)"
check "wrk reused its connections: table.opened grew by $((OPENED1 - OPENED0)) <= 2 x $CONNS" \
    test $((OPENED1 - OPENED0)) -le $((2 * CONNS))

# the engine is still healthy
n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$VIP")
check "engine answers ping after the load (got $n/3)" test "$n" -eq 3
code=$(timeout 20 ip netns exec "$HOST" curl -sS --max-time 10 -o "$AE_TMP/t" -w '%{http_code}' "http://$VIP/t.txt") || code="curl failed"
check "curl /t.txt after the load: 200 (got $code)" test "$code" = 200
check "curl /t.txt after the load: body identical" cmp -s "$AE_TMP/t" "$CONTENT/t.txt"

# shellcheck disable=SC2317 # called through wait_for's eval
no_live() { ectl 'show conn json' | "$PYTHON" "$CONN" live --exclude-state TIME-WAIT; }
wait_for no_live 15 0.5 || true
live=$(ectl 'show conn json' | "$PYTHON" "$CONN" live --exclude-state TIME-WAIT) && rc=0 || rc=$?
echo "    live connections (TIME-WAIT excluded): $live"
check "the $CONNS closed wrk connections are gone from the engine's table within 15 s" test "$rc" -eq 0

check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
