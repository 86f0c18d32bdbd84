//! The `watch` step (seed 001, "Operational SLO Checks" and "Release Window Checks"): the
//! runbook's probes in rounds for a while, each degraded rule decided over the series
//! (`crate::watch`), in the scenario's drill time. The step passes when exactly the rules it
//! expects tripped; each verdict says since when its condition held, the values seen, and the
//! rollback reference.

use serde_json::Value;

use super::{Check, StepCtx, check};
use crate::drill::exchange::Observed;
use crate::drill::observe::{Endpoint, Exchanged};
use crate::scenario::{Step, scaled};
use crate::watch::{Plan, Prober, RuleOutcome, Watch};

/// The step's exchanges, recorded in the scenario's latency series and trace.
struct Recorded<'c, 'a>(&'c StepCtx<'a>);

impl Prober for Recorded<'_, '_> {
    async fn exchange(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Observed {
        let name = method.to_string();
        let seen = self.0.send(method, path, body, crate::watch::poll::auth_for(endpoint)).await;
        let mut ok = seen.is_success();
        if endpoint == Endpoint::DryRun {
            // The watch's dry-runs are tasks like any other: they count in the error rate.
            let answer = seen.parse::<crate::wire::runtime::DryRunAnswer>().ok();
            let role = body.and_then(|b| b["role"].as_str()).unwrap_or_default();
            let task = super::dry_run_task(role, &seen, answer.as_ref());
            ok = task.ok;
            self.0.obs.task(task);
        }
        self.0.record(Exchanged { endpoint, method: &name, path, seen: &seen, ok, keep_body: false, signal: None });
        seen
    }
}

/// The external session ids of the connector fixtures: the launch gate's probes resolve to them.
fn fixture_ids(ctx: &StepCtx<'_>) -> std::collections::BTreeSet<String> {
    crate::scenario::steps::fixtures_dir(ctx.scenario_path)
        .and_then(|d| crate::scenario::steps::connector_fixtures(&d).ok())
        .into_iter()
        .flatten()
        .map(|f| f.expected_external_session_id)
        .collect()
}

pub async fn run(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, step: &Step) {
    let Step::Watch { duration, every, orchestrate, expect, .. } = step else { return };
    let scale = ctx.time_scale;
    let plan = Plan {
        rules: step
            .watch_rules()
            .iter()
            .map(|r| {
                let mut rule = r.resolve(scale);
                // Idle time is the gateway's own clock: only sessions this drill opened on a
                // gateway it runs age in drill time; a live gateway's sessions age for real.
                if ctx.fleet.is_none() {
                    rule.idle_over = r.resolve(1.0).idle_over;
                }
                rule
            })
            .collect(),
        every: scaled(every.0, scale),
        duration: scaled(duration.0, scale),
        orchestrate: *orchestrate,
        probe_sessions: ctx.probe_sessions.clone(),
        probe_external_ids: fixture_ids(ctx),
        known_active: ctx.known_sessions.clone(),
    };
    let mut watch = Watch::new(plan, tokio::time::Instant::now());
    let report = watch.run(&Recorded(ctx), |_| {}).await;
    ctx.probe_sessions = watch.plan.probe_sessions.clone();
    for v in &report.verdicts {
        let want = expect.tripped.contains(&v.rule);
        let tripped = v.outcome == RuleOutcome::Tripped;
        let seen = match v.outcome {
            RuleOutcome::Tripped => format!(
                "tripped at {:.0} ms, held since {:.0} ms ({} of {} observations unobserved); last: {}",
                v.tripped_at_ms.unwrap_or_default(),
                v.since_ms.unwrap_or_default(),
                v.unobserved,
                v.observations,
                v.values.last().map_or("-", |x| x.detail.as_str())
            ),
            RuleOutcome::Clear => format!(
                "clear (held at most {:.0} ms over {} observations); last: {}",
                v.longest_held_ms,
                v.observations,
                v.values.last().map_or("-", |x| x.detail.as_str())
            ),
            RuleOutcome::Holding => format!(
                "still holding at the end, since {:.0} ms, not yet for its duration; last: {}",
                v.since_ms.unwrap_or_default(),
                v.values.last().map_or("-", |x| x.detail.as_str())
            ),
            RuleOutcome::Unobserved => "never observed".into(),
        };
        // A rule nobody observed, or one still holding when the watch ended, is undecided: never
        // what a scenario expects.
        let decided = matches!(v.outcome, RuleOutcome::Tripped | RuleOutcome::Clear);
        let passed = decided && want == tripped;
        let expected = if want { format!("tripped: {}", v.condition) } else { format!("clear: {}", v.condition) };
        out.push(check(v.rule.id(), passed, expected, seen));
    }
    out.push(check("watch rounds", report.rounds > 0, "at least one round", report.rounds));
    ctx.watches.push(report);
}
