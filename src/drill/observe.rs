//! What a scenario observed, gathered while it runs: every exchange with the gateway (latency
//! per scenario, step and endpoint), every task (for the SLO windows), and a bounded sample of
//! requests for the trace: successes sampled, failures kept up to a cap, and a count of what was
//! dropped. Memory is flat in the number of requests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::metrics::slo::{SloBook, TaskOutcome, Window};
use crate::metrics::{Hist, LatencyBook, Summary, hlog};

/// Successful requests kept in a trace.
pub const SUCCESS_CAP: usize = 200;
/// Failed requests kept in a trace.
pub const FAILURE_CAP: usize = 2000;
/// Largest response body kept, serialized.
const BODY_CAP: usize = 16 * 1024;

/// One exchange with the gateway, as kept in the trace (bodies only for step requests; load
/// requests keep status and latency).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RequestRecord {
    pub t_ms: f64,
    pub step: usize,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub ok: bool,
    pub latency_ms: f64,
    pub response: Option<Value>,
}

/// How many requests the trace left out.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Dropped {
    pub successes: u64,
    pub failures: u64,
}

/// What the observer hands to the report when the scenario ends.
pub struct Observations {
    pub latency: BTreeMap<String, Summary>,
    pub intervals: Vec<hlog::Interval>,
    pub windows: Vec<Window>,
    pub totals: Window,
    pub requests: Vec<RequestRecord>,
    pub dropped: Dropped,
}

struct Inner {
    latency: LatencyBook,
    slo: SloBook,
    requests: Vec<RequestRecord>,
    successes: usize,
    failures: usize,
    dropped: Dropped,
}

pub struct Observer {
    start: Instant,
    inner: Mutex<Inner>,
}

/// The endpoint's route, ids replaced, so one series per route (`sessions/{id}/close`).
pub fn route_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut parts: Vec<&str> = path.split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "sessions")
        && i + 1 < parts.len()
    {
        parts[i + 1] = "{id}";
    }
    parts.join("/")
}

impl Observer {
    pub fn new(start: Instant, window: Duration) -> Self {
        Observer {
            start,
            inner: Mutex::new(Inner {
                latency: LatencyBook::new(start, window),
                slo: SloBook::new(start, window),
                requests: Vec::new(),
                successes: 0,
                failures: 0,
                dropped: Dropped::default(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// One exchange, ended now after `latency`.
    #[allow(clippy::too_many_arguments)]
    pub fn exchange(
        &self,
        step: (usize, &str),
        method: &str,
        path: &str,
        status: Option<u16>,
        ok: bool,
        latency: Duration,
        response: Option<&Value>,
    ) {
        let now = Instant::now();
        let mut g = self.lock();
        g.latency.record("scenario", now, latency);
        g.latency.record(&format!("step:{:02}:{}", step.0 + 1, step.1), now, latency);
        g.latency.record(&format!("endpoint:{method}:{}", route_of(path)), now, latency);
        let keep = if ok { g.successes < SUCCESS_CAP } else { g.failures < FAILURE_CAP };
        if !keep {
            if ok {
                g.dropped.successes += 1;
            } else {
                g.dropped.failures += 1;
            }
            return;
        }
        if ok {
            g.successes += 1;
        } else {
            g.failures += 1;
        }
        let response = response.map(|v| {
            let size = serde_json::to_string(v).map_or(0, |s| s.len());
            if size > BODY_CAP { serde_json::json!({"gatedrillTruncated": size}) } else { v.clone() }
        });
        let t_ms = now.saturating_duration_since(self.start).as_secs_f64() * 1000.0 - latency.as_secs_f64() * 1000.0;
        g.requests.push(RequestRecord {
            t_ms: t_ms.max(0.0),
            step: step.0,
            method: method.into(),
            path: path.into(),
            status,
            ok,
            latency_ms: latency.as_secs_f64() * 1000.0,
            response,
        });
    }

    /// One task, for the SLO windows.
    pub fn task(&self, t: TaskOutcome) {
        self.lock().slo.record(Instant::now(), t);
    }

    /// A latency under a tag of the caller's (load series, failover overhead).
    pub fn latency(&self, tag: &str, value: Duration) {
        self.lock().latency.record(tag, Instant::now(), value);
    }

    /// Summary of one series so far (progress, load reports).
    pub fn summary(&self, tag: &str) -> Summary {
        self.lock().latency.summary(tag)
    }

    /// Ends the scenario; `providers` are the mocks' own histograms (attempt, ttft, itl).
    pub fn finish(&self, providers: Vec<(String, Hist, Hist, Hist)>) -> Observations {
        let elapsed = self.start.elapsed();
        let mut g = self.lock();
        for (name, attempt, ttft, itl) in providers {
            g.latency.add_whole(&format!("provider:{name}:attempt"), &attempt, elapsed);
            g.latency.add_whole(&format!("provider:{name}:ttft"), &ttft, elapsed);
            g.latency.add_whole(&format!("provider:{name}:itl"), &itl, elapsed);
        }
        let (latency, intervals) = g.latency.finish();
        let (windows, totals) = g.slo.finish(elapsed);
        let mut requests = std::mem::take(&mut g.requests);
        requests.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
        Observations { latency, intervals, windows, totals, requests, dropped: std::mem::take(&mut g.dropped) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_hide_session_ids() {
        assert_eq!(
            route_of("/api/admin/agent-gateway/sessions/ags_1234/close"),
            "/api/admin/agent-gateway/sessions/{id}/close"
        );
        assert_eq!(route_of("/api/admin/agent-gateway/sessions?source=db"), "/api/admin/agent-gateway/sessions");
    }

    #[tokio::test]
    async fn successes_are_capped_and_failures_kept_longer() {
        let o = Observer::new(Instant::now(), Duration::from_secs(1));
        for i in 0..(SUCCESS_CAP + 50) {
            o.exchange((0, "load"), "POST", "/x", Some(200), true, Duration::from_millis(1), None);
            if i < 240 {
                o.exchange((0, "load"), "POST", "/x", Some(503), false, Duration::from_millis(1), None);
            }
        }
        let obs = o.finish(Vec::new());
        assert_eq!(obs.requests.iter().filter(|r| r.ok).count(), SUCCESS_CAP);
        assert_eq!(obs.requests.iter().filter(|r| !r.ok).count(), 240);
        assert_eq!((obs.dropped.successes, obs.dropped.failures), (50, 0));
        assert_eq!(obs.latency["scenario"].count, (SUCCESS_CAP + 50 + 240) as u64);
    }
}
