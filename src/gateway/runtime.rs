//! The AI runtime: a role's request walks its model chain (`AI_<ROLE>_MODEL_CHAIN`) until one
//! provider answers. What a good gateway does, and what the drills check:
//!
//! - each attempt has a timeout, and the whole walk a budget, so failover time is bounded;
//! - a provider that fails is cooled down for `AI_PROVIDER_COOLDOWN_MS`, at least as long as its
//!   Retry-After, and skipped while it cools; no provider is tried twice in one walk;
//! - a context overflow is not the provider's fault: the walk goes on to the next model whose
//!   context window is larger, skipping smaller ones, and nothing is cooled;
//! - a stream without its terminator or finish reason is a failure, never a success;
//! - cost is priced from the model table shared with the mocks, cache reads and writes included;
//! - a role's tools (`AI_<ROLE>_TOOLS`, or a dry-run's own) go to every link of the chain, and
//!   an answer whose tool calls are unusable (malformed arguments, a stream cut mid-call) is a
//!   failed attempt like any other: the walk fails over.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::client::{self, AttemptCode, CallError};
use super::config::{GatewayConfig, Role};
use super::cooldown::CooldownTracker;
use super::tools::ToolDef;
use crate::mock::assemble::AssembledCall;
pub use crate::wire::runtime::{AttemptOutcome, AttemptReport, ReportedCode, SkipReason, Usage};

/// The result of a role's request.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    pub role: Role,
    pub failed: bool,
    pub attempts: Vec<AttemptReport>,
    pub served_by: Option<String>,
    pub model: Option<String>,
    pub fallback_used: bool,
    pub finish_reason: Option<String>,
    pub usage: Usage,
    pub cost_usd: f64,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// How many tools the request declared (0: not a tool task).
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub tools_declared: usize,
    /// The tool calls of the answer that served the request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<AssembledCall>,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

pub struct Runtime {
    pub config: Arc<GatewayConfig>,
    pub cooldown: CooldownTracker,
    client: reqwest::Client,
}

const MAX_OUTPUT_TOKENS: u64 = 256;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Runtime {
    pub fn new(config: Arc<GatewayConfig>) -> Self {
        let client = crate::tls::builder()
            .pool_idle_timeout(Duration::from_secs(30))
            // Idle connections per provider are bounded: each holds its buffers.
            .pool_max_idle_per_host(32)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Runtime { config, cooldown: CooldownTracker::default(), client }
    }

    /// Runs `prompt` for `role` within `timeout` (and the failover budget), with the role's
    /// configured tools.
    pub async fn run(&self, role: Role, prompt: &str, timeout: Duration) -> RunOutcome {
        self.run_with_tools(role, prompt, None, timeout).await
    }

    /// As [`Runtime::run`], declaring `tools` instead of the role's configured ones when given.
    pub async fn run_with_tools(
        &self,
        role: Role,
        prompt: &str,
        tools: Option<&[ToolDef]>,
        timeout: Duration,
    ) -> RunOutcome {
        let tools = tools.unwrap_or_else(|| self.config.role_tools.get(&role).map_or(&[], Vec::as_slice));
        let started = Instant::now();
        let deadline = started + timeout.min(self.config.failover_budget);
        let chain = self.config.chains.get(&role).cloned().unwrap_or_default();
        let mut out = RunOutcome {
            role,
            failed: true,
            attempts: Vec::new(),
            served_by: None,
            model: None,
            fallback_used: false,
            finish_reason: None,
            usage: Usage::default(),
            cost_usd: 0.0,
            latency_ms: 0.0,
            output: None,
            tools_declared: tools.len(),
            tool_calls: Vec::new(),
        };
        // After a context overflow, only a larger window can help.
        let mut need_window_above: Option<u64> = None;
        for (i, link) in chain.iter().enumerate() {
            let now = Instant::now();
            let report = |outcome, code: Option<AttemptCode>, detail: Option<&str>| AttemptReport {
                provider: link.provider.clone(),
                model: Some(link.model.clone()),
                outcome,
                code: code.map(ReportedCode::Known),
                http_status: None,
                detail: detail.map(str::to_string),
                skip_reason: None,
                retry_after_ms: None,
                latency_ms: Some(0.0),
                failed_tools: Vec::new(),
            };
            let skipped = |reason: SkipReason| AttemptReport {
                skip_reason: Some(reason),
                ..report(AttemptOutcome::Skipped, None, Some(crate::wire::id_of(&reason).as_str()))
            };
            if now >= deadline {
                out.attempts.push(skipped(SkipReason::FailoverBudgetSpent));
                continue;
            }
            if self.cooldown.is_cooling(&link.provider, now) {
                out.attempts.push(skipped(SkipReason::CoolingDown));
                continue;
            }
            let window = self.config.model(&link.model).map(|m| m.context_window);
            if let (Some(need), Some(w)) = (need_window_above, window)
                && w <= need
            {
                out.attempts.push(skipped(SkipReason::ContextWindowTooSmall));
                continue;
            }
            let Some(provider) = self.config.provider(&link.provider) else { continue };
            let result = if self.config.use_http_adapters {
                let attempt = client::call(&self.client, provider, &link.model, prompt, MAX_OUTPUT_TOKENS, tools);
                match tokio::time::timeout(self.config.attempt_timeout.min(deadline - now), attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(CallError {
                        code: AttemptCode::Timeout,
                        status: None,
                        retry_after: None,
                        detail: "attempt_timeout".into(),
                        failed_tools: Vec::new(),
                    }),
                }
            } else {
                Err(CallError {
                    code: AttemptCode::Unavailable,
                    status: None,
                    retry_after: None,
                    detail: "http_adapters_disabled".into(),
                    failed_tools: Vec::new(),
                })
            };
            let latency_ms = ms(now.elapsed());
            match result {
                Ok(answer) => {
                    let mut r = report(AttemptOutcome::Ok, None, None);
                    r.http_status = Some(200);
                    r.latency_ms = Some(latency_ms);
                    out.attempts.push(r);
                    out.failed = false;
                    out.served_by = Some(link.provider.clone());
                    out.model = Some(link.model.clone());
                    out.fallback_used = i > 0;
                    out.finish_reason = Some(answer.finish);
                    out.usage = Usage {
                        prompt_tokens: answer.prompt_tokens,
                        completion_tokens: answer.completion_tokens,
                        cached_tokens: answer.cached_tokens,
                        cache_write_tokens: answer.cache_write_tokens,
                    };
                    out.cost_usd = self.config.model(&link.model).map_or(0.0, |m| {
                        m.cost_with_cache_usd(
                            answer.prompt_tokens,
                            answer.cached_tokens,
                            answer.cache_write_tokens,
                            answer.completion_tokens,
                        )
                    });
                    out.output = Some(answer.text);
                    out.tool_calls = answer.tool_calls;
                    break;
                }
                Err(e) => {
                    let mut r = report(AttemptOutcome::Error, Some(e.code), Some(&e.detail));
                    r.http_status = e.status;
                    r.retry_after_ms = e.retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    r.latency_ms = Some(latency_ms);
                    r.failed_tools = e.failed_tools;
                    out.attempts.push(r);
                    if e.code == AttemptCode::ContextOverflow {
                        need_window_above = need_window_above.max(window.or(Some(0)));
                    } else {
                        let period = self.config.cooldown.max(e.retry_after.unwrap_or_default());
                        self.cooldown.cool(&link.provider, period, e.code, Instant::now());
                    }
                }
            }
        }
        out.latency_ms = ms(started.elapsed());
        out
    }

    /// Whether every provider in the role's chain is cooling down.
    pub fn role_blocked(&self, role: Role, now: Instant) -> bool {
        let chain = self.config.chains.get(&role).map(Vec::as_slice).unwrap_or_default();
        !chain.is_empty() && chain.iter().all(|l| self.cooldown.is_cooling(&l.provider, now))
    }
}
