#!/usr/bin/env bash
# Run every tests/realpeer/test_*.sh (or those whose name contains one of the
# arguments), each under `timeout`, as root. Prints PASS/FAIL per test and
# ends with the line "N passed, N failed"; exits non-zero if any failed.
#
#   sudo bash tests/realpeer/run-all.sh             # all, against the engine
#   sudo FWD=testpmd bash tests/realpeer/run-all.sh io_curl
#
# Knobs: AE_TEST_TIMEOUT (seconds per test, default 600), plus everything
# lib.sh reads (ANYEDGE, FWD, PYTHON, AE_KEEP_TMP, ...).
set -uo pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_TIMEOUT=${AE_TEST_TIMEOUT:-600}

if [[ $(id -u) -ne 0 ]]; then
    echo "run-all.sh: must run as root (network namespaces, TAP devices)" >&2
    exit 1
fi
command -v timeout >/dev/null || { echo "run-all.sh: 'timeout' (coreutils) is missing" >&2; exit 1; }

shopt -s nullglob
tests=()
for t in "$DIR"/test_*.sh; do
    name=$(basename "$t" .sh)
    if (($# == 0)); then
        tests+=("$t")
    else
        for pat in "$@"; do
            if [[ $name == *"$pat"* ]]; then
                tests+=("$t")
                break
            fi
        done
    fi
done
if ((${#tests[@]} == 0)); then
    echo "run-all.sh: no test_*.sh matched in $DIR" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# Remove whatever a killed test left behind in its own namespaces.
sweep() {
    local prefix=$1 ns p
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ $ns == "$prefix"* ]] || continue
        echo "run-all.sh: removing leftover netns $ns"
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        sleep 0.2
        ip netns del "$ns" 2>/dev/null
    done
    for p in /var/run/dpdk/"$prefix"*; do
        [[ -d $p ]] && rm -rf "$p"
    done
}

RUN_ID="aer$$"
passed=0
failed=0
summary=()
i=0
echo "realpeer: ${#tests[@]} test(s), FWD=${FWD:-anyedge}, ${TEST_TIMEOUT}s timeout each"
for t in "${tests[@]}"; do
    i=$((i + 1))
    name=$(basename "$t" .sh)
    prefix="${RUN_ID}t${i}-"
    echo
    echo "=== RUN  $name"
    start=$SECONDS
    AE_NS_PREFIX=$prefix timeout -k 30 "$TEST_TIMEOUT" bash "$t" </dev/null 2>&1
    rc=$?
    secs=$((SECONDS - start))
    sweep "$prefix"
    if ((rc == 0)); then
        passed=$((passed + 1))
        line="PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        why="exit $rc"
        ((rc == 124 || rc == 137)) && why="timed out after ${TEST_TIMEOUT}s"
        line="FAIL $name ($why, ${secs}s)"
    fi
    echo "=== $line"
    summary+=("$line")
done

echo
echo "realpeer summary:"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
((failed == 0))
