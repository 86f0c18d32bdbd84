//! Agent-traffic streaming figures for the benchmark: SSE events per second of
//! tool-call and Responses streams against plain chat streams, in one run against one running
//! mock, so the ratios compare like with like on the same machine at the same moment.
//!
//! Each kind streams for SECONDS in all at CONCURRENCY, in five interleaved rounds (so a change
//! in the machine's load during the run weighs on every kind alike); events are counted by
//! decoding the SSE frames the client received. Every stream is checked to have ended with its
//! terminal event.
//!
//! Usage: cargo run --release --example agent_stream_probe -- BASE_URL SECONDS CONCURRENCY

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

const KEY: &str = "sk-bench-0001";

fn tool() -> Value {
    json!({"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3}}, "required": ["query"]})
}

/// (name, path, body, terminal data marker)
fn kinds() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let ask = "use search_docs and create_ticket";
    vec![
        (
            "chat_text",
            "/v1/chat/completions",
            json!({"model": "gpt-5", "stream": true, "messages": [{"role": "user", "content": "hello there"}]}),
            "[DONE]",
        ),
        (
            "chat_tool_calls",
            "/v1/chat/completions",
            json!({"model": "gpt-5", "stream": true, "messages": [{"role": "user", "content": ask}],
                "tools": [{"type": "function", "function": {"name": "search_docs", "parameters": tool()}},
                          {"type": "function", "function": {"name": "create_ticket", "parameters": tool()}}]}),
            "[DONE]",
        ),
        (
            "responses_text",
            "/v1/responses",
            json!({"model": "gpt-5", "stream": true, "input": "hello there"}),
            "response.completed",
        ),
        (
            "responses_tool_calls",
            "/v1/responses",
            json!({"model": "gpt-5", "stream": true, "input": ask,
                "tools": [{"type": "function", "name": "search_docs", "parameters": tool()},
                          {"type": "function", "name": "create_ticket", "parameters": tool()}]}),
            "response.completed",
        ),
    ]
}

/// Streams one kind for `secs`; returns (streams, events, incomplete streams, wall seconds).
async fn run(
    client: &reqwest::Client,
    url: String,
    body: Value,
    terminal: &str,
    secs: f64,
    conc: usize,
) -> (u64, u64, u64, f64) {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(secs);
    let results: Vec<(u64, u64, u64)> = futures::stream::iter(0..conc)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move {
                let (mut streams, mut events, mut broken) = (0, 0, 0);
                while Instant::now() < until {
                    let resp = client.post(&url).bearer_auth(KEY).json(&body).send().await.expect("stream request");
                    let mut s = resp.bytes_stream();
                    let mut dec = gatedrill::sse::Decoder::new();
                    let mut ended = false;
                    while let Some(chunk) = s.next().await {
                        for f in dec.feed(&chunk.expect("stream chunk")) {
                            events += 1;
                            ended |= f.data.as_deref().is_some_and(|d| d.contains(terminal));
                        }
                    }
                    streams += 1;
                    broken += u64::from(!ended);
                }
                (streams, events, broken)
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let sum = |f: fn(&(u64, u64, u64)) -> u64| results.iter().map(f).sum::<u64>();
    (sum(|r| r.0), sum(|r| r.1), sum(|r| r.2), started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("usage: agent_stream_probe BASE_URL SECONDS CONCURRENCY");
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let conc: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let client = gatedrill::tls::builder().build().unwrap();
    const ROUNDS: usize = 5;
    let kinds = kinds();
    let mut totals = vec![(0u64, 0u64, 0u64, 0f64); kinds.len()];
    for _ in 0..ROUNDS {
        for ((_, path, body, terminal), t) in kinds.iter().zip(&mut totals) {
            let url = format!("{base}{path}");
            let (s, e, b, w) = run(&client, url, body.clone(), terminal, secs / ROUNDS as f64, conc).await;
            *t = (t.0 + s, t.1 + e, t.2 + b, t.3 + w);
        }
    }
    let mut baseline = None;
    for ((name, ..), (streams, events, broken, wall)) in kinds.iter().zip(totals) {
        let eps = events as f64 / wall;
        let base_eps = *baseline.get_or_insert(eps);
        println!(
            "{name:<22} streams={streams:<6} events={events:<8} events_per_stream={:<6.1} events_per_s={eps:<9.0} vs_chat_text={:.2} incomplete={broken}",
            events as f64 / streams.max(1) as f64,
            eps / base_eps
        );
    }
}
