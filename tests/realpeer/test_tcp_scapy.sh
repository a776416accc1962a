#!/usr/bin/env bash
# Crafted TCP segments (scapy) against the engine: resets for segments that
# match no connection (RFC 9293 3.10.7.1), RFC 5961 challenge ACKs on an
# established connection, and the reset rate limit.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the services
# discard=9, echo=7, chargen=19 and the anycast VIP 203.0.113.10; the kernel
# side of ae0 is 10.0.2.1/24 with a route to the VIP via 10.0.2.2.
#
# tcp_rfc.py sends from 10.0.2.77 / 02:00:00:00:00:77, an address and MAC
# the kernel does not own: the engine answers to the segment's source MAC,
# the kernel drops those frames without a RST of its own, and tcp_rfc.py
# reads them from an AF_PACKET socket on ae0 (BPF: ether dst = that MAC, TCP).
# It prints every segment sent and received and one "CHECK PASS|FAIL" line
# per check; see its docstring for cases a..g.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's TCP stack (FWD=anyedge)"
"$PYTHON" -c 'import scapy' 2>/dev/null || die "scapy is not installed for $PYTHON (python3 -m pip install scapy)"

RFC=$AE_LIB_DIR/tcp_rfc.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SRC_IP=10.0.2.77
SRC_MAC=02:00:00:00:00:77
SEED=${AE_TCP_SCAPY_SEED:-$RANDOM}
CASES=${AE_TCP_SCAPY_CASES:-abcdefg}

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

MAC=$(port_mac 0)
log "engine port 0 MAC: $MAC; crafted segments from $SRC_IP ($SRC_MAC), cases $CASES, seed $SEED"
check "the kernel does not own $SRC_IP (so it cannot interfere)" \
    test -z "$(ip -n "$HOST" -o addr show to "$SRC_IP/32")"

rc=0
timeout 80 ip netns exec "$HOST" "$PYTHON" "$RFC" --iface ae0 --dst-mac "$MAC" \
    --src-mac "$SRC_MAC" --src-ip "$SRC_IP" --port-ip "$PORT_IP" --vip "$VIP" \
    --echo-port 7 --discard-port 9 --anyedge "$ANYEDGE" --ctl-sock "$ENGINE_SOCK" \
    --cases "$CASES" --seed "$SEED" >"$AE_TMP/tcp_rfc.out" 2>&1 || rc=$?
nchecks=0
while IFS= read -r line; do
    case $line in
        "CHECK PASS "*) pass "${line#CHECK PASS }"; nchecks=$((nchecks + 1)) ;;
        "CHECK FAIL "*) fail "${line#CHECK FAIL }"; nchecks=$((nchecks + 1)) ;;
        *) echo "    $line" ;;
    esac
done <"$AE_TMP/tcp_rfc.out"
check "tcp_rfc.py ran every case to the end ($nchecks checks, exit $rc)" test "$rc" -eq 0 -a "$nchecks" -gt 0

echo "    table: $(ectl 'show conn json' | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["table"]))')"
echo "    drops: $(ectl 'show drops json')"
check "engine still running" pid_alive "$ENGINE_PID"
n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$PORT_IP")
check "engine still answers ping (got $n/3)" test "$n" -eq 3
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
