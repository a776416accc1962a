#!/usr/bin/env bash
# Anycast takeover, node B's side (issue 6 step 2): segments that match no
# connection, crafted with scapy, get exactly the answers of RFC 9293
# 3.10.7.1 (3.10.7.2 on the listening port), are counted in `show anycast`
# and `show conn`, and are rate-limited under a flood; the node still
# serves afterwards.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the anycast VIP
# 203.0.113.10, [http] port 80 and [cache] dir = a content directory
# (start_http_engine); the kernel side of ae0 is 10.0.2.1/24 with a route to
# the VIP via 10.0.2.2.
#
# stray.py sends from 10.0.2.77 / 02:00:00:00:00:77, an address and MAC the
# kernel does not own, to the VIP and to the port address, and reads the
# engine's answers from an AF_PACKET socket on ae0 (see its docstring for
# cases a..f):
#   - a stray ACK, and a stray data segment with ACK: <SEQ=SEG.ACK><CTL=RST>,
#     RST alone, from the address it was sent to;
#   - no ACK to a closed port (data, FIN+data, SYN):
#     <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>;
#   - no ACK, no SYN to the listening port: nothing (3.10.7.2, "fourth"),
#     counted as listen_dropped;
#   - a stray RST (and RST+ACK): nothing within 1 s;
#   - rst_stray_ack/rst_sent (show anycast and show conn), rst_ignored,
#     listen_dropped, rst_rate_limited (show conn) moved by exactly that, and
#     no connection was opened;
#   - 5000 stray ACKs as fast as one socket sends: answered + rate-limited ==
#     delivered, at most [tcp] rst_per_sec (1000, the default) per one-second
#     window per receiving queue, every RST on the wire exact.
# Then curl gets an object from the VIP byte-exact and ping answers.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping curl sha256sum timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's TCP stack (FWD=anyedge)"
"$PYTHON" -c 'import scapy.all' 2>/dev/null || die "scapy is not installed for $PYTHON (python3 -m pip install scapy; tools/scripts/test-all.sh installs it)"

STRAY=$AE_LIB_DIR/stray.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SRC_IP=10.0.2.77
SRC_MAC=02:00:00:00:00:77
RST_PER_SEC=1000 # [tcp] rst_per_sec: start_http_engine's config leaves the default
SEED=${AE_STRAY_SEED:-$RANDOM}
CASES=${AE_STRAY_CASES:-abcdef}
SIZE=$((4 * 1024 * 1024))

new_ns HOST host
# No IPv6 on the TAP: the kernel's own frames (router solicitations, MLD)
# would count in ae0's tx_dropped during the flood, which stray.py takes as
# its frames the engine never got.
ip netns exec "$HOST" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/obj.bin"
WANT=$(sha256sum "$CONTENT/obj.bin" | cut -d' ' -f1)

start_http_engine "$HOST" "$CONTENT"

# Room in the TAP's ring for the whole flood (the default 1000 drops most of
# it; drops are still counted and accounted for by stray.py).
ip -n "$HOST" link set ae0 txqueuelen 10000

MAC=$(port_mac 0)
QUEUES=$(json_port "$(ectl 'show port info all json')" 0 rxq)
[[ $QUEUES =~ ^[1-9][0-9]*$ ]] || die "cannot read the rx queues of port 0 (got '$QUEUES')"
log "engine port 0 MAC $MAC, $QUEUES rx queue(s); crafted segments from $SRC_IP ($SRC_MAC), cases $CASES, seed $SEED"
check "the kernel does not own $SRC_IP (so it cannot interfere)" \
    test -z "$(ip -n "$HOST" -o addr show to "$SRC_IP/32")"
ANYCAST0=$(ectl 'show anycast json')
echo "    show anycast json: $ANYCAST0"
check "show anycast lists the VIP $VIP" test "$(json_get "$ANYCAST0" vips.0)" = "$VIP"

rc=0
timeout 120 ip netns exec "$HOST" "$PYTHON" "$STRAY" --iface ae0 --dst-mac "$MAC" \
    --src-mac "$SRC_MAC" --src-ip "$SRC_IP" --port-ip "$PORT_IP" --vip "$VIP" \
    --http-port 80 --closed-port 81 --anyedge "$ANYEDGE" --ctl-sock "$ENGINE_SOCK" \
    --rst-per-sec "$RST_PER_SEC" --queues "$QUEUES" --flood 5000 \
    --cases "$CASES" --seed "$SEED" >"$AE_TMP/stray.out" 2>&1 || rc=$?
nchecks=0
while IFS= read -r line; do
    case $line in
        "CHECK PASS "*) pass "${line#CHECK PASS }"; nchecks=$((nchecks + 1)) ;;
        "CHECK FAIL "*) fail "${line#CHECK FAIL }"; nchecks=$((nchecks + 1)) ;;
        *) echo "    $line" ;;
    esac
done <"$AE_TMP/stray.out"
check "stray.py ran every case to the end ($nchecks checks, exit $rc)" test "$rc" -eq 0 -a "$nchecks" -gt 0

ANYCAST1=$(ectl 'show anycast json')
echo "    show anycast json: $ANYCAST1"
if [[ $CASES == *a* ]]; then
    n=$(json_get "$ANYCAST1" rst_stray_ack)
    check "show anycast: rst_stray_ack >= 1 after the stray ACKs (got $n)" test "$n" -ge 1
fi

# --- the node still serves ----------------------------------------------------
check "engine still running" pid_alive "$ENGINE_PID"
rm -f "$AE_TMP/got.bin"
code=$(timeout 60 ip netns exec "$HOST" curl -sS --max-time 30 -o "$AE_TMP/got.bin" \
    -w '%{http_code}' "http://$VIP/obj.bin") || code="curl failed $?"
check "curl http://$VIP/obj.bin after the strays: status 200 (got $code)" test "$code" = 200
got=$(sha256sum <"$AE_TMP/got.bin" 2>/dev/null | cut -d' ' -f1 || true)
check "curl http://$VIP/obj.bin: $SIZE bytes, sha256 matches ($got)" \
    test "$got" = "$WANT" -a "$(stat -c %s "$AE_TMP/got.bin" 2>/dev/null || echo 0)" -eq "$SIZE"
n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$VIP")
check "engine still answers ping on the VIP (got $n/3)" test "$n" -eq 3
n=$(ping_received "$HOST" -c 3 -i 0.2 -W 2 "$PORT_IP")
check "engine still answers ping on the port address (got $n/3)" test "$n" -eq 3
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
