//! What one scenario observed and concluded (DESIGN.md, "Evidence"): the typed report that is
//! `<scenario>/trace.json`, from which every other artifact (JUnit, the launch-gate summary,
//! drill evidence, the HTML report) is rendered, and the scenario's verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::exchange::TracedBody;
use super::external::ChannelTrace;
use super::load::LoadReport;
use super::observe::{Dropped, RequestRecord};
use super::problem::Problem;
use super::runner::RunOptions;
use super::steps::{Check, EvidenceKind};
use crate::classify::FailureMode;
use crate::classify::conduct::{self, Evidence};
use crate::metrics::Summary;
use crate::metrics::gate::{GateVerdict, Verdict};
use crate::metrics::hlog::Interval;
use crate::metrics::series::Attempts;
use crate::metrics::slo::Window;
use crate::mock::journal::{AttemptCount, AttemptRecord};
use crate::mock::schedule::RuleReceipt;
use crate::scenario::{Expect, Loaded, Playbook};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct StepReport {
    pub index: usize,
    pub kind: String,
    pub passed: bool,
    pub skipped: Option<String>,
    pub checks: Vec<Check>,
    pub started_ms: f64,
    pub duration_ms: f64,
}

/// A fault phase change, in ms from the scenario's start.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Phase {
    pub t_ms: f64,
    pub change: String,
}

/// A payload kept as incident evidence (runtime health, dry-run attempts, session summary).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EvidenceItem {
    pub kind: EvidenceKind,
    pub what: String,
    pub payload: TracedBody,
}

/// A scenario's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScenarioVerdict {
    Pass,
    Fail,
    /// Every check held, and some gate could not be decided (not enough data, no baseline):
    /// neither a pass nor a fail; a person decides.
    Inconclusive,
    Skip,
}

impl ScenarioVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioVerdict::Pass => "PASS",
            ScenarioVerdict::Fail => "FAIL",
            ScenarioVerdict::Inconclusive => "INCONCLUSIVE",
            ScenarioVerdict::Skip => "SKIP",
        }
    }
}

impl std::fmt::Display for ScenarioVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything one scenario observed and concluded: this is `<scenario>/trace.json`, and every
/// other artifact is rendered from these.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioReport {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub file: PathBuf,
    pub playbook: Playbook,
    pub run_id: String,
    /// Interrupted before its steps all ran.
    pub incomplete: bool,
    pub target: String,
    pub seed: u64,
    pub passed: bool,
    pub skipped: Option<String>,
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
    pub channels: Vec<ChannelTrace>,
    pub failure_modes: Vec<FailureMode>,
    pub findings: Vec<Evidence>,
    /// Conduct rules this scenario could not judge, each with why (an unknown cooldown, no
    /// failover budget, no providers' journal): not judged is not passed.
    #[serde(default)]
    pub not_judged: Vec<conduct::NotJudged>,
    /// Why the scenario did not pass, beyond failed checks.
    pub problems: Vec<Problem>,
    pub expect: Expect,
    pub load: Vec<LoadReport>,
    pub gates: Vec<GateVerdict>,
    /// Latency per series (scenario, step, endpoint, provider attempt/ttft/itl, load,
    /// failover overhead).
    pub latency: BTreeMap<String, Summary>,
    pub windows: Vec<Window>,
    pub totals: Window,
    pub phases: Vec<Phase>,
    pub evidence: Vec<EvidenceItem>,
    /// What each `watch` step decided: every rule's verdict over the series.
    #[serde(default)]
    pub watch: Vec<crate::watch::WatchReport>,
    /// Per runbook rule the watches decided: (verdicts not clear, verdicts), for gates on
    /// `watch:<rule>.not_clear`.
    #[serde(default)]
    pub watch_rules: BTreeMap<String, (u64, u64)>,
    /// How bad what was measured would be in production (P0..P3, and the AgentOS SEV level).
    #[serde(default)]
    pub severity: crate::report::severity::Severity,
    pub requests: Vec<RequestRecord>,
    pub requests_dropped: Dropped,
    /// The providers' journal: failures up to a cap, successes sampled.
    pub journal: Vec<AttemptRecord>,
    pub journal_dropped: Dropped,
    /// Every attempt of the journal counted by provider, model and outcome (exact, unsampled).
    #[serde(default)]
    pub attempt_mix: Vec<AttemptCount>,
    pub receipts: Vec<(String, RuleReceipt)>,
    /// Every provider's attempts by outcome, counted over the whole journal.
    #[serde(default)]
    pub attempts: Attempts,
    /// Attempts the providers' journals dropped (a full ring): the counts above miss them, so
    /// gates on attempt rates are inconclusive.
    #[serde(default)]
    pub attempts_dropped: u64,
    pub started_at: String,
    pub duration_ms: f64,
    /// The interval log's lines, written beside the trace as `latency.hlog`.
    #[serde(skip)]
    #[schemars(skip)]
    pub intervals: Vec<Interval>,
}

impl ScenarioReport {
    pub fn verdict(&self) -> ScenarioVerdict {
        if self.skipped.is_some() {
            ScenarioVerdict::Skip
        } else if self.passed {
            ScenarioVerdict::Pass
        } else if self.error.is_none()
            && !self.problems.is_empty()
            && self.steps.iter().all(|s| s.passed)
            && self.problems.iter().all(|p| matches!(p, Problem::Gate { verdict: Verdict::Inconclusive, .. }))
        {
            ScenarioVerdict::Inconclusive
        } else {
            ScenarioVerdict::Fail
        }
    }

    pub(super) fn new(loaded: &Loaded, opts: &RunOptions, seed: u64) -> Self {
        ScenarioReport {
            name: loaded.scenario.name.clone(),
            description: loaded.scenario.description.clone(),
            tags: loaded.scenario.tags.clone(),
            file: loaded.path.clone(),
            playbook: loaded.scenario.playbook,
            run_id: String::new(),
            incomplete: false,
            target: opts.target.describe(),
            seed,
            passed: false,
            skipped: None,
            error: None,
            steps: Vec::new(),
            channels: Vec::new(),
            failure_modes: Vec::new(),
            findings: Vec::new(),
            not_judged: Vec::new(),
            problems: Vec::new(),
            expect: loaded.scenario.expect.clone(),
            load: Vec::new(),
            gates: Vec::new(),
            latency: BTreeMap::new(),
            windows: Vec::new(),
            totals: Window::default(),
            phases: Vec::new(),
            evidence: Vec::new(),
            watch: Vec::new(),
            watch_rules: BTreeMap::new(),
            severity: Default::default(),
            requests: Vec::new(),
            requests_dropped: Dropped::default(),
            journal: Vec::new(),
            journal_dropped: Dropped::default(),
            attempt_mix: Vec::new(),
            receipts: Vec::new(),
            attempts: Attempts::new(),
            attempts_dropped: 0,
            intervals: Vec::new(),
            started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            duration_ms: 0.0,
        }
    }
}
