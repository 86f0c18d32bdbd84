//! Session and ingest routes (seed 001 playbook B and "Connector Ingest Profiles"): list,
//! status, summary, compact, close, and the external-channel ingest webhook.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Gateway;
use super::api::{ApiError, QueryOf, header_str, json_body, query};
use super::ingest::{IngestRequest, resolve};
use super::sessions::{NewEvent, NewSession, Session, SessionStatus, now_ms};
use super::telemetry::IngestEvent;

#[derive(Deserialize)]
pub struct ListQuery {
    source: Option<String>,
    limit: Option<usize>,
    status: Option<String>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "AGENT_GATEWAY_SESSION_NOT_FOUND", format!("no session {id:?}"))
}

/// A session with how long it has been idle (for finding stale `active` sessions).
fn shown(s: &Session) -> Value {
    let mut v = json!(s);
    v["idleMs"] = json!(now_ms().saturating_sub(s.last_event_at.unwrap_or(s.created_at)));
    v
}

/// `GET /api/admin/agent-gateway/sessions?source=db&limit=N&status=active`.
pub async fn list(State(gw): State<Arc<Gateway>>, q: QueryOf<ListQuery>) -> Result<Response, ApiError> {
    let q = query(q)?;
    let source = q.source.unwrap_or_else(|| "db".into());
    if source != "db" && source != "memory" {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", "source must be db or memory"));
    }
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", "status must be active, closed or failed")
        })?),
    };
    let sessions = gw.store.list(status, q.limit.unwrap_or(20).min(1000))?;
    let active = gw.store.count(Some(SessionStatus::Active))?;
    Ok(Json(json!({
        "source": source, "count": sessions.len(), "activeCount": active,
        "sessions": sessions.iter().map(shown).collect::<Vec<_>>(),
    }))
    .into_response())
}

pub async fn status(State(gw): State<Arc<Gateway>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let s = gw.store.get(&id)?.ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({"session": shown(&s)})).into_response())
}

pub async fn summary(State(gw): State<Arc<Gateway>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let s = gw.store.get(&id)?.ok_or_else(|| not_found(&id))?;
    let events = gw.store.events(&id, 20)?;
    let mut by_type = std::collections::BTreeMap::<String, u64>::new();
    for e in &events {
        *by_type.entry(e.kind.clone()).or_default() += 1;
    }
    Ok(Json(json!({"session": shown(&s), "recentEvents": events, "recentEventTypes": by_type})).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Compact {
    keep_recent: Option<usize>,
}

pub async fn compact(State(gw): State<Arc<Gateway>>, Path(id): Path<String>, body: Body) -> Result<Response, ApiError> {
    let req: Compact = json_body(body).await?;
    let (removed, s) = gw.store.compact(&id, req.keep_recent.unwrap_or(40))?.ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({"removed": removed, "session": shown(&s)})).into_response())
}

pub async fn close(State(gw): State<Arc<Gateway>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    gw.store.get(&id)?.ok_or_else(|| not_found(&id))?;
    gw.store.append(&id, NewEvent { kind: "session_closed".into(), ..Default::default() })?;
    let s = gw.store.set_status(&id, SessionStatus::Closed)?.ok_or_else(|| not_found(&id))?;
    Ok(Json(json!({"session": shown(&s)})).into_response())
}

/// Payloads are kept with the event up to this size.
const PAYLOAD_KEEP: usize = 16 * 1024;

/// `POST /api/agent-gateway/adapters/ingest`.
pub async fn ingest(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let parsed: Result<IngestRequest, ApiError> = json_body(body).await;
    let base = |req: Option<&IngestRequest>| IngestEvent {
        at: now_ms(),
        connector_id: req.and_then(|r| r.connector_id.clone()),
        channel: req.and_then(|r| r.fields.channel.clone()),
        adapter: req.and_then(|r| r.fields.adapter.clone()),
        accepted: false,
        reject_reason: None,
        session_id: None,
        external_session_id: None,
    };
    if let Some(secret) = &gw.config.webhook_secret {
        let given = header_str(&headers, "x-agent-gateway-webhook-secret").unwrap_or_default();
        if !crate::secret::ct_eq(given.as_bytes(), secret.0.as_bytes()) {
            gw.telemetry
                .record(IngestEvent { reject_reason: Some("unauthorized".into()), ..base(parsed.as_ref().ok()) });
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "AGENT_GATEWAY_WEBHOOK_UNAUTHORIZED",
                "missing or invalid webhook secret",
            ));
        }
    }
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            gw.telemetry.record(IngestEvent { reject_reason: Some("invalid_body".into()), ..base(None) });
            return Err(e);
        }
    };
    let resolved = match resolve(&req, &gw.config.profiles, gw.config.enforce_profiles) {
        Ok(r) => r,
        Err(reject) => {
            let mut ev = base(Some(&req));
            if let Some(p) = req.connector_id.as_deref().and_then(|c| gw.config.profiles.get(c)) {
                ev.channel = ev.channel.or(p.channel.clone());
            }
            ev.reject_reason = Some(reject.reason());
            gw.telemetry.record(ev);
            let body = json!({"ingestApplied": false, "rejectReason": reject.reason(), "reject": reject});
            return Ok((StatusCode::CREATED, Json(body)).into_response());
        }
    };
    let (session, created) = match gw.store.find_active(&resolved.channel, &resolved.external_session_id)? {
        Some(s) => (s, false),
        None => (
            gw.store.create(NewSession {
                channel: resolved.channel.clone(),
                external_session_id: Some(resolved.external_session_id.clone()),
                connector_id: resolved.connector_id.clone(),
                draft_id: None,
            })?,
            true,
        ),
    };
    let payload =
        if req.payload.to_string().len() <= PAYLOAD_KEEP { req.payload.clone() } else { json!({"truncated": true}) };
    let event = NewEvent {
        kind: resolved.kind.clone(),
        from_role: Some(resolved.from_role.clone()),
        to_role: Some(resolved.to_role.clone()),
        data: json!({"connectorId": resolved.connector_id, "adapter": resolved.adapter, "payload": payload}),
    };
    let ev = gw.store.append(&session.id, event)?.ok_or_else(|| not_found(&session.id))?;
    gw.telemetry.record(IngestEvent {
        at: now_ms(),
        connector_id: resolved.connector_id.clone(),
        channel: Some(resolved.channel.clone()),
        adapter: Some(resolved.adapter.clone()),
        accepted: true,
        reject_reason: None,
        session_id: Some(session.id.clone()),
        external_session_id: Some(resolved.external_session_id.clone()),
    });
    let mut body = json!(resolved);
    body["ingestApplied"] = json!(true);
    body["sessionId"] = json!(session.id);
    body["sessionCreated"] = json!(created);
    body["eventSeq"] = json!(ev.seq);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
