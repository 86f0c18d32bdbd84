//! The watch's rounds (seed 001, "Fast Triage" probes and "Release Window Checks"): every
//! interval, health, a dry-run per critical role, the runtime health snapshot, the active
//! sessions and the status of sessions that were active (and, when asked, an orchestration
//! whose session is closed at once), turned into one [`Observation`] for the rules.
//!
//! The exchanges go through a [`Prober`]: a scenario step records them in its trace, the
//! `watch` command in its evidence. Rounds are bounded in number and each exchange by its
//! deadline, so a watch ends within its duration plus one round whatever the gateway does.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::rules::{HealthSeen, Observation, Rule, RuleId, Seen, Tracker};
use crate::drill::exchange::Observed;
use crate::drill::observe::Endpoint;
use crate::wire::runtime::{DryRunAnswer, OrchestrateAnswer, RuntimeHealth};
use crate::wire::sessions::{SessionRef, SessionsList};
use crate::wire::{ErrorBody, paths};

/// Rounds a watch makes at most.
pub const MAX_ROUNDS: u64 = 100_000;
/// Ids of sessions that were active a watch remembers at most.
const KNOWN_CAP: usize = 1000;
/// Sessions that were active and are no longer listed whose status one round reads.
const STATUS_PER_ROUND: usize = 5;
/// The draft id of the watch's orchestration probe: recognisable, and its session is closed.
pub const PROBE_DRAFT: &str = "gatedrill-watch-probe";
/// The runbook's critical roles.
pub const ROLES: [&str; 4] = ["author", "critic", "maker", "judge"];

/// One exchange of the watch with the gateway (admin credentials except on `/health`).
pub trait Prober {
    fn exchange(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> impl std::future::Future<Output = Observed>;
}

/// The credential a watch probe carries: none on `/health`, the admin token elsewhere.
pub fn auth_for(endpoint: Endpoint) -> crate::drill::exchange::Auth<'static> {
    if endpoint == Endpoint::Health { crate::drill::exchange::Auth::None } else { crate::drill::exchange::Auth::Admin }
}

/// What to watch.
#[derive(Clone, Debug)]
pub struct Plan {
    pub rules: Vec<Rule>,
    pub every: Duration,
    pub duration: Duration,
    /// Probe orchestration each round (it writes a session, which the watch closes).
    pub orchestrate: bool,
    /// Sessions the drill itself opened (never counted as stale).
    pub probe_sessions: BTreeSet<String>,
    /// External session ids of gatedrill's own probes (the launch gate's fixtures).
    pub probe_external_ids: BTreeSet<String>,
    /// Sessions known to have been active before the watch began.
    pub known_active: Vec<String>,
}

/// The watch's record.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct WatchReport {
    pub verdicts: Vec<super::rules::RuleVerdict>,
    pub rounds: u64,
    pub probes: u64,
    pub every_ms: f64,
    pub planned_ms: f64,
    pub duration_ms: f64,
    /// Stopped before its duration (a signal, or the step's deadline).
    pub interrupted: bool,
}

/// The state of a watch between rounds.
pub struct Watch {
    pub plan: Plan,
    pub trackers: Vec<Tracker>,
    pub start: Instant,
    pub rounds: u64,
    pub probes: u64,
    known: VecDeque<String>,
    probe_round: u64,
}

impl Watch {
    pub fn new(mut plan: Plan, start: Instant) -> Self {
        let trackers = plan.rules.iter().map(|r| Tracker::new(r.clone(), start)).collect();
        let mut known = VecDeque::new();
        for id in std::mem::take(&mut plan.known_active) {
            if !known.contains(&id) && known.len() < KNOWN_CAP {
                known.push_back(id);
            }
        }
        Watch { plan, trackers, start, rounds: 0, probes: 0, known, probe_round: 0 }
    }

    fn wants(&self, rule: RuleId) -> bool {
        self.plan.rules.iter().any(|r| r.id == rule)
    }

    /// The record so far.
    pub fn report(&self, interrupted: bool) -> WatchReport {
        WatchReport {
            verdicts: self.trackers.iter().map(Tracker::verdict).collect(),
            rounds: self.rounds,
            probes: self.probes,
            every_ms: self.plan.every.as_secs_f64() * 1000.0,
            planned_ms: self.plan.duration.as_secs_f64() * 1000.0,
            duration_ms: self.start.elapsed().as_secs_f64() * 1000.0,
            interrupted,
        }
    }

    /// Rounds until the duration is over; `after_round` sees the watch after each (progress,
    /// evidence written as it goes).
    pub async fn run<P: Prober>(&mut self, p: &P, mut after_round: impl FnMut(&Watch)) -> WatchReport {
        let until = self.start.checked_add(self.plan.duration).unwrap_or(self.start);
        let every = self.plan.every.max(Duration::from_millis(1));
        loop {
            let round_start = Instant::now();
            let o = self.round(p).await;
            for t in &mut self.trackers {
                t.observe(&o);
            }
            self.rounds += 1;
            after_round(self);
            let next = round_start.checked_add(every).unwrap_or(until);
            if next > until || self.rounds >= MAX_ROUNDS {
                break;
            }
            tokio::time::sleep_until(next).await;
        }
        self.report(false)
    }

    async fn send<P: Prober>(
        &mut self,
        p: &P,
        e: Endpoint,
        m: reqwest::Method,
        path: &str,
        b: Option<&Value>,
    ) -> Observed {
        self.probes += 1;
        p.exchange(e, m, path, b).await
    }

    /// One round of probes.
    pub async fn round<P: Prober>(&mut self, p: &P) -> Observation {
        self.probe_round += 1;
        self.send(p, Endpoint::Health, reqwest::Method::GET, paths::HEALTH, None).await;
        // One role after another: concurrent probes would race the gateway's own cooldown
        // bookkeeping and be judged as calls inside a cooldown.
        let mut failed_roles = Vec::new();
        for role in ROLES {
            let body = json!({
                "role": role,
                "prompt": format!("health probe: summarize fallback readiness [gatedrill watch {} {role}]", self.probe_round),
            });
            let seen = self.send(p, Endpoint::DryRun, reqwest::Method::POST, paths::DRY_RUN, Some(&body)).await;
            if !(seen.is(200) && seen.parse::<DryRunAnswer>().is_ok_and(|a| !a.failed)) {
                failed_roles.push(format!("{role} ({})", seen.describe()));
            }
        }
        let seen = self.send(p, Endpoint::RuntimeHealth, reqwest::Method::GET, paths::RUNTIME_HEALTH, None).await;
        let mut o = Observation::at(Instant::now());
        o.dry_run_failed = Some(Seen::Value(failed_roles));
        o.health = Some(health_of(&seen));
        if self.plan.orchestrate || self.wants(RuleId::Orchestrate503) {
            o.orchestrate = Some(self.orchestrate(p).await);
        }
        if self.wants(RuleId::StaleActiveSessions) || self.wants(RuleId::SessionNotFound) {
            let (stale, lost) = self.sessions(p).await;
            o.stale = Some(stale);
            o.lost = Some(lost);
        }
        o.at = Instant::now();
        o
    }

    /// The orchestration probe; a session it opened is closed at once (a probe leaves nothing).
    async fn orchestrate<P: Prober>(&mut self, p: &P) -> Seen<u16> {
        let body = json!({"draftId": format!("{PROBE_DRAFT}-{}", self.probe_round), "channel": "release-check"});
        let seen = self.send(p, Endpoint::Orchestrate, reqwest::Method::POST, paths::ORCHESTRATE, Some(&body)).await;
        let Some(status) = seen.status.filter(|_| seen.failure.is_none()) else {
            return Seen::Unobserved(seen.describe());
        };
        if let Some(id) = seen.parse::<OrchestrateAnswer>().ok().and_then(|a| a.session).map(|s| s.id) {
            self.send(p, Endpoint::Session, reqwest::Method::POST, &paths::session(&id, "close"), None).await;
            if self.plan.probe_sessions.len() < KNOWN_CAP {
                self.plan.probe_sessions.insert(id);
            }
        }
        Seen::Value(status)
    }

    fn is_probe(&self, s: &SessionRef) -> bool {
        self.plan.probe_sessions.contains(&s.id)
            || s.external_session_id.as_ref().is_some_and(|e| self.plan.probe_external_ids.contains(&e.as_text()))
    }

    /// Stale active sessions, and sessions that were active now unknown to the gateway.
    async fn sessions<P: Prober>(&mut self, p: &P) -> (Seen<u64>, Seen<Vec<String>>) {
        let idle_over =
            self.trackers.iter().find(|t| t.rule().id == RuleId::StaleActiveSessions).map(|t| t.rule().idle_over);
        let seen = self.send(p, Endpoint::Sessions, reqwest::Method::GET, paths::ACTIVE_SESSIONS, None).await;
        let list = match seen.parse::<SessionsList>() {
            Ok(l) if seen.is(200) => l,
            Ok(_) => return (Seen::Unobserved(seen.describe()), Seen::Unobserved(seen.describe())),
            Err(e) => return (Seen::Unobserved(e.to_string()), Seen::Unobserved(e.to_string())),
        };
        let now_unix = crate::gateway::sessions::now_ms();
        let ours: Vec<&SessionRef> = list.sessions.iter().filter(|s| !self.is_probe(s)).collect();
        // Idle from the gateway's `idleMs`, else from `lastEventAt`; a session with neither
        // cannot be shown fresh, so it counts as stale, as do active sessions the list left out.
        let stale = idle_over.map_or(0, |limit| {
            let limit_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
            let listed = ours
                .iter()
                .filter(|s| {
                    s.idle_ms.or(s.last_event_at.map(|t| now_unix.saturating_sub(t))).is_none_or(|i| i > limit_ms)
                })
                .count() as u64;
            listed + list.active().saturating_sub(list.sessions.len() as u64)
        });
        let listed: BTreeSet<&str> = list.sessions.iter().map(|s| s.id.as_str()).collect();
        for s in &ours {
            if !self.known.iter().any(|k| k == &s.id) && self.known.len() < KNOWN_CAP {
                self.known.push_back(s.id.clone());
            }
        }
        // Sessions that were active and are no longer listed: closed, or lost.
        let gone: Vec<String> =
            self.known.iter().filter(|k| !listed.contains(k.as_str())).take(STATUS_PER_ROUND).cloned().collect();
        let mut lost = Vec::new();
        for id in gone {
            let seen =
                self.send(p, Endpoint::Session, reqwest::Method::GET, &paths::session(&id, "status"), None).await;
            let not_found = seen.is(404)
                && seen.parse::<ErrorBody>().is_ok_and(|e| e.error.code == "AGENT_GATEWAY_SESSION_NOT_FOUND");
            if not_found {
                lost.push(id.clone());
                // Kept at the back: a lost session stays lost, and others get their turn.
                self.known.retain(|k| k != &id);
                self.known.push_back(id);
            } else if seen.is(200) {
                self.known.retain(|k| k != &id);
            } else {
                return (Seen::Value(stale), Seen::Unobserved(format!("status of {id}: {}", seen.describe())));
            }
        }
        (Seen::Value(stale), Seen::Value(lost))
    }
}

/// The runtime health as the rules read it.
fn health_of(seen: &Observed) -> Seen<HealthSeen> {
    if !seen.is(200) {
        return Seen::Unobserved(seen.describe());
    }
    match seen.parse::<RuntimeHealth>() {
        Ok(h) => Seen::Value(HealthSeen {
            roles_blocked: h.summary.roles_blocked,
            providers_cooling_down: h.summary.providers_cooling_down,
            pool: h.summary.provider_count.unwrap_or(h.providers.len() as u64),
        }),
        Err(e) => Seen::Unobserved(e.to_string()),
    }
}
