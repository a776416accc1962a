#!/usr/bin/env bash
# HTTP/1.1 bulk download: wget fetches a 100 MiB object from the engine's
# cache byte-exact.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the anycast VIP
# 203.0.113.10, [http] port 80 and [cache] dir = a content directory holding
# big.bin (100 MiB random); the kernel side of ae0 is 10.0.2.1/24 with a route
# to the VIP via 10.0.2.2. `wget -O out http://203.0.113.10/big.bin` must
# produce the same sha256, the engine's body_bytes must have grown by the
# object size, and the engine's row of the (closed) connection must show at
# least that many bytes sent. The body goes out by reference (writev of the
# headers and the cached object's bytes) in TSO super-segments that the
# kernel cuts (the TAP's virtio-net header): the port's tx_zero_copy counter
# must have grown by at least one frame per 64 KiB of the object, and the
# port must have sent fewer than a quarter as many frames as the object
# has 1448-byte segments.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping wget sha256sum timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's HTTP service (FWD=anyedge)"

CONN=$AE_LIB_DIR/tcp_conn.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SIZE_MIB=${AE_HTTP_WGET_MIB:-100}
SIZE=$((SIZE_MIB * 1024 * 1024))

new_ns HOST host

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/big.bin"
WANT=$(sha256sum "$CONTENT/big.bin" | cut -d' ' -f1)
log "object big.bin: $SIZE_MIB MiB, sha256 $WANT"

start_http_engine "$HOST" "$CONTENT"

cache=$(ectl 'show cache json')
check "cache holds big.bin with $SIZE bytes" "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if [o["len"] for o in d["objects"] if o["key"] == "big.bin"] == [int(sys.argv[2])] else 1)' "$cache" "$SIZE"
HTTP0=$(ectl 'show http json')
ZC0=$(port_stat 0 tx_zero_copy)
TX0=$(port_stat 0 tx_packets)

log "wget -O out http://$VIP/big.bin"
t0=$(now_ms)
timeout 120 ip netns exec "$HOST" wget -nv --tries=1 --timeout=20 -O "$AE_TMP/out" "http://$VIP/big.bin" \
    >"$AE_TMP/wget.log" 2>&1 && rc=0 || rc=$?
ms=$(($(now_ms) - t0))
indent <"$AE_TMP/wget.log"
check "wget exited 0 (exit $rc, ${ms} ms)" test "$rc" -eq 0
got=$(sha256sum "$AE_TMP/out" 2>/dev/null | cut -d' ' -f1 || true)
check "downloaded file: $(stat -c %s "$AE_TMP/out" 2>/dev/null || echo 0) bytes, sha256 matches" test "$got" = "$WANT"
((ms > 0)) && log "throughput: $((SIZE * 1000 / ms / 1048576)) MiB/s ($ms ms)"

HTTP1=$(ectl 'show http json')
d200=$(("$(json_get "$HTTP1" status.200)" - "$(json_get "$HTTP0" status.200)"))
dbody=$(("$(json_get "$HTTP1" body_bytes)" - "$(json_get "$HTTP0" body_bytes)"))
check "show http: one more 200 (+$d200)" test "$d200" -eq 1
check "show http: body_bytes grew by the object size (+$dbody)" test "$dbody" -eq "$SIZE"
dzc=$(($(port_stat 0 tx_zero_copy) - ZC0))
dtx=$(($(port_stat 0 tx_packets) - TX0))
# (at most 65455 payload bytes a super-segment; 90% allows for the segment
# that carries the response head, which is copied, and for shorter ones)
check "the body went out by reference: tx_zero_copy +$dzc >= $((SIZE / 65455 * 9 / 10)) frames" \
    test "$dzc" -ge $((SIZE / 65455 * 9 / 10))
check "in super-segments: $dtx frames sent < $((SIZE / 1448 / 4)) (a quarter of the 1448-byte segments)" \
    test "$dtx" -lt $((SIZE / 1448 / 4))

# wget closes after the download; the engine's side of that connection.
# shellcheck disable=SC2317 # called through wait_for's eval
find_row() { ectl 'show conn json' | "$PYTHON" "$CONN" find --in recent --local "$VIP:80"; }
wait_for find_row 10 0.2 || true
row=$(find_row || echo '{}')
echo "    engine row: $row"
check "the engine lists the closed download connection in 'recent'" test "$row" != '{}'
if [[ $row != '{}' ]]; then
    out=$(json_get "$row" bytes_out)
    rtx=$(json_get "$row" retransmits)
    check "engine connection sent >= $SIZE bytes (bytes_out $out, retransmits $rtx)" test "$out" -ge "$SIZE"
fi

check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
