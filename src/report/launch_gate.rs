//! The launch gate's two files, in the runbook's names and fields:
//! `release/production-launch-gate-summary.json` (`ingestExternalChannelFallback`,
//! `ingestExternalChannelFailureModes` with `failedChannels` and `requiredFailedChannels`, each
//! with its `failureMode`) and `release/production-agent-gateway-external-channel-traces.json`
//! (per channel: probes, requests and responses, classification, timings).
//!
//! A channel failure that its scenario provoked on purpose (listed in `expect.failure_modes`) is
//! a drill working as designed: it is listed under `drilledFailures`, not `failedChannels`.

use serde::Serialize;
use serde_json::Value;

use super::RunMeta;
use super::state::HardStop;
use crate::classify::FailureMode;
use crate::drill::external::ChannelTrace;
use crate::drill::runner::{ScenarioReport, ScenarioVerdict, id};
use crate::metrics::gate::Verdict;

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelResult {
    pub scenario: String,
    pub channel: String,
    pub connector_id: String,
    pub required: bool,
    pub passed: bool,
    pub failure_mode: Option<FailureMode>,
    pub expected_external_session_id: String,
    pub resolved_external_session_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedChannel {
    pub scenario: String,
    pub channel: String,
    pub connector_id: String,
    pub required: bool,
    pub failure_mode: FailureMode,
    pub first_operator_action: String,
    pub escalate_to: String,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fallback {
    /// `pass`, `fail`, or `not_checked` (no external-channel check ran).
    pub status: &'static str,
    pub checked_channels: usize,
    pub passed_channels: usize,
    pub channels: Vec<ChannelResult>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureModes {
    pub failed_channels: Vec<FailedChannel>,
    pub required_failed_channels: Vec<FailedChannel>,
    pub drilled_failures: Vec<FailedChannel>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateRow {
    pub scenario: String,
    pub gate: String,
    pub verdict: Verdict,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    /// Judged and reported; never part of the verdict.
    pub advisory: bool,
    /// The baseline run's value, and this run's minus it (relative gates).
    pub baseline: Option<f64>,
    pub delta: Option<f64>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioRow {
    pub name: String,
    pub playbook: String,
    pub passed: bool,
    pub skipped: bool,
    pub incomplete: bool,
    pub verdict: ScenarioVerdict,
    pub failure_modes: Vec<FailureMode>,
    pub findings: Vec<String>,
    pub problems: Vec<crate::drill::problem::Problem>,
    /// How bad what the scenario measured would be in production (P0..P3, SEV).
    pub severity: crate::report::severity::Severity,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub run_id: String,
    pub generated_at: String,
    pub seed: Option<u64>,
    pub target: String,
    pub version: String,
    pub commit: Option<String>,
    pub strict: bool,
    pub incomplete: bool,
    /// The run gates were compared with (`--baseline DIR`).
    pub baseline_run_id: Option<String>,
    /// `pass`, `fail`, `inconclusive` (every check held, some gate could not be decided: a
    /// person decides), or `hard_stop`.
    pub status: &'static str,
    pub ingest_external_channel_fallback: Fallback,
    pub ingest_external_channel_failure_modes: FailureModes,
    pub gates: Vec<GateRow>,
    pub scenarios: Vec<ScenarioRow>,
    pub hard_stop: Option<HardStop>,
}

impl Summary {
    /// One sentence on the external channels, for the console and the reports.
    pub fn channels_line(&self) -> String {
        let f = &self.ingest_external_channel_failure_modes;
        format!(
            "External channels: {} checked, {} failed, {} required failed, {} drilled on purpose.",
            self.ingest_external_channel_fallback.checked_channels,
            f.failed_channels.len(),
            f.required_failed_channels.len(),
            f.drilled_failures.len()
        )
    }
}

fn channels(reports: &[ScenarioReport]) -> impl Iterator<Item = (&ScenarioReport, &ChannelTrace)> {
    reports.iter().flat_map(|r| r.channels.iter().map(move |c| (r, c)))
}

/// The failed channels of a run: (unexpected, provoked on purpose).
pub fn failed_channels(reports: &[ScenarioReport]) -> (Vec<FailedChannel>, Vec<FailedChannel>) {
    let mut failed = Vec::new();
    let mut drilled = Vec::new();
    for (r, c) in channels(reports) {
        let Some(mode) = c.failure_mode else { continue };
        let row = FailedChannel {
            scenario: r.name.clone(),
            channel: c.channel.clone(),
            connector_id: c.connector_id.clone(),
            required: c.required,
            failure_mode: mode,
            first_operator_action: mode.first_action().into(),
            escalate_to: mode.escalate_to().into(),
        };
        if c.drilled() { drilled.push(row) } else { failed.push(row) }
    }
    (failed, drilled)
}

pub fn summary(meta: &RunMeta, reports: &[ScenarioReport], hard_stop: Option<&HardStop>) -> Summary {
    let results: Vec<ChannelResult> = channels(reports)
        .map(|(r, c)| ChannelResult {
            scenario: r.name.clone(),
            channel: c.channel.clone(),
            connector_id: c.connector_id.clone(),
            required: c.required,
            passed: c.passed,
            failure_mode: c.failure_mode,
            expected_external_session_id: c.expected_external_session_id.clone(),
            resolved_external_session_id: c.resolved_external_session_id.clone(),
        })
        .collect();
    let (failed, drilled) = failed_channels(reports);
    let required: Vec<FailedChannel> = failed.iter().filter(|f| f.required).cloned().collect();
    let fallback_status = if results.is_empty() {
        "not_checked"
    } else if failed.is_empty() {
        "pass"
    } else {
        "fail"
    };
    let gates = reports
        .iter()
        .flat_map(|r| {
            r.gates.iter().map(move |g| GateRow {
                scenario: r.name.clone(),
                gate: g.gate.clone(),
                verdict: g.verdict,
                value: g.value,
                threshold: g.threshold,
                advisory: g.advisory,
                baseline: g.baseline,
                delta: g.delta,
                detail: g.detail.clone(),
            })
        })
        .collect();
    // A skipped scenario did not run: it neither passes nor fails the gate.
    let verdicts: Vec<ScenarioVerdict> = reports.iter().map(|r| r.verdict()).collect();
    let all_passed = verdicts.iter().all(|v| matches!(v, ScenarioVerdict::Pass | ScenarioVerdict::Skip));
    let undecided = !verdicts.contains(&ScenarioVerdict::Fail) && verdicts.contains(&ScenarioVerdict::Inconclusive);
    Summary {
        run_id: meta.run_id.clone(),
        generated_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        seed: meta.seed,
        target: meta.target.clone(),
        version: meta.version.clone(),
        commit: meta.commit.clone(),
        strict: meta.strict,
        incomplete: meta.incomplete,
        baseline_run_id: meta.baseline_run_id.clone(),
        status: if hard_stop.is_some_and(|h| h.paused) {
            "hard_stop"
        } else if meta.incomplete || !failed.is_empty() {
            "fail"
        } else if all_passed {
            "pass"
        } else if undecided {
            "inconclusive"
        } else {
            "fail"
        },
        ingest_external_channel_fallback: Fallback {
            status: fallback_status,
            checked_channels: results.len(),
            passed_channels: results.iter().filter(|c| c.passed).count(),
            channels: results,
        },
        ingest_external_channel_failure_modes: FailureModes {
            failed_channels: failed,
            required_failed_channels: required,
            drilled_failures: drilled,
        },
        gates,
        scenarios: reports
            .iter()
            .map(|r| ScenarioRow {
                name: r.name.clone(),
                playbook: id(&r.playbook),
                passed: r.passed,
                skipped: r.skipped.is_some(),
                incomplete: r.incomplete,
                verdict: r.verdict(),
                severity: r.severity.clone(),
                failure_modes: r.failure_modes.clone(),
                findings: r.findings.iter().map(|f| id(&f.finding)).collect(),
                problems: r.problems.clone(),
            })
            .collect(),
        hard_stop: hard_stop.cloned(),
    }
}

/// The per-channel traces file.
pub fn traces(meta: &RunMeta, reports: &[ScenarioReport]) -> Value {
    let channels: Vec<Value> = channels(reports)
        .map(|(r, c)| {
            let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("scenario".into(), Value::String(r.name.clone()));
                if let Some(m) = c.failure_mode {
                    o.insert("firstOperatorAction".into(), Value::String(m.first_action().into()));
                    o.insert("escalateTo".into(), Value::String(m.escalate_to().into()));
                }
            }
            v
        })
        .collect();
    serde_json::json!({
        "runId": meta.run_id,
        "target": meta.target,
        "commit": meta.commit,
        "generatedAt": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "incomplete": meta.incomplete,
        "channels": channels,
    })
}
