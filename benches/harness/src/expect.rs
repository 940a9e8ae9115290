//! Result checks under load: an answer's rows against the rows a file says it must hold.

use serde_json::Value as Json;

/// Two values agree when equal, or both numbers within 1e-9 relative.
fn agree(expected: &Json, got: &Json) -> bool {
    match (expected, got) {
        (Json::Number(a), Json::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
            _ => a == b,
        },
        (Json::Array(a), Json::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| agree(x, y))
        }
        _ => expected == got,
    }
}

/// Where `got` differs from `expected` (rows in order), or `None` when they agree.
pub fn difference(expected: &[Json], got: &[Json]) -> Option<String> {
    if expected.len() != got.len() {
        return Some(format!(
            "{} rows where {} were expected",
            got.len(),
            expected.len()
        ));
    }
    expected
        .iter()
        .zip(got)
        .position(|(e, g)| !agree(e, g))
        .map(|row| {
            format!(
                "row {row} is {} where {} was expected",
                got[row], expected[row]
            )
        })
}

/// Reads an expected result: a JSON array of rows, or a broker response's `resultTable`.
pub fn load(path: &std::path::Path) -> anyhow::Result<Vec<Json>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("expect_result {}: {e}", path.display()))?;
    let parsed: Json = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("expect_result {} is not JSON: {e}", path.display()))?;
    match &parsed {
        Json::Array(rows) => Ok(rows.clone()),
        _ => match parsed["resultTable"]["rows"].as_array() {
            Some(rows) => Ok(rows.clone()),
            None => anyhow::bail!(
                "expect_result {}: neither an array of rows nor a broker response",
                path.display()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_agree_to_a_relative_epsilon() {
        let expected = vec![json!(["AIR", 858104, 0.1])];
        assert_eq!(
            difference(&expected, &[json!(["AIR", 858104, 0.1 + 1e-12])]),
            None
        );
        let wrong = difference(&expected, &[json!(["AIR", 858105, 0.1])]).expect("differs");
        assert!(wrong.contains("row 0"), "{wrong}");
        assert!(
            difference(&expected, &[])
                .expect("differs")
                .contains("0 rows")
        );
    }
}
