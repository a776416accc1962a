#!/usr/bin/env bash
# Loss recovery against Linux receivers: RACK-TLP (RFC 8985), SACK recovery
# with PRR (RFC 6937), and the D-SACKs Linux sends.
#
# netns HOST: the engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the VIP
# 203.0.113.10 and serves a content directory over HTTP. The kernel has no
# netem, so nftables in HOST drops a share of the engine's segments on their
# way into the client sockets (`tcp sport 80 numgen random mod 100 < N`,
# LOSS_PCT, default 3): Linux receives with holes and answers with SACK
# blocks, as behind a lossy access link.
#
# 1. wget fetches a 32 MiB object (AE_TCP_LOSS_MIB): the sha256 must match,
#    and the engine's row of the connection must show the repair it did:
#    retransmits > 0 and bytes RACK marked lost > 0, with SACK on.
# 2. curl fetches a 30 KB object 150 times on one keep-alive connection.
#    Each response ends in a tail; with 3% loss some of them lose their last
#    segments, which only a tail loss probe (or an RTO) repairs. Every
#    transfer must complete with the right size, and the engine's row must
#    show tail loss probes sent (tlp_probes > 0).
# Both runs have a time bound (timeout), so a stalled recovery fails them.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping wget curl sha256sum timeout nft "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's TCP (FWD=anyedge)"

CONN=$AE_LIB_DIR/tcp_conn.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
LOSS_PCT=${LOSS_PCT:-3}
SIZE_MIB=${AE_TCP_LOSS_MIB:-32}
SIZE=$((SIZE_MIB * 1024 * 1024))
SMALL=30000
ROUNDS=150

new_ns HOST host

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT"
head -c "$SIZE" /dev/urandom >"$CONTENT/big.bin"
head -c "$SMALL" /dev/urandom >"$CONTENT/small.bin"
WANT=$(sha256sum "$CONTENT/big.bin" | cut -d' ' -f1)

start_http_engine "$HOST" "$CONTENT"

# Loss only after the set-up (ping, the cache check): the engine's segments
# to the client sockets, both runs.
ip netns exec "$HOST" nft -f - <<EOF
table inet loss {
    chain in {
        type filter hook input priority 0; policy accept;
        tcp sport 80 numgen random mod 100 < $LOSS_PCT counter drop
    }
}
EOF
dropped() { ip netns exec "$HOST" nft list table inet loss | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
log "nftables in $HOST drops $LOSS_PCT% of the engine's segments to the client"

# --- 1. bulk ---------------------------------------------------------------
log "wget $SIZE_MIB MiB with $LOSS_PCT% loss"
t0=$(now_ms)
timeout 120 ip netns exec "$HOST" wget -nv --tries=1 --timeout=30 \
    -O "$AE_TMP/out" "http://$VIP/big.bin" >"$AE_TMP/wget.log" 2>&1 && rc=0 || rc=$?
ms=$(($(now_ms) - t0))
indent <"$AE_TMP/wget.log"
check "wget exited 0 under loss (exit $rc, ${ms} ms)" test "$rc" -eq 0
got=$(sha256sum "$AE_TMP/out" 2>/dev/null | cut -d' ' -f1 || true)
check "downloaded $(stat -c %s "$AE_TMP/out" 2>/dev/null || echo 0) bytes, sha256 matches" test "$got" = "$WANT"
log "segments dropped so far: $(dropped)"
# shellcheck disable=SC2317 # called through wait_for's eval
find_bulk() { ectl 'show conn json' | "$PYTHON" "$CONN" find --in recent --local "$VIP:80"; }
wait_for find_bulk 10 0.2 || true
row=$(find_bulk || echo '{}')
echo "    engine row: $row"
check "the engine lists the closed download in 'recent'" test "$row" != '{}'
if [[ $row != '{}' ]]; then
    check "SACK was on" test "$(json_get "$row" sack)" = true
    rtx=$(json_get "$row" retransmits)
    lost=$(json_get "$row" rack_lost)
    to=$(json_get "$row" timeouts)
    check "the engine repaired the holes: retransmits $rtx > 0" test "$rtx" -gt 0
    check "RACK marked lost bytes: rack_lost $lost > 0 (timeouts $to)" test "$lost" -gt 0
fi

# --- 2. many tails on one keep-alive connection ---------------------------
args=()
for _ in $(seq "$ROUNDS"); do args+=(-o /dev/null "http://$VIP/small.bin"); done
log "curl: $ROUNDS x $SMALL B on one connection with $LOSS_PCT% loss"
t0=$(now_ms)
timeout 120 ip netns exec "$HOST" curl -s --max-time 100 -w '%{http_code} %{size_download} %{num_connects}\n' \
    "${args[@]}" >"$AE_TMP/curl.out" 2>"$AE_TMP/curl.err" && rc=0 || rc=$?
ms=$(($(now_ms) - t0))
indent <"$AE_TMP/curl.err"
ok=$(grep -c "^200 $SMALL " "$AE_TMP/curl.out" || true)
conns=$(awk '{s += $3} END {print s + 0}' "$AE_TMP/curl.out")
check "curl exited 0 (exit $rc, ${ms} ms)" test "$rc" -eq 0
check "$ok of $ROUNDS responses complete (200, $SMALL bytes)" test "$ok" -eq "$ROUNDS"
check "one connection for all of them ($conns opened)" test "$conns" -eq 1
log "segments dropped in all: $(dropped)"
# shellcheck disable=SC2317 # called through wait_for's eval
find_small() {
    ectl 'show conn json' | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
rows = [r for r in d["recent"] if r["local"] == sys.argv[1] and r["bytes_out"] >= int(sys.argv[2])]
rows = [r for r in rows if r["bytes_out"] < int(sys.argv[3])]
print(json.dumps(rows[-1])) if rows else sys.exit(1)' "$VIP:80" $((ROUNDS * SMALL)) "$SIZE"
}
wait_for find_small 10 0.2 || true
row=$(find_small || echo '{}')
echo "    engine row: $row"
check "the engine lists the closed keep-alive connection in 'recent'" test "$row" != '{}'
if [[ $row != '{}' ]]; then
    tlp=$(json_get "$row" tlp_probes)
    check "tail loss probes sent: tlp_probes $tlp > 0 (timeouts $(json_get "$row" timeouts), retransmits $(json_get "$row" retransmits))" \
        test "$tlp" -gt 0
fi

ip netns exec "$HOST" nft delete table inet loss
check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
