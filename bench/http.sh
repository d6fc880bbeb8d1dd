#!/bin/sh
# HTTP components on a task port (issue 15, items 1–3): `guests/http-hello` served by
# `wasmgate run` on its task address, `wrk -t1 -c16` against it, for task cpu 4096 and 1024,
# instance reuse none and sequential. Prints one line per setup: req/s, p50, p99.
#
#   bench/http.sh [SECONDS=5] [PATH=/]     (from the repository root, after `cargo build --release`)
#
# WASMGATE=… picks another binary. Absolute numbers move with whatever else the machine
# runs: compare setups of one run, not runs.
set -eu
SECS=${1:-5}
REQ=${2:-/}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${WASMGATE:-$ROOT/target/release/wasmgate}
WASM=${HELLO:-$ROOT/target/wasm/http-hello.wasm}
PORT=${PORT:-18080}
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

one() { # cpu reuse
    cat >"$WORK/def.json" <<EOF
{"family": "bench-http", "cpu": "$1", "memory": "8192",
 "containerDefinitions": [{"name": "hello", "image": "$WASM",
   "portMappings": [{"containerPort": $PORT}],
   "dockerLabels": {"wasmgate.instance-reuse": "$2"}}]}
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
    wrk -t1 -c16 -d1s "http://$ADDR:$PORT$REQ" >/dev/null # warm-up
    wrk -t1 -c16 -d"${SECS}s" --latency "http://$ADDR:$PORT$REQ" >"$WORK/wrk.txt"
    RPS=$(awk '/Requests\/sec/ {printf "%d", $2}' "$WORK/wrk.txt")
    P50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
    P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
    NON2XX=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
    echo "cpu $1, reuse $2: $RPS req/s, p50 $P50, p99 $P99${NON2XX:+, non-2xx $NON2XX}"
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}

echo "# $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $BIN"
for cpu in 4096 1024; do
    for reuse in none sequential; do
        one "$cpu" "$reuse"
    done
done
