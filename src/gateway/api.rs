//! The reference gateway's HTTP API, shaped as the runbook's commands show (seed 001). Admin
//! routes require `x-admin-token` (constant-time); errors are JSON `{"error": {"code",
//! "message"}}`; bodies are bounded and malformed JSON is a 400 naming the field.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::Gateway;
use super::config::Role;
use super::runtime::RunOutcome;
use super::sessions::{NewEvent, NewSession, SessionStatus};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

impl From<super::sessions::StoreError> for ApiError {
    fn from(e: super::sessions::StoreError) -> Self {
        tracing::error!(error = %e, "session store write failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "AGENT_GATEWAY_STORE_UNAVAILABLE", e.to_string())
    }
}

/// A request body must arrive within this long.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and parses a JSON body: 413 over the limit, 408 when it trickles past the body timeout,
/// 400 naming the field otherwise.
pub async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, BODY_LIMIT)).await.map_err(|_| {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", "the request body did not arrive in time")
    })?;
    let bytes = read.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_TOO_LARGE",
            format!("request bodies are limited to {BODY_LIMIT} bytes"),
        )
    })?;
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!("{path}: ") };
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY", format!("{at}{}", e.into_inner()))
    })
}

/// Every path under `/api/admin/`, routed or not, needs a valid `x-admin-token` (a constant-time
/// comparison), so an unauthenticated caller cannot even map the admin routes.
pub async fn require_admin(State(gw): State<Arc<Gateway>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !(path.starts_with("/api/admin/") || path == "/api/admin") {
        return next.run(req).await;
    }
    let given = req.headers().get("x-admin-token").map(|v| v.as_bytes()).unwrap_or_default();
    if !crate::secret::ct_eq(given, gw.config.admin_token.0.as_bytes()) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "ADMIN_UNAUTHORIZED", "missing or invalid x-admin-token")
            .into_response();
    }
    next.run(req).await
}

pub async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn ready(State(gw): State<Arc<Gateway>>) -> Response {
    match gw.store.ping() {
        Ok(()) => Json(json!({"ready": true, "store": "ok", "config": "ok"})).into_response(),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false, "store": e.to_string()}))).into_response()
        }
    }
}

/// `GET /api/admin/ai-runtime/health`, in the wire types the drill parses.
pub async fn runtime_health(State(gw): State<Arc<Gateway>>) -> Response {
    use crate::wire::runtime::{HealthState, HealthSummary, ProviderHealth, ReportedCode, RoleHealth, RuntimeHealth};
    let now = Instant::now();
    let rt = &gw.runtime;
    let providers: Vec<ProviderHealth> = gw
        .config
        .providers
        .iter()
        .map(|p| {
            let v = rt.cooldown.view(&p.name, now);
            ProviderHealth {
                name: p.name.clone(),
                dialect: Some(p.dialect.id().to_string()),
                model: Some(p.model.clone()),
                cooling_down: v.remaining.is_some(),
                cooldown_remaining_ms: v.remaining.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                cooldown_until: v
                    .remaining
                    .and_then(|d| std::time::SystemTime::now().checked_add(d))
                    .map(|t| humantime::format_rfc3339_millis(t).to_string()),
                last_error_code: v.last_error.map(ReportedCode::Known),
            }
        })
        .collect();
    let cooling = providers.iter().filter(|p| p.cooling_down).count();
    let roles: Vec<RoleHealth> =
        Role::ALL.iter().map(|r| RoleHealth { role: r.id().to_string(), blocked: rt.role_blocked(*r, now) }).collect();
    let blocked = roles.iter().filter(|r| r.blocked).count();
    let degraded = blocked > 0 || cooling * 2 > providers.len() || providers.is_empty() || !gw.config.use_http_adapters;
    Json(RuntimeHealth {
        summary: HealthSummary {
            health: if degraded { HealthState::Degraded } else { HealthState::Ok },
            roles_blocked: blocked as u64,
            providers_cooling_down: cooling as u64,
            provider_count: Some(providers.len() as u64),
            http_adapters: Some(gw.config.use_http_adapters),
        },
        roles,
        providers,
    })
    .into_response()
}

/// An endpoint as profiles show it: without credentials in the URL.
fn shown_endpoint(e: &str) -> String {
    match reqwest::Url::parse(e) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => String::new(),
    }
}

/// `GET /api/admin/ai-runtime/profiles`: chains and providers, never a key.
pub async fn profiles(State(gw): State<Arc<Gateway>>) -> Response {
    let c = &gw.config;
    let roles: serde_json::Map<String, Value> =
        c.chains.iter().map(|(r, chain)| (r.id().to_string(), json!(chain))).collect();
    let providers: Vec<Value> = c
        .providers
        .iter()
        .map(|p| json!({"name": p.name, "dialect": p.dialect.id(), "endpoint": shown_endpoint(&p.endpoint), "model": p.model}))
        .collect();
    Json(json!({
        "roles": roles, "providers": providers,
        "cooldownMs": c.cooldown.as_millis() as u64,
        "attemptTimeoutMs": c.attempt_timeout.as_millis() as u64,
        "failoverBudgetMs": c.failover_budget.as_millis() as u64,
        "httpAdapters": c.use_http_adapters,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DryRun {
    role: String,
    #[serde(default)]
    prompt: String,
    timeout_ms: Option<u64>,
    /// Tools to declare instead of the role's configured ones.
    #[serde(default)]
    tools: Option<Vec<super::tools::ToolDef>>,
}

fn role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "AI_RUNTIME_UNKNOWN_ROLE",
            format!("role {s:?} is not one of author, critic, maker, judge"),
        )
    })
}

const MAX_TIMEOUT_MS: u64 = 600_000;

/// `POST /api/admin/ai-runtime/dry-run`.
pub async fn dry_run(State(gw): State<Arc<Gateway>>, body: Body) -> Result<Response, ApiError> {
    let req: DryRun = json_body(body).await?;
    let role = role(&req.role)?;
    let timeout = std::time::Duration::from_millis(req.timeout_ms.unwrap_or(12_000).min(MAX_TIMEOUT_MS));
    if let Some(t) = &req.tools
        && (t.len() > super::tools::MAX_TOOLS || t.iter().any(|t| !super::tools::valid_name(&t.name)))
    {
        let message = format!("tools: at most {} tools, names of 1-64 [A-Za-z0-9_-]", super::tools::MAX_TOOLS);
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "AI_RUNTIME_INVALID_TOOLS", message));
    }
    let out = gw.runtime.run_with_tools(role, &req.prompt, req.tools.as_deref(), timeout).await;
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Orchestrate {
    draft_id: String,
    #[serde(default = "default_channel")]
    channel: String,
}

fn default_channel() -> String {
    "release-check".into()
}

fn role_event(out: &RunOutcome) -> NewEvent {
    NewEvent {
        kind: if out.failed { "role_failed" } else { "role_completed" }.into(),
        from_role: Some("orchestrator".into()),
        to_role: Some(out.role.id().into()),
        data: json!({
            "servedBy": out.served_by, "model": out.model, "fallbackUsed": out.fallback_used,
            "attempts": out.attempts, "usage": out.usage, "costUsd": out.cost_usd, "latencyMs": out.latency_ms,
            "toolsDeclared": out.tools_declared, "toolCalls": out.tool_calls,
        }),
    }
}

/// `POST /api/admin/agent-gateway/orchestrate`: runs the four roles in order on a new session.
pub async fn orchestrate(State(gw): State<Arc<Gateway>>, body: Body) -> Result<Response, ApiError> {
    if !gw.config.orchestration_enabled {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "AGENT_ORCHESTRATION_DISABLED",
            "orchestration is disabled (AGENT_ORCHESTRATION_ENABLED is not true)",
        ));
    }
    let req: Orchestrate = json_body(body).await?;
    let store = &gw.store;
    let session = store.create(NewSession {
        channel: req.channel.clone(),
        draft_id: Some(req.draft_id.clone()),
        ..Default::default()
    })?;
    let start =
        NewEvent { kind: "orchestration_started".into(), data: json!({"draftId": req.draft_id}), ..Default::default() };
    store.append(&session.id, start)?;
    let mut roles = Vec::new();
    let mut previous = String::new();
    for r in Role::ALL {
        let prompt = format!("{}: draft {} for {}. {previous}", r.id(), req.draft_id, req.channel);
        let out = gw.runtime.run(r, &prompt, gw.config.failover_budget).await;
        store.append(&session.id, role_event(&out))?;
        previous = out.output.clone().unwrap_or_default();
        let failed = out.failed;
        roles.push(out);
        if failed {
            break;
        }
    }
    let failed = roles.iter().any(|o| o.failed);
    let status = if failed { SessionStatus::Failed } else { SessionStatus::Closed };
    let kind = if failed { "orchestration_failed" } else { "orchestration_completed" };
    store.append(&session.id, NewEvent { kind: kind.into(), ..Default::default() })?;
    let session = store.set_status(&session.id, status)?.unwrap_or(session);
    let cost: f64 = roles.iter().map(|o| o.cost_usd).sum();
    let body = json!({"session": session, "roles": roles, "failed": failed, "costUsd": cost});
    if failed {
        let mut b = body;
        b["error"] =
            json!({"code": "AI_RUNTIME_ALL_ATTEMPTS_FAILED", "message": "every provider attempt failed for a role"});
        return Ok((StatusCode::SERVICE_UNAVAILABLE, Json(b)).into_response());
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct Window {
    pub hours: Option<u64>,
    pub limit: Option<usize>,
}

/// A query string, or a 400 saying what is wrong with it.
pub type QueryOf<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

pub fn query<T>(q: QueryOf<T>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", e.body_text()))
}

/// `GET /api/admin/agent-gateway/telemetry?hours=24&limit=200`.
pub async fn telemetry(State(gw): State<Arc<Gateway>>, q: QueryOf<Window>) -> Result<Response, ApiError> {
    let w = query(q)?;
    let (hours, limit) = (w.hours.unwrap_or(24), w.limit.unwrap_or(200).min(10_000));
    let (totals, groups, recent) = gw.telemetry.window(hours, limit, false);
    Ok(Json(json!({
        "windowHours": hours, "connectorProfiles": gw.config.profiles, "totals": totals,
        "connectors": groups, "recentEvents": recent,
    }))
    .into_response())
}

/// `GET /api/admin/agent-gateway/adapters?hours=24`.
pub async fn adapters(State(gw): State<Arc<Gateway>>, q: QueryOf<Window>) -> Result<Response, ApiError> {
    let hours = query(q)?.hours.unwrap_or(24);
    let (totals, groups, _) = gw.telemetry.window(hours, 0, true);
    Ok(Json(json!({
        "windowHours": hours, "connectorProfiles": gw.config.profiles,
        "enforceConnectorProfile": gw.config.enforce_profiles, "totals": totals, "adapters": groups,
    }))
    .into_response())
}

pub fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}
