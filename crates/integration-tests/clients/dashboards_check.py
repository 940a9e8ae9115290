"""The shipped Grafana dashboards (deploy/grafana/dashboards) against a live quickstart.

Each dashboard must be valid Grafana dashboard JSON (unique panel ids, grid positions,
targets with refIds and a provisioned data source). Every SQL panel query is expanded
the way Grafana's PostgreSQL macro engine expands it (time range: the last 15 minutes)
and run through psycopg over the simple and the extended protocol: no error, and at
least one row. Every metric a Prometheus panel reads must be exported by GET /metrics.

usage: dashboards_check.py PG_HOST PG_PORT HTTP_URL DASHBOARD_DIR PROVISIONING_DIR
"""

import datetime
import json
import pathlib
import re
import sys
import urllib.request

import psycopg

pg_host, pg_port, http_url, dashboards, provisioning = sys.argv[1:6]

now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
start = now - datetime.timedelta(minutes=15)


def rfc3339(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def interval_seconds(text):
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", text.strip().strip("'"))
    assert match, f"interval {text}"
    n, unit = int(match.group(1)), match.group(2)
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def seconds_text(seconds):
    return str(int(seconds)) if seconds == int(seconds) else str(seconds)


def expand(sql):
    """Grafana's PostgreSQL macros (pkg/tsdb/grafana-postgresql-datasource/macros.go)."""

    def group(match, alias):
        column, interval = [a.strip() for a in match.group(1).split(",")[:2]]
        s = seconds_text(interval_seconds(interval))
        text = f"floor(extract(epoch from {column})/{s})*{s}"
        return text + ' AS "time"' if alias else text

    sql = re.sub(r"\$__timeGroupAlias\(([^)]*)\)", lambda m: group(m, True), sql)
    sql = re.sub(r"\$__timeGroup\(([^)]*)\)", lambda m: group(m, False), sql)
    sql = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m.group(1).strip()} BETWEEN '{rfc3339(start)}' AND '{rfc3339(now)}'",
        sql,
    )
    sql = re.sub(r"\$__timeEpoch\(([^)]*)\)", lambda m: f'extract(epoch from {m.group(1)}) as "time"', sql)
    sql = re.sub(r"\$__time\(([^)]*)\)", lambda m: f'{m.group(1)} AS "time"', sql)
    sql = sql.replace("$__timeFrom()", f"'{rfc3339(start)}'").replace("$__timeTo()", f"'{rfc3339(now)}'")
    sql = re.sub(
        r"\$__unixEpochFilter\(([^)]*)\)",
        lambda m: f"{m.group(1)} >= {int(start.timestamp())} AND {m.group(1)} <= {int(now.timestamp())}",
        sql,
    )
    assert "$__" not in sql, f"a macro this test does not expand: {sql}"
    return sql


provisioned = pathlib.Path(provisioning, "datasources", "tessera.yaml").read_text()
uids = set(re.findall(r"^\s+uid:\s*(\S+)", provisioned, re.M))
assert uids == {"tessera", "tessera-prometheus"}, uids

exported = set(re.findall(r"^# TYPE (\S+)", urllib.request.urlopen(f"{http_url}/metrics").read().decode(), re.M))
conn = psycopg.connect(host=pg_host, port=int(pg_port), user="grafana", dbname="default", autocommit=True)

checked = 0
for path in sorted(pathlib.Path(dashboards).glob("*.json")):
    dashboard = json.loads(path.read_text())
    for key in ("title", "uid", "panels", "schemaVersion", "time"):
        assert key in dashboard, f"{path.name}: no {key}"
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids {ids}"
    for panel in dashboard["panels"]:
        where = f"{path.name} panel {panel['id']} ({panel['title']})"
        assert panel["type"] and panel["targets"], where
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}, where
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, where
        for target in panel["targets"]:
            assert target["refId"], where
            source = target.get("datasource") or panel["datasource"]
            assert source["uid"] in uids, f"{where}: unknown data source {source}"
            if source["type"] == "grafana-postgresql-datasource":
                sql = expand(target["rawSql"])
                simple = psycopg.ClientCursor(conn).execute(sql).fetchall()
                extended = conn.cursor().execute(sql, prepare=True).fetchall()
                assert simple, f"{where}: no rows for\n{sql}"
                assert len(simple) == len(extended), f"{where}: {len(simple)} vs {len(extended)}"
                print(f"ok {where}: {len(simple)} rows")
            else:
                names = set(re.findall(r"\btessera_[a-z_]+", target["expr"]))
                assert names, f"{where}: no Tessera metric in {target['expr']}"
                for name in names:
                    family = re.sub(r"_(bucket|sum|count)$", "", name)
                    assert family in exported, f"{where}: /metrics has no {family}"
                print(f"ok {where}: {sorted(names)}")
            checked += 1
assert checked >= 15, checked
print(f"dashboards: all {checked} panel queries passed")
