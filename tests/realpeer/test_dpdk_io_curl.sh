#!/usr/bin/env bash
# DPDK port: io forwarding between two DPDK net_tap ports carries a real TCP
# transfer between two kernels, byte-exact (test_foundation_io_curl.sh on the
# DPDK build).
#
#   netns H1: ae0 10.0.9.1/24 (curl)
#      |  DPDK net_tap0 (iface ae0) = engine port 0
#   netns WIRE: anyedge-dpdk run --no-huge -m 512 --no-pci, --forward-mode=io
#      |  DPDK net_tap1 (iface ae1) = engine port 1
#   netns H2: ae1 10.0.9.2/24 (python3 -m http.server)
#
# The engine's net_tap ports create both interfaces in WIRE; the test moves
# the kernel side of each into its host namespace. A 50 MiB random file is
# downloaded through the engine and its sha256 compared. Needs ANYEDGE_DPDK.
. "$(dirname "$0")/lib.sh"

require_root
require_dpdk_engine
require_cmd ip ping curl sha256sum timeout ss "$PYTHON"

SIZE_MIB=${AE_CURL_MIB:-50}
HTTP_PORT=8080

new_ns WIRE wire
new_ns H1 h1
new_ns H2 h2

dpdk_prefix PFX eng
start_engine "$WIRE" -l 0-1 --no-huge -m 512 --no-pci --file-prefix "$PFX" \
    --vdev net_tap0,iface=ae0 --vdev net_tap1,iface=ae1 -- --forward-mode=io -a --stats-period 5

info=$(ectl 'show port info all json')
echo "    $info"
for p in 0 1; do
    check "port $p runs on DPDK's net_tap driver" test "$(json_port "$info" "$p" driver)" = net_tap
done

wait_link "$WIRE" ae0 15
wait_link "$WIRE" ae1 15
ip -n "$WIRE" link set ae0 netns "$H1"
ip -n "$WIRE" link set ae1 netns "$H2"
ip -n "$H1" addr add 10.0.9.1/24 dev ae0
ip -n "$H1" link set ae0 up
ip -n "$H2" addr add 10.0.9.2/24 dev ae1
ip -n "$H2" link set ae1 up

n=$(ping_received "$H1" -c 5 -i 0.2 -W 2 10.0.9.2)
check "ping 10.0.9.1 -> 10.0.9.2 through the DPDK engine: 5/5 (got $n)" test "$n" -eq 5

WWW=$AE_TMP/www
mkdir -p "$WWW"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$WWW/blob.bin"
want=$(sha256sum "$WWW/blob.bin" | cut -d' ' -f1)
log "served file: $SIZE_MIB MiB, sha256 $want"

bg_start http "$H2" "$PYTHON" -m http.server "$HTTP_PORT" --bind 10.0.9.2 --directory "$WWW"
HTTP_PID=$BG_PID
wait_for "ip netns exec '$H2' ss -Hltn 'sport = :$HTTP_PORT' | grep -q LISTEN" 15 ||
    die "http.server did not listen on 10.0.9.2:$HTTP_PORT within 15s"

curl_out=$(timeout 200 ip netns exec "$H1" curl -sS --fail --connect-timeout 10 --max-time 180 \
    -o "$AE_TMP/download.bin" -w '%{http_code} %{size_download} bytes %{time_total}s %{speed_download}B/s' \
    "http://10.0.9.2:$HTTP_PORT/blob.bin" 2>&1) && rc=0 || rc=$?
echo "    curl: $curl_out"
check "curl download through the DPDK engine succeeded (exit $rc)" test "$rc" -eq 0
got=$(sha256sum "$AE_TMP/download.bin" 2>/dev/null | cut -d' ' -f1 || true)
check "sha256 of the download matches ($got)" test "$got" = "$want"
rm -f "$WWW/blob.bin" "$AE_TMP/download.bin"

check "http.server still running" pid_alive "$HTTP_PID"
check "engine still running after the transfer" pid_alive "$ENGINE_PID"

stats=$(ectl 'show port stats all json') && rc=0 || rc=$?
echo "    $stats"
check "control socket still answers (exit $rc)" test "$rc" -eq 0
if ((rc == 0)); then
    for p in 0 1; do
        check "port $p forwarded packets (rx and tx > 0)" \
            test "$(json_port "$stats" "$p" rx_packets)" -gt 0 -a "$(json_port "$stats" "$p" tx_packets)" -gt 0
    done
    check "port 1 (server side) received more than $SIZE_MIB MiB" \
        test "$(json_port "$stats" 1 rx_bytes)" -gt $((SIZE_MIB * 1024 * 1024))
fi
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
