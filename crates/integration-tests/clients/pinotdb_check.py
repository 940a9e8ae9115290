"""The real `pinotdb` client (DB-API cursor and SQLAlchemy dialect) against Tessera.

Run by crates/integration-tests/tests/clients.rs with the broker's host and port, after
the test loaded the `alltypes` table (two rows, one per line below) and `lineitem`.
Every check asserts; the script exits nonzero on the first wrong value.
"""

import datetime
import sys

import pinotdb
from pinotdb import exceptions
from sqlalchemy import create_engine, inspect, text, types

host, port = sys.argv[1], int(sys.argv[2])
conn = pinotdb.connect(host=host, port=port, path="/query/sql", scheme="http")
cursor = conn.cursor()


def one_column(sql):
    cursor.execute(sql)
    return [row[0] for row in cursor.fetchall()]


def check(label, got, want):
    assert got == want, f"{label}: got {got!r}, want {want!r}"
    print(f"ok {label}: {got!r}")


# One cursor query per data type: the Python values pinotdb hands back.
order = " ORDER BY i DESC"
check("INT", one_column("SELECT i FROM alltypes" + order), [7, -3])
check("LONG", one_column("SELECT l FROM alltypes" + order), [9000000000, -1])
check("FLOAT", one_column("SELECT f FROM alltypes" + order), [1.5, -0.5])
check("DOUBLE (with NULL)", one_column("SELECT d FROM alltypes" + order), [2.25, None])
check("BOOLEAN", one_column("SELECT b FROM alltypes" + order), [True, False])
check("STRING", one_column("SELECT s FROM alltypes" + order), ["héllo", "world"])
check("BYTES (hex)", one_column("SELECT by FROM alltypes" + order), ["cafe", "00ff"])
check("JSON", one_column("SELECT j FROM alltypes" + order), [{"a": 1}, {"a": [2, 3]}])
check(
    "TIMESTAMP",
    one_column("SELECT ts FROM alltypes" + order),
    [datetime.datetime(2026, 1, 1, 0, 0, 0), datetime.datetime(2026, 1, 1, 0, 0, 1, 500000)],
)
check("STRING multi-value", one_column("SELECT tags FROM alltypes" + order), [["x", "y"], ["z"]])
check("aggregate", one_column("SELECT COUNT(*) FROM alltypes"), [2])
cursor.execute("SELECT s, i FROM alltypes ORDER BY i")
check("description names", [d[0] for d in cursor.description], ["s", "i"])

# Query options as a SET prefix and as the queryOptions field.
check("SET prefix", one_column("SET timeoutMs = 5000; SELECT COUNT(*) FROM alltypes"), [2])
cursor.execute("SELECT COUNT(*) FROM alltypes", queryOptions="timeoutMs=5000")
check("queryOptions", cursor.fetchall()[0][0], 2)

# A bad query raises with Tessera's message (what is wrong, where).
for sql, expected in [
    ("SELEC i FROM alltypes", "SQL parse error"),
    ("SELECT nope FROM alltypes", "unknown column `nope`"),
    ("SELECT i FROM missing_table", "missing_table"),
]:
    try:
        cursor.execute(sql)
    except exceptions.Error as error:
        assert expected in str(error), f"{sql}: {error}"
        print(f"ok error for {sql!r}: {type(error).__name__}")
    else:
        raise AssertionError(f"{sql}: no exception")

# The SQLAlchemy dialect: tables from GET /tables, columns from GET /tables/{t}/schema.
engine = create_engine(
    f"pinot://{host}:{port}/query/sql?controller=http://{host}:{port}/"
)
inspector = inspect(engine)
check("sqlalchemy tables", sorted(inspector.get_table_names()), ["alltypes", "lineitem"])
columns = {c["name"]: c["type"] for c in inspector.get_columns("alltypes")}
expected_types = {
    "i": types.BigInteger, "l": types.BigInteger, "f": types.Float, "d": types.Numeric,
    "b": types.Boolean, "s": types.String, "by": types.LargeBinary, "j": types.JSON,
    "tags": types.String, "ts": types.TIMESTAMP,
}
check("sqlalchemy column names", sorted(columns), sorted(expected_types))
for name, ty in expected_types.items():
    assert columns[name] is ty or isinstance(columns[name], ty), f"{name}: {columns[name]!r}"
print("ok sqlalchemy column types")
lineitem_columns = [c["name"] for c in inspector.get_columns("lineitem")]
assert "l_shipdate" in lineitem_columns and "l_quantity" in lineitem_columns, lineitem_columns
with engine.connect() as connection:
    rows = connection.execute(text("SELECT COUNT(*) FROM lineitem")).fetchall()
    assert rows[0][0] > 0, rows
    print(f"ok sqlalchemy query: {rows[0][0]} lineitem rows")
print("pinotdb: all checks passed")
