//! What a scenario observed, gathered while it runs: every exchange with the gateway (latency
//! per scenario, step and endpoint), every task (for the SLO windows), and a bounded sample of
//! requests for the trace: successes sampled, failures kept up to a cap, and a count of what was
//! dropped. Memory is flat in the number of requests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::exchange::{Observed, TracedBody};
use crate::classify::transport::TransportFailure;

use crate::metrics::slo::{SloBook, TaskOutcome, Window};
use crate::metrics::{Hist, LatencyBook, Summary, hlog};

/// Successful requests kept in a trace.
pub const SUCCESS_CAP: usize = 200;
/// Failed requests kept in a trace.
pub const FAILURE_CAP: usize = 2000;
/// The runbook endpoint an exchange went to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Health,
    Ready,
    RuntimeHealth,
    Profiles,
    DryRun,
    Orchestrate,
    Sessions,
    Session,
    Telemetry,
    Ingest,
    /// `POST /v1/chat/completions` (an OpenAI-compatible gateway).
    Chat,
    #[default]
    Other,
}

/// What a parsed answer said that the evidence writers read (the drill parsed it once, at the
/// edge; writers never read answer JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    /// A dry-run or orchestration: whether the task failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_failed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_used: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
    /// An error answer's `error.code` (orchestrate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Tools whose calls failed (`tool on provider`), Playbook B's failing tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_tools: Vec<String>,
    /// The channel of the session a task ran in (orchestrate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Runtime health: `summary.health`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::wire::runtime::HealthState>,
}

/// One exchange as a step hands it to the observer.
pub struct Exchanged<'a> {
    pub endpoint: Endpoint,
    pub method: &'a str,
    pub path: &'a str,
    pub seen: &'a Observed,
    /// Whether it counts as a success for its endpoint.
    pub ok: bool,
    /// Keep the (bounded) answer in the trace: step requests do, load requests do not.
    pub keep_body: bool,
    pub signal: Option<Signal>,
}

/// One exchange with the gateway, as kept in the trace (bodies only for step requests; load
/// requests keep status and latency).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RequestRecord {
    pub t_ms: f64,
    pub step: usize,
    pub endpoint: Endpoint,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub ok: bool,
    /// Why no complete answer came, when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<TransportFailure>,
    pub latency_ms: f64,
    /// The answer, bounded (step requests only; load requests keep status and latency).
    pub response: Option<TracedBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<Signal>,
}

/// How many requests the trace left out.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Dropped {
    pub successes: u64,
    pub failures: u64,
}

/// The interval log's series of task latencies, one interval per SLO window.
pub const SLO_SERIES: &str = "slo";

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

    /// One exchange, ended now.
    pub fn exchange(&self, step: (usize, &str), x: Exchanged<'_>) {
        let Exchanged { endpoint, method, path, seen, ok, keep_body, signal } = x;
        let (status, latency) = (seen.status, seen.latency);
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
        let response = keep_body.then(|| seen.traced());
        let t_ms = now.saturating_duration_since(self.start).as_secs_f64() * 1000.0 - latency.as_secs_f64() * 1000.0;
        g.requests.push(RequestRecord {
            t_ms: t_ms.max(0.0),
            step: step.0,
            endpoint,
            method: method.into(),
            path: path.into(),
            status,
            ok,
            failure: seen.failure,
            latency_ms: latency.as_secs_f64() * 1000.0,
            response,
            signal,
        });
    }

    /// One task, for the SLO windows.
    pub fn task(&self, t: TaskOutcome) {
        let now = Instant::now();
        let mut g = self.lock();
        // The same windows as the SLO book's, in the interval log: a merge of load segments
        // recomputes each window's p95 exactly from them.
        g.latency.record(SLO_SERIES, now, t.latency);
        g.slo.record(now, t);
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
        let seen = |status| Observed { status: Some(status), latency: Duration::from_millis(1), ..Default::default() };
        let (ok, failed) = (seen(200), seen(503));
        let x = |seen, ok| Exchanged {
            endpoint: Endpoint::Other,
            method: "POST",
            path: "/x",
            seen,
            ok,
            keep_body: false,
            signal: None,
        };
        for i in 0..(SUCCESS_CAP + 50) {
            o.exchange((0, "load"), x(&ok, true));
            if i < 240 {
                o.exchange((0, "load"), x(&failed, false));
            }
        }
        let obs = o.finish(Vec::new());
        assert_eq!(obs.requests.iter().filter(|r| r.ok).count(), SUCCESS_CAP);
        assert_eq!(obs.requests.iter().filter(|r| !r.ok).count(), 240);
        assert_eq!((obs.dropped.successes, obs.dropped.failures), (50, 0));
        assert_eq!(obs.latency["scenario"].count, (SUCCESS_CAP + 50 + 240) as u64);
    }
}
