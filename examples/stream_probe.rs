//! Streaming figures for the benchmark: time to first byte and SSE events per second, over a
//! bounded number of streamed chat completions against a running mock.
//!
//! Usage: cargo run --release --example stream_probe -- BASE_URL STREAMS CONCURRENCY

use std::time::Instant;

use futures::StreamExt;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args.next().expect("usage: stream_probe BASE_URL STREAMS CONCURRENCY");
    let streams: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let client = reqwest::Client::new();
    let body = serde_json::json!({"model": "gpt-5", "stream": true, "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello there"}]});
    let started = Instant::now();
    let results: Vec<(f64, u64)> = futures::stream::iter(0..streams)
        .map(|_| {
            let req = client.post(format!("{base}/v1/chat/completions")).bearer_auth("sk-bench-0001").json(&body);
            async move {
                let t0 = Instant::now();
                let resp = req.send().await.expect("stream request");
                let mut s = resp.bytes_stream();
                let mut ttfb = None;
                let mut dec = gatedrill::sse::Decoder::new();
                let mut events = 0u64;
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.expect("stream chunk");
                    ttfb.get_or_insert_with(|| t0.elapsed().as_secs_f64() * 1000.0);
                    events += dec.feed(&chunk).len() as u64;
                }
                (ttfb.unwrap_or(f64::NAN), events)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed().as_secs_f64();
    let mut ttfb: Vec<f64> = results.iter().map(|r| r.0).collect();
    ttfb.sort_by(f64::total_cmp);
    let pct = |p: f64| ttfb[((ttfb.len() as f64 - 1.0) * p).round() as usize];
    let events: u64 = results.iter().map(|r| r.1).sum();
    println!(
        "streams={streams} concurrency={concurrency} ttfb_p50_ms={:.3} ttfb_p99_ms={:.3} events={events} events_per_s={:.0} wall_s={wall:.2}",
        pct(0.5),
        pct(0.99),
        events as f64 / wall
    );
}
