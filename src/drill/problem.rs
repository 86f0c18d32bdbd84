//! Why a scenario did not pass, beyond its failed checks: typed, so every writer (console,
//! JUnit, evidence, HTML, step summary) renders the same reasons with their decisive numbers and
//! the runbook's first action, and none of them classifies a reason by its text.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::classify::FailureMode;
use crate::classify::conduct::Finding;
use crate::metrics::gate::Verdict;

/// Which part of the gatedrill harness failed, not the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Harness {
    MockProviders,
    ReferenceGateway,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A failure mode the scenario expects did not appear.
    MissingFailureMode {
        failure_mode: FailureMode,
    },
    /// A failure mode appeared that the scenario does not expect.
    UnexpectedFailureMode {
        failure_mode: FailureMode,
    },
    MissingFinding {
        finding: Finding,
    },
    UnexpectedFinding {
        finding: Finding,
        provider: String,
        detail: String,
    },
    /// A gate that did not pass (failed, or could not be decided).
    Gate {
        gate: String,
        verdict: Verdict,
        detail: String,
    },
    /// Handler panics caught in the harness: the drill's evidence cannot be trusted.
    HarnessError {
        harness: Harness,
        count: u64,
    },
    /// A fleet in another process could not be read back (its journal, receipts, health or
    /// latency): what it saw is unknown, so the drill cannot pass.
    FleetUnreadable {
        provider: String,
        detail: String,
    },
    /// Interrupted before every step ran.
    Interrupted,
}

impl Problem {
    /// About the expected outcome (failure modes and findings).
    pub fn is_expectation(&self) -> bool {
        matches!(
            self,
            Problem::MissingFailureMode { .. }
                | Problem::UnexpectedFailureMode { .. }
                | Problem::MissingFinding { .. }
                | Problem::UnexpectedFinding { .. }
        )
    }

    /// A stable id of the kind of problem.
    pub fn id(&self) -> &'static str {
        match self {
            Problem::MissingFailureMode { .. } => "missing_failure_mode",
            Problem::UnexpectedFailureMode { .. } => "unexpected_failure_mode",
            Problem::MissingFinding { .. } => "missing_finding",
            Problem::UnexpectedFinding { .. } => "unexpected_finding",
            Problem::Gate { .. } => "gate",
            Problem::HarnessError { .. } => "harness_error",
            Problem::FleetUnreadable { .. } => "fleet_unreadable",
            Problem::Interrupted => "interrupted",
        }
    }

    /// The runbook's first operator action, where it gives one.
    pub fn first_action(&self) -> Option<&'static str> {
        match self {
            Problem::UnexpectedFailureMode { failure_mode } => Some(failure_mode.first_action()),
            _ => None,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::wire::id_of;
        match self {
            Problem::MissingFailureMode { failure_mode } => {
                write!(f, "expected failure mode {} was not seen", failure_mode.id())
            }
            Problem::UnexpectedFailureMode { failure_mode } => {
                write!(f, "unexpected failure mode {}", failure_mode.id())
            }
            Problem::MissingFinding { finding } => write!(f, "expected finding {} was not seen", id_of(finding)),
            Problem::UnexpectedFinding { finding, provider, detail } => {
                write!(f, "unexpected finding {} ({provider}: {detail})", id_of(finding))
            }
            Problem::Gate { gate, verdict, detail } => write!(f, "gate `{gate}`: {} ({detail})", id_of(verdict)),
            Problem::HarnessError { harness, count } => write!(
                f,
                "harness error: the {} failed {count} time(s); this drill's evidence cannot be trusted",
                match harness {
                    Harness::MockProviders => "mock providers' handlers",
                    Harness::ReferenceGateway => "reference gateway's handlers",
                }
            ),
            Problem::FleetUnreadable { provider, detail } => {
                write!(f, "the fleet's provider {provider} could not be read back ({detail}); what it saw is unknown")
            }
            Problem::Interrupted => f.write_str("interrupted: not every step ran"),
        }
    }
}
