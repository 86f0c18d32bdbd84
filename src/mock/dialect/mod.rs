//! What each provider API looks like on the wire (../shared/WIRE.md): how a chat request is
//! read, how answers, stream frames and errors are shaped, which headers carry the request id
//! and the rate limits. The pipeline in `handler` is the same for every provider; only these
//! functions differ, dispatched on [`Dialect`].

pub mod anthropic;
pub mod deepseek;
pub mod embeddings;
pub mod frames;
pub mod openai;
pub mod responses;

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;

use super::config::{Dialect, ProviderSpec};
use super::faults::QuotaVariant;
use super::quota::{Exceeded, QuotaState};
use super::tools::{ToolCall, ToolRequest};

/// Which of a provider's APIs a request came in on (the route decides).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Api {
    /// OpenAI / DeepSeek chat completions, Anthropic messages.
    #[default]
    Chat,
    /// OpenAI `POST /v1/responses`.
    Responses,
    /// OpenAI `POST /v1/embeddings`.
    Embeddings,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
}

/// A request reduced to what the mock acts on, whichever API it came in on.
#[derive(Debug, Default)]
pub struct ChatRequest {
    pub api: Api,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: Option<u64>,
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub tools: ToolRequest,
    /// For `/v1/embeddings`: what to embed and how to encode it.
    pub embedding: Option<embeddings::EmbeddingRequest>,
    /// An assistant turn with tool calls lacks its `reasoning_content` (DeepSeek thinking mode).
    pub missing_reasoning_echo: bool,
    /// The request marks a `cache_control` breakpoint (Anthropic prompt caching).
    pub cache_marked: bool,
    /// Request settings the answer echoes (the Responses object's `tools`, `instructions`, ...).
    pub echo: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct Message {
    pub role: String,
    pub text: String,
    pub name: Option<String>,
}

/// Every error a mock can answer with, before it is put in a dialect's words.
#[derive(Clone, Debug)]
pub enum ApiError {
    BadRequest {
        message: String,
        param: Option<&'static str>,
    },
    MissingAuth,
    InvalidKey {
        masked: String,
    },
    ModelNotFound {
        model: String,
    },
    NoRoute {
        method: String,
        path: String,
    },
    TooLarge {
        limit: usize,
    },
    ContextOverflow {
        window: u64,
        prompt: u64,
        max_tokens: u64,
    },
    RateLimited {
        model: String,
        which: Exceeded,
        limit: u64,
        used: u64,
        requested: u64,
        retry_after: Option<Duration>,
    },
    QuotaExhausted(QuotaVariant),
    Overloaded,
    Unavailable,
    Status(u16),
    /// The generic error sent in-band in a stream.
    StreamServerError,
    /// The model exists but does not serve this API (a chat model asked for embeddings).
    WrongApi {
        model: String,
        api: Api,
    },
    /// A model id the provider has withdrawn (`retired_model`).
    RetiredModel {
        model: String,
    },
    /// An embeddings input longer than the model's window.
    EmbeddingInputTooLong {
        window: u64,
        tokens: u64,
    },
}

impl From<&ApiError> for super::journal::Refusal {
    fn from(e: &ApiError) -> Self {
        use super::journal::Refusal as R;
        match e {
            ApiError::BadRequest { .. } => R::BadRequest,
            ApiError::MissingAuth => R::MissingAuth,
            ApiError::InvalidKey { .. } => R::InvalidKey,
            ApiError::ModelNotFound { .. } => R::ModelNotFound,
            ApiError::NoRoute { .. } => R::NoRoute,
            ApiError::TooLarge { .. } => R::TooLarge,
            ApiError::ContextOverflow { .. } => R::ContextOverflow,
            ApiError::RateLimited { .. } => R::RateLimited,
            ApiError::QuotaExhausted(_) => R::QuotaExhausted,
            ApiError::Overloaded => R::Overloaded,
            ApiError::Unavailable => R::Unavailable,
            ApiError::Status(_) => R::Status,
            ApiError::StreamServerError => R::StreamServerError,
            ApiError::WrongApi { .. } => R::WrongApi,
            ApiError::RetiredModel { .. } => R::ModelNotFound,
            ApiError::EmbeddingInputTooLong { .. } => R::ContextOverflow,
        }
    }
}

/// An error in a dialect's words.
pub struct ErrorReply {
    pub status: StatusCode,
    pub body: Bytes,
    /// The dialect's error type or code, for the journal.
    pub code: String,
}

/// How a completion ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    /// The answer is tool calls (`tool_calls` / `tool_use` / Responses `function_call` items).
    ToolCalls,
}

/// A successful answer, before rendering.
pub struct Completion {
    pub api: Api,
    pub id: String,
    pub created: u64,
    pub model: String,
    pub pieces: Vec<&'static str>,
    /// Hidden (or DeepSeek `reasoning_content`) reasoning, one token a piece.
    pub reasoning: Vec<&'static str>,
    pub tool_calls: Vec<ToolCall>,
    pub prompt_tokens: u64,
    /// Of `prompt_tokens`, how many the provider's prompt cache served.
    pub cached_tokens: u64,
    /// Of `prompt_tokens`, how many were written to the prompt cache (Anthropic).
    pub cache_write_tokens: u64,
    pub finish: Finish,
    /// `tool_name_split`: stream each tool name in two deltas (OpenAI-shaped streams).
    pub split_tool_names: bool,
    /// Request settings the answer echoes (Responses).
    pub echo: Option<serde_json::Value>,
}

impl Completion {
    pub fn text(&self) -> String {
        self.pieces.concat()
    }
    pub fn completion_tokens(&self) -> u64 {
        (self.pieces.len() + self.reasoning.len()) as u64
            + self.tool_calls.iter().map(|t| t.fragments.len() as u64).sum::<u64>()
    }
}

/// The frames of a stream in order; `frames[terminal..]` are what closes the stream properly
/// (finish reason, usage, `[DONE]` / `message_delta`, `message_stop`).
pub struct StreamPlan {
    pub frames: frames::FrameList,
    /// Index of the first frame carrying a token; frames before it go out with the headers.
    pub first_content: usize,
    pub terminal: usize,
}

pub fn parse_request(d: Dialect, api: Api, body: &[u8]) -> Result<ChatRequest, ApiError> {
    let mut r = match (d, api) {
        (_, Api::Responses) => responses::parse_request(body),
        (_, Api::Embeddings) => embeddings::parse_request(body),
        (Dialect::Openai | Dialect::Deepseek, _) => openai::parse_request(body),
        (Dialect::Anthropic, _) => anthropic::parse_request(body, api == Api::CountTokens),
    }?;
    r.api = api;
    Ok(r)
}

/// The API key the request presents, or the dialect's refusal.
pub fn api_key(d: Dialect, headers: &HeaderMap) -> Result<String, ApiError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let bearer = || get("authorization").and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let key = match d {
        Dialect::Openai | Dialect::Deepseek => bearer(),
        // `x-api-key` is the documented header; current official SDKs (anthropic-python 2.x)
        // send the key as a bearer token instead, and the API takes both.
        Dialect::Anthropic => get("x-api-key").or_else(bearer),
    };
    match key {
        Some(k) if !k.is_empty() => Ok(k.to_string()),
        _ => Err(ApiError::MissingAuth),
    }
}

/// A key as an error message may show it: a well-known vendor prefix at most, never a
/// character of the secret itself.
pub fn mask_key(key: &str) -> String {
    let prefix = ["sk-ant-", "sk-proj-", "sk-"].into_iter().find(|p| key.starts_with(p)).unwrap_or("");
    format!("{prefix}***")
}

pub fn render_error(d: Dialect, e: &ApiError) -> ErrorReply {
    match d {
        Dialect::Openai => openai::render_error(e, false),
        Dialect::Deepseek => openai::render_error(e, true),
        Dialect::Anthropic => anthropic::render_error(e),
    }
}

pub fn render_completion(d: Dialect, c: &Completion) -> Bytes {
    if c.api == Api::Responses {
        return responses::render_completion(c);
    }
    match d {
        Dialect::Openai => openai::render_completion(c, false),
        Dialect::Deepseek => openai::render_completion(c, true),
        Dialect::Anthropic => anthropic::render_completion(c),
    }
}

pub fn stream_plan(d: Dialect, c: &Completion, include_usage: bool) -> StreamPlan {
    if c.api == Api::Responses {
        return responses::stream_plan(c);
    }
    match d {
        Dialect::Openai => openai::stream_plan(c, include_usage, false),
        Dialect::Deepseek => openai::stream_plan(c, include_usage, true),
        Dialect::Anthropic => anthropic::stream_plan(c),
    }
}

/// The in-band error frame a provider sends after HTTP 200.
pub fn error_frame(d: Dialect, c: &Completion, seq: usize) -> Bytes {
    if c.api == Api::Responses {
        return responses::error_frame(seq);
    }
    match d {
        Dialect::Openai | Dialect::Deepseek => openai::error_frame(),
        Dialect::Anthropic => anthropic::error_frame(),
    }
}

/// `response.failed` after HTTP 200; the chat APIs have no such event and send their in-band
/// error instead.
pub fn failed_frame(d: Dialect, c: &Completion, seq: usize) -> Bytes {
    if c.api == Api::Responses {
        return responses::failed_frame(c, seq);
    }
    error_frame(d, c, seq)
}

/// A frame whose JSON is cut short.
pub fn malformed_frame(d: Dialect, c: &Completion, seq: usize) -> Bytes {
    if c.api == Api::Responses {
        return responses::malformed_frame(seq);
    }
    match d {
        Dialect::Openai | Dialect::Deepseek => openai::malformed_frame(c),
        Dialect::Anthropic => anthropic::malformed_frame(),
    }
}

pub fn models_list(spec: &ProviderSpec) -> Bytes {
    match spec.dialect {
        Dialect::Openai | Dialect::Deepseek => openai::models_list(spec),
        Dialect::Anthropic => anthropic::models_list(spec),
    }
}

/// Completion and request ids in the dialect's format, derived from a deterministic draw.
pub fn ids(d: Dialect, bits: u64) -> (String, String) {
    let a = crate::rng::mix(bits);
    let b = crate::rng::mix(a);
    match d {
        Dialect::Openai => (hex_id("chatcmpl-", &[a, b >> 32], 24), hex_id("req_", &[b, a], 32)),
        Dialect::Deepseek => {
            let h = hex_id("", &[a, b], 32);
            let uuid = format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32]);
            (uuid, h)
        }
        Dialect::Anthropic => (format!("msg_01{}", base62(a, b)), format!("req_011C{}", base62(b, a))),
    }
}

/// A tool call's id in the dialect's format: `call_…` (OpenAI chat and Responses, DeepSeek),
/// `toolu_01…` (Anthropic).
pub fn call_id(d: Dialect, _api: Api, bits: u64) -> String {
    let a = crate::rng::mix(bits);
    let b = crate::rng::mix(a);
    match d {
        Dialect::Anthropic => format!("toolu_01{}", base62(a, b)),
        Dialect::Openai | Dialect::Deepseek => format!("call_{}", &base62(a, b)[..22]),
    }
}

/// `prefix` followed by the first `digits` hex digits of `words`, without going through `fmt`.
fn hex_id(prefix: &str, words: &[u64], digits: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(prefix.len() + digits);
    out.push_str(prefix);
    for w in words {
        for shift in (0..16).rev() {
            if out.len() - prefix.len() == digits {
                return out;
            }
            out.push(HEX[((w >> (shift * 4)) & 0xf) as usize] as char);
        }
    }
    out
}

fn base62(a: u64, b: u64) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = (u128::from(a) << 64) | u128::from(b);
    let mut out = Vec::with_capacity(22);
    for _ in 0..22 {
        out.push(A[(n % 62) as usize]);
        n /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

const OPENAI_RATE_HEADERS: [[&str; 3]; 2] = [
    ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"],
    ["x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"],
];
const ANTHROPIC_RATE_HEADERS: [[&str; 3]; 4] = [
    [
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ],
    ["anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"],
    [
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ],
    [
        "anthropic-ratelimit-output-tokens-limit",
        "anthropic-ratelimit-output-tokens-remaining",
        "anthropic-ratelimit-output-tokens-reset",
    ],
];

/// Request-id and rate-limit headers every answer carries.
pub fn standard_headers(
    d: Dialect,
    request_id: &str,
    quota: Option<&QuotaState>,
    now: SystemTime,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut h = Vec::with_capacity(13);
    let text = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
    let id_header = match d {
        Dialect::Openai => "x-request-id",
        Dialect::Anthropic => "request-id",
        Dialect::Deepseek => "x-ds-trace-id",
    };
    h.push((HeaderName::from_static(id_header), text(request_id)));
    let Some(q) = quota else { return h };
    match d {
        Dialect::Openai => {
            for ([limit, remaining, reset], l) in OPENAI_RATE_HEADERS.into_iter().zip([q.requests, q.tokens]) {
                h.push((HeaderName::from_static(limit), HeaderValue::from(l.limit)));
                h.push((HeaderName::from_static(remaining), HeaderValue::from(l.remaining)));
                h.push((HeaderName::from_static(reset), text(&crate::duration::go_duration(l.reset))));
            }
        }
        Dialect::Anthropic => {
            // One token bucket backs all three token families.
            let levels = [q.requests, q.tokens, q.tokens, q.tokens];
            for ([limit, remaining, reset], l) in ANTHROPIC_RATE_HEADERS.into_iter().zip(levels) {
                h.push((HeaderName::from_static(limit), HeaderValue::from(l.limit)));
                h.push((HeaderName::from_static(remaining), HeaderValue::from(l.remaining)));
                h.push((
                    HeaderName::from_static(reset),
                    text(&humantime::format_rfc3339_seconds(now + l.reset).to_string()),
                ));
            }
        }
        Dialect::Deepseek => {}
    }
    h
}

pub fn json_bytes(v: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_keys_show_no_secret_characters() {
        assert_eq!(mask_key("sk-VKMIs0123456789wjh3"), "sk-***");
        assert_eq!(mask_key("sk-ant-api03-secret"), "sk-ant-***");
        assert_eq!(mask_key("bad"), "***");
    }

    #[test]
    fn ids_have_dialect_shapes() {
        let (c, r) = ids(Dialect::Openai, 1);
        assert!(c.starts_with("chatcmpl-") && r.starts_with("req_"));
        let (c, r) = ids(Dialect::Anthropic, 1);
        assert!(c.starts_with("msg_01") && r.starts_with("req_011C") && c.len() == 28);
        let (c, _) = ids(Dialect::Deepseek, 1);
        assert_eq!(c.len(), 36);
        assert_eq!(ids(Dialect::Openai, 9), ids(Dialect::Openai, 9));
    }
}
