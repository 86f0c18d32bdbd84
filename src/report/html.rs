//! `report.html`: one self-contained page (inline CSS and SVG; no script, no network) with, per
//! scenario, the verdict, failure modes and findings, the latency percentile distribution, the
//! timeline of fault phases against success rate and p95, the gate table with the numbers that
//! decided each gate, the launch-gate channels with their first actions, and the attempts each
//! provider saw by outcome.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::RunMeta;
use super::launch_gate::Summary;
use super::svg::{self, esc};
use crate::drill::runner::{ScenarioReport, id};
use crate::metrics::Hist;
use crate::metrics::slo::MetricKey;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:36px;border-top:1px solid #ddd;padding-top:16px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;font-size:13px}\
th{background:#f4f4f4}.PASS,.pass{color:#1a7f37;font-weight:600}.FAIL,.fail,.hard_stop{color:#cf222e;font-weight:600}\
.SKIP,.INCONCLUSIVE,.inconclusive{color:#9a6700;font-weight:600}code{background:#f4f4f4;padding:1px 4px}.muted{color:#666}\
svg{display:block;margin:8px 0;border:1px solid #eee;width:100%;height:auto}\
@media (max-width:700px){body{margin:8px}td,th{font-size:11px;padding:2px 4px}}";

/// Which series to plot for a scenario: the loads' (corrected and not), else the whole
/// scenario's, plus the providers' attempts.
fn plotted(hists: &BTreeMap<String, Hist>) -> Vec<(String, &Hist)> {
    let mut out: Vec<(String, &Hist)> =
        hists.iter().filter(|(t, _)| t.starts_with("load:")).map(|(t, h)| (t.clone(), h)).collect();
    if out.is_empty()
        && let Some(h) = hists.get("scenario")
    {
        out.push(("all requests".into(), h));
    }
    out.extend(
        hists
            .iter()
            .filter(|(t, _)| t.starts_with("provider:") && t.ends_with(":attempt"))
            .map(|(t, h)| (t.clone(), h)),
    );
    out
}

fn scenario(out: &mut String, r: &ScenarioReport, hists: Option<&BTreeMap<String, Hist>>) {
    let v = r.verdict();
    let _ = write!(
        out,
        r#"<h2 id="{n}">{n} <span class="{v}">{v}</span>{inc}</h2><p>{d}</p><p class="muted">playbook <code>{p}</code> · {secs:.2} s · seed {seed} · {steps} steps</p>"#,
        n = esc(&r.name),
        inc = if r.incomplete { " <span class=\"fail\">(incomplete)</span>" } else { "" },
        d = esc(&r.description),
        p = id(&r.playbook),
        secs = r.duration_ms / 1000.0,
        seed = r.seed,
        steps = r.steps.len(),
    );
    if let Some(s) = &r.skipped {
        let _ = write!(out, "<p>Skipped: {}</p>", esc(s));
        return;
    }
    let modes: Vec<String> = r.failure_modes.iter().map(|m| format!("<code>{}</code>", m.id())).collect();
    let findings: Vec<String> = r
        .findings
        .iter()
        .map(|f| format!("<code>{}</code> on {}: {}", id(&f.finding), esc(&f.provider), esc(&f.detail)))
        .collect();
    let _ = write!(
        out,
        "<p>Failure modes: {}<br>Findings: {}</p>",
        if modes.is_empty() { "none".into() } else { modes.join(", ") },
        if findings.is_empty() { "none".into() } else { findings.join("; ") }
    );
    let why = super::reasons::reasons(r);
    if !why.is_empty() {
        out.push_str("<p>Why it did not pass:</p><ul>");
        for p in &why {
            let _ = write!(out, "<li class=\"fail\">{}</li>", esc(p));
        }
        out.push_str("</ul>");
    }
    channels(out, r);
    providers(out, r);
    match hists {
        Some(h) => out.push_str(&svg::percentile_plot(&format!("{}: latency by percentile", r.name), &plotted(h))),
        None => out.push_str("<p class=\"muted\">no latency.hlog for this scenario</p>"),
    }
    out.push_str(&timeline(r));
    if !r.gates.is_empty() {
        out.push_str(
            "<table><tr><th>gate</th><th>verdict</th><th>value</th><th>threshold</th><th>baseline</th><th>decided by</th></tr>",
        );
        for g in &r.gates {
            let verdict = id(&g.verdict);
            let _ = write!(
                out,
                r#"<tr><td><code>{}</code></td><td class="{verdict}">{verdict}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                esc(&g.gate),
                if g.advisory { " (advisory)" } else { "" },
                g.value.map_or("n/a".into(), |v| format!("{v:.4}")),
                g.threshold.map_or("n/a".into(), crate::metrics::gate::fmt),
                g.baseline.zip(g.delta).map_or("-".into(), |(b, d)| format!(
                    "{} ({})",
                    crate::metrics::gate::fmt(b),
                    crate::metrics::gate::delta_text(d, b)
                )),
                esc(&g.detail)
            );
        }
        out.push_str("</table>");
    }
}

/// The scenario's timeline: fault phases from its steps, firings from the providers' journal
/// (every failed attempt is kept, so every firing that failed an attempt is drawn), and the
/// threshold of each gate on a rate or on p95.
fn timeline(r: &ScenarioReport) -> String {
    let phases: Vec<(f64, String)> = r.phases.iter().map(|p| (p.t_ms, p.change.clone())).collect();
    let firings: Vec<(f64, String)> =
        r.journal.iter().filter(|a| !a.faults.is_empty()).map(|a| (a.t_offset_ms, a.provider.clone())).collect();
    let thresholds: Vec<svg::Threshold> = r
        .gates
        .iter()
        .filter_map(|g| {
            let (metric, value) = (g.metric?, g.threshold?);
            (metric.is_rate() || metric == MetricKey::P95ResponseLatencyMs).then(|| svg::Threshold {
                label: g.gate.clone(),
                value,
                metric,
            })
        })
        .collect();
    let t = svg::Timeline {
        windows: &r.windows,
        phases: &phases,
        firings: &firings,
        thresholds: &thresholds,
        end_ms: r.duration_ms,
    };
    svg::timeline_plot(&format!("{}: timeline", r.name), &t)
}

/// The launch-gate channels of a scenario: failure mode, first action, whom to escalate to.
fn channels(out: &mut String, r: &ScenarioReport) {
    if r.channels.is_empty() {
        return;
    }
    out.push_str("<table><tr><th>channel</th><th>connector</th><th>required</th><th>failure mode</th><th>expected / resolved session</th><th>first action</th><th>escalate to</th></tr>");
    for c in &r.channels {
        let (mode, action, escalate) = match c.failure_mode {
            None => ("<span class=\"pass\">passed</span>".to_string(), String::new(), String::new()),
            Some(m) => (format!("<span class=\"fail\">{}</span>", m.id()), esc(m.first_action()), esc(m.escalate_to())),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{mode}</td><td>{} / {}</td><td>{action}</td><td>{escalate}</td></tr>",
            esc(&c.channel),
            esc(&c.connector_id),
            if c.required { "yes" } else { "no" },
            esc(&c.expected_external_session_id),
            esc(c.resolved_external_session_id.as_deref().unwrap_or("none")),
        );
    }
    out.push_str("</table>");
}

/// Attempts per provider and outcome, counted over the whole journal (exact, not sampled).
fn providers(out: &mut String, r: &ScenarioReport) {
    if r.attempt_mix.is_empty() {
        return;
    }
    let mut counts: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for c in &r.attempt_mix {
        *counts.entry(c.provider.as_str()).or_default().entry(id(&c.outcome)).or_default() += c.attempts;
    }
    let outcomes: std::collections::BTreeSet<&String> = counts.values().flat_map(|m| m.keys()).collect();
    out.push_str("<table><tr><th>provider attempts</th>");
    for o in &outcomes {
        let _ = write!(out, "<th>{}</th>", esc(o));
    }
    out.push_str("</tr>");
    for (p, m) in &counts {
        let _ = write!(out, "<tr><td>{}</td>", esc(p));
        for o in &outcomes {
            let _ = write!(out, "<td>{}</td>", m.get(*o).copied().unwrap_or(0));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

pub fn render(
    meta: &RunMeta,
    reports: &[ScenarioReport],
    summary: &Summary,
    hists: &BTreeMap<String, BTreeMap<String, Hist>>,
) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>gatedrill run {id}</title><style>{STYLE}</style></head><body><h1>gatedrill run <code>{id}</code>: <span class="{s}">{s}</span></h1><p class="muted">target {t} · gatedrill {v} · commit {c} · {start} to {end}{inc}</p>"#,
        id = esc(&meta.run_id),
        s = summary.status,
        t = esc(&meta.target),
        v = esc(&meta.version),
        c = esc(meta.commit.as_deref().unwrap_or("unknown")),
        start = esc(&meta.started_at),
        end = esc(&meta.finished_at),
        inc = if meta.incomplete { " · <span class=\"fail\">INCOMPLETE</span>" } else { "" },
    );
    let _ = write!(out, "<p>{}</p>", esc(&summary.channels_line()));
    out.push_str("<table><tr><th>scenario</th><th>playbook</th><th>verdict</th><th>failure modes</th><th>gates</th><th>time</th></tr>");
    for r in reports {
        let passed = r.gates.iter().filter(|g| g.verdict == crate::metrics::gate::Verdict::Pass).count();
        let v = r.verdict();
        let _ = write!(
            out,
            r##"<tr><td><a href="#{n}">{n}</a></td><td>{p}</td><td class="{v}">{v}</td><td>{m}</td><td>{passed}/{g}</td><td>{s:.2} s</td></tr>"##,
            n = esc(&r.name),
            p = id(&r.playbook),
            m = r.failure_modes.iter().map(|m| m.id()).collect::<Vec<_>>().join(", "),
            g = r.gates.len(),
            s = r.duration_ms / 1000.0,
        );
    }
    out.push_str("</table>");
    for (head, lines) in [
        ("Advisory gates not met (reported only; the verdict does not count them)", super::reasons::advisory(reports)),
        ("Against the baseline run", super::reasons::deltas(reports)),
    ] {
        if !lines.is_empty() {
            let _ = write!(out, "<p>{}:</p><ul>", esc(head));
            for l in lines {
                let _ = write!(out, "<li>{}</li>", esc(&l));
            }
            out.push_str("</ul>");
        }
    }
    for r in reports {
        scenario(&mut out, r, hists.get(&r.name));
    }
    out.push_str("</body></html>\n");
    out
}
