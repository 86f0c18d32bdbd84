//! The gateway's conduct, judged from the providers' side: the mocks' attempt journal and
//! injection receipts show what the gateway actually did to each provider, whatever it reported.
//! Each finding is a stable snake_case id with the evidence that decided it.

use std::collections::{BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::mock::faults::Fault;
use crate::mock::journal::{AttemptRecord, Outcome, Refusal};
use crate::mock::schedule::RuleReceipt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Finding {
    /// A provider was called again before the wait its Retry-After asked for.
    RetryAfterIgnored,
    /// The same request was sent again to a provider that refused it for a reason retrying
    /// cannot fix (401, 402, exhausted quota).
    RetriedNonRetryable,
    /// The same request hit one provider as often as the scenario's `conduct.retry_storm`
    /// (default 4: more than three times).
    RetryStorm,
    /// A provider was called again inside the cooldown that followed its failure (the
    /// scenario's declared `conduct.cooldown`, else the one gatedrill configured).
    CooldownViolated,
    /// The gateway reported success from a provider whose stream broke.
    TruncatedSuccessAccepted,
    /// The gateway gave up while a provider in the chain was never tried (and was not cooling
    /// down). Not raised once a stream had sent tokens to the client: past that point no
    /// gateway can fail over.
    FailoverSkipped,
    /// From a request's first failed attempt to the first byte of the fallback that served it
    /// took longer than the scenario's `conduct.failover_budget`.
    SlowFailover,
    /// A provider the gateway gave up waiting on (no answer, a stalled stream) was sent another
    /// attempt inside the declared cooldown that followed the timeout.
    HungProviderNotCooled,
    /// The gateway answered its client 429 without a `Retry-After` of its own.
    RetryAfterDropped,
    /// The client got a failure with its budget left while a provider serving that model was
    /// healthy (it answered other requests then, or never had a fault) and not cooling down.
    /// Not raised once a stream had sent tokens to the client.
    PrematureGiveUp,
    /// After a context overflow, a model with no larger window was tried.
    ContextOverflowMisrouted,
    /// A planned fault never fired: the drill did not happen.
    PlannedFaultNeverFired,
    /// A fallback attempt's request was not valid for its target (model, window, tools,
    /// betas, reasoning echo; `classify::contract`).
    FallbackRequestInvalid,
}

/// A finding with its evidence.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub finding: Finding,
    pub provider: String,
    pub detail: String,
}

/// A rule the scenario could not judge, and why: the trace says so rather than showing a pass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NotJudged {
    pub finding: Finding,
    pub reason: String,
}

/// What the judge needs besides the journal.
pub struct Context<'a> {
    /// The provider cooldown to judge with: the scenario's declared one, else the one gatedrill
    /// configured (embedded or spawned targets); `None`: the cooldown rules are not judged.
    pub cooldown_ms: Option<f64>,
    /// Sends of one request to one provider that make a retry storm.
    pub retry_storm: u32,
    /// The scenario's failover budget; `None`: `slow_failover` is not judged.
    pub failover_budget_ms: Option<f64>,
    /// The chat completions the client sent, as it took them.
    pub requests: &'a [super::requests::ClientRequest],
    /// Context window by model id.
    pub window: &'a dyn Fn(&str) -> Option<u64>,
    /// Every attempt is in the journal (its ring dropped none), so a receipt can be checked
    /// against what was delivered.
    pub journal_complete: bool,
}

/// Faults whose effect is to withhold (a wait, a stall, no answer): the client going away is
/// how they end, so an attempt the client left still received them.
fn withholds(f: &Fault) -> bool {
    matches!(f, Fault::NoResponse | Fault::StreamStall { .. } | Fault::Delay(_) | Fault::SlowFirstToken { .. })
}

/// Attempts that received `rule`'s fault: its bytes were written, or it withholds by nature.
fn delivered(journal: &[AttemptRecord], rule: &crate::mock::faults::FaultRule) -> u64 {
    journal
        .iter()
        .filter(|r| r.faults.iter().any(|f| f.rule == rule.id))
        .filter(|r| withholds(&rule.fault) || !matches!(r.outcome, Outcome::InFlight | Outcome::ClientDisconnected))
        .count() as u64
}

/// How long after an answer ended (as the provider journals it) the gateway can be expected to
/// have read it: its last bytes crossing loopback and the gateway's own bookkeeping.
pub(crate) const INFORMED_AFTER_MS: f64 = 5.0;

pub(crate) fn end_ms(r: &AttemptRecord) -> f64 {
    r.t_offset_ms + r.duration_ms.unwrap_or(0.0)
}

fn non_retryable(r: &AttemptRecord) -> bool {
    matches!(r.status, Some(401 | 402)) || r.refusal.is_some_and(Refusal::is_non_retryable)
}

pub(crate) fn failed(r: &AttemptRecord) -> bool {
    !matches!(r.outcome, Outcome::Completed | Outcome::InFlight)
}

/// A failure that should cool the provider down: not one the request's own shape caused.
fn unhealthy(r: &AttemptRecord) -> bool {
    failed(r) && !r.refusal.is_some_and(Refusal::is_request_shaped)
}

/// The provider gave up on by the gateway: it withheld its answer (no response, a stalled
/// stream, a delay it was still serving) and the attempt ended with the gateway leaving.
fn timed_out(r: &AttemptRecord, withholding: &BTreeSet<&str>) -> bool {
    match r.outcome {
        Outcome::NoResponse | Outcome::StreamStalled => true,
        Outcome::ClientDisconnected => r.faults.iter().any(|f| withholding.contains(f.rule.as_str())),
        _ => false,
    }
}

/// The rules this context cannot judge, each with the reason.
pub fn not_judged(ctx: &Context<'_>, has_journal: bool) -> Vec<NotJudged> {
    let mut out = Vec::new();
    let mut skip = |finding, reason: &str| out.push(NotJudged { finding, reason: reason.to_string() });
    if !has_journal {
        let reason = "no providers' journal: the target's providers are not gatedrill's mocks";
        for f in [
            Finding::CooldownViolated,
            Finding::HungProviderNotCooled,
            Finding::RetryStorm,
            Finding::SlowFailover,
            Finding::PrematureGiveUp,
            Finding::FailoverSkipped,
        ] {
            skip(f, reason);
        }
        return out;
    }
    if ctx.cooldown_ms.is_none() {
        let reason = "no cooldown known: declare the target's with [conduct] cooldown";
        skip(Finding::CooldownViolated, reason);
        skip(Finding::HungProviderNotCooled, reason);
    }
    if ctx.failover_budget_ms.is_none() {
        skip(Finding::SlowFailover, "no failover budget declared ([conduct] failover_budget)");
    }
    out
}

/// Findings from a merged journal (arrival order) and the receipts of every planned rule.
pub fn judge(journal: &[AttemptRecord], receipts: &[(String, RuleReceipt)], ctx: &Context<'_>) -> Vec<Evidence> {
    let mut out = Vec::new();
    let mut push = |finding, provider: &str, detail: String| {
        out.push(Evidence { finding, provider: provider.to_string(), detail })
    };
    // A rule naming no provider is loaded on every provider; it happened if it fired anywhere.
    let mut per_rule: std::collections::BTreeMap<(&str, Option<&str>), (u64, u64)> = std::collections::BTreeMap::new();
    for (provider, r) in receipts {
        let scope = r.rule.matcher.provider.as_ref().map(|_| provider.as_str());
        let e = per_rule.entry((r.rule.id.as_str(), scope)).or_default();
        e.0 += r.matched;
        e.1 += r.fired;
    }
    for ((rule, scope), (matched, fired)) in per_rule {
        if fired == 0 {
            push(
                Finding::PlannedFaultNeverFired,
                scope.unwrap_or("*"),
                format!("rule {rule:?} matched {matched} requests and never fired"),
            );
            continue;
        }
        // A receipt counts a decision; the journal shows whether the fault reached the wire.
        let spec = receipts.iter().map(|(_, r)| &r.rule).find(|r| r.id == rule);
        if ctx.journal_complete
            && let Some(spec) = spec
            && delivered(journal, spec) == 0
        {
            push(
                Finding::PlannedFaultNeverFired,
                scope.unwrap_or("*"),
                format!("rule {rule:?} fired {fired} time(s), but no attempt shows its answer delivered"),
            );
        }
    }
    // Under concurrency the journal's arrival order is not the order of cause and effect: an
    // attempt sent while another was still in flight cannot have ignored that one's answer. Each
    // rule judges only the attempts decided after the answer it concerns had ended and had had
    // time to reach the gateway (INFORMED_AFTER_MS, or later as `Causality` shows): one that
    // began in the same instant was sent on a decision made before that answer could be read.
    let withholding: BTreeSet<&str> =
        receipts.iter().filter(|(_, r)| withholds(&r.rule.fault)).map(|(_, r)| r.rule.id.as_str()).collect();
    // An attempt that ended because the client itself stopped waiting: the gateway was told to
    // stop, it did not give the provider up, and nothing calls for a cooldown.
    let gave_up: HashMap<&str, f64> =
        ctx.requests.iter().filter(|c| c.gave_up).map(|c| (c.marker.as_str(), c.ended_ms)).collect();
    let left = |r: &AttemptRecord| {
        r.test_id.as_deref().and_then(|m| gave_up.get(m)).is_some_and(|t| end_ms(r) + INFORMED_AFTER_MS >= *t)
    };
    let causality = super::causality::Causality::new(journal, ctx.requests);
    let mut by_provider: HashMap<&str, Vec<&AttemptRecord>> = HashMap::new();
    for r in journal {
        by_provider.entry(r.provider.as_str()).or_default().push(r);
    }
    for (provider, recs) in &mut by_provider {
        recs.sort_by(|a, b| a.t_offset_ms.total_cmp(&b.t_offset_ms).then(a.seq.cmp(&b.seq)));
        let mut per_body: HashMap<_, u32> = HashMap::new();
        for (i, r) in recs.iter().enumerate() {
            let ended = end_ms(r);
            let later: Vec<&&AttemptRecord> = recs[i + 1..].iter().filter(|n| causality.after(r, n)).collect();
            if let Some(wait) = r.retry_after_ms {
                let until = ended + wait as f64;
                if let Some(n) = later.iter().find(|n| n.t_offset_ms + 1.0 < until) {
                    push(
                        Finding::RetryAfterIgnored,
                        provider,
                        format!(
                            "attempt {} came {:.0}ms after a Retry-After of {wait}ms (attempt {})",
                            n.seq,
                            n.t_offset_ms - end_ms(r),
                            r.seq
                        ),
                    );
                }
            }
            if non_retryable(r)
                && let Some(n) = later.iter().find(|n| n.body_hash.is_some() && n.body_hash == r.body_hash)
            {
                push(
                    Finding::RetriedNonRetryable,
                    provider,
                    format!(
                        "attempt {} resent the request refused with {} (attempt {})",
                        n.seq,
                        match (&r.error, r.status) {
                            (Some(code), _) => code.clone(),
                            (None, Some(status)) => format!("status {status}"),
                            (None, None) => "a refusal".into(),
                        },
                        r.seq
                    ),
                );
            }
            let hung = timed_out(r, &withholding);
            if let (Some(cool), true) = (ctx.cooldown_ms, unhealthy(r) && !left(r))
                && r.retry_after_ms.is_none()
            {
                // A timeout's cooldown starts when the gateway gave up: before the provider saw
                // it leave (the journal's end) and before the request's next attempt, so the
                // window ends that much earlier. An answered failure's starts after its end.
                let (finding, what, until) = if hung {
                    let next = causality.read.get(&(r.provider.as_str(), r.seq)).copied();
                    let gave_up = ended.min(next.unwrap_or(ended));
                    (Finding::HungProviderNotCooled, "the gateway gave up on it", gave_up + cool - INFORMED_AFTER_MS)
                } else {
                    (Finding::CooldownViolated, "a failure", ended + cool - 1.0)
                };
                if let Some(n) = later.iter().find(|n| n.t_offset_ms < until) {
                    push(
                        finding,
                        provider,
                        format!(
                            "attempt {} came {:.0}ms after {what} (attempt {}, ended at {ended:.0}ms), inside a {cool:.0}ms cooldown",
                            n.seq,
                            n.t_offset_ms - ended,
                            r.seq
                        ),
                    );
                }
            }
            if let Some(h) = r.body_hash {
                let n = per_body.entry(h).or_default();
                *n += 1;
                if *n == ctx.retry_storm {
                    push(
                        Finding::RetryStorm,
                        provider,
                        format!(
                            "the same request reached this provider {} times (latest attempt {}, at {:.0}ms)",
                            ctx.retry_storm, r.seq, r.t_offset_ms
                        ),
                    );
                }
            }
        }
    }
    // Context overflow routing: after an overflow on a model, a later attempt of the same
    // request on a model whose window is no larger.
    for (i, r) in journal.iter().enumerate() {
        let Some(model) = r.model.as_deref() else { continue };
        let Some(w) = (ctx.window)(model) else { continue };
        let overflowed = r.status == Some(400) && r.prompt_tokens.is_some_and(|p| p > w)
            || r.refusal == Some(Refusal::ContextOverflow);
        if !overflowed {
            continue;
        }
        // The same request's next attempt: by the drill's marker when the gateway forwarded it,
        // else by a prompt of about the same size.
        let next = journal[i + 1..].iter().find(|n| {
            n.t_offset_ms >= end_ms(r)
                && match (&n.test_id, &r.test_id) {
                    (Some(a), Some(b)) => a == b,
                    _ => n.prompt_tokens.zip(r.prompt_tokens).is_none_or(|(a, b)| a.abs_diff(b) * 10 <= b.max(1)),
                }
        });
        if let Some(n) = next
            && n.model.as_deref().and_then(|m| (ctx.window)(m)).is_some_and(|nw| nw <= w)
        {
            push(
                Finding::ContextOverflowMisrouted,
                &n.provider,
                format!(
                    "after an overflow on {model} ({w} tokens), {} was tried",
                    n.model.as_deref().unwrap_or("a model with no larger window")
                ),
            );
        }
    }
    let named: BTreeSet<String> = receipts.iter().filter_map(|(_, r)| r.rule.matcher.provider.clone()).collect();
    let everywhere = receipts.iter().any(|(_, r)| r.rule.matcher.provider.is_none());
    let informed = |r: &AttemptRecord| causality.informed(r);
    let judged = super::requests::Judged { faulted: named, all_faulted: everywhere, left: &left, informed: &informed };
    out.extend(super::requests::judge(journal, ctx, &judged));
    out.extend(super::contract::judge(journal));
    out.sort_by(|a, b| a.finding.cmp(&b.finding).then_with(|| a.provider.cmp(&b.provider)));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mock::journal::{AppliedFault, BodyHash};

    pub(crate) fn rec(seq: u64, provider: &str, t: f64, dur: f64, body: u64) -> AttemptRecord {
        let mut r = AttemptRecord::new(provider);
        r.seq = seq;
        r.t_offset_ms = t;
        r.duration_ms = Some(dur);
        r.body_hash = Some(BodyHash(body));
        r.status = Some(200);
        r.outcome = Outcome::Completed;
        r.model = Some("gpt-5".into());
        r
    }

    pub(crate) fn ctx<'a>(
        cooldown: Option<f64>,
        window: &'a dyn Fn(&str) -> Option<u64>,
        complete: bool,
    ) -> Context<'a> {
        Context {
            cooldown_ms: cooldown,
            retry_storm: crate::scenario::conduct::DEFAULT_RETRY_STORM,
            failover_budget_ms: None,
            requests: &[],
            window,
            journal_complete: complete,
        }
    }

    fn judge_with(journal: &[AttemptRecord], cooldown: Option<f64>) -> Vec<Finding> {
        let window = |m: &str| match m {
            "small" => Some(8_000),
            "gpt-5" => Some(128_000),
            "big" => Some(200_000),
            _ => None,
        };
        judge(journal, &[], &ctx(cooldown, &window, true)).into_iter().map(|e| e.finding).collect()
    }

    #[test]
    fn retry_after_ignored_and_honoured() {
        let mut limited = rec(0, "openai", 0.0, 5.0, 1);
        limited.status = Some(429);
        limited.outcome = Outcome::HttpError;
        limited.retry_after_ms = Some(500);
        let early = rec(1, "openai", 200.0, 5.0, 2);
        assert_eq!(judge_with(&[limited.clone(), early], None), [Finding::RetryAfterIgnored]);
        let late = rec(1, "openai", 600.0, 5.0, 2);
        assert!(judge_with(&[limited.clone(), late], None).is_empty());
        let other_provider = rec(1, "anthropic", 10.0, 5.0, 1);
        assert!(judge_with(&[limited, other_provider], None).is_empty());
    }

    #[test]
    fn retried_non_retryable_only_for_the_same_request() {
        let mut refused = rec(0, "openai", 0.0, 5.0, 7);
        refused.status = Some(401);
        refused.refusal = Some(Refusal::InvalidKey);
        refused.outcome = Outcome::HttpError;
        assert_eq!(
            judge_with(&[refused.clone(), rec(1, "openai", 900.0, 5.0, 7)], None),
            [Finding::RetriedNonRetryable]
        );
        assert!(judge_with(&[refused, rec(1, "openai", 900.0, 5.0, 8)], None).is_empty());
    }

    #[test]
    fn cooldown_violated_inside_and_not_after() {
        let mut failed = rec(0, "openai", 0.0, 10.0, 1);
        failed.status = Some(500);
        failed.outcome = Outcome::HttpError;
        assert_eq!(
            judge_with(&[failed.clone(), rec(1, "openai", 100.0, 5.0, 2)], Some(200.0)),
            [Finding::CooldownViolated]
        );
        assert!(judge_with(&[failed.clone(), rec(1, "openai", 215.0, 5.0, 2)], Some(200.0)).is_empty());
        assert!(
            judge_with(&[failed, rec(1, "openai", 100.0, 5.0, 2)], None).is_empty(),
            "unknown cooldown: not judged"
        );
    }

    #[test]
    fn attempts_in_flight_when_a_failure_ended_are_not_judged_against_it() {
        let mut failed = rec(0, "openai", 0.0, 50.0, 1);
        failed.status = Some(500);
        failed.outcome = Outcome::HttpError;
        // Sent at 10 ms, while the failure was still in flight: not a cooldown violation.
        let concurrent = rec(1, "openai", 10.0, 80.0, 2);
        assert!(judge_with(&[failed.clone(), concurrent.clone()], Some(200.0)).is_empty());
        // Sent at 60 ms, after the failure ended, inside the cooldown: a violation.
        let after = rec(2, "openai", 60.0, 5.0, 3);
        assert_eq!(judge_with(&[failed.clone(), concurrent, after], Some(200.0)), [Finding::CooldownViolated]);
        // Sent as the failure's last bytes left the provider: decided before the gateway could
        // read them, so not judged; a few milliseconds later it is.
        let same_instant = rec(3, "openai", 50.4, 5.0, 4);
        assert!(judge_with(&[failed.clone(), same_instant], Some(200.0)).is_empty());
        let informed = rec(4, "openai", 50.0 + INFORMED_AFTER_MS, 5.0, 5);
        assert_eq!(judge_with(&[failed, informed], Some(200.0)), [Finding::CooldownViolated]);
    }

    #[test]
    fn a_refusal_of_the_request_itself_calls_for_no_cooldown() {
        let mut overflow = rec(0, "deepseek", 0.0, 5.0, 1);
        (overflow.status, overflow.outcome, overflow.refusal) =
            (Some(400), Outcome::HttpError, Some(Refusal::ContextOverflow));
        let next = rec(1, "deepseek", 50.0, 5.0, 2);
        let found = judge_with(&[overflow.clone(), next.clone()], Some(200.0));
        assert!(!found.contains(&Finding::CooldownViolated), "{found:?}");
        // A provider-side failure at the same moment still calls for one.
        let mut down = overflow;
        (down.status, down.refusal) = (Some(503), Some(Refusal::Unavailable));
        assert!(judge_with(&[down, next], Some(200.0)).contains(&Finding::CooldownViolated));
    }

    proptest::proptest! {
        /// A concurrent journal in which every attempt either overlapped the failure or came
        /// after its cooldown yields no finding, in any arrival order.
        #[test]
        fn concurrent_journals_yield_no_false_findings(
            starts in proptest::collection::vec(0.0f64..2_000.0, 1..200),
            durs in proptest::collection::vec(1.0f64..300.0, 200),
        ) {
            let mut failed = rec(0, "openai", 500.0, 100.0, 0);
            failed.status = Some(503);
            failed.outcome = Outcome::HttpError;
            let (ended, cool) = (600.0, 200.0);
            let mut journal = vec![failed];
            for (i, (t, d)) in starts.iter().zip(&durs).enumerate() {
                let t = if (ended..ended + cool).contains(t) { t - cool - 101.0 } else { *t };
                journal.push(rec(i as u64 + 1, "openai", t.max(0.0), *d, i as u64 + 1));
            }
            journal.sort_by_key(|r| (r.seq * 7919) % 211);
            proptest::prop_assert!(judge_with(&journal, Some(cool)).is_empty());
        }
    }

    #[test]
    fn retry_storm_at_four_attempts() {
        let three: Vec<_> = (0..3).map(|i| rec(i, "openai", i as f64 * 10.0, 1.0, 9)).collect();
        assert!(judge_with(&three, None).is_empty());
        let four: Vec<_> = (0..4).map(|i| rec(i, "openai", i as f64 * 10.0, 1.0, 9)).collect();
        assert_eq!(judge_with(&four, None), [Finding::RetryStorm]);
    }

    #[test]
    fn context_overflow_routing() {
        let mut overflow = rec(0, "deepseek", 0.0, 5.0, 1);
        overflow.model = Some("gpt-5".into());
        overflow.status = Some(400);
        overflow.outcome = Outcome::HttpError;
        overflow.prompt_tokens = Some(150_000);
        let mut smaller = rec(1, "openai", 10.0, 5.0, 2);
        smaller.model = Some("small".into());
        smaller.prompt_tokens = Some(150_000);
        assert_eq!(judge_with(&[overflow.clone(), smaller], None), [Finding::ContextOverflowMisrouted]);
        let mut bigger = rec(1, "anthropic", 10.0, 5.0, 2);
        bigger.model = Some("big".into());
        bigger.prompt_tokens = Some(150_000);
        assert!(judge_with(&[overflow.clone(), bigger], None).is_empty());
        let mut forced = overflow;
        forced.prompt_tokens = Some(10);
        forced.faults = vec![AppliedFault { rule: "o".into(), kind: "context_overflow".into() }];
        forced.refusal = Some(Refusal::ContextOverflow);
        let mut same = rec(1, "openai", 10.0, 5.0, 2);
        same.prompt_tokens = Some(10);
        assert_eq!(judge_with(&[forced, same], None), [Finding::ContextOverflowMisrouted]);
    }

    #[test]
    fn planned_fault_never_fired_counts_fleet_wide_rules_once() {
        let rule: crate::mock::faults::FaultSet =
            serde_json::from_str(r#"{"rules":[{"id":"all","fault":{"kind":"overloaded"}},{"id":"one","fault":{"kind":"overloaded"},"match":{"provider":"deepseek"}}]}"#).unwrap();
        let receipt = |r: &crate::mock::faults::FaultRule, fired| RuleReceipt { rule: r.clone(), matched: 3, fired };
        let receipts = vec![
            ("openai".to_string(), receipt(&rule.rules[0], 1)),
            ("anthropic".to_string(), receipt(&rule.rules[0], 0)),
            ("deepseek".to_string(), receipt(&rule.rules[1], 0)),
        ];
        let window = |_: &str| None;
        let found = judge(&[], &receipts, &ctx(None, &window, false));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].finding, found[0].provider.as_str()), (Finding::PlannedFaultNeverFired, "deepseek"));
        // A receipt that fired while no attempt shows the answer delivered (the client had gone):
        // the drill did not happen.
        let mut left = AttemptRecord::new("openai");
        left.faults = vec![AppliedFault { rule: "all".into(), kind: "overloaded".into() }];
        left.outcome = Outcome::ClientDisconnected;
        let ctx = ctx(None, &window, true);
        let found = judge(std::slice::from_ref(&left), &receipts, &ctx);
        assert_eq!(found.len(), 2, "{found:?}");
        left.outcome = Outcome::HttpError;
        assert_eq!(judge(&[left], &receipts, &ctx).len(), 1, "delivered: only deepseek's rule never fired");
    }
}
