//! What the fault proxy needs to know about an upstream's own stream and errors, per dialect
//! (../shared/WIRE.md): which event closes a stream properly (a stream fault lands before it,
//! as on the mocks), which events come before the first token (a `slow_first_token` wait goes
//! after them), the frames a fault writes (the mocks' own renderings), and the typed reason of
//! an upstream's refusal for the journal. Read from the event names and JSON fields, never from
//! message text.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::mock::config::Dialect;
use crate::mock::dialect::{anthropic, openai, responses};
use crate::mock::faults::Fault;
use crate::mock::journal::Refusal;
use crate::sse::Frame;

/// The stream an answer speaks: a dialect's chat stream, or OpenAI's Responses events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamKind {
    pub dialect: Dialect,
    pub responses: bool,
}

impl StreamKind {
    pub fn for_path(dialect: Dialect, path: &str) -> Self {
        StreamKind { dialect, responses: path.trim_end_matches('/').ends_with("/responses") }
    }

    /// The frame that begins the proper end of a stream: a finish reason or `[DONE]`,
    /// Anthropic's `message_delta`/`message_stop`, a Responses terminal event.
    pub fn is_terminal(self, f: &Frame) -> bool {
        let event = f.event.as_deref();
        if self.responses {
            return matches!(event, Some("response.completed" | "response.incomplete" | "response.failed"));
        }
        match self.dialect {
            Dialect::Anthropic => matches!(event, Some("message_delta" | "message_stop")),
            Dialect::Openai | Dialect::Deepseek => {
                f.data.as_deref().is_some_and(|d| d.trim() == "[DONE]" || has_finish_reason(d.as_bytes()))
            }
        }
    }

    /// A frame sent before the first token: the opening events the mocks send with the headers.
    pub fn is_preamble(self, f: &Frame) -> bool {
        let event = f.event.as_deref();
        if self.responses {
            return matches!(event, Some("response.created" | "response.in_progress" | "response.queued"));
        }
        match self.dialect {
            Dialect::Anthropic => matches!(event, Some("message_start" | "content_block_start" | "ping")),
            Dialect::Openai | Dialect::Deepseek => {
                let Some(v) = f.data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) else {
                    return false;
                };
                let delta = &v["choices"][0]["delta"];
                let empty = |k: &str| delta[k].as_str().is_none_or(str::is_empty);
                delta.is_object()
                    && empty("content")
                    && empty("reasoning_content")
                    && delta["tool_calls"].is_null()
                    && !has_finish_reason(f.raw.as_ref())
            }
        }
    }

    /// The frame a stream fault writes in place of the rest of the stream, as the mock writes
    /// it. `id` is the upstream's completion id, `snapshot` its announced Responses object,
    /// `seq` the number of events already sent.
    pub fn fault_frame(self, fault: &Fault, id: &str, snapshot: Option<&Value>, seq: usize) -> Bytes {
        let error = || match (self.responses, self.dialect) {
            (true, _) => responses::error_frame(seq),
            (false, Dialect::Anthropic) => anthropic::error_frame(),
            (false, Dialect::Openai | Dialect::Deepseek) => openai::error_frame(),
        };
        match fault {
            Fault::StreamMalformed { .. } => match (self.responses, self.dialect) {
                (true, _) => responses::malformed_frame(seq),
                (false, Dialect::Anthropic) => anthropic::malformed_frame(),
                (false, Dialect::Openai | Dialect::Deepseek) => openai::malformed_chunk(id),
            },
            Fault::ResponseFailed { .. } if self.responses => {
                responses::failed_frame_from(snapshot.unwrap_or(&Value::Null), seq)
            }
            _ => error(),
        }
    }
}

/// Whether a chunk's JSON carries a finish reason that is a string (not `null`), without
/// parsing it: `"finish_reason"`, optional spaces, `:`, optional spaces, then `"`.
fn has_finish_reason(data: &[u8]) -> bool {
    const KEY: &[u8] = b"\"finish_reason\"";
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&data[from..], KEY) {
        let rest = &data[from + at + KEY.len()..];
        let mut it = rest.iter().skip_while(|b| b.is_ascii_whitespace());
        if it.next() == Some(&b':') && it.find(|b| !b.is_ascii_whitespace()) == Some(&b'"') {
            return true;
        }
        from += at + KEY.len();
    }
    false
}

/// Token counts an upstream reported, as the journal records them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: Option<u64>,
    pub completion: Option<u64>,
}

impl Usage {
    /// Reads the `usage` object of an answer or event, wherever the dialect puts it (a chat
    /// answer or chunk, Anthropic's `message_start` / `message_delta`, a Responses snapshot),
    /// when the JSON holds one; a later count replaces an earlier one.
    pub fn read(&mut self, json: &[u8]) {
        let has = |k: &[u8]| memchr::memmem::find(json, k).is_some();
        if !(has(b"\"usage\":{") || has(b"\"usage\": {")) {
            return;
        }
        // Typed, so the rest of a long answer is skipped rather than built into values.
        let Ok(doc) = serde_json::from_slice::<UsageDoc>(json) else { return };
        let nested = |h: Option<UsageHolder>| h.and_then(|h| h.usage);
        for u in [doc.usage, nested(doc.message), nested(doc.response)].into_iter().flatten() {
            self.prompt = u.prompt_tokens.or(u.input_tokens).or(self.prompt);
            self.completion = u.completion_tokens.or(u.output_tokens).or(self.completion);
        }
    }
}

#[derive(Deserialize)]
struct UsageCounts {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct UsageHolder {
    usage: Option<UsageCounts>,
}

#[derive(Deserialize)]
struct UsageDoc {
    usage: Option<UsageCounts>,
    message: Option<UsageHolder>,
    response: Option<UsageHolder>,
}

/// Why an upstream refused, from its status and its error body's `type`/`code` fields; and the
/// code the journal shows (`error.code`, else `error.type`).
pub fn upstream_refusal(status: u16, body: &[u8]) -> (Refusal, Option<String>) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let err = &v["error"];
    let field = |k: &str| err[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let code = field("code").or_else(|| field("type"));
    let spend_limit = err["details"]["error_code"].as_str() == Some("enforced_spend_limit_reached");
    let named = |c: &str| code.as_deref() == Some(c);
    let refusal = match status {
        _ if named("context_length_exceeded") => Refusal::ContextOverflow,
        _ if named("insufficient_quota") || named("billing_error") || spend_limit => Refusal::QuotaExhausted,
        400 | 422 => Refusal::BadRequest,
        401 => Refusal::InvalidKey,
        402 => Refusal::QuotaExhausted,
        404 => Refusal::ModelNotFound,
        413 => Refusal::TooLarge,
        429 => Refusal::RateLimited,
        503 => Refusal::Unavailable,
        529 => Refusal::Overloaded,
        _ => Refusal::Status,
    };
    (refusal, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::encode;

    fn frame(event: Option<&str>, data: &str) -> Frame {
        let mut d = crate::sse::Decoder::new();
        d.feed(&encode(event, data)).remove(0)
    }

    #[test]
    fn terminal_events_per_dialect() {
        let oa = StreamKind::for_path(Dialect::Openai, "/v1/chat/completions");
        assert!(oa.is_terminal(&frame(None, r#"{"choices":[{"delta":{},"finish_reason": "stop"}]}"#)));
        assert!(oa.is_terminal(&frame(None, "[DONE]")));
        assert!(!oa.is_terminal(&frame(None, r#"{"choices":[{"delta":{"content":"x"},"finish_reason":null}]}"#)));
        let an = StreamKind::for_path(Dialect::Anthropic, "/v1/messages");
        assert!(an.is_terminal(&frame(Some("message_delta"), "{}")));
        assert!(!an.is_terminal(&frame(Some("content_block_delta"), "{}")));
        let rs = StreamKind::for_path(Dialect::Openai, "/v1/responses");
        assert!(rs.responses && rs.is_terminal(&frame(Some("response.completed"), "{}")));
    }

    #[test]
    fn the_role_chunk_is_preamble_and_a_token_is_not() {
        let ds = StreamKind::for_path(Dialect::Deepseek, "/chat/completions");
        let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
        let token = r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        assert!(ds.is_preamble(&frame(None, role)));
        assert!(!ds.is_preamble(&frame(None, token)));
        let an = StreamKind::for_path(Dialect::Anthropic, "/v1/messages");
        assert!(an.is_preamble(&frame(Some("ping"), "{}")));
        assert!(!an.is_preamble(&frame(Some("content_block_delta"), "{}")));
    }

    #[test]
    fn usage_is_read_where_each_dialect_puts_it() {
        let mut u = Usage::default();
        u.read(br#"{"choices":[],"usage":null}"#);
        assert_eq!(u, Usage::default());
        u.read(br#"{"type":"message_start","message":{"usage":{"input_tokens":12,"output_tokens":1}}}"#);
        u.read(br#"{"type":"message_delta","usage":{"output_tokens":30}}"#);
        assert_eq!(u, Usage { prompt: Some(12), completion: Some(30) });
        let mut o = Usage::default();
        o.read(br#"{"choices":[],"usage": {"prompt_tokens":8,"completion_tokens":18}}"#);
        assert_eq!(o, Usage { prompt: Some(8), completion: Some(18) });
    }

    #[test]
    fn refusals_are_read_from_status_and_codes() {
        let quota = br#"{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert_eq!(upstream_refusal(429, quota), (Refusal::QuotaExhausted, Some("insufficient_quota".into())));
        assert_eq!(upstream_refusal(429, b"not json").0, Refusal::RateLimited);
        let overflow = br#"{"error":{"type":"invalid_request_error","code":"context_length_exceeded"}}"#;
        assert_eq!(upstream_refusal(400, overflow).0, Refusal::ContextOverflow);
        let anthropic = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(upstream_refusal(529, anthropic), (Refusal::Overloaded, Some("overloaded_error".into())));
        assert_eq!(upstream_refusal(401, b"{}").0, Refusal::InvalidKey);
    }
}
