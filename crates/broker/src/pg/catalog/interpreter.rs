//! A small row interpreter for the catalog queries clients send (psql's `\d`, Grafana's
//! metadata queries, `SELECT version()`): joins, correlated subqueries, CASE, regex
//! matches, set-returning functions in FROM, ORDER BY, LIMIT — over the virtual
//! relations of [`super::relations`]. It never touches table data; Tessera tables are
//! queried by the engine.

use std::cmp::Ordering;

use pgwire::api::Type;
use sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    JoinConstraint, JoinOperator, LimitClause, ObjectName, ObjectNamePart, OrderByKind, Query,
    SelectItem, SetExpr, SetOperator, SetQuantifier, TableFactor, UnaryOperator, Value,
};

use super::functions;
use super::relations::{CatalogContext, Relation, relation};
use crate::pg::values::Cell;

/// A catalog query's failure, with the SQLSTATE PostgreSQL would use.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogError {
    pub sqlstate: &'static str,
    pub message: String,
}

impl CatalogError {
    pub fn unsupported(message: impl Into<String>) -> CatalogError {
        CatalogError {
            sqlstate: "0A000",
            message: message.into(),
        }
    }

    pub fn undefined_table(message: impl Into<String>) -> CatalogError {
        CatalogError {
            sqlstate: "42P01",
            message: message.into(),
        }
    }

    pub fn undefined_column(message: impl Into<String>) -> CatalogError {
        CatalogError {
            sqlstate: "42703",
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> CatalogError {
        CatalogError {
            sqlstate: "22023",
            message: message.into(),
        }
    }
}

pub type CatalogResult<T> = Result<T, CatalogError>;

/// Rows a catalog query may hold in any one relation (a set-returning function's
/// output, a join's result) unless the session raises it (`SET catalogMaxRows = N`).
/// Catalog queries run in memory on the broker, so this is what bounds their memory.
pub const DEFAULT_CATALOG_MAX_ROWS: usize = 1_000_000;

/// The most a session may raise `catalogMaxRows` to (about a gigabyte of rows).
pub const MAX_CATALOG_MAX_ROWS: usize = 10_000_000;

/// The session's row budget for catalog queries: `catalogMaxRows`, else the default.
pub fn row_budget(ctx: &CatalogContext) -> CatalogResult<usize> {
    let Some(text) = ctx.setting("catalogmaxrows") else {
        return Ok(DEFAULT_CATALOG_MAX_ROWS);
    };
    let text = text.trim().trim_matches(|c| c == '\'' || c == '"');
    match text.parse::<usize>() {
        Ok(rows) if (1..=MAX_CATALOG_MAX_ROWS).contains(&rows) => Ok(rows),
        _ => Err(CatalogError::invalid(format!(
            "catalogMaxRows must be a whole number from 1 to {MAX_CATALOG_MAX_ROWS}, got `{text}`"
        ))),
    }
}

/// `rows` (at least; `None`: beyond counting) would exceed the session's budget.
pub fn too_many_rows(what: &str, rows: Option<u128>, budget: usize) -> CatalogError {
    let count = rows.map_or_else(|| "more".to_string(), |n| n.to_string());
    CatalogError {
        sqlstate: "54000",
        message: format!(
            "catalog query limit: {what} would hold {count} rows, over catalogMaxRows = {budget} \
             (catalog queries run in memory on the broker; narrow the query, or raise the \
             limit up to {MAX_CATALOG_MAX_ROWS} with SET catalogMaxRows = N)"
        ),
    }
}

/// A query's answer: named, typed columns and rows.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub columns: Vec<(String, Type)>,
    pub rows: Vec<Vec<Cell>>,
}

/// One FROM item while rows are joined: its alias, its columns, open or not.
#[derive(Debug, Clone)]
struct Source {
    alias: String,
    columns: Vec<(String, Type)>,
    open: bool,
}

/// The row an expression sees: each source's values, and the enclosing query's row
/// (correlated subqueries).
#[derive(Clone, Copy)]
pub struct Env<'a> {
    sources: &'a [Source],
    values: &'a [Vec<Cell>],
    outer: Option<&'a Env<'a>>,
}

const EMPTY_ENV: Env<'static> = Env {
    sources: &[],
    values: &[],
    outer: None,
};

impl Env<'_> {
    /// Resolve `qualifier.name` (or bare `name`) in this row or an enclosing one.
    fn lookup(&self, qualifier: Option<&str>, name: &str) -> Option<(Cell, Type)> {
        for (source, values) in self.sources.iter().zip(self.values) {
            if qualifier.is_some_and(|q| !q.eq_ignore_ascii_case(&source.alias)) {
                continue;
            }
            if let Some(i) = source
                .columns
                .iter()
                .position(|(c, _)| c.eq_ignore_ascii_case(name))
            {
                return Some((values[i].clone(), source.columns[i].1.clone()));
            }
            if source.open && qualifier.is_some() {
                return Some((Cell::Null, Type::TEXT));
            }
        }
        self.outer.and_then(|outer| outer.lookup(qualifier, name))
    }
}

/// Run a catalog query.
pub fn run_query(query: &Query, ctx: &CatalogContext) -> CatalogResult<Answer> {
    run(query, ctx, &EMPTY_ENV)
}

fn run(query: &Query, ctx: &CatalogContext, outer: &Env) -> CatalogResult<Answer> {
    if query.with.is_some() {
        return Err(CatalogError::unsupported(
            "WITH is not supported in catalog queries",
        ));
    }
    let order_by: Vec<&ast::OrderByExpr> = match query.order_by.as_ref().map(|o| &o.kind) {
        None => Vec::new(),
        Some(OrderByKind::Expressions(items)) => items.iter().collect(),
        Some(OrderByKind::All(_)) => {
            return Err(CatalogError::unsupported("ORDER BY ALL is not supported"));
        }
    };
    let mut answer = match query.body.as_ref() {
        SetExpr::Select(select) => run_select(select, &order_by, ctx, outer)?,
        other => {
            let answer = run_set_expr(other, ctx, outer)?;
            sort_by_output(answer, &order_by, ctx, outer)?
        }
    };
    let (limit, offset) = match &query.limit_clause {
        None => (None, None),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            (limit.as_ref(), offset.as_ref().map(|o| &o.value))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => (Some(limit), Some(offset)),
    };
    let number = |e: Option<&Expr>| -> CatalogResult<Option<usize>> {
        match e.map(|e| eval(e, ctx, &EMPTY_ENV)).transpose()? {
            None | Some(Cell::Null) => Ok(None),
            Some(Cell::Int(n)) if n >= 0 => Ok(Some(n as usize)),
            Some(other) => Err(CatalogError::invalid(format!(
                "LIMIT/OFFSET must be a non-negative integer, not {other:?}"
            ))),
        }
    };
    if let Some(offset) = number(offset)? {
        answer.rows.drain(..offset.min(answer.rows.len()));
    }
    if let Some(limit) = number(limit)? {
        answer.rows.truncate(limit);
    }
    Ok(answer)
}

fn run_set_expr(body: &SetExpr, ctx: &CatalogContext, outer: &Env) -> CatalogResult<Answer> {
    match body {
        SetExpr::Select(select) => run_select(select, &[], ctx, outer),
        SetExpr::Query(query) => run(query, ctx, outer),
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier,
            left,
            right,
        } => {
            let mut answer = run_set_expr(left, ctx, outer)?;
            let other = run_set_expr(right, ctx, outer)?;
            if other.columns.len() != answer.columns.len() {
                return Err(CatalogError::invalid(
                    "each UNION query must have the same number of columns",
                ));
            }
            answer.rows.extend(other.rows);
            if !matches!(set_quantifier, SetQuantifier::All) {
                dedup_rows(&mut answer.rows);
            }
            Ok(answer)
        }
        SetExpr::Values(values) => {
            let mut answer = Answer::default();
            for row in &values.rows {
                let cells = row
                    .iter()
                    .map(|e| eval(e, ctx, outer))
                    .collect::<CatalogResult<Vec<_>>>()?;
                answer.rows.push(cells);
            }
            let width = answer.rows.first().map_or(0, Vec::len);
            answer.columns = (1..=width)
                .map(|i| (format!("column{i}"), infer_type(&answer.rows, i - 1)))
                .collect();
            Ok(answer)
        }
        other => Err(CatalogError::unsupported(format!(
            "`{other}` is not supported in catalog queries"
        ))),
    }
}

fn dedup_rows(rows: &mut Vec<Vec<Cell>>) {
    let mut seen: Vec<Vec<Cell>> = Vec::new();
    rows.retain(|row| {
        if seen.contains(row) {
            false
        } else {
            seen.push(row.clone());
            true
        }
    });
}

/// ORDER BY over a set operation's output: ordinals and output names only.
fn sort_by_output(
    mut answer: Answer,
    order_by: &[&ast::OrderByExpr],
    ctx: &CatalogContext,
    outer: &Env,
) -> CatalogResult<Answer> {
    if order_by.is_empty() {
        return Ok(answer);
    }
    let source = [Source {
        alias: String::new(),
        columns: answer.columns.clone(),
        open: false,
    }];
    let mut keyed = Vec::with_capacity(answer.rows.len());
    for row in answer.rows.drain(..) {
        let values = [row];
        let env = Env {
            sources: &source,
            values: &values,
            outer: Some(outer),
        };
        let keys = order_keys(order_by, &values[0], &answer.columns, ctx, &env)?;
        let [row] = values;
        keyed.push((keys, row));
    }
    sort_keyed(&mut keyed, order_by);
    answer.rows = keyed.into_iter().map(|(_, row)| row).collect();
    Ok(answer)
}

fn order_keys(
    order_by: &[&ast::OrderByExpr],
    output: &[Cell],
    output_columns: &[(String, Type)],
    ctx: &CatalogContext,
    env: &Env,
) -> CatalogResult<Vec<Cell>> {
    order_by
        .iter()
        .map(|item| {
            if let Expr::Value(v) = &item.expr
                && let Value::Number(n, _) = &v.value
            {
                let index: usize = n.parse().unwrap_or(0);
                return output.get(index.wrapping_sub(1)).cloned().ok_or_else(|| {
                    CatalogError::invalid(format!("ORDER BY position {n} is not in select list"))
                });
            }
            if let Expr::Identifier(ident) = &item.expr
                && let Some(i) = output_columns
                    .iter()
                    .position(|(c, _)| c.eq_ignore_ascii_case(&ident.value))
            {
                return Ok(output[i].clone());
            }
            eval(&item.expr, ctx, env)
        })
        .collect()
}

fn sort_keyed(keyed: &mut [(Vec<Cell>, Vec<Cell>)], order_by: &[&ast::OrderByExpr]) {
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, item) in order_by.iter().enumerate() {
            let asc = !matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            // PostgreSQL: NULLs sort as larger than any value.
            let nulls_first = item.options.nulls_first.unwrap_or(!asc);
            let ordering = match (&a[i], &b[i]) {
                (Cell::Null, Cell::Null) => Ordering::Equal,
                (Cell::Null, _) => {
                    if nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (_, Cell::Null) => {
                    if nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (x, y) => {
                    let o = compare(x, y).unwrap_or(Ordering::Equal);
                    if asc { o } else { o.reverse() }
                }
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
}

fn run_select(
    select: &ast::Select,
    order_by: &[&ast::OrderByExpr],
    ctx: &CatalogContext,
    outer: &Env,
) -> CatalogResult<Answer> {
    let (sources, mut rows) = from_rows(&select.from, ctx, outer)?;
    if let Some(filter) = &select.selection {
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            let env = Env {
                sources: &sources,
                values: &row,
                outer: Some(outer),
            };
            if truthy(&eval(filter, ctx, &env)?) {
                kept.push(row);
            }
        }
        rows = kept;
    }
    let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
        || select.having.is_some()
        || select.projection.iter().any(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                has_aggregate(e)
            }
            _ => false,
        });
    if grouped {
        return run_aggregate(select, order_by, &sources, rows, ctx, outer);
    }
    // Projection, with ORDER BY keys computed on the same row.
    let mut output_columns: Vec<(String, Type)> = Vec::new();
    let mut keyed = Vec::with_capacity(rows.len());
    let mut column_types: Vec<Option<Type>> = Vec::new();
    for (row_index, row) in rows.iter().enumerate() {
        let env = Env {
            sources: &sources,
            values: row,
            outer: Some(outer),
        };
        let mut output = Vec::new();
        let mut names = Vec::new();
        for item in &select.projection {
            project_item(item, &env, &sources, ctx, &mut output, &mut names)?;
        }
        if row_index == 0 {
            output_columns = names;
            column_types = output_columns
                .iter()
                .map(|(_, t)| Some(t.clone()))
                .collect();
        }
        let keys = order_keys(order_by, &output, &output_columns, ctx, &env)?;
        keyed.push((keys, output));
    }
    if rows.is_empty() {
        // No row to evaluate: name the columns from the select list alone.
        let env = Env {
            sources: &sources,
            values: &[],
            outer: Some(outer),
        };
        for item in &select.projection {
            output_columns.extend(describe_item(item, &env, &sources));
        }
        column_types = output_columns
            .iter()
            .map(|(_, t)| Some(t.clone()))
            .collect();
    }
    sort_keyed(&mut keyed, order_by);
    let mut out_rows: Vec<Vec<Cell>> = keyed.into_iter().map(|(_, row)| row).collect();
    if matches!(select.distinct, Some(ast::Distinct::Distinct)) {
        dedup_rows(&mut out_rows);
    }
    // A column typed TEXT for lack of a better guess takes its values' type.
    for (i, ty) in column_types.iter().enumerate() {
        if ty.as_ref() == Some(&Type::UNKNOWN) {
            output_columns[i].1 = infer_type(&out_rows, i);
        }
    }
    Ok(Answer {
        columns: output_columns,
        rows: out_rows,
    })
}

/// Evaluate one select item for a row, appending values and names.
fn project_item(
    item: &SelectItem,
    env: &Env,
    sources: &[Source],
    ctx: &CatalogContext,
    output: &mut Vec<Cell>,
    names: &mut Vec<(String, Type)>,
) -> CatalogResult<()> {
    match item {
        SelectItem::UnnamedExpr(expr) => {
            output.push(eval(expr, ctx, env)?);
            names.push((default_name(expr), static_type(expr, env)));
        }
        SelectItem::ExprWithAlias { expr, alias } => {
            output.push(eval(expr, ctx, env)?);
            names.push((alias.value.clone(), static_type(expr, env)));
        }
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
            let qualifier = match item {
                SelectItem::QualifiedWildcard(
                    ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                    _,
                ) => last_name(name),
                _ => None,
            };
            for (source, values) in sources.iter().zip(env.values) {
                if qualifier
                    .as_deref()
                    .is_some_and(|q| !q.eq_ignore_ascii_case(&source.alias))
                {
                    continue;
                }
                output.extend(values.iter().cloned());
                names.extend(source.columns.iter().cloned());
            }
        }
        other => {
            return Err(CatalogError::unsupported(format!(
                "select item `{other}` is not supported in catalog queries"
            )));
        }
    }
    Ok(())
}

fn describe_item(item: &SelectItem, env: &Env, sources: &[Source]) -> Vec<(String, Type)> {
    match item {
        SelectItem::UnnamedExpr(expr) => vec![(default_name(expr), static_type(expr, env))],
        SelectItem::ExprWithAlias { expr, alias } => {
            vec![(alias.value.clone(), static_type(expr, env))]
        }
        _ => sources.iter().flat_map(|s| s.columns.clone()).collect(),
    }
}

/// PostgreSQL's output name of an unaliased expression.
fn default_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        Expr::Function(function) => last_name(&function.name).unwrap_or_default(),
        Expr::Cast { expr, .. } => match expr.as_ref() {
            Expr::Value(_) => "?column?".into(),
            inner => default_name(inner),
        },
        Expr::Nested(inner) => default_name(inner),
        Expr::Case { .. } => "case".into(),
        Expr::Trim { .. } => "btrim".into(),
        _ => "?column?".into(),
    }
}

/// The type an expression has before any row is seen; `UNKNOWN` means "from the values".
fn static_type(expr: &Expr, env: &Env) -> Type {
    match expr {
        Expr::Identifier(ident) => env
            .lookup(None, &ident.value)
            .map_or(Type::UNKNOWN, |(_, t)| t),
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => env
            .lookup(
                Some(&parts[parts.len() - 2].value),
                &parts[parts.len() - 1].value,
            )
            .map_or(Type::UNKNOWN, |(_, t)| t),
        Expr::Cast { data_type, .. } => functions::cast_type(&data_type.to_string()),
        Expr::Nested(inner) => static_type(inner, env),
        Expr::Function(function) => {
            functions::return_type(&last_name(&function.name).unwrap_or_default())
        }
        _ => Type::UNKNOWN,
    }
}

/// A column's type from its values: the first non-NULL decides.
fn infer_type(rows: &[Vec<Cell>], column: usize) -> Type {
    rows.iter()
        .filter_map(|r| r.get(column))
        .find(|c| !c.is_null())
        .map_or(Type::TEXT, cell_type)
}

pub fn cell_type(cell: &Cell) -> Type {
    match cell {
        Cell::Bool(_) => Type::BOOL,
        Cell::Int(_) => Type::INT8,
        Cell::Float(_) => Type::FLOAT8,
        Cell::Bytes(_) => Type::BYTEA,
        Cell::Timestamp(_) => Type::TIMESTAMP,
        Cell::Array(items) => crate::pg::values::array_of(
            &items
                .iter()
                .find(|c| !c.is_null())
                .map_or(Type::TEXT, cell_type),
        ),
        Cell::Null | Cell::Text(_) => Type::TEXT,
    }
}

fn has_aggregate(expr: &Expr) -> bool {
    match expr {
        Expr::Function(function) => {
            functions::is_aggregate(&last_name(&function.name).unwrap_or_default())
        }
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => has_aggregate(inner),
        Expr::BinaryOp { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        _ => false,
    }
}

/// GROUP BY (or a whole-input aggregate): groups by the key values, then evaluates
/// each select item with aggregates over the group and other expressions on its first row.
fn run_aggregate(
    select: &ast::Select,
    order_by: &[&ast::OrderByExpr],
    sources: &[Source],
    rows: Vec<Vec<Vec<Cell>>>,
    ctx: &CatalogContext,
    outer: &Env,
) -> CatalogResult<Answer> {
    let keys: Vec<&Expr> = match &select.group_by {
        GroupByExpr::Expressions(exprs, _) => exprs.iter().collect(),
        GroupByExpr::All(_) => {
            return Err(CatalogError::unsupported("GROUP BY ALL is not supported"));
        }
    };
    let mut groups: Vec<(Vec<Cell>, Rows)> = Vec::new();
    for row in rows {
        let env = Env {
            sources,
            values: &row,
            outer: Some(outer),
        };
        let key = keys
            .iter()
            .map(|k| match k {
                // GROUP BY 1: the first select item.
                Expr::Value(v) if matches!(v.value, Value::Number(..)) => {
                    let index: usize = v.value.to_string().parse().unwrap_or(0);
                    match select.projection.get(index.wrapping_sub(1)) {
                        Some(
                            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. },
                        ) => eval(e, ctx, &env),
                        _ => Err(CatalogError::invalid(format!(
                            "GROUP BY position {index} is not in select list"
                        ))),
                    }
                }
                other => eval(other, ctx, &env),
            })
            .collect::<CatalogResult<Vec<_>>>()?;
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(row),
            None => groups.push((key, vec![row])),
        }
    }
    if groups.is_empty() && keys.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    let mut columns = Vec::new();
    let mut keyed = Vec::new();
    for (index, (_, members)) in groups.iter().enumerate() {
        let empty_row: Vec<Vec<Cell>> = sources
            .iter()
            .map(|s| vec![Cell::Null; s.columns.len()])
            .collect();
        let first = members.first().unwrap_or(&empty_row);
        let env = Env {
            sources,
            values: first,
            outer: Some(outer),
        };
        if let Some(having) = &select.having
            && !truthy(&eval_grouped(having, members, sources, ctx, &env)?)
        {
            continue;
        }
        let mut output = Vec::new();
        let mut names = Vec::new();
        for item in &select.projection {
            let (expr, name) = match item {
                SelectItem::UnnamedExpr(e) => (e, default_name(e)),
                SelectItem::ExprWithAlias { expr, alias } => (expr, alias.value.clone()),
                other => {
                    return Err(CatalogError::unsupported(format!(
                        "`{other}` with GROUP BY is not supported in catalog queries"
                    )));
                }
            };
            output.push(eval_grouped(expr, members, sources, ctx, &env)?);
            names.push((name, static_type(expr, &env)));
        }
        if index == 0 || columns.is_empty() {
            columns = names;
        }
        let keys = order_keys(order_by, &output, &columns, ctx, &env)?;
        keyed.push((keys, output));
    }
    sort_keyed(&mut keyed, order_by);
    let rows: Vec<Vec<Cell>> = keyed.into_iter().map(|(_, r)| r).collect();
    for (i, column) in columns.iter_mut().enumerate() {
        if column.1 == Type::UNKNOWN {
            column.1 = infer_type(&rows, i);
        }
    }
    Ok(Answer { columns, rows })
}

/// Evaluate with aggregates computed over `members`.
fn eval_grouped(
    expr: &Expr,
    members: &[Vec<Vec<Cell>>],
    sources: &[Source],
    ctx: &CatalogContext,
    env: &Env,
) -> CatalogResult<Cell> {
    match expr {
        Expr::Function(function)
            if functions::is_aggregate(&last_name(&function.name).unwrap_or_default()) =>
        {
            let name = last_name(&function.name).unwrap_or_default();
            let args = function_args(&function.args)?;
            let mut values = Vec::with_capacity(members.len());
            for row in members {
                let row_env = Env {
                    sources,
                    values: row,
                    outer: env.outer,
                };
                match args.first() {
                    None | Some(FunctionArgExpr::Wildcard) => values.push(Cell::Int(1)),
                    Some(FunctionArgExpr::Expr(e)) => values.push(eval(e, ctx, &row_env)?),
                    Some(other) => {
                        return Err(CatalogError::unsupported(format!(
                            "aggregate argument `{other}` is not supported"
                        )));
                    }
                }
            }
            let extra = args
                .get(1)
                .map(|a| match a {
                    FunctionArgExpr::Expr(e) => eval(e, ctx, env),
                    _ => Ok(Cell::Null),
                })
                .transpose()?;
            functions::aggregate(&name, values, extra)
        }
        Expr::BinaryOp { left, op, right } if has_aggregate(expr) => {
            let l = eval_grouped(left, members, sources, ctx, env)?;
            let r = eval_grouped(right, members, sources, ctx, env)?;
            binary(l, op, r)
        }
        Expr::Nested(inner) => eval_grouped(inner, members, sources, ctx, env),
        Expr::Cast {
            expr: inner,
            data_type,
            ..
        } if has_aggregate(inner) => {
            let value = eval_grouped(inner, members, sources, ctx, env)?;
            functions::cast(value, &data_type.to_string(), ctx)
        }
        other => eval(other, ctx, env),
    }
}

type Rows = Vec<Vec<Vec<Cell>>>;

/// The joined rows of a FROM list (one empty row when there is no FROM).
fn from_rows(
    from: &[ast::TableWithJoins],
    ctx: &CatalogContext,
    outer: &Env,
) -> CatalogResult<(Vec<Source>, Rows)> {
    let budget = row_budget(ctx)?;
    let mut sources: Vec<Source> = Vec::new();
    let mut rows: Rows = vec![Vec::new()];
    for item in from {
        let (source, relation_rows) = factor(&item.relation, ctx, outer, &sources, &rows)?;
        rows = cross(rows, &relation_rows, budget)?;
        sources.push(source);
        for join in &item.joins {
            let (source, relation_rows) = factor(&join.relation, ctx, outer, &sources, &rows)?;
            let (constraint, left_outer) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (Some(c), false),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (Some(c), true),
                JoinOperator::CrossJoin(c) => (Some(c), false),
                other => {
                    return Err(CatalogError::unsupported(format!(
                        "join `{other:?}` is not supported in catalog queries"
                    )));
                }
            };
            let width = source.columns.len();
            sources.push(source);
            let mut joined = Vec::new();
            for left in rows {
                let mut matched = false;
                for right in &relation_rows {
                    let mut candidate = left.clone();
                    candidate.push(right.clone());
                    let keep = match constraint {
                        Some(JoinConstraint::On(on)) => {
                            let env = Env {
                                sources: &sources,
                                values: &candidate,
                                outer: Some(outer),
                            };
                            truthy(&eval(on, ctx, &env)?)
                        }
                        Some(JoinConstraint::None) | None => true,
                        Some(other) => {
                            return Err(CatalogError::unsupported(format!(
                                "join constraint `{other:?}` is not supported in catalog queries"
                            )));
                        }
                    };
                    if keep {
                        matched = true;
                        joined.push(candidate);
                    }
                }
                if !matched && left_outer {
                    let mut candidate = left;
                    candidate.push(vec![Cell::Null; width]);
                    joined.push(candidate);
                }
                if joined.len() > budget {
                    return Err(too_many_rows("a join", None, budget));
                }
            }
            rows = joined;
        }
    }
    Ok((sources, rows))
}

/// Every left row with every right row; an error, before any allocation, when there
/// would be more than `budget`.
fn cross(left: Rows, right: &[Vec<Cell>], budget: usize) -> CatalogResult<Rows> {
    let count = left.len() as u128 * right.len() as u128;
    if count > budget as u128 {
        return Err(too_many_rows("a cross join", Some(count), budget));
    }
    let mut out = Vec::with_capacity(count as usize);
    for l in left {
        for r in right {
            let mut row = l.clone();
            row.push(r.clone());
            out.push(row);
        }
    }
    Ok(out)
}

fn last_name(name: &ObjectName) -> Option<String> {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => Some(ident.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// `(schema, name)` of a relation name, lower case; unqualified `pg_*` names are in
/// `pg_catalog`, others in `public`.
pub fn split_relation_name(name: &ObjectName) -> (String, String) {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(ident) => Some(ident.value.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let table = parts.last().cloned().unwrap_or_default();
    let schema = if parts.len() >= 2 {
        parts[parts.len() - 2].clone()
    } else if table.starts_with("pg_") {
        "pg_catalog".into()
    } else {
        "public".into()
    };
    (schema, table)
}

/// One FROM item: a catalog relation, a set-returning function, or a subquery.
fn factor(
    factor: &TableFactor,
    ctx: &CatalogContext,
    outer: &Env,
    _left_sources: &[Source],
    _left_rows: &Rows,
) -> CatalogResult<(Source, Vec<Vec<Cell>>)> {
    match factor {
        TableFactor::Table {
            name, alias, args, ..
        } => {
            let (schema, table) = split_relation_name(name);
            let alias_name = alias
                .as_ref()
                .map_or_else(|| table.clone(), |a| a.name.value.clone());
            if let Some(args) = args {
                let values = args
                    .args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => eval(e, ctx, outer),
                        other => Err(CatalogError::unsupported(format!(
                            "table function argument `{other}` is not supported"
                        ))),
                    })
                    .collect::<CatalogResult<Vec<_>>>()?;
                let (column_type, rows) =
                    functions::table_function(&table, values, row_budget(ctx)?)?;
                let column = alias
                    .as_ref()
                    .and_then(|a| a.columns.first().map(|c| c.name.value.clone()))
                    .unwrap_or_else(|| alias_name.clone());
                return Ok((
                    Source {
                        alias: alias_name,
                        columns: vec![(column, column_type)],
                        open: false,
                    },
                    rows.into_iter().map(|c| vec![c]).collect(),
                ));
            }
            let relation: Relation = relation(&schema, &table, ctx).ok_or_else(|| {
                CatalogError::undefined_table(format!(
                    "relation \"{schema}.{table}\" does not exist in Tessera's catalog"
                ))
            })?;
            Ok((
                Source {
                    alias: alias_name,
                    columns: relation.columns,
                    open: relation.open,
                },
                relation.rows,
            ))
        }
        TableFactor::Derived {
            subquery, alias, ..
        } => {
            let answer = run(subquery, ctx, outer)?;
            let alias_name = alias
                .as_ref()
                .map_or_else(String::new, |a| a.name.value.clone());
            Ok((
                Source {
                    alias: alias_name,
                    columns: answer.columns,
                    open: false,
                },
                answer.rows,
            ))
        }
        other => Err(CatalogError::unsupported(format!(
            "FROM item `{other}` is not supported in catalog queries"
        ))),
    }
}

pub fn truthy(cell: &Cell) -> bool {
    match cell {
        Cell::Bool(v) => *v,
        Cell::Int(v) => *v != 0,
        Cell::Text(v) => matches!(v.as_str(), "t" | "true" | "on" | "yes" | "1"),
        _ => false,
    }
}

/// Compare two values the way PostgreSQL would after implicit casts: numbers
/// numerically (text that reads as a number included), otherwise as text.
pub fn compare(a: &Cell, b: &Cell) -> Option<Ordering> {
    match (a, b) {
        (Cell::Null, _) | (_, Cell::Null) => None,
        (Cell::Int(x), Cell::Int(y)) => Some(x.cmp(y)),
        (Cell::Bool(x), Cell::Bool(y)) => Some(x.cmp(y)),
        (Cell::Bool(x), Cell::Text(_)) => Some(x.cmp(&truthy(b))),
        (Cell::Text(_), Cell::Bool(y)) => Some(truthy(a).cmp(y)),
        (Cell::Timestamp(x), Cell::Timestamp(y)) => Some(x.cmp(y)),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => Some(a.to_text()?.cmp(&b.to_text()?)),
        },
    }
}

pub fn number(cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Int(v) => Some(*v as f64),
        Cell::Float(v) => Some(*v),
        Cell::Text(v) => v.trim().parse().ok(),
        Cell::Bool(v) => Some(f64::from(u8::from(*v))),
        _ => None,
    }
}

fn function_args(args: &FunctionArguments) -> CatalogResult<Vec<FunctionArgExpr>> {
    match args {
        FunctionArguments::None => Ok(Vec::new()),
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(arg) => Ok(arg.clone()),
                other => Err(CatalogError::unsupported(format!(
                    "named argument `{other}` is not supported in catalog queries"
                ))),
            })
            .collect(),
        FunctionArguments::Subquery(_) => Err(CatalogError::unsupported(
            "a subquery as function arguments is not supported",
        )),
    }
}

fn binary(l: Cell, op: &BinaryOperator, r: Cell) -> CatalogResult<Cell> {
    use BinaryOperator as B;
    match op {
        B::And => Ok(match (&l, &r) {
            (Cell::Null, _) | (_, Cell::Null)
                if !(matches!(l, Cell::Bool(false)) || matches!(r, Cell::Bool(false))) =>
            {
                Cell::Null
            }
            _ => Cell::Bool(truthy(&l) && truthy(&r)),
        }),
        B::Or => Ok(match (&l, &r) {
            _ if truthy(&l) || truthy(&r) => Cell::Bool(true),
            (Cell::Null, _) | (_, Cell::Null) => Cell::Null,
            _ => Cell::Bool(false),
        }),
        B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => {
            let Some(ordering) = compare(&l, &r) else {
                return Ok(Cell::Null);
            };
            Ok(Cell::Bool(match op {
                B::Eq => ordering == Ordering::Equal,
                B::NotEq => ordering != Ordering::Equal,
                B::Lt => ordering == Ordering::Less,
                B::LtEq => ordering != Ordering::Greater,
                B::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            }))
        }
        B::StringConcat => Ok(match (l.to_text(), r.to_text()) {
            (Some(a), Some(b)) => Cell::Text(a + &b),
            _ => Cell::Null,
        }),
        B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
            let insensitive = matches!(op, B::PGRegexIMatch | B::PGRegexNotIMatch);
            let negated = matches!(op, B::PGRegexNotMatch | B::PGRegexNotIMatch);
            regex_match(&l, &r, insensitive, negated)
        }
        B::PGCustomBinaryOperator(parts) => match parts.last().map(String::as_str) {
            Some("~") => regex_match(&l, &r, false, false),
            Some("~*") => regex_match(&l, &r, true, false),
            Some("!~") => regex_match(&l, &r, false, true),
            Some("!~*") => regex_match(&l, &r, true, true),
            Some("=") => binary(l, &B::Eq, r),
            Some("<>") => binary(l, &B::NotEq, r),
            _ => Err(CatalogError::unsupported(format!(
                "operator OPERATOR({}) is not supported",
                parts.join(".")
            ))),
        },
        B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => arithmetic(l, op, r),
        other => Err(CatalogError::unsupported(format!(
            "operator `{other}` is not supported in catalog queries"
        ))),
    }
}

fn arithmetic(l: Cell, op: &BinaryOperator, r: Cell) -> CatalogResult<Cell> {
    use BinaryOperator as B;
    if l.is_null() || r.is_null() {
        return Ok(Cell::Null);
    }
    if let (Cell::Int(a), Cell::Int(b)) = (&l, &r) {
        let (a, b) = (*a, *b);
        if matches!(op, B::Divide | B::Modulo) && b == 0 {
            return Err(CatalogError {
                sqlstate: "22012",
                message: "division by zero".into(),
            });
        }
        let result = match op {
            B::Plus => a.checked_add(b),
            B::Minus => a.checked_sub(b),
            B::Multiply => a.checked_mul(b),
            B::Divide => a.checked_div(b),
            _ => a.checked_rem(b),
        };
        return result.map(Cell::Int).ok_or_else(|| CatalogError {
            sqlstate: "22003",
            message: "bigint out of range".into(),
        });
    }
    let (Some(a), Some(b)) = (number(&l), number(&r)) else {
        return Err(CatalogError::invalid(format!(
            "cannot apply `{op}` to {l:?} and {r:?}"
        )));
    };
    Ok(Cell::Float(match op {
        B::Plus => a + b,
        B::Minus => a - b,
        B::Multiply => a * b,
        B::Divide => a / b,
        _ => a % b,
    }))
}

fn regex_match(l: &Cell, r: &Cell, insensitive: bool, negated: bool) -> CatalogResult<Cell> {
    let (Some(text), Some(pattern)) = (l.to_text(), r.to_text()) else {
        return Ok(Cell::Null);
    };
    let regex = regex::RegexBuilder::new(&pattern)
        .case_insensitive(insensitive)
        .build()
        .map_err(|e| CatalogError {
            sqlstate: "2201B",
            message: format!("invalid regular expression `{pattern}`: {e}"),
        })?;
    Ok(Cell::Bool(regex.is_match(&text) != negated))
}

fn like(text: &str, pattern: &str, insensitive: bool) -> bool {
    let mut regex = String::from("^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => regex.push_str(".*"),
            '_' => regex.push('.'),
            '\\' => {
                if let Some(next) = chars.next() {
                    regex.push_str(&regex::escape(&next.to_string()));
                }
            }
            other => regex.push_str(&regex::escape(&other.to_string())),
        }
    }
    regex.push('$');
    regex::RegexBuilder::new(&regex)
        .case_insensitive(insensitive)
        .dot_matches_new_line(true)
        .build()
        .is_ok_and(|r| r.is_match(text))
}

fn literal(value: &Value) -> CatalogResult<Cell> {
    Ok(match value {
        Value::Null => Cell::Null,
        Value::Boolean(v) => Cell::Bool(*v),
        Value::Number(text, _) => match text.parse::<i64>() {
            Ok(v) => Cell::Int(v),
            Err(_) => Cell::Float(
                text.parse()
                    .map_err(|_| CatalogError::invalid(format!("`{text}` is not a number")))?,
            ),
        },
        Value::SingleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::DoubleQuotedString(s)
        | Value::NationalStringLiteral(s) => Cell::Text(s.clone()),
        Value::DollarQuotedString(s) => Cell::Text(s.value.clone()),
        other => {
            return Err(CatalogError::unsupported(format!(
                "literal `{other}` is not supported in catalog queries"
            )));
        }
    })
}

/// Evaluate an expression on a row.
pub fn eval(expr: &Expr, ctx: &CatalogContext, env: &Env) -> CatalogResult<Cell> {
    match expr {
        Expr::Value(v) => literal(&v.value),
        Expr::Identifier(ident) => match env.lookup(None, &ident.value) {
            Some((cell, _)) => Ok(cell),
            None => functions::niladic(&ident.value.to_ascii_lowercase(), ctx).ok_or_else(|| {
                CatalogError::undefined_column(format!("column \"{}\" does not exist", ident.value))
            }),
        },
        Expr::CompoundIdentifier(parts) => {
            let n = parts.len();
            let (qualifier, name) = if n >= 2 {
                (
                    Some(parts[n - 2].value.as_str()),
                    parts[n - 1].value.as_str(),
                )
            } else {
                (None, parts[0].value.as_str())
            };
            env.lookup(qualifier, name).map(|(c, _)| c).ok_or_else(|| {
                CatalogError::undefined_column(format!(
                    "column {} does not exist",
                    parts
                        .iter()
                        .map(|p| p.value.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                ))
            })
        }
        Expr::Nested(inner) => eval(inner, ctx, env),
        Expr::Collate { expr, .. } => eval(expr, ctx, env),
        Expr::UnaryOp { op, expr } => {
            let value = eval(expr, ctx, env)?;
            Ok(match (op, value) {
                (_, Cell::Null) => Cell::Null,
                (UnaryOperator::Not, v) => Cell::Bool(!truthy(&v)),
                (UnaryOperator::Minus, Cell::Int(v)) => Cell::Int(v.saturating_neg()),
                (UnaryOperator::Minus, Cell::Float(v)) => Cell::Float(-v),
                (UnaryOperator::Plus, v) => v,
                (op, v) => {
                    return Err(CatalogError::unsupported(format!(
                        "`{op}` on {v:?} is not supported"
                    )));
                }
            })
        }
        Expr::BinaryOp { left, op, right } => {
            let l = eval(left, ctx, env)?;
            if matches!(op, BinaryOperator::And) && matches!(l, Cell::Bool(false)) {
                return Ok(Cell::Bool(false));
            }
            if matches!(op, BinaryOperator::Or) && matches!(l, Cell::Bool(true)) {
                return Ok(Cell::Bool(true));
            }
            let r = eval(right, ctx, env)?;
            binary(l, op, r)
        }
        Expr::IsNull(inner) => Ok(Cell::Bool(eval(inner, ctx, env)?.is_null())),
        Expr::IsNotNull(inner) => Ok(Cell::Bool(!eval(inner, ctx, env)?.is_null())),
        Expr::IsTrue(inner) => Ok(Cell::Bool(matches!(
            eval(inner, ctx, env)?,
            Cell::Bool(true)
        ))),
        Expr::IsFalse(inner) => Ok(Cell::Bool(matches!(
            eval(inner, ctx, env)?,
            Cell::Bool(false)
        ))),
        Expr::IsNotTrue(inner) => Ok(Cell::Bool(!matches!(
            eval(inner, ctx, env)?,
            Cell::Bool(true)
        ))),
        Expr::IsNotFalse(inner) => Ok(Cell::Bool(!matches!(
            eval(inner, ctx, env)?,
            Cell::Bool(false)
        ))),
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            let (a, b) = (eval(a, ctx, env)?, eval(b, ctx, env)?);
            let same = match (&a, &b) {
                (Cell::Null, Cell::Null) => true,
                (Cell::Null, _) | (_, Cell::Null) => false,
                _ => compare(&a, &b) == Some(Ordering::Equal),
            };
            Ok(Cell::Bool(
                same == matches!(expr, Expr::IsNotDistinctFrom(..)),
            ))
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let v = eval(expr, ctx, env)?;
            let (lo, hi) = (eval(low, ctx, env)?, eval(high, ctx, env)?);
            match (compare(&v, &lo), compare(&v, &hi)) {
                (Some(a), Some(b)) => Ok(Cell::Bool(
                    (a != Ordering::Less && b != Ordering::Greater) != *negated,
                )),
                _ => Ok(Cell::Null),
            }
        }
        Expr::In {
            expr,
            target,
            negated,
            ..
        } => {
            let value = eval(expr, ctx, env)?;
            let candidates: Vec<Cell> = match target {
                ast::InTarget::List(list) => list
                    .iter()
                    .map(|e| eval(e, ctx, env))
                    .collect::<CatalogResult<_>>()?,
                ast::InTarget::Subquery(query) => {
                    let answer = run(query, ctx, env)?;
                    answer
                        .rows
                        .into_iter()
                        .filter_map(|r| r.into_iter().next())
                        .collect()
                }
                other => {
                    return Err(CatalogError::unsupported(format!(
                        "IN {other} is not supported in catalog queries"
                    )));
                }
            };
            in_list(&value, &candidates, *negated)
        }
        Expr::AnyOp {
            left,
            compare_op,
            right,
            ..
        }
        | Expr::AllOp {
            left,
            compare_op,
            right,
        } => {
            let value = eval(left, ctx, env)?;
            let items = match eval(right, ctx, env)? {
                Cell::Array(items) => items,
                Cell::Null => return Ok(Cell::Null),
                other => vec![other],
            };
            let all = matches!(expr, Expr::AllOp { .. });
            let mut result = all;
            for item in items {
                let hit = truthy(&binary(value.clone(), compare_op, item)?);
                if all && !hit {
                    result = false;
                    break;
                }
                if !all && hit {
                    result = true;
                    break;
                }
            }
            Ok(Cell::Bool(result))
        }
        Expr::Like {
            negated,
            expr: subject,
            pattern,
            ..
        } => like_expr(subject, pattern, *negated, false, ctx, env),
        Expr::ILike {
            negated,
            expr: subject,
            pattern,
            ..
        } => like_expr(subject, pattern, *negated, true, ctx, env),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let subject = operand.as_ref().map(|o| eval(o, ctx, env)).transpose()?;
            for when in conditions {
                let hit = match &subject {
                    Some(s) => {
                        compare(s, &eval(&when.condition, ctx, env)?) == Some(Ordering::Equal)
                    }
                    None => truthy(&eval(&when.condition, ctx, env)?),
                };
                if hit {
                    return eval(&when.result, ctx, env);
                }
            }
            else_result
                .as_ref()
                .map_or(Ok(Cell::Null), |e| eval(e, ctx, env))
        }
        Expr::Cast {
            expr, data_type, ..
        } => {
            let value = eval(expr, ctx, env)?;
            functions::cast(value, &data_type.to_string(), ctx)
        }
        Expr::TypedString(typed) => {
            let value = literal(&typed.value.value)?;
            functions::cast(value, &typed.data_type.to_string(), ctx)
        }
        Expr::Function(function) => {
            let name = last_name(&function.name).unwrap_or_default();
            let args = function_args(&function.args)?
                .iter()
                .map(|a| match a {
                    FunctionArgExpr::Expr(e) => eval(e, ctx, env),
                    FunctionArgExpr::Wildcard => Ok(Cell::Null),
                    other => Err(CatalogError::unsupported(format!(
                        "argument `{other}` is not supported"
                    ))),
                })
                .collect::<CatalogResult<Vec<_>>>()?;
            functions::call(&name, args, ctx)
        }
        Expr::Trim {
            expr,
            trim_where,
            trim_what,
            ..
        } => {
            let Some(text) = eval(expr, ctx, env)?.to_text() else {
                return Ok(Cell::Null);
            };
            let what = match trim_what {
                Some(w) => eval(w, ctx, env)?.to_text().unwrap_or_default(),
                None => " ".into(),
            };
            let set: Vec<char> = what.chars().collect();
            let trimmed = match trim_where {
                Some(ast::TrimWhereField::Leading) => text.trim_start_matches(&set[..]),
                Some(ast::TrimWhereField::Trailing) => text.trim_end_matches(&set[..]),
                _ => text.trim_matches(&set[..]),
            };
            Ok(Cell::Text(trimmed.to_string()))
        }
        Expr::Subquery(query) => {
            let answer = run(query, ctx, env)?;
            if answer.rows.len() > 1 {
                return Err(CatalogError {
                    sqlstate: "21000",
                    message: "more than one row returned by a subquery used as an expression"
                        .into(),
                });
            }
            Ok(answer
                .rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next())
                .unwrap_or(Cell::Null))
        }
        Expr::Exists { subquery, negated } => {
            let answer = run(subquery, ctx, env)?;
            Ok(Cell::Bool(answer.rows.is_empty() == *negated))
        }
        Expr::Array(array) => Ok(Cell::Array(
            array
                .elem
                .iter()
                .map(|e| eval(e, ctx, env))
                .collect::<CatalogResult<_>>()?,
        )),
        Expr::CompoundFieldAccess { root, access_chain } => {
            let mut value = eval(root, ctx, env)?;
            for access in access_chain {
                let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = access else {
                    return Err(CatalogError::unsupported(format!(
                        "`{access}` is not supported in catalog queries"
                    )));
                };
                let index = eval(index, ctx, env)?;
                value = match (value, index) {
                    (Cell::Array(items), Cell::Int(i)) if i >= 1 => {
                        items.get(i as usize - 1).cloned().unwrap_or(Cell::Null)
                    }
                    _ => Cell::Null,
                };
            }
            Ok(value)
        }
        Expr::Extract { field, expr, .. } => {
            let value = eval(expr, ctx, env)?;
            functions::extract(&field.to_string(), value)
        }
        other => Err(CatalogError::unsupported(format!(
            "expression `{other}` is not supported in catalog queries"
        ))),
    }
}

fn like_expr(
    subject: &Expr,
    pattern: &Expr,
    negated: bool,
    insensitive: bool,
    ctx: &CatalogContext,
    env: &Env,
) -> CatalogResult<Cell> {
    let (v, p) = (eval(subject, ctx, env)?, eval(pattern, ctx, env)?);
    let (Some(v), Some(p)) = (v.to_text(), p.to_text()) else {
        return Ok(Cell::Null);
    };
    Ok(Cell::Bool(like(&v, &p, insensitive) != negated))
}

fn in_list(value: &Cell, candidates: &[Cell], negated: bool) -> CatalogResult<Cell> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let mut saw_null = false;
    for candidate in candidates {
        match compare(value, candidate) {
            Some(Ordering::Equal) => return Ok(Cell::Bool(!negated)),
            None => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Cell::Null
    } else {
        Cell::Bool(negated)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sqlparser::dialect::PostgreSqlDialect;
    use tessera_query::types::{ColumnType, SqlType};

    use super::*;
    use crate::pg::catalog::CatalogTable;

    fn ctx() -> CatalogContext {
        let long = ColumnType {
            element: SqlType::Long,
            single_value: true,
        };
        CatalogContext {
            tables: vec![CatalogTable {
                oid: 16_384,
                name: "events".into(),
                columns: vec![
                    ("id".into(), long),
                    (
                        "ts".into(),
                        ColumnType {
                            element: SqlType::Timestamp,
                            single_value: true,
                        },
                    ),
                ],
                rows: 10,
                bytes: 100,
            }],
            settings: HashMap::new(),
            user: "tessera".into(),
            database: "default".into(),
        }
    }

    fn query(sql: &str) -> CatalogResult<Answer> {
        query_in(sql, &ctx())
    }

    fn query_in(sql: &str, ctx: &CatalogContext) -> CatalogResult<Answer> {
        let mut statements =
            tessera_query::sql_limits::parse_statements(&PostgreSqlDialect {}, sql)
                .map_err(|e| CatalogError::invalid(e.into_query_error().to_string()))?;
        match statements.pop() {
            Some(sqlparser::ast::Statement::Query(q)) => run_query(&q, ctx),
            _ => Err(CatalogError::invalid("not a query")),
        }
    }

    #[test]
    fn test_row_budget_bounds_series_and_joins_with_an_error_naming_the_limit() {
        // The query that once asked the allocator for 24 TB and aborted the process.
        let error = query(
            "SELECT count(*) FROM generate_series(1,1000000) a, generate_series(1,1000000) b",
        )
        .expect_err("over the budget");
        assert_eq!(error.sqlstate, "54000");
        assert!(
            error.message.contains("1000000000000 rows"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("catalogMaxRows = 1000000"),
            "{}",
            error.message
        );
        // An explicit join over the budget stops as it grows past it.
        let error = query(
            "SELECT count(*) FROM generate_series(1,2000) a JOIN generate_series(1,2000) b ON true",
        )
        .expect_err("over the budget");
        assert!(error.message.contains("a join"), "{}", error.message);
        // Within the budget, exact: no series is silently cut.
        let answer = query("SELECT count(*) FROM generate_series(1,1000000) AS x").expect("runs");
        assert_eq!(texts(&answer), [["1000000"]]);
        let answer =
            query("SELECT count(*) FROM generate_series(1,1000) a, generate_series(1,1000) b")
                .expect("runs");
        assert_eq!(texts(&answer), [["1000000"]]);
        // The session sets it, within bounds.
        let mut small = ctx();
        small.settings.insert("catalogmaxrows".into(), "10".into());
        assert!(query_in("SELECT x FROM generate_series(1,10) AS x", &small).is_ok());
        let error = query_in("SELECT x FROM generate_series(1,11) AS x", &small)
            .expect_err("over the session's budget");
        assert!(error.message.contains("11 rows"), "{}", error.message);
        small
            .settings
            .insert("catalogmaxrows".into(), "99999999999".into());
        let error = query_in("SELECT 1", &small).expect_err("a budget over the maximum");
        assert!(error.message.contains("10000000"), "{}", error.message);
    }

    fn texts(answer: &Answer) -> Vec<Vec<String>> {
        answer
            .rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_text().unwrap_or_default()).collect())
            .collect()
    }

    #[test]
    fn test_psql_list_tables_query() -> CatalogResult<()> {
        let answer = query(
            "SELECT n.nspname as \"Schema\", c.relname as \"Name\", \
             CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' END as \"Type\", \
             pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" \
             FROM pg_catalog.pg_class c \
             LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
             WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' \
             AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' \
             AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2",
        )?;
        assert_eq!(
            answer
                .columns
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>(),
            ["Schema", "Name", "Type", "Owner"]
        );
        assert_eq!(texts(&answer), [["public", "events", "table", "tessera"]]);
        Ok(())
    }

    #[test]
    fn test_correlated_subquery_and_regex_operator() -> CatalogResult<()> {
        let answer = query(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
             (SELECT count(*) FROM pg_catalog.pg_attribute b WHERE b.attrelid = a.attrelid) \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = '16384' AND a.attnum > 0 \
             AND a.attrelid IN (SELECT c.oid FROM pg_catalog.pg_class c \
               WHERE c.relname OPERATOR(pg_catalog.~) '^(events)$' COLLATE pg_catalog.default) \
             ORDER BY a.attnum",
        )?;
        assert_eq!(
            texts(&answer),
            [
                ["id", "bigint", "2"],
                ["ts", "timestamp without time zone", "2"]
            ]
        );
        Ok(())
    }

    #[test]
    fn test_overflow_and_bad_input_are_errors_not_panics() {
        assert!(query("SELECT 9223372036854775807 + 1").is_err());
        assert!(query("SELECT (-9223372036854775807 - 1) / -1").is_err());
        assert!(query("SELECT 1 / 0").is_err());
        assert!(
            query(
                "SELECT x FROM generate_series(-9223372036854775807, 9223372036854775807, -1) AS x"
            )
            .is_ok()
        );
        let too_long = query("SELECT count(*) FROM generate_series(1, 9223372036854775807) AS x");
        assert!(too_long.is_err_and(|e| e.sqlstate == "54000"));
        assert!(query("SELECT 'a' ~ '('").is_err());
        assert!(query("SELECT * FROM pg_catalog.pg_nope").is_ok());
        assert!(query("SELECT * FROM pg_catalog.nope_not_pg").is_err());
        assert!(query("SELECT * FROM information_schema.nope").is_ok());
        assert!(query("SELECT * FROM nowhere.nope").is_err());
        assert!(query("SELECT abs(-9223372036854775807 - 1)").is_ok());
    }
}
