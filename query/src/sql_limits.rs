//! The limits every SQL text meets before anything walks it, for every parser of the
//! process (the engine's, the PostgreSQL wire's statement routing, its catalog
//! interpreter): a text of at most [`MAX_QUERY_BYTES`], whose expressions nest at most
//! [`MAX_EXPRESSION_DEPTH`] deep (ClickHouse's `max_ast_depth` default). sqlparser
//! builds a chain such as `a = 1 OR a = 2 OR …` or `1 + 1 + …` as a tree as deep as
//! the chain is long, without recursing itself; everything that walks the tree after it
//! (the planner, evaluation, printing, dropping) recurses once per level. Unchecked,
//! a thousand-term OR overflowed a server thread's stack and aborted the process.
//!
//! Query threads run with [`QUERY_THREAD_STACK_BYTES`] of stack, sized so a tree at the
//! depth limit is planned, evaluated and printed on them even in a debug build; a tree
//! over the limit is refused after a walk that stops at the limit, and dropped on a
//! thread with room for the deepest tree the text limit allows.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, SetExpr, Statement, Visit, Visitor};
use sqlparser::dialect::Dialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::QueryError;

/// The longest SQL text accepted (ClickHouse's `max_query_size` is 256 KiB; Pinot
/// users send long IN lists, so 1 MiB).
pub const MAX_QUERY_BYTES: usize = 1 << 20;

/// How deep expressions may nest: a chain of N operators is N deep. Longer chains of
/// one column's values belong in `IN (…)`, which is one level however long.
pub const MAX_EXPRESSION_DEPTH: usize = 1_000;

/// The stack of every thread that plans or runs a query (tokio runtimes, the rayon
/// pool): address space reserved, touched only as deep as a query goes.
pub const QUERY_THREAD_STACK_BYTES: usize = 64 << 20;

/// Texts longer than this are parsed on a thread of their own with
/// [`LONG_TEXT_STACK_BYTES`]: whatever they build — a tree refused as too deep, or
/// half a tree dropped on a syntax error — is dropped there. Shorter texts cannot
/// build a tree deep enough to trouble any thread's stack.
const INLINE_TEXT_BYTES: usize = 4 << 10;

/// The deepest tree `MAX_QUERY_BYTES` of text can build (two bytes a level), with
/// room for a debug build's frames. Address space; touched only as deep as used.
const LONG_TEXT_STACK_BYTES: usize = 1 << 30;

/// Give the process's rayon pool (where segments are scanned and expressions
/// evaluated) query-sized stacks. Call once, before the first query; later calls, and a
/// pool already built, leave it as it is.
pub fn size_query_threads() {
    let sized = rayon::ThreadPoolBuilder::new()
        .stack_size(QUERY_THREAD_STACK_BYTES)
        .build_global();
    if let Err(error) = sized {
        tracing::debug!(%error, "the rayon pool was built already");
    }
}

/// Why a text was not turned into statements.
#[derive(Debug)]
pub enum ParseFailure {
    /// A limit of this module, as a query error naming it.
    Limit(QueryError),
    /// sqlparser's own error.
    Syntax(ParserError),
}

impl ParseFailure {
    /// As a query error: limits as they are, syntax errors as parse errors.
    pub fn into_query_error(self) -> QueryError {
        match self {
            ParseFailure::Limit(error) => error,
            ParseFailure::Syntax(error) => QueryError::parse(format!("SQL parse error: {error}")),
        }
    }
}

/// Parse `text` with `dialect` within the limits above.
pub fn parse_statements<D: Dialect + Sync>(
    dialect: &D,
    text: &str,
) -> Result<Vec<Statement>, ParseFailure> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(ParseFailure::Limit(QueryError::invalid(format!(
            "the query is {} bytes, over the limit of {MAX_QUERY_BYTES} bytes (max query size)",
            text.len()
        ))));
    }
    if text.len() <= INLINE_TEXT_BYTES {
        return parse_within_depth(dialect, text);
    }
    std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("long-sql-parse".into())
            .stack_size(LONG_TEXT_STACK_BYTES)
            .spawn_scoped(scope, || parse_within_depth(dialect, text));
        match parser.map(|handle| handle.join()) {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(_)) => Err(ParseFailure::Limit(QueryError::execution(
                "the SQL parser failed on a long text",
            ))),
            Err(error) => Err(ParseFailure::Limit(QueryError::execution(format!(
                "no thread to parse a long SQL text on: {error}"
            )))),
        }
    })
}

/// Parse, then walk the tree no deeper than the limit; a deeper tree is dropped here.
fn parse_within_depth(dialect: &dyn Dialect, text: &str) -> Result<Vec<Statement>, ParseFailure> {
    let statements = Parser::parse_sql(dialect, text).map_err(ParseFailure::Syntax)?;
    let mut depth = Depth { now: 0 };
    if statements.visit(&mut depth).is_break() {
        drop(statements);
        return Err(ParseFailure::Limit(QueryError::invalid(format!(
            "expressions (or set operations) nest more than {MAX_EXPRESSION_DEPTH} deep \
             (max expression depth): a chain of ORs over one column's values is an IN \
             list, which is one level"
        ))));
    }
    Ok(statements)
}

/// Counts the expressions open on the path from the root; breaks past the limit, so
/// the walk itself never recurses deeper than the limit.
struct Depth {
    now: usize,
}

impl Visitor for Depth {
    type Break = ();

    /// A query's chain of set operations (`… UNION ALL … UNION ALL …`) is a tree of
    /// its own, outside expressions: counted without recursion, against the same limit.
    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let mut operations = 0usize;
        let mut open = vec![query.body.as_ref()];
        while let Some(set) = open.pop() {
            if let SetExpr::SetOperation { left, right, .. } = set {
                operations += 1;
                if operations > MAX_EXPRESSION_DEPTH {
                    return ControlFlow::Break(());
                }
                open.push(left);
                open.push(right);
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.now += 1;
        if self.now > MAX_EXPRESSION_DEPTH {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::GenericDialect;

    use super::*;

    fn message(result: Result<Vec<Statement>, ParseFailure>) -> String {
        match result {
            Err(ParseFailure::Limit(error)) => error.to_string(),
            Err(ParseFailure::Syntax(error)) => panic!("a limit, not a syntax error: {error}"),
            Ok(_) => panic!("a limit error"),
        }
    }

    fn chain(terms: usize) -> String {
        let ors: Vec<String> = (0..terms).map(|i| format!("a = {i}")).collect();
        format!("SELECT COUNT(*) FROM t WHERE {}", ors.join(" OR "))
    }

    #[test]
    fn test_a_chain_at_the_depth_limit_parses_and_one_past_it_is_refused() {
        // N ORs over N + 1 comparisons: the comparisons are one level deeper.
        assert!(parse_statements(&GenericDialect {}, &chain(MAX_EXPRESSION_DEPTH - 1)).is_ok());
        let refused = message(parse_statements(
            &GenericDialect {},
            &chain(MAX_EXPRESSION_DEPTH + 1),
        ));
        assert!(refused.contains("max expression depth"), "{refused}");
    }

    #[test]
    fn test_the_deepest_tree_the_size_limit_allows_is_refused_without_overflow() {
        let terms = MAX_QUERY_BYTES / 2 - 20;
        let text = format!("SELECT {}1 FROM t", "1+".repeat(terms));
        assert!(text.len() <= MAX_QUERY_BYTES);
        let refused = message(parse_statements(&GenericDialect {}, &text));
        assert!(refused.contains("1000"), "{refused}");
        // Half a tree that deep, dropped on a syntax error at its end.
        let broken = format!("SELECT {}1 + ) FROM t", "1+".repeat(terms));
        assert!(matches!(
            parse_statements(&GenericDialect {}, &broken),
            Err(ParseFailure::Syntax(_))
        ));
        let too_long = format!("SELECT {}1 FROM t", "1+".repeat(MAX_QUERY_BYTES));
        let refused = message(parse_statements(&GenericDialect {}, &too_long));
        assert!(refused.contains("max query size"), "{refused}");
    }

    #[test]
    fn test_a_chain_of_unions_counts_against_the_limit() {
        let unions = |n: usize| vec!["SELECT 1"; n + 1].join(" UNION ALL ");
        assert!(parse_statements(&GenericDialect {}, &unions(MAX_EXPRESSION_DEPTH)).is_ok());
        let refused = message(parse_statements(
            &GenericDialect {},
            &unions(MAX_EXPRESSION_DEPTH + 1),
        ));
        assert!(refused.contains("max expression depth"), "{refused}");
    }

    #[test]
    fn test_long_in_lists_are_one_level() {
        let values: Vec<String> = (0..50_000).map(|i| i.to_string()).collect();
        let text = format!("SELECT COUNT(*) FROM t WHERE a IN ({})", values.join(","));
        assert!(parse_statements(&GenericDialect {}, &text).is_ok());
    }
}
