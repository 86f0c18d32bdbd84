//! SLO windows: the seed-000 playbooks' metric keys, computed per time window of a scenario
//! (time-compressed: a window is a scenario setting, 1 s by default). A task is one request a
//! step or a load sent to the gateway's task endpoints (dry-run, orchestrate, ingest).
//!
//! Definitions (documented in README too):
//! - `tool_success_rate`: of tool-call outcomes, the successes. A task that declared tools has
//!   an outcome when its answer carried tool calls (a success if every call's arguments parse
//!   as a JSON object), when an attempt's tool calls broke (malformed, cut mid-call) and no
//!   fallback answered with calls, or when the task failed outright (both failures); a model
//!   that answered in words without trying a tool leaves no outcome.
//!   A window with no tool tasks falls back to tasks that succeeded / tasks, so drills that
//!   declare no tools keep their meaning.
//! - `error_rate`: 1 - `tool_success_rate`.
//! - `model_fallback_rate`: of tasks a model answered, those served by a fallback provider.
//! - `p95_response_latency_ms`: 95th percentile of task latency (HdrHistogram).
//! - `cost_per_successful_task_usd`: cost the gateway reported / tasks that succeeded.
//! - `escalation_rate`: of tasks for the `judge` role, those that failed: with no verdict from
//!   the judge model, the runbook's flow hands the task to a human (an escalation).
//!
//! A metric with no tasks to divide by has no value in that window (not zero).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{Hist, new_hist, record};

/// The playbooks' SLO metric keys, plus `error_rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MetricKey {
    ToolSuccessRate,
    ModelFallbackRate,
    P95ResponseLatencyMs,
    CostPerSuccessfulTaskUsd,
    EscalationRate,
    ErrorRate,
}

impl MetricKey {
    pub const ALL: [MetricKey; 6] = [
        MetricKey::ToolSuccessRate,
        MetricKey::ModelFallbackRate,
        MetricKey::P95ResponseLatencyMs,
        MetricKey::CostPerSuccessfulTaskUsd,
        MetricKey::EscalationRate,
        MetricKey::ErrorRate,
    ];

    pub fn id(self) -> &'static str {
        match self {
            MetricKey::ToolSuccessRate => "tool_success_rate",
            MetricKey::ModelFallbackRate => "model_fallback_rate",
            MetricKey::P95ResponseLatencyMs => "p95_response_latency_ms",
            MetricKey::CostPerSuccessfulTaskUsd => "cost_per_successful_task_usd",
            MetricKey::EscalationRate => "escalation_rate",
            MetricKey::ErrorRate => "error_rate",
        }
    }

    pub fn from_id(s: &str) -> Option<MetricKey> {
        MetricKey::ALL.into_iter().find(|k| k.id() == s)
    }

    /// Whether values are fractions (so `1%` means 0.01).
    pub fn is_rate(self) -> bool {
        !matches!(self, MetricKey::P95ResponseLatencyMs | MetricKey::CostPerSuccessfulTaskUsd)
    }
}

/// What one task came to.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskOutcome {
    pub ok: bool,
    /// A model answered it (the gateway reported who served it).
    pub model_answered: bool,
    pub fallback: bool,
    pub cost_usd: f64,
    pub judge: bool,
    pub latency: Duration,
    /// For a task that declared tools: whether its answer carried usable tool calls.
    pub tool_call: Option<bool>,
}

/// The counters of one window (or of the whole scenario).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Window {
    pub index: u64,
    pub start_ms: f64,
    pub end_ms: f64,
    pub tasks: u64,
    pub succeeded: u64,
    pub model_answered: u64,
    pub fallbacks: u64,
    pub cost_usd: f64,
    pub judge_tasks: u64,
    pub judge_failed: u64,
    pub p95_ms: Option<f64>,
    /// Tasks that declared tools, and those answered with usable tool calls.
    #[serde(default)]
    pub tool_tasks: u64,
    #[serde(default)]
    pub tool_calls_ok: u64,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl Window {
    pub fn value(&self, key: MetricKey) -> Option<f64> {
        match key {
            MetricKey::ToolSuccessRate if self.tool_tasks > 0 => ratio(self.tool_calls_ok, self.tool_tasks),
            MetricKey::ToolSuccessRate => ratio(self.succeeded, self.tasks),
            MetricKey::ErrorRate => ratio(self.tasks - self.succeeded.min(self.tasks), self.tasks),
            MetricKey::ModelFallbackRate => ratio(self.fallbacks, self.model_answered),
            MetricKey::P95ResponseLatencyMs => self.p95_ms,
            MetricKey::CostPerSuccessfulTaskUsd => (self.succeeded > 0).then(|| self.cost_usd / self.succeeded as f64),
            MetricKey::EscalationRate => ratio(self.judge_failed, self.judge_tasks),
        }
    }

    /// The samples behind a metric's value in this window: its denominator's count.
    pub fn samples(&self, key: MetricKey) -> u64 {
        match key {
            MetricKey::ToolSuccessRate if self.tool_tasks > 0 => self.tool_tasks,
            MetricKey::ToolSuccessRate | MetricKey::ErrorRate | MetricKey::P95ResponseLatencyMs => self.tasks,
            MetricKey::ModelFallbackRate => self.model_answered,
            MetricKey::CostPerSuccessfulTaskUsd => self.succeeded,
            MetricKey::EscalationRate => self.judge_tasks,
        }
    }

    pub fn add(&mut self, t: &TaskOutcome) {
        self.tasks += 1;
        self.succeeded += u64::from(t.ok);
        self.model_answered += u64::from(t.model_answered);
        self.fallbacks += u64::from(t.model_answered && t.fallback);
        self.cost_usd += t.cost_usd;
        self.judge_tasks += u64::from(t.judge);
        self.judge_failed += u64::from(t.judge && !t.ok);
        self.tool_tasks += u64::from(t.tool_call.is_some());
        self.tool_calls_ok += u64::from(t.tool_call == Some(true));
    }
}

/// Tasks folded into windows as they complete; one live histogram per open window.
pub struct SloBook {
    start: Instant,
    window: Duration,
    windows: Vec<Window>,
    current: Option<(Window, Hist)>,
    total: Window,
    total_hist: Hist,
}

impl SloBook {
    pub fn new(start: Instant, window: Duration) -> Self {
        SloBook {
            start,
            window: window.max(Duration::from_millis(1)),
            windows: Vec::new(),
            current: None,
            total: Window::default(),
            total_hist: new_hist(),
        }
    }

    pub fn record(&mut self, at: Instant, t: TaskOutcome) {
        let index = (at.saturating_duration_since(self.start).as_nanos() / self.window.as_nanos()) as u64;
        if self.current.as_ref().is_some_and(|(w, _)| w.index < index) {
            self.close();
        }
        let win_ms = self.window.as_secs_f64() * 1000.0;
        let (w, h) = self.current.get_or_insert_with(|| {
            let w = Window {
                index,
                start_ms: index as f64 * win_ms,
                end_ms: (index + 1) as f64 * win_ms,
                ..Window::default()
            };
            (w, new_hist())
        });
        w.add(&t);
        record(h, t.latency);
        self.total.add(&t);
        record(&mut self.total_hist, t.latency);
    }

    fn close(&mut self) {
        if let Some((mut w, h)) = self.current.take() {
            w.p95_ms = (!h.is_empty()).then(|| h.value_at_quantile(0.95) as f64 / 1000.0);
            self.windows.push(w);
        }
    }

    /// The closed windows (every one from the first to the last, empty ones included) and the
    /// whole scenario as one window.
    pub fn finish(&mut self, elapsed: Duration) -> (Vec<Window>, Window) {
        self.close();
        let win_ms = self.window.as_secs_f64() * 1000.0;
        let mut out: Vec<Window> = Vec::new();
        for w in std::mem::take(&mut self.windows) {
            let next = out.last().map_or(0, |l| l.index + 1);
            for index in next..w.index {
                out.push(Window {
                    index,
                    start_ms: index as f64 * win_ms,
                    end_ms: (index + 1) as f64 * win_ms,
                    ..Window::default()
                });
            }
            out.push(w);
        }
        let mut total = self.total.clone();
        total.end_ms = elapsed.as_secs_f64() * 1000.0;
        total.p95_ms = (!self.total_hist.is_empty()).then(|| self.total_hist.value_at_quantile(0.95) as f64 / 1000.0);
        (out, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(ok: bool, fallback: bool, ms: u64) -> TaskOutcome {
        TaskOutcome {
            ok,
            model_answered: ok,
            fallback,
            cost_usd: 0.01,
            judge: false,
            latency: Duration::from_millis(ms),
            tool_call: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn windows_count_and_gaps_are_filled() {
        let start = Instant::now();
        let mut b = SloBook::new(start, Duration::from_millis(100));
        b.record(Instant::now(), task(true, true, 10));
        b.record(Instant::now(), task(false, false, 20));
        tokio::time::advance(Duration::from_millis(250)).await;
        b.record(Instant::now(), task(true, false, 30));
        let (windows, total) = b.finish(Duration::from_millis(300));
        assert_eq!(windows.iter().map(|w| w.tasks).collect::<Vec<_>>(), [2, 0, 1]);
        assert_eq!(windows[0].value(MetricKey::ModelFallbackRate), Some(1.0));
        assert_eq!(windows[0].value(MetricKey::ErrorRate), Some(0.5));
        assert_eq!(windows[1].value(MetricKey::ToolSuccessRate), None, "no tasks, no value");
        assert_eq!(total.tasks, 3);
        assert!((total.value(MetricKey::CostPerSuccessfulTaskUsd).unwrap() - 0.015).abs() < 1e-9);
        assert!(total.p95_ms.unwrap() >= 29.0);
    }

    #[test]
    fn escalation_is_failed_judge_tasks() {
        let mut w = Window::default();
        w.add(&TaskOutcome { judge: true, ok: false, ..Default::default() });
        w.add(&TaskOutcome { judge: true, ok: true, ..Default::default() });
        w.add(&TaskOutcome { judge: false, ok: false, ..Default::default() });
        assert_eq!(w.value(MetricKey::ToolSuccessRate), Some(1.0 / 3.0), "no tool tasks: task success");
        w.add(&TaskOutcome { ok: true, tool_call: Some(true), ..Default::default() });
        w.add(&TaskOutcome { ok: true, tool_call: Some(false), ..Default::default() });
        assert_eq!(w.value(MetricKey::ToolSuccessRate), Some(0.5), "tool tasks: tool-call outcomes");
        assert_eq!(w.value(MetricKey::EscalationRate), Some(0.5));
    }
}
