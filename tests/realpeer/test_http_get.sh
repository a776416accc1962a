#!/usr/bin/env bash
# `anyedge get` (the engine's own HTTP client on its own TCP) against a
# server we did not write: Python's http.server on Linux TCP.
#
# netns HOST: python3 -m http.server on 10.0.9.1:8000 (kernel side of TAP
# ag0); `anyedge get --vdev net_tap0,iface=ag0 -- --ip 10.0.9.2/24` is the
# client. Checks: a 20 MiB download byte-exact; `-c` on a partial file asks
# for the rest with Range (the server logs the request, the file is exact);
# a 404 and a bad URL end with exit != 0 and one clear line.
. "$(dirname "$0")/lib.sh"

require_root
require_cmd ip sha256sum timeout head "$PYTHON"
require_engine
[[ $FWD == anyedge ]] || die "FWD=$FWD: this test runs anyedge get (FWD=anyedge)"

HOST_IP=10.0.9.1
GET_IP=10.0.9.2
SIZE=$((20 * 1024 * 1024))
new_ns HOST host

DOC=$AE_TMP/doc
mkdir -p "$DOC"
head -c "$SIZE" /dev/urandom >"$DOC/obj.bin"
WANT=$(sha256sum <"$DOC/obj.bin" | cut -d' ' -f1)

# http.server answers Range requests only from Python 3.12 on; Debian 12
# has 3.11, so serve with a small subclass that does (RFC 9110 14.2).
cat >"$AE_TMP/range_server.py" <<'EOF'
import http.server, os, re, sys
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def send_head(self):
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not m or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(m.group(1))
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return f
http.server.ThreadingHTTPServer((sys.argv[1], 8000), lambda *a: H(*a, directory=sys.argv[2])).serve_forever()
EOF

# get ARGS...: anyedge get on a fresh TAP ag0 in HOST; the kernel side is
# configured once the TAP exists. Output in $AE_TMP/get.log; sets RC.
get() {
    bg_start get "$HOST" timeout 60 "$ANYEDGE" get --vdev net_tap0,iface=ag0 -- \
        --ip "$GET_IP/24" --gateway "$HOST_IP" "$@"
    local pid=$BG_PID
    wait_link "$HOST" ag0 15
    ip -n "$HOST" addr add "$HOST_IP/24" dev ag0 2>/dev/null || true
    ip -n "$HOST" link set ag0 up
    wait_pid_exit "$pid" 60 || die "anyedge get did not end within 60 s"
    wait "$pid" && RC=0 || RC=$?
    indent <"$AE_TMP/get.log"
}

# The server binds once ag0 has its address: start it after the first get
# created the TAP, so bind to 0.0.0.0.
bg_start pyserver "$HOST" "$PYTHON" "$AE_TMP/range_server.py" 0.0.0.0 "$DOC"
wait_for "ip netns exec '$HOST' ss -Hltn 'sport = :8000' | grep -q LISTEN" 10 0.1 ||
    die "http.server is not listening"

OUT=$AE_TMP/out.bin
get -o "$OUT" -v "http://$HOST_IP:8000/obj.bin"
check "anyedge get exited 0 (exit $RC)" test "$RC" -eq 0
check "the download is byte-exact (sha256)" test "$(sha256sum <"$OUT" | cut -d' ' -f1)" = "$WANT"
check "it was one request without resets" grep -q '1 request(s), 0 reset(s)' "$AE_TMP/get.log"

# -c: keep the first 7 MiB and ask for the rest.
truncate -s $((7 * 1024 * 1024)) "$OUT"
get -c -o "$OUT" -v "http://$HOST_IP:8000/obj.bin"
check "anyedge get -c exited 0 (exit $RC)" test "$RC" -eq 0
check "it asked for the rest with Range" grep -q "Range: bytes=$((7 * 1024 * 1024))-" "$AE_TMP/get.log"
check "the server answered 206" grep -q 'HTTP 206' "$AE_TMP/get.log"
check "the resumed file is byte-exact (sha256)" test "$(sha256sum <"$OUT" | cut -d' ' -f1)" = "$WANT"

# -c on a complete file: the server's 416 says there is nothing left.
get -c -o "$OUT" "http://$HOST_IP:8000/obj.bin"
check "anyedge get -c on a complete file exits 0 (exit $RC)" test "$RC" -eq 0

get -o "$AE_TMP/missing" "http://$HOST_IP:8000/missing.bin"
check "a 404 ends with a non-zero exit (exit $RC)" test "$RC" -ne 0
check "and one line naming it" grep -q 'anyedge: HTTP 404' "$AE_TMP/get.log"

timeout 10 "$ANYEDGE" get --vdev net_tap0,iface=ag9 -- --ip "$GET_IP/24" http://example.com/x \
    >"$AE_TMP/bad.log" 2>&1 && RC=0 || RC=$?
indent <"$AE_TMP/bad.log"
check "a host name is refused (exit $RC)" test "$RC" -ne 0
check "with a clear line" grep -q 'not an IPv4 address' "$AE_TMP/bad.log"

finish
