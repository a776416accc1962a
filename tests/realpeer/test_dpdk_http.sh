#!/usr/bin/env bash
# DPDK port, serving: the DPDK build of the engine serves its cache over
# DPDK's own net_tap, with the body sent by reference (zero-copy TX, DESIGN.md
# section 2): each payload segment is an external-buffer mbuf pointing into
# the cached object, chained after the header mbuf. The cache's region is a
# DPDK memzone (checked in the engine's log). Real peers: wget and curl in
# the kernel's namespace.
#
#   netns HOST: anyedge-dpdk run -l 0-1 --no-huge -m 512 --no-pci
#               --vdev net_tap0,iface=ae0 -- --forward-mode=cdn -a
#               kernel side of ae0: 10.0.2.1/24, route to the VIP
#
# net_tap offers TX checksum offload, so the engine leaves both checksums to
# the port and never reads the body (the TCP field holds the pseudo-header
# sum). Checked: wget downloads a 64 MiB object byte-exact (sha256), and
# the client kernel counted no checksum error; the port's tx_zero_copy
# counter grew by at least one frame per 64 KiB, and by fewer than half
# of the body's 1448-byte segments: net_tap's TSO (rte_gso) cut
# super-segments (its own tx_packets counts the segments); curl's ranges
# (a middle slice, a suffix, an open end) match the file byte for byte; and
# no mbuf leaked: once the connections are gone the pool holds as many
# mbufs as before (every external segment was freed with its frame, and its
# reference to the object dropped). Needs ANYEDGE_DPDK (fails, never
# skips, without it).
. "$(dirname "$0")/lib.sh"

require_root
require_dpdk_engine
require_cmd ip ping wget curl sha256sum timeout cmp "$PYTHON"

PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SIZE_MIB=${AE_DPDK_HTTP_MIB:-64}
SIZE=$((SIZE_MIB * 1024 * 1024))

new_ns HOST host
CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/big.bin"
WANT=$(sha256sum "$CONTENT/big.bin" | cut -d' ' -f1)
log "object big.bin: $SIZE_MIB MiB, sha256 $WANT"

dpdk_prefix PFX eng
# A cache that fits the EAL's 512 MiB, so its region is a DPDK memzone: memory
# the EAL knows the IOVA of, which a NIC could read by DMA.
AE_CACHE_SIZE=128MiB start_http_engine "$HOST" "$CONTENT" --no-huge -m 512 --no-pci --file-prefix "$PFX"
check "the cache region is a DPDK memzone (engine log)" \
    grep -c "cache region: 128 MiB in DPDK memzone ae_cache0" "$ENGINE_LOG"
check "show cache says so too" test "$(json_get "$(ectl 'show cache json')" region)" = "DPDK memzone ae_cache0"
info=$(ectl 'show port info all json')
check "port 0 runs on DPDK's net_tap driver" test "$(json_port "$info" 0 driver)" = net_tap
check "net_tap fills TX checksums (tx_csum_offload), so the offload path runs" \
    test "$(json_port "$info" 0 tx_csum_offload)" = true
check "net_tap segments TCP (tso_offload), so super-segments go out" \
    test "$(json_port "$info" 0 tso_offload)" = true
SNMP0=$(tcp_snmp "$HOST")
avail() { port_xstat 0 anyedge_mbuf_pool_avail; }
POOL0=$(avail)
ZC0=$(port_stat 0 tx_zero_copy)

log "wget -O out http://$VIP/big.bin"
t0=$(now_ms)
timeout 120 ip netns exec "$HOST" wget -nv --tries=1 --timeout=20 -O "$AE_TMP/out" "http://$VIP/big.bin" \
    >"$AE_TMP/wget.log" 2>&1 && rc=0 || rc=$?
ms=$(($(now_ms) - t0))
indent <"$AE_TMP/wget.log"
check "wget exited 0 (exit $rc, ${ms} ms)" test "$rc" -eq 0
got=$(sha256sum "$AE_TMP/out" 2>/dev/null | cut -d' ' -f1 || true)
check "downloaded file: $(stat -c %s "$AE_TMP/out" 2>/dev/null || echo 0) bytes, sha256 matches" test "$got" = "$WANT"
SNMP1=$(tcp_snmp "$HOST")
check "client kernel: no TCP checksum errors ($(snmp_field "$SNMP0" InCsumErrors) -> $(snmp_field "$SNMP1" InCsumErrors))" \
    test "$(snmp_field "$SNMP0" InCsumErrors)" = "$(snmp_field "$SNMP1" InCsumErrors)"
((ms > 0)) && log "throughput: $((SIZE * 1000 / ms / 1048576)) MiB/s ($ms ms)"
dzc=$(($(port_stat 0 tx_zero_copy) - ZC0))
# at most 65455 payload bytes a super-segment; 90% allows for the copied
# segment that carries the response head, and for shorter segments
check "the body went out as external mbufs: tx_zero_copy +$dzc >= $((SIZE / 65455 * 9 / 10))" \
    test "$dzc" -ge $((SIZE / 65455 * 9 / 10))
check "in super-segments: tx_zero_copy +$dzc < $((SIZE / 1448 / 2))" test "$dzc" -lt $((SIZE / 1448 / 2))

# Ranges (RFC 9110 14.1.2), each compared with the same bytes of the file.
range_ok() {
    local spec=$1 first=$2 count=$3
    timeout 30 ip netns exec "$HOST" curl -sS --fail --max-time 20 -r "$spec" -o "$AE_TMP/part" \
        "http://$VIP/big.bin" || return 1
    tail -c +$((first + 1)) "$CONTENT/big.bin" | head -c "$count" >"$AE_TMP/want"
    cmp -s "$AE_TMP/part" "$AE_TMP/want"
}
check "range 1000000-3999999 matches the file" range_ok 1000000-3999999 1000000 3000000
check "suffix range -777777 matches the file" range_ok -777777 $((SIZE - 777777)) 777777
check "open range $((SIZE - 100000))- matches the file" range_ok "$((SIZE - 100000))-" $((SIZE - 100000)) 100000

# Every external mbuf went back to the pool with its frame. Connections end
# in TIME-WAIT with nothing unacknowledged, so the pool returns to where it
# was (the driver may keep a few mbufs in its TX ring: allow one burst).
# shellcheck disable=SC2317 # called through wait_for's eval
pool_back() { (($(avail) + 32 >= POOL0)); }
wait_for pool_back 10 0.2 || true
check "mbuf pool back to its level: $(avail) now, $POOL0 before" pool_back
check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit
finish
