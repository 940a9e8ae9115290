#!/usr/bin/env python3
"""Segment-build benchmark: `tessera segment build` on TPC-H lineitem, one core.

Measures build throughput (rows/s, best and median of --runs) and peak RSS of the
release binary pinned to core 0, breaks the segment's size down per column from
`tessera segment inspect`, and compares with two references on the same Parquet input:
DuckDB loading it into a fresh on-disk database (threads=1, same core) and the same
rows rewritten as zstd Parquet. `--check` asserts correctness instead of speed (the
smoke run in deploy/test.sh). Needs the venv from deploy/install-test-deps.sh (stdlib +
duckdb + pyarrow); run with plain python3 and it re-executes itself under the venv.

    python3 benches/build_bench.py --sf 1 [--runs 3] [--write-md docs/benchmarks.md]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import ensure_parquet, reexec_under_venv, tessera_env, write_markdown_section  # noqa: E402

# Runs in a child process, so that DuckDB gets the same core pinning and RSS accounting
# as tessera. Prints the load time (CREATE TABLE AS + CHECKPOINT) as JSON.
DUCKDB_LOAD_SCRIPT = """
import json, sys, time, duckdb
parquet, database = sys.argv[1], sys.argv[2]
con = duckdb.connect(database)
con.execute("SET threads=1")
con.execute("SET enable_progress_bar=false")
start = time.perf_counter()
con.execute("CREATE TABLE lineitem AS SELECT * FROM read_parquet(?)", [parquet])
con.execute("CHECKPOINT")
seconds = time.perf_counter() - start
con.close()
print(json.dumps({"seconds": seconds}))
"""


def fail(message):
    sys.exit(f"build_bench.py: {message}")


def run_measured(command):
    """Run command pinned to core 0; return (wall seconds, peak RSS in KB, stdout)."""
    with tempfile.NamedTemporaryFile(mode="r") as rss_file:
        start = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, "taskset", "-c", "0", *command],
            capture_output=True,
            text=True,
        )
        wall_seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            fail(f"command failed with exit code {result.returncode}: {' '.join(map(str, command))}")
        peak_rss_kb = int(rss_file.read().split()[-1])
    return wall_seconds, peak_rss_kb, result.stdout


def summarize_runs(seconds_list, rss_list, rows):
    best, median = min(seconds_list), statistics.median(seconds_list)
    return {"best_s": best, "median_s": median, "best_rows_per_s": rows / best,
            "median_rows_per_s": rows / median, "peak_rss_kb": max(rss_list)}


def bench_tessera(tessera, dataset_dir, parquet, work_dir, runs, rows):
    segment = work_dir / "lineitem.tseg"
    build = [tessera, "segment", "build", "--schema", dataset_dir / "schema.json",
             "--table-config", dataset_dir / "table.json", "--input", parquet, "--out", segment]
    seconds_list, rss_list = [], []
    for _ in range(runs):
        segment.unlink(missing_ok=True)
        seconds, rss_kb, _ = run_measured(build)
        seconds_list.append(seconds)
        rss_list.append(rss_kb)
    inspect_run = subprocess.run([tessera, "segment", "inspect", segment], capture_output=True, text=True)
    if inspect_run.returncode != 0:
        sys.stderr.write(inspect_run.stderr)
        fail(f"tessera segment inspect failed with exit code {inspect_run.returncode}")
    inspect = json.loads(inspect_run.stdout)
    result = summarize_runs(seconds_list, rss_list, rows)
    result["bytes"] = segment.stat().st_size
    return result, inspect


def bench_duckdb(parquet, work_dir, runs, rows):
    database = work_dir / "lineitem.duckdb"
    seconds_list, rss_list = [], []
    for _ in range(runs):
        for stale in (database, database.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        _, rss_kb, stdout = run_measured([sys.executable, "-c", DUCKDB_LOAD_SCRIPT, parquet, database])
        seconds_list.append(json.loads(stdout.splitlines()[-1])["seconds"])
        rss_list.append(rss_kb)
    result = summarize_runs(seconds_list, rss_list, rows)
    result["bytes"] = database.stat().st_size
    return result


def rewrite_parquet_zstd(parquet, work_dir):
    """Same rows and row groups as the input, zstd at pyarrow's default level; returns its size."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(parquet)
    target = work_dir / "lineitem.zstd.parquet"
    with pq.ParquetWriter(target, source.schema_arrow, compression="zstd") as writer:
        for index in range(source.num_row_groups):
            row_group = source.read_row_group(index)
            writer.write_table(row_group, row_group_size=max(row_group.num_rows, 1))
    return target.stat().st_size


def duckdb_time_range_ms(parquet):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads=1")
    return con.execute("SELECT epoch_ms(min(l_shipdate)), epoch_ms(max(l_shipdate)) FROM read_parquet(?)",
                       [str(parquet)]).fetchone()


def column_data_bytes(inspect):
    return sum(column["bytes"] for column in inspect["columns"])


# The size floor is stated for lineitem at benchmark scale. At sf0.01 (60k rows) fixed
# costs dominate and Parquet's encodings win on the 15k sorted order keys: the segment's
# column data is about 7% larger there (1.68 MB against 1.57 MB), so the check starts at sf1.
SIZE_CHECK_MIN_SF = 1.0


def check_segment(inspect, parquet, parquet_zstd_bytes, sf):
    """Return a list of failed expectations (empty when the segment is right)."""
    import pyarrow.parquet as pq

    problems = []
    expected_rows = pq.ParquetFile(parquet).metadata.num_rows
    if inspect["rowCount"] != expected_rows:
        problems.append(f"rowCount={inspect['rowCount']}, Parquet has {expected_rows} rows")
    columns = {column["name"]: column for column in inspect["columns"]}
    for name, expected_cardinality in (("l_shipmode", 7), ("l_returnflag", 3)):
        cardinality = columns.get(name, {}).get("cardinality")
        if cardinality != expected_cardinality:
            problems.append(f"{name} cardinality={cardinality}, expected {expected_cardinality}")
    min_ms, max_ms = duckdb_time_range_ms(parquet)
    if (inspect.get("minTime"), inspect.get("maxTime")) != (min_ms, max_ms):
        problems.append(f"time range=[{inspect.get('minTime')}, {inspect.get('maxTime')}], "
                        f"DuckDB says [{min_ms}, {max_ms}] (epoch ms of l_shipdate)")
    data_bytes = column_data_bytes(inspect)
    if float(sf) >= SIZE_CHECK_MIN_SF and data_bytes > parquet_zstd_bytes:
        problems.append(f"column data bytes={data_bytes} exceed Parquet zstd bytes={parquet_zstd_bytes}")
    elif data_bytes > parquet_zstd_bytes:
        print(f"build_bench.py: note: at sf{sf} column data bytes={data_bytes} exceed Parquet zstd "
              f"bytes={parquet_zstd_bytes}; the size floor is checked from sf{SIZE_CHECK_MIN_SF:g}")
    return problems


def megabytes(n):
    return f"{n / 1e6:.2f}"


def kilobytes(n):
    return f"{n / 1e3:,.0f}"


def markdown_report(sf, rows, tessera, duckdb_result, inspect, parquet_bytes, parquet_zstd_bytes):
    lines = [f"## Segment build: lineitem sf{sf}", "",
             f"{rows:,} rows; {datetime.date.today()}; {machine_description()}; one core (`taskset -c 0`).", "",
             "| system | best s | median s | best rows/s | median rows/s | peak RSS MB | size MB |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, result in (("tessera segment build", tessera), ("DuckDB load (threads=1) ¹", duckdb_result)):
        lines.append(f"| {label} | {result['best_s']:.2f} | {result['median_s']:.2f} | "
                     f"{result['best_rows_per_s']:,.0f} | {result['median_rows_per_s']:,.0f} | "
                     f"{result['peak_rss_kb'] / 1024:.0f} | {megabytes(result['bytes'])} |")
    lines += [f"| input Parquet (tpchgen-cli, Snappy) | | | | | | {megabytes(parquet_bytes)} |",
              f"| same rows as Parquet zstd (pyarrow) | | | | | | {megabytes(parquet_zstd_bytes)} |", "",
              "¹ CREATE TABLE AS from the Parquet file plus CHECKPOINT, into a fresh database file; "
              "its RSS includes the Python interpreter.", ""]
    index_bytes = sum(column["indexBytes"] for column in inspect["columns"])
    lines += [f"Segment: {megabytes(column_data_bytes(inspect))} MB column data, "
              f"{megabytes(index_bytes)} MB indexes, {megabytes(inspect['bytes'])} MB in all.", "",
              "| column | type | encoding | cardinality | data KB | index KB | indexes |",
              "| --- | --- | --- | ---: | ---: | ---: | --- |"]
    for column in inspect["columns"]:
        lines.append(f"| {column['name']} | {column['dataType']} | {column['encoding']} | "
                     f"{optional(column.get('cardinality'))} | {kilobytes(column['bytes'])} | "
                     f"{kilobytes(column['indexBytes'])} | {', '.join(column['indexes'])} |")
    by_index_list = {}
    for column in inspect["columns"]:
        key = ", ".join(column["indexes"]) or "(none)"
        by_index_list[key] = by_index_list.get(key, 0) + column["indexBytes"]
    lines += ["", "| index list | index KB |", "| --- | ---: |"]
    lines += [f"| {key} | {kilobytes(total)} |" for key, total in sorted(by_index_list.items())]
    return "\n".join(lines) + "\n"


def optional(value):
    return "" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def machine_description():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    return f"{model}, {os.cpu_count()} cores"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sf", default="1", help="TPC-H scale factor (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per system (default 3)")
    parser.add_argument("--check", action="store_true", help="assert the segment is right; exit 1 if not")
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "lineitem",
                        help="directory holding schema.json and table.json")
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    parser.add_argument("--tessera", type=Path, default=target_dir / "release" / "tessera",
                        help="the release binary (cargo build --release -p tessera)")
    parser.add_argument("--write-md", type=Path, metavar="FILE", help="write or update this run's section in FILE")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main():
    reexec_under_venv(["duckdb", "pyarrow"], "build_bench.py")
    import pyarrow.parquet as pq

    args = parse_args()
    if not args.tessera.exists():
        fail(f"no binary at {args.tessera}; build it with cargo build --release -p tessera")
    parquet = ensure_parquet(args.sf)
    rows = pq.ParquetFile(parquet).metadata.num_rows
    # Scratch files go under target/ (on disk, ignored by git), not a possibly in-memory /tmp.
    scratch_parent = REPO / "target"
    scratch_parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="build-bench-", dir=scratch_parent) as work:
        work_dir = Path(work)
        tessera, inspect = bench_tessera(args.tessera, args.dataset_dir, parquet, work_dir, args.runs, rows)
        duckdb_result = bench_duckdb(parquet, work_dir, args.runs, rows)
        parquet_zstd_bytes = rewrite_parquet_zstd(parquet, work_dir)
    report = markdown_report(args.sf, rows, tessera, duckdb_result, inspect, parquet.stat().st_size,
                             parquet_zstd_bytes)
    print(report)
    if args.write_md:
        write_markdown_section(args.write_md, report)
    if args.check:
        problems = check_segment(inspect, parquet, parquet_zstd_bytes, args.sf)
        for problem in problems:
            print(f"build_bench.py: check failed: {problem}", file=sys.stderr)
        if problems:
            sys.exit(1)
        print("build_bench.py: checks passed", file=sys.stderr)


if __name__ == "__main__":
    main()
