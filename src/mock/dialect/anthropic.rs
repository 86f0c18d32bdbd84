//! Anthropic Messages: `x-api-key` + `anthropic-version`, typed error envelopes, and the full SSE
//! event sequence (`message_start` … `message_stop`, no `[DONE]`, cumulative `output_tokens`).

use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::frames::Frames;
use super::{ApiError, ChatRequest, Completion, ErrorReply, Finish, Message, StreamPlan, json_bytes};
use crate::mock::config::ProviderSpec;
use crate::mock::faults::QuotaVariant;
use crate::mock::quota::Exceeded;
use crate::mock::tools::{ToolChoice, ToolDecl, ToolRequest};
use crate::sse;

#[derive(Deserialize)]
struct Req {
    model: Option<String>,
    max_tokens: Option<u64>,
    messages: Option<Vec<Msg>>,
    system: Option<Content>,
    stream: Option<bool>,
    tools: Option<Vec<ReqTool>>,
    tool_choice: Option<ReqToolChoice>,
}

#[derive(Deserialize)]
struct ReqTool {
    name: String,
    input_schema: Option<Value>,
    cache_control: Option<Value>,
}

#[derive(Deserialize)]
struct ReqToolChoice {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    #[serde(default)]
    disable_parallel_tool_use: bool,
}

#[derive(Deserialize)]
struct Msg {
    role: String,
    content: Content,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block; `tool_use` and `tool_result` count by their name, input and content.
#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type", default)]
    kind: String,
    text: Option<String>,
    name: Option<String>,
    input: Option<Value>,
    content: Option<Value>,
    cache_control: Option<Value>,
}

impl Block {
    fn text(self) -> Option<String> {
        match (self.text, self.name, self.input, self.content) {
            (Some(t), ..) => Some(t),
            (None, Some(n), Some(i), _) => Some(format!("{n}{i}")),
            (None, _, _, Some(Value::String(c))) => Some(c),
            (None, _, _, Some(c)) => Some(c.to_string()),
            _ => None,
        }
    }
}

impl Content {
    fn into_text(self) -> String {
        match self {
            Content::Text(t) => t,
            Content::Blocks(b) => b.into_iter().filter_map(Block::text).collect::<Vec<_>>().join("\n"),
        }
    }
    fn has_tool_result(&self) -> bool {
        matches!(self, Content::Blocks(b) if b.iter().any(|b| b.kind == "tool_result"))
    }
    fn has_cache_control(&self) -> bool {
        matches!(self, Content::Blocks(b) if b.iter().any(|b| b.cache_control.is_some()))
    }
}

/// A Messages request; `count_tokens` takes the same body without `max_tokens`.
pub fn parse_request(body: &[u8], count_only: bool) -> Result<ChatRequest, ApiError> {
    let bad = |message: String| ApiError::BadRequest { message, param: None };
    let r: Req = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            bad("There was an error parsing the body of your request. Please ensure it is valid JSON.".into())
        } else {
            bad(format!("Invalid request body: {e}"))
        }
    })?;
    let model = r.model.filter(|m| !m.is_empty()).ok_or_else(|| bad("model: Field required".into()))?;
    let max_tokens = match r.max_tokens {
        None if count_only => 0,
        m => m.ok_or_else(|| bad("max_tokens: Field required".into()))?,
    };
    if max_tokens == 0 && !count_only {
        return Err(bad("max_tokens: Input should be greater than or equal to 1".into()));
    }
    let msgs = r.messages.ok_or_else(|| bad("messages: Field required".into()))?;
    if msgs.is_empty() {
        return Err(bad("messages: at least one message is required".into()));
    }
    if let Some(m) = msgs.iter().find(|m| m.role != "user" && m.role != "assistant") {
        return Err(bad(format!(
            "messages: Unexpected role \"{}\". Allowed roles are \"user\" or \"assistant\".",
            m.role
        )));
    }
    let answers_tool_result = msgs.last().is_some_and(|m| m.role == "user" && m.content.has_tool_result());
    let cache_marked = msgs.iter().any(|m| m.content.has_cache_control())
        || r.system.as_ref().is_some_and(Content::has_cache_control)
        || r.tools.iter().flatten().any(|t| t.cache_control.is_some());
    let messages: Vec<Message> =
        msgs.into_iter().map(|m| Message { role: m.role, text: m.content.into_text(), name: None }).collect();
    let decls: Vec<ToolDecl> = r
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(|t| ToolDecl { name: t.name, schema: t.input_schema.unwrap_or(Value::Null) })
        .collect();
    let (choice, parallel) = match r.tool_choice {
        None => (ToolChoice::Auto, true),
        Some(c) => {
            let choice = match (c.kind.as_str(), c.name) {
                ("auto", _) => ToolChoice::Auto,
                ("any", _) => ToolChoice::Required,
                ("none", _) => ToolChoice::None,
                ("tool", Some(n)) => ToolChoice::Named(n),
                ("tool", None) => return Err(bad("tool_choice.tool.name: Field required".into())),
                (other, _) => {
                    return Err(bad(format!(
                        "tool_choice: Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
                    )));
                }
            };
            (choice, !c.disable_parallel_tool_use)
        }
    };
    Ok(ChatRequest {
        model,
        stream: r.stream.unwrap_or(false),
        max_tokens: (!count_only).then_some(max_tokens),
        system: r.system.map(Content::into_text),
        tools: ToolRequest::new(decls, choice, parallel, answers_tool_result, &messages),
        messages,
        cache_marked,
        ..ChatRequest::default()
    })
}

fn envelope(kind: &str, message: &str, details: Option<Value>) -> Value {
    let mut error = json!({"type": kind, "message": message});
    if let Some(d) = details {
        error["details"] = d;
    }
    json!({"type": "error", "error": error})
}

pub fn render_error(e: &ApiError) -> ErrorReply {
    let reply = |status: u16, kind: &str, message: &str, details: Option<Value>| ErrorReply {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: json_bytes(&envelope(kind, message, details)),
        code: kind.to_string(),
    };
    match e {
        ApiError::BadRequest { message, .. } => reply(400, "invalid_request_error", message, None),
        ApiError::MissingAuth => reply(401, "authentication_error", "x-api-key header is required", None),
        ApiError::InvalidKey { .. } => reply(401, "authentication_error", "invalid x-api-key", None),
        ApiError::ModelNotFound { model } => reply(404, "not_found_error", &format!("model: {model}"), None),
        ApiError::NoRoute { .. } => reply(404, "not_found_error", "Not Found", None),
        ApiError::TooLarge { .. } => {
            reply(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", None)
        }
        ApiError::ContextOverflow { window, prompt, max_tokens } => {
            let message = if prompt > window {
                format!("prompt is too long: {prompt} tokens > {window} maximum")
            } else {
                format!(
                    "input length and `max_tokens` exceed context limit: {prompt} + {max_tokens} > {window}, decrease input length or `max_tokens` and try again"
                )
            };
            reply(400, "invalid_request_error", &message, None)
        }
        ApiError::RateLimited { which, limit, .. } => {
            let what = match which {
                Exceeded::Requests => "requests",
                Exceeded::Tokens => "input tokens",
            };
            reply(
                429,
                "rate_limit_error",
                &format!(
                    "This request would exceed the rate limit for your organization (00000000-0000-4000-8000-00000000cafe) of {limit} {what} per minute. For details, refer to: https://docs.anthropic.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later."
                ),
                None,
            )
        }
        ApiError::QuotaExhausted(QuotaVariant::Billing) => reply(
            402,
            "billing_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
            None,
        ),
        ApiError::QuotaExhausted(QuotaVariant::SpendLimit) => reply(
            429,
            "rate_limit_error",
            "You have reached your specified workspace API usage limits. You will regain access on the first day of next month.",
            Some(json!({"error_code": "enforced_spend_limit_reached"})),
        ),
        ApiError::Overloaded => reply(529, "overloaded_error", "Overloaded", None),
        ApiError::Unavailable => reply(503, "api_error", "Service Unavailable", None),
        ApiError::Status(s) => {
            let kind = match s {
                400 => "invalid_request_error",
                401 => "authentication_error",
                402 => "billing_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                s if *s >= 500 => "api_error",
                _ => "invalid_request_error",
            };
            let message = match kind {
                "overloaded_error" => "Overloaded",
                "api_error" => "Internal server error",
                _ => "Request rejected",
            };
            reply(*s, kind, message, None)
        }
        ApiError::StreamServerError => reply(500, "api_error", "Internal server error", None),
        ApiError::WrongApi { model, .. } | ApiError::RetiredModel { model } => {
            reply(404, "not_found_error", &format!("model: {model}"), None)
        }
        ApiError::EmbeddingInputTooLong { .. } => {
            reply(400, "invalid_request_error", "embeddings are not an Anthropic API", None)
        }
    }
}

fn stop_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

/// Usage as Anthropic counts it: `input_tokens` excludes what was read from or written to the
/// prompt cache.
#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    output_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: CacheCreation,
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

fn usage(c: &Completion, output: u64) -> Usage {
    let (read, written) = (c.cached_tokens, c.cache_write_tokens);
    Usage {
        input_tokens: c.prompt_tokens.saturating_sub(read + written),
        output_tokens: output,
        cache_creation_input_tokens: written,
        cache_read_input_tokens: read,
        cache_creation: CacheCreation { ephemeral_5m_input_tokens: written, ephemeral_1h_input_tokens: 0 },
    }
}

/// `anthropic-beta` flags the first-party API accepts (late 2025).
pub const FIRST_PARTY_BETAS: &[&str] = &[
    "message-batches-2024-09-24",
    "prompt-caching-2024-07-31",
    "computer-use-2024-10-22",
    "computer-use-2025-01-24",
    "pdfs-2024-09-25",
    "token-counting-2024-11-01",
    "token-efficient-tools-2025-02-19",
    "output-128k-2025-02-19",
    "files-api-2025-04-14",
    "mcp-client-2025-04-04",
    "dev-full-thinking-2025-05-14",
    "interleaved-thinking-2025-05-14",
    "code-execution-2025-05-22",
    "extended-cache-ttl-2025-04-11",
    "fine-grained-tool-streaming-2025-05-14",
    "context-1m-2025-08-07",
    "context-management-2025-06-27",
    "model-context-window-exceeded-2025-08-26",
    "skills-2025-10-02",
];

/// The flags of an `anthropic-beta` header (comma-separated) that `accepted` lacks.
pub fn rejected_betas(header: &str, accepted: Option<&[String]>) -> Vec<String> {
    header
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .filter(|f| match accepted {
            Some(list) => !list.iter().any(|a| a == f),
            None => !FIRST_PARTY_BETAS.contains(f),
        })
        .map(str::to_string)
        .collect()
}

/// The platform's 400 for flags it does not support, naming them.
pub fn betas_refused(flags: &[String]) -> ApiError {
    let named = flags.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
    ApiError::BadRequest {
        message: format!(
            "Unexpected value(s) {named} for the `anthropic-beta` header. Please consult our documentation at docs.anthropic.com or try again without the header."
        ),
        param: None,
    }
}

/// The answer's content blocks: text, or `tool_use` blocks with parsed `input` (malformed
/// arguments, which have no JSON form, travel as a string, as a broken upstream would send).
fn content(c: &Completion) -> Value {
    if c.tool_calls.is_empty() {
        return json!([{"type": "text", "text": c.text()}]);
    }
    Value::Array(
        c.tool_calls
            .iter()
            .map(|t| {
                let input = serde_json::from_str(&t.arguments).unwrap_or(Value::String(t.arguments.clone()));
                json!({"type": "tool_use", "id": t.id, "name": t.name, "input": input})
            })
            .collect(),
    )
}

pub fn render_completion(c: &Completion) -> Bytes {
    json_bytes(&json!({
        "id": c.id, "type": "message", "role": "assistant", "model": c.model,
        "content": content(c),
        "stop_reason": stop_reason(c.finish), "stop_sequence": null,
        "usage": usage(c, c.completion_tokens()),
    }))
}

pub fn stream_plan(c: &Completion) -> StreamPlan {
    let mut f = Frames::new(c.completion_tokens() as usize + 8, 112);
    f.open(Some("message_start"))
        .raw("{\"type\":\"message_start\",\"message\":{\"id\":")
        .str(&c.id)
        .raw(",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":")
        .str(&c.model)
        .raw(",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":")
        .json(&usage(c, 1))
        .raw("}}")
        .close();
    let block = |f: &mut Frames, kind: &str, i: usize| {
        f.open(Some(kind)).raw("{\"type\":").str(kind).raw(",\"index\":").json(&i);
    };
    let ping = |f: &mut Frames| f.open(Some("ping")).raw("{\"type\":\"ping\"}").close();
    let delta = |f: &mut Frames, i: usize, kind: &str, field: &str, text: &str| {
        block(f, "content_block_delta", i);
        f.raw(",\"delta\":{\"type\":").str(kind).raw(",").str(field).raw(":").str(text).raw("}}").close();
    };
    let stop = |f: &mut Frames, i: usize| {
        block(f, "content_block_stop", i);
        f.raw("}").close();
    };
    if c.tool_calls.is_empty() {
        block(&mut f, "content_block_start", 0);
        f.raw(",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}").close();
        ping(&mut f);
        for p in &c.pieces {
            delta(&mut f, 0, "text_delta", "text", p);
        }
        stop(&mut f, 0);
    }
    for (i, t) in c.tool_calls.iter().enumerate() {
        block(&mut f, "content_block_start", i);
        f.raw(",\"content_block\":{\"type\":\"tool_use\",\"id\":").str(&t.id).raw(",\"name\":").str(&t.name);
        f.raw(",\"input\":{}}}").close();
        if i == 0 {
            ping(&mut f);
        }
        delta(&mut f, i, "input_json_delta", "partial_json", "");
        for p in &t.fragments {
            delta(&mut f, i, "input_json_delta", "partial_json", p);
        }
        stop(&mut f, i);
    }
    let terminal = f.count();
    f.open(Some("message_delta"))
        .raw("{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"")
        .raw(stop_reason(c.finish))
        .raw("\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":")
        .json(&c.completion_tokens())
        .raw("}}")
        .close();
    f.open(Some("message_stop")).raw("{\"type\":\"message_stop\"}").close();
    StreamPlan { frames: f.into_list(), first_content: 3, terminal }
}

pub fn error_frame() -> Bytes {
    sse::encode(Some("error"), &envelope("overloaded_error", "Overloaded", None).to_string())
}

pub fn malformed_frame() -> Bytes {
    Bytes::from_static(
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"unterminated\n\n",
    )
}

pub fn models_list(spec: &ProviderSpec) -> Bytes {
    let data: Vec<Value> = spec
        .models
        .iter()
        .map(|m| json!({"type": "model", "id": m.id, "display_name": m.id, "created_at": "2025-09-29T00:00:00Z"}))
        .collect();
    let first = spec.models.first().map(|m| m.id.as_str());
    let last = spec.models.last().map(|m| m.id.as_str());
    json_bytes(&json!({"data": data, "has_more": false, "first_id": first, "last_id": last}))
}
