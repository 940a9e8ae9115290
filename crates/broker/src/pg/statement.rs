//! What a statement on the PG wire is: a session command Tessera answers itself (SET,
//! SHOW, BEGIN, ...), a catalog query (`pg_catalog`, `information_schema`, or no FROM
//! at all), or a query over Tessera tables for the engine.

use sqlparser::ast::{Query, SetExpr, Statement, TableFactor};
use sqlparser::dialect::PostgreSqlDialect;
use tessera_query::sql_limits::parse_statements;

use super::catalog::interpreter::split_relation_name;

#[derive(Debug, Clone)]
pub enum Command {
    /// `SET [SESSION|LOCAL] name {=|TO} value`.
    Set {
        name: String,
        value: String,
    },
    /// `RESET name` / `RESET ALL` (`None`).
    Reset(Option<String>),
    /// `SHOW name` / `SHOW ALL`.
    Show(String),
    Begin,
    Commit,
    Rollback,
    /// Accepted and ignored; answers with this command tag.
    Ignored(String),
    /// A query over the virtual catalog.
    Catalog(Box<Query>),
    /// A query over Tessera tables (the SQL text as the engine gets it).
    Tessera(String),
    /// A statement Tessera does not run over the PG wire.
    Unsupported(String),
}

type Relation = (String, String, bool);

fn first_words(sql: &str, n: usize) -> Vec<String> {
    sql.split_whitespace()
        .take(n)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect()
}

/// Classify one statement (no trailing `;`).
pub fn classify(sql: &str, is_tessera_table: &dyn Fn(&str) -> bool) -> Command {
    let words = first_words(sql, 3);
    let first = words.first().map(String::as_str).unwrap_or("");
    match first {
        "SET" => return parse_set(sql),
        "RESET" => {
            let name = sql.split_whitespace().nth(1).unwrap_or("ALL");
            return Command::Reset(if name.eq_ignore_ascii_case("all") {
                None
            } else {
                Some(name.to_ascii_lowercase())
            });
        }
        "SHOW" => {
            let rest = sql.trim()[4..].trim().trim_end_matches(';').trim();
            return Command::Show(rest.to_ascii_lowercase().replace(' ', "_"));
        }
        "BEGIN" | "START" => return Command::Begin,
        "COMMIT" | "END" => return Command::Commit,
        "ROLLBACK" | "ABORT" => return Command::Rollback,
        "DISCARD" => return Command::Ignored(words[..words.len().min(2)].join(" ")),
        "DEALLOCATE" | "CLOSE" | "LISTEN" | "UNLISTEN" => {
            return Command::Ignored(first.to_string());
        }
        "EXPLAIN" => return Command::Tessera(sql.to_string()),
        "SELECT" | "WITH" | "VALUES" | "(" | "TABLE" => {}
        _ if first.starts_with('(') => {}
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "UPSERT" | "CREATE" | "DROP" | "ALTER"
        | "TRUNCATE" | "COPY" | "GRANT" | "REVOKE" | "CALL" | "DO" | "VACUUM" | "ANALYZE"
        | "LOCK" | "PREPARE" | "EXECUTE" | "COMMENT" | "REINDEX" | "CLUSTER" | "REFRESH" => {
            let other = first;
            return Command::Unsupported(format!(
                "{other} is not supported: Tessera answers queries over the PostgreSQL wire; \
                 ingest with `tessera ingest`, POST /ingest/{{table}} or a stream"
            ));
        }
        // Anything else: the engine's parser says what is wrong and where.
        _ => return Command::Tessera(sql.to_string()),
    }
    let Ok(mut statements) = parse_statements(&PostgreSqlDialect {}, sql) else {
        // Not PostgreSQL syntax sqlparser knows, or over a limit: the engine reports
        // what is wrong.
        return Command::Tessera(sql.to_string());
    };
    let Some(Statement::Query(query)) = statements.pop() else {
        return Command::Tessera(sql.to_string());
    };
    let mut relations = Vec::new();
    collect_relations(&query, &mut relations);
    // `pg_catalog.x` / `information_schema.x` are always the catalog; an unqualified
    // `pg_x` is too unless a Tessera table has that name.
    let catalog = relations.is_empty()
        || relations.iter().any(|(schema, table, explicit)| {
            matches!(schema.as_str(), "pg_catalog" | "information_schema")
                && (*explicit || !is_tessera_table(table))
        });
    if catalog {
        Command::Catalog(query)
    } else {
        Command::Tessera(sql.to_string())
    }
}

fn parse_set(sql: &str) -> Command {
    let rest = sql.trim()[3..].trim();
    let rest = rest
        .strip_prefix("SESSION ")
        .or_else(|| rest.strip_prefix("session "))
        .or_else(|| rest.strip_prefix("LOCAL "))
        .or_else(|| rest.strip_prefix("local "))
        .unwrap_or(rest)
        .trim();
    let lower = rest.to_ascii_lowercase();
    if let Some(zone) = lower.strip_prefix("time zone") {
        return Command::Set {
            name: "timezone".into(),
            value: unquote(zone.trim()),
        };
    }
    let (name, value) = match rest.find('=') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => match lower.find(" to ") {
            Some(i) => (&rest[..i], &rest[i + 4..]),
            None => {
                // SET SESSION CHARACTERISTICS ..., SET TRANSACTION ...: accepted.
                return Command::Ignored("SET".into());
            }
        },
    };
    Command::Set {
        name: name.trim().to_string(),
        value: unquote(value.trim()),
    }
}

fn unquote(value: &str) -> String {
    let value = value.trim().trim_end_matches(';').trim();
    if value.len() >= 2
        && ((value.starts_with('\'') && value.ends_with('\''))
            || (value.starts_with('"') && value.ends_with('"')))
    {
        value[1..value.len() - 1].replace("''", "'")
    } else {
        value.to_string()
    }
}

/// Every `(schema, table, schema written)` a query reads, subqueries included.
fn collect_relations(query: &Query, out: &mut Vec<Relation>) {
    collect_set_expr(&query.body, out);
}

fn collect_set_expr(body: &SetExpr, out: &mut Vec<Relation>) {
    match body {
        SetExpr::Select(select) => {
            for from in &select.from {
                collect_factor(&from.relation, out);
                for join in &from.joins {
                    collect_factor(&join.relation, out);
                }
            }
        }
        SetExpr::Query(query) => collect_relations(query, out),
        SetExpr::SetOperation { left, right, .. } => {
            collect_set_expr(left, out);
            collect_set_expr(right, out);
        }
        _ => {}
    }
}

fn collect_factor(factor: &TableFactor, out: &mut Vec<Relation>) {
    match factor {
        // A set-returning function (generate_series, unnest) is not a table.
        TableFactor::Table { args: Some(_), .. } => {
            out.push(("pg_catalog".into(), String::new(), true));
        }
        TableFactor::Table { name, .. } => {
            let (schema, table) = split_relation_name(name);
            out.push((schema, table, name.0.len() >= 2));
        }
        TableFactor::Derived { subquery, .. } => collect_relations(subquery, out),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            collect_factor(&table_with_joins.relation, out);
            for join in &table_with_joins.joins {
                collect_factor(&join.relation, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(sql: &str) -> &'static str {
        match classify(sql, &|t| t == "events") {
            Command::Set { .. } => "set",
            Command::Reset(_) => "reset",
            Command::Show(_) => "show",
            Command::Begin | Command::Commit | Command::Rollback => "tx",
            Command::Ignored(_) => "ignored",
            Command::Catalog(_) => "catalog",
            Command::Tessera(_) => "tessera",
            Command::Unsupported(_) => "unsupported",
        }
    }

    #[test]
    fn test_statements_are_routed_by_what_they_read() {
        assert_eq!(kind("SELECT COUNT(*) FROM events"), "tessera");
        assert_eq!(kind("SELECT COUNT(*) FROM public.events"), "tessera");
        assert_eq!(kind("SELECT version()"), "catalog");
        // A Tessera table named like a catalog relation does not capture the catalog.
        assert_eq!(kind("SELECT * FROM information_schema.events"), "catalog");
        assert_eq!(kind("SELECT * FROM pg_events"), "catalog");
        assert_eq!(kind("SELECT relname FROM pg_catalog.pg_class"), "catalog");
        assert_eq!(
            kind("select * from pg_class c join pg_namespace n on true"),
            "catalog"
        );
        assert_eq!(
            kind("SELECT table_name FROM information_schema.tables"),
            "catalog"
        );
        assert_eq!(kind("SET search_path TO public"), "set");
        assert_eq!(kind("SET TIME ZONE 'UTC'"), "set");
        assert_eq!(kind("SHOW server_version"), "show");
        assert_eq!(kind("BEGIN"), "tx");
        assert_eq!(kind("DISCARD ALL"), "ignored");
        assert_eq!(kind("INSERT INTO events VALUES (1)"), "unsupported");
        assert_eq!(kind("SELEC 1 FROM events"), "tessera");
    }

    #[test]
    fn test_set_forms() {
        match parse_set("SET SESSION timeoutMs = '500'") {
            Command::Set { name, value } => {
                assert_eq!((name.as_str(), value.as_str()), ("timeoutMs", "500"))
            }
            other => panic!("{other:?}"),
        }
        match parse_set("set extra_float_digits to 3") {
            Command::Set { name, value } => {
                assert_eq!((name.as_str(), value.as_str()), ("extra_float_digits", "3"))
            }
            other => panic!("{other:?}"),
        }
    }
}
