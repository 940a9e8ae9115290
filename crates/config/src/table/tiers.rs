//! `tierConfigs`: Pinot's storage tiers, read as Tessera's warm and cold segments.
//!
//! ```json
//! "tierConfigs": [{"name": "cold", "segmentSelectorType": "time", "segmentAge": "30d",
//!                  "storageType": "pinot_server", "serverTag": "DefaultTenant_OFFLINE"}]
//! ```
//!
//! On a server with a cold-segment cache (`--cache-size`), a sealed segment whose end
//! time is older than a tier's `segmentAge` is cold (opened from its footer in the deep
//! store, sections fetched on demand); younger ones are warm (downloaded whole, as
//! without a cache). With no `tierConfigs` every sealed segment is cold. Pinot's
//! `serverTag` and `storageType` name where Pinot moves a tier; Tessera keeps the
//! segment on the same server and changes how it reads it, so they are accepted and
//! not used.

use std::time::Duration;

use serde_json::Value;

use crate::error::Error;
use crate::stream::parse_duration;

/// The youngest age at which a segment is cold: the smallest `segmentAge` of the
/// table's tiers, `None` without tiers. An error names a malformed tier.
pub fn cold_tier_age(raw: &Value) -> Result<Option<Duration>, Error> {
    let Some(tiers) = raw.get("tierConfigs") else {
        return Ok(None);
    };
    let invalid = |message: String| Error::Invalid {
        field: "tierConfigs".to_string(),
        message,
    };
    let tiers = tiers
        .as_array()
        .ok_or_else(|| invalid("must be an array of tiers".into()))?;
    let mut youngest: Option<Duration> = None;
    for (index, tier) in tiers.iter().enumerate() {
        let selector = tier
            .get("segmentSelectorType")
            .and_then(Value::as_str)
            .unwrap_or("time");
        if !selector.eq_ignore_ascii_case("time") {
            return Err(invalid(format!(
                "tier {index}: segmentSelectorType `{selector}` is not supported (only `time`)"
            )));
        }
        let age = tier
            .get("segmentAge")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(format!(
                    "tier {index}: segmentAge (such as `30d`) is missing"
                ))
            })?;
        let age = parse_duration(age).ok_or_else(|| {
            invalid(format!(
                "tier {index}: segmentAge `{age}` is not a duration such as 30d, 12h or 90m"
            ))
        })?;
        youngest = Some(youngest.map_or(age, |y| y.min(age)));
    }
    Ok(youngest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_youngest_tier_decides_and_bad_tiers_are_named() {
        let raw = serde_json::json!({"tierConfigs": [
            {"name": "a", "segmentSelectorType": "time", "segmentAge": "30d"},
            {"name": "b", "segmentAge": "12h"}]});
        assert_eq!(
            cold_tier_age(&raw).ok().flatten(),
            Some(Duration::from_secs(12 * 3600))
        );
        assert_eq!(cold_tier_age(&serde_json::json!({})).ok(), Some(None));
        let bad = serde_json::json!({"tierConfigs": [{"segmentAge": "soon"}]});
        assert!(cold_tier_age(&bad).is_err_and(|e| e.to_string().contains("soon")));
        let fixed = serde_json::json!({"tierConfigs": [{"segmentSelectorType": "fixed", "segmentAge": "1d"}]});
        assert!(cold_tier_age(&fixed).is_err());
    }
}
