//! The leaf request: what a broker asks one server to compute, carried as the Flight
//! `Ticket` of a `DoGet` (versioned JSON, golden file per version under `test-data/`).
//!
//! The request carries the SQL and the query options, not a serialized plan: the server
//! plans the SQL against its own copy of the table's schema. Planning is deterministic,
//! so broker and server hold the same plan while they agree on the schema; when they do
//! not (a schema change reaching one before the other), decoding the partial fails with
//! an error naming the mismatch rather than merging wrong columns.

use serde::{Deserialize, Serialize};

use crate::TransportError;
use tessera_status::Status;

/// The ticket format this build writes and reads.
pub const TICKET_VERSION: u32 = 1;

/// A ticket larger than this is refused before it is parsed (a segment list of a large
/// table is well under it).
pub const MAX_TICKET_BYTES: usize = 4 * 1024 * 1024;

/// One server's part of one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeafRequest {
    pub version: u32,
    /// The table, as the broker resolved it (raw name, no `_OFFLINE` suffix).
    pub table: String,
    /// The query's SQL, planned again on the server.
    pub sql: String,
    /// The query options in Pinot's `key=value;key=value` form (`timeoutMs` included).
    #[serde(default)]
    pub query_options: String,
    /// The segments to run on; `None` means every segment the server holds of the table.
    #[serde(default)]
    pub segments: Option<Vec<String>>,
    /// An id the broker logs with the query, so both sides' logs can be matched.
    #[serde(default)]
    pub query_id: String,
}

impl LeafRequest {
    pub fn new(table: impl Into<String>, sql: impl Into<String>) -> LeafRequest {
        LeafRequest {
            version: TICKET_VERSION,
            table: table.into(),
            sql: sql.into(),
            query_options: String::new(),
            segments: None,
            query_id: String::new(),
        }
    }

    /// The ticket bytes.
    pub fn to_ticket(&self) -> Vec<u8> {
        // Serializing a struct of strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parse ticket bytes, refusing other versions and malformed or oversized tickets
    /// with an error that says which.
    pub fn from_ticket(bytes: &[u8]) -> Result<LeafRequest, TransportError> {
        let invalid = |message: String| TransportError {
            kind: Status::InvalidInput,
            server: String::new(),
            message,
            query_error_code: None,
        };
        if bytes.len() > MAX_TICKET_BYTES {
            return Err(invalid(format!(
                "a leaf ticket is at most {MAX_TICKET_BYTES} bytes: bytes={}",
                bytes.len()
            )));
        }
        #[derive(Deserialize)]
        struct VersionOnly {
            version: Option<u32>,
        }
        let version = serde_json::from_slice::<VersionOnly>(bytes)
            .map_err(|error| invalid(format!("the ticket is not a Tessera leaf request: {error}")))?
            .version;
        match version {
            Some(TICKET_VERSION) => {}
            Some(other) => {
                return Err(invalid(format!(
                    "leaf ticket version {other} is not supported (this server reads version {TICKET_VERSION})"
                )));
            }
            None => return Err(invalid("the leaf ticket has no version".into())),
        }
        serde_json::from_slice(bytes)
            .map_err(|error| invalid(format!("the leaf ticket is malformed: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_golden_ticket_version_1_decodes() -> Result<(), TransportError> {
        let golden = include_bytes!("../test-data/leaf-ticket-v1.json");
        let request = LeafRequest::from_ticket(golden)?;
        assert_eq!(request.version, 1);
        assert_eq!(request.table, "lineitem");
        assert_eq!(request.query_options, "timeoutMs=5000");
        assert_eq!(
            request.segments.as_deref(),
            Some(&["lineitem_0".to_string(), "lineitem_1".to_string()][..])
        );
        // This build writes what it reads.
        assert_eq!(LeafRequest::from_ticket(&request.to_ticket())?, request);
        Ok(())
    }

    #[test]
    fn test_bad_tickets_are_named() {
        let error = |bytes: &[u8]| match LeafRequest::from_ticket(bytes) {
            Err(error) => {
                assert_eq!(error.kind, Status::InvalidInput);
                error.message
            }
            Ok(request) => panic!("accepted {request:?}"),
        };
        assert!(error(b"\xff\x00garbage").contains("not a Tessera leaf request"));
        assert!(error(br#"{"table":"t","sql":"x"}"#).contains("no version"));
        assert!(error(br#"{"version":9,"table":"t","sql":"x"}"#).contains("version 9"));
        assert!(error(br#"{"version":1,"table":"t"}"#).contains("malformed"));
        assert!(error(br#"{"version":1,"table":"t","sql":"x","bogus":1}"#).contains("bogus"));
        assert!(error(&vec![b' '; MAX_TICKET_BYTES + 1]).contains("at most"));
    }
}
