//! One provider's live state: its configuration, rule book, journal and quotas, and the clock
//! that fault windows and journal offsets are measured from (the fleet's start).

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::ProviderSpec;
use super::faults::FaultRule;
use super::journal::Journal;
use super::quota::Quotas;
use super::schedule::{RuleBook, RuleBookError};

pub struct Provider {
    pub spec: ProviderSpec,
    pub rules: RuleBook,
    pub journal: Journal,
    pub quotas: Quotas,
    pub seed: u64,
    /// When the provider's clock started: the fleet's start, moved to the reset's instant by
    /// a reset (so a long-running fleet's fault windows count from each drill's start).
    epoch: Epoch,
    pub shutdown: CancellationToken,
    /// Whether any loaded rule acts at accept time (checked on every connection, so cached).
    accept_faults: AtomicBool,
    /// Handler panics caught (`crate::guard`): each is a harness error that fails the scenario.
    pub harness_errors: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Journal fingerprints of the configured keys, computed once.
    key_fingerprints: Vec<String>,
    /// Latency as the provider saw it: whole attempts, and for streams the first token and the
    /// gaps between tokens. Histograms, so memory stays flat however long the drill.
    pub latency: std::sync::Mutex<ProviderLatency>,
    /// Prompt prefixes seen, for cache-hit usage.
    pub prompt_cache: super::cache::PromptCache,
}

/// A provider's own latency histograms (microseconds).
pub struct ProviderLatency {
    pub attempt: crate::metrics::Hist,
    pub ttft: crate::metrics::Hist,
    pub itl: crate::metrics::Hist,
}

impl Provider {
    pub fn new(
        spec: ProviderSpec,
        seed: u64,
        fleet_start: Instant,
        journal_capacity: usize,
        shutdown: CancellationToken,
    ) -> Self {
        Provider {
            key_fingerprints: spec.api_keys.iter().map(|k| super::journal::key_fingerprint(k)).collect(),
            rules: RuleBook::new(&spec.name, seed),
            journal: Journal::new(&spec.name, journal_capacity),
            quotas: Quotas::new(spec.quota),
            spec,
            seed,
            epoch: Epoch::new(fleet_start),
            shutdown,
            accept_faults: AtomicBool::new(false),
            harness_errors: Default::default(),
            latency: std::sync::Mutex::new(ProviderLatency {
                attempt: crate::metrics::new_hist(),
                ttft: crate::metrics::new_hist(),
                itl: crate::metrics::new_hist(),
            }),
            prompt_cache: super::cache::PromptCache::default(),
        }
    }

    /// Runs `f` on the latency histograms (a poisoned lock is still usable: they are counters).
    pub fn with_latency<T>(&self, f: impl FnOnce(&mut ProviderLatency) -> T) -> T {
        f(&mut self.latency.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn add_rules(&self, rules: Vec<FaultRule>) -> Result<usize, RuleBookError> {
        let any_accept = rules.iter().any(|r| r.fault.is_at_accept());
        let n = self.rules.add(rules)?;
        if any_accept {
            self.accept_faults.store(true, Ordering::Release);
        }
        Ok(n)
    }

    pub fn clear_rules(&self) -> usize {
        let n = self.rules.receipts().len();
        self.rules.clear();
        self.accept_faults.store(false, Ordering::Release);
        n
    }

    /// Clears rules, journal, quota buckets, latency histograms, the prompt cache and the
    /// harness-error count, and restarts the clock: the provider is as if just started.
    pub fn reset(&self) {
        // The clock first: an attempt arriving during the reset counts from the new start.
        self.epoch.restart();
        self.clear_rules();
        self.journal.clear();
        self.quotas.clear();
        self.with_latency(|l| {
            l.attempt.reset();
            l.ttft.reset();
            l.itl.reset();
        });
        self.prompt_cache.clear();
        self.harness_errors.store(0, Ordering::Relaxed);
    }

    /// The instant journal offsets and fault windows count from.
    pub fn fleet_start(&self) -> Instant {
        self.epoch.get()
    }

    /// The index of a configured key equal to `key` (compared in constant time).
    pub fn key_index(&self, key: &str) -> Option<usize> {
        self.spec.api_keys.iter().position(|k| crate::secret::ct_eq(k.as_bytes(), key.as_bytes()))
    }

    /// The journal fingerprint of a presented key.
    pub fn fingerprint(&self, key: &str) -> String {
        match self.key_index(key) {
            Some(i) => self.key_fingerprints[i].clone(),
            None => super::journal::key_fingerprint(key),
        }
    }

    pub fn has_accept_faults(&self) -> bool {
        self.accept_faults.load(Ordering::Acquire)
    }
}

/// A restartable clock origin, read on every request without a lock: an offset in nanoseconds
/// from a fixed instant.
struct Epoch {
    base: Instant,
    offset_ns: std::sync::atomic::AtomicU64,
}

impl Epoch {
    fn new(base: Instant) -> Self {
        Epoch { base, offset_ns: std::sync::atomic::AtomicU64::new(0) }
    }

    fn get(&self) -> Instant {
        let ns = self.offset_ns.load(Ordering::Acquire);
        self.base.checked_add(std::time::Duration::from_nanos(ns)).unwrap_or(self.base)
    }

    fn restart(&self) {
        let ns = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.store(ns, Ordering::Release);
    }
}
