//! The AI runtime's admin routes (seed 001, "Fast Triage" steps 2, 3 and 5): the health
//! snapshot, the role/provider profiles and the dry-run probe, with the runtime attempt codes
//! (`AI_PROVIDER_TIMEOUT`, `AI_PROVIDER_HTTP_ERROR`, `AI_PROVIDER_UNAVAILABLE`, and a finer split).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Runtime attempt codes: the runbook's three, plus a finer split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub enum AttemptCode {
    #[serde(rename = "AI_PROVIDER_TIMEOUT")]
    Timeout,
    #[serde(rename = "AI_PROVIDER_HTTP_ERROR")]
    HttpError,
    #[serde(rename = "AI_PROVIDER_UNAVAILABLE")]
    Unavailable,
    #[serde(rename = "AI_PROVIDER_RATE_LIMITED")]
    RateLimited,
    #[serde(rename = "AI_PROVIDER_AUTH_FAILED")]
    AuthFailed,
    #[serde(rename = "AI_PROVIDER_QUOTA_EXHAUSTED")]
    QuotaExhausted,
    #[serde(rename = "AI_PROVIDER_CONTEXT_OVERFLOW")]
    ContextOverflow,
    #[serde(rename = "AI_PROVIDER_STREAM_TRUNCATED")]
    StreamTruncated,
    #[serde(rename = "AI_PROVIDER_STREAM_ERROR")]
    StreamError,
}

impl AttemptCode {
    /// Failures that retrying the same provider cannot fix (a key, a bill, a prompt size).
    pub fn is_non_retryable(self) -> bool {
        matches!(self, AttemptCode::AuthFailed | AttemptCode::QuotaExhausted | AttemptCode::ContextOverflow)
    }
}

/// An attempt code as a gateway reported it: one of ours, or a code of its own (kept verbatim,
/// never mapped onto ours).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ReportedCode {
    Known(AttemptCode),
    Other(String),
}

impl std::fmt::Display for ReportedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportedCode::Known(c) => f.write_str(crate::wire::id_of(c).as_str()),
            ReportedCode::Other(s) => f.write_str(s),
        }
    }
}

/// What became of one link of a role's chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Ok,
    Error,
    Skipped,
}

/// Why a link was not tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    CoolingDown,
    ContextWindowTooSmall,
    FailoverBudgetSpent,
}

/// One link of the chain in a dry-run answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptReport {
    pub provider: String,
    #[serde(default)]
    pub model: Option<String>,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ReportedCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The provider's error type/code, or what happened to the stream or connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<SkipReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub latency_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// `POST /api/admin/ai-runtime/dry-run` (and each role of an orchestration). `failed` and
/// `attempts` are the runbook's; the rest is the reference gateway's and optional on the wire.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunAnswer {
    #[serde(default)]
    pub role: Option<String>,
    pub failed: bool,
    pub attempts: Vec<AttemptReport>,
    #[serde(default)]
    pub served_by: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub fallback_used: Option<bool>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl DryRunAnswer {
    /// Codes of the failed attempts, in order.
    pub fn error_codes(&self) -> Vec<ReportedCode> {
        self.attempts
            .iter()
            .filter(|a| a.outcome == AttemptOutcome::Error)
            .map(|a| a.code.clone().unwrap_or(ReportedCode::Other(String::new())))
            .collect()
    }

    /// Whether the runtime reports having passed over `provider` for a reason that excuses not
    /// trying it (cooling down, too small a window, the failover budget spent).
    pub fn skipped_with_reason(&self, provider: &str) -> bool {
        self.attempts.iter().any(|a| a.provider == provider && a.skip_reason.is_some())
    }
}

/// `summary.health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Ok,
    Degraded,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthSummary {
    pub health: HealthState,
    pub roles_blocked: u64,
    pub providers_cooling_down: u64,
    #[serde(default)]
    pub provider_count: Option<u64>,
    #[serde(default)]
    pub http_adapters: Option<bool>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleHealth {
    pub role: String,
    pub blocked: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderHealth {
    pub name: String,
    #[serde(default)]
    pub dialect: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    pub cooling_down: bool,
    #[serde(default)]
    pub cooldown_remaining_ms: Option<u64>,
    #[serde(default)]
    pub cooldown_until: Option<String>,
    #[serde(default)]
    pub last_error_code: Option<ReportedCode>,
}

/// `GET /api/admin/ai-runtime/health`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuntimeHealth {
    pub summary: HealthSummary,
    #[serde(default)]
    pub roles: Vec<RoleHealth>,
    #[serde(default)]
    pub providers: Vec<ProviderHealth>,
}

/// A link of a role's chain as profiles show it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChainLink {
    pub provider: String,
    #[serde(default)]
    pub model: Option<String>,
}

/// `GET /api/admin/ai-runtime/profiles` (the part the drill reads: each role's chain).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profiles {
    pub roles: BTreeMap<String, Vec<ChainLink>>,
}
