//! Steps on the gateway's sessions, ingest and telemetry (seed 001, playbook B and "Connector
//! Ingest Profiles"): webhook deliveries, the sessions lookup, reading, compacting and closing
//! active sessions, and the ingest telemetry.

use serde_json::json;

use super::{Check, EvidenceKind, StepCtx, check, expect_eq, parsed, status_check};
use crate::drill::exchange::{Auth, Observed};
use crate::drill::observe::{Endpoint, Exchanged};
use crate::metrics::slo::TaskOutcome;
use crate::scenario::steps::{IngestExpect, SessionsExpect, TelemetryExpect};
use crate::wire::ingest::{IngestAnswer, IngestProbe, TelemetryAnswer};
use crate::wire::paths;
use crate::wire::sessions::SessionsList;

/// Sessions a status or summary step reads at most (a backlog can hold thousands).
const SESSIONS_READ: usize = 20;

/// A webhook delivery to the ingest endpoint, with the run's secret or the one given; returns
/// the observation and whether it was applied. Not yet recorded.
pub async fn deliver(ctx: &StepCtx<'_>, body: &serde_json::Value, secret: Option<&str>) -> (Observed, bool) {
    let seen = ctx.send(reqwest::Method::POST, paths::INGEST, Some(body), Auth::Webhook(secret)).await;
    let applied = seen.is(201) && seen.parse::<IngestAnswer>().is_ok_and(|a| a.ingest_applied);
    (seen, applied)
}

/// `POST /api/agent-gateway/adapters/ingest` with a payload fixture.
pub async fn ingest(
    ctx: &mut StepCtx<'_>,
    out: &mut Vec<Check>,
    connector: &str,
    channel: &str,
    fixture: &str,
    wrong_secret: bool,
    expect: &IngestExpect,
) {
    let payload = match ctx.fixture(fixture) {
        Ok(p) => p,
        Err(e) => return out.push(check("fixture", false, fixture, e)),
    };
    let probe = IngestProbe { connector_id: connector.into(), channel: channel.into(), payload };
    let body = serde_json::to_value(probe).unwrap_or_default();
    let (seen, applied) = deliver(ctx, &body, wrong_secret.then_some("gatedrill-wrong-secret")).await;
    ctx.probe_task(TaskOutcome { ok: applied, latency: seen.latency, ..Default::default() });
    ctx.record(Exchanged {
        endpoint: Endpoint::Ingest,
        method: "POST",
        path: paths::INGEST,
        seen: &seen,
        ok: applied,
        keep_body: true,
        signal: None,
    });
    status_check(out, expect.status.unwrap_or(201), &seen);
    if let Some(want) = &expect.code {
        let code = seen.parse::<crate::wire::ErrorBody>().ok().map(|e| e.error.code);
        expect_eq(out, "error.code", Some(want), code.as_ref());
    }
    // A complete 201 is always read: an answer not in the runbook's shape is a failed check.
    let answer = if seen.is(201) { parsed::<IngestAnswer>(out, "ingest", &seen) } else { None };
    ctx.saw_active(answer.as_ref().and_then(|a| a.session_id.as_deref()));
    if expect.applied.is_some() || expect.reject_reason.is_some() {
        expect_eq(out, "ingestApplied", expect.applied.as_ref(), answer.as_ref().map(|a| &a.ingest_applied));
        expect_eq(
            out,
            "rejectReason",
            expect.reject_reason.as_ref(),
            answer.as_ref().and_then(|a| a.reject_reason.as_ref()),
        );
    }
}

/// The active sessions, or why they could not be listed.
async fn active(ctx: &StepCtx<'_>) -> Result<SessionsList, String> {
    let seen = ctx.get(Endpoint::Sessions, paths::ACTIVE_SESSIONS).await;
    if !seen.is(200) {
        return Err(seen.describe());
    }
    seen.parse::<SessionsList>().map_err(|e| e.to_string())
}

/// `GET /api/admin/agent-gateway/sessions?source=db&status=active`.
pub async fn lookup(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, expect: &SessionsExpect) {
    let seen = ctx.get(Endpoint::Sessions, paths::ACTIVE_SESSIONS).await;
    if !status_check(out, 200, &seen) {
        return;
    }
    let Some(list) = parsed::<SessionsList>(out, "sessions", &seen) else { return };
    ctx.saw_active(list.sessions.iter().map(|s| s.id.as_str()));
    let active = list.active();
    if let Some(min) = expect.active_min {
        out.push(check("active sessions at least", active >= min, min, active));
    }
    if let Some(max) = expect.active_max {
        out.push(check("active sessions at most", active <= max, max, active));
    }
}

/// What to read of each active session.
#[derive(Clone, Copy)]
pub enum Read {
    Status,
    Summary,
}

/// The listed active sessions' ids, or a failed check saying why there are none to act on.
async fn active_ids(ctx: &StepCtx<'_>, out: &mut Vec<Check>) -> Option<Vec<String>> {
    match active(ctx).await {
        Ok(list) => Some(list.sessions.into_iter().map(|s| s.id).collect()),
        Err(why) => {
            out.push(check("active sessions listed", false, 200, why));
            None
        }
    }
}

/// `GET .../sessions/{id}/status` or `/summary` for the first active sessions.
pub async fn read_each(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, what: Read) {
    let Some(ids) = active_ids(ctx, out).await else { return };
    out.push(check("active sessions to read", !ids.is_empty(), "at least one", ids.len()));
    let action = match what {
        Read::Status => "status",
        Read::Summary => "summary",
    };
    // Check names are stable across runs (CI tools keep test history by name): the session's
    // ordinal, with its id in what was seen.
    for (n, id) in ids.iter().take(SESSIONS_READ).enumerate() {
        let seen = ctx.get(Endpoint::Session, &paths::session(id, action)).await;
        out.push(check(
            &format!("{action} of active session {}", n + 1),
            seen.is(200),
            200,
            format!("{} ({id})", seen.describe()),
        ));
        if matches!(what, Read::Summary) && seen.is(200) {
            ctx.evidence.push((EvidenceKind::SessionSummary, format!("session summary {id}"), seen.traced()));
        }
    }
}

/// `POST .../sessions/{id}/compact` on every active session.
pub async fn compact(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, keep_recent: u64) {
    let Some(ids) = active_ids(ctx, out).await else { return };
    for (n, id) in ids.iter().enumerate() {
        let path = paths::session(id, "compact");
        let body = json!({"keepRecent": keep_recent});
        let seen = ctx.call(Endpoint::Session, reqwest::Method::POST, &path, Some(&body), Auth::Admin).await;
        out.push(check(
            &format!("compact active session {}", n + 1),
            seen.is(200),
            200,
            format!("{} ({id})", seen.describe()),
        ));
    }
}

/// `POST .../sessions/{id}/close` on every active session (draining a backlog).
pub async fn close(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>) {
    let Some(ids) = active_ids(ctx, out).await else { return };
    for (n, id) in ids.iter().enumerate() {
        let path = paths::session(id, "close");
        let seen = ctx.call(Endpoint::Session, reqwest::Method::POST, &path, None, Auth::Admin).await;
        out.push(check(
            &format!("close active session {}", n + 1),
            seen.is(200),
            200,
            format!("{} ({id})", seen.describe()),
        ));
    }
}

/// `GET /api/admin/agent-gateway/telemetry`.
pub async fn telemetry(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, expect: &TelemetryExpect) {
    let seen = ctx.get(Endpoint::Telemetry, paths::TELEMETRY_WINDOW).await;
    if !status_check(out, 200, &seen) {
        return;
    }
    let Some(t) = parsed::<TelemetryAnswer>(out, "telemetry", &seen) else { return };
    let shown = |n: Option<u64>| n.map_or("absent".to_string(), |n| n.to_string());
    if let Some(min) = expect.accepted_min {
        let got = t.totals.as_ref().map(|t| t.accepted);
        out.push(check("accepted at least", got.is_some_and(|g| g >= min), min, shown(got)));
    }
    if let Some(min) = expect.rejected_min {
        let got = t.totals.as_ref().map(|t| t.rejected);
        out.push(check("rejected at least", got.is_some_and(|g| g >= min), min, shown(got)));
    }
}
