#!/bin/sh
# Issue 15's table in one run (bench/perf_table.py has what each row measures):
#
#   bench/perf-table.sh [--rounds 3] [--seconds 5] [--tasks 10000] [--only http,runtask,density,runtime]
#
# Builds the bench-profile `wasmgate` and the guests, installs wasmtime-cli 48 into
# ~/.cache/wasmgate/wasmtime-cli-48 the first time (`cargo install --locked`, about 30
# minutes on a 2-core machine; never in CI), needs Debian's `wrk`, and writes the table
# between the perf-table markers of BENCHMARKS.md when every section ran.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WASMTIME_ROOT=${WASMTIME_CLI_ROOT:-$HOME/.cache/wasmgate/wasmtime-cli-48}
WASMTIME=$WASMTIME_ROOT/bin/wasmtime
if [ ! -x "$WASMTIME" ]; then
    if [ "${CI:-}" = true ]; then
        echo "perf-table: wasmtime-cli 48 is not installed and CI never builds it" >&2
        exit 1
    fi
    cargo install wasmtime-cli --version 48.0.8 --locked --root "$WASMTIME_ROOT"
fi
command -v wrk >/dev/null || { echo "perf-table: needs wrk (apt-get install wrk)" >&2; exit 1; }
cd "$ROOT"
# As a production host runs: with RUST_BACKTRACE set, every error wasmtime makes captures a
# backtrace, and it makes one per request for both peers (a store's fiber disposal).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
# With the benches: the same feature set as `cargo bench`, so the runtime rows reuse this build.
cargo build -q --profile bench --benches --bin wasmgate
# The test venv (boto3) is made by the tests; make it here when it is missing.
PY=$ROOT/target/pyenv/bin/python
[ -x "$PY" ] || { python3 -m venv "$ROOT/target/pyenv" && "$PY" -m pip -q install boto3==1.44.5 awscli==1.46.3; }  # as tests/e2e/common/clients.rs
exec "$PY" "$ROOT/bench/perf_table.py" --wasmgate "$ROOT/target/release/wasmgate" \
    --wasmtime "$WASMTIME" --write "$ROOT/BENCHMARKS.md" "$@"
