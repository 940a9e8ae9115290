#!/usr/bin/env python3
"""Differential SQL test: the same queries through `tessera query` and DuckDB, results
compared value by value.

    run.py [--tessera PATH] [--count N] [--seed S] [--only-lineitem | --only-events]
           [--duckdb-only | --build-only] [--keep DIR] [--disable F,...] [--enable F,...] [--pick I,...]

Two data sets:
  lineitem  TPC-H sf0.01 from $TESSERA_TEST_DATA/lineitem/sf0.01/lineitem.parquet, one
            segment; every /work/shared/datasets/lineitem/queries/*.sql (or --lineitem-queries).
  events    ~20k generated rows (events.py) in 3 segments; --count generated queries
            (querygen.py), seeded by --seed.

Exit status: 0 when every query matched, 1 when any failed or errored, 2 on a setup
problem (no tessera `query` command, missing data, a segment that does not build).
"""

from __future__ import annotations

import argparse
import itertools
import urllib.error
import urllib.request
import datetime as dt
import decimal
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import events  # noqa: E402
import querygen  # noqa: E402

REPO = HERE.parent.parent
LINEITEM_DIR = Path("/work/shared/datasets/lineitem")
DEFAULT_COUNT = 250
REL_TOL = 1e-9
ABS_TOL = 1e-9
SHOW_ROWS = 10


# ---- value normalisation and comparison ----------------------------------------------

def pinot_timestamp(moment: dt.datetime) -> str:
    """Pinot's TIMESTAMP text: `2024-01-01 00:00:00.0`, milliseconds without trailing
    zeros but at least one digit."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    millis = moment.microsecond // 1000
    fraction = f"{millis:03d}".rstrip("0") or "0"
    return moment.strftime("%Y-%m-%d %H:%M:%S") + "." + fraction


def from_duckdb(value):
    """A DuckDB Python value in the shape tessera's JSON gives it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return pinot_timestamp(value)
    if isinstance(value, dt.date):
        return pinot_timestamp(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, (list, tuple)):
        return [from_duckdb(item) for item in value]
    return str(value)


def values_equal(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is bool and type(b) is bool and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        if fa == fb:
            return True
        diff = abs(fa - fb)
        return diff <= ABS_TOL or diff <= REL_TOL * max(abs(fa), abs(fb))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def rows_equal(a, b) -> bool:
    return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))


def sort_key(value):
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isnan(number):
            return (2, math.inf, 1)
        return (2, float(f"{number:.7g}"), 0)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list):
        return (4, tuple(sort_key(item) for item in value))
    return (5, str(value))


def row_key(row):
    return tuple(sort_key(value) for value in row)


def compare(expected, actual, ordered: bool):
    """None when equal, else (reason, [(index, expected_row, actual_row)...])."""
    if len(expected) != len(actual):
        reason = f"row count: duckdb {len(expected)}, tessera {len(actual)}"
    else:
        reason = None
    if ordered:
        diffs = [(i, e, a) for i, (e, a) in enumerate(zip(expected, actual))
                 if not rows_equal(e, a)]
        if len(expected) > len(actual):
            diffs += [(i, expected[i], None) for i in range(len(actual), len(expected))]
        elif len(actual) > len(expected):
            diffs += [(i, None, actual[i]) for i in range(len(expected), len(actual))]
        if not diffs:
            return None
        if reason is None:
            same_rows = multiset_diff(expected, actual) == ([], [])
            reason = f"{len(diffs)} rows differ" + (
                " (same rows, different order)" if same_rows else "")
        return reason, diffs
    missing, extra = multiset_diff(expected, actual)
    if not missing and not extra:
        return None
    diffs = [(None, row, None) for row in missing] + [(None, None, row) for row in extra]
    if reason is None:
        reason = f"{len(missing)} rows only in duckdb, {len(extra)} only in tessera"
    return reason, diffs


def multiset_diff(expected, actual):
    """Rows of `expected` not matched in `actual` and the reverse, floats within tolerance."""
    left = sorted(expected, key=row_key)
    right = sorted(actual, key=row_key)
    if len(left) == len(right) and all(rows_equal(e, a) for e, a in zip(left, right)):
        return [], []
    # Tolerant matching: bucket by the exact (non-float) part of each row.
    def exact_part(row):
        return tuple(sort_key(v) if not isinstance(v, float) else (2,) for v in row)
    buckets: dict = {}
    for row in right:
        buckets.setdefault(exact_part(row), []).append(row)
    missing = []
    for row in left:
        candidates = buckets.get(exact_part(row), [])
        for index, candidate in enumerate(candidates):
            if rows_equal(row, candidate):
                del candidates[index]
                break
        else:
            missing.append(row)
    extra = [row for rows in buckets.values() for row in rows]
    return missing, sorted(extra, key=row_key)


# ---- engines -------------------------------------------------------------------------

class DuckDb:
    def __init__(self):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")

    def load_lineitem(self, parquet: Path, schema: dict) -> None:
        casts = {"TIMESTAMP": "TIMESTAMP", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT",
                 "INT": "INTEGER", "LONG": "BIGINT", "STRING": "VARCHAR", "BOOLEAN": "BOOLEAN"}
        columns = []
        for key in ("dimensionFieldSpecs", "metricFieldSpecs", "dateTimeFieldSpecs"):
            for spec in schema.get(key, []):
                columns.append(f"CAST({spec['name']} AS {casts[spec['dataType']]}) "
                               f"AS {spec['name']}")
        path = str(parquet).replace("'", "''")
        self.con.execute(f"CREATE OR REPLACE TABLE {schema['schemaName']} AS SELECT "
                         f"{', '.join(columns)} FROM read_parquet('{path}')")

    def load_events(self, rows) -> None:
        events.load_duckdb(self.con, rows)

    def run(self, sql: str):
        """(column names, rows) in tessera's JSON shape."""
        cursor = self.con.execute(sql)
        names = [column[0] for column in cursor.description]
        rows = [[from_duckdb(value) for value in row] for row in cursor.fetchall()]
        return names, rows


class TesseraError(Exception):
    pass


class Tessera:
    def __init__(self, binary: Path, timeout: float, url: str | None = None):
        self.binary = binary
        self.timeout = timeout
        # With a URL, queries go to a running server or cluster broker (`query --url`)
        # instead of segment files.
        self.url = url
        self.urls = [url] if url else []

    def has_query_command(self) -> tuple[bool, str]:
        probe = subprocess.run([str(self.binary), "query", "--help"], capture_output=True,
                               text=True, timeout=60)
        text = probe.stderr + probe.stdout
        return probe.returncode == 0, text.strip()

    def runner_for(self, url: str):
        """A `run` that queries `url`."""
        def run(segments: Path, sql: str):
            return self.run(segments, sql, url)
        return run

    def run(self, segments: Path, sql: str, url: str | None = None):
        url = url or self.url
        target = ["--url", url] if url else ["--segments", str(segments)]
        command = [str(self.binary), "query", *target, "--format", "json", sql]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise TesseraError(f"timed out after {self.timeout}s") from None
        if done.returncode != 0:
            raise TesseraError(f"exit {done.returncode}: {done.stderr.strip()[:2000]}")
        try:
            response = json.loads(done.stdout)
        except json.JSONDecodeError as error:
            raise TesseraError(f"stdout is not JSON ({error}): {done.stdout[:500]!r}") from None
        exceptions = response.get("exceptions") or []
        if exceptions:
            raise TesseraError(f"exceptions: {json.dumps(exceptions)[:2000]}")
        try:
            table = response["resultTable"]
            names = table["dataSchema"]["columnNames"]
            types = table["dataSchema"]["columnDataTypes"]
            rows = table["rows"]
        except (KeyError, TypeError):
            raise TesseraError(f"no resultTable in response: {done.stdout[:500]!r}") from None
        if len(types) != len(names):
            raise TesseraError(f"{len(names)} columnNames but {len(types)} columnDataTypes")
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(names):
                raise TesseraError(f"row {index} has the wrong shape for {len(names)} "
                                   f"columns: {row!r}"[:500])
        return names, rows

    def build(self, schema: Path, table: Path, inputs: list[Path], out: Path) -> str:
        command = [str(self.binary), "segment", "build", "--schema", str(schema),
                   "--table-config", str(table), "--strict", "--out", str(out), "--input",
                   *map(str, inputs)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise TesseraError(f"segment build failed (exit {done.returncode}): "
                               f"{' '.join(command)}\n{done.stderr.strip()}")
        return (done.stdout + done.stderr).strip()

    def inspect(self, segment: Path) -> dict:
        done = subprocess.run([str(self.binary), "segment", "inspect", str(segment)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise TesseraError(f"segment inspect failed: {done.stderr.strip()}")
        return json.loads(done.stdout)


# ---- segment checks ------------------------------------------------------------------

def expected_column_stats(rows, name, kind):
    values = [row[name] for row in rows]
    non_null = [v for v in values if v is not None]
    if kind == "mv":
        elements = {e for v in non_null for e in v}
    else:
        elements = set(non_null)
    ordered = sorted(elements)
    return {
        "nullCount": len(values) - len(non_null),
        "cardinality": len(elements),
        "min": ordered[0] if ordered else None,
        "max": ordered[-1] if ordered else None,
    }


def check_events_segment(info: dict, rows, label: str) -> list[str]:
    problems = []
    if info.get("rowCount") != len(rows):
        problems.append(f"rowCount {info.get('rowCount')}, expected {len(rows)}")
    if info.get("timeColumn") != "ts":
        problems.append(f"timeColumn {info.get('timeColumn')!r}, expected 'ts'")
    ts_values = [row["ts"] for row in rows]
    if (info.get("minTime"), info.get("maxTime")) != (min(ts_values), max(ts_values)):
        problems.append(f"minTime/maxTime {info.get('minTime')}/{info.get('maxTime')}, "
                        f"expected {min(ts_values)}/{max(ts_values)}")
    columns = {column["name"]: column for column in info.get("columns", [])}
    names = [column["name"] for column in info.get("columns", [])]
    if names != events.COLUMN_NAMES:
        problems.append(f"columns {names}, expected {events.COLUMN_NAMES}")
    for name, pinot_type, _duck, multi in events.COLUMNS:
        column = columns.get(name)
        if column is None:
            continue
        kind = querygen.KINDS[name]
        want = expected_column_stats(rows, name, kind)
        want["dataType"] = pinot_type
        want["singleValue"] = not multi
        encoding, indexes = events.EXPECTED_INDEXES[name]
        want["encoding"] = encoding
        for key, value in want.items():
            got = column.get(key)
            if key == "cardinality" and encoding == "RAW" and isinstance(got, int):
                # Raw columns report a HyperLogLog estimate (`segment inspect` does not
                # print the cardinalityIsEstimate flag): allow 5%.
                if abs(got - value) > 0.05 * value:
                    problems.append(f"{name}.cardinality = {got} (estimate), expected "
                                    f"~{value}")
                continue
            if not values_equal(got, value):
                problems.append(f"{name}.{key} = {got!r}, expected {value!r}")
        got_indexes = sorted(column.get("indexes", []))
        if got_indexes != sorted(indexes):
            problems.append(f"{name}.indexes = {got_indexes}, expected {sorted(indexes)}")
    return [f"{label}: {problem}" for problem in problems]


# ---- the run -------------------------------------------------------------------------

class PgTessera:
    """Tessera over the PostgreSQL wire (psycopg, simple protocol), answering in the same
    shape as `tessera query --format json`."""

    def __init__(self, address: str):
        import psycopg
        self.psycopg = psycopg
        self.address = address
        host, port = address.rsplit(":", 1)
        self.conn = psycopg.connect(host=host, port=int(port), dbname="default",
                                    user="tessera", autocommit=True, connect_timeout=10)

    def run(self, segments: Path, sql: str):
        try:
            with self.psycopg.ClientCursor(self.conn) as cursor:
                cursor.execute(sql)
                names = [column.name for column in cursor.description or []]
                rows = [[from_duckdb(value) for value in row] for row in cursor.fetchall()]
        except self.psycopg.Error as error:
            raise TesseraError(f"postgresql {self.address}: {error}") from None
        return names, rows


def http_post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except urllib.error.HTTPError as error:
        raise TesseraError(f"POST {url}: HTTP {error.code}: {error.read()[:500]!r}") from None


def load_table(tessera: "Tessera", url: str, schema: Path, table: Path, inputs: list[Path],
               replication: int) -> None:
    """Create the table on a running server or cluster (its config with `replication`) and
    ingest each input file as one segment with `tessera ingest`."""
    config = json.loads(table.read_text())
    config.setdefault("segmentsConfig", {})["replication"] = str(replication)
    http_post(f"{url}/schemas", schema.read_bytes())
    http_post(f"{url}/tables", json.dumps(config).encode())
    name = config["tableName"]
    rows = 0
    for path in inputs:
        done = subprocess.run([str(tessera.binary), "ingest", "--url", url, "--table", name,
                               str(path)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise TesseraError(f"ingest {path.name}: {done.stderr.strip()[:1000]}")
        rows += int(re.search(r"ingested rows=(\d+)", done.stdout).group(1))
    # A cluster serves uploaded segments once servers have loaded them: wait until every
    # row is answered without a partial result.
    deadline = time.monotonic() + 120
    while True:
        request = urllib.request.Request(
            f"{url}/query/sql", method="POST",
            data=json.dumps({"sql": f"SELECT COUNT(*) FROM {name}"}).encode(),
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
            served = answer["resultTable"]["rows"][0][0]
            if served == rows and not answer.get("partialResult"):
                return
        except (urllib.error.URLError, KeyError, IndexError, TypeError):
            served = None
        if time.monotonic() > deadline:
            raise TesseraError(f"{name}: {served} of {rows} rows served after 120s")
        time.sleep(0.2)


def split_parquet(con, parquet: Path, out_dir: Path, rows_per_file: int) -> list[Path]:
    """The Parquet file cut into files of `rows_per_file` rows (one segment each)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (total,), = con.execute(f"SELECT COUNT(*) FROM read_parquet('{parquet}')").fetchall()
    paths = []
    for index, offset in enumerate(range(0, total, rows_per_file)):
        path = out_dir / f"part-{index:03}.parquet"
        con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}') LIMIT {rows_per_file} "
                    f"OFFSET {offset}) TO '{path}' (FORMAT PARQUET)")
        paths.append(path)
    return paths


class Case:
    def __init__(self, label, tessera_sql, duckdb_sql, ordered, segments, note=""):
        self.label = label
        self.tessera_sql = tessera_sql
        self.duckdb_sql = duckdb_sql
        self.ordered = ordered
        self.segments = segments
        self.note = note


def strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))


def lineitem_cases(query_dir: Path, segments: Path) -> list[Case]:
    cases = []
    for path in sorted(query_dir.glob("*.sql")):
        text = path.read_text().strip().rstrip(";").strip()
        body = strip_comments(text)
        ordered = bool(re.search(r"\bORDER\s+BY\b", body, re.IGNORECASE))
        if re.search(r"--\s*differential:\s*unordered", text):
            ordered = False
        cases.append(Case(f"lineitem/{path.name}", text, text, ordered, segments))
    return cases


def event_cases(args, rows, segments: Path) -> list[Case]:
    generator = querygen.Generator(querygen.value_pools(rows), seed=args.seed,
                                   disabled=args.disable, enabled=args.enable)
    indexes = args.pick if args.pick else range(args.count)
    cases = []
    for index in indexes:
        query = generator.query(index)
        cases.append(Case(f"events#{index} (seed {args.seed}, {query.kind})", query.tessera,
                          query.duckdb, query.ordered, segments,
                          note="features: " + ", ".join(sorted(query.features))))
    return cases


def format_row(row) -> str:
    if row is None:
        return "(none)"
    return json.dumps(row, ensure_ascii=False)


def print_failure(case: Case, reason: str, diffs, expected, actual, names):
    print(f"FAIL {case.label}: {reason}")
    print(f"  tessera sql: {case.tessera_sql}")
    if case.duckdb_sql != case.tessera_sql:
        print(f"  duckdb sql:  {case.duckdb_sql}")
    if case.note:
        print(f"  {case.note}")
    print(f"  comparison: {'ordered' if case.ordered else 'unordered (multiset)'}; "
          f"rows duckdb {len(expected)}, tessera {len(actual)}; columns {names}")
    for index, want, got in diffs[:SHOW_ROWS]:
        where = f"[{index}]" if index is not None else ""
        if want is not None:
            print(f"    duckdb {where}: {format_row(want)}")
        if got is not None:
            print(f"    tessera{where}: {format_row(got)}")
    if len(diffs) > SHOW_ROWS:
        print(f"    ... {len(diffs) - SHOW_ROWS} more differing rows")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="features (--disable/--enable):\n" + querygen.describe_features())
    parser.add_argument("--tessera", type=Path, default=REPO / "target/debug/tessera",
                        help="tessera binary (default: target/debug/tessera)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"generated events queries (default {DEFAULT_COUNT})")
    parser.add_argument("--seed", type=int, default=1, help="query generator seed (default 1)")
    parser.add_argument("--pick", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=None, help="run only these generated query indexes (1,17,40)")
    parser.add_argument("--rows", type=int, default=events.DEFAULT_ROWS,
                        help=f"events rows (default {events.DEFAULT_ROWS})")
    parser.add_argument("--data-seed", type=int, default=events.DEFAULT_SEED,
                        help="events data seed")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--only-lineitem", action="store_true",
                       help="only the lineitem query files")
    group.add_argument("--only-events", action="store_true", help="only generated queries")
    parser.add_argument("--duckdb-only", action="store_true",
                        help="no tessera: print each query and its DuckDB result; fails if "
                             "DuckDB rejects a query")
    parser.add_argument("--build-only", action="store_true",
                        help="build the segments and check `segment inspect` against the "
                             "data, run no query (works before the query command exists)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write inputs and segments to DIR and keep them (default: a "
                             "temporary directory, removed at the end)")
    parser.add_argument("--disable", type=lambda s: [x for x in s.split(",") if x], default=[],
                        help="comma-separated generator features to turn off")
    parser.add_argument("--enable", type=lambda s: [x for x in s.split(",") if x], default=[],
                        help="comma-separated generator features to turn on (off by default)")
    parser.add_argument("--lineitem-parquet", type=Path, default=None,
                        help="default $TESSERA_TEST_DATA/lineitem/sf0.01/lineitem.parquet")
    parser.add_argument("--url", default=None,
                        help="query a running server or cluster broker (`tessera query --url`) "
                             "instead of segment files; several comma-separated URLs run every "
                             "query through each")
    parser.add_argument("--pg", default=None,
                        help="also run every query over the PostgreSQL wire at these "
                             "comma-separated HOST:PORT addresses (psycopg)")
    parser.add_argument("--load", action="store_true",
                        help="with --url: create the tables and ingest the data first")
    parser.add_argument("--load-replication", type=int, default=1,
                        help="with --load: the tables' segmentsConfig.replication")
    parser.add_argument("--load-rows-per-segment", type=int, default=5000,
                        help="with --load: lineitem rows per uploaded segment")
    parser.add_argument("--lineitem-queries", type=Path, default=LINEITEM_DIR / "queries")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds per tessera query (default 60)")
    parser.add_argument("--scan-check", action="store_true",
                        help="also run every query with `SET useIndexes = false;` (full scans) "
                             "and require the same result: index path vs scan")
    parser.add_argument("--show", type=int, default=5,
                        help="rows of each result printed by --duckdb-only (default 5)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print every query, not only failures")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        querygen.Generator({}, disabled=args.disable, enabled=args.enable)
    except ValueError as error:
        print(f"differential: {error}", file=sys.stderr)
        return 2
    data_root = Path(os.environ.get("TESSERA_TEST_DATA",
                                    Path.home() / ".cache/tessera/data"))
    parquet = args.lineitem_parquet or data_root / "lineitem/sf0.01/lineitem.parquet"
    want_lineitem = not args.only_events
    want_events = not args.only_lineitem
    if want_lineitem and not parquet.exists():
        print(f"differential: {parquet} is missing (bash deploy/gen-lineitem.sh 0.01)",
              file=sys.stderr)
        return 2

    tessera = None
    if not args.duckdb_only:
        urls = [url.strip().rstrip("/") for url in (args.url or "").split(",") if url.strip()]
        tessera = Tessera(args.tessera.resolve(), args.timeout, urls[0] if urls else None)
        tessera.urls = urls
        if not tessera.binary.exists():
            print(f"differential: no tessera binary at {tessera.binary}", file=sys.stderr)
            return 2
        ok, text = tessera.has_query_command()
        if not ok and not args.build_only:
            print(f"differential: `{tessera.binary} query` is not available yet "
                  f"({text.splitlines()[0] if text else 'no output'}); run with --duckdb-only "
                  f"to exercise the DuckDB side alone", file=sys.stderr)
            return 2

    if args.keep:
        work = args.keep.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="tessera-differential-"))

    try:
        return run(args, tessera, work, parquet, want_lineitem, want_events, started)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args, tessera, work: Path, parquet: Path, want_lineitem, want_events, started) -> int:
    duck = DuckDb()
    cases: list[Case] = []
    setup_failures: list[str] = []

    if want_lineitem:
        lineitem_schema_path = LINEITEM_DIR / "schema.json"
        schema = json.loads(lineitem_schema_path.read_text())
        duck.load_lineitem(parquet, schema)
        segments = work / "lineitem"
        if tessera and tessera.url and args.load:
            try:
                parts = split_parquet(duck.con, parquet, work / "lineitem-parts",
                                      args.load_rows_per_segment)
                load_table(tessera, tessera.url, lineitem_schema_path,
                           LINEITEM_DIR / "table.json", parts, args.load_replication)
                print(f"loaded lineitem into {tessera.url} as {len(parts)} segments")
            except TesseraError as error:
                print(f"differential: {error}", file=sys.stderr)
                return 2
        elif tessera and not tessera.url:
            if segments.exists():
                shutil.rmtree(segments)
            segments.mkdir(parents=True)
            try:
                print(tessera.build(lineitem_schema_path, LINEITEM_DIR / "table.json",
                                    [parquet], segments / "lineitem.tseg"))
                info = tessera.inspect(segments / "lineitem.tseg")
                (want_rows,), = duck.con.execute("SELECT COUNT(*) FROM lineitem").fetchall()
                if info.get("rowCount") != want_rows:
                    setup_failures.append(f"lineitem.tseg rowCount {info.get('rowCount')}, "
                                          f"expected {want_rows}")
            except TesseraError as error:
                print(f"differential: {error}", file=sys.stderr)
                return 2
        cases += lineitem_cases(args.lineitem_queries, segments)

    if want_events:
        rows = events.generate_rows(args.rows, args.data_seed)
        duck.load_events(rows)
        segments = work / "events"
        if tessera and tessera.url and args.load:
            paths = events.write_inputs(work / "events-input", rows, args.data_seed)
            try:
                load_table(tessera, tessera.url, paths["schema"], paths["table"],
                           paths["inputs"], args.load_replication)
                print(f"loaded events into {tessera.url} as {len(paths['inputs'])} segments")
            except TesseraError as error:
                print(f"differential: {error}", file=sys.stderr)
                return 2
        elif tessera and not tessera.url:
            inputs_dir = work / "events-input"
            paths = events.write_inputs(inputs_dir, rows, args.data_seed)
            if segments.exists():
                shutil.rmtree(segments)
            segments.mkdir(parents=True)
            try:
                for index, (input_path, chunk) in enumerate(
                        zip(paths["inputs"], events.split(rows))):
                    out = segments / f"events_{index}.tseg"
                    print(tessera.build(paths["schema"], paths["table"], [input_path], out))
                    setup_failures += check_events_segment(tessera.inspect(out), chunk,
                                                           out.name)
            except TesseraError as error:
                print(f"differential: {error}", file=sys.stderr)
                return 2
        cases += event_cases(args, rows, segments)

    for problem in setup_failures:
        print(f"FAIL segment check: {problem}")
    if args.build_only:
        cases = []

    pg_clients = []
    if tessera and args.pg:
        try:
            pg_clients = [PgTessera(address.strip()) for address in args.pg.split(",")
                          if address.strip()]
        except Exception as error:  # noqa: BLE001 - a connection failure is a setup problem
            print(f"differential: cannot connect over PostgreSQL: {error}", file=sys.stderr)
            return 2

    passed = failed = errors = 0
    for case in cases:
        try:
            names, expected = duck.run(case.duckdb_sql)
        except Exception as error:  # noqa: BLE001 - any DuckDB error is reported
            errors += 1
            print(f"ERROR {case.label}: duckdb: {type(error).__name__}: {error}")
            print(f"  duckdb sql: {case.duckdb_sql}")
            continue
        if args.duckdb_only:
            passed += 1
            print(f"-- {case.label} [{len(expected)} rows, "
                  f"{'ordered' if case.ordered else 'unordered'}]")
            print(f"   tessera: {case.tessera_sql}")
            if case.duckdb_sql != case.tessera_sql:
                print(f"   duckdb:  {case.duckdb_sql}")
            print(f"   columns: {names}")
            for row in expected[:args.show]:
                print(f"   {format_row(row)}")
            if len(expected) > args.show:
                print(f"   ... {len(expected) - args.show} more")
            continue
        modes = [("", "")]
        if args.scan_check:
            modes.append((" [scan]", "SET useIndexes = false; "))
        runners = [("", tessera.run)]
        if len(tessera.urls) > 1:
            runners = [(f" [{url}]", tessera.runner_for(url)) for url in tessera.urls]
        runners += [(f" [pg {pg.address}]", pg.run) for pg in pg_clients]
        for (mode_suffix, prefix), (runner_suffix, runner) in itertools.product(modes, runners):
            label = case.label + mode_suffix + runner_suffix
            try:
                tessera_names, actual = runner(case.segments, prefix + case.tessera_sql)
            except TesseraError as error:
                errors += 1
                print(f"ERROR {label}: tessera: {error}")
                print(f"  tessera sql: {prefix}{case.tessera_sql}")
                continue
            if len(tessera_names) != len(names):
                failed += 1
                print_failure(case, f"column count: duckdb {len(names)} {names}, tessera "
                                    f"{len(tessera_names)} {tessera_names}", [], expected,
                              actual, names)
                continue
            outcome = compare(expected, actual, case.ordered)
            if outcome is None:
                passed += 1
                if args.verbose:
                    print(f"ok   {label}: {len(expected)} rows  {case.tessera_sql}")
            else:
                failed += 1
                print(f"(mode: {label})")
                print_failure(case, *outcome, expected, actual, names)

    failed += len(setup_failures)
    seconds = time.monotonic() - started
    mode = " (duckdb only)" if args.duckdb_only else " (build only)" if args.build_only else ""
    print(f"differential{mode}: {passed} passed, {failed} failed, {errors} errors "
          f"in {seconds:.1f}s")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
