#!/usr/bin/env bash
# TCP echo (RFC 862): the Linux kernel talks to the engine's echo service.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the services
# discard=9, echo=7, chargen=19 and the anycast VIP 203.0.113.10; the kernel
# side of ae0 is 10.0.2.1/24 with a route to the VIP via 10.0.2.2.
#
# tcp_echo.py roundtrip: one connection to 10.0.2.2:7, 10,000 messages of
# random length 1..2000 and random content (seeded), each read back and
# compared byte for byte. tcp_echo.py concurrent: 1,000 connections to the
# VIP's echo port, all opened first, then one unique small message on each,
# read back and compared, then all closed. Afterwards the engine must hold no
# connection except in TIME-WAIT (it closes passively: none at all), and
# table.opened must have grown by at least 1,001.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's TCP stack (FWD=anyedge)"

CONN=$AE_LIB_DIR/tcp_conn.py
ECHO=$AE_LIB_DIR/tcp_echo.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
COUNT=${AE_TCP_ECHO_COUNT:-10000}
NCONN=${AE_TCP_ECHO_CONNS:-1000}
SEED=${AE_TCP_ECHO_SEED:-$RANDOM}

new_ns HOST host

cat >"$AE_TMP/node.toml" <<EOF
[node]
name = "edge-a"
[[port]]
ip = "$PORT_IP/24"
gateway = "$HOST_IP"
[anycast]
vips = ["$VIP"]
[services]
discard = 9
echo = 7
chargen = 19
EOF

start_engine "$HOST" -l 0-1 --vdev net_tap0,iface=ae0 --no-huge -m 512 \
    --file-prefix "${AE_NS_PREFIX}eng" -- --forward-mode=cdn --config "$AE_TMP/node.toml" -a

wait_link "$HOST" ae0 15
ip -n "$HOST" addr add "$HOST_IP/24" dev ae0
ip -n "$HOST" link set ae0 up
ip -n "$HOST" route add "$VIP/32" via "$PORT_IP" dev ae0

n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$PORT_IP")
check "engine answers ping (got $n/3)" test "$n" -eq 3

conns() { ectl 'show conn json'; }
OPENED0=$(conns | "$PYTHON" "$CONN" table opened)
log "table.opened before: $OPENED0 (seed $SEED)"

# --- 1. one connection, 10,000 random messages ------------------------------
log "round-tripping $COUNT random messages (1..2000 bytes) over one connection to $PORT_IP:7"
out=$(timeout 60 ip netns exec "$HOST" "$PYTHON" "$ECHO" roundtrip --dst "$PORT_IP" --port 7 \
    --count "$COUNT" --max-len 2000 --seed "$SEED") && rc=0 || rc=$?
echo "    $out"
ok=$(json_get "$out" ok 2>/dev/null || echo 0)
check "$ok/$COUNT messages echoed byte-exact over one connection (exit $rc)" test "$rc" -eq 0 -a "$ok" = "$COUNT"
if [[ $rc -eq 0 ]]; then
    local_ep=$(json_get "$out" local)
    bytes=$(json_get "$out" bytes)
    find_rt() { conns | "$PYTHON" "$CONN" find --in recent --local "$PORT_IP:7" --remote "$local_ep"; }
    wait_for find_rt 10 0.2 || true
    row=$(find_rt || echo '{}')
    echo "    engine row: $row"
    check "engine counted bytes_in == bytes_out == $bytes on that connection" "$PYTHON" -c '
import json, sys
r = json.loads(sys.argv[1]); n = int(sys.argv[2])
sys.exit(0 if r.get("bytes_in") == n and r.get("bytes_out") == n and r.get("state") == "CLOSED" else 1)' "$row" "$bytes"
fi

# --- 2. 1,000 concurrent connections ---------------------------------------
log "opening $NCONN concurrent connections to $VIP:7, then one message on each"
out=$(timeout 60 ip netns exec "$HOST" "$PYTHON" "$ECHO" concurrent --dst "$VIP" --port 7 \
    --conns "$NCONN" --seed "$SEED") && rc=0 || rc=$?
echo "    $out"
echoed=$(json_get "$out" echoed 2>/dev/null || echo 0)
check "$NCONN concurrent connections opened, echoed ($echoed) and closed (exit $rc)" \
    test "$rc" -eq 0 -a "$echoed" = "$NCONN"

# --- 3. the engine is left with nothing open ---------------------------------
# shellcheck disable=SC2317 # called through wait_for's eval
no_live() { conns | "$PYTHON" "$CONN" live --exclude-state TIME-WAIT; }
wait_for no_live 20 0.5 || true
live=$(conns | "$PYTHON" "$CONN" live --exclude-state TIME-WAIT) && rc=0 || rc=$?
echo "    live connections (TIME-WAIT excluded): $live"
check "no live connection left except in TIME-WAIT" test "$rc" -eq 0
tw=$(conns | "$PYTHON" "$CONN" live) && rc=0 || rc=$?
echo "    live connections (all states): $tw"
check "no TIME-WAIT either: the engine closed every connection passively" test "$rc" -eq 0

OPENED1=$(conns | "$PYTHON" "$CONN" table opened)
check "table.opened grew by $((OPENED1 - OPENED0)) >= $((NCONN + 1))" test $((OPENED1 - OPENED0)) -ge $((NCONN + 1))
echo "    table: $(conns | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["table"]))')"

check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
