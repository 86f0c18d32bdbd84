//! The console summary: one line per scenario, what failed beneath a failing one, and with
//! `--verbose` every check; `--quiet` keeps only failing scenarios and the final line.

use std::fmt::Write;

use super::runner::{ScenarioReport, id};

/// How much to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    Failures,
    Scenarios,
    Checks,
}

pub fn render(reports: &[ScenarioReport], target: &str, detail: Detail) -> String {
    let mut out = String::new();
    if detail != Detail::Failures {
        let _ = writeln!(out, "gatedrill run: {} scenario(s) against {target}", reports.len());
    }
    for r in reports
        .iter()
        .filter(|r| detail != Detail::Failures || r.verdict() == crate::drill::runner::ScenarioVerdict::Fail)
    {
        let verdict = r.verdict();
        let steps_ok = r.steps.iter().filter(|s| s.passed).count();
        let checks: usize = r.steps.iter().map(|s| s.checks.len()).sum();
        let modes = if r.failure_modes.is_empty() {
            "-".into()
        } else {
            r.failure_modes.iter().map(|m| m.id()).collect::<Vec<_>>().join(",")
        };
        let mut findings: Vec<String> = r.findings.iter().map(|f| id(&f.finding)).collect();
        findings.dedup();
        let findings = if findings.is_empty() { "-".into() } else { findings.join(",") };
        let _ = writeln!(
            out,
            "{verdict}  {:<38} {:<22} steps {:<7} checks {checks:<4} modes {modes:<28} findings {findings:<24} {:>7.2}s",
            r.name,
            id(&r.playbook),
            format!("{steps_ok}/{}", r.steps.len()),
            r.duration_ms / 1000.0
        );
        if let Some(s) = &r.skipped {
            let _ = writeln!(out, "      skipped: {s}");
        }
        if let Some(e) = &r.error {
            let _ = writeln!(out, "      error: {e}");
        }
        for s in r.steps.iter().filter(|s| !s.passed || detail == Detail::Checks) {
            for c in s.checks.iter().filter(|c| !c.passed || detail == Detail::Checks) {
                let _ = writeln!(
                    out,
                    "      {} step {} {}: {} expected {}, got {}",
                    if c.passed { "ok  " } else { "FAIL" },
                    s.index + 1,
                    s.kind,
                    c.name,
                    c.expected,
                    c.actual
                );
            }
        }
        for p in &r.problems {
            let _ = writeln!(out, "      {p}");
        }
        if detail == Detail::Checks {
            for g in &r.gates {
                let _ = writeln!(out, "      gate `{}`: {} ({})", g.gate, id(&g.verdict), g.detail);
            }
        }
    }
    let passed = reports.iter().filter(|r| r.passed && r.skipped.is_none()).count();
    let skipped = reports.iter().filter(|r| r.skipped.is_some()).count();
    let failed = reports.len() - passed - skipped;
    let _ = writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped");
    out
}
