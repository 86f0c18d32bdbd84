//! Provider cooldowns (`AI_PROVIDER_COOLDOWN_MS`): a failed provider is skipped until its
//! deadline, which is at least as long as the Retry-After it sent. Re-cooling keeps the later
//! deadline, never the first one. Time is tokio's, so tests pause and advance it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::client::AttemptCode;

#[derive(Clone, Copy, Debug)]
struct State {
    until: Option<Instant>,
    last_error: Option<AttemptCode>,
}

/// A provider's cooldown, as health reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CooldownView {
    /// Time left, when cooling down now.
    pub remaining: Option<Duration>,
    pub last_error: Option<AttemptCode>,
}

/// The longest cooldown kept, whatever a provider's Retry-After asks (a day).
pub const MAX_PERIOD: Duration = Duration::from_secs(24 * 3600);

#[derive(Default)]
pub struct CooldownTracker {
    providers: Mutex<HashMap<String, State>>,
}

impl CooldownTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.providers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cools `provider` down for `period` from `now` (keeping a later deadline already set).
    pub fn cool(&self, provider: &str, period: Duration, code: AttemptCode, now: Instant) {
        let mut g = self.lock();
        let s = g.entry(provider.to_string()).or_insert(State { until: None, last_error: None });
        // A period from the network (Retry-After) can be anything: keep the deadline where the
        // clock can hold it.
        let until = now.checked_add(period.min(MAX_PERIOD)).unwrap_or(now);
        s.until = Some(s.until.map_or(until, |u| u.max(until)));
        s.last_error = Some(code);
    }

    pub fn is_cooling(&self, provider: &str, now: Instant) -> bool {
        self.lock().get(provider).and_then(|s| s.until).is_some_and(|u| u > now)
    }

    pub fn view(&self, provider: &str, now: Instant) -> CooldownView {
        let g = self.lock();
        let s = g.get(provider);
        CooldownView {
            remaining: s.and_then(|s| s.until).filter(|u| *u > now).map(|u| u - now),
            last_error: s.and_then(|s| s.last_error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_closes_and_keeps_the_later_deadline() {
        let t = CooldownTracker::default();
        let now = Instant::now();
        t.cool("openai", Duration::from_millis(100), AttemptCode::HttpError, now);
        assert!(t.is_cooling("openai", now));
        assert!(!t.is_cooling("anthropic", now));
        tokio::time::advance(Duration::from_millis(60)).await;
        // Re-cooled with a shorter period: the later deadline (100ms) stands.
        t.cool("openai", Duration::from_millis(10), AttemptCode::Timeout, Instant::now());
        tokio::time::advance(Duration::from_millis(30)).await;
        assert!(t.is_cooling("openai", Instant::now()));
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(!t.is_cooling("openai", Instant::now()), "closes at its deadline");
        let v = t.view("openai", Instant::now());
        assert_eq!((v.remaining, v.last_error), (None, Some(AttemptCode::Timeout)));
        t.cool("openai", Duration::MAX, AttemptCode::RateLimited, Instant::now());
        assert_eq!(t.view("openai", Instant::now()).remaining, Some(MAX_PERIOD), "a huge Retry-After is capped");
    }
}
