#!/usr/bin/env bash
# bench/overlay, replication part (issue 7): HTTP throughput through an edge
# with replicated client connections ON and OFF, in the same run, and the
# ACK delay the output commit adds (p50/p99).
#
# Topology and configs are those of tests/realpeer/test_overlay_replica.sh:
#
#   client ns C: veth c0 10.0.1.2/24, default via 10.0.1.1 (wrk, curl)
#   router ns R: ip_forward=1; r0 10.0.1.1/24 (peer of c0)
#                TAP ae-a 10.0.2.1/24 -> engine A 10.0.2.2, the primary
#                TAP ae-b 10.0.3.1/24 -> engine B 10.0.3.2, the backup
#                route VIP 203.0.113.10/32 via A
#   Both engines serve the VIP from the same content dir, are anycast peers
#   of each other (UDP 7700, HMAC key) and overlay edges (every request is a
#   hit: the gateway 10.0.9.9:7800 is never used). In ON rounds A also has
#   `[overlay] backup = "10.0.3.2:7700"`: every HTTP client connection is
#   replicated to B over the peer channel (A -> TAP -> router -> TAP -> B),
#   and A acknowledges client bytes and sends responses only once B
#   confirmed the record covering them (output commit). OFF rounds run the
#   very same two engines without that one line.
#
# Pinning (2-core machine): A `-l 0-1` (console thread on cpu 0, its polling
# core on cpu 1); wrk `taskset -c 0 wrk -t1 -c64`, as in bench/http. B has to
# share: `-l 1,0` (console on cpu 1, polling core on cpu 0, with wrk), as in
# the test. Polling cores busy-poll, so B takes about half of cpu 0 from wrk
# and the client's kernel TCP in BOTH modes; the TAPs' and the router's
# kernel work runs on whichever cpu writes the frame. The figures are per
# polling core of A ("per core"), but the client side is not idle, see the
# "polling core busy" column.
#
# B_POLL_SLEEP_US=N gives B `[node] poll_sleep_us = N`: it then sleeps
# after each empty poll instead of spinning, as a backup on its own machine
# would leave the client's cpu alone. With it, wrk gets cpu 0 to itself in
# OFF rounds and A's own polling core becomes the limit in both modes, so
# the ratio shows what replication costs the primary (bench/RESULTS.md has
# both setups).
#
# Rows: (1) 1 KiB object, keep-alive, requests/s; (2) 1 MiB object,
# keep-alive, Gbps (wrk's Transfer/sec, headers included, binary prefixes as
# bench/http). Per row, rounds alternate OFF, ON, OFF, ON, ... (ROUNDS of
# each). Every round starts both engines fresh, pings the VIP, checks one
# response with curl byte for byte, runs wrk for SECS seconds, reads the
# counters 1 s after wrk ended, and stops both engines.
#
# wrk runs with `--timeout 10s` (WRK_TIMEOUT) instead of its 2 s default:
# 64 connections share the path, so a 1 MiB response takes ~0.1 s on
# average on a quiet machine (~6 Gbps) and ~0.3 s on a loaded one
# (~1.7 Gbps), where the slowest passed 2 s with replication OFF too (a
# first run: 4 of 6 1 MiB rounds failed that way, 2 of them OFF), which says
# nothing about replication. A response slower than 10 s still fails the
# round.
#
# The figures depend heavily on other load on the machine (the backup's
# polling core shares a cpu, and gets descheduled past the 10 ms record
# retry interval when builds run). bench/RESULTS.md has runs made in a
# quiet window at `nice -n -15 bash bench/overlay-repl.sh 8 5`.
#
# A round counts only when:
#   - wrk exited 0, completed requests, and reported no socket errors
#     (connect, read, write, timeout) and no non-2xx/3xx response;
#   - ON: A's `show overlay json` says replication state "up" after wrk,
#     records_confirmed grew, and backup_timeouts, unreplicated and too_big
#     did not (otherwise part of the run was served without replication and
#     would flatter the ON figure);
#   - OFF: replication state "off" and no record sent.
# Any other round is reported with its reason (and wrk's output), left out
# of the medians, and the script exits 1 after the summary line.
#
# Output: a line per round, then Markdown tables (throughput ON/OFF with
# ratio and the rounds; ACK delay p50/p99 medians of the ON rounds; wrk's
# latency and the engines' busy share) and, last, the line
#   overlay-repl: ratio=X.XX (worst row: ...)
#
# Usage (root): bash bench/overlay-repl.sh [SECS [ROUNDS]]   (default 8 3)
# Needs the release engine (cargo build --release -p anyedge-tools), wrk,
# curl, taskset, iproute2, python3. Env: ANYEDGE (engine binary),
# A_LCORES (0-1), B_LCORES (1,0), WRK_CPU (0), CONNS (64), WRK_TIMEOUT (10),
# OVERLAY_REPL_ROWS ("1k 1m").
. "$(dirname "$0")/../tests/realpeer/lib.sh"

SECS=${1:-${OVERLAY_REPL_SECS:-8}}
ROUNDS=${2:-${OVERLAY_REPL_ROUNDS:-3}}
A_LCORES=${A_LCORES:-0-1}
B_LCORES=${B_LCORES:-1,0}
WRK_CPU=${WRK_CPU:-0}
CONNS=${CONNS:-64}
B_POLL_SLEEP_US=${B_POLL_SLEEP_US:-0}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
ROWS_SEL=${OVERLAY_REPL_ROWS:-1k 1m}
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 1 ]] || die "SECS must be a positive integer, not '$SECS'"
[[ $WRK_TIMEOUT =~ ^[0-9]+$ && $WRK_TIMEOUT -ge 1 ]] || die "WRK_TIMEOUT must be a positive integer, not '$WRK_TIMEOUT'"
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"

require_root
require_cmd ip ping curl wrk taskset timeout cmp "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this benchmark needs the engine's overlay replication (FWD=anyedge)"
if ldd "$ANYEDGE" 2>/dev/null | grep -c librte_eal >/dev/null; then
    die "$ANYEDGE is the DPDK build; this benchmark uses the software TAP port (cargo build --release -p anyedge-tools)"
fi

# The summary line is printed after lib.sh's cleanup (which may print its
# temp dir on a failed run), so that it stays the last line.
SUMMARY_LAST=""
overlay_repl_exit() {
    local rc=$?
    set +e
    trap - ERR
    (exit "$rc")
    (ae_cleanup)
    [[ -n $SUMMARY_LAST ]] && echo "$SUMMARY_LAST"
    exit "$rc"
}
trap overlay_repl_exit EXIT

VIP=203.0.113.10
A_IP=10.0.2.2
B_IP=10.0.3.2
BACKUP="$B_IP:7700"
COMMAND="bash bench/overlay-repl.sh $SECS $ROUNDS"
[[ $CONNS == 64 ]] || COMMAND="CONNS=$CONNS $COMMAND"
((B_POLL_SLEEP_US == 0)) || COMMAND="B_POLL_SLEEP_US=$B_POLL_SLEEP_US $COMMAND"
[[ $B_LCORES == 1,0 ]] || COMMAND="B_LCORES=$B_LCORES $COMMAND"
[[ $ROWS_SEL == "1k 1m" ]] || COMMAND="OVERLAY_REPL_ROWS='$ROWS_SEL' $COMMAND"
RES=$AE_TMP/rounds.jsonl
: >"$RES"

log "engine $ANYEDGE ($(stat -c %y "$ANYEDGE" | cut -d. -f1)), repo at $(git -C "$AE_REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
log "$(nproc) cpus; A -l $A_LCORES, B -l $B_LCORES, wrk on cpu $WRK_CPU; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the network, once for the whole run (engines come and go per round) --
client_behind_router

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c 1024 /dev/urandom >"$CONTENT/1k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$CONTENT/1m.bin"

# node_conf NAME IP GW PEER [BACKUP]: the test's site node (overlay edge,
# anycast peer with a key); with BACKUP, a primary replicating to it. [tcp]
# as bench/http (default buffers), since objects are not replicated.
node_conf() {
    site_conf "$AE_TMP/$1.toml" "$1" "$2" "$3" "$4" replica-test-key "$CONTENT" \
        "$(printf '[tcp]\nmax_conns = 4096\n[overlay]\nrole = "edge"\ngateway = "10.0.9.9:7800"\n%s' \
            "${5:+backup = \"$5\"}")"
    if [[ $1 == edge-b ]] && ((B_POLL_SLEEP_US > 0)); then
        sed -i "/^name = /a poll_sleep_us = $B_POLL_SLEEP_US" "$AE_TMP/$1.toml"
    fi
}

# start_node NAME IFACE ROUTER_IP LCORES SOCK: the engine on TAP IFACE in R;
# gives the router side ROUTER_IP. Sets NODE_PID, NODE_LOG.
start_node() {
    local name=$1 dev=$2 rip=$3 lcores=$4 sock=$5
    rm -f "$sock"
    start_engine "$R" -l "$lcores" --vdev "net_tap0,iface=$dev" -- --forward-mode=cdn \
        --config "$AE_TMP/$name.toml" -a --ctl-socket "$sock"
    NODE_PID=$ENGINE_PID
    NODE_LOG=$ENGINE_LOG
    wait_link "$R" "$dev" 15
    ip -n "$R" addr add "$rip/24" dev "$dev"
    ip -n "$R" link set "$dev" up
}

# stop_node PID SOCK IFACE: quit over ctl (SIGTERM/SIGKILL after 10 s), then
# wait until its TAP is gone so the next round can create it again.
stop_node() {
    local pid=$1 sock=$2 dev=$3
    ctl "$sock" quit >/dev/null 2>&1 || true
    if ! wait_pid_exit "$pid" 10; then
        echo "warning: engine pid $pid still running 10 s after 'quit'" >&2
        stop_pid "$pid" 5 || true
    fi
    wait "$pid" 2>/dev/null || true
    wait_for "! ip -n '$R' link show '$dev'" 10 0.1 ||
        die "TAP $dev still exists in $R 10 s after its engine exited"
}

# prune_pids: forget the processes that are gone (pid_max is small: a
# recycled pid must not be killed by the EXIT trap) and their logs.
prune_pids() {
    local i pids=() names=()
    for ((i = 0; i < ${#AE_PIDS[@]}; i++)); do
        if pid_alive "${AE_PIDS[i]}"; then
            pids+=("${AE_PIDS[i]}")
            names+=("${AE_PID_NAMES[i]}")
        fi
    done
    AE_PIDS=("${pids[@]}")
    AE_PID_NAMES=("${names[@]}")
    AE_LOGS=()
}

# snapshot FILE SOCK_A SOCK_B: A's and B's counters, and the client's kernel
# TCP counters, as one JSON object.
snapshot() {
    local f=$1 sa=$2 sb=$3
    {
        echo '{"a_overlay":'"$(ctl "$sa" 'show overlay json')"','
        echo '"a_http":'"$(ctl "$sa" 'show http json')"','
        echo '"a_fwd":'"$(ctl "$sa" 'show fwd stats all json')"','
        echo '"a_drops":'"$(ctl "$sa" 'show drops json')"','
        echo '"a_conn":'"$(ctl "$sa" 'show conn json')"','
        echo '"b_overlay":'"$(ctl "$sb" 'show overlay json')"','
        echo '"b_fwd":'"$(ctl "$sb" 'show fwd stats all json')"','
        echo '"c_snmp":'"$(ip netns exec "$C" cat /proc/net/snmp | "$PYTHON" -c '
import json, sys
rows = [l.split() for l in sys.stdin if l.startswith("Tcp:")]
print(json.dumps(dict(zip(rows[0][1:], map(int, rows[1][1:])))))')"'}'
    } >"$f"
}

# fetch_check URL FILE: curl from C, up to 15 s, until 200 and byte-exact.
fetch_check() {
    local url=$1 want=$2 out=$AE_TMP/check.bin code deadline
    deadline=$(($(now_ms) + 15000))
    while :; do
        rm -f "$out"
        code=$(timeout 15 ip netns exec "$C" curl -sS --max-time 5 -o "$out" -w '%{http_code}' "$url" 2>>"$AE_TMP/curl.err") || code="curl failed ($code)"
        if [[ $code == 200 ]] && cmp -s "$out" "$want"; then return 0; fi
        if (($(now_ms) >= deadline)); then
            FETCH_ERR="GET $url: status '$code', $(stat -c %s "$out" 2>/dev/null || echo 0) bytes (want $(stat -c %s "$want")), $(tail -n 1 "$AE_TMP/curl.err" 2>/dev/null)"
            return 1
        fi
        sleep 0.2
    done
}

# round ROW_NAME UNIT FILE MODE N: one measured round; appends a JSON line
# to $RES.
round() {
    local row=$1 unit=$2 file=$3 mode=$4 n=$5 tag
    tag="r$n-$mode"
    local sa=$AE_TMP/$tag-a.sock sb=$AE_TMP/$tag-b.sock
    local wlog=$AE_TMP/$tag-wrk.log problem=""
    if [[ $mode == on ]]; then
        node_conf edge-a "$A_IP" 10.0.2.1 "$B_IP" "$BACKUP"
    else
        node_conf edge-a "$A_IP" 10.0.2.1 "$B_IP"
    fi
    node_conf edge-b "$B_IP" 10.0.3.1 "$A_IP"
    # B first, so that A's first records find their backup.
    start_node edge-b ae-b 10.0.3.1 "$B_LCORES" "$sb"
    local b_pid=$NODE_PID b_log=$NODE_LOG
    start_node edge-a ae-a 10.0.2.1 "$A_LCORES" "$sa"
    local a_pid=$NODE_PID a_log=$NODE_LOG
    ip -n "$R" route replace "$VIP/32" via "$A_IP"
    local np
    np=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP" 2>/dev/null)
    [[ $np -ge 1 ]] || problem="the VIP does not answer ping through A ($np/3)"
    if [[ -z $problem ]] && ! fetch_check "http://$VIP/$file" "$CONTENT/$file"; then
        problem="curl check failed: $FETCH_ERR"
    fi
    local wrc=0
    LOADAVG=""
    : >"$wlog"
    if [[ -z $problem ]]; then
        snapshot "$AE_TMP/$tag-0.json" "$sa" "$sb" || problem="cannot read the engines' counters before wrk"
    fi
    if [[ -z $problem ]]; then
        LOADAVG=$(cut -d' ' -f1 /proc/loadavg)
        log "round $n $mode, $row (load average $LOADAVG): taskset -c $WRK_CPU wrk -t1 -c$CONNS -d${SECS}s --timeout ${WRK_TIMEOUT}s --latency http://$VIP/$file"
        timeout $((SECS + WRK_TIMEOUT + 30)) ip netns exec "$C" taskset -c "$WRK_CPU" \
            wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout "${WRK_TIMEOUT}s" --latency "http://$VIP/$file" >"$wlog" 2>&1 && wrc=0 || wrc=$?
        sleep 1
        snapshot "$AE_TMP/$tag-1.json" "$sa" "$sb" || problem="cannot read the engines' counters after wrk"
    fi
    pid_alive "$a_pid" || problem="${problem:+$problem; }engine A died during the round"
    pid_alive "$b_pid" || problem="${problem:+$problem; }engine B died during the round"
    # The round's verdict and figures (Python: wrk's output and the counters).
    "$PYTHON" - "$row" "$unit" "$mode" "$n" "$wrc" "$problem" "$wlog" \
        "$AE_TMP/$tag-0.json" "$AE_TMP/$tag-1.json" "$LOADAVG" >>"$RES" <<'EOF'
import json, re, sys
row, unit, mode, n, wrc, problem, wlog, f0, f1, load = sys.argv[1:]
probs = [problem] if problem else []
text = open(wlog, errors="replace").read()
def t_us(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", s)
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}[m.group(2)] if m else None
def b_rate(s):
    m = re.fullmatch(r"([\d.]+)([KMGTP]?)B", s)
    return float(m.group(1)) * 1024 ** " KMGTP".index(m.group(2) or " ") if m else None
r = {"row": row, "unit": unit, "mode": mode, "round": int(n), "load": load}
if not problem:
    if wrc != "0":
        probs.append("wrk exited %s" % wrc)
    m = re.search(r"(\d+) requests in", text)
    req = int(m.group(1)) if m else 0
    se = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    n2 = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    tps = re.search(r"Transfer/sec:\s+(\S+)", text)
    lat = {p: t_us(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
    if req == 0:
        probs.append("no request completed")
    if se and any(int(x) for x in se.groups()):
        probs.append("socket errors: connect %s, read %s, write %s, timeout %s" % se.groups())
    if n2 and int(n2.group(1)) > 0:
        probs.append("%s non-2xx/3xx responses" % n2.group(1))
    if not (rps and tps):
        probs.append("no Requests/sec or Transfer/sec in wrk's output")
    else:
        r["rps"] = float(rps.group(1))
        r["gbps"] = b_rate(tps.group(1)) * 8 / 1e9
        r["value"] = r["gbps"] if unit == "Gbps" else r["rps"]
    r["wrk_requests"] = req
    r["lat_p50_us"], r["lat_p99_us"] = lat.get("50"), lat.get("99")
    try:
        a, b = json.load(open(f0)), json.load(open(f1))
    except Exception as e:
        probs.append("counters unreadable: %s" % e)
        a = b = None
    if a and b:
        def g(v, path):
            for k in path.split("."):
                v = v[int(k)] if isinstance(v, list) else v.get(k, 0) if isinstance(v, dict) else 0
            return v
        d = lambda path: g(b, path) - g(a, path)
        rep1 = b["a_overlay"]["replication"]
        rep0 = a["a_overlay"]["replication"]
        keys = ["records_sent", "datagrams", "records_confirmed", "record_retries", "backup_timeouts",
                "too_big", "unreplicated", "taken_over"]
        r["repl"] = {k: d("a_overlay.replication." + k) for k in keys}
        r["repl"]["state"] = rep1.get("state")
        r["repl"]["state_before"] = rep0.get("state")
        r["repl"]["b_records_stored"] = d("b_overlay.replication.records_stored")
        r["repl"]["b_takeovers"] = d("b_overlay.replication.takeovers")
        r["repl"]["b_malformed"] = d("b_overlay.replication.malformed")
        ad = rep1.get("ack_delay_us", {})
        r["ack_p50_us"], r["ack_p99_us"], r["ack_count"] = ad.get("p50"), ad.get("p99"), ad.get("count")
        def busy(key):
            bz = al = 0
            for i, c in enumerate(b[key].get("cores", [])):
                x = c["busy_ns"] - a[key]["cores"][i]["busy_ns"]
                bz += x
                al += x + c["idle_ns"] - a[key]["cores"][i]["idle_ns"]
            return round(100.0 * bz / al, 1) if al else None
        r["a_busy_pct"], r["b_busy_pct"] = busy("a_fwd"), busy("b_fwd")
        r["a_200"] = d("a_http.status.200")
        r["a_requests"] = d("a_http.requests")
        r["a_drops"] = d("a_drops.total")
        r["a_drop_reasons"] = {k: d("a_drops.drops." + k) for k in b["a_drops"].get("drops", {}) if d("a_drops.drops." + k)}
        for k in ("rx_dropped", "rx_nombuf", "tx_dropped"):
            if d("a_drops.ports.0." + k):
                r["a_drop_reasons"]["port_" + k] = d("a_drops.ports.0." + k)
        r["a_rst_sent"] = d("a_conn.table.rst_sent")
        r["c_retrans"] = d("c_snmp.RetransSegs")
        r["c_estab_resets"] = d("c_snmp.EstabResets")
        if mode == "on":
            if rep1.get("state") != "up":
                probs.append("replication state '%s' after wrk, not 'up'" % rep1.get("state"))
            if r["repl"]["records_confirmed"] <= 0:
                probs.append("no record confirmed during wrk")
            for k in ("backup_timeouts", "unreplicated", "too_big"):
                if r["repl"][k] > 0:
                    probs.append("%s +%d (part of the run was not replicated)" % (k, r["repl"][k]))
        else:
            if rep1.get("state") != "off" or r["repl"]["records_sent"] != 0:
                probs.append("OFF round replicates (state %s, records_sent +%d)" % (rep1.get("state"), r["repl"]["records_sent"]))
r["ok"] = not probs
r["problem"] = "; ".join(probs)
print(json.dumps(r))
EOF
    local last
    last=$(tail -n 1 "$RES")
    "$PYTHON" - "$last" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
f = lambda x, p="%.0f": "-" if x is None else p % x
v = r.get("value")
s = "  round %d %-3s %-16s %s %s" % (r["round"], r["mode"].upper(), r["row"], f(v, "%.2f"), r["unit"])
if "wrk_requests" in r:
    s += " | wrk %s req, p50 %s us p99 %s us" % (r["wrk_requests"], f(r.get("lat_p50_us")), f(r.get("lat_p99_us")))
if "repl" in r:
    x = r["repl"]
    s += " | A busy %s%%, B busy %s%%" % (f(r.get("a_busy_pct"), "%.1f"), f(r.get("b_busy_pct"), "%.1f"))
    if r["mode"] == "on":
        s += " | repl %s: sent %d in %d datagrams, confirmed %d retries %d timeouts %d unrepl %d too_big %d, B stored %d | ACK delay p50 %s us p99 %s us (%s samples)" % (
            x["state"], x["records_sent"], x["datagrams"], x["records_confirmed"], x["record_retries"], x["backup_timeouts"],
            x["unreplicated"], x["too_big"], x["b_records_stored"], f(r.get("ack_p50_us")), f(r.get("ack_p99_us")), r.get("ack_count"))
    s += " | A: %d x 200, drops %d %s, rst %d; client retrans %d | load %s" % (r["a_200"], r["a_drops"], r.get("a_drop_reasons") or "", r["a_rst_sent"], r["c_retrans"], r["load"])
print(s)
if not r["ok"]:
    print("  FAILED round %d %s %s: %s" % (r["round"], r["mode"].upper(), r["row"], r["problem"]))
EOF
    if ! "$PYTHON" -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["ok"] else 1)' "$last"; then
        echo "    ----- wrk output -----"
        indent <"$wlog"
        echo "    ----- last 20 lines of A's log -----"
        tail -n 20 "$a_log" | indent
        echo "    ----- last 20 lines of B's log -----"
        tail -n 20 "$b_log" | indent
    fi
    stop_node "$a_pid" "$sa" ae-a
    stop_node "$b_pid" "$sb" ae-b
    prune_pids
}

ROWS=()
for r in $ROWS_SEL; do
    case $r in
        1k) ROWS+=("1 KiB keep-alive|req/s|1k.bin") ;;
        1m) ROWS+=("1 MiB keep-alive|Gbps|1m.bin") ;;
        *) die "OVERLAY_REPL_ROWS: unknown row '$r' (1k, 1m)" ;;
    esac
done
for spec in "${ROWS[@]}"; do
    IFS='|' read -r row unit file <<<"$spec"
    echo "--- $row ($unit): $ROUNDS rounds OFF and ON, alternating, wrk ${SECS}s each ---"
    for ((i = 1; i <= ROUNDS; i++)); do
        round "$row" "$unit" "$file" off "$i"
        round "$row" "$unit" "$file" on "$i"
    done
done

# --- summary -----------------------------------------------------------------
SUMMARY=$("$PYTHON" - "$RES" "$COMMAND" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
command = sys.argv[2]
def med(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
f = lambda x, p="%.2f": "-" if x is None else p % x
rows = []
for r in rs:
    if r["row"] not in [x[0] for x in rows]:
        rows.append((r["row"], r["unit"]))
ok = [r for r in rs if r["ok"]]
bad = [r for r in rs if not r["ok"]]
print()
print("| row | replication ON | replication OFF | ratio ON/OFF | rounds (ON / OFF) |")
print("|---|---|---|---|---|")
ratios = []
for name, unit in rows:
    on = [r["value"] for r in ok if r["row"] == name and r["mode"] == "on"]
    off = [r["value"] for r in ok if r["row"] == name and r["mode"] == "off"]
    mon, moff = med(on), med(off)
    ratio = mon / moff if mon is not None and moff else None
    if ratio is not None:
        ratios.append((ratio, name))
    print("| %s | %s %s | %s %s | %s | %s / %s |" % (
        name, f(mon), unit, f(moff), unit, f(ratio),
        " ".join("%.2f" % x for x in on) or "-", " ".join("%.2f" % x for x in off) or "-"))
print()
print("| row | ACK delay p50 (ON) | ACK delay p99 (ON) | samples per round | records sent / retried per round (ON) |")
print("|---|---|---|---|---|")
for name, unit in rows:
    on = [r for r in ok if r["row"] == name and r["mode"] == "on"]
    print("| %s | %s µs | %s µs | %s | %s / %s |" % (
        name, f(med([r.get("ack_p50_us") for r in on]), "%.0f"), f(med([r.get("ack_p99_us") for r in on]), "%.0f"),
        f(med([r.get("ack_count") for r in on]), "%.0f"),
        f(med([r["repl"]["records_sent"] for r in on]), "%.0f"), f(med([r["repl"]["record_retries"] for r in on]), "%.0f")))
print()
print("| row | wrk p50 ON / OFF | wrk p99 ON / OFF | A polling core busy ON / OFF | B polling core busy ON / OFF |")
print("|---|---|---|---|---|")
for name, unit in rows:
    on = [r for r in ok if r["row"] == name and r["mode"] == "on"]
    off = [r for r in ok if r["row"] == name and r["mode"] == "off"]
    m = lambda rr, k: med([r.get(k) for r in rr])
    print("| %s | %s / %s µs | %s / %s µs | %s / %s %% | %s / %s %% |" % (
        name, f(m(on, "lat_p50_us"), "%.0f"), f(m(off, "lat_p50_us"), "%.0f"),
        f(m(on, "lat_p99_us"), "%.0f"), f(m(off, "lat_p99_us"), "%.0f"),
        f(m(on, "a_busy_pct"), "%.0f"), f(m(off, "a_busy_pct"), "%.0f"),
        f(m(on, "b_busy_pct"), "%.0f"), f(m(off, "b_busy_pct"), "%.0f")))
print()
if bad:
    print("%d failed round(s), left out of the medians:" % len(bad))
    for r in bad:
        print("  round %d %s %s: %s" % (r["round"], r["mode"].upper(), r["row"], r["problem"]))
print("command: %s" % command)
if ratios:
    w = min(ratios)
    print("overlay-repl: ratio=%.2f (worst row: %s)" % w)
else:
    print("overlay-repl: ratio=0.00 (worst row: none measured)")
sys.exit(1 if bad or len(ratios) < len(rows) else 0)
EOF
) && src=0 || src=$?
printf '%s\n' "$SUMMARY" | sed '$d'
SUMMARY_LAST=$(printf '%s\n' "$SUMMARY" | tail -n 1)
exit "$src"
