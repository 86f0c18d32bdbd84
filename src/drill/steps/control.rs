//! Steps that shape the drill rather than probe the gateway: bounded load, fault phase changes
//! on the mocks, and polling a runbook condition until it holds or its deadline passes.

use std::time::Duration;

use super::{Check, StepCtx, check};
use crate::drill::load::{self, Shape};
use crate::drill::observe::Endpoint;
use crate::gateway::faults::StoreFaultKind;
use crate::mock::faults::FaultRule;
use crate::scenario::steps::{Condition, Step};
use crate::wire::paths;
use crate::wire::runtime::RuntimeHealth;
use crate::wire::sessions::SessionsList;

/// Load against an endpoint (validation guarantees a complete, bounded shape).
pub async fn load(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, step: &Step) {
    let Step::Load { against, role, concurrency, count, rate, duration, connections, expect, abort_on_breach } = step
    else {
        return;
    };
    if !ctx.target.load_allowed {
        return out.push(check("load allowed", false, "loopback target or --allow-load", "non-loopback target"));
    }
    let shape = Shape::from_step(*concurrency, *count, *rate, duration.map(|d| d.0), *connections);
    let report = load::run(ctx, *against, role.as_deref().unwrap_or("author"), shape, abort_on_breach.as_ref()).await;
    if let Some(rule) = abort_on_breach {
        let actual = match &report.aborted {
            None => "held".to_string(),
            Some(a) => format!(
                "breached at {:.0} ms: {} over {} sample(s); stopped early, {} of {} planned request(s) spared",
                a.at_ms,
                crate::metrics::gate::fmt(a.value),
                a.samples,
                a.spared,
                report.planned
            ),
        };
        let expected =
            format!("`{}` to hold after {} (at least {} samples)", rule.gate.label(), rule.grace, rule.min_samples);
        out.push(check("abort on breach", report.aborted.is_none(), expected, actual));
    }
    if let Some(max) = expect.max_error_rate {
        let rate = report.error_rate();
        out.push(check(
            "error rate",
            rate <= max,
            format!("<= {max}"),
            format!("{rate:.4} ({} of {})", report.errors, report.sent),
        ));
    }
    out.push(check("requests sent", report.sent > 0, "> 0", report.sent));
    // Whatever the scenario tolerates, a load the gateway never answered did not happen.
    out.push(check("requests answered", report.answered > 0, "at least one complete answer", report.answered));
    ctx.load.push(report);
}

/// Adds or clears fault rules on this run's mocks (a phase change).
pub async fn faults(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, clear: bool, add: &[FaultRule]) {
    let Some(fleet) = ctx.fleet else {
        return out.push(check("mocks", false, "a target wired to this run's mocks", "a URL target"));
    };
    if clear {
        let r = fleet.clear_rules().await;
        ctx.phases.push((ctx.obs.elapsed_ms(), "every fault rule cleared".into()));
        if let Err(e) = r {
            out.push(check("fault rules cleared", false, "cleared", e));
        }
    }
    if !add.is_empty() {
        let r = fleet.add_rules(add.to_vec()).await;
        let ids: Vec<&str> = add.iter().map(|r| r.id.as_str()).collect();
        ctx.phases.push((ctx.obs.elapsed_ms(), format!("fault rules added: {}", ids.join(", "))));
        out.push(check(
            "fault rules loaded",
            r.is_ok(),
            add.len(),
            r.map_or_else(|e| e.to_string(), |_| add.len().to_string()),
        ));
    }
}

/// Restarts (redeploys) the gateway with changed variables (runbook A step 3, runbook C step 2).
pub async fn gateway_restart(
    ctx: &mut StepCtx<'_>,
    out: &mut Vec<Check>,
    set: &std::collections::BTreeMap<String, String>,
    remove: &[String],
) {
    let mut change: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
    change.extend(remove.iter().map(|p| format!("{p} removed from every AI_*_MODEL_CHAIN")));
    let done = ctx.target.restart(set, remove).await;
    let what = if change.is_empty() { "unchanged".to_string() } else { change.join(", ") };
    ctx.phases.push((ctx.obs.elapsed_ms(), format!("gateway restarted ({what})")));
    out.push(check(
        "gateway restarted and ready",
        done.is_ok(),
        format!("ready again ({what})"),
        match done {
            Ok(()) => "ready".to_string(),
            Err(e) => e.to_string(),
        },
    ));
}

/// Sets a fault on the embedded reference gateway's session store (runbook B step 5).
pub fn store_fault(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, fault: StoreFaultKind, delay: Option<Duration>) {
    let done = ctx.target.store_fault(fault, delay.unwrap_or_default());
    let id = crate::wire::id_of(&fault);
    ctx.phases.push((ctx.obs.elapsed_ms(), format!("session store fault: {id}")));
    out.push(check("store fault set", done.is_ok(), id, done.err().unwrap_or_else(|| "set".into())));
}

/// Polls `condition` until it holds or `deadline` passes (both bounded by validation).
pub async fn wait_until(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, condition: &Condition, deadline: Duration) {
    let now = tokio::time::Instant::now();
    let until = now.checked_add(deadline).unwrap_or(now);
    let (held, last) = loop {
        let (ok, seen) = holds(ctx, condition).await;
        if ok || tokio::time::Instant::now() >= until {
            break (ok, seen);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    out.push(check(
        "condition held before the deadline",
        held,
        format!("{condition} within {}", crate::duration::Dur(deadline)),
        last,
    ));
}

/// Whether the condition holds now, and what was seen.
async fn holds(ctx: &StepCtx<'_>, c: &Condition) -> (bool, String) {
    match c {
        Condition::RuntimeHealth { health } => {
            let seen = ctx.get(Endpoint::RuntimeHealth, paths::RUNTIME_HEALTH).await;
            if !seen.is(200) {
                return (false, seen.describe());
            }
            match seen.parse::<RuntimeHealth>() {
                Ok(h) => (h.summary.health == *health, crate::wire::id_of(&h.summary.health)),
                Err(e) => (false, e.to_string()),
            }
        }
        Condition::ActiveSessionsAtMost { count } => {
            let seen = ctx.get(Endpoint::Sessions, paths::ACTIVE_SESSIONS).await;
            if !seen.is(200) {
                return (false, seen.describe());
            }
            match seen.parse::<SessionsList>() {
                Ok(l) => (l.active() <= *count, format!("{} active", l.active())),
                Err(e) => (false, e.to_string()),
            }
        }
    }
}
