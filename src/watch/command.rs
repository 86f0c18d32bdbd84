//! `gatedrill watch --target URL --for 10m`: the release window (seed 001, "Release Window
//! Checks": "if these fail for longer than 10 minutes, follow rollback thresholds") against a
//! live gateway. Probes only (no orchestration, no load, no fault), the runbook's rules at their
//! real durations, a progress line per round, and the record written atomically after every
//! round, so an interrupted watch still leaves it. The verdict feeds the launch gate's hard-stop
//! state (`report::state`), kept apart from the channels' under a `watch` key per target.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::poll::{Plan, Prober, Watch, WatchReport};
use super::rules::{RuleId, RuleOutcome, RuleSpec};
use crate::drill::exchange::{Exchanger, Observed};
use crate::drill::observe::Endpoint;
use crate::drill::target::TargetSpec;
use crate::exit::Exit;
use crate::secret::Redacted;

/// Longest watch.
pub const MAX_FOR: Duration = Duration::from_secs(24 * 3600);
/// The record's file, under `--out`.
pub const RECORD: &str = "release/watch.json";

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The gateway's URL (admin token from `ADMIN_API_TOKEN`).
    #[arg(long)]
    pub target: TargetSpec,
    /// How long to watch (real time).
    #[arg(long = "for", value_parser = humantime::parse_duration, default_value = "10m")]
    pub duration: Duration,
    /// Interval between rounds of probes.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub every: Duration,
    /// Rules to decide (repeatable; default: every probe-only rule).
    #[arg(long = "rule", value_parser = parse_rule)]
    pub rules: Vec<RuleId>,
    /// Where the record goes.
    #[arg(long, default_value = "artifacts")]
    pub out: PathBuf,
    /// The hard-stop state file (default: <out>/release/launch-gate-state.json).
    #[arg(long)]
    pub state: Option<PathBuf>,
}

fn parse_rule(s: &str) -> Result<RuleId, String> {
    RuleId::ALL.into_iter().find(|r| r.id() == s).ok_or_else(|| {
        let ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.id()).collect();
        format!("{s:?} is not a rule ({})", ids.join(", "))
    })
}

/// The watch's record as written after every round.
#[derive(Serialize)]
struct Record<'a> {
    run_id: &'a str,
    target: String,
    started_at: &'a str,
    updated_at: String,
    finished: bool,
    tripped: Vec<RuleId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hard_stop: Option<&'a crate::report::state::HardStop>,
    watch: &'a WatchReport,
}

/// Probes straight to the gateway.
struct Direct(Exchanger);

impl Prober for Direct {
    async fn exchange(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Observed {
        self.0.send(method, path, body, super::poll::auth_for(endpoint)).await
    }
}

/// One line of progress: the round, the time, and each rule's state.
fn progress_line(w: &Watch) -> String {
    let r = w.report(false);
    let rules: Vec<String> = r
        .verdicts
        .iter()
        .map(|v| {
            let state = match (v.outcome, v.values.last()) {
                (RuleOutcome::Tripped, _) => "TRIPPED".to_string(),
                (_, Some(last)) if last.held => format!("holding {:.0}s", v.longest_held_ms / 1000.0),
                _ => "clear".to_string(),
            };
            format!("{} {state}", v.rule.id())
        })
        .collect();
    format!("[{:>6.0}s/{:.0}s] round {}: {}", r.duration_ms / 1000.0, r.planned_ms / 1000.0, r.rounds, rules.join(", "))
}

fn write(out: &std::path::Path, rec: &Record<'_>) -> Result<(), String> {
    let path = out.join(RECORD);
    let text = serde_json::to_string_pretty(rec).map_err(|e| e.to_string())? + "\n";
    crate::report::write_atomic(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Rules that did not come out clear: tripped, still holding, or never observed.
fn failing(r: &WatchReport) -> Vec<RuleId> {
    r.verdicts.iter().filter(|v| v.outcome != RuleOutcome::Clear).map(|v| v.rule).collect()
}

pub async fn run(args: WatchArgs, run_id: String) -> Result<Exit, String> {
    let TargetSpec::Url(url) = &args.target else {
        return Err("watch: --target must be the URL of a running gateway".into());
    };
    if args.duration.is_zero() || args.duration > MAX_FOR {
        return Err(format!("watch: --for must be within 1ms..={}", humantime::format_duration(MAX_FOR)));
    }
    if args.every < Duration::from_millis(100) || args.every > args.duration {
        return Err("watch: --every must be within 100ms..=--for".into());
    }
    let token = std::env::var("ADMIN_API_TOKEN").ok().filter(|t| !t.is_empty());
    let Some(token) = token else { return Err("watch: ADMIN_API_TOKEN must be set in the environment".into()) };
    let rules: Vec<RuleId> = if args.rules.is_empty() {
        RuleId::ALL.into_iter().filter(|r| *r != RuleId::Orchestrate503).collect()
    } else {
        args.rules.clone()
    };
    if rules.contains(&RuleId::Orchestrate503) {
        return Err("watch: orchestrate_503 needs orchestration probes, which write; the watch only probes".into());
    }
    let plan = Plan {
        rules: rules.iter().map(|r| RuleSpec::of(*r).resolve(1.0)).collect(),
        every: args.every,
        duration: args.duration,
        orchestrate: false,
        probe_sessions: Default::default(),
        probe_external_ids: fixture_ids(),
        known_active: Vec::new(),
    };
    let deadline = args.every.clamp(Duration::from_millis(100), Duration::from_secs(10));
    let prober = Direct(Exchanger::new(url, Redacted(token), None, deadline));
    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let target = args.target.describe();
    let save = |w: &WatchReport, finished: bool, hard_stop: Option<&crate::report::state::HardStop>| {
        let rec = Record {
            run_id: &run_id,
            target: target.clone(),
            started_at: &started_at,
            updated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            finished,
            tripped: failing(w),
            hard_stop,
            watch: w,
        };
        write(&args.out, &rec)
    };
    let mut watch = Watch::new(plan, tokio::time::Instant::now());
    let mut write_error = None;
    let done = tokio::select! {
        r = watch.run(&prober, |w| {
            eprintln!("{}", progress_line(w));
            if let Err(e) = save(&w.report(false), false, None) {
                write_error.get_or_insert(e);
            }
        }) => Some(r),
        _ = crate::cli::shutdown_signal() => None,
    };
    if let Some(e) = write_error {
        return Err(format!("watch: cannot write the record: {e}"));
    }
    let Some(report) = done else {
        let report = watch.report(true);
        save(&report, true, None)?;
        eprintln!("gatedrill: watch interrupted; the record so far is in {}", args.out.join(RECORD).display());
        return Ok(Exit::Interrupted);
    };
    let failed: Vec<String> = failing(&report).iter().map(|r| format!("watch:{}", r.id())).collect();
    let state = args.state.clone().unwrap_or_else(|| args.out.join("release/launch-gate-state.json"));
    let hard_stop = crate::report::state::apply(&state, &format!("watch {target}"), &run_id, &failed)?;
    save(&report, true, Some(&hard_stop))?;
    for v in &report.verdicts {
        let since = v.since_ms.map_or(String::new(), |s| format!(", held since {:.0}s", s / 1000.0));
        println!("{:<24} {:<10} {}{since}", v.rule.id(), crate::drill::runner::id(&v.outcome), v.condition);
    }
    println!("{} rounds, {} probes; record: {}", report.rounds, report.probes, args.out.join(RECORD).display());
    Ok(if failed.is_empty() {
        Exit::Pass
    } else if hard_stop.paused {
        eprintln!("gatedrill: HARD STOP: {}", hard_stop.action);
        Exit::HardStop
    } else {
        eprintln!("gatedrill: {} held past the runbook's duration: follow the rollback thresholds", failed.join(", "));
        Exit::GateFailed
    })
}

/// External session ids of the connector fixtures (the launch gate's probe sessions), when the
/// fixtures are at hand in the working directory.
fn fixture_ids() -> std::collections::BTreeSet<String> {
    crate::scenario::steps::connector_fixtures(std::path::Path::new("mocks/connectors"))
        .into_iter()
        .flatten()
        .map(|f| f.expected_external_session_id)
        .collect()
}
