//! The runbook over time (seed 001, "Operational SLO Checks" and "Release Window Checks"): the
//! degraded rules as typed conditions with durations ([`rules`]), decided over rounds of the
//! runbook's probes ([`poll`]). A scenario's `watch` step runs them in compressed time
//! (`time_scale`); `gatedrill watch` runs them at their real durations against a live gateway.

pub mod command;
pub mod poll;
pub mod rules;

pub use poll::{Plan, Prober, Watch, WatchReport};
pub use rules::{RuleId, RuleOutcome, RuleSpec, RuleVerdict};
