//! Cause and effect in a concurrent journal (DESIGN.md, "Conduct findings"): which of the
//! gateway's attempts were decided knowing which providers' answers. Arrival order is not that
//! order under load; the probe markers tie every attempt to its client request, and a gateway
//! acts on one request in order, so a request's neighbouring attempts and its client's send and
//! answer bound when the gateway decided and when it had read.

use std::collections::HashMap;

use super::conduct::{INFORMED_AFTER_MS, end_ms};
use super::requests::ClientRequest;
use crate::mock::journal::{AttemptRecord, Outcome};

/// What the probe markers and the client's requests say of cause and effect under concurrency.
/// An attempt ties to its request by the marker; within a request a gateway acts in order, so
/// the request's next attempt (or its answer to the client) shows when the gateway had read an
/// attempt's outcome, and the request's previous attempt (or the client's send) is the earliest
/// the gateway can have decided an attempt. Under load both are far from the journal's bare
/// times: a busy gateway reads an answer late, and an attempt decided early arrives late.
pub struct Causality<'a> {
    /// By (provider, seq): when the gateway had certainly read the attempt's outcome.
    pub read: HashMap<(&'a str, u64), f64>,
    /// By (provider, seq): the earliest the gateway can have decided to send the attempt.
    decided: HashMap<(&'a str, u64), f64>,
}

impl<'a> Causality<'a> {
    pub fn new(journal: &'a [AttemptRecord], requests: &[ClientRequest]) -> Self {
        let client: HashMap<&str, (f64, f64)> =
            requests.iter().map(|c| (c.marker.as_str(), (c.sent_ms, c.ended_ms))).collect();
        let mut by_marker: HashMap<&str, Vec<&AttemptRecord>> = HashMap::new();
        for r in journal {
            if let Some(m) = r.test_id.as_deref() {
                by_marker.entry(m).or_default().push(r);
            }
        }
        let (mut read, mut decided) = (HashMap::new(), HashMap::new());
        for (m, mut recs) in by_marker {
            recs.sort_by(|a, b| a.t_offset_ms.total_cmp(&b.t_offset_ms));
            let sent = client.get(m).map(|c| c.0);
            for (i, r) in recs.iter().enumerate() {
                let key = (r.provider.as_str(), r.seq);
                let next = recs[i + 1..].iter().find(|n| n.t_offset_ms > r.t_offset_ms).map(|n| n.t_offset_ms);
                if let Some(t) = next.or_else(|| client.get(m).map(|c| c.1)) {
                    read.insert(key, t);
                }
                // After the previous attempt ended, or began when they overlapped (a hedge). An
                // attempt the gateway left ends when the provider saw it go, a moment after the
                // gateway had moved on.
                let prev = recs[..i].iter().rev().find(|p| p.t_offset_ms < r.t_offset_ms).map(|p| {
                    let left =
                        matches!(p.outcome, Outcome::NoResponse | Outcome::StreamStalled | Outcome::ClientDisconnected);
                    let end = end_ms(p) - if left { INFORMED_AFTER_MS } else { 0.0 };
                    if end <= r.t_offset_ms { end } else { p.t_offset_ms }
                });
                if let Some(t) = prev.into_iter().chain(sent).reduce(f64::max) {
                    decided.insert(key, t.min(r.t_offset_ms));
                }
            }
        }
        Causality { read, decided }
    }

    /// When the gateway had certainly read `f`'s outcome: its end and the time to read it, or
    /// later when its request shows the gateway was slower.
    pub fn informed(&self, f: &AttemptRecord) -> f64 {
        let read = self.read.get(&(f.provider.as_str(), f.seq)).copied().unwrap_or(f64::NEG_INFINITY);
        (end_ms(f) + INFORMED_AFTER_MS).max(read)
    }

    /// `n` was decided with `f`'s outcome known: the same request's later attempt, or one whose
    /// earliest decision came after the gateway had read `f`.
    pub fn after(&self, f: &AttemptRecord, n: &AttemptRecord) -> bool {
        if f.test_id.is_some() && f.test_id == n.test_id {
            return n.t_offset_ms >= end_ms(f) + INFORMED_AFTER_MS;
        }
        let decided = self.decided.get(&(n.provider.as_str(), n.seq)).copied().unwrap_or(n.t_offset_ms);
        decided >= self.informed(f)
    }
}
