//! The scenario format (DESIGN.md, "Scenario files"): one TOML (or JSON) file per drill, naming the
//! seed-000 playbook or runbook section it exercises, the gateway environment, the fault rules
//! and their schedules, the ordered steps, and the expected outcome. Types here are the source
//! of the committed JSON Schema (`scenarios/scenario.schema.json`); validation that the types
//! cannot express runs at load, so every problem is reported with file, line and column.

pub mod abort;
pub mod conduct;
pub mod steps;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::classify::FailureMode;
use crate::classify::conduct::Finding;
use crate::duration::Dur;
use crate::input::{self, InputError};
use crate::metrics::gate::Gate;
use crate::mock::faults::FaultRule;
pub use steps::Step;

/// What a scenario drills: a seed-000 playbook or a section of the gateway runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Playbook {
    /// Seed 000, playbook A: model outage and provider instability.
    ModelOutage,
    /// Seed 000, playbook B: tool degradation and delivery contract instability.
    ToolDegradation,
    /// Seed 000, playbook C: cost spikes and budget integrity.
    CostSpike,
    /// Runbook A: AI provider failover cascade.
    ProviderFailover,
    /// Runbook B: agent gateway session backlog.
    SessionBacklog,
    /// Runbook C: orchestration disabled or misconfigured.
    OrchestrationDisabled,
    /// Runbook: release window checks (mandatory).
    ReleaseWindow,
    /// Runbook: connector ingest profiles and external-channel fallback.
    ConnectorIngest,
}

/// A drill.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// snake_case name, unique in a library.
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub playbook: Playbook,
    /// Seed for the mocks' draws; `--seed` overrides it.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Provider fleet configuration, relative to the scenario file (default: the embedded one).
    #[serde(default)]
    pub providers: Option<PathBuf>,
    #[serde(default)]
    pub gateway: GatewaySetup,
    /// Fault rules loaded when the fleet starts.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// Deadline of a step that sets none itself.
    #[serde(default = "default_step_deadline")]
    pub step_deadline: Dur,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub expect: Expect,
    /// Length of an SLO window (time-compressed drills use short ones).
    #[serde(default = "default_window")]
    pub window: Dur,
    /// Gates: expressions such as `p95_response_latency_ms < 1500`, `error_rate < 1%`,
    /// `model_fallback_rate <= 0.2 for 2 consecutive windows`, `failover_overhead.p95_ms < 300`,
    /// `p95_response_latency_ms <= baseline * 1.2`; or tables with the expression under `gate`
    /// and window rules (`failure_limit`, `fail_after`, `pass_after`, `min_samples`,
    /// `min_window_samples`) and `advisory`.
    #[serde(default)]
    pub gates: Vec<Gate>,
    /// Turns the runbook's durations (a `watch` step's rules, duration and interval) into drill
    /// time: `{ runbook = "5m", drill = "500ms" }` runs "rolesBlocked > 0 for 5m" in 500 ms.
    /// Without it, runbook durations are real durations.
    #[serde(default)]
    pub time_scale: Option<TimeScale>,
    /// What the target is declared to do that the conduct rules judge with: its provider
    /// `cooldown`, the `retry_storm` threshold, the `failover_budget`.
    #[serde(default)]
    pub conduct: conduct::ConductSpec,
}

/// How much faster than the runbook's clock a drill runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeScale {
    pub runbook: Dur,
    pub drill: Dur,
}

/// The largest compression a time scale may ask for.
pub const MAX_TIME_SCALE: f64 = 1_000_000.0;

impl Scenario {
    /// Runbook time per unit of drill time (1 without a `time_scale`).
    pub fn scale(&self) -> f64 {
        self.time_scale.map_or(1.0, |t| {
            let f = t.runbook.0.as_secs_f64() / t.drill.0.as_secs_f64();
            if f.is_finite() && f > 0.0 { f } else { 1.0 }
        })
    }
}

/// A runbook duration in drill time.
pub fn scaled(d: std::time::Duration, scale: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(
        (d.as_secs_f64() / scale.max(f64::MIN_POSITIVE)).min(crate::duration::MAX.as_secs_f64()),
    )
}

fn default_window() -> Dur {
    Dur::from_millis(1000)
}

fn default_step_deadline() -> Dur {
    Dur::from_millis(10_000)
}

/// The gateway's environment. Values may use `{{mock.<provider>.url}}`; the admin token and
/// webhook secret are generated per run for the embedded gateway and never written here.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewaySetup {
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the embedded gateway keeps sessions: `memory` (lost on a restart) or `sqlite` (a
    /// file in the scenario's output folder, kept across a `gateway_restart`).
    #[serde(default)]
    pub store: GatewayStore,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GatewayStore {
    #[default]
    Memory,
    Sqlite,
}

/// The outcome a scenario expects. Listed failure modes and findings must appear; any other
/// must not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub failure_modes: Vec<FailureMode>,
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// Shortest step deadline a launch-gate channel check gets.
pub const MIN_CHANNEL_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);

/// Longest SLO window.
pub const MAX_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// A scenario with where it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub scenario: Scenario,
}

/// Loads and validates one scenario file; the first problem (see [`check`] for all of them).
pub fn load(path: &Path) -> Result<Loaded, InputError> {
    check(path).map_err(|mut all| all.swap_remove(0))
}

/// Loads a scenario file and reports every problem it has in one pass: a syntax or type error
/// stops the parse (one at a time), every later check is made and reported.
pub fn check(path: &Path) -> Result<Loaded, Vec<InputError>> {
    let scenario: Scenario = input::load_file(path).map_err(|e| vec![e])?;
    let problem = |message: String| InputError { path: path.to_path_buf(), line: None, column: None, message };
    let mut problems = Vec::new();
    if scenario.name.is_empty()
        || !scenario.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        problems.push(locate(path, "name", problem(format!("name {:?} must be snake_case", scenario.name))));
    }
    if scenario.window.0 < std::time::Duration::from_millis(10) || scenario.window.0 > MAX_WINDOW {
        problems.push(locate(path, "window", problem(format!("window: must be within 10ms..={}", Dur(MAX_WINDOW)))));
    }
    if scenario.step_deadline.0 < std::time::Duration::from_millis(10) || scenario.step_deadline.0 > steps::MAX_WAIT {
        problems.push(locate(
            path,
            "step_deadline",
            problem(format!("step_deadline: must be within 10ms..={}", Dur(steps::MAX_WAIT))),
        ));
    }
    let channels = scenario.steps.iter().any(|s| matches!(s, Step::ExternalChannelCheck { .. }));
    if channels && scenario.step_deadline.0 < MIN_CHANNEL_DEADLINE {
        problems.push(locate(
            path,
            "step_deadline",
            problem(format!(
                "step_deadline: at least {} for a scenario with an external_channel_check (three exchanges per channel)",
                Dur(MIN_CHANNEL_DEADLINE)
            )),
        ));
    }
    if let Some(t) = scenario.time_scale {
        let f = t.runbook.0.as_secs_f64() / t.drill.0.as_secs_f64();
        if t.drill.0.is_zero() || !(1.0..=MAX_TIME_SCALE).contains(&f) {
            problems.push(locate(
                path,
                "time_scale",
                problem(format!(
                    "time_scale: runbook / drill must be within 1..={MAX_TIME_SCALE} (a drill never runs slower)"
                )),
            ));
        }
    }
    for (key, message) in scenario.conduct.problems() {
        problems.push(locate(path, key, problem(message)));
    }
    if scenario.expect.findings.contains(&Finding::SlowFailover) && scenario.conduct.failover_budget.is_none() {
        problems.push(locate(
            path,
            "findings",
            problem("expect.findings: slow_failover is judged only against a [conduct] failover_budget".into()),
        ));
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Step::Watch { .. } = step
            && let Err(m) = step.validate_watch(scenario.scale())
        {
            problems.push(locate_nth(path, "[[steps]]", i, problem(format!("steps[{i}] (watch): {m}"))));
        }
    }
    if scenario.steps.is_empty() {
        problems.push(locate(path, "steps", problem("steps: at least one step is required".into())));
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Err(m) = step.validate(path) {
            problems.push(locate_nth(path, "[[steps]]", i, problem(format!("steps[{i}] ({}): {m}", step.kind()))));
        }
    }
    match fleet_of(path, &scenario) {
        Ok(fleet) => {
            for (key, message) in fleet_names(&scenario, &fleet) {
                problems.push(locate(path, key, problem(message)));
            }
            for message in unknown_series(&scenario, &fleet) {
                problems.push(locate(path, "gates", problem(message)));
            }
        }
        Err(e) => problems.push(e),
    }
    if problems.is_empty() { Ok(Loaded { path: path.to_path_buf(), scenario }) } else { Err(problems) }
}

/// The provider fleet a scenario runs with: its `providers` file, or the embedded one.
fn fleet_of(path: &Path, s: &Scenario) -> Result<crate::mock::config::FleetConfig, InputError> {
    match &s.providers {
        Some(p) => crate::mock::config::FleetConfig::load(&path.parent().unwrap_or(Path::new(".")).join(p)),
        None => Ok(crate::mock::config::FleetConfig::embedded()),
    }
}

/// Provider and model names the scenario uses that its fleet does not have, with the key to
/// point at: fault matches, the expected `served_by`, and the model chains in `[gateway.env]`.
fn fleet_names(s: &Scenario, fleet: &crate::mock::config::FleetConfig) -> Vec<(&'static str, String)> {
    let providers: Vec<&str> = fleet.providers.iter().map(|p| p.name.as_str()).collect();
    let models: Vec<&str> = fleet.providers.iter().flat_map(|p| p.models.iter().map(|m| m.id.as_str())).collect();
    let known = format!("providers: {}", providers.join(", "));
    let mut out = Vec::new();
    let rules = s.faults.iter().chain(s.steps.iter().flat_map(|st| match st {
        Step::Faults { add, .. } => add.as_slice(),
        _ => &[],
    }));
    for r in rules {
        if let Some(p) = r.matcher.provider.as_deref().filter(|p| !providers.contains(p)) {
            out.push(("id", format!("fault rule {:?}: match.provider {p:?} is not in the fleet ({known})", r.id)));
        }
        if let Some(m) = r.matcher.model.as_deref().filter(|m| !models.contains(m)) {
            out.push(("id", format!("fault rule {:?}: match.model {m:?} is no model of the fleet", r.id)));
        }
    }
    for st in &s.steps {
        if let Step::DryRun { expect, .. } = st
            && let Some(p) = expect.served_by.as_deref().filter(|p| !providers.contains(p))
        {
            out.push(("[[steps]]", format!("expect.served_by {p:?} is not in the fleet ({known})")));
        }
    }
    for (k, v) in &s.gateway.env {
        if !(k.starts_with("AI_") && k.ends_with("_MODEL_CHAIN")) || v.contains("{{") {
            continue;
        }
        for link in v.split(',').map(str::trim).filter(|l| !l.is_empty()) {
            let (p, m) = link.split_once(':').unwrap_or((link, ""));
            if !providers.contains(&p) || (!m.is_empty() && !models.contains(&m)) {
                out.push(("[gateway.env]", format!("{k}: {link:?} is not a provider:model of the fleet ({known})")));
            }
        }
    }
    out
}

/// Gates on a histogram or attempt series the scenario never records: each named, with the list
/// of the series it does record.
fn unknown_series(s: &Scenario, fleet: &crate::mock::config::FleetConfig) -> Vec<String> {
    let providers: Vec<&str> = fleet.providers.iter().map(|p| p.name.as_str()).collect();
    let steps: Vec<(usize, &str, bool)> =
        s.steps.iter().enumerate().map(|(i, st)| (i, st.kind(), matches!(st, Step::Load { .. }))).collect();
    let known = crate::metrics::series::known_tags(&providers, &steps);
    s.gates
        .iter()
        .filter_map(|g| {
            let tag = g.series.tag()?;
            (!known.contains(&tag)).then(|| {
                format!(
                    "gates: `{}`: unknown series {:?}; this scenario records {}, {}, and the histograms and attempts {} (a histogram takes .<stat>: {}; attempts take .<outcome>_rate, .failed_rate or .count)",
                    g.spec.gate,
                    g.series.id(),
                    crate::metrics::slo::MetricKey::ALL.iter().map(|k| k.id()).collect::<Vec<_>>().join(", "),
                    crate::metrics::series::CONDUCT_FINDINGS,
                    known.join(", "),
                    crate::metrics::series::LATENCY_STATS.join(", ")
                )
            })
        })
        .collect()
}

/// Points an error found after parsing at the line where `key` is written.
pub(crate) fn locate(path: &Path, key: &str, mut e: InputError) -> InputError {
    if let Ok(text) = std::fs::read_to_string(path)
        && let Some(off) = text
            .lines()
            .scan(0usize, |o, l| {
                let start = *o;
                *o += l.len() + 1;
                Some((start, l))
            })
            .find(|(_, l)| l.trim_start().starts_with(key))
            .map(|(o, _)| o)
    {
        let (l, c) = input::line_col(&text, off);
        e.line = Some(l);
        e.column = Some(c);
    }
    e
}

/// Points an error at the `n`th occurrence of `marker` (the nth step table).
fn locate_nth(path: &Path, marker: &str, n: usize, mut e: InputError) -> InputError {
    if let Ok(text) = std::fs::read_to_string(path)
        && let Some((off, _)) = text.match_indices(marker).nth(n)
    {
        let (l, c) = input::line_col(&text, off);
        e.line = Some(l);
        e.column = Some(c);
    }
    e
}

/// Every scenario file under the given paths (a file, or a folder's `*.toml` and `*.json`,
/// the schema excepted), sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| InputError {
                path: p.clone(),
                line: None,
                column: None,
                message: format!("cannot read folder: {e}"),
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    (name.ends_with(".toml") || name.ends_with(".json")) && !name.ends_with(".schema.json")
                })
                .collect();
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(InputError {
                path: p.clone(),
                line: None,
                column: None,
                message: "no such file or folder".into(),
            });
        }
    }
    Ok(out)
}

/// The JSON Schema of the scenario format, as committed in `scenarios/scenario.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}
