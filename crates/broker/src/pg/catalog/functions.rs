//! The server functions catalog queries call: `version()`, `current_setting`,
//! `pg_catalog.format_type`, `quote_ident`, `string_to_array`, `generate_series`, the
//! privilege and visibility checks (always true: every table is readable and in
//! `public`), a few aggregates and casts.

use pgwire::api::Type;

use super::interpreter::{CatalogError, CatalogResult, number, too_many_rows};
use super::relations::{CatalogContext, SERVER_VERSION, format_type};
use crate::pg::values::Cell;

/// The `version()` string.
pub fn version() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (Tessera {}) on {}-linux, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// Keywords that read like columns but are values: `user`, `current_schema`, ...
pub fn niladic(name: &str, ctx: &CatalogContext) -> Option<Cell> {
    Some(match name {
        "user" | "current_user" | "session_user" | "current_role" => Cell::Text(ctx.user.clone()),
        "current_schema" => Cell::Text("public".into()),
        "current_catalog" => Cell::Text(ctx.database.clone()),
        "current_timestamp" | "now" | "localtimestamp" => {
            Cell::Timestamp(tessera_segment::now_ms())
        }
        _ => return None,
    })
}

/// The type a function returns when it is known before evaluation.
pub fn return_type(name: &str) -> Type {
    match name {
        "version"
        | "current_setting"
        | "current_database"
        | "current_schema"
        | "quote_ident"
        | "format_type"
        | "pg_get_userbyid"
        | "pg_encoding_to_char"
        | "pg_size_pretty" => Type::TEXT,
        "pg_table_is_visible"
        | "has_table_privilege"
        | "has_schema_privilege"
        | "has_database_privilege"
        | "pg_is_in_recovery" => Type::BOOL,
        "count" => Type::INT8,
        _ => Type::UNKNOWN,
    }
}

pub fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "min"
            | "max"
            | "sum"
            | "avg"
            | "array_agg"
            | "string_agg"
            | "bool_and"
            | "bool_or"
    )
}

/// An aggregate over a group's values (`extra` is `string_agg`'s delimiter).
pub fn aggregate(name: &str, values: Vec<Cell>, extra: Option<Cell>) -> CatalogResult<Cell> {
    let present: Vec<Cell> = values.into_iter().filter(|c| !c.is_null()).collect();
    Ok(match name {
        "count" => Cell::Int(present.len() as i64),
        "min" | "max" => {
            let mut best: Option<Cell> = None;
            for value in present {
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let o = super::interpreter::compare(&value, b);
                        if name == "min" {
                            o == Some(std::cmp::Ordering::Less)
                        } else {
                            o == Some(std::cmp::Ordering::Greater)
                        }
                    }
                };
                if better {
                    best = Some(value);
                }
            }
            best.unwrap_or(Cell::Null)
        }
        "sum" | "avg" => {
            if present.is_empty() {
                return Ok(Cell::Null);
            }
            let all_int = present.iter().all(|c| matches!(c, Cell::Int(_)));
            let total: f64 = present.iter().filter_map(number).sum();
            if name == "avg" {
                Cell::Float(total / present.len() as f64)
            } else if all_int {
                Cell::Int(
                    present
                        .iter()
                        .map(|c| if let Cell::Int(v) = c { *v } else { 0 })
                        .sum(),
                )
            } else {
                Cell::Float(total)
            }
        }
        "array_agg" => Cell::Array(present),
        "string_agg" => {
            let delimiter = extra.and_then(|d| d.to_text()).unwrap_or_default();
            if present.is_empty() {
                Cell::Null
            } else {
                Cell::Text(
                    present
                        .iter()
                        .filter_map(Cell::to_text)
                        .collect::<Vec<_>>()
                        .join(&delimiter),
                )
            }
        }
        "bool_and" => Cell::Bool(present.iter().all(super::interpreter::truthy)),
        "bool_or" => Cell::Bool(present.iter().any(super::interpreter::truthy)),
        other => {
            return Err(CatalogError::unsupported(format!(
                "aggregate {other}() is not supported in catalog queries"
            )));
        }
    })
}

/// `quote_ident`: double-quoted unless a plain lower-case identifier.
pub fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `parse_ident('a."B c"')` → `{a,"B c"}`.
fn parse_ident(text: &str) -> CatalogResult<Vec<Cell>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => {
                        return Err(CatalogError::invalid(format!(
                            "string is not a valid identifier: \"{text}\""
                        )));
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
            part = part.trim().to_string();
        }
        if part.is_empty() {
            return Err(CatalogError::invalid(format!(
                "string is not a valid identifier: \"{text}\""
            )));
        }
        parts.push(Cell::Text(part));
        match chars.next() {
            Some('.') => continue,
            None => break,
            Some(_) => {
                return Err(CatalogError::invalid(format!(
                    "string is not a valid identifier: \"{text}\""
                )));
            }
        }
    }
    Ok(parts)
}

fn arg_text(args: &[Cell], i: usize) -> Option<String> {
    args.get(i).and_then(Cell::to_text)
}

/// A scalar function call.
pub fn call(name: &str, args: Vec<Cell>, ctx: &CatalogContext) -> CatalogResult<Cell> {
    let null_in = args.iter().any(Cell::is_null);
    Ok(match name {
        "version" => Cell::Text(version()),
        "current_database" => Cell::Text(ctx.database.clone()),
        "current_schema" => Cell::Text("public".into()),
        "current_schemas" => Cell::Array(if args.first().is_some_and(super::interpreter::truthy) {
            vec![Cell::Text("pg_catalog".into()), Cell::Text("public".into())]
        } else {
            vec![Cell::Text("public".into())]
        }),
        "current_user" | "session_user" | "user" => Cell::Text(ctx.user.clone()),
        "current_setting" => {
            let setting = arg_text(&args, 0).unwrap_or_default();
            let missing_ok = args.get(1).is_some_and(super::interpreter::truthy);
            match ctx.setting(&setting) {
                Some(value) => Cell::Text(value),
                None if missing_ok => Cell::Null,
                None => {
                    return Err(CatalogError {
                        sqlstate: "42704",
                        message: format!("unrecognized configuration parameter \"{setting}\""),
                    });
                }
            }
        }
        "pg_backend_pid" => Cell::Int(i64::from(std::process::id())),
        "pg_postmaster_start_time"
        | "now"
        | "statement_timestamp"
        | "transaction_timestamp"
        | "clock_timestamp" => Cell::Timestamp(tessera_segment::now_ms()),
        "pg_is_in_recovery" => Cell::Bool(false),
        "pg_table_is_visible"
        | "pg_type_is_visible"
        | "pg_function_is_visible"
        | "has_table_privilege"
        | "has_schema_privilege"
        | "has_database_privilege"
        | "has_column_privilege"
        | "has_any_column_privilege" => Cell::Bool(true),
        "pg_get_userbyid" => Cell::Text(ctx.user.clone()),
        "pg_encoding_to_char" => Cell::Text("UTF8".into()),
        "format_type" => match args.first() {
            Some(Cell::Int(oid)) => Cell::Text(
                Type::from_oid(*oid as u32).map_or_else(|| "???".to_string(), |t| format_type(&t)),
            ),
            _ => Cell::Null,
        },
        "pg_get_expr"
        | "pg_get_indexdef"
        | "pg_get_constraintdef"
        | "pg_get_viewdef"
        | "pg_get_triggerdef"
        | "pg_get_partkeydef"
        | "obj_description"
        | "col_description"
        | "shobj_description"
        | "pg_get_statisticsobjdef_columns" => Cell::Null,
        "pg_relation_size" | "pg_total_relation_size" | "pg_table_size" => match args.first() {
            Some(Cell::Int(oid)) => Cell::Int(
                ctx.tables
                    .iter()
                    .find(|t| t.oid == *oid)
                    .map_or(0, |t| t.bytes as i64),
            ),
            _ => Cell::Null,
        },
        "pg_size_pretty" => match args.first().and_then(number) {
            Some(bytes) => Cell::Text(size_pretty(bytes)),
            None => Cell::Null,
        },
        _ if null_in && !matches!(name, "coalesce" | "concat" | "concat_ws" | "nullif") => {
            Cell::Null
        }
        "quote_ident" => Cell::Text(quote_ident(&arg_text(&args, 0).unwrap_or_default())),
        "quote_literal" => Cell::Text(format!(
            "'{}'",
            arg_text(&args, 0).unwrap_or_default().replace('\'', "''")
        )),
        "parse_ident" => Cell::Array(parse_ident(&arg_text(&args, 0).unwrap_or_default())?),
        "string_to_array" => {
            let text = arg_text(&args, 0).unwrap_or_default();
            let delimiter = arg_text(&args, 1).unwrap_or_default();
            if text.is_empty() {
                Cell::Array(Vec::new())
            } else if delimiter.is_empty() {
                Cell::Array(text.chars().map(|c| Cell::Text(c.to_string())).collect())
            } else {
                Cell::Array(
                    text.split(delimiter.as_str())
                        .map(|p| Cell::Text(p.to_string()))
                        .collect(),
                )
            }
        }
        "array_to_string" => match args.first() {
            Some(Cell::Array(items)) => Cell::Text(
                items
                    .iter()
                    .filter_map(Cell::to_text)
                    .collect::<Vec<_>>()
                    .join(&arg_text(&args, 1).unwrap_or_default()),
            ),
            _ => Cell::Null,
        },
        "array_lower" | "array_upper" | "array_length" | "cardinality" => match args.first() {
            Some(Cell::Array(items)) if items.is_empty() => Cell::Null,
            Some(Cell::Array(items)) if name == "array_lower" => {
                let _ = items;
                Cell::Int(1)
            }
            Some(Cell::Array(items)) => Cell::Int(items.len() as i64),
            _ => Cell::Null,
        },
        "btrim" | "trim" => Cell::Text(arg_text(&args, 0).unwrap_or_default().trim().to_string()),
        "ltrim" => Cell::Text(
            arg_text(&args, 0)
                .unwrap_or_default()
                .trim_start()
                .to_string(),
        ),
        "rtrim" => Cell::Text(
            arg_text(&args, 0)
                .unwrap_or_default()
                .trim_end()
                .to_string(),
        ),
        "lower" => Cell::Text(arg_text(&args, 0).unwrap_or_default().to_lowercase()),
        "upper" => Cell::Text(arg_text(&args, 0).unwrap_or_default().to_uppercase()),
        "length" | "char_length" | "character_length" => {
            Cell::Int(arg_text(&args, 0).unwrap_or_default().chars().count() as i64)
        }
        "coalesce" => args
            .into_iter()
            .find(|c| !c.is_null())
            .unwrap_or(Cell::Null),
        "nullif" => {
            let mut it = args.into_iter();
            let (a, b) = (
                it.next().unwrap_or(Cell::Null),
                it.next().unwrap_or(Cell::Null),
            );
            if super::interpreter::compare(&a, &b) == Some(std::cmp::Ordering::Equal) {
                Cell::Null
            } else {
                a
            }
        }
        "concat" => Cell::Text(args.iter().filter_map(Cell::to_text).collect()),
        "concat_ws" => {
            let separator = arg_text(&args, 0).unwrap_or_default();
            Cell::Text(
                args[1.min(args.len())..]
                    .iter()
                    .filter_map(Cell::to_text)
                    .collect::<Vec<_>>()
                    .join(&separator),
            )
        }
        "abs" => match args.first() {
            Some(Cell::Int(v)) => Cell::Int(v.saturating_abs()),
            Some(other) => number(other).map_or(Cell::Null, |v| Cell::Float(v.abs())),
            None => Cell::Null,
        },
        "floor" | "ceil" | "ceiling" | "round" => match args.first().and_then(number) {
            Some(v) => Cell::Float(match name {
                "floor" => v.floor(),
                "round" => v.round(),
                _ => v.ceil(),
            }),
            None => Cell::Null,
        },
        other => {
            return Err(CatalogError {
                sqlstate: "42883",
                message: format!(
                    "function {other}() does not exist in Tessera's PostgreSQL catalog"
                ),
            });
        }
    })
}

fn size_pretty(bytes: f64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 10_240.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", value.round(), units[unit])
}

/// A set-returning function in FROM: its column type and rows, at most `budget` of them
/// (more is an error naming the limit, never a silently short series).
pub fn table_function(
    name: &str,
    args: Vec<Cell>,
    budget: usize,
) -> CatalogResult<(Type, Vec<Cell>)> {
    match name {
        "generate_series" => {
            let (Some(start), Some(stop)) = (args.first(), args.get(1)) else {
                return Err(CatalogError::invalid(
                    "generate_series needs start and stop",
                ));
            };
            let (Cell::Int(start), Cell::Int(stop)) = (start, stop) else {
                // A NULL bound (an empty search_path) yields no rows.
                return Ok((Type::INT4, Vec::new()));
            };
            let step = match args.get(2) {
                Some(Cell::Int(step)) if *step != 0 => *step,
                None => 1,
                Some(_) => return Err(CatalogError::invalid("step size cannot equal zero")),
            };
            // Exact in i128: (stop - start) / step + 1 values, none when negative.
            let count = ((i128::from(*stop) - i128::from(*start)) / i128::from(step) + 1).max(0);
            if count > budget as i128 {
                return Err(too_many_rows(
                    "generate_series",
                    u128::try_from(count).ok(),
                    budget,
                ));
            }
            Ok((
                Type::INT4,
                (0..count as i64)
                    .map_while(|i| i.checked_mul(step).and_then(|d| start.checked_add(d)))
                    .map(Cell::Int)
                    .collect(),
            ))
        }
        "unnest" => match args.into_iter().next() {
            Some(Cell::Array(items)) => Ok((Type::TEXT, items)),
            _ => Ok((Type::TEXT, Vec::new())),
        },
        // A scalar function in FROM is a one-row relation of its value.
        other => {
            let ctx = CatalogContext {
                tables: Vec::new(),
                settings: Default::default(),
                user: String::new(),
                database: String::new(),
            };
            let value = call(other, args, &ctx)?;
            let ty = super::interpreter::cell_type(&value);
            Ok((ty, vec![value]))
        }
    }
}

/// The type a cast names (`int`, `regclass`, `text[]`, ...).
pub fn cast_type(name: &str) -> Type {
    let name = name.to_ascii_lowercase();
    let name = name.trim_start_matches("pg_catalog.");
    match name {
        "int" | "int4" | "integer" => Type::INT4,
        "int2" | "smallint" => Type::INT2,
        "int8" | "bigint" => Type::INT8,
        "oid" | "regclass" | "regtype" | "regnamespace" | "regproc" => Type::OID,
        "bool" | "boolean" => Type::BOOL,
        "float4" | "real" => Type::FLOAT4,
        "float8" | "double precision" | "numeric" | "decimal" => Type::FLOAT8,
        "name" => Type::NAME,
        "char" | "\"char\"" => Type::CHAR,
        "text[]" | "_text" | "name[]" => Type::TEXT_ARRAY,
        "timestamp" | "timestamptz" => Type::TIMESTAMP,
        _ => Type::TEXT,
    }
}

/// `value::type`.
pub fn cast(value: Cell, type_name: &str, ctx: &CatalogContext) -> CatalogResult<Cell> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let lower = type_name.to_ascii_lowercase();
    let lower = lower.trim_start_matches("pg_catalog.");
    Ok(match lower {
        "regclass" => match &value {
            // 'name'::regclass → the table's OID; oid::regclass prints the name.
            Cell::Text(name) => {
                let bare = name.trim_start_matches("public.").trim_matches('"');
                match ctx.tables.iter().find(|t| t.name == bare) {
                    Some(table) => Cell::Int(table.oid),
                    None => {
                        return Err(CatalogError::undefined_table(format!(
                            "relation \"{name}\" does not exist"
                        )));
                    }
                }
            }
            Cell::Int(oid) => ctx
                .tables
                .iter()
                .find(|t| t.oid == *oid)
                .map_or(Cell::Int(*oid), |t| Cell::Text(t.name.clone())),
            other => other.clone(),
        },
        "regtype" => match &value {
            Cell::Int(oid) => {
                Type::from_oid(*oid as u32).map_or(Cell::Int(*oid), |t| Cell::Text(format_type(&t)))
            }
            other => other.clone(),
        },
        _ => match cast_type(lower) {
            Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => match &value {
                Cell::Int(_) => value,
                Cell::Bool(b) => Cell::Int(i64::from(*b)),
                other => {
                    let n = number(other).ok_or_else(|| {
                        CatalogError::invalid(format!(
                            "invalid input syntax for type {type_name}: {other:?}"
                        ))
                    })?;
                    Cell::Int(n.round() as i64)
                }
            },
            Type::FLOAT4 | Type::FLOAT8 => number(&value)
                .map(Cell::Float)
                .ok_or_else(|| CatalogError::invalid(format!("invalid input for {type_name}")))?,
            Type::BOOL => Cell::Bool(super::interpreter::truthy(&value)),
            Type::TEXT_ARRAY => value,
            Type::TIMESTAMP => match &value {
                Cell::Text(text) => tessera_query::time::parse_timestamp(text)
                    .map(Cell::Timestamp)
                    .ok_or_else(|| CatalogError::invalid(format!("invalid timestamp `{text}`")))?,
                other => other.clone(),
            },
            _ => match value {
                Cell::Array(_) | Cell::Text(_) => value,
                other => Cell::Text(other.to_text().unwrap_or_default()),
            },
        },
    })
}

/// `EXTRACT(field FROM value)` on catalog values (timestamps).
pub fn extract(field: &str, value: Cell) -> CatalogResult<Cell> {
    match value {
        Cell::Null => Ok(Cell::Null),
        Cell::Timestamp(ms) if field.eq_ignore_ascii_case("epoch") => {
            Ok(Cell::Float(ms as f64 / 1000.0))
        }
        other => Err(CatalogError::unsupported(format!(
            "EXTRACT({field} FROM {other:?}) is not supported in catalog queries"
        ))),
    }
}
