//! The seed-000 playbooks' "Post-incident artifact", per scenario of that playbook, from what the
//! drill measured: Playbook A (model outage) the affected model ids, the alert types fired and the
//! changes executed; Playbook B (tool degradation) the failing tools and affected channels;
//! Playbook C (cost spike) the before/after spend, the routed model mix and the recovery
//! timestamps. What the drill cannot observe is said to be so, never filled in.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::drill::runner::ScenarioReport;
use crate::metrics::slo::{MetricKey, Window};
use crate::mock::journal::Outcome;
use crate::scenario::Playbook;

/// What the evidence writer already derived and this section reuses.
pub struct Derived<'a> {
    pub alert_types: &'a [(&'static str, String)],
    pub affected_models: Vec<&'a str>,
    /// (UTC, what) of the drill's recovery and close.
    pub recovered: Option<(String, String)>,
    pub closed: Option<(String, String)>,
    /// (UTC, change) of each fault phase.
    pub changes: Vec<(String, String)>,
}

pub fn write(out: &mut String, r: &ScenarioReport, d: &Derived) {
    let title = match r.playbook {
        Playbook::ModelOutage => "Playbook A",
        Playbook::ToolDegradation => "Playbook B",
        Playbook::CostSpike => "Playbook C",
        _ => return,
    };
    let _ = writeln!(out, "**Post-incident artifact** (seed 000, {title}):\n");
    match r.playbook {
        Playbook::ModelOutage => model_outage(out, d),
        Playbook::ToolDegradation => out.push_str(
            "- Failing tools and affected channels: listed under Incident Evidence to Capture below.\n\
             - Receipt ids sampled and replay requests logged: not observable here (the runbook's gateway API \
             exposes no delivery receipts).\n",
        ),
        _ => cost_spike(out, r, d),
    }
    out.push('\n');
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn model_outage(out: &mut String, d: &Derived) {
    let _ = writeln!(out, "- Affected model ids: {}", list(d.affected_models.iter().map(|m| format!("`{m}`"))));
    let _ = writeln!(out, "- Alert types fired: {}", list(d.alert_types.iter().map(|(a, _)| format!("`{a}`"))));
    out.push_str("- Changes executed (the drill's fault changes, in order):");
    if d.changes.is_empty() {
        out.push_str(" none\n");
    } else {
        out.push('\n');
        for (at, what) in &d.changes {
            let _ = writeln!(out, "  - {at} UTC: {what}");
        }
    }
}

fn cost_spike(out: &mut String, r: &ScenarioReport, d: &Derived) {
    let with_data: Vec<&Window> = r.windows.iter().filter(|w| w.tasks > 0).collect();
    let cost = |w: Option<&&Window>| w.and_then(|w| w.value(MetricKey::CostPerSuccessfulTaskUsd));
    match (cost(with_data.first()), cost(with_data.last())) {
        (Some(before), Some(after)) if with_data.len() > 1 => {
            let _ = writeln!(
                out,
                "- Spend per successful task: before {before:.6} USD, after {after:.6} USD (delta {:+.6} USD); \
                 whole drill {:.6} USD over {} successful task(s)",
                after - before,
                r.totals.cost_usd,
                r.totals.succeeded
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "- Spend: {:.6} USD over {} successful task(s); no before/after (fewer than two windows with data)",
                r.totals.cost_usd, r.totals.succeeded
            );
        }
    }
    let mut mix: BTreeMap<String, u64> = BTreeMap::new();
    for c in r.attempt_mix.iter().filter(|c| c.outcome == Outcome::Completed) {
        *mix.entry(format!("{}:{}", c.provider, c.model.as_deref().unwrap_or("?"))).or_default() += c.attempts;
    }
    let total: u64 = mix.values().sum();
    let _ = writeln!(
        out,
        "- Routed model mix (completed provider attempts): {}",
        list(mix.iter().map(|(m, n)| format!("`{m}` {n} ({:.0}%)", 100.0 * *n as f64 / total.max(1) as f64)))
    );
    for (name, t) in [("Recovery", &d.recovered), ("Recovery threshold held (close)", &d.closed)] {
        match t {
            Some((at, what)) => {
                let _ = writeln!(out, "- {name}: {at} UTC ({what})");
            }
            None => {
                let _ = writeln!(out, "- {name}: not observed in this drill");
            }
        }
    }
}
