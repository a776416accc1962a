# shellcheck shell=bash
# Helpers for the real-peer tests. Source it from a test_*.sh script:
#
#   . "$(dirname "$0")/lib.sh"
#   require_root
#   new_ns NS host
#   start_engine "$NS" -l 0-1 --vdev net_tap0,iface=ae0 -- --forward-mode=cdn -a
#   ...
#   check "engine answers" some_command args
#   finish
#
# Environment knobs:
#   ANYEDGE       engine binary (default: <repo>/target/release/anyedge)
#   ANYEDGE_DPDK  the DPDK build of the engine, for test_dpdk_*.sh (no
#                 default: those tests FAIL when it is unset; test-all.sh
#                 builds it as target/release/anyedge-dpdk and sets it)
#   FWD           anyedge|testpmd: what forwards the packets (tests that support it)
#   TESTPMD       dpdk-testpmd binary (default: dpdk-testpmd on PATH)
#   PYTHON        python3 with scapy (default: python3 on PATH)
#   AE_NS_PREFIX  prefix of every netns this run creates (run-all.sh sets it)
#   AE_KEEP_TMP=1 keep the temp dir (logs, configs) after the test
#
# Everything a test starts is recorded and torn down by the EXIT trap, on
# success, failure, `exit`, SIGINT and SIGTERM (run-all.sh's timeout) alike.

set -Eeuo pipefail

AE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AE_REPO=$(cd "$AE_LIB_DIR/../.." && pwd)
: "${ANYEDGE:=${CARGO_TARGET_DIR:-$AE_REPO/target}/release/anyedge}"
: "${FWD:=anyedge}"
: "${TESTPMD:=dpdk-testpmd}"
: "${PYTHON:=$(command -v python3 || echo python3)}"
AE_TEST_NAME=$(basename "$0" .sh)
: "${AE_NS_PREFIX:=ae$$-}"

AE_PASS=0
AE_FAIL=0
AE_PIDS=()        # background processes we started (engine, servers, ...)
AE_PID_NAMES=()   # parallel to AE_PIDS, for messages
AE_NSES=()        # namespaces we created
AE_LOGS=()        # logs to show on failure
AE_DPDK_PREFIXES=()
AE_CLEANUP_CMDS=() # extra teardown commands (eval'd last, e.g. hugepage release)
ENGINE_PID=""
ENGINE_LOG=""
ENGINE_SOCK=""
AE_T0_MS=$(($(date +%s%N) / 1000000))
AE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/anyedge-${AE_TEST_NAME}.XXXXXX")

log() {
    local ms=$(($(date +%s%N) / 1000000 - AE_T0_MS))
    printf '[%s +%d.%01ds] %s\n' "$AE_TEST_NAME" $((ms / 1000)) $((ms % 1000 / 100)) "$*"
}

pass() {
    AE_PASS=$((AE_PASS + 1))
    echo "PASS: $*"
}

fail() {
    AE_FAIL=$((AE_FAIL + 1))
    echo "FAIL: $*"
}

# skip REASON: an explicit, visible non-check (only used for FWD=testpmd,
# which has no control socket). Never counted as a pass.
skip() { echo "SKIP: $*"; }

# die MSG: a setup step failed; the test cannot go on.
die() {
    AE_FAIL=$((AE_FAIL + 1))
    echo "FATAL: $*" >&2
    exit 1
}

# check DESC CMD ARGS...: run the command, PASS/FAIL by its exit status.
check() {
    local desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc (command: $*)"; fi
}

ae_on_err() {
    local rc=$? line=$1 cmd=$2
    echo "ERROR: ${AE_TEST_NAME}.sh line $line: '$cmd' exited $rc" >&2
}
trap 'ae_on_err "$LINENO" "$BASH_COMMAND"' ERR

require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "FATAL: $AE_TEST_NAME must run as root (network namespaces, TAP devices)" >&2
        exit 1
    fi
}

# require_cmd CMD...: fail loudly when a tool is missing.
require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "required command '$c' not found (run tools/scripts/test-all.sh to install dependencies)"
    done
}

require_engine() {
    case $FWD in
        anyedge)
            [[ -x $ANYEDGE ]] || die "engine binary $ANYEDGE not found or not executable (build it: cargo build --release -p anyedge-tools)"
            ;;
        testpmd) require_cmd "$TESTPMD" ;;
        *) die "FWD must be anyedge or testpmd, not '$FWD'" ;;
    esac
}

# require_dpdk_engine: use the DPDK build of the engine ($ANYEDGE_DPDK) for
# start_engine and ctl. Unset or missing is a failure, never a skip.
require_dpdk_engine() {
    [[ -n ${ANYEDGE_DPDK:-} ]] ||
        die "ANYEDGE_DPDK is not set: build the DPDK engine (cargo build --release -p anyedge-tools --features dpdk && cp target/release/anyedge target/release/anyedge-dpdk) and export ANYEDGE_DPDK=target/release/anyedge-dpdk (tools/scripts/test-all.sh does both)"
    [[ -x $ANYEDGE_DPDK ]] || die "ANYEDGE_DPDK=$ANYEDGE_DPDK is not an executable file"
    # grep -c reads all of ldd's output: `grep -q` exits at the first match,
    # ldd then dies of SIGPIPE, and under pipefail the check failed at random
    # (test_dpdk_memif in a CI run). The same goes for every `cmd | grep` test.
    ldd "$ANYEDGE_DPDK" 2>/dev/null | grep -c librte_eal >/dev/null ||
        die "ANYEDGE_DPDK=$ANYEDGE_DPDK is not linked with DPDK (built without --features dpdk?)"
    ANYEDGE=$ANYEDGE_DPDK
    FWD=anyedge
}

# dpdk_prefix VAR NAME: a DPDK --file-prefix unique to this run, test and
# NAME, stored in VAR and removed from /var/run/dpdk at cleanup.
dpdk_prefix() {
    local p="${AE_NS_PREFIX}$2"
    AE_DPDK_PREFIXES+=("$p")
    printf -v "$1" '%s' "$p"
}

# port_xstat PORT NAME: one value of `show port xstats all json` (0 if absent).
port_xstat() {
    "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
p = [p for p in d["ports"] if p["id"] == int(sys.argv[2])][0]
print(p["xstats"].get(sys.argv[3], 0))' "$(ectl 'show port xstats all json')" "$1" "$2"
}

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for CMD TIMEOUT_S [INTERVAL_S]: eval CMD until it succeeds; 1 on timeout.
wait_for() {
    local cmd=$1 timeout=${2:-10} interval=${3:-0.1}
    local deadline=$(($(now_ms) + ${timeout%.*} * 1000))
    while :; do
        if eval "$cmd" >/dev/null 2>&1; then return 0; fi
        (($(now_ms) < deadline)) || return 1
        sleep "$interval"
    done
}

# new_ns VAR SUFFIX: create namespace ${AE_NS_PREFIX}SUFFIX, record it for
# cleanup, bring lo up, store its name in VAR.
new_ns() {
    local var=$1 name="${AE_NS_PREFIX}$2"
    ip netns add "$name" || die "cannot create netns $name (left over from an earlier run? ip netns del $name)"
    AE_NSES+=("$name")
    ip -n "$name" link set lo up
    printf -v "$var" '%s' "$name"
}

# client_behind_router: the site layout of the anycast and overlay tests.
# Creates client ns C (veth c0 10.0.1.2/24, default via 10.0.1.1) and
# router ns R (r0 10.0.1.1/24, IP forwarding on, rp_filter off: replies
# from a VIP come back on whichever TAP the node sits behind). Sets C and R.
client_behind_router() {
    new_ns C client
    new_ns R router
    ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
    for k in all default; do ip netns exec "$R" sysctl -qw "net.ipv4.conf.$k.rp_filter=0"; done
    ip link add c0 netns "$C" type veth peer name r0 netns "$R"
    ip -n "$C" addr add 10.0.1.2/24 dev c0
    ip -n "$C" link set c0 up
    ip -n "$C" route add default via 10.0.1.1
    ip -n "$R" addr add 10.0.1.1/24 dev r0
    ip -n "$R" link set r0 up
}

# origin_behind_router: after client_behind_router, an origin ns O (veth o0
# 10.0.6.2/24, default via 10.0.6.1) behind the router (ro 10.0.6.1/24).
# Sets O.
origin_behind_router() {
    new_ns O origin
    ip link add o0 netns "$O" type veth peer name ro netns "$R"
    ip -n "$O" addr add 10.0.6.2/24 dev o0
    ip -n "$R" addr add 10.0.6.1/24 dev ro
    ip -n "$O" link set o0 up
    ip -n "$R" link set ro up
    ip -n "$O" route add default via 10.0.6.1
}

# bg_start NAME NS CMD ARGS...: run CMD in netns NS in the background,
# stdin /dev/null, output to $AE_TMP/NAME.log. Sets BG_PID, BG_LOG.
bg_start() {
    local name=$1 ns=$2
    shift 2
    BG_LOG=$AE_TMP/$name.log
    log "start $name in $ns: $*"
    ip netns exec "$ns" "$@" </dev/null >"$BG_LOG" 2>&1 &
    BG_PID=$!
    AE_PIDS+=("$BG_PID")
    AE_PID_NAMES+=("$name")
    AE_LOGS+=("$BG_LOG")
}

# indent: prefix stdin lines with four spaces (for command output in the log).
indent() { sed 's/^/    /'; }

pid_alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID [GRACE_S]: SIGTERM, wait up to GRACE_S, then SIGKILL. Reaps
# the process when it is our child. Returns its exit status if known.
stop_pid() {
    local pid=$1 grace=${2:-5} i
    pid_alive "$pid" || { wait "$pid" 2>/dev/null; return $?; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        echo "warning: pid $pid ignored SIGTERM for ${grace}s, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
    fi
    pid_alive "$pid" && return 255 # unkillable (D state); do not block in wait
    wait "$pid" 2>/dev/null
}

# wait_pid_exit PID TIMEOUT_S: wait (bounded) for PID to exit by itself.
wait_pid_exit() {
    local pid=$1 timeout=$2 i
    for ((i = 0; i < timeout * 10; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

# ctl SOCK CMD: one console command over the engine's control socket.
ctl() {
    timeout 10 "$ANYEDGE" ctl "$1" "$2"
}

# ectl CMD: ctl against the most recently started engine.
ectl() { ctl "$ENGINE_SOCK" "$1"; }

# json_get JSON PATH: print the value at a dotted PATH (object keys and list
# indexes: ports.0.mac). Strings print raw, everything else as JSON.
json_get() {
    "$PYTHON" -c '
import json, sys
v = json.loads(sys.argv[1])
for k in [p for p in sys.argv[2].split(".") if p != ""]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2"
}

# json_port JSON ID FIELD: FIELD of the entry of .ports whose "id" is ID.
json_port() {
    "$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
ps = [p for p in d["ports"] if p.get("id") == int(sys.argv[2])]
if len(ps) != 1:
    sys.exit("no port with id %s in %s" % (sys.argv[2], sys.argv[1]))
v = ps[0][sys.argv[3]]
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2" "$3"
}

# start_engine NS ARGS...: `ip netns exec NS $ANYEDGE run ARGS...` in the
# background. Adds `--ctl-socket $AE_TMP/engineN.sock` to the app args, logs
# to $AE_TMP/engineN.log, waits (bounded) until the control socket answers.
# Sets ENGINE_PID, ENGINE_LOG, ENGINE_SOCK.
start_engine() {
    local ns=$1
    shift
    local n=${#AE_PIDS[@]} args=("$@") a has_dd=0 has_ctl=0 i
    [[ -x $ANYEDGE ]] || die "engine binary $ANYEDGE not found (build it: cargo build --release -p anyedge-tools)"
    ENGINE_SOCK=$AE_TMP/engine$n.sock
    for ((i = 0; i < ${#args[@]}; i++)); do
        a=${args[i]}
        [[ $a == -- ]] && has_dd=1
        if [[ $a == --ctl-socket ]]; then
            has_ctl=1
            ENGINE_SOCK=${args[i + 1]}
        fi
    done
    if ((!has_ctl)); then
        ((has_dd)) || args+=(--)
        args+=(--ctl-socket "$ENGINE_SOCK")
    fi
    bg_start "engine$n" "$ns" "$ANYEDGE" run "${args[@]}"
    ENGINE_PID=$BG_PID
    ENGINE_LOG=$BG_LOG
    local deadline=$(($(now_ms) + 20000))
    while :; do
        pid_alive "$ENGINE_PID" || die "engine exited during startup (see $ENGINE_LOG)"
        if [[ -S $ENGINE_SOCK ]] && ctl "$ENGINE_SOCK" 'show port info all json' >/dev/null 2>&1; then
            break
        fi
        (($(now_ms) < deadline)) || die "engine control socket $ENGINE_SOCK did not answer within 20s"
        sleep 0.1
    done
    log "engine up: pid $ENGINE_PID, ctl socket $ENGINE_SOCK"
}

# route_to IP: the router's route for $VIP (the anycast route) goes via IP.
route_to() { ip -n "$R" route replace "$VIP/32" via "$1"; }
# ovl SOCK: the engine's `show overlay json`.
ovl() { ctl "$1" 'show overlay json'; }
# rv JSON KEY: a field of the "replication" object of `show overlay json`.
rv() { json_get "$1" "replication.$2"; }

# site_conf FILE NAME IP GW PEER KEY CACHE_DIR [EXTRA]: the config of a site
# node that serves $VIP over HTTP from CACHE_DIR, with the anycast peer
# channel to PEER (UDP 7700, HMAC key KEY); EXTRA (TOML sections such as
# [tcp] and [overlay]) is appended as it is.
site_conf() {
    cat >"$1" <<EOF
[node]
name = "$2"
[[port]]
ip = "$3/24"
gateway = "$4"
[anycast]
vips = ["$VIP"]
peers = ["$5:7700"]
listen = 7700
key = "$6"
[http]
port = 80
[cache]
dir = "$7"
size = "256MiB"
${8:-}
EOF
}

# start_node NAME IFACE ROUTER_IP LCORES [APP ARGS...]: the engine on TAP
# IFACE in router ns R with $AE_TMP/NAME.toml (and APP ARGS, e.g. --rxq 2
# --txq 2), checked to be the engine process itself (what a SIGKILL must
# hit); gives the router side ROUTER_IP. Sets NODE_PID, NODE_SOCK.
start_node() {
    local name=$1 dev=$2 rip=$3 lcores=$4 exe want
    shift 4
    start_engine "$R" -l "$lcores" --vdev "net_tap0,iface=$dev" -- --forward-mode=cdn \
        --config "$AE_TMP/$name.toml" -a "$@"
    NODE_PID=$ENGINE_PID
    NODE_SOCK=$ENGINE_SOCK
    # `ip netns exec` execs the engine: the recorded PID is the engine
    # itself, which is what SIGKILL must hit.
    exe=$(readlink -f "/proc/$NODE_PID/exe" 2>/dev/null || true)
    want=$(readlink -f "$ANYEDGE")
    [[ $exe == "$want" ]] || die "pid $NODE_PID of $name runs '$exe', not the engine $want"
    wait_link "$R" "$dev" 15
    ip -n "$R" addr add "$rip/24" dev "$dev"
    ip -n "$R" link set "$dev" up
}

# tcp_snmp [NS]: the kernel TCP counters of netns NS (default $C, the client):
# a new handshake or a reset of an established connection shows here
# whatever the client program prints.
tcp_snmp() {
    ip netns exec "${1:-$C}" cat /proc/net/snmp | "$PYTHON" -c '
import sys
rows = [l.split() for l in sys.stdin if l.startswith("Tcp:")]
d = dict(zip(rows[0][1:], rows[1][1:]))
print(" ".join("%s=%s" % (k, d[k]) for k in ("ActiveOpens", "AttemptFails", "EstabResets", "RetransSegs", "InErrs", "OutRsts", "InCsumErrors")))'
}
# snmp_field SNAPSHOT NAME: one counter of a tcp_snmp line.
snmp_field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# check_one_connection WGET_LOG SNMP_BEFORE SNMP_AFTER: a wget download went
# through on one TCP connection: one connect, one request answered 200, no
# retry, Range or reset in its log, and the client kernel (tcp_snmp
# snapshots) made one active open and saw no reset.
check_one_connection() {
    local wlog=$1 s0=$2 s1=$3 nconn nreq d_open d_reset d_fail
    nconn=$(grep -c 'Connecting to' "$wlog" || true)
    check "wget made exactly one connection (${nconn} 'Connecting to' lines)" test "$nconn" -eq 1
    nreq=$(grep -c 'HTTP request sent' "$wlog" || true)
    check "wget sent exactly one request (${nreq} 'HTTP request sent' lines)" test "$nreq" -eq 1
    check "and it was answered 200 OK" grep -qE 'HTTP request sent, awaiting response\.\.\. 200 OK' "$wlog"
    check "wget did not retry, reuse, resume or get a 206" \
        sh -c "! grep -nE 'Retrying|Reusing|Partial Content|206 |Range|Connection reset|Giving up|Read error' '$wlog'"
    d_open=$(($(snmp_field "$s1" ActiveOpens) - $(snmp_field "$s0" ActiveOpens)))
    d_reset=$(($(snmp_field "$s1" EstabResets) - $(snmp_field "$s0" EstabResets)))
    d_fail=$(($(snmp_field "$s1" AttemptFails) - $(snmp_field "$s0" AttemptFails)))
    check "the client's kernel opened one TCP connection (ActiveOpens +$d_open, AttemptFails +$d_fail)" \
        test "$d_open" -eq 1 -a "$d_fail" -eq 0
    check "the client's kernel saw no reset of an established connection (EstabResets +$d_reset)" \
        test "$d_reset" -eq 0
}

# start_testpmd NS EAL_ARGS... -- APP_ARGS...: dpdk-testpmd in the background
# as a stand-in forwarder (FWD=testpmd). Adds --file-prefix (so runs do not
# share /var/run/dpdk state) and --no-pci. Without -i, testpmd only stays up
# in the background when it has --stats-period: it then loops until
# SIGINT/SIGTERM; without it, it blocks in read(0) ("Press enter to exit") and
# exits as soon as stdin is /dev/null. Its stdout is block-buffered into the
# log unless run under stdbuf -oL. With --no-huge -m 512 the default mbuf
# pool does not fit: pass --total-num-mbufs=16384 in the app args.
start_testpmd() {
    local ns=$1
    shift
    local n=${#AE_PIDS[@]}
    local pfx="${AE_NS_PREFIX}tp$n"
    require_cmd "$TESTPMD"
    AE_DPDK_PREFIXES+=("$pfx")
    # stdbuf: line-buffered stdout, so the periodic stats reach the log now
    bg_start "testpmd$n" "$ns" stdbuf -oL -eL "$TESTPMD" --file-prefix "$pfx" --no-pci "$@"
    ENGINE_PID=$BG_PID
    ENGINE_LOG=$BG_LOG
    ENGINE_SOCK=""
    local deadline=$(($(now_ms) + 30000))
    while :; do
        pid_alive "$ENGINE_PID" || die "testpmd exited during startup (see $ENGINE_LOG)"
        grep -q 'packet forwarding - ports=' "$ENGINE_LOG" 2>/dev/null && break
        (($(now_ms) < deadline)) || die "testpmd did not start forwarding within 30s"
        sleep 0.2
    done
    log "testpmd up: pid $ENGINE_PID"
}

# wait_link NS IFACE [TIMEOUT_S]: until the interface exists in NS.
wait_link() {
    wait_for "ip -n '$1' link show '$2'" "${3:-15}" ||
        die "interface $2 did not appear in netns $1 within ${3:-15}s"
}

# port_mac PORT: the forwarder's own MAC of PORT, lower case.
port_mac() {
    local port=$1 mac
    if [[ $FWD == testpmd ]]; then
        mac=$(sed -n "s/^Port $port: \([0-9A-Fa-f:]\{17\}\).*/\1/p" "$ENGINE_LOG" | tail -n 1)
    else
        mac=$(json_port "$(ectl 'show port info all json')" "$port" mac)
    fi
    [[ $mac =~ ^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$ ]] || die "cannot get the MAC of port $port (got '$mac')"
    echo "${mac,,}"
}

# port_stat PORT FIELD: a counter of `show port stats all json`. With
# FWD=testpmd only rx_packets/tx_packets, parsed from the last periodic
# "NIC statistics" block in the log (needs --stats-period, lags by a period).
port_stat() {
    local port=$1 field=$2
    if [[ $FWD == testpmd ]]; then
        "$PYTHON" - "$ENGINE_LOG" "$port" "$field" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
port, field = sys.argv[2], sys.argv[3]
key = {"rx_packets": "RX-packets", "tx_packets": "TX-packets"}[field]
blocks = re.findall(r"NIC statistics for port %s\s+#+\n(.*?)#####" % port, text, re.S)
if not blocks:
    print(0)
else:
    print(re.search(key + r":\s+(\d+)", blocks[-1]).group(1))
EOF
    else
        json_port "$(ectl 'show port stats all json')" "$port" "$field"
    fi
}

# kstat NS IFACE PATH: kernel counter from `ip -s -j link show`, e.g. tx.dropped.
kstat() {
    json_get "$(ip -n "$1" -s -j link show "$2")" "0.stats64.$3"
}

# ping_received NS ARGS...: run a bounded ping in NS, print the number of
# replies received (0 when ping fails outright).
ping_received() {
    local ns=$1 out
    shift
    out=$(timeout 120 ip netns exec "$ns" ping -n -q "$@" 2>&1) || true
    echo "$out" | sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p' | head -n 1 | grep . || echo 0
    echo "$out" | grep -E 'transmitted|rtt' | indent >&2 || true
}

# stop_engine_quit: ask the engine to quit over ctl; 0 when it exits within
# 10s with status 0.
stop_engine_quit() {
    ectl quit >/dev/null 2>&1 || true
    if ! wait_pid_exit "$ENGINE_PID" 10; then
        echo "engine still running 10s after 'quit'" >&2
        return 1
    fi
    local rc=0
    wait "$ENGINE_PID" 2>/dev/null || rc=$?
    if ((rc != 0)); then
        echo "engine exited with status $rc after 'quit'" >&2
        return 1
    fi
}

ae_dump_logs() {
    local f
    for f in "${AE_LOGS[@]}"; do
        [[ -s $f ]] || continue
        echo "----- last 60 lines of $(basename "$f") -----"
        # testpmd clears the screen for its periodic stats; strip escapes
        tail -n 60 "$f" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'
        echo "----- end of $(basename "$f") -----"
    done
}

ae_cleanup() {
    local rc=$? i ns p
    set +e
    trap - EXIT ERR INT TERM HUP
    if ((rc != 0 || AE_FAIL > 0)); then
        ae_dump_logs
        echo "temp dir: $AE_TMP"
    fi
    for ((i = ${#AE_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${AE_PIDS[i]}" 5 >/dev/null 2>&1
    done
    for ((i = ${#AE_NSES[@]} - 1; i >= 0; i--)); do
        ns=${AE_NSES[i]}
        # anything else still running in our namespace (e.g. an orphan)
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null || echo "warning: could not delete netns $ns" >&2
    done
    for p in "${AE_DPDK_PREFIXES[@]}"; do
        [[ -n $p && -d /var/run/dpdk/$p ]] && rm -rf "/var/run/dpdk/${p:?}"
    done
    for p in "${AE_CLEANUP_CMDS[@]}"; do
        eval "$p" || echo "warning: cleanup '$p' failed" >&2
    done
    if [[ ${AE_KEEP_TMP:-0} == 1 ]]; then
        echo "kept temp dir $AE_TMP"
    else
        rm -rf "$AE_TMP"
    fi
    exit "$rc"
}
trap ae_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# finish: print this test's tally and exit (non-zero on any failure or when
# no check ran at all).
finish() {
    echo "== ${AE_TEST_NAME}: $AE_PASS checks ok, $AE_FAIL checks failed (FWD=$FWD)"
    if ((AE_FAIL > 0 || AE_PASS == 0)); then exit 1; fi
    exit 0
}

# start_http_engine NS CONTENT [EAL ARGS...]: the engine in cdn mode on TAP
# ae0 in NS, serving CONTENT over HTTP on port 80 and the VIP; the kernel
# side of ae0 gets HOST_IP with a route to the VIP via PORT_IP, and the VIP
# must answer ping. Uses the caller's PORT_IP, HOST_IP, VIP and AE_TMP. EAL
# args default to --no-huge -m 512 and a --file-prefix of this run's; the
# DPDK tests pass their own (--no-pci, a registered prefix). [cache] size is
# AE_CACHE_SIZE (default 512MiB).
start_http_engine() {
    local ns=$1 content=$2
    shift 2
    local eal=("$@")
    ((${#eal[@]})) || eal=(--no-huge -m 512 --file-prefix "${AE_NS_PREFIX}eng")
    cat >"$AE_TMP/node.toml" <<EOF
[node]
name = "edge-a"
[[port]]
ip = "$PORT_IP/24"
gateway = "$HOST_IP"
[anycast]
vips = ["$VIP"]
[http]
port = 80
[cache]
dir = "$content"
size = "${AE_CACHE_SIZE:-512MiB}"
EOF
    start_engine "$ns" -l 0-1 --vdev net_tap0,iface=ae0 "${eal[@]}" \
        -- --forward-mode=cdn --config "$AE_TMP/node.toml" -a
    wait_link "$ns" ae0 15
    ip -n "$ns" addr add "$HOST_IP/24" dev ae0
    ip -n "$ns" link set ae0 up
    ip -n "$ns" route add "$VIP/32" via "$PORT_IP" dev ae0
    local n
    n=$(ping_received "$ns" -c 3 -i 0.2 -W 2 "$VIP")
    check "engine answers ping on the VIP (got $n/3)" test "$n" -eq 3
}
