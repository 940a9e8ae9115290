#!/usr/bin/env python3
"""Query benchmark: Tessera against DuckDB and ClickHouse (chDB) on TPC-H lineitem.

Runs the public query set (../shared/datasets/lineitem/queries/*.sql) on three engines
holding the same rows with the same types (decimals as doubles, dates as timestamps, the
schema Tessera stores), each in-process with its data loaded, as a server would run:

- Tessera: the Parquet split into parts of --segment-rows rows (file order), one segment
  built per part (cached under $TESSERA_CACHE/bench/), timed by `tessera query
  --timing-runs` (one warm-up run, then --runs timed runs, segments open).
- DuckDB: a native table in a database file, default threads.
- chDB: a MergeTree table ORDER BY l_shipdate in a chdb session, default max_threads.

Reports the median per engine and query, Tessera's ratio to each, a memory-bandwidth floor
(bytes of the columns the query names, in Tessera's segments, over the machine's measured
read bandwidth), and whether each engine's rows equal Tessera's. `--check` makes any
mismatch or error a failure and asserts nothing about speed (the CI smoke run at sf0.01).
Needs the venv from deploy/install-test-deps.sh (duckdb, pyarrow, chdb, numpy); run with
plain python3 and it re-executes itself under the venv.

    python3 benches/query_bench.py --sf 1 [--segment-rows 3000000] [--runs 5]
        [--queries q01,q06] [--write-md docs/benchmarks.md] [--check]
"""

import argparse
import datetime
import json
import math
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import ensure_parquet, reexec_under_venv, tessera_env, write_markdown_section  # noqa: E402

# Smallest ClickHouse-dialect rewrites of public queries, as (old, new) substring pairs per
# query name. Empty: every public query runs unchanged on chDB (DATE '...' literals,
# date_trunc, COUNT(DISTINCT), LIKE are all ClickHouse SQL).
CHDB_REWRITES = {}

FLOAT_REL_TOL = 1e-9
FLOAT_ABS_TOL = 1e-12
BANDWIDTH_ARRAY_BYTES = 1 << 30


def fail(message):
    sys.exit(f"query_bench.py: {message}")


def say(message):
    print(f"query_bench.py: {message}", file=sys.stderr, flush=True)


def strip_comments(sql):
    return re.sub(r"--[^\n]*", " ", sql)


def load_queries(dataset_dir, wanted):
    files = sorted((dataset_dir / "queries").glob("*.sql"))
    queries = {path.stem: path.read_text().strip().rstrip(";").strip() for path in files}
    if not queries:
        fail(f"no queries in {dataset_dir / 'queries'}")
    if wanted:
        names = [name.strip() for name in wanted.split(",") if name.strip()]
        unknown = [name for name in names if name not in queries]
        if unknown:
            fail(f"unknown queries {', '.join(unknown)}; known: {', '.join(queries)}")
        queries = {name: queries[name] for name in names}
    return queries


def chdb_sql(name, sql):
    for old, new in CHDB_REWRITES.get(name, ()):
        if old not in sql:
            fail(f"chDB rewrite for {name} does not apply: {old!r} not in the query")
        sql = sql.replace(old, new)
    return sql


def columns_read(sql, all_columns):
    """Lineitem columns the query names; every column for SELECT *."""
    text = strip_comments(sql)
    if re.search(r"\bSELECT\s+\*", text, re.IGNORECASE):
        return list(all_columns)
    return [column for column in all_columns if re.search(rf"\b{column}\b", text, re.IGNORECASE)]


def order_by_keys(sql):
    """Identifiers of the top-level ORDER BY, lower-cased; None when there is none."""
    match = re.search(r"\bORDER\s+BY\s+(.*?)(?:\bLIMIT\b.*)?$", strip_comments(sql), re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    keys = []
    for item in match.group(1).split(","):
        item = re.sub(r"\s+(ASC|DESC)\b.*$", "", item.strip(), flags=re.IGNORECASE | re.DOTALL)
        keys.append(item.strip().lower())
    return keys


# ---------------------------------------------------------------------------------------
# Result normalization and comparison. A result is {"columns": [names], "rows": [[cells]]};
# cells become None, str, float (every number) or datetime (naive, UTC).


def parse_timestamp(text):
    text = text.strip()
    for layout in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, layout)
        except ValueError:
            pass
    raise ValueError(f"not a timestamp: {text!r}")


def normalize_cell(value, timestamp=False):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else \
            value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        if timestamp:
            return datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=value)
        return float(value)
    if hasattr(value, "is_finite"):  # decimal.Decimal
        return float(value)
    if isinstance(value, str) and timestamp:
        return parse_timestamp(value)
    return value


def tessera_result(response):
    schema = response["resultTable"]["dataSchema"]
    timestamp = [kind == "TIMESTAMP" for kind in schema["columnDataTypes"]]
    rows = [[normalize_cell(cell, is_ts) for cell, is_ts in zip(row, timestamp)]
            for row in response["resultTable"]["rows"]]
    return {"columns": schema["columnNames"], "rows": rows}


def chdb_result(payload):
    meta = payload["meta"]
    kinds = [column["type"] for column in meta]
    rows = []
    for row in payload["data"]:
        cells = []
        for cell, kind in zip(row, kinds):
            if isinstance(cell, str) and re.match(r"(Nullable\()?(Date|DateTime)", kind):
                cells.append(parse_timestamp(cell))
            elif isinstance(cell, str) and re.match(r"(Nullable\()?(U?Int|Float|Decimal)", kind):
                cells.append(float(cell))  # quoted 64-bit integers, "nan", "inf"
            else:
                cells.append(normalize_cell(cell))
        rows.append(cells)
    return {"columns": [column["name"] for column in meta], "rows": rows}


def cells_equal(a, b):
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_ABS_TOL)
    return a == b


def rows_equal(a, b):
    return len(a) == len(b) and all(cells_equal(x, y) for x, y in zip(a, b))


def sort_key(row):
    """Orders rows so that equal-within-tolerance rows land in the same place."""
    key = []
    for cell in row:
        if cell is None:
            key.append((0, ""))
        elif isinstance(cell, float):
            key.append((1, float(f"{cell:.8e}") if math.isfinite(cell) else cell))
        elif isinstance(cell, datetime.datetime):
            key.append((2, cell.isoformat()))
        else:
            key.append((3, str(cell)))
    return key


def compare_results(sql, expected, actual):
    """None when actual has expected's rows (in ORDER BY order if any); else what differs."""
    expected_rows, actual_rows = expected["rows"], actual["rows"]
    if len(expected_rows) != len(actual_rows):
        return f"{len(actual_rows)} rows, Tessera has {len(expected_rows)}"
    width = len(expected["columns"])
    if len(actual["columns"]) != width:
        return f"{len(actual['columns'])} columns, Tessera has {width}"
    # Same names in another order (SELECT *: Tessera returns schema order): match by name.
    names, other_names = [n.lower() for n in expected["columns"]], [n.lower() for n in actual["columns"]]
    if names != other_names and sorted(names) == sorted(other_names) and len(set(names)) == width:
        positions = [other_names.index(name) for name in names]
        actual_rows = [[row[p] for p in positions] for row in actual_rows]
    keys = order_by_keys(sql)
    if keys is not None:
        key_positions = [names.index(key) for key in keys if key in names]
        if len(key_positions) == len(keys):
            # Rows tied on the ORDER BY keys may come in any order: check the key sequence
            # in order, the rows as a multiset.
            for index, (x, y) in enumerate(zip(expected_rows, actual_rows)):
                if not rows_equal([x[p] for p in key_positions], [y[p] for p in key_positions]):
                    return f"row {index}: ORDER BY keys differ"
        else:
            for index, (x, y) in enumerate(zip(expected_rows, actual_rows)):
                if not rows_equal(x, y):
                    return f"row {index} differs"
            return None
    for index, (x, y) in enumerate(zip(sorted(expected_rows, key=sort_key), sorted(actual_rows, key=sort_key))):
        if not rows_equal(x, y):
            return f"rows differ (sorted row {index})"
    return None


def show_result(result, limit=12):
    lines = ["    " + " | ".join(result["columns"])]
    for row in result["rows"][:limit]:
        lines.append("    " + " | ".join("NULL" if c is None else c.isoformat(sep=" ") if isinstance(c, datetime.datetime)
                                         else repr(c) for c in row))
    if len(result["rows"]) > limit:
        lines.append(f"    ... {len(result['rows']) - limit} more rows")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Tessera


def split_parquet(parquet, parts_dir, segment_rows):
    """Parts of segment_rows rows in file order; the source file itself if it fits in one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(parquet)
    if source.metadata.num_rows <= segment_rows:
        return [parquet]
    parts_dir.mkdir(parents=True)
    parts, pending, pending_rows, part_rows, writer = [], [], 0, 0, None
    write_rows = 1 << 20  # row-group size of the parts

    def flush():
        nonlocal pending, pending_rows
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=source.schema_arrow), row_group_size=write_rows)
        pending, pending_rows = [], 0

    for batch in source.iter_batches(batch_size=65536):
        while batch.num_rows:
            if writer is None:
                parts.append(parts_dir / f"part_{len(parts)}.parquet")
                writer = pq.ParquetWriter(parts[-1], source.schema_arrow)
                part_rows = 0
            take = min(batch.num_rows, segment_rows - part_rows)
            pending.append(batch.slice(0, take))
            pending_rows += take
            part_rows += take
            batch = batch.slice(take)
            if pending_rows >= write_rows:
                flush()
            if part_rows == segment_rows:
                flush()
                writer.close()
                writer = None
    flush()
    if writer is not None:
        writer.close()
    return parts


def build_segments(args, parquet, bench_dir):
    """Build (or reuse) the segment directory; returns (segment dir, build info)."""
    segment_dir = bench_dir / "segments"
    manifest_path = bench_dir / "segments.json"
    stat = parquet.stat()
    source = {"parquet": str(parquet), "parquetBytes": stat.st_size, "parquetMtime": stat.st_mtime}
    if manifest_path.exists() and manifest_path.stat().st_mtime > args.tessera.stat().st_mtime:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("source") == source and segment_dir.is_dir():
            say(f"reusing the segments in {segment_dir} ({manifest['segments']}, newer than {args.tessera})")
            manifest["cached"] = True
            return segment_dir, manifest
    say(f"building segments of up to {args.segment_rows:,} rows in {segment_dir}")
    manifest_path.unlink(missing_ok=True)
    shutil.rmtree(segment_dir, ignore_errors=True)
    parts_dir = bench_dir / "parts"
    shutil.rmtree(parts_dir, ignore_errors=True)
    segment_dir.mkdir(parents=True)
    start = time.perf_counter()
    parts = split_parquet(parquet, parts_dir, args.segment_rows)
    split_seconds = time.perf_counter() - start

    def build(index_part):
        index, part = index_part
        command = [args.tessera, "segment", "build", "--schema", args.dataset_dir / "schema.json",
                   "--table-config", args.dataset_dir / "table.json", "--input", part,
                   "--out", segment_dir / f"lineitem_{index}.tseg", "--sequence", str(index)]
        began = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            fail(f"segment build failed with exit code {result.returncode}: {shlex.join(map(str, command))}")
        return time.perf_counter() - began

    jobs = max(1, min(args.build_jobs, len(parts)))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        segment_seconds = list(pool.map(build, enumerate(parts)))
    build_seconds = time.perf_counter() - start
    shutil.rmtree(parts_dir, ignore_errors=True)
    manifest = {"source": source, "segments": len(parts), "segmentRows": args.segment_rows, "jobs": jobs,
                "splitSeconds": split_seconds, "buildSeconds": build_seconds, "segmentSeconds": segment_seconds,
                "built": datetime.datetime.now().isoformat(timespec="seconds")}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    manifest["cached"] = False
    return segment_dir, manifest


def inspect_segments(tessera, segment_dir):
    """Row count and per-column data bytes (forward index + dictionary), summed over segments."""
    rows, column_bytes, column_order = 0, {}, []
    for segment in sorted(segment_dir.glob("*.tseg")):
        result = subprocess.run([tessera, "segment", "inspect", segment], capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            fail(f"tessera segment inspect {segment} failed with exit code {result.returncode}")
        inspect = json.loads(result.stdout)
        rows += inspect["rowCount"]
        for column in inspect["columns"]:
            if column["name"] not in column_bytes:
                column_order.append(column["name"])
            column_bytes[column["name"]] = column_bytes.get(column["name"], 0) + column["bytes"]
    return rows, {name: column_bytes[name] for name in column_order}


def run_tessera(tessera, segment_dir, sql, runs):
    """(median ms, result) or raises RuntimeError with what went wrong."""
    command = [tessera, "query", "--segments", segment_dir, "--format", "json", "--timing-runs", str(runs), sql]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"exit code {result.returncode}: {(result.stderr or result.stdout).strip()[-2000:]}")
    response = json.loads(result.stdout)
    if response.get("exceptions"):
        raise RuntimeError(f"exceptions: {json.dumps(response['exceptions'])[:2000]}")
    timing = next((json.loads(line) for line in reversed(result.stderr.splitlines())
                   if line.startswith('{"runsMs"')), None)
    if timing is None:
        raise RuntimeError(f"no timing line on stderr: {result.stderr.strip()[-2000:]}")
    return statistics.median(timing["runsMs"]), tessera_result(response)


# ---------------------------------------------------------------------------------------
# DuckDB and chDB


def parquet_columns(parquet):
    """[(name, Arrow type, kind)] with kind 'decimal', 'date' or 'other', in file order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = []
    for field in pq.ParquetFile(parquet).schema_arrow:
        kind = "decimal" if pa.types.is_decimal(field.type) else \
            "date" if pa.types.is_date(field.type) else "other"
        columns.append((field.name, field.type, kind))
    return columns


def load_duckdb(parquet, bench_dir):
    import duckdb

    database = bench_dir / "lineitem.duckdb"
    for stale in (database, Path(str(database) + ".wal")):
        stale.unlink(missing_ok=True)
    selects = []
    for name, _, kind in parquet_columns(parquet):
        cast = {"decimal": "DOUBLE", "date": "TIMESTAMP"}.get(kind)
        selects.append(f"CAST({name} AS {cast}) AS {name}" if cast else name)
    con = duckdb.connect(str(database))
    con.execute("SET enable_progress_bar=false")
    start = time.perf_counter()
    con.execute(f"CREATE TABLE lineitem AS SELECT {', '.join(selects)} FROM read_parquet(?)", [str(parquet)])
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    return con, seconds, threads


def run_duckdb(con, sql, runs):
    def once():
        cursor = con.execute(sql)
        return cursor.fetchall(), cursor.description

    once()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rows, description = once()
        times.append((time.perf_counter() - start) * 1000)
    result = {"columns": [column[0] for column in description],
              "rows": [[normalize_cell(cell) for cell in row] for row in rows]}
    return statistics.median(times), result


CHDB_TYPES = {"int64": "Int64", "int32": "Int32", "string": "String", "large_string": "String",
              "string_view": "String", "double": "Float64"}


def load_chdb(parquet, bench_dir):
    from chdb import session

    path = bench_dir / "chdb"
    shutil.rmtree(path, ignore_errors=True)
    chs = session.Session(str(path))
    definitions, selects = [], []
    for name, arrow_type, kind in parquet_columns(parquet):
        if kind == "decimal":
            definitions.append(f"{name} Float64")
            selects.append(f"toFloat64({name})")
        elif kind == "date":
            definitions.append(f"{name} DateTime64(3, 'UTC')")
            selects.append(f"toDateTime64({name}, 3, 'UTC')")
        else:
            if str(arrow_type) not in CHDB_TYPES:
                fail(f"no ClickHouse type for {name} ({arrow_type})")
            definitions.append(f"{name} {CHDB_TYPES[str(arrow_type)]}")
            selects.append(name)
    quoted_path = str(parquet).replace("\\", "\\\\").replace("'", "\\'")
    start = time.perf_counter()
    chs.query(f"CREATE TABLE lineitem ({', '.join(definitions)}) ENGINE = MergeTree ORDER BY l_shipdate")
    chs.query(f"INSERT INTO lineitem SELECT {', '.join(selects)} FROM file('{quoted_path}', Parquet)")
    chs.query("OPTIMIZE TABLE lineitem FINAL")
    seconds = time.perf_counter() - start
    threads = json.loads(chs.query("SELECT getSetting('max_threads') AS t", "JSON").data())["data"][0]["t"]
    return chs, seconds, threads


def run_chdb(chs, sql, runs):
    chs.query(sql, "JSONCompact")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = chs.query(sql, "JSONCompact")
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), chdb_result(json.loads(response.data()))


# ---------------------------------------------------------------------------------------
# Machine


def read_bandwidth_gbs():
    """Best-of-3 read bandwidth in GB/s: numpy summing a 1 GiB float64 array, on one thread
    and on every core (halves summed in parallel; numpy releases the GIL); the better."""
    import numpy as np

    array = np.ones(BANDWIDTH_ARRAY_BYTES // 8)
    threads = os.cpu_count() or 1
    chunks = np.array_split(array, threads)
    best = math.inf
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for run in (lambda: array.sum(), lambda: list(pool.map(np.sum, chunks))):
            for _ in range(3):
                start = time.perf_counter()
                run()
                best = min(best, time.perf_counter() - start)
    return array.nbytes / best / 1e9


def machine_description():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), os.uname().machine)
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    return f"{model}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB RAM"


# ---------------------------------------------------------------------------------------
# Report


def fmt_ms(value):
    if value is None:
        return "error"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def fmt_ratio(a, b):
    return "" if a is None or b is None or b <= 0 else f"{a / b:.2f}"


def geometric_mean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def markdown_report(args, command, rows, build, duckdb_info, chdb_info, bandwidth, results):
    segments = build["segments"]
    lines = [f"## Queries: lineitem sf{args.sf}", "",
             f"{rows:,} rows; {datetime.date.today()}; {machine_description()}; median of {args.runs} "
             f"run{'s' if args.runs != 1 else ''} after one warm-up, each engine in-process with its data "
             "loaded. Ratios below 1 mean Tessera is faster.", "",
             f"Command: `{command}`", "",
             "| query | Tessera ms | DuckDB ms | chDB ms | Tessera/DuckDB | Tessera/chDB | MB touched "
             "| bandwidth floor ms | correct |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, r in results.items():
        lines.append(f"| {name} | {fmt_ms(r['tessera_ms'])} | {fmt_ms(r['duckdb_ms'])} | {fmt_ms(r['chdb_ms'])} | "
                     f"{fmt_ratio(r['tessera_ms'], r['duckdb_ms'])} | {fmt_ratio(r['tessera_ms'], r['chdb_ms'])} | "
                     f"{r['bytes'] / 1e6:,.2f} | {fmt_ms(r['floor_ms'])} | {r['marks']} |")
    both = [r for r in results.values() if r["tessera_ms"] and r["duckdb_ms"] and r["chdb_ms"]]
    duckdb_gm = geometric_mean([r["tessera_ms"] / r["duckdb_ms"] for r in both])
    chdb_gm = geometric_mean([r["tessera_ms"] / r["chdb_ms"] for r in both])
    if both:
        lines.append(f"| geometric mean | | | | {duckdb_gm:.2f} | {chdb_gm:.2f} | | | |")
    cached = f"; segments cached from a build on {build['built']}" if build.get("cached") else ""
    split = f"; Parquet split into parts in {build['splitSeconds']:.1f} s" if segments > 1 else ""
    lines += ["",
              f"Load: Tessera built {segments} segment{'s' if segments != 1 else ''} of up to "
              f"{build['segmentRows']:,} rows in {build['buildSeconds']:.1f} s wall, {build['jobs']} at a time "
              f"({sum(build['segmentSeconds']):.1f} s summed){split}{cached}; DuckDB `CREATE TABLE AS` + "
              f"`CHECKPOINT` {duckdb_info['seconds']:.1f} s; chDB `INSERT` + `OPTIMIZE TABLE FINAL` "
              f"{chdb_info['seconds']:.1f} s.", "",
              "Notes:", "",
              "- Same rows and types everywhere: Parquet decimals as DOUBLE / Float64, dates as TIMESTAMP / "
              "`DateTime64(3, 'UTC')` (the schema Tessera stores). DuckDB: native table in a database file. "
              "chDB: `MergeTree ORDER BY l_shipdate`, merged to one part. Tessera: one segment per "
              f"{build['segmentRows']:,}-row part of the Parquet file, file order, table config "
              "`../shared/datasets/lineitem/table.json` (sorted on `l_shipdate`).",
              f"- Threads: Tessera runs one task per segment on a rayon pool of {os.cpu_count()} threads, so "
              f"{segments} segment{'s use' if segments != 1 else ' uses'} {min(segments, os.cpu_count() or 1)} "
              f"core{'s' if min(segments, os.cpu_count() or 1) != 1 else ''}; DuckDB `threads={duckdb_info['threads']}` "
              f"and chDB `max_threads={chdb_info['threads']}` (their defaults).",
              "- Timing: Tessera by `tessera query --timing-runs` (parse, plan, execute with segments open; "
              "no JSON output); DuckDB `execute(sql).fetchall()`; chDB `Session.query(sql, 'JSONCompact')`; "
              "all in-process wall clock.",
              "- chDB rewrites: " + ("none; every public query runs unchanged." if not CHDB_REWRITES else
                                     "; ".join(f"{name}: `{old}` → `{new}`" for name, pairs in CHDB_REWRITES.items()
                                               for old, new in pairs) + "."),
              f"- Bandwidth floor: bytes of the columns the query names (forward index + dictionary, summed over "
              f"segments; every column for `SELECT *`) over {bandwidth:.1f} GB/s, the read bandwidth measured "
              "by numpy summing a 1 GiB float64 array (best of 3). It is the cost of a full scan of those "
              "columns at memory speed; queries answered from indexes or the sorted column can beat it.",
              "- correct: each engine's rows against Tessera's (floats to 1e-9 relative, in ORDER BY order "
              "where the query has one): ✓ equal, ✗ different, ! error."]
    return "\n".join(lines) + "\n"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sf", default="1", help="TPC-H scale factor (default 1)")
    parser.add_argument("--segment-rows", type=int, default=3_000_000,
                        help="rows per Tessera segment (default 3,000,000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per engine and query (default 5)")
    parser.add_argument("--queries", help="comma-separated query names (default: every public query)")
    parser.add_argument("--check", action="store_true", help="exit 1 on any mismatch or error; no speed checks")
    parser.add_argument("--build-jobs", type=int, default=os.cpu_count() or 1,
                        help="segment builds run at once (default: the number of cores)")
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "lineitem",
                        help="directory holding schema.json, table.json and queries/")
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    parser.add_argument("--tessera", type=Path, default=target_dir / "release" / "tessera",
                        help="the release binary (cargo build --release -p tessera)")
    parser.add_argument("--write-md", type=Path, metavar="FILE", help="write or update this run's section in FILE")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.segment_rows < 1:
        parser.error("--segment-rows must be at least 1")
    return args


def main():
    reexec_under_venv(["chdb", "duckdb", "numpy", "pyarrow"], "query_bench.py")
    import pyarrow.parquet as pq

    args = parse_args()
    command = shlex.join(["python3", "benches/query_bench.py", *sys.argv[1:]])
    if not args.tessera.exists():
        fail(f"no binary at {args.tessera}; build it with cargo build --release -p tessera")
    args.tessera = args.tessera.resolve()
    queries = load_queries(args.dataset_dir, args.queries)
    parquet = ensure_parquet(args.sf)
    parquet_rows = pq.ParquetFile(parquet).metadata.num_rows
    bench_dir = tessera_env()[2] / "bench" / f"query-sf{args.sf}-{args.segment_rows}"
    bench_dir.mkdir(parents=True, exist_ok=True)

    segment_dir, build = build_segments(args, parquet, bench_dir)
    rows, column_bytes = inspect_segments(args.tessera, segment_dir)
    problems = []
    if rows != parquet_rows:
        problems.append(f"segments hold {rows} rows, the Parquet file {parquet_rows}")
    say("loading DuckDB")
    duckdb_con, duckdb_seconds, duckdb_threads = load_duckdb(parquet, bench_dir)
    say("loading chDB")
    chs, chdb_seconds, chdb_threads = load_chdb(parquet, bench_dir)
    say("measuring memory read bandwidth")
    bandwidth = read_bandwidth_gbs()

    results = {}
    for name, sql in queries.items():
        say(f"{name}")
        entry = {"bytes": sum(column_bytes[c] for c in columns_read(sql, column_bytes))}
        entry["floor_ms"] = entry["bytes"] / (bandwidth * 1e9) * 1000
        outcomes = {}
        for engine, run in (("tessera", lambda: run_tessera(args.tessera, segment_dir, sql, args.runs)),
                            ("duckdb", lambda: run_duckdb(duckdb_con, sql, args.runs)),
                            ("chdb", lambda: run_chdb(chs, chdb_sql(name, sql), args.runs))):
            try:
                entry[f"{engine}_ms"], outcomes[engine] = run()
            except Exception as error:  # noqa: BLE001 - any engine failure is reported per query
                entry[f"{engine}_ms"] = None
                problems.append(f"{name}: {engine} failed: {error}\n  query: {' '.join(sql.split())}")
        marks = []
        for engine, label in (("duckdb", "DuckDB"), ("chdb", "chDB")):
            if "tessera" not in outcomes or engine not in outcomes:
                marks.append(f"{label} !")
                continue
            difference = compare_results(sql, outcomes["tessera"], outcomes[engine])
            marks.append(f"{label} {'✓' if difference is None else '✗'}")
            if difference is not None:
                problems.append(f"{name}: {label} disagrees with Tessera: {difference}\n"
                                f"  query: {' '.join(sql.split())}\n  Tessera:\n{show_result(outcomes['tessera'])}\n"
                                f"  {label}:\n{show_result(outcomes[engine])}")
        entry["marks"] = ", ".join(marks)
        results[name] = entry
    duckdb_con.close()
    chs.close()

    report = markdown_report(args, command, rows, build, {"seconds": duckdb_seconds, "threads": duckdb_threads},
                             {"seconds": chdb_seconds, "threads": chdb_threads}, bandwidth, results)
    print(report)
    if args.write_md:
        write_markdown_section(args.write_md, report)
    for problem in problems:
        print(f"query_bench.py: {problem}", file=sys.stderr)
    if args.check:
        if problems:
            say(f"check failed: {len(problems)} problem{'s' if len(problems) != 1 else ''}")
            sys.exit(1)
        say("checks passed")


if __name__ == "__main__":
    main()
