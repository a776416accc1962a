#!/usr/bin/env bash
# DPDK port: two engine processes joined by DPDK's net_memif (shared memory)
# pass frames both ways.
#
#   netns M: engine S: --vdev net_memif0,role=server,socket=$AE_TMP/memif.sock
#            engine C: --vdev net_memif0,role=client,socket=(the same)
#
# Round 1: S sends (txonly), C receives (rxonly); round 2: swapped with
# `set fwd` over the control sockets. Each round checks the counters of both
# engines over ctl: the sender transmitted, the receiver received, and the
# receiver never counts more than the sender sent. The forwarding lcores
# differ (S: -l 0-1, C: -l 1,0) so that the two polling threads do not share
# a CPU. Needs ANYEDGE_DPDK.
. "$(dirname "$0")/lib.sh"

require_root
require_dpdk_engine
require_cmd ip timeout "$PYTHON"

new_ns M memif
SOCK=$AE_TMP/memif.sock
dpdk_prefix PS srv
dpdk_prefix PC cli

start_engine "$M" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$PS" \
    --vdev "net_memif0,role=server,id=0,socket=$SOCK,socket-abstract=no" -- --forward-mode=txonly
S_SOCK=$ENGINE_SOCK
S_PID=$ENGINE_PID
start_engine "$M" -l 1,0 --no-huge -m 512 --no-pci --file-prefix "$PC" \
    --vdev "net_memif0,role=client,id=0,socket=$SOCK,socket-abstract=no" -- --forward-mode=rxonly
C_SOCK=$ENGINE_SOCK
C_PID=$ENGINE_PID

# shellcheck disable=SC2317 # called through wait_for's eval
link_up() { [[ $(json_port "$(ctl "$1" 'show port info all json')" 0 link_up) == true ]]; }
check "memif link up on the server within 15s" wait_for "link_up '$S_SOCK'" 15
check "memif link up on the client within 15s" wait_for "link_up '$C_SOCK'" 15
info=$(ctl "$S_SOCK" 'show port info all json')
echo "    server: $info"
check "server port 0 runs on DPDK's net_memif driver" test "$(json_port "$info" 0 driver)" = net_memif

port0_stat() { json_port "$(ctl "$1" 'show port stats all json')" 0 "$2"; }

# round NAME TX_SOCK RX_SOCK: the receiver in rxonly, the sender in txonly.
round() {
    local name=$1 txs=$2 rxs=$3 tx rx
    ctl "$txs" 'set fwd txonly' >/dev/null
    ctl "$rxs" 'set fwd rxonly' >/dev/null
    ctl "$txs" 'clear port stats all' >/dev/null
    ctl "$rxs" 'clear port stats all' >/dev/null
    ctl "$rxs" start >/dev/null
    ctl "$txs" start >/dev/null
    sleep 2
    ctl "$txs" stop >/dev/null
    sleep 0.5
    ctl "$rxs" stop >/dev/null
    tx=$(port0_stat "$txs" tx_packets)
    rx=$(port0_stat "$rxs" rx_packets)
    log "$name: sender tx_packets $tx, receiver rx_packets $rx"
    check "$name: the sender transmitted over memif ($tx frames)" test "$tx" -gt 1000
    check "$name: the receiver received them ($rx frames)" test "$rx" -gt 1000
    check "$name: the receiver counted no more than was sent ($rx <= $tx)" test "$rx" -le "$tx"
    check "$name: the receiver's mode consumed what it received" \
        test "$(json_get "$(ctl "$rxs" 'show fwd stats all json')" total.consumed)" -gt 1000
}

round "server -> client" "$S_SOCK" "$C_SOCK"
round "client -> server" "$C_SOCK" "$S_SOCK"

check "both engines still running" test "$(pid_alive "$S_PID" && pid_alive "$C_PID" && echo yes)" = yes
ENGINE_SOCK=$C_SOCK ENGINE_PID=$C_PID
check "client exits with status 0 on 'quit'" stop_engine_quit
ENGINE_SOCK=$S_SOCK ENGINE_PID=$S_PID
check "server exits with status 0 on 'quit'" stop_engine_quit

finish
