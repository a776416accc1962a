#!/usr/bin/env bash
# DPDK port: macswap forwarding against frames crafted by scapy, first
# through dpdk-testpmd --forward-mode=macswap and then through the engine's
# DPDK build in the same mode, with the same checks (macswap.py): every
# frame comes back once, MACs swapped, every other byte as sent, 60 to 1514
# bytes long.
#
#   netns H: ae0 = the kernel side of DPDK net_tap0 (scapy, AF_PACKET)
#      |  DPDK net_tap0 (iface ae0) = port 0 of testpmd, then of the engine
#
# Needs ANYEDGE_DPDK and dpdk-testpmd.
. "$(dirname "$0")/lib.sh"

require_root
require_dpdk_engine
require_cmd ip timeout "$PYTHON" "$TESTPMD"
"$PYTHON" -c 'import scapy' 2>/dev/null || die "python scapy missing (apt-get install python3-scapy)"

COUNT=${AE_MACSWAP_FRAMES:-1000}

new_ns H host

# up_tap: moves nothing (the TAP is created in H), brings ae0 up without
# IPv6, so that the kernel sends as little as possible of its own.
up_tap() {
    wait_link "$H" ae0 15
    ip netns exec "$H" sysctl -qw net.ipv6.conf.ae0.disable_ipv6=1 || true
    ip -n "$H" link set ae0 up
}

run_macswap() {
    local who=$1 mac out rc
    mac=$(port_mac 0)
    log "$who: port 0 MAC $mac"
    out=$(timeout 60 ip netns exec "$H" "$PYTHON" "$(dirname "$0")/macswap.py" \
        --iface ae0 --dst-mac "$mac" --count "$COUNT" 2>&1) && rc=0 || rc=$?
    indent <<<"$out"
    check "$who: macswap.py exits 0 (exit $rc)" test "$rc" -eq 0
}

FWD=testpmd
start_testpmd "$H" --no-huge -m 512 -l 0-1 --vdev net_tap0,iface=ae0 -- \
    --forward-mode=macswap -a --stats-period 1 --total-num-mbufs=16384
up_tap
run_macswap testpmd
stop_pid "$ENGINE_PID" 10 >/dev/null 2>&1 || true
wait_for "! ip -n '$H' link show ae0" 15 || die "testpmd's ae0 did not go away"

FWD=anyedge
dpdk_prefix PFX eng
start_engine "$H" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$PFX" \
    --vdev net_tap0,iface=ae0 -- --forward-mode=macswap -a
info=$(ectl 'show port info all json')
check "port 0 runs on DPDK's net_tap driver" test "$(json_port "$info" 0 driver)" = net_tap
up_tap
run_macswap anyedge
stats=$(ectl 'show fwd stats all json')
echo "    $stats"
fwd=$(json_get "$stats" total.tx 2>/dev/null || echo 0)
check "the engine's fwd stats count at least $COUNT frames sent (got $fwd)" test "${fwd:-0}" -ge "$COUNT"
check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
