//! Sending a successful answer: at the model's pace, with DeepSeek-style keep-alives while it
//! waits, and shaped by a stream fault when one fired (cut, truncate, malformed frame, stall,
//! in-band error). One state machine, [`Run`], sends both streams and DeepSeek's kept-alive
//! plain bodies; it journals what was sent when it ends, or when the client drops it.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::time::Instant;

use super::config::Dialect;
use super::dialect::frames::FrameList;
use super::dialect::{self, Completion};
use super::faults::Fault;
use super::handler::Attempt;
use super::journal::Outcome;
use super::listener::HANG_CAP;
use super::state::Provider;
use crate::sse;

/// How an answer is paced and which fault shapes it.
pub struct StreamSpec {
    pub dialect: Dialect,
    /// Silence before the status line (a `delay` fault, outside DeepSeek).
    pub before_headers: Duration,
    /// From the status line to the first token.
    pub before_first_token: Duration,
    pub per_token: Duration,
    /// Keep-alive interval, for dialects that keep waiting connections warm.
    pub keepalive: Option<Duration>,
    pub fault: Option<Fault>,
}

type Headers = Vec<(HeaderName, HeaderValue)>;

fn response(headers: Headers, content_type: &'static str, body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.reserve(headers.len() + 1);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    for (k, v) in headers {
        h.insert(k, v);
    }
    resp
}

/// Waits `d` unless the fleet shuts down. Waits under a millisecond are skipped: tokio's timer
/// would round them up to a whole millisecond, overstating a fast model's latency.
async fn pause(p: &Provider, d: Duration) {
    if d >= Duration::from_millis(1) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = p.shutdown.cancelled() => {}
        }
    }
}

/// A non-streaming answer.
pub async fn respond_plain(
    p: Arc<Provider>,
    attempt: Attempt,
    headers: Headers,
    c: Completion,
    spec: StreamSpec,
) -> Response {
    pause(&p, spec.before_headers).await;
    let body = dialect::render_completion(spec.dialect, &c);
    let generation = spec.before_first_token + spec.per_token * c.completion_tokens() as u32;
    match spec.keepalive {
        Some(every) if !generation.is_zero() => {
            // DeepSeek answers at once and sends empty lines until the JSON is ready.
            let mut run = Run::new(p, attempt, FrameList::one(body), 0, 1, generation, Duration::ZERO, None);
            run.keepalive = Some((every, Bytes::from_static(b"\n")));
            run.count_events = false;
            response(headers, "application/json", run.into_body())
        }
        _ => respond_bytes(&p, attempt, headers, body, generation).await,
    }
}

/// A JSON answer rendered in advance (embeddings, token counts, plain completions), sent after
/// `wait`.
pub async fn respond_bytes(p: &Provider, attempt: Attempt, headers: Headers, body: Bytes, wait: Duration) -> Response {
    pause(p, wait).await;
    let bytes = body.len() as u64;
    attempt.finish(|r| {
        r.status = Some(200);
        r.outcome = Outcome::Completed;
        r.bytes_sent = bytes;
    });
    response(headers, "application/json", Body::from(body))
}

/// A streaming answer.
pub async fn respond_stream(
    p: Arc<Provider>,
    attempt: Attempt,
    headers: Headers,
    c: Completion,
    include_usage: bool,
    spec: StreamSpec,
) -> Response {
    pause(&p, spec.before_headers).await;
    let plan = dialect::stream_plan(spec.dialect, &c, include_usage);
    // A stream fault lands before the terminator, however large `after_events` is.
    let cut_at = match &spec.fault {
        Some(f) if f.is_stream_only() => fault_after(f).min(plan.terminal),
        _ => plan.frames.len(),
    };
    // The fault's own frame, rendered only when that fault fired.
    let (malformed, error) = match &spec.fault {
        Some(Fault::StreamMalformed { .. }) => (dialect::malformed_frame(spec.dialect, &c, cut_at), Bytes::new()),
        Some(Fault::ResponseFailed { .. }) => (Bytes::new(), dialect::failed_frame(spec.dialect, &c, cut_at)),
        Some(Fault::StreamErrorEvent { .. }) => (Bytes::new(), dialect::error_frame(spec.dialect, &c, cut_at)),
        _ => (Bytes::new(), Bytes::new()),
    };
    let mut run = Run::new(
        p,
        attempt,
        plan.frames,
        plan.first_content,
        cut_at,
        spec.before_first_token,
        spec.per_token,
        spec.fault,
    );
    run.keepalive = spec.keepalive.map(|every| (every, sse::comment("keep-alive")));
    run.malformed = malformed;
    run.error = error;
    attempt_status(&run);
    response(headers, "text/event-stream; charset=utf-8", run.into_body())
}

fn attempt_status(run: &Run) {
    if let Some(a) = &run.attempt {
        a.update(|r| r.status = Some(200));
    }
}

pub(crate) fn fault_after(f: &Fault) -> usize {
    match f {
        Fault::StreamCut { after_events }
        | Fault::StreamTruncate { after_events }
        | Fault::StreamMalformed { after_events }
        | Fault::StreamStall { after_events, .. }
        | Fault::StreamErrorEvent { after_events }
        | Fault::ResponseFailed { after_events } => *after_events as usize,
        _ => usize::MAX,
    }
}

/// Waits until `until` (or shutdown), or returns the keep-alive frame if one is due first.
pub(crate) async fn wait_or_keepalive(
    keepalive: Option<&(Duration, Bytes)>,
    shutdown: &tokio_util::sync::CancellationToken,
    until: Instant,
) -> Option<Bytes> {
    let now = Instant::now();
    if until <= now {
        return None;
    }
    let (sleep_to, keepalive) = match keepalive {
        Some((every, frame)) if now + *every < until => (now + *every, Some(frame.clone())),
        _ => (until, None),
    };
    tokio::select! {
        _ = tokio::time::sleep_until(sleep_to) => keepalive,
        _ = shutdown.cancelled() => None,
    }
}

/// A `stream_stall`'s pacing: the answer's own keep-alives (else one every 100 ms) when the
/// fault asks for them, silence otherwise; and when the stall ends.
pub(crate) fn stall_pacing(
    keepalive: bool,
    max: Option<crate::duration::Dur>,
    current: Option<(Duration, Bytes)>,
) -> (Option<(Duration, Bytes)>, Instant) {
    let pacing = keepalive.then(|| current.unwrap_or((Duration::from_millis(100), sse::comment("keep-alive"))));
    (pacing, Instant::now() + max.map_or(HANG_CAP, |m| m.0.min(HANG_CAP)))
}

/// The sending state of one answer body.
struct Run {
    p: Arc<Provider>,
    attempt: Option<Attempt>,
    frames: FrameList,
    next: usize,
    first_content: usize,
    cut_at: usize,
    started: Instant,
    first_token: Duration,
    per_token: Duration,
    fault: Option<Fault>,
    keepalive: Option<(Duration, Bytes)>,
    malformed: Bytes,
    error: Bytes,
    count_events: bool,
    stall_until: Option<Instant>,
    events: u64,
    bytes: u64,
    done: bool,
    /// When the first token event and the latest one were handed to the connection.
    first_event: Option<Instant>,
    last_event: Option<Instant>,
    /// Gaps between token events, in microseconds, recorded into the provider's histogram
    /// once, when the attempt ends (one lock per stream, not per event).
    gaps: Vec<u32>,
}

type Item = Result<Bytes, std::io::Error>;

impl Run {
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: Arc<Provider>,
        attempt: Attempt,
        frames: FrameList,
        first_content: usize,
        cut_at: usize,
        first_token: Duration,
        per_token: Duration,
        fault: Option<Fault>,
    ) -> Self {
        let cut_at = cut_at.min(frames.len()).max(if fault.is_some() { 0 } else { frames.len() });
        Run {
            p,
            attempt: Some(attempt),
            frames,
            next: 0,
            first_content,
            cut_at,
            started: Instant::now(),
            first_token,
            per_token,
            fault,
            keepalive: None,
            malformed: Bytes::new(),
            error: Bytes::new(),
            count_events: true,
            stall_until: None,
            events: 0,
            bytes: 0,
            done: false,
            first_event: None,
            last_event: None,
            gaps: Vec::new(),
        }
    }

    fn into_body(self) -> Body {
        Body::from_stream(futures::stream::unfold(self, |mut run| async move {
            let item = run.step().await?;
            Some((item, run))
        }))
    }

    fn due(&self, i: usize) -> Instant {
        if i < self.first_content {
            self.started
        } else {
            self.started + self.first_token + self.per_token * (i - self.first_content) as u32
        }
    }

    /// Hands `frame` (holding `events` events, sent at one instant) to the connection.
    fn sent(&mut self, frame: Bytes, events: usize) -> Option<Item> {
        self.bytes += frame.len() as u64;
        if events > 0 && self.count_events {
            self.events += events as u64;
            let now = Instant::now();
            match self.last_event {
                None => self.first_event = Some(now),
                Some(prev) => {
                    self.gaps.push(now.saturating_duration_since(prev).as_micros().min(u32::MAX as u128) as u32)
                }
            }
            self.gaps.extend(std::iter::repeat_n(0, events - 1));
            self.last_event = Some(now);
        }
        Some(Ok(frame))
    }

    /// Time to first token, and the gaps into the provider's histograms.
    fn record_latency(&mut self) -> Option<f64> {
        let arrived = self.attempt.as_ref().map_or(self.started, |a| a.arrived());
        let ttft = self.first_event.map(|f| f.saturating_duration_since(arrived));
        let gaps = std::mem::take(&mut self.gaps);
        self.p.with_latency(|l| {
            if let Some(t) = ttft {
                crate::metrics::record(&mut l.ttft, t);
            }
            for g in gaps {
                l.itl.saturating_record(u64::from(g).max(1));
            }
        });
        ttft.map(|t| t.as_secs_f64() * 1000.0)
    }

    fn finish(&mut self, outcome: Outcome) {
        self.done = true;
        let (events, bytes) = (self.events, self.bytes);
        if self.attempt.is_some() {
            let ttft = self.record_latency();
            let Some(a) = self.attempt.take() else { return };
            a.finish(|r| {
                r.first_token_ms = ttft;
                r.status = Some(200);
                r.outcome = outcome;
                r.events_sent = events;
                r.bytes_sent = bytes;
            });
        }
    }

    /// Waits until `until`, or returns a keep-alive frame if one is due first.
    async fn wait(&mut self, until: Instant) -> Option<Bytes> {
        wait_or_keepalive(self.keepalive.as_ref(), &self.p.shutdown, until).await
    }

    async fn step(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        if self.stall_until.is_some() {
            return self.stall().await;
        }
        if self.next < self.cut_at {
            if let Some(k) = self.wait(self.due(self.next)).await {
                return self.sent(k, 0);
            }
            // The frames already due leave together: one slice, one write for a fast model.
            let now = Instant::now();
            let mut end = self.next + 1;
            while end < self.cut_at && self.due(end) <= now {
                end += 1;
            }
            let frame = self.frames.span(self.next..end);
            let events = end - self.next;
            self.next = end;
            return self.sent(frame, events);
        }
        match self.fault.clone() {
            None => {
                self.finish(Outcome::Completed);
                None
            }
            Some(Fault::StreamCut { .. }) => self.cut(Outcome::StreamCut).await,
            Some(Fault::StreamTruncate { .. }) => {
                self.finish(Outcome::StreamTruncated);
                None
            }
            Some(Fault::StreamMalformed { .. }) => {
                let frame = self.malformed.clone();
                let item = self.sent(frame, 1);
                self.finish(Outcome::StreamMalformed);
                item
            }
            Some(Fault::StreamErrorEvent { .. } | Fault::ResponseFailed { .. }) => {
                let frame = self.error.clone();
                let item = self.sent(frame, 1);
                self.finish(Outcome::StreamErrorEvent);
                item
            }
            Some(Fault::StreamStall { keepalive, max, .. }) => {
                if let Some(a) = &self.attempt {
                    a.update(|r| r.outcome = Outcome::StreamStalled);
                }
                let until;
                (self.keepalive, until) = stall_pacing(keepalive, max, self.keepalive.take());
                self.stall_until = Some(until);
                self.stall().await
            }
            Some(_) => {
                self.finish(Outcome::Completed);
                None
            }
        }
    }

    /// Inside a stall: only keep-alives until it ends (or the fleet shuts down), then a cut.
    async fn stall(&mut self) -> Option<Item> {
        let end = self.stall_until?;
        if let Some(k) = self.wait(end).await {
            return self.sent(k, 0);
        }
        self.cut(Outcome::StreamStalled).await
    }

    /// Ends the body with an error: hyper drops the connection without the closing chunk.
    /// Hyper aborts without flushing what it has buffered, so first yield once: a pending body
    /// makes it flush, and the client really receives every frame the journal counts.
    async fn cut(&mut self, outcome: Outcome) -> Option<Item> {
        tokio::task::yield_now().await;
        self.finish(outcome);
        Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "gatedrill: stream cut")))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // The client went away mid-answer: keep what was sent; the attempt records the rest.
        if self.attempt.is_some() {
            let (events, bytes) = (self.events, self.bytes);
            let ttft = self.record_latency();
            let Some(a) = self.attempt.take() else { return };
            a.update(|r| {
                r.first_token_ms = ttft;
                r.events_sent = events;
                r.bytes_sent = bytes;
            });
        }
    }
}
