//! A correct gateway, simulated, under concurrent load (DESIGN.md, "Conduct findings"): it walks
//! its chain in order, keeps a cooldown from the moment it reads a failure (the longer of its
//! cooldown and a Retry-After), gives a hung provider up at its attempt timeout, and answers
//! 429 with a Retry-After when nothing could serve. It is also busy: it reads an answer up to
//! 30 ms late, and an attempt it decided arrives up to 20 ms later still. Whatever the faults
//! and however the requests interleave, no conduct rule may find fault with it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use proptest::prelude::*;

use super::conduct::tests::rec;
use super::conduct::{Context, Finding, judge};
use super::requests::{ClientRequest, judge_client};
use crate::mock::journal::{AttemptRecord, Outcome};

const CHAIN: [&str; 3] = ["openai", "anthropic", "deepseek"];
const TIMEOUT: f64 = 150.0;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Ok,
    Error,
    Hang,
    Limited(u64),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![4 => Just(Kind::Ok), 1 => Just(Kind::Error), 1 => Just(Kind::Hang), 1 => (50u64..400).prop_map(Kind::Limited)]
}

/// Per attempt: (provider's answer time, gateway's read delay, delivery delay, disconnect seen).
type Jitter = (f64, f64, f64, f64);

fn jitter() -> impl Strategy<Value = Jitter> {
    (1.0f64..40.0, 0.0f64..30.0, 0.0f64..20.0, 0.0f64..4.9)
}

/// The gateway's next step for a request: (when in µs, request, chain link, a cooldown it
/// starts: (link, until in µs)).
type Event = (u64, usize, usize, Option<(usize, u64)>);

/// Runs the requests (sent at `sends`) through the simulated gateway.
fn simulate(
    sends: &[f64],
    kinds: &[Vec<Kind>],
    jitters: &[Jitter],
    cooldown: f64,
) -> (Vec<AttemptRecord>, Vec<ClientRequest>) {
    // Time in microseconds in the queue, so equal times order by request.
    let key = |t: f64| (t * 1000.0) as u64;
    let mut queue: BinaryHeap<Reverse<Event>> = BinaryHeap::new();
    let mut at = BTreeMap::new();
    for (i, s) in sends.iter().enumerate() {
        at.insert(i, *s);
        queue.push(Reverse((key(*s), i, 0, None)));
    }
    let mut cooling_until = [f64::NEG_INFINITY; 3];
    let mut tried = [0usize; 3];
    let (mut journal, mut requests): (Vec<AttemptRecord>, Vec<ClientRequest>) = (Vec::new(), Vec::new());
    let mut seq = [0u64; 3];
    let mut limited_only = vec![true; sends.len()];
    let mut n = 0usize;
    while let Some(Reverse((t_key, r, link, cool))) = queue.pop() {
        let t = t_key as f64 / 1000.0;
        if let Some((p, until_key)) = cool {
            cooling_until[p] = cooling_until[p].max(until_key as f64 / 1000.0);
        }
        let marker = format!("r{r}");
        let Some(&p_name) = CHAIN.get(link) else {
            let status = if limited_only[r] { 429 } else { 503 };
            let c = ClientRequest {
                marker,
                model: "author".into(),
                step: 1,
                sent_ms: sends[r],
                ended_ms: t + 1.0,
                status: Some(status),
                retry_after: true,
                ..Default::default()
            };
            requests.push(c);
            continue;
        };
        if t < cooling_until[link] {
            queue.push(Reverse((key(t), r, link + 1, None)));
            continue;
        }
        let k = kinds[link][tried[link] % kinds[link].len()];
        tried[link] += 1;
        let (answer, read, deliver, seen) = jitters[n % jitters.len()];
        n += 1;
        let arrive = t + deliver;
        let mut a = rec(seq[link], p_name, arrive, answer, r as u64);
        seq[link] += 1;
        a.test_id = Some(marker.clone());
        let end = arrive + answer;
        match k {
            Kind::Ok => {
                journal.push(a);
                requests.push(ClientRequest {
                    marker,
                    model: "author".into(),
                    step: 1,
                    sent_ms: sends[r],
                    ended_ms: end + 1.0,
                    status: Some(200),
                    ok: true,
                    ..Default::default()
                });
                continue;
            }
            Kind::Error | Kind::Limited(_) => {
                let wait = if let Kind::Limited(w) = k { w } else { 0 };
                (a.status, a.outcome) = (Some(if wait > 0 { 429 } else { 500 }), Outcome::HttpError);
                if wait > 0 {
                    a.retry_after_ms = Some(wait);
                } else {
                    limited_only[r] = false;
                }
                journal.push(a);
                let read_at = end + read;
                let until = read_at + cooldown.max(wait as f64);
                queue.push(Reverse((key(read_at), r, link + 1, Some((link, key(until))))));
            }
            Kind::Hang => {
                limited_only[r] = false;
                let gave_up = t + TIMEOUT;
                a.duration_ms = Some(gave_up + seen - arrive);
                (a.status, a.outcome) = (None, Outcome::NoResponse);
                journal.push(a);
                let until = gave_up + cooldown;
                queue.push(Reverse((key(gave_up + read.min(4.0)), r, link + 1, Some((link, key(until))))));
            }
        }
    }
    // The mocks number each provider's attempts in arrival order.
    journal.sort_by(|a, b| a.t_offset_ms.total_cmp(&b.t_offset_ms));
    let mut next = [0u64; 3];
    for a in &mut journal {
        let i = CHAIN.iter().position(|p| *p == a.provider).unwrap_or(0);
        a.seq = next[i];
        next[i] += 1;
    }
    (journal, requests)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn a_correct_gateway_under_concurrent_load_raises_no_conduct_finding(
        sends in proptest::collection::vec(0.0f64..1500.0, 1..40),
        kinds in proptest::collection::vec(proptest::collection::vec(kind(), 1..16), 3),
        jitters in proptest::collection::vec(jitter(), 1..32),
        cooldown in proptest::sample::select(vec![20.0, 100.0, 300.0]),
    ) {
        let (journal, requests) = simulate(&sends, &kinds, &jitters, cooldown);
        let window = |_: &str| None;
        let ctx = Context {
            cooldown_ms: Some(cooldown),
            // One request reaches a provider at most once: two sends would already be a storm.
            retry_storm: 2,
            // The slowest correct failover: two timeouts, their reads and deliveries, an answer.
            failover_budget_ms: Some(2.0 * (TIMEOUT + 4.0 + 20.0) + 40.0 + 20.0),
            requests: &requests,
            window: &window,
            journal_complete: true,
        };
        let found: Vec<_> = judge(&journal, &[], &ctx).into_iter().chain(judge_client(&requests)).collect();
        prop_assert!(found.is_empty(), "{found:#?}\njournal: {journal:#?}\nclient: {requests:#?}");
        prop_assert_eq!(requests.len(), sends.len());
    }
}

/// The simulation is not trivially clean: the same gateway without its cooldown is caught.
#[test]
fn the_simulated_gateway_without_its_cooldown_is_caught() {
    let sends: Vec<f64> = (0..20).map(|i| f64::from(i) * 60.0).collect();
    let kinds = vec![vec![Kind::Error, Kind::Ok], vec![Kind::Hang, Kind::Ok], vec![Kind::Ok]];
    let jitters = vec![(5.0, 1.0, 1.0, 1.0)];
    let (journal, requests) = simulate(&sends, &kinds, &jitters, 0.0);
    let window = |_: &str| None;
    let ctx = Context {
        cooldown_ms: Some(300.0),
        retry_storm: 2,
        failover_budget_ms: None,
        requests: &requests,
        window: &window,
        journal_complete: true,
    };
    let found: Vec<Finding> = judge(&journal, &[], &ctx).into_iter().map(|e| e.finding).collect();
    assert!(found.contains(&Finding::CooldownViolated), "{found:?}");
    assert!(found.contains(&Finding::HungProviderNotCooled), "{found:?}");
}
