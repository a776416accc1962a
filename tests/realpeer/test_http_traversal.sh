#!/usr/bin/env bash
# HTTP/1.1 and the cache loader never serve anything from outside the
# content directory.
#
# netns HOST: engine (cdn mode) owns TAP ae0 as 10.0.2.2 with the anycast VIP
# 203.0.113.10, [http] port 80 and [cache] dir = CONTENT; the kernel side of
# ae0 is 10.0.2.1/24 with a route to the VIP via 10.0.2.2.
#
# CONTENT holds a/b.bin and t.txt, plus symlinks that lead out of it: leak ->
# /etc/hostname, s.txt -> OUTSIDE/secret.txt, etcdir -> /etc, sub -> OUTSIDE,
# a/rel.txt -> ../../outside/secret.txt, prefix.txt -> CONTENT-evil/secret.txt
# (OUTSIDE and CONTENT-evil are sibling directories holding secret.txt with a
# random marker; CONTENT-evil shares CONTENT's name as a string prefix).
#
# `cache load` of OUTSIDE, of CONTENT/../.., of CONTENT/a/../../outside, of
# /etc, of CONTENT-evil and of CONTENT/sub (a symlink to OUTSIDE) must all fail with "outside
# the content directory" (ctl exit 1) and change nothing; `cache load
# CONTENT` succeeds and lists every escaping symlink as refused; none of them
# is served (404). Traversal URLs (dot segments raw and percent-encoded,
# encoded slash, backslash, NUL, empty segments) get 400, and no response
# ever carries the secret marker, /etc/hostname or /etc/passwd content.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip ping curl timeout "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test needs the engine's HTTP service (FWD=anyedge)"

HC=$AE_LIB_DIR/http_client.py
PORT_IP=10.0.2.2
HOST_IP=10.0.2.1
VIP=203.0.113.10
URL=http://$VIP

new_ns HOST host

CONTENT=$AE_TMP/content
OUTSIDE=$AE_TMP/outside
mkdir -p "$CONTENT/a" "$OUTSIDE"
head -c 4096 /dev/urandom >"$CONTENT/a/b.bin"
printf 'small text object\n' >"$CONTENT/t.txt"
SECRET="TOPSECRET-$RANDOM$RANDOM$RANDOM"
printf '%s\n' "$SECRET" >"$OUTSIDE/secret.txt"
ln -s /etc/hostname "$CONTENT/leak"
ln -s "$OUTSIDE/secret.txt" "$CONTENT/s.txt"
ln -s /etc "$CONTENT/etcdir"
ln -s "$OUTSIDE" "$CONTENT/sub"
ln -s ../../outside/secret.txt "$CONTENT/a/rel.txt"
# a sibling whose name starts with the content directory's name
EVIL=${CONTENT}-evil
mkdir -p "$EVIL"
printf '%s\n' "$SECRET" >"$EVIL/secret.txt"
ln -s "$EVIL/secret.txt" "$CONTENT/prefix.txt"

start_http_engine "$HOST" "$CONTENT"

keys() { "$PYTHON" -c 'import json,sys; print(" ".join(sorted(o["key"] for o in json.load(sys.stdin)["objects"])))'; }
KEYS0=$(ectl 'show cache json' | keys)
log "cached at startup: $KEYS0"
check "startup load cached exactly a/b.bin and t.txt" test "$KEYS0" = "a/b.bin t.txt"

# --- cache load outside the content directory ----------------------------------
# load_refused DESC DIR: ctl exits 1 and says "outside the content directory".
load_refused() {
    local desc=$1 dir=$2 out rc
    out=$(ectl "cache load $dir" 2>&1) && rc=0 || rc=$?
    echo "    cache load $dir -> exit $rc: $out"
    check "cache load $desc: ctl exit 1 (got $rc)" test "$rc" -eq 1
    check "cache load $desc: says 'outside the content directory'" grep -q 'outside the content directory' <<<"$out"
}
load_refused "OUTSIDE (a sibling directory)" "$OUTSIDE"
load_refused "CONTENT/../.." "$CONTENT/../.."
load_refused "CONTENT/a/../../outside" "$CONTENT/a/../../outside"
load_refused "/etc" /etc
load_refused "CONTENT-evil (a sibling sharing the name prefix)" "$EVIL"
load_refused "CONTENT/sub (symlink to OUTSIDE)" "$CONTENT/sub"
check "the refused loads changed nothing in the cache" test "$(ectl 'show cache json' | keys)" = "$KEYS0"

# --- cache load of the content directory with escaping symlinks -------------------
out=$(ectl "cache load $CONTENT" 2>&1) && rc=0 || rc=$?
indent <<<"$out"
check "cache load CONTENT: ctl exit 0 (got $rc)" test "$rc" -eq 0
for l in leak s.txt etcdir sub a/rel.txt prefix.txt; do
    check "cache load CONTENT lists the symlink $l as refused" grep -Eq "refused: $CONTENT/$l: points outside" <<<"$out"
done
KEYS1=$(ectl 'show cache json' | keys)
check "cache holds only a/b.bin and t.txt after the load (got: $KEYS1)" test "$KEYS1" = "a/b.bin t.txt"

# --- requests ----------------------------------------------------------------------
HOSTNAME_CONTENT=$(cat /etc/hostname 2>/dev/null || true)
# leaked FILE: the body carries something from outside the content directory
leaked() {
    grep -qF -- "$SECRET" "$1" && return 0
    grep -q '^root:' "$1" && return 0
    [[ -n $HOSTNAME_CONTENT && $(cat "$1") == "$HOSTNAME_CONTENT" ]] && return 0
    return 1
}
# get DESC WANT CURL_ARGS... URL: status WANT and no leaked content.
get() {
    local desc=$1 want=$2 code
    shift 2
    code=$(timeout 30 ip netns exec "$HOST" curl -sS --max-time 20 -o "$AE_TMP/body" -w '%{http_code}' "$@") ||
        code="curl failed $?"
    check "$desc -> $want (got $code)" test "$code" = "$want"
    if leaked "$AE_TMP/body"; then fail "$desc: the response carries content from outside!"; fi
}
get "GET /t.txt" 200 "$URL/t.txt"
get "GET /leak (symlink to /etc/hostname)" 404 "$URL/leak"
get "GET /s.txt (symlink to OUTSIDE/secret.txt)" 404 "$URL/s.txt"
get "GET /a/rel.txt (relative symlink out)" 404 "$URL/a/rel.txt"
get "GET /prefix.txt (symlink to CONTENT-evil)" 404 "$URL/prefix.txt"
get "GET /etcdir/passwd (symlinked /etc)" 404 "$URL/etcdir/passwd"
get "GET /etcdir/hostname (symlinked /etc)" 404 "$URL/etcdir/hostname"
get "GET /sub/secret.txt (symlinked OUTSIDE)" 404 "$URL/sub/secret.txt"
get "GET /../../etc/passwd (--path-as-is)" 400 --path-as-is "$URL/../../etc/passwd"
get "GET /a/../../outside/secret.txt (--path-as-is)" 400 --path-as-is "$URL/a/../../outside/secret.txt"
get "GET /%2e%2e/%2e%2e/etc/passwd" 400 --path-as-is "$URL/%2e%2e/%2e%2e/etc/passwd"
get "GET /%2E%2E/outside/secret.txt" 400 --path-as-is "$URL/%2E%2E/outside/secret.txt"
get "GET /.%2e/outside/secret.txt" 400 --path-as-is "$URL/.%2e/outside/secret.txt"
get "GET /a/./b.bin" 400 --path-as-is "$URL/a/./b.bin"
get "GET /a%2fb.bin (encoded slash)" 400 "$URL/a%2fb.bin"
get "GET /a%2Fb.bin (encoded slash, upper case)" 400 "$URL/a%2Fb.bin"
get "GET /..%2f..%2fetc%2fpasswd" 400 --path-as-is "$URL/..%2f..%2fetc%2fpasswd"
get "GET /a%5cb.bin (encoded backslash)" 400 "$URL/a%5cb.bin"
get "GET /..%5c..%5cetc%5cpasswd" 400 --path-as-is "$URL/..%5c..%5cetc%5cpasswd"
get "GET /a%00b (encoded NUL)" 400 "$URL/a%00b"
get "GET /t.txt%00.html (encoded NUL)" 400 "$URL/t.txt%00.html"
get "GET //etc/passwd (empty segment)" 400 --path-as-is "$URL//etc/passwd"
get "GET /a//b.bin (empty segment)" 400 --path-as-is "$URL/a//b.bin"
get "GET /%252e%252e/etc/passwd (double-encoded: a literal %2e%2e name)" 404 --path-as-is "$URL/%252e%252e/etc/passwd"
get "GET http://VIP/../etc/passwd in absolute-form (--request-target)" 400 \
    --request-target "http://$VIP/../etc/passwd" "$URL/"

# raw bytes curl will not send: a literal backslash, a literal NUL, absolute-form
# with a traversal
# rawget DESC SEND WANT
rawget() {
    local desc=$1 send=$2 want=$3 out st
    out=$(timeout 30 ip netns exec "$HOST" "$PYTHON" "$HC" raw --dst "$VIP" --send "$send" || true)
    echo "    $(cut -c1-300 <<<"$out")"
    st=$(json_get "$out" status 2>/dev/null || echo none)
    check "$desc -> $want (got $st)" test "$st" = "$want"
    if grep -qF -- "$SECRET" <<<"$out" || grep -q 'root:' <<<"$out"; then
        fail "$desc: the response carries content from outside!"
    fi
}
rawget 'GET /a\b.bin (raw backslash)' 'GET /a\\b.bin HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n' 400
rawget 'GET /..\..\etc\passwd (raw backslashes)' 'GET /..\\..\\etc\\passwd HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n' 400
rawget 'GET /a<NUL>b (raw NUL byte in the target)' 'GET /a\x00b HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n' 400
rawget 'GET http://v/a/../../etc/passwd (absolute-form)' 'GET http://v/a/../../etc/passwd HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n' 400
rawget 'GET ../etc/passwd (no leading slash)' 'GET ../etc/passwd HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n' 400

H=$(ectl 'show http json')
echo "    show http: $H"
check "show http counted no 200 beyond the one for /t.txt" test "$(json_get "$H" status.200)" = 1

check "engine still running" pid_alive "$ENGINE_PID"
check "engine exits with status 0 on 'quit' within 10s" stop_engine_quit

finish
