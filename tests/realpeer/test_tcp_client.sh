#!/usr/bin/env bash
# The engine as TCP client: `tcp connect` to a socat listener of the Linux
# kernel, which sends 100 MiB and closes.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2; the kernel side of
# ae0 is 10.0.2.1/24 and runs `socat -u - TCP-LISTEN:5001,reuseaddr` fed
# 100 MiB of /dev/urandom. The engine reads and drops everything and closes
# when socat does; its closed-connection row (show conn json, "recent") must
# then count bytes_in == 100 MiB.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping socat head timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's TCP stack (FWD=anyedge)"

CONN=$AE_LIB_DIR/tcp_conn.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
LPORT=5001
SIZE=${AE_TCP_CLIENT_BYTES:-104857600} # 100 MiB

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

# The listener: bg_start gives stdin /dev/null, so feed it from a shell.
# shellcheck disable=SC2016 # expanded by that shell, from its arguments
bg_start socat-listen "$HOST" timeout 90 sh -c \
    'head -c "$1" /dev/urandom | socat -u - "TCP-LISTEN:$2,reuseaddr"' sh "$SIZE" "$LPORT"
LISTEN_PID=$BG_PID
wait_for "ip netns exec '$HOST' ss -Hltn 'sport = :$LPORT' | grep -q LISTEN" 10 0.1 ||
    die "socat is not listening on $HOST_IP:$LPORT"
log "socat listening on $HOST_IP:$LPORT with $SIZE bytes to send"

t0=$(now_ms)
out=$(ectl "tcp connect $HOST_IP:$LPORT" 2>&1) && rc=0 || rc=$?
echo "    tcp connect: $out"
check "'tcp connect $HOST_IP:$LPORT' accepted (exit $rc)" test "$rc" -eq 0

find_row() { conns | "$PYTHON" "$CONN" find --in recent --remote "$HOST_IP:$LPORT"; }
# shellcheck disable=SC2317 # called through wait_for's eval
done_row() { find_row | "$PYTHON" -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["bytes_in"] == int(sys.argv[1]) else 1)' "$SIZE"; }
wait_for done_row 60 0.5 || true
ms=$(($(now_ms) - t0))
row=$(find_row || echo '{}')
echo "    engine row: $row"
if [[ $row == '{}' ]]; then
    echo "    live rows: $(conns | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["conns"]))')"
fi
got=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("bytes_in", "missing"))' "$row")
log "engine received $got bytes in ${ms} ms"
check "engine's connection to $HOST_IP:$LPORT closed and listed in recent" test "$row" != '{}'
check "engine bytes_in == $SIZE (got $got)" test "$got" = "$SIZE"
local_ep=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("local", ""))' "$row")
lport=${local_ep##*:}
check "engine's local endpoint $local_ep is $PORT_IP with a port from 49152 up" \
    test "${local_ep%:*}" = "$PORT_IP" -a "${lport:-0}" -ge 49152
state=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1]).get("state", ""))' "$row")
check "connection closed normally (state '$state')" test "$state" = CLOSED

rc=0
wait_pid_exit "$LISTEN_PID" 10 || true
if pid_alive "$LISTEN_PID"; then rc=running; else wait "$LISTEN_PID" 2>/dev/null || rc=$?; fi
check "socat listener sent everything and exited 0 (exit $rc)" test "$rc" = 0

check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
