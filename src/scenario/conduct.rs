//! What a scenario declares about the gateway's conduct (DESIGN.md, "Conduct findings"; runbook
//! A: cooldowns, retries, the failover budget): the cooldown the target is configured with, how
//! many sends of one request make a retry storm, and how long a failover may take. A gateway
//! gatedrill did not configure (one at a URL, LiteLLM behind `cmd:`) has settings only its
//! operator knows; the scenario states them, and the conduct rules judge against them instead of
//! against a cooldown gatedrill guessed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Dur;

/// `[conduct]`: the target's declared settings the conduct rules judge with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConductSpec {
    /// The provider cooldown the target is declared to have (`"10s"`): after a provider's
    /// failure (or its timeout), attempts on it inside this are `cooldown_violated` (or
    /// `hung_provider_not_cooled`). Overrides the cooldown gatedrill set on a gateway it
    /// configured; with neither, those rules are not judged, and the trace says so.
    #[serde(default)]
    pub cooldown: Option<Dur>,
    /// Sends of one request to one provider that make a `retry_storm` (default 4: more than
    /// three). At least 2.
    #[serde(default)]
    pub retry_storm: Option<u32>,
    /// The longest a failover may take, from a provider's first failure for a request to the
    /// fallback's first byte for that request; longer is `slow_failover`. Without it,
    /// `slow_failover` is not judged.
    #[serde(default)]
    pub failover_budget: Option<Dur>,
}

/// Sends of one request to one provider that make a retry storm when a scenario says nothing.
pub const DEFAULT_RETRY_STORM: u32 = 4;

/// The most sends a scenario may allow before calling it a storm.
pub const MAX_RETRY_STORM: u32 = 1000;

/// The longest declared cooldown (the reference gateway's own ceiling, an hour).
pub const MAX_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(3600);

/// The longest failover budget (the longest a step may wait).
pub const MAX_FAILOVER_BUDGET: std::time::Duration = super::steps::MAX_WAIT;

impl ConductSpec {
    /// The retry-storm threshold in force.
    pub fn retry_storm(&self) -> u32 {
        self.retry_storm.unwrap_or(DEFAULT_RETRY_STORM)
    }

    /// Each field out of its bounds, with the key to point at.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(c) = self.cooldown
            && c.0 > MAX_COOLDOWN
        {
            out.push(("cooldown", format!("conduct.cooldown: {c} is over the ceiling of {}", Dur(MAX_COOLDOWN))));
        }
        if let Some(n) = self.retry_storm
            && !(2..=MAX_RETRY_STORM).contains(&n)
        {
            out.push((
                "retry_storm",
                format!(
                    "conduct.retry_storm: {n} is not within 2..={MAX_RETRY_STORM} (1 would call every request a storm)"
                ),
            ));
        }
        if let Some(b) = self.failover_budget
            && (b.0.is_zero() || b.0 > MAX_FAILOVER_BUDGET)
        {
            out.push((
                "failover_budget",
                format!("conduct.failover_budget: {b} is not within 1ms..={}", Dur(MAX_FAILOVER_BUDGET)),
            ));
        }
        out
    }
}
