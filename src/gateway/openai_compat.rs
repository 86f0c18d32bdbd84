//! The reference gateway as most teams' gateways are reached: `POST /v1/chat/completions` in the
//! OpenAI API's shape (WIRE: OpenAI chat completions), served through the same failover runtime
//! as the runbook's dry-run (runbook A: the role's model chain, cooldowns, context-overflow
//! routing). `model` names a role (`author`, `critic`, `maker`, `judge`) whose chain serves it;
//! the caller authenticates with `Authorization: Bearer <ADMIN_API_TOKEN>`. A stream is the
//! answer the failover produced, written as chat-completion chunks once it is known, so a client
//! never sees half an answer from a provider that then failed. When no link can serve, the answer
//! is 429 if every link was rate limited or cooling, else 503, each with the Retry-After of the
//! soonest link to come back.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Gateway;
use super::config::Role;
use super::runtime::RunOutcome;
use super::tools::{MAX_TOOLS, ToolDef, valid_name};
use crate::wire::runtime::{AttemptCode, ReportedCode};

/// How long a request may take when the caller does not bound it (the failover budget bounds it
/// further).
const TIMEOUT: Duration = Duration::from_secs(60);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// An error in the OpenAI API's shape, which the official SDKs parse.
fn error(status: StatusCode, kind: &str, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"message": message.into(), "type": kind, "param": null, "code": code}});
    (status, axum::Json(body)).into_response()
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Deserialize)]
struct FunctionDef {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: Option<Value>,
}

#[derive(Deserialize)]
struct Tool {
    function: FunctionDef,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct ChatRequest {
    model: String,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Option<Vec<Tool>>,
}

/// The text of a message's content: a string, or the text parts of an array of parts.
fn text_of(content: &Option<Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

fn authorized(gw: &Gateway, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    crate::secret::ct_eq(given.as_bytes(), gw.config.admin_token.0.as_bytes())
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(State(gw): State<Arc<Gateway>>, headers: HeaderMap, body: Body) -> Response {
    if !authorized(&gw, &headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "invalid or missing bearer token",
        );
    }
    let req: ChatRequest = match super::api::json_body(body).await {
        Ok(r) => r,
        Err(e) => return error(e.status, "invalid_request_error", e.code, e.message),
    };
    let Some(role) = Role::parse(&req.model) else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            format!("model {:?} is not a role: author, critic, maker or judge", req.model),
        );
    };
    let tools: Option<Vec<ToolDef>> = req.tools.map(|t| {
        t.into_iter()
            .map(|t| ToolDef {
                name: t.function.name,
                description: t.function.description,
                parameters: t.function.parameters.unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            })
            .collect()
    });
    if let Some(t) = &tools
        && (t.len() > MAX_TOOLS || t.iter().any(|t| !valid_name(&t.name)))
    {
        let message = format!("tools: at most {MAX_TOOLS} tools, names of 1-64 [A-Za-z0-9_-]");
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", "invalid_tools", message);
    }
    let prompt: Vec<String> = req.messages.iter().map(|m| text_of(&m.content)).filter(|t| !t.is_empty()).collect();
    let out = gw.runtime.run_with_tools(role, &prompt.join("\n\n"), tools.as_deref(), TIMEOUT).await;
    if out.failed {
        return unavailable(&gw, role, &out);
    }
    let id = format!("chatcmpl-gatedrill-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut response = if req.stream {
        let usage = req.stream_options.unwrap_or_default().include_usage;
        stream(&id, created, &out, usage)
    } else {
        axum::Json(completion(&id, created, &out)).into_response()
    };
    if let Some(p) = out.served_by.as_deref().and_then(|p| HeaderValue::from_str(p).ok()) {
        response.headers_mut().insert("x-gatedrill-served-by", p);
    }
    response
}

fn tool_calls(out: &RunOutcome) -> Value {
    out.tool_calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}})
        })
        .collect()
}

fn finish_reason(out: &RunOutcome) -> &str {
    match out.finish_reason.as_deref() {
        _ if !out.tool_calls.is_empty() => "tool_calls",
        Some("length" | "max_tokens") => "length",
        _ => "stop",
    }
}

fn usage(out: &RunOutcome) -> Value {
    let u = &out.usage;
    json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    })
}

fn completion(id: &str, created: u64, out: &RunOutcome) -> Value {
    let mut message = json!({"role": "assistant", "content": out.output.clone().unwrap_or_default()});
    if !out.tool_calls.is_empty() {
        message["tool_calls"] = tool_calls(out);
    }
    json!({
        "id": id, "object": "chat.completion", "created": created,
        "model": out.model.clone().unwrap_or_default(),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(out), "logprobs": null}],
        "usage": usage(out),
    })
}

/// The answer as chat-completion chunks: the role, the content, the tool calls, the finish
/// reason, the usage when asked for, then the terminator.
fn stream(id: &str, created: u64, out: &RunOutcome, include_usage: bool) -> Response {
    let model = out.model.clone().unwrap_or_default();
    let chunk = |delta: Value, finish: Value| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
    };
    let mut frames = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    if let Some(text) = out.output.as_deref().filter(|t| !t.is_empty()) {
        frames.push(chunk(json!({"content": text}), Value::Null));
    }
    if !out.tool_calls.is_empty() {
        frames.push(chunk(json!({"tool_calls": tool_calls(out)}), Value::Null));
    }
    frames.push(chunk(json!({}), json!(finish_reason(out))));
    if include_usage {
        frames.push(json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage(out)}));
    }
    let mut body = String::new();
    for f in frames {
        body.push_str("data: ");
        body.push_str(&f.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// No link could serve: 429 when every link was rate limited or cooling (the caller should come
/// back later), else 503; both say when the soonest link is back.
fn unavailable(gw: &Gateway, role: Role, out: &RunOutcome) -> Response {
    let now = tokio::time::Instant::now();
    let chain = gw.config.chains.get(&role).cloned().unwrap_or_default();
    let soonest = chain.iter().filter_map(|c| gw.runtime.cooldown.view(&c.provider, now).remaining).min();
    let limited = !out.attempts.is_empty()
        && out
            .attempts
            .iter()
            .all(|a| a.code == Some(ReportedCode::Known(AttemptCode::RateLimited)) || a.skip_reason.is_some());
    let (status, code) = if limited {
        (StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "AI_RUNTIME_ALL_ATTEMPTS_FAILED")
    };
    let kind = if limited { "rate_limit_error" } else { "server_error" };
    let message = format!("no provider in the {} chain could serve ({} attempt(s))", role.id(), out.attempts.len());
    let mut response = error(status, kind, code, message);
    let wait = soonest.unwrap_or(Duration::from_secs(1)).as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}
