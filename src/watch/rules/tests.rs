//! The rules' timing on a paused clock: a condition trips only after holding for its whole
//! duration without a break, an unobserved round counts as holding, stale sessions are judged
//! against the baseline, and a repeated 503 needs its count in a row.

use std::time::Duration;

use tokio::time::{Instant, advance};

use super::*;

fn health(blocked: u64, cooling: u64, pool: u64) -> Option<Seen<HealthSeen>> {
    Some(Seen::Value(HealthSeen { roles_blocked: blocked, providers_cooling_down: cooling, pool }))
}

/// Feeds one observation per minute of runbook time, built by `round` from the minute's index.
async fn minutes(t: &mut Tracker, n: u32, round: impl Fn(u32, &mut Observation)) {
    for i in 0..n {
        let mut o = Observation::at(Instant::now());
        round(i, &mut o);
        t.observe(&o);
        advance(Duration::from_secs(60)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn roles_blocked_trips_after_five_minutes_held_and_not_before() {
    let mut t = Tracker::new(RuleSpec::of(RuleId::RolesBlocked).resolve(1.0), Instant::now());
    // 0..=4 minutes held: not yet 5 minutes.
    minutes(&mut t, 5, |_, o| o.health = health(2, 0, 3)).await;
    assert!(!t.tripped(), "{:?}", t.verdict());
    minutes(&mut t, 1, |_, o| o.health = health(1, 0, 3)).await;
    let v = t.verdict();
    assert_eq!(v.outcome, RuleOutcome::Tripped);
    assert_eq!((v.since_ms, v.tripped_at_ms), (Some(0.0), Some(300_000.0)));
    assert_eq!(v.values.iter().map(|x| x.value).collect::<Vec<_>>(), [Some(2), Some(1)]);
    assert!(v.rollback.contains("rollback-playbook"));
}

#[tokio::test(start_paused = true)]
async fn a_break_in_the_condition_restarts_its_clock() {
    let mut t = Tracker::new(RuleSpec::of(RuleId::RolesBlocked).resolve(1.0), Instant::now());
    // Blocked for 4 minutes, clear once, blocked for 3 more: never 5 minutes in a row.
    minutes(&mut t, 10, |i, o| o.health = health(u64::from(i != 5), 0, 3)).await;
    let v = t.verdict();
    // Still blocked when the watch ended: undecided, not clear.
    assert_eq!(v.outcome, RuleOutcome::Holding);
    minutes(&mut t, 1, |_, o| o.health = health(0, 0, 3)).await;
    let v = t.verdict();
    assert_eq!(v.outcome, RuleOutcome::Clear);
    assert_eq!(v.longest_held_ms, 240_000.0);
    // The longest run (minutes 0 to 4) is the one reported.
    assert_eq!(v.since_ms, Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn what_could_not_be_observed_counts_as_holding() {
    let mut t = Tracker::new(RuleSpec::of(RuleId::RolesBlocked).resolve(1.0), Instant::now());
    minutes(&mut t, 6, |_, o| o.health = Some(Seen::Unobserved("timeout".into()))).await;
    let v = t.verdict();
    assert_eq!((v.outcome, v.unobserved), (RuleOutcome::Tripped, 6));
    assert!(v.values[0].detail.contains("timeout"));
    // A rule no round observed is not a pass either, nor one that saw nothing before its time.
    let none = Tracker::new(RuleSpec::of(RuleId::SessionNotFound).resolve(1.0), Instant::now());
    assert_eq!(none.verdict().outcome, RuleOutcome::Unobserved);
    let mut blind = Tracker::new(RuleSpec::of(RuleId::RolesBlocked).resolve(1.0), Instant::now());
    minutes(&mut blind, 2, |_, o| o.health = Some(Seen::Unobserved("refused".into()))).await;
    assert_eq!(blind.verdict().outcome, RuleOutcome::Unobserved);
}

#[tokio::test(start_paused = true)]
async fn cooling_down_counts_against_half_the_pool_for_ten_minutes() {
    let rule = RuleSpec::of(RuleId::ProvidersCoolingDown).resolve(1.0);
    let mut half = Tracker::new(rule.clone(), Instant::now());
    // Exactly half is not above half.
    minutes(&mut half, 12, |_, o| o.health = health(0, 2, 4)).await;
    assert_eq!(half.verdict().outcome, RuleOutcome::Clear);
    let mut most = Tracker::new(rule, Instant::now());
    minutes(&mut most, 10, |_, o| o.health = health(0, 3, 4)).await;
    assert_eq!(most.verdict().outcome, RuleOutcome::Holding);
    minutes(&mut most, 1, |_, o| o.health = health(0, 3, 4)).await;
    assert!(most.tripped());
}

#[tokio::test(start_paused = true)]
async fn stale_sessions_are_judged_against_the_baseline_not_zero() {
    let rule = RuleSpec::of(RuleId::StaleActiveSessions).resolve(1.0);
    let mut steady = Tracker::new(rule.clone(), Instant::now());
    // Seven stale sessions from before the window, never more: no growth.
    minutes(&mut steady, 20, |_, o| o.stale = Some(Seen::Value(7))).await;
    let v = steady.verdict();
    assert_eq!((v.outcome, v.baseline), (RuleOutcome::Clear, Some(7)));
    let mut growing = Tracker::new(rule, Instant::now());
    minutes(&mut growing, 12, |i, o| o.stale = Some(Seen::Value(7 + u64::from(i)))).await;
    let v = growing.verdict();
    assert_eq!((v.outcome, v.since_ms), (RuleOutcome::Tripped, Some(60_000.0)));
}

#[tokio::test(start_paused = true)]
async fn a_503_must_repeat_in_a_row() {
    let rule = RuleSpec { consecutive: Some(3), ..RuleSpec::of(RuleId::Orchestrate503) }.resolve(1.0);
    let mut t = Tracker::new(rule.clone(), Instant::now());
    let statuses = [503, 503, 201, 503, 503, 201];
    minutes(&mut t, 6, |i, o| o.orchestrate = Some(Seen::Value(statuses[i as usize]))).await;
    assert_eq!(t.verdict().outcome, RuleOutcome::Clear);
    let mut t = Tracker::new(rule, Instant::now());
    minutes(&mut t, 3, |_, o| o.orchestrate = Some(Seen::Value(503))).await;
    assert_eq!(t.verdict().outcome, RuleOutcome::Tripped);
}

#[tokio::test(start_paused = true)]
async fn a_time_scale_turns_runbook_minutes_into_drill_milliseconds() {
    // 5 minutes of runbook time as 500 ms of drill time.
    let rule = RuleSpec::of(RuleId::RolesBlocked).resolve(600.0);
    assert_eq!(rule.held_for, Duration::from_millis(500));
    assert!(rule.condition().contains("500ms (runbook 5m)"), "{}", rule.condition());
    let mut t = Tracker::new(rule, Instant::now());
    for _ in 0..5 {
        let mut o = Observation::at(Instant::now());
        o.health = health(1, 0, 3);
        t.observe(&o);
        advance(Duration::from_millis(100)).await;
    }
    assert!(!t.tripped());
    let mut o = Observation::at(Instant::now());
    o.health = health(1, 0, 3);
    t.observe(&o);
    assert!(t.tripped());
}

#[tokio::test(start_paused = true)]
async fn lost_sessions_and_rounds_that_did_not_probe() {
    let rule = RuleSpec { held_for: Some(Dur::from_millis(0)), ..RuleSpec::of(RuleId::SessionNotFound) }.resolve(1.0);
    let mut t = Tracker::new(rule, Instant::now());
    // A round without the probe is not an observation of the rule.
    minutes(&mut t, 3, |_, _| {}).await;
    assert_eq!(t.verdict().observations, 0);
    minutes(&mut t, 1, |_, o| o.lost = Some(Seen::Value(vec!["gs_1".into()]))).await;
    let v = t.verdict();
    assert_eq!((v.outcome, v.observations), (RuleOutcome::Tripped, 1));
    assert!(v.values[0].detail.contains("gs_1"));
}

#[test]
fn parameters_belong_to_their_rule() {
    assert!(RuleSpec { share: Some(0.5), ..RuleSpec::of(RuleId::RolesBlocked) }.validate().is_err());
    assert!(RuleSpec { share: Some(1.5), ..RuleSpec::of(RuleId::ProvidersCoolingDown) }.validate().is_err());
    assert!(RuleSpec { consecutive: Some(0), ..RuleSpec::of(RuleId::Orchestrate503) }.validate().is_err());
    assert!(
        RuleSpec { idle_over: Some(Dur::from_millis(5)), ..RuleSpec::of(RuleId::StaleActiveSessions) }
            .validate()
            .is_ok()
    );
}
