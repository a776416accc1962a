#!/usr/bin/env bash
# HTTP/1.1 slow clients: a slowloris writer and a zero-window reader.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the anycast VIP
# 203.0.113.10, [http] port 80 and [cache] dir = a content directory holding
# a/b.bin (1 MiB random) and t.txt; the kernel side of ae0 is 10.0.2.1/24
# with a route to the VIP via 10.0.2.2.
#
# (a) slowloris: http_client.py slowloris sends a request head one byte per
#     second and never finishes it. The engine's header-read timeout (10 s)
#     must close that connection within 15 s and count it in
#     header_timeouts, while a normal curl on another connection is served.
# (b) slow reader: http_client.py slowread asks for the 1 MiB object with a
#     4 KiB SO_RCVBUF and does not read for 5 s, so the engine's sends stall
#     on a zero window. Meanwhile the engine must keep the connection
#     ESTABLISHED (with far less than the object sent); then the client reads
#     everything and the sha256 must match.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping curl sha256sum timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's HTTP service (FWD=anyedge)"

HC=$AE_LIB_DIR/http_client.py
CONN=$AE_LIB_DIR/tcp_conn.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SIZE=$((1024 * 1024))

new_ns HOST host

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT/a"
head -c "$SIZE" /dev/urandom >"$CONTENT/a/b.bin"
printf 'small text object\n' >"$CONTENT/t.txt"
WANT=$(sha256sum "$CONTENT/a/b.bin" | cut -d' ' -f1)

start_http_engine "$HOST" "$CONTENT"

conns() { ectl 'show conn json'; }
# json_line LOG: the last JSON line of a client's log
json_line() { grep '^{' "$1" | tail -n 1; }
# conn_state REMOTE: the engine's state of the connection from REMOTE: its
# row in "conns" (e.g. TIME-WAIT after an active close), else that of its
# row in "recent" (CLOSED...), else "none".
conn_state() {
    conns | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
rows = [r for r in d["conns"] if r["remote"] == sys.argv[1]] or \
       [r for r in d["recent"] if r["remote"] == sys.argv[1]]
print(rows[-1]["state"] if rows else "none")' "$1"
}
# closed_by_engine STATE: the engine closed first (active close): the
# connection sits in TIME-WAIT, or has already gone to "recent" as CLOSED.
# shellcheck disable=SC2317 # called through check
closed_by_engine() { [[ $1 == TIME-WAIT || $1 == CLOSED ]]; }

# --- (a) slowloris -------------------------------------------------------------
HTTP0=$(ectl 'show http json')
bg_start slowloris "$HOST" timeout 40 "$PYTHON" "$HC" slowloris --dst "$VIP" --path /t.txt --interval 1 --max 30
SL_PID=$BG_PID
SL_LOG=$BG_LOG
wait_for "grep -q started '$SL_LOG'" 10 0.1 || die "slowloris client did not start"
sl_local=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["started"])' "$(head -n 1 "$SL_LOG")")
log "slowloris connection from $sl_local, one byte per second"
sleep 3
row=$(conns | "$PYTHON" "$CONN" find --in conns --remote "$sl_local" || echo '{}')
echo "    engine row after 3 s: $row"
check "slowloris connection ESTABLISHED in the engine after 3 s" test "$(json_get "$row" state 2>/dev/null || echo none)" = ESTABLISHED
code=$(timeout 20 ip netns exec "$HOST" curl -sS --max-time 10 -o "$AE_TMP/t" -w '%{http_code}' "http://$VIP/t.txt") || code="curl failed"
check "meanwhile curl /t.txt on another connection: 200 (got $code)" test "$code" = 200
check "meanwhile curl /t.txt: body identical" cmp -s "$AE_TMP/t" "$CONTENT/t.txt"
wait_pid_exit "$SL_PID" 35 || true
rc=0
wait "$SL_PID" 2>/dev/null || rc=$?
out=$(json_line "$SL_LOG")
echo "    $out"
after=$(json_get "$out" closed_after_s 2>/dev/null || echo null)
check "slowloris: the server closed the connection (exit $rc, after ${after} s, by $(json_get "$out" closed_by 2>/dev/null))" test "$rc" -eq 0
check "slowloris: closed within 15 s (after ${after} s)" "$PYTHON" -c 'import sys; v = sys.argv[1]; sys.exit(0 if v != "null" and 9 <= float(v) <= 15 else 1)' "$after"
HTTP1=$(ectl 'show http json')
d=$(("$(json_get "$HTTP1" header_timeouts)" - "$(json_get "$HTTP0" header_timeouts)"))
check "show http: header_timeouts grew by $d >= 1" test "$d" -ge 1
# the engine closed first (active close): TIME-WAIT, or gone to "recent"
st=$(conn_state "$sl_local")
check "slowloris connection closed by the engine: TIME-WAIT or CLOSED (got $st)" closed_by_engine "$st"

# --- (b) slow reader held back by a zero window ---------------------------------
MARK=$AE_TMP/slowread.paused
bg_start slowread "$HOST" timeout 40 "$PYTHON" "$HC" slowread --dst "$VIP" --path /a/b.bin \
    --sha256 "$WANT" --rcvbuf 4096 --sleep 5 --marker "$MARK"
SR_PID=$BG_PID
SR_LOG=$BG_LOG
wait_for "test -s '$MARK'" 10 0.1 || die "slow reader did not start"
sr_local=$(head -n 1 "$MARK")
log "slow reader $sr_local paused (not reading for 5 s)"
sleep 2.5
row=$(conns | "$PYTHON" "$CONN" find --in conns --remote "$sr_local" || echo '{}')
echo "    engine row while the client is not reading: $row"
check "slow reader: connection ESTABLISHED in the engine while the window is closed" \
    test "$(json_get "$row" state 2>/dev/null || echo none)" = ESTABLISHED
bo=$(json_get "$row" bytes_out 2>/dev/null || echo -1)
check "slow reader: engine held back by the window (bytes_out $bo < $((SIZE / 4)))" test "$bo" -ge 0 -a "$bo" -lt $((SIZE / 4))
wait_pid_exit "$SR_PID" 35 || true
rc=0
wait "$SR_PID" 2>/dev/null || rc=$?
out=$(json_line "$SR_LOG")
echo "    $out"
check "slow reader: read all $(json_get "$out" body_len 2>/dev/null) bytes, sha256 matches (exit $rc)" test "$rc" -eq 0
# shellcheck disable=SC2317 # called through wait_for's eval
sr_closed() { closed_by_engine "$(conn_state "$sr_local")"; }
wait_for sr_closed 10 0.2 || true
st=$(conn_state "$sr_local")
check "slow reader: engine closed after the body (Connection: close): TIME-WAIT or CLOSED (got $st)" \
    closed_by_engine "$st"

n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$VIP")
check "engine answers ping at the end (got $n/3)" test "$n" -eq 3
check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
