#!/usr/bin/env bash
# THE test command (see README): installs what the tests need, generates the test data,
# runs every test and lint, then smoke runs of the build, query and ingest benchmarks.
# CI runs it through .ci/run on a fresh clone; it must pass there with nothing pre-installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/env.sh

# The build needs about 15 GB under target/ on a fresh machine; a full disk shows up as a
# linker "Bus error" deep in the test build, so say how much there is before starting.
df -h . "${TMPDIR:-/tmp}" | sed 's/^/test.sh: disk: /'
bash deploy/install-test-deps.sh
bash deploy/gen-lineitem.sh 0.01 csv

# Integration tests read these and fail (never skip) when they are missing.
export TESSERA_TEST_DATA=$TESSERA_DATA
export TESSERA_PYTHON=$TESSERA_VENV/bin/python
# A fresh CI clone never reuses incremental state: skip writing it.
[[ ${CI:-} == true ]] && export CARGO_INCREMENTAL=0

test_log=$(mktemp)
trap 'rm -f "$test_log"' EXIT
# The system tests (crates/integration-tests) run the real debug binary.
cargo build -p tessera
# --all-targets leaves out doctests, so they get their own run.
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$test_log"
cargo test --workspace --doc --no-fail-fast 2>&1 | tee -a "$test_log"
cargo clippy --workspace --all-targets -- -D warnings
cargo fmt --all --check

# The benchmark needs the release binary; it shares target/ with the test build. On CI the
# test executables (about 5 GB) are not needed again: .ci/run has their space freed first.
if [[ ${TESSERA_FREE_TEST_BINARIES:-} == 1 ]]; then
    find target/debug/deps -maxdepth 1 -type f -executable ! -name '*.so' -delete
    df -h . | sed 's/^/test.sh: disk: /'
fi
cargo build --release -p tessera
"$TESSERA_PYTHON" benches/build_bench.py --sf 0.01 --check
"$TESSERA_PYTHON" benches/query_bench.py --sf 0.01 --runs 1 --check
"$TESSERA_PYTHON" benches/ingest_bench.py --check
"$TESSERA_PYTHON" benches/kafka_bench.py --check
"$TESSERA_PYTHON" benches/cluster_bench.py --sf 0.01 --runs 1 --check
# The query-shape matrix: every cell's answer against DuckDB's, with and without indexes.
"$TESSERA_PYTHON" benches/matrix_bench.py --check --sf 0.01

# Every cargo test run above passed (or set -e stopped us): add up its counts.
passed=$(grep -o '^test result: .*' "$test_log" | grep -o '[0-9]* passed' | awk '{n += $1} END {print n + 0}')
echo "test.sh: $passed passed, 0 failed"
