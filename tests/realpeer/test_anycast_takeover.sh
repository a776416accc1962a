#!/usr/bin/env bash
# Anycast takeover against real clients (issue 6): a download from the VIP
# survives the router moving the VIP's /32 from node A to node B.
#
#   client ns C: veth c0 10.0.1.2/24, default via 10.0.1.1 (Linux TCP: wget, curl)
#   router ns R: ip_forward=1; r0 10.0.1.1/24 (peer of c0)
#                TAP ae-a 10.0.2.1/24 -> engine A 10.0.2.2 (cdn mode, VIP)
#                TAP ae-b 10.0.3.1/24 -> engine B 10.0.3.2 (cdn mode, VIP)
#                TAP ag0  10.0.4.1/24 -> `anyedge get` client 10.0.4.2
#                route VIP/32 via A, then `ip route replace` via B mid-download
#   A and B share path metrics and reset notices over the peer channel
#   (UDP 7700, HMAC key), routed through R.
#
# For each client (wget, curl then `curl -C -`, anyedge get), at a bounded
# read rate so the flip lands mid-object: the object arrives byte-exact
# (sha256), the client resumed with Range, B counted rst_stray_ack and a
# resume from A's path entry, and A heard B's reset notice and no longer
# holds the connection.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping wget curl sha256sum timeout stat "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's anycast service (FWD=anyedge)"

VIP=203.0.113.10
A_IP=10.0.2.2
B_IP=10.0.3.2
GET_IP=10.0.4.2
SIZE_MIB=${AE_TAKEOVER_MIB:-200}
SIZE=$((SIZE_MIB * 1024 * 1024))
RATE_MIB=${AE_TAKEOVER_RATE_MIB:-20} # client read rate, MiB/s
FLIP_AT=$((SIZE * 3 / 10))            # move the route at 30% of the object
URL=http://$VIP/big.bin

client_behind_router

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/big.bin"
WANT=$(sha256sum <"$CONTENT/big.bin" | cut -d' ' -f1)

# node_conf NAME IP GW PEER: a site node serving the VIP from $CONTENT.
node_conf() {
    cat >"$AE_TMP/$1.toml" <<EOF
[node]
name = "$1"
[[port]]
ip = "$2/24"
gateway = "$3"
[anycast]
vips = ["$VIP"]
peers = ["$4:7700"]
listen = 7700
key = "takeover-test-key"
resume = "careful"
[http]
port = 80
[cache]
dir = "$CONTENT"
size = "256MiB"
[tcp]
send_buf = "8MiB"
EOF
}
node_conf edge-a "$A_IP" 10.0.2.1 "$B_IP"
node_conf edge-b "$B_IP" 10.0.3.1 "$A_IP"

# The two engines poll different cores (the first lcore of -l is the
# console's, the second the forwarding core).
start_engine "$R" -l 0-1 --vdev net_tap0,iface=ae-a -- --forward-mode=cdn \
    --config "$AE_TMP/edge-a.toml" -a
A_SOCK=$ENGINE_SOCK
start_engine "$R" -l 1,0 --vdev net_tap0,iface=ae-b -- --forward-mode=cdn \
    --config "$AE_TMP/edge-b.toml" -a
B_SOCK=$ENGINE_SOCK
for side in a:10.0.2.1 b:10.0.3.1; do
    dev=ae-${side%%:*}
    wait_link "$R" "$dev" 15
    ip -n "$R" addr add "${side#*:}/24" dev "$dev"
    ip -n "$R" link set "$dev" up
done
route_to "$A_IP"

n=$(ping_received "$C" -c 3 -i 0.2 -W 2 "$VIP")
check "the VIP answers ping through A (got $n/3)" test "$n" -eq 3
n=$(ping_received "$R" -c 3 -i 0.2 -W 2 "$B_IP")
check "B answers ping on its port address (got $n/3)" test "$n" -eq 3

js() { ctl "$1" 'show anycast json'; }
jv() { json_get "$(js "$1")" "$2"; }
check "A's peer channel is on" test "$(jv "$A_SOCK" channel)" = true
check "B's peer channel is on" test "$(jv "$B_SOCK" channel)" = true

# flip_when_file FILE: wait (bounded) until FILE holds FLIP_AT bytes, then
# move the VIP to B. Fails the test if the download never gets there.
flip_when_file() {
    local f=$1
    wait_for "test \$(stat -c %s '$f' 2>/dev/null || echo 0) -ge $FLIP_AT" 60 0.05 ||
        die "$f did not reach $FLIP_AT bytes within 60 s (download stalled?)"
    route_to "$B_IP"
    log "route: $VIP/32 now via B ($B_IP) at $(stat -c %s "$f") bytes"
}

# after_flip NAME BEFORE_B BEFORE_A: the per-client checks on both nodes.
after_flip() {
    local name=$1 b0=$2 a0=$3 b a
    b=$(js "$B_SOCK")
    a=$(js "$A_SOCK")
    log "$name: B show anycast: $(json_get "$b" resumes) stray=$(json_get "$b" rst_stray_ack) notices=$(json_get "$b" notices)"
    log "$name: A show anycast: notices=$(json_get "$a" notices)"
    check "$name: B answered the stray ACK with a RST (rst_stray_ack $(json_get "$b0" rst_stray_ack) -> $(json_get "$b" rst_stray_ack))" \
        test "$(json_get "$b" rst_stray_ack)" -gt "$(json_get "$b0" rst_stray_ack)"
    check "$name: B resumed the Range request from A's path entry (careful $(json_get "$b0" resumes.careful) -> $(json_get "$b" resumes.careful))" \
        test "$(json_get "$b" resumes.careful)" -gt "$(json_get "$b0" resumes.careful)"
    check "$name: B sent A a reset notice" \
        test "$(json_get "$b" notices.sent)" -gt "$(json_get "$b0" notices.sent)"
    check "$name: A received it (notices received $(json_get "$a0" notices.received) -> $(json_get "$a" notices.received), terminated by it: $(json_get "$a" notices.terminated))" \
        test "$(json_get "$a" notices.received)" -gt "$(json_get "$a0" notices.received)"
    # A's connection is gone: by the notice, or by the client's own RST to
    # A's next segment, whichever came first (both are in the issue).
    check "$name: A holds no connection from the client any more" \
        wait_for "! ctl '$A_SOCK' 'show conn json' | grep -c ESTABLISHED >/dev/null" 10 0.2
}

# begin_round NAME: the VIP on A, both nodes' counters as the baseline
# (B0, A0), and the round's output file OUT.
begin_round() {
    route_to "$A_IP"
    B0=$(js "$B_SOCK")
    A0=$(js "$A_SOCK")
    OUT=$AE_TMP/$1.out
}
sha_of() { sha256sum <"$1" | cut -d' ' -f1; }

# --- wget: resumes with Range on its own --------------------------------
begin_round wget
log "wget --limit-rate=${RATE_MIB}m $URL"
bg_start wget "$C" timeout 120 wget --progress=dot:giga --tries=10 --waitretry=1 --read-timeout=15 \
    --limit-rate="${RATE_MIB}m" -O "$OUT" "$URL"
WGET_PID=$BG_PID
flip_when_file "$OUT"
wait_pid_exit "$WGET_PID" 100 || die "wget did not finish within 100 s"
wait "$WGET_PID" && rc=0 || rc=$?
indent <"$AE_TMP/wget.log"
check "wget exited 0 (exit $rc)" test "$rc" -eq 0
check "wget's file is byte-exact (sha256)" test "$(sha_of "$OUT")" = "$WANT"
check "wget saw the reset" grep -q 'Connection reset by peer' "$AE_TMP/wget.log"
check "wget resumed with Range and got 206" grep -q '206 Partial Content' "$AE_TMP/wget.log"
after_flip wget "$B0" "$A0"
rm -f "$OUT"

# --- curl, then curl -C - ------------------------------------------------
begin_round curl
bg_start curl1 "$C" timeout 120 curl -sS --limit-rate "${RATE_MIB}M" -o "$OUT" "$URL"
CURL_PID=$BG_PID
flip_when_file "$OUT"
wait_pid_exit "$CURL_PID" 60 || die "curl did not end within 60 s of the flip"
wait "$CURL_PID" && rc=0 || rc=$?
have=$(stat -c %s "$OUT")
check "the first curl ended on the reset (exit $rc, $have of $SIZE bytes)" \
    test "$rc" -ne 0 -a "$have" -lt "$SIZE"
timeout 120 ip netns exec "$C" curl -sS -C - -o "$OUT" -D "$AE_TMP/curl2.head" "$URL" \
    >"$AE_TMP/curl2.log" 2>&1 && rc=0 || rc=$?
indent <"$AE_TMP/curl2.head"
check "curl -C - exited 0 (exit $rc)" test "$rc" -eq 0
check "curl -C - got 206 from byte $have" grep -qE "^Content-Range: bytes $have-" "$AE_TMP/curl2.head"
check "curl's file is byte-exact (sha256)" test "$(sha_of "$OUT")" = "$WANT"
after_flip curl "$B0" "$A0"
rm -f "$OUT"

# --- anyedge get: the engine's own client --------------------------------
begin_round get
bg_start get "$R" timeout 120 "$ANYEDGE" get --vdev net_tap0,iface=ag0 -- --ip "$GET_IP/24" \
    --gateway 10.0.4.1 --limit-rate "${RATE_MIB}m" -o "$OUT" -v "$URL"
GET_PID=$BG_PID
wait_link "$R" ag0 15
ip -n "$R" addr add 10.0.4.1/24 dev ag0
ip -n "$R" link set ag0 up
flip_when_file "$OUT"
wait_pid_exit "$GET_PID" 100 || die "anyedge get did not finish within 100 s"
wait "$GET_PID" && rc=0 || rc=$?
indent <"$AE_TMP/get.log"
check "anyedge get exited 0 (exit $rc)" test "$rc" -eq 0
check "anyedge get's file is byte-exact (sha256)" test "$(sha_of "$OUT")" = "$WANT"
check "anyedge get was reset and asked again with Range" grep -q 'Range: bytes=' "$AE_TMP/get.log"
after_flip "anyedge get" "$B0" "$A0"

finish
