//! Golden shapes of each dialect's answers, headers and stream framing (../shared/WIRE.md).

mod common;

use common::*;
use gatedrill::mock::config::Dialect;
use serde_json::Value;

#[tokio::test]
async fn openai_plain_answer_has_the_documented_shape() {
    let f = fleet().await;
    let r = chat(&f, Dialect::Openai, "openai", "gpt-5", false).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(h["x-request-id"].to_str().unwrap().starts_with("req_"));
    for name in
        ["limit-requests", "limit-tokens", "remaining-requests", "remaining-tokens", "reset-requests", "reset-tokens"]
    {
        assert!(h.contains_key(format!("x-ratelimit-{name}").as_str()), "{name}");
    }
    let reset = h["x-ratelimit-reset-requests"].to_str().unwrap();
    assert!(reset.ends_with("ms") || reset.ends_with('s'), "Go-style duration: {reset}");
    let text = r.text().await.unwrap();
    assert!(text.starts_with(r#"{"id":"chatcmpl-"#), "field order as the API sends it: {text}");
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(b["object"], "chat.completion");
    assert_eq!(b["choices"][0]["message"]["role"], "assistant");
    assert_eq!(b["choices"][0]["finish_reason"], "stop");
    assert!(b["choices"][0]["message"]["refusal"].is_null());
    let u = &b["usage"];
    assert_eq!(u["total_tokens"], u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap());
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 0);
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 0);
    // "hello there" is 2 tokens in o200k: 3 per message + 1 role + 2 + 3 priming.
    assert_eq!(u["prompt_tokens"], 9);
}

#[tokio::test]
async fn anthropic_plain_answer_and_rate_limit_headers() {
    let f = fleet().await;
    let r = chat(&f, Dialect::Anthropic, "anthropic", "claude-sonnet-4-5", false).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert!(h["request-id"].to_str().unwrap().starts_with("req_"));
    let reset = h["anthropic-ratelimit-requests-reset"].to_str().unwrap();
    assert!(humantime::parse_rfc3339(reset).is_ok(), "RFC 3339 reset: {reset}");
    for fam in ["requests", "tokens", "input-tokens", "output-tokens"] {
        assert!(h.contains_key(format!("anthropic-ratelimit-{fam}-remaining").as_str()), "{fam}");
    }
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["type"], "message");
    assert!(b["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(b["content"][0]["type"], "text");
    assert_eq!(b["stop_reason"], "end_turn");
    assert!(b["stop_sequence"].is_null());
    assert!(b["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(b["usage"]["cache_read_input_tokens"], 0);
}

#[tokio::test]
async fn deepseek_answers_on_both_paths_without_ratelimit_headers() {
    let f = fleet().await;
    let base = f.url("deepseek").unwrap();
    for p in ["/chat/completions", "/v1/chat/completions"] {
        let r = client()
            .post(format!("{base}{p}"))
            .bearer_auth(key(Dialect::Deepseek))
            .json(&body(Dialect::Deepseek, "deepseek-chat", false, None, "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{p}");
        assert!(r.headers().contains_key("x-ds-trace-id"));
        assert!(!r.headers().keys().any(|k| k.as_str().starts_with("x-ratelimit")));
        let b: Value = r.json().await.unwrap();
        let u = &b["usage"];
        assert_eq!(u["prompt_cache_hit_tokens"], 0);
        assert_eq!(u["prompt_cache_miss_tokens"], u["prompt_tokens"]);
    }
}

#[tokio::test]
async fn openai_stream_framing_with_usage_then_done() {
    let f = fleet().await;
    let r = chat(&f, Dialect::Openai, "openai", "gpt-5", true).await;
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (bytes, end) = read_stream(r).await;
    assert!(end.is_ok());
    let (fr, tail) = frames(&bytes);
    assert!(tail.is_empty(), "clean end leaves nothing behind");
    let datas: Vec<&str> = fr.iter().map(|f| f.data.as_deref().unwrap()).collect();
    assert_eq!(*datas.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = datas[..datas.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let id = &chunks[0]["id"];
    assert!(chunks.iter().all(|c| &c["id"] == id && c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "");
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], serde_json::json!([]));
    assert!(usage_chunk["usage"]["total_tokens"].as_u64().unwrap() > 0);
    let fin = &chunks[chunks.len() - 2];
    assert_eq!(fin["choices"][0]["finish_reason"], "stop");
    assert_eq!(fin["choices"][0]["delta"], serde_json::json!({}));
    assert!(chunks[..chunks.len() - 1].iter().all(|c| c["usage"].is_null()), "earlier chunks carry usage: null");
    assert_eq!(
        chunks.len() - 3,
        usage_chunk["usage"]["completion_tokens"].as_u64().unwrap() as usize,
        "one chunk per token"
    );
}

#[tokio::test]
async fn anthropic_stream_event_sequence() {
    let f = fleet().await;
    let r = chat(&f, Dialect::Anthropic, "anthropic", "claude-sonnet-4-5", true).await;
    let (bytes, end) = read_stream(r).await;
    assert!(end.is_ok());
    let (fr, tail) = frames(&bytes);
    assert!(tail.is_empty());
    let names: Vec<&str> = fr.iter().map(|f| f.event.as_deref().unwrap()).collect();
    assert_eq!(&names[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(&names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    assert!(names[3..names.len() - 3].iter().all(|n| *n == "content_block_delta"));
    assert!(fr.iter().all(|f| f.data.as_deref() != Some("[DONE]")), "no [DONE] in Anthropic streams");
    let delta: Value = serde_json::from_str(fr[names.len() - 2].data.as_deref().unwrap()).unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"].as_u64().unwrap() as usize, names.len() - 6, "cumulative output tokens");
}

#[tokio::test]
async fn max_tokens_cuts_with_length_in_every_dialect() {
    let f = fleet().await;
    for (d, name, model) in DIALECTS {
        let r = request(&client(), f.url(name).unwrap(), d, key(d), &body(d, model, false, Some(3), "hi"))
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap();
        match d {
            Dialect::Anthropic => {
                assert_eq!(b["stop_reason"], "max_tokens");
                assert_eq!(b["usage"]["output_tokens"], 3);
            }
            _ => {
                assert_eq!(b["choices"][0]["finish_reason"], "length", "{name}");
                assert_eq!(b["usage"]["completion_tokens"], 3);
            }
        }
    }
}

#[tokio::test]
async fn answers_are_deterministic_for_seed_and_body() {
    let f = fleet().await;
    let text = |b: Value| b["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let a = text(chat(&f, Dialect::Openai, "openai", "gpt-5", false).await.json().await.unwrap());
    let b = text(chat(&f, Dialect::Openai, "openai", "gpt-5", false).await.json().await.unwrap());
    assert_eq!(a, b);
    let other = request(
        &client(),
        f.url("openai").unwrap(),
        Dialect::Openai,
        key(Dialect::Openai),
        &body(Dialect::Openai, "gpt-5", false, None, "another prompt"),
    );
    let c = text(other.send().await.unwrap().json().await.unwrap());
    assert_ne!(a, c);
}

#[tokio::test]
async fn models_lists() {
    let f = fleet().await;
    let oa = get_json(&f, "openai", "/v1/models").await;
    assert_eq!(oa["object"], "list");
    assert!(oa["data"].as_array().unwrap().iter().any(|m| m["id"] == "gpt-5" && m["object"] == "model"));
    let an = get_json(&f, "anthropic", "/v1/models").await;
    assert_eq!(an["has_more"], false);
    assert!(an["data"].as_array().unwrap().iter().any(|m| m["type"] == "model"));
}
