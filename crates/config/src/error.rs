//! The one error type of `tessera-config`.
//!
//! Every variant is the user's fault (a bad request): the config they sent is malformed,
//! names something that does not exist, or asks for something Tessera cannot do. A retry
//! with the same config never helps. Each message names the JSON path of the offending
//! field so the user can find it in their `schema.json` or `table.json`.

/// Why a schema or table config was rejected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not JSON at all; the parser's position is in `source`.
    #[error("invalid json: the {what} does not parse, fix the syntax error")]
    InvalidJson {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A required field is absent (or `null`).
    #[error("missing required field field=`{field}`")]
    Missing { field: String },
    /// A field is present with a bad value.
    #[error("invalid value: {message} field=`{field}`")]
    Invalid { field: String, message: String },
    /// A field is present with a bad value for one column.
    #[error("invalid value: {message} field=`{field}` column=`{column}`")]
    InvalidColumn {
        field: String,
        column: String,
        message: String,
    },
    /// A valid Pinot setting that Tessera accepts but cannot honor.
    #[error("unsupported setting: {message} field=`{field}`")]
    Unsupported { field: String, message: String },
    /// A valid Pinot setting for one column that Tessera cannot honor.
    #[error("unsupported setting: {message} field=`{field}` column=`{column}`")]
    UnsupportedColumn {
        field: String,
        column: String,
        message: String,
    },
    /// A field names a column the schema does not define.
    #[error(
        "unknown column: the schema does not define it{} field=`{field}` column=`{column}`",
        did_you_mean(.suggestion)
    )]
    UnknownColumn {
        field: String,
        column: String,
        /// The closest schema column by edit distance, when one is close enough.
        suggestion: Option<String>,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(name) => format!("; did you mean `{name}`?"),
        None => String::new(),
    }
}

impl Error {
    /// The JSON path of the offending field (`dimensionFieldSpecs[2].dataType`), when the
    /// error is about one field rather than the whole document.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidJson { .. } => None,
            Error::Missing { field }
            | Error::Invalid { field, .. }
            | Error::InvalidColumn { field, .. }
            | Error::Unsupported { field, .. }
            | Error::UnsupportedColumn { field, .. }
            | Error::UnknownColumn { field, .. } => Some(field),
        }
    }

    /// Whether retrying the same request can succeed. Never: the config itself is wrong.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_unsupported_column_message_names_field_and_column() {
        let error = Error::UnsupportedColumn {
            field: "tableIndexConfig.invertedIndexColumns".to_string(),
            column: "l_comment".to_string(),
            message:
                "inverted index requires a dictionary; remove the column from noDictionaryColumns"
                    .to_string(),
        };
        assert_eq!(
            error.to_string(),
            "unsupported setting: inverted index requires a dictionary; remove the column from \
             noDictionaryColumns field=`tableIndexConfig.invertedIndexColumns` column=`l_comment`"
        );
        assert_eq!(error.field(), Some("tableIndexConfig.invertedIndexColumns"));
        assert!(!error.is_retryable());
    }

    #[test]
    fn test_unknown_column_message_includes_suggestion() {
        let with_suggestion = Error::UnknownColumn {
            field: "segmentsConfig.timeColumnName".to_string(),
            column: "l_shipdat".to_string(),
            suggestion: Some("l_shipdate".to_string()),
        };
        assert_eq!(
            with_suggestion.to_string(),
            "unknown column: the schema does not define it; did you mean `l_shipdate`? \
             field=`segmentsConfig.timeColumnName` column=`l_shipdat`"
        );
        let without_suggestion = Error::UnknownColumn {
            field: "primaryKeyColumns".to_string(),
            column: "zzz".to_string(),
            suggestion: None,
        };
        assert_eq!(
            without_suggestion.to_string(),
            "unknown column: the schema does not define it field=`primaryKeyColumns` column=`zzz`"
        );
    }

    #[test]
    fn test_invalid_json_keeps_source_out_of_message() {
        let source = serde_json::from_str::<serde_json::Value>("{").expect_err("not json");
        let error = Error::InvalidJson {
            what: "schema",
            source,
        };
        assert_eq!(
            error.to_string(),
            "invalid json: the schema does not parse, fix the syntax error"
        );
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(error.field(), None);
    }
}
