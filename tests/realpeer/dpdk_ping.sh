# shellcheck shell=bash
# Shared body of test_dpdk_tap_ping.sh and test_dpdk_hugepages_ping.sh,
# sourced after lib.sh: the DPDK engine (cdn mode) on DPDK's net_tap in netns
# HOST, kernel side 10.0.2.1/24, pinged 200/200 on its address and its VIP.
#
#   dpdk_ping_start MEM_ARGS...   start the engine with these memory args
#                                 (--no-huge -m 512, or --huge-dir DIR)
#   dpdk_ping_checks              port info, 200/200 pings, arping
#   dpdk_ping_quit quit|sigterm   quit over ctl, or SIGTERM; exit 0; ae0 removed

PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10

dpdk_ping_start() {
    new_ns HOST host
    cat >"$AE_TMP/node.toml" <<EOT
[node]
name = "edge-a"
[[port]]
ip = "$PORT_IP/24"
gateway = "$HOST_IP"
[anycast]
vips = ["$VIP"]
EOT
    local pfx
    dpdk_prefix pfx eng
    # --no-pci: never let DPDK near this machine's own NIC.
    start_engine "$HOST" -l 0-1 "$@" --no-pci --file-prefix "$pfx" --vdev net_tap0,iface=ae0 -- \
        --forward-mode=cdn --config "$AE_TMP/node.toml" -a
    wait_link "$HOST" ae0 15
    ip -n "$HOST" addr add "$HOST_IP/24" dev ae0
    ip -n "$HOST" link set ae0 up
    ip -n "$HOST" route add "$VIP/32" via "$PORT_IP" dev ae0
    MAC=$(port_mac 0)
    log "engine port 0 MAC: $MAC"
}

dpdk_ping_checks() {
    local info n out rc
    info=$(ectl 'show port info all json')
    echo "    $info"
    check "port 0 runs on DPDK's net_tap driver" test "$(json_port "$info" 0 driver)" = net_tap
    check "port 0 is iface ae0 (from dev_info)" test "$(json_port "$info" 0 iface)" = ae0
    check "port 0 has ip $PORT_IP/24" test "$(json_port "$info" 0 ip)" = "$PORT_IP/24"
    check "port 0 link is up" test "$(json_port "$info" 0 link_up)" = true
    check "engine MAC differs from the kernel tap MAC" \
        test "$MAC" != "$(json_get "$(ip -n "$HOST" -j link show ae0)" 0.address)"

    n=$(ping_received "$HOST" -c 200 -i 0.005 -W 2 "$PORT_IP")
    check "ping $PORT_IP: 200/200 replies (got $n)" test "$n" -eq 200
    n=$(ping_received "$HOST" -c 200 -i 0.005 -W 2 "$VIP")
    check "ping VIP $VIP: 200/200 replies (got $n)" test "$n" -eq 200

    out=$(timeout 20 ip netns exec "$HOST" arping -c 3 -I ae0 "$PORT_IP" 2>&1) && rc=0 || rc=$?
    indent <<<"$out"
    check "arping $PORT_IP answered by the engine MAC (exit $rc)" grep -qi -- "$MAC" <<<"$out"
    check "engine still running" pid_alive "$ENGINE_PID"
}

# dpdk_ping_quit quit|sigterm: end the engine with 'quit' over ctl (default) or
# SIGTERM; either way it must exit 0 and close the port.
dpdk_ping_quit() {
    echo "    port stats: $(ectl 'show port stats all json' || true)"
    if [[ ${1:-} == sigterm ]]; then
        kill -TERM "$ENGINE_PID"
        check "engine exits within 10s of SIGTERM" wait_pid_exit "$ENGINE_PID" 10
        local rc=0
        wait "$ENGINE_PID" 2>/dev/null || rc=$?
        check "engine exit status after SIGTERM is 0 (got $rc)" test "$rc" -eq 0
    else
        check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit
    fi
    check "the port was closed: net_tap removed ae0" \
        wait_for "! ip -n '$HOST' link show ae0" 5
    check "engine log says the port was stopped and closed" grep -q "port 0: stopped and closed" "$ENGINE_LOG"
}
