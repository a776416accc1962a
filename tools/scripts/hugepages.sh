#!/usr/bin/env bash
# Reserve and release 2 MiB hugepages for the DPDK build of anyedge (root).
#
#   hugepages.sh reserve N [DIR]   add N pages of 2 MiB to vm.nr_hugepages
#                                  (bounded wait until the kernel has them)
#                                  and mount hugetlbfs (pagesize=2M) on DIR
#                                  (default /dev/hugepages) unless mounted
#   hugepages.sh release [DIR]     remove the page files DPDK processes left
#                                  in DIR (rtemap_*, PREFIXmap_*: an exited
#                                  process keeps its pages reserved through
#                                  them), unmount DIR if reserve mounted it,
#                                  and take back the pages reserve added
#   hugepages.sh status            print the kernel's hugepage counters
#
# reserve and release add and subtract (what reserve added is recorded in
# /run/anyedge-hugepages.*), so several users of the machine's hugepages
# (a test and a benchmark) do not undo each other's reservations.
#
# Then run the engine without --no-huge (add --huge-dir DIR when DIR is not
# /dev/hugepages); it logs "running on hugepages (2048 kB pages)". The mbuf
# pool needs about 2.3 KiB per mbuf: --total-num-mbufs=16384 fits in 20
# pages, and the EAL needs some more; reserve 128 or more.
#
# The kernel may give fewer pages than asked when memory is fragmented:
# reserve then gives back what it got and fails (exit 1).
set -euo pipefail

NR=/proc/sys/vm/nr_hugepages

usage() {
    sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

need_root() {
    [[ $(id -u) -eq 0 ]] || { echo "hugepages.sh: must run as root" >&2; exit 1; }
}

record() { echo "/run/anyedge-hugepages.$(echo "$1" | tr '/' '_')"; }

is_mounted() { awk -v d="$1" '$2 == d && $3 == "hugetlbfs" {f = 1} END {exit !f}' /proc/mounts; }

status() {
    grep -E '^(HugePages_(Total|Free|Rsvd|Surp)|Hugepagesize)' /proc/meminfo
    grep hugetlbfs /proc/mounts || echo "(no hugetlbfs mounted)"
}

# set_nr N: ask the kernel for N pages in total, bounded wait; prints what it has.
set_nr() {
    local want=$1 i
    for ((i = 0; i < 50; i++)); do
        echo "$want" >"$NR"
        (($(cat "$NR") >= want)) && break
        sleep 0.1
    done
    cat "$NR"
}

reserve() {
    local n=$1 dir=${2:-} cur want got mounted=no
    [[ -n $dir ]] || dir=/dev/hugepages
    [[ $n =~ ^[0-9]+$ ]] || usage
    need_root
    [[ $(awk '/^Hugepagesize/ {print $2}' /proc/meminfo) == 2048 ]] ||
        echo "hugepages.sh: note: the default hugepage size is not 2 MiB; DIR is mounted with pagesize=2M" >&2
    cur=$(cat "$NR")
    want=$((cur + n))
    got=$(set_nr "$want")
    if ((got < want)); then
        echo "hugepages.sh: asked for $want pages in total ($n more), the kernel gave $got (memory fragmented?)" >&2
        echo "$cur" >"$NR"
        exit 1
    fi
    mkdir -p "$dir"
    if ! is_mounted "$dir"; then
        mount -t hugetlbfs -o pagesize=2M nodev "$dir"
        mounted=yes
        echo "mounted hugetlbfs (2M) on $dir"
    fi
    # Accumulate, in case the same DIR is reserved twice.
    local f old=0 oldm=no
    f=$(record "$dir")
    [[ -f $f ]] && read -r old oldm <"$f"
    [[ $oldm == yes ]] && mounted=yes
    echo "$((old + n)) $mounted" >"$f"
    echo "reserved $n hugepages of 2 MiB ($((n * 2)) MiB) for $dir; vm.nr_hugepages = $got"
    status
}

release() {
    local dir=${1:-} f n=0 mounted=no cur left
    [[ -n $dir ]] || dir=/dev/hugepages
    need_root
    f=$(record "$dir")
    [[ -f $f ]] && read -r n mounted <"$f"
    if is_mounted "$dir"; then
        for p in "$dir"/*map_*; do
            [[ -e $p ]] || continue
            if command -v fuser >/dev/null && fuser -s "$p" 2>/dev/null; then
                echo "hugepages.sh: $p is still in use, kept" >&2
            else
                rm -f "$p"
            fi
        done
        if [[ $mounted == yes ]]; then
            umount "$dir" && echo "unmounted $dir"
        fi
    fi
    rm -f "$f"
    cur=$(cat "$NR")
    left=$((cur > n ? cur - n : 0))
    echo "$left" >"$NR"
    echo "released $n hugepages for $dir; vm.nr_hugepages = $(cat "$NR")"
    status
}

case ${1:-} in
    reserve) (($# >= 2)) || usage; reserve "$2" "${3:-}" ;;
    release) release "${2:-}" ;;
    status) status ;;
    *) usage ;;
esac
