//! How bad what a scenario measured would be in production (seed 003, "Impact Assessment":
//! the AI worker runbook's P0..P3; seed 002, "Incident Severity": the AgentOS runbook's SEV
//! levels where they apply). Assessed from typed measurements only: failed tasks per minute of
//! runbook time, windows in which no task succeeded (all AI features down), and providers whose
//! every attempt failed (one provider down). README.md, "Severity", has the mapping.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::slo::Window;
use crate::mock::journal::{AttemptRecord, Outcome};

/// The AI worker runbook's priority (most severe first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Priority {
    /// All AI features down, > 50 errors/min.
    P0,
    /// One provider down, 10-50 errors/min.
    P1,
    /// Slow responses, 5-10 errors/min.
    P2,
    /// Occasional failures, < 5 errors/min.
    P3,
}

/// The AgentOS runbook's incident severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AgentSev {
    /// Major success degradation (no workaround).
    #[serde(rename = "SEV-2")]
    Sev2,
    /// Degradation with a workaround (a fallback served).
    #[serde(rename = "SEV-3")]
    Sev3,
}

/// What was measured and what it amounts to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Severity {
    /// `None`: nothing measured went wrong for a user or a provider.
    pub priority: Option<Priority>,
    pub agent_sev: Option<AgentSev>,
    /// Failed tasks per minute of runbook time (the scenario's `time_scale` applied).
    pub errors_per_minute: f64,
    pub failed_tasks: u64,
    /// A window with tasks and not one success.
    pub all_ai_down: bool,
    /// Providers every attempt of which failed (at least two).
    pub providers_down: Vec<String>,
    /// The drill's length in runbook minutes (its `time_scale` applied).
    #[serde(default)]
    pub runbook_minutes: f64,
    pub reasons: Vec<String>,
}

/// The priority an error rate alone gives.
pub fn by_rate(per_minute: f64) -> Option<Priority> {
    match per_minute {
        r if r > 50.0 => Some(Priority::P0),
        r if r >= 10.0 => Some(Priority::P1),
        r if r >= 5.0 => Some(Priority::P2),
        r if r > 0.0 => Some(Priority::P3),
        _ => None,
    }
}

/// Providers whose every attempt in the (whole, unsampled) journal failed, with at least two.
pub fn providers_down(journal: &[AttemptRecord]) -> Vec<String> {
    let mut by: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for r in journal.iter().filter(|r| r.outcome != Outcome::InFlight) {
        let e = by.entry(r.provider.as_str()).or_default();
        if r.outcome == Outcome::Completed { e.0 += 1 } else { e.1 += 1 }
    }
    by.into_iter().filter(|(_, (ok, failed))| *ok == 0 && *failed >= 2).map(|(p, _)| p.to_string()).collect()
}

/// Assesses a scenario from its totals, windows, providers down, runbook-time length (a run
/// shorter than a minute is judged as one minute).
pub fn assess(totals: &Window, windows: &[Window], providers_down: Vec<String>, runbook_minutes: f64) -> Severity {
    let failed = totals.tasks.saturating_sub(totals.succeeded);
    // A drill shorter than a minute of runbook time counts its failures as that minute's: a
    // rate extrapolated from milliseconds would call one failure an outage.
    let per_minute = failed as f64 / runbook_minutes.max(1.0);
    let all_down = windows.iter().any(|w| w.tasks >= 2 && w.succeeded == 0);
    let mut reasons = Vec::new();
    let mut levels = vec![by_rate(per_minute)];
    if failed > 0 {
        reasons.push(format!("{failed} failed task(s), {per_minute:.1} per minute of runbook time"));
    }
    if all_down {
        levels.push(Some(Priority::P0));
        reasons.push("a window in which no task succeeded: all AI features down".into());
    }
    if !providers_down.is_empty() {
        levels.push(Some(Priority::P1));
        reasons.push(format!("provider(s) down: {}", providers_down.join(", ")));
    }
    let priority = levels.into_iter().flatten().min();
    let agent_sev = match priority {
        None => None,
        // Users saw failures with nothing to fall back on.
        Some(Priority::P0) => Some(AgentSev::Sev2),
        Some(_) if failed > 0 && totals.fallbacks == 0 => Some(AgentSev::Sev2),
        Some(_) => Some(AgentSev::Sev3),
    };
    Severity {
        priority,
        agent_sev,
        errors_per_minute: per_minute,
        failed_tasks: failed,
        all_ai_down: all_down,
        providers_down,
        runbook_minutes,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(tasks: u64, succeeded: u64, fallbacks: u64) -> Window {
        Window { tasks, succeeded, fallbacks, ..Default::default() }
    }

    #[test]
    fn the_table_bands_and_indicators() {
        assert_eq!(
            [60.0, 50.0, 10.0, 7.0, 1.0, 0.0].map(by_rate),
            [Some(Priority::P0), Some(Priority::P1), Some(Priority::P1), Some(Priority::P2), Some(Priority::P3), None]
        );
        // Nothing failed: no severity at all.
        assert_eq!(assess(&window(10, 10, 0), &[window(10, 10, 0)], vec![], 1.0).priority, None);
        // One provider down, every task rescued by a fallback: P1, with a workaround.
        let s = assess(&window(10, 10, 10), &[], vec!["openai".into()], 1.0);
        assert_eq!((s.priority, s.agent_sev), (Some(Priority::P1), Some(AgentSev::Sev3)));
        // A window with no success at all is everything down, whatever the rate.
        let s = assess(&window(4, 2, 0), &[window(2, 0, 0), window(2, 2, 0)], vec![], 10.0);
        assert_eq!((s.priority, s.agent_sev, s.all_ai_down), (Some(Priority::P0), Some(AgentSev::Sev2), true));
        // Three failures over an hour of runbook time: occasional.
        assert_eq!(assess(&window(100, 97, 0), &[], vec![], 60.0).priority, Some(Priority::P3));
        // One failure in a drill of a few milliseconds is one failure in a minute, not thousands.
        let s = assess(&window(2, 1, 0), &[], vec![], 0.0001);
        assert_eq!((s.priority, s.errors_per_minute), (Some(Priority::P3), 1.0));
    }
}
