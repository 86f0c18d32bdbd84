//! Steps on the AI runtime's routes (seed 001, "Fast Triage" and playbooks A and C): health and
//! readiness, the runtime health snapshot, profiles, the dry-run probe and orchestration. A
//! dry-run is also judged against what the providers saw during it (`classify::served`).

use std::time::Duration;

use serde_json::json;

use super::{Check, EvidenceKind, StepCtx, check, expect_eq, parsed, status_check};
use crate::drill::exchange::{Auth, Observed};
use crate::drill::observe::{Endpoint, Exchanged, Signal};
use crate::duration::Dur;
use crate::metrics::slo::TaskOutcome;
use crate::scenario::steps::{DryRunExpect, HealthExpect, StatusExpect};
use crate::wire::runtime::{DryRunAnswer, OrchestrateAnswer, Profiles, RuntimeHealth};
use crate::wire::{ErrorBody, paths};

/// `GET /health` or `GET /ready` answers `want` (200 unless a drill broke the store).
pub async fn health(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, path: &str, want: u16) {
    let endpoint = if path == paths::READY { Endpoint::Ready } else { Endpoint::Health };
    let seen = ctx.call(endpoint, reqwest::Method::GET, path, None, Auth::None).await;
    status_check(out, want, &seen);
}

/// `GET /api/admin/ai-runtime/health`, with expectations on its summary.
pub async fn runtime_health(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, expect: &HealthExpect) {
    let seen = ctx.send(reqwest::Method::GET, paths::RUNTIME_HEALTH, None, Auth::Admin).await;
    let answer = seen.parse::<RuntimeHealth>().ok();
    let signal = answer.as_ref().map(|h| Signal { health: Some(h.summary.health), ..Default::default() });
    ctx.record(Exchanged {
        endpoint: Endpoint::RuntimeHealth,
        method: "GET",
        path: paths::RUNTIME_HEALTH,
        seen: &seen,
        ok: seen.is(200) && answer.is_some(),
        keep_body: true,
        signal,
    });
    if !status_check(out, 200, &seen) {
        return;
    }
    ctx.evidence.push((EvidenceKind::RuntimeHealth, "runtime health".into(), seen.traced()));
    let Some(h) = parsed::<RuntimeHealth>(out, "runtime health", &seen) else { return };
    let s = &h.summary;
    expect_eq(out, "summary.health", expect.health.as_ref(), Some(&s.health));
    expect_eq(out, "summary.rolesBlocked", expect.roles_blocked.as_ref(), Some(&s.roles_blocked));
    expect_eq(
        out,
        "summary.providersCoolingDown",
        expect.providers_cooling_down.as_ref(),
        Some(&s.providers_cooling_down),
    );
}

/// `GET /api/admin/ai-runtime/profiles` answers 200 and shows no secret (in any encoding the
/// redactor knows).
pub async fn profiles(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>) {
    let seen = ctx.get(Endpoint::Profiles, paths::PROFILES).await;
    if status_check(out, 200, &seen) {
        let text = String::from_utf8_lossy(&seen.body);
        let leaked = ctx.target.secrets.appears_in(&text);
        out.push(check("no secret in profiles", !leaked, "none", if leaked { "a secret" } else { "none" }));
    }
}

/// Largest prompt a dry-run step sends (validation refuses larger `prompt_repeat`s).
pub const PROMPT_CAP: usize = 4 * 1024 * 1024;

/// `POST /api/admin/ai-runtime/dry-run`.
pub async fn dry_run(
    ctx: &mut StepCtx<'_>,
    out: &mut Vec<Check>,
    role: &str,
    prompt: Option<&str>,
    prompt_repeat: Option<u32>,
    timeout: Option<Dur>,
    expect: &DryRunExpect,
) {
    let base = prompt.unwrap_or("health probe: summarize fallback readiness");
    let times = (prompt_repeat.unwrap_or(1).max(1) as usize).min(PROMPT_CAP / base.len().max(1)).max(1);
    // A marker per step: separate probes are separate requests, never mistaken for retries of
    // one another in the providers' journal.
    let marker = ctx.next_probe().to_string();
    let text = format!("{} [gatedrill probe {marker}]", base.repeat(times));
    // The gateway is asked to finish inside what the drill waits for: the step's timeout, else
    // the runbook's 12 s or 80% of the exchange deadline, whichever is shorter.
    let timeout = timeout.map_or_else(|| Duration::from_secs(12).min(ctx.ex.deadline.mul_f64(0.8)), |t| t.0);
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let since = ctx.fleet.map(|f| f.elapsed_ms());
    let body = json!({"role": role, "prompt": text, "timeoutMs": timeout_ms});
    let wait = ctx.ex.deadline.max(timeout.saturating_add(Duration::from_secs(1)));
    let sent_ms = ctx.fleet_ms();
    let seen = ctx.send_within(reqwest::Method::POST, paths::DRY_RUN, Some(&body), Auth::Admin, wait).await;
    let answer = seen.parse::<DryRunAnswer>();
    let task = dry_run_task(role, &seen, answer.as_ref().ok());
    ctx.probe_task(task);
    let api = crate::classify::requests::Api::DryRun;
    ctx.client_request(ctx.took(api, (&marker, role), sent_ms, &seen, task.ok, false));
    ctx.record(Exchanged {
        endpoint: Endpoint::DryRun,
        method: "POST",
        path: paths::DRY_RUN,
        seen: &seen,
        ok: task.ok,
        keep_body: true,
        signal: answer.as_ref().ok().map(signal_of),
    });
    if !status_check(out, 200, &seen) {
        return;
    }
    let Some(b) = parsed::<DryRunAnswer>(out, "dry-run", &seen) else { return };
    let errors = b.error_codes();
    let kind = if errors.is_empty() { EvidenceKind::DryRun } else { EvidenceKind::DryRunWithErrors };
    ctx.evidence.push((kind, format!("dry-run {role}"), seen.traced()));
    expect_eq(out, "failed", expect.failed.as_ref(), Some(&b.failed));
    expect_eq(out, "fallbackUsed", expect.fallback_used.as_ref(), b.fallback_used.as_ref());
    expect_eq(out, "servedBy", expect.served_by.as_ref(), b.served_by.as_ref());
    expect_eq(out, "attempt codes", expect.attempt_codes.as_ref(), Some(&errors));
    if let Some(limit) = expect.cost_usd_above {
        let seen_cost = b.cost_usd.map_or("absent".into(), |c| format!("{c:.6}"));
        out.push(check("costUsd above budget", b.cost_usd.is_some_and(|c| c > limit), format!("> {limit}"), seen_cost));
    }
    if let (Some(fleet), Some(since)) = (ctx.fleet, since) {
        let Some(journal) = fleet.journal().await else {
            return out.push(check("providers' journal", false, "read", "the fleet's journal could not be read"));
        };
        let window: Vec<_> = journal.into_iter().filter(|r| r.t_offset_ms >= since).collect();
        // A failed role is judged against its chain; a chain that cannot be read is a failed
        // check, never an empty chain that nothing could have skipped.
        let chain = if b.failed {
            let seen = ctx.get(Endpoint::Profiles, paths::PROFILES).await;
            match seen.parse::<Profiles>().map(|p| p.roles.get(role).cloned()) {
                Ok(Some(chain)) => chain,
                Ok(None) => {
                    out.push(check("role chain in profiles", false, role, "absent"));
                    Vec::new()
                }
                Err(e) => {
                    out.push(check("role chain in profiles", false, "the profiles answer", e.to_string()));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let chain: Vec<String> = chain.into_iter().map(|l| l.provider).collect();
        let judged = crate::classify::served::judge_dry_run(&window, &b, role, &chain);
        if let Some(o) = judged.failover_overhead {
            ctx.obs.latency("failover_overhead", o);
        }
        ctx.findings.extend(judged.findings);
    }
}

/// What the evidence writers need of a dry-run answer.
pub(crate) fn signal_of(b: &DryRunAnswer) -> Signal {
    Signal {
        task_failed: Some(b.failed),
        fallback_used: b.fallback_used,
        served_by: b.served_by.clone(),
        failing_tools: b.failing_tools().collect(),
        ..Default::default()
    }
}

/// A dry-run answer as an SLO task: a success only when complete, parsed and not failed.
pub fn dry_run_task(role: &str, seen: &Observed, answer: Option<&DryRunAnswer>) -> TaskOutcome {
    let ok = seen.is(200) && answer.is_some_and(|a| !a.failed);
    TaskOutcome {
        ok,
        model_answered: ok && answer.is_some_and(|a| a.served_by.is_some()),
        fallback: answer.and_then(|a| a.fallback_used).unwrap_or(false),
        cost_usd: answer.and_then(|a| a.cost_usd).filter(|c| c.is_finite() && *c >= 0.0).unwrap_or(0.0),
        judge: role == "judge",
        latency: seen.latency,
        tool_call: answer.and_then(|a| a.tool_call_outcome(seen.is(200))),
    }
}

/// `POST /api/admin/agent-gateway/orchestrate`.
pub async fn orchestrate(
    ctx: &mut StepCtx<'_>,
    out: &mut Vec<Check>,
    draft_id: &str,
    channel: Option<&str>,
    expect: &StatusExpect,
) {
    let body = json!({"draftId": draft_id, "channel": channel.unwrap_or("release-check")});
    let seen = ctx.send(reqwest::Method::POST, paths::ORCHESTRATE, Some(&body), Auth::Admin).await;
    let ok = seen.is(201);
    ctx.probe_task(TaskOutcome { ok, latency: seen.latency, ..Default::default() });
    let error_code = seen.parse::<ErrorBody>().ok().map(|e| e.error.code);
    let answer = seen.parse::<OrchestrateAnswer>().ok();
    ctx.saw_active(answer.as_ref().and_then(|a| a.session.as_ref()).map(|s| s.id.as_str()));
    let signal = Signal {
        task_failed: Some(!ok),
        error_code: error_code.clone(),
        failing_tools: answer.iter().flat_map(|a| a.roles.iter().flat_map(DryRunAnswer::failing_tools)).collect(),
        channel: answer.as_ref().and_then(|a| a.session.as_ref()).and_then(|s| s.channel.clone()),
        ..Default::default()
    };
    if !ok {
        // Playbook B's artifact: the session's channel and each role's failing tools.
        ctx.evidence.push((EvidenceKind::OrchestrateFailed, "orchestrate".into(), seen.traced()));
    }
    ctx.record(Exchanged {
        endpoint: Endpoint::Orchestrate,
        method: "POST",
        path: paths::ORCHESTRATE,
        seen: &seen,
        ok,
        keep_body: true,
        signal: Some(signal),
    });
    status_check(out, expect.status.unwrap_or(201), &seen);
    if let Some(want) = &expect.code {
        expect_eq(out, "error.code", Some(want), error_code.as_ref());
    }
    if let Some(min) = expect.session_events_min {
        session_events(ctx, out, answer.as_ref().and_then(|a| a.session.as_ref()).map(|s| s.id.as_str()), min).await;
    }
}

/// The orchestrated session's summary: read, kept as evidence, with at least `min` events.
async fn session_events(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, id: Option<&str>, min: u64) {
    let Some(id) = id else {
        return out.push(check(
            "session events visible",
            false,
            format!(">= {min} events"),
            "no session in the answer",
        ));
    };
    let seen = ctx.get(Endpoint::Session, &paths::session(id, "summary")).await;
    let summary = seen.parse::<crate::wire::sessions::SessionSummary>().ok().filter(|_| seen.is(200));
    if seen.is(200) {
        ctx.evidence.push((EvidenceKind::SessionSummary, format!("session summary {id}"), seen.traced()));
    }
    let events = summary.as_ref().map(|s| s.recent_events.len() as u64);
    let status = summary.as_ref().and_then(|s| s.session.status.clone()).unwrap_or_else(|| "absent".into());
    out.push(check(
        "session events visible",
        events.is_some_and(|n| n >= min),
        format!(">= {min} events"),
        events.map_or_else(|| seen.describe(), |n| format!("{n} events, status {status} ({id})")),
    ));
}
