"""Every Tessera type over the PostgreSQL wire with psycopg 3: the type OIDs in the
row description and the Python values, in the text and the binary result format.

usage: pg_types_check.py HOST PORT   (the `alltypes` table of tests/clients.rs loaded)
"""

import datetime
import sys

import psycopg

host, port = sys.argv[1], int(sys.argv[2])
conn = psycopg.connect(host=host, port=port, user="tessera", dbname="default", autocommit=True)
SQL = "SELECT i, l, f, d, b, s, by, j, tags, ts FROM alltypes ORDER BY i DESC"
OIDS = [23, 20, 700, 701, 16, 25, 17, 114, 1009, 1114]
ROWS = [
    (7, 9000000000, 1.5, 2.25, True, "héllo", b"\xca\xfe", {"a": 1}, ["x", "y"],
     datetime.datetime(2026, 1, 1, 0, 0, 0)),
    (-3, -1, -0.5, None, False, "world", b"\x00\xff", {"a": [2, 3]}, ["z"],
     datetime.datetime(2026, 1, 1, 0, 0, 1, 500000)),
]
for label, cursor, kwargs in [
    ("simple text", psycopg.ClientCursor(conn), {}),
    ("extended text", conn.cursor(), {"prepare": True}),
    ("extended binary", conn.cursor(binary=True), {"prepare": True}),
]:
    cursor.execute(SQL, **kwargs)
    oids = [column.type_code for column in cursor.description]
    assert oids == OIDS, f"{label}: OIDs {oids}"
    rows = cursor.fetchall()
    assert rows == ROWS, f"{label}: {rows}"
    print(f"ok {label}: {len(rows)} rows, OIDs {oids}")
# Aggregates and expressions type too.
cursor = conn.cursor(binary=True)
cursor.execute("SELECT COUNT(*), SUM(l), AVG(d), MAX(ts) FROM alltypes", prepare=True)
row = cursor.fetchone()
assert [c.type_code for c in cursor.description] == [20, 20, 701, 1114], cursor.description
assert row == (2, 8999999999.0, 2.25, datetime.datetime(2026, 1, 1, 0, 0, 1, 500000)), row
print(f"ok aggregates: {row}")
print("pg types: all checks passed")
