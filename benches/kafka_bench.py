#!/usr/bin/env python3
"""Kafka ingestion benchmark: the release `tessera standalone` consuming from tansu.

Measures, in one run:
- consume rate: --rows JSON events produced to a --partitions topic first, then a table
  created over it; wall time and server CPU (utime + stime from /proc) from table
  creation until COUNT(*) reaches --rows (flush threshold above the row count, so no seal
  competes): rows/s of wall time and rows/s per core of server CPU;
- produce-to-queryable latency: single events produced one at a time (acks=all) into the
  running table, each timed from the produce call until a query sees it; p50/p99;
- a reference: DuckDB reading the same JSON lines (`read_json`, threads=1), rows/s.

    python3 benches/kafka_bench.py [--rows 2000000] [--partitions 2]
        [--write-md docs/benchmarks.md] [--check]

`--check` (the CI smoke run) uses small sizes and fails on a wrong count, asserting
nothing about speed.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO, duckdb_read_json_seconds, reexec_under_venv, tessera_env, write_markdown_section  # noqa: E402

reexec_under_venv(["duckdb", "confluent_kafka"], "kafka_bench.py")
import duckdb  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from ingest_bench import SCHEMA, Server, free_port, make_rows, percentile  # noqa: E402


def say(message):
    print(f"kafka_bench.py: {message}", file=sys.stderr, flush=True)


def fail(message):
    sys.exit(f"kafka_bench.py: {message}")


def tansu_binary():
    cache = tessera_env()[2]
    path = Path(os.environ.get("TESSERA_TANSU", cache / "tansu" / "bin" / "tansu"))
    if not path.exists():
        fail(f"tansu missing at {path}; run deploy/install-test-deps.sh")
    return path


class Tansu:
    def __init__(self):
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)

    def address(self):
        return f"127.0.0.1:{self.port}"

    def create_topic(self, name, partitions):
        subprocess.run([str(tansu_binary()), "topic", "create", name, "--partitions", str(partitions),
                        "--broker", f"tcp://{self.address()}"], check=True, capture_output=True)

    def stop(self):
        self.process.kill()
        self.process.wait()


def produce_all(brokers, topic, bodies, partitions):
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "batch.num.messages": 10_000,
                         "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000})
    n = 0
    for body in bodies:
        for line in body.splitlines():
            while True:
                try:
                    producer.produce(topic, value=line, partition=n % partitions)
                    break
                except BufferError:
                    producer.poll(0.05)
            n += 1
    if producer.flush(300):
        fail("producer did not deliver everything")
    return n


def create_kafka_table(server, name, brokers, topic, flush_rows):
    schema = json.loads(json.dumps(SCHEMA).replace("{name}", name))
    server.json("POST", "/schemas", json.dumps(schema))
    table = {"tableName": name, "tableType": "REALTIME", "segmentsConfig": {"timeColumnName": "ts"},
             "tableIndexConfig": {"invertedIndexColumns": ["country", "event_type"],
                                  "noDictionaryColumns": ["latency_ms", "bytes"],
                                  "streamConfigs": {"streamType": "kafka", "stream.kafka.topic.name": topic,
                                                    "stream.kafka.broker.list": brokers,
                                                    "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
                                                    "realtime.segment.flush.threshold.rows": str(flush_rows),
                                                    "realtime.segment.flush.threshold.time": "6h"}}}
    server.json("POST", "/tables", json.dumps(table))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--tessera", default=str(REPO / "target" / "release" / "tessera"))
    parser.add_argument("--write-md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        args.rows, args.latency_samples = 20_000, 20
    binary = Path(args.tessera)
    if not binary.exists():
        fail(f"{binary} missing; cargo build --release -p tessera")
    rng = random.Random(7)
    bodies = [make_rows(first, min(10_000, args.rows - first), rng) for first in range(0, args.rows, 10_000)]
    json_bytes = sum(len(b) for b in bodies)
    work = Path(tempfile.mkdtemp(prefix="tessera-kafka-bench-"))
    tansu = Tansu()
    server = None
    try:
        tansu.create_topic("bench", args.partitions)
        started = time.perf_counter()
        produced = produce_all(tansu.address(), "bench", bodies, args.partitions)
        say(f"produced {produced:,} events in {time.perf_counter() - started:.1f} s")
        server = Server(binary, work / "data")
        cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
        create_kafka_table(server, "bench_kafka", tansu.address(), "bench", args.rows * 2)
        deadline = time.time() + 1800
        while True:
            count = server.query("SELECT COUNT(*) FROM bench_kafka")["resultTable"]["rows"][0][0]
            if count >= args.rows:
                break
            if time.time() > deadline:
                fail(f"only {count} rows consumed")
            time.sleep(0.05)
        wall, cpu = time.perf_counter() - wall0, server.cpu_seconds() - cpu0
        count, total = server.query("SELECT COUNT(*), SUM(id) FROM bench_kafka")["resultTable"]["rows"][0]
        if count != args.rows or int(total) != args.rows * (args.rows - 1) // 2:
            fail(f"count/sum wrong: {count} {total}")
        say(f"consume: {args.rows / wall:,.0f} rows/s wall, {args.rows / cpu:,.0f} rows/s per core")

        # Produce-to-queryable: one event at a time into the running table.
        producer = Producer({"bootstrap.servers": tansu.address(), "linger.ms": 0, "acks": "all"})
        latencies = []
        for i in range(args.latency_samples):
            marker = args.rows + i
            body = make_rows(marker, 1, rng).strip()
            started = time.perf_counter()
            producer.produce("bench", value=body, partition=i % args.partitions)
            producer.flush(30)
            deadline = time.time() + 30
            while server.query(f"SELECT COUNT(*) FROM bench_kafka WHERE id = {marker}")["resultTable"]["rows"][0][0] != 1:
                if time.time() > deadline:
                    fail(f"event {marker} never became queryable")
                time.sleep(0.001)
            latencies.append((time.perf_counter() - started) * 1000)
        del producer
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        say(f"produce-to-queryable p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    finally:
        if server:
            server.stop()
        tansu.stop()
        shutil.rmtree(work, ignore_errors=True)

    n, duck = duckdb_read_json_seconds(duckdb, bodies)
    if n != args.rows:
        fail(f"duckdb read {n} rows")

    lines = [
        "## Kafka ingestion (standalone consuming tansu)", "",
        f"Generated by `benches/kafka_bench.py --rows {args.rows} --partitions {args.partitions}` on "
        f"{time.strftime('%Y-%m-%d')}, release build, {os.cpu_count()} cores (tansu, the producer and Tessera share them); "
        f"{args.rows:,} events of 8-column JSON ({json_bytes / args.rows:.0f} bytes each), produced before the table "
        "existed, then consumed from offset 0. Server CPU from /proc (utime+stime).", "",
        "| measure | value |", "|---|---|",
        f"| consume into consuming segments, wall | {args.rows / wall:,.0f} rows/s ({wall:.1f} s) |",
        f"| consume, per core of server CPU (floor 200,000) | {args.rows / cpu:,.0f} rows/s ({cpu:.1f} CPU s) |",
        f"| reference: DuckDB `read_json` count of the same JSON, 1 thread | {args.rows / duck:,.0f} rows/s |",
        f"| Tessera per core / DuckDB 1 thread | {(args.rows / cpu) / (args.rows / duck):.2f} |",
        f"| produce-to-queryable p50 / p99 (goal p99 < 1 s), {args.latency_samples} events | {p50:.1f} / {p99:.1f} ms |",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write_md:
        write_markdown_section(Path(args.write_md), section)


if __name__ == "__main__":
    main()
