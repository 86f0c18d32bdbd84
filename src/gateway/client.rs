//! Calling one provider for one attempt, in its dialect, always streaming, so that a stream that
//! is cut, truncated or broken is seen as the failure it is and never passed on as a success.
//! Every failure becomes an [`AttemptCode`] from typed data: the status, the dialect's error body,
//! reqwest's error predicates and the `io::Error` in its `source()` chain. The Display text of a
//! transport error is never parsed. Provider error *bodies* are read: DeepSeek and Anthropic state
//! a context overflow only in the message (../shared/WIRE.md).

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::config::ProviderConfig;
use super::tools::{self, ToolDef};
use crate::mock::assemble::{AssembledCall, ToolCallVerdict, ToolStream};
use crate::mock::config::Dialect;
use crate::mock::dialect::Api;
use crate::sse;

pub use crate::wire::runtime::AttemptCode;

/// A failed attempt.
#[derive(Clone, Debug)]
pub struct CallError {
    pub code: AttemptCode,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    /// The provider's error type/code, or what happened to the stream or connection.
    pub detail: String,
    /// Tools whose calls failed in this attempt (malformed arguments, or cut mid-call).
    pub failed_tools: Vec<String>,
}

/// A successful attempt.
#[derive(Clone, Debug)]
pub struct Answer {
    pub text: String,
    /// `stop`/`end_turn`, or `length`/`max_tokens` when cut at the output limit.
    pub finish: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Of `prompt_tokens`, read from and written to the provider's prompt cache.
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    /// The tool calls the answer carried, assembled from the stream.
    pub tool_calls: Vec<AssembledCall>,
}

/// The URL a dialect's chat call goes to, from the configured endpoint (with or without `/v1`).
pub fn chat_url(p: &ProviderConfig) -> String {
    let e = p.endpoint.trim_end_matches('/');
    match p.dialect {
        Dialect::Openai if e.ends_with("/v1") => format!("{e}/chat/completions"),
        Dialect::Openai => format!("{e}/v1/chat/completions"),
        Dialect::Anthropic if e.ends_with("/v1") => format!("{e}/messages"),
        Dialect::Anthropic => format!("{e}/v1/messages"),
        Dialect::Deepseek => format!("{e}/chat/completions"),
    }
}

/// One attempt, declaring `tools` when there are any. The caller bounds it in time.
pub async fn call(
    client: &reqwest::Client,
    p: &ProviderConfig,
    model: &str,
    prompt: &str,
    max_tokens: u64,
    tool_defs: &[ToolDef],
) -> Result<Answer, CallError> {
    let messages = json!([{"role": "user", "content": prompt}]);
    let mut body = match p.dialect {
        Dialect::Openai | Dialect::Deepseek => json!({
            "model": model, "messages": messages, "max_tokens": max_tokens,
            "stream": true, "stream_options": {"include_usage": true},
        }),
        Dialect::Anthropic => json!({"model": model, "max_tokens": max_tokens, "messages": messages, "stream": true}),
    };
    if !tool_defs.is_empty() {
        body["tools"] = tools::render(p.dialect, tool_defs);
    }
    let req = match p.dialect {
        Dialect::Openai | Dialect::Deepseek => client.post(chat_url(p)).bearer_auth(&p.api_key.0).json(&body),
        Dialect::Anthropic => client
            .post(chat_url(p))
            .header("x-api-key", &p.api_key.0)
            .header("anthropic-version", "2023-06-01")
            .json(&body),
    };
    let resp = req.send().await.map_err(transport_error)?;
    let status = resp.status();
    if !status.is_success() {
        let headers = resp.headers().clone();
        let body = read_capped(resp, 64 * 1024).await;
        return Err(status_error(p.dialect, status.as_u16(), &headers, &body));
    }
    read_stream(p.dialect, resp).await
}

async fn read_capped(resp: reqwest::Response, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = resp.bytes_stream();
    while let Some(Ok(chunk)) = s.next().await {
        out.extend_from_slice(&chunk[..chunk.len().min(cap - out.len())]);
        if out.len() >= cap {
            break;
        }
    }
    out
}

/// A request that never got an HTTP answer.
pub fn transport_error(e: reqwest::Error) -> CallError {
    let code = if e.is_timeout() { AttemptCode::Timeout } else { AttemptCode::Unavailable };
    let detail = io_kind(&e).map(|k| format!("{k:?}")).unwrap_or_else(|| {
        if e.is_connect() {
            "connect".into()
        } else if e.is_decode() || e.is_body() {
            "invalid_response".into()
        } else {
            "request".into()
        }
    });
    CallError { code, status: None, retry_after: None, detail, failed_tools: Vec::new() }
}

/// The kind of the first `io::Error` in an error's source chain.
pub fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// The wait a provider asked for: `retry-after-ms`, else `retry-after` (seconds or HTTP date).
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    // Any number a provider sends is clamped where the clock can hold it (a day).
    let cap = super::cooldown::MAX_PERIOD;
    let secs = |s: f64| Duration::try_from_secs_f64(s).map_or(cap, |d| d.min(cap));
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0)
    {
        return Some(secs(ms / 1000.0));
    }
    let v = text("retry-after")?;
    if let Ok(s) = v.parse::<f64>()
        && s.is_finite()
        && s >= 0.0
    {
        return Some(secs(s));
    }
    httpdate::parse_http_date(v).ok().map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Classifies an error status with the dialect's error body.
pub fn status_error(d: Dialect, status: u16, headers: &HeaderMap, body: &[u8]) -> CallError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = &v["error"];
    let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
    let (kind, code, message) = (s(&e["type"]), s(&e["code"]), s(&e["message"]).to_ascii_lowercase());
    let spend_limit = s(&e["details"]["error_code"]) == "enforced_spend_limit_reached";
    let overflow = code == "context_length_exceeded"
        || kind == "request_too_large"
        || message.contains("maximum context length")
        || message.contains("prompt is too long")
        || message.contains("exceed context limit");
    let quota = status == 402
        || kind == "insufficient_quota"
        || code == "insufficient_quota"
        || kind == "billing_error"
        || spend_limit;
    let code_ = match status {
        401 | 403 => AttemptCode::AuthFailed,
        _ if quota => AttemptCode::QuotaExhausted,
        429 => AttemptCode::RateLimited,
        400 | 413 if overflow => AttemptCode::ContextOverflow,
        _ => AttemptCode::HttpError,
    };
    let detail = match d {
        Dialect::Anthropic => kind,
        _ if !code.is_empty() => code,
        _ => kind,
    };
    CallError { code: code_, status: Some(status), retry_after: retry_after(headers), detail, failed_tools: Vec::new() }
}

#[derive(Default)]
struct StreamState {
    text: String,
    finish: Option<String>,
    done: bool,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    cache_write_tokens: u64,
    tools: ToolStream,
}

impl StreamState {
    /// Names of the tools whose calls were open when the stream failed.
    fn open_tools(&self) -> Vec<String> {
        self.tools.calls.values().map(|c| c.name.clone()).collect()
    }
}

fn stream_error(code: AttemptCode, detail: &str) -> CallError {
    CallError { code, status: Some(200), retry_after: None, detail: detail.into(), failed_tools: Vec::new() }
}

async fn read_stream(d: Dialect, resp: reqwest::Response) -> Result<Answer, CallError> {
    let mut body = resp.bytes_stream();
    let mut decoder = sse::Decoder::new();
    let mut st = StreamState::default();
    let failed =
        |st: &StreamState, code, detail| CallError { failed_tools: st.open_tools(), ..stream_error(code, detail) };
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { return Err(failed(&st, AttemptCode::StreamTruncated, "stream_cut")) };
        for frame in decoder.feed(&chunk) {
            if let Err(e) = apply_frame(d, &frame, &mut st) {
                return Err(CallError { failed_tools: st.open_tools(), ..e });
            }
        }
    }
    if !decoder.finish().is_empty() || !st.done {
        return Err(failed(&st, AttemptCode::StreamTruncated, "no_terminator"));
    }
    let Some(finish) = st.finish.take() else {
        return Err(failed(&st, AttemptCode::StreamTruncated, "no_finish_reason"));
    };
    if st.tools.verdict() == ToolCallVerdict::MalformedArguments {
        let bad = st
            .tools
            .calls
            .values()
            .filter(|c| tools_verdict_of(c) == ToolCallVerdict::MalformedArguments)
            .map(|c| c.name.clone())
            .collect();
        return Err(CallError {
            failed_tools: bad,
            ..stream_error(AttemptCode::ToolCallInvalid, "malformed_arguments")
        });
    }
    Ok(Answer {
        text: st.text,
        finish,
        prompt_tokens: st.prompt_tokens,
        completion_tokens: st.completion_tokens,
        cached_tokens: st.cached_tokens,
        cache_write_tokens: st.cache_write_tokens,
        tool_calls: st.tools.calls.into_values().collect(),
    })
}

fn tools_verdict_of(c: &AssembledCall) -> ToolCallVerdict {
    crate::mock::assemble::verdict([c.arguments.as_str()], true)
}

fn apply_frame(d: Dialect, frame: &sse::Frame, st: &mut StreamState) -> Result<(), CallError> {
    let Some(data) = frame.data.as_deref() else { return Ok(()) };
    if st.done {
        return Err(stream_error(AttemptCode::StreamError, "data_after_terminator"));
    }
    if matches!(d, Dialect::Openai | Dialect::Deepseek) && data == "[DONE]" {
        st.done = true;
        return Ok(());
    }
    let v: Value = serde_json::from_str(data).map_err(|_| stream_error(AttemptCode::StreamError, "malformed_frame"))?;
    if v.get("error").is_some_and(|e| !e.is_null()) || frame.event.as_deref() == Some("error") {
        return Err(stream_error(AttemptCode::StreamError, "error_event"));
    }
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    st.tools.feed(d, Api::Chat, &v);
    match d {
        Dialect::Openai | Dialect::Deepseek => {
            if let Some(c) = v["choices"].get(0) {
                if let Some(t) = c["delta"]["content"].as_str() {
                    st.text.push_str(t);
                }
                if let Some(f) = c["finish_reason"].as_str() {
                    st.finish = Some(f.to_string());
                }
            }
            if v["usage"].is_object() {
                let u = &v["usage"];
                st.prompt_tokens = n(&u["prompt_tokens"]);
                st.completion_tokens = n(&u["completion_tokens"]);
                // OpenAI's cached_tokens; DeepSeek's prompt_cache_hit_tokens.
                st.cached_tokens =
                    n(&u["prompt_tokens_details"]["cached_tokens"]).max(n(&u["prompt_cache_hit_tokens"]));
            }
        }
        Dialect::Anthropic => match v["type"].as_str().unwrap_or_default() {
            "message_start" => {
                // Anthropic's input_tokens excludes the cache; the gateway counts every input token.
                let u = &v["message"]["usage"];
                st.cached_tokens = n(&u["cache_read_input_tokens"]);
                st.cache_write_tokens = n(&u["cache_creation_input_tokens"]);
                st.prompt_tokens = n(&u["input_tokens"]) + st.cached_tokens + st.cache_write_tokens;
            }
            "content_block_delta" => st.text.push_str(v["delta"]["text"].as_str().unwrap_or_default()),
            "message_delta" => {
                st.finish = v["delta"]["stop_reason"].as_str().map(str::to_string);
                st.completion_tokens = n(&v["usage"]["output_tokens"]);
            }
            "message_stop" => st.done = true,
            _ => {}
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_from_bodies() {
        let h = HeaderMap::new();
        let c = |d, s, b: &str| status_error(d, s, &h, b.as_bytes()).code;
        assert_eq!(
            c(Dialect::Openai, 429, r#"{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}"#),
            AttemptCode::QuotaExhausted
        );
        assert_eq!(
            c(Dialect::Openai, 429, r#"{"error":{"type":"tokens","code":"rate_limit_exceeded"}}"#),
            AttemptCode::RateLimited
        );
        assert_eq!(
            c(Dialect::Openai, 400, r#"{"error":{"code":"context_length_exceeded"}}"#),
            AttemptCode::ContextOverflow
        );
        let ds = r#"{"error":{"message":"This model's maximum context length is 131072 tokens. However, you requested 131134 tokens","code":"invalid_request_error"}}"#;
        assert_eq!(c(Dialect::Deepseek, 400, ds), AttemptCode::ContextOverflow);
        assert_eq!(c(Dialect::Deepseek, 400, r#"{"error":{"message":"Invalid Format"}}"#), AttemptCode::HttpError);
        let an = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 205351 tokens > 200000 maximum"}}"#;
        assert_eq!(c(Dialect::Anthropic, 400, an), AttemptCode::ContextOverflow);
        let spend = r#"{"type":"error","error":{"type":"rate_limit_error","details":{"error_code":"enforced_spend_limit_reached"}}}"#;
        assert_eq!(c(Dialect::Anthropic, 429, spend), AttemptCode::QuotaExhausted);
        assert_eq!(
            c(Dialect::Anthropic, 529, r#"{"type":"error","error":{"type":"overloaded_error"}}"#),
            AttemptCode::HttpError
        );
        assert_eq!(c(Dialect::Deepseek, 402, "{}"), AttemptCode::QuotaExhausted);
        assert_eq!(c(Dialect::Openai, 401, "not json"), AttemptCode::AuthFailed);
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", at.parse().unwrap());
        assert!(retry_after(&h).unwrap() > Duration::from_secs(25));
    }

    #[test]
    fn urls_accept_endpoints_with_or_without_v1() {
        let p = |d, e: &str| ProviderConfig {
            name: "x".into(),
            dialect: d,
            endpoint: e.into(),
            api_key: Default::default(),
            model: "m".into(),
        };
        assert_eq!(chat_url(&p(Dialect::Openai, "http://h/v1")), "http://h/v1/chat/completions");
        assert_eq!(chat_url(&p(Dialect::Openai, "http://h")), "http://h/v1/chat/completions");
        assert_eq!(chat_url(&p(Dialect::Anthropic, "http://h")), "http://h/v1/messages");
        assert_eq!(chat_url(&p(Dialect::Deepseek, "http://h")), "http://h/chat/completions");
    }
}
