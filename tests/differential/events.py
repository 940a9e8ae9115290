"""The `events` test table: deterministic rows, their Pinot schema and table config, the
JSON-lines inputs for `tessera segment build`, and the same rows loaded into DuckDB.

Everything is a function of the seed, so a failing differential query can be replayed.

Standalone:  python events.py --out DIR [--rows N] [--seed S]
writes DIR/schema.json, DIR/table.json and DIR/events_{0,1,2}.jsonl.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import unicodedata
from pathlib import Path

TABLE = "events"
DEFAULT_ROWS = 20_000
DEFAULT_SEED = 20240101
NUM_SEGMENTS = 3

# Schema order (dimensions, metrics, dateTime) is the `SELECT *` column order; the DuckDB
# table uses the same order. (name, pinot type, duckdb type, multi-value)
COLUMNS = [
    ("id", "LONG", "BIGINT", False),
    ("country", "STRING", "VARCHAR", False),
    ("device", "STRING", "VARCHAR", False),
    ("user_id", "LONG", "BIGINT", False),
    ("active", "BOOLEAN", "BOOLEAN", False),
    ("tags", "STRING", "VARCHAR[]", True),
    ("note", "STRING", "VARCHAR", False),
    ("url", "STRING", "VARCHAR", False),
    ("latency_ms", "DOUBLE", "DOUBLE", False),
    ("bytes", "INT", "INTEGER", False),
    ("score", "FLOAT", "FLOAT", False),
    ("ts", "TIMESTAMP", "TIMESTAMP", False),
]
DIMENSIONS = ["id", "country", "device", "user_id", "active", "tags", "note", "url"]
METRICS = ["latency_ms", "bytes", "score"]
COLUMN_NAMES = [name for name, *_ in COLUMNS]
PINOT_TYPES = {name: pinot for name, pinot, _, _ in COLUMNS}
NULLABLE = {"user_id", "active", "tags", "url", "latency_ms", "bytes", "score"}

# Zipf-ish skew: the first countries are by far the most frequent. Unicode names are NFC
# (precomposed) and free of characters whose case mapping is context- or locale-dependent
# (no ß, final sigma, Turkish dotted I), and emoji are single code points, so LENGTH,
# SUBSTR, UPPER and LOWER have one right answer.
COUNTRIES = [
    "United States", "India", "Germany", "\u65e5\u672c", "Brazil", "France",
    "United Kingdom", "C\u00f4te d'Ivoire", "M\u00e9xico", "Canada", "\u00d6sterreich",
    "\ud55c\uad6d", "\u0420\u043e\u0441\u0441\u0438\u044f", "\u0395\u03bb\u03bb\u03ac\u03b4\u03b1",
    "Espa\u00f1a", "Italia", "Nederland", "Polska", "Sverige", "Norge", "Suomi",
    "\u00cdsland", "\u00c9ire", "\u4e2d\u56fd", "\U0001f680 Mars", "", "Chile", "Per\u00fa",
    "Vi\u1ec7t Nam", "Ghana", "caf\u00e9 \u2615",
]
DEVICES = ["android", "ios", "web", "desktop", "tv"]
DEVICE_WEIGHTS = [40, 30, 20, 8, 2]
TAGS = ["red", "green", "blue", "alpha", "beta", "gamma", "prod", "dev", "big deal", "x"]
WORDS = (
    "the quick brown fox jumps over lazy dog special requests carefully final "
    "deposits pending accounts furiously ironic packages blithely regular express "
    "theodolites unusual slyly bold instructions even silent foxes sleep quietly "
    "across platelets dolphins haggle wake boost detect nag cajole integrate "
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber \u65e5\u672c\u8a9e error timeout retry ok"
).split()
URL_PATHS = ["", "home", "search", "cart", "checkout", "api/v1/items", "api/v2/users", "help"]

TS_START_MS = int(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
TS_SPAN_MS = 60 * 86_400_000

for _name in COUNTRIES + WORDS:
    assert unicodedata.normalize("NFC", _name) == _name, _name


def schema() -> dict:
    """The Pinot schema. No column is notNull, so NULL inputs stay SQL NULL."""
    def spec(name):
        field = {"name": name, "dataType": PINOT_TYPES[name]}
        if name == "tags":
            field["singleValueField"] = False
        return field

    return {
        "schemaName": TABLE,
        "dimensionFieldSpecs": [spec(name) for name in DIMENSIONS],
        "metricFieldSpecs": [spec(name) for name in METRICS],
        "dateTimeFieldSpecs": [
            {
                "name": "ts",
                "dataType": "TIMESTAMP",
                "format": "1:MILLISECONDS:EPOCH",
                "granularity": "1:MILLISECONDS",
            }
        ],
    }


def table_config() -> dict:
    return {
        "tableName": TABLE,
        "tableType": "OFFLINE",
        "segmentsConfig": {"timeColumnName": "ts", "replication": "1"},
        "tableIndexConfig": {
            "sortedColumn": ["country"],
            "invertedIndexColumns": ["country", "device", "tags"],
            "rangeIndexColumns": ["latency_ms", "bytes"],
            "bloomFilterColumns": ["user_id"],
            "noDictionaryColumns": ["note", "latency_ms"],
        },
        "fieldConfigList": [{"name": "note", "encodingType": "RAW", "indexTypes": ["TEXT"]}],
    }


# What `segment inspect` should report per column: (encoding, sorted set of indexes).
EXPECTED_INDEXES = {
    "id": ("DICTIONARY", []),
    "country": ("DICTIONARY", ["inverted", "sorted"]),
    "device": ("DICTIONARY", ["inverted"]),
    "user_id": ("DICTIONARY", ["bloom"]),
    "active": ("DICTIONARY", []),
    "tags": ("DICTIONARY", ["inverted"]),
    "note": ("RAW", ["text"]),
    "url": ("DICTIONARY", []),
    "latency_ms": ("RAW", ["range"]),
    "bytes": ("DICTIONARY", ["range"]),
    "score": ("DICTIONARY", []),
    "ts": ("DICTIONARY", []),
}


def _zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def generate_rows(num_rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> list[dict]:
    """Rows as dicts of Python values (ts in epoch ms; NULL is None; tags a list)."""
    rng = random.Random(seed)
    country_weights = _zipf_weights(len(COUNTRIES))
    rows = []
    for i in range(num_rows):
        # ts grows with id (plus jitter of up to ~1.5 days), so the three segments cover
        # mostly disjoint, slightly overlapping time ranges.
        base = TS_START_MS + (TS_SPAN_MS * i) // num_rows
        ts = base + rng.randrange(-60_000_000, 60_000_000)
        ts = max(TS_START_MS, min(TS_START_MS + TS_SPAN_MS - 1, ts))
        millis_style = rng.random()
        if millis_style < 0.2:
            ts -= ts % 1000  # whole seconds: Pinot renders `.0`
        elif millis_style < 0.3:
            ts -= ts % 100  # one fractional digit
        row = {
            "id": 100_000 + 3 * i + rng.randrange(3),
            "country": rng.choices(COUNTRIES, country_weights)[0],
            "device": rng.choices(DEVICES, DEVICE_WEIGHTS)[0],
            "user_id": _user_id(rng),
            "active": rng.random() < 0.6,
            "tags": sorted(rng.sample(TAGS, rng.choice([0, 1, 1, 2, 2, 3, 4]))),
            "note": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))),
            "url": _url(rng),
            "latency_ms": _latency(rng),
            "bytes": _bytes(rng),
            "score": rng.randint(-400, 1200) / 8,  # exact in FLOAT: no rounding questions
            "ts": ts,
        }
        if rng.random() < 0.3:
            rng.shuffle(row["tags"])
        for name in sorted(NULLABLE):
            null_rate = 0.02 if name == "user_id" else 0.1
            if rng.random() < null_rate:
                row[name] = None
        rows.append(row)
    return rows


def _user_id(rng: random.Random) -> int:
    if rng.random() < 0.01:
        return 9_000_000_000_000 + rng.randrange(1_000_000)
    return int(rng.paretovariate(0.6)) % 8000 + 1


def _url(rng: random.Random) -> str:
    if rng.random() < 0.03:
        return ""
    path = rng.choice(URL_PATHS)
    url = f"https://example.com/{path}"
    if rng.random() < 0.3:
        url += f"?q={rng.choice(WORDS)}&p={rng.randint(1, 20)}"
    return url


def _latency(rng: random.Random) -> float:
    if rng.random() < 0.02:
        return 0.0
    return round(rng.lognormvariate(3.5, 1.0), 3)


def _bytes(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.05:
        return -rng.randint(1, 50_000)
    if roll < 0.07:
        # Large, but small enough that `bytes * 3 + k` stays inside INT (DuckDB keeps
        # INTEGER arithmetic in INTEGER and errors on overflow).
        return rng.randint(100_000_000, 700_000_000)
    if roll < 0.09:
        return 0
    return rng.randint(1, 100_000)


def ts_to_datetime(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)


def _iso(ms: int, style: int) -> str:
    """ISO-8601 text for file 1, in three forms the JSON source accepts."""
    moment = ts_to_datetime(ms)
    millis = ms % 1000
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
    if style == 1:
        return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{millis:03d}"
    shifted = moment + dt.timedelta(hours=5, minutes=30)
    return shifted.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}+05:30"


def json_line(row: dict, file_index: int, rng: random.Random) -> str:
    """One row as a JSON object. Inputs vary by file to exercise the JSON coercions:
    file 0 epoch-ms numbers; file 1 ISO-8601 timestamps (Z, no zone, +05:30); file 2 some
    ints as strings and booleans as 0/1. NULLs are written as null or a missing key."""
    out = {}
    for name in COLUMN_NAMES:
        value = row[name]
        if value is None:
            if rng.random() < 0.5:
                out[name] = None
            continue
        if name == "ts" and file_index == 1:
            value = _iso(value, rng.randrange(3))
        elif file_index == 2 and name in ("bytes", "user_id") and rng.random() < 0.05:
            value = str(value)
        elif file_index == 2 and name == "active" and rng.random() < 0.1:
            value = int(value)
        out[name] = value
    return json.dumps(out, ensure_ascii=False)


def split(rows: list[dict], parts: int = NUM_SEGMENTS) -> list[list[dict]]:
    """Contiguous chunks of unequal size (so segment boundaries are not round numbers)."""
    n = len(rows)
    cuts = [0, int(n * 0.37), int(n * 0.71), n] if parts == 3 else [
        n * k // parts for k in range(parts + 1)
    ]
    return [rows[cuts[k]:cuts[k + 1]] for k in range(parts)]


def write_inputs(out_dir: Path, rows: list[dict], seed: int = DEFAULT_SEED) -> dict:
    """Writes schema.json, table.json and one JSON-lines file per segment."""
    out_dir.mkdir(parents=True, exist_ok=True)
    schema_path = out_dir / "schema.json"
    table_path = out_dir / "table.json"
    schema_path.write_text(json.dumps(schema(), indent=2, ensure_ascii=False) + "\n")
    table_path.write_text(json.dumps(table_config(), indent=2) + "\n")
    rng = random.Random(seed ^ 0x5EED)
    inputs = []
    for index, chunk in enumerate(split(rows)):
        path = out_dir / f"{TABLE}_{index}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for row in chunk:
                out.write(json_line(row, index, rng) + "\n")
        inputs.append(path)
    return {"schema": schema_path, "table": table_path, "inputs": inputs}


def load_duckdb(con, rows: list[dict]) -> None:
    """Creates the DuckDB table `events` holding `rows`, columns in schema order."""
    import pyarrow as pa

    arrow_types = {
        "id": pa.int64(), "country": pa.string(), "device": pa.string(),
        "user_id": pa.int64(), "active": pa.bool_(), "tags": pa.list_(pa.string()),
        "note": pa.string(), "url": pa.string(), "latency_ms": pa.float64(),
        "bytes": pa.int32(), "score": pa.float32(), "ts": pa.int64(),
    }
    arrays = [pa.array([row[name] for row in rows], type=arrow_types[name])
              for name in COLUMN_NAMES]
    events_arrow = pa.Table.from_arrays(arrays, names=COLUMN_NAMES)  # noqa: F841 (DuckDB scan)
    con.register("events_arrow", events_arrow)
    select = []
    for name, _pinot, duck, _mv in COLUMNS:
        if name == "ts":
            select.append("make_timestamp(ts * 1000) AS ts")
        else:
            select.append(f"CAST({name} AS {duck}) AS {name}")
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT {', '.join(select)} FROM events_arrow")
    con.unregister("events_arrow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    rows = generate_rows(args.rows, args.seed)
    paths = write_inputs(args.out, rows, args.seed)
    print(json.dumps({key: str(value) if not isinstance(value, list) else [str(v) for v in value]
                      for key, value in paths.items()}, indent=2))


if __name__ == "__main__":
    main()
