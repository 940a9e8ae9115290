#!/usr/bin/env bash
# Generate TPC-H lineitem at scale factor SF into $TESSERA_DATA/lineitem/sf$SF/
# (lineitem.parquet, plus lineitem.csv when the second argument is `csv`).
# Skips files that already exist. Needs the venv from install-test-deps.sh.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"

usage() { echo "usage: $0 SF [csv]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
sf=$1
want_csv=${2:-}
[[ -z $want_csv || $want_csv == csv ]] || usage

out_dir=$TESSERA_DATA/lineitem/sf$sf
tpchgen=$TESSERA_VENV/bin/tpchgen-cli
[[ -x $tpchgen ]] || { echo "gen-lineitem.sh: $tpchgen missing; run deploy/install-test-deps.sh" >&2; exit 1; }
mkdir -p "$out_dir"

# generate FORMAT: writes $out_dir/lineitem.FORMAT atomically (via a temp dir on the
# same filesystem), so an interrupted run never leaves a truncated file behind.
generate() {
    local format=$1 target=$out_dir/lineitem.$1
    if [[ -s $target ]]; then
        echo "gen-lineitem.sh: $target present, skipping"
        return
    fi
    local tmp
    tmp=$(mktemp -d "$out_dir/.tmp-$format.XXXXXX")
    echo "gen-lineitem.sh: generating $target"
    # Without --parts, tpchgen-cli writes one file named <output-dir>/lineitem.<format>.
    "$tpchgen" "$format" --scale-factor="$sf" --tables=lineitem --output-dir="$tmp" --no-progress --quiet
    mv "$tmp/lineitem.$format" "$target"
    rm -rf "$tmp"
}

generate parquet
[[ $want_csv == csv ]] && generate csv
exit 0
