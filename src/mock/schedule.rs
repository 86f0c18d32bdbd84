//! The live rule book of one provider: which rules are loaded, how many requests each matched
//! and how many times it fired (its injection receipts), and the decision for each request.
//!
//! Firing is a pure function of the rule, its match count, the time since the fleet started and
//! a draw keyed on (seed, provider, request index, rule id). Rules are consulted in order; every
//! matching rule counts the request, the first firing latency rule and the first firing outcome
//! rule are applied, and a rule whose turn was taken by an earlier one does not fire (and so does
//! not spend its `times`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::faults::{Fault, FaultRule};
use crate::rng::DrawKey;

/// What the rule book needs to know about a request.
#[derive(Debug, Default)]
pub struct MatchInput<'a> {
    pub model: Option<&'a str>,
    pub stream: bool,
    pub path: Option<&'a str>,
    pub test_id: Option<&'a str>,
    /// True at accept time, when nothing has been read yet.
    pub at_accept: bool,
}

/// A fault chosen for a request, with the rule that chose it.
#[derive(Clone, Debug)]
pub struct Chosen {
    pub rule_id: String,
    pub fault: Fault,
    pub should_retry: Option<bool>,
}

#[derive(Debug, Default)]
pub struct Decision {
    pub latency: Option<Chosen>,
    pub outcome: Option<Chosen>,
}

/// A rule with its receipts, as the control API shows it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RuleReceipt {
    #[serde(flatten)]
    pub rule: FaultRule,
    pub matched: u64,
    pub fired: u64,
}

#[derive(Debug)]
pub enum RuleBookError {
    DuplicateId(String),
    WrongProvider { rule: String, named: String },
}

impl std::fmt::Display for RuleBookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleBookError::DuplicateId(id) => {
                write!(f, "rules: a rule with id {id:?} is already loaded")
            }
            RuleBookError::WrongProvider { rule, named } => {
                write!(f, "rules: rule {rule:?} matches provider {named:?}, not this one")
            }
        }
    }
}

pub struct RuleBook {
    provider: String,
    seed: u64,
    rules: Mutex<Vec<RuleReceipt>>,
    /// Rules loaded, readable without the lock: most requests meet an empty book.
    len: AtomicUsize,
}

impl RuleBook {
    pub fn new(provider: &str, seed: u64) -> Self {
        RuleBook { provider: provider.to_string(), seed, rules: Mutex::new(Vec::new()), len: AtomicUsize::new(0) }
    }

    /// Adds rules atomically: all or none.
    pub fn add(&self, rules: Vec<FaultRule>) -> Result<usize, RuleBookError> {
        let mut book = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        for (i, r) in rules.iter().enumerate() {
            if let Some(p) = &r.matcher.provider
                && *p != self.provider
            {
                return Err(RuleBookError::WrongProvider { rule: r.id.clone(), named: p.clone() });
            }
            if book.iter().any(|b| b.rule.id == r.id) || rules[..i].iter().any(|o| o.id == r.id) {
                return Err(RuleBookError::DuplicateId(r.id.clone()));
            }
        }
        let n = rules.len();
        book.extend(rules.into_iter().map(|rule| RuleReceipt { rule, matched: 0, fired: 0 }));
        self.len.store(book.len(), Ordering::Release);
        Ok(n)
    }

    pub fn clear(&self) {
        let mut book = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        book.clear();
        self.len.store(0, Ordering::Release);
    }

    pub fn receipts(&self) -> Vec<RuleReceipt> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Acquire) == 0
    }

    /// Decides the faults for request number `index`, `elapsed` after the fleet started.
    pub fn decide(&self, input: &MatchInput<'_>, index: u64, elapsed: Duration) -> Decision {
        let mut decision = Decision::default();
        if self.is_empty() {
            return decision;
        }
        let mut book = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let key = DrawKey::new(self.seed).with_str(&self.provider).with(index);
        for entry in book.iter_mut() {
            let rule = &entry.rule;
            if !matches(rule, input) {
                continue;
            }
            let nth = entry.matched;
            entry.matched += 1;
            let slot = if rule.fault.is_latency() { &mut decision.latency } else { &mut decision.outcome };
            if slot.is_some() || !fires(rule, nth, entry.fired, elapsed, key) {
                continue;
            }
            entry.fired += 1;
            *slot =
                Some(Chosen { rule_id: rule.id.clone(), fault: rule.fault.clone(), should_retry: rule.should_retry });
        }
        decision
    }
}

fn matches(rule: &FaultRule, input: &MatchInput<'_>) -> bool {
    // Refusal is decided at accept, and again for requests on connections accepted earlier.
    if input.at_accept && !rule.fault.is_at_accept() {
        return false;
    }
    let m = &rule.matcher;
    let eq = |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == got);
    eq(&m.model, input.model)
        && eq(&m.path, input.path)
        && eq(&m.test_id, input.test_id)
        && m.stream.is_none_or(|s| s == input.stream)
        && (!rule.fault.is_stream_only() || input.stream)
}

fn fires(rule: &FaultRule, nth: u64, fired: u64, elapsed: Duration, key: DrawKey) -> bool {
    let after = rule.after.unwrap_or(0);
    if nth < after {
        return false;
    }
    if let Some(n) = rule.every_nth
        && !(nth - after + 1).is_multiple_of(n)
    {
        return false;
    }
    if rule.times.is_some_and(|t| fired >= t) {
        return false;
    }
    if rule.from.is_some_and(|f| elapsed < f.0) || rule.until.is_some_and(|u| elapsed >= u.0) {
        return false;
    }
    match rule.probability {
        Some(p) => key.with_str(&rule.id).unit() < p,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::faults::FaultSet;

    fn book(json: &str) -> RuleBook {
        let set: FaultSet = serde_json::from_str(json).unwrap();
        let b = RuleBook::new("openai", 42);
        b.add(set.rules).unwrap();
        b
    }

    fn run(b: &RuleBook, n: u64) -> Vec<Option<String>> {
        let input = MatchInput { model: Some("gpt-5"), ..Default::default() };
        (0..n).map(|i| b.decide(&input, i, Duration::ZERO).outcome.map(|c| c.rule_id)).collect()
    }

    #[test]
    fn times_after_and_every_nth() {
        let b = book(r#"{"rules":[{"id":"a","fault":{"kind":"overloaded"},"after":1,"every_nth":2,"times":2}]}"#);
        let fired: Vec<bool> = run(&b, 8).iter().map(Option::is_some).collect();
        assert_eq!(fired, [false, false, true, false, true, false, false, false]);
        assert_eq!(b.receipts()[0].fired, 2);
        assert_eq!(b.receipts()[0].matched, 8);
    }

    #[test]
    fn probability_zero_never_one_always_and_seeded() {
        let b = book(r#"{"rules":[{"id":"p0","fault":{"kind":"overloaded"},"probability":0.0}]}"#);
        assert!(run(&b, 1000).iter().all(Option::is_none));
        let b = book(r#"{"rules":[{"id":"p1","fault":{"kind":"overloaded"},"probability":1.0}]}"#);
        assert!(run(&b, 1000).iter().all(Option::is_some));
        let half = r#"{"rules":[{"id":"h","fault":{"kind":"overloaded"},"probability":0.5}]}"#;
        let (x, y) = (run(&book(half), 400), run(&book(half), 400));
        assert_eq!(x, y);
        let n = x.iter().filter(|f| f.is_some()).count();
        assert!((150..250).contains(&n), "{n}");
    }

    #[test]
    fn window_and_model_match() {
        let b = book(
            r#"{"rules":[{"id":"w","fault":{"kind":"overloaded"},"from":"1s","until":"2s","match":{"model":"gpt-5"}}]}"#,
        );
        let input = MatchInput { model: Some("gpt-5"), ..Default::default() };
        assert!(b.decide(&input, 0, Duration::from_millis(500)).outcome.is_none());
        assert!(b.decide(&input, 1, Duration::from_millis(1500)).outcome.is_some());
        assert!(b.decide(&input, 2, Duration::from_millis(2000)).outcome.is_none());
        let other = MatchInput { model: Some("gpt-4"), ..Default::default() };
        assert!(b.decide(&other, 3, Duration::from_millis(1500)).outcome.is_none());
    }

    #[test]
    fn latency_stacks_with_one_outcome() {
        let b = book(
            r#"{"rules":[{"id":"d","fault":{"kind":"delay","fixed":"5ms"}},
                {"id":"first","fault":{"kind":"overloaded"}},{"id":"second","fault":{"kind":"auth_invalid"},"times":1}]}"#,
        );
        let d = b.decide(&MatchInput::default(), 0, Duration::ZERO);
        assert_eq!(d.latency.unwrap().rule_id, "d");
        assert_eq!(d.outcome.unwrap().rule_id, "first");
        // "second" matched but did not fire, so its single shot is still unspent.
        let r = b.receipts();
        assert_eq!((r[2].matched, r[2].fired), (1, 0));
    }

    #[test]
    fn stream_faults_skip_plain_requests_and_duplicates_are_refused() {
        let b = book(r#"{"rules":[{"id":"cut","fault":{"kind":"stream_cut","after_events":2}}]}"#);
        assert!(b.decide(&MatchInput::default(), 0, Duration::ZERO).outcome.is_none());
        let s = MatchInput { stream: true, ..Default::default() };
        assert!(b.decide(&s, 1, Duration::ZERO).outcome.is_some());
        let dup: FaultSet =
            serde_json::from_str(r#"{"rules":[{"id":"cut","fault":{"kind":"auth_invalid"}}]}"#).unwrap();
        assert!(matches!(b.add(dup.rules), Err(RuleBookError::DuplicateId(_))));
    }
}
