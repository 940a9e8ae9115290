//! Extended-protocol parameters as SQL literals: Tessera binds `$n` by inlining each
//! value as a typed literal before planning (the engine has no parameter slots).

use pgwire::api::Type;
use pgwire::api::portal::Format;

use super::sql_text::quote_literal;
use super::values::timestamp_text;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i64 = 10_957;

/// One parameter as a SQL literal, from its bytes, format and declared type.
pub fn literal(value: Option<&[u8]>, binary: bool, ty: &Type) -> Result<String, String> {
    let Some(bytes) = value else {
        return Ok("NULL".into());
    };
    if binary {
        return binary_literal(bytes, ty);
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| "a text parameter is not UTF-8".to_string())?;
    match *ty {
        Type::INT2
        | Type::INT4
        | Type::INT8
        | Type::OID
        | Type::FLOAT4
        | Type::FLOAT8
        | Type::NUMERIC => {
            let trimmed = text.trim();
            if trimmed.parse::<f64>().is_err() {
                return Err(format!("`{text}` is not a valid {} parameter", ty.name()));
            }
            // Non-finite floats have no numeric literal.
            if trimmed
                .chars()
                .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
            {
                return Err(format!("`{text}` is not a finite number"));
            }
            Ok(trimmed.to_string())
        }
        Type::BOOL => match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "on" | "yes" | "1" => Ok("TRUE".into()),
            "f" | "false" | "off" | "no" | "0" => Ok("FALSE".into()),
            _ => Err(format!("`{text}` is not a boolean")),
        },
        Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::DATE => {
            match tessera_query::time::parse_timestamp(&normalize_offset(text)) {
                Some(ms) => Ok(quote_literal(&timestamp_text(ms))),
                None => Err(format!("`{text}` is not a timestamp")),
            }
        }
        _ => Ok(quote_literal(text)),
    }
}

/// PostgreSQL prints offsets as `+00` / `+05:30`; RFC 3339 wants `+00:00` and a `T`.
fn normalize_offset(text: &str) -> String {
    let text = text.trim();
    let Some(split) = text.rfind(['+', '-']).filter(|&i| i > 10) else {
        return text.to_string();
    };
    let (head, offset) = text.split_at(split);
    let offset = if offset.len() == 3 {
        format!("{offset}:00")
    } else {
        offset.to_string()
    };
    format!("{}{offset}", head.replacen(' ', "T", 1))
}

fn binary_literal(bytes: &[u8], ty: &Type) -> Result<String, String> {
    let fixed = |n: usize| -> Result<&[u8], String> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(format!(
                "a binary {} parameter must be {n} bytes, got {}",
                ty.name(),
                bytes.len()
            ))
        }
    };
    Ok(match *ty {
        Type::BOOL => if fixed(1)?[0] != 0 { "TRUE" } else { "FALSE" }.into(),
        Type::INT2 => {
            let b = fixed(2)?;
            i16::from_be_bytes([b[0], b[1]]).to_string()
        }
        Type::INT4 => {
            let b = fixed(4)?;
            i32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()
        }
        Type::OID => {
            let b = fixed(4)?;
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()
        }
        Type::INT8 => {
            let b = fixed(8)?;
            i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]).to_string()
        }
        Type::FLOAT4 => {
            let b = fixed(4)?;
            finite(f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])))?
        }
        Type::FLOAT8 => {
            let b = fixed(8)?;
            finite(f64::from_be_bytes([
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
            ]))?
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let b = fixed(8)?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let ms = micros.saturating_add(PG_EPOCH_MICROS).div_euclid(1000);
            quote_literal(&timestamp_text(ms))
        }
        Type::DATE => {
            let b = fixed(4)?;
            let days = i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])) + PG_EPOCH_DAYS;
            quote_literal(&timestamp_text(days * 86_400_000))
        }
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN | Type::JSON => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| "a text parameter is not UTF-8".to_string())?;
            quote_literal(text)
        }
        _ => {
            return Err(format!(
                "binary parameters of type {} are not supported; send it in text format",
                ty.name()
            ));
        }
    })
}

fn finite(v: f64) -> Result<String, String> {
    if v.is_finite() {
        Ok(format!("{v:?}"))
    } else {
        Err(format!("{v} has no SQL literal"))
    }
}

/// Every parameter of a portal as literals, in order.
pub fn literals(
    values: &[Option<bytes::Bytes>],
    format: &Format,
    types: &[Option<Type>],
) -> Result<Vec<String>, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let ty = types.get(i).cloned().flatten().unwrap_or(Type::UNKNOWN);
            literal(value.as_deref(), format.is_binary(i), &ty)
                .map_err(|e| format!("parameter ${}: {e}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_text_parameters_become_typed_literals() {
        assert_eq!(
            literal(Some(b"42"), false, &Type::INT8).as_deref(),
            Ok("42")
        );
        assert!(literal(Some(b"1; DROP"), false, &Type::INT8).is_err());
        assert_eq!(
            literal(Some(b"it's"), false, &Type::UNKNOWN).as_deref(),
            Ok("'it''s'")
        );
        assert_eq!(
            literal(Some(b"2026-01-01 00:00:01.5+00"), false, &Type::TIMESTAMPTZ).as_deref(),
            Ok("'2026-01-01 00:00:01.5'")
        );
        assert_eq!(literal(None, false, &Type::TEXT).as_deref(), Ok("NULL"));
        assert_eq!(
            literal(Some(b"t"), false, &Type::BOOL).as_deref(),
            Ok("TRUE")
        );
    }

    #[test]
    fn test_binary_parameters_decode_by_type() {
        assert_eq!(
            literal(Some(&7i32.to_be_bytes()), true, &Type::INT4).as_deref(),
            Ok("7")
        );
        assert_eq!(
            literal(Some(&2.5f64.to_be_bytes()), true, &Type::FLOAT8).as_deref(),
            Ok("2.5")
        );
        assert_eq!(
            literal(Some(&0i64.to_be_bytes()), true, &Type::TIMESTAMP).as_deref(),
            Ok("'2000-01-01 00:00:00'")
        );
        assert!(literal(Some(&[1, 2]), true, &Type::INT4).is_err());
    }
}
