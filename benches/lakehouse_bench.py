#!/usr/bin/env python3
"""Lakehouse benchmark: lineitem as an Iceberg table (Parquet, zstd, written by PyIceberg)
queried through a table's lakehouse tier, against DuckDB reading the same Parquet data
files and against the same rows as Tessera segments; then the export of those segments
to a new Iceberg table (rows/s on one core: an export writes on one thread).

Per query: the lakehouse time and the segments time (medians of --runs, both after a
first run), DuckDB's median over `read_parquet` of the Iceberg table's data files, and
whether the three answers agree. The tier reads each data file into segments on the
first query that needs it: that first read is reported on its own (rows/s).

    python3 benches/lakehouse_bench.py --sf 1 [--file-rows 6000000] [--runs 5]
        [--queries q01,q06] [--write-md docs/benchmarks.md]
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO, ensure_parquet, http, reexec_under_venv, write_markdown_section  # noqa: E402


def say(message):
    print(f"lakehouse_bench.py: {message}", file=sys.stderr, flush=True)


def write_iceberg(parquet, warehouse, file_rows):
    """lineitem as an Iceberg table written by PyIceberg, with the Parquet file's own
    types (TPC-H's decimals and dates), one append per `file_rows` rows (PyIceberg splits
    an append into files of its target size). Returns (table root, data files, seconds)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog

    warehouse.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog("bench", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")
    catalog.create_namespace("bench")
    source = pq.ParquetFile(parquet)
    # Iceberg has no unsigned or 8/16-bit integers, and wants microsecond timestamps.
    fields = []
    for field in source.schema_arrow:
        kind = field.type
        if pa.types.is_integer(kind):
            kind = pa.int32() if kind.bit_width <= 32 and kind.bit_width > 8 else pa.int64()
        elif pa.types.is_timestamp(kind):
            kind = pa.timestamp("us")
        elif pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        fields.append(pa.field(field.name, kind))
    arrow_schema = pa.schema(fields)
    table = catalog.create_table("bench.lineitem", schema=arrow_schema)
    started = time.perf_counter()
    pending, rows = [], 0

    def flush():
        nonlocal pending, rows
        if pending:
            table.append(pa.Table.from_batches(pending).cast(arrow_schema))
            pending, rows = [], 0

    for batch in source.iter_batches(batch_size=1_000_000):
        pending.append(batch)
        rows += batch.num_rows
        if rows >= file_rows:
            flush()
    flush()
    seconds = time.perf_counter() - started
    table = catalog.load_table("bench.lineitem")
    files = [task.file.file_path.removeprefix("file://") for task in table.scan().plan_files()]
    return table.location().removeprefix("file://"), files, seconds


def timed(server, sql):
    started = time.perf_counter()
    response = server.query(sql)
    elapsed = (time.perf_counter() - started) * 1000
    if not isinstance(response, dict) or response.get("exceptions"):
        raise SystemExit(f"lakehouse_bench.py: {sql}: {response}")
    return elapsed, response


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sf", default="1")
    parser.add_argument("--file-rows", type=int, default=6_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", default="")
    parser.add_argument("--tessera", default=str(REPO / "target" / "release" / "tessera"))
    parser.add_argument("--write-md")
    args = parser.parse_args()
    reexec_under_venv(["duckdb", "pyiceberg"], "lakehouse_bench.py")
    import duckdb
    from cold_bench import Standalone
    from query_bench import compare_results, geometric_mean, load_queries, run_duckdb, tessera_result

    dataset_dir = REPO.parent / "shared" / "datasets" / "lineitem"
    parquet = ensure_parquet(args.sf)
    queries = load_queries(dataset_dir, args.queries)
    work = Path(tempfile.mkdtemp(prefix="tessera-lakehouse-bench-"))
    lake = segments = None
    try:
        say(f"writing lineitem sf{args.sf} as an Iceberg table with PyIceberg")
        root, files, write_seconds = write_iceberg(parquet, work / "wh", args.file_rows)
        say(f"{len(files)} data files in {write_seconds:.1f} s")
        table = json.loads((dataset_dir / "table.json").read_text())
        # Every row below a boundary far in the future: the lakehouse serves them all.
        table["lakehouse"] = {"catalog": {"type": "location", "location": root}, "table": "bench.lineitem",
                              "timeBoundary": 9_000_000_000_000_000, "refreshInterval": "1h"}
        lake = Standalone(args.tessera, work / "lake")
        http("POST", lake.url + "/schemas", (dataset_dir / "schema.json").read_bytes())
        http("POST", lake.url + "/tables", json.dumps(table).encode())
        first_ms, counted = timed(lake, "SELECT COUNT(*) FROM lineitem")
        rows = counted["resultTable"]["rows"][0][0]
        say(f"first query read {rows:,} rows from {len(files)} files in {first_ms / 1000:.1f} s")

        segments = Standalone(args.tessera, work / "segments")
        export_root = work / "export"
        seg_table = json.loads((dataset_dir / "table.json").read_text())
        seg_table["lakehouse"] = {"catalog": {"type": "location", "location": str(export_root / "lineitem")},
                                  "table": "export.lineitem", "export": True, "refreshInterval": "1h"}
        http("POST", segments.url + "/schemas", (dataset_dir / "schema.json").read_bytes())
        http("POST", segments.url + "/tables", json.dumps(seg_table).encode())
        subprocess_ingest(args.tessera, segments.url, parquet)

        con = duckdb.connect()
        con.execute("SET enable_progress_bar=false")
        # As query_bench.py loads DuckDB: decimals as DOUBLE, dates as TIMESTAMP (the
        # types Tessera's schema gives them), read straight from the data files.
        kinds = con.execute(f"DESCRIBE SELECT * FROM read_parquet({json.dumps(files)})").fetchall()
        selects = [f"CAST({name} AS DOUBLE) AS {name}" if kind.startswith("DECIMAL")
                   else f"CAST({name} AS TIMESTAMP) AS {name}" if kind == "DATE" else name
                   for name, kind, *_ in kinds]
        con.execute(f"CREATE VIEW lineitem AS SELECT {', '.join(selects)} "
                    f"FROM read_parquet({json.dumps(files)})")
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]

        results, problems = [], []
        for name, sql in queries.items():
            timed(lake, sql)
            lake_times = [timed(lake, sql)[0] for _ in range(args.runs)]
            lake_answer = timed(lake, sql)[1]
            timed(segments, sql)
            segment_times = [timed(segments, sql)[0] for _ in range(args.runs)]
            segment_answer = timed(segments, sql)[1]
            duck_ms, duck_answer = run_duckdb(con, sql, args.runs)
            for other, answer in (("segments", tessera_result(segment_answer)), ("DuckDB", duck_answer)):
                difference = compare_results(sql, tessera_result(lake_answer), answer)
                if difference:
                    problems.append(f"{name}: the lakehouse answer differs from {other}'s: {difference}")
            results.append({"name": name, "lake": statistics.median(lake_times),
                            "segments": statistics.median(segment_times), "duckdb": duck_ms})
            r = results[-1]
            say(f"{name}: lakehouse {r['lake']:.1f} ms, segments {r['segments']:.1f} ms, DuckDB {r['duckdb']:.1f} ms")

        say("exporting the segments to a new Iceberg table")
        started = time.perf_counter()
        exported = http("POST", segments.url + "/tables/lineitem/lakehouse/export")
        export_seconds = time.perf_counter() - started
        if not isinstance(exported, dict) or exported.get("rows") != rows:
            problems.append(f"the export wrote {exported} rows of {rows}")
        exported_rows = con.execute(
            "SELECT COUNT(*) FROM read_parquet(?)", [str(export_root / "lineitem" / "data" / "**" / "*.parquet")]
        ).fetchone()[0]
        if exported_rows != rows:
            problems.append(f"DuckDB reads {exported_rows} rows from the export, not {rows}")
    finally:
        for server in (lake, segments):
            if server:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)

    today = datetime.date.today().isoformat()
    command = f"python3 benches/lakehouse_bench.py --sf {args.sf} --file-rows {args.file_rows} --runs {args.runs}"
    lines = [f"## Lakehouse: lineitem sf{args.sf} as an Iceberg table", "",
             f"{rows:,} rows; {today}; 2 cores; DuckDB {duckdb.__version__} with {threads} threads. PyIceberg "
             f"wrote the table with the Parquet file's types (decimals, dates; {len(files)} data files, zstd) in {write_seconds:.1f} s. Lakehouse: a table "
             "whose every row is below its time boundary, so the Iceberg tier serves them all; segments: the same "
             "Parquet loaded with `tessera ingest`; DuckDB: a view over `read_parquet` of the Iceberg table's data files "
             "(decimals read as DOUBLE, dates as TIMESTAMP, as the query benchmark loads DuckDB). "
             f"Medians of {args.runs} runs after one warm-up; answers compared.", "",
             f"Command: `{command}`", "",
             "| query | lakehouse ms | segments ms | DuckDB ms | lakehouse/DuckDB | lakehouse/segments |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        lines.append(f"| {r['name']} | {r['lake']:.1f} | {r['segments']:.1f} | {r['duckdb']:.1f} | "
                     f"{r['lake'] / r['duckdb']:.2f} | {r['lake'] / r['segments']:.2f} |")
    lines.append(f"| geometric mean | | | | {geometric_mean([r['lake'] / r['duckdb'] for r in results]):.2f} | "
                 f"{geometric_mean([r['lake'] / r['segments'] for r in results]):.2f} |")
    lines += ["", f"- First read: the first query read the {len(files)} data files into segments (every index of "
              f"the table config) in {first_ms / 1000:.1f} s, {rows / (first_ms / 1000):,.0f} rows/s on 2 cores; "
              "later queries read those segments.",
              f"- Export: {rows:,} rows of segments written as an Iceberg table in {export_seconds:.1f} s, "
              f"{rows / export_seconds:,.0f} rows/s on one core (the export writes on one thread); DuckDB reads "
              f"{exported_rows:,} rows back from its files."]
    if problems:
        lines += ["", "Problems:", ""] + [f"- {p}" for p in problems]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write_md:
        write_markdown_section(Path(args.write_md), report)
    if problems:
        sys.exit("lakehouse_bench.py: " + "; ".join(problems))


def subprocess_ingest(tessera, url, parquet):
    import subprocess
    subprocess.run([str(tessera), "ingest", "--url", url, "--table", "lineitem", str(parquet)],
                   check=True, stdout=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
