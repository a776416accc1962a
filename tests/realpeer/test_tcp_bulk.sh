#!/usr/bin/env bash
# TCP bulk transfer between the Linux kernel (socat) and the engine's test
# services: 200 MiB into discard (RFC 863) and 200 MiB out of chargen
# (RFC 864), each over one connection.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the services
# discard=9, echo=7, chargen=19; the kernel side of ae0 is 10.0.2.1/24.
#
# Checks: socat's send to discard exits 0 and the engine's closed-connection
# row (show conn json, "recent") for exactly that connection (fixed source
# port) counts bytes_in == 200 MiB; 200 MiB read from chargen arrive
# (head -c | wc -c), the first line is the RFC 864 line and the second starts
# one character later, and the whole stream follows the pattern
# (tcp_chargen.py).
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping socat head wc tee mkfifo timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's TCP stack (FWD=anyedge)"

CONN=$AE_LIB_DIR/tcp_conn.py
CHARGEN=$AE_LIB_DIR/tcp_chargen.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SIZE=${AE_TCP_BULK_BYTES:-209715200} # 200 MiB
DISCARD_SPORT=40009
CHARGEN_SPORT=40019

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

# --- 1. 200 MiB into discard ---------------------------------------------
log "sending $SIZE bytes of /dev/urandom to discard $PORT_IP:9 from port $DISCARD_SPORT"
t0=$(now_ms)
rc=0
head -c "$SIZE" /dev/urandom |
    timeout 60 ip netns exec "$HOST" socat -u - "TCP:$PORT_IP:9,sourceport=$DISCARD_SPORT" \
        2>"$AE_TMP/socat-discard.err" || rc=$?
ms=$(($(now_ms) - t0))
log "discard: socat exit $rc after ${ms} ms ($((SIZE * 1000 / (ms + 1) / 1048576)) MiB/s)"
indent <"$AE_TMP/socat-discard.err"
check "socat sent $SIZE bytes to discard and exited 0 (exit $rc)" test "$rc" -eq 0

# the engine closes when it sees socat's FIN; the row then moves to "recent"
find_discard() { conns | "$PYTHON" "$CONN" find --in recent --local "$PORT_IP:9" --remote "$HOST_IP:$DISCARD_SPORT"; }
wait_for find_discard 10 0.2 || true
row=$(find_discard || echo '{}')
echo "    discard row: $row"
got=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("bytes_in", "missing"))' "$row")
check "discard connection closed and listed in recent" test "$row" != '{}'
check "discard bytes_in == $SIZE (got $got)" test "$got" = "$SIZE"
state=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("state", "missing"))' "$row")
check "discard connection closed normally (state '$state')" test "$state" = CLOSED

# --- 2. 200 MiB out of chargen --------------------------------------------
log "reading $SIZE bytes from chargen $PORT_IP:19 on port $CHARGEN_SPORT"
mkfifo "$AE_TMP/chargen.fifo"
timeout 90 "$PYTHON" "$CHARGEN" <"$AE_TMP/chargen.fifo" >"$AE_TMP/chargen.json" 2>&1 &
CHK_PID=$!
AE_PIDS+=("$CHK_PID")
AE_PID_NAMES+=(chargen-check)
t0=$(now_ms)
# socat fails with EPIPE once head has its bytes: that is the expected end
got=$({ timeout 60 ip netns exec "$HOST" socat -u "TCP:$PORT_IP:19,sourceport=$CHARGEN_SPORT" - \
    2>"$AE_TMP/socat-chargen.err" || true; } | head -c "$SIZE" | tee "$AE_TMP/chargen.fifo" | wc -c)
ms=$(($(now_ms) - t0))
log "chargen: read $got bytes in ${ms} ms ($((got * 1000 / (ms + 1) / 1048576)) MiB/s)"
check "read $SIZE bytes from chargen (got $got)" test "$got" -eq "$SIZE"
rc=0
wait_pid_exit "$CHK_PID" 30 || true
wait "$CHK_PID" 2>/dev/null || rc=$?
res=$(cat "$AE_TMP/chargen.json")
echo "    chargen check: $res"
check "tcp_chargen.py checked the stream (exit $rc)" test "$rc" -eq 0
for k in line1_ok line2_ok stream_ok; do
    v=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$res" "$k" 2>/dev/null || echo error)
    case $k in
        line1_ok) what="first line is the RFC 864 line ' !\"#\$%&'\''()*+,-./0123...abcdefg' CRLF" ;;
        line2_ok) what="second line starts one character later" ;;
        stream_ok) what="all $SIZE bytes follow the RFC 864 rotating pattern" ;;
    esac
    check "$what ($k=$v)" test "$v" = True
done

find_chargen() { conns | "$PYTHON" "$CONN" find --in recent --local "$PORT_IP:19" --remote "$HOST_IP:$CHARGEN_SPORT"; }
wait_for find_chargen 10 0.2 || true
row=$(find_chargen || echo '{}')
echo "    chargen row: $row"
out=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("bytes_out", -1))' "$row")
check "chargen connection closed and listed in recent" test "$row" != '{}'
check "chargen bytes_out ($out) >= $SIZE" test "$out" -ge "$SIZE"

check "engine still running" pid_alive "$ENGINE_PID"
echo "    table: $(conns | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["table"]))')"
echo "    drops: $(ectl 'show drops json')"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
