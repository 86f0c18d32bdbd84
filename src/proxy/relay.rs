//! Sending an upstream's successful answer on to the client (DESIGN.md "The gateway under
//! test, and where its providers come from": the fault proxy): the bytes as they come, chunk by
//! chunk, never buffered whole; and, when a stream fault fired, the upstream's real SSE events
//! up to the point the fault names, then the fault (cut, truncate, broken frame, stall with
//! keep-alives, in-band error), exactly as the mocks end their own streams. A `delay` or
//! `slow_first_token` holds the answer, with DeepSeek-style keep-alives on a DeepSeek upstream
//! as the mock does.
//!
//! Every upstream read is bounded: a gap longer than the idle timeout, or more bytes than the
//! size cap, ends the answer as cut, and the journal says which. The journal record is written
//! when the body ends, or when the client drops it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::time::Instant;

use super::events::{StreamKind, Usage};
use crate::mock::faults::Fault;
use crate::mock::handler::Attempt;
use crate::mock::journal::{self, Outcome};
use crate::mock::state::Provider;
use crate::mock::stream::{stall_pacing, wait_or_keepalive};
use crate::sse::{self, Frame};

pub type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// How long and how much an upstream answer may take.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Longest wait for the upstream's headers, and longest gap between its chunks.
    pub timeout: Duration,
    /// Most bytes one answer may carry.
    pub max_bytes: u64,
}

/// An unterminated SSE frame larger than this ends the answer (an upstream that never closes
/// a frame would otherwise grow the decoder without bound).
const MAX_FRAME: usize = 4 * 1024 * 1024;

/// A plain answer's usage is read from its first bytes up to this size (a longer answer is
/// relayed whole, its tokens unrecorded).
const USAGE_BODY_LIMIT: usize = 1024 * 1024;

/// The SSE side of a relayed stream.
struct Events {
    kind: StreamKind,
    decoder: sse::Decoder,
    /// Decoded frames not yet sent.
    pending: VecDeque<Frame>,
    /// The decoder holds bytes of a frame not yet sent (frames are sent whole while a fault or
    /// a first-token wait is pending; otherwise the upstream's chunks go through as they are).
    withheld: bool,
    /// The stream fault, and after how many events it lands.
    fault: Option<(Fault, usize)>,
    /// Held before the first token: how long, once the first token frame is next.
    first_token_wait: Duration,
    /// The upstream's completion id and Responses snapshot, for the fault's own frame.
    id: String,
    snapshot: Option<Value>,
}

/// The sending state of one relayed answer.
pub struct Relay {
    p: Arc<Provider>,
    attempt: Option<Attempt>,
    status: u16,
    /// The plain body's announced length.
    length: Option<u64>,
    upstream: Upstream,
    bounds: Bounds,
    received: u64,
    events: Option<Events>,
    /// Hold the answer until then (sending keep-alives, when set, meanwhile).
    hold: Option<Instant>,
    keepalive: Option<(Duration, Bytes)>,
    /// The hold is a `stream_stall`: it ends in a cut.
    stalled: bool,
    sent_events: u64,
    sent_bytes: u64,
    first_event: Option<Instant>,
    /// Why the upstream's answer ended early, for the journal.
    upstream_error: Option<&'static str>,
    /// The tokens the upstream reported, and a plain body's bytes kept to read them from
    /// (up to [`USAGE_BODY_LIMIT`]).
    usage: Usage,
    plain: Vec<u8>,
    done: bool,
}

type Item = Result<Bytes, std::io::Error>;

/// What shapes a relayed answer.
pub struct Shape {
    /// Some for an SSE answer: what its events are.
    pub stream: Option<StreamKind>,
    /// A stream fault, applied to the upstream's events.
    pub fault: Option<Fault>,
    /// Hold the body this long first (a `delay` on a DeepSeek upstream, whose headers go first).
    pub hold: Duration,
    /// Held before the first token of a stream.
    pub first_token_wait: Duration,
    /// Keep-alives while the body is held (DeepSeek).
    pub keepalive: Option<Duration>,
    /// The upstream's announced body length.
    pub length: Option<u64>,
}

impl Relay {
    pub fn new(p: Arc<Provider>, attempt: Attempt, status: u16, upstream: Upstream, bounds: Bounds, s: Shape) -> Self {
        let events = s.stream.map(|kind| Events {
            kind,
            decoder: sse::Decoder::new(),
            pending: VecDeque::new(),
            withheld: false,
            fault: s.fault.filter(Fault::is_stream_only).map(|f| {
                let after = crate::mock::stream::fault_after(&f);
                (f, after)
            }),
            first_token_wait: s.first_token_wait,
            id: String::new(),
            snapshot: None,
        });
        let keepalive_frame = if events.is_some() { sse::comment("keep-alive") } else { Bytes::from_static(b"\n") };
        let (now, hold) = (Instant::now(), s.hold);
        Relay {
            p,
            attempt: Some(attempt),
            status,
            length: s.length,
            upstream,
            bounds,
            received: 0,
            events,
            hold: (!hold.is_zero()).then_some(now + hold),
            keepalive: s.keepalive.map(|every| (every, keepalive_frame)),
            stalled: false,
            sent_events: 0,
            sent_bytes: 0,
            first_event: None,
            upstream_error: None,
            usage: Usage::default(),
            plain: Vec::new(),
            done: false,
        }
    }

    pub fn into_body(self) -> axum::body::Body {
        axum::body::Body::from_stream(futures::stream::unfold(self, |mut relay| async move {
            let item = relay.step().await?;
            Some((item, relay))
        }))
    }

    async fn step(&mut self) -> Option<Item> {
        if self.done {
            return None;
        }
        if let Some(until) = self.hold {
            if let Some(k) = wait_or_keepalive(self.keepalive.as_ref(), &self.p.shutdown, until).await {
                return self.sent(k, 0);
            }
            self.hold = None;
            if self.stalled {
                return self.cut(Outcome::StreamStalled).await;
            }
        }
        if self.events.is_some() { self.step_events().await } else { self.step_plain().await }
    }

    /// A plain body: the upstream's chunks as they come.
    async fn step_plain(&mut self) -> Option<Item> {
        match self.read().await {
            Ok(Some(chunk)) => {
                if self.plain.len() + chunk.len() <= USAGE_BODY_LIMIT {
                    self.plain.extend_from_slice(&chunk);
                }
                self.sent(chunk, 0)
            }
            Ok(None) => {
                self.finish(Outcome::Completed);
                None
            }
            Err(why) => self.upstream_failed(why).await,
        }
    }

    /// An SSE body: frames counted as they pass, a fault applied where it lands.
    async fn step_events(&mut self) -> Option<Item> {
        loop {
            let ev = self.events.as_mut()?;
            if let Some(frame) = ev.pending.pop_front() {
                if frame.is_comment() {
                    return self.sent(frame.raw, 0);
                }
                if let Some((_, after)) = &ev.fault
                    && (self.sent_events as usize >= *after || ev.kind.is_terminal(&frame))
                {
                    return self.land_fault().await;
                }
                if !ev.first_token_wait.is_zero() && !ev.kind.is_preamble(&frame) {
                    let wait = std::mem::take(&mut ev.first_token_wait);
                    ev.pending.push_front(frame);
                    self.hold = Some(Instant::now() + wait);
                    return Box::pin(self.step()).await;
                }
                observe(ev, &frame);
                self.usage.read(frame.data.as_deref().unwrap_or_default().as_bytes());
                return self.sent(frame.raw, 1);
            }
            let whole = ev.fault.is_some() || !ev.first_token_wait.is_zero();
            let chunk = match self.read().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return self.upstream_ended().await,
                Err(why) => return self.upstream_failed(why).await,
            };
            let ev = self.events.as_mut()?;
            let carried =
                if ev.withheld && !whole { Bytes::copy_from_slice(ev.decoder.pending()) } else { Bytes::new() };
            let frames = ev.decoder.feed(&chunk);
            if ev.decoder.pending().len() > MAX_FRAME {
                return self.upstream_failed("upstream_frame_too_large").await;
            }
            if whole {
                ev.withheld = true;
                ev.pending.extend(frames);
                continue;
            }
            // Nothing to do to this stream: the upstream's bytes go through as they came.
            ev.withheld = false;
            let n = frames.iter().filter(|f| !f.is_comment()).count();
            for f in &frames {
                self.usage.read(f.data.as_deref().unwrap_or_default().as_bytes());
            }
            let out = if carried.is_empty() {
                chunk
            } else {
                let mut b = BytesMut::with_capacity(carried.len() + chunk.len());
                b.extend_from_slice(&carried);
                b.extend_from_slice(&chunk);
                b.freeze()
            };
            return self.sent(out, n);
        }
    }

    /// The upstream ended its stream: a fault not yet landed lands now (the upstream sent no
    /// terminator), else what is left of an unterminated frame goes out as it came.
    async fn upstream_ended(&mut self) -> Option<Item> {
        let ev = self.events.as_mut()?;
        if ev.fault.is_some() {
            return self.land_fault().await;
        }
        let rest = std::mem::take(&mut ev.decoder).finish();
        let withheld = std::mem::take(&mut ev.withheld);
        self.finish(Outcome::Completed);
        if withheld && !rest.is_empty() { self.sent(rest, 0) } else { None }
    }

    /// Applies the stream fault in place of the rest of the upstream's stream.
    async fn land_fault(&mut self) -> Option<Item> {
        let ev = self.events.as_mut()?;
        let (fault, _) = ev.fault.take()?;
        let frame = ev.kind.fault_frame(&fault, &ev.id, ev.snapshot.as_ref(), self.sent_events as usize);
        // The upstream is not read again: let it go now.
        self.upstream = Box::pin(futures::stream::empty());
        match fault {
            Fault::StreamCut { .. } => self.cut(Outcome::StreamCut).await,
            Fault::StreamTruncate { .. } => {
                self.finish(Outcome::StreamTruncated);
                None
            }
            Fault::StreamMalformed { .. } => {
                let item = self.sent(frame, 1);
                self.finish(Outcome::StreamMalformed);
                item
            }
            Fault::StreamStall { keepalive, max, .. } => {
                if let Some(a) = &self.attempt {
                    a.update(|r| r.outcome = Outcome::StreamStalled);
                }
                let until;
                (self.keepalive, until) = stall_pacing(keepalive, max, self.keepalive.take());
                // Held like any wait; when it ends, the stall ends in a cut.
                (self.hold, self.stalled) = (Some(until), true);
                Box::pin(self.step()).await
            }
            _ => {
                let item = self.sent(frame, 1);
                self.finish(Outcome::StreamErrorEvent);
                item
            }
        }
    }

    /// The next upstream chunk, `None` at its end; an error names why it failed.
    async fn read(&mut self) -> Result<Option<Bytes>, &'static str> {
        let next = tokio::select! {
            n = tokio::time::timeout(self.bounds.timeout, self.upstream.next()) => n,
            _ = self.p.shutdown.cancelled() => return Err("proxy_shutdown"),
        };
        match next {
            Err(_) => Err("upstream_timeout"),
            Ok(None) => Ok(None),
            Ok(Some(Err(_))) => Err("upstream_cut"),
            Ok(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                if self.received > self.bounds.max_bytes { Err("upstream_too_large") } else { Ok(Some(chunk)) }
            }
        }
    }

    /// The upstream's answer broke off: the client's is cut too, and the journal says why.
    async fn upstream_failed(&mut self, why: &'static str) -> Option<Item> {
        self.upstream_error = Some(why);
        self.upstream = Box::pin(futures::stream::empty());
        self.cut(Outcome::StreamCut).await
    }

    fn sent(&mut self, frame: Bytes, events: usize) -> Option<Item> {
        self.sent_bytes += frame.len() as u64;
        if events > 0 {
            self.sent_events += events as u64;
            self.first_event.get_or_insert_with(Instant::now);
        }
        // A body of announced length is not polled past its last byte: it ends here.
        if self.length == Some(self.sent_bytes) && self.events.is_none() {
            self.finish(Outcome::Completed);
        }
        Some(Ok(frame))
    }

    /// Ends the body with an error: the client's connection drops without the closing chunk.
    /// First yield once, so what was handed over is flushed (as the mocks' cut does).
    async fn cut(&mut self, outcome: Outcome) -> Option<Item> {
        tokio::task::yield_now().await;
        self.finish(outcome);
        Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "gatedrill proxy: stream cut")))
    }

    fn first_token_ms(&self) -> Option<f64> {
        let arrived = self.attempt.as_ref()?.arrived();
        let ttft = self.first_event?.saturating_duration_since(arrived);
        self.p.with_latency(|l| crate::metrics::record(&mut l.ttft, ttft));
        Some(journal::ms(ttft))
    }

    fn finish(&mut self, outcome: Outcome) {
        self.done = true;
        if self.events.is_none() && self.plain.len() < USAGE_BODY_LIMIT {
            self.usage.read(&std::mem::take(&mut self.plain));
        }
        let usage = self.usage;
        let ttft = self.first_token_ms();
        let (status, events, bytes, error) = (self.status, self.sent_events, self.sent_bytes, self.upstream_error);
        if let Some(a) = self.attempt.take() {
            a.finish(|r| {
                r.status = Some(status);
                r.outcome = outcome;
                r.events_sent = events;
                r.bytes_sent = bytes;
                r.first_token_ms = ttft;
                (r.prompt_tokens, r.completion_tokens) = (usage.prompt, usage.completion);
                if let Some(e) = error {
                    r.error = Some(e.to_string());
                }
            });
        }
    }
}

/// Remembers what a fault's own frame needs from the upstream's stream: the completion id of
/// an OpenAI-shaped chunk, the snapshot a Responses stream announced.
fn observe(ev: &mut Events, frame: &Frame) {
    let need_id = ev.id.is_empty() && !ev.kind.responses;
    let need_snapshot = ev.kind.responses && ev.snapshot.is_none();
    if ev.fault.is_none() || !(need_id || need_snapshot) {
        return;
    }
    let Some(v) = frame.data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) else { return };
    if need_id && let Some(id) = v["id"].as_str() {
        ev.id = id.to_string();
    }
    if need_snapshot && v["response"].is_object() {
        ev.snapshot = Some(v["response"].clone());
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The client went away mid-answer: keep what was sent; the attempt records the rest.
        if self.attempt.is_some() {
            let ttft = self.first_token_ms();
            let (events, bytes) = (self.sent_events, self.sent_bytes);
            if let Some(a) = self.attempt.take() {
                a.update(|r| {
                    r.status = Some(self.status);
                    r.first_token_ms = ttft;
                    r.events_sent = events;
                    r.bytes_sent = bytes;
                });
            }
        }
    }
}
