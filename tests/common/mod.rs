//! Shared helpers for the integration tests: a fleet on loopback port 0 and requests in each
//! dialect's own shape.
#![allow(dead_code)]

pub mod artifacts;
pub mod hostile;
pub mod stack;

use std::time::Duration;

use gatedrill::mock::config::{Dialect, FleetConfig};
use gatedrill::mock::faults::FaultSet;
use gatedrill::mock::{FleetOptions, ProviderFleet};
use serde_json::{Value, json};

pub async fn fleet() -> ProviderFleet {
    fleet_with(FleetOptions::new(FleetConfig::embedded())).await
}

pub async fn fleet_with(opts: FleetOptions) -> ProviderFleet {
    ProviderFleet::start(opts).await.expect("fleet starts on loopback")
}

pub fn client() -> reqwest::Client {
    gatedrill::tls::builder().timeout(Duration::from_secs(10)).pool_max_idle_per_host(0).build().unwrap()
}

pub const DIALECTS: [(Dialect, &str, &str); 3] = [
    (Dialect::Openai, "openai", "gpt-5"),
    (Dialect::Anthropic, "anthropic", "claude-sonnet-4-5"),
    (Dialect::Deepseek, "deepseek", "deepseek-chat"),
];

pub fn key(d: Dialect) -> &'static str {
    match d {
        Dialect::Openai => "sk-gatedrill-openai-0001",
        Dialect::Anthropic => "sk-ant-gatedrill-0001",
        Dialect::Deepseek => "sk-gatedrill-deepseek-0001",
    }
}

pub fn path(d: Dialect) -> &'static str {
    match d {
        Dialect::Openai => "/v1/chat/completions",
        Dialect::Anthropic => "/v1/messages",
        Dialect::Deepseek => "/chat/completions",
    }
}

/// A chat request body in the dialect's shape.
pub fn body(d: Dialect, model: &str, stream: bool, max_tokens: Option<u64>, prompt: &str) -> Value {
    let mut b = json!({"model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream});
    match d {
        Dialect::Anthropic => b["max_tokens"] = json!(max_tokens.unwrap_or(1024)),
        _ => {
            if let Some(m) = max_tokens {
                b["max_tokens"] = json!(m);
            }
            if stream {
                b["stream_options"] = json!({"include_usage": true});
            }
        }
    }
    b
}

/// A request with the dialect's auth headers.
pub fn request(c: &reqwest::Client, base: &str, d: Dialect, key: &str, body: &Value) -> reqwest::RequestBuilder {
    let rb = c.post(format!("{base}{}", path(d))).json(body);
    match d {
        Dialect::Anthropic => rb.header("x-api-key", key).header("anthropic-version", "2023-06-01"),
        _ => rb.bearer_auth(key),
    }
}

pub async fn chat(fleet: &ProviderFleet, d: Dialect, name: &str, model: &str, stream: bool) -> reqwest::Response {
    let base = fleet.url(name).unwrap();
    request(&client(), base, d, key(d), &body(d, model, stream, None, "hello there")).send().await.unwrap()
}

pub async fn add_rules(fleet: &ProviderFleet, provider: &str, rules: Value) -> reqwest::Response {
    let url = format!("{}/_gatedrill/faults", fleet.url(provider).unwrap());
    client().post(url).json(&json!({ "rules": rules })).send().await.unwrap()
}

pub fn load_rules(fleet: &ProviderFleet, rules: Value) {
    let set: FaultSet = serde_json::from_value(json!({ "rules": rules })).unwrap();
    fleet.add_rules(set.rules).unwrap();
}

/// GET a path on a provider and parse the JSON answer.
pub async fn get_json(fleet: &ProviderFleet, provider: &str, path: &str) -> Value {
    let url = format!("{}{path}", fleet.url(provider).unwrap());
    client().get(url).send().await.unwrap().json().await.unwrap()
}

/// The journal of one provider.
pub async fn journal(fleet: &ProviderFleet, provider: &str) -> Value {
    get_json(fleet, provider, "/_gatedrill/journal").await
}

/// The journal record of the last attempt on a provider, once it has left `in_flight`.
pub async fn last_attempt(fleet: &ProviderFleet, provider: &str) -> Value {
    for _ in 0..200 {
        let j = journal(fleet, provider).await;
        if let Some(r) = j["records"].as_array().and_then(|r| r.last())
            && r["outcome"] != "in_flight"
        {
            return r.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no finished attempt on {provider}");
}

/// Reads a whole streamed body, returning the bytes received and whether it ended cleanly.
pub async fn read_stream(resp: reqwest::Response) -> (Vec<u8>, Result<(), reqwest::Error>) {
    use futures::StreamExt;
    let mut s = resp.bytes_stream();
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        match chunk {
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => return (out, Err(e)),
        }
    }
    (out, Ok(()))
}

/// Decodes SSE bytes into frames, returning them and the unterminated tail.
pub fn frames(bytes: &[u8]) -> (Vec<gatedrill::sse::Frame>, bytes::Bytes) {
    let mut d = gatedrill::sse::Decoder::new();
    let f = d.feed(bytes);
    (f, d.finish())
}
