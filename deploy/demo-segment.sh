#!/usr/bin/env bash
# Build a segment from TPC-H lineitem (scale factor ${1:-0.01}), inspect it, and run SQL
# over it. Installs the Python tools it needs (tpchgen-cli) under ~/.cache/tessera on
# first use.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/lib/env.sh
sf=${1:-0.01}

bash deploy/install-test-deps.sh >/dev/null
bash deploy/gen-lineitem.sh "$sf"
cargo build --release -p tessera
dataset=../shared/datasets/lineitem
dir=$TESSERA_CACHE/demo/sf$sf
out=$dir/lineitem.tseg
mkdir -p "$dir"
target/release/tessera segment build \
  --schema "$dataset/schema.json" --table-config "$dataset/table.json" \
  --input "$TESSERA_DATA/lineitem/sf$sf/lineitem.parquet" --out "$out"
target/release/tessera segment inspect "$out"

for sql in \
  "SELECT l_shipmode, COUNT(*) AS c, SUM(l_quantity) AS q FROM lineitem GROUP BY l_shipmode ORDER BY c DESC" \
  "SELECT l_returnflag, l_linestatus, COUNT(*) AS n, AVG(l_extendedprice) AS avg_price FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' GROUP BY l_returnflag, l_linestatus ORDER BY 1, 2" \
  "SELECT COUNT(*) FROM lineitem WHERE l_comment LIKE '%special%'" \
  "EXPLAIN PLAN FOR SELECT COUNT(*) FROM lineitem WHERE l_shipmode = 'AIR' AND l_quantity > 45"; do
  echo
  echo "tessera query> $sql"
  target/release/tessera query --segments "$dir" "$sql"
done
