//! A chat completion through an OpenAI-compatible gateway (WIRE: OpenAI chat completions), the
//! way most teams' gateways are reached (LiteLLM, Portkey, the reference gateway's
//! `/v1/chat/completions`). The answer is judged as a client would take it (a whole answer: a
//! finish reason, and for a stream every chunk then `[DONE]`), and the gateway's conduct from the
//! providers' side: the probe marker in the prompt ties each provider attempt to this request, so
//! who served it and how often each provider was tried are read from the journal, never from the
//! gateway's own headers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Check, StepCtx, check, expect_eq, status_check};
use crate::classify::conduct::{Evidence, Finding};
use crate::classify::requests::Api;
use crate::drill::exchange::{Auth, Observed};
use crate::drill::observe::{Endpoint, Exchanged};
use crate::duration::Dur;
use crate::metrics::slo::TaskOutcome;
use crate::mock::journal::Outcome;
use crate::scenario::steps::{ChatApi, ChatExpect};
use crate::wire::paths;

/// What a chat completion answer amounted to, read from its bytes.
#[derive(Debug, Default, PartialEq)]
pub struct ChatAnswer {
    pub finish_reason: Option<String>,
    /// A stream ended with `data: [DONE]`.
    pub terminated: bool,
    pub content: String,
}

impl ChatAnswer {
    /// A whole answer: a finish reason, and a stream's terminator.
    pub fn complete(&self, stream: bool) -> bool {
        self.finish_reason.is_some() && (!stream || self.terminated)
    }
}

/// Reads an answer of either API: chat completions below, messages in [`read_message`].
pub fn read_any(api: ChatApi, body: &[u8], stream: bool) -> ChatAnswer {
    match api {
        ChatApi::Openai => read_answer(body, stream),
        ChatApi::Anthropic => read_message(body, stream),
    }
}

/// Reads an Anthropic message: one JSON object, or a stream of typed events whose
/// `message_delta` carries the `stop_reason` and whose `message_stop` ends it.
pub fn read_message(body: &[u8], stream: bool) -> ChatAnswer {
    let mut a = ChatAnswer::default();
    if !stream {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            a.finish_reason = v["stop_reason"].as_str().map(str::to_string);
            for block in v["content"].as_array().into_iter().flatten() {
                a.content.push_str(block["text"].as_str().unwrap_or_default());
            }
        }
        return a;
    }
    let text = String::from_utf8_lossy(body);
    for data in text.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim) {
        let Ok(v) = serde_json::from_str::<Value>(data) else { continue };
        match v["type"].as_str() {
            Some("content_block_delta") => a.content.push_str(v["delta"]["text"].as_str().unwrap_or_default()),
            Some("message_delta") => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    a.finish_reason = Some(r.to_string());
                }
            }
            Some("message_stop") => a.terminated = true,
            _ => {}
        }
    }
    a
}

/// Reads a plain answer (one JSON object) or a stream (SSE `data:` lines of chunks).
pub fn read_answer(body: &[u8], stream: bool) -> ChatAnswer {
    let mut a = ChatAnswer::default();
    let mut take = |v: &Value| {
        let choice = &v["choices"][0];
        if let Some(f) = choice["finish_reason"].as_str() {
            a.finish_reason = Some(f.to_string());
        }
        let text = if stream { &choice["delta"]["content"] } else { &choice["message"]["content"] };
        if let Some(t) = text.as_str() {
            a.content.push_str(t);
        }
    };
    if !stream {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            take(&v);
        }
        return a;
    }
    let text = String::from_utf8_lossy(body);
    let mut terminated = false;
    for data in text.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim) {
        if data == "[DONE]" {
            terminated = true;
        } else if let Ok(v) = serde_json::from_str::<Value>(data) {
            take(&v);
        }
    }
    a.terminated = terminated;
    a
}

/// The request's attempts per provider, and the provider whose attempt completed, from the
/// journal records carrying this request's marker.
async fn journal_view(ctx: &StepCtx<'_>, marker: &str) -> Option<(BTreeMap<String, u64>, Option<String>)> {
    let fleet = ctx.fleet?;
    // A provider journals an answer's end just after writing it, so the client can hold the
    // answer a moment before its record says so: wait (bounded) for this request's records.
    let settle = tokio::time::Instant::now() + Duration::from_millis(500);
    let mine = loop {
        let mine: Vec<_> =
            fleet.journal().await?.into_iter().filter(|r| r.test_id.as_deref() == Some(marker)).collect();
        let now = tokio::time::Instant::now();
        if !mine.iter().any(|r| r.outcome == Outcome::InFlight) || now >= settle.min(ctx.until) {
            break mine;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let mut attempts = BTreeMap::new();
    for r in &mine {
        *attempts.entry(r.provider.clone()).or_insert(0) += 1;
    }
    let served = mine.iter().rev().find(|r| r.outcome == Outcome::Completed).map(|r| r.provider.clone());
    Some((attempts, served))
}

/// The body of one chat completion request carrying `marker` in its last user message.
pub fn body(model: &str, prompt: &str, stream: bool, marker: &str) -> Value {
    let mut b = json!({"model": model, "messages": [{"role": "user", "content": format!("{prompt} [gatedrill probe {marker}]")}]});
    if stream {
        b["stream"] = json!(true);
    }
    b
}

/// One chat completion as a task for the SLO windows. Whether a fallback served it is not in an
/// OpenAI-shaped answer (only in the journal), so these tasks give no fallback rate rather than
/// a false zero.
pub fn task(seen: &Observed, answer: &ChatAnswer, stream: bool) -> TaskOutcome {
    let ok = seen.is(200) && answer.complete(stream);
    TaskOutcome { ok, latency: seen.latency, ..Default::default() }
}

/// `POST /v1/chat/completions`, with expectations on the answer and on the providers' journal.
pub async fn chat(
    ctx: &mut StepCtx<'_>,
    out: &mut Vec<Check>,
    (model, api): (&str, ChatApi),
    prompt: Option<&str>,
    stream: bool,
    timeout: Option<Dur>,
    expect: &ChatExpect,
) {
    let marker = format!("chat-{}-{}", ctx.step.0 + 1, ctx.next_probe());
    let mut body = body(model, prompt.unwrap_or("health probe: summarize fallback readiness"), stream, &marker);
    let path = match api {
        ChatApi::Openai => paths::CHAT_COMPLETIONS,
        ChatApi::Anthropic => {
            // The messages API requires an output budget.
            body["max_tokens"] = json!(256);
            paths::MESSAGES
        }
    };
    let wait = timeout.map_or(ctx.ex.deadline, |t| t.0.min(Duration::from_secs(600)));
    let sent_ms = ctx.fleet_ms();
    let seen = ctx.send_within(reqwest::Method::POST, path, Some(&body), Auth::Bearer, wait).await;
    let answer = read_any(api, &seen.body, stream);
    let t = task(&seen, &answer, stream);
    ctx.probe_task(t);
    ctx.client_request(ctx.took(Api::Chat, (&marker, model), sent_ms, &seen, t.ok, !answer.content.is_empty()));
    ctx.record(Exchanged {
        endpoint: Endpoint::Chat,
        method: "POST",
        path,
        seen: &seen,
        ok: t.ok,
        keep_body: !stream,
        signal: None,
    });
    let want = expect.status.unwrap_or(200);
    if !status_check(out, want, &seen) {
        return;
    }
    if want == 200 {
        let whole = answer.complete(stream);
        let (reason, end) = match api {
            ChatApi::Openai => ("finish_reason", "[DONE]"),
            ChatApi::Anthropic => ("stop_reason", "message_stop"),
        };
        let how = |a: &ChatAnswer| {
            let ended = if a.terminated { format!(", {end}") } else { format!(", no {end}") };
            format!(
                "{reason} {}{}",
                a.finish_reason.as_deref().unwrap_or("absent"),
                if stream { ended } else { String::new() }
            )
        };
        out.push(check(
            "complete answer",
            whole == expect.complete.unwrap_or(true),
            format!("a {reason} (and {end})"),
            how(&answer),
        ));
    }
    if let Some(want) = expect.retry_after {
        let got = seen.retry_after.is_some();
        out.push(check(
            "Retry-After",
            got == want,
            want.to_string(),
            seen.retry_after.clone().unwrap_or("absent".into()),
        ));
    }
    if let Some(limit) = expect.latency_under {
        let took = Dur(seen.latency);
        out.push(check("latency", seen.latency < limit.0, format!("under {limit}"), took.to_string()));
    }
    let view = if ctx.fleet.is_some() { journal_view(ctx, &marker).await } else { None };
    // A whole answer that no provider gave: the gateway made its ending up (a truncated stream
    // passed off with a finish reason and [DONE] of its own), whatever its headers say.
    if let Some((attempts, None)) = &view
        && seen.is(200)
        && answer.complete(stream)
        && !attempts.is_empty()
    {
        let tried: Vec<String> = attempts.iter().map(|(p, n)| format!("{p} x{n}")).collect();
        ctx.findings.push(Evidence {
            finding: Finding::TruncatedSuccessAccepted,
            provider: attempts.keys().cloned().collect::<Vec<_>>().join(","),
            detail: format!(
                "request {marker}: the client got a whole answer, yet no provider's attempt completed ({})",
                tried.join(", ")
            ),
        });
    }
    if expect.served_by.is_none() && expect.attempts.is_none() {
        return;
    }
    let Some((attempts, served)) = view else {
        // The providers are not gatedrill's: what it cannot see is not a pass.
        out.push(check(
            "providers' journal",
            false,
            "the mocks behind the gateway",
            "no journal: a fleet gatedrill does not run",
        ));
        return;
    };
    expect_eq(out, "served by (journal)", expect.served_by.as_ref(), served.as_ref());
    if let Some(want) = &expect.attempts {
        for (provider, n) in want {
            let got = attempts.get(provider).copied().unwrap_or(0);
            out.push(check(&format!("attempts on {provider} (journal)"), got == *n, n.to_string(), got.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_whole_only_with_a_finish_reason_and_its_terminator() {
        let whole = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        let a = read_answer(whole, true);
        assert!(a.complete(true) && a.content == "hi");
        let no_done = &whole[..whole.len() - 16];
        assert!(!read_answer(no_done, true).complete(true), "no [DONE]");
        let no_finish = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n";
        assert!(!read_answer(no_finish, true).complete(true), "a terminator without a finish reason");
        let plain = br#"{"choices":[{"message":{"content":"ok"},"finish_reason":"length"}]}"#;
        assert_eq!(read_answer(plain, false).finish_reason.as_deref(), Some("length"));
        assert!(!read_answer(b"garbage", false).complete(false));
    }

    #[test]
    fn a_message_is_whole_only_with_a_stop_reason_and_its_message_stop() {
        let whole = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let a = read_message(whole, true);
        assert!(a.complete(true) && a.content == "hi", "{a:?}");
        let cut = &whole[..whole.len() - 50];
        assert!(!read_message(cut, true).complete(true), "no message_stop");
        let plain = br#"{"type":"message","content":[{"type":"text","text":"ok"}],"stop_reason":"max_tokens"}"#;
        let p = read_message(plain, false);
        assert_eq!((p.finish_reason.as_deref(), p.content.as_str()), (Some("max_tokens"), "ok"));
        assert!(!read_message(br#"{"type":"error"}"#, false).complete(false));
    }
}
