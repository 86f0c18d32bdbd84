//! The launch gate's memory between strict runs (`--state FILE`): the runbook's hard-stop rule,
//! "if `requiredFailedChannels` is non-empty for more than one consecutive strict run, pause
//! rollout and use rollback thresholds from `docs/ops/rollback-playbook.md`".
//!
//! The state is kept per target: a failure against one gateway never counts toward another's
//! hard stop. A run that could not probe a required channel counts as failing (the caller lists
//! it as `unobserved`), never as the clean run that would reset the count.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::write_atomic;

/// The runbook's rollback reference.
pub const ROLLBACK_REFERENCE: &str = "docs/ops/rollback-playbook.md";
const HISTORY: usize = 20;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateEntry {
    pub run_id: String,
    pub at: String,
    pub required_failed_channels: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateState {
    pub consecutive_strict_runs_with_required_failures: u32,
    pub history: Vec<StateEntry>,
}

/// The state file: one gate state per target.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    #[serde(default)]
    pub targets: std::collections::BTreeMap<String, GateState>,
}

/// What the rule decided for this run.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HardStop {
    pub consecutive_strict_runs_with_required_failures: u32,
    pub paused: bool,
    pub action: String,
    pub rollback_reference: &'static str,
    pub state_file: String,
}

/// Reads the state (absent: a fresh one), applies this run, writes it back atomically.
pub fn apply(path: &Path, target: &str, run_id: &str, required_failed: &[String]) -> Result<HardStop, String> {
    let mut file: StateFile = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let state = file.targets.entry(target.to_string()).or_default();
    state.consecutive_strict_runs_with_required_failures = if required_failed.is_empty() {
        0
    } else {
        state.consecutive_strict_runs_with_required_failures.saturating_add(1)
    };
    state.history.push(StateEntry {
        run_id: run_id.into(),
        at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        required_failed_channels: required_failed.to_vec(),
    });
    if state.history.len() > HISTORY {
        let extra = state.history.len() - HISTORY;
        state.history.drain(..extra);
    }
    let n = state.consecutive_strict_runs_with_required_failures;
    let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())? + "\n";
    write_atomic(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    let paused = n > 1;
    let action = if paused {
        format!(
            "pause rollout: requiredFailedChannels non-empty for {n} consecutive strict runs; use rollback thresholds from {ROLLBACK_REFERENCE}"
        )
    } else if n == 1 {
        "required channels failed in this strict run; one more failing strict run is a hard stop".into()
    } else {
        "continue".into()
    };
    Ok(HardStop {
        consecutive_strict_runs_with_required_failures: n,
        paused,
        action,
        rollback_reference: ROLLBACK_REFERENCE,
        state_file: path.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_consecutive_failing_strict_run_pauses_and_a_pass_resets() {
        let dir = std::env::temp_dir().join(format!("gatedrill-state-{}", std::process::id()));
        let p = dir.join("state.json");
        let fail = ["telegram:ingest_http_error".to_string()];
        let t = "http://127.0.0.1:1";
        assert!(!apply(&p, t, "r1", &fail).unwrap().paused);
        assert!(!apply(&p, "other", "o1", &fail).unwrap().paused, "another target keeps its own count");
        let h = apply(&p, t, "r2", &fail).unwrap();
        assert!(h.paused && h.action.contains("pause rollout") && h.action.contains(ROLLBACK_REFERENCE));
        assert!(!apply(&p, t, "r3", &[]).unwrap().paused);
        assert!(!apply(&p, t, "r4", &fail).unwrap().paused, "the count restarts after a clean run");
        std::fs::write(&p, "{not json").unwrap();
        assert!(apply(&p, t, "r5", &fail).unwrap_err().contains("state.json"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
