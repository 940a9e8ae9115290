"""Produce JSON events to a Kafka topic for Tessera's tests and benchmarks.

Event i: {"id": i, "k": "k{i % 17}", "v": i % 1000 + 0.25, "ts": now_ms}, to partition
i % PARTITIONS. With --single every message is its own record batch (tansu fetches
exact offsets only at batch boundaries; see ../shared/COMPONENTS.md). With --bad N,
N malformed messages of each kind are mixed in: invalid JSON, a wrong type, a missing
time value, binary garbage, an oversized (1.5 MB) row and a message without a value.
With --compression C, record batches are compressed with C (gzip, snappy, lz4, zstd).
Prints {"rows": good messages, "sum_id": sum of their ids, "bad": {reason: count}}.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Producer

parser = argparse.ArgumentParser()
parser.add_argument("--brokers", required=True)
parser.add_argument("--topic", required=True)
parser.add_argument("--first-id", type=int, default=0)
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--partitions", type=int, default=1)
parser.add_argument("--single", action="store_true")
parser.add_argument("--bad", type=int, default=0)
parser.add_argument("--ts-ms", type=int, help="every event's time (default: now)")
parser.add_argument("--ts-start", type=int,
                    help="event i's time is TS_START + (i // 2) * TS_STEP: two events an instant")
parser.add_argument("--ts-step", type=int, default=1000)
parser.add_argument("--compression", default="none",
                    choices=["none", "gzip", "snappy", "lz4", "zstd"],
                    help="the producer's compression.type (record batches compressed)")
args = parser.parse_args()

config = {
    "bootstrap.servers": args.brokers,
    "message.max.bytes": 4 * 1024 * 1024,
    "queue.buffering.max.messages": 1_000_000,
    "enable.idempotence": False,
    "compression.type": args.compression,
}
if args.single:
    config.update({"linger.ms": 0, "batch.num.messages": 1})
else:
    config.update({"linger.ms": 20, "batch.num.messages": 10_000, "batch.size": 1_000_000})
producer = Producer(config)
failures = []


def delivered(error, _message):
    if error is not None:
        failures.append(str(error))


def send(value, partition):
    while True:
        try:
            producer.produce(args.topic, value=value, partition=partition, on_delivery=delivered)
            return
        except BufferError:
            producer.poll(0.05)


bad = {"invalid_json": 0, "wrong_type": 0, "missing_time": 0, "row_too_large": 0}
for n in range(args.bad):
    partition = n % args.partitions
    send(b'{"id": 1, "ts": ', partition)
    send(b"\x00\xff\xfe\x01binary\x07garbage", partition)
    send(None, partition)
    bad["invalid_json"] += 3
    send(json.dumps({"id": "not a number", "ts": 1}).encode(), partition)
    bad["wrong_type"] += 1
    send(json.dumps({"id": 5, "k": "x"}).encode(), partition)
    bad["missing_time"] += 1
    send(json.dumps({"id": 7, "ts": 1, "k": "x" * 1_500_000}).encode(), partition)
    bad["row_too_large"] += 1

rows = 0
sum_id = 0
for i in range(args.first_id, args.first_id + args.count):
    if args.ts_start is not None:
        ts = args.ts_start + (i // 2) * args.ts_step
    else:
        ts = args.ts_ms if args.ts_ms is not None else int(time.time() * 1000)
    event = {"id": i, "k": f"k{i % 17}", "v": i % 1000 + 0.25, "ts": ts}
    send(json.dumps(event).encode(), i % args.partitions)
    rows += 1
    sum_id += i
    if rows % 10_000 == 0:
        producer.poll(0)
remaining = producer.flush(120)
if remaining or failures:
    print(f"undelivered={remaining} failures={failures[:5]}", file=sys.stderr)
    sys.exit(1)
print(json.dumps({"rows": rows, "sum_id": sum_id, "bad": bad}))
