//! SQL text handling the PG wire needs before parsing: splitting a simple-query string
//! into statements and inlining `$n` parameters — both outside quotes and comments.

/// Byte ranges of `sql` that are code (not inside a string, quoted identifier or
/// comment), as a per-byte flag.
fn code_mask(sql: &str) -> Vec<bool> {
    let bytes = sql.as_bytes();
    let mut mask = vec![true; bytes.len()];
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
            }
            b'$' if bytes.get(i + 1) == Some(&b'$') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'$' && bytes[i + 1] == b'$') {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
            }
            _ => {
                i += 1;
                continue;
            }
        }
        for flag in &mut mask[start..i] {
            *flag = false;
        }
    }
    mask
}

/// The statements of a simple-query string, trimmed, empty ones dropped.
pub fn split_statements(sql: &str) -> Vec<&str> {
    let mask = code_mask(sql);
    let mut out = Vec::new();
    let mut start = 0;
    for (i, byte) in sql.bytes().enumerate() {
        if byte == b';' && mask[i] {
            out.push(&sql[start..i]);
            start = i + 1;
        }
    }
    out.push(&sql[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !is_only_comments(s))
        .collect()
}

fn is_only_comments(sql: &str) -> bool {
    let mask = code_mask(sql);
    sql.bytes()
        .zip(mask)
        .all(|(b, code)| !code || b.is_ascii_whitespace())
}

/// The highest `$n` placeholder in `sql` (0 when none).
pub fn parameter_count(sql: &str) -> usize {
    placeholders(sql)
        .iter()
        .map(|(_, _, n)| *n)
        .max()
        .unwrap_or(0)
}

/// `(start, end, n)` of every `$n` in code.
fn placeholders(sql: &str) -> Vec<(usize, usize, usize)> {
    let mask = code_mask(sql);
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && mask[i] {
            let mut end = i + 1;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            let preceded_by_word =
                i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            if end > i + 1 && !preceded_by_word {
                if let Ok(n) = sql[i + 1..end].parse::<usize>() {
                    out.push((i, end, n));
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Replace `$1`, `$2`, ... by the SQL literals in `values` (`values[0]` is `$1`).
pub fn bind(sql: &str, values: &[String]) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + 16 * values.len());
    let mut last = 0;
    for (start, end, n) in placeholders(sql) {
        let value = values
            .get(n.wrapping_sub(1))
            .ok_or_else(|| format!("there is no parameter ${n} ({} bound)", values.len()))?;
        out.push_str(&sql[last..start]);
        out.push_str(value);
        last = end;
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

/// `text` as a SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_split_ignores_semicolons_in_quotes_and_comments() {
        let sql = "SET a = 'x;y'; SELECT \"a;b\" FROM t -- c;d\n; ; /* e;f */";
        assert_eq!(
            split_statements(sql),
            vec!["SET a = 'x;y'", "SELECT \"a;b\" FROM t -- c;d"]
        );
        assert!(split_statements(" ; ;").is_empty());
    }

    #[test]
    fn test_bind_replaces_placeholders_outside_strings_only() {
        let sql = "SELECT '$1', x FROM t WHERE a = $1 AND b IN ($2, $10) -- $3";
        let values: Vec<String> = (1..=10).map(|i| format!("v{i}")).collect();
        assert_eq!(
            bind(sql, &values).as_deref(),
            Ok("SELECT '$1', x FROM t WHERE a = v1 AND b IN (v2, v10) -- $3")
        );
        assert_eq!(parameter_count(sql), 10);
        assert!(bind("SELECT $2", &["1".into()]).is_err());
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
