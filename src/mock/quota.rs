//! Per-key quotas: requests and tokens per minute as continuously refilling buckets, each
//! holding one minute's allowance. A refused request learns the real wait until enough has
//! refilled, which becomes its Retry-After; the remaining levels and time-to-full feed the
//! dialects' rate-limit headers. Time is tokio's, so tests can pause and advance it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::config::QuotaSpec;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    level: f64,
    capacity: f64,
    per_sec: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: u64, now: Instant) -> Self {
        let capacity = capacity as f64;
        Bucket { level: capacity, capacity, per_sec: capacity / 60.0, at: now }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + dt * self.per_sec).min(self.capacity);
        self.at = now;
    }

    fn wait_for(&self, n: f64) -> Duration {
        if self.level >= n || self.per_sec <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((n - self.level) / self.per_sec)
        }
    }

    fn time_to_full(&self) -> Duration {
        self.wait_for(self.capacity)
    }
}

/// One side (requests or tokens) of the state reported in rate-limit headers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    pub limit: u64,
    pub remaining: u64,
    pub reset: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuotaState {
    pub requests: Level,
    pub tokens: Level,
}

/// Which allowance refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    Requests,
    Tokens,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Admission {
    Admitted(QuotaState),
    /// Refused; `retry_after` is `None` when the request can never fit (it asks for more
    /// tokens than a whole minute's allowance).
    Refused {
        which: Exceeded,
        retry_after: Option<Duration>,
        used: u64,
        state: QuotaState,
    },
}

pub struct Quotas {
    spec: QuotaSpec,
    keys: Mutex<HashMap<String, (Bucket, Bucket)>>,
}

impl Quotas {
    pub fn new(spec: QuotaSpec) -> Self {
        Quotas { spec, keys: Mutex::new(HashMap::new()) }
    }

    /// Takes one request and `tokens` tokens from `key`'s buckets, or says how long to wait.
    pub fn admit(&self, key: &str, tokens: u64, now: Instant) -> Admission {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        // Look up before inserting: the key string is only copied the first time it is seen.
        if !keys.contains_key(key) {
            let fresh =
                (Bucket::full(self.spec.requests_per_minute, now), Bucket::full(self.spec.tokens_per_minute, now));
            keys.insert(key.to_string(), fresh);
        }
        let Some((req, tok)) = keys.get_mut(key) else { unreachable!("inserted above") };
        req.refill(now);
        tok.refill(now);
        let state = |r: &Bucket, t: &Bucket| QuotaState { requests: level(r), tokens: level(t) };
        let tokens_f = tokens as f64;
        if req.level < 1.0 {
            let used = (req.capacity - req.level).round() as u64;
            return Admission::Refused {
                which: Exceeded::Requests,
                retry_after: Some(req.wait_for(1.0)),
                used,
                state: state(req, tok),
            };
        }
        if tok.level < tokens_f {
            let used = (tok.capacity - tok.level).round() as u64;
            let retry_after = (tokens_f <= tok.capacity).then(|| tok.wait_for(tokens_f));
            return Admission::Refused { which: Exceeded::Tokens, retry_after, used, state: state(req, tok) };
        }
        req.level -= 1.0;
        tok.level -= tokens_f;
        Admission::Admitted(state(req, tok))
    }

    /// The limits with nothing used, for answers that never reached a bucket.
    pub fn untouched(&self) -> QuotaState {
        let l = |limit| Level { limit, remaining: limit, reset: Duration::ZERO };
        QuotaState { requests: l(self.spec.requests_per_minute), tokens: l(self.spec.tokens_per_minute) }
    }

    pub fn clear(&self) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

fn level(b: &Bucket) -> Level {
    Level { limit: b.capacity as u64, remaining: b.level.floor().max(0.0) as u64, reset: b.time_to_full() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn refuses_then_refills_continuously() {
        let q = Quotas::new(QuotaSpec { requests_per_minute: 60, tokens_per_minute: 6000 });
        let t0 = Instant::now();
        for _ in 0..60 {
            assert!(matches!(q.admit("k", 10, t0), Admission::Admitted(_)));
        }
        let Admission::Refused { which, retry_after, .. } = q.admit("k", 10, t0) else { panic!("admitted") };
        assert_eq!(which, Exceeded::Requests);
        assert_eq!(retry_after, Some(Duration::from_secs(1)));
        // One request refills every second: not yet at 999ms, yes at 1s.
        assert!(matches!(q.admit("k", 10, t0 + Duration::from_millis(999)), Admission::Refused { .. }));
        assert!(matches!(q.admit("k", 10, t0 + Duration::from_secs(1)), Admission::Admitted(_)));
        // Another key has its own buckets.
        assert!(matches!(q.admit("other", 10, t0), Admission::Admitted(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn token_wait_is_exact_and_oversize_never_fits() {
        let q = Quotas::new(QuotaSpec { requests_per_minute: 1000, tokens_per_minute: 600 });
        let t0 = Instant::now();
        let Admission::Admitted(s) = q.admit("k", 500, t0) else { panic!() };
        assert_eq!(s.tokens.remaining, 100);
        assert_eq!(s.tokens.reset, Duration::from_secs(50));
        // Needs 200, has 100, refills 10/s: 10 seconds.
        let Admission::Refused { which, retry_after, used, .. } = q.admit("k", 200, t0) else { panic!() };
        assert_eq!((which, retry_after, used), (Exceeded::Tokens, Some(Duration::from_secs(10)), 500));
        let Admission::Refused { retry_after, .. } = q.admit("k", 601, t0) else { panic!() };
        assert_eq!(retry_after, None);
    }
}
