#!/usr/bin/env python3
"""Realtime ingestion benchmark: the release `tessera standalone` on this machine.

Measures, in one run:
- push ingest rate: JSON lines POSTed to /ingest/{table} (batches of --batch rows, --clients
  concurrent connections) into consuming segments (flush threshold above the row count, so
  no seal competes), as rows/s of wall time and rows/s per core of server CPU time
  (utime + stime of the server process from /proc);
- generator ingest rate: a generator table asked for far more rows than it can make, so
  it runs flat out for --generator-seconds; rows/s per core the same way;
- push-to-queryable latency: single-row pushes, each acknowledged only when durable
  (fsync) and queryable, p50/p99 of the acknowledgement, then of ack + a query that
  sees the row;
- memory of the consuming segment in bytes per row beside the sealed segment's file size
  per row (the same rows after forceCommit);
- query latency on the consuming segment against the same rows sealed (median of --runs,
  client-side, HTTP included);
- a reference: DuckDB reading the same JSON lines (`read_json`, threads=1), rows/s.

    python3 benches/ingest_bench.py [--rows 2000000] [--batch 10000] [--clients 2]
        [--write-md docs/benchmarks.md] [--check]

`--check` (the CI smoke run) uses small sizes and fails on a wrong count, asserting nothing
about speed.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO, reexec_under_venv, write_markdown_section  # noqa: E402

reexec_under_venv(["duckdb"], "ingest_bench.py")
import duckdb  # noqa: E402

SCHEMA = {
    "schemaName": "{name}",
    "dimensionFieldSpecs": [
        {"name": "id", "dataType": "LONG"},
        {"name": "event_type", "dataType": "STRING"},
        {"name": "country", "dataType": "STRING"},
        {"name": "user_id", "dataType": "STRING"},
        {"name": "tags", "dataType": "STRING", "singleValueField": False},
    ],
    "metricFieldSpecs": [{"name": "latency_ms", "dataType": "DOUBLE"}, {"name": "bytes", "dataType": "LONG"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH",
                            "granularity": "1:MILLISECONDS"}],
}
EVENT_TYPES = ["click", "view", "scroll", "login", "logout", "search", "checkout", "error"]
COUNTRIES = ["US", "DE", "FR", "IN", "BR", "JP", "GB", "CA", "MX", "NL", "ES", "KR"]
TAGS = ["a", "b", "c", "mobile", "desktop", "beta"]
QUERIES = [
    ("filter count", "SELECT COUNT(*) FROM {t} WHERE country = 'DE'"),
    ("group by", "SELECT event_type, COUNT(*), AVG(latency_ms) FROM {t} GROUP BY event_type ORDER BY 2 DESC LIMIT 10"),
    ("distinct", "SELECT COUNT(DISTINCT user_id) FROM {t}"),
    ("range + sum", "SELECT country, SUM(bytes) FROM {t} WHERE latency_ms BETWEEN 100 AND 200 GROUP BY country ORDER BY 2 DESC LIMIT 5"),
]


def say(message):
    print(f"ingest_bench.py: {message}", file=sys.stderr, flush=True)


def fail(message):
    sys.exit(f"ingest_bench.py: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, data_dir):
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(binary), "standalone", "--data-dir", str(data_dir), "--http", f"127.0.0.1:{self.port}", "--pg", "off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        fail("the server did not start")

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data

    def json(self, method, path, body=None):
        status, data = self.request(method, path, body)
        if status != 200:
            fail(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    def query(self, sql):
        return self.json("POST", "/query/sql", json.dumps({"sql": sql}))

    def cpu_seconds(self):
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metric(self, sample):
        _, data = self.request("GET", "/metrics")
        for line in data.decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def create_table(server, name, stream_configs):
    schema = json.loads(json.dumps(SCHEMA).replace("{name}", name))
    server.json("POST", "/schemas", json.dumps(schema))
    table = {"tableName": name, "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
             "tableIndexConfig": {"invertedIndexColumns": ["country", "event_type"],
                                  "noDictionaryColumns": ["latency_ms", "bytes"],
                                  "streamConfigs": stream_configs}}
    server.json("POST", "/tables", json.dumps(table))


def make_rows(first, count, rng):
    base = 1_780_000_000_000
    lines = []
    for i in range(first, first + count):
        row = {"id": i, "event_type": rng.choice(EVENT_TYPES), "country": rng.choice(COUNTRIES),
               "user_id": f"u{rng.randrange(200_000):06d}", "tags": rng.sample(TAGS, rng.randrange(3)),
               "latency_ms": round(rng.expovariate(1 / 120), 2), "bytes": rng.randrange(100_000), "ts": base + i}
        lines.append(json.dumps(row, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def push_all(server, table, bodies, clients):
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    errors = []

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop()
            connection.request("POST", f"/ingest/{table}", body=body, headers={"Content-Type": "application/x-ndjson"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                errors.append(data[:200])
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        fail(f"push failed: {errors[0]!r}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def median_query_ms(server, sql, runs):
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        server.query(sql)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--generator-seconds", type=float, default=10)
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tessera", default=str(REPO / "target" / "release" / "tessera"))
    parser.add_argument("--write-md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        args.rows, args.batch, args.generator_seconds, args.latency_samples, args.runs = 20_000, 2_000, 2, 20, 1
    binary = Path(args.tessera)
    if not binary.exists():
        fail(f"{binary} missing; cargo build --release -p tessera")
    rng = random.Random(7)
    say(f"generating {args.rows:,} rows of JSON")
    bodies = [make_rows(first, min(args.batch, args.rows - first), rng) for first in range(0, args.rows, args.batch)]
    json_bytes = sum(len(b) for b in bodies)
    work = Path(tempfile.mkdtemp(prefix="tessera-ingest-bench-"))
    server = Server(binary, work / "data")
    results = {}
    try:
        # Push rate into consuming segments.
        create_table(server, "bench_push", {"streamType": "push", "realtime.segment.flush.threshold.rows": str(args.rows * 2),
                                            "realtime.segment.flush.threshold.time": "6h"})
        cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
        push_all(server, "bench_push", bodies, args.clients)
        wall, cpu = time.perf_counter() - wall0, server.cpu_seconds() - cpu0
        count = server.query("SELECT COUNT(*), SUM(id) FROM bench_push")["resultTable"]["rows"][0]
        if count[0] != args.rows or int(count[1]) != args.rows * (args.rows - 1) // 2:
            fail(f"push count/sum wrong: {count}")
        results["push"] = (args.rows / wall, args.rows / cpu, wall, cpu)
        say(f"push: {args.rows / wall:,.0f} rows/s wall, {args.rows / cpu:,.0f} rows/s per core")

        # Memory, and queries on the consuming segment vs the same rows sealed.
        metadata = server.json("GET", "/segments/bench_push/metadata")
        consuming = [s for s in metadata.values() if s["state"] == "CONSUMING" and s["totalDocs"] > 0]
        memory = sum(s["memoryBytes"] for s in consuming)
        consuming_ms = {name: median_query_ms(server, sql.format(t="bench_push"), args.runs) for name, sql in QUERIES}
        server.json("POST", "/tables/bench_push/forceCommit")
        deadline = time.time() + 600
        while True:
            metadata = server.json("GET", "/segments/bench_push/metadata")
            sealed = [s for s in metadata.values() if s["state"] == "ONLINE"]
            if sum(s["totalDocs"] for s in sealed) == args.rows:
                break
            if time.time() > deadline:
                fail("forceCommit did not seal")
            time.sleep(0.2)
        sealed_bytes = sum(s["sizeBytes"] for s in sealed)
        sealed_ms = {name: median_query_ms(server, sql.format(t="bench_push"), args.runs) for name, sql in QUERIES}
        results["memory"] = (memory / args.rows, sealed_bytes / args.rows)

        # Generator flat out.
        create_table(server, "bench_gen", {"streamType": "generator", "stream.generator.partitions": "1",
                                           "stream.generator.rows.per.second": "50000000",
                                           "realtime.segment.flush.threshold.rows": "100000000",
                                           "realtime.segment.flush.threshold.time": "6h"})
        rows0, cpu0, wall0 = server.metric('tessera_rows_ingested_total{table="bench_gen"}'), server.cpu_seconds(), time.perf_counter()
        time.sleep(args.generator_seconds)
        rows1, cpu1, wall1 = server.metric('tessera_rows_ingested_total{table="bench_gen"}'), server.cpu_seconds(), time.perf_counter()
        server.request("DELETE", "/tables/bench_gen")
        generated = rows1 - rows0
        results["generator"] = (generated / (wall1 - wall0), generated / max(cpu1 - cpu0, 1e-9))
        say(f"generator: {results['generator'][0]:,.0f} rows/s, {results['generator'][1]:,.0f} rows/s per core")

        # Push-to-queryable latency.
        create_table(server, "bench_latency", {"streamType": "push", "realtime.segment.flush.threshold.rows": "1000000"})
        acks, visible = [], []
        for i in range(args.latency_samples):
            body = make_rows(i, 1, rng)
            started = time.perf_counter()
            status, data = server.request("POST", "/ingest/bench_latency", body)
            acked = time.perf_counter()
            if status != 200:
                fail(f"latency push: {data!r}")
            rows = server.query(f"SELECT COUNT(*) FROM bench_latency WHERE id = {i}")["resultTable"]["rows"]
            if rows[0][0] != 1:
                fail(f"row {i} not visible right after its acknowledgement")
            acks.append((acked - started) * 1000)
            visible.append((time.perf_counter() - started) * 1000)
        results["latency"] = (percentile(acks, 50), percentile(acks, 99), percentile(visible, 50), percentile(visible, 99))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    # DuckDB reading the same JSON lines on one thread.
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as jsonl:
        for body in bodies:
            jsonl.write(body)
        jsonl.flush()
        connection = duckdb.connect()
        connection.execute("SET threads=1")
        started = time.perf_counter()
        n = connection.execute(f"SELECT COUNT(*) FROM (SELECT * FROM read_json('{jsonl.name}', format='newline_delimited'))").fetchone()[0]
        duck = time.perf_counter() - started
        connection.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited')", [jsonl.name])
        started = time.perf_counter()
        connection.execute("CREATE TABLE t2 AS SELECT * FROM read_json(?, format='newline_delimited')", [jsonl.name])
        duck_load = time.perf_counter() - started
        if n != args.rows:
            fail(f"duckdb read {n} rows")

    push_wall, push_core, wall, cpu = results["push"]
    gen_wall, gen_core = results["generator"]
    mem_row, sealed_row = results["memory"]
    p50, p99, v50, v99 = results["latency"]
    lines = [
        "## Realtime ingestion (standalone, push and generator)", "",
        f"Generated by `benches/ingest_bench.py --rows {args.rows} --batch {args.batch} --clients {args.clients}` on "
        f"{time.strftime('%Y-%m-%d')}, release build, {os.cpu_count()} cores; {args.rows:,} rows of 8-column JSON "
        f"({json_bytes / args.rows:.0f} bytes/row). Server CPU from /proc (utime+stime).", "",
        "| measure | value |", "|---|---|",
        f"| push into consuming segments, wall | {push_wall:,.0f} rows/s ({wall:.1f} s) |",
        f"| push, per core of server CPU (floor 200,000) | {push_core:,.0f} rows/s ({cpu:.1f} CPU s) |",
        f"| generator, wall | {gen_wall:,.0f} rows/s |",
        f"| generator, per core of server CPU (floor 200,000) | {gen_core:,.0f} rows/s |",
        f"| reference: DuckDB `read_json` count, 1 thread | {args.rows / duck:,.0f} rows/s |",
        f"| reference: DuckDB `CREATE TABLE AS read_json`, 1 thread | {args.rows / duck_load:,.0f} rows/s |",
        f"| push-to-queryable (acknowledged = durable + queryable) p50 / p99 (goal p99 < 100 ms) | {p50:.2f} / {p99:.2f} ms |",
        f"| push + a query that sees the row, p50 / p99 | {v50:.2f} / {v99:.2f} ms |",
        f"| consuming segment memory | {mem_row:.1f} bytes/row |",
        f"| the same rows sealed (file) | {sealed_row:.1f} bytes/row |",
        "", "| query (median of runs, HTTP round trip) | consuming ms | sealed ms | consuming / sealed (goal ≤ 2) |",
        "|---|---|---|---|",
    ]
    for name, _ in QUERIES:
        lines.append(f"| {name} | {consuming_ms[name]:.2f} | {sealed_ms[name]:.2f} | {consuming_ms[name] / sealed_ms[name]:.2f} |")
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write_md:
        write_markdown_section(Path(args.write_md), section)


if __name__ == "__main__":
    main()
