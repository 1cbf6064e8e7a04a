#!/usr/bin/env bash
# The remote artifact cache against a real WebDAV server (lighttpd
# mod_webdav, on a free loopback port, in a temporary directory), with the
# stand-in tools: runner A fills the remote, runner B (own build tree, empty
# local cache) builds every device with zero generations and identical bytes;
# read-only mode never PUTs; a corrupt object, a truncated object, a 500 on
# PUT and the server stopped mid-build each leave the build correct.
# Usage: remote.sh <modules dir> <fake tools dir> <project dir> <fastboop-cache>
set -euo pipefail
MOD=$1 FAKE=$2 PROJ=$3 CACHE_TOOL=$4
T=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
cp -r "$PROJ" "$T/src"
export FAKE_COUNTER_DIR=$T/count; mkdir -p "$FAKE_COUNTER_DIR"
fail() { echo "FAIL: $*" >&2; exit 1; }
count() { [ -f "$FAKE_COUNTER_DIR/$1.count" ] && wc -l < "$FAKE_COUNTER_DIR/$1.count" || echo 0; }
gens() { echo $(( $(count stage0) + $(count bootimg) )); }
command -v lighttpd >/dev/null || PATH=$PATH:/usr/sbin
[ -e /usr/lib/lighttpd/mod_webdav.so ] || fail "lighttpd-mod-webdav is not installed (.ci/packages/pipeline.txt)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PORT=$(free_port)
mkdir -p "$T/dav"
cat > "$T/lighttpd.conf" <<EOF
server.document-root = "$T/dav"
server.bind = "127.0.0.1"
server.port = $PORT
server.modules = ("mod_webdav", "mod_accesslog")
server.errorlog = "$T/lighttpd-error.log"
accesslog.filename = "$T/access.log"
webdav.activate = "enable"
webdav.is-readonly = "disable"
# The test rewrites objects behind the server's back; a cached stat would
# serve the old size for up to a second.
server.stat-cache-engine = "disable"
EOF
start_dav() {
  lighttpd -D -f "$T/lighttpd.conf" & dav_pid=$!; pids+=("$dav_pid")
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.05; done
  fail "lighttpd did not start: $(cat "$T/lighttpd-error.log" 2>/dev/null)"
}
start_dav
URL=http://127.0.0.1:$PORT/fastboop

conf() { # <tree> <local cache> [cmake args...]
  local b=$1 c=$2; shift 2
  cmake -S "$T/src" -B "$T/$b" -G Ninja -DFAKE_TOOLS="$FAKE" -DFASTBOOP_MODULES="$MOD" \
    -DCACHE_TOOL="$CACHE_TOOL" -DFASTBOOP_CACHE_DIR="$c" "$@" >/dev/null
}
OUTS="devices_oneplus_fajita/boot.img devices_arrow_db410c/boot.img from_profile/boot.img from_stage0/boot.img from_stage0/boot.img.json"
same_as_A() { for f in $OUTS; do cmp "$T/A/$f" "$T/$1/$f" || fail "$1: $f differs from runner A's"; done; }

# Runner A: cold, fills the remote (the URL as a CMake cache variable).
conf A "$T/cacheA" -DFASTBOOP_REMOTE_CACHE="$URL"
cmake --build "$T/A" >"$T/a.log" 2>&1 || { cat "$T/a.log"; fail "runner A"; }
[ "$(gens)" = 8 ] || fail "runner A: expected 8 generations, got $(gens)"
[ "$(ls "$T/dav/fastboop/ac" | wc -l)" = 8 ] || fail "runner A uploaded $(ls "$T/dav/fastboop/ac" | wc -l) entries, want 8"
grep -q "warning" "$T/a.log" && { cat "$T/a.log"; fail "runner A warned"; }
echo "ok: runner A generated 8 and uploaded 8 entries"
# Parallel generators whose entries share content (the kernel) take turns per
# object: each object goes up once, so exactly the bytes the remote holds.
up=$("$CACHE_TOOL" stats --cache-dir="$T/cacheA" | awk '/^bytes up/ {print $3}')
held=$(find "$T/dav/fastboop" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
[ "$up" = "$held" ] || fail "runner A sent $up bytes; the remote holds $held (an object went up twice)"
echo "runner A: $up bytes up, the remote holds $held"
# An entry holding an empty file (a stage0 can have one) round-trips too.
printf 'empty-entry-key\n' > "$T/ekey"
erun() { "$CACHE_TOOL" run --cache-dir="$T/$1" --kind=stage0 --key-file="$T/ekey" --output-dir="$T/$1-out" \
           --remote="$URL" -- sh -c ': > "$1/empty" && echo x > "$1/full"' sh "$T/$1-out"; }
erun ecacheA >"$T/ea.log" 2>&1 || { cat "$T/ea.log"; fail "empty-file entry: generation"; }
erun ecacheB >"$T/eb.log" 2>&1 || { cat "$T/eb.log"; fail "empty-file entry: lookup"; }
grep -q "cache hit stage0 .* (remote)" "$T/eb.log" || { cat "$T/ea.log" "$T/eb.log"; fail "empty-file entry: not a remote hit"; }
[ -f "$T/ecacheB-out/empty" ] && [ ! -s "$T/ecacheB-out/empty" ] || fail "empty-file entry: empty file not placed"
echo "ok: an entry with an empty file round-trips through the remote"
cp -a "$T/dav" "$T/dav.pristine"
restore_remote() { rm -rf "$T/dav"; cp -a "$T/dav.pristine" "$T/dav"; }

# Runner B: another tree, an empty local cache, the remote from the environment.
FASTBOOP_REMOTE_CACHE=$URL conf B "$T/cacheB"
FASTBOOP_REMOTE_CACHE=$URL cmake --build "$T/B" >"$T/b.log" 2>&1 || { cat "$T/b.log"; fail "runner B"; }
[ "$(gens)" = 8 ] || fail "runner B generated $(( $(gens) - 8 ))"
same_as_A B
[ "$(grep -c 'cache hit .* (remote)' "$T/b.log")" = 8 ] || { cat "$T/b.log"; fail "runner B: not 8 remote hits"; }
stats=$("$CACHE_TOOL" stats --cache-dir="$T/cacheB")
echo "$stats" | grep -Eq '^remote hits +8$' || fail "runner B stats: $stats"
echo "$stats" | grep -Eq '^bytes down +[1-9]' || fail "runner B stats: $stats"
echo "$stats" | grep -Eq '^misses +0$' || fail "runner B stats: $stats"
# Content shared by entries (every stage0 holds the same kernel) is downloaded
# once: no more bytes come down than the remote holds.
down=$(echo "$stats" | awk '/^bytes down/ {print $3}')
held=$(find "$T/dav/fastboop" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
[ "$down" -le "$held" ] || fail "runner B downloaded $down bytes; the remote holds $held"
echo "runner B: $down bytes down, the remote holds $held"
ninja -C "$T/B" -n | grep -q "no work to do" || fail "runner B: no-op has work"
echo "ok: runner B: zero generations, 8 remote hits, identical bytes, then no-op"

# Read-only: new content (misses) is generated and never PUT.
cp -r "$T/src" "$T/src-ro"; printf 'read-only-runner\n' > "$T/src-ro/rootfs2.img"
cmake -S "$T/src-ro" -B "$T/RO" -G Ninja -DFAKE_TOOLS="$FAKE" -DFASTBOOP_MODULES="$MOD" -DCACHE_TOOL="$CACHE_TOOL" \
  -DFASTBOOP_CACHE_DIR="$T/cacheRO" -DFASTBOOP_REMOTE_CACHE="$URL" >/dev/null
g=$(gens)
touch "$T/ro-start"
FASTBOOP_REMOTE_CACHE_READ_ONLY=1 cmake --build "$T/RO" >"$T/ro.log" 2>&1 || { cat "$T/ro.log"; fail "read-only runner"; }
[ "$(gens)" = $((g + 2)) ] || fail "read-only runner: expected 2 generations, got $(( $(gens) - g ))"
grep -q "cache hit .* (remote)" "$T/ro.log" || fail "read-only runner did not read the remote"
# Nothing on the server changed: this server takes every PUT, so any PUT
# would have written a file. (lighttpd's access log can hold earlier lines
# until the next requests arrive, so it cannot tell which run sent a PUT.)
changed=$(find "$T/dav" -newer "$T/ro-start" | head -3)
[ -z "$changed" ] || fail "read-only runner sent PUT (the remote changed: $changed)"
echo "ok: read-only: reads the remote, generates the rest, never sends PUT"

# A corrupt object (same size, other bytes) is never served.
for o in "$T"/dav/fastboop/cas/*; do python3 - "$o" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read())
if b: b[0] ^= 0xff
open(p, 'wb').write(b)
EOF
done
FASTBOOP_REMOTE_CACHE=$URL conf C "$T/cacheC"
FASTBOOP_REMOTE_CACHE=$URL cmake --build "$T/C" >"$T/c.log" 2>&1 || { cat "$T/c.log"; fail "corrupt-object runner"; }
grep -q "remote cache: .*corrupt" "$T/c.log" || { cat "$T/c.log"; fail "corrupt object not reported"; }
grep -q "cache hit .* (remote)" "$T/c.log" && fail "a corrupt object was served"
same_as_A C
echo "ok: corrupt remote objects: one warning, generated locally, identical bytes"

# A truncated object (a half-finished upload's leftover) is never served.
restore_remote
for o in "$T"/dav/fastboop/cas/*; do truncate -s 3 "$o"; done
FASTBOOP_REMOTE_CACHE=$URL conf D "$T/cacheD"
FASTBOOP_REMOTE_CACHE=$URL cmake --build "$T/D" >"$T/d.log" 2>&1 || { cat "$T/d.log"; fail "truncated-object runner"; }
grep -q "remote cache: .*truncated" "$T/d.log" || { cat "$T/d.log"; fail "truncated object not reported"; }
grep -q "cache hit .* (remote)" "$T/d.log" && fail "a truncated object was served"
same_as_A D
# An entry object without its content (an upload stopped before the entry was
# written is invisible; one whose content went missing must not be served).
restore_remote
rm -f "$T"/dav/fastboop/cas/*
FASTBOOP_REMOTE_CACHE=$URL conf D2 "$T/cacheD2"
FASTBOOP_REMOTE_CACHE=$URL cmake --build "$T/D2" >"$T/d2.log" 2>&1 || { cat "$T/d2.log"; fail "missing-content runner"; }
same_as_A D2
echo "ok: truncated or missing remote objects: generated locally, identical bytes"

# An entry naming other files than the generation writes is not taken.
restore_remote
sed -i 's/ boot\.img$/ other.img/' "$T"/dav/fastboop/ac/*
FASTBOOP_REMOTE_CACHE=$URL conf D3 "$T/cacheD3"
FASTBOOP_REMOTE_CACHE=$URL cmake --build "$T/D3" >"$T/d3.log" 2>&1 || { cat "$T/d3.log"; fail "renamed-entry runner"; }
grep -q "remote cache: .*does not hold this generation's outputs" "$T/d3.log" || { cat "$T/d3.log"; fail "renamed entry not reported"; }
grep -q "cache hit bootimg .* (remote)" "$T/d3.log" && fail "an entry with other names was served"
same_as_A D3
[ "$(ls "$T"/cacheD3/bootimg | grep -c -v '^\.')" = 4 ] || fail "renamed-entry runner did not store its own boot.img entries"
echo "ok: a remote entry with other file names: not taken, generated and stored locally"

# A server answering 500 to every PUT (and 404 to reads).
P500=$(free_port)
python3 - "$P500" <<'EOF' & pids+=($!)
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code):
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self): self.answer(404)
    def do_HEAD(self): self.answer(404)
    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0))); self.answer(500)
    def do_MKCOL(self): self.answer(500)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P500/" && break; sleep 0.05; done
g=$(gens)
FASTBOOP_REMOTE_CACHE=http://127.0.0.1:$P500/c conf E "$T/cacheE"
FASTBOOP_REMOTE_CACHE=http://127.0.0.1:$P500/c cmake --build "$T/E" >"$T/e.log" 2>&1 || { cat "$T/e.log"; fail "500-on-PUT runner"; }
[ "$(gens)" = $((g + 8)) ] || fail "500-on-PUT runner: expected 8 generations"
grep -q "remote cache: PUT .*HTTP 500" "$T/e.log" || { cat "$T/e.log"; fail "500 on PUT not reported"; }
[ "$(grep -c 'remote cache:' "$T/e.log")" = 1 ] || { cat "$T/e.log"; fail "500 on PUT: not one warning line"; }
same_as_A E
echo "ok: 500 on PUT: one warning, build correct"

# The server stopped mid-build: one device's stage0 is new (generated, held at
# its gate while the server goes away); the build finishes locally.
restore_remote
cp -r "$T/src" "$T/src-stop"; printf 'server-stopped-runner\n' > "$T/src-stop/rootfs2.img"
cmake -S "$T/src-stop" -B "$T/F" -G Ninja -DFAKE_TOOLS="$FAKE" -DFASTBOOP_MODULES="$MOD" -DCACHE_TOOL="$CACHE_TOOL" \
  -DFASTBOOP_CACHE_DIR="$T/cacheF" -DFASTBOOP_REMOTE_CACHE="$URL" >/dev/null
FAKE_GATE=$T/gate cmake --build "$T/F" -j1 >"$T/f.log" 2>&1 & build=$!
for _ in $(seq 600); do [ -e "$T/gate.started" ] && break; sleep 0.1; done
[ -e "$T/gate.started" ] || { kill $build; fail "runner F never reached its stage0 generation"; }
kill "$dav_pid"; wait "$dav_pid" 2>/dev/null || true
touch "$T/gate"
wait $build || { cat "$T/f.log"; fail "runner F failed after the server stopped"; }
[ "$(grep -c 'remote cache:' "$T/f.log")" = 1 ] || { cat "$T/f.log"; fail "server stopped: not one warning line"; }
for f in devices_oneplus_fajita/boot.img devices_arrow_db410c/boot.img from_profile/boot.img; do
  cmp "$T/A/$f" "$T/F/$f" || fail "runner F: $f differs"
done
[ -s "$T/F/from_stage0/boot.img" ] || fail "runner F: no from_stage0 image"
echo "ok: server stopped mid-build: one warning, the build finishes locally"

# Credentials from a netrc file, never on a command line or in a log: a
# server that wants basic authentication, over the pristine remote.
restore_remote
APORT=$(free_port)
printf 'ci:s3cret-pass\n' > "$T/users"
cat > "$T/lighttpd-auth.conf" <<EOF
server.document-root = "$T/dav"
server.bind = "127.0.0.1"
server.port = $APORT
server.modules = ("mod_auth", "mod_authn_file", "mod_webdav")
server.errorlog = "$T/lighttpd-auth-error.log"
webdav.activate = "enable"
webdav.is-readonly = "disable"
auth.backend = "plain"
auth.backend.plain.userfile = "$T/users"
auth.require = ("/" => ("method" => "basic", "realm" => "cache", "require" => "valid-user"))
EOF
lighttpd -D -f "$T/lighttpd-auth.conf" & pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$APORT/" && break; sleep 0.05; done
AURL=http://127.0.0.1:$APORT/fastboop
FASTBOOP_REMOTE_CACHE=$AURL conf G "$T/cacheG"
FASTBOOP_REMOTE_CACHE=$AURL cmake --build "$T/G" >"$T/g.log" 2>&1 || { cat "$T/g.log"; fail "runner without credentials"; }
grep -q "remote cache: .*HTTP 401" "$T/g.log" || { cat "$T/g.log"; fail "401 not reported"; }
same_as_A G
printf 'machine 127.0.0.1 login ci password s3cret-pass\n' > "$T/netrc"
FASTBOOP_REMOTE_CACHE=$AURL conf H "$T/cacheH"
FASTBOOP_REMOTE_CACHE=$AURL FASTBOOP_REMOTE_CACHE_NETRC=$T/netrc cmake --build "$T/H" -v >"$T/h.log" 2>&1 \
  || { cat "$T/h.log"; fail "runner with a netrc"; }
[ "$(grep -c 'cache hit .* (remote)' "$T/h.log")" = 8 ] || { cat "$T/h.log"; fail "netrc runner: not 8 remote hits"; }
if grep -rq "s3cret" "$T/h.log" "$T/g.log" "$T/H/build.ninja"; then fail "the password reached a log or a command line"; fi
echo "ok: credentials from a netrc file: remote hits, the password in no log or command line"
echo "remote: all checks passed"
