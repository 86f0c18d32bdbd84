//! `drill-evidence.md`: tabletop-drill evidence per playbook exercised. For each scenario:
//! detect / contain / recover / close with UTC timestamps and the signal that decided each,
//! the alert types the signals correspond to, SLO breaches, affected model ids, the SLO windows,
//! before/after figures, fault phases, and the runbook's "Incident Evidence to Capture" items.
//! Every statement is derived from the trace; what was not observed is said to be so.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::RunMeta;
use super::launch_gate::Summary;
use crate::drill::exchange::TracedBody;
use crate::drill::observe::Endpoint;
use crate::drill::runner::{ScenarioReport, ScenarioVerdict, id};
use crate::drill::steps::EvidenceKind;
use crate::metrics::gate::Verdict;
use crate::metrics::slo::{MetricKey, Window};
use crate::mock::journal::{Outcome, Refusal};
use crate::wire::runtime::HealthState;

fn utc(r: &ScenarioReport, offset_ms: f64) -> String {
    let base = humantime::parse_rfc3339_weak(&r.started_at).unwrap_or(SystemTime::UNIX_EPOCH);
    humantime::format_rfc3339_millis(base + Duration::from_secs_f64(offset_ms.max(0.0) / 1000.0)).to_string()
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.digits$}"))
}

/// (offset ms, what) of the four drill phases.
struct Timeline {
    detect: Option<(f64, String)>,
    contain: Option<(f64, String)>,
    recover: Option<(f64, String)>,
    close: Option<(f64, String)>,
}

fn timeline(r: &ScenarioReport) -> Timeline {
    let failed_attempt = r.journal.iter().find(|a| a.outcome != Outcome::Completed);
    let failed_request = r.requests.iter().find(|q| !q.ok);
    let detect = match (failed_attempt, failed_request) {
        (Some(a), Some(q)) if a.t_offset_ms <= q.t_ms => Some(a),
        (Some(a), None) => Some(a),
        _ => None,
    }
    .map(|a| {
        let code = a.status.map_or_else(|| id(&a.outcome), |s| format!("HTTP {s}"));
        (
            a.t_offset_ms,
            format!("provider {} attempt failed ({code}, model {})", a.provider, a.model.as_deref().unwrap_or("?")),
        )
    })
    .or_else(|| {
        failed_request.map(|q| {
            (
                q.t_ms,
                format!("{} {} answered {}", q.method, q.path, q.status.map_or("nothing".into(), |s| s.to_string())),
            )
        })
    });
    // Each phase is looked for only after the one before it: the evidence is always in order.
    let detected_at = detect.as_ref().map_or(0.0, |d| d.0);
    let contain = r
        .requests
        .iter()
        .filter(|q| q.t_ms >= detected_at)
        .find(|q| q.signal.as_ref().is_some_and(|s| s.fallback_used == Some(true)))
        .map(|q| {
            let by = q.signal.as_ref().and_then(|s| s.served_by.as_deref()).unwrap_or("?");
            (q.t_ms, format!("failover engaged: served by fallback {by}"))
        })
        .or_else(|| {
            r.requests
                .iter()
                .filter(|q| q.t_ms >= detected_at)
                .find(|q| q.endpoint == Endpoint::Orchestrate && q.status == Some(503) && !disabled(q))
                .map(|q| (q.t_ms, "orchestration refused new work (503) while no provider could serve".to_string()))
        });
    let last_failure = r
        .journal
        .iter()
        .filter(|a| a.outcome != Outcome::Completed)
        .map(|a| a.t_offset_ms + a.duration_ms.unwrap_or(0.0))
        .chain(r.requests.iter().filter(|q| !q.ok).map(|q| q.t_ms + q.latency_ms))
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
    let recover = detect.as_ref().and_then(|_| {
        let after = last_failure.unwrap_or(0.0).max(contain.as_ref().map_or(detected_at, |c| c.0));
        r.requests
            .iter()
            .find(|q| {
                let task = matches!(q.endpoint, Endpoint::DryRun | Endpoint::Orchestrate);
                let signal = q.signal.as_ref();
                q.ok && q.t_ms >= after
                    && ((task && signal.is_some_and(|s| s.fallback_used != Some(true)))
                        || signal.is_some_and(|s| s.health == Some(HealthState::Ok)))
            })
            .map(|q| (q.t_ms, format!("{} {} answered normally after the last failure", q.method, q.path)))
    });
    let close = r
        .gates
        .iter()
        .find(|g| g.verdict == Verdict::Pass && g.decided_until_ms.is_some())
        .and_then(|g| Some((g.decided_until_ms?, format!("close criterion met: `{}` ({})", g.gate, g.detail))))
        // Closed no earlier than recovered, and no later than the run's end.
        .map(|(at, what)| (at.max(recover.as_ref().map_or(detected_at, |r| r.0)).min(r.duration_ms), what));
    Timeline { detect, contain, recover, close }
}

/// An orchestration refused because the flag is off (runbook C): a configuration fault, not an
/// outage.
fn disabled(q: &crate::drill::observe::RequestRecord) -> bool {
    q.signal.as_ref().and_then(|s| s.error_code.as_deref()) == Some("AGENT_ORCHESTRATION_DISABLED")
}

/// The seed-000 alert types the drill's signals correspond to.
fn alert_types(r: &ScenarioReport) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let n429 = r.journal.iter().filter(|a| a.status == Some(429)).count();
    if n429 > 0 {
        out.push(("rate_limit", format!("{n429} provider attempt(s) answered 429")));
    }
    let n402 = r.journal.iter().filter(|a| a.status == Some(402) || a.refusal == Some(Refusal::QuotaExhausted)).count();
    if n402 > 0 {
        out.push(("openrouter_payment", format!("{n402} attempt(s) refused for quota or payment")));
    }
    let errs =
        r.journal.iter().filter(|a| a.outcome != Outcome::Completed && !matches!(a.status, Some(429 | 402))).count();
    if errs > 0 {
        out.push(("openrouter_error", format!("{errs} provider attempt(s) failed (errors, timeouts, broken streams)")));
    }
    let outage = r.requests.iter().any(|q| {
        let signal = q.signal.as_ref();
        signal.is_some_and(|s| s.task_failed == Some(true) && q.endpoint == Endpoint::DryRun)
            || (q.endpoint == Endpoint::Orchestrate && q.status == Some(503) && !disabled(q))
            || signal.is_some_and(|s| s.health.is_some_and(|h| h != HealthState::Ok))
    });
    if r.requests.iter().any(disabled) {
        out.push((
            "configuration_fault",
            "orchestrate answered AGENT_ORCHESTRATION_DISABLED: the flag is off (runbook C), not an outage".into(),
        ));
    }
    if outage {
        out.push(("service_outage", "a role had no provider able to serve, or runtime health was not ok".into()));
    }
    let breached: Vec<&str> = r.gates.iter().filter(|g| g.verdict == Verdict::Fail).map(|g| g.gate.as_str()).collect();
    if !breached.is_empty() {
        out.push(("slo_breach", format!("gate(s) failed: {}", breached.join("; "))));
    }
    out
}

fn window_rows(out: &mut String, windows: &[Window]) {
    let with_data: Vec<&Window> = windows.iter().filter(|w| w.tasks > 0).collect();
    if with_data.is_empty() {
        out.push_str("No tasks were sent, so no SLO windows have data.\n\n");
        return;
    }
    out.push_str("| window | from (ms) | tasks | model_fallback_rate | error_rate | p95_response_latency_ms | cost_per_successful_task_usd |\n|---|---|---|---|---|---|---|\n");
    let shown = 24;
    for w in with_data.iter().take(shown) {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} | {} | {} | {} |",
            w.index,
            w.start_ms,
            w.tasks,
            opt(w.value(MetricKey::ModelFallbackRate), 3),
            opt(w.value(MetricKey::ErrorRate), 3),
            opt(w.p95_ms, 1),
            opt(w.value(MetricKey::CostPerSuccessfulTaskUsd), 6)
        );
    }
    if with_data.len() > shown {
        let _ = writeln!(out, "\n({} more windows in trace.json)", with_data.len() - shown);
    }
    out.push('\n');
}

fn payload(out: &mut String, title: &str, v: Option<&TracedBody>) {
    let _ = writeln!(out, "- {title}:");
    let Some(v) = v else {
        out.push_str("  not captured in this drill\n");
        return;
    };
    let (lang, mut text) = match (&v.json, &v.text) {
        (Some(j), _) => ("json", serde_json::to_string_pretty(j).unwrap_or_default()),
        (None, Some(t)) => ("text", t.clone()),
        (None, None) => ("text", format!("({} bytes, not text; sha256 {})", v.bytes, v.sha256)),
    };
    if text.len() > 4000 {
        text.truncate(text.char_indices().take_while(|(i, _)| *i < 4000).last().map_or(0, |(i, _)| i));
        text.push_str("\n... (truncated; the bounded payload is in trace.json)");
    }
    // A fence longer than any run of backticks inside, so a payload cannot end it.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "\n{fence}{lang}\n{text}\n{fence}");
}

fn scenario(out: &mut String, meta: &RunMeta, r: &ScenarioReport) {
    let verdict = r.verdict();
    let _ = writeln!(
        out,
        "### Scenario `{}`: {verdict}{}\n",
        r.name,
        if r.incomplete { " (INCOMPLETE: interrupted)" } else { "" }
    );
    let _ = writeln!(out, "{}\n", r.description);
    let _ = writeln!(
        out,
        "Started {} UTC, ran {:.2} s against {}, seed {}.\n",
        r.started_at,
        r.duration_ms / 1000.0,
        meta.target,
        r.seed
    );
    if let Some(s) = &r.skipped {
        let _ = writeln!(out, "Skipped: {s}\n");
        return;
    }
    let t = timeline(r);
    out.push_str("| phase | UTC | signal |\n|---|---|---|\n");
    for (name, p) in [("Detect", &t.detect), ("Contain", &t.contain), ("Recover", &t.recover), ("Close", &t.close)] {
        match p {
            Some((at, what)) => {
                let _ = writeln!(out, "| {name} | {} | {what} |", utc(r, *at));
            }
            None => {
                let _ = writeln!(out, "| {name} | - | not observed |");
            }
        }
    }
    out.push('\n');
    let alerts = alert_types(r);
    out.push_str("**Alert types** (seed-000 registry; the signals they correspond to):\n");
    if alerts.is_empty() {
        out.push_str("none\n");
    }
    for (a, why) in &alerts {
        let _ = writeln!(out, "- `{a}`: {why}");
    }
    severity_and_rules(out, r);
    out.push_str("\n**SLO gates**:\n");
    if r.gates.is_empty() {
        out.push_str("none set for this scenario\n");
    }
    for g in &r.gates {
        let _ = writeln!(out, "- `{}`: **{}** ({})", g.gate, id(&g.verdict), g.detail);
    }
    let models: BTreeSet<&str> =
        r.attempt_mix.iter().filter(|c| c.outcome != Outcome::Completed).filter_map(|c| c.model.as_deref()).collect();
    let _ = writeln!(
        out,
        "\n**Affected model ids**: {}\n",
        if models.is_empty() {
            "none".into()
        } else {
            models.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        }
    );
    out.push_str("**SLO windows** (fallback-rate windows):\n\n");
    window_rows(out, &r.windows);
    let with_data: Vec<&Window> = r.windows.iter().filter(|w| w.tasks > 0).collect();
    if let (Some(first), Some(last)) = (with_data.first(), with_data.last())
        && with_data.len() > 1
    {
        out.push_str(
            "**Before / after** (first and last window with data):\n\n| metric | before | after |\n|---|---|---|\n",
        );
        for k in [
            MetricKey::ModelFallbackRate,
            MetricKey::ErrorRate,
            MetricKey::P95ResponseLatencyMs,
            MetricKey::CostPerSuccessfulTaskUsd,
        ] {
            let _ = writeln!(out, "| {} | {} | {} |", k.id(), opt(first.value(k), 4), opt(last.value(k), 4));
        }
        out.push('\n');
    }
    if !r.phases.is_empty() {
        out.push_str("**Fault phases**:\n");
        for p in &r.phases {
            let _ = writeln!(out, "- {} UTC: {}", utc(r, p.t_ms), p.change);
        }
        out.push('\n');
    }
    if !r.failure_modes.is_empty() || !r.findings.is_empty() {
        out.push_str("**Classification**:\n");
        for m in &r.failure_modes {
            let _ = writeln!(
                out,
                "- failure mode `{}`: first action: {} Escalate to: {}.",
                m.id(),
                m.first_action(),
                m.escalate_to()
            );
        }
        for f in &r.findings {
            let _ = writeln!(out, "- finding `{}` on {}: {}", id(&f.finding), f.provider, f.detail);
        }
        out.push('\n');
    }
    let at = |p: &Option<(f64, String)>| p.as_ref().map(|(ms, what)| (utc(r, *ms), what.clone()));
    let derived = super::post_incident::Derived {
        alert_types: &alerts,
        affected_models: models.iter().copied().collect(),
        recovered: at(&t.recover),
        closed: at(&t.close),
        changes: r.phases.iter().map(|p| (utc(r, p.t_ms), p.change.clone())).collect(),
    };
    super::post_incident::write(out, r, &derived);
    let why = super::reasons::reasons(r);
    if !why.is_empty() {
        out.push_str("**Why it did not pass**:\n");
        for p in &why {
            let _ = writeln!(out, "- {}", md(p));
        }
        out.push('\n');
    }
    out.push_str("**Incident Evidence to Capture** (runbook):\n\n");
    let find = |kinds: &[EvidenceKind]| {
        kinds.iter().find_map(|k| r.evidence.iter().rev().find(|e| e.kind == *k)).map(|e| &e.payload)
    };
    let health = find(&[EvidenceKind::RuntimeHealth, EvidenceKind::RuntimeHealthAtEnd]);
    payload(out, "Runtime health snapshot payload (`/admin/ai-runtime/health`)", health);
    let dry_run = find(&[EvidenceKind::DryRunWithErrors, EvidenceKind::DryRun]);
    payload(out, "Dry-run attempts payload with error codes", dry_run);
    payload(out, "Session summary payload for affected gateway session ids", find(&[EvidenceKind::SessionSummary]));
    failing_tools(out, r);
    let _ = writeln!(
        out,
        "- Deployment version / commit SHA of the gateway under test ({}): {}; the run: gatedrill {} at commit {}{}",
        meta.target,
        meta.gateway_version
            .as_deref()
            .map_or("not reported (set GATEDRILL_GATEWAY_VERSION to record it)".into(), |v| format!(
                "{v} (as stated by GATEDRILL_GATEWAY_VERSION)"
            )),
        meta.version,
        meta.commit.as_deref().unwrap_or("unknown"),
        meta.ci_run_url.as_deref().map_or(String::new(), |u| format!(", CI run {u}"))
    );
    out.push_str("- Timeline and mitigation actions for postmortem:\n");
    for s in &r.steps {
        let _ = writeln!(
            out,
            "  - {} UTC: step {} `{}` {}",
            utc(r, s.started_ms),
            s.index + 1,
            s.kind,
            if s.skipped.is_some() {
                "skipped"
            } else if s.passed {
                "held"
            } else {
                "FAILED"
            }
        );
    }
    out.push('\n');
}

pub fn render(meta: &RunMeta, reports: &[ScenarioReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Drill evidence: run {}\n", meta.run_id);
    let _ = writeln!(
        out,
        "- Target: {}\n- gatedrill {} · commit {}\n- Started {} · finished {} (UTC)\n- Seed: {}\n- Status: {}\n",
        meta.target,
        meta.version,
        meta.commit.as_deref().unwrap_or("unknown"),
        meta.started_at,
        meta.finished_at,
        meta.seed.map_or("per scenario".into(), |s| s.to_string()),
        if meta.incomplete { "INCOMPLETE (interrupted; what was gathered is below)" } else { "complete" }
    );
    out.push_str("Timestamps are UTC. Drills run time-compressed (timeouts and cooldowns of milliseconds), so a phase that takes minutes in production takes milliseconds here; the order and the signals are what the drill evidences.\n\n");
    let mut playbooks: Vec<String> = reports.iter().map(|r| id(&r.playbook)).collect();
    playbooks.dedup();
    let mut seen = BTreeSet::new();
    for p in playbooks.into_iter().filter(|p| seen.insert(p.clone())) {
        let _ = writeln!(out, "## Playbook `{p}`\n");
        for r in reports.iter().filter(|r| id(&r.playbook) == p) {
            scenario(&mut out, meta, r);
        }
    }
    out
}

/// The short Markdown appended to `GITHUB_STEP_SUMMARY`.
pub fn step_summary(meta: &RunMeta, reports: &[ScenarioReport], s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## gatedrill run `{}`: {}\n", meta.run_id, s.status);
    out.push_str(
        "| scenario | playbook | verdict | severity | failure modes | findings |\n|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let verdict = match r.verdict() {
            ScenarioVerdict::Fail => "**FAIL**",
            ScenarioVerdict::Inconclusive => "**INCONCLUSIVE**",
            v => v.as_str(),
        };
        let modes: Vec<&str> = r.failure_modes.iter().map(|m| m.id()).collect();
        let findings: BTreeSet<String> = r.findings.iter().map(|f| id(&f.finding)).collect();
        let severity = match (r.severity.priority, r.severity.agent_sev) {
            (Some(p), Some(s)) => format!("{} / {}", id(&p), id(&s)),
            (Some(p), None) => id(&p),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {verdict} | {severity} | {} | {} |",
            r.name,
            id(&r.playbook),
            modes.join(", "),
            findings.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let _ = writeln!(out, "\n{}", s.channels_line());
    if let Some(b) = &meta.baseline_run_id {
        let _ = writeln!(out, "\nGates compared with the baseline run `{}`.", md(b));
    }
    if let Some(h) = &s.hard_stop {
        let _ = writeln!(out, "\nLaunch gate: {}", h.action);
    }
    for (v, head) in [
        (ScenarioVerdict::Fail, "Why it did not pass"),
        (ScenarioVerdict::Inconclusive, "Inconclusive: a gate could not be decided, a person decides"),
    ] {
        let these: Vec<&ScenarioReport> = reports.iter().filter(|r| r.verdict() == v).collect();
        if these.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {head}");
        for r in these {
            let _ = writeln!(out, "\n**{}**\n", md(&r.name));
            for reason in super::reasons::reasons(r) {
                let _ = writeln!(out, "- {}", md(&reason));
            }
        }
    }
    for (head, lines) in [
        ("Advisory gates not met (reported only; the verdict does not count them)", super::reasons::advisory(reports)),
        ("Against the baseline run", super::reasons::deltas(reports)),
    ] {
        if !lines.is_empty() {
            let _ = writeln!(out, "\n### {head}\n");
            for l in lines {
                let _ = writeln!(out, "- {}", md(&l));
            }
        }
    }
    out
}

/// The severity as measured, and each watch rule's verdict with since when it held and the
/// rollback reference (seed 001, "Operational SLO Checks" and "Release Window Checks").
fn severity_and_rules(out: &mut String, r: &ScenarioReport) {
    let s = &r.severity;
    let level = match (s.priority, s.agent_sev) {
        (Some(p), Some(a)) => format!("{} / {}", id(&p), id(&a)),
        (Some(p), None) => id(&p),
        _ => "none (nothing measured went wrong)".into(),
    };
    let why = if s.reasons.is_empty() { String::new() } else { format!(": {}", md(&s.reasons.join("; "))) };
    let _ = writeln!(out, "\n**Severity as measured**: {level}{why}");
    for w in &r.watch {
        let _ = writeln!(
            out,
            "\n**Degraded rules** (watch of {:.0} ms, {} rounds, {} probes):\n\n| rule | condition | outcome | held since | tripped at | last value | then |\n|---|---|---|---|---|---|---|",
            w.duration_ms, w.rounds, w.probes
        );
        for v in &w.verdicts {
            let ms = |t: Option<f64>| t.map_or("-".into(), |t| format!("{t:.0} ms"));
            let _ = writeln!(
                out,
                "| `{}` | {} | **{}** | {} | {} | {} | {} |",
                v.rule.id(),
                md(&v.condition),
                id(&v.outcome),
                ms(v.since_ms),
                ms(v.tripped_at_ms),
                md(v.values.last().map_or("-", |x| x.detail.as_str())),
                md(&v.rollback)
            );
        }
    }
}

/// Text made safe for one Markdown line or table cell: no line breaks, no table pipes, no HTML.
fn md(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;")
}

/// Seed 000 Playbook B's artifact: the failing tools (by provider) and the affected channels,
/// from what the drill read of the dry-run and orchestrate answers.
fn failing_tools(out: &mut String, r: &ScenarioReport) {
    let mut tools = BTreeSet::new();
    let mut channels = BTreeSet::new();
    for s in r.requests.iter().filter_map(|q| q.signal.as_ref()).filter(|s| !s.failing_tools.is_empty()) {
        tools.extend(s.failing_tools.iter().map(|t| format!("`{}`", md(t))));
        channels.extend(s.channel.iter().map(|c| format!("`{}`", md(c))));
    }
    if !tools.is_empty() {
        let join = |s: BTreeSet<String>| {
            if s.is_empty() { "none recorded".to_string() } else { s.into_iter().collect::<Vec<_>>().join(", ") }
        };
        let _ = writeln!(out, "- Failing tools (Playbook B): {}", join(tools));
        let _ = writeln!(out, "- Affected channels (Playbook B): {}", join(channels));
    }
}
