#!/bin/sh
# The metrics publisher's cost (issue 14: "must not change the HTTP throughput bench by
# more than 3 %"): `wasmgate serve` with N idle tasks plus one HTTP task (guests/http-hello,
# cpu 4096), `wrk` against the HTTP task's port with `[metrics] publish` on and off,
# interleaved for ROUNDS rounds (a fresh host each time). Prints req/s per run, the
# median on/off ratio, and the host's CPU % and RSS while idle (no load) in each mode:
# what collecting and storing costs.
#
#   bench/metrics_http.sh [N=1000] [ROUNDS=3] [SECONDS=10]    (from the repository root)
#
# Env: WASMGATE (binary, default target/release/wasmgate), PYTHON (with boto3, default
# target/pyenv/bin/python), GUEST (idle tasks' guest: sleep or http-hello, default sleep),
# IDLE_SECONDS (the idle CPU window, default 10), CONNECTIONS (wrk -c, default 16).
# Needs Debian's `wrk`. Run it on an otherwise idle machine: the ratio is the result.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export N=${1:-1000} ROUNDS=${2:-3} SECONDS_PER_RUN=${3:-10}
export WASMGATE=${WASMGATE:-$ROOT/target/release/wasmgate}
export GUEST=${GUEST:-sleep}
export WASM_DIR=${WASM_DIR:-$ROOT/target/wasm}
PY=${PYTHON:-$ROOT/target/pyenv/bin/python}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -x "$WASMGATE" ] || { echo "no wasmgate binary at $WASMGATE (set WASMGATE)" >&2; exit 1; }
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    exec "$PY" "$ROOT/bench/metrics_http.py"
