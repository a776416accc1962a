#!/usr/bin/env bash
# DPDK port, serving from a cache bigger than the EAL's memory: with -m 256
# and a 768 MiB cache the region cannot be a memzone, so the engine maps it
# itself, locks it and registers it with the EAL (rte_extmem_register, and
# rte_dev_dma_map for the ports' devices): memory whose IOVA the EAL knows,
# as a NIC needs. The body is still sent by reference from it. Real peer:
# curl in the kernel's namespace.
#
#   netns HOST: anyedge-dpdk run -l 0-1 --no-huge -m 256 --no-pci
#               --vdev net_tap0,iface=ae0 -- --forward-mode=cdn -a
#
# Checked: the log and `show cache` name the registered external memory; a
# 16 MiB object arrives byte-exact (sha256) with its segments sent as
# external mbufs; a range matches the file. Needs ANYEDGE_DPDK.
. "$(dirname "$0")/lib.sh"

require_root
require_dpdk_engine
require_cmd ip ping curl sha256sum timeout cmp "$PYTHON"

PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
SIZE=$((16 * 1024 * 1024))

new_ns HOST host
CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/obj.bin"
WANT=$(sha256sum "$CONTENT/obj.bin" | cut -d' ' -f1)

dpdk_prefix PFX eng
AE_CACHE_SIZE=768MiB start_http_engine "$HOST" "$CONTENT" --no-huge -m 256 --no-pci --file-prefix "$PFX"
check "the log says the memzone did not fit and the region is registered external memory" \
    grep -c "DPDK memzone of 768 MiB for the cache: .*; the cache region is external memory registered with DPDK (768 MiB" "$ENGINE_LOG"
region=$(json_get "$(ectl 'show cache json')" region)
log "show cache region: $region"
check "show cache names it" grep -c "^external memory registered with DPDK" <<<"$region"
ZC0=$(port_stat 0 tx_zero_copy)

timeout 60 ip netns exec "$HOST" curl -sS --fail --max-time 50 -o "$AE_TMP/out" "http://$VIP/obj.bin" && rc=0 || rc=$?
check "curl exited 0 (exit $rc)" test "$rc" -eq 0
got=$(sha256sum "$AE_TMP/out" 2>/dev/null | cut -d' ' -f1 || true)
check "the 16 MiB object arrived byte-exact (sha256)" test "$got" = "$WANT"
dzc=$(($(port_stat 0 tx_zero_copy) - ZC0))
# (one frame per 64 KiB super-segment at least: net_tap does TSO)
check "its body went out as external mbufs: tx_zero_copy +$dzc >= $((SIZE / 65455 * 9 / 10))" \
    test "$dzc" -ge $((SIZE / 65455 * 9 / 10))
timeout 30 ip netns exec "$HOST" curl -sS --fail --max-time 20 -r 5000000-5999999 -o "$AE_TMP/part" \
    "http://$VIP/obj.bin" && rc=0 || rc=$?
head -c 6000000 "$CONTENT/obj.bin" | tail -c 1000000 >"$AE_TMP/want"
check "range 5000000-5999999 matches the file (curl exit $rc)" cmp -s "$AE_TMP/part" "$AE_TMP/want"
check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit
finish
