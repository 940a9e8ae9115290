#!/usr/bin/env python3
"""Batch-load benchmark: Tessera's segment build and `tessera ingest` against DuckDB's
load of the same TPC-H lineitem Parquet, in one run, one core and every core.

Measures, best of --runs each:
  - `tessera segment build` on one core (`taskset -c 0`) with the lineitem table config
    minus the text index, against DuckDB loading the file with threads=1 on that core;
  - `tessera ingest --url --jobs N` into a release `tessera standalone` on this machine,
    with the full table config (text index included) and without the text index, for
    N = 1 and N = every core, against DuckDB loading the file with threads=N.
DuckDB's load is CREATE TABLE AS from the Parquet file plus CHECKPOINT into a fresh
database file. Needs the venv from deploy/install-test-deps.sh and a release build.

    python3 benches/load_bench.py --sf 1 [--runs 2] [--write-md docs/benchmarks.md]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import ensure_parquet, http, reexec_under_venv, start_standalone, write_markdown_section  # noqa: E402

DUCKDB_LOAD = """
import json, sys, time, duckdb
parquet, database, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect(database)
con.execute(f"SET threads={threads}")
con.execute("SET enable_progress_bar=false")
start = time.perf_counter()
con.execute("CREATE TABLE lineitem AS SELECT * FROM read_parquet(?)", [parquet])
con.execute("CHECKPOINT")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def fail(message):
    sys.exit(f"load_bench.py: {message}")


def run(command, pin=False):
    """Run `command` (pinned to core 0 when `pin`); (seconds, stdout). Dirty pages of the
    previous run are written back first, so that no run pays for another's writeback."""
    full = (["taskset", "-c", "0"] if pin else []) + [str(c) for c in command]
    os.sync()
    started = time.perf_counter()
    result = subprocess.run(full, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        fail(f"failed ({result.returncode}): {' '.join(full)}")
    return seconds, result.stdout


def duckdb_seconds(parquet, work, threads, pin):
    database = work / f"load-{threads}.duckdb"
    for stale in (database, Path(str(database) + ".wal")):
        stale.unlink(missing_ok=True)
    _, out = run([sys.executable, "-c", DUCKDB_LOAD, parquet, database, threads], pin=pin)
    database.unlink(missing_ok=True)
    return json.loads(out.splitlines()[-1])["seconds"]


def main():
    reexec_under_venv(["duckdb"], "load_bench.py")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", default="1")
    parser.add_argument("--parquet", type=Path, help="the input file (default: lineitem at --sf)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--write-md", type=Path)
    args = parser.parse_args()
    tessera = REPO / "target" / "release" / "tessera"
    if not tessera.exists():
        fail("no release build: cargo build --release -p tessera")
    parquet = args.parquet or ensure_parquet(args.sf)
    dataset = REPO.parent / "shared" / "datasets" / "lineitem"
    if not dataset.exists():
        dataset = Path("/work/shared/datasets/lineitem")
    import duckdb
    rows = duckdb.connect().execute("SELECT COUNT(*) FROM read_parquet(?)", [str(parquet)]).fetchone()[0]
    cores = os.cpu_count() or 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # One core, every index but text.
        config = json.loads((dataset / "table.json").read_text())
        config.pop("fieldConfigList", None)
        config["tableIndexConfig"]["noDictionaryColumns"] = [
            c for c in config["tableIndexConfig"]["noDictionaryColumns"] if c != "l_comment"] + ["l_comment"]
        no_text = work / "table-no-text.json"
        no_text.write_text(json.dumps(config))
        build = [tessera, "segment", "build", "--schema", dataset / "schema.json",
                 "--table-config", no_text, "--input", parquet, "--out", work / "l.tseg"]
        results["build_one_core_no_text"] = min(run(build, pin=True)[0] for _ in range(args.runs))
        results["duckdb_1_pinned"] = min(duckdb_seconds(parquet, work, 1, True) for _ in range(args.runs))
        # `tessera ingest` into a standalone server, full table config and without the
        # text index. Each load goes into a fresh server and data directory, removed
        # after, as each DuckDB load goes into a fresh database file: on a VM that hands
        # freed memory back to its host, a server holding earlier loads' files in its
        # page cache makes every later load pay for memory the host must back again.
        schema = json.loads((dataset / "schema.json").read_text())
        schema["schemaName"] = "lineitem_notext"
        config["tableName"] = "lineitem_notext"

        def ingest_seconds(table, jobs):
            data = work / "data"
            server, url, _ = start_standalone(tessera, data)
            try:
                if table == "lineitem":
                    http("POST", url + "/schemas", (dataset / "schema.json").read_bytes())
                    http("POST", url + "/tables", (dataset / "table.json").read_bytes())
                else:
                    http("POST", url + "/schemas", json.dumps(schema).encode())
                    http("POST", url + "/tables", json.dumps(config).encode())
                seconds = run([tessera, "ingest", "--url", url, "--table", table, "--jobs", jobs, parquet])[0]
                loaded = http("POST", url + "/query/sql",
                              json.dumps({"sql": f"SELECT COUNT(*) FROM {table}"}).encode())
                count = loaded["resultTable"]["rows"][0][0]
                if count != rows:
                    fail(f"{table} holds {count} rows, not the file's {rows}")
                return seconds
            finally:
                server.terminate()
                server.wait()
                shutil.rmtree(data, ignore_errors=True)

        for jobs in sorted({1, cores}):
            for table, key in (("lineitem", f"ingest_jobs_{jobs}"),
                               ("lineitem_notext", f"ingest_notext_jobs_{jobs}")):
                results[key] = min(ingest_seconds(table, jobs) for _ in range(args.runs))
            results[f"duckdb_{jobs}"] = min(duckdb_seconds(parquet, work, jobs, False)
                                            for _ in range(args.runs))
    rate = lambda s: f"{rows / s:,.0f}"  # noqa: E731
    ratio = lambda a, b: f"{results[b] / results[a]:.2f}"  # noqa: E731
    lines = [
        f"## Batch load: lineitem sf{args.sf}",
        "",
        f"{rows:,} rows; {datetime.date.today()}; {platform.processor() or platform.machine()}, {cores} cores; "
        f"best of {args.runs}. Generated by `benches/load_bench.py`.",
        "",
        "| load | seconds | rows/s | DuckDB, same threads: seconds | rows/s | Tessera ÷ DuckDB speed |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| `segment build`, one core, every index but text | {results['build_one_core_no_text']:.2f} | "
        f"{rate(results['build_one_core_no_text'])} | {results['duckdb_1_pinned']:.2f} | "
        f"{rate(results['duckdb_1_pinned'])} | {ratio('build_one_core_no_text', 'duckdb_1_pinned')} |",
    ]
    for jobs in sorted({1, cores}):
        duck = f"duckdb_{jobs}"
        for key, what in ((f"ingest_jobs_{jobs}", "every index with text"),
                          (f"ingest_notext_jobs_{jobs}", "every index but text")):
            lines.append(f"| `tessera ingest --jobs {jobs}`, {what} | {results[key]:.2f} | "
                         f"{rate(results[key])} | {results[duck]:.2f} | {rate(results[duck])} | "
                         f"{ratio(key, duck)} |")
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write_md:
        write_markdown_section(args.write_md, section)


if __name__ == "__main__":
    main()
