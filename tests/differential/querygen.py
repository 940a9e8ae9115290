"""Seeded random SQL over the `events` table, as (tessera_sql, duckdb_sql) pairs.

The two statements are the same text except where DuckDB needs a translation (multi-value
predicates: `tags = 'x'` → `list_contains(tags, 'x')`, `tags IN (...)` → `list_has_any`).
Every query is deterministic in (seed, index) and avoids constructs whose result is
engine-dependent: no division by a column, no ORDER BY ... LIMIT without a total order, no
equality on computed floats, no CAST of a fractional double to an integer or to text, no
ROUND of negative ties, no float literals that a FLOAT column cannot hold exactly.

Each surface feature has a name (see FEATURES); disable some to narrow a failing area:
    Generator(values, seed, disabled={"like", "mv"})
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

# name -> (default on?, description)
FEATURES = {
    # WHERE
    "where": (True, "a WHERE clause at all"),
    "and_or": (True, "AND / OR trees (depth <= 3)"),
    "not": (True, "NOT over subtrees (never over multi-value leaves)"),
    "cmp": (True, "col op literal with =, <>, <, <=, >, >="),
    "between": (True, "col BETWEEN a AND b"),
    "in": (True, "col IN (...) / NOT IN (...)"),
    "is_null": (True, "IS NULL / IS NOT NULL"),
    "like": (True, "LIKE / NOT LIKE with 'ab%', '%x%', '_b%' patterns"),
    "ts_literal": (True, "ts vs TIMESTAMP '...' literals (also with milliseconds)"),
    "date_literal": (True, "ts vs DATE '...' literals"),
    "arith_leaf": (True, "arithmetic in a leaf: bytes * 2 + 1 > 100, latency_ms / 2 < 30"),
    "mv": (True, "multi-value leaves tags = 'x' and tags IN (...), un-negated"),
    "mv_is_null": (True, "tags IS NULL / IS NOT NULL (empty array vs NULL semantics)"),
    "bool_col": (True, "the BOOLEAN column active in predicates, keys and projections"),
    "float_col": (True, "the FLOAT column score (exact k/8 values)"),
    "decimal_vs_int": (True, "fractional literals against INT/LONG columns (bytes > 10.5)"),
    # aggregation
    "agg": (True, "aggregation queries"),
    "group_by": (True, "GROUP BY 1-2 keys"),
    "group_by_mv": (True, "GROUP BY the multi-value column tags (a row joins each value's "
                          "group; DuckDB: UNNEST, a NULL or empty list as one NULL)"),
    "date_trunc": (True, "DATE_TRUNC('hour'|'day'|'month', ts) as a group key"),
    "date_trunc_week": (True, "DATE_TRUNC('week', ts) (ISO weeks, Monday)"),
    "count_distinct": (True, "COUNT(DISTINCT col)"),
    "percentile": (True, "percentile_cont / percentile_disc WITHIN GROUP, quantile_cont, "
                         "quantile_disc, median"),
    "minmax_string": (True, "MIN/MAX over STRING columns"),
    "minmax_ts": (True, "MIN/MAX over the TIMESTAMP column"),
    "agg_expr": (True, "aggregates over expressions: SUM(bytes * 2), AVG(CASE ...)"),
    "having": (True, "HAVING COUNT(*) > k"),
    "order_by_agg": (True, "ORDER BY an aggregate DESC, then every key, LIMIT 10"),
    "alias": (True, "AS aliases, and ORDER BY an alias"),
    "limit": (True, "LIMIT on aggregation and DISTINCT queries"),
    "offset": (True, "OFFSET with LIMIT"),
    "no_limit": (True, "aggregation/DISTINCT queries without LIMIT (all groups returned)"),
    # selection
    "select": (True, "selection queries ORDER BY id LIMIT n"),
    "select_star": (True, "SELECT *"),
    "select_mv": (True, "the multi-value column tags in a select list"),
    "distinct": (True, "SELECT DISTINCT 1-2 columns ORDER BY them"),
    # projections
    "expr": (True, "expressions in select lists"),
    "arith": (True, "+ - * / (never by a column) in projections"),
    "modulo": (True, "the % operator (id % 7) and MOD() in leaves, projections and aggregates"),
    "case": (True, "CASE WHEN ... THEN ... ELSE ... END"),
    "coalesce": (True, "COALESCE"),
    "string_fn": (True, "LOWER, UPPER, LENGTH, SUBSTR, CONCAT"),
    "math_fn": (True, "ABS, FLOOR, CEIL, ROUND"),
    "cast": (True, "CAST(x AS DOUBLE / BIGINT / VARCHAR)"),
}

TABLE = "events"

# column -> kind; kinds drive which operators and functions apply.
KINDS = {
    "id": "int", "user_id": "int", "bytes": "int",
    "latency_ms": "double", "score": "float",
    "country": "str", "device": "str", "note": "str", "url": "str",
    "active": "bool", "ts": "ts", "tags": "mv",
}
NUMERIC = ("int", "double", "float")
# Columns that can hold NULL (all others never do).
NULLABLE = {"user_id", "active", "tags", "url", "latency_ms", "bytes", "score"}
NON_NULL_STRINGS = ["country", "device", "note"]
# Group/distinct keys: single-value columns with a manageable number of values.
GROUP_COLUMNS = ["country", "device", "active", "user_id", "score", "url", "bytes"]
DISTINCT_COLUMNS = ["country", "device", "active", "score", "url", "user_id"]

TS_MIN = dt.datetime(2023, 12, 30)
TS_DAYS = 64


@dataclass
class Query:
    """One generated query; `ordered` says the ORDER BY makes the row order total."""
    tessera: str
    duckdb: str
    ordered: bool
    kind: str
    features: set = field(default_factory=set)


class Pair:
    """An SQL fragment in both dialects."""
    __slots__ = ("t", "d")

    def __init__(self, t: str, d: str | None = None):
        self.t = t
        self.d = t if d is None else d

    def map(self, fmt: str) -> "Pair":
        return Pair(fmt.format(self.t), fmt.format(self.d))

    @staticmethod
    def join(sep: str, parts) -> "Pair":
        parts = list(parts)
        return Pair(sep.join(p.t for p in parts), sep.join(p.d for p in parts))


# GROUP BY tags: Tessera groups each row under every tag it holds (Pinot's semantics),
# and a NULL or empty list under NULL; DuckDB reads the table unnested so.
MV_KEY = Pair("tags", "tags_value")
MV_SOURCE = (f"(SELECT *, UNNEST(CASE WHEN tags IS NULL OR len(tags) = 0 THEN [NULL] "
             f"ELSE tags END) AS tags_value FROM {TABLE}) AS {TABLE}")


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_literal(value, kind: str) -> str:
    if kind in ("str", "mv"):
        return sql_string(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "ts":
        return ts_literal(value)
    if kind == "float":
        return _short_float(value)
    if kind == "double":
        return repr(float(value))
    return str(int(value))


def _short_float(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def ts_literal(ms: int, with_millis: bool = True) -> str:
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=ms)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if with_millis and ms % 1000:
        text += f".{ms % 1000:03d}"
    return f"TIMESTAMP '{text}'"


def value_pools(rows: list[dict]) -> dict:
    """Distinct non-NULL values per column (tag elements for tags), sorted."""
    pools = {}
    for name, kind in KINDS.items():
        seen = set()
        for row in rows:
            value = row[name]
            if value is None:
                continue
            if kind == "mv":
                seen.update(value)
            else:
                seen.add(value)
        pools[name] = sorted(seen)
    return pools


class Generator:
    def __init__(self, pools: dict, seed: int = 1, disabled=(), enabled=()):
        unknown = (set(disabled) | set(enabled)) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(FEATURES)}")
        self.pools = pools
        self.seed = seed
        self.on = {name for name, (default, _) in FEATURES.items() if default}
        self.on |= set(enabled)
        self.on -= set(disabled)
        self.rng = random.Random()
        self.used: set = set()

    # ---- plumbing ---------------------------------------------------------------------

    def has(self, feature: str) -> bool:
        return feature in self.on

    def use(self, feature: str) -> bool:
        """True when the feature is on; records it as used by the current query."""
        if feature in self.on:
            self.used.add(feature)
            return True
        return False

    def chance(self, p: float, feature: str | None = None) -> bool:
        if feature is not None and feature not in self.on:
            return False
        hit = self.rng.random() < p
        if hit and feature is not None:
            self.used.add(feature)
        return hit

    def columns_of(self, *kinds, nullable_ok=True) -> list[str]:
        out = []
        for name, kind in KINDS.items():
            if kind not in kinds:
                continue
            if kind == "bool" and not self.has("bool_col"):
                continue
            if kind == "float" and not self.has("float_col"):
                continue
            if not nullable_ok and name in NULLABLE:
                continue
            out.append(name)
        return out

    def pick_value(self, column: str):
        pool = self.pools[column]
        return self.rng.choice(pool)

    def literal(self, column: str) -> str:
        """A literal for comparisons against `column`: usually an existing value."""
        kind = KINDS[column]
        rng = self.rng
        if kind == "ts":
            return self.ts_or_date_literal()
        if kind == "int" and rng.random() < 0.15 and self.use("decimal_vs_int"):
            return f"{self.pick_value(column)}.5"
        if kind == "int" and rng.random() < 0.2:
            return str(rng.randint(-1000, 200_000))
        if kind == "double" and rng.random() < 0.3:
            return f"{rng.uniform(0, 300):.2f}"
        if kind == "float" and rng.random() < 0.3:
            return _short_float(rng.randint(-400, 1200) / 8)
        return sql_literal(self.pick_value(column), kind)

    def ts_or_date_literal(self) -> str:
        rng = self.rng
        day = TS_MIN + dt.timedelta(days=rng.randrange(TS_DAYS))
        options = []
        if self.has("ts_literal"):
            options.append("ts")
        if self.has("date_literal"):
            options.append("date")
        choice = rng.choice(options)
        if choice == "date":
            self.used.add("date_literal")
            return f"DATE '{day:%Y-%m-%d}'"
        self.used.add("ts_literal")
        roll = rng.random()
        if roll < 0.3:
            return ts_literal(self.pick_value("ts"))  # an exact existing value
        moment = day + dt.timedelta(hours=rng.randrange(24), minutes=rng.choice([0, 15, 30]))
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        if roll < 0.4:
            text += f".{rng.randrange(1000):03d}"
        return f"TIMESTAMP '{text}'"

    # ---- predicates -------------------------------------------------------------------

    def leaf_kinds(self, negated: bool) -> list[str]:
        kinds = [k for k in ("cmp", "between", "in", "is_null", "like", "arith_leaf")
                 if self.has(k)]
        if not negated and self.has("mv"):
            kinds.append("mv")
        if not negated and self.has("mv_is_null"):
            kinds.append("mv_is_null")
        return kinds or ["cmp"]

    def predicate(self, depth: int = 0, negated: bool = False, max_depth: int = 3) -> Pair:
        rng = self.rng
        if depth < max_depth and self.has("and_or") and rng.random() < 0.45 - 0.12 * depth:
            self.used.add("and_or")
            op = rng.choice(["AND", "OR"])
            children = [self.predicate(depth + 1, negated, max_depth)
                        for _ in range(rng.choice([2, 2, 3]))]
            return Pair.join(f" {op} ", children).map("({})")
        if depth < max_depth and self.chance(0.12, "not"):
            return self.predicate(depth + 1, True, max_depth).map("NOT ({})")
        return self.leaf(negated)

    def leaf(self, negated: bool) -> Pair:
        kind = self.rng.choice(self.leaf_kinds(negated))
        self.used.add(kind)
        return getattr(self, f"leaf_{kind}")()

    def sv_filter_columns(self) -> list[str]:
        columns = self.columns_of("int", "double", "float", "str", "bool")
        if self.has("ts_literal") or self.has("date_literal"):
            columns.append("ts")
        return columns

    def filter_column(self, exclude_kinds=()) -> str:
        """A single-value column for a leaf; the time column gets extra weight."""
        columns = [c for c in self.sv_filter_columns() if KINDS[c] not in exclude_kinds]
        if "ts" in columns and self.rng.random() < 0.2:
            return "ts"
        return self.rng.choice(columns)

    def leaf_cmp(self) -> Pair:
        column = self.filter_column()
        kind = KINDS[column]
        if kind == "bool":
            op = self.rng.choice(["=", "<>"])
        else:
            op = self.rng.choice(["=", "<>", "<", "<=", ">", ">="])
        return Pair(f"{column} {op} {self.literal(column)}")

    def leaf_between(self) -> Pair:
        column = self.filter_column(exclude_kinds=("bool",))
        a, b = self.literal(column), self.literal(column)
        if KINDS[column] == "ts":
            # literals of different kinds compare fine, but keep low <= high most of the time
            a, b = sorted([a, b], key=lambda lit: lit.split("'")[1])
        elif KINDS[column] == "str":
            a, b = sorted([a, b], key=lambda lit: lit[1:-1].replace("''", "'"))
        else:
            a, b = sorted([a, b], key=float)
        if self.rng.random() < 0.1:
            a, b = b, a  # empty range
        return Pair(f"{column} BETWEEN {a} AND {b}")

    def leaf_in(self) -> Pair:
        columns = self.columns_of("int", "str", "float", "double")
        column = self.rng.choice(columns)
        count = self.rng.randint(1, 5)
        items = []
        for _ in range(count):
            if KINDS[column] == "int" and self.rng.random() < 0.2:
                items.append(str(self.rng.randint(-5, 300)))
            elif KINDS[column] == "str" and self.rng.random() < 0.1:
                items.append(sql_string("no such value"))
            else:
                items.append(sql_literal(self.pick_value(column), KINDS[column]))
        op = "NOT IN" if self.rng.random() < 0.3 else "IN"
        return Pair(f"{column} {op} ({', '.join(items)})")

    def leaf_is_null(self) -> Pair:
        columns = [c for c in self.sv_filter_columns()]
        nullable = [c for c in columns if c in NULLABLE]
        column = self.rng.choice(nullable if self.rng.random() < 0.85 else columns)
        return Pair(f"{column} IS {self.rng.choice(['', 'NOT '])}NULL")

    def leaf_mv_is_null(self) -> Pair:
        return Pair(f"tags IS {self.rng.choice(['', 'NOT '])}NULL")

    def like_pattern(self, column: str) -> str:
        rng = self.rng
        value = ""
        for _ in range(10):
            value = self.pick_value(column)
            if value:
                break
        if not value:
            return "%"
        style = rng.choice(["prefix", "contains", "second", "suffix", "exact"])
        if style == "prefix":
            return value[: rng.randint(1, min(4, len(value)))] + "%"
        if style == "contains":
            start = rng.randrange(len(value))
            return "%" + value[start: start + rng.randint(1, 3)] + "%"
        if style == "second" and len(value) >= 2:
            return "_" + value[1] + "%"
        if style == "suffix":
            return "%" + value[-rng.randint(1, min(3, len(value))):]
        return value

    def leaf_like(self) -> Pair:
        column = self.rng.choice(["country", "device", "note", "url"])
        pattern = self.like_pattern(column)
        op = "LIKE"
        if self.chance(0.3, "like"):
            op = "NOT LIKE"
        return Pair(f"{column} {op} {sql_string(pattern)}")

    def leaf_arith_leaf(self) -> Pair:
        rng = self.rng
        choices = [
            lambda: f"bytes * {rng.choice([2, 3])} + {rng.randint(-100, 100)} "
                    f"{rng.choice(['>', '<', '>=', '<='])} {rng.randint(-1000, 300_000)}",
            lambda: f"bytes - {rng.randint(1, 1000)} {rng.choice(['>', '<', '=', '<>'])} "
                    f"{rng.randint(-1000, 100_000)}",
            lambda: f"latency_ms / {rng.choice([2, 4, 10])} {rng.choice(['<', '>'])} "
                    f"{rng.randint(1, 100)}",
            lambda: f"latency_ms * {rng.choice([2, 3])} + {rng.randint(0, 50)} "
                    f"{rng.choice(['<', '>=', '>'])} {rng.randint(10, 400)}",
            lambda: f"id - 100000 {rng.choice(['<', '>', '<=', '>='])} {rng.randint(0, 60000)}",
            lambda: f"user_id + {rng.randint(1, 9)} {rng.choice(['=', '<', '>'])} "
                    f"{rng.randint(1, 50)}",
        ]
        if self.has("modulo"):
            choices.append(lambda: f"id % {rng.choice([2, 3, 7, 10])} = {rng.randint(0, 1)}")
            choices.append(lambda: f"MOD(user_id, {rng.choice([2, 5])}) = {rng.randint(0, 1)}")
        if self.has("float_col"):
            choices.append(lambda: f"score * 2 {rng.choice(['<', '>', '>=', '='])} "
                                   f"{rng.randint(-100, 300)}")
        return Pair(rng.choice(choices)())

    def leaf_mv(self) -> Pair:
        rng = self.rng
        if rng.random() < 0.5:
            tag = sql_string(self.pick_value("tags"))
            return Pair(f"tags = {tag}", f"list_contains(tags, {tag})")
        tags = [sql_string(t) for t in rng.sample(self.pools["tags"], rng.randint(1, 3))]
        return Pair(f"tags IN ({', '.join(tags)})", f"list_has_any(tags, [{', '.join(tags)}])")

    def where(self) -> Pair | None:
        if not self.has("where") or self.rng.random() < 0.2:
            return None
        self.used.add("where")
        return self.predicate()

    # ---- expressions ------------------------------------------------------------------

    def num_expr(self, depth: int = 0) -> Pair:
        """A numeric projection; never divides by a column or overflows INT."""
        rng = self.rng
        options = []
        if self.has("arith"):
            options += [
                lambda: f"bytes * {rng.choice([2, 3])} + {rng.randint(-10, 10)}",
                lambda: f"latency_ms / {rng.choice([2, 4, 10])}",
                lambda: f"latency_ms * 2 - 1",
                lambda: f"id - 100000",
                lambda: "user_id + 1",
                lambda: "bytes + id",
            ]
            if self.has("float_col"):
                options.append(lambda: "score * 2")
            if self.has("modulo"):
                options.append(lambda: f"id % {rng.choice([3, 7, 10])}")
        if self.has("math_fn"):
            options += [
                lambda: "ABS(bytes)",
                lambda: "FLOOR(latency_ms)",
                lambda: "CEIL(latency_ms)",
                lambda: "ROUND(latency_ms)",
                lambda: f"ABS(id - {rng.randint(100000, 160000)})",
            ]
            if self.has("float_col"):
                options += [lambda: "ABS(score)", lambda: "FLOOR(score)", lambda: "CEIL(score)"]
        if self.has("cast"):
            options += [
                lambda: "CAST(bytes AS DOUBLE)",
                lambda: "CAST(id AS DOUBLE)",
                lambda: "CAST(bytes AS BIGINT)",
                lambda: "CAST(FLOOR(latency_ms) AS BIGINT)",
            ]
        if self.has("coalesce"):
            options += [
                lambda: f"COALESCE(bytes, {rng.choice([0, -1])})",
                lambda: "COALESCE(latency_ms, -1.5)",
                lambda: "COALESCE(user_id, bytes, 0)",
            ]
        if self.has("string_fn"):
            options.append(lambda: f"LENGTH({rng.choice(['country', 'note', 'url'])})")
        if not options and not self.has("case"):
            return Pair(rng.choice(["bytes", "latency_ms", "id"]))
        use_case = self.has("case") and depth == 0 and (not options or rng.random() < 0.2)
        choice = None if use_case else rng.choice(options)
        if choice is None:
            self.used.add("case")
            cond = self.case_condition()
            a, b = self.num_expr(depth + 1), self.num_expr(depth + 1)
            if rng.random() < 0.3:
                b = Pair(str(rng.randint(-5, 5)))
            if "score" in a.t or "score" in b.t:
                # DuckDB unifies FLOAT with BIGINT as FLOAT (float32); Tessera as DOUBLE.
                # Spell the DOUBLE out for DuckDB so both compute the same values.
                return Pair(f"CASE WHEN {cond.t} THEN {a.t} ELSE {b.t} END",
                            f"CASE WHEN {cond.d} THEN CAST({a.d} AS DOUBLE) "
                            f"ELSE CAST({b.d} AS DOUBLE) END")
            return Pair(f"CASE WHEN {cond.t} THEN {a.t} ELSE {b.t} END",
                        f"CASE WHEN {cond.d} THEN {a.d} ELSE {b.d} END")
        text = choice()
        for feature, markers in (("arith", " + - * / "), ("modulo", " % MOD("), ("math_fn", "ABS FLOOR CEIL ROUND"),
                                 ("cast", "CAST"), ("coalesce", "COALESCE"),
                                 ("string_fn", "LENGTH")):
            if any(m in text for m in markers.split()):
                self.used.add(feature)
        return Pair(text)

    def str_expr(self, depth: int = 0) -> Pair:
        rng = self.rng
        options = []
        if self.has("string_fn"):
            options += [
                lambda: f"LOWER({rng.choice(['country', 'device', 'url'])})",
                lambda: f"UPPER({rng.choice(['country', 'device', 'note'])})",
                lambda: f"SUBSTR({rng.choice(['country', 'note', 'url'])}, "
                        f"{rng.randint(1, 3)}, {rng.randint(1, 4)})",
                lambda: f"CONCAT({rng.choice(NON_NULL_STRINGS[:2])}, '-', "
                        f"{rng.choice(NON_NULL_STRINGS[:2])})",
                lambda: f"CONCAT(device, {sql_string(rng.choice(['/', ' : ', 'é']))})",
            ]
            if self.has("cast"):
                options.append(lambda: "CONCAT(country, CAST(id AS VARCHAR))")
        if self.has("cast"):
            options += [lambda: f"CAST({rng.choice(['id', 'bytes', 'user_id'])} AS VARCHAR)"]
        if self.has("coalesce"):
            options += [lambda: f"COALESCE(url, {sql_string(rng.choice(['none', '', 'ø']))})"]
        if not options and not self.has("case"):
            return Pair(rng.choice(["country", "device"]))
        use_case = self.has("case") and depth == 0 and (not options or rng.random() < 0.2)
        choice = None if use_case else rng.choice(options)
        if choice is None:
            self.used.add("case")
            cond = self.case_condition()
            a = self.str_expr(depth + 1) if rng.random() < 0.5 else Pair(sql_string("hit"))
            b = Pair(rng.choice(["device", "country", "url", "'other'"]))
            return Pair(f"CASE WHEN {cond.t} THEN {a.t} ELSE {b.t} END",
                        f"CASE WHEN {cond.d} THEN {a.d} ELSE {b.d} END")
        text = choice()
        for feature, markers in (("string_fn", "LOWER UPPER SUBSTR CONCAT"), ("cast", "CAST"),
                                 ("coalesce", "COALESCE")):
            if any(m in text for m in markers.split()):
                self.used.add(feature)
        return Pair(text)

    def case_condition(self) -> Pair:
        """A CASE condition: a small predicate, never multi-value."""
        return self.predicate(depth=2, negated=True, max_depth=3)

    def projection(self) -> Pair:
        if self.has("expr") and self.rng.random() < 0.4:
            self.used.add("expr")
            return self.num_expr() if self.rng.random() < 0.6 else self.str_expr()
        columns = self.columns_of("int", "double", "float", "str", "bool", "ts")
        if self.has("select_mv"):
            columns.append("tags")
        column = self.rng.choice(columns)
        if column == "tags":
            self.used.add("select_mv")
        return Pair(column)

    # ---- aggregation ------------------------------------------------------------------

    def group_key(self) -> Pair:
        rng = self.rng
        if rng.random() < 0.25 and self.use("date_trunc"):
            units = ["hour", "day", "day", "month"]
            if self.has("date_trunc_week"):
                units.append("week")
            unit = rng.choice(units)
            if unit == "week":
                self.used.add("date_trunc_week")
            return Pair(f"DATE_TRUNC('{unit}', ts)")
        if rng.random() < 0.15 and self.use("group_by_mv"):
            return MV_KEY
        columns = [c for c in GROUP_COLUMNS
                   if (KINDS[c] != "bool" or self.has("bool_col"))
                   and (KINDS[c] != "float" or self.has("float_col"))]
        return Pair(rng.choice(columns))

    def aggregate(self) -> tuple[Pair, bool]:
        """An aggregate and whether its value is exact (safe to ORDER BY)."""
        rng = self.rng
        numeric = self.columns_of("int", "double", "float")
        roll = rng.random()
        if roll < 0.2:
            return Pair("COUNT(*)"), True
        if roll < 0.3:
            column = rng.choice(self.columns_of("int", "double", "float", "str", "bool", "ts"))
            return Pair(f"COUNT({column})"), True
        if roll < 0.4 and self.use("count_distinct"):
            column = rng.choice(self.columns_of("int", "double", "float", "str", "bool", "ts"))
            return Pair(f"COUNT(DISTINCT {column})"), True
        if roll < 0.45 and self.use("percentile"):
            column = rng.choice(numeric)
            # DuckDB interpolates a FLOAT column in single precision: interpolate the
            # others only.
            interpolated = [] if KINDS[column] == "float" else [
                f"percentile_cont({{p}}) WITHIN GROUP (ORDER BY {column})",
                f"quantile_cont({column}, {{p}})",
                f"median({column})",
            ]
            p = rng.choice(["0", "0.1", "0.25", "0.5", "0.9", "0.99", "1"])
            spelling = rng.choice(interpolated + [
                f"percentile_disc({{p}}) WITHIN GROUP (ORDER BY {column})",
                f"quantile_disc({column}, {{p}})",
            ]).format(p=p)
            # DuckDB's discrete quantiles keep the column's type; the values are equal.
            return Pair(spelling), "disc" in spelling
        if roll < 0.5 and self.use("agg_expr"):
            func = rng.choice(["SUM", "AVG", "MIN", "MAX"])
            if rng.random() < 0.5:
                args = ["bytes * 2", "bytes + 1", "latency_ms / 2", "latency_ms + bytes",
                        # products of a raw column and dictionary-column factors (the
                        # engine sums these per dictionary id and multiplies at the end)
                        "latency_ms * (CASE WHEN device = 'ios' THEN 0.5 ELSE 1.5 END)",
                        "latency_ms * (CASE WHEN active THEN 2 ELSE 3 END)"
                        " * (CASE WHEN country = 'US' THEN 1 ELSE 4 END)"]
                if self.has("modulo"):
                    args.append("id % 7")
                arg = Pair(rng.choice(args))
            else:
                cond = self.case_condition()
                arg = Pair(f"CASE WHEN {cond.t} THEN 1 ELSE 0 END",
                           f"CASE WHEN {cond.d} THEN 1 ELSE 0 END")
            exact = func in ("MIN", "MAX") or "latency_ms" not in arg.t
            return arg.map(func + "({})"), exact and func != "AVG"
        func = rng.choice(["SUM", "MIN", "MAX", "AVG"])
        columns = list(numeric)
        if func in ("MIN", "MAX"):
            if self.has("minmax_string") and rng.random() < 0.25:
                self.used.add("minmax_string")
                columns = ["country", "device", "url"]
            elif self.has("minmax_ts") and rng.random() < 0.2:
                self.used.add("minmax_ts")
                columns = ["ts"]
        column = rng.choice(columns)
        exact = func in ("MIN", "MAX") or (func == "SUM" and KINDS[column] == "int")
        return Pair(f"{func}({column})"), exact

    def aggregation_query(self) -> Query:
        rng = self.rng
        self.used.add("agg")
        keys: list[Pair] = []
        if self.has("group_by") and rng.random() < 0.8:
            self.used.add("group_by")
            wanted = rng.choice([1, 1, 2])
            while len(keys) < wanted:
                key = self.group_key()
                if key.t not in [k.t for k in keys]:
                    keys.append(key)
        aggs = []
        for _ in range(rng.randint(1, 4)):
            agg = self.aggregate()
            if agg[0].t not in [a.t for a, _ in aggs]:
                aggs.append(agg)

        use_alias = self.chance(0.4, "alias")
        key_alias = [f"k{i}" if use_alias else None for i in range(len(keys))]
        agg_alias = [f"a{i}" if use_alias else None for i in range(len(aggs))]

        def item(expr: Pair, alias):
            return expr.map("{} AS " + alias) if alias else expr

        select = Pair.join(", ", [item(k, a) for k, a in zip(keys, key_alias)]
                           + [item(e, a) for (e, _), a in zip(aggs, agg_alias)])
        parts_t = [f"SELECT {select.t} FROM {TABLE}"]
        # Grouped by tags, DuckDB reads the table with each row repeated per tag.
        source_d = MV_SOURCE if any(k.t == MV_KEY.t for k in keys) else TABLE
        parts_d = [f"SELECT {select.d} FROM {source_d}"]
        where = self.where()
        if where:
            parts_t.append(f"WHERE {where.t}")
            parts_d.append(f"WHERE {where.d}")
        if keys:
            group = Pair.join(", ", keys)
            parts_t.append(f"GROUP BY {group.t}")
            parts_d.append(f"GROUP BY {group.d}")
            if self.chance(0.25, "having"):
                having = f"HAVING COUNT(*) > {rng.choice([0, 1, 2, 5, 10, 50, 200])}"
                parts_t.append(having)
                parts_d.append(having)

        if keys:
            def key_ref(i):
                return Pair(key_alias[i]) if key_alias[i] else keys[i]

            def direction():
                return (f"{rng.choice(['ASC', 'DESC'])} "
                        f"NULLS {rng.choice(['FIRST', 'LAST'])}")

            exact_aggs = [i for i, (_, exact) in enumerate(aggs) if exact]
            if exact_aggs and self.chance(0.3, "order_by_agg"):
                i = rng.choice(exact_aggs)
                ref = Pair(agg_alias[i]) if agg_alias[i] else aggs[i][0]
                order = [ref.map("{} DESC NULLS LAST")]
                order += [key_ref(j).map("{} " + direction()) for j in range(len(keys))]
                order_sql = Pair.join(", ", order)
                parts_t.append(f"ORDER BY {order_sql.t} LIMIT 10")
                parts_d.append(f"ORDER BY {order_sql.d} LIMIT 10")
            else:
                order_keys = list(range(len(keys)))
                rng.shuffle(order_keys)
                order_sql = Pair.join(", ", [key_ref(j).map("{} " + direction())
                                             for j in order_keys])
                parts_t.append(f"ORDER BY {order_sql.t}")
                parts_d.append(f"ORDER BY {order_sql.d}")
                limit = self.limit_clause(high=60)
                if limit:
                    parts_t.append(limit)
                    parts_d.append(limit)
        return Query(" ".join(parts_t), " ".join(parts_d), True, "agg")

    def limit_clause(self, high: int) -> str | None:
        """LIMIT [OFFSET] for aggregation/DISTINCT queries, or None (every row wanted)."""
        rng = self.rng
        if self.has("limit") and (not self.has("no_limit") or rng.random() < 0.5):
            self.used.add("limit")
            clause = f"LIMIT {rng.randint(1, high)}"
            if self.chance(0.3, "offset"):
                clause += f" OFFSET {rng.randint(0, 20)}"
            return clause
        if self.use("no_limit"):
            return None
        return "LIMIT 100000"  # explicit, larger than any result here

    # ---- selection --------------------------------------------------------------------

    def selection_query(self) -> Query:
        rng = self.rng
        self.used.add("select")
        if self.chance(0.15, "select_star"):
            select = Pair("*")
        else:
            items = []
            for i in range(rng.randint(1, 5)):
                expr = self.projection()
                if self.has("alias") and rng.random() < 0.2:
                    self.used.add("alias")
                    expr = expr.map("{} AS " + f"c{i}")
                items.append(expr)
            select = Pair.join(", ", items)
        parts_t = [f"SELECT {select.t} FROM {TABLE}"]
        parts_d = [f"SELECT {select.d} FROM {TABLE}"]
        where = self.where()
        if where:
            parts_t.append(f"WHERE {where.t}")
            parts_d.append(f"WHERE {where.d}")
        limit = f"ORDER BY id {rng.choice(['ASC', 'DESC'])} LIMIT {rng.choice([1, 5, 10, 50, 200])}"
        if self.chance(0.4, "offset"):
            limit += f" OFFSET {rng.choice([0, 1, 7, 100, 5000])}"
        parts_t.append(limit)
        parts_d.append(limit)
        return Query(" ".join(parts_t), " ".join(parts_d), True, "select")

    def distinct_query(self) -> Query:
        rng = self.rng
        self.used.add("distinct")
        columns = [c for c in DISTINCT_COLUMNS
                   if (KINDS[c] != "bool" or self.has("bool_col"))
                   and (KINDS[c] != "float" or self.has("float_col"))]
        chosen = rng.sample(columns, rng.choice([1, 1, 2]))
        parts = [f"SELECT DISTINCT {', '.join(chosen)} FROM {TABLE}"]
        parts_d = list(parts)
        where = self.where()
        if where:
            parts.append(f"WHERE {where.t}")
            parts_d.append(f"WHERE {where.d}")
        order = ", ".join(f"{c} {rng.choice(['ASC', 'DESC'])} NULLS {rng.choice(['FIRST', 'LAST'])}"
                          for c in rng.sample(chosen, len(chosen)))
        parts.append(f"ORDER BY {order}")
        parts_d.append(f"ORDER BY {order}")
        limit = self.limit_clause(high=100)
        if limit:
            parts.append(limit)
            parts_d.append(limit)
        return Query(" ".join(parts), " ".join(parts_d), True, "distinct")

    # ---- entry point ------------------------------------------------------------------

    def query(self, index: int) -> Query:
        """The index-th query of this seed; independent of the other indexes."""
        self.rng = random.Random(self.seed * 1_000_003 + index)
        self.used = set()
        makers = []
        if self.has("agg"):
            makers += [self.aggregation_query] * 5
        if self.has("select"):
            makers += [self.selection_query] * 3
        if self.has("distinct"):
            makers += [self.distinct_query]
        if not makers:
            raise ValueError("every query kind (agg, select, distinct) is disabled")
        query = self.rng.choice(makers)()
        if re.search(r"\bactive\b", query.tessera):
            self.used.add("bool_col")
        if re.search(r"\bscore\b", query.tessera):
            self.used.add("float_col")
        query.features = set(self.used)
        return query

    def queries(self, count: int) -> list[Query]:
        return [self.query(i) for i in range(count)]


def describe_features() -> str:
    width = max(len(name) for name in FEATURES)
    return "\n".join(f"  {name:<{width}}  {'on ' if default else 'off'}  {text}"
                     for name, (default, text) in FEATURES.items())
