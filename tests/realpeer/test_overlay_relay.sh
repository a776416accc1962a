#!/usr/bin/env bash
# The overlay's miss path against real peers (issue 7, item 1): curl ->
# edge (engine) -> gateway (engine) -> origin (Python's http.server on
# Linux TCP), three TCP connections.
#
#   client ns C: c0 10.0.1.2/24, default via 10.0.1.1
#   origin ns O: o0 10.0.6.2/24, default via 10.0.6.1; http.server on :8080
#   router ns R: ip_forward=1; r0 10.0.1.1, ro 10.0.6.1,
#                TAP ae-e 10.0.2.1 -> edge 10.0.2.2 (VIP 203.0.113.10, HTTP 80,
#                an empty cache, [overlay] role = edge, gateway 10.0.5.2:7800)
#                TAP ae-g 10.0.5.1 -> gateway 10.0.5.2 ([overlay] role =
#                gateway, listen 7800, origin 10.0.6.2:8080)
#
# Checks: a miss arrives byte-exact through both engines and fills the
# edge's cache, and the second fetch is a hit (no new fetch); a range of
# another miss is right and reuses the pooled edge-gateway connection; the
# origin's 404 is the client's 404, its 503 a 502; a stopped origin (RST)
# gives 502 and a black-holed one 504 within the connect timeout; each
# failure is counted by reason in `show overlay`; the edge still serves hits.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip curl sha256sum timeout cmp head "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's overlay (FWD=anyedge)"

VIP=203.0.113.10
new_ns C client
new_ns O origin
new_ns R router
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
for k in all default; do ip netns exec "$R" sysctl -qw "net.ipv4.conf.$k.rp_filter=0"; done
ip link add c0 netns "$C" type veth peer name r0 netns "$R"
ip link add o0 netns "$O" type veth peer name ro netns "$R"
ip -n "$C" addr add 10.0.1.2/24 dev c0
ip -n "$O" addr add 10.0.6.2/24 dev o0
ip -n "$R" addr add 10.0.1.1/24 dev r0
ip -n "$R" addr add 10.0.6.1/24 dev ro
for l in "$C c0" "$O o0" "$R r0" "$R ro"; do set -- $l; ip -n "$1" link set "$2" up; done
ip -n "$C" route add default via 10.0.1.1
ip -n "$O" route add default via 10.0.6.1

DOC=$AE_TMP/origin
mkdir -p "$DOC" "$AE_TMP/edge-cache"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$DOC/a.bin"
head -c $((1024 * 1024)) /dev/urandom >"$DOC/b.bin"
echo small >"$DOC/small.txt"
cat >"$AE_TMP/origin.py" <<'EOF'
import http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path.startswith("/boom"):
            self.send_response(503)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"boom")
            return
        super().do_GET()
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), lambda *a: H(*a, directory=sys.argv[1])).serve_forever()
EOF
bg_start origin "$O" "$PYTHON" "$AE_TMP/origin.py" "$DOC"
ORIGIN_PID=$BG_PID
wait_for "ip netns exec '$O' ss -Hltn 'sport = :8080' | grep -q LISTEN" 10 0.1 || die "origin is not listening"

cat >"$AE_TMP/edge.toml" <<EOF
[node]
name = "edge"
[[port]]
ip = "10.0.2.2/24"
gateway = "10.0.2.1"
[anycast]
vips = ["$VIP"]
key = "overlay-test-key"
[http]
port = 80
[cache]
dir = "$AE_TMP/edge-cache"
size = "64MiB"
[overlay]
role = "edge"
gateway = "10.0.5.2:7800"
EOF
cat >"$AE_TMP/gateway.toml" <<EOF
[node]
name = "gateway"
[[port]]
ip = "10.0.5.2/24"
gateway = "10.0.5.1"
[anycast]
key = "overlay-test-key"
[overlay]
role = "gateway"
listen = 7800
origin = "10.0.6.2:8080"
EOF
start_engine "$R" -l 0-1 --vdev net_tap0,iface=ae-e -- --forward-mode=cdn --config "$AE_TMP/edge.toml" -a
EDGE=$ENGINE_SOCK
start_engine "$R" -l 1,0 --vdev net_tap0,iface=ae-g -- --forward-mode=cdn --config "$AE_TMP/gateway.toml" -a
GW=$ENGINE_SOCK
for side in e:10.0.2.1 g:10.0.5.1; do
    wait_link "$R" "ae-${side%%:*}" 15
    ip -n "$R" addr add "${side#*:}/24" dev "ae-${side%%:*}"
    ip -n "$R" link set "ae-${side%%:*}" up
done
ip -n "$R" route add "$VIP/32" via 10.0.2.2
n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the edge answers ping on the VIP (got $n/3)" test "$n" -eq 3
n=$(ping_received "$O" -c 3 -i 0.2 -W 2 10.0.5.2)
check "the origin reaches the gateway (got $n/3)" test "$n" -eq 3

ov() { json_get "$(ctl "$1" 'show overlay json')" "$2"; }
# fetch NAME CURL_ARGS...: curl from the client; sets CODE (HTTP status) and
# the body in $AE_TMP/NAME.
fetch() {
    local name=$1
    shift
    CODE=$(timeout 30 ip netns exec "$C" curl -sS -o "$AE_TMP/$name" -w '%{http_code}' "$@" 2>"$AE_TMP/$name.err") || true
    log "curl $* -> $CODE"
}

fetch a1 "http://$VIP/a.bin"
check "a miss comes back 200 through edge -> gateway -> origin" test "$CODE" = 200
check "byte-exact (3 MiB + 17)" cmp -s "$AE_TMP/a1" "$DOC/a.bin"
check "the edge fetched it once and filled its cache" test "$(ov "$EDGE" edge.fills)" -eq 1
check "the gateway relayed one edge connection" test "$(ov "$GW" gateway_relay.relays)" -ge 1
check "the gateway relayed the whole object toward the edge" \
    test "$(ov "$GW" gateway_relay.bytes_down)" -ge $((3 * 1024 * 1024 + 17))

check "the edge opened its gateway connection with early data" test "$(ov "$EDGE" edge.early.opened)" -ge 1
check "the gateway took the proposal (edge: early.accepted)" test "$(ov "$EDGE" edge.early.accepted)" -ge 1
check "the gateway verified the tag (gateway: early.accepted)" test "$(ov "$GW" gateway_relay.early.accepted)" -ge 1

fetch a2 "http://$VIP/a.bin"
check "the second fetch is 200 and byte-exact" cmp -s "$AE_TMP/a2" "$DOC/a.bin"
check "and a hit: still one fetch at the edge" test "$(ov "$EDGE" edge.fetches)" -eq 1
check "show cache lists it" sh -c "'$ANYEDGE' ctl '$EDGE' 'show cache json' | grep -c 'a.bin' >/dev/null"

fetch b "http://$VIP/b.bin" -r 1000-1999
check "a range of another miss is 206" test "$CODE" = 206
check "with the right 1000 bytes" cmp -s "$AE_TMP/b" <(tail -c +1001 "$DOC/b.bin" | head -c 1000)
check "it reused the pooled edge-gateway connection" test "$(ov "$EDGE" edge.pool_reuse)" -ge 1

fetch nf "http://$VIP/missing.bin"
check "the origin's 404 is the client's 404" test "$CODE" = 404
fetch boom "http://$VIP/boom.bin"
check "the origin's 503 is a 502" test "$CODE" = 502
check "counted as upstream_5xx" test "$(ov "$EDGE" failures.upstream_5xx)" -ge 1

# A stranger's early data: a SYN proposing ISN 0x11223344 with a made-up
# tag, then the request acknowledging that ISN, sent into ae-g by scapy.
# The gateway must answer with its own ISN and drop the data (counted).
GW_MAC=$(json_port "$(ctl "$GW" 'show port info all json')" 0 mac)
rej0=$(ov "$GW" gateway_relay.early.rejected)
drop0=$(ov "$GW" gateway_relay.early.dropped)
relays0=$(ov "$GW" gateway_relay.relays)
timeout 30 ip netns exec "$R" "$PYTHON" - "$GW_MAC" >"$AE_TMP/stranger.log" 2>&1 <<'PY' && rc=0 || rc=$?
import struct, sys, time
from scapy.all import Ether, IP, TCP, AsyncSniffer, sendp, conf
conf.verb = 0
mac, isn = sys.argv[1], 0x11223344
opt = (253, b"\xae\xda" + struct.pack("!I", isn) + b"\x00" * 8)
ip = IP(src="10.0.5.77", dst="10.0.5.2")  # an address nobody owns: no kernel RST
sn = AsyncSniffer(iface="ae-g", filter="tcp and src host 10.0.5.2 and src port 7800 and dst port 40777")
sn.start(); time.sleep(0.3)
eth = Ether(dst=mac)
sendp(eth / ip / TCP(sport=40777, dport=7800, flags="S", seq=1000, options=[("MSS", 1460), opt]), iface="ae-g")
sendp(eth / ip / TCP(sport=40777, dport=7800, flags="A", seq=1001, ack=isn + 1) / b"GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n", iface="ae-g")
time.sleep(1.0)
got = sn.stop()
sa = [p for p in got if p[TCP].flags & 0x12 == 0x12]
print("answers:", [(str(p[TCP].flags), hex(p[TCP].seq), len(p[TCP].payload)) for p in got])
ok = len(sa) >= 1 and all(p[TCP].seq != isn for p in sa) and not any(p[TCP].flags & 0x04 for p in got)
sys.exit(0 if ok else 1)
PY
indent <"$AE_TMP/stranger.log"
check "a stranger's proposal is not taken: the SYN/ACK has the gateway's own ISN, and no RST for the data" test "$rc" -eq 0
check "counted as rejected" test "$(ov "$GW" gateway_relay.early.rejected)" -gt "$rej0"
check "and its early data dropped" test "$(ov "$GW" gateway_relay.early.dropped)" -gt "$drop0"
check "and its SYN opened no connection to the origin" test "$(ov "$GW" gateway_relay.relays)" -eq "$relays0"

stop_pid "$ORIGIN_PID" 5 || true
fetch down "http://$VIP/small.txt"
check "a stopped origin (RST) gives 502" test "$CODE" = 502
check "counted as refused at the gateway" test "$(ov "$GW" failures.refused)" -ge 1

ip -n "$R" route replace blackhole 10.0.6.2/32
t0=$(now_ms)
fetch hole "http://$VIP/small.txt"
ms=$(($(now_ms) - t0))
check "a black-holed origin gives 504 ($ms ms)" test "$CODE" = 504
check "within the 5 s connect timeout and a scan (< 8 s)" test "$ms" -lt 8000
check "counted as timeout at the gateway" test "$(ov "$GW" failures.timeout)" -ge 1

fetch a3 "http://$VIP/a.bin"
check "the edge still serves its hit" cmp -s "$AE_TMP/a3" "$DOC/a.bin"
ctl "$EDGE" 'show overlay' | indent
ctl "$GW" 'show overlay' | indent

finish
