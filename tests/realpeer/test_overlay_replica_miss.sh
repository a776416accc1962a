#!/usr/bin/env bash
# Replicated connections for objects the primary relayed (issue 7, item 3):
# the object is not in either edge's cache; edge A fetches it from the
# origin (Python's http.server) through the gateway engine G and serves
# wget; the backup B, which lacks it, fetches it from its own gateway
# (`overlay::refill`) so that it can carry the connection on. wget never
# notices the primary's SIGKILL.
#
#   client ns C: c0 10.0.1.2/24, default via 10.0.1.1 (wget: Linux TCP)
#   origin ns O: o0 10.0.6.2/24, default via 10.0.6.1; http.server on :8080
#   router ns R: r0 10.0.1.1, ro 10.0.6.1, ip_forward=1;
#                TAP ae-a 10.0.2.1 -> edge A 10.0.2.2 (primary, backup = B)
#                TAP ae-b 10.0.3.1 -> edge B 10.0.3.2 (backup)
#                TAP ae-g 10.0.5.1 -> gateway G 10.0.5.2 (listen 7800,
#                origin 10.0.6.2:8080)
#                route VIP/32 via A; after A's SIGKILL via B
#   A and B: VIP 203.0.113.10, empty caches, [overlay] role = edge with
#   gateway G, anycast peers of each other (one key).
#
# Part 1, prefetch: the first record of A's response tells B the object;
# B fetches it from G ahead of the failure. A is SIGKILLed at 40% and the
# route moves: wget ends with the right sha256 on one connection (one
# request, one 200, no reset in the client's kernel counters); B counted a
# takeover and a prefetch, and no takeover_missing.
#
# Part 2, refetch: A starts again (an empty cache: another miss). B has the
# object from part 1, so it does not prefetch; at 40% A is killed, B's copy
# is purged (`cache purge`), and the route moves. B continues the
# connection, fetches the object again from G, checks it is the same
# (strong ETag) and finishes: one connection again, takeover_fetches + 1.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping wget sha256sum timeout stat readlink ss "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's overlay replication (FWD=anyedge)"

VIP=203.0.113.10
A_IP=10.0.2.2
B_IP=10.0.3.2
G_IP=10.0.5.2
SIZE_MIB=${AE_REPLICA_MISS_MIB:-64}
SIZE=$((SIZE_MIB * 1024 * 1024 + 4099))
RATE_MIB=${AE_REPLICA_RATE_MIB:-12}
KILL_AT=$((SIZE * 4 / 10))
URL=http://$VIP/big.bin

client_behind_router
origin_behind_router

DOC=$AE_TMP/origin
mkdir -p "$DOC" "$AE_TMP/cache-a" "$AE_TMP/cache-b"
head -c "$SIZE" /dev/urandom >"$DOC/big.bin"
sha_of() { if [[ -f $1 ]]; then sha256sum <"$1" | cut -d' ' -f1; else echo "(no file $1)"; fi; }
WANT=$(sha_of "$DOC/big.bin")
bg_start origin "$O" "$PYTHON" -m http.server 8080 --bind 10.0.6.2 --directory "$DOC"
ORIGIN_LOG=$BG_LOG
wait_for "ip netns exec '$O' ss -Hltn 'sport = :8080' | grep -q LISTEN" 10 0.1 || die "origin is not listening"
# Requests for the object the origin has answered (http.server logs each).
origin_gets() { grep -c 'GET /big.bin' "$ORIGIN_LOG" || true; }

# edge_conf NAME IP GW PEER [BACKUP]: an edge with an empty cache of its own.
edge_conf() {
    site_conf "$AE_TMP/$1.toml" "$1" "$2" "$3" "$4" replica-miss-key "$AE_TMP/cache-${1#edge-}" \
        "$(printf '[tcp]\nsend_buf = "8MiB"\n[overlay]\nrole = "edge"\ngateway = "%s:7800"\n%s' \
            "$G_IP" "${5:+backup = \"$5\"}")"
}
edge_conf edge-a "$A_IP" 10.0.2.1 "$B_IP" "$B_IP:7700"
edge_conf edge-b "$B_IP" 10.0.3.1 "$A_IP"
cat >"$AE_TMP/gateway.toml" <<EOF
[node]
name = "gateway"
[[port]]
ip = "$G_IP/24"
gateway = "10.0.5.1"
[anycast]
key = "replica-miss-key"
[overlay]
role = "gateway"
listen = 7800
origin = "10.0.6.2:8080"
EOF

# Three polling engines share the two cores.
start_node gateway ae-g 10.0.5.1 0-1
G_SOCK=$NODE_SOCK
start_node edge-a ae-a 10.0.2.1 1,0
A_PID=$NODE_PID
A_SOCK=$NODE_SOCK
start_node edge-b ae-b 10.0.3.1 0-1
B_PID=$NODE_PID
B_SOCK=$NODE_SOCK
route_to "$A_IP"
n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the VIP answers ping through A (got $n/3)" test "$n" -eq 3
n=$(ping_received "$O" -c 3 -i 0.2 -W 2 "$G_IP")
check "the origin reaches the gateway (got $n/3)" test "$n" -eq 3

cached() { json_get "$(ctl "$1" 'show cache json')" count; }
check "A and B start with empty caches" test "$(cached "$A_SOCK")" -eq 0 -a "$(cached "$B_SOCK")" -eq 0

# takeover_run NAME PURGE: wget from A at a bounded rate; at 40% A is
# SIGKILLed (and with PURGE=1 B's copy purged) and the route moves to B.
# Checks the download and its single connection; leaves B's overlay JSON
# from before and after in OB0/OB1.
takeover_run() {
    local name=$1 purge=$2 out=$AE_TMP/$1.out wlog=$AE_TMP/$1-wget.log s0 s1 rc reply
    s0=$(tcp_snmp)
    OB0=$(ovl "$B_SOCK") || die "B does not answer 'show overlay json'"
    bg_start "$name-wget" "$C" timeout 150 wget --tries=1 --read-timeout=60 --progress=dot:giga \
        --limit-rate="${RATE_MIB}m" -O "$out" -o "$wlog" "$URL"
    local wget_pid=$BG_PID
    AE_LOGS+=("$wlog")
    wait_for "test \$(stat -c %s '$out' 2>/dev/null || echo 0) -ge $KILL_AT" 90 0.05 ||
        die "$name: $out did not reach $KILL_AT bytes within 90 s (wget: $(tail -n 3 "$wlog" 2>/dev/null | tr '\n' ' '))"
    OA=$(ovl "$A_SOCK") || die "A does not answer 'show overlay json' mid-download"
    kill -KILL "$A_PID" || die "cannot SIGKILL engine A (pid $A_PID)"
    if ((purge)); then
        reply=$(ctl "$B_SOCK" 'cache purge /big.bin')
        log "$name: B 'cache purge /big.bin': $reply"
        check "$name: B's copy was purged at the kill ($reply)" test "$reply" = "purged /big.bin"
    fi
    route_to "$B_IP"
    log "$name: A SIGKILLed and $VIP/32 moved to B at $(stat -c %s "$out") of $SIZE bytes"
    log "$name: A replication before the kill: $(json_get "$OA" replication)"
    check "$name: A's replication was up before the kill (state $(rv "$OA" state))" test "$(rv "$OA" state)" = up
    wait_pid_exit "$A_PID" 10 || die "engine A (pid $A_PID) still alive 10 s after SIGKILL"
    wait_pid_exit "$wget_pid" 140 || die "$name: wget did not finish"
    wait "$wget_pid" && rc=0 || rc=$?
    s1=$(tcp_snmp)
    indent <"$wlog"
    check "$name: wget exited 0 (exit $rc)" test "$rc" -eq 0
    check "$name: wget's file is byte-exact (sha256)" test "$(sha_of "$out")" = "$WANT"
    check_one_connection "$wlog" "$s0" "$s1"
    OB1=$(ovl "$B_SOCK") || die "B does not answer 'show overlay json' after the takeover"
    log "$name: B replication after: $(json_get "$OB1" replication)"
    check "$name: B took the connection over (takeovers $(rv "$OB0" takeovers) -> $(rv "$OB1" takeovers))" \
        test "$(rv "$OB1" takeovers)" -gt "$(rv "$OB0" takeovers)"
    check "$name: B could continue it (takeover_missing $(rv "$OB0" takeover_missing) -> $(rv "$OB1" takeover_missing))" \
        test "$(rv "$OB1" takeover_missing)" -eq "$(rv "$OB0" takeover_missing)"
    rm -f "$out"
}

# --- part 1: B prefetches what A relays --------------------------------------
# (No RST reached the client: check_one_connection reads the client
# kernel's EstabResets. B's own RST counter also counts answers to stray
# segments of its gateway connections, so it is not checked here.)
takeover_run prefetch 0
check "prefetch: B fetched the object ahead of the failure (prefetches $(rv "$OB1" prefetches))" \
    test "$(rv "$OB1" prefetches)" -ge 1
check "prefetch: B has the object in its cache now" test "$(cached "$B_SOCK")" -eq 1
# A's miss and B's prefetch (a GET retried on a broken pooled connection
# would add one: GET is idempotent, RFC 9110 9.2.2).
g1=$(origin_gets)
check "prefetch: the origin served A's miss and B's prefetch (got $g1 requests)" test "$g1" -ge 2

# --- part 2: B's copy is purged at the kill and fetched again ---------------
start_node edge-a ae-a 10.0.2.1 1,0
A_PID=$NODE_PID
A_SOCK=$NODE_SOCK
route_to "$A_IP"
n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the VIP answers ping through the restarted A (got $n/3)" test "$n" -eq 3
takeover_run refetch 1
check "refetch: B waited for its own fetch (takeover_fetches $(rv "$OB0" takeover_fetches) -> $(rv "$OB1" takeover_fetches))" \
    test "$(rv "$OB1" takeover_fetches)" -eq $(($(rv "$OB0" takeover_fetches) + 1))
check "refetch: B did not prefetch what it had (prefetches $(rv "$OB0" prefetches) -> $(rv "$OB1" prefetches))" \
    test "$(rv "$OB1" prefetches)" -eq "$(rv "$OB0" prefetches)"
g2=$(origin_gets)
check "refetch: the origin served A's new miss and B's refetch (gets $g1 -> $g2)" test "$g2" -ge $((g1 + 2))
log "gateway: $(json_get "$(ovl "$G_SOCK")" gateway_relay)"

finish
