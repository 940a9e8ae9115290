//! SQL text → [`QueryPlan`]: parse with `sqlparser`, check the query stays inside the
//! supported surface, resolve columns against the table, type every expression, and
//! split the work into leaf scope (columns) and post-aggregation scope (slots).
//!
//! Every rejection names the construct and where it is (`at line 1, column 8`).

use std::sync::Arc;

use regex::Regex;
use sqlparser::ast::{
    self, BinaryOperator, CeilFloorKind, DuplicateTreatment, FunctionArg, FunctionArgExpr,
    FunctionArguments, GroupByExpr, LimitClause, ObjectNamePart, OrderByKind, SelectItem, SetExpr,
    Spanned, Statement, TableFactor, UnaryOperator, Value,
};
use sqlparser::dialect::GenericDialect;

use crate::error::{ErrorCode, QueryError, QueryResult};
use crate::expr::{ArithOp, CmpOp, EpochFormat, Expr, Func, LikePattern, RegexPattern};
use crate::options::{QueryOptions, split_set_statements};
use crate::plan::{
    AggCall, AggFunc, AggregationPlan, Filter, OutputColumn, PlanKind, QueryPlan, SelectionPlan,
    SortKey,
};
use crate::time::{self, Field, TimeUnit};
use crate::types::{ColumnType, Scalar, SqlType};

/// A table's columns as the planner sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<SchemaColumn>,
    pub time_column: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaColumn {
    pub name: String,
    pub ty: ColumnType,
}

impl TableSchema {
    /// The planner's view of a table declared by a Pinot-format schema.
    pub fn from_config(
        name: &str,
        schema: &tessera_config::Schema,
        time_column: Option<&str>,
    ) -> TableSchema {
        TableSchema {
            name: name.to_string(),
            columns: schema
                .fields
                .iter()
                .map(|field| SchemaColumn {
                    name: field.name.clone(),
                    ty: ColumnType {
                        element: SqlType::of(field.data_type),
                        single_value: field.single_value,
                    },
                })
                .collect(),
            time_column: time_column.map(str::to_string),
        }
    }

    fn find(&self, name: &str) -> Option<&SchemaColumn> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            self.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
    }
}

/// Where an AST node starts, for messages.
fn at(node: &impl Spanned) -> String {
    at_span(node.span())
}

fn at_span(span: sqlparser::tokenizer::Span) -> String {
    let start = span.start;
    if start.line == 0 {
        String::new()
    } else {
        format!(" at line {}, column {}", start.line, start.column)
    }
}

fn unsupported(what: &str, node: &impl Spanned) -> QueryError {
    QueryError::invalid(format!("{what} is not supported yet{}", at(node)))
}

/// Plan a SQL statement (with optional `SET k = v;` prefixes and `EXPLAIN PLAN FOR`).
/// `lookup` resolves a table name to its schema.
pub fn plan(
    sql: &str,
    options: QueryOptions,
    lookup: &dyn Fn(&str) -> Option<TableSchema>,
) -> QueryResult<QueryPlan> {
    let mut options = options;
    let text = split_set_statements(sql, &mut options)?;
    let (text, explain) = strip_explain(&text);
    if text.trim().is_empty() {
        return Err(QueryError::parse(
            "empty query: expected a SELECT statement",
        ));
    }
    let statements = crate::sql_limits::parse_statements(&GenericDialect {}, text)
        .map_err(crate::sql_limits::ParseFailure::into_query_error)?;
    let [statement] = statements.as_slice() else {
        return Err(QueryError::parse(format!(
            "expected one SELECT statement, got {}",
            statements.len()
        )));
    };
    let Statement::Query(query) = statement else {
        let keyword = statement.to_string();
        let keyword = keyword.split_whitespace().next().unwrap_or("statement");
        return Err(QueryError::invalid(format!(
            "only SELECT queries are supported, got {keyword}{}",
            at(statement)
        )));
    };
    let mut plan = plan_query(query, options, lookup)?;
    plan.explain = explain;
    Ok(plan)
}

fn strip_explain(text: &str) -> (&str, bool) {
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    if upper.len() == 3 && upper[0] == "EXPLAIN" && upper[1] == "PLAN" && upper[2] == "FOR" {
        let position = text
            .to_ascii_uppercase()
            .find("FOR")
            .map_or(0, |index| index + 3);
        return (&text[position..], true);
    }
    (text, false)
}

fn plan_query(
    query: &ast::Query,
    options: QueryOptions,
    lookup: &dyn Fn(&str) -> Option<TableSchema>,
) -> QueryResult<QueryPlan> {
    if let Some(with) = &query.with {
        return Err(unsupported("WITH (common table expressions)", with));
    }
    if query.fetch.is_some() {
        return Err(QueryError::invalid("FETCH is not supported yet; use LIMIT"));
    }
    let select = match query.body.as_ref() {
        SetExpr::Select(select) => select,
        SetExpr::SetOperation { op, .. } => {
            return Err(QueryError::invalid(format!(
                "{op} is not supported yet{}",
                at(query.body.as_ref())
            )));
        }
        SetExpr::Query(inner) => {
            return Err(unsupported("a parenthesized subquery", inner.as_ref()));
        }
        other => return Err(unsupported("this statement form", other)),
    };
    let table = resolve_table(select, lookup)?;
    check_select_clauses(select)?;
    let binder = Binder { table: &table };

    let filter = select
        .selection
        .as_ref()
        .map(|where_clause| {
            let expr = binder.bind(where_clause, &mut Scope::Leaf)?;
            expect_boolean(&expr, "WHERE", where_clause)?;
            Ok::<_, QueryError>(Filter::from_expr(expr))
        })
        .transpose()?;

    let (limit, offset) = limit_offset(query.limit_clause.as_ref())?;
    let order_items: Vec<&ast::OrderByExpr> = match &query.order_by {
        None => Vec::new(),
        Some(order_by) => match &order_by.kind {
            OrderByKind::Expressions(items) => items.iter().collect(),
            OrderByKind::All(_) => {
                return Err(QueryError::invalid("ORDER BY ALL is not supported yet"));
            }
        },
    };

    // Expand the select list.
    let mut items: Vec<(ast::Expr, Option<String>)> = Vec::new();
    let mut star = false;
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(expr) => items.push((expr.clone(), None)),
            SelectItem::ExprWithAlias { expr, alias } => {
                items.push((expr.clone(), Some(alias.value.clone())))
            }
            SelectItem::Wildcard(_) => {
                star = true;
                for column in &table.columns {
                    items.push((
                        ast::Expr::Identifier(ast::Ident::new(column.name.clone())),
                        None,
                    ));
                }
            }
            other => return Err(unsupported("this select item", other)),
        }
    }

    let group_by: Vec<ast::Expr> = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(QueryError::invalid(
                    "GROUP BY modifiers (ROLLUP, CUBE, TOTALS) are not supported yet",
                ));
            }
            exprs.clone()
        }
        GroupByExpr::All(_) => {
            return Err(QueryError::invalid("GROUP BY ALL is not supported yet"));
        }
    };
    let distinct = match &select.distinct {
        None | Some(ast::Distinct::All) => false,
        Some(ast::Distinct::Distinct) => true,
        Some(ast::Distinct::On(_)) => {
            return Err(QueryError::invalid("DISTINCT ON is not supported yet"));
        }
    };
    let has_aggregates = items.iter().any(|(e, _)| contains_aggregate(e))
        || select.having.as_ref().is_some_and(contains_aggregate)
        || order_items.iter().any(|o| contains_aggregate(&o.expr));

    let output_name = |expr: &ast::Expr, alias: &Option<String>| -> String {
        alias.clone().unwrap_or_else(|| match expr {
            ast::Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
    };

    if !has_aggregates && group_by.is_empty() && !distinct {
        if select.having.is_some() {
            return Err(QueryError::invalid("HAVING needs GROUP BY or an aggregate"));
        }
        // Selection.
        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        for (expr, alias) in &items {
            let bound = binder.bind(expr, &mut Scope::Leaf)?;
            columns.push(OutputColumn {
                name: output_name(expr, alias),
                ty: ColumnType {
                    element: bound.ty(),
                    single_value: !bound.multi_value(),
                },
            });
            exprs.push(bound);
        }
        let mut order_by = Vec::new();
        for item in &order_items {
            let expr = match resolve_output_reference(&item.expr, &items)? {
                Some(index) => exprs[index].clone(),
                None => binder.bind(&item.expr, &mut Scope::Leaf)?,
            };
            if expr.multi_value() {
                return Err(QueryError::invalid(format!(
                    "cannot ORDER BY multi-value column `{}`{}",
                    item.expr,
                    at(&item.expr)
                )));
            }
            order_by.push(sort_key(expr, item));
        }
        let _ = star;
        return Ok(QueryPlan {
            table: table.name.clone(),
            filter,
            kind: PlanKind::Selection(SelectionPlan {
                exprs,
                order_by,
                limit: limit
                    .unwrap_or(options.default_selection_limit)
                    .min(options.max_rows),
                offset,
            }),
            columns,
            options,
            explain: false,
        });
    }

    if star {
        return Err(QueryError::invalid(
            "SELECT * cannot be combined with GROUP BY or aggregates",
        ));
    }

    // Aggregation: resolve group keys (a key may name a select alias or ordinal).
    let key_asts: Vec<ast::Expr> = if distinct {
        if !group_by.is_empty() {
            return Err(QueryError::invalid(
                "SELECT DISTINCT with GROUP BY is not supported yet",
            ));
        }
        if has_aggregates {
            return Err(QueryError::invalid(
                "SELECT DISTINCT with aggregates is not supported yet; use GROUP BY",
            ));
        }
        items.iter().map(|(e, _)| e.clone()).collect()
    } else {
        let mut keys = Vec::new();
        for expr in &group_by {
            match resolve_output_reference(expr, &items)? {
                Some(index) if !is_column(expr, &table) => keys.push(items[index].0.clone()),
                _ => keys.push(expr.clone()),
            }
        }
        keys
    };
    let mut post = PostScope::default();
    for key in &key_asts {
        if contains_aggregate(key) {
            return Err(QueryError::invalid(format!(
                "aggregate functions are not allowed in GROUP BY{}",
                at(key)
            )));
        }
        let bound = binder.bind(key, &mut Scope::Leaf)?;
        // A multi-value column groups by each of its values (Pinot's semantics: a row
        // joins the group of every value it holds); expressions over one do not.
        if bound.multi_value() {
            if !matches!(bound, Expr::Column { .. }) {
                return Err(QueryError::invalid(format!(
                    "GROUP BY on an expression over multi-value column `{key}` is not supported yet; group by the column itself{}",
                    at(key)
                )));
            }
            if post.keys.iter().any(Expr::multi_value) {
                return Err(QueryError::invalid(format!(
                    "GROUP BY on more than one multi-value column (`{key}`) is not supported yet{}",
                    at(key)
                )));
            }
        }
        post.key_texts.push(key.to_string());
        post.keys.push(bound);
    }
    let mut outputs = Vec::new();
    let mut columns = Vec::new();
    for (expr, alias) in &items {
        let bound = binder.bind(expr, &mut Scope::Post(&mut post))?;
        columns.push(OutputColumn {
            name: output_name(expr, alias),
            ty: ColumnType {
                element: bound.ty(),
                single_value: true,
            },
        });
        outputs.push(bound);
    }
    post.aliases = items
        .iter()
        .filter_map(|(e, a)| a.clone().map(|a| (a, e.clone())))
        .collect();
    let having = select
        .having
        .as_ref()
        .map(|having| {
            let bound = binder.bind(having, &mut Scope::Post(&mut post))?;
            expect_boolean(&bound, "HAVING", having)?;
            Ok::<_, QueryError>(bound)
        })
        .transpose()?;
    let mut order_by = Vec::new();
    for item in &order_items {
        let expr = match resolve_output_reference(&item.expr, &items)? {
            Some(index) if !is_column(&item.expr, &table) || distinct => outputs[index].clone(),
            _ => binder.bind(&item.expr, &mut Scope::Post(&mut post))?,
        };
        order_by.push(sort_key(expr, item));
    }
    let nkeys = post.keys.len();
    // Slots of aggregates were numbered from 0 while keys were still being counted:
    // shift them behind the keys.
    let shift = |expr: Expr| shift_agg_slots(expr, nkeys);
    Ok(QueryPlan {
        table: table.name.clone(),
        filter,
        kind: PlanKind::Aggregation(AggregationPlan {
            keys: post.keys,
            aggs: post.aggs,
            outputs: outputs.into_iter().map(shift).collect(),
            having: having.map(shift),
            order_by: order_by
                .into_iter()
                .map(|k| SortKey {
                    expr: shift(k.expr),
                    ..k
                })
                .collect(),
            limit: limit.map(|l| l.min(options.max_rows)),
            offset,
        }),
        columns,
        options,
        explain: false,
    })
}

fn is_column(expr: &ast::Expr, table: &TableSchema) -> bool {
    matches!(expr, ast::Expr::Identifier(ident) if table.find(&ident.value).is_some())
}

/// An ORDER BY / GROUP BY item that names a select alias or ordinal: its index.
fn resolve_output_reference(
    expr: &ast::Expr,
    items: &[(ast::Expr, Option<String>)],
) -> QueryResult<Option<usize>> {
    match expr {
        ast::Expr::Value(value) => {
            if let Value::Number(text, _) = &value.value {
                let ordinal: usize = text.parse().map_err(|_| {
                    QueryError::invalid(format!("bad column ordinal `{text}`{}", at(expr)))
                })?;
                if ordinal == 0 || ordinal > items.len() {
                    return Err(QueryError::invalid(format!(
                        "column ordinal {ordinal} is out of range 1..{}{}",
                        items.len(),
                        at(expr)
                    )));
                }
                return Ok(Some(ordinal - 1));
            }
            Ok(None)
        }
        ast::Expr::Identifier(ident) => Ok(items
            .iter()
            .position(|(_, alias)| alias.as_deref() == Some(ident.value.as_str()))),
        other => {
            let text = other.to_string();
            Ok(items.iter().position(|(e, _)| e.to_string() == text))
        }
    }
}

fn sort_key(expr: Expr, item: &ast::OrderByExpr) -> SortKey {
    let descending = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
    SortKey {
        expr,
        descending,
        // PostgreSQL's default: NULL sorts as the largest value.
        nulls_first: item.options.nulls_first.unwrap_or(descending),
    }
}

fn shift_agg_slots(expr: Expr, nkeys: usize) -> Expr {
    map_expr(expr, &|e| match e {
        Expr::Slot {
            index,
            ty,
            multi_value,
        } if index >= AGG_SLOT_BASE => Expr::Slot {
            index: index - AGG_SLOT_BASE + nkeys,
            ty,
            multi_value,
        },
        other => other,
    })
}

/// Aggregate slots are numbered from here until the number of keys is final.
const AGG_SLOT_BASE: usize = 1 << 30;

/// Rebuild an expression bottom-up.
fn map_expr(expr: Expr, f: &dyn Fn(Expr) -> Expr) -> Expr {
    let boxed = |e: Box<Expr>| Box::new(map_expr(*e, f));
    let mapped = match expr {
        Expr::Arith {
            op,
            left,
            right,
            ty,
        } => Expr::Arith {
            op,
            left: boxed(left),
            right: boxed(right),
            ty,
        },
        Expr::Negate(inner) => Expr::Negate(boxed(inner)),
        Expr::Compare { op, left, right } => Expr::Compare {
            op,
            left: boxed(left),
            right: boxed(right),
        },
        Expr::And(items) => Expr::And(items.into_iter().map(|e| map_expr(e, f)).collect()),
        Expr::Or(items) => Expr::Or(items.into_iter().map(|e| map_expr(e, f)).collect()),
        Expr::Not(inner) => Expr::Not(boxed(inner)),
        Expr::IsNull { expr, negated } => Expr::IsNull {
            expr: boxed(expr),
            negated,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => Expr::InList {
            expr: boxed(expr),
            list,
            negated,
        },
        Expr::Like {
            expr,
            pattern,
            negated,
        } => Expr::Like {
            expr: boxed(expr),
            pattern,
            negated,
        },
        Expr::RegexpLike {
            expr,
            regex,
            negated,
        } => Expr::RegexpLike {
            expr: boxed(expr),
            regex,
            negated,
        },
        Expr::Case {
            branches,
            otherwise,
            ty,
        } => Expr::Case {
            branches: branches
                .into_iter()
                .map(|(w, t)| (map_expr(w, f), map_expr(t, f)))
                .collect(),
            otherwise: boxed(otherwise),
            ty,
        },
        Expr::Cast { expr, to } => Expr::Cast {
            expr: boxed(expr),
            to,
        },
        Expr::Call { func, args, ty } => Expr::Call {
            func,
            args: args.into_iter().map(|e| map_expr(e, f)).collect(),
            ty,
        },
        leaf => leaf,
    };
    f(mapped)
}

fn resolve_table(
    select: &ast::Select,
    lookup: &dyn Fn(&str) -> Option<TableSchema>,
) -> QueryResult<TableSchema> {
    let [from] = select.from.as_slice() else {
        if select.from.is_empty() {
            return Err(QueryError::invalid("a query needs FROM <table>"));
        }
        return Err(QueryError::invalid(format!(
            "JOIN is not supported yet: FROM lists {} tables{}",
            select.from.len(),
            at(&select.from[1])
        )));
    };
    if let Some(join) = from.joins.first() {
        return Err(unsupported("JOIN", join));
    }
    let TableFactor::Table { name, args, .. } = &from.relation else {
        return Err(unsupported(
            "a subquery or table function in FROM",
            &from.relation,
        ));
    };
    if args.is_some() {
        return Err(unsupported("a table function", &from.relation));
    }
    let Some(ObjectNamePart::Identifier(ident)) = name.0.last() else {
        return Err(QueryError::invalid(format!("bad table name `{name}`")));
    };
    lookup(&ident.value).ok_or_else(|| QueryError {
        code: ErrorCode::TableDoesNotExist,
        message: format!(
            "table `{}` does not exist{}",
            ident.value,
            at_span(ident.span)
        ),
    })
}

fn check_select_clauses(select: &ast::Select) -> QueryResult<()> {
    if select.top.is_some() {
        return Err(QueryError::invalid("TOP is not supported; use LIMIT"));
    }
    if select.into.is_some() {
        return Err(QueryError::invalid("SELECT INTO is not supported"));
    }
    if !select.lateral_views.is_empty() {
        return Err(QueryError::invalid("LATERAL VIEW is not supported"));
    }
    if select.prewhere.is_some() {
        return Err(QueryError::invalid("PREWHERE is not supported; use WHERE"));
    }
    if select.qualify.is_some() || !select.named_window.is_empty() {
        return Err(QueryError::invalid(
            "window functions are not supported yet",
        ));
    }
    if !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || !select.connect_by.is_empty()
    {
        return Err(QueryError::invalid(
            "CLUSTER BY / DISTRIBUTE BY / SORT BY / CONNECT BY are not supported",
        ));
    }
    Ok(())
}

fn limit_offset(clause: Option<&LimitClause>) -> QueryResult<(Option<usize>, usize)> {
    let number = |expr: &ast::Expr, what: &str| -> QueryResult<usize> {
        if let ast::Expr::Value(value) = expr
            && let Value::Number(text, _) = &value.value
            && let Ok(n) = text.parse::<usize>()
        {
            return Ok(n);
        }
        Err(QueryError::invalid(format!(
            "{what} must be a non-negative integer, got `{expr}`{}",
            at(expr)
        )))
    };
    match clause {
        None => Ok((None, 0)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            if !limit_by.is_empty() {
                return Err(QueryError::invalid("LIMIT BY is not supported"));
            }
            let limit = limit.as_ref().map(|l| number(l, "LIMIT")).transpose()?;
            let offset = offset
                .as_ref()
                .map(|o| number(&o.value, "OFFSET"))
                .transpose()?
                .unwrap_or(0);
            Ok((limit, offset))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            Ok((Some(number(limit, "LIMIT")?), number(offset, "OFFSET")?))
        }
    }
}

fn expect_boolean(expr: &Expr, clause: &str, node: &ast::Expr) -> QueryResult<()> {
    match expr.ty() {
        SqlType::Boolean | SqlType::Null => Ok(()),
        other => Err(QueryError::invalid(format!(
            "{clause} needs a boolean condition, got {} `{node}`{}",
            other.pinot_name(),
            at(node)
        ))),
    }
}

fn aggregate_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "count"
            | "sum"
            | "min"
            | "max"
            | "avg"
            | "distinctcount"
            | "distinctcounthll"
            | "percentile"
            | "percentiletdigest"
            | "minmaxrange"
    ) || percentile_suffix(&lower).is_some()
        || QUANTILE_SPELLINGS.contains(&lower.as_str())
}

/// How users of PostgreSQL (Grafana), DuckDB and ClickHouse write percentiles; each is
/// one of Pinot's (`PERCENTILE` is nearest rank, as `percentile_disc`).
const QUANTILE_SPELLINGS: [&str; 8] = [
    "percentile_cont",
    "percentile_disc",
    "quantile_cont",
    "quantile_disc",
    "approx_quantile",
    "median",
    "quantile",
    "quantiletdigest",
];

/// A fraction from 0 to 1 as a percentile from 0 to 100.
fn fraction(expr: &ast::Expr, name: &str) -> QueryResult<f64> {
    literal_number(expr)
        .filter(|v| (0.0..=1.0).contains(v))
        .map(|v| v * 100.0)
        .ok_or_else(|| {
            QueryError::invalid(format!(
                "{} needs a fraction from 0 to 1, got `{expr}`{}",
                name.to_uppercase(),
                at(expr)
            ))
        })
}

/// One of [`QUANTILE_SPELLINGS`]: the aggregate it is and the expression it reads.
/// `None` for every other function.
fn quantile_spelling<'f>(
    name: &str,
    function: &'f ast::Function,
    args: &[Option<&'f ast::Expr>],
    node: &ast::Expr,
) -> QueryResult<Option<(AggFunc, &'f ast::Expr)>> {
    let wrong = |signature: &str| Err(arity(signature, node));
    let parameters: Vec<&ast::Expr> = match &function.parameters {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|arg| match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let spelled = match (name, args) {
        ("percentile_cont" | "percentile_disc", [Some(p)]) => {
            let [order] = function.within_group.as_slice() else {
                return wrong(&format!(
                    "{}(fraction) WITHIN GROUP (ORDER BY value)",
                    name.to_uppercase()
                ));
            };
            if !matches!(order.options.sort, None | Some(ast::OrderBySort::Asc)) {
                return Err(unsupported(
                    "WITHIN GROUP (ORDER BY ... DESC or USING)",
                    node,
                ));
            }
            let p = fraction(p, name)?;
            let func = if name == "percentile_cont" {
                AggFunc::PercentileCont(p)
            } else {
                AggFunc::PercentileDisc(p)
            };
            (func, &order.expr)
        }
        ("quantile_cont", [Some(value), Some(p)]) => {
            (AggFunc::PercentileCont(fraction(p, name)?), *value)
        }
        ("quantile_disc", [Some(value), Some(p)]) => {
            (AggFunc::PercentileDisc(fraction(p, name)?), *value)
        }
        ("approx_quantile", [Some(value), Some(p)]) => {
            (AggFunc::PercentileTDigest(fraction(p, name)?), *value)
        }
        ("median", [Some(value)]) => (AggFunc::PercentileCont(50.0), *value),
        // ClickHouse's parametric forms: quantile(0.9)(x); no parameter is the median.
        ("quantile" | "quantiletdigest", [Some(value)]) => {
            let p = match parameters.as_slice() {
                [] => 50.0,
                [p] => fraction(p, name)?,
                _ => return wrong(&format!("{name}(fraction)(value)")),
            };
            (AggFunc::PercentileTDigest(p), *value)
        }
        (name, _) if QUANTILE_SPELLINGS.contains(&name) => {
            return wrong(match name {
                "median" => "MEDIAN(value)",
                "percentile_cont" | "percentile_disc" => {
                    "PERCENTILE_CONT(fraction) WITHIN GROUP (ORDER BY value)"
                }
                "quantile" | "quantiletdigest" => "quantile(fraction)(value)",
                _ => "(value, fraction)",
            });
        }
        _ => return Ok(None),
    };
    Ok(Some(spelled))
}

/// Pinot's `PERCENTILE95(x)` / `PERCENTILETDIGEST99(x)` forms: (tdigest, p).
fn percentile_suffix(lower: &str) -> Option<(bool, f64)> {
    let (tdigest, digits) = if let Some(rest) = lower.strip_prefix("percentiletdigest") {
        (true, rest)
    } else {
        (false, lower.strip_prefix("percentile")?)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    (p <= 100.0).then_some((tdigest, p))
}

fn function_name(function: &ast::Function) -> String {
    function
        .name
        .0
        .last()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

fn contains_aggregate(expr: &ast::Expr) -> bool {
    let mut found = false;
    visit(expr, &mut |e| {
        if let ast::Expr::Function(function) = e
            && aggregate_name(&function_name(function))
        {
            found = true;
        }
    });
    found
}

/// Visit an AST expression and its sub-expressions we bind.
fn visit(expr: &ast::Expr, f: &mut dyn FnMut(&ast::Expr)) {
    f(expr);
    match expr {
        ast::Expr::BinaryOp { left, right, .. } => {
            visit(left, f);
            visit(right, f);
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr)
        | ast::Expr::Cast { expr, .. }
        | ast::Expr::Extract { expr, .. }
        | ast::Expr::Ceil { expr, .. }
        | ast::Expr::Floor { expr, .. }
        | ast::Expr::Trim { expr, .. } => visit(expr, f),
        ast::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            visit(expr, f);
            if let Some(e) = substring_from {
                visit(e, f);
            }
            if let Some(e) = substring_for {
                visit(e, f);
            }
        }
        ast::Expr::In {
            expr,
            target: ast::InTarget::List(list),
            ..
        } => {
            visit(expr, f);
            list.iter().for_each(|e| visit(e, f));
        }
        ast::Expr::Between {
            expr, low, high, ..
        } => {
            visit(expr, f);
            visit(low, f);
            visit(high, f);
        }
        ast::Expr::Like { expr, pattern, .. } | ast::Expr::ILike { expr, pattern, .. } => {
            visit(expr, f);
            visit(pattern, f);
        }
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(e) = operand {
                visit(e, f);
            }
            for when in conditions {
                visit(&when.condition, f);
                visit(&when.result, f);
            }
            if let Some(e) = else_result {
                visit(e, f);
            }
        }
        ast::Expr::Function(function) => {
            if let FunctionArguments::List(list) = &function.args {
                for arg in &list.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                        visit(e, f);
                    }
                }
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct PostScope {
    key_texts: Vec<String>,
    keys: Vec<Expr>,
    aggs: Vec<AggCall>,
    aliases: Vec<(String, ast::Expr)>,
}

enum Scope<'s> {
    /// Expressions over the table's columns.
    Leaf,
    /// Expressions over group keys and aggregates.
    Post(&'s mut PostScope),
}

struct Binder<'a> {
    table: &'a TableSchema,
}

impl Binder<'_> {
    fn bind(&self, expr: &ast::Expr, scope: &mut Scope<'_>) -> QueryResult<Expr> {
        if let Scope::Post(post) = scope {
            let text = expr.to_string();
            if let Some(index) = post.key_texts.iter().position(|k| *k == text) {
                let key = &post.keys[index];
                return Ok(Expr::Slot {
                    index,
                    ty: key.ty(),
                    multi_value: false,
                });
            }
            if let ast::Expr::Function(function) = expr
                && aggregate_name(&function_name(function))
            {
                return self.bind_aggregate(function, expr, post);
            }
            if let ast::Expr::Identifier(ident) = expr {
                if let Some((_, aliased)) = post
                    .aliases
                    .iter()
                    .find(|(alias, _)| *alias == ident.value)
                    .cloned()
                    && !matches!(&aliased, ast::Expr::Identifier(i) if i.value == ident.value)
                {
                    return self.bind(&aliased, scope);
                }
                if self.table.find(&ident.value).is_some() {
                    return Err(QueryError::invalid(format!(
                        "column `{}` must appear in GROUP BY or inside an aggregate{}",
                        ident.value,
                        at_span(ident.span)
                    )));
                }
            }
        }
        self.bind_common(expr, scope)
    }

    fn bind_aggregate(
        &self,
        function: &ast::Function,
        node: &ast::Expr,
        post: &mut PostScope,
    ) -> QueryResult<Expr> {
        let text = node.to_string();
        if let Some(index) = post.aggs.iter().position(|a| a.text == text) {
            return Ok(Expr::Slot {
                index: AGG_SLOT_BASE + index,
                ty: post.aggs[index].ty,
                multi_value: false,
            });
        }
        if function.over.is_some() {
            return Err(unsupported("window functions (OVER)", node));
        }
        let name = function_name(function).to_ascii_lowercase();
        let (args, distinct) = function_args(function, node)?;
        let quantile = quantile_spelling(&name, function, &args, node)?;
        if quantile.is_none()
            && (!function.within_group.is_empty()
                || !matches!(function.parameters, FunctionArguments::None))
        {
            return Err(unsupported(
                &format!("{}(...) WITHIN GROUP or parameters", name.to_uppercase()),
                node,
            ));
        }
        let mut func = match (quantile, name.as_str()) {
            (Some((func, _)), _) => func,
            (None, "count") if distinct => AggFunc::CountDistinct,
            (None, "count") => AggFunc::Count,
            (None, "distinctcount") => AggFunc::CountDistinct,
            (None, "distinctcounthll") => AggFunc::DistinctCountHll,
            (None, "sum") => AggFunc::Sum,
            (None, "min") => AggFunc::Min,
            (None, "max") => AggFunc::Max,
            (None, "avg") => AggFunc::Avg,
            (None, "minmaxrange") => AggFunc::MinMaxRange,
            (None, "percentile") => AggFunc::Percentile(0.0),
            (None, "percentiletdigest") => AggFunc::PercentileTDigest(0.0),
            (None, other) => match percentile_suffix(other) {
                Some((true, p)) => AggFunc::PercentileTDigest(p),
                Some((false, p)) => AggFunc::Percentile(p),
                None => return Err(QueryError::invalid(format!("unknown aggregate `{name}`"))),
            },
        };
        if distinct && !matches!(func, AggFunc::CountDistinct) {
            return Err(unsupported(
                &format!("{} (DISTINCT ...)", name.to_uppercase()),
                node,
            ));
        }
        let mut arg_asts: Vec<&ast::Expr> = Vec::new();
        let mut star = false;
        for arg in &args {
            match arg {
                Some(expr) => arg_asts.push(expr),
                None => star = true,
            }
        }
        if let Some((_, value)) = quantile {
            // The fraction was read with the spelling: the value is the one argument.
            arg_asts = vec![value];
            star = false;
        }
        if quantile.is_some()
            || matches!(func, AggFunc::Percentile(_) | AggFunc::PercentileTDigest(_))
                && name.as_str() != "percentile"
                && name.as_str() != "percentiletdigest"
        {
            // PERCENTILE95(x), or a spelling that had its fraction: the percentile is known.
        } else if let AggFunc::Percentile(p) | AggFunc::PercentileTDigest(p) = &mut func {
            let [_, p_ast] = arg_asts.as_slice() else {
                return Err(QueryError::invalid(format!(
                    "{} needs (column, percentile){}",
                    name.to_uppercase(),
                    at(node)
                )));
            };
            let value = literal_number(p_ast).filter(|v| (0.0..=100.0).contains(v));
            *p = value.ok_or_else(|| {
                QueryError::invalid(format!(
                    "the percentile must be a number from 0 to 100, got `{p_ast}`{}",
                    at(*p_ast)
                ))
            })?;
            arg_asts.truncate(1);
        }
        let arg = match (func, star, arg_asts.as_slice()) {
            (AggFunc::Count, true, []) => None,
            (_, false, [single]) => {
                if contains_aggregate(single) {
                    return Err(QueryError::invalid(format!(
                        "aggregate functions cannot be nested{}",
                        at(*single)
                    )));
                }
                Some(self.bind(single, &mut Scope::Leaf)?)
            }
            _ => {
                return Err(QueryError::invalid(format!(
                    "{} takes one argument{}",
                    name.to_uppercase(),
                    at(node)
                )));
            }
        };
        let ty = match (func, &arg) {
            (AggFunc::Count | AggFunc::CountDistinct | AggFunc::DistinctCountHll, _) => {
                SqlType::Long
            }
            (_, None) => SqlType::Long,
            (_, Some(arg)) => {
                let arg_ty = arg.ty();
                if arg.multi_value() && !matches!(func, AggFunc::Count) {
                    return Err(QueryError::invalid(format!(
                        "{} over multi-value column `{}` is not supported yet{}",
                        name.to_uppercase(),
                        arg,
                        at(node)
                    )));
                }
                match func {
                    AggFunc::Sum if arg_ty.is_integer() || arg_ty == SqlType::Boolean => {
                        SqlType::Long
                    }
                    AggFunc::Min | AggFunc::Max => {
                        if arg_ty == SqlType::Bytes {
                            return Err(QueryError::invalid(format!(
                                "{} over BYTES is not supported{}",
                                name.to_uppercase(),
                                at(node)
                            )));
                        }
                        arg_ty
                    }
                    _ => {
                        if !arg_ty.is_numeric() && arg_ty != SqlType::Null {
                            if matches!(func, AggFunc::MinMaxRange) && arg_ty == SqlType::Timestamp
                            {
                                SqlType::Double
                            } else {
                                return Err(QueryError::invalid(format!(
                                    "{} needs a numeric argument, got {} `{}`{}",
                                    name.to_uppercase(),
                                    arg_ty.pinot_name(),
                                    arg,
                                    at(node)
                                )));
                            }
                        } else {
                            SqlType::Double
                        }
                    }
                }
            }
        };
        let filter = function
            .filter
            .as_ref()
            .map(|condition| {
                let bound = self.bind(condition, &mut Scope::Leaf)?;
                expect_boolean(&bound, "FILTER (WHERE ...)", condition)?;
                Ok::<_, QueryError>(Filter::from_expr(bound))
            })
            .transpose()?;
        post.aggs.push(AggCall {
            func,
            arg,
            filter,
            ty,
            text,
        });
        Ok(Expr::Slot {
            index: AGG_SLOT_BASE + post.aggs.len() - 1,
            ty,
            multi_value: false,
        })
    }

    fn column(&self, name: &str, span: sqlparser::tokenizer::Span) -> QueryResult<Expr> {
        match self.table.find(name) {
            Some(column) => Ok(Expr::Column {
                name: column.name.clone(),
                ty: column.ty.element,
                single_value: column.ty.single_value,
            }),
            None => {
                let suggestion = tessera_config::suggestion::closest_name(
                    name,
                    self.table.columns.iter().map(|c| c.name.as_str()),
                );
                let hint = suggestion
                    .map(|s| format!(", did you mean `{s}`?"))
                    .unwrap_or_default();
                Err(QueryError::invalid(format!(
                    "unknown column `{name}` in table `{}`{}{hint}",
                    self.table.name,
                    at_span(span)
                )))
            }
        }
    }

    fn bind_common(&self, expr: &ast::Expr, scope: &mut Scope<'_>) -> QueryResult<Expr> {
        match expr {
            ast::Expr::Identifier(ident) => {
                if ident.quote_style == Some('\'') {
                    return Ok(Expr::literal(
                        Scalar::Str(ident.value.clone()),
                        SqlType::String,
                    ));
                }
                self.column(&ident.value, ident.span)
            }
            ast::Expr::CompoundIdentifier(parts) => {
                let Some(last) = parts.last() else {
                    return Err(QueryError::invalid("empty identifier"));
                };
                if parts.len() == 2 && !parts[0].value.eq_ignore_ascii_case(&self.table.name) {
                    return Err(QueryError::invalid(format!(
                        "unknown table `{}` in `{expr}`{}",
                        parts[0].value,
                        at(expr)
                    )));
                }
                self.column(&last.value, last.span)
            }
            ast::Expr::Nested(inner) => self.bind(inner, scope),
            ast::Expr::Value(value) => literal(&value.value, expr),
            ast::Expr::TypedString(typed) => {
                let kind = typed.data_type.to_string().to_ascii_uppercase();
                let text = match &typed.value.value {
                    Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => text,
                    other => {
                        return Err(QueryError::invalid(format!(
                            "bad {kind} literal `{other}`{}",
                            at(expr)
                        )));
                    }
                };
                if kind.starts_with("DATE") || kind.starts_with("TIMESTAMP") {
                    let ms = time::parse_timestamp(text).ok_or_else(|| {
                        QueryError::invalid(format!(
                            "bad {kind} literal `{text}`{}: expected YYYY-MM-DD[ HH:MM:SS[.fff]]",
                            at(expr)
                        ))
                    })?;
                    let ms = if kind.starts_with("DATE") {
                        time::truncate(ms, TimeUnit::Day).unwrap_or(ms)
                    } else {
                        ms
                    };
                    Ok(Expr::literal(Scalar::Long(ms), SqlType::Timestamp))
                } else {
                    Err(unsupported(&format!("{kind} literals"), expr))
                }
            }
            ast::Expr::UnaryOp { op, expr: inner } => {
                // `-9223372036854775808` is the smallest LONG, not a negated DOUBLE.
                if let (UnaryOperator::Minus, ast::Expr::Value(value)) = (op, inner.as_ref())
                    && let Value::Number(text, _) = &value.value
                    && let Ok(v) = format!("-{text}").parse::<i64>()
                {
                    return Ok(Expr::literal(Scalar::Long(v), SqlType::Long));
                }
                let bound = self.bind(inner, scope)?;
                match op {
                    UnaryOperator::Not => {
                        expect_boolean(&bound, "NOT", inner)?;
                        Ok(Expr::Not(Box::new(bound)))
                    }
                    UnaryOperator::Minus => match bound {
                        Expr::Literal {
                            value: Scalar::Long(v),
                            ty,
                        } => Ok(Expr::literal(Scalar::Long(v.wrapping_neg()), ty)),
                        Expr::Literal {
                            value: Scalar::Double(v),
                            ty,
                        } => Ok(Expr::literal(Scalar::Double(-v), ty)),
                        other => {
                            expect_numeric(&other, inner.as_ref())?;
                            Ok(Expr::Negate(Box::new(other)))
                        }
                    },
                    UnaryOperator::Plus => {
                        expect_numeric(&bound, inner.as_ref())?;
                        Ok(bound)
                    }
                    other => Err(unsupported(&format!("operator `{other}`"), expr)),
                }
            }
            ast::Expr::BinaryOp { left, op, right } => {
                let l = self.bind(left, scope)?;
                let r = self.bind(right, scope)?;
                self.binary(l, op, r, expr)
            }
            ast::Expr::IsNull(inner) | ast::Expr::IsNotNull(inner) => Ok(Expr::IsNull {
                expr: Box::new(self.bind(inner, scope)?),
                negated: matches!(expr, ast::Expr::IsNotNull(_)),
            }),
            ast::Expr::In {
                expr: inner,
                target,
                negated,
                ..
            } => {
                let ast::InTarget::List(list) = target else {
                    return Err(unsupported("IN with a subquery", expr));
                };
                let bound = self.bind(inner, scope)?;
                let mut values = Vec::new();
                for item in list {
                    let item_bound = self.bind(item, scope)?;
                    let Expr::Literal { value, ty } = item_bound else {
                        return Err(QueryError::invalid(format!(
                            "IN lists must hold literals, got `{item}`{}",
                            at(item)
                        )));
                    };
                    values.push(coerce_literal(value, ty, bound.ty(), item)?);
                }
                Ok(Expr::InList {
                    expr: Box::new(bound),
                    list: values,
                    negated: *negated,
                })
            }
            ast::Expr::Between {
                expr: inner,
                negated,
                low,
                high,
            } => {
                let value = self.bind(inner, scope)?;
                let low_bound = self.bind(low, scope)?;
                let high_bound = self.bind(high, scope)?;
                let (op_low, op_high) = if *negated {
                    (CmpOp::Lt, CmpOp::Gt)
                } else {
                    (CmpOp::GtEq, CmpOp::LtEq)
                };
                let first = compare(op_low, value.clone(), low_bound, expr)?;
                let second = compare(op_high, value, high_bound, expr)?;
                Ok(if *negated {
                    Expr::Or(vec![first, second])
                } else {
                    Expr::And(vec![first, second])
                })
            }
            ast::Expr::Like {
                negated,
                any,
                expr: inner,
                pattern,
                escape_char,
            }
            | ast::Expr::ILike {
                negated,
                any,
                expr: inner,
                pattern,
                escape_char,
            } => {
                if *any {
                    return Err(unsupported("LIKE ANY", expr));
                }
                let case_insensitive = matches!(expr, ast::Expr::ILike { .. });
                let mut bound = self.bind(inner, scope)?;
                if !bound.ty().is_text() && bound.ty() != SqlType::Null {
                    return Err(QueryError::invalid(format!(
                        "LIKE needs a string, got {} `{inner}`{}",
                        bound.ty().pinot_name(),
                        at(inner.as_ref())
                    )));
                }
                let Expr::Literal {
                    value: Scalar::Str(mut text),
                    ..
                } = self.bind(pattern, scope)?
                else {
                    return Err(QueryError::invalid(format!(
                        "the LIKE pattern must be a string literal, got `{pattern}`{}",
                        at(pattern.as_ref())
                    )));
                };
                let escape = match escape_char.as_deref() {
                    None => None,
                    Some(e) => match self.bind(e, scope)? {
                        Expr::Literal {
                            value: Scalar::Str(s),
                            ..
                        } if s.chars().count() == 1 => s.chars().next(),
                        _ => {
                            return Err(QueryError::invalid(format!(
                                "ESCAPE needs one character{}",
                                at(e)
                            )));
                        }
                    },
                };
                if case_insensitive {
                    text = text.to_lowercase();
                    bound = Expr::Call {
                        func: Func::Lower,
                        args: vec![bound],
                        ty: SqlType::String,
                    };
                }
                let compiled = LikePattern::compile(&text, escape)
                    .map_err(|m| QueryError::invalid(format!("{m}{}", at(pattern.as_ref()))))?;
                Ok(Expr::Like {
                    expr: Box::new(bound),
                    pattern: Arc::new(compiled),
                    negated: *negated,
                })
            }
            ast::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand = operand.as_ref().map(|o| self.bind(o, scope)).transpose()?;
                let mut branches = Vec::new();
                for when in conditions {
                    let condition = self.bind(&when.condition, scope)?;
                    let condition = match &operand {
                        Some(value) => {
                            compare(CmpOp::Eq, value.clone(), condition, &when.condition)?
                        }
                        None => {
                            expect_boolean(&condition, "CASE WHEN", &when.condition)?;
                            condition
                        }
                    };
                    branches.push((condition, self.bind(&when.result, scope)?));
                }
                let otherwise = match else_result {
                    Some(e) => self.bind(e, scope)?,
                    None => Expr::literal(Scalar::Null, SqlType::Null),
                };
                let mut types: Vec<SqlType> = branches.iter().map(|(_, t)| t.ty()).collect();
                types.push(otherwise.ty());
                let ty = unify(&types).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "CASE branches have incompatible types{}",
                        at(expr)
                    ))
                })?;
                Ok(Expr::Case {
                    branches,
                    otherwise: Box::new(otherwise),
                    ty,
                })
            }
            ast::Expr::Cast {
                expr: inner,
                data_type,
                format,
                ..
            } => {
                if format.is_some() {
                    return Err(unsupported("CAST ... FORMAT", expr));
                }
                let to = cast_target(data_type, expr)?;
                let bound = self.bind(inner, scope)?;
                let is_date = data_type.to_string().eq_ignore_ascii_case("DATE");
                cast(bound, to, is_date, expr)
            }
            ast::Expr::Extract {
                field, expr: inner, ..
            } => {
                let field_name = field.to_string();
                let field = Field::parse(&field_name).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "EXTRACT({field_name} ...) is not supported{}",
                        at(expr)
                    ))
                })?;
                let bound = self.bind(inner, scope)?;
                expect_time(&bound, inner.as_ref())?;
                let ty = if field == Field::Epoch {
                    SqlType::Double
                } else {
                    SqlType::Long
                };
                Ok(Expr::Call {
                    func: Func::Extract(field),
                    args: vec![bound],
                    ty,
                })
            }
            ast::Expr::Ceil { expr: inner, field } | ast::Expr::Floor { expr: inner, field } => {
                match field {
                    CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime) => {}
                    _ => return Err(unsupported("CEIL/FLOOR with a unit or scale", expr)),
                }
                let bound = self.bind(inner, scope)?;
                expect_numeric(&bound, inner.as_ref())?;
                let func = if matches!(expr, ast::Expr::Ceil { .. }) {
                    Func::Ceil
                } else {
                    Func::Floor
                };
                let ty = numeric_result(bound.ty());
                Ok(Expr::Call {
                    func,
                    args: vec![bound],
                    ty,
                })
            }
            ast::Expr::Substring {
                expr: inner,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind(inner, scope)?];
                match substring_from {
                    Some(from) => args.push(self.bind(from, scope)?),
                    None => args.push(Expr::literal(Scalar::Long(1), SqlType::Long)),
                }
                if let Some(length) = substring_for {
                    args.push(self.bind(length, scope)?);
                }
                self.scalar_function("substr", args, expr)
            }
            ast::Expr::Trim {
                expr: inner,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                if trim_where.is_some() || trim_what.is_some() || trim_characters.is_some() {
                    return Err(unsupported("TRIM with options", expr));
                }
                let bound = self.bind(inner, scope)?;
                self.scalar_function("trim", vec![bound], expr)
            }
            ast::Expr::Function(function) => self.bind_function(function, expr, scope),
            ast::Expr::Subquery(_) | ast::Expr::Exists { .. } => {
                Err(unsupported("subqueries", expr))
            }
            ast::Expr::Interval(_) => Err(unsupported(
                "INTERVAL arithmetic (write the date literal out)",
                expr,
            )),
            ast::Expr::Wildcard(_) => Err(QueryError::invalid(format!(
                "`*` is only allowed as the whole select list or in COUNT(*){}",
                at(expr)
            ))),
            other => Err(unsupported(&format!("the expression `{other}`"), other)),
        }
    }

    fn binary(&self, l: Expr, op: &BinaryOperator, r: Expr, node: &ast::Expr) -> QueryResult<Expr> {
        let arith = match op {
            BinaryOperator::Plus => Some(ArithOp::Add),
            BinaryOperator::Minus => Some(ArithOp::Sub),
            BinaryOperator::Multiply => Some(ArithOp::Mul),
            BinaryOperator::Divide => Some(ArithOp::Div),
            BinaryOperator::Modulo => Some(ArithOp::Mod),
            _ => None,
        };
        if let Some(op) = arith {
            for side in [&l, &r] {
                let ty = side.ty();
                if !(ty.is_numeric() || ty == SqlType::Timestamp || ty == SqlType::Null)
                    || side.multi_value()
                {
                    return Err(QueryError::invalid(format!(
                        "`{}` needs numbers, got {} `{side}`{}",
                        op.symbol(),
                        ty.pinot_name(),
                        at(node)
                    )));
                }
            }
            let ty = match op {
                ArithOp::Div => SqlType::Double,
                _ if l.ty().is_floating() || r.ty().is_floating() => SqlType::Double,
                _ => SqlType::Long,
            };
            return Ok(Expr::Arith {
                op,
                left: Box::new(l),
                right: Box::new(r),
                ty,
            });
        }
        let cmp = match op {
            BinaryOperator::Eq => Some(CmpOp::Eq),
            BinaryOperator::NotEq => Some(CmpOp::NotEq),
            BinaryOperator::Lt => Some(CmpOp::Lt),
            BinaryOperator::LtEq => Some(CmpOp::LtEq),
            BinaryOperator::Gt => Some(CmpOp::Gt),
            BinaryOperator::GtEq => Some(CmpOp::GtEq),
            _ => None,
        };
        if let Some(op) = cmp {
            return compare(op, l, r, node);
        }
        match op {
            BinaryOperator::And | BinaryOperator::Or => {
                for side in [&l, &r] {
                    if !matches!(side.ty(), SqlType::Boolean | SqlType::Null) {
                        return Err(QueryError::invalid(format!(
                            "{op} needs boolean operands, got {} `{side}`{}",
                            side.ty().pinot_name(),
                            at(node)
                        )));
                    }
                }
                let flatten = |e: Expr, out: &mut Vec<Expr>, is_and: bool| match e {
                    Expr::And(items) if is_and => out.extend(items),
                    Expr::Or(items) if !is_and => out.extend(items),
                    other => out.push(other),
                };
                let is_and = matches!(op, BinaryOperator::And);
                let mut items = Vec::new();
                flatten(l, &mut items, is_and);
                flatten(r, &mut items, is_and);
                Ok(if is_and {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            BinaryOperator::StringConcat => {
                // `||` propagates NULL (unlike CONCAT).
                let concat = self.scalar_function("concat", vec![l.clone(), r.clone()], node)?;
                Ok(Expr::Case {
                    branches: vec![(
                        Expr::Or(vec![
                            Expr::IsNull {
                                expr: Box::new(l),
                                negated: false,
                            },
                            Expr::IsNull {
                                expr: Box::new(r),
                                negated: false,
                            },
                        ]),
                        Expr::literal(Scalar::Null, SqlType::String),
                    )],
                    otherwise: Box::new(concat),
                    ty: SqlType::String,
                })
            }
            other => Err(unsupported(&format!("operator `{other}`"), node)),
        }
    }

    fn bind_function(
        &self,
        function: &ast::Function,
        node: &ast::Expr,
        scope: &mut Scope<'_>,
    ) -> QueryResult<Expr> {
        let name = function_name(function).to_ascii_lowercase();
        if aggregate_name(&name) {
            return Err(QueryError::invalid(format!(
                "aggregate function `{}` is not allowed here (WHERE, GROUP BY or inside another aggregate){}",
                name.to_uppercase(),
                at(node)
            )));
        }
        if function.over.is_some() {
            return Err(unsupported("window functions (OVER)", node));
        }
        if function.filter.is_some() {
            return Err(QueryError::invalid(format!(
                "FILTER (WHERE ...) only applies to aggregates{}",
                at(node)
            )));
        }
        let (arg_asts, distinct) = function_args(function, node)?;
        if distinct {
            return Err(unsupported("DISTINCT in a scalar function", node));
        }
        let mut arg_nodes = Vec::new();
        for arg in &arg_asts {
            match arg {
                Some(e) => arg_nodes.push(*e),
                None => {
                    return Err(QueryError::invalid(format!(
                        "`*` is not a valid argument of {}{}",
                        name.to_uppercase(),
                        at(node)
                    )));
                }
            }
        }
        // Functions whose first arguments are options, not values.
        match name.as_str() {
            "date_trunc" => {
                let [unit, value] = arg_nodes.as_slice() else {
                    return Err(arity("DATE_TRUNC('unit', timestamp)", node));
                };
                let unit_text = string_literal(unit).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "DATE_TRUNC needs a unit string such as 'day'{}",
                        at(*unit)
                    ))
                })?;
                let unit = TimeUnit::parse(&unit_text).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "unknown DATE_TRUNC unit `{unit_text}`{}: use second, minute, hour, day, week, month, quarter or year",
                        at(*unit)
                    ))
                })?;
                let value = self.bind(value, scope)?;
                expect_time(&value, node)?;
                return Ok(Expr::Call {
                    func: Func::DateTrunc(unit),
                    args: vec![value],
                    ty: SqlType::Timestamp,
                });
            }
            "datetrunc" => return self.pinot_datetrunc(&arg_nodes, node, scope),
            "datetimeconvert" => return self.datetimeconvert(&arg_nodes, node, scope),
            "fromdatetime" | "todatetime" => {
                let [value, pattern] = arg_nodes.as_slice() else {
                    return Err(arity(
                        &format!("{}(value, 'pattern')", name.to_uppercase()),
                        node,
                    ));
                };
                let pattern_text = string_literal(pattern).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "the date pattern must be a string literal{}",
                        at(*pattern)
                    ))
                })?;
                let chrono = time::java_pattern_to_chrono(&pattern_text)
                    .map_err(|m| QueryError::invalid(format!("{m}{}", at(*pattern))))?;
                let value = self.bind(value, scope)?;
                return Ok(if name == "fromdatetime" {
                    if !value.ty().is_text() {
                        return Err(QueryError::invalid(format!(
                            "FROMDATETIME needs a string{}",
                            at(node)
                        )));
                    }
                    Expr::Call {
                        func: Func::FromDateTime(chrono),
                        args: vec![value],
                        ty: SqlType::Long,
                    }
                } else {
                    expect_time(&value, node)?;
                    Expr::Call {
                        func: Func::ToDateTime(chrono),
                        args: vec![value],
                        ty: SqlType::String,
                    }
                });
            }
            "text_match" => {
                let [column, query] = arg_nodes.as_slice() else {
                    return Err(arity("TEXT_MATCH(column, 'query')", node));
                };
                let Expr::Column {
                    name: column_name,
                    ty,
                    ..
                } = self.bind(column, scope)?
                else {
                    return Err(QueryError::invalid(format!(
                        "TEXT_MATCH needs a column{}",
                        at(*column)
                    )));
                };
                if !ty.is_text() {
                    return Err(QueryError::invalid(format!(
                        "TEXT_MATCH needs a STRING column{}",
                        at(*column)
                    )));
                }
                let query = string_literal(query).ok_or_else(|| {
                    QueryError::invalid(format!("TEXT_MATCH needs a query string{}", at(*query)))
                })?;
                return Ok(Expr::TextMatch {
                    column: column_name,
                    query,
                });
            }
            "mod" => {
                // MOD(a, b) is `a % b` (PostgreSQL, DuckDB, ClickHouse, Pinot).
                let [value, divisor] = arg_nodes.as_slice() else {
                    return Err(arity("MOD(value, divisor)", node));
                };
                let (value, divisor) = (self.bind(value, scope)?, self.bind(divisor, scope)?);
                return self.binary(value, &BinaryOperator::Modulo, divisor, node);
            }
            "regexp_like" => {
                let [value, pattern] = arg_nodes.as_slice() else {
                    return Err(arity("REGEXP_LIKE(value, 'regex')", node));
                };
                let pattern_text = string_literal(pattern).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "REGEXP_LIKE needs a pattern string{}",
                        at(*pattern)
                    ))
                })?;
                let regex = Regex::new(&pattern_text).map_err(|e| {
                    QueryError::invalid(format!("bad regular expression{}: {e}", at(*pattern)))
                })?;
                let value = self.bind(value, scope)?;
                if !value.ty().is_text() {
                    return Err(QueryError::invalid(format!(
                        "REGEXP_LIKE needs a string{}",
                        at(node)
                    )));
                }
                return Ok(Expr::RegexpLike {
                    expr: Box::new(value),
                    regex: Arc::new(RegexPattern::new(regex)),
                    negated: false,
                });
            }
            _ => {}
        }
        let mut args = Vec::new();
        for arg in &arg_nodes {
            args.push(self.bind(arg, scope)?);
        }
        self.scalar_function(&name, args, node)
    }

    fn scalar_function(&self, name: &str, args: Vec<Expr>, node: &ast::Expr) -> QueryResult<Expr> {
        let upper = name.to_uppercase();
        // A scalar function reads one value per row; over an array it would read the
        // array's text.
        if let Some(array) = args.iter().find(|a| a.multi_value()) {
            return Err(QueryError::invalid(format!(
                "{upper} over multi-value column `{array}` is not supported yet; filter with `{array} = ...` or group by `{array}` itself{}",
                at(node)
            )));
        }
        let want = |n: std::ops::RangeInclusive<usize>, signature: &str| -> QueryResult<()> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(arity(signature, node))
            }
        };
        let text_arg = |i: usize| -> QueryResult<()> {
            let ty = args[i].ty();
            if ty.is_text() || ty == SqlType::Null {
                Ok(())
            } else {
                Err(QueryError::invalid(format!(
                    "{upper} needs a string, got {} `{}`{}",
                    ty.pinot_name(),
                    args[i],
                    at(node)
                )))
            }
        };
        let (func, ty) = match name {
            "lower" | "upper" => {
                want(1..=1, &format!("{upper}(string)"))?;
                text_arg(0)?;
                (
                    if name == "lower" {
                        Func::Lower
                    } else {
                        Func::Upper
                    },
                    SqlType::String,
                )
            }
            "substr" | "substring" => {
                want(2..=3, "SUBSTR(string, start [, length])")?;
                text_arg(0)?;
                for arg in &args[1..] {
                    expect_integer(arg, node)?;
                }
                (Func::Substr, SqlType::String)
            }
            "concat" => {
                if args.is_empty() {
                    return Err(arity("CONCAT(value, ...)", node));
                }
                (Func::Concat, SqlType::String)
            }
            "length" | "char_length" | "character_length" => {
                want(1..=1, "LENGTH(string)")?;
                text_arg(0)?;
                (Func::Length, SqlType::Long)
            }
            "trim" => {
                want(1..=1, "TRIM(string)")?;
                text_arg(0)?;
                (Func::Trim, SqlType::String)
            }
            "replace" => {
                want(3..=3, "REPLACE(string, from, to)")?;
                for i in 0..3 {
                    text_arg(i)?;
                }
                (Func::Replace, SqlType::String)
            }
            "abs" => {
                want(1..=1, "ABS(number)")?;
                expect_numeric(&args[0], node)?;
                (Func::Abs, numeric_result(args[0].ty()))
            }
            "floor" | "ceil" | "ceiling" => {
                want(1..=1, &format!("{upper}(number)"))?;
                expect_numeric(&args[0], node)?;
                (
                    if name == "floor" {
                        Func::Floor
                    } else {
                        Func::Ceil
                    },
                    numeric_result(args[0].ty()),
                )
            }
            "round" => {
                want(1..=2, "ROUND(number [, digits])")?;
                expect_numeric(&args[0], node)?;
                if let Some(digits) = args.get(1) {
                    expect_integer(digits, node)?;
                }
                (Func::Round, numeric_result(args[0].ty()))
            }
            "coalesce" => {
                if args.is_empty() {
                    return Err(arity("COALESCE(value, ...)", node));
                }
                let types: Vec<SqlType> = args.iter().map(Expr::ty).collect();
                let ty = unify(&types).ok_or_else(|| {
                    QueryError::invalid(format!(
                        "COALESCE arguments have incompatible types{}",
                        at(node)
                    ))
                })?;
                (Func::Coalesce, ty)
            }
            "year" | "quarter" | "month" | "week" | "day" | "dayofmonth" | "dayofweek" | "dow"
            | "dayofyear" | "doy" | "hour" | "minute" | "second" | "millisecond" => {
                want(1..=1, &format!("{upper}(timestamp)"))?;
                expect_time(&args[0], node)?;
                let field = Field::parse(name).unwrap_or(Field::Year);
                (Func::Extract(field), SqlType::Long)
            }
            _ => {
                return Err(QueryError::invalid(format!(
                    "unknown function `{}`{}",
                    upper,
                    at(node)
                )));
            }
        };
        Ok(Expr::Call { func, args, ty })
    }

    fn pinot_datetrunc(
        &self,
        args: &[&ast::Expr],
        node: &ast::Expr,
        scope: &mut Scope<'_>,
    ) -> QueryResult<Expr> {
        if !(2..=5).contains(&args.len()) {
            return Err(arity(
                "DATETRUNC('unit', value [, 'inputUnit' [, 'timeZone' [, 'outputUnit']]])",
                node,
            ));
        }
        let unit_text = string_literal(args[0]).unwrap_or_default();
        let unit = TimeUnit::parse(&unit_text).ok_or_else(|| {
            QueryError::invalid(format!(
                "unknown DATETRUNC unit `{unit_text}`{}",
                at(args[0])
            ))
        })?;
        let value = self.bind(args[1], scope)?;
        if !(value.ty().is_integer() || value.ty() == SqlType::Timestamp) {
            return Err(QueryError::invalid(format!(
                "DATETRUNC needs a time value{}",
                at(args[1])
            )));
        }
        let java_unit = |index: usize| -> QueryResult<i64> {
            match args.get(index) {
                None => Ok(1),
                Some(arg) => {
                    let text = string_literal(arg).unwrap_or_default();
                    time::java_unit_millis(&text).ok_or_else(|| {
                        QueryError::invalid(format!(
                            "unsupported time unit `{text}`{}: use MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS",
                            at(*arg)
                        ))
                    })
                }
            }
        };
        let input_millis = java_unit(2)?;
        if let Some(zone) = args.get(3) {
            let zone_text = string_literal(zone).unwrap_or_default();
            if !matches!(zone_text.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z") {
                return Err(unsupported(&format!("time zone `{zone_text}`"), *zone));
            }
        }
        let output_millis = if args.len() == 5 {
            java_unit(4)?
        } else {
            input_millis
        };
        Ok(Expr::Call {
            func: Func::PinotDateTrunc {
                unit,
                input_millis,
                output_millis,
            },
            args: vec![value],
            ty: SqlType::Long,
        })
    }

    fn datetimeconvert(
        &self,
        args: &[&ast::Expr],
        node: &ast::Expr,
        scope: &mut Scope<'_>,
    ) -> QueryResult<Expr> {
        let [value, input, output, granularity] = args else {
            return Err(arity(
                "DATETIMECONVERT(value, 'inputFormat', 'outputFormat', 'granularity')",
                node,
            ));
        };
        let format = |arg: &ast::Expr| -> QueryResult<EpochFormat> {
            let text = string_literal(arg).unwrap_or_default();
            parse_pinot_format(&text).ok_or_else(|| {
                QueryError::invalid(format!(
                    "unsupported time format `{text}`{}: use 'N:UNIT:EPOCH' or 'N:UNIT:SIMPLE_DATE_FORMAT:pattern'",
                    at(arg)
                ))
            })
        };
        let input = format(input)?;
        let output = format(output)?;
        let granularity_text = string_literal(granularity).unwrap_or_default();
        let granularity_millis = parse_granularity(&granularity_text).ok_or_else(|| {
            QueryError::invalid(format!(
                "unsupported granularity `{granularity_text}`{}: use 'N:UNIT' such as '1:HOURS'",
                at(*granularity)
            ))
        })?;
        let value = self.bind(value, scope)?;
        let ty = match output {
            EpochFormat::Epoch { .. } => SqlType::Long,
            EpochFormat::Pattern(_) => SqlType::String,
        };
        Ok(Expr::Call {
            func: Func::DateTimeConvert {
                input,
                output,
                granularity_millis,
            },
            args: vec![value],
            ty,
        })
    }
}

/// `1:MILLISECONDS:EPOCH`, `1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd`, `1:MILLISECONDS:TIMESTAMP`.
fn parse_pinot_format(text: &str) -> Option<EpochFormat> {
    let mut parts = text.splitn(4, ':');
    let size: i64 = parts.next()?.trim().parse().ok()?;
    let unit = time::java_unit_millis(parts.next()?.trim())?;
    match parts.next()?.trim().to_ascii_uppercase().as_str() {
        "EPOCH" | "TIMESTAMP" => Some(EpochFormat::Epoch {
            unit_millis: size.checked_mul(unit)?.max(1),
        }),
        "SIMPLE_DATE_FORMAT" => {
            let pattern = time::java_pattern_to_chrono(parts.next()?).ok()?;
            Some(EpochFormat::Pattern(pattern))
        }
        _ => None,
    }
}

fn parse_granularity(text: &str) -> Option<i64> {
    let (size, unit) = text.split_once(':')?;
    let size: i64 = size.trim().parse().ok()?;
    size.checked_mul(time::java_unit_millis(unit.trim())?)
        .filter(|g| *g > 0)
}

/// Function arguments: `None` stands for `*`; the flag is DISTINCT.
fn function_args<'f>(
    function: &'f ast::Function,
    node: &ast::Expr,
) -> QueryResult<(Vec<Option<&'f ast::Expr>>, bool)> {
    match &function.args {
        FunctionArguments::None => Ok((Vec::new(), false)),
        FunctionArguments::Subquery(_) => Err(unsupported("subqueries", node)),
        FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(unsupported("clauses inside function arguments", node));
            }
            let mut out = Vec::new();
            for arg in &list.args {
                match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => out.push(Some(e)),
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => out.push(None),
                    other => return Err(unsupported(&format!("argument `{other}`"), node)),
                }
            }
            Ok((
                out,
                matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct)),
            ))
        }
    }
}

fn arity(signature: &str, node: &ast::Expr) -> QueryError {
    QueryError::invalid(format!("wrong arguments: expected {signature}{}", at(node)))
}

fn string_literal(expr: &ast::Expr) -> Option<String> {
    match expr {
        ast::Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        ast::Expr::Identifier(ident) if ident.quote_style == Some('\'') => {
            Some(ident.value.clone())
        }
        _ => None,
    }
}

fn literal_number(expr: &ast::Expr) -> Option<f64> {
    match expr {
        ast::Expr::Value(value) => match &value.value {
            Value::Number(text, _) => text.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

fn literal(value: &Value, node: &ast::Expr) -> QueryResult<Expr> {
    Ok(match value {
        Value::Number(text, _) => {
            let is_integer = !text.contains(['.', 'e', 'E']);
            match text.parse::<i64>() {
                Ok(v) if is_integer => Expr::literal(Scalar::Long(v), SqlType::Long),
                _ => {
                    let v: f64 = text.parse().map_err(|_| {
                        QueryError::invalid(format!("bad number `{text}`{}", at(node)))
                    })?;
                    Expr::literal(Scalar::Double(v), SqlType::Double)
                }
            }
        }
        Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) => {
            Expr::literal(Scalar::Str(text.clone()), SqlType::String)
        }
        Value::Boolean(v) => Expr::literal(Scalar::Bool(*v), SqlType::Boolean),
        Value::Null => Expr::literal(Scalar::Null, SqlType::Null),
        Value::DoubleQuotedString(text) => {
            return Err(QueryError::invalid(format!(
                "\"{text}\" is a quoted identifier here{}",
                at(node)
            )));
        }
        other => return Err(unsupported(&format!("the literal `{other}`"), node)),
    })
}

fn expect_numeric(expr: &Expr, node: &impl Spanned) -> QueryResult<()> {
    let ty = expr.ty();
    if (ty.is_numeric() || ty == SqlType::Null) && !expr.multi_value() {
        Ok(())
    } else {
        Err(QueryError::invalid(format!(
            "expected a number, got {} `{expr}`{}",
            ty.pinot_name(),
            at(node)
        )))
    }
}

fn expect_integer(expr: &Expr, node: &impl Spanned) -> QueryResult<()> {
    if expr.ty().is_integer() || expr.ty() == SqlType::Null {
        Ok(())
    } else {
        Err(QueryError::invalid(format!(
            "expected an integer, got {} `{expr}`{}",
            expr.ty().pinot_name(),
            at(node)
        )))
    }
}

fn expect_time(expr: &Expr, node: &impl Spanned) -> QueryResult<()> {
    match expr.ty() {
        SqlType::Timestamp | SqlType::Long | SqlType::Int | SqlType::Null => Ok(()),
        other => Err(QueryError::invalid(format!(
            "expected a TIMESTAMP (or epoch milliseconds), got {} `{expr}`{}",
            other.pinot_name(),
            at(node)
        ))),
    }
}

fn numeric_result(ty: SqlType) -> SqlType {
    match ty {
        SqlType::Int | SqlType::Long => SqlType::Long,
        SqlType::Null => SqlType::Null,
        _ => SqlType::Double,
    }
}

/// A common type for CASE branches / COALESCE arguments.
fn unify(types: &[SqlType]) -> Option<SqlType> {
    let mut result = SqlType::Null;
    for ty in types.iter().copied().filter(|t| *t != SqlType::Null) {
        result = match (result, ty) {
            (SqlType::Null, t) => t,
            (a, b) if a == b => a,
            (a, b) if a.is_numeric() && b.is_numeric() => {
                if a.is_floating() || b.is_floating() {
                    SqlType::Double
                } else {
                    SqlType::Long
                }
            }
            (a, b) if a.is_text() && b.is_text() => SqlType::String,
            _ => return None,
        };
    }
    Some(result)
}

/// Make a literal comparable with a value of type `target` (string → timestamp, etc.).
fn coerce_literal(
    value: Scalar,
    ty: SqlType,
    target: SqlType,
    node: &impl Spanned,
) -> QueryResult<Scalar> {
    if value.is_null() {
        return Ok(value);
    }
    let mismatch = || {
        QueryError::invalid(format!(
            "cannot compare {} with {} literal `{}`{}",
            target.pinot_name(),
            ty.pinot_name(),
            Expr::literal(value.clone(), ty),
            at(node)
        ))
    };
    match (target, &value) {
        (SqlType::Timestamp, Scalar::Str(text)) => time::parse_timestamp(text)
            .map(Scalar::Long)
            .ok_or_else(|| {
                QueryError::invalid(format!(
                    "bad timestamp literal `{text}`{}: expected YYYY-MM-DD[ HH:MM:SS[.fff]] or RFC 3339",
                    at(node)
                ))
            }),
        (SqlType::Timestamp, Scalar::Long(_) | Scalar::Double(_)) => Ok(value),
        (t, Scalar::Long(_) | Scalar::Double(_)) if t.is_numeric() => Ok(value),
        (SqlType::Boolean, Scalar::Bool(_)) => Ok(value),
        (SqlType::Boolean, Scalar::Long(v)) => Ok(Scalar::Bool(*v != 0)),
        (SqlType::Boolean, Scalar::Str(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Scalar::Bool(true)),
            "false" => Ok(Scalar::Bool(false)),
            _ => Err(mismatch()),
        },
        (t, Scalar::Str(_)) if t.is_text() => Ok(value),
        (SqlType::Bytes, Scalar::Str(text)) => tessera_config::hex::decode_hex(text).map(Scalar::Bytes).ok_or_else(mismatch),
        (SqlType::Null, _) => Ok(value),
        _ => Err(mismatch()),
    }
}

/// A comparison, with literals coerced to the other side's type.
fn compare(op: CmpOp, l: Expr, r: Expr, node: &ast::Expr) -> QueryResult<Expr> {
    let (l, r) = match (l, r) {
        (Expr::Literal { value, ty }, other) if !matches!(other, Expr::Literal { .. }) => {
            let target = other.ty();
            (
                Expr::literal(
                    coerce_literal(value, ty, target, node)?,
                    literal_type(target, ty),
                ),
                other,
            )
        }
        (other, Expr::Literal { value, ty }) => {
            let target = other.ty();
            let coerced = coerce_literal(value, ty, target, node)?;
            (other, Expr::literal(coerced, literal_type(target, ty)))
        }
        pair => pair,
    };
    let (lt, rt) = (l.ty(), r.ty());
    let comparable = lt == rt
        || lt == SqlType::Null
        || rt == SqlType::Null
        || (is_number_like(lt) && is_number_like(rt))
        || (lt.is_text() && rt.is_text());
    if !comparable {
        return Err(QueryError::invalid(format!(
            "cannot compare {} `{l}` with {} `{r}`{}",
            lt.pinot_name(),
            rt.pinot_name(),
            at(node)
        )));
    }
    Ok(Expr::Compare {
        op,
        left: Box::new(l),
        right: Box::new(r),
    })
}

fn is_number_like(ty: SqlType) -> bool {
    ty.is_numeric() || ty == SqlType::Timestamp
}

fn literal_type(target: SqlType, original: SqlType) -> SqlType {
    match (target, original) {
        (SqlType::Timestamp, SqlType::String) => SqlType::Timestamp,
        (SqlType::Boolean, _) => SqlType::Boolean,
        (SqlType::Bytes, SqlType::String) => SqlType::Bytes,
        _ => original,
    }
}

fn cast_target(data_type: &ast::DataType, node: &ast::Expr) -> QueryResult<SqlType> {
    let text = data_type.to_string().to_ascii_uppercase();
    let base = text.split(['(', ' ']).next().unwrap_or("");
    Ok(match base {
        "INT" | "INTEGER" | "INT4" | "SMALLINT" | "TINYINT" => SqlType::Int,
        "BIGINT" | "LONG" | "INT8" | "INT64" => SqlType::Long,
        "FLOAT" | "REAL" | "FLOAT4" => SqlType::Float,
        "DOUBLE" | "FLOAT8" | "DECIMAL" | "NUMERIC" => SqlType::Double,
        "VARCHAR" | "STRING" | "TEXT" | "CHAR" => SqlType::String,
        "BOOLEAN" | "BOOL" => SqlType::Boolean,
        "TIMESTAMP" | "DATE" | "DATETIME" => SqlType::Timestamp,
        "JSON" => SqlType::Json,
        "BYTES" | "VARBINARY" | "BYTEA" => SqlType::Bytes,
        _ => return Err(unsupported(&format!("CAST to {text}"), node)),
    })
}

fn cast(bound: Expr, to: SqlType, is_date: bool, node: &ast::Expr) -> QueryResult<Expr> {
    let from = bound.ty();
    if bound.multi_value() {
        return Err(unsupported("CAST of a multi-value column", node));
    }
    // Fold casts of string literals to timestamps at plan time (and fail early).
    if let Expr::Literal {
        value: Scalar::Str(text),
        ..
    } = &bound
        && to == SqlType::Timestamp
    {
        let ms = time::parse_timestamp(text)
            .ok_or_else(|| QueryError::invalid(format!("bad timestamp `{text}`{}", at(node))))?;
        let ms = if is_date {
            time::truncate(ms, TimeUnit::Day).unwrap_or(ms)
        } else {
            ms
        };
        return Ok(Expr::literal(Scalar::Long(ms), SqlType::Timestamp));
    }
    let allowed = from == to
        || from == SqlType::Null
        || to.is_text()
        || from.is_text()
        || (is_number_like(from) || from == SqlType::Boolean)
            && (is_number_like(to) || to == SqlType::Boolean);
    if !allowed {
        return Err(QueryError::invalid(format!(
            "cannot CAST {} to {}{}",
            from.pinot_name(),
            to.pinot_name(),
            at(node)
        )));
    }
    let casted = Expr::Cast {
        expr: Box::new(bound),
        to,
    };
    if is_date {
        return Ok(Expr::Call {
            func: Func::DateTrunc(TimeUnit::Day),
            args: vec![casted],
            ty: SqlType::Timestamp,
        });
    }
    Ok(casted)
}
