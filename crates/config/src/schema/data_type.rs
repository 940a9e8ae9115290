//! Column types, named as in Pinot.

use std::fmt;

/// A column's type, named as in Pinot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DataType {
    Int,
    Long,
    Float,
    Double,
    Boolean,
    /// Milliseconds since the Unix epoch.
    Timestamp,
    String,
    Bytes,
    Json,
}

impl DataType {
    /// Every type, in the order Pinot documents them.
    pub const ALL: [DataType; 9] = [
        DataType::Int,
        DataType::Long,
        DataType::Float,
        DataType::Double,
        DataType::Boolean,
        DataType::Timestamp,
        DataType::String,
        DataType::Bytes,
        DataType::Json,
    ];

    /// The name Pinot uses in configs and query responses (`"LONG"`).
    pub fn pinot_name(self) -> &'static str {
        match self {
            DataType::Int => "INT",
            DataType::Long => "LONG",
            DataType::Float => "FLOAT",
            DataType::Double => "DOUBLE",
            DataType::Boolean => "BOOLEAN",
            DataType::Timestamp => "TIMESTAMP",
            DataType::String => "STRING",
            DataType::Bytes => "BYTES",
            DataType::Json => "JSON",
        }
    }

    /// Parses a Pinot type name, ignoring case. Types Tessera lacks (`BIG_DECIMAL`) are `None`.
    pub fn parse(name: &str) -> Option<DataType> {
        DataType::ALL
            .into_iter()
            .find(|data_type| data_type.pinot_name().eq_ignore_ascii_case(name))
    }

    /// INT, LONG, FLOAT and DOUBLE. BOOLEAN and TIMESTAMP are stored as integers but are
    /// not numeric: they cannot be metrics or be summed.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            DataType::Int | DataType::Long | DataType::Float | DataType::Double
        )
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.pinot_name())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn test_data_type_names_parse_ignoring_case() {
        for data_type in DataType::ALL {
            assert_eq!(DataType::parse(data_type.pinot_name()), Some(data_type));
        }
        assert_eq!(DataType::parse("long"), Some(DataType::Long));
        assert_eq!(DataType::parse("BIG_DECIMAL"), None);
        assert!(DataType::Double.is_numeric());
        assert!(!DataType::Boolean.is_numeric());
        assert!(!DataType::Timestamp.is_numeric());
        let serialized = serde_json::to_value(DataType::Timestamp).expect("serialize");
        assert_eq!(serialized, json!("TIMESTAMP"));
    }
}
