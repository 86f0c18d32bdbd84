//! The attempt journal: one record per request a provider received, written when the request
//! arrives (outcome `in_flight`) and completed when its response ends, so a hung attempt is
//! visible while it hangs. This is the providers' side of the story, from which the runner judges
//! the gateway's conduct (Retry-After honoured, no retry storm, cooldown kept).
//!
//! The journal is a bounded ring: memory stays flat under any load, and a counter says how many
//! records fell off the front. The API key appears only as a fingerprint.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

/// How an attempt ended, as seen from the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    InFlight,
    Completed,
    HttpError,
    StreamCut,
    StreamTruncated,
    StreamMalformed,
    StreamStalled,
    StreamErrorEvent,
    ConnectionReset,
    ConnectionClosed,
    GarbageResponse,
    NoResponse,
    Refused,
    /// The client went away before the response ended.
    ClientDisconnected,
}

/// Why a provider refused an attempt, as the mock decided it (typed; `error` keeps the
/// dialect's own words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    BadRequest,
    MissingAuth,
    InvalidKey,
    ModelNotFound,
    NoRoute,
    TooLarge,
    ContextOverflow,
    RateLimited,
    QuotaExhausted,
    Overloaded,
    Unavailable,
    Status,
    StreamServerError,
    /// The model is served, but not on the API the request used.
    WrongApi,
    /// The fault proxy could not reach its upstream (refused, reset, no such host): it
    /// answered 502 itself.
    UpstreamUnreachable,
    /// The fault proxy's upstream did not answer within its timeout: it answered 504 itself.
    UpstreamTimeout,
}

impl Refusal {
    /// Refusals that sending the same request again cannot change (a key, a bill).
    pub fn is_non_retryable(self) -> bool {
        matches!(self, Refusal::MissingAuth | Refusal::InvalidKey | Refusal::QuotaExhausted)
    }

    /// Refusals of the request's shape (too long for the window, malformed, an unknown model):
    /// they say nothing of the provider's health, so they call for no cooldown (runbook:
    /// a context overflow routes to a larger window, cooling nobody down).
    pub fn is_request_shaped(self) -> bool {
        matches!(
            self,
            Refusal::BadRequest
                | Refusal::ModelNotFound
                | Refusal::NoRoute
                | Refusal::TooLarge
                | Refusal::ContextOverflow
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AppliedFault {
    pub rule: String,
    pub kind: Cow<'static, str>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct AttemptRecord {
    pub seq: u64,
    /// An owned copy per record: cloning a shared `Arc` here would bounce one cache line
    /// between every worker on every request (measured slower than a small allocation).
    pub provider: String,
    /// Milliseconds from the fleet's start to the request's arrival.
    pub t_offset_ms: f64,
    pub path: Option<Cow<'static, str>>,
    pub model: Option<String>,
    pub key_fingerprint: Option<String>,
    pub stream: bool,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub body_hash: Option<BodyHash>,
    pub test_id: Option<String>,
    pub faults: Vec<AppliedFault>,
    pub status: Option<u16>,
    pub outcome: Outcome,
    /// The dialect's error type or code in the answer, when it was an error.
    pub error: Option<String>,
    /// Why the provider refused, typed (what the conduct rules read).
    #[serde(default)]
    pub refusal: Option<Refusal>,
    /// The wait the answer asked for (Retry-After), in milliseconds.
    pub retry_after_ms: Option<u64>,
    pub events_sent: u64,
    pub bytes_sent: u64,
    pub duration_ms: Option<f64>,
    /// For streams: milliseconds from arrival to the first token event written.
    pub first_token_ms: Option<f64>,
    /// Milliseconds since the previous attempt with the same body hash on this provider.
    pub gap_since_same_body_ms: Option<f64>,
    /// The request's contract as the provider read it, when it parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<RequestContract>,
    /// The tool calls the answer carried, by tool name (empty for a text answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<String>,
    /// Whether those tool calls' arguments were valid JSON (false under `tool_call_malformed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_arguments_valid: Option<bool>,
}

/// What a request asked of the provider, recorded so the conduct rules can judge whether a
/// fallback attempt was valid for its target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestContract {
    /// The provider serves the model id.
    pub model_served: bool,
    /// The prompt (plus `max_tokens`) fits the model's context window.
    pub fits_window: bool,
    /// The declared tool names, in request order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// `anthropic-beta` flags the provider refused (empty when all were accepted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_betas: Vec<String>,
    /// A thinking-mode tool history without the `reasoning_content` echo the target requires.
    #[serde(default)]
    pub missing_reasoning_echo: bool,
}

impl AttemptRecord {
    pub fn new(provider: &str) -> Self {
        AttemptRecord {
            seq: 0,
            provider: provider.to_string(),
            t_offset_ms: 0.0,
            path: None,
            model: None,
            key_fingerprint: None,
            stream: false,
            prompt_tokens: None,
            completion_tokens: None,
            body_hash: None,
            test_id: None,
            faults: Vec::new(),
            status: None,
            outcome: Outcome::InFlight,
            error: None,
            refusal: None,
            retry_after_ms: None,
            events_sent: 0,
            bytes_sent: 0,
            duration_ms: None,
            first_token_ms: None,
            gap_since_same_body_ms: None,
            contract: None,
            tool_calls: Vec::new(),
            tool_arguments_valid: None,
        }
    }
}

/// Short, irreversible fingerprint of an API key.
pub fn key_fingerprint(key: &str) -> String {
    let d = Sha256::digest(key.as_bytes());
    format!("sha256:{}", hex::encode(&d[..6]))
}

/// The first 64 bits of a request body's SHA-256; shown as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BodyHash(pub u64);

impl<'de> Deserialize<'de> for BodyHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16).map(BodyHash).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for BodyHash {
    fn schema_name() -> Cow<'static, str> {
        "BodyHash".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[0-9a-f]{16}$"})
    }
}

impl Serialize for BodyHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:016x}", self.0))
    }
}

/// Hash of a request body, as shown in the journal.
pub fn body_hash(body: &[u8]) -> BodyHash {
    let d = Sha256::digest(body);
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    BodyHash(u64::from_be_bytes(first))
}

/// A page of the journal.
#[derive(Debug, Serialize)]
pub struct JournalPage {
    pub records: Vec<AttemptRecord>,
    /// Records that fell off the ring since the last reset.
    pub dropped: u64,
    /// The sequence number the next attempt will get.
    pub next_seq: u64,
}

struct Inner {
    records: VecDeque<AttemptRecord>,
    next_seq: u64,
    dropped: u64,
    /// Last arrival per body hash, for retry gaps; bounded FIFO.
    last_by_body: HashMap<BodyHash, (Instant, u64)>,
    body_order: VecDeque<(BodyHash, u64)>,
}

pub struct Journal {
    provider: String,
    capacity: usize,
    inner: Mutex<Inner>,
}

const BODY_MEMORY: usize = 4096;

impl Journal {
    pub fn new(provider: &str, capacity: usize) -> Self {
        Journal {
            provider: provider.to_string(),
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                records: VecDeque::new(),
                next_seq: 0,
                dropped: 0,
                last_by_body: HashMap::new(),
                body_order: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an arrival and returns its sequence number (also the provider's request index).
    pub fn begin(&self, mut rec: AttemptRecord, arrived: Instant, fleet_start: Instant) -> u64 {
        let mut g = self.lock();
        let seq = g.next_seq;
        g.next_seq += 1;
        rec.seq = seq;
        rec.t_offset_ms = ms(arrived.saturating_duration_since(fleet_start));
        if let Some(h) = rec.body_hash {
            if let Some((prev, _)) = g.last_by_body.get(&h) {
                rec.gap_since_same_body_ms = Some(ms(arrived.saturating_duration_since(*prev)));
            }
            g.last_by_body.insert(h, (arrived, seq));
            g.body_order.push_back((h, seq));
            if g.body_order.len() > BODY_MEMORY
                && let Some((old, old_seq)) = g.body_order.pop_front()
                && g.last_by_body.get(&old).is_some_and(|(_, s)| *s == old_seq)
            {
                g.last_by_body.remove(&old);
            }
        }
        let fell_off = if g.records.len() >= self.capacity {
            g.dropped += 1;
            g.records.pop_front()
        } else {
            if g.records.len() == g.records.capacity() {
                // Grown by doubling up to the capacity, never past it: a ring of 10,000 would
                // otherwise sit in 16,384 slots of a few hundred bytes each.
                let len = g.records.len();
                g.records.reserve_exact(len.max(16).min(self.capacity - len));
            }
            None
        };
        g.records.push_back(rec);
        // Freed after the lock is released: the other workers wait for it on every request.
        drop(g);
        drop(fell_off);
        seq
    }

    /// Updates the record `seq`, if it is still in the ring.
    pub fn update(&self, seq: u64, f: impl FnOnce(&mut AttemptRecord)) {
        let mut g = self.lock();
        let Some(front) = g.records.front().map(|r| r.seq) else {
            return;
        };
        if seq < front {
            return;
        }
        if let Some(r) = g.records.get_mut((seq - front) as usize) {
            debug_assert_eq!(r.seq, seq);
            f(r);
        }
    }

    /// Records with `seq >= since`, at most `limit`.
    pub fn page(&self, since: u64, limit: usize) -> JournalPage {
        let g = self.lock();
        let records = g.records.iter().filter(|r| r.seq >= since).take(limit).cloned().collect();
        JournalPage { records, dropped: g.dropped, next_seq: g.next_seq }
    }

    /// The sequence number the next arrival will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().next_seq
    }

    pub fn clear(&self) {
        let mut g = self.lock();
        g.records.clear();
        g.dropped = 0;
        g.last_by_body.clear();
        g.body_order.clear();
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ring_is_bounded_and_counts_drops() {
        let j = Journal::new("p", 3);
        let start = Instant::now();
        for _ in 0..5 {
            j.begin(AttemptRecord::new("p"), Instant::now(), start);
        }
        let page = j.page(0, 100);
        assert_eq!(page.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!((page.dropped, page.next_seq), (2, 5));
        j.update(0, |r| r.outcome = Outcome::Completed); // fell off: ignored
        j.update(3, |r| r.outcome = Outcome::Completed);
        assert_eq!(j.page(3, 1).records[0].outcome, Outcome::Completed);
    }

    #[tokio::test(start_paused = true)]
    async fn gap_since_same_body() {
        let j = Journal::new("p", 10);
        let start = Instant::now();
        let with_hash = |h: u64| AttemptRecord { body_hash: Some(BodyHash(h)), ..AttemptRecord::new("p") };
        j.begin(with_hash(1), Instant::now(), start);
        tokio::time::advance(Duration::from_millis(250)).await;
        j.begin(with_hash(2), Instant::now(), start);
        j.begin(with_hash(1), Instant::now(), start);
        let r = j.page(0, 10).records;
        assert_eq!(r[1].gap_since_same_body_ms, None);
        assert_eq!(r[2].gap_since_same_body_ms, Some(250.0));
        assert_eq!(r[2].t_offset_ms, 250.0);
    }

    #[test]
    fn fingerprint_hides_the_key() {
        let f = key_fingerprint("sk-secret-value");
        assert!(f.starts_with("sha256:") && !f.contains("secret"));
        assert_eq!(f.len(), "sha256:".len() + 12);
    }
}

/// Attempts the providers saw, by provider, model and outcome, with the tokens they counted:
/// the seed-000 "routed model mix" and the report's per-provider table. Counted over the whole
/// journal before a trace samples it, so the counts are exact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttemptCount {
    pub provider: String,
    pub model: Option<String>,
    pub outcome: Outcome,
    pub attempts: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl AttemptCount {
    fn same(&self, provider: &str, model: Option<&str>, outcome: Outcome) -> bool {
        self.provider == provider && self.model.as_deref() == model && self.outcome == outcome
    }

    fn add(&mut self, attempts: u64, prompt_tokens: u64, completion_tokens: u64) {
        self.attempts += attempts;
        self.prompt_tokens = self.prompt_tokens.saturating_add(prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(completion_tokens);
    }
}

/// Adds `c` to the matching count in `out` (same provider, model and outcome), or appends it.
pub fn add_count(out: &mut Vec<AttemptCount>, c: AttemptCount) {
    match out.iter_mut().find(|o| o.same(&c.provider, c.model.as_deref(), c.outcome)) {
        Some(o) => o.add(c.attempts, c.prompt_tokens, c.completion_tokens),
        None => out.push(c),
    }
}

/// The journal folded into [`AttemptCount`]s, in order of provider and model.
pub fn attempt_mix(records: &[AttemptRecord]) -> Vec<AttemptCount> {
    let mut out: Vec<AttemptCount> = Vec::new();
    for r in records {
        let (prompt, completion) = (r.prompt_tokens.unwrap_or(0), r.completion_tokens.unwrap_or(0));
        // Matched by reference: a record's strings are cloned only for a new count.
        match out.iter_mut().find(|c| c.same(&r.provider, r.model.as_deref(), r.outcome)) {
            Some(c) => c.add(1, prompt, completion),
            None => out.push(AttemptCount {
                provider: r.provider.clone(),
                model: r.model.clone(),
                outcome: r.outcome,
                attempts: 1,
                prompt_tokens: prompt,
                completion_tokens: completion,
            }),
        }
    }
    out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
    out
}
