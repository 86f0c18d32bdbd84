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
    /// The answer's tool calls are unusable: arguments that are not a JSON object.
    #[serde(rename = "AI_PROVIDER_TOOL_CALL_INVALID")]
    ToolCallInvalid,
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
    /// Tools whose calls failed in this attempt (Playbook B's "failing tools").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_tools: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Of `prompt_tokens`, read from / written to the provider's prompt cache (priced apart).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_tokens: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// Tools the request declared (the reference gateway's; absent elsewhere).
    #[serde(default)]
    pub tools_declared: Option<u64>,
    /// The tool calls the answer carried.
    #[serde(default)]
    pub tool_calls: Vec<crate::mock::assemble::AssembledCall>,
}

impl DryRunAnswer {
    /// The tool-call outcome of a task that declared tools, as `tool_success_rate` defines it
    /// (`metrics::slo`): usable calls are a success; broken calls (an attempt's `failedTools`)
    /// with no rescuing answer, or a failed task, a failure; an answer in words, no outcome.
    /// `complete` says the answer itself was a complete `200`.
    pub fn tool_call_outcome(&self, complete: bool) -> Option<bool> {
        use crate::mock::assemble::{ToolCallVerdict, verdict};
        if self.tools_declared.unwrap_or(0) == 0 {
            return None;
        }
        let ok = complete && !self.failed;
        if !self.tool_calls.is_empty() {
            let args = self.tool_calls.iter().map(|c| c.arguments.as_str());
            return Some(ok && verdict(args, true) == ToolCallVerdict::Valid);
        }
        let broke = self.attempts.iter().any(|a| !a.failed_tools.is_empty());
        (broke || !ok).then_some(false)
    }

    /// `tool on provider` for every tool whose calls failed in an attempt.
    pub fn failing_tools(&self) -> impl Iterator<Item = String> + '_ {
        self.attempts.iter().flat_map(|a| a.failed_tools.iter().map(move |t| format!("{t} on {}", a.provider)))
    }
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

/// `POST /api/admin/agent-gateway/orchestrate` (the part the drill reads): the session and each
/// role's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrchestrateAnswer {
    #[serde(default)]
    pub session: Option<super::sessions::SessionRef>,
    #[serde(default)]
    pub roles: Vec<DryRunAnswer>,
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
