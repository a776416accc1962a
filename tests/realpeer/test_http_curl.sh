#!/usr/bin/env bash
# HTTP/1.1 from the cache (RFC 9110, RFC 9112): curl and raw sockets against
# the engine's HTTP service.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the anycast VIP
# 203.0.113.10, [http] port 80 and [cache] dir = a content directory holding
# a/b.bin (1 MiB random), index.html and t.txt; the kernel side of ae0 is
# 10.0.2.1/24 with a route to the VIP via 10.0.2.2. Every request goes to the
# VIP.
#
# Checked: full GET (sha256, the header fields, Content-Type by extension),
# HEAD (same fields, no body), the three range forms (RFC 9110 14.1.2) against
# byte slices of the file, a multipart/byteranges answer parsed part by part
# (RFC 9110 14.6), coalescing of overlapping and adjacent ranges, 416 with
# `Content-Range: bytes */LEN`, If-Range (match 206, mismatch 200),
# If-None-Match (304), `curl -C -` resuming a half download, keep-alive reuse,
# three pipelined requests in one write, and the refusals: 400 (bad syntax,
# no Host, a body, traversal), 404, 405 with Allow, 414, 431 (too large, too
# many fields), 501, 505. Finally `show http json` counted all of them.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping curl sha256sum dd timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's HTTP service (FWD=anyedge)"

HC=$AE_LIB_DIR/http_client.py
CONN=$AE_LIB_DIR/tcp_conn.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
URL=http://$VIP
SIZE=$((1024 * 1024))

new_ns HOST host

CONTENT=$AE_TMP/content
mkdir -p "$CONTENT/a"
head -c "$SIZE" /dev/urandom >"$CONTENT/a/b.bin"
printf '<!doctype html>\n<title>anyedge</title>\n<p>hello from the edge</p>\n' >"$CONTENT/index.html"
printf 'small text object\n' >"$CONTENT/t.txt"
BIN=$CONTENT/a/b.bin
WANT=$(sha256sum "$BIN" | cut -d' ' -f1)

start_http_engine "$HOST" "$CONTENT"

T=$AE_TMP/http
mkdir -p "$T"

# hc CURL_ARGS...: curl in HOST, bounded.
hc() { timeout 30 ip netns exec "$HOST" curl -sS --max-time 20 "$@"; }
# raw SEND [ARGS...]: http_client.py raw against the VIP, prints its JSON.
raw() {
    local send=$1
    shift
    timeout 30 ip netns exec "$HOST" "$PYTHON" "$HC" raw --dst "$VIP" --send "$send" "$@" || true
}
# hget FILE NAME: the value of header NAME in the last head of a curl -D file.
hget() {
    tr -d '\r' <"$1" | awk -v want="${2,,}" '
        /^$/ { fresh = 1; next }
        fresh { n = 0; fresh = 0; delete h }
        { n++; i = index($0, ":"); if (n > 1 && i > 0) { k = tolower(substr($0, 1, i - 1)); if (!(k in h)) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); h[k] = v } } }
        END { if (want in h) print h[want] }'
}
# slice FILE FIRST COUNT: bytes FIRST..FIRST+COUNT-1 of FILE.
slice() { dd if="$1" of=/dev/stdout iflag=skip_bytes,count_bytes bs=65536 skip="$2" count="$3" status=none; }
# shellcheck disable=SC2317 # called through check
same() { cmp -s "$1" "$2"; }
# expect DESC GOT WANT
expect() { check "$1 (got '$2', want '$3')" test "$2" = "$3"; }

cache=$(ectl 'show cache json')
ETAG=$("$PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
print([o for o in d["objects"] if o["key"] == "a/b.bin"][0]["etag"])' "$cache")
log "cache: $(json_get "$cache" count) objects, a/b.bin etag $ETAG"
check "cache holds the 3 objects" test "$(json_get "$cache" count)" = 3
HTTP0=$(ectl 'show http json')

# --- full GET ----------------------------------------------------------------
log "GET $URL/a/b.bin"
code=$(hc -o "$T/full" -D "$T/full.h" -w '%{http_code}' "$URL/a/b.bin") || code="curl failed $?"
indent <"$T/full.h"
expect "GET /a/b.bin: status" "$code" 200
expect "GET /a/b.bin: sha256 of the body" "$(sha256sum <"$T/full" | cut -d' ' -f1)" "$WANT"
for h in Date Server Content-Type Content-Length ETag Last-Modified Accept-Ranges Connection; do
    check "GET /a/b.bin: header $h present" test -n "$(hget "$T/full.h" "$h")"
done
expect "GET /a/b.bin: Content-Length" "$(hget "$T/full.h" Content-Length)" "$SIZE"
expect "GET /a/b.bin: Content-Type" "$(hget "$T/full.h" Content-Type)" application/octet-stream
expect "GET /a/b.bin: Accept-Ranges" "$(hget "$T/full.h" Accept-Ranges)" bytes
expect "GET /a/b.bin: ETag is the cache's strong tag" "$(hget "$T/full.h" ETag)" "$ETAG"
check "ETag is strong and quoted ($ETAG)" grep -Eq '^"[!#-~]+"$' <<<"$ETAG"
expect "GET /a/b.bin: Connection (HTTP/1.1 default)" "$(hget "$T/full.h" Connection)" keep-alive
lm=$(hget "$T/full.h" Last-Modified)
check "Last-Modified '$lm' is an IMF-fixdate equal to the file's mtime" "$PYTHON" -c '
import email.utils, os, sys, re
v = sys.argv[1]
assert re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT", v), v
sys.exit(0 if int(email.utils.parsedate_to_datetime(v).timestamp()) == int(os.stat(sys.argv[2]).st_mtime) else 1)' "$lm" "$BIN"
d=$(hget "$T/full.h" Date)
check "Date '$d' is an IMF-fixdate within 60 s of now" "$PYTHON" -c '
import email.utils, sys, time
sys.exit(0 if abs(email.utils.parsedate_to_datetime(sys.argv[1]).timestamp() - time.time()) < 60 else 1)' "$d"

code=$(hc -o "$T/index" -D "$T/index.h" -w '%{http_code}' "$URL/index.html") || code="curl failed $?"
expect "GET /index.html: status" "$code" 200
check "GET /index.html: body identical" same "$T/index" "$CONTENT/index.html"
ct=$(hget "$T/index.h" Content-Type)
check "GET /index.html: Content-Type text/html (got '$ct')" grep -Eq '^text/html(;|$)' <<<"$ct"
code=$(hc -o "$T/t" -D "$T/t.h" -w '%{http_code}' "$URL/t.txt") || code="curl failed $?"
expect "GET /t.txt: status" "$code" 200
check "GET /t.txt: body identical" same "$T/t" "$CONTENT/t.txt"
check "GET /t.txt: Content-Type text/plain ($(hget "$T/t.h" Content-Type))" grep -Eq '^text/plain' <<<"$(hget "$T/t.h" Content-Type)"

# --- HEAD --------------------------------------------------------------------
code=$(hc -I -o "$T/head.h" -w '%{http_code}' "$URL/a/b.bin") || code="curl failed $?"
expect "HEAD /a/b.bin (curl -I): status" "$code" 200
expect "HEAD /a/b.bin: Content-Length is the GET length" "$(hget "$T/head.h" Content-Length)" "$SIZE"
for h in Date Server Content-Type ETag Last-Modified Accept-Ranges Connection; do
    check "HEAD /a/b.bin: header $h present" test -n "$(hget "$T/head.h" "$h")"
done
expect "HEAD /a/b.bin: ETag" "$(hget "$T/head.h" ETag)" "$ETAG"
out=$(raw 'HEAD /a/b.bin HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n')
echo "    $out"
expect "HEAD (raw socket, Connection: close): status" "$(json_get "$out" status)" 200
expect "HEAD: no body bytes before the server closes" "$(json_get "$out" after_head_bytes)/$(json_get "$out" closed)" "0/true"
expect "HEAD: Content-Length" "$(json_get "$out" headers.content-length)" "$SIZE"

# --- ranges (RFC 9110 14.1.2) ------------------------------------------------
# range SPEC FIRST LAST: a single-range GET must be 206 with exactly those bytes.
range() {
    local spec=$1 first=$2 last=$3 code cr
    code=$(hc -o "$T/r" -D "$T/r.h" -w '%{http_code}' -H "Range: $spec" "$URL/a/b.bin") || code="curl failed $?"
    cr=$(hget "$T/r.h" Content-Range)
    slice "$BIN" "$first" $((last - first + 1)) >"$T/r.want"
    expect "Range: $spec -> status" "$code" 206
    expect "Range: $spec -> Content-Range" "$cr" "bytes $first-$last/$SIZE"
    expect "Range: $spec -> Content-Length" "$(hget "$T/r.h" Content-Length)" $((last - first + 1))
    check "Range: $spec -> the bytes $first-$last of the file" same "$T/r" "$T/r.want"
}
range "bytes=100-199" 100 199
range "bytes=0-0" 0 0
range "bytes=1048000-" 1048000 $((SIZE - 1))
range "bytes=-500" $((SIZE - 500)) $((SIZE - 1))
range "bytes=1048000-9999999" 1048000 $((SIZE - 1))
range "bytes=-9999999" 0 $((SIZE - 1))
range "bytes=0-9,5-19" 0 19     # overlapping: coalesced into one part
range "bytes=0-9,10-19" 0 19    # adjacent: coalesced too

# several ranges -> multipart/byteranges
code=$(hc -o "$T/mp" -D "$T/mp.h" -w '%{http_code}' -H "Range: bytes=0-99,1000-1999,-100" "$URL/a/b.bin") || code="curl failed $?"
expect "Range: bytes=0-99,1000-1999,-100 -> status" "$code" 206
out=$("$PYTHON" "$HC" multipart --headers "$T/mp.h" --body "$T/mp" --file "$BIN" \
    --expect "0-99,1000-1999,$((SIZE - 100))-$((SIZE - 1))") && rc=0 || rc=$?
echo "    $out"
check "multipart/byteranges: 3 parts with the right Content-Range and bytes" test "$rc" -eq 0
# overlapping and adjacent ranges are coalesced (RFC 9110 15.3.7.2 MAY)
code=$(hc -o "$T/mp2" -D "$T/mp2.h" -w '%{http_code}' -H "Range: bytes=10-20,15-30,5000-5099,5100-5199" "$URL/a/b.bin") || code="curl failed $?"
out=$("$PYTHON" "$HC" multipart --headers "$T/mp2.h" --body "$T/mp2" --file "$BIN" --expect "10-30,5000-5199") && rc=0 || rc=$?
echo "    $out"
check "multipart: bytes=10-20,15-30,5000-5099,5100-5199 -> parts 10-30 and 5000-5199 (status $code)" test "$rc" -eq 0
# RFC 9110 15.3.7.2: "A server that generates a multipart response SHOULD send
# the parts in the same order that the corresponding range-spec appeared in
# the received Range header field, excluding those ranges that were deemed
# unsatisfiable or that were coalesced into other ranges."
code=$(hc -o "$T/mp3" -D "$T/mp3.h" -w '%{http_code}' -H "Range: bytes=5000-5099,10-20" "$URL/a/b.bin") || code="curl failed $?"
out=$("$PYTHON" "$HC" multipart --headers "$T/mp3.h" --body "$T/mp3" --file "$BIN" --expect "5000-5099,10-20") && rc=0 || rc=$?
echo "    $out"
check "multipart: bytes=5000-5099,10-20 -> parts in the order asked, 5000-5099 then 10-20 (RFC 9110 15.3.7.2; status $code)" test "$rc" -eq 0

# unsatisfiable
rm -f "$T/u"
code=$(hc -o "$T/u" -D "$T/u.h" -w '%{http_code}' -H "Range: bytes=2000000-" "$URL/a/b.bin") || code="curl failed $?"
expect "Range: bytes=2000000- -> status" "$code" 416
expect "416: Content-Range" "$(hget "$T/u.h" Content-Range)" "bytes */$SIZE"
expect "416: no body" "$(stat -c %s "$T/u" 2>/dev/null || echo 0)" 0

# --- conditionals --------------------------------------------------------------
code=$(hc -o "$T/ir" -D "$T/ir.h" -w '%{http_code}' -H "Range: bytes=0-99" -H "If-Range: $ETAG" "$URL/a/b.bin") || code="curl failed $?"
slice "$BIN" 0 100 >"$T/ir.want"
expect "If-Range with the current ETag -> status" "$code" 206
check "If-Range match: bytes 0-99" same "$T/ir" "$T/ir.want"
code=$(hc -o "$T/irm" -D "$T/irm.h" -w '%{http_code}' -H "Range: bytes=0-99" -H 'If-Range: "not-the-etag"' "$URL/a/b.bin") || code="curl failed $?"
expect "If-Range with another ETag -> status (full)" "$code" 200
expect "If-Range mismatch: the whole object" "$(sha256sum <"$T/irm" | cut -d' ' -f1)" "$WANT"
rm -f "$T/inm"
code=$(hc -o "$T/inm" -D "$T/inm.h" -w '%{http_code}' -H "If-None-Match: $ETAG" "$URL/a/b.bin") || code="curl failed $?"
expect "If-None-Match with the current ETag -> status" "$code" 304
expect "304: no body" "$(stat -c %s "$T/inm" 2>/dev/null || echo 0)" 0
expect "304: ETag" "$(hget "$T/inm.h" ETag)" "$ETAG"
code=$(hc -o "$T/inm2" -w '%{http_code}' -H 'If-None-Match: "other"' "$URL/a/b.bin") || code="curl failed $?"
expect "If-None-Match with another ETag -> status" "$code" 200
code=$(hc -o "$T/inm3" -w '%{http_code}' -H "If-None-Match: \"other\", W/$ETAG" "$URL/a/b.bin") || code="curl failed $?"
expect "If-None-Match: \"other\", W/<etag> (list, weak comparison) -> status" "$code" 304
# The same list on two field lines is the same field (RFC 9110 5.3), and a
# server must evaluate it (RFC 9110 13.2.1) and answer 304 (13.1.2).
code=$(hc -o "$T/inm4" -w '%{http_code}' -H 'If-None-Match: "other"' -H "If-None-Match: $ETAG" "$URL/a/b.bin") || code="curl failed $?"
expect "If-None-Match split over two field lines, the second with the ETag (RFC 9110 5.3, 13.1.2) -> status" "$code" 304

# --- resume with curl -C - ---------------------------------------------------
rm -f "$T/part"
code=$(hc -r 0-524287 -o "$T/part" -w '%{http_code}' "$URL/a/b.bin") || code="curl failed $?"
expect "first half (curl -r 0-524287): status" "$code" 206
expect "first half: size" "$(stat -c %s "$T/part")" 524288
code=$(hc -C - -o "$T/part" -w '%{http_code}' "$URL/a/b.bin") || code="curl failed $?"
expect "resume (curl -C -): status" "$code" 206
expect "resumed file: sha256 of the whole object" "$(sha256sum <"$T/part" | cut -d' ' -f1)" "$WANT"

# --- keep-alive: two URLs over one connection --------------------------------
opened0=$(ectl 'show conn json' | "$PYTHON" "$CONN" table opened)
hc -v -o "$T/ka1" -o "$T/ka2" "$URL/t.txt" "$URL/index.html" 2>"$T/ka.err" || true
opened1=$(ectl 'show conn json' | "$PYTHON" "$CONN" table opened)
grep -E 'Re-using|Connected to|Connection #' "$T/ka.err" | indent || true
check "keep-alive: curl says 'Re-using existing connection'" grep -q 'Re-using existing connection' "$T/ka.err"
expect "keep-alive: table.opened grew by" $((opened1 - opened0)) 1
check "keep-alive: first body right (t.txt)" same "$T/ka1" "$CONTENT/t.txt"
check "keep-alive: second body right (index.html)" same "$T/ka2" "$CONTENT/index.html"

# --- pipelining: three requests in one write ----------------------------------
out=$(timeout 30 ip netns exec "$HOST" "$PYTHON" "$HC" pipeline --dst "$VIP" --host "$VIP" \
    --get "/t.txt=$CONTENT/t.txt" --get "/a/b.bin=$BIN" --get "/index.html=$CONTENT/index.html") && rc=0 || rc=$?
echo "    $out"
check "pipelining: 3 requests in one write, 3 right responses in order" test "$rc" -eq 0

# --- refusals ----------------------------------------------------------------
# rawcheck DESC SEND STATUS [HEADER=VALUE]: raw request; the status, and the
# connection closed (400-class refusals close: RFC 9112 9.6).
rawcheck() {
    local desc=$1 send=$2 want=$3 extra=${4:-} out st hv closed
    out=$(raw "$send")
    echo "    $(cut -c1-400 <<<"$out")"
    read -r st closed hv < <("$PYTHON" -c '
import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError:
    d = {}
print(d.get("status"), str(d.get("closed")).lower(), (d.get("headers") or {}).get(sys.argv[2], "none"))' "$out" "${extra%%=*}")
    expect "$desc: status" "$st" "$want"
    if [[ -n $extra ]]; then
        expect "$desc: ${extra%%=*}" "$hv" "${extra#*=}"
    fi
    expect "$desc: server closed the connection" "$closed" true
}
rawcheck "bad header line (no colon)" 'GET /t.txt HTTP/1.1\r\nHost: v\r\nthis is not a header\r\n\r\n' 400 connection=close
rawcheck "space in the method" 'GE T /t.txt HTTP/1.1\r\nHost: v\r\n\r\n' 400
rawcheck "HTTP/1.1 without Host" 'GET /t.txt HTTP/1.1\r\nConnection: close\r\n\r\n' 400
rawcheck "two Host fields" 'GET /t.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' 400
rawcheck "a request body (Content-Length: 5)" 'GET /t.txt HTTP/1.1\r\nHost: v\r\nContent-Length: 5\r\n\r\nhello' 400
rawcheck "Transfer-Encoding: chunked" 'GET /t.txt HTTP/1.1\r\nHost: v\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' 400
rawcheck "unknown method FOO" 'FOO /t.txt HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n' 501
rawcheck "HTTP/2.0 on an HTTP/1 connection" 'GET /t.txt HTTP/2.0\r\nHost: v\r\n\r\n' 505
"$PYTHON" -c 'print("GET /t.txt HTTP/1.1\r\nHost: v\r\n" + "".join("X-H%d: v\r\n" % i for i in range(120)) + "\r\n", end="")' >"$T/many.req"
out=$(timeout 30 ip netns exec "$HOST" "$PYTHON" "$HC" raw --dst "$VIP" --send-file "$T/many.req" || true)
echo "    $(cut -c1-300 <<<"$out")"
expect "121 header fields: status" "$(json_get "$out" status 2>/dev/null || echo none)" 431

code=$(hc -o /dev/null -w '%{http_code}' "$URL/nope.bin") || code="curl failed $?"
expect "GET /nope.bin (missing) -> status" "$code" 404
code=$(hc -o /dev/null -w '%{http_code}' "$URL/") || code="curl failed $?"
expect "GET / -> status" "$code" 404
code=$(hc -o /dev/null -w '%{http_code}' "$URL/a/") || code="curl failed $?"
expect "GET /a/ -> status" "$code" 404
for m in POST PUT DELETE OPTIONS PATCH; do
    code=$(hc -X "$m" -o /dev/null -D "$T/m.h" -w '%{http_code}' "$URL/t.txt") || code="curl failed $?"
    expect "$m /t.txt -> status" "$code" 405
    expect "$m /t.txt -> Allow" "$(hget "$T/m.h" Allow)" "GET, HEAD"
done
code=$(hc -X FOO -o /dev/null -w '%{http_code}' "$URL/t.txt") || code="curl failed $?"
expect "curl -X FOO -> status" "$code" 501
long=$(head -c 9000 /dev/zero | tr '\0' a)
code=$(hc -o /dev/null -w '%{http_code}' "$URL/$long") || code="curl failed $?"
expect "GET /<9000 x a> (request line > 8 KiB) -> status" "$code" 414
code=$(hc -o /dev/null -w '%{http_code}' -H "X-Big: $long" "$URL/t.txt") || code="curl failed $?"
expect "a 9000-byte header field (head > 8 KiB) -> status" "$code" 431
code=$(hc --path-as-is -o "$T/trav" -w '%{http_code}' "$URL/a/%2e%2e/a/b.bin") || code="curl failed $?"
expect "GET /a/%2e%2e/a/b.bin (--path-as-is) -> status" "$code" 400
code=$(hc --path-as-is -o "$T/trav" -w '%{http_code}' "$URL/a/../a/b.bin") || code="curl failed $?"
expect "GET /a/../a/b.bin (--path-as-is) -> status" "$code" 400
code=$(hc -o "$T/trav" -w '%{http_code}' "$URL//a/b.bin") || code="curl failed $?"
expect "GET //a/b.bin -> status" "$code" 400
code=$(hc -o /dev/null -w '%{http_code}' "$URL/t.txt") || code="curl failed $?"
expect "after all that, GET /t.txt still -> status" "$code" 200

# --- counters ----------------------------------------------------------------
HTTP1=$(ectl 'show http json')
echo "    before: $HTTP0"
echo "    after:  $HTTP1"
sum=0
for s in 200 206 304 400 404 405 408 414 416 431 500 501 505; do
    d=$(("$(json_get "$HTTP1" "status.$s")" - "$(json_get "$HTTP0" "status.$s")"))
    sum=$((sum + d))
    case $s in 408 | 500) continue ;; esac
    check "show http: status $s counted (+$d)" test "$d" -ge 1
done
d=$(("$(json_get "$HTTP1" requests)" - "$(json_get "$HTTP0" requests)"))
check "show http: requests grew by $d = the sum of the status counts ($sum), >= 50" test "$d" -eq "$sum" -a "$d" -ge 50
d=$(("$(json_get "$HTTP1" body_bytes)" - "$(json_get "$HTTP0" body_bytes)"))
check "show http: body_bytes grew by $d >= 4 MiB" test "$d" -ge $((4 * SIZE))
expect "show http: port" "$(json_get "$HTTP1" port)" 80

check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
