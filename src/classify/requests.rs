//! The gateway's conduct per client request (DESIGN.md, "Conduct findings"; runbook A, "AI
//! provider failover cascade"): what one OpenAI-compatible request got at the client, set
//! against the provider attempts its probe marker ties to it in the journal. A gateway that is
//! not gatedrill's (LiteLLM and its kind) reports nothing of its own failover, so every rule here
//! reads only the client's typed observation and the providers' journal.
//!
//! Time: the client's observations are on the fleet's clock (the journal's), taken when the
//! request was sent and when its answer ended. A gateway learns of a provider's failure no sooner
//! than the journal's end of that attempt, and acts on it within `INFORMED_AFTER_MS`
//! (`classify::conduct`); every window below leaves it that much room.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::conduct::{Context, Evidence, Finding, end_ms, failed};
use crate::mock::journal::{AttemptRecord, Outcome, Refusal};

/// Which API a client request used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `POST /v1/chat/completions`: judged by every per-request rule.
    #[default]
    Chat,
    /// The runbook's dry-run (its own report is judged in `classify::served`): its times only
    /// place its attempts in cause and effect.
    DryRun,
}

/// One request as its client took it, on the fleet's clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientRequest {
    #[serde(default)]
    pub api: Api,
    /// The probe marker in the prompt: the journal's `test_id` of every attempt it caused.
    pub marker: String,
    /// The `model` asked for (a role on the reference gateway, a model group on LiteLLM).
    pub model: String,
    /// The step that sent it (1-based, as reports number steps).
    pub step: usize,
    /// Milliseconds from the fleet's start when it was sent (0 without a fleet).
    pub sent_ms: f64,
    /// When its answer ended, or the client stopped waiting.
    pub ended_ms: f64,
    pub status: Option<u16>,
    /// A whole answer with status 200 (a finish reason, and a stream's terminator).
    pub ok: bool,
    /// The answer carried a `Retry-After` header.
    pub retry_after: bool,
    /// The client's budget (the step's deadline) was spent: it stopped waiting.
    pub gave_up: bool,
    /// A stream delivered content to the client before it ended: the gateway can no longer
    /// fail over without sending half an answer twice.
    pub tokens_received: bool,
}

/// `retry_after_dropped`: the gateway's own 429 told its client nothing of when to come back.
/// Judged from the client's side alone, so against any target.
pub fn judge_client(requests: &[ClientRequest]) -> Vec<Evidence> {
    let chat = requests.iter().filter(|c| c.api == Api::Chat);
    let dropped = chat.filter(|c| c.status == Some(429) && !c.retry_after).map(|c| Evidence {
        finding: Finding::RetryAfterDropped,
        provider: "gateway".into(),
        detail: format!("request {} (step {}) was answered 429 with no Retry-After", c.marker, c.step),
    });
    bounded(dropped.collect())
}

/// Evidence kept per (finding, provider): a load of failed requests names the first few and
/// counts the rest, so a trace stays readable and bounded.
pub const EVIDENCE_PER_FINDING: usize = 10;

/// The first `EVIDENCE_PER_FINDING` of each (finding, provider), then one line counting the rest.
fn bounded(all: Vec<Evidence>) -> Vec<Evidence> {
    let mut seen: BTreeMap<(Finding, String), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for e in all {
        let n = seen.entry((e.finding, e.provider.clone())).or_default();
        *n += 1;
        if *n <= EVIDENCE_PER_FINDING {
            out.push(e);
        }
    }
    for ((finding, provider), n) in seen.into_iter().filter(|(_, n)| *n > EVIDENCE_PER_FINDING) {
        let detail = format!("and {} more request(s) like these", n - EVIDENCE_PER_FINDING);
        out.push(Evidence { finding, provider, detail });
    }
    out
}

/// What the journal says of one provider around a client request.
struct Provider<'a> {
    /// Every attempt on it, in arrival order.
    attempts: Vec<&'a AttemptRecord>,
    /// A fault rule could still hit it (a rule naming it, or one naming no provider).
    faulted: bool,
}

/// A failure that says the provider is unwell (not the request's own shape).
fn unhealthy(r: &AttemptRecord) -> bool {
    failed(r) && !r.refusal.is_some_and(Refusal::is_request_shaped)
}

impl Provider<'_> {
    /// A failure of this provider that a correct gateway may still be honouring during
    /// `[from, to]`: it began by `to` (a timeout's end is when the provider saw the gateway
    /// leave, which may follow the gateway's answer), and its cooldown (the longer of the declared one and its
    /// Retry-After), counted from when the gateway had certainly read it, reached `from`. With
    /// no cooldown known, any earlier failure excuses.
    fn excusing_failure(&self, from: f64, to: f64, ctx: &Context<'_>, judged: &Judged<'_>) -> Option<&AttemptRecord> {
        self.attempts.iter().copied().find(|r| {
            let hold = match ctx.cooldown_ms {
                Some(c) => c.max(r.retry_after_ms.unwrap_or(0) as f64),
                None => f64::INFINITY,
            };
            unhealthy(r) && !(judged.left)(r) && r.t_offset_ms <= to && (judged.informed)(r) + hold >= from
        })
    }

    /// An attempt it answered whole that began during `[from, to]`.
    fn answered(&self, from: f64, to: f64) -> Option<&AttemptRecord> {
        self.attempts.iter().copied().find(|r| r.outcome == Outcome::Completed && (from..=to).contains(&r.t_offset_ms))
    }

    /// It never failed up to `to`, and no fault rule could have been waiting for it.
    fn never_faulted(&self, to: f64) -> bool {
        !self.faulted && !self.attempts.iter().any(|r| failed(r) && r.t_offset_ms <= to)
    }
}

/// What the journal-wide judgement already knows of each attempt.
pub struct Judged<'a> {
    /// Providers a fault rule names; `all_faulted`: a rule names none, so it reaches every one.
    pub faulted: BTreeSet<String>,
    pub all_faulted: bool,
    /// The attempt ended because the client itself stopped waiting.
    pub left: &'a dyn Fn(&AttemptRecord) -> bool,
    /// When the gateway had certainly read the attempt's outcome.
    pub informed: &'a dyn Fn(&AttemptRecord) -> f64,
}

/// `slow_failover`, `premature_give_up` and `failover_skipped`, from the journal, the client's
/// requests and the scenario's rules.
pub fn judge(journal: &[AttemptRecord], ctx: &Context<'_>, judged: &Judged<'_>) -> Vec<Evidence> {
    let mut out = Vec::new();
    let mut by_marker: HashMap<&str, Vec<&AttemptRecord>> = HashMap::new();
    for r in journal {
        if let Some(m) = r.test_id.as_deref() {
            by_marker.entry(m).or_default().push(r);
        }
    }
    for recs in by_marker.values_mut() {
        recs.sort_by(|a, b| a.t_offset_ms.total_cmp(&b.t_offset_ms).then(a.seq.cmp(&b.seq)));
    }
    if let Some(budget) = ctx.failover_budget_ms {
        let mut markers: Vec<&&str> = by_marker.keys().collect();
        markers.sort();
        for m in markers {
            if let Some(e) = slow_failover(m, &by_marker[*m], budget) {
                out.push(e);
            }
        }
    }
    // The chain of a model: every provider an attempt for a request of that model reached.
    let chat: Vec<&ClientRequest> = ctx.requests.iter().filter(|c| c.api == Api::Chat).collect();
    let model_of: HashMap<&str, &str> = chat.iter().map(|c| (c.marker.as_str(), c.model.as_str())).collect();
    let mut chains: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in journal {
        if let Some(model) = r.test_id.as_deref().and_then(|m| model_of.get(m)) {
            chains.entry(model).or_default().insert(r.provider.as_str());
        }
    }
    let mut providers: BTreeMap<&str, Provider<'_>> = BTreeMap::new();
    for r in journal {
        providers
            .entry(r.provider.as_str())
            .or_insert_with(|| Provider {
                attempts: Vec::new(),
                faulted: judged.all_faulted || judged.faulted.contains(&r.provider),
            })
            .attempts
            .push(r);
    }
    // Once tokens reached the client the answer is the stream's: no gateway can start it again
    // elsewhere, so a healthy member is no give-up and no skipped failover.
    for c in chat.into_iter().filter(|c| !c.ok && !c.gave_up && !c.tokens_received) {
        let mine = by_marker.get(c.marker.as_str()).map(Vec::as_slice).unwrap_or_default();
        // A refusal of the request's own shape (a context overflow) lets a gateway pass over
        // every link it cannot fit: what was not tried may have been rightly not tried.
        if mine.iter().any(|r| r.refusal.is_some_and(Refusal::is_request_shaped)) {
            continue;
        }
        let Some(chain) = chains.get(c.model.as_str()) else { continue };
        for p in chain {
            let Some(view) = providers.get(p) else { continue };
            let tried = mine.iter().any(|r| r.provider == *p);
            if view.excusing_failure(c.sent_ms, c.ended_ms, ctx, judged).is_some() {
                continue;
            }
            let healthy = match view.answered(c.sent_ms, c.ended_ms) {
                Some(a) => Some(format!("answered attempt {} at {:.0}ms", a.seq, a.t_offset_ms)),
                None if view.never_faulted(c.ended_ms) => Some("had no fault and no failure".to_string()),
                None => None,
            };
            let when = format!("request {} (step {}), failed at {:.0}ms ({})", c.marker, c.step, c.ended_ms, status(c));
            if let Some(how) = healthy {
                out.push(Evidence {
                    finding: Finding::PrematureGiveUp,
                    provider: p.to_string(),
                    detail: format!("{when} with its budget left, while {p} {how}"),
                });
            }
            if !tried {
                out.push(Evidence {
                    finding: Finding::FailoverSkipped,
                    provider: p.to_string(),
                    detail: format!(
                        "{when} without trying {p}, which this model's requests reached and which was not cooling down"
                    ),
                });
            }
        }
    }
    bounded(out)
}

fn status(c: &ClientRequest) -> String {
    c.status.map_or("no status".into(), |s| format!("status {s}"))
}

/// From the request's first failure to the first byte of the fallback that served it.
fn slow_failover(marker: &str, recs: &[&AttemptRecord], budget: f64) -> Option<Evidence> {
    let (i, first) = recs.iter().enumerate().find(|(_, r)| failed(r))?;
    let served = recs[i + 1..].iter().find(|r| r.outcome == Outcome::Completed && r.provider != first.provider)?;
    let first_byte = served.t_offset_ms + served.first_token_ms.or(served.duration_ms)?;
    let took = first_byte - end_ms(first);
    (took.is_finite() && took > budget).then(|| Evidence {
        finding: Finding::SlowFailover,
        provider: served.provider.clone(),
        detail: format!(
            "request {marker}: {} failed (attempt {}, ended at {:.0}ms); {}'s first byte came at {first_byte:.0}ms (attempt {}): {took:.0}ms, over a budget of {budget:.0}ms",
            first.provider,
            first.seq,
            end_ms(first),
            served.provider,
            served.seq
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::conduct::judge;
    use crate::classify::conduct::tests::{ctx, rec};
    use crate::mock::journal::AppliedFault;
    use crate::mock::schedule::RuleReceipt;

    fn tagged(seq: u64, provider: &str, t: f64, dur: f64, marker: &str, outcome: Outcome) -> AttemptRecord {
        let mut r = rec(seq, provider, t, dur, seq + 100);
        r.test_id = Some(marker.into());
        r.outcome = outcome;
        if outcome != Outcome::Completed {
            r.status = Some(500);
        }
        r
    }

    fn client(marker: &str, sent: f64, ended: f64, status: u16) -> ClientRequest {
        ClientRequest {
            marker: marker.into(),
            model: "author".into(),
            step: 1,
            sent_ms: sent,
            ended_ms: ended,
            status: Some(status),
            ok: status == 200,
            ..Default::default()
        }
    }

    fn found(
        journal: &[AttemptRecord],
        receipts: &[(String, RuleReceipt)],
        requests: &[ClientRequest],
        cooldown: Option<f64>,
        budget: Option<f64>,
        storm: u32,
    ) -> Vec<Finding> {
        let window = |_: &str| None;
        let mut c = ctx(cooldown, &window, true);
        (c.requests, c.failover_budget_ms, c.retry_storm) = (requests, budget, storm);
        let mut out: Vec<Finding> = judge(journal, receipts, &c)
            .into_iter()
            .map(|e| e.finding)
            .filter(|f| *f != Finding::PlannedFaultNeverFired)
            .collect();
        out.extend(judge_client(requests).into_iter().map(|e| e.finding));
        out.sort();
        out.dedup();
        out
    }

    fn receipt(id: &str, fault: &str, provider: Option<&str>) -> (String, RuleReceipt) {
        let m = provider.map_or(String::new(), |p| format!(r#","match":{{"provider":"{p}"}}"#));
        let set: crate::mock::faults::FaultSet =
            serde_json::from_str(&format!(r#"{{"rules":[{{"id":"{id}","fault":{fault}{m}}}]}}"#)).unwrap();
        (provider.unwrap_or("openai").to_string(), RuleReceipt { rule: set.rules[0].clone(), matched: 1, fired: 1 })
    }

    #[test]
    fn hung_provider_not_cooled_inside_the_declared_cooldown_only() {
        let hung = tagged(0, "openai", 0.0, 300.0, "a", Outcome::NoResponse);
        let at = |t: f64| tagged(1, "openai", t, 5.0, "b", Outcome::Completed);
        let judge = |next: AttemptRecord, cool| found(&[hung.clone(), next], &[], &[], cool, None, 4);
        assert_eq!(judge(at(310.0), Some(1000.0)), [Finding::HungProviderNotCooled]);
        assert!(judge(at(302.0), Some(1000.0)).is_empty(), "sent before the timeout could be acted on");
        assert!(judge(at(1296.0), Some(1000.0)).is_empty(), "the cooldown began as the gateway gave up");
        assert!(judge(at(1400.0), Some(1000.0)).is_empty());
        assert!(judge(at(310.0), None).is_empty(), "no cooldown known: not judged");
        // A slow answer the gateway left: hung when its rule withholds, a plain failure otherwise.
        let mut left = tagged(0, "openai", 0.0, 300.0, "a", Outcome::ClientDisconnected);
        left.faults = vec![AppliedFault { rule: "slow".into(), kind: "delay".into() }];
        let delay = receipt("slow", r#"{"kind":"delay","fixed":"10s"}"#, Some("openai"));
        let j = [left.clone(), at(310.0)];
        assert_eq!(found(&j, &[delay], &[], Some(1000.0), None, 4), [Finding::HungProviderNotCooled]);
        let cut = receipt("slow", r#"{"kind":"stream_cut","after_events":1}"#, Some("openai"));
        assert_eq!(found(&j, &[cut], &[], Some(1000.0), None, 4), [Finding::CooldownViolated]);
        // The gateway's own client stopped waiting: the gateway was told to stop, not timed out.
        let mut gone = client("a", 0.0, 299.0, 200);
        (gone.status, gone.gave_up) = (None, true);
        let j = [hung.clone(), at(310.0)];
        assert!(found(&j, &[], &[gone], Some(1000.0), None, 4).is_empty());
    }

    #[test]
    fn retry_storm_at_the_declared_threshold() {
        let sends = |n: u64| (0..n).map(|i| rec(i, "openai", i as f64 * 10.0, 1.0, 9)).collect::<Vec<_>>();
        assert!(found(&sends(2), &[], &[], None, None, 3).is_empty());
        assert_eq!(found(&sends(3), &[], &[], None, None, 3), [Finding::RetryStorm]);
        assert!(found(&sends(3), &[], &[], None, None, 4).is_empty());
    }

    #[test]
    fn slow_failover_from_the_first_failure_to_the_fallbacks_first_byte() {
        let failed = tagged(0, "openai", 0.0, 10.0, "m", Outcome::HttpError);
        let mut served = tagged(1, "anthropic", 20.0, 50.0, "m", Outcome::Completed);
        let j = [failed.clone(), served.clone()];
        // First byte of a plain answer: its end, 70 ms; 60 ms after the failure ended.
        assert_eq!(found(&j, &[], &[], None, Some(50.0), 4), [Finding::SlowFailover]);
        assert!(found(&j, &[], &[], None, Some(60.0), 4).is_empty());
        assert!(found(&j, &[], &[], None, None, 4).is_empty(), "no budget: not judged");
        served.first_token_ms = Some(5.0);
        assert!(
            found(&[failed.clone(), served.clone()], &[], &[], None, Some(50.0), 4).is_empty(),
            "a stream's first token"
        );
        // Another request's answer is not this request's failover.
        served.test_id = Some("other".into());
        assert!(found(&[failed.clone(), served], &[], &[], None, Some(1.0), 4).is_empty());
        // A retry on the same provider is not a failover.
        let again = tagged(1, "openai", 500.0, 5.0, "m", Outcome::Completed);
        assert!(found(&[failed, again], &[], &[], None, Some(1.0), 4).is_empty());
    }

    #[test]
    fn retry_after_dropped_only_on_the_gateways_own_429_without_one() {
        let mut limited = client("m", 0.0, 10.0, 429);
        assert_eq!(found(&[], &[], std::slice::from_ref(&limited), None, None, 4), [Finding::RetryAfterDropped]);
        limited.retry_after = true;
        assert!(found(&[], &[], &[limited], None, None, 4).is_empty());
        assert!(found(&[], &[], &[client("m", 0.0, 10.0, 503)], None, None, 4).is_empty());
    }

    /// Request `a` was served by anthropic; request `b` failed after trying only openai.
    fn gave_up_early() -> (Vec<AttemptRecord>, Vec<ClientRequest>) {
        let journal = vec![
            tagged(0, "anthropic", 0.0, 50.0, "a", Outcome::Completed),
            tagged(1, "openai", 200.0, 10.0, "b", Outcome::HttpError),
        ];
        (journal, vec![client("a", 0.0, 60.0, 200), client("b", 200.0, 215.0, 503)])
    }

    #[test]
    fn giving_up_while_a_healthy_member_was_untried() {
        let (journal, requests) = gave_up_early();
        let both = [Finding::FailoverSkipped, Finding::PrematureGiveUp];
        assert_eq!(found(&journal, &[], &requests, Some(1000.0), None, 4), both);
        // Its stream had sent tokens to the client: failing over is no longer possible.
        let mut streamed = requests.clone();
        streamed[1].tokens_received = true;
        assert!(found(&journal, &[], &streamed, Some(1000.0), None, 4).is_empty());
        // The client's budget was spent: the gateway did not give up, the client did.
        let mut spent = requests.clone();
        spent[1].gave_up = true;
        assert!(found(&journal, &[], &spent, Some(1000.0), None, 4).is_empty());
        // A fault rule could have been waiting for anthropic: not known healthy, still skipped.
        let rule = receipt("down", r#"{"kind":"overloaded"}"#, Some("anthropic"));
        assert_eq!(found(&journal, &[rule], &requests, Some(1000.0), None, 4), [Finding::FailoverSkipped]);
    }

    #[test]
    fn a_member_cooling_down_or_a_refusal_of_the_request_excuses_the_give_up() {
        let (mut journal, requests) = gave_up_early();
        // anthropic failed at 150 ms: inside a 1 s cooldown at 200 ms, outside a 20 ms one.
        journal.push(tagged(2, "anthropic", 140.0, 10.0, "c", Outcome::HttpError));
        assert!(found(&journal, &[], &requests, Some(1000.0), None, 4).is_empty());
        assert_eq!(found(&journal, &[], &requests, Some(20.0), None, 4), [Finding::FailoverSkipped]);
        assert!(found(&journal, &[], &requests, None, None, 4).is_empty(), "unknown cooldown: any failure excuses");
        // Answering another request inside the give-up: healthy, so a premature give-up.
        journal.push(tagged(3, "anthropic", 205.0, 5.0, "d", Outcome::Completed));
        let both = [Finding::FailoverSkipped, Finding::PrematureGiveUp];
        assert_eq!(found(&journal, &[], &requests, Some(20.0), None, 4), both);
        // The request's own shape was refused: passing over a link may be right.
        let (mut journal, requests) = gave_up_early();
        journal[1].refusal = Some(Refusal::ContextOverflow);
        journal[1].status = Some(400);
        assert!(found(&journal, &[], &requests, Some(1000.0), None, 4).is_empty());
    }
}

#[cfg(test)]
mod bounds {
    use super::*;

    #[test]
    fn a_load_of_failures_names_the_first_few_and_counts_the_rest() {
        let requests: Vec<ClientRequest> = (0..25)
            .map(|i| ClientRequest { marker: format!("load-1-{i}"), status: Some(429), ..Default::default() })
            .collect();
        let found = judge_client(&requests);
        assert_eq!(found.len(), EVIDENCE_PER_FINDING + 1);
        assert!(found[0].detail.contains("load-1-0"), "{found:?}");
        assert_eq!(found.last().map(|e| e.detail.as_str()), Some("and 15 more request(s) like these"));
    }
}
