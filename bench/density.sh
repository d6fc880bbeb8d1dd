#!/bin/sh
# Density (issue 15, item 5): how many idle 1-container tasks reach RUNNING on one
# `wasmgate serve` with the default config, and what each costs the host (memory,
# descriptors, threads), measured from /proc at 0 and N tasks.
#
#   bench/density.sh [N=1000] [GUEST=sleep]     (from the repository root, after `cargo build`)
#
# GUEST=sleep: a command container asleep (holds a pool instance); GUEST=http-hello: an
# HTTP container (holds no instance between requests). Absolute numbers move with whatever
# else the machine runs: the per-task figures are the result, and they are noisy.
set -eu
N=${1:-1000}
GUEST=${2:-sleep}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${WASMGATE:-$ROOT/target/debug/wasmgate}
PY=${PYTHON:-$ROOT/target/pyenv/bin/python}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN" --data-dir "$WORK/data" serve --listen 127.0.0.1:0 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log")
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { cat "$WORK/serve.log"; exit 1; }
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    "$PY" "$ROOT/bench/density.py" "$PORT" "$PID" "$N" "$ROOT/target/wasm/$GUEST.wasm"
