//! The console summary a person reads at the end of a run: one row per scenario (under 100
//! columns) with its latency percentiles, request rate, error and fallback rates; with
//! `--verbose` every check beneath it; then the totals, and last a recap of every failure and
//! every inconclusive scenario with its reasons and the runbook's first action, the advisory gates
//! not met and the deltas against a baseline, so nothing that decided the verdict has scrolled
//! away. `--quiet` keeps the failures and the inconclusive scenarios: both need a person.
//! Colour only on a terminal, and never when `NO_COLOR` is set.

use std::fmt::Write;

use super::runner::{ScenarioReport, ScenarioVerdict, id};
use crate::metrics::slo::MetricKey;

/// How much to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    Failures,
    Scenarios,
    Checks,
}

/// Whether the console gets colour: a terminal, and no `NO_COLOR`.
pub fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn paint(colour: bool, v: ScenarioVerdict) -> String {
    let code = match v {
        ScenarioVerdict::Pass => "32",
        ScenarioVerdict::Fail => "1;31",
        ScenarioVerdict::Inconclusive => "1;33",
        ScenarioVerdict::Skip => "33",
    };
    // Four columns in the table: INCONCLUSIVE is spelt out in the recap below it.
    let label = if v == ScenarioVerdict::Inconclusive { "INCO" } else { v.as_str() };
    if colour { format!("\u{1b}[{code}m{label}\u{1b}[0m") } else { label.to_string() }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("   -".into(), |x| format!("{:>3.0}%", x * 100.0))
}

/// `name` cut to `width` characters.
fn fit(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        format!("{name:<width$}")
    } else {
        let cut: String = name.chars().take(width - 1).collect();
        format!("{cut}~")
    }
}

/// One scenario's row: verdict, name, p50/p95/p99, requests per second, error and fallback
/// rates, duration. 98 columns at most.
fn row(r: &ScenarioReport, colour: bool) -> String {
    let lat = r.latency.get("scenario");
    let ms = |v: Option<f64>| v.map_or("     -".into(), |x| format!("{x:>6.1}"));
    let secs = r.duration_ms / 1000.0;
    let rps = lat.map_or(0.0, |l| l.count as f64 / secs.max(1e-3));
    format!(
        "{}  {} {}/{}/{} ms {:>7.1}/s err {} fb {} {:>6.2}s",
        paint(colour, r.verdict()),
        fit(&r.name, 28),
        ms(lat.map(|l| l.p50_ms)),
        ms(lat.map(|l| l.p95_ms)),
        ms(lat.map(|l| l.p99_ms)),
        rps,
        pct(r.totals.value(MetricKey::ErrorRate)),
        pct(r.totals.value(MetricKey::ModelFallbackRate)),
        secs
    )
}

pub fn render(reports: &[ScenarioReport], target: &str, detail: Detail) -> String {
    render_with(reports, target, detail, colour_wanted())
}

pub fn render_with(reports: &[ScenarioReport], target: &str, detail: Detail, colour: bool) -> String {
    let mut out = String::new();
    if detail != Detail::Failures {
        let _ = writeln!(out, "gatedrill run: {} scenario(s) against {target}", reports.len());
        let _ = writeln!(out, "      {:<28}   p50/   p95/   p99      req/s  errors fallback   time", "scenario");
    }
    // Quiet still shows what needs a person: failures, and scenarios that could not be decided.
    let needs_attention =
        |r: &&ScenarioReport| matches!(r.verdict(), ScenarioVerdict::Fail | ScenarioVerdict::Inconclusive);
    for r in reports.iter().filter(|r| detail != Detail::Failures || needs_attention(r)) {
        let _ = writeln!(out, "{}", row(r, colour));
        if let Some(s) = &r.skipped {
            let _ = writeln!(out, "      skipped: {s}");
        }
        if detail == Detail::Checks {
            let _ = writeln!(out, "      playbook {}", id(&r.playbook));
            for s in &r.steps {
                for c in &s.checks {
                    let mark = if c.passed { "ok  " } else { "FAIL" };
                    let line = format!(
                        "step {} {}: {}: expected {}, got {}",
                        s.index + 1,
                        s.kind,
                        c.name,
                        c.expected,
                        c.actual
                    );
                    let _ = writeln!(out, "      {mark} {}", crate::report::junit::sanitize(&line));
                }
            }
            for c in &r.channels {
                let mode = c.failure_mode.map_or("passed", |m| m.id());
                let _ = writeln!(out, "      channel {} ({}): {mode}", c.channel, c.connector_id);
            }
            for f in &r.findings {
                let _ = writeln!(out, "      finding {} on {}: {}", id(&f.finding), f.provider, f.detail);
            }
            for n in &r.not_judged {
                let _ = writeln!(out, "      not judged {}: {}", id(&n.finding), n.reason);
            }
            for g in &r.gates {
                let _ = writeln!(out, "      gate `{}`: {} ({})", g.gate, id(&g.verdict), g.detail);
            }
        }
    }
    let count = |v: ScenarioVerdict| reports.iter().filter(|r| r.verdict() == v).count();
    let (passed, failed) = (count(ScenarioVerdict::Pass), count(ScenarioVerdict::Fail));
    let (inconclusive, skipped) = (count(ScenarioVerdict::Inconclusive), count(ScenarioVerdict::Skip));
    for (v, head) in [
        (ScenarioVerdict::Fail, "did not pass"),
        (ScenarioVerdict::Inconclusive, "are INCONCLUSIVE (a gate could not be decided; a person decides)"),
    ] {
        let these: Vec<&ScenarioReport> = reports.iter().filter(|r| r.verdict() == v).collect();
        if these.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\nwhy {} scenario(s) {head}:", these.len());
        for r in these {
            let _ = writeln!(out, "  {} {}", paint(colour, v), r.name);
            for reason in crate::report::reasons::reasons(r) {
                let _ = writeln!(out, "{}", wrap(&reason, "    - ", "      ", 100));
            }
        }
    }
    let advisory = crate::report::reasons::advisory(reports);
    if !advisory.is_empty() && detail != Detail::Failures {
        let _ = writeln!(out, "\nadvisory gates not met (reported only; the verdict does not count them):");
        for line in advisory {
            let _ = writeln!(out, "{}", wrap(&line, "  - ", "    ", 100));
        }
    }
    let deltas = crate::report::reasons::deltas(reports);
    if !deltas.is_empty() && detail != Detail::Failures {
        let _ = writeln!(out, "\nagainst the baseline run:");
        for line in deltas {
            let _ = writeln!(out, "{}", wrap(&line, "  - ", "    ", 100));
        }
    }
    if let Some((p, r)) = reports.iter().filter_map(|r| r.severity.priority.map(|p| (p, r))).min_by_key(|(p, _)| *p) {
        let sev = r.severity.agent_sev.map(|s| format!(", {}", id(&s))).unwrap_or_default();
        let text = format!("most severe as measured: {} ({}{sev}): {}", id(&p), r.name, r.severity.reasons.join("; "));
        let _ = writeln!(out, "{}", wrap(&text, "", "  ", 100));
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed, {inconclusive} inconclusive, {skipped} skipped");
    out
}

/// `text` wrapped at word boundaries to `width` columns, the first line after `first`, the rest
/// after `rest`.
fn wrap(text: &str, first: &str, rest: &str, width: usize) -> String {
    let mut out = String::from(first);
    let mut col = first.chars().count();
    for (i, word) in text.split(' ').enumerate() {
        let w = word.chars().count();
        if i > 0 && col + 1 + w > width {
            out.push('\n');
            out.push_str(rest);
            col = rest.chars().count();
        } else if i > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_wrap_under_the_width() {
        let text = "channel telegram (telegram_main, required): ingest_http_error; first action: Check RELEASE_AGENT_GATEWAY_WEBHOOK_SECRET, API URL, and the ingest route";
        let w = wrap(text, "    - ", "      ", 60);
        assert!(w.lines().all(|l| l.chars().count() <= 60), "{w}");
        assert_eq!(w.split_whitespace().filter(|t| *t != "-").collect::<Vec<_>>().join(" "), text);
    }

    #[test]
    fn long_names_are_cut_to_fit() {
        assert_eq!(fit("short", 8), "short   ");
        assert_eq!(fit("a_very_long_scenario_name", 8), "a_very_~");
    }
}
