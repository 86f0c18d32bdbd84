//! Why a scenario did not pass, in one list every writer shares (the console recap, JUnit's
//! failures, the drill evidence, the HTML report, the GitHub step summary): each failed check
//! with what was expected and seen, each failed channel with its failure mode, the runbook's first
//! action and whom to escalate to, and each typed problem (outcome, gates, harness errors).

use crate::drill::problem::Problem;
use crate::drill::runner::ScenarioReport;
use crate::metrics::gate::{Verdict, delta_text, fmt};

/// Every reason a scenario did not pass, one line each, with decisive numbers and first actions.
pub fn reasons(r: &ScenarioReport) -> Vec<String> {
    let mut out = raw_reasons(r);
    // What a gateway sent can hold terminal escapes: never let them reach a terminal.
    out.iter_mut().for_each(|s| *s = crate::report::junit::sanitize(s));
    out
}

fn raw_reasons(r: &ScenarioReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &r.error {
        out.push(format!("error: {e}"));
    }
    for s in r.steps.iter().filter(|s| !s.passed) {
        for c in s.checks.iter().filter(|c| !c.passed) {
            out.push(format!("step {} {}: {}: expected {}, got {}", s.index + 1, s.kind, c.name, c.expected, c.actual));
        }
    }
    for c in &r.channels {
        if let Some(m) = c.failure_mode.filter(|_| !c.drilled()) {
            out.push(format!(
                "channel {} ({}{}): {}; first action: {} (escalate to {})",
                c.channel,
                c.connector_id,
                if c.required { ", required" } else { "" },
                m.id(),
                m.first_action(),
                m.escalate_to()
            ));
        }
    }
    out.extend(
        r.problems.iter().filter(|p| !matches!(p, Problem::UnexpectedFailureMode { .. })).map(|p| p.to_string()),
    );
    out
}

/// Advisory gates that did not pass, one line each (`scenario: gate: verdict (detail)`): reported
/// everywhere, never part of a verdict.
pub fn advisory(reports: &[ScenarioReport]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        for g in r.gates.iter().filter(|g| g.advisory && g.verdict != Verdict::Pass) {
            out.push(format!("{}: gate `{}`: {} ({})", r.name, g.gate, crate::wire::id_of(&g.verdict), g.detail));
        }
    }
    out.iter_mut().for_each(|s| *s = crate::report::junit::sanitize(s));
    out
}

/// Every gate judged against a baseline run, one line each: value, baseline and delta.
pub fn deltas(reports: &[ScenarioReport]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        for g in r.gates.iter().filter(|g| g.baseline.is_some()) {
            let (Some(b), Some(d)) = (g.baseline, g.delta) else { continue };
            out.push(format!(
                "{}: {} = {} vs baseline {}: {}; `{}` {}",
                r.name,
                g.series,
                g.value.map_or("n/a".into(), fmt),
                fmt(b),
                delta_text(d, b),
                g.gate,
                crate::wire::id_of(&g.verdict)
            ));
        }
    }
    out.iter_mut().for_each(|s| *s = crate::report::junit::sanitize(s));
    out
}
