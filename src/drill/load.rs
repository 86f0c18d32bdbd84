//! Load against the gateway, always bounded: a closed model (`concurrency` workers for `count`
//! requests) or an open model (`rate` per second for `duration`, at most `connections` in
//! flight). The open model schedules every request in advance and measures it from when it was
//! due, so a stalled gateway cannot hide behind a load generator that stopped sending
//! (coordinated omission); the uncorrected figures, from when each request was really sent, are
//! reported beside them. Loopback targets only, unless `--allow-load`. Latencies go into
//! HdrHistograms: memory does not grow with the request count.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use super::exchange::Auth;
use super::observe::{Endpoint, Exchanged};
use super::shard::Shard;
use super::steps::{StepCtx, deliver, dry_run_task, signal_of};
use crate::classify::requests::Api;
use crate::metrics::Summary;
use crate::metrics::slo::{TaskOutcome, Window};
use crate::scenario::abort::AbortOnBreach;
use crate::scenario::steps::LoadAgainst;
use crate::wire::paths;
use crate::wire::runtime::DryRunAnswer;

/// In-flight requests of an open model when the step names none.
pub const DEFAULT_CONNECTIONS: u32 = 64;
/// The progress line is updated at least this often (and at most once per request).
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
/// Resident memory is sampled every this many requests.
const RSS_EVERY: u64 = 100_000;

/// How a load step sends.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    Closed { concurrency: u32, count: u64 },
    Open { rate: f64, duration: Duration, connections: u32 },
}

impl Shape {
    /// From a validated step (validation guarantees one complete shape).
    pub fn from_step(
        concurrency: Option<u32>,
        count: Option<u64>,
        rate: Option<f64>,
        duration: Option<Duration>,
        connections: Option<u32>,
    ) -> Shape {
        match (concurrency, count, rate, duration) {
            (Some(c), Some(n), _, _) => Shape::Closed { concurrency: c, count: n },
            (_, _, Some(r), Some(d)) => {
                Shape::Open { rate: r, duration: d, connections: connections.unwrap_or(DEFAULT_CONNECTIONS) }
            }
            _ => Shape::Closed { concurrency: 1, count: 1 },
        }
    }
}

/// Resident memory after so many requests.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct RssSample {
    pub sent: u64,
    pub rss_mib: f64,
}

/// A closed model (workers) or an open model (a rate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    #[default]
    Closed,
    Open,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct LoadReport {
    pub against: Option<LoadAgainst>,
    pub model: LoadModel,
    pub sent: u64,
    pub errors: u64,
    /// Requests that got a complete answer, whatever its status.
    #[serde(default)]
    pub answered: u64,
    pub statuses: BTreeMap<String, u64>,
    pub duration_ms: f64,
    pub requested_rate: Option<f64>,
    pub achieved_rate: f64,
    /// Open model: from each request's scheduled start (corrected); closed: as measured.
    pub latency: Summary,
    /// Open model only: from when each request was really sent.
    pub uncorrected: Option<Summary>,
    pub rss: Vec<RssSample>,
    /// This machine's segment of the step's load (`--segment K/N`): the requests whose index in
    /// the whole schedule is K-1 modulo N, at their whole-schedule times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Shard>,
    /// Requests the step planned (closed: `count`; open: rate × duration).
    #[serde(default)]
    pub planned: u64,
    /// Stopped early on a breach (`abort_on_breach`).
    #[serde(default)]
    pub aborted: Option<Aborted>,
}

/// Why and when a load stopped early, and what it spared the target.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Aborted {
    pub gate: String,
    /// The breaching value, over this many samples.
    pub value: f64,
    pub samples: u64,
    /// From the load's start.
    pub at_ms: f64,
    /// Planned requests never sent because of the abort.
    pub spared: u64,
}

impl LoadReport {
    pub fn error_rate(&self) -> f64 {
        if self.sent == 0 { 0.0 } else { self.errors as f64 / self.sent as f64 }
    }
}

/// This process's resident memory, where the platform says (Linux `/proc`).
pub fn rss_mib() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / (1024.0 * 1024.0))
}

/// One request; returns (success, status label, when it was really sent, the task, answered).
type Sent = (bool, String, Instant, TaskOutcome, bool);

async fn one(ctx: &StepCtx<'_>, against: LoadAgainst, role: &str, i: u64) -> Sent {
    let sent = Instant::now();
    let mut signal = None;
    let (endpoint, path, seen, task) = match against {
        LoadAgainst::DryRun => {
            // Marked like every probe, so the journal ties its attempts to it.
            let marker = format!("load-{}-{i}", ctx.step.0 + 1);
            let prompt = format!("load probe {i} [gatedrill probe {marker}]");
            let body = json!({"role": role, "prompt": prompt, "timeoutMs": 5000});
            let sent_ms = ctx.fleet_ms();
            let seen = ctx.send(reqwest::Method::POST, paths::DRY_RUN, Some(&body), Auth::Admin).await;
            let answer = seen.parse::<DryRunAnswer>().ok();
            let task = dry_run_task(role, &seen, answer.as_ref());
            ctx.client_request(ctx.took(Api::DryRun, (&marker, role), sent_ms, &seen, task.ok, false));
            signal = answer.as_ref().map(signal_of);
            (Endpoint::DryRun, paths::DRY_RUN, seen, task)
        }
        LoadAgainst::Orchestrate => {
            let body = json!({"draftId": format!("load-{i}"), "channel": "load"});
            let seen = ctx.send(reqwest::Method::POST, paths::ORCHESTRATE, Some(&body), Auth::Admin).await;
            let task = TaskOutcome { ok: seen.is(201), latency: seen.latency, ..Default::default() };
            (Endpoint::Orchestrate, paths::ORCHESTRATE, seen, task)
        }
        LoadAgainst::Chat => {
            let stream = false;
            // A marker per step and request: two load steps' requests are never one request.
            let marker = format!("load-{}-{i}", ctx.step.0 + 1);
            let body = super::steps::chat::body(role, &format!("load probe {i}"), stream, &marker);
            let sent_ms = ctx.fleet_ms();
            let seen = ctx.send(reqwest::Method::POST, paths::CHAT_COMPLETIONS, Some(&body), Auth::Bearer).await;
            let answer = super::steps::chat::read_answer(&seen.body, stream);
            let task = super::steps::chat::task(&seen, &answer, stream);
            ctx.client_request(ctx.took(Api::Chat, (&marker, role), sent_ms, &seen, task.ok, false));
            (Endpoint::Chat, paths::CHAT_COMPLETIONS, seen, task)
        }
        LoadAgainst::Ingest => {
            let body = json!({"connectorId": "gatedrill_load", "channel": "telegram", "payload": {"message": {"chat": {"id": 700_000 + i % 100}, "text": "load"}}});
            let (seen, applied) = deliver(ctx, &body, None).await;
            let task = TaskOutcome { ok: applied, latency: seen.latency, ..Default::default() };
            (Endpoint::Ingest, paths::INGEST, seen, task)
        }
    };
    ctx.record(Exchanged { endpoint, method: "POST", path, seen: &seen, ok: task.ok, keep_body: false, signal });
    let label = match (seen.status, seen.failure) {
        (Some(s), None) => s.to_string(),
        (_, Some(f)) => f.id(),
        (None, None) => "no_answer".into(),
    };
    (task.ok, label, sent, task, seen.failure.is_none())
}

/// Counts and series names of one load step; the names are built once, not per request.
struct Tally<'a> {
    report: LoadReport,
    /// `load:NN`: a closed load's latency.
    tag: String,
    /// `load:NN:corrected` / `load:NN:uncorrected`: an open load's two measures.
    corrected: String,
    uncorrected: String,
    /// When the progress line was last updated.
    shown: Instant,
    /// The load's own tasks, for `abort_on_breach`.
    tasks: Window,
    abort: Option<&'a AbortOnBreach>,
    started: Instant,
}

impl Tally<'_> {
    /// Requests planned but never sent (the step's deadline came first): each is an error.
    fn not_sent(&mut self, n: u64) {
        if let Some(a) = &mut self.report.aborted {
            // Stopped on purpose: what was spared is no error of the target's.
            a.spared += n;
            return;
        }
        if n > 0 {
            self.report.sent += n;
            self.report.errors += n;
            *self.report.statuses.entry("not_sent".into()).or_default() += n;
        }
    }

    fn add(&mut self, ctx: &StepCtx<'_>, r: Sent, due: Option<Instant>) {
        let (ok, label, sent, mut task, answered) = r;
        self.report.answered += u64::from(answered);
        let now = Instant::now();
        self.report.sent += 1;
        self.report.errors += u64::from(!ok);
        *self.report.statuses.entry(label).or_default() += 1;
        match due {
            Some(due) => {
                let corrected = now.saturating_duration_since(due);
                ctx.obs.latency(&self.corrected, corrected);
                ctx.obs.latency(&self.uncorrected, now.saturating_duration_since(sent));
                task.latency = corrected;
            }
            None => ctx.obs.latency(&self.tag, now.saturating_duration_since(sent)),
        }
        ctx.obs.task(task);
        self.tasks.add(&task);
        if let Some(rule) = self.abort.filter(|_| self.report.aborted.is_none()) {
            let tag = if due.is_some() { &self.corrected } else { &self.tag };
            let elapsed = now.saturating_duration_since(self.started);
            let p95 = || Some(ctx.obs.summary(tag)).filter(|s| s.count > 0).map(|s| s.p95_ms);
            if let Some((value, samples)) = rule.breached(elapsed, &self.tasks, p95) {
                self.report.aborted = Some(Aborted {
                    gate: rule.gate.label(),
                    value,
                    samples,
                    at_ms: elapsed.as_secs_f64() * 1000.0,
                    spared: 0,
                });
            }
        }
        if now.saturating_duration_since(self.shown) >= PROGRESS_EVERY {
            self.shown = now;
            let tag = if due.is_some() { &self.corrected } else { &self.tag };
            ctx.progress.load(self.report.sent, self.report.errors, ctx.obs.summary(tag).p95_ms);
        }
        if self.report.sent.is_multiple_of(RSS_EVERY)
            && let Some(mib) = rss_mib()
        {
            self.report.rss.push(RssSample { sent: self.report.sent, rss_mib: mib });
        }
    }
}

/// The whole schedule's request indices that belong to this segment, and how many of a span
/// of them do. With no segment, every index.
#[derive(Clone, Copy)]
struct Part {
    first: u64,
    step: u64,
}

impl Part {
    fn of(segment: Option<Shard>) -> Part {
        segment.map_or(Part { first: 0, step: 1 }, |s| Part { first: u64::from(s.index - 1), step: u64::from(s.count) })
    }

    /// This segment's indices in `from..to`.
    fn count(self, from: u64, to: u64) -> u64 {
        let from = from.max(self.first);
        if from >= to {
            return 0;
        }
        let first = from + (self.step - (from - self.first) % self.step) % self.step;
        if first >= to { 0 } else { (to - 1 - first) / self.step + 1 }
    }

    /// A share of workers or connections: N machines together hold what one would.
    fn share(self, n: u32) -> u32 {
        n.div_ceil(self.step as u32).max(1)
    }
}

pub async fn run(
    ctx: &StepCtx<'_>,
    against: LoadAgainst,
    role: &str,
    shape: Shape,
    abort: Option<&AbortOnBreach>,
) -> LoadReport {
    let started = Instant::now();
    let part = Part::of(ctx.segment);
    let tag = format!("load:{:02}", ctx.step.0 + 1);
    let mut t = Tally {
        report: LoadReport { against: Some(against), segment: ctx.segment, ..Default::default() },
        corrected: format!("{tag}:corrected"),
        uncorrected: format!("{tag}:uncorrected"),
        tag,
        shown: started,
        tasks: Window::default(),
        abort,
        started,
    };
    // Set once a breach stops the load: nothing new starts after it.
    let stop = std::cell::Cell::new(false);
    match shape {
        Shape::Closed { concurrency, count } => {
            t.report.model = LoadModel::Closed;
            t.report.planned = part.count(0, count);
            // Nothing new starts after the step's deadline or a breach; what was not sent is
            // counted (as errors after the deadline, as spared after a breach).
            let mut started_n = 0u64;
            let mine = part.count(0, count);
            let mut results = futures::stream::iter((part.first..count).step_by(part.step as usize))
                .take_while(|_| std::future::ready(Instant::now() < ctx.until && !stop.get()))
                .map(|i| {
                    started_n += 1;
                    one(ctx, against, role, i)
                })
                .buffer_unordered(part.share(concurrency) as usize);
            while let Some(r) = results.next().await {
                t.add(ctx, r, None);
                stop.set(t.report.aborted.is_some());
            }
            drop(results);
            t.not_sent(mine.saturating_sub(started_n));
            t.report.latency = ctx.obs.summary(&t.tag);
        }
        Shape::Open { rate, duration, connections } => {
            t.report.model = LoadModel::Open;
            // A segment sends its share of the rate, each request at its whole-schedule time.
            t.report.requested_rate = Some(rate / part.step as f64);
            // Validation bounds the rate; a rate the clock cannot express sends nothing.
            let interval = Duration::try_from_secs_f64(part.step as f64 / rate).unwrap_or(Duration::MAX);
            let total = (rate * duration.as_secs_f64()).floor() as u64;
            let connections = part.share(connections);
            t.report.planned = part.count(0, total);
            let mut in_flight = FuturesUnordered::new();
            let mut next = part.first;
            let mut last_sent = started;
            let mut total = total;
            while next < total || !in_flight.is_empty() {
                if next < total && t.report.aborted.is_some() {
                    // A breach: nothing new is sent; what was still due is spared.
                    t.not_sent(part.count(next, total));
                    total = next;
                    continue;
                }
                if next < total && Instant::now() >= ctx.until {
                    // The step's deadline: nothing new is sent; what was due is counted.
                    t.not_sent(part.count(next, total));
                    total = next;
                    continue;
                }
                let offset = Duration::try_from_secs_f64(next as f64 / rate).unwrap_or(Duration::MAX);
                let due = started.checked_add(offset).unwrap_or(started);
                let can_send = next < total && in_flight.len() < connections as usize;
                tokio::select! {
                    biased;
                    Some((r, due)) = in_flight.next(), if !in_flight.is_empty() => t.add(ctx, r, Some(due)),
                    _ = tokio::time::sleep_until(due), if can_send => {
                        let i = next;
                        in_flight.push(async move { (one(ctx, against, role, i).await, due) });
                        next += part.step;
                        last_sent = Instant::now();
                    }
                }
            }
            t.report.latency = ctx.obs.summary(&t.corrected);
            t.report.uncorrected = Some(ctx.obs.summary(&t.uncorrected));
            // The rate the requests went out at: n requests span n intervals from the first due.
            let first_due = Duration::try_from_secs_f64(part.first as f64 / rate).unwrap_or_default();
            let span = last_sent.saturating_duration_since(started + first_due).saturating_add(interval);
            t.report.achieved_rate = t.report.sent as f64 / span.as_secs_f64().max(1e-9);
        }
    }
    let elapsed = started.elapsed();
    t.report.duration_ms = elapsed.as_secs_f64() * 1000.0;
    if t.report.model == LoadModel::Closed {
        t.report.achieved_rate = t.report.sent as f64 / elapsed.as_secs_f64().max(1e-9);
    }
    if let Some(mib) = rss_mib() {
        t.report.rss.push(RssSample { sent: t.report.sent, rss_mib: mib });
    }
    t.report
}

#[cfg(test)]
mod segment_tests {
    use super::*;

    #[test]
    fn segments_partition_every_schedule_exactly() {
        for n in 1..=7u32 {
            for total in [0u64, 1, 2, 5, 12, 97] {
                let mut owners = vec![0u32; total as usize];
                let mut counted = 0;
                for k in 1..=n {
                    let p = Part::of(Some(Shard { index: k, count: n }));
                    for i in (p.first..total).step_by(p.step as usize) {
                        owners[i as usize] += 1;
                    }
                    counted += p.count(0, total);
                    // Counting from any point agrees with walking the indices.
                    for from in 0..=total {
                        let walked = (p.first..total).step_by(p.step as usize).filter(|i| *i >= from).count() as u64;
                        assert_eq!(p.count(from, total), walked, "k={k} n={n} from={from} total={total}");
                    }
                }
                assert!(owners.iter().all(|o| *o == 1), "n={n} total={total}: {owners:?}");
                assert_eq!(counted, total);
            }
        }
        assert_eq!(Part::of(None).count(3, 10), 7);
        assert_eq!(Part::of(Some(Shard { index: 2, count: 4 })).share(10), 3);
        assert_eq!(Part::of(Some(Shard { index: 2, count: 4 })).share(1), 1);
    }
}
