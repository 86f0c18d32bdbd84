//! One journaled attempt (the mock's side of a request): begun when the request arrives, and
//! finished with its outcome, or dropped unfinished when the client went away. What the handler
//! learns on the way (token counts, the request contract, the answer's tool calls) rides on the
//! attempt and is written with the outcome, so a plain answer takes the journal's lock twice.

use std::sync::Arc;

use tokio::time::Instant;

use super::journal::{self, AttemptRecord, Outcome};
use super::state::Provider;

/// One journaled attempt; finishing it writes the outcome, dropping it unfinished records
/// that the client went away.
pub struct Attempt {
    provider: Arc<Provider>,
    pub seq: u64,
    arrived: Instant,
    done: bool,
    /// Written with the outcome, so a plain answer takes the journal's lock twice, not four times.
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    /// Boxed: the attempt travels inside connection-level fault actions, kept small.
    pub contract: Option<Box<journal::RequestContract>>,
    /// The answer's tool calls by name, and whether their arguments were valid JSON.
    pub tool_calls: Option<Box<(Vec<String>, bool)>>,
}

impl Attempt {
    pub fn begin(p: &Arc<Provider>, rec: AttemptRecord, arrived: Instant) -> Self {
        let seq = p.journal.begin(rec, arrived, p.fleet_start());
        Attempt {
            provider: p.clone(),
            seq,
            arrived,
            done: false,
            prompt_tokens: None,
            completion_tokens: None,
            contract: None,
            tool_calls: None,
        }
    }

    /// When the request arrived (time to first token counts from here).
    pub fn arrived(&self) -> Instant {
        self.arrived
    }

    pub fn update(&self, f: impl FnOnce(&mut AttemptRecord)) {
        self.provider.journal.update(self.seq, f);
    }

    pub fn finish(mut self, f: impl FnOnce(&mut AttemptRecord)) {
        self.done = true;
        self.close(f);
    }

    /// Records the attempt's latency and writes what it carries, then `f`, to the journal.
    fn close(&mut self, f: impl FnOnce(&mut AttemptRecord)) {
        let took = self.arrived.elapsed();
        self.provider.with_latency(|l| crate::metrics::record(&mut l.attempt, took));
        let elapsed = journal::ms(took);
        let carried = Carried {
            prompt: self.prompt_tokens,
            completion: self.completion_tokens,
            contract: self.contract.take(),
            tool_calls: self.tool_calls.take(),
        };
        self.provider.journal.update(self.seq, |r| {
            carried.write(r);
            f(r);
            r.duration_ms = Some(elapsed);
        });
    }
}

/// What an [`Attempt`] carries to the journal when it ends.
struct Carried {
    prompt: Option<u64>,
    completion: Option<u64>,
    contract: Option<Box<journal::RequestContract>>,
    tool_calls: Option<Box<(Vec<String>, bool)>>,
}

impl Carried {
    fn write(self, r: &mut AttemptRecord) {
        r.prompt_tokens = self.prompt.or(r.prompt_tokens);
        r.completion_tokens = self.completion.or(r.completion_tokens);
        if let Some(c) = self.contract {
            r.contract = Some(*c);
        }
        if let Some(calls) = self.tool_calls {
            let (names, valid) = *calls;
            r.tool_calls = names;
            r.tool_arguments_valid = Some(valid);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            // A fault already named (a stall the client gave up on) stays the outcome.
            self.close(|r| {
                if r.outcome == Outcome::InFlight {
                    r.outcome = Outcome::ClientDisconnected;
                }
            });
        }
    }
}
