#!/usr/bin/env bash
# Build a segment from TPC-H lineitem (scale factor ${1:-0.01}) and inspect it.
# Installs the Python tools it needs (tpchgen-cli) under ~/.cache/tessera on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/env.sh
sf=${1:-0.01}

bash deploy/install-test-deps.sh >/dev/null
bash deploy/gen-lineitem.sh "$sf"
cargo build --release -p tessera-server
dataset=../shared/datasets/lineitem
out=$TESSERA_CACHE/demo/lineitem-sf$sf.tseg
mkdir -p "$(dirname "$out")"
target/release/tessera segment build \
  --schema "$dataset/schema.json" --table-config "$dataset/table.json" \
  --input "$TESSERA_DATA/lineitem/sf$sf/lineitem.parquet" --out "$out"
target/release/tessera segment inspect "$out"
