//! The runbook's degraded rules over time (seed 001, "Operational SLO Checks" and "Release Window
//! Checks"): `summary.rolesBlocked > 0` for more than 5 minutes, `summary.providersCoolingDown`
//! above 50% of the pool for more than 10 minutes, orchestrate answering repeated 503s, stale
//! `active` sessions growing above the baseline taken at the start, and
//! `AGENT_GATEWAY_SESSION_NOT_FOUND` for ids that were active, sustained.
//!
//! Pure logic: a rule is fed one [`Observation`] at a time and decides from those alone, so the
//! same code judges a compressed drill and a ten-minute release window. Fails closed: a probe
//! that got no usable answer makes its condition hold (what could not be seen counts against the
//! gateway), and a rule always ends with exactly one [`RuleOutcome`].

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::duration::Dur;

/// A degraded rule of the runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// `summary.rolesBlocked > 0` for more than 5 minutes.
    RolesBlocked,
    /// `summary.providersCoolingDown` above 50% of the provider pool for more than 10 minutes.
    ProvidersCoolingDown,
    /// `orchestrate` answering repeated 503s (3 in a row unless told).
    #[serde(rename = "orchestrate_503")]
    Orchestrate503,
    /// `active` sessions idle longer than 15 minutes, more of them than at the start, for more
    /// than 10 minutes (the release window's rollback threshold).
    StaleActiveSessions,
    /// `AGENT_GATEWAY_SESSION_NOT_FOUND` for ids that were active, for more than 10 minutes.
    SessionNotFound,
    /// A critical role's dry-run neither succeeds nor falls back cleanly, for more than 10 minutes.
    DryRunFailed,
}

impl RuleId {
    pub const ALL: [RuleId; 6] = [
        RuleId::RolesBlocked,
        RuleId::ProvidersCoolingDown,
        RuleId::Orchestrate503,
        RuleId::StaleActiveSessions,
        RuleId::SessionNotFound,
        RuleId::DryRunFailed,
    ];

    pub fn id(self) -> &'static str {
        match self {
            RuleId::RolesBlocked => "roles_blocked",
            RuleId::ProvidersCoolingDown => "providers_cooling_down",
            RuleId::Orchestrate503 => "orchestrate_503",
            RuleId::StaleActiveSessions => "stale_active_sessions",
            RuleId::SessionNotFound => "session_not_found",
            RuleId::DryRunFailed => "dry_run_failed",
        }
    }

    /// How long the runbook lets the condition hold before it counts.
    pub fn runbook_duration(self) -> Duration {
        match self {
            RuleId::RolesBlocked => Duration::from_secs(5 * 60),
            RuleId::Orchestrate503 => Duration::ZERO,
            _ => Duration::from_secs(10 * 60),
        }
    }

    /// What to do when it trips: the runbook section and the rollback reference.
    pub fn rollback(self) -> &'static str {
        match self {
            RuleId::RolesBlocked | RuleId::ProvidersCoolingDown | RuleId::DryRunFailed => {
                "runbook A (AI provider failover cascade); past the release thresholds, docs/ops/rollback-playbook.md"
            }
            RuleId::Orchestrate503 => {
                "runbook C (orchestration disabled or misconfigured), else runbook A; docs/ops/rollback-playbook.md"
            }
            RuleId::StaleActiveSessions | RuleId::SessionNotFound => {
                "runbook B (session backlog), step 5: check DB readiness and roll back per docs/ops/rollback-playbook.md"
            }
        }
    }
}

/// Idle time past which an `active` session is stale (runbook: 15 minutes).
pub const STALE_IDLE: Duration = Duration::from_secs(15 * 60);
/// Share of the provider pool cooling down past which the pool is degraded (runbook: 50%).
pub const COOLING_SHARE: f64 = 0.5;
/// Orchestrate 503s in a row that count as "repeated".
pub const REPEATED_503: u32 = 3;

/// A rule as a scenario or the watch command configures it, in runbook time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub rule: RuleId,
    /// How long the condition must hold before the rule trips (default: the runbook's).
    #[serde(default, rename = "for")]
    pub held_for: Option<Dur>,
    /// `stale_active_sessions`: idle time past which an active session is stale (default 15m).
    #[serde(default)]
    pub idle_over: Option<Dur>,
    /// `orchestrate_503`: answers in a row that trip it (default 3).
    #[serde(default)]
    pub consecutive: Option<u32>,
    /// `providers_cooling_down`: share of the pool (0..1, default 0.5).
    #[serde(default)]
    pub share: Option<f64>,
}

impl RuleSpec {
    pub fn of(rule: RuleId) -> Self {
        RuleSpec { rule, held_for: None, idle_over: None, consecutive: None, share: None }
    }

    /// The rule's parameters in drill time: durations divided by `scale` (runbook per drill).
    pub fn resolve(&self, scale: f64) -> Rule {
        let drill = |d: Duration| crate::scenario::scaled(d, scale);
        Rule {
            id: self.rule,
            held_for: drill(self.held_for.map_or(self.rule.runbook_duration(), |d| d.0)),
            runbook_held_for: self.held_for.map_or(self.rule.runbook_duration(), |d| d.0),
            idle_over: drill(self.idle_over.map_or(STALE_IDLE, |d| d.0)),
            runbook_idle_over: self.idle_over.map_or(STALE_IDLE, |d| d.0),
            consecutive: self.consecutive.unwrap_or(REPEATED_503).max(1),
            share: self.share.unwrap_or(COOLING_SHARE),
        }
    }

    /// Checks the parameters beyond their types.
    pub fn validate(&self) -> Result<(), String> {
        if self.share.is_some_and(|s| !(0.0..1.0).contains(&s)) {
            return Err(format!("{}: share must be within 0..1", self.rule.id()));
        }
        if self.consecutive == Some(0) {
            return Err(format!("{}: consecutive must be at least 1", self.rule.id()));
        }
        let own = |set: bool, field: &str, rule: RuleId| {
            if set && self.rule != rule {
                Err(format!("{}: {field} applies to {} only", self.rule.id(), rule.id()))
            } else {
                Ok(())
            }
        };
        own(self.idle_over.is_some(), "idle_over", RuleId::StaleActiveSessions)?;
        own(self.consecutive.is_some(), "consecutive", RuleId::Orchestrate503)?;
        own(self.share.is_some(), "share", RuleId::ProvidersCoolingDown)
    }
}

/// A rule with its parameters in drill time.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: RuleId,
    pub held_for: Duration,
    pub runbook_held_for: Duration,
    pub idle_over: Duration,
    pub runbook_idle_over: Duration,
    pub consecutive: u32,
    pub share: f64,
}

impl Rule {
    /// The condition in the runbook's words, with the drill's durations.
    pub fn condition(&self) -> String {
        let held = if self.held_for == self.runbook_held_for {
            format!("for {}", Dur(self.held_for))
        } else {
            format!("for {} (runbook {})", Dur(self.held_for), Dur(self.runbook_held_for))
        };
        match self.id {
            RuleId::RolesBlocked => format!("summary.rolesBlocked > 0 {held}"),
            RuleId::ProvidersCoolingDown => {
                format!("summary.providersCoolingDown > {:.0}% of the provider pool {held}", self.share * 100.0)
            }
            RuleId::Orchestrate503 => format!("orchestrate answers 503 {} times in a row", self.consecutive),
            RuleId::StaleActiveSessions => {
                let idle = if self.idle_over == self.runbook_idle_over {
                    Dur(self.idle_over).to_string()
                } else {
                    format!("{} (runbook {})", Dur(self.idle_over), Dur(self.runbook_idle_over))
                };
                format!("active sessions idle over {idle} above the baseline {held}")
            }
            RuleId::SessionNotFound => format!("AGENT_GATEWAY_SESSION_NOT_FOUND for ids that were active {held}"),
            RuleId::DryRunFailed => format!("a critical role's dry-run fails {held}"),
        }
    }
}

/// What one probe gave: a value, or why there is none (which counts against the gateway).
#[derive(Clone, Debug, PartialEq)]
pub enum Seen<T> {
    Value(T),
    Unobserved(String),
}

/// The runtime health summary as the rules read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthSeen {
    pub roles_blocked: u64,
    pub providers_cooling_down: u64,
    /// Providers in the pool (the gateway's count, else the length of its list).
    pub pool: u64,
}

/// One round of the watch's probes. `None` is a probe the round did not make.
#[derive(Clone, Debug)]
pub struct Observation {
    pub at: Instant,
    pub health: Option<Seen<HealthSeen>>,
    /// Status of the orchestrate probe.
    pub orchestrate: Option<Seen<u16>>,
    /// Active sessions idle past the rule's threshold (probe sessions excluded).
    pub stale: Option<Seen<u64>>,
    /// Ids that were active and now answer `AGENT_GATEWAY_SESSION_NOT_FOUND`.
    pub lost: Option<Seen<Vec<String>>>,
    /// Roles whose dry-run failed (neither served nor fell back cleanly).
    pub dry_run_failed: Option<Seen<Vec<String>>>,
}

impl Observation {
    pub fn at(at: Instant) -> Self {
        Observation { at, health: None, orchestrate: None, stale: None, lost: None, dry_run_failed: None }
    }
}

/// How a rule ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    /// The condition held as long as the rule says: the runbook's degraded state.
    Tripped,
    /// Never held long enough.
    Clear,
    /// Holding when the watch ended, not yet for its whole duration: undecided, and counted
    /// against the gateway (the watch cannot say the condition would have cleared).
    Holding,
    /// No round observed it (the watch was cut short, or no probe got a usable answer) and it
    /// did not hold long enough to trip: counts against the gateway.
    Unobserved,
}

/// A value a rule saw, when it changed (the first, every change, the last).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SeenValue {
    /// Ms from the watch's start.
    pub t_ms: f64,
    pub held: bool,
    /// The number the condition reads (roles blocked, providers cooling, status, stale or lost
    /// sessions, failed roles); absent when nothing was observed.
    pub value: Option<u64>,
    pub detail: String,
}

/// Values a verdict keeps at most.
const VALUES_CAP: usize = 64;

/// The decision on one rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuleVerdict {
    pub rule: RuleId,
    pub condition: String,
    pub outcome: RuleOutcome,
    /// When the condition began to hold in the run that tripped it (else the longest run), ms from
    /// the watch's start.
    pub since_ms: Option<f64>,
    pub tripped_at_ms: Option<f64>,
    /// Longest time the condition held without a break.
    pub longest_held_ms: f64,
    pub observations: u64,
    /// Observations without a usable answer (counted as holding).
    pub unobserved: u64,
    /// `stale_active_sessions`: stale sessions at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<u64>,
    pub values: Vec<SeenValue>,
    /// Changes not kept (only changes are kept, up to a cap).
    pub values_dropped: u64,
    pub rollback: String,
}

/// One rule being decided.
#[derive(Clone, Debug)]
pub struct Tracker {
    rule: Rule,
    start: Instant,
    since: Option<Instant>,
    longest: (Duration, Option<Instant>),
    tripped: Option<(Instant, Instant)>,
    in_a_row: u32,
    baseline: Option<u64>,
    observations: u64,
    unobserved: u64,
    values: Vec<SeenValue>,
    dropped: u64,
}

impl Tracker {
    pub fn new(rule: Rule, start: Instant) -> Self {
        Tracker {
            rule,
            start,
            since: None,
            longest: (Duration::ZERO, None),
            tripped: None,
            in_a_row: 0,
            baseline: None,
            observations: 0,
            unobserved: 0,
            values: Vec::new(),
            dropped: 0,
        }
    }

    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// Whether the rule has tripped (it stays tripped).
    pub fn tripped(&self) -> bool {
        self.tripped.is_some()
    }

    /// What the condition reads in `o`: `None` when the round did not probe it.
    fn read(&mut self, o: &Observation) -> Option<(bool, Option<u64>, String)> {
        let unseen = |why: &String| (true, None, format!("unobserved: {why}"));
        Some(match self.rule.id {
            RuleId::RolesBlocked => match o.health.as_ref()? {
                Seen::Value(h) => {
                    (h.roles_blocked > 0, Some(h.roles_blocked), format!("rolesBlocked={}", h.roles_blocked))
                }
                Seen::Unobserved(why) => unseen(why),
            },
            RuleId::ProvidersCoolingDown => match o.health.as_ref()? {
                Seen::Value(h) => {
                    // A pool of none is no pool: degraded.
                    let held = h.pool == 0 || h.providers_cooling_down as f64 > self.rule.share * h.pool as f64;
                    let detail = format!("providersCoolingDown={} of {}", h.providers_cooling_down, h.pool);
                    (held, Some(h.providers_cooling_down), detail)
                }
                Seen::Unobserved(why) => unseen(why),
            },
            RuleId::Orchestrate503 => match o.orchestrate.as_ref()? {
                Seen::Value(s) => (*s == 503, Some(u64::from(*s)), format!("status {s}")),
                Seen::Unobserved(why) => unseen(why),
            },
            RuleId::StaleActiveSessions => match o.stale.as_ref()? {
                Seen::Value(n) => {
                    let base = *self.baseline.get_or_insert(*n);
                    (*n > base, Some(*n), format!("{n} stale (baseline {base})"))
                }
                Seen::Unobserved(why) => unseen(why),
            },
            RuleId::SessionNotFound => match o.lost.as_ref()? {
                Seen::Value(ids) => {
                    let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
                    (!ids.is_empty(), Some(ids.len() as u64), format!("not found: [{}]", shown.join(", ")))
                }
                Seen::Unobserved(why) => unseen(why),
            },
            RuleId::DryRunFailed => match o.dry_run_failed.as_ref()? {
                Seen::Value(roles) => {
                    (!roles.is_empty(), Some(roles.len() as u64), format!("failed: [{}]", roles.join(", ")))
                }
                Seen::Unobserved(why) => unseen(why),
            },
        })
    }

    /// Takes one round's observation into account.
    pub fn observe(&mut self, o: &Observation) {
        let Some((held, value, detail)) = self.read(o) else { return };
        self.observations += 1;
        self.unobserved += u64::from(value.is_none() && held);
        let t_ms = o.at.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        let changed = self.values.last().is_none_or(|v| v.held != held || v.value != value);
        if changed && self.values.len() < VALUES_CAP {
            self.values.push(SeenValue { t_ms, held, value, detail });
        } else if changed {
            self.dropped += 1;
        }
        if !held {
            self.since = None;
            self.in_a_row = 0;
            return;
        }
        self.in_a_row = self.in_a_row.saturating_add(1);
        let since = *self.since.get_or_insert(o.at);
        let run = o.at.saturating_duration_since(since);
        if run >= self.longest.0 || self.longest.1.is_none() {
            self.longest = (run, Some(since));
        }
        let long_enough = match self.rule.id {
            RuleId::Orchestrate503 => self.in_a_row >= self.rule.consecutive && run >= self.rule.held_for,
            _ => run >= self.rule.held_for,
        };
        if long_enough && self.tripped.is_none() {
            self.tripped = Some((since, o.at));
        }
    }

    pub fn verdict(&self) -> RuleVerdict {
        let ms = |t: Instant| t.saturating_duration_since(self.start).as_secs_f64() * 1000.0;
        let since = self.tripped.map(|(s, _)| s).or(self.longest.1);
        RuleVerdict {
            rule: self.rule.id,
            condition: self.rule.condition(),
            // Clear only on what was seen: a rule every round failed to observe is no pass.
            outcome: match self.tripped {
                Some(_) => RuleOutcome::Tripped,
                None if self.observations == self.unobserved => RuleOutcome::Unobserved,
                None if self.since.is_some() => RuleOutcome::Holding,
                None => RuleOutcome::Clear,
            },
            since_ms: since.map(ms),
            tripped_at_ms: self.tripped.map(|(_, at)| ms(at)),
            longest_held_ms: self.longest.0.as_secs_f64() * 1000.0,
            observations: self.observations,
            unobserved: self.unobserved,
            baseline: self.baseline,
            values: self.values.clone(),
            values_dropped: self.dropped,
            rollback: self.rule.id.rollback().into(),
        }
    }
}

#[cfg(test)]
mod tests;
