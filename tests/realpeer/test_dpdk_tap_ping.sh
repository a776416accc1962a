#!/usr/bin/env bash
# DPDK port: the Linux kernel pings the DPDK build of the engine over DPDK's
# own net_tap (--no-huge -m 512), 200/200; then malformed and random frames
# from the kernel side are all accounted for and the engine still answers.
#
#   netns HOST: anyedge-dpdk run -l 0-1 --no-huge -m 512 --no-pci
#               --vdev net_tap0,iface=ae0 -- --forward-mode=cdn -a
#               kernel side of ae0: 10.0.2.1/24
#
# Needs ANYEDGE_DPDK (fails, never skips, without it). Frames are crafted by
# malformed.py (scapy), as in test_foundation_malformed.sh. Where net_tap
# verifies checksums (rx checksum offload in `show port info`), the port
# drops bad IPv4/TCP/UDP checksums itself and counts them in its xstats
# (anyedge_rx_bad_ip_csum, anyedge_rx_bad_l4_csum); every other malformed
# case must raise the node's drop counter.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dpdk_ping.sh"

require_root
require_dpdk_engine
require_cmd ip ping arping timeout "$PYTHON"
"$PYTHON" -c 'import scapy' 2>/dev/null || die "scapy is not installed for $PYTHON (python3 -m pip install scapy)"

MALFORMED=$AE_LIB_DIR/malformed.py
BURST=${AE_BURST_COUNT:-100000}
BURST_RATE=${AE_BURST_RATE:-50000}

dpdk_ping_start --no-huge -m 512
check "engine log says it is not on hugepages" grep -q "not on hugepages (--no-huge)" "$ENGINE_LOG"
dpdk_ping_checks

# --- malformed cases ------------------------------------------------------
info=$(ectl 'show port info all json')
OFFLOAD=$(json_port "$info" 0 rx_csum_offload)
log "rx checksum offload on port 0: $OFFLOAD"
drops() { ectl 'show drops json'; }
port_csum_drops() { echo $(($(port_xstat 0 anyedge_rx_bad_ip_csum) + $(port_xstat 0 anyedge_rx_bad_l4_csum))); }
# Frames that only updated state (an ARP reply or announcement the kernel
# sends during the burst): received, neither answered nor dropped.
consumed() { json_get "$(ectl 'show fwd stats all json')" total.consumed; }

D0=$(drops)
X0_IP=$(port_xstat 0 anyedge_rx_bad_ip_csum)
X0_L4=$(port_xstat 0 anyedge_rx_bad_l4_csum)
cases_out=$(timeout 60 ip netns exec "$HOST" "$PYTHON" "$MALFORMED" cases --iface ae0 --dst-mac "$MAC" \
    --src-ip "$HOST_IP" --dst-ip "$PORT_IP" --repeat 3) && rc=0 || rc=$?
echo "    $cases_out"
check "malformed.py sent every case (exit $rc)" test "$rc" -eq 0
((rc == 0)) || die "cannot go on without the malformed frames"
read -ra COUNTERS <<<"$(json_get "$cases_out" counters | "$PYTHON" -c 'import json,sys; print(" ".join(json.load(sys.stdin)))')"
sleep 1
D1=$(drops)
echo "    drops after the cases: $D1"
for k in "${COUNTERS[@]}"; do
    where=node
    if [[ $OFFLOAD == true ]]; then
        case $k in
            bad_ip_checksum) where=anyedge_rx_bad_ip_csum ;;
            bad_tcp_checksum | bad_udp_checksum) where=anyedge_rx_bad_l4_csum ;;
        esac
    fi
    if [[ $where == node ]]; then
        before=$(json_get "$D0" "drops.$k" 2>/dev/null || echo missing)
        after=$(json_get "$D1" "drops.$k" 2>/dev/null || echo missing)
    else
        [[ $where == anyedge_rx_bad_ip_csum ]] && before=$X0_IP || before=$X0_L4
        after=$(port_xstat 0 "$where")
    fi
    # the port's L4 counter takes both the TCP and the UDP case (3 each)
    need=1
    [[ $where == anyedge_rx_bad_l4_csum ]] && need=6
    if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after - before >= need)); then
        pass "case $k counted by the $where counter ($before -> $after, >= +$need)"
    else
        fail "case $k not counted by the $where counter ($before -> $after, want >= +$need)"
    fi
done

# --- burst of random frames ----------------------------------------------
settle_rx() {
    local last=-1 cur i
    for ((i = 0; i < 40; i++)); do
        cur=$(port_stat 0 rx_packets)
        [[ $cur == "$last" ]] && { echo "$cur"; return 0; }
        last=$cur
        sleep 0.5
    done
    echo "$cur"
}
RX0=$(settle_rx)
TX0=$(port_stat 0 tx_packets)
KDROP0=$(kstat "$HOST" ae0 tx.dropped)
D2=$(drops)
P2=$(port_csum_drops)
C2=$(consumed)
burst_out=$(timeout 120 ip netns exec "$HOST" "$PYTHON" "$MALFORMED" burst --iface ae0 --dst-mac "$MAC" \
    --count "$BURST" --rate "$BURST_RATE" --max-seconds 90 --seed "$RANDOM") && rc=0 || rc=$?
echo "    burst: $burst_out"
check "burst generator ran (exit $rc)" test "$rc" -eq 0
((rc == 0)) || die "cannot go on without the burst"
SENT=$(json_get "$burst_out" sent)
RX1=$(settle_rx)
TX1=$(port_stat 0 tx_packets)
KDROP1=$(kstat "$HOST" ae0 tx.dropped)
RXD=$((RX1 - RX0))
TXD=$((TX1 - TX0))
KDROPD=$((KDROP1 - KDROP0))
log "burst: sent $SENT, engine rx +$RXD, engine tx +$TXD, kernel ae0 tx_dropped +$KDROPD"
check "engine rx delta ($RXD) + kernel tx_dropped delta ($KDROPD) covers the $SENT frames sent" \
    test $((RXD + KDROPD)) -ge "$SENT"
D3=$(drops)
DROPD=$(($(json_get "$D3" total) - $(json_get "$D2" total)))
PDROPD=$(($(port_csum_drops) - P2))
CONSD=$(($(consumed) - C2))
check "node drops +$DROPD, port checksum drops +$PDROPD and consumed +$CONSD cover rx $RXD - answered $TXD (nothing unaccounted)" \
    test $((DROPD + PDROPD + CONSD)) -ge $((RXD - TXD))
check "drops total still equals the sum of the per-reason counters" "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if sum(d["drops"].values()) == d["total"] else 1)' "$D3"

check "engine still running after the burst" pid_alive "$ENGINE_PID"
n=$(ping_received "$HOST" -c 20 -i 0.05 -W 2 "$PORT_IP")
check "ping $PORT_IP after the malformed frames and the burst: 20/20 (got $n)" test "$n" -eq 20
echo "    xstats: $(ectl 'show port xstats all json' || true)"

dpdk_ping_quit quit
finish
