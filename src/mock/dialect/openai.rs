//! OpenAI Chat Completions, and DeepSeek, which speaks the same shapes with its own error table
//! (402 Insufficient Balance, context overflow without `context_length_exceeded`, 503 Server
//! Overloaded) and its own usage fields (`prompt_cache_hit_tokens`, `prompt_cache_miss_tokens`).

use axum::http::StatusCode;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::frames::{Frames, json_text};
use super::{Api, ApiError, ChatRequest, Completion, ErrorReply, Finish, Message, StreamPlan, json_bytes};
use crate::mock::config::ProviderSpec;
use crate::mock::quota::Exceeded;
use crate::mock::tools::{ToolChoice, ToolDecl, ToolRequest};
use crate::sse;

#[derive(Deserialize)]
struct Req {
    model: Option<String>,
    messages: Option<Vec<Msg>>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    tools: Option<Vec<ReqTool>>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
}

#[derive(Deserialize)]
struct ReqTool {
    function: FnDecl,
}

#[derive(Deserialize)]
struct FnDecl {
    name: String,
    #[serde(default)]
    parameters: Option<Value>,
}

#[derive(Deserialize)]
struct Msg {
    role: String,
    #[serde(default)]
    content: Option<Content>,
    name: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<MsgToolCall>>,
    #[serde(default)]
    reasoning_content: Option<String>,
}

#[derive(Deserialize)]
struct MsgToolCall {
    function: Option<FnCall>,
}

#[derive(Deserialize)]
struct FnCall {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    text: Option<String>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let r: Req = serde_json::from_slice(body).map_err(|e| {
        let message = if e.is_syntax() || e.is_eof() {
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)".to_string()
        } else {
            format!("Invalid request body: {e}")
        };
        ApiError::BadRequest { message, param: None }
    })?;
    let model = r
        .model
        .filter(|m| !m.is_empty())
        .ok_or(ApiError::BadRequest { message: "you must provide a model parameter".into(), param: None })?;
    let msgs = r.messages.ok_or(ApiError::BadRequest {
        message: "Missing required parameter: 'messages'.".into(),
        param: Some("messages"),
    })?;
    if msgs.is_empty() {
        return Err(ApiError::BadRequest {
            message: "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.".into(),
            param: Some("messages"),
        });
    }
    let answers_tool_result = msgs.last().is_some_and(|m| m.role == "tool");
    let missing_reasoning_echo = msgs.iter().any(|m| {
        m.role == "assistant"
            && m.tool_calls.as_ref().is_some_and(|c| !c.is_empty())
            && m.reasoning_content.as_deref().is_none_or(str::is_empty)
    });
    let messages: Vec<Message> = msgs
        .into_iter()
        .map(|m| {
            let mut text = match m.content {
                Some(Content::Text(t)) => t,
                Some(Content::Parts(p)) => p.into_iter().filter_map(|p| p.text).collect::<Vec<_>>().join("\n"),
                None => String::new(),
            };
            for f in m.tool_calls.into_iter().flatten().filter_map(|c| c.function) {
                text.push_str(f.name.as_deref().unwrap_or_default());
                text.push_str(f.arguments.as_deref().unwrap_or_default());
            }
            Message { role: m.role, text, name: m.name }
        })
        .collect();
    let decls: Vec<ToolDecl> = r
        .tools
        .unwrap_or_default()
        .into_iter()
        .map(|t| ToolDecl { name: t.function.name, schema: t.function.parameters.unwrap_or(Value::Null) })
        .collect();
    let choice = tool_choice(r.tool_choice.as_ref(), |v| v["function"]["name"].as_str())?;
    Ok(ChatRequest {
        model,
        stream: r.stream.unwrap_or(false),
        include_usage: r.stream_options.and_then(|o| o.include_usage).unwrap_or(false),
        max_tokens: r.max_completion_tokens.or(r.max_tokens),
        tools: ToolRequest::new(decls, choice, r.parallel_tool_calls.unwrap_or(true), answers_tool_result, &messages),
        messages,
        missing_reasoning_echo,
        ..ChatRequest::default()
    })
}

/// DeepSeek's refusal of a thinking-mode tool history without `reasoning_content`.
pub const REASONING_ECHO_MISSING: &str = "The `reasoning_content` in the thinking mode must be passed back to the API.";

/// `tool_choice` in OpenAI's words (chat and Responses differ only in where an object names
/// the function, which `named` reads).
pub fn tool_choice(v: Option<&Value>, named: impl Fn(&Value) -> Option<&str>) -> Result<ToolChoice, ApiError> {
    Ok(match v {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::BadRequest {
                    message: format!("Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."),
                    param: Some("tool_choice"),
                });
            }
        },
        Some(obj) => match named(obj) {
            Some(n) => ToolChoice::Named(n.to_string()),
            None => {
                return Err(ApiError::BadRequest {
                    message: "Missing required parameter: 'tool_choice.function.name'.".into(),
                    param: Some("tool_choice"),
                });
            }
        },
    })
}

fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Bytes {
    json_bytes(&json!({"error": {"message": message, "type": kind, "param": param, "code": code}}))
}

pub fn render_error(e: &ApiError, deepseek: bool) -> ErrorReply {
    let reply = |status: u16, message: &str, kind: &str, param: Option<&str>, code: Option<&str>| ErrorReply {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body: error_body(message, kind, param, code),
        code: code.unwrap_or(kind).to_string(),
    };
    if deepseek {
        return super::deepseek::render_error(e, reply);
    }
    match e {
        ApiError::BadRequest { message, param } => reply(400, message, "invalid_request_error", *param, None),
        ApiError::MissingAuth => reply(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            None,
        ),
        ApiError::InvalidKey { masked } => reply(
            401,
            &format!(
                "Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys."
            ),
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
        ApiError::ModelNotFound { model } => reply(
            404,
            &format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        ),
        ApiError::NoRoute { method, path } => {
            reply(404, &format!("Invalid URL ({method} {path})"), "invalid_request_error", None, None)
        }
        ApiError::TooLarge { limit } => reply(
            413,
            &format!("Request body too large: the limit is {limit} bytes."),
            "invalid_request_error",
            None,
            None,
        ),
        ApiError::ContextOverflow { window, prompt, max_tokens } => reply(
            400,
            &format!(
                "This model's maximum context length is {window} tokens. However, your messages resulted in {} tokens. Please reduce the length of the messages.",
                prompt + max_tokens
            ),
            "invalid_request_error",
            Some("messages"),
            Some("context_length_exceeded"),
        ),
        ApiError::RateLimited { model, which, limit, used, requested, retry_after } => {
            let (kind, unit) = match which {
                Exceeded::Requests => ("requests", "requests per min (RPM)"),
                Exceeded::Tokens => ("tokens", "tokens per min (TPM)"),
            };
            let tail = match retry_after {
                Some(d) => format!("Please try again in {}.", crate::duration::go_duration(*d)),
                None => "The request is larger than the limit allows; reduce its size.".to_string(),
            };
            reply(
                429,
                &format!(
                    "Rate limit reached for {model} in organization org-gatedrill on {unit}: Limit {limit}, Used {used}, Requested {requested}. {tail} Visit https://platform.openai.com/account/rate-limits to learn more."
                ),
                kind,
                None,
                Some("rate_limit_exceeded"),
            )
        }
        ApiError::QuotaExhausted(_) => reply(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            "insufficient_quota",
            None,
            Some("insufficient_quota"),
        ),
        ApiError::Overloaded => {
            reply(503, "The engine is currently overloaded, please try again later", "server_error", None, None)
        }
        ApiError::Unavailable => reply(503, "The server is overloaded or not ready yet.", "server_error", None, None),
        ApiError::Status(s) => {
            let (kind, message) = status_words(*s);
            reply(*s, message, kind, None, None)
        }
        ApiError::StreamServerError => reply(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
            None,
        ),
        ApiError::WrongApi { model, api: Api::Embeddings } => reply(
            400,
            &format!("The model `{model}` does not support embeddings."),
            "invalid_request_error",
            Some("model"),
            None,
        ),
        ApiError::WrongApi { .. } => reply(
            404,
            "This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?",
            "invalid_request_error",
            Some("model"),
            None,
        ),
        ApiError::RetiredModel { model } => reply(
            404,
            &format!(
                "The model `{model}` has been deprecated, learn more here: https://platform.openai.com/docs/deprecations"
            ),
            "invalid_request_error",
            None,
            Some("model_not_found"),
        ),
        ApiError::EmbeddingInputTooLong { window, tokens } => reply(
            400,
            &format!(
                "This model's maximum context length is {window} tokens, however you requested {tokens} tokens ({tokens} in your prompt; 0 for the completion). Please reduce your prompt; or completion length."
            ),
            "invalid_request_error",
            None,
            None,
        ),
    }
}

fn status_words(s: u16) -> (&'static str, &'static str) {
    match s {
        400 => ("invalid_request_error", "Bad request."),
        401 => ("invalid_request_error", "Unauthorized."),
        403 => ("invalid_request_error", "You are not allowed to access this resource."),
        404 => ("invalid_request_error", "Not found."),
        408 => ("invalid_request_error", "Request timed out."),
        409 => ("invalid_request_error", "Conflict."),
        422 => ("invalid_request_error", "Unprocessable entity."),
        429 => ("requests", "Too many requests."),
        500 => ("server_error", "The server had an error while processing your request. Sorry about that!"),
        502 => ("server_error", "Bad gateway."),
        503 => ("server_error", "The server is overloaded or not ready yet."),
        504 => ("server_error", "Gateway timeout."),
        s if s >= 500 => ("server_error", "Server error."),
        _ => ("invalid_request_error", "Request error."),
    }
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    completion_tokens_details: Option<CompletionDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cache_hit_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_cache_miss_tokens: Option<u64>,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio_tokens: Option<u64>,
}

/// OpenAI sends all four counts; DeepSeek only `reasoning_tokens`, and only for its reasoner.
#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted_prediction_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected_prediction_tokens: Option<u64>,
}

fn usage(c: &Completion, deepseek: bool) -> Usage {
    let completion_tokens = c.completion_tokens();
    let openai = (!deepseek).then_some(0);
    let reasoning = c.reasoning.len() as u64;
    Usage {
        prompt_tokens: c.prompt_tokens,
        completion_tokens,
        total_tokens: c.prompt_tokens + completion_tokens,
        prompt_tokens_details: PromptDetails { cached_tokens: c.cached_tokens, audio_tokens: openai },
        completion_tokens_details: (!deepseek || reasoning > 0).then_some(CompletionDetails {
            reasoning_tokens: reasoning,
            audio_tokens: openai,
            accepted_prediction_tokens: openai,
            rejected_prediction_tokens: openai,
        }),
        prompt_cache_hit_tokens: deepseek.then_some(c.cached_tokens),
        prompt_cache_miss_tokens: deepseek.then_some(c.prompt_tokens - c.cached_tokens.min(c.prompt_tokens)),
    }
}

fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
    }
}

fn fingerprint(deepseek: bool) -> &'static str {
    if deepseek { "fp_gatedrill_prod0820_fp8_kvcache" } else { "fp_44709d6fcb" }
}

#[derive(Serialize)]
struct Answer<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<&'static str>,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AnswerMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AnswerMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    /// DeepSeek thinking models' reasoning, beside the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<WireToolCall<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<()>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<[(); 0]>,
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// Typed rather than built as a `Value`: this is the hot path of every plain answer.
pub fn render_completion(c: &Completion, deepseek: bool) -> Bytes {
    let text = c.text();
    let calls: Vec<WireToolCall<'_>> = c
        .tool_calls
        .iter()
        .map(|t| WireToolCall {
            id: &t.id,
            kind: "function",
            function: WireFunction { name: &t.name, arguments: &t.arguments },
        })
        .collect();
    // With tool calls, OpenAI sends `content: null`; DeepSeek an empty string.
    let content = if calls.is_empty() || deepseek { Some(text.as_str()) } else { None };
    let answer = Answer {
        id: &c.id,
        object: "chat.completion",
        created: c.created,
        model: &c.model,
        choices: [Choice {
            index: 0,
            message: AnswerMessage {
                role: "assistant",
                content,
                reasoning_content: (deepseek && !c.reasoning.is_empty()).then(|| c.reasoning.concat()),
                tool_calls: (!calls.is_empty()).then_some(calls),
                refusal: (!deepseek).then_some(None),
                annotations: (!deepseek).then_some([]),
            },
            logprobs: None,
            finish_reason: finish_reason(c.finish),
        }],
        usage: usage(c, deepseek),
        service_tier: (!deepseek).then_some("default"),
        system_fingerprint: fingerprint(deepseek),
    };
    // Sized for the whole answer: growing a vector from empty copies it seven times over.
    let mut out = Vec::with_capacity(768 + text.len() + c.reasoning.iter().map(|r| r.len()).sum::<usize>());
    let _ = serde_json::to_writer(&mut out, &answer);
    Bytes::from(out)
}

pub fn stream_plan(c: &Completion, include_usage: bool, deepseek: bool) -> StreamPlan {
    // The chunk's constant head and tail, written once per stream.
    let head = format!(
        "{{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\"system_fingerprint\":\"{}\",\"choices\":",
        json_text(&c.id),
        c.created,
        json_text(&c.model),
        fingerprint(deepseek)
    );
    let tail = if include_usage { ",\"usage\":null}" } else { "}" };
    let mut f = Frames::new(c.completion_tokens() as usize + 4, head.len() + 96);
    let delta = |f: &mut Frames, d: &dyn Fn(&mut Frames)| {
        f.open(None).raw(&head).raw("[{\"index\":0,\"delta\":");
        d(f);
        f.raw(",\"logprobs\":null,\"finish_reason\":null}]").raw(tail).close();
    };
    if deepseek && !c.reasoning.is_empty() {
        // DeepSeek's reasoner streams its reasoning first, with `content: null`.
        delta(&mut f, &|f| {
            f.raw("{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"\"}");
        });
        for p in &c.reasoning {
            delta(&mut f, &|f| {
                f.raw("{\"content\":null,\"reasoning_content\":").str(p).raw("}");
            });
        }
    } else if c.tool_calls.is_empty() {
        delta(&mut f, &|f| {
            f.raw("{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}");
        });
    }
    for p in &c.pieces {
        delta(&mut f, &|f| {
            f.raw("{\"content\":").str(p).raw("}");
        });
    }
    for (i, call) in c.tool_calls.iter().enumerate() {
        for d in tool_call_deltas(call, c.split_tool_names) {
            // The stream's first frame also opens the assistant's message.
            let opens = f.count() == 0;
            delta(&mut f, &|f| {
                f.raw(if opens {
                    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
                } else {
                    "{\"tool_calls\":["
                });
                d.write(f, i);
                f.raw(if opens { "],\"refusal\":null}" } else { "]}" });
            });
        }
    }
    let terminal = f.count();
    f.open(None)
        .raw(&head)
        .raw("[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"")
        .raw(finish_reason(c.finish))
        .raw("\"}]")
        .raw(tail)
        .close();
    if include_usage {
        f.open(None).raw(&head).raw("[],\"usage\":").json(&usage(c, deepseek)).raw("}").close();
    }
    f.open(None).raw("[DONE]").close();
    StreamPlan { frames: f.into_list(), first_content: 1, terminal }
}

/// One `delta.tool_calls[]` entry.
enum ToolDelta<'a> {
    /// The call's id, type and (the first part of) its name.
    Start { id: &'a str, name: &'a str },
    /// The rest of a name split over two deltas.
    Name(&'a str),
    /// One argument fragment.
    Arguments(&'a str),
}

impl ToolDelta<'_> {
    fn write(&self, f: &mut Frames, index: usize) {
        f.raw("{\"index\":").json(&index);
        match self {
            ToolDelta::Start { id, name } => {
                f.raw(",\"id\":").str(id).raw(",\"type\":\"function\",\"function\":{\"name\":").str(name);
                f.raw(",\"arguments\":\"\"}}")
            }
            ToolDelta::Name(n) => f.raw(",\"function\":{\"name\":").str(n).raw("}}"),
            ToolDelta::Arguments(a) => f.raw(",\"function\":{\"arguments\":").str(a).raw("}}"),
        };
    }
}

/// The deltas of one call: id, type and name on the first (the name split over two deltas
/// under `tool_name_split`), then one argument fragment each.
fn tool_call_deltas(call: &crate::mock::tools::ToolCall, split_name: bool) -> Vec<ToolDelta<'_>> {
    let mut out = Vec::with_capacity(call.fragments.len() + 2);
    let cut =
        if split_name { call.name.char_indices().nth(call.name.chars().count() / 2).map_or(0, |(i, _)| i) } else { 0 };
    let (head, tail) = call.name.split_at(cut);
    let (first, rest) = if cut == 0 { (tail, "") } else { (head, tail) };
    out.push(ToolDelta::Start { id: &call.id, name: first });
    if !rest.is_empty() {
        out.push(ToolDelta::Name(rest));
    }
    out.extend(call.fragments.iter().map(|a| ToolDelta::Arguments(a)));
    out
}

pub fn error_frame() -> Bytes {
    let body = json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}});
    sse::encode(None, &body.to_string())
}

pub fn malformed_frame(c: &Completion) -> Bytes {
    malformed_chunk(&c.id)
}

/// A chunk of the completion `id` whose JSON is cut short.
pub fn malformed_chunk(id: &str) -> Bytes {
    Bytes::from(format!(
        "data: {{\"id\":\"{id}\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"unterminated\n\n"
    ))
}

pub fn models_list(spec: &ProviderSpec) -> Bytes {
    let data: Vec<Value> = spec
        .models
        .iter()
        .map(|m| json!({"id": m.id, "object": "model", "created": 1_700_000_000u64, "owned_by": spec.name}))
        .collect();
    json_bytes(&json!({"object": "list", "data": data}))
}
