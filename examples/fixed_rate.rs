//! A fixed-rate load for the benchmarks (wrk2's open model): request `i` is due at `i / RATE`
//! seconds from the start whether or not earlier ones have answered, and its latency counts
//! from when it was due, so a slow server cannot hide behind a load generator that waited for
//! it (coordinated omission). Each request reads its whole answer (a stream to its end). The
//! same program measures every leg of `bench/gateway_overhead.sh`, so their difference is the
//! server's, not the client's.
//!
//! Bounded: at most CONNECTIONS requests in flight (a due request waits for a free slot, the
//! wait counts in its latency, and `late_sends` says how often a request left more than 1 ms
//! after it was due), a 10 s timeout per request, RATE x SECONDS requests in all.
//!
//! Usage: fixed_rate URL RATE SECONDS CONNECTIONS BODY_JSON [HEADER:VALUE ...]
//! Prints one line of `key=value` pairs (latencies in ms; `sent_*` measured from the real send,
//! for comparison).

use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

const USAGE: &str = "usage: fixed_rate URL RATE SECONDS CONNECTIONS BODY_JSON [HEADER:VALUE ...]";

/// Sends one request and reads its answer to the end; true when it was a 2xx read whole.
async fn one(req: reqwest::RequestBuilder) -> bool {
    let Ok(resp) = req.send().await else { return false };
    let ok = resp.status().is_success();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        if chunk.is_err() {
            return false;
        }
    }
    ok
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect(USAGE);
    let rate: f64 =
        args.next().and_then(|s| s.parse().ok()).filter(|r: &f64| *r > 0.0 && *r <= 100_000.0).expect(USAGE);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).filter(|s: &f64| *s > 0.0 && *s <= 3600.0).expect(USAGE);
    let connections: usize = args.next().and_then(|s| s.parse().ok()).filter(|c| *c > 0).expect(USAGE);
    let body = args.next().expect(USAGE);
    let headers: Vec<(String, String)> =
        args.filter_map(|h| h.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let client = gatedrill::tls::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(connections)
        .build()
        .expect("HTTP client");
    let total = (rate * secs).floor() as u64;
    // From the due time (the open model's latency) and from the real send (what a closed
    // client would report), in microseconds.
    let new_hist = || hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let (mut hist, mut sent_hist) = (new_hist(), new_hist());
    let (mut errors, mut late) = (0u64, 0u64);
    let mut in_flight = FuturesUnordered::new();
    let started = Instant::now();
    let mut next = 0u64;
    while next < total || !in_flight.is_empty() {
        let due = started + Duration::from_secs_f64(next as f64 / rate);
        tokio::select! {
            biased;
            Some((ok, due, sent)) = in_flight.next(), if !in_flight.is_empty() => {
                let (ok, due, sent): (bool, Instant, Instant) = (ok, due, sent);
                let now = Instant::now();
                hist.saturating_record((now.saturating_duration_since(due).as_micros() as u64).max(1));
                sent_hist.saturating_record((now.saturating_duration_since(sent).as_micros() as u64).max(1));
                errors += u64::from(!ok);
            }
            _ = tokio::time::sleep_until(due), if next < total && in_flight.len() < connections => {
                // Sent more than a millisecond after it was due: the load generator fell behind
                // (or every slot was busy); the latency still counts from `due`.
                let sent = Instant::now();
                late += u64::from(sent.saturating_duration_since(due) > Duration::from_millis(1));
                let mut req = client.post(&url).header("content-type", "application/json").body(body.clone());
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                in_flight.push(async move { (one(req).await, due, sent) });
                next += 1;
            }
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "requests={total} errors={errors} late_sends={late} rate={rate} achieved_rate={:.1} \
         p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} \
         sent_p50_ms={:.3} sent_p99_ms={:.3}",
        total as f64 / wall,
        ms(&hist, 0.5),
        ms(&hist, 0.9),
        ms(&hist, 0.99),
        ms(&hist, 0.999),
        hist.max() as f64 / 1000.0,
        ms(&sent_hist, 0.5),
        ms(&sent_hist, 0.99),
    );
}
