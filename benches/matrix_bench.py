#!/usr/bin/env python3
"""Query-shape matrix: generated queries over lineitem along the axes that decide how a
query runs, each on Tessera (HTTP, a standalone) and DuckDB in the same run, results
compared, ratio reported.

Axes: the filter (kind × the filtered column's storage: sorted, inverted, range index,
dictionary without index, raw, text-indexed raw; =, IN, NOT IN, <>, ranges, BETWEEN,
NOT BETWEEN, LIKE prefix/suffix/infix, NOT LIKE, REGEXP, IS NULL, OR of mixed columns,
expressions, column against column, at selectivities from one row to 90 %), the aggregate
(COUNT, SUM, AVG, MIN/MAX of numbers and timestamps, COUNT DISTINCT, a percentile) and
the grouping (none, low cardinality, ~10^4, ~2·10^5, two keys with ~10^6 groups, ORDER BY
an aggregate LIMIT 10). Cells: every filter with COUNT(*), every aggregate and grouping
with and without a filter, and seeded random combinations.

    matrix_bench.py [--sf 1] [--runs 5] [--seed 1] [--random 30] [--write-md FILE]
    matrix_bench.py --check [--sf 0.01]     # results only, with and without indexes

--check compares every cell with DuckDB twice (indexes on, then `useIndexes=false`) and
exits 1 on any difference; it times nothing. Needs the venv (duckdb) and a release
build (or --tessera PATH).
"""

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import REPO, KeepAlive, ensure_parquet, http, reexec_under_venv, start_standalone, write_markdown_section

sys.path.insert(0, str(REPO / "tests" / "differential"))
sys.dont_write_bytecode = True

DATASET = REPO.parent / "shared" / "datasets" / "lineitem"

# (label, storage, predicate); the selectivities in the labels are lineitem sf1's.
FILTERS = [
    ("= one day", "sorted", "l_shipdate = TIMESTAMP '1995-06-17 00:00:00'"),
    ("range 10%", "sorted", "l_shipdate >= TIMESTAMP '1995-01-01 00:00:00' AND l_shipdate < TIMESTAMP '1995-09-01 00:00:00'"),
    ("BETWEEN 90%", "sorted", "l_shipdate BETWEEN TIMESTAMP '1992-06-01 00:00:00' AND TIMESTAMP '1998-06-01 00:00:00'"),
    ("NOT BETWEEN", "sorted", "l_shipdate NOT BETWEEN TIMESTAMP '1993-01-01 00:00:00' AND TIMESTAMP '1997-12-31 00:00:00'"),
    ("= 14%", "inverted", "l_shipmode = 'AIR'"),
    ("IN 50%", "inverted", "l_shipinstruct IN ('DELIVER IN PERSON', 'NONE')"),
    ("NOT IN 71%", "inverted", "l_shipmode NOT IN ('AIR', 'RAIL')"),
    ("<> 50%", "inverted", "l_returnflag <> 'N'"),
    ("point", "inverted", "l_orderkey = 5986"),
    ("IN points", "inverted", "l_orderkey IN (1, 3, 5986, 600000, 5999971)"),
    ("< 8%", "range index", "l_quantity < 5"),
    ("BETWEEN 27%", "range index", "l_discount BETWEEN 0.02 AND 0.04"),
    ("> 90%", "range index", "l_quantity > 5"),
    ("= point", "dictionary", "l_partkey = 1234"),
    ("BETWEEN 0.1%", "dictionary", "l_partkey BETWEEN 1000 AND 1200"),
    ("< 10%", "dictionary", "l_suppkey < 1000"),
    ("NOT BETWEEN", "dictionary", "l_suppkey NOT BETWEEN 10 AND 90"),
    ("IN", "dictionary", "l_linenumber IN (1, 7)"),
    ("<> 86%", "dictionary", "l_linenumber <> 1"),
    ("timestamp range", "dictionary", "l_commitdate < TIMESTAMP '1993-01-01 00:00:00'"),
    ("column < column", "dictionary", "l_commitdate < l_receiptdate"),
    ("modulo", "expression", "l_partkey % 10 = 3"),
    ("arithmetic", "expression", "l_extendedprice * (1 - l_discount) > 50000"),
    ("function", "expression", "ABS(l_tax - 0.04) < 0.005"),
    ("> 10%", "raw", "l_extendedprice > 60000"),
    ("BETWEEN", "raw", "l_extendedprice BETWEEN 1000 AND 1100"),
    ("< fraction", "raw", "l_extendedprice < 2000.5"),
    ("fraction > col", "raw", "60000.25 > l_extendedprice"),
    ("= fraction", "raw", "l_extendedprice = 901.0"),
    ("LIKE infix", "text", "l_comment LIKE '%special%'"),
    ("LIKE prefix", "text", "l_comment LIKE 'carefully%'"),
    ("LIKE suffix", "text", "l_comment LIKE '%deposits'"),
    ("LIKE exact", "text", "l_comment LIKE 'quickly regular deposits'"),
    ("NOT LIKE", "text", "l_comment NOT LIKE '%the%'"),
    ("REGEXP", "text", "REGEXP_LIKE(l_comment, 'fox.*bold')"),
    ("IS NULL", "text", "l_comment IS NULL"),
    ("OR mixed", "mixed", "l_shipmode = 'AIR' OR l_quantity < 3"),
    ("OR point|day", "mixed", "l_partkey = 1 OR l_shipdate = TIMESTAMP '1995-01-01 00:00:00'"),
    ("NOT (AND)", "mixed", "NOT (l_returnflag = 'R' AND l_quantity > 10)"),
]

AGGREGATES = [
    ("COUNT", "COUNT(*)"),
    ("SUM", "SUM(l_extendedprice)"),
    ("AVG", "AVG(l_discount)"),
    ("MIN number", "MIN(l_quantity)"),
    ("MAX timestamp", "MAX(l_receiptdate)"),
    ("COUNT DISTINCT", "COUNT(DISTINCT l_suppkey)"),
    ("percentile", "percentile_cont(0.5) WITHIN GROUP (ORDER BY l_extendedprice)"),
]

# (label, keys, ORDER BY/LIMIT: "keys" orders by the keys, "top" by the aggregate LIMIT 10)
GROUPINGS = [
    ("none", [], None),
    ("low", ["l_returnflag", "l_linestatus"], "keys"),
    ("1e4", ["l_suppkey"], "top"),
    ("2e5", ["l_partkey"], "top"),
    ("two keys 1e6", ["l_suppkey", "l_partkey"], "top"),
]


def cell_sql(filter_, aggregate, grouping):
    _, _, predicate = filter_ if filter_ else (None, None, None)
    _, expression = aggregate
    _, keys, order = grouping
    where = f" WHERE {predicate}" if predicate else ""
    select = ", ".join(keys + [f"{expression} AS a"])
    sql = f"SELECT {select} FROM lineitem{where}"
    if keys:
        sql += f" GROUP BY {', '.join(keys)}"
        if order == "keys":
            sql += f" ORDER BY {', '.join(keys)}"
        else:
            # Ties broken by the keys: a total order both engines agree on.
            sql += f" ORDER BY a DESC, {', '.join(keys)} LIMIT 10"
    return sql


def duckdb_sql(sql):
    return sql.replace("REGEXP_LIKE(", "regexp_matches(")


def cells(seed, random_count):
    out = []
    for f in FILTERS:
        out.append((f, AGGREGATES[0], GROUPINGS[0]))
    tenth = FILTERS[4]
    for a in AGGREGATES[1:]:
        out.append((None, a, GROUPINGS[0]))
        out.append((tenth, a, GROUPINGS[0]))
    for g in GROUPINGS[1:]:
        for a in (AGGREGATES[0], AGGREGATES[1]):
            out.append((None, a, g))
            out.append((FILTERS[1], a, g))
    rng = random.Random(seed)
    seen = {cell_sql(*c) for c in out}
    while random_count > 0:
        c = (rng.choice(FILTERS), rng.choice(AGGREGATES), rng.choice(GROUPINGS))
        if cell_sql(*c) in seen:
            continue
        seen.add(cell_sql(*c))
        out.append(c)
        random_count -= 1
    return out


def label(cell):
    f, a, g = cell
    filter_label = f"{f[1]}: {f[0]}" if f else "no filter"
    return filter_label, a[0], g[0]


CLIENTS = {}


def tessera_query(url, sql, options=None):
    """Rows and the wall time at the client, over one kept-alive connection per server."""
    client = CLIENTS.setdefault(url, KeepAlive(url))
    body = {"sql": sql}
    if options:
        body["queryOptions"] = options
    encoded = json.dumps(body).encode()
    started = time.perf_counter()
    answer = client.post("/query/sql", encoded)
    elapsed = time.perf_counter() - started
    if not isinstance(answer, dict) or answer.get("exceptions"):
        raise RuntimeError(f"tessera: {answer if not isinstance(answer, dict) else answer['exceptions']}")
    return answer["resultTable"]["rows"], elapsed


def main():
    reexec_under_venv(["duckdb"], "matrix_bench.py")
    import run as differential  # tests/differential/run.py: DuckDB loading, comparison

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--random", type=int, default=30, help="seeded random cells beyond the axes")
    parser.add_argument("--check", action="store_true", help="compare results only, with and without indexes")
    parser.add_argument("--tessera", type=Path, default=REPO / "target" / "release" / "tessera")
    parser.add_argument("--write-md", type=Path)
    args = parser.parse_args()
    sf = args.sf or ("0.01" if args.check else "1")
    if not args.tessera.exists():
        sys.exit(f"matrix_bench.py: no {args.tessera}: cargo build --release -p tessera")
    parquet = ensure_parquet(sf)
    schema = json.loads((DATASET / "schema.json").read_text())
    duck = differential.DuckDb()
    duck.load_lineitem(parquet, schema)
    all_cells = cells(args.seed, args.random)
    failures = []
    results = []
    compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        server, url, _ = start_standalone(args.tessera, Path(tmp) / "data")
        try:
            http("POST", url + "/schemas", (DATASET / "schema.json").read_bytes())
            http("POST", url + "/tables", (DATASET / "table.json").read_bytes())
            subprocess.run([args.tessera, "ingest", "--url", url, "--table", "lineitem",
                            "--jobs", str(os.cpu_count() or 1), parquet], check=True, stdout=subprocess.DEVNULL)
            for cell in all_cells:
                sql = cell_sql(*cell)
                ordered = " ORDER BY " in sql
                try:
                    _, expected = duck.run(duckdb_sql(sql))
                except Exception as error:  # noqa: BLE001 - a cell DuckDB cannot run is reported
                    failures.append((cell, sql, f"duckdb: {error}"))
                    continue
                variants = [None, "useIndexes=false"] if args.check else [None]
                timings = None
                for options in variants:
                    try:
                        rows, _ = tessera_query(url, sql, options)
                    except Exception as error:  # noqa: BLE001
                        failures.append((cell, sql, f"{options or 'indexes'}: {error}"))
                        break
                    compared += 1
                    difference = differential.compare(expected, rows, ordered)
                    if difference:
                        reason, diffs = difference
                        failures.append((cell, sql, f"{options or 'indexes'}: {reason}: {diffs[:3]}"))
                        break
                else:
                    if not args.check:
                        timings = time_cell(duck, url, sql, args.runs)
                if timings:
                    results.append((cell, sql) + timings)
        finally:
            server.terminate()
            server.wait()
    print(f"matrix: {len(all_cells)} cells, {compared} answers compared with DuckDB's, "
          f"{len(failures)} cells differ or fail")
    for cell, sql, reason in failures:
        print(f"  DIFF {' / '.join(label(cell))}: {reason}\n       {sql}")
    if args.check:
        sys.exit(1 if failures else 0)
    lines = report(results, failures, sf, args)
    print("\n".join(lines))
    if args.write_md:
        write_markdown_section(args.write_md, "\n".join(lines) + "\n")
        heat_map(results, args.write_md.parent / "images" / "matrix-heatmap.svg")


def time_cell(duck, url, sql, runs):
    dsql = duckdb_sql(sql)
    duck.run(dsql)
    tessera_query(url, sql)
    tessera, duckdb = [], []
    for _ in range(runs):
        tessera.append(tessera_query(url, sql)[1])
        started = time.perf_counter()
        duck.run(dsql)
        duckdb.append(time.perf_counter() - started)
    return statistics.median(tessera), statistics.median(duckdb)


def report(results, failures, sf, args):
    ratios = [t / d for _, _, t, d in results if d > 0]
    geo = statistics.geometric_mean(ratios) if ratios else float("nan")
    slower = [r for r in ratios if r > 1.0]
    lines = [
        f"## Query-shape matrix: lineitem sf{sf}",
        "",
        f"{len(results)} cells timed ({len(failures)} differ from DuckDB or failed); medians of {args.runs} "
        f"runs; Tessera over HTTP (a release standalone, the query's wall time at the client over one "
        f"kept-alive connection), DuckDB "
        f"in-process on a native table; {datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores. Generated by `benches/matrix_bench.py` (seed {args.seed}). Ratio = Tessera "
        f"time / DuckDB time (below 1: Tessera faster).",
        "",
        f"Geometric mean of the ratios: **{geo:.2f}**; cells slower than DuckDB: **{len(slower)}** of "
        f"{len(ratios)}. Heat map: [images/matrix-heatmap.svg](images/matrix-heatmap.svg).",
        "",
        "Worst cells:",
        "",
        "| filter | aggregate | grouping | Tessera ms | DuckDB ms | ratio |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    ranked = sorted(results, key=lambda r: r[2] / r[3] if r[3] > 0 else 0, reverse=True)
    for cell, _, t, d in ranked[:15]:
        f, a, g = label(cell)
        lines.append(f"| {f} | {a} | {g} | {t * 1000:.1f} | {d * 1000:.1f} | {t / d:.2f} |")
    lines += ["", "<details><summary>Every cell</summary>", "",
              "| filter | aggregate | grouping | Tessera ms | DuckDB ms | ratio |",
              "| --- | --- | --- | ---: | ---: | ---: |"]
    for cell, _, t, d in results:
        f, a, g = label(cell)
        lines.append(f"| {f} | {a} | {g} | {t * 1000:.1f} | {d * 1000:.1f} | {t / d:.2f} |")
    lines += ["", "</details>"]
    if failures:
        lines += ["", "Cells that differ or fail:", ""]
        lines += [f"- {' / '.join(label(c))}: {reason[:200]}" for c, _, reason in failures]
    return lines


def heat_map(results, path):
    """Rows: filters; columns: aggregate × grouping; colour: log2 of the ratio."""
    import math
    rows = sorted({label(c)[0] for c, *_ in results})
    cols = sorted({f"{label(c)[1]} · {label(c)[2]}" for c, *_ in results})
    cell = {}
    for c, _, t, d in results:
        f, a, g = label(c)
        cell[(f, f"{a} · {g}")] = t / d if d > 0 else None
    w, h, left, top = 34, 18, 260, 150
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + w * len(cols) + 20}" '
           f'height="{top + h * len(rows) + 40}" font-family="DejaVu Sans, sans-serif" font-size="10">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="16" font-size="13">Tessera ÷ DuckDB time per cell (green: Tessera faster, red: slower; log scale)</text>']
    for j, col in enumerate(cols):
        x = left + j * w + w / 2
        out.append(f'<text transform="translate({x},{top - 6}) rotate(-60)">{col}</text>')
    for i, row in enumerate(rows):
        y = top + i * h
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{row}</text>')
        for j, col in enumerate(cols):
            ratio = cell.get((row, col))
            if ratio is None:
                continue
            t = max(-1.0, min(1.0, math.log2(ratio) / 4))
            red, green = (255, int(255 * (1 - t))) if t > 0 else (int(255 * (1 + t)), 255)
            blue = int(255 * (1 - abs(t)))
            out.append(f'<rect x="{left + j * w}" y="{y}" width="{w - 1}" height="{h - 1}" '
                       f'fill="rgb({red},{green},{blue})"><title>{row} / {col}: {ratio:.2f}</title></rect>')
            out.append(f'<text x="{left + j * w + 3}" y="{y + 13}" font-size="9">{ratio:.2g}</text>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out))


if __name__ == "__main__":
    main()
