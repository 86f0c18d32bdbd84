//! Streaming figures for the benchmarks: time to first byte and SSE events per second, over a
//! bounded number of streamed chat completions against a running OpenAI-dialect server (the
//! mock, or a peer in `bench/peers.py`). A failed stream is counted, never a panic, so one
//! misbehaving peer cannot crash the benchmark; every request has a 30 s timeout.
//!
//! Usage: cargo run --release --example stream_probe -- BASE_URL STREAMS CONCURRENCY [MODEL] [KEY]
//! Prints one line of `key=value` pairs.

use std::time::{Duration, Instant};

use futures::StreamExt;

/// One stream's outcome: time to first byte (ms) and events, or nothing when it failed.
async fn one_stream(req: reqwest::RequestBuilder) -> Option<(f64, u64)> {
    let t0 = Instant::now();
    let resp = req.send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let mut s = resp.bytes_stream();
    let mut ttfb = None;
    let mut dec = gatedrill::sse::Decoder::new();
    let mut events = 0u64;
    while let Some(chunk) = s.next().await {
        let chunk = chunk.ok()?;
        ttfb.get_or_insert_with(|| t0.elapsed().as_secs_f64() * 1000.0);
        events += dec.feed(&chunk).len() as u64;
    }
    Some((ttfb?, events))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("usage: stream_probe BASE_URL STREAMS CONCURRENCY [MODEL] [KEY]");
    let streams: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16).max(1);
    let model = args.next().unwrap_or_else(|| "gpt-5".into());
    let key = args.next().unwrap_or_else(|| "sk-bench-0001".into());
    let client = gatedrill::tls::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client");
    let body = serde_json::json!({"model": model, "stream": true, "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello there"}]});
    let started = Instant::now();
    let results: Vec<Option<(f64, u64)>> = futures::stream::iter(0..streams)
        .map(|_| one_stream(client.post(format!("{base}/v1/chat/completions")).bearer_auth(&key).json(&body)))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed().as_secs_f64();
    let ok: Vec<(f64, u64)> = results.iter().flatten().copied().collect();
    let failed = results.len() - ok.len();
    let mut ttfb: Vec<f64> = ok.iter().map(|r| r.0).collect();
    ttfb.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if ttfb.is_empty() { f64::NAN } else { ttfb[((ttfb.len() as f64 - 1.0) * p).round() as usize] }
    };
    let events: u64 = ok.iter().map(|r| r.1).sum();
    println!(
        "streams={streams} concurrency={concurrency} failed={failed} ttfb_p50_ms={:.3} ttfb_p99_ms={:.3} \
         events={events} events_per_s={:.0} streams_per_s={:.1} wall_s={wall:.2}",
        pct(0.5),
        pct(0.99),
        events as f64 / wall,
        ok.len() as f64 / wall
    );
}
