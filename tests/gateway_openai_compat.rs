//! The reference gateway reached as an OpenAI-compatible gateway: `POST /v1/chat/completions`
//! with a role as the model and the admin token as the bearer key, served through the failover
//! runtime. Plain and streamed answers in the OpenAI shape, failover when the primary fails (who
//! served is read from the providers' journal, not from the gateway's header), the gateway's own
//! 429 with a Retry-After when every link is rate limited, and refusals in the OpenAI error shape.

mod common;

use common::stack::{ADMIN_TOKEN, Stack, stack};
use common::{client, journal, load_rules};
use serde_json::{Value, json};

async fn chat(s: &Stack, token: &str, body: Value) -> reqwest::Response {
    client().post(format!("{}/v1/chat/completions", s.gw.url)).bearer_auth(token).json(&body).send().await.unwrap()
}

fn request(stream: bool) -> Value {
    json!({"model": "author", "stream": stream, "stream_options": {"include_usage": true},
           "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"}]})
}

async fn attempts(s: &Stack, provider: &str) -> usize {
    journal(&s.fleet, provider).await["records"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_plain_answer_in_the_openai_shape_through_the_chain() {
    let s = stack(&[]).await;
    let r = chat(&s, ADMIN_TOKEN, request(false)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-5");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert!(!v["choices"][0]["message"]["content"].as_str().unwrap().is_empty());
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let u = &v["usage"];
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
    assert!(u["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(attempts(&s, "openai").await, 1);
}

#[tokio::test]
async fn a_stream_is_whole_chunks_then_done_and_fails_over_before_the_first_byte() {
    let s = stack(&[]).await;
    load_rules(
        &s.fleet,
        json!([{"id": "cut", "fault": {"kind": "stream_cut", "after_events": 2}, "match": {"provider": "openai"}}]),
    );
    let r = chat(&s, ADMIN_TOKEN, request(true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.last(), Some(&"data: [DONE]"));
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|f| serde_json::from_str(f.strip_prefix("data: ").unwrap()).unwrap())
        .collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"));
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(!content.is_empty());
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.last().unwrap()["usage"]["total_tokens"].as_u64().unwrap() > 0, "include_usage: the last chunk");
    // The primary's stream broke: the answer came from the fallback, as the journal shows.
    assert_eq!(chunks[0]["model"], "claude-sonnet-4-5");
    let served = journal(&s.fleet, "anthropic").await;
    assert_eq!(served["records"].as_array().unwrap().last().unwrap()["outcome"], "completed");
}

#[tokio::test]
async fn every_link_rate_limited_is_the_gateways_own_429_with_retry_after() {
    let s = stack(&[("AI_PROVIDER_COOLDOWN_MS", "50")]).await;
    load_rules(&s.fleet, json!([{"id": "all-429", "fault": {"kind": "rate_limit", "retry_after": "3s"}}]));
    let r = chat(&s, ADMIN_TOKEN, request(false)).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "the soonest link back, in seconds: {wait}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    // A total outage is a 503, still saying when to come back.
    let s = stack(&[]).await;
    load_rules(&s.fleet, json!([{"id": "down", "fault": {"kind": "outage", "mode": "http_503"}}]));
    let r = chat(&s, ADMIN_TOKEN, request(false)).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn refusals_are_in_the_openai_error_shape() {
    let s = stack(&[]).await;
    let r = chat(&s, "wrong-token", request(false)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_api_key");
    let r = chat(&s, ADMIN_TOKEN, json!({"model": "gpt-5", "messages": []})).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "model_not_found");
    let r = chat(&s, ADMIN_TOKEN, json!({"model": "author"})).await;
    assert_eq!(r.status(), 400);
    assert_eq!(attempts(&s, "openai").await, 0, "nothing reached a provider");
}
