//! Lenient, path-tracking access to Pinot JSON objects.
//!
//! Pinot configs are read by hand rather than through `serde` derives because every error
//! and warning must name the JSON path of the field (`dimensionFieldSpecs[2].dataType`),
//! unknown keys must become warnings instead of errors, and Pinot writes many values in
//! more than one way (`"replication": "1"` and `"replication": 1`).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The path used in errors about the document itself (for example, not an object).
pub(crate) const ROOT_PATH: &str = "(root)";

/// Warnings collected while reading one config; each one is also logged.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    messages: Vec<String>,
}

impl Warnings {
    /// Records `message` about the field at `field`, logged with the field as a structured value.
    pub(crate) fn push(&mut self, field: &str, message: &str) {
        tracing::warn!(field = %field, "{message}");
        self.messages.push(format!("{message} field=`{field}`"));
    }

    /// Records `message` about one column's setting at `field`.
    pub(crate) fn push_for_column(&mut self, field: &str, column: &str, message: &str) {
        tracing::warn!(field = %field, column = %column, "{message}");
        self.messages
            .push(format!("{message} field=`{field}` column=`{column}`"));
    }

    /// Records a key that is not part of the Pinot format (or not one Tessera knows).
    pub(crate) fn unknown_field(&mut self, field: &str) {
        self.push(field, "unknown field ignored");
    }

    /// Records a known Pinot setting that Tessera reads past without acting on it.
    pub(crate) fn ignored(&mut self, field: &str, reason: &str) {
        self.push(field, &format!("setting ignored: {reason}"));
    }

    pub(crate) fn into_messages(self) -> Vec<String> {
        self.messages
    }
}

/// Joins a parent path and a key: `("segmentsConfig", "replication")` → `segmentsConfig.replication`.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() || parent == ROOT_PATH {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of one array element: `("dimensionFieldSpecs", 2)` → `dimensionFieldSpecs[2]`.
pub(crate) fn element_path(array_path: &str, index: usize) -> String {
    format!("{array_path}[{index}]")
}

/// Whether a value carries a setting: `null`, `false`, `{}`, `[]` and `""` mean "not set".
/// Pinot serializes many unset settings as empty objects, which deserve no warning.
pub(crate) fn is_set(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => false,
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::String(text) => !text.is_empty(),
        Value::Bool(true) | Value::Number(_) => true,
    }
}

/// One JSON object together with its path in the document.
#[derive(Debug, Clone)]
pub(crate) struct ObjectReader<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> ObjectReader<'a> {
    /// Reads `value` as an object, or fails with an error naming `path`.
    pub(crate) fn new(value: &'a Value, path: impl Into<String>) -> Result<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(ObjectReader { path, map }),
            other => Err(Error::Invalid {
                field: path,
                message: format!("expected a json object, found {}", json_kind(other)),
            }),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn field_path(&self, key: &str) -> String {
        child_path(&self.path, key)
    }

    pub(crate) fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// The value of `key`; absent and `null` are the same thing in Pinot configs.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// Warns about every key not in `known`.
    pub(crate) fn warn_unknown_keys(&self, known: &[&str], warnings: &mut Warnings) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                warnings.unknown_field(&self.field_path(key));
            }
        }
    }

    /// Warns about each of `keys` that is present with a non-empty value.
    pub(crate) fn warn_ignored_keys(&self, keys: &[&str], reason: &str, warnings: &mut Warnings) {
        for key in keys {
            if self.get(key).is_some_and(is_set) {
                warnings.ignored(&self.field_path(key), reason);
            }
        }
    }

    /// A required, non-empty string.
    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str> {
        match self.optional_str(key)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            Some(_) => Err(Error::Invalid {
                field: self.field_path(key),
                message: "must not be empty".to_string(),
            }),
            None => Err(Error::Missing {
                field: self.field_path(key),
            }),
        }
    }

    pub(crate) fn optional_str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong_kind(key, "a string", other)),
        }
    }

    /// A boolean; Pinot configs also write booleans as the strings `"true"`/`"false"`.
    pub(crate) fn optional_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(self.wrong_kind(key, "true or false", other)),
        }
    }

    /// An array; absent or `null` reads as empty.
    pub(crate) fn array(&self, key: &str) -> Result<&'a [Value]> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong_kind(key, "an array", other)),
        }
    }

    /// A nested object; absent or `null` reads as `None`.
    pub(crate) fn object(&self, key: &str) -> Result<Option<ObjectReader<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => ObjectReader::new(value, self.field_path(key)).map(Some),
        }
    }

    /// An array of strings (column names); each element must be a string.
    pub(crate) fn string_array(&self, key: &str) -> Result<Vec<&'a str>> {
        let array_path = self.field_path(key);
        self.array(key)?
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.as_str()),
                other => Err(Error::Invalid {
                    field: element_path(&array_path, index),
                    message: format!("expected a string, found {}", json_kind(other)),
                }),
            })
            .collect()
    }

    fn wrong_kind(&self, key: &str, expected: &str, found: &Value) -> Error {
        Error::Invalid {
            field: self.field_path(key),
            message: format!("expected {expected}, found {}", json_kind(found)),
        }
    }
}

/// A short name for the kind of a JSON value, for error messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A scalar JSON value as text: strings as they are, numbers and booleans printed.
/// Pinot writes many numeric settings as strings (`"replication": "1"`), so both are accepted.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn test_paths_join_keys_and_indexes() {
        assert_eq!(child_path(ROOT_PATH, "schemaName"), "schemaName");
        assert_eq!(
            child_path("segmentsConfig", "replication"),
            "segmentsConfig.replication"
        );
        assert_eq!(
            element_path("dimensionFieldSpecs", 2),
            "dimensionFieldSpecs[2]"
        );
    }

    #[test]
    fn test_unknown_keys_become_warnings() {
        let value = json!({"name": "a", "foo": 1});
        let reader = ObjectReader::new(&value, "dimensionFieldSpecs[2]").expect("object");
        let mut warnings = Warnings::default();
        reader.warn_unknown_keys(&["name"], &mut warnings);
        assert_eq!(
            warnings.into_messages(),
            vec!["unknown field ignored field=`dimensionFieldSpecs[2].foo`".to_string()]
        );
    }

    #[test]
    fn test_null_reads_as_absent() {
        let value = json!({"a": null});
        let reader = ObjectReader::new(&value, ROOT_PATH).expect("object");
        assert!(reader.get("a").is_none());
        assert!(reader.array("a").expect("empty").is_empty());
        assert!(matches!(
            reader.required_str("a"),
            Err(Error::Missing { .. })
        ));
    }

    #[test]
    fn test_wrong_kind_names_the_field() {
        let value = json!({"sortedColumn": [1]});
        let reader = ObjectReader::new(&value, "tableIndexConfig").expect("object");
        let error = reader.string_array("sortedColumn").expect_err("number");
        assert!(
            error
                .to_string()
                .contains("field=`tableIndexConfig.sortedColumn[0]`")
        );
    }

    #[test]
    fn test_booleans_accept_strings() {
        let value = json!({"a": "TRUE", "b": false, "c": 3});
        let reader = ObjectReader::new(&value, ROOT_PATH).expect("object");
        assert_eq!(reader.optional_bool("a").expect("bool"), Some(true));
        assert_eq!(reader.optional_bool("b").expect("bool"), Some(false));
        assert!(reader.optional_bool("c").is_err());
    }
}
