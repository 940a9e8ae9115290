#!/usr/bin/env python3
"""Cluster benchmark: the public lineitem queries through a broker over two servers
(Arrow Flight) against `tessera standalone`, on the same segments, on the same machine.

Both deployments hold the segments query_bench.py builds (cached under
$TESSERA_CACHE/bench/), uploaded over HTTP; both are timed the same way, from a client:
one warm-up, then --runs timed `POST /query/sql` round trips on a kept-alive connection.
The standalone runs first, alone; then a local cluster (deploy/cluster/local.sh: etcd,
2 controllers, 2 brokers, 2 historical servers holding the segments with replication 1,
2 realtime servers idle). Reports per query the medians, the ratio cluster/standalone
(the cost of the network path: scatter, Flight, decode, merge), the added latency of
q_point, and the Arrow bytes of partial results the broker received. `--check` (the CI
smoke run at sf0.01) fails on any error or any answer that differs between the two;
it asserts nothing about speed.

    python3 benches/cluster_bench.py --sf 10 [--runs 5] [--write-md docs/benchmarks.md]
"""

import argparse
import datetime
import http.client
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import ensure_parquet, reexec_under_venv, tessera_env, wait_for, write_markdown_section  # noqa: E402
from query_bench import (build_segments, compare_results, fmt_ms, load_queries,  # noqa: E402
                         machine_description, tessera_result)


def fail(message):
    sys.exit(f"cluster_bench.py: {message}")


def say(message):
    print(f"cluster_bench.py: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A kept-alive HTTP/1.1 connection to one server."""

    def __init__(self, url):
        host, port = url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=600)

    def request(self, method, path, body=b"", content_type="application/json"):
        self.connection.request(method, path, body=body, headers={"Content-Type": content_type})
        response = self.connection.getresponse()
        return response.status, response.read()

    def query(self, sql):
        status, body = self.request("POST", "/query/sql", json.dumps({"sql": sql}).encode())
        response = json.loads(body)
        if status != 200 or response.get("exceptions"):
            raise RuntimeError(f"HTTP {status}: {body[:1000]!r}")
        return response


def load_table(url, dataset_dir, segment_dir, replication, rows):
    """Schema, table (with `replication`) and every segment file, then wait until every
    row is answered exactly."""
    client = Client(url)
    table = json.loads((dataset_dir / "table.json").read_text())
    table.setdefault("segmentsConfig", {})["replication"] = str(replication)
    for path, body in (("/schemas", (dataset_dir / "schema.json").read_bytes()),
                       ("/tables", json.dumps(table).encode())):
        status, answer = client.request("POST", path, body)
        if status != 200:
            fail(f"POST {path}: HTTP {status}: {answer[:500]!r}")
    for segment in sorted(segment_dir.glob("*.tseg")):
        status, answer = client.request("POST", "/segments?tableName=lineitem", segment.read_bytes(),
                                        "application/octet-stream")
        if status != 200:
            fail(f"upload {segment.name}: HTTP {status}: {answer[:500]!r}")

    def served():
        response = client.query("SELECT COUNT(*) FROM lineitem")
        return response["resultTable"]["rows"][0][0] == rows and not response.get("partialResult")
    wait_for("every row served", 900, served)


def measure(url, queries, runs):
    """Per query: (median ms, result rows, wire bytes per query or None)."""
    client = Client(url)
    measured = {}
    for name, sql in queries.items():
        client.query(sql)
        times, response = [], None
        for _ in range(runs):
            started = time.perf_counter()
            response = client.query(sql)
            times.append((time.perf_counter() - started) * 1000)
        measured[name] = (statistics.median(times), tessera_result(response),
                          response.get("partialsWireBytes"), sorted(times))
    return measured


def run_standalone(args, queries, segment_dir, rows):
    with tempfile.TemporaryDirectory(prefix="tessera-cluster-bench-") as data:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([args.tessera, "standalone", "--data-dir", data, "--http",
                                    f"127.0.0.1:{port}", "--pg", "off"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for("standalone", 60, lambda: Client(url).request("GET", "/health")[0] == 200)
            say("standalone: loading")
            load_table(url, args.dataset_dir, segment_dir, 1, rows)
            say("standalone: measuring")
            return measure(url, queries, args.runs)
        finally:
            process.kill()
            process.wait()


def run_cluster(args, queries, segment_dir, rows):
    script = REPO / "deploy" / "cluster" / "local.sh"
    env = {**os.environ, "TESSERA_BIN": str(args.tessera), "LEASE_TTL_S": "5"}
    with tempfile.TemporaryDirectory(prefix="tessera-cluster-bench-") as data:
        # The deep store is a local directory here: this measures the query path, and
        # SF10's segments would not fit the in-memory S3 test server comfortably.
        subprocess.run(["bash", script, "up", data, "--deep-store", str(Path(data, "deepstore"))],
                       check=True, env=env, stdout=sys.stderr)
        try:
            cluster_env = dict(line.split("=", 1) for line in
                               Path(data, "cluster.env").read_text().splitlines() if "=" in line)
            broker = cluster_env["BROKER_URLS"].split(",")[0]
            say("cluster: loading")
            load_table(broker, args.dataset_dir, segment_dir, 1, rows)
            say("cluster: measuring")
            return measure(broker, queries, args.runs)
        finally:
            subprocess.run(["bash", script, "down", data], env=env, stdout=sys.stderr)


def markdown(args, command, rows, standalone, cluster, problems):
    today = datetime.date.today().isoformat()
    lines = [f"## Cluster: lineitem sf{args.sf} through a broker over two servers", "",
             f"{rows:,} rows; {today}; {machine_description()}; median of {args.runs} HTTP round trips "
             f"after one warm-up, from a client on the same machine. Ratios above 1 are the cost of the "
             f"network path.", "", f"Command: `{command}`", "",
             "| query | standalone ms | cluster ms | cluster/standalone | added ms | partials wire bytes |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name in standalone:
        one, many = standalone[name][0], cluster[name][0]
        wire = cluster[name][2]
        lines.append(f"| {name} | {fmt_ms(one)} | {fmt_ms(many)} | {many / one:.2f} | "
                     f"{many - one:+.2f} | {wire:,} |")
    ratios = [cluster[n][0] / standalone[n][0] for n in standalone]
    product = 1.0
    for ratio in ratios:
        product *= ratio
    lines.append(f"| geometric mean | | | {product ** (1 / len(ratios)):.2f} | | |")
    lines += ["", "Notes:", "",
              "- Same segments in both (query_bench.py's, one per part of the Parquet file); the cluster's two "
              "historical servers hold them with replication 1, so each answers for about half, and the "
              "broker merges two partials. Both deployments share the machine's 2 cores; in the cluster the "
              "broker, the two servers, two idle realtime servers, two controllers and etcd run at once.",
              "- Timing is the client's wall clock of `POST /query/sql` (JSON in and out) for both, so the "
              "ratio isolates what the cluster adds: planning on the broker, the Flight round trip to each "
              "server (the servers plan again), Arrow encoding and decoding of partials, and the merge.",
              "- partials wire bytes: the Arrow bytes the broker received from its servers for one run of "
              "the query (`partialsWireBytes` of the response)."]
    if problems:
        lines += ["", "Problems:", ""] + [f"- {problem}" for problem in problems]
    return "\n".join(lines) + "\n"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sf", default="1", help="TPC-H scale factor (default 1)")
    parser.add_argument("--segment-rows", type=int, default=3_000_000,
                        help="rows per segment (default 3,000,000, as query_bench.py)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (default 5)")
    parser.add_argument("--queries", help="comma-separated query names (default: every public query)")
    parser.add_argument("--check", action="store_true", help="exit 1 on any error or disagreement")
    parser.add_argument("--build-jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "lineitem")
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    parser.add_argument("--tessera", type=Path, default=target_dir / "release" / "tessera")
    parser.add_argument("--write-md", type=Path, metavar="FILE")
    return parser.parse_args()


def main():
    reexec_under_venv(["pyarrow"], "cluster_bench.py")
    import pyarrow.parquet as pq

    args = parse_args()
    command = shlex.join(["python3", "benches/cluster_bench.py", *sys.argv[1:]])
    if not args.tessera.exists():
        fail(f"no binary at {args.tessera}; build it with cargo build --release -p tessera")
    args.tessera = args.tessera.resolve()
    queries = load_queries(args.dataset_dir, args.queries)
    parquet = ensure_parquet(args.sf)
    rows = pq.ParquetFile(parquet).metadata.num_rows
    bench_dir = tessera_env()[2] / "bench" / f"query-sf{args.sf}-{args.segment_rows}"
    bench_dir.mkdir(parents=True, exist_ok=True)
    segment_dir, _ = build_segments(args, parquet, bench_dir)

    standalone = run_standalone(args, queries, segment_dir, rows)
    cluster = run_cluster(args, queries, segment_dir, rows)
    problems = []
    for name, sql in queries.items():
        difference = compare_results(sql, standalone[name][1], cluster[name][1])
        if difference is not None:
            problems.append(f"{name}: the cluster's answer differs from standalone's: {difference}")
    report = markdown(args, command, rows, standalone, cluster, problems)
    print(report)
    if args.write_md:
        write_markdown_section(args.write_md, report)
    if problems:
        for problem in problems:
            say(problem)
        if args.check:
            sys.exit(1)


if __name__ == "__main__":
    main()
