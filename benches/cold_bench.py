#!/usr/bin/env python3
"""Cold-segment benchmark: the public lineitem queries on a standalone that serves its
segments straight from the S3 server (moto) through a disk cache, beside a standalone
serving the same segments from local files.

Per query: the cold time (the cache emptied of sections, footers kept, the server
restarted), the warm time (median of --runs after it), the local time (median of --runs),
the GETs and bytes the cold run fetched, and the bytes of every section of the columns the
query names (from `tessera segment inspect` of the local copies) for the bound
fetched <= 1.2 x needed. Answers are compared between the two servers.

moto keeps objects in memory and serves ~150 requests/s: it measures what Tessera asks
of a store (GETs, bytes, round trips), not what S3 would take.

    python3 benches/cold_bench.py --sf 1 [--segment-rows 300000] [--cache-size 1GB]
        [--runs 5] [--queries q01,q06] [--write-md docs/benchmarks.md]
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (REPO, ensure_parquet, free_port, http, reexec_under_venv,  # noqa: E402
                          tessera_env, wait_for, write_markdown_section)


def say(message):
    print(f"cold_bench.py: {message}", file=sys.stderr, flush=True)


def fail(message):
    sys.exit(f"cold_bench.py: {message}")


class Standalone:
    def __init__(self, tessera, data_dir, extra_args=(), env=None):
        self.tessera, self.data_dir, self.extra_args = tessera, Path(data_dir), list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [str(self.tessera), "standalone", "--data-dir", str(self.data_dir), "--http",
             f"127.0.0.1:{self.port}", "--pg", "off", *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
        wait_for("standalone", 600, lambda: http("GET", self.url + "/health") or True)

    def stop(self):
        if self.process:
            self.process.kill()
            self.process.wait()
            self.process = None

    def query(self, sql):
        return http("POST", self.url + "/query/sql", json.dumps({"sql": sql}).encode())

    def metric(self, name):
        text = http("GET", self.url + "/metrics")
        for line in text.splitlines() if isinstance(text, str) else []:
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0


def ingest(server, parquet, segment_rows, dataset_dir):
    for path, body in (("/schemas", (dataset_dir / "schema.json").read_bytes()),
                       ("/tables", (dataset_dir / "table.json").read_bytes())):
        http("POST", server.url + path, body)
    subprocess.run([str(server.tessera), "ingest", "--url", server.url, "--table", "lineitem",
                    "--segment-rows", str(segment_rows), str(parquet)], check=True, stdout=sys.stderr)


def section_bytes(tessera, files, columns):
    needed = total = 0
    for path in files:
        report = json.loads(subprocess.run([str(tessera), "segment", "inspect", str(path)], check=True,
                                           capture_output=True, text=True).stdout)
        total += report["bytes"]
        needed += sum(s["length"] for s in report["sections"] if s["column"] in columns)
    return needed, total


def named_columns(sql, schema_columns):
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql))
    if re.search(r"SELECT\s+\*", sql, flags=re.I):
        return set(schema_columns)
    return {c for c in schema_columns if c in words}


def same_rows(a, b):
    rows_a, rows_b = a["resultTable"]["rows"], b["resultTable"]["rows"]
    if len(rows_a) != len(rows_b):
        return False
    for row_a, row_b in zip(rows_a, rows_b):
        for x, y in zip(row_a, row_b):
            if isinstance(x, float) or isinstance(y, float):
                if abs(x - y) > 1e-9 * max(abs(x), abs(y), 1e-300):
                    return False
            elif x != y:
                return False
    return True


def timed(server, sql):
    started = time.perf_counter()
    response = server.query(sql)
    return (time.perf_counter() - started) * 1000, response


def empty_sections(cache_dir):
    """Remove every cached section, keeping the footers (a restarted server opens its
    segments from them with no GET)."""
    for path in Path(cache_dir).rglob("*"):
        if path.is_file() and not path.name.startswith("footer-"):
            path.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sf", default="1")
    parser.add_argument("--segment-rows", type=int, default=300_000)
    parser.add_argument("--cache-size", default="1GB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", default="")
    parser.add_argument("--tessera", default=str(REPO / "target" / "release" / "tessera"))
    parser.add_argument("--write-md")
    args = parser.parse_args()
    reexec_under_venv(["duckdb"], "cold_bench.py")
    venv = tessera_env()[0]
    dataset_dir = REPO.parent / "shared" / "datasets" / "lineitem"
    parquet = ensure_parquet(args.sf)
    queries = {p.stem: p.read_text().strip().rstrip(";") for p in sorted((dataset_dir / "queries").glob("*.sql"))}
    if args.queries:
        queries = {n: queries[n] for n in args.queries.split(",")}
    schema_columns = [f["name"] for key in ("dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs")
                      for f in json.loads((dataset_dir / "schema.json").read_text()).get(key, [])]

    work = Path(tempfile.mkdtemp(prefix="tessera-cold-bench-"))
    moto_port = free_port()
    moto = subprocess.Popen([str(venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cold = local = None
    try:
        wait_for("moto", 60, lambda: http("PUT", f"http://127.0.0.1:{moto_port}/bench") or True)
        env = {"AWS_ENDPOINT": f"http://127.0.0.1:{moto_port}", "AWS_ALLOW_HTTP": "true",
               "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        cold = Standalone(args.tessera, work / "cold",
                          ["--deep-store", "s3://bench/segments", "--cache-size", args.cache_size], env)
        local = Standalone(args.tessera, work / "local")
        say(f"loading lineitem sf{args.sf} into both servers")
        ingest(cold, parquet, args.segment_rows, dataset_dir)
        ingest(local, parquet, args.segment_rows, dataset_dir)
        rows = local.query("SELECT COUNT(*) FROM lineitem")["resultTable"]["rows"][0][0]
        local_files = sorted((work / "local" / "segments").rglob("*.tseg"))
        results, problems = [], []
        for name, sql in queries.items():
            cold.stop()
            empty_sections(work / "cold" / "cache")
            cold.start()
            cold_ms, first = timed(cold, sql)
            warm = sorted(timed(cold, sql)[0] for _ in range(args.runs))
            local.query(sql)
            local_times = sorted(timed(local, sql)[0] for _ in range(args.runs))
            expected = local.query(sql)
            if first.get("exceptions") or not same_rows(first, expected):
                problems.append(f"{name}: the cold answer differs from the local one")
            needed, total = section_bytes(args.tessera, local_files, named_columns(sql, schema_columns))
            results.append({
                "name": name, "cold_ms": cold_ms, "warm_ms": statistics.median(warm),
                "local_ms": statistics.median(local_times),
                "gets": first.get("numDeepStoreRequests", 0),
                "fetched": first.get("numBytesReadFromDeepStore", 0),
                "needed": needed, "total": total,
            })
            say(f"{name}: cold {cold_ms:.1f} ms, warm {statistics.median(warm):.2f} ms, "
                f"local {statistics.median(local_times):.2f} ms, {results[-1]['gets']} GETs, "
                f"{results[-1]['fetched']:,} of {needed:,} bytes")
        hits = cold.metric("tessera_cache_hits_total")
        misses = cold.metric("tessera_cache_misses_total")
    finally:
        for server in (cold, local):
            if server:
                server.stop()
        moto.kill()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)

    today = datetime.date.today().isoformat()
    command = f"python3 benches/cold_bench.py --sf {args.sf} --segment-rows {args.segment_rows} " \
              f"--cache-size {args.cache_size} --runs {args.runs}"
    segments = len(local_files)
    lines = [f"## Cold segments: lineitem sf{args.sf} from the S3 server through a {args.cache_size} cache", "",
             f"{rows:,} rows in {segments} segments; {today}; 2 cores. Cold: the cache emptied of sections "
             "(footers kept) and the server restarted before the query's first run; warm: median of "
             f"{args.runs} runs after it; local: the same segments as local files, median of {args.runs}. "
             "The S3 server is moto (in memory, Python, ~150 requests/s): cold times measure what Tessera asks "
             "of a store on this machine, not S3.", "", f"Command: `{command}`", "",
             "| query | local ms | warm ms | warm/local | cold ms | GETs | bytes fetched | bytes of named columns | fetched/needed |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        ratio = r["fetched"] / r["needed"] if r["needed"] else 0.0
        lines.append(f"| {r['name']} | {r['local_ms']:.2f} | {r['warm_ms']:.2f} | {r['warm_ms'] / r['local_ms']:.2f} | "
                     f"{r['cold_ms']:.1f} | {r['gets']} | {r['fetched']:,} | {r['needed']:,} | {ratio:.2f} |")
    warm_ratios = [r["warm_ms"] / r["local_ms"] for r in results]
    geo = 1.0
    for ratio in warm_ratios:
        geo *= ratio
    lines.append(f"| geometric mean | | | {geo ** (1 / len(warm_ratios)):.2f} | | | | | |")
    hit_rate = hits / (hits + misses) if hits + misses else 0.0
    lines += ["", f"Cache over the whole run: {int(hits)} hits, {int(misses)} misses (hit rate {hit_rate:.2f}; "
              "every query's first run is a miss by construction).",
              "", "- bytes of named columns: every section of every column the query names, over all segments "
              "(`tessera segment inspect`); a query fetches the sections its plan reads, so less.",
              "- warm/local is the cost of reading through the cache's maps and the prefetch's bookkeeping."]
    if problems:
        lines += ["", "Problems:", ""] + [f"- {p}" for p in problems]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write_md:
        write_markdown_section(Path(args.write_md), report)
    if problems:
        fail("; ".join(problems))


if __name__ == "__main__":
    main()
