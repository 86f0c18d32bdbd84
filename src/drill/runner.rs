//! Running scenarios: for each, start the mock fleet with its faults, start or reach the target,
//! run the steps in order (each under a deadline), then judge: the steps' checks, the external
//! channels' failure modes, and the gateway's conduct from the providers' journal. A scenario
//! passes when every check passed and the failure modes and findings seen are exactly those it
//! expects. The result is one typed report per scenario, which the evidence writers consume.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::exchange::Exchanger;
use super::external::ChannelTrace;
use super::fleet::{Fleet, FleetSpec, RemoteFleet};
use super::needs;
use super::observe::Endpoint;
use super::observe::{Dropped, FAILURE_CAP, Observer, SUCCESS_CAP};
pub use super::outcome::{EvidenceItem, Phase, ScenarioReport, ScenarioVerdict, StepReport};
use super::problem::{Harness, Problem};
use super::profile::{TargetApi, TargetProfile};
use super::steps::{Check, EvidenceKind, StepCtx, execute};
use super::target::{self, TargetSpec};
use crate::classify::FailureMode;
use crate::classify::conduct::{self, Finding};
use crate::metrics::gate::Verdict;
use crate::metrics::series::Attempts;
use crate::mock::config::FleetConfig;
use crate::mock::journal::{AttemptRecord, Outcome, attempt_mix};
use crate::mock::{FleetOptions, ProviderFleet};
use crate::scenario::{Loaded, Step};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub target: TargetSpec,
    pub seed: Option<u64>,
    pub out: PathBuf,
    pub allow_load: bool,
    /// Fires on Ctrl-C or SIGTERM: the scenario stops between steps and reports what it has.
    pub cancel: CancellationToken,
    /// Every secret the run handled (tokens, keys, URL userinfo), masked in every artifact.
    pub secrets: std::sync::Arc<std::sync::Mutex<crate::secret::Secrets>>,
    pub progress: super::progress::Progress,
    /// This machine's segment of every load step (`--segment K/N`).
    pub segment: Option<super::shard::Shard>,
    /// An earlier run to compare with (`--baseline DIR`); relative gates need it.
    pub baseline: Option<std::sync::Arc<crate::report::baseline::Baseline>>,
    /// A fleet already running (`--fleet`), used instead of starting one per scenario.
    pub fleet: Option<FleetSpec>,
    /// A URL target's declared configuration (`--target-env`).
    pub declared: Option<BTreeMap<String, String>>,
    /// How the target is reached (`--profile`).
    pub profile: std::sync::Arc<TargetProfile>,
}

/// This run's own fleet (embedded and `cmd:` targets), the one `--fleet` names, or none (a
/// gateway at a URL with no fleet never calls this run's mocks).
async fn start_fleet(
    opts: &RunOptions,
    config: FleetConfig,
    seed: u64,
    rules: &[crate::mock::faults::FaultRule],
) -> Result<Option<Fleet>, String> {
    if let Some(spec) = &opts.fleet {
        // A gateway that outlives scenarios still cools providers down from the last one, and
        // may still be retrying for it: let that end before the journal starts anew.
        if let (TargetSpec::Url(_), Some(d)) = (&opts.target, &opts.declared) {
            let ms = |k: &str| d.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            let settle = ms("AI_PROVIDER_COOLDOWN_MS").saturating_add(ms("AI_PROVIDER_TIMEOUT_MS")).min(60_000);
            tokio::time::sleep(Duration::from_millis(settle)).await;
        }
        return RemoteFleet::attach(spec, &config, rules).await.map(|f| Some(Fleet::Remote(f)));
    }
    if !opts.target.uses_mocks() {
        return Ok(None);
    }
    let mut fleet_opts = FleetOptions::new(config);
    fleet_opts.seed = seed;
    fleet_opts.rules = rules.to_vec();
    let f = ProviderFleet::start(fleet_opts).await.map_err(|e| e.to_string())?;
    // Started: the start-up's code and the BPE source data need not stay resident through a
    // long drill.
    crate::mock::resident::release_startup_pages();
    Ok(Some(Fleet::Local(f)))
}

/// How long a step may take: its own wait plus the scenario's step deadline.
fn step_deadline(step: &Step, base: Duration, scale: f64) -> Duration {
    match step {
        // A watch: its duration in drill time, then one more round.
        Step::Watch { duration, .. } => crate::scenario::scaled(duration.0, scale).saturating_add(base),
        Step::WaitUntil { deadline, .. } => deadline.0.saturating_add(base),
        Step::Sleep { duration } => duration.0.saturating_add(base),
        Step::Load { duration: Some(d), .. } => d.0.saturating_add(base),
        // A closed load: a second per request and worker, at most ten minutes more.
        Step::Load { count: Some(n), concurrency, .. } => {
            let per_worker = n.saturating_mul(1000) / u64::from(concurrency.unwrap_or(1).max(1));
            base.saturating_add(Duration::from_millis(per_worker).min(Duration::from_secs(600)))
        }
        // A dry-run with its own timeout: the gateway's failover may take all of it.
        Step::DryRun { timeout: Some(t), .. } => base.max(t.0.saturating_add(Duration::from_secs(1))),
        _ => base,
    }
}

/// Runs one scenario to its report.
pub async fn run_scenario(loaded: &Loaded, opts: &RunOptions) -> ScenarioReport {
    let started = tokio::time::Instant::now();
    let s = &loaded.scenario;
    let seed = opts.seed.or(s.seed).unwrap_or(0);
    let mut report = ScenarioReport::new(loaded, opts, seed);
    let config = match &s.providers {
        Some(p) => {
            let path = loaded.path.parent().unwrap_or(std::path::Path::new(".")).join(p);
            match FleetConfig::load(&path) {
                Ok(c) => c,
                Err(e) => return fail(report, loaded, started, e.to_string()),
            }
        }
        None => FleetConfig::embedded(),
    };
    let described = opts.fleet.as_ref().map(|f| Fleet::Remote(RemoteFleet::describe(f, &config)));
    let known = needs::Known {
        target: &opts.target,
        fleet: described.as_ref(),
        declared: opts.declared.as_ref(),
        provider_api_only: opts.profile.api == TargetApi::Openai,
        templated: opts.profile.template.is_some(),
    };
    // The fleet's keys are this run's secrets from the start, whatever happens next.
    if let (Some(f), Ok(mut known)) = (&described, opts.secrets.lock()) {
        known.extend(&target::configured_secrets(&BTreeMap::new(), f));
    }
    if let Some(why) = needs::unmet(loaded, &known) {
        report.skipped = Some(why);
        // Skipped is not passed: the drill did not happen.
        report.passed = false;
        report.channels = unobserved_channels(loaded, &[]);
        return report;
    }
    let windows = config.clone();
    let fleet = match start_fleet(opts, config, seed, &s.faults).await {
        Ok(f) => f,
        Err(e) => return fail(report, loaded, started, e),
    };
    let work_dir = opts.out.join(&s.name);
    let reach = target::Reach { profile: &opts.profile, declared: opts.declared.as_ref(), allow_load: opts.allow_load };
    let mut running = match target::start(&opts.target, fleet.as_ref(), &s.gateway, &reach, &work_dir).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(f) = fleet {
                f.shutdown().await;
            }
            return fail(report, loaded, started, e.to_string());
        }
    };
    if let Ok(mut known) = opts.secrets.lock() {
        known.extend(&running.secrets);
    }
    // Each exchange ends a little before its step's deadline, so a step always records what
    // its exchange observed rather than being cut off by its own deadline.
    let ex = Exchanger::new(
        &running.base_url,
        running.admin_token.clone(),
        running.webhook_secret.clone(),
        s.step_deadline.0.mul_f64(0.9),
    )
    .with_key_header(opts.profile.key_header());
    let obs = Observer::new(started, s.window.0);
    let progress = opts.progress.scenario(&s.name, s.steps.len());
    if !s.faults.is_empty() {
        let ids: Vec<&str> = s.faults.iter().map(|r| r.id.as_str()).collect();
        report.phases.push(Phase { t_ms: 0.0, change: format!("fault rules loaded at start: {}", ids.join(", ")) });
    }
    let mut ctx = StepCtx {
        target: &mut running,
        fleet: fleet.as_ref(),
        ex,
        scenario_path: &loaded.path,
        deadline: s.step_deadline.0,
        channels: Vec::new(),
        findings: Vec::new(),
        load: Vec::new(),
        probes: 0,
        obs: &obs,
        step: (0, "start"),
        until: tokio::time::Instant::now(),
        body_cap: super::exchange::BODY_CAP,
        segment: opts.segment,
        phases: Vec::new(),
        evidence: Vec::new(),
        progress: progress.clone(),
        time_scale: s.scale(),
        watches: Vec::new(),
        known_sessions: Vec::new(),
        probe_sessions: Default::default(),
        requests: Default::default(),
    };
    for (index, step) in s.steps.iter().enumerate() {
        if opts.cancel.is_cancelled() {
            report.incomplete = true;
            break;
        }
        ctx.step = (index, step.kind());
        ctx.progress.step(index, step.kind());
        let step_started = started.elapsed();
        if !step.is_probe() && !ctx.target.load_allowed {
            report.steps.push(StepReport {
                index,
                kind: step.kind().into(),
                passed: true,
                skipped: Some("load and faults need a loopback target or --allow-load".into()),
                checks: Vec::new(),
                started_ms: ms(step_started),
                duration_ms: 0.0,
            });
            continue;
        }
        let limit = step_deadline(step, s.step_deadline.0, s.scale());
        // Exchanges end a little before the step's own deadline, so the step records them.
        let now = tokio::time::Instant::now();
        ctx.until = now.checked_add(limit.mul_f64(0.95)).unwrap_or(now);
        ctx.body_cap =
            if matches!(step, Step::Load { .. }) { super::exchange::LOAD_BODY_CAP } else { super::exchange::BODY_CAP };
        let ran = tokio::select! {
            r = tokio::time::timeout(limit, execute(&mut ctx, step)) => Some(r),
            _ = opts.cancel.cancelled() => None,
        };
        let checks = match ran {
            None => {
                report.incomplete = true;
                vec![Check {
                    name: "interrupted".into(),
                    passed: false,
                    expected: "the step to finish".into(),
                    actual: "interrupted by a signal".into(),
                }]
            }
            Some(Ok(c)) => c,
            Some(Err(_)) => vec![Check {
                name: "deadline".into(),
                passed: false,
                expected: format!("done within {}", crate::duration::Dur(limit)),
                actual: "still running".into(),
            }],
        };
        let passed = checks.iter().all(|c| c.passed);
        report.steps.push(StepReport {
            index,
            kind: step.kind().into(),
            passed,
            skipped: None,
            checks,
            started_ms: ms(step_started),
            duration_ms: ms(started.elapsed() - step_started),
        });
        if report.incomplete {
            break;
        }
    }
    // The runtime's state at the end, for the incident evidence (bounded like any step).
    ctx.step = (s.steps.len(), "end");
    let now = tokio::time::Instant::now();
    ctx.until = now.checked_add(s.step_deadline.0).unwrap_or(now);
    if !report.incomplete && opts.profile.api == TargetApi::Runbook {
        let seen = ctx.get(Endpoint::RuntimeHealth, crate::wire::paths::RUNTIME_HEALTH).await;
        if seen.is(200) {
            ctx.evidence.push((EvidenceKind::RuntimeHealthAtEnd, "runtime health at end".into(), seen.traced()));
        }
    }
    let (mut channels, mut findings, load) =
        (std::mem::take(&mut ctx.channels), std::mem::take(&mut ctx.findings), std::mem::take(&mut ctx.load));
    let missing = unobserved_channels(loaded, &channels);
    channels.extend(missing);
    report.phases.extend(ctx.phases.drain(..).map(|(t_ms, change)| Phase { t_ms, change }));
    report.watch = std::mem::take(&mut ctx.watches);
    for v in report.watch.iter().flat_map(|w| &w.verdicts) {
        let e = report.watch_rules.entry(v.rule.id().to_string()).or_default();
        e.0 += u64::from(v.outcome != crate::watch::rules::RuleOutcome::Clear);
        e.1 += 1;
    }
    report.evidence =
        ctx.evidence.drain(..).map(|(kind, what, payload)| EvidenceItem { kind, what, payload }).collect();
    let client = std::mem::take(&mut *ctx.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    drop(ctx);
    // The scenario's declared cooldown wins: the gateway's real one may not be what gatedrill set.
    let cooldown_ms = s.conduct.cooldown.map(|d| d.as_millis_f64()).or(running.cooldown_ms);
    let conduct_ctx = |window, complete| conduct_context(&s.conduct, cooldown_ms, &client.kept, window, complete);
    findings.extend(crate::classify::requests::judge_client(&client.kept));
    report.not_judged = conduct::not_judged(&conduct_ctx(&|_| None, true), fleet.is_some());
    if client.dropped > 0 {
        for finding in [Finding::PrematureGiveUp, Finding::FailoverSkipped, Finding::RetryAfterDropped] {
            report.not_judged.push(conduct::NotJudged {
                finding,
                reason: format!(
                    "judged on the first {} chat completions; {} more were not kept",
                    client.kept.len(),
                    client.dropped
                ),
            });
        }
    }
    if running.harness_errors() > 0 {
        report
            .problems
            .push(Problem::HarnessError { harness: Harness::ReferenceGateway, count: running.harness_errors() });
    }
    let mut provider_latency = Vec::new();
    if let Some(fleet) = &fleet {
        let c = fleet.collect().await;
        if c.harness_errors > 0 {
            report.problems.push(Problem::HarnessError { harness: Harness::MockProviders, count: c.harness_errors });
        }
        for (provider, detail) in &c.unreadable {
            report.problems.push(Problem::FleetUnreadable { provider: provider.clone(), detail: detail.clone() });
        }
        let complete = c.dropped == 0 && c.unreadable.is_empty();
        (report.journal, report.receipts, provider_latency, report.attempts_dropped) =
            (c.journal, c.receipts, c.latency, c.dropped);
        let window = |model: &str| {
            windows.providers.iter().flat_map(|p| &p.models).find(|m| m.id == model).map(|m| m.context_window)
        };
        findings.extend(conduct::judge(&report.journal, &report.receipts, &conduct_ctx(&window, complete)));
    }
    running.stop().await;
    if let Some(f) = fleet {
        f.shutdown().await;
    }

    let modes: BTreeSet<FailureMode> = channels.iter().filter_map(|c| c.failure_mode).collect();
    let seen: BTreeSet<Finding> = findings.iter().map(|f| f.finding).collect();
    let want_modes: BTreeSet<FailureMode> = s.expect.failure_modes.iter().copied().collect();
    let want_findings: BTreeSet<Finding> = s.expect.findings.iter().copied().collect();
    for m in want_modes.difference(&modes) {
        report.problems.push(Problem::MissingFailureMode { failure_mode: *m });
    }
    // A channel failure is expected only on the channel drilled for it: the same mode on any
    // other channel is a real failure, whatever the scenario expects elsewhere.
    let undrilled: BTreeSet<FailureMode> =
        channels.iter().filter(|c| !c.drilled()).filter_map(|c| c.failure_mode).collect();
    for m in modes.difference(&want_modes).chain(undrilled.intersection(&want_modes)) {
        report.problems.push(Problem::UnexpectedFailureMode { failure_mode: *m });
    }
    for f in want_findings.difference(&seen) {
        report.problems.push(Problem::MissingFinding { finding: *f });
    }
    for f in seen.difference(&want_findings) {
        let (provider, detail) = findings
            .iter()
            .find(|e| e.finding == *f)
            .map(|e| (e.provider.clone(), e.detail.clone()))
            .unwrap_or_default();
        report.problems.push(Problem::UnexpectedFinding { finding: *f, provider, detail });
    }
    let o = obs.finish(provider_latency);
    report.attempts = attempts_by_outcome(&report.journal);
    (report.latency, report.intervals, report.windows, report.totals) = (o.latency, o.intervals, o.windows, o.totals);
    report.findings = findings;
    let baseline = match &opts.baseline {
        Some(b) => b.scenario(&s.name).map(|r| r.source()),
        None => Err("no baseline run (--baseline DIR)".to_string()),
    };
    let gates =
        s.gates.iter().map(|g| g.evaluate(&report.source(), baseline.as_ref().map_err(|e| e.as_str()))).collect();
    report.gates = gates;
    // An advisory gate is reported everywhere and never part of the verdict.
    for g in report.gates.iter().filter(|g| g.verdict != Verdict::Pass && !g.advisory) {
        report.problems.push(Problem::Gate { gate: g.gate.clone(), verdict: g.verdict, detail: g.detail.clone() });
    }
    if report.incomplete {
        report.problems.push(Problem::Interrupted);
    }
    (report.requests, report.requests_dropped) = (o.requests, o.dropped);
    report.attempt_mix = attempt_mix(&report.journal);
    let down = crate::report::severity::providers_down(&report.journal);
    let runbook_minutes = report.duration_ms.max(ms(started.elapsed())) / 60_000.0 * s.scale();
    report.severity = crate::report::severity::assess(&report.totals, &report.windows, down, runbook_minutes);
    (report.journal, report.journal_dropped) = sample_journal(std::mem::take(&mut report.journal));
    report.channels = channels;
    report.failure_modes = modes.into_iter().collect();
    report.load = load;
    report.passed = report.steps.iter().all(|s| s.passed) && report.problems.is_empty();
    report.duration_ms = ms(started.elapsed());
    progress.finish(report.verdict().as_str());
    report
}

/// What the conduct rules judge with, from the scenario's `[conduct]` and the cooldown in force.
fn conduct_context<'a>(
    spec: &crate::scenario::conduct::ConductSpec,
    cooldown_ms: Option<f64>,
    requests: &'a [crate::classify::requests::ClientRequest],
    window: &'a dyn Fn(&str) -> Option<u64>,
    journal_complete: bool,
) -> conduct::Context<'a> {
    conduct::Context {
        cooldown_ms,
        retry_storm: spec.retry_storm(),
        failover_budget_ms: spec.failover_budget.map(|d| d.as_millis_f64()),
        requests,
        window,
        journal_complete,
    }
}

/// Every provider's attempts by outcome, from the whole journal (before the trace samples it).
fn attempts_by_outcome(journal: &[AttemptRecord]) -> Attempts {
    let mut out = Attempts::new();
    for a in journal {
        *out.entry(a.provider.clone()).or_default().entry(id(&a.outcome)).or_default() += 1;
    }
    out
}

/// The journal as kept in a trace: every failed attempt up to a cap, completed ones sampled.
fn sample_journal(all: Vec<AttemptRecord>) -> (Vec<AttemptRecord>, Dropped) {
    let mut dropped = Dropped::default();
    let (mut ok, mut failed) = (0usize, 0usize);
    let kept = all
        .into_iter()
        .filter(|r| {
            if r.outcome == Outcome::Completed {
                ok += 1;
                dropped.successes += u64::from(ok > SUCCESS_CAP);
                ok <= SUCCESS_CAP
            } else {
                failed += 1;
                dropped.failures += u64::from(failed > FAILURE_CAP);
                failed <= FAILURE_CAP
            }
        })
        .collect();
    (kept, dropped)
}

pub fn id<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The launch-gate channels a scenario plans and `have` does not hold: each is recorded as not
/// observed (`unknown`), so a channel step cut off by its deadline, a target that never started
/// or a skipped scenario never leaves a required channel out of the launch-gate summary.
fn unobserved_channels(loaded: &Loaded, have: &[ChannelTrace]) -> Vec<ChannelTrace> {
    let mut out = Vec::new();
    for step in &loaded.scenario.steps {
        let Step::ExternalChannelCheck { channels } = step else { continue };
        for c in channels {
            if have.iter().chain(&out).any(|t| t.channel == c.channel && t.connector_id == c.connector) {
                continue;
            }
            out.push(super::external::unobserved(&super::external::ChannelProbe {
                connector_id: c.connector.clone(),
                channel: c.channel.clone(),
                payload: serde_json::Value::Null,
                expected_external_session_id: super::steps::expected_id(&loaded.path, &c.fixture).unwrap_or_default(),
                required: c.required,
                stale_secret: c.wrong_secret,
                expect_failure_mode: c.expect_failure_mode,
            }));
        }
    }
    out
}

fn fail(mut report: ScenarioReport, loaded: &Loaded, started: tokio::time::Instant, error: String) -> ScenarioReport {
    report.error = Some(error);
    report.passed = false;
    report.channels = unobserved_channels(loaded, &[]);
    report.failure_modes = report.channels.iter().filter_map(|c| c.failure_mode).collect();
    report.duration_ms = ms(started.elapsed());
    report
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
