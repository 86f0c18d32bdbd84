//! Running scenarios: for each, start the mock fleet with its faults, start or reach the target,
//! run the steps in order (each under a deadline), then judge: the steps' checks, the external
//! channels' failure modes, and the gateway's conduct from the providers' journal. A scenario
//! passes when every check passed and the failure modes and findings seen are exactly those it
//! expects. The result is one typed report per scenario, which the evidence writers consume.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::external::ChannelTrace;
use super::load::LoadReport;
use super::steps::{Check, StepCtx, execute};
use super::target::{self, TargetSpec};
use crate::classify::FailureMode;
use crate::classify::conduct::{self, Evidence, Finding};
use crate::mock::config::FleetConfig;
use crate::mock::journal::AttemptRecord;
use crate::mock::schedule::RuleReceipt;
use crate::mock::{FleetOptions, ProviderFleet};
use crate::scenario::{Loaded, Playbook, Step};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub target: TargetSpec,
    pub seed: Option<u64>,
    pub out: PathBuf,
    pub allow_load: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub kind: &'static str,
    pub passed: bool,
    pub skipped: Option<String>,
    pub checks: Vec<Check>,
    pub started_ms: f64,
    pub duration_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub file: PathBuf,
    pub playbook: Playbook,
    pub target: String,
    pub seed: u64,
    pub passed: bool,
    pub skipped: Option<String>,
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
    pub channels: Vec<ChannelTrace>,
    pub failure_modes: Vec<FailureMode>,
    pub findings: Vec<Evidence>,
    /// Expectations not met, in words.
    pub problems: Vec<String>,
    pub load: Vec<LoadReport>,
    pub journal: Vec<AttemptRecord>,
    pub receipts: Vec<(String, RuleReceipt)>,
    pub started_at: String,
    pub duration_ms: f64,
}

impl ScenarioReport {
    fn new(loaded: &Loaded, opts: &RunOptions, seed: u64) -> Self {
        ScenarioReport {
            name: loaded.scenario.name.clone(),
            file: loaded.path.clone(),
            playbook: loaded.scenario.playbook,
            target: opts.target.describe(),
            seed,
            passed: false,
            skipped: None,
            error: None,
            steps: Vec::new(),
            channels: Vec::new(),
            failure_modes: Vec::new(),
            findings: Vec::new(),
            problems: Vec::new(),
            load: Vec::new(),
            journal: Vec::new(),
            receipts: Vec::new(),
            started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            duration_ms: 0.0,
        }
    }
}

fn needs_mocks(loaded: &Loaded) -> bool {
    !loaded.scenario.faults.is_empty() || loaded.scenario.steps.iter().any(|s| matches!(s, Step::Faults { .. }))
}

/// How long a step may take: its own wait plus the scenario's step deadline.
fn step_deadline(step: &Step, base: Duration) -> Duration {
    match step {
        Step::WaitUntil { deadline, .. } => deadline.0 + base,
        Step::Sleep { duration } => duration.0 + base,
        Step::Load { duration: Some(d), .. } => d.0 + base,
        Step::Load { count: Some(n), .. } => {
            base + Duration::from_millis(n.saturating_mul(50)).min(Duration::from_secs(600))
        }
        _ => base,
    }
}

/// Runs one scenario to its report.
pub async fn run_scenario(loaded: &Loaded, opts: &RunOptions) -> ScenarioReport {
    let started = tokio::time::Instant::now();
    let s = &loaded.scenario;
    let seed = opts.seed.or(s.seed).unwrap_or(0);
    let mut report = ScenarioReport::new(loaded, opts, seed);
    if !opts.target.uses_mocks() && needs_mocks(loaded) {
        report.skipped =
            Some("injects provider faults, which needs a target wired to gatedrill's mocks (embedded or cmd:)".into());
        report.passed = true;
        return report;
    }
    let config = match &s.providers {
        Some(p) => {
            let path = loaded.path.parent().unwrap_or(std::path::Path::new(".")).join(p);
            match FleetConfig::load(&path) {
                Ok(c) => c,
                Err(e) => return fail(report, started, e.to_string()),
            }
        }
        None => FleetConfig::embedded(),
    };
    let windows = config.clone();
    let mut fleet_opts = FleetOptions::new(config);
    fleet_opts.seed = seed;
    fleet_opts.rules = s.faults.clone();
    let fleet = match ProviderFleet::start(fleet_opts).await {
        Ok(f) => f,
        Err(e) => return fail(report, started, e.to_string()),
    };
    let work_dir = opts.out.join(&s.name);
    let mut running = match target::start(&opts.target, &fleet, &s.gateway.env, opts.allow_load, &work_dir).await {
        Ok(r) => r,
        Err(e) => {
            fleet.shutdown().await;
            return fail(report, started, e.to_string());
        }
    };
    let client = reqwest::Client::builder().build().unwrap_or_default();
    let mut ctx = StepCtx {
        target: &running,
        fleet: opts.target.uses_mocks().then_some(&fleet),
        client,
        scenario_path: &loaded.path,
        deadline: s.step_deadline.0,
        channels: Vec::new(),
        findings: Vec::new(),
        load: Vec::new(),
        probes: 0,
    };
    for (index, step) in s.steps.iter().enumerate() {
        let step_started = started.elapsed();
        if !step.is_probe() && !ctx.target.load_allowed {
            report.steps.push(StepReport {
                index,
                kind: step.kind(),
                passed: true,
                skipped: Some("load and faults need a loopback target or --allow-load".into()),
                checks: Vec::new(),
                started_ms: ms(step_started),
                duration_ms: 0.0,
            });
            continue;
        }
        let checks = match tokio::time::timeout(step_deadline(step, s.step_deadline.0), execute(&mut ctx, step)).await {
            Ok(c) => c,
            Err(_) => vec![Check {
                name: "deadline".into(),
                passed: false,
                expected: format!("done within {}", crate::duration::Dur(step_deadline(step, s.step_deadline.0))),
                actual: "still running".into(),
            }],
        };
        let passed = checks.iter().all(|c| c.passed);
        report.steps.push(StepReport {
            index,
            kind: step.kind(),
            passed,
            skipped: None,
            checks,
            started_ms: ms(step_started),
            duration_ms: ms(started.elapsed() - step_started),
        });
    }
    let (channels, mut findings, load) =
        (std::mem::take(&mut ctx.channels), std::mem::take(&mut ctx.findings), std::mem::take(&mut ctx.load));
    let cooldown_ms = running.cooldown_ms;
    drop(ctx);
    if opts.target.uses_mocks() {
        report.journal = fleet.journal();
        report.receipts = fleet.receipts();
        let window = |model: &str| {
            windows.providers.iter().flat_map(|p| &p.models).find(|m| m.id == model).map(|m| m.context_window)
        };
        findings.extend(conduct::judge(
            &report.journal,
            &report.receipts,
            &conduct::Context { cooldown_ms, window: &window },
        ));
    }
    running.stop().await;
    fleet.shutdown().await;

    let modes: BTreeSet<FailureMode> = channels.iter().filter_map(|c| c.failure_mode).collect();
    let seen: BTreeSet<Finding> = findings.iter().map(|f| f.finding).collect();
    let want_modes: BTreeSet<FailureMode> = s.expect.failure_modes.iter().copied().collect();
    let want_findings: BTreeSet<Finding> = s.expect.findings.iter().copied().collect();
    for m in want_modes.difference(&modes) {
        report.problems.push(format!("expected failure mode {} was not seen", m.id()));
    }
    for m in modes.difference(&want_modes) {
        report.problems.push(format!("unexpected failure mode {}", m.id()));
    }
    for f in want_findings.difference(&seen) {
        report.problems.push(format!("expected finding {} was not seen", id(f)));
    }
    for f in seen.difference(&want_findings) {
        let detail = findings
            .iter()
            .find(|e| e.finding == *f)
            .map(|e| format!(" ({}: {})", e.provider, e.detail))
            .unwrap_or_default();
        report.problems.push(format!("unexpected finding {}{detail}", id(f)));
    }
    report.channels = channels;
    report.failure_modes = modes.into_iter().collect();
    report.findings = findings;
    report.load = load;
    report.passed = report.steps.iter().all(|s| s.passed) && report.problems.is_empty();
    report.duration_ms = ms(started.elapsed());
    report
}

pub fn id<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn fail(mut report: ScenarioReport, started: tokio::time::Instant, error: String) -> ScenarioReport {
    report.error = Some(error);
    report.passed = false;
    report.duration_ms = ms(started.elapsed());
    report
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
