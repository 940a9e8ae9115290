#!/usr/bin/env python3
"""Load tests with tessera-bench on this machine, for docs/benchmarks.md ("Load tests").

Starts a release `tessera standalone`, loads lineitem at --sf with `tessera ingest`,
starts tansu (the Kafka test broker) and runs the shipped scenarios of benches/scenarios:

  - lineitem-dashboard over HTTP, open loop, ramping to find the highest rate whose p99
    stays under 20 ms (the knee);
  - the same scenario over the PostgreSQL wire;
  - a steady 60 s at 80 % of the HTTP knee (achieved rate within 2 % of the target?);
  - ingest-kafka: 50,000 rows/s through Kafka while a dashboard queries the table,
    freshness end to end;
  - the harness's own ceiling: GET /health at 20,000 requests/s from one core.

Needs: cargo build --release -p tessera -p tessera-bench; deploy/install-test-deps.sh
(tansu, the venv). `--quick` shortens every phase (a smoke run, not figures).
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
from pathlib import Path

from bench_common import REPO, ensure_parquet, free_port, http, start_standalone, tessera_env, write_markdown_section

DATASET = REPO.parent / "shared" / "datasets" / "lineitem"


def fail(message):
    sys.exit(f"load_test.py: {message}")


def bench(binary, scenario, out, overrides, pin=None):
    command = [binary, "run", REPO / "benches" / "scenarios" / scenario, "--out", out, "--quiet"]
    for override in overrides:
        command += ["--set", override]
    if pin is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(pin)] + command
    print("+", " ".join(str(c) for c in command), file=sys.stderr)
    subprocess.run([str(c) for c in command], check=True, stdout=subprocess.DEVNULL)
    return json.loads((Path(out) / "summary.json").read_text())


def tansu_binary():
    explicit = os.environ.get("TESSERA_TANSU")
    path = Path(explicit) if explicit else tessera_env()[2] / "tansu" / "bin" / "tansu"
    if not path.is_file():
        fail(f"no tansu at {path}: run deploy/install-test-deps.sh")
    return path


EVENTS_SCHEMA = {
    "schemaName": "ingest_events",
    "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "k", "dataType": "STRING"}],
    "metricFieldSpecs": [{"name": "v", "dataType": "DOUBLE"}],
    "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH",
                            "granularity": "1:MILLISECONDS"}],
}


def events_table(brokers):
    return {
        "tableName": "ingest_events", "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": "ts"},
        "tableIndexConfig": {"invertedIndexColumns": ["k"], "streamConfigs": {
            "streamType": "kafka",
            "stream.kafka.topic.name": "ingest_events",
            "stream.kafka.broker.list": brokers,
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
            "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
            "realtime.segment.flush.threshold.rows": "1000000"}},
    }


def knee_of(summary):
    knees = summary.get("knees") or [{}]
    return knees[0]


def phase(summary, name):
    return next(p for p in summary["phases"] if p["name"] == name)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", default="1")
    parser.add_argument("--quick", action="store_true", help="short phases: a smoke run")
    parser.add_argument("--write-md", type=Path)
    parser.add_argument("--images", type=Path, default=REPO / "docs" / "images" / "load-test")
    args = parser.parse_args()
    tessera = REPO / "target" / "release" / "tessera"
    harness = REPO / "target" / "release" / "tessera-bench"
    for binary in (tessera, harness):
        if not binary.exists():
            fail(f"no {binary}: cargo build --release -p tessera -p tessera-bench")
    parquet = ensure_parquet(args.sf)
    step = "2s" if args.quick else "10s"
    steady = "5s" if args.quick else "60s"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        kafka_port = free_port()
        server, url, pg_port = start_standalone(tessera, work / "data")
        listener = f"tcp://127.0.0.1:{kafka_port}"
        tansu = subprocess.Popen([tansu_binary(), "broker", "--listener-url", listener,
                                  "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            http("POST", url + "/schemas", (DATASET / "schema.json").read_bytes())
            http("POST", url + "/tables", (DATASET / "table.json").read_bytes())
            subprocess.run([tessera, "ingest", "--url", url, "--table", "lineitem",
                            "--jobs", str(os.cpu_count() or 1), parquet], check=True, stdout=subprocess.DEVNULL)
            rows = http("POST", url + "/query/sql",
                        json.dumps({"sql": "SELECT COUNT(*) FROM lineitem"}).encode())["resultTable"]["rows"][0][0]
            ramp = [f"phases.1.step_duration={step}"] + (["phases.1.steps=3"] if args.quick else
                                                          ["phases.1.from=100", "phases.1.to=1000",
                                                           "phases.1.steps=10"])
            results["http"] = bench(harness, "lineitem-dashboard.toml", work / "http",
                                    [f"targets.0.url={url}"] + ramp)
            indexed_ramp = [f"phases.1.step_duration={step}"] + (["phases.1.steps=3"] if args.quick else [])
            results["indexed"] = bench(harness, "lineitem-indexed.toml", work / "indexed",
                                       [f"targets.0.url={url}"] + indexed_ramp)
            pg_target = f'targets.0={{postgres = "postgres://bench@127.0.0.1:{pg_port}/default"}}'
            results["pg"] = bench(harness, "lineitem-dashboard.toml", work / "pg", [pg_target] + ramp)
            knee = knee_of(results["http"]).get("qps") or 100
            steady_qps = max(10, round(knee * 0.8))
            results["steady"] = bench(harness, "lineitem-dashboard.toml", work / "steady", [
                f"targets.0.url={url}", "phases.0.duration=5s",
                f'phases.1={{kind = "steady", name = "steady", qps = {steady_qps}, duration = "{steady}"}}'])
            subprocess.run([tansu_binary(), "topic", "create", "ingest_events", "--partitions", "2",
                            "--broker", listener], check=True, stdout=subprocess.DEVNULL)
            http("POST", url + "/schemas", json.dumps(EVENTS_SCHEMA).encode())
            http("POST", url + "/tables", json.dumps(events_table(f"127.0.0.1:{kafka_port}")).encode())
            results["kafka"] = bench(harness, "ingest-kafka.toml", work / "kafka", [
                f"targets.0.url={url}", f"ingest.kafka=127.0.0.1:{kafka_port}",
                f"phases.0.duration={'5s' if args.quick else '30s'}"])
            trivial = work / "trivial.toml"
            trivial.write_text(f'''name = "harness-ceiling"
max_in_flight = 256
[[targets]]
url = "{url}"
[[queries]]
name = "health"
get = "/health"
[[phases]]
kind = "steady"
name = "steady"
qps = 20000
duration = "{'3s' if args.quick else '10s'}"
''')
            results["ceiling"] = bench(harness, trivial, work / "ceiling", [], pin=0)
            args.images.mkdir(parents=True, exist_ok=True)
            for key, plot, name in (("http", "ramp-ramp.png", "http-ramp.png"),
                                    ("indexed", "ramp-ramp.png", "indexed-ramp.png"),
                                    ("pg", "ramp-ramp.png", "pg-ramp.png"),
                                    ("steady", "latency.png", "steady-latency.png"),
                                    ("kafka", "freshness.png", "kafka-freshness.png")):
                source = work / key / plot
                if source.exists():
                    shutil.copy(source, args.images / name)
        finally:
            for process in (server, tansu):
                process.terminate()
                process.wait()
    lines = section(results, rows, args)
    print("\n".join(lines))
    if args.write_md:
        write_markdown_section(args.write_md, "\n".join(lines) + "\n")


def fmt(value, digits=1):
    return "—" if value is None else f"{value:,.{digits}f}"


def section(results, rows, args):
    cores = os.cpu_count() or 1
    images = os.path.relpath(args.images, REPO / "docs")
    lines = [
        "## Load tests: tessera-bench",
        "",
        f"lineitem sf{args.sf} ({rows:,} rows) in a release `tessera standalone`; tessera-bench on the same "
        f"machine ({platform.processor() or platform.machine()}, {cores} cores), open loop, latency from each "
        f"request's intended send time; {datetime.date.today()}. Generated by `benches/load_test.py`"
        + (" --quick (smoke figures)" if args.quick else "") + ". See [load-testing.md](load-testing.md).",
        "",
        "| scenario | protocol | knee: highest QPS with p99 < 20 ms | p50 / p99 there (ms) | first miss: QPS, p99 (ms) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for key, scenario, protocol in (("http", "lineitem-dashboard", "HTTP `/query/sql`"),
                                    ("pg", "lineitem-dashboard", "PostgreSQL wire"),
                                    ("indexed", "lineitem-indexed", "HTTP `/query/sql`")):
        knee = knee_of(results[key])
        at = next((p for p in results[key]["phases"] if p["target_qps"] == knee.get("qps")), None)
        lines.append(
            f"| {scenario} | {protocol} | {fmt(knee.get('qps'), 0)} | "
            f"{fmt(at and at['latency_ms']['p50'], 2)} / {fmt(at and at['latency_ms']['p99'], 2)} | "
            f"{fmt(knee.get('first_miss_qps'), 0)}, {fmt(knee.get('first_miss_p99_ms'), 1)} |")
    http_knee = knee_of(results["http"])
    at = next((p for p in results["http"]["phases"] if p["target_qps"] == http_knee.get("qps")), None)
    if at:
        lines += ["", f"Per query at the HTTP knee ({fmt(at['target_qps'], 0)} QPS), latency p50 / p99 (ms):", "",
                  "| query | QPS | p50 | p99 |", "| --- | ---: | ---: | ---: |"]
        for name, query in at["queries"].items():
            lines.append(f"| {name} | {fmt(query['achieved_qps'])} | {fmt(query['latency_ms']['p50'], 2)} | "
                         f"{fmt(query['latency_ms']['p99'], 2)} |")
    steady = phase(results["steady"], "steady")
    off = abs(steady["achieved_qps"] - steady["target_qps"]) / steady["target_qps"] * 100
    lines += [
        "",
        f"Steady {steady['duration_s']:.0f} s at {steady['target_qps']:.0f} QPS (80 % of the knee): achieved "
        f"{steady['achieved_qps']:.1f} ({off:.2f} % off the target), {steady['requests']:,} requests, "
        f"{steady['errors']} errors, p50 {steady['latency_ms']['p50']:.2f} ms, p99 {steady['latency_ms']['p99']:.2f} ms, "
        f"max {steady['latency_ms']['max']:.1f} ms, schedule lag p99 {steady['schedule_lag_ms']['p99']:.2f} ms.",
    ]
    kafka = results["kafka"]["ingest"] or {}
    queries = phase(results["kafka"], "steady")
    fresh = kafka.get("freshness_ms") or {}
    lines += [
        "",
        f"Ingest while querying (`ingest-kafka.toml`): {fmt(kafka.get('ingest_rows_per_s'), 0)} rows/s acknowledged "
        f"by the broker (target {fmt(kafka.get('target_rows_per_s'), 0)}) through Kafka (tansu, 2 partitions) while "
        f"{queries['target_qps']:.0f} QPS query the table (p99 {queries['latency_ms']['p99']:.2f} ms); "
        f"freshness of {kafka.get('markers_seen')} markers (lost {kafka.get('markers_lost')}), produce → in a "
        f"query answer: p50 {fmt(fresh.get('p50'))} ms, p99 {fmt(fresh.get('p99'))} ms, max {fmt(fresh.get('max'))} ms.",
    ]
    ceiling = phase(results["ceiling"], "steady")
    lines += [
        "",
        f"The harness itself on one core (`taskset -c 0`, GET /health): {ceiling['achieved_qps']:,.0f} requests/s "
        f"against a target of {ceiling['target_qps']:,.0f}, schedule lag p99 {ceiling['schedule_lag_ms']['p99']:.2f} ms, "
        f"behind schedule: {'yes' if ceiling['behind_schedule'] else 'no'}.",
        "",
        f"![HTTP ramp]({images}/http-ramp.png)",
        f"![PostgreSQL ramp]({images}/pg-ramp.png)",
        f"![indexed ramp]({images}/indexed-ramp.png)",
        f"![steady latency]({images}/steady-latency.png)",
        f"![Kafka freshness]({images}/kafka-freshness.png)",
    ]
    warnings = [w for key in ("steady", "kafka", "ceiling") for w in results[key].get("warnings", [])]
    if warnings:
        lines += ["", "Warnings the runs printed:", ""] + [f"- {w}" for w in warnings]
    return lines


if __name__ == "__main__":
    main()
