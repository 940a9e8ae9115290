//! Faults injected at named steps (a seal, a lakehouse export), for system tests. `TESSERA_FAULTS` holds
//! comma-separated `step=action` pairs, e.g. `seal.build=error` or `seal.upload=abort`:
//!
//! - `error`: the step fails as a segment build that cannot succeed fails (invalid
//!   input, not retryable), so a test sees what the server does with such a failure;
//! - `abort`: the process ends at that step (SIGABRT: no destructor runs, nothing is
//!   flushed — what kill -9 leaves), so a crash test knows exactly which step its
//!   crash interrupted, instead of guessing with sleeps.
//!
//! The variable is read once; unset (production), a check is one load.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The steps a fault can hit: the seal of a consuming segment, a lakehouse export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Building the segment file.
    SealBuild,
    /// Uploading it to the deep store.
    SealUpload,
    /// Committing it in the catalog.
    SealCommit,
    /// A lakehouse export wrote its first data file.
    ExportData,
    /// A lakehouse export wrote its manifest and manifest list.
    ExportManifests,
    /// A lakehouse export is about to commit its new table metadata.
    ExportCommit,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::SealBuild => "seal.build",
            Step::SealUpload => "seal.upload",
            Step::SealCommit => "seal.commit",
            Step::ExportData => "export.data",
            Step::ExportManifests => "export.manifests",
            Step::ExportCommit => "export.commit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Error,
    Abort,
}

/// The configured faults, parsed from `text`; unknown steps or actions are ignored
/// with a warning (a typo must not fail a server).
fn parse(text: &str) -> Vec<(String, Action)> {
    let mut faults = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=').map(|(s, a)| (s.trim(), a.trim())) {
            Some((step, "error")) => faults.push((step.to_string(), Action::Error)),
            Some((step, "abort")) => faults.push((step.to_string(), Action::Abort)),
            _ => tracing::warn!(
                fault = pair,
                "TESSERA_FAULTS: not step=error|abort; ignored"
            ),
        }
    }
    faults
}

fn configured(step: Step) -> Option<Action> {
    static FAULTS: OnceLock<Vec<(String, Action)>> = OnceLock::new();
    FAULTS
        .get_or_init(|| parse(&std::env::var("TESSERA_FAULTS").unwrap_or_default()))
        .iter()
        .find(|(name, _)| name == step.name())
        .map(|(_, action)| *action)
}

/// Pass `step`, or meet the fault configured for it.
pub fn at(step: Step) -> Result<()> {
    match configured(step) {
        None => Ok(()),
        Some(Action::Error) => Err(injected(step)),
        Some(Action::Abort) => {
            eprintln!("TESSERA_FAULTS: aborting at {}", step.name());
            std::process::abort()
        }
    }
}

fn injected(step: Step) -> Error {
    Error::Segment {
        context: format!("fault injected at {}", step.name()),
        source: tessera_segment::Error::InvalidInput("TESSERA_FAULTS".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_faults_parse_by_step_and_an_injected_error_is_not_retryable() {
        let faults = parse("seal.build=error, seal.upload = abort,bogus,seal.commit=sleep");
        assert_eq!(
            faults,
            vec![
                ("seal.build".to_string(), Action::Error),
                ("seal.upload".to_string(), Action::Abort)
            ]
        );
        assert!(!injected(Step::SealBuild).is_retryable());
        // Unset in the test process: every step passes.
        assert!(at(Step::SealCommit).is_ok());
    }
}
