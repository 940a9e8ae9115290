"""Write the Iceberg history of Tessera's lakehouse tests with PyIceberg, the independent
writer: a SQL catalog (sqlite) whose warehouse is on the S3 server.

Rows are the events kafka_produce.py makes with --ts-start/--ts-step: event i is
{"id": i, "k": "k{i % 17}", "v": i % 1000 + 0.25, "ts": TS_START + (i // 2) * TS_STEP}
(ts in epoch milliseconds, an Iceberg timestamp), the table partitioned by day(ts).

  append  --first-id A --count N   append events A..A+N (creating the table first)
  mismatch                         create table NAME whose `k` is a long (not a string)
  read --location URI              read the table at URI (its version hint, as Hadoop
                                   tables): rows, sums and distinct values per column

Prints {"metadata_location": ..., "rows": total rows of the current snapshot}.
"""

import argparse
import datetime as dt
import json

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestampType

parser = argparse.ArgumentParser()
parser.add_argument("command", choices=["append", "mismatch", "read"])
parser.add_argument("--location")
parser.add_argument("--catalog-db")
parser.add_argument("--warehouse", required=True)
parser.add_argument("--endpoint", required=True)
parser.add_argument("--table", default="lake.events")
parser.add_argument("--first-id", type=int, default=0)
parser.add_argument("--count", type=int, default=0)
parser.add_argument("--ts-start", type=int, default=0)
parser.add_argument("--ts-step", type=int, default=1000)
args = parser.parse_args()

PROPERTIES = {
    "s3.endpoint": args.endpoint,
    "s3.access-key-id": "test",
    "s3.secret-access-key": "test",
    "s3.region": "us-east-1",
}

if args.command == "read":
    import pyarrow.compute as pc
    from pyiceberg.table import StaticTable

    table = StaticTable.from_metadata(args.location, PROPERTIES)
    rows = table.scan().to_arrow()
    summary = {"rows": rows.num_rows, "snapshots": len(table.metadata.snapshots),
               "columns": [f.name for f in table.schema().fields]}
    if rows.num_rows:
        summary.update({
            "sum_id": pc.sum(rows["id"]).as_py(),
            "distinct_id": pc.count_distinct(rows["id"]).as_py(),
            "distinct_k": pc.count_distinct(rows["k"]).as_py(),
            "sum_v": pc.sum(rows["v"]).as_py(),
            "min_ts_ms": pc.min(rows["ts"]).cast("int64").as_py() // 1000,
            "max_ts_ms": pc.max(rows["ts"]).cast("int64").as_py() // 1000,
        })
    print(json.dumps(summary))
    raise SystemExit(0)

catalog = SqlCatalog(
    "tessera_test",
    uri=f"sqlite:///{args.catalog_db}",
    warehouse=args.warehouse,
    **PROPERTIES,
)
namespace = args.table.rsplit(".", 1)[0]
if (namespace,) not in catalog.list_namespaces():
    catalog.create_namespace(namespace)

if args.command == "mismatch":
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "k", LongType(), required=False),
        NestedField(3, "v", DoubleType(), required=False),
        NestedField(4, "ts", TimestampType(), required=False),
    )
    table = catalog.create_table(args.table, schema=schema)
    table.append(pa.Table.from_pydict(
        {"id": [1], "k": [7], "v": [1.5], "ts": [dt.datetime(2024, 3, 1)]},
        schema=pa.schema([pa.field("id", pa.int64(), nullable=False), ("k", pa.int64()),
                          ("v", pa.float64()), ("ts", pa.timestamp("us"))])))
else:
    if catalog.table_exists(args.table):
        table = catalog.load_table(args.table)
    else:
        schema = Schema(
            NestedField(1, "id", LongType(), required=True),
            NestedField(2, "k", StringType(), required=False),
            NestedField(3, "v", DoubleType(), required=False),
            NestedField(4, "ts", TimestampType(), required=False),
        )
        spec = PartitionSpec(
            PartitionField(source_id=4, field_id=1000, transform=DayTransform(), name="ts_day"))
        table = catalog.create_table(args.table, schema=schema, partition_spec=spec)
    ids = list(range(args.first_id, args.first_id + args.count))
    epoch = dt.datetime(1970, 1, 1)
    rows = pa.Table.from_pydict(
        {
            "id": ids,
            "k": [f"k{i % 17}" for i in ids],
            "v": [i % 1000 + 0.25 for i in ids],
            "ts": [epoch + dt.timedelta(milliseconds=args.ts_start + (i // 2) * args.ts_step)
                   for i in ids],
        },
        schema=pa.schema([pa.field("id", pa.int64(), nullable=False), ("k", pa.string()),
                          ("v", pa.float64()), ("ts", pa.timestamp("us"))]),
    )
    table.append(rows)

table = catalog.load_table(args.table)
snapshot = table.current_snapshot()
total = int(snapshot.summary["total-records"]) if snapshot else 0
print(json.dumps({"metadata_location": table.metadata_location, "rows": total}))
