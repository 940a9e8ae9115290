//! Query options: Pinot `queryOptions` (`timeoutMs=500;numGroupsLimit=1000`) and
//! `SET key = value;` statements in front of the query.

use crate::error::{QueryError, QueryResult};

/// Rows a selection query returns when it has no LIMIT (Pinot's default).
pub const DEFAULT_SELECTION_LIMIT: usize = 10;
/// No group count by default: the groups a query holds are bounded by `maxStateBytes`
/// (a memory budget), so an ordinary GROUP BY with a million groups answers. Setting
/// `numGroupsLimit` refuses more than that many groups (Pinot's default is 100,000, past
/// which Pinot truncates silently; Tessera refuses by name instead).
pub const DEFAULT_NUM_GROUPS_LIMIT: usize = usize::MAX;
/// Most rows any response carries.
pub const DEFAULT_MAX_ROWS: usize = 1_000_000;
/// Default timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Bytes of intermediate state one query may hold on one node (see
/// [`crate::state_bytes`]).
pub const DEFAULT_MAX_STATE_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, PartialEq)]
pub struct QueryOptions {
    pub timeout_ms: u64,
    pub num_groups_limit: usize,
    /// `maxRows`: the most rows the result may hold.
    pub max_rows: usize,
    /// Answer without the indexes (full scans): for testing index paths against scans.
    pub use_indexes: bool,
    /// Rows a selection without LIMIT returns: Pinot's 10 over HTTP; the PostgreSQL
    /// wire sets it to `max_rows` (PostgreSQL clients expect every row).
    pub default_selection_limit: usize,
    /// `maxStateBytes`: the most bytes of intermediate state (groups, distinct sets,
    /// percentile values, selected rows) the query may hold on one node.
    pub max_state_bytes: usize,
    /// Set to stop the query wherever it runs (not an option a client writes).
    pub cancel: crate::cancel::Cancel,
    /// What the query holds against `max_state_bytes` (not an option a client writes).
    pub state_bytes: crate::state_bytes::StateBytes,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            timeout_ms: DEFAULT_TIMEOUT_MS,
            num_groups_limit: DEFAULT_NUM_GROUPS_LIMIT,
            max_rows: DEFAULT_MAX_ROWS,
            use_indexes: true,
            default_selection_limit: DEFAULT_SELECTION_LIMIT,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            cancel: crate::cancel::Cancel::new(),
            state_bytes: crate::state_bytes::StateBytes::new(),
        }
    }
}

impl QueryOptions {
    /// Apply one option; unknown keys are accepted and ignored (Pinot has many we do not
    /// implement, and clients send them), known keys with bad values are an error.
    pub fn set(&mut self, key: &str, value: &str) -> QueryResult<()> {
        let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
        let number = || -> QueryResult<u64> {
            value.parse::<u64>().map_err(|_| {
                QueryError::invalid(format!(
                    "query option `{key}` needs a non-negative integer, got `{value}`"
                ))
            })
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "timeoutms" => self.timeout_ms = number()?,
            "numgroupslimit" => {
                self.num_groups_limit = if value.eq_ignore_ascii_case("unlimited") {
                    usize::MAX
                } else {
                    usize::try_from(number()?).unwrap_or(usize::MAX).max(1)
                }
            }
            "maxrows" | "maxrowsinresult" => self.max_rows = number()? as usize,
            "maxstatebytes" => self.max_state_bytes = number()? as usize,
            // Set by the PostgreSQL wire (every row) and carried to cluster servers, so
            // a server plans a LIMIT-less selection exactly as the broker did.
            "defaultselectionlimit" => self.default_selection_limit = number()? as usize,
            "useindexes" => {
                self.use_indexes = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(QueryError::invalid(format!(
                            "query option `useIndexes` needs true or false, got `{value}`"
                        )));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// These options in Pinot's `key=value;key=value` form: what a broker sends its
    /// servers so they plan exactly what it planned.
    pub fn to_pinot_string(&self) -> String {
        format!(
            "timeoutMs={};numGroupsLimit={};maxRows={};useIndexes={};defaultSelectionLimit={};maxStateBytes={}",
            self.timeout_ms,
            self.num_groups_limit,
            self.max_rows,
            self.use_indexes,
            self.default_selection_limit,
            self.max_state_bytes
        )
    }

    /// Parse Pinot's `queryOptions` string: `key=value;key=value`.
    pub fn apply_pinot_string(&mut self, text: &str) -> QueryResult<()> {
        for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(QueryError::invalid(format!(
                    "query option `{pair}` is not key=value"
                )));
            };
            self.set(key, value)?;
        }
        Ok(())
    }
}

/// Split `SET a = 1; SET b = 'x'; SELECT ...` into its options and the query text.
pub fn split_set_statements(sql: &str, options: &mut QueryOptions) -> QueryResult<String> {
    let mut rest = sql.trim_start();
    loop {
        let upper: String = rest
            .chars()
            .take(4)
            .collect::<String>()
            .to_ascii_uppercase();
        if !(upper.starts_with("SET ") || upper.starts_with("SET\t") || upper.starts_with("SET\n"))
        {
            break;
        }
        let Some(end) = statement_end(rest) else {
            return Err(QueryError::parse(
                "a SET statement must end with `;` before the query",
            ));
        };
        let statement = &rest[3..end];
        let Some((key, value)) = statement.split_once('=') else {
            return Err(QueryError::parse(format!(
                "SET needs `key = value`, got `SET{statement}`"
            )));
        };
        options.set(key.trim(), value.trim())?;
        rest = rest[end + 1..].trim_start();
    }
    Ok(rest.trim_end().trim_end_matches(';').to_string())
}

/// Index of the first `;` outside quotes.
fn statement_end(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ';' => return Some(i),
            None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_prefixes() {
        let mut options = QueryOptions::default();
        let sql = split_set_statements(
            "SET timeoutMs = 50; set numGroupsLimit='7';\nSELECT 1 FROM t;",
            &mut options,
        )
        .expect("parses");
        assert_eq!(sql, "SELECT 1 FROM t");
        assert_eq!(options.timeout_ms, 50);
        assert_eq!(options.num_groups_limit, 7);
        assert!(split_set_statements("SET x 1", &mut options).is_err());
        assert!(options.apply_pinot_string("timeoutMs=abc").is_err());
        options
            .apply_pinot_string("timeoutMs=20;foo=bar")
            .expect("ok");
        assert_eq!(options.timeout_ms, 20);
        options.default_selection_limit = 77;
        options.use_indexes = false;
        let mut again = QueryOptions::default();
        again
            .apply_pinot_string(&options.to_pinot_string())
            .expect("round trip");
        assert_eq!(again, options);
    }
}
