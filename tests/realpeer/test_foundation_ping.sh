#!/usr/bin/env bash
# Foundation: the Linux kernel pings and ARPs the engine over a TAP.
#
# netns HOST: engine (cdn mode) owns TAP ae0; the kernel side of ae0 is
# 10.0.2.1/24 with a route to the anycast VIP 203.0.113.10 via 10.0.2.2.
#
# FWD=testpmd runs dpdk-testpmd --forward-mode=icmpecho instead (it answers
# ARP and ping for any address), to check the harness without the engine.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping arping timeout "$PYTHON"
require_engine

PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10

new_ns HOST host

cat >"$AE_TMP/node.toml" <<EOF
[node]
name = "edge-a"
[[port]]
ip = "$PORT_IP/24"
gateway = "$HOST_IP"
[anycast]
vips = ["$VIP"]
EOF

if [[ $FWD == testpmd ]]; then
    start_testpmd "$HOST" --no-huge -m 512 -l 0-1 --vdev net_tap0,iface=ae0 -- \
        --forward-mode=icmpecho -a --stats-period 1 --total-num-mbufs=16384
else
    start_engine "$HOST" -l 0-1 --vdev net_tap0,iface=ae0 --no-huge -m 512 \
        --file-prefix "${AE_NS_PREFIX}eng" -- --forward-mode=cdn --config "$AE_TMP/node.toml" -a
fi

wait_link "$HOST" ae0 15
ip -n "$HOST" addr add "$HOST_IP/24" dev ae0
ip -n "$HOST" link set ae0 up
ip -n "$HOST" route add "$VIP/32" via "$PORT_IP" dev ae0

MAC=$(port_mac 0)
log "engine port 0 MAC: $MAC"

if [[ $FWD == anyedge ]]; then
    info=$(ectl 'show port info all json')
    echo "$info"
    check "port 0 is iface ae0" test "$(json_port "$info" 0 iface)" = ae0
    check "port 0 has ip $PORT_IP/24" test "$(json_port "$info" 0 ip)" = "$PORT_IP/24"
    check "engine MAC differs from the kernel tap MAC" \
        test "$MAC" != "$(json_get "$(ip -n "$HOST" -j link show ae0)" 0.address)"
fi

n=$(ping_received "$HOST" -c 200 -i 0.005 -W 2 "$PORT_IP")
check "ping $PORT_IP: 200/200 replies (got $n)" test "$n" -eq 200

n=$(ping_received "$HOST" -c 200 -i 0.005 -W 2 "$VIP")
check "ping VIP $VIP: 200/200 replies (got $n)" test "$n" -eq 200

out=$(timeout 20 ip netns exec "$HOST" arping -c 3 -I ae0 "$PORT_IP" 2>&1) && rc=0 || rc=$?
indent <<<"$out"
check "arping $PORT_IP answered (exit $rc)" test "$rc" -eq 0
check "arping $PORT_IP reply comes from the engine MAC $MAC" grep -qi -- "$MAC" <<<"$out"

out=$(timeout 20 ip netns exec "$HOST" arping -c 2 -I ae0 "$VIP" 2>&1) && rc=0 || rc=$?
indent <<<"$out"
check "arping VIP $VIP answered with the engine MAC (exit $rc)" grep -qi -- "$MAC" <<<"$out"

neigh=$(ip -n "$HOST" neigh show "$PORT_IP" dev ae0)
echo "    neigh: $neigh"
check "kernel neighbour entry for $PORT_IP has the engine MAC" grep -qi -- "lladdr $MAC" <<<"$neigh"

check "engine still running" pid_alive "$ENGINE_PID"

if [[ $FWD == anyedge ]]; then
    ectl 'show port stats all json' || true
    ectl 'show drops json' || true
    check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit
else
    skip "quit over the control socket (testpmd has none)"
fi

finish
