#!/usr/bin/env bash
# Foundation: malformed and random frames from the kernel side are all
# accounted for, and the engine keeps answering afterwards.
#
# Setup as test_foundation_ping.sh (engine in cdn mode on TAP ae0 in netns
# HOST, kernel side 10.0.2.1/24). Frames are crafted by malformed.py (scapy)
# and sent with an AF_PACKET socket on the kernel side of ae0.
#
# FWD=testpmd runs dpdk-testpmd --forward-mode=icmpecho instead; the checks
# that need the engine's drop counters are then SKIPped (visibly), the
# sending and the rx accounting still run (rx from testpmd's periodic stats).
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping timeout "$PYTHON"
require_engine
"$PYTHON" -c 'import scapy' 2>/dev/null || die "scapy is not installed for $PYTHON (python3 -m pip install scapy)"

MALFORMED=$AE_LIB_DIR/malformed.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
BURST=${AE_BURST_COUNT:-100000}
BURST_RATE=${AE_BURST_RATE:-50000}

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
MAC=$(port_mac 0)
log "engine port 0 MAC: $MAC"

n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$PORT_IP")
check "engine answers ping before the malformed frames (got $n/3)" test "$n" -eq 3

drops() { ectl 'show drops json'; }

# --- 1. one of each malformed frame --------------------------------------
if [[ $FWD == anyedge ]]; then
    D0=$(drops)
    echo "    drops before: $D0"
fi
cases_out=$(timeout 60 ip netns exec "$HOST" "$PYTHON" "$MALFORMED" cases --iface ae0 --dst-mac "$MAC" \
    --src-ip "$HOST_IP" --dst-ip "$PORT_IP" --repeat 3) && rc=0 || rc=$?
echo "    $cases_out"
check "malformed.py sent every case (exit $rc)" test "$rc" -eq 0
((rc == 0)) || die "cannot go on without the malformed frames"
read -ra COUNTERS <<<"$(json_get "$cases_out" counters | "$PYTHON" -c 'import json,sys; print(" ".join(json.load(sys.stdin)))')"

if [[ $FWD == anyedge ]]; then
    # every reason must have risen; give per-lcore counters time to settle
    # shellcheck disable=SC2317 # called through wait_for's eval
    rose_all() {
        "$PYTHON" - "$D0" "$(drops)" "${COUNTERS[@]}" <<'EOF'
import json, sys
a, b = json.loads(sys.argv[1])["drops"], json.loads(sys.argv[2])["drops"]
sys.exit(0 if all(b.get(k, 0) - a.get(k, 0) >= 1 for k in sys.argv[3:]) else 1)
EOF
    }
    wait_for rose_all 10 0.2 || true
    D1=$(drops)
    echo "    drops after the malformed cases: $D1"
    for k in "${COUNTERS[@]}"; do
        before=$(json_get "$D0" "drops.$k" 2>/dev/null || echo missing)
        after=$(json_get "$D1" "drops.$k" 2>/dev/null || echo missing)
        if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after - before >= 1)); then
            pass "drop counter $k rose ($before -> $after)"
        else
            fail "drop counter $k did not rise ($before -> $after)"
        fi
    done
    check "drops total equals the sum of the per-reason counters" "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
s = sum(d["drops"].values())
print("    total %d, sum of reasons %d" % (d["total"], s))
sys.exit(0 if s == d["total"] else 1)' "$D1"
else
    skip "per-reason drop counters (testpmd has no 'show drops json')"
fi

# --- 2. burst of random frames -------------------------------------------
# Wait for the engine's rx counter to stop moving, bounded (testpmd's stats
# lag by one --stats-period).
settle_rx() {
    local last=-1 cur i
    for ((i = 0; i < 40; i++)); do
        cur=$(port_stat 0 rx_packets)
        [[ $cur == "$last" ]] && { echo "$cur"; return 0; }
        last=$cur
        sleep "$([[ $FWD == testpmd ]] && echo 2.2 || echo 0.5)"
    done
    echo "$cur"
}

RX0=$(settle_rx)
TX0=$(port_stat 0 tx_packets)
KDROP0=$(kstat "$HOST" ae0 tx.dropped)
if [[ $FWD == anyedge ]]; then D2=$(drops); fi

burst_out=$(timeout 120 ip netns exec "$HOST" "$PYTHON" "$MALFORMED" burst --iface ae0 --dst-mac "$MAC" \
    --count "$BURST" --rate "$BURST_RATE" --max-seconds 90 --seed "$RANDOM") && rc=0 || rc=$?
echo "    burst: $burst_out"
check "burst generator ran (exit $rc)" test "$rc" -eq 0
((rc == 0)) || die "cannot go on without the burst"
SENT=$(json_get "$burst_out" sent)
check "burst attempted all $BURST frames within its time bound" test "$(json_get "$burst_out" attempted)" -eq "$BURST"

RX1=$(settle_rx)
TX1=$(port_stat 0 tx_packets)
KDROP1=$(kstat "$HOST" ae0 tx.dropped)
RXD=$((RX1 - RX0))
TXD=$((TX1 - TX0))
KDROPD=$((KDROP1 - KDROP0))
log "burst: sent $SENT, engine rx +$RXD, engine tx +$TXD, kernel ae0 tx_dropped +$KDROPD"
check "engine rx delta ($RXD) + kernel tx_dropped delta ($KDROPD) covers the $SENT frames sent" \
    test $((RXD + KDROPD)) -ge "$SENT"

if [[ $FWD == anyedge ]]; then
    D3=$(drops)
    echo "    drops after the burst: $D3"
    DROPD=$(($(json_get "$D3" total) - $(json_get "$D2" total)))
    # Frames of the burst that reached the engine were each dropped by a
    # reason or answered (kernel background frames can only add drops).
    check "drops total rose by $DROPD >= frames delivered $((SENT - KDROPD)) - answered $TXD" \
        test "$DROPD" -ge $((SENT - KDROPD - TXD))
    # The engine's own invariant, from one snapshot of its stream counters
    # (retried while a late frame is mid-burst): rx = answered + consumed + dropped.
    gap=unknown
    for ((i = 0; i < 10; i++)); do
        F=$(ectl 'show fwd stats all json')
        gap=$("$PYTHON" -c '
import json, sys
t = json.loads(sys.argv[1])["total"]
print(t["rx"] - t["answered"] - t["consumed"] - t["dropped"])' "$F")
        [[ $gap == 0 ]] && break
        sleep 0.3
    done
    check "every received frame answered, consumed or dropped by one reason (gap $gap)" test "$gap" = 0
    check "drops total still equals the sum of the per-reason counters" "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if sum(d["drops"].values()) == d["total"] else 1)' "$D3"
else
    skip "drop accounting of the burst (testpmd has no 'show drops json')"
fi

# --- 3. still alive -------------------------------------------------------
check "engine still running after the burst" pid_alive "$ENGINE_PID"
n=$(ping_received "$HOST" -c 20 -i 0.05 -W 2 "$PORT_IP")
check "ping $PORT_IP after the burst: 20/20 (got $n)" test "$n" -eq 20

if [[ $FWD == anyedge ]]; then
    echo "    final drops: $(drops)"
    echo "    final port stats: $(ectl 'show port stats all json')"
fi

finish
