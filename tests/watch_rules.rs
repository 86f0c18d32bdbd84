//! The runbook's degraded rules over time, drilled in compressed time against the embedded
//! gateway: for each timed rule, a scenario that trips it and one that must not, judged on the
//! watch's typed verdict (what held, since when, the values seen), not on its text.

use std::path::Path;

use gatedrill::drill::runner::{RunOptions, ScenarioReport, run_scenario};
use gatedrill::drill::target::TargetSpec;
use gatedrill::watch::{RuleId, RuleOutcome, RuleVerdict};

/// Options for one scenario run against `target`, writing under a folder of this process.
fn options(target: TargetSpec, seed: Option<u64>, folder: &str) -> RunOptions {
    RunOptions {
        target,
        seed,
        out: std::env::temp_dir().join(format!("{folder}-{}", std::process::id())),
        allow_load: false,
        cancel: Default::default(),
        secrets: Default::default(),
        progress: gatedrill::drill::progress::Progress::hidden(),
        segment: None,
        baseline: None,
        fleet: None,
        declared: None,
        profile: Default::default(),
    }
}

async fn run(file: &str) -> ScenarioReport {
    let loaded = gatedrill::scenario::load(Path::new(&format!("tests/data/watch/{file}.toml"))).unwrap();
    run_scenario(&loaded, &options(TargetSpec::Embedded, Some(3), "gatedrill-watch")).await
}

/// The one verdict on `rule`, after checking the scenario passed as a whole.
fn verdict(r: &ScenarioReport, rule: RuleId) -> RuleVerdict {
    assert!(r.passed, "{} did not pass: {:#?}", r.name, r.steps.iter().filter(|s| !s.passed).collect::<Vec<_>>());
    let v: Vec<_> = r.watch.iter().flat_map(|w| &w.verdicts).filter(|v| v.rule == rule).collect();
    assert_eq!(v.len(), 1, "{:#?}", r.watch);
    v[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_blocked_trips_only_when_it_lasts() {
    let v = verdict(&run("roles_blocked_sustained").await, RuleId::RolesBlocked);
    assert_eq!(v.outcome, RuleOutcome::Tripped);
    assert!(v.tripped_at_ms.unwrap() - v.since_ms.unwrap() >= 300.0, "{v:#?}");
    assert!(v.values.iter().all(|x| x.held && x.value.is_some_and(|n| n > 0)), "{v:#?}");
    assert!(v.condition.contains("runbook 5m") && v.rollback.contains("rollback-playbook"));
    let v = verdict(&run("roles_blocked_blip").await, RuleId::RolesBlocked);
    // Blocked for a moment (the condition held), then clear: not long enough.
    assert_eq!(v.outcome, RuleOutcome::Clear);
    assert!(v.values.first().is_some_and(|x| x.held) && v.values.last().is_some_and(|x| !x.held), "{v:#?}");
    assert!(v.longest_held_ms < 300.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooling_down_trips_above_half_the_pool_only() {
    let v = verdict(&run("providers_cooling_majority").await, RuleId::ProvidersCoolingDown);
    assert_eq!(v.outcome, RuleOutcome::Tripped);
    assert!(v.values.iter().any(|x| x.value == Some(2) && x.held), "{v:#?}");
    let v = verdict(&run("providers_cooling_minority").await, RuleId::ProvidersCoolingDown);
    assert_eq!(v.outcome, RuleOutcome::Clear);
    // The down provider was seen cooling the whole time, a third of the pool.
    assert!(v.values.iter().any(|x| x.value == Some(1) && !x.held), "{v:#?}");
    assert_eq!(v.longest_held_ms, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_sessions_trip_on_growth_above_the_baseline_not_above_zero() {
    let v = verdict(&run("stale_sessions_growing").await, RuleId::StaleActiveSessions);
    assert_eq!((v.outcome, v.baseline), (RuleOutcome::Tripped, Some(0)));
    assert!(v.values.iter().any(|x| x.held && x.value == Some(20)), "{v:#?}");
    let v = verdict(&run("stale_sessions_at_baseline").await, RuleId::StaleActiveSessions);
    // Twenty stale sessions the whole time: the baseline, not a growth.
    assert_eq!((v.outcome, v.baseline), (RuleOutcome::Clear, Some(20)));
    assert!(v.values.iter().all(|x| x.value == Some(20) && !x.held), "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrate_503_trips_when_repeated_and_probes_leave_nothing() {
    let v = verdict(&run("orchestrate_503_repeated").await, RuleId::Orchestrate503);
    assert_eq!(v.outcome, RuleOutcome::Tripped);
    assert!(v.observations >= 3 && v.values[0].value == Some(503), "{v:#?}");
    let r = run("orchestrate_201").await;
    let v = verdict(&r, RuleId::Orchestrate503);
    assert_eq!(v.outcome, RuleOutcome::Clear);
    assert!(v.values.iter().all(|x| x.value == Some(201)), "{v:#?}");
    // Even with no idle allowance, the watch's own orchestration sessions never count as stale.
    assert_eq!(verdict(&r, RuleId::StaleActiveSessions).outcome, RuleOutcome::Clear);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_that_loses_sessions_is_caught_and_one_that_keeps_them_is_not() {
    let r = run("memory_restart_loses_sessions").await;
    let v = verdict(&r, RuleId::SessionNotFound);
    assert_eq!(v.outcome, RuleOutcome::Tripped);
    assert!(v.values.iter().all(|x| x.held && x.value.is_some_and(|n| n > 0)), "{v:#?}");
    assert!(r.phases.iter().any(|p| p.change.starts_with("gateway restarted")), "{:?}", r.phases);
    let v = verdict(&run("sqlite_restart_keeps_sessions").await, RuleId::SessionNotFound);
    assert_eq!(v.outcome, RuleOutcome::Clear);
    assert!(v.values.iter().all(|x| x.value == Some(0)), "{v:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_at_a_url_is_not_restarted_and_that_is_no_pass() {
    let loaded = gatedrill::scenario::load(Path::new("tests/data/watch/memory_restart_loses_sessions.toml")).unwrap();
    let opts = options(TargetSpec::Url("http://127.0.0.1:9".into()), None, "gatedrill-watch-url");
    let r = run_scenario(&loaded, &opts).await;
    assert_eq!(r.verdict(), gatedrill::drill::runner::ScenarioVerdict::Skip);
    assert!(!r.passed && r.skipped.as_deref().is_some_and(|s| s.contains("restarts the gateway")), "{:?}", r.skipped);
}

#[test]
fn a_spawned_gateway_is_redeployed_with_the_corrected_flag() {
    // Runbook C against `cmd:`: the process is stopped and spawned again with the new variable.
    let cmd = format!("cmd:{} gateway serve --bind 127.0.0.1:$GATEDRILL_GATEWAY_PORT", env!("CARGO_BIN_EXE_gatedrill"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "scenarios/orchestration_fixed_redeploy.toml", "--target", &cmd, "--out"])
        .arg(std::env::temp_dir().join(format!("gatedrill-watch-cmd-{}", std::process::id())))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("1 passed, 0 failed"), "{text}");
}

/// The runbook rules as gates (`watch:<rule>.not_clear`): the same rule text decides a gate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_as_a_gate_fails_when_it_trips_and_passes_when_clear() {
    let gate =
        |r: &ScenarioReport| r.gates.iter().find(|g| g.series == "watch:roles_blocked.not_clear").cloned().unwrap();
    let tripped = run("roles_blocked_gate_sustained").await;
    let g = gate(&tripped);
    assert_eq!((g.verdict, g.value), (gatedrill::metrics::gate::Verdict::Fail, Some(1.0)), "{g:?}");
    assert!(!tripped.passed);
    let clear = run("roles_blocked_gate_blip").await;
    let g = gate(&clear);
    assert_eq!((g.verdict, g.value), (gatedrill::metrics::gate::Verdict::Pass, Some(0.0)), "{g:?}");
    assert!(clear.passed, "{:?}", clear.problems);
}
