"""Grafana's built-in PostgreSQL data source, replayed with psycopg 3 against Tessera.

The SQL below is exactly what Grafana sends: its metadata queries (from
public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts) and
panel queries after its macro engine expanded $__timeFilter, $__timeGroupAlias,
$__timeEpoch, $__unixEpochFilter, $__unixEpochGroupAlias and $__timeFrom/$__timeTo
(pkg/tsdb/grafana-postgresql-datasource/macros.go) for the time range
1995-01-01T00:00:00Z .. 1995-03-01T00:00:00Z. Each panel query runs over the simple
protocol, the extended protocol (prepared, text results), and the extended protocol
with binary results, and must return DuckDB's rows on the same lineitem data.

usage: grafana_check.py HOST PORT LINEITEM_PARQUET
"""

import datetime
import decimal
import math
import sys

import duckdb
import psycopg

host, port, parquet = sys.argv[1], int(sys.argv[2]), sys.argv[3]
FROM, TO = "1995-01-01T00:00:00Z", "1995-03-01T00:00:00Z"

oracle = duckdb.connect()
oracle.execute("SET TimeZone = 'UTC'")
oracle.execute(f"CREATE VIEW lineitem AS SELECT * FROM read_parquet('{parquet}')")


def normalize(value):
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day).isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def rows_of(rows):
    return [tuple(normalize(v) for v in row) for row in rows]


def same(label, ours, theirs):
    assert len(ours) == len(theirs), f"{label}: {len(ours)} rows vs DuckDB {len(theirs)}"
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            if isinstance(x, float) and isinstance(y, float):
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6), f"{label}: {a} vs {b}"
            else:
                assert x == y, f"{label}: {a} vs DuckDB {b}"


conn = psycopg.connect(host=host, port=port, user="grafana", dbname="default", autocommit=True)

# --- metadata queries, verbatim
SEARCH_PATH = """
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"""
METADATA = {
    "version": "SELECT current_setting('server_version_num')::int/100 as version",
    "timescaledb": "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'",
    "schemas": """SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name""",
    "tables in schema": """SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'public'
      ORDER BY 1""",
    "tables": f"""SELECT
    CASE WHEN {SEARCH_PATH}
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN {SEARCH_PATH} THEN 0 ELSE 1 END, 1""",
    "columns": f"""SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('lineitem'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('lineitem'))[1]
          AND quote_ident(table_name) = (parse_ident('lineitem'))[2]
        ELSE quote_ident(table_name) = 'lineitem'
          AND {SEARCH_PATH}
      END""",
    "columns qualified": """SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('public.lineitem'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('public.lineitem'))[1]
          AND quote_ident(table_name) = (parse_ident('public.lineitem'))[2]
        ELSE quote_ident(table_name) = 'public.lineitem'
      END""",
}
EXPECTED = {
    "version": [(1500,)],
    "timescaledb": [],
    "schemas": [("public",)],
    "tables in schema": [("alltypes",), ("lineitem",)],
    "tables": [("alltypes",), ("lineitem",)],
}
for protocol in ("simple", "extended"):
    for label, sql in METADATA.items():
        if protocol == "simple":
            rows = psycopg.ClientCursor(conn).execute(sql).fetchall()
        else:
            rows = conn.cursor().execute(sql, prepare=True).fetchall()
        if label in EXPECTED:
            assert rows == EXPECTED[label], f"{protocol} {label}: {rows}"
        else:
            columns = dict(rows)
            assert len(columns) == 16, f"{protocol} {label}: {rows}"
            assert columns["l_shipdate"] == "timestamp without time zone", rows
            assert columns["l_quantity"] == "double precision", rows
            assert columns["l_orderkey"] == "bigint", rows
            assert columns["l_returnflag"] == "text", rows
        print(f"ok metadata {protocol}: {label} -> {len(rows)} rows")

# --- panel queries after macro expansion
PANELS = {
    "$__timeGroupAlias + $__timeFilter": f"""SELECT
  floor(extract(epoch from l_shipdate)/86400)*86400 AS "time",
  count(*) AS "value"
FROM lineitem
WHERE
  l_shipdate BETWEEN '{FROM}' AND '{TO}'
GROUP BY 1
ORDER BY 1""",
    "$__timeGroup per metric": f"""SELECT
  floor(extract(epoch from l_shipdate)/604800)*604800 AS time,
  l_returnflag AS metric,
  sum(l_quantity) AS value
FROM lineitem
WHERE l_shipdate BETWEEN '{FROM}' AND '{TO}'
GROUP BY 1, 2
ORDER BY 1, 2""",
    "$__timeEpoch + $__timeFilter with fractional seconds": """SELECT
  extract(epoch from l_shipdate) as "time",
  l_extendedprice AS "value"
FROM lineitem
WHERE
  l_shipdate BETWEEN '1995-01-01T00:00:00Z' AND '1995-01-03T00:00:00.5Z' AND l_orderkey < 20000
ORDER BY 1, 2""",
    "$__time + $__timeFrom/$__timeTo": f"""SELECT
  l_shipdate AS "time",
  l_quantity
FROM lineitem
WHERE l_shipdate >= '{FROM}' AND l_shipdate < '{TO}' AND l_orderkey < 3000
ORDER BY 1, 2""",
    # $__unixEpochFilter / $__unixEpochGroupAlias take a numeric epoch-seconds column;
    # lineitem has none, so l_orderkey stands in (the expansion is plain arithmetic).
    "$__unixEpochFilter + $__unixEpochGroupAlias": """SELECT
  floor((l_orderkey)/300)*300 AS "time",
  count(*) AS "value"
FROM lineitem
WHERE l_orderkey >= 788918400 AND l_orderkey <= 794016000 OR l_orderkey <= 3000
GROUP BY 1
ORDER BY 1""",
}
for label, sql in PANELS.items():
    theirs = rows_of(oracle.execute(sql).fetchall())
    assert theirs, f"{label}: DuckDB returned nothing; the test data is wrong"
    runs = {
        "simple": lambda: psycopg.ClientCursor(conn).execute(sql).fetchall(),
        "extended": lambda: conn.cursor().execute(sql, prepare=True).fetchall(),
        "extended binary": lambda: conn.cursor(binary=True).execute(sql, prepare=True).fetchall(),
    }
    for protocol, run in runs.items():
        same(f"{protocol} {label}", rows_of(run()), theirs)
        print(f"ok panel {protocol}: {label} -> {len(theirs)} rows")

# Parameters bound by the server (extended protocol): the time range as text and as
# datetimes (sent as timestamptz).

sql = "SELECT count(*) FROM lineitem WHERE l_shipdate BETWEEN %s AND %s"
want = oracle.execute(sql.replace("%s", "?"), [FROM, TO]).fetchall()[0][0]
got = conn.execute(sql, (FROM, TO)).fetchall()[0][0]
assert got == want, (got, want)
start = datetime.datetime(1995, 1, 1, tzinfo=datetime.timezone.utc)
end = datetime.datetime(1995, 3, 1, tzinfo=datetime.timezone.utc)
got = conn.execute(sql, (start, end)).fetchall()[0][0]
assert got == want, (got, want)
got = conn.execute(
    "SELECT count(*) FROM lineitem WHERE l_orderkey < %s AND l_returnflag = %s", (1000, "R")
).fetchall()[0][0]
want = oracle.execute(
    "SELECT count(*) FROM lineitem WHERE l_orderkey < 1000 AND l_returnflag = 'R'"
).fetchall()[0][0]
assert got == want, (got, want)
print(f"ok parameters: {got}")

# Errors carry SQLSTATEs.
for sql, state in [
    ("SELECT nope FROM lineitem", "42703"),
    ("SELECT * FROM missing_table", "42P01"),
    ("SELEC 1", "42601"),
    ("INSERT INTO lineitem VALUES (1)", "0A000"),
]:
    try:
        conn.execute(sql)
    except psycopg.Error as error:
        assert error.sqlstate == state, f"{sql}: {error.sqlstate} {error}"
        print(f"ok error {state}: {error}")
    else:
        raise AssertionError(f"{sql}: no error")
print("grafana: all checks passed")
