#!/usr/bin/env bash
# DPDK port on real 2 MiB hugepages: the test reserves 128 pages and mounts
# a private hugetlbfs (tools/scripts/hugepages.sh), runs the ping test of
# test_dpdk_tap_ping.sh with --huge-dir instead of --no-huge, checks that the
# engine's memory came from those pages, ends the engine with SIGTERM (it
# must close its port and exit 0), and releases the pages (also on failure).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dpdk_ping.sh"

require_root
require_dpdk_engine
require_cmd ip ping arping timeout mount umount "$PYTHON"

HUGE=$AE_REPO/tools/scripts/hugepages.sh
PAGES=${AE_HUGEPAGES:-128}
HUGEDIR=$AE_TMP/huge
BEFORE=$(cat /proc/sys/vm/nr_hugepages)
free_pages() { awk '/^HugePages_Free/ {print $2}' /proc/meminfo; }

# Release after the engine is gone (AE_CLEANUP_CMDS run after the processes
# are stopped); release gives back exactly the pages reserve added.
AE_CLEANUP_CMDS+=("[[ -d '$HUGEDIR' ]] && bash '$HUGE' release '$HUGEDIR' >/dev/null")
out=$(bash "$HUGE" reserve "$PAGES" "$HUGEDIR" 2>&1) || die "hugepages.sh reserve failed: $out"
indent <<<"$out"
FREE0=$(free_pages)
check "hugepages reserved: $FREE0 free (>= $PAGES)" test "$FREE0" -ge "$PAGES"

dpdk_ping_start --huge-dir "$HUGEDIR"
check "engine log says it runs on 2 MiB hugepages" grep -q "running on hugepages (2048 kB pages)" "$ENGINE_LOG"
check "mbuf pool is on hugepages" grep -q "on 2048 kB hugepages" "$ENGINE_LOG"
FREE1=$(free_pages)
NFILES=$(find "$HUGEDIR" -type f | wc -l)
log "hugepages: free $FREE0 -> $FREE1 while the engine runs, $NFILES page files in $HUGEDIR"
check "the engine took hugepages ($FREE0 -> $FREE1 free)" test "$FREE1" -lt "$FREE0"
check "the engine's page files are in the test's hugetlbfs ($NFILES)" test "$NFILES" -gt 0

dpdk_ping_checks
dpdk_ping_quit sigterm

out=$(bash "$HUGE" release "$HUGEDIR" 2>&1) && rc=0 || rc=$?
rmdir "$HUGEDIR" 2>/dev/null || true
indent <<<"$out"
check "hugepages.sh release (exit $rc)" test "$rc" -eq 0
check "vm.nr_hugepages is back to $BEFORE" test "$(cat /proc/sys/vm/nr_hugepages)" -eq "$BEFORE"
check "the test's hugetlbfs is unmounted" bash -c "! grep -q ' $HUGEDIR ' /proc/mounts"

finish
