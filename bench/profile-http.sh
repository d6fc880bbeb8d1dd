#!/bin/sh
# Where an HTTP request's time goes (issue 15, item 1): `guests/http-hello` served by
# `wasmgate run` on its task address (task cpu 4096, no instance reuse), `wrk -t1 -c16`
# against it while `perf record` samples the host (cpu-clock, call graphs from DWARF line
# tables). Writes a flame graph (SVG) and the flat profile (top symbols, self time).
#
#   bench/profile-http.sh [SECONDS=10] [OUT=docs/profiles/http]   (from the repository root)
#
# Needs Debian's `linux-perf` and `wrk`, and inferno (`cargo install inferno`, installed
# here into ~/.cache/wasmgate/inferno the first time; never in CI). WASMGATE=… picks the
# binary (default target/release/wasmgate: build it with `cargo build --release`).
set -eu
SECS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$ROOT/docs/profiles/http}
BIN=${WASMGATE:-$ROOT/target/release/wasmgate}
WASM=${HELLO:-$ROOT/target/wasm/http-hello.wasm}
CPU=${CPU:-4096}
PORT=${PORT:-18080}
INFERNO=${INFERNO_ROOT:-$HOME/.cache/wasmgate/inferno}
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
if [ ! -x "$INFERNO/bin/inferno-flamegraph" ]; then
    [ "${CI:-}" = true ] && { echo "profile-http: inferno is not installed and CI never builds it" >&2; exit 1; }
    cargo install inferno --locked --root "$INFERNO"
fi
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$(dirname "$OUT")"

cat >"$WORK/def.json" <<EOF
{"family": "profile-http", "cpu": "$CPU", "memory": "8192",
 "containerDefinitions": [{"name": "hello", "image": "$WASM",
   "portMappings": [{"containerPort": $PORT}]}]}
EOF
"$BIN" --data-dir "$WORK/data" run "$WORK/def.json" 2>"$WORK/run.log" &
PID=$!
ADDR=
for _ in $(seq 300); do
    ADDR=$(sed -n 's/.*task .* address \([0-9.]*\).*/\1/p' "$WORK/run.log" | head -n1)
    grep -q "container hello RUNNING" "$WORK/run.log" && [ -n "$ADDR" ] && break
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$WORK/run.log"; exit 1; }
wrk -t1 -c16 -d2s "http://$ADDR:$PORT/" >/dev/null # warm-up (Cranelift's code in place)
perf record -F 1999 -e cpu-clock --call-graph dwarf,16384 -o "$WORK/perf.data" -p "$PID" \
    -- sleep "$SECS" 2>"$WORK/perf.log" &
PERF=$!
wrk -t1 -c16 -d"${SECS}s" --latency "http://$ADDR:$PORT/" >"$WORK/wrk.txt"
wait "$PERF" || { cat "$WORK/perf.log" >&2; exit 1; }
kill -TERM "$PID"
wait "$PID" 2>/dev/null || true
PID=

perf script -i "$WORK/perf.data" 2>/dev/null >"$WORK/perf.txt"
"$INFERNO/bin/inferno-collapse-perf" "$WORK/perf.txt" >"$OUT.folded"
"$INFERNO/bin/inferno-flamegraph" --title "wasmgate: http-hello under wrk -t1 -c16, task cpu $CPU" \
    "$OUT.folded" >"$OUT.svg"
perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | head -40 >"$OUT.top.txt"
echo "# $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $BIN"
awk '/Requests\/sec/ {print "req/s under perf: " $2}' "$WORK/wrk.txt"
echo "flame graph: $OUT.svg; folded stacks: $OUT.folded; top symbols (self):"
cat "$OUT.top.txt"
