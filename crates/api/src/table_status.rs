//! `GET /tables/{t}/status`, as standalone and a cluster's controller both answer it:
//! `HEALTHY`, or `UNHEALTHY` with the partitions whose sealing stopped on a failure
//! retrying cannot cure (Pinot's `ingestionStatus`).

use serde_json::{Value as Json, json};

/// The status of table `table_name_with_type` given its seal stalls, each a JSON object
/// with `partition`, `segment`, `error`, `sinceMs` and, in a cluster, `server`.
pub fn ingestion_status(table_name_with_type: &str, stalls: Vec<Json>) -> Json {
    let error_message = stalls
        .iter()
        .map(|stall| {
            let text = |field: &str| match &stall[field] {
                Json::String(text) => text.clone(),
                other => other.to_string(),
            };
            let server = match &stall["server"] {
                Json::Null => String::new(),
                _ => format!(" on {}", text("server")),
            };
            format!(
                "partition {}{server}: segment `{}` cannot be sealed: {}",
                text("partition"),
                text("segment"),
                text("error")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    json!({
        "tableName": table_name_with_type,
        "ingestionStatus": {
            "ingestionState": if stalls.is_empty() { "HEALTHY" } else { "UNHEALTHY" },
            "errorMessage": error_message,
        },
        "sealStalls": stalls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_a_stall_makes_the_table_unhealthy_and_names_where_and_why() {
        assert_eq!(
            ingestion_status("t_REALTIME", Vec::new())["ingestionStatus"]["ingestionState"],
            "HEALTHY"
        );
        let status = ingestion_status(
            "t_REALTIME",
            vec![
                json!({"partition": 1, "server": "server-rt-1", "segment": "t__1__0", "error": "boom", "sinceMs": 5}),
            ],
        );
        assert_eq!(status["ingestionStatus"]["ingestionState"], "UNHEALTHY");
        assert_eq!(
            status["ingestionStatus"]["errorMessage"],
            "partition 1 on server-rt-1: segment `t__1__0` cannot be sealed: boom"
        );
    }
}
