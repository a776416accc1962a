#!/usr/bin/env bash
# Replicated client connections against a real client (issue 7, item 3): a
# wget download from a primary/backup pair survives the primary's SIGKILL on
# the SAME TCP connection: no RST, no new handshake, no Range request.
#
#   client ns C: veth c0 10.0.1.2/24, default via 10.0.1.1 (Linux TCP: wget, curl)
#   router ns R: ip_forward=1; r0 10.0.1.1/24 (peer of c0)
#                TAP ae-a 10.0.2.1/24 -> engine A 10.0.2.2, the primary
#                TAP ae-b 10.0.3.1/24 -> engine B 10.0.3.2, the backup
#                route VIP/32 via A; after A's SIGKILL `ip route replace` via B
#   Both serve VIP 203.0.113.10 from the same content dir, both are anycast
#   peers of each other (UDP 7700, HMAC key), both are overlay edges (every
#   request is a hit, so the gateway 10.0.9.9:7800 is never used). A has
#   [overlay] backup = B's peer-channel address: its replication records
#   travel on the authenticated peer channel, and B keeps them as standby.
#
# Part 1, takeover: wget (--tries=1) at a bounded rate; at 40% of the object
# A's console says replication is up with confirmed records and B holds
# standby state; A is SIGKILLed and the route moves to B. wget ends with
# status 0, the right sha256, one connection, one 200 and no retry/Range;
# the client's kernel opened one TCP connection and saw no reset; B counted
# a takeover and sent no RST to a stray ACK.
#
# Part 2, the backup is gone: B is killed, A starts again with the same
# backup line, and curl downloads through A: it completes (the primary goes
# on without replication) and A's `show overlay` says state "down" with a
# backup timeout.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping wget curl sha256sum timeout stat readlink "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's overlay replication (FWD=anyedge)"

VIP=203.0.113.10
A_IP=10.0.2.2
B_IP=10.0.3.2
SIZE_MIB=${AE_REPLICA_MIB:-150}
SIZE=$((SIZE_MIB * 1024 * 1024))
RATE_MIB=${AE_REPLICA_RATE_MIB:-15} # client read rate, MiB/s: ~10 s for the object
KILL_AT=$((SIZE * 4 / 10))           # SIGKILL the primary at 40% of the object
SMALL_SIZE=$((8 * 1024 * 1024 + 13))
URL=http://$VIP/big.bin

client_behind_router

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/big.bin"
head -c "$SMALL_SIZE" /dev/urandom >"$CONTENT/small.bin"
sha_of() { if [[ -f $1 ]]; then sha256sum <"$1" | cut -d' ' -f1; else echo "(no file $1)"; fi; }
WANT=$(sha_of "$CONTENT/big.bin")
WANT_SMALL=$(sha_of "$CONTENT/small.bin")

# node_conf NAME IP GW PEER [BACKUP]: a site node serving the VIP from
# $CONTENT, an overlay edge; with BACKUP, a primary replicating to it.
node_conf() {
    site_conf "$AE_TMP/$1.toml" "$1" "$2" "$3" "$4" replica-test-key "$CONTENT" \
        "$(printf '[tcp]\nsend_buf = "8MiB"\n[overlay]\nrole = "edge"\ngateway = "10.0.9.9:7800"\n%s' \
            "${5:+backup = \"$5\"}")"
}
node_conf edge-a "$A_IP" 10.0.2.1 "$B_IP" "$B_IP:7700"
node_conf edge-b "$B_IP" 10.0.3.1 "$A_IP"

# The two engines poll different cores (the first lcore of -l is the
# console's, the second the forwarding core).
start_node edge-a ae-a 10.0.2.1 0-1
A_PID=$NODE_PID
A_SOCK=$NODE_SOCK
start_node edge-b ae-b 10.0.3.1 1,0
B_PID=$NODE_PID
B_SOCK=$NODE_SOCK
route_to "$A_IP"

n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the VIP answers ping through A (got $n/3)" test "$n" -eq 3
n=$(ping_received "$R" -c 3 -i 0.2 -W 2 "$B_IP")
check "B answers ping on its port address (got $n/3)" test "$n" -eq 3

any() { ctl "$1" 'show anycast json'; }
check "A's peer channel is on" test "$(json_get "$(any "$A_SOCK")" channel)" = true
check "B's peer channel is on" test "$(json_get "$(any "$B_SOCK")" channel)" = true
OA=$(ovl "$A_SOCK") || die "A does not answer 'show overlay json'"
log "A show overlay replication: $(json_get "$OA" replication)"
check "A replicates to B's peer-channel address (replication.backup = $(rv "$OA" backup))" \
    test "$(rv "$OA" backup)" = "$B_IP:7700"

# --- part 1: the primary dies at 40%, the backup carries on ----------------
OUT=$AE_TMP/big.out
WLOG=$AE_TMP/wget-client.log
S0=$(tcp_snmp)
YB0=$(any "$B_SOCK")
OB0=$(ovl "$B_SOCK")
log "client TCP before: $S0"
log "wget --tries=1 --limit-rate=${RATE_MIB}m $URL"
bg_start wget "$C" timeout 120 wget --tries=1 --read-timeout=30 --progress=dot:giga \
    --limit-rate="${RATE_MIB}m" -O "$OUT" -o "$WLOG" "$URL"
WGET_PID=$BG_PID
AE_LOGS+=("$WLOG")
wait_for "test \$(stat -c %s '$OUT' 2>/dev/null || echo 0) -ge $KILL_AT" 60 0.05 ||
    die "$OUT did not reach $KILL_AT bytes within 60 s (download stalled? wget: $(tail -n 3 "$WLOG" 2>/dev/null | tr '\n' ' '))"

# Just before the kill: replication is up on A, B holds the connection.
OA=$(ovl "$A_SOCK") || die "A does not answer 'show overlay json' mid-download"
OB=$(ovl "$B_SOCK") || die "B does not answer 'show overlay json' mid-download"
# SIGKILL the primary, then move the route: the client's next segment
# (a window update as wget reads on) goes to B.
kill -KILL "$A_PID" || die "cannot SIGKILL engine A (pid $A_PID): it died before the kill?"
route_to "$B_IP"
log "A (pid $A_PID) SIGKILLed and $VIP/32 moved to B at $(stat -c %s "$OUT") of $SIZE bytes"
log "A show overlay replication before the kill: $(json_get "$OA" replication)"
log "B show overlay replication before the kill: $(json_get "$OB" replication)"
check "A's replication was up before the kill (state $(rv "$OA" state))" test "$(rv "$OA" state)" = up
check "B confirmed A's records (records_confirmed $(rv "$OA" records_confirmed) of $(rv "$OA" records_sent) sent)" \
    test "$(rv "$OA" records_confirmed)" -ge 1
check "B held standby state for the connection (standby $(rv "$OB" standby))" \
    test "$(rv "$OB" standby)" -ge 1
wait_pid_exit "$A_PID" 10 || die "engine A (pid $A_PID) still alive 10 s after SIGKILL"

wait_pid_exit "$WGET_PID" 100 || die "wget did not finish within 100 s of the start"
wait "$WGET_PID" && rc=0 || rc=$?
S1=$(tcp_snmp)
log "client TCP after: $S1"
log "wget log:"
indent <"$WLOG"
check "wget exited 0 (exit $rc)" test "$rc" -eq 0
check "wget's file is complete ($(stat -c %s "$OUT" 2>/dev/null || echo 0) of $SIZE bytes)" \
    test "$(stat -c %s "$OUT" 2>/dev/null || echo 0)" -eq "$SIZE"
check "wget's file is byte-exact (sha256)" test "$(sha_of "$OUT")" = "$WANT"
check_one_connection "$WLOG" "$S0" "$S1"

OB1=$(ovl "$B_SOCK") || die "B does not answer 'show overlay json' after the takeover"
YB1=$(any "$B_SOCK") || die "B does not answer 'show anycast json' after the takeover"
log "B show overlay replication after: $(json_get "$OB1" replication)"
log "B show anycast after: rst_stray_ack=$(json_get "$YB1" rst_stray_ack) rst_sent=$(json_get "$YB1" rst_sent) resumes=$(json_get "$YB1" resumes)"
check "B took the connection over (takeovers $(rv "$OB0" takeovers) -> $(rv "$OB1" takeovers))" \
    test "$(rv "$OB1" takeovers)" -ge 1 -a "$(rv "$OB1" takeovers)" -gt "$(rv "$OB0" takeovers)"
check "B found the standby record it needed (takeover_missing $(rv "$OB0" takeover_missing) -> $(rv "$OB1" takeover_missing))" \
    test "$(rv "$OB1" takeover_missing)" -eq "$(rv "$OB0" takeover_missing)"
check "B sent no RST to a stray ACK: it did not reset the client (rst_stray_ack $(json_get "$YB0" rst_stray_ack) -> $(json_get "$YB1" rst_stray_ack))" \
    test "$(json_get "$YB1" rst_stray_ack)" -eq "$(json_get "$YB0" rst_stray_ack)"
check "B sent no RST at all (rst_sent $(json_get "$YB0" rst_sent) -> $(json_get "$YB1" rst_sent))" \
    test "$(json_get "$YB1" rst_sent)" -eq "$(json_get "$YB0" rst_sent)"
rm -f "$OUT"

# --- part 2: the backup is gone, the primary goes on without it ------------
kill -KILL "$B_PID" || die "cannot SIGKILL engine B (pid $B_PID): it died before part 2?"
wait_pid_exit "$B_PID" 10 || die "engine B (pid $B_PID) still alive 10 s after SIGKILL"
log "B (pid $B_PID) SIGKILLed; starting A again with backup = $B_IP:7700"
start_node edge-a ae-a 10.0.2.1 0-1
A_PID=$NODE_PID
A_SOCK=$NODE_SOCK
route_to "$A_IP"
n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the VIP answers ping through the restarted A (got $n/3)" test "$n" -eq 3
OA0=$(ovl "$A_SOCK") || die "the restarted A does not answer 'show overlay json'"
log "A show overlay replication before the download: $(json_get "$OA0" replication)"

# curl_small NAME: download small.bin through A; sets RC, SECS.
curl_small() {
    local t0 s0
    t0=$(now_ms)
    s0=$(tcp_snmp)
    timeout 90 ip netns exec "$C" curl -sS --max-time 60 -o "$AE_TMP/$1.out" \
        -w 'connect %{time_connect}s, first byte %{time_starttransfer}s, total %{time_total}s, %{size_download} bytes\n' \
        "http://$VIP/small.bin" >"$AE_TMP/$1.log" 2>&1 && RC=0 || RC=$?
    SECS=$(((($(now_ms) - t0) + 50) / 100))
    SECS="$((SECS / 10)).$((SECS % 10))"
    log "$1: curl exit $RC in ${SECS}s; client TCP before: $s0; after: $(tcp_snmp)"
    indent <"$AE_TMP/$1.log"
}
curl_small curl1
check "curl through A with its backup gone exited 0 (exit $RC, ${SECS}s)" test "$RC" -eq 0
check "its file is byte-exact (sha256)" test "$(sha_of "$AE_TMP/curl1.out")" = "$WANT_SMALL"
# The backup is declared down after a bounded silence (200 ms in the
# engine), then nothing waits for it: 8 MiB over a local TAP stays far
# below this bound unless the primary stalls on its dead backup.
check "the primary did not stall on its dead backup (${SECS}s < 5s)" test "${SECS%.*}" -lt 5
OA1=$(ovl "$A_SOCK") || die "A does not answer 'show overlay json' after the download"
log "A show overlay replication after the download: $(json_get "$OA1" replication)"
check "A says its backup is down (state $(rv "$OA1" state))" test "$(rv "$OA1" state)" = down
check "A counted the backup timeout (backup_timeouts $(rv "$OA1" backup_timeouts))" \
    test "$(rv "$OA1" backup_timeouts)" -ge 1
# Once down, A does not wait for the backup at all: a second download is
# not held by the output commit (bounded well below the 60 s curl limit).
curl_small curl2
check "a second curl with the backup down exited 0 (exit $RC, ${SECS}s)" test "$RC" -eq 0
check "its file is byte-exact (sha256)" test "$(sha_of "$AE_TMP/curl2.out")" = "$WANT_SMALL"
check "and it was not stalled by replication (${SECS}s < 10s)" test "${SECS%.*}" -lt 10
OA2=$(ovl "$A_SOCK") || die "A does not answer 'show overlay json'"
log "A show overlay replication at the end: $(json_get "$OA2" replication)"
check "A still says down (state $(rv "$OA2" state))" test "$(rv "$OA2" state)" = down

finish
