#!/bin/sh
# RunTask → RUNNING through boto3 (issue 15's table): a `wasmgate serve` with the default
# config on a fresh data directory, N sampled tasks of the `sleep` guest after 20 warm-up
# ones; p50/p99, and the floor one boto3 DescribeTasks round trip sets.
#
#   bench/runtask_latency.sh [N=200]     (from the repository root, after `cargo build`)
#
# STRACE=1: the sampled tasks run with `strace -f -c -e trace=fsync,fdatasync` attached to
# serve (their latency is then not the result): fsyncs per RunTask → RUNNING.
set -eu
N=${1:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${WASMGATE:-$ROOT/target/debug/wasmgate}
PY=${PYTHON:-$ROOT/target/pyenv/bin/python}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN" --data-dir "$WORK/data" serve --listen 127.0.0.1:0 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 300); do
    PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { cat "$WORK/serve.log"; exit 1; }
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    "$PY" "$ROOT/bench/runtask_latency.py" "$PORT" "$N" "$ROOT/target/wasm/sleep.wasm" \
    $([ "${STRACE:-0}" = 1 ] && echo "$PID")
