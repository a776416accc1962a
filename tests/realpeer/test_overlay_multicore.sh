#!/usr/bin/env bash
# The overlay on a node with two polling cores (DESIGN.md section 2: each
# core owns its queues and its connections). Edge A runs two cores on a
# two-queue TAP (`-l 0-2 -- --rxq 2 --txq 2`); the kernel spreads client
# flows over the queues, and sends the replies of A's own connections to
# the queue that last sent on them.
#
#   client ns C: c0 10.0.1.2/24, default via 10.0.1.1 (curl, wget: Linux TCP)
#   origin ns O: o0 10.0.6.2/24, default via 10.0.6.1; http.server on :8080
#   router ns R: r0 10.0.1.1, ro 10.0.6.1, ip_forward=1;
#                TAP ae-a 10.0.2.1 -> edge A 10.0.2.2 (2 cores, primary, backup = B)
#                TAP ae-b 10.0.3.1 -> edge B 10.0.3.2 (backup)
#                TAP ae-g 10.0.5.1 -> gateway G 10.0.5.2 (origin 10.0.6.2:8080)
#                route VIP/32 via A; after A's SIGKILL via B
#
# Part 1, active opens from both cores: 12 curls at once fetch 12 objects
# that neither edge has; both of A's cores open pooled connections to the
# gateway at the same moment. Each core takes its own share of the local
# ports, so no two cores ever open the same 4-tuple (the gateway would see
# a SYN for a connection it already has). Checked: every body byte-exact,
# A's client connections on both cores, no overlay failure counted.
#
# Parts 2 and 3, replication from both cores: 6 rate-limited wgets of one
# cached object run through A, replicated to B. The replication channel is
# one UDP flow, so B's datagrams reach whichever core of A last sent on it;
# a core that does not own the connection a confirmation or a takeover
# notice is about hands it to the other (`overlay::handoff`). At 40% the
# route moves to B: in part 2 with A alive, so B takes the connections
# over and tells A, whose cores must each let go of their own; in part 3
# after A's SIGKILL. Checked: A's replication stays up with no backup
# timeout; every wget finishes byte-exact on its one connection and the
# client's kernel saw no reset; B took every connection over; in part 2 A
# let go of all of them (none left live) and messages were handed between
# cores.
#
# Every engine sleeps 20 us after an empty poll ([node] poll_sleep_us): five
# polling threads share this machine's cores.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip curl wget sha256sum timeout stat readlink ss "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's overlay (FWD=anyedge)"

VIP=203.0.113.10
A_IP=10.0.2.2
B_IP=10.0.3.2
KEY=multicore-test-key
NMISS=12
NWGET=6
SIZE_MIB=${AE_MULTICORE_MIB:-24}
SIZE=$((SIZE_MIB * 1024 * 1024 + 4099))
RATE_KIB=${AE_MULTICORE_RATE_KIB:-2048} # per wget: ~12 s for the object
KILL_AT=$((SIZE * 4 / 10))

client_behind_router
origin_behind_router

DOC=$AE_TMP/origin
CACHE=$AE_TMP/cache
mkdir -p "$DOC" "$CACHE"
for i in $(seq 1 "$NMISS"); do head -c $((1024 * 1024 + i * 997)) /dev/urandom >"$DOC/m$i.bin"; done
head -c "$SIZE" /dev/urandom >"$CACHE/big.bin"
sha_of() { if [[ -f $1 ]]; then sha256sum <"$1" | cut -d' ' -f1; else echo "(no file $1)"; fi; }
WANT=$(sha_of "$CACHE/big.bin")

bg_start origin "$O" "$PYTHON" -m http.server 8080 --bind 10.0.6.2 --directory "$DOC"
wait_for "ip netns exec '$O' ss -Hltn 'sport = :8080' | grep -q LISTEN" 10 0.1 || die "origin is not listening"

edge_extra() {
    printf '[overlay]\nrole = "edge"\ngateway = "10.0.5.2:7800"\n%s' "${1:+backup = \"$1\"}"
}
site_conf "$AE_TMP/edge-a.toml" edge-a "$A_IP" 10.0.2.1 "$B_IP" "$KEY" "$CACHE" "$(edge_extra "$B_IP:7700")"
site_conf "$AE_TMP/edge-b.toml" edge-b "$B_IP" 10.0.3.1 "$A_IP" "$KEY" "$CACHE" "$(edge_extra)"
sed -i 's/^\[node\]$/[node]\npoll_sleep_us = 20/' "$AE_TMP/edge-a.toml" "$AE_TMP/edge-b.toml"
cat >"$AE_TMP/gateway.toml" <<EOF
[node]
name = "gateway"
poll_sleep_us = 20
[[port]]
ip = "10.0.5.2/24"
gateway = "10.0.5.1"
[anycast]
key = "$KEY"
[overlay]
role = "gateway"
listen = 7800
origin = "10.0.6.2:8080"
EOF

# A: two polling cores (lcores 1 and 2; this machine may have only two
# cpus, so one of them is not pinned), one TAP queue each.
start_node edge-a ae-a 10.0.2.1 0-2 --rxq 2 --txq 2
A_PID=$NODE_PID
A_SOCK=$NODE_SOCK
start_node edge-b ae-b 10.0.3.1 1,0
B_SOCK=$NODE_SOCK
start_node gateway ae-g 10.0.5.1 0-1
G_SOCK=$NODE_SOCK
route_to "$A_IP"
n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the VIP answers ping through A (got $n/3)" test "$n" -eq 3
n=$(ping_received "$O" -c 3 -i 0.2 -W 2 10.0.5.2)
check "the origin reaches the gateway (got $n/3)" test "$n" -eq 3
info=$(ctl "$A_SOCK" 'show fwd stats all json' || true)
log "A fwd stats: $info"

# cores_of SOCK: the cores of the engine's client connections on the VIP
# (live and recently closed), as a sorted unique list.
cores_of() {
    ctl "$1" 'show conn json' | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
rows = d.get("conns", []) + d.get("recent", [])
print(" ".join(sorted({str(r["core"]) for r in rows if r["local"].startswith(sys.argv[1] + ":80")})))' "$VIP"
}

# --- part 1: misses on both cores at once -------------------------------------
log "$NMISS curls at once through A -> G -> origin"
CPIDS=()
for i in $(seq 1 "$NMISS"); do
    timeout 60 ip netns exec "$C" curl -sS --max-time 50 -o "$AE_TMP/m$i.out" -w '%{http_code}' \
        "http://$VIP/m$i.bin" >"$AE_TMP/m$i.code" 2>"$AE_TMP/m$i.err" &
    CPIDS+=("$!")
done
wait "${CPIDS[@]}" || true
ok=0
for i in $(seq 1 "$NMISS"); do
    if [[ $(cat "$AE_TMP/m$i.code") == 200 && $(sha_of "$AE_TMP/m$i.out") == "$(sha_of "$DOC/m$i.bin")" ]]; then
        ok=$((ok + 1))
    else
        log "m$i: code $(cat "$AE_TMP/m$i.code") $(cat "$AE_TMP/m$i.err")"
    fi
done
check "all $NMISS misses arrived byte-exact through both engines ($ok ok)" test "$ok" -eq "$NMISS"
CORES=$(cores_of "$A_SOCK")
check "A served them on both cores (cores: $CORES)" test "$CORES" = "0 1"
OA=$(ovl "$A_SOCK")
log "A show overlay edge: $(json_get "$OA" edge); failures: $(json_get "$OA" failures)"
fails=$(json_get "$OA" failures | "$PYTHON" -c 'import json,sys; print(sum(json.load(sys.stdin).values()))')
check "A counted no overlay failure (refused, reset, timeout, bad response, 5xx: $fails)" test "$fails" -eq 0

# live_on_a: A's live client connections on the VIP (not yet CLOSED).
live_on_a() {
    ctl "$A_SOCK" 'show conn json' | "$PYTHON" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin).get("conns", []) if r["local"] == sys.argv[1] + ":80"))' "$VIP"
}

# takeover_round NAME HOW: NWGET wgets through A; at 40% of every download
# the route moves to B, with A killed first (HOW=kill) or left running
# (HOW=live, then A must let go of every connection when B reports the
# takeover); every download must end byte-exact on its one connection.
takeover_round() {
    local name=$1 how=$2 i rcs=0 good=0 conns=0 s0 s1 ob0 ob1 oa oa1 cores d_reset d_open
    local wpids=()
    route_to "$A_IP"
    s0=$(tcp_snmp)
    ob0=$(ovl "$B_SOCK")
    log "$name: $NWGET wgets at ${RATE_KIB} KiB/s each of http://$VIP/big.bin, route moves at 40% ($how)"
    for i in $(seq 1 "$NWGET"); do
        rm -f "$AE_TMP/$name$i.out"
        bg_start "$name$i" "$C" timeout 120 wget --tries=1 --read-timeout=30 --progress=dot:giga \
            --limit-rate="${RATE_KIB}k" -O "$AE_TMP/$name$i.out" -o "$AE_TMP/$name$i.wlog" "http://$VIP/big.bin"
        wpids+=("$BG_PID")
        AE_LOGS+=("$AE_TMP/$name$i.wlog")
    done
    # shellcheck disable=SC2317 # called through wait_for's eval
    all_past() {
        local j
        for j in $(seq 1 "$NWGET"); do
            (($(stat -c %s "$AE_TMP/$name$j.out" 2>/dev/null || echo 0) >= KILL_AT)) || return 1
        done
    }
    wait_for all_past 60 0.05 || die "$name: the downloads did not all reach $KILL_AT bytes within 60 s"
    oa=$(ovl "$A_SOCK") || die "A does not answer 'show overlay json' mid-download"
    cores=$(cores_of "$A_SOCK")
    if [[ $how == kill ]]; then
        kill -KILL "$A_PID" || die "cannot SIGKILL engine A (pid $A_PID)"
    fi
    route_to "$B_IP"
    log "$name: route moved to B (A $how); A replication before: $(json_get "$oa" replication)"
    check "$name: the downloads ran on both of A's cores (cores: $cores)" test "$cores" = "0 1"
    check "$name: A's replication was up (state $(rv "$oa" state), backup_timeouts $(rv "$oa" backup_timeouts))" \
        test "$(rv "$oa" state)" = up -a "$(rv "$oa" backup_timeouts)" -eq 0
    for i in $(seq 1 "$NWGET"); do
        wait_pid_exit "${wpids[i - 1]}" 100 || die "$name: wget $i did not finish within 100 s"
        wait "${wpids[i - 1]}" || rcs=$((rcs + 1))
    done
    s1=$(tcp_snmp)
    log "$name: client TCP before: $s0; after: $s1"
    check "$name: every wget exited 0 ($rcs failed)" test "$rcs" -eq 0
    for i in $(seq 1 "$NWGET"); do
        [[ $(sha_of "$AE_TMP/$name$i.out") == "$WANT" ]] && good=$((good + 1))
        conns=$((conns + $(grep -c 'Connecting to' "$AE_TMP/$name$i.wlog" || true)))
    done
    check "$name: every file is byte-exact ($good of $NWGET)" test "$good" -eq "$NWGET"
    check "$name: one connection per wget ($conns 'Connecting to' lines for $NWGET)" test "$conns" -eq "$NWGET"
    check "$name: no wget retried or resumed" sh -c "! grep -lE 'Retrying|Partial Content|206 |Connection reset' $AE_TMP/$name*.wlog"
    d_reset=$(($(snmp_field "$s1" EstabResets) - $(snmp_field "$s0" EstabResets)))
    d_open=$(($(snmp_field "$s1" ActiveOpens) - $(snmp_field "$s0" ActiveOpens)))
    check "$name: the client's kernel opened $NWGET connections and saw no reset (ActiveOpens +$d_open, EstabResets +$d_reset)" \
        test "$d_open" -eq "$NWGET" -a "$d_reset" -eq 0
    ob1=$(ovl "$B_SOCK")
    check "$name: B took over all $NWGET connections (takeovers $(rv "$ob0" takeovers) -> $(rv "$ob1" takeovers))" \
        test $(($(rv "$ob1" takeovers) - $(rv "$ob0" takeovers))) -eq "$NWGET"
    if [[ $how == live ]]; then
        # Each core forgets its own connections when B's notice (Taken)
        # reaches it, whichever core the datagram came in on.
        oa1=$(ovl "$A_SOCK")
        log "$name: A replication after: $(json_get "$oa1" replication)"
        check "$name: A let go of all $NWGET (taken_over $(rv "$oa" taken_over) -> $(rv "$oa1" taken_over))" \
            test $(($(rv "$oa1" taken_over) - $(rv "$oa" taken_over))) -eq "$NWGET"
        check "$name: A holds no client connection any more ($(live_on_a) live)" test "$(live_on_a)" -eq 0
        check "$name: confirmations and notices reached their core through handoffs (handoffs $(rv "$oa1" handoffs), lost $(rv "$oa1" handoffs_lost))" \
            test "$(rv "$oa1" handoffs)" -ge 1
    fi
}

# --- part 2: the route moves while A is alive -------------------------------
takeover_round live live
# ARP reaches one of A's queues; the other core must still find the
# gateway's MAC (the node's neighbour board), or its records are dropped.
noarp=$(json_get "$(ctl "$A_SOCK" 'show anycast json')" peer.no_arp)
check "A dropped no peer datagram for want of ARP on either core (no_arp $noarp)" test "$noarp" -eq 0
# --- part 3: A dies ------------------------------------------------------------
takeover_round kill kill
check "gateway still running" ctl "$G_SOCK" 'show overlay json'

finish
