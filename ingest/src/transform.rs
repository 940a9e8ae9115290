//! Pinot `ingestionConfig` row transforms for realtime rows: `transformConfigs` (a
//! column computed from input fields — nested JSON extraction and simple functions)
//! and `filterConfig` (rows for which the function is true are skipped, as in Pinot).
//!
//! Functions (Pinot's names): `jsonPathString|jsonPathLong|jsonPathDouble|jsonPathArray
//! (field, '$.a.b[0]')`, `lower`, `upper`, `trim`, `concat(a, b[, separator])`,
//! `plus|minus|times|divide(a, b)`, `toEpochSeconds|toEpochMinutes|toEpochHours|
//! toEpochDays(millis)`, `fromEpochSeconds|fromEpochDays(n)` (to millis), and for
//! filters `equals|notEquals|greaterThan|greaterThanOrEqual|lessThan|lessThanOrEqual
//! (a, b)`, `and(...)`, `or(...)`, `not(a)`, `isNull(a)`. Arguments are input field
//! names, 'string' literals or numbers. Groovy scripts are refused with a clear error.
//! A transform runs only when the input does not carry the column itself.

use serde_json::{Number, Value as Json};
use tessera_config::{Schema, TableConfig};

use crate::error::{Error, Result};

/// A parsed function expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An input field; the index of its slot.
    Field(usize),
    Literal(Json),
    Call(Function, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    JsonPathString,
    JsonPathLong,
    JsonPathDouble,
    JsonPathArray,
    Lower,
    Upper,
    Trim,
    Concat,
    Plus,
    Minus,
    Times,
    Divide,
    ToEpochSeconds,
    ToEpochMinutes,
    ToEpochHours,
    ToEpochDays,
    FromEpochSeconds,
    FromEpochDays,
    Equals,
    NotEquals,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    And,
    Or,
    Not,
    IsNull,
}

impl Function {
    fn parse(name: &str) -> Option<Function> {
        use Function::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "jsonpathstring" => JsonPathString,
            "jsonpathlong" => JsonPathLong,
            "jsonpathdouble" => JsonPathDouble,
            "jsonpatharray" => JsonPathArray,
            "lower" => Lower,
            "upper" => Upper,
            "trim" => Trim,
            "concat" => Concat,
            "plus" | "add" => Plus,
            "minus" | "sub" => Minus,
            "times" | "mult" => Times,
            "divide" | "div" => Divide,
            "toepochseconds" => ToEpochSeconds,
            "toepochminutes" => ToEpochMinutes,
            "toepochhours" => ToEpochHours,
            "toepochdays" => ToEpochDays,
            "fromepochseconds" => FromEpochSeconds,
            "fromepochdays" => FromEpochDays,
            "equals" => Equals,
            "notequals" => NotEquals,
            "greaterthan" => GreaterThan,
            "greaterthanorequal" => GreaterThanOrEqual,
            "lessthan" => LessThan,
            "lessthanorequal" => LessThanOrEqual,
            "and" => And,
            "or" => Or,
            "not" => Not,
            "isnull" => IsNull,
            _ => return None,
        })
    }

    /// Allowed argument counts.
    fn arity(self) -> (usize, usize) {
        use Function::*;
        match self {
            JsonPathString | JsonPathLong | JsonPathDouble | JsonPathArray => (2, 2),
            Lower | Upper | Trim | Not | IsNull => (1, 1),
            ToEpochSeconds | ToEpochMinutes | ToEpochHours | ToEpochDays => (1, 1),
            FromEpochSeconds | FromEpochDays => (1, 1),
            Concat => (2, 3),
            And | Or => (1, usize::MAX),
            _ => (2, 2),
        }
    }
}

/// The transforms of one table.
#[derive(Debug, Clone, Default)]
pub struct RowTransforms {
    /// `(schema field index, expression)` in config order.
    pub columns: Vec<(usize, Expr)>,
    /// Rows where this is true are skipped.
    pub filter: Option<Expr>,
    /// Input field names beyond the schema's, whose slots follow the schema fields'.
    pub extra_fields: Vec<String>,
}

impl RowTransforms {
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.filter.is_none()
    }

    /// Read `ingestionConfig.transformConfigs` and `ingestionConfig.filterConfig`.
    pub fn from_table(schema: &Schema, table: &TableConfig) -> Result<RowTransforms> {
        let mut transforms = RowTransforms::default();
        let ingestion = &table.raw["ingestionConfig"];
        if let Some(configs) = ingestion["transformConfigs"].as_array() {
            for (index, config) in configs.iter().enumerate() {
                let at = format!("ingestionConfig.transformConfigs[{index}]");
                let column = config["columnName"]
                    .as_str()
                    .ok_or_else(|| Error::Invalid(format!("{at}.columnName is missing")))?;
                let target = schema
                    .fields
                    .iter()
                    .position(|f| f.name == column)
                    .ok_or_else(|| {
                        Error::Invalid(format!("{at}.columnName `{column}` is not a schema column"))
                    })?;
                let text = config["transformFunction"]
                    .as_str()
                    .ok_or_else(|| Error::Invalid(format!("{at}.transformFunction is missing")))?;
                let expr = transforms.parse(schema, text, &format!("{at}.transformFunction"))?;
                transforms.columns.push((target, expr));
            }
        }
        if let Some(text) = ingestion["filterConfig"]["filterFunction"].as_str() {
            transforms.filter = Some(transforms.parse(
                schema,
                text,
                "ingestionConfig.filterConfig.filterFunction",
            )?);
        }
        Ok(transforms)
    }

    fn parse(&mut self, schema: &Schema, text: &str, at: &str) -> Result<Expr> {
        if text.trim_start().to_ascii_lowercase().starts_with("groovy") {
            return Err(Error::Invalid(format!(
                "{at}: Groovy scripts are not supported; use the built-in functions (jsonPathString, plus, equals, ...)"
            )));
        }
        let mut parser = Parser {
            text,
            at: 0,
            field_slot: &mut |name: &str| {
                if let Some(index) = schema.fields.iter().position(|f| f.name == name) {
                    return index;
                }
                let extra = match self.extra_fields.iter().position(|f| f == name) {
                    Some(extra) => extra,
                    None => {
                        self.extra_fields.push(name.to_string());
                        self.extra_fields.len() - 1
                    }
                };
                schema.fields.len() + extra
            },
        };
        let expr = parser
            .expr()
            .and_then(|expr| parser.end().map(|()| expr))
            .map_err(|message| Error::Invalid(format!("{at}: {message} in `{text}`")))?;
        Ok(expr)
    }

    /// Apply to one row's slots (schema fields, then extra fields); `false` when the
    /// filter drops the row.
    pub fn apply(&self, slots: &mut [Option<Json>]) -> bool {
        for (target, expr) in &self.columns {
            if slots[*target].as_ref().is_none_or(Json::is_null) {
                slots[*target] = eval(expr, slots);
            }
        }
        match &self.filter {
            Some(filter) => !truthy(&eval(filter, slots)),
            None => true,
        }
    }
}

struct Parser<'a, 'f> {
    text: &'a str,
    at: usize,
    field_slot: &'f mut dyn FnMut(&str) -> usize,
}

impl Parser<'_, '_> {
    fn skip_space(&mut self) {
        while self.text[self.at..].starts_with(char::is_whitespace) {
            self.at += self.text[self.at..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.at..].chars().next()
    }

    fn end(&mut self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(format!("unexpected `{c}` at character {}", self.at + 1)),
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some('\'') => {
                self.at += 1;
                let mut value = String::new();
                loop {
                    let rest = &self.text[self.at..];
                    let Some(c) = rest.chars().next() else {
                        return Err("unterminated string literal".into());
                    };
                    self.at += c.len_utf8();
                    if c == '\'' {
                        if self.text[self.at..].starts_with('\'') {
                            self.at += 1;
                            value.push('\'');
                            continue;
                        }
                        return Ok(Expr::Literal(Json::String(value)));
                    }
                    value.push(c);
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                let start = self.at;
                self.at += 1;
                while self.text[self.at..]
                    .starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E')
                {
                    self.at += 1;
                }
                let number: Json = serde_json::from_str(&self.text[start..self.at])
                    .map_err(|_| format!("bad number at character {}", start + 1))?;
                Ok(Expr::Literal(number))
            }
            Some(c) if c.is_alphanumeric() || c == '_' || c == '$' || c == '"' => {
                let quoted = c == '"';
                if quoted {
                    self.at += 1;
                }
                let start = self.at;
                while self.text[self.at..].starts_with(|c: char| {
                    if quoted {
                        c != '"'
                    } else {
                        c.is_alphanumeric() || c == '_' || c == '$' || c == '.'
                    }
                }) {
                    self.at += self.text[self.at..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                }
                let name = self.text[start..self.at].to_string();
                if quoted {
                    self.at += 1;
                }
                if !quoted && self.peek() == Some('(') {
                    self.at += 1;
                    let function = Function::parse(&name)
                        .ok_or_else(|| format!("unknown function `{name}`"))?;
                    let mut args = Vec::new();
                    if self.peek() != Some(')') {
                        loop {
                            args.push(self.expr()?);
                            match self.peek() {
                                Some(',') => self.at += 1,
                                Some(')') => break,
                                _ => {
                                    return Err(format!(
                                        "expected `,` or `)` at character {}",
                                        self.at + 1
                                    ));
                                }
                            }
                        }
                    }
                    self.at += 1;
                    let (min, max) = function.arity();
                    if args.len() < min || args.len() > max {
                        return Err(format!(
                            "`{name}` takes {min}..{max} arguments, got {}",
                            args.len().min(99)
                        ));
                    }
                    return Ok(Expr::Call(function, args));
                }
                match name.to_ascii_lowercase().as_str() {
                    "true" if !quoted => Ok(Expr::Literal(Json::Bool(true))),
                    "false" if !quoted => Ok(Expr::Literal(Json::Bool(false))),
                    "null" if !quoted => Ok(Expr::Literal(Json::Null)),
                    _ => Ok(Expr::Field((self.field_slot)(&name))),
                }
            }
            Some(c) => Err(format!("unexpected `{c}` at character {}", self.at + 1)),
            None => Err("the expression is empty or ends early".into()),
        }
    }
}

fn number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn integer(value: &Json) -> Option<i64> {
    match value {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        other => number(other).map(|f| f as i64),
    }
}

fn from_f64(value: f64) -> Option<Json> {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        Some(Json::from(value as i64))
    } else {
        Number::from_f64(value).map(Json::Number)
    }
}

fn text(value: &Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn truthy(value: &Option<Json>) -> bool {
    matches!(value, Some(Json::Bool(true)))
}

/// `$.a.b[0]` applied to a value (an object, or a string holding JSON).
fn json_path(root: &Json, path: &str) -> Option<Json> {
    let parsed;
    let mut current = match root {
        Json::String(s) => {
            parsed = serde_json::from_str::<Json>(s).ok()?;
            &parsed
        }
        other => other,
    };
    let mut rest = path.strip_prefix('$')?;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            current = current.get(&after[..end])?;
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let key = after[..end].trim_matches(|c| c == '\'' || c == '"');
            current = match key.parse::<usize>() {
                Ok(index) => current.get(index)?,
                Err(_) => current.get(key)?,
            };
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(current.clone())
}

fn compare(a: &Json, b: &Json) -> Option<std::cmp::Ordering> {
    match (number(a), number(b)) {
        (Some(x), Some(y)) if !matches!((a, b), (Json::String(_), Json::String(_))) => {
            x.partial_cmp(&y)
        }
        _ => Some(text(a)?.cmp(&text(b)?)),
    }
}

/// Evaluate to a JSON value; `None` is NULL (a missing field or a failed extraction).
pub fn eval(expr: &Expr, slots: &[Option<Json>]) -> Option<Json> {
    use Function::*;
    let (function, args) = match expr {
        Expr::Field(slot) => return slots.get(*slot).cloned().flatten().filter(|v| !v.is_null()),
        Expr::Literal(value) => return Some(value.clone()),
        Expr::Call(function, args) => (*function, args),
    };
    let arg = |i: usize| eval(&args[i], slots);
    let both = || Some((arg(0)?, arg(1)?));
    let arithmetic = |op: fn(f64, f64) -> f64| {
        let (a, b) = both()?;
        if let (Some(x), Some(y), Plus | Minus | Times) = (integer(&a), integer(&b), function)
            && a.is_i64()
            && b.is_i64()
        {
            let exact = match function {
                Plus => x.checked_add(y),
                Minus => x.checked_sub(y),
                _ => x.checked_mul(y),
            };
            return exact.map(Json::from);
        }
        from_f64(op(number(&a)?, number(&b)?))
    };
    let ordered = |test: fn(std::cmp::Ordering) -> bool| {
        let (a, b) = both()?;
        Some(Json::Bool(compare(&a, &b).is_some_and(test)))
    };
    match function {
        JsonPathString => {
            let path = text(&arg(1)?)?;
            json_path(&arg(0)?, &path)
                .and_then(|v| text(&v))
                .map(Json::String)
        }
        JsonPathLong => json_path(&arg(0)?, &text(&arg(1)?)?)
            .and_then(|v| integer(&v))
            .map(Json::from),
        JsonPathDouble => json_path(&arg(0)?, &text(&arg(1)?)?)
            .and_then(|v| number(&v))
            .and_then(|f| Number::from_f64(f).map(Json::Number)),
        JsonPathArray => json_path(&arg(0)?, &text(&arg(1)?)?).filter(Json::is_array),
        Lower => Some(Json::String(text(&arg(0)?)?.to_lowercase())),
        Upper => Some(Json::String(text(&arg(0)?)?.to_uppercase())),
        Trim => Some(Json::String(text(&arg(0)?)?.trim().to_string())),
        Concat => {
            let separator = match args.get(2) {
                Some(_) => text(&arg(2)?)?,
                None => String::new(),
            };
            Some(Json::String(format!(
                "{}{separator}{}",
                text(&arg(0)?)?,
                text(&arg(1)?)?
            )))
        }
        Plus => arithmetic(|a, b| a + b),
        Minus => arithmetic(|a, b| a - b),
        Times => arithmetic(|a, b| a * b),
        Divide => {
            let (a, b) = both()?;
            let divisor = number(&b)?;
            if divisor == 0.0 {
                return None;
            }
            Number::from_f64(number(&a)? / divisor).map(Json::Number)
        }
        ToEpochSeconds => integer(&arg(0)?).map(|ms| Json::from(ms.div_euclid(1000))),
        ToEpochMinutes => integer(&arg(0)?).map(|ms| Json::from(ms.div_euclid(60_000))),
        ToEpochHours => integer(&arg(0)?).map(|ms| Json::from(ms.div_euclid(3_600_000))),
        ToEpochDays => integer(&arg(0)?).map(|ms| Json::from(ms.div_euclid(86_400_000))),
        FromEpochSeconds => integer(&arg(0)?)
            .and_then(|s| s.checked_mul(1000))
            .map(Json::from),
        FromEpochDays => integer(&arg(0)?)
            .and_then(|d| d.checked_mul(86_400_000))
            .map(Json::from),
        Equals => ordered(std::cmp::Ordering::is_eq),
        NotEquals => ordered(std::cmp::Ordering::is_ne),
        GreaterThan => ordered(std::cmp::Ordering::is_gt),
        GreaterThanOrEqual => ordered(std::cmp::Ordering::is_ge),
        LessThan => ordered(std::cmp::Ordering::is_lt),
        LessThanOrEqual => ordered(std::cmp::Ordering::is_le),
        And => Some(Json::Bool(args.iter().all(|a| truthy(&eval(a, slots))))),
        Or => Some(Json::Bool(args.iter().any(|a| truthy(&eval(a, slots))))),
        Not => Some(Json::Bool(!truthy(&arg(0)))),
        IsNull => Some(Json::Bool(arg(0).is_none())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(ingestion: &str) -> Result<(Schema, RowTransforms)> {
        let schema = Schema::from_json(
            r#"{"schemaName": "e", "dimensionFieldSpecs": [{"name": "country", "dataType": "STRING"},
                {"name": "user", "dataType": "STRING"}, {"name": "n", "dataType": "LONG"}],
                "dateTimeFieldSpecs": [{"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#,
        )
        .map_err(|e| Error::Invalid(e.to_string()))?
        .value;
        let table = TableConfig::from_json(
            &format!(
                r#"{{"tableName": "e", "tableType": "REALTIME", "ingestionConfig": {ingestion}}}"#
            ),
            &schema,
        )
        .map_err(|e| Error::Invalid(e.to_string()))?
        .value;
        let transforms = RowTransforms::from_table(&schema, &table)?;
        Ok((schema, transforms))
    }

    #[test]
    fn test_transforms_and_filter() -> Result<()> {
        let (_, transforms) = setup(
            r#"{"transformConfigs": [
                {"columnName": "country", "transformFunction": "upper(jsonPathString(geo, '$.country.code'))"},
                {"columnName": "user", "transformFunction": "concat(first, last, ' ')"},
                {"columnName": "n", "transformFunction": "plus(jsonPathLong(payload, '$.items[1].qty'), 1)"},
                {"columnName": "ts", "transformFunction": "fromEpochSeconds(epoch)"}],
              "filterConfig": {"filterFunction": "or(equals(country, 'XX'), lessThan(n, 0))"}}"#,
        )?;
        assert_eq!(
            transforms.extra_fields,
            vec!["geo", "first", "last", "payload", "epoch"]
        );
        let mut slots: Vec<Option<Json>> = vec![None; 4 + transforms.extra_fields.len()];
        slots[4] = Some(serde_json::json!({"country": {"code": "de"}}));
        slots[5] = Some(Json::from("Ada"));
        slots[6] = Some(Json::from("Lovelace"));
        slots[7] = Some(Json::from(r#"{"items": [{"qty": 1}, {"qty": 41}]}"#));
        slots[8] = Some(Json::from(1_700_000_000));
        assert!(transforms.apply(&mut slots));
        assert_eq!(slots[0], Some(Json::from("DE")));
        assert_eq!(slots[1], Some(Json::from("Ada Lovelace")));
        assert_eq!(slots[2], Some(Json::from(42)));
        assert_eq!(slots[3], Some(Json::from(1_700_000_000_000i64)));
        slots[0] = Some(Json::from("XX"));
        assert!(!transforms.apply(&mut slots), "the filter drops the row");
        Ok(())
    }

    #[test]
    fn test_bad_functions_are_clear_errors() {
        for (config, expected) in [
            (
                r#"{"transformConfigs": [{"columnName": "n", "transformFunction": "Groovy({a+b}, a, b)"}]}"#,
                "Groovy",
            ),
            (
                r#"{"transformConfigs": [{"columnName": "n", "transformFunction": "frobnicate(a)"}]}"#,
                "unknown function `frobnicate`",
            ),
            (
                r#"{"transformConfigs": [{"columnName": "nope", "transformFunction": "lower(a)"}]}"#,
                "not a schema column",
            ),
            (
                r#"{"transformConfigs": [{"columnName": "n", "transformFunction": "plus(a"}]}"#,
                "transformConfigs[0].transformFunction",
            ),
        ] {
            let message = setup(config)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{config}: {message}");
        }
    }
}
