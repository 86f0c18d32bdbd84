//! Load against the gateway, always bounded: a closed model (`concurrency` workers for `count`
//! requests) or an open model (`rate` per second for `duration`, each request scheduled in
//! advance, so a slow gateway cannot slow the schedule down). Loopback targets only, unless
//! `--allow-load`. Latencies are kept per request here (at most 100k); HdrHistograms with
//! coordinated-omission correction are the next issue's.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use super::steps::StepCtx;
use crate::scenario::steps::LoadAgainst;

/// How a load step sends.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Closed { concurrency: u32, count: u64 },
    Open { rate: f64, duration: Duration },
}

impl Shape {
    /// From a validated step (validation guarantees one complete shape).
    pub fn from_step(
        concurrency: Option<u32>,
        count: Option<u64>,
        rate: Option<f64>,
        duration: Option<Duration>,
    ) -> Shape {
        match (concurrency, count, rate, duration) {
            (Some(c), Some(n), _, _) => Shape::Closed { concurrency: c, count: n },
            (_, _, Some(r), Some(d)) => Shape::Open { rate: r, duration: d },
            _ => Shape::Closed { concurrency: 1, count: 1 },
        }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    pub against: String,
    pub sent: u64,
    pub errors: u64,
    pub statuses: BTreeMap<String, u64>,
    pub duration_ms: f64,
    pub achieved_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

impl LoadReport {
    pub fn error_rate(&self) -> f64 {
        if self.sent == 0 { 0.0 } else { self.errors as f64 / self.sent as f64 }
    }
}

/// One request of the load; returns (success, status label, latency).
async fn one(ctx: &StepCtx<'_>, against: LoadAgainst, role: &str, i: u64) -> (bool, String, f64) {
    let started = Instant::now();
    let (ok, label) = match against {
        LoadAgainst::DryRun => {
            let ex = ctx
                .call(
                    reqwest::Method::POST,
                    "/api/admin/ai-runtime/dry-run",
                    Some(&json!({"role": role, "prompt": format!("load probe {i}"), "timeoutMs": 5000})),
                    true,
                )
                .await;
            (
                ex.status == Some(200) && ex.body["failed"] == false,
                ex.status.map_or("no_answer".into(), |s| s.to_string()),
            )
        }
        LoadAgainst::Orchestrate => {
            let ex = ctx
                .call(
                    reqwest::Method::POST,
                    "/api/admin/agent-gateway/orchestrate",
                    Some(&json!({"draftId": format!("load-{i}"), "channel": "load"})),
                    true,
                )
                .await;
            (ex.status == Some(201), ex.status.map_or("no_answer".into(), |s| s.to_string()))
        }
        LoadAgainst::Ingest => {
            let body = json!({"connectorId": "gatedrill_load", "channel": "telegram", "payload": {"message": {"chat": {"id": 700_000 + i % 100}, "text": "load"}}});
            let mut req = ctx
                .client
                .post(format!("{}/api/agent-gateway/adapters/ingest", ctx.target.base_url))
                .timeout(ctx.deadline)
                .json(&body);
            if let Some(s) = &ctx.target.webhook_secret {
                req = req.header("x-agent-gateway-webhook-secret", &s.0);
            }
            match req.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let applied = r.json::<serde_json::Value>().await.ok().is_some_and(|v| v["ingestApplied"] == true);
                    (status == 201 && applied, status.to_string())
                }
                Err(_) => (false, "no_answer".into()),
            }
        }
    };
    (ok, label, started.elapsed().as_secs_f64() * 1000.0)
}

pub async fn run(ctx: &StepCtx<'_>, against: LoadAgainst, role: &str, shape: Shape) -> LoadReport {
    let started = Instant::now();
    let results: Vec<(bool, String, f64)> = match shape {
        Shape::Closed { concurrency, count } => {
            futures::stream::iter(0..count)
                .map(|i| one(ctx, against, role, i))
                .buffer_unordered(concurrency as usize)
                .collect()
                .await
        }
        Shape::Open { rate, duration } => {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let total = (rate * duration.as_secs_f64()).floor() as u64;
            let mut in_flight = FuturesUnordered::new();
            let mut out = Vec::new();
            let mut next = 0u64;
            while next < total || !in_flight.is_empty() {
                let due = started + interval.mul_f64(next as f64);
                tokio::select! {
                    _ = tokio::time::sleep_until(due), if next < total => {
                        in_flight.push(one(ctx, against, role, next));
                        next += 1;
                    }
                    Some(r) = in_flight.next(), if !in_flight.is_empty() => out.push(r),
                }
            }
            out
        }
    };
    let mut report = LoadReport { against: format!("{against:?}"), ..Default::default() };
    let mut lat: Vec<f64> = Vec::with_capacity(results.len());
    for (ok, label, ms) in results {
        report.sent += 1;
        report.errors += u64::from(!ok);
        *report.statuses.entry(label).or_default() += 1;
        lat.push(ms);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| if lat.is_empty() { 0.0 } else { lat[((lat.len() as f64 - 1.0) * p).round() as usize] };
    report.p50_ms = pct(0.5);
    report.p95_ms = pct(0.95);
    report.p99_ms = pct(0.99);
    report.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    report.achieved_rate = report.sent as f64 / started.elapsed().as_secs_f64().max(1e-9);
    report
}
