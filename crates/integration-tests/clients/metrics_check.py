"""GET /metrics parsed by the official Prometheus client's text parser: the exposition
is valid, every family an operator needs is there with its type, and the samples
count what the test did (tests/clients.rs: 2 rows pushed into `alltypes` partition 0,
lineitem uploaded, then PG and HTTP queries).

usage: metrics_check.py HTTP_URL
"""

import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

text = urllib.request.urlopen(f"{sys.argv[1]}/metrics").read().decode()
families = {f.name: f for f in text_string_to_metric_families(text)}

REQUIRED = {
    # ingestion per table / partition / reason
    "tessera_rows_ingested": "counter",
    "tessera_partition_rows_ingested": "counter",
    "tessera_rows_rejected": "counter",
    "tessera_rows_filtered": "counter",
    # consuming lag per partition
    "tessera_consuming_offset": "gauge",
    "tessera_consuming_lag_offsets": "gauge",
    "tessera_consuming_lag_seconds": "gauge",
    # segments and bytes by state
    "tessera_segments": "gauge",
    "tessera_segment_bytes": "gauge",
    "tessera_segment_rows": "gauge",
    # seal / upload / commit durations and failures
    "tessera_seal_duration_seconds": "histogram",
    "tessera_seal_step_duration_seconds": "histogram",
    "tessera_seal_failures": "counter",
    "tessera_deep_store_upload_failures": "counter",
    "tessera_commit_failures": "counter",
    "tessera_pending_seal_bytes": "gauge",
    # deep store operations and errors, cache
    "tessera_deep_store_operations": "counter",
    "tessera_deep_store_errors": "counter",
    "tessera_segment_cache_requests": "counter",
    # queries by status and latency
    "tessera_queries": "counter",
    "tessera_query_duration_seconds": "histogram",
    # connections
    "tessera_connections_open": "gauge",
    "tessera_connections": "counter",
}
for name, kind in REQUIRED.items():
    assert name in families, f"missing family {name}"
    assert families[name].type == kind, f"{name}: {families[name].type} != {kind}"


def value(family, suffix="", **labels):
    for sample in families[family].samples:
        if sample.name == family + suffix and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    raise AssertionError(f"no sample {family}{suffix} {labels}")


assert value("tessera_partition_rows_ingested", "_total", table="alltypes", partition="0") == 2
assert value("tessera_rows_ingested", "_total", table="alltypes") == 2
assert value("tessera_queries", "_total", protocol="pg", status="ok") >= 3
assert value("tessera_queries", "_total", protocol="http", status="ok") >= 1
assert value("tessera_queries", "_total", protocol="pg", status="client_error") >= 1
assert value("tessera_query_duration_seconds", "_count", protocol="pg") >= 4
assert value("tessera_query_duration_seconds", "_bucket", protocol="pg", le="+Inf") >= 4
assert value("tessera_connections", "_total", protocol="pg") >= 1
assert value("tessera_connections", "_total", protocol="http") >= 1
assert value("tessera_connections_open", protocol="http") >= 1
assert value("tessera_deep_store_operations", "_total", operation="put") >= 1
assert value("tessera_deep_store_errors", "_total", operation="put") == 0
assert value("tessera_segments", table="lineitem", state="sealed") == 1
assert value("tessera_segment_rows", table="lineitem", state="sealed") == 60175
assert value("tessera_consuming_lag_offsets", table="alltypes", partition="0") == 0
assert value("tessera_consuming_offset", table="alltypes", partition="0") == 2
print(f"metrics: all checks passed ({len(families)} families)")
