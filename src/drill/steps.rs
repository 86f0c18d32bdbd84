//! Executing one scenario step against the target. A step produces checks, each with what was
//! expected and what was seen; any HTTP exchange without an answer is a failed check, never a
//! panic. The findings only visible by comparing the gateway's report with the providers'
//! journal (a broken stream reported as success, a failover not taken) are judged here.

use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::external::{ChannelProbe, ChannelTrace, ProbeTarget, check_channel};
use super::observe::Observer;
use super::target::Running;
use crate::classify::Exchange;
use crate::classify::conduct::{Evidence, Finding};
use crate::metrics::slo::TaskOutcome;
use crate::mock::ProviderFleet;
use crate::mock::journal::Outcome;
use crate::scenario::steps::{Condition, Step, fixture_path};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
}

fn check(name: &str, passed: bool, expected: impl ToString, actual: impl ToString) -> Check {
    Check { name: name.into(), passed, expected: expected.to_string(), actual: actual.to_string() }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(out: &mut Vec<Check>, name: &str, want: Option<T>, got: T) {
    if let Some(w) = want {
        let passed = w == got;
        out.push(check(name, passed, format!("{w:?}"), format!("{got:?}")));
    }
}

/// What steps share during one scenario.
pub struct StepCtx<'a> {
    pub target: &'a Running,
    pub fleet: Option<&'a ProviderFleet>,
    pub client: reqwest::Client,
    pub scenario_path: &'a Path,
    pub deadline: Duration,
    pub channels: Vec<ChannelTrace>,
    pub findings: Vec<Evidence>,
    pub load: Vec<super::load::LoadReport>,
    pub probes: u64,
    pub obs: &'a Observer,
    /// The step running: (index, kind), for latency series and the trace.
    pub step: (usize, &'static str),
    /// Fault phase changes: (ms from the scenario's start, what changed).
    pub phases: Vec<(f64, String)>,
    /// The last runtime-health and session-summary payloads seen (incident evidence).
    pub evidence: Vec<(String, Value)>,
    pub progress: super::progress::ScenarioProgress,
}

/// Whether an answer counts as a success, per endpoint.
fn answered_ok(path: &str, ex: &Exchange) -> bool {
    let Some(status) = ex.status else { return false };
    if path.ends_with("/dry-run") {
        status == 200 && ex.body["failed"] == false
    } else if path.ends_with("/adapters/ingest") {
        status == 201 && ex.body["ingestApplied"] == true
    } else {
        (200..300).contains(&status)
    }
}

impl StepCtx<'_> {
    /// One exchange with the gateway, timed and recorded; `keep_body` keeps the answer in the
    /// trace (step requests; loads keep only status and latency).
    pub async fn send(
        &self,
        req: reqwest::RequestBuilder,
        method: &str,
        path: &str,
        keep_body: bool,
    ) -> (Exchange, Duration) {
        let started = Instant::now();
        let ex = match req.timeout(self.deadline).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
                Exchange { status: Some(status), body }
            }
            Err(_) => Exchange::default(),
        };
        let took = started.elapsed();
        let ok = answered_ok(path, &ex);
        self.obs.exchange(self.step, method, path, ex.status, ok, took, keep_body.then_some(&ex.body));
        (ex, took)
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>, admin: bool) -> Exchange {
        self.call_timed(method, path, body, admin, true).await.0
    }

    pub async fn call_timed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        admin: bool,
        keep_body: bool,
    ) -> (Exchange, Duration) {
        let name = method.to_string();
        let mut req = self.client.request(method, format!("{}{path}", self.target.base_url));
        if admin {
            req = req.header("x-admin-token", &self.target.admin_token.0);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req, &name, path, keep_body).await
    }

    /// A webhook delivery to the ingest endpoint, with the run's secret or the one given.
    pub async fn ingest(&self, body: &Value, secret: Option<&str>, keep_body: bool) -> (Exchange, Duration) {
        let path = "/api/agent-gateway/adapters/ingest";
        let mut req = self.client.post(format!("{}{path}", self.target.base_url)).json(body);
        if let Some(s) = secret.or(self.target.webhook_secret.as_ref().map(|s| s.0.as_str())) {
            req = req.header("x-agent-gateway-webhook-secret", s);
        }
        self.send(req, "POST", path, keep_body).await
    }

    async fn get(&self, path: &str) -> Exchange {
        self.call(reqwest::Method::GET, path, None, true).await
    }

    async fn post(&self, path: &str, body: &Value) -> Exchange {
        self.call(reqwest::Method::POST, path, Some(body), true).await
    }

    fn next_probe(&mut self) -> u64 {
        self.probes += 1;
        self.probes
    }

    fn fixture(&self, name: &str) -> Result<Value, String> {
        let p = fixture_path(self.scenario_path, name);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    }
}

fn status_check(out: &mut Vec<Check>, want: u16, ex: &Exchange) -> bool {
    let ok = ex.status == Some(want);
    out.push(check("status", ok, want, ex.status.map_or("no answer".into(), |s| s.to_string())));
    ok
}

/// Runs one step; returns its checks.
pub async fn execute(ctx: &mut StepCtx<'_>, step: &Step) -> Vec<Check> {
    let mut out = Vec::new();
    match step {
        Step::Health {} => {
            let ex = ctx.call(reqwest::Method::GET, "/health", None, false).await;
            status_check(&mut out, 200, &ex);
        }
        Step::Ready {} => {
            let ex = ctx.call(reqwest::Method::GET, "/ready", None, false).await;
            status_check(&mut out, 200, &ex);
        }
        Step::RuntimeHealth { expect } => {
            let ex = ctx.get("/api/admin/ai-runtime/health").await;
            if ex.status == Some(200) {
                ctx.evidence.push(("runtime_health".into(), ex.body.clone()));
            }
            if status_check(&mut out, 200, &ex) {
                let s = &ex.body["summary"];
                expect_eq(
                    &mut out,
                    "summary.health",
                    expect.health.clone(),
                    s["health"].as_str().unwrap_or_default().to_string(),
                );
                expect_eq(
                    &mut out,
                    "summary.rolesBlocked",
                    expect.roles_blocked,
                    s["rolesBlocked"].as_u64().unwrap_or(u64::MAX),
                );
                expect_eq(
                    &mut out,
                    "summary.providersCoolingDown",
                    expect.providers_cooling_down,
                    s["providersCoolingDown"].as_u64().unwrap_or(u64::MAX),
                );
            }
        }
        Step::Profiles {} => {
            let ex = ctx.get("/api/admin/ai-runtime/profiles").await;
            if status_check(&mut out, 200, &ex) {
                let text = ex.body.to_string();
                let leaked = [&ctx.target.admin_token.0]
                    .into_iter()
                    .chain(ctx.target.webhook_secret.as_ref().map(|s| &s.0))
                    .any(|s| text.contains(s.as_str()))
                    || ctx.fleet.is_some_and(|f| {
                        f.endpoints()
                            .iter()
                            .filter_map(|e| f.spec(&e.provider))
                            .flat_map(|s| &s.api_keys)
                            .any(|k| text.contains(k.as_str()))
                    });
                out.push(check("no secret in profiles", !leaked, "none", if leaked { "a secret" } else { "none" }));
            }
        }
        Step::DryRun { role, prompt, prompt_repeat, timeout, expect } => {
            let base = prompt.clone().unwrap_or_else(|| "health probe: summarize fallback readiness".into());
            // A marker per step: separate probes are separate requests, never mistaken for
            // retries of one another in the providers' journal.
            let text = format!(
                "{} [gatedrill probe {}]",
                base.repeat(prompt_repeat.unwrap_or(1).max(1) as usize),
                ctx.next_probe()
            );
            let timeout_ms = timeout.map_or(12_000, |t| t.0.as_millis() as u64);
            let since = ctx.fleet.map(|f| f.elapsed_ms());
            let (ex, took) = ctx
                .call_timed(
                    reqwest::Method::POST,
                    "/api/admin/ai-runtime/dry-run",
                    Some(&json!({"role": role, "prompt": text, "timeoutMs": timeout_ms})),
                    true,
                    true,
                )
                .await;
            ctx.obs.task(dry_run_task(role, &ex, took));
            if ex.status == Some(200) {
                ctx.evidence.push(("dry_run".into(), ex.body.clone()));
            }
            if status_check(&mut out, 200, &ex) {
                let b = &ex.body;
                expect_eq(&mut out, "failed", expect.failed, b["failed"].as_bool().unwrap_or(true));
                expect_eq(&mut out, "fallbackUsed", expect.fallback_used, b["fallbackUsed"].as_bool().unwrap_or(false));
                expect_eq(
                    &mut out,
                    "servedBy",
                    expect.served_by.clone(),
                    b["servedBy"].as_str().unwrap_or_default().to_string(),
                );
                let codes: Vec<String> = b["attempts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["outcome"] == "error")
                    .map(|a| a["code"].as_str().unwrap_or_default().to_string())
                    .collect();
                expect_eq(&mut out, "attempt codes", expect.attempt_codes.clone(), codes);
                if let Some(limit) = expect.cost_usd_above {
                    let cost = b["costUsd"].as_f64().unwrap_or(0.0);
                    out.push(check("costUsd above budget", cost > limit, format!("> {limit}"), format!("{cost:.6}")));
                }
                if let (Some(fleet), Some(since)) = (ctx.fleet, since) {
                    judge_dry_run(ctx, fleet, since, role, b).await;
                }
            }
        }
        Step::Orchestrate { draft_id, channel, expect } => {
            let body =
                json!({"draftId": draft_id, "channel": channel.clone().unwrap_or_else(|| "release-check".into())});
            let (ex, took) = ctx
                .call_timed(reqwest::Method::POST, "/api/admin/agent-gateway/orchestrate", Some(&body), true, true)
                .await;
            ctx.obs.task(TaskOutcome { ok: ex.status == Some(201), latency: took, ..Default::default() });
            if ex.body["failed"] == true {
                // Playbook B's artifact: the session's channel and each role's failing tools.
                ctx.evidence.push(("orchestrate".into(), ex.body.clone()));
            }
            status_check(&mut out, expect.status.unwrap_or(201), &ex);
            expect_eq(
                &mut out,
                "error.code",
                expect.code.clone(),
                ex.body["error"]["code"].as_str().unwrap_or_default().to_string(),
            );
        }
        Step::Ingest { connector, channel, fixture, wrong_secret, expect } => match ctx.fixture(fixture) {
            Err(e) => out.push(check("fixture", false, fixture, e)),
            Ok(payload) => {
                let body = json!({"connectorId": connector, "channel": channel, "payload": payload});
                let (ex, took) = ctx.ingest(&body, wrong_secret.then_some("gatedrill-wrong-secret"), true).await;
                ctx.obs.task(TaskOutcome {
                    ok: ex.status == Some(201) && ex.body["ingestApplied"] == true,
                    latency: took,
                    ..Default::default()
                });
                status_check(&mut out, expect.status.unwrap_or(201), &ex);
                expect_eq(
                    &mut out,
                    "ingestApplied",
                    expect.applied,
                    ex.body["ingestApplied"].as_bool().unwrap_or(false),
                );
                expect_eq(
                    &mut out,
                    "rejectReason",
                    expect.reject_reason.clone(),
                    ex.body["rejectReason"].as_str().unwrap_or_default().to_string(),
                );
            }
        },
        Step::SessionsLookup { expect } => {
            let ex = ctx.get("/api/admin/agent-gateway/sessions?source=db&status=active&limit=1000").await;
            if status_check(&mut out, 200, &ex) {
                let active = ex.body["activeCount"]
                    .as_u64()
                    .unwrap_or_else(|| ex.body["sessions"].as_array().map_or(0, |s| s.len() as u64));
                if let Some(min) = expect.active_min {
                    out.push(check("active sessions at least", active >= min, min, active));
                }
                if let Some(max) = expect.active_max {
                    out.push(check("active sessions at most", active <= max, max, active));
                }
            }
        }
        Step::SessionCompact { keep_recent } => {
            for id in active_sessions(ctx).await {
                let ex = ctx
                    .post(
                        &format!("/api/admin/agent-gateway/sessions/{id}/compact"),
                        &json!({"keepRecent": keep_recent}),
                    )
                    .await;
                out.push(check(&format!("compact {id}"), ex.status == Some(200), 200, format!("{:?}", ex.status)));
            }
        }
        Step::SessionStatus {} | Step::SessionSummary {} => {
            let what = if matches!(step, Step::SessionStatus {}) { "status" } else { "summary" };
            let ids = active_sessions(ctx).await;
            out.push(check("active sessions to read", !ids.is_empty(), "at least one", ids.len()));
            for id in ids.iter().take(SESSIONS_READ) {
                let ex = ctx.get(&format!("/api/admin/agent-gateway/sessions/{id}/{what}")).await;
                out.push(check(&format!("{what} {id}"), ex.status == Some(200), 200, format!("{:?}", ex.status)));
                if what == "summary" && ex.status == Some(200) {
                    ctx.evidence.push((format!("session_summary {id}"), ex.body));
                }
            }
        }
        Step::SessionClose {} => {
            for id in active_sessions(ctx).await {
                let ex = ctx.post(&format!("/api/admin/agent-gateway/sessions/{id}/close"), &Value::Null).await;
                out.push(check(&format!("close {id}"), ex.status == Some(200), 200, format!("{:?}", ex.status)));
            }
        }
        Step::Telemetry { expect } => {
            let ex = ctx.get("/api/admin/agent-gateway/telemetry?hours=24&limit=200").await;
            if status_check(&mut out, 200, &ex) {
                let t = &ex.body["totals"];
                if let Some(min) = expect.accepted_min {
                    out.push(check(
                        "accepted at least",
                        t["accepted"].as_u64().unwrap_or(0) >= min,
                        min,
                        &t["accepted"],
                    ));
                }
                if let Some(min) = expect.rejected_min {
                    out.push(check(
                        "rejected at least",
                        t["rejected"].as_u64().unwrap_or(0) >= min,
                        min,
                        &t["rejected"],
                    ));
                }
            }
        }
        Step::ExternalChannelCheck { channels } => {
            let target = ProbeTarget {
                base_url: ctx.target.base_url.clone(),
                admin_token: ctx.target.admin_token.clone(),
                webhook_secret: ctx.target.webhook_secret.clone(),
                client: ctx.client.clone(),
                deadline: ctx.deadline,
            };
            for c in channels {
                let payload = match ctx.fixture(&c.fixture) {
                    Ok(p) => p,
                    Err(e) => {
                        out.push(check(&format!("{} fixture", c.channel), false, &c.fixture, e));
                        continue;
                    }
                };
                let expected = expected_id(ctx.scenario_path, &c.fixture).unwrap_or_default();
                let probe = ChannelProbe {
                    connector_id: c.connector.clone(),
                    channel: c.channel.clone(),
                    payload,
                    expected_external_session_id: expected,
                    required: c.required,
                };
                let stale = ProbeTarget {
                    webhook_secret: Some(crate::secret::Redacted("gatedrill-stale-secret".into())),
                    ..target.clone()
                };
                let trace = check_channel(if c.wrong_secret { &stale } else { &target }, &probe).await;
                for r in &trace.requests {
                    ctx.obs.exchange(
                        ctx.step,
                        &r.method,
                        &r.path,
                        r.status,
                        r.status.is_some_and(|s| s < 300),
                        Duration::from_secs_f64(r.latency_ms / 1000.0),
                        None,
                    );
                }
                let mode = trace.failure_mode.map_or("none".to_string(), |m| m.id().to_string());
                out.push(check(&format!("{} ({})", c.channel, c.connector), true, "classified", mode));
                ctx.channels.push(trace);
            }
        }
        Step::Load { against, role, concurrency, count, rate, duration, connections, expect } => {
            if !ctx.target.load_allowed {
                out.push(check("load allowed", false, "loopback target or --allow-load", "non-loopback target"));
                return out;
            }
            let shape = super::load::Shape::from_step(*concurrency, *count, *rate, duration.map(|d| d.0), *connections);
            let report = super::load::run(ctx, *against, role.as_deref().unwrap_or("author"), shape).await;
            if let Some(max) = expect.max_error_rate {
                let rate = report.error_rate();
                out.push(check(
                    "error rate",
                    rate <= max,
                    format!("<= {max}"),
                    format!("{rate:.4} ({} of {})", report.errors, report.sent),
                ));
            }
            out.push(check("requests sent", report.sent > 0, "> 0", report.sent));
            ctx.load.push(report);
        }
        Step::Faults { clear, add } => match ctx.fleet {
            None => out.push(check("mocks", false, "a target wired to this run's mocks", "a URL target")),
            Some(fleet) => {
                if *clear {
                    fleet.clear_rules();
                    ctx.phases.push((ctx.obs.elapsed_ms(), "every fault rule cleared".into()));
                }
                if !add.is_empty() {
                    let r = fleet.add_rules(add.clone());
                    let ids: Vec<&str> = add.iter().map(|r| r.id.as_str()).collect();
                    ctx.phases.push((ctx.obs.elapsed_ms(), format!("fault rules added: {}", ids.join(", "))));
                    out.push(check(
                        "fault rules loaded",
                        r.is_ok(),
                        add.len(),
                        r.map_or_else(|e| e.to_string(), |_| add.len().to_string()),
                    ));
                }
            }
        },
        Step::WaitUntil { condition, deadline } => {
            let until = tokio::time::Instant::now() + deadline.0;
            let (held, last) = loop {
                let (ok, seen) = condition_holds(ctx, condition).await;
                if ok || tokio::time::Instant::now() >= until {
                    break (ok, seen);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            out.push(check(
                "condition held before the deadline",
                held,
                format!("{condition:?} within {}", crate::duration::Dur(deadline.0)),
                last,
            ));
        }
        Step::Sleep { duration } => tokio::time::sleep(duration.0).await,
    }
    out
}

/// Sessions a status or summary step reads at most (a backlog can hold thousands).
const SESSIONS_READ: usize = 20;

/// A dry-run answer as an SLO task.
pub fn dry_run_task(role: &str, ex: &Exchange, latency: Duration) -> TaskOutcome {
    let ok = ex.status == Some(200) && ex.body["failed"] == false;
    TaskOutcome {
        ok,
        model_answered: ok && ex.body["servedBy"].is_string(),
        fallback: ex.body["fallbackUsed"] == true,
        cost_usd: ex.body["costUsd"].as_f64().unwrap_or(0.0),
        judge: role == "judge",
        latency,
        tool_call: tool_call_outcome(ex),
    }
}

/// The tool-call outcome of a dry-run that declared tools (`toolsDeclared`), as
/// `tool_success_rate` defines it (metrics::slo): the answer's `toolCalls` are a success when
/// every call's arguments parse; broken calls (`failedTools` in an attempt) with no rescuing
/// answer, or a failed task, are a failure; an answer in words leaves no outcome.
pub fn tool_call_outcome(ex: &Exchange) -> Option<bool> {
    use crate::mock::assemble::{ToolCallVerdict, verdict};
    if ex.body["toolsDeclared"].as_u64().unwrap_or(0) == 0 {
        return None;
    }
    let ok = ex.status == Some(200) && ex.body["failed"] == false;
    let calls = ex.body["toolCalls"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !calls.is_empty() {
        let args = calls.iter().map(|c| c["arguments"].as_str().unwrap_or_default());
        return Some(ok && verdict(args, true) == ToolCallVerdict::Valid);
    }
    let broke = ex.body["attempts"].as_array().into_iter().flatten().any(|a| a["failedTools"].is_array());
    (broke || !ok).then_some(false)
}

async fn active_sessions(ctx: &StepCtx<'_>) -> Vec<String> {
    let ex = ctx.get("/api/admin/agent-gateway/sessions?source=db&status=active&limit=1000").await;
    ex.body["sessions"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str().map(str::to_string)).collect()
}

async fn condition_holds(ctx: &StepCtx<'_>, c: &Condition) -> (bool, String) {
    match c {
        Condition::RuntimeHealth { health } => {
            let ex = ctx.get("/api/admin/ai-runtime/health").await;
            let seen = ex.body["summary"]["health"].as_str().unwrap_or("no answer").to_string();
            (seen == *health, seen)
        }
        Condition::ActiveSessionsAtMost { count } => {
            let ex = ctx.get("/api/admin/agent-gateway/sessions?source=db&status=active&limit=1000").await;
            let n = ex.body["activeCount"].as_u64();
            (n.is_some_and(|n| n <= *count), n.map_or("no answer".into(), |n| format!("{n} active")))
        }
    }
}

/// The expected external session id of a fixture, from `fixtures.toml` beside it.
pub fn expected_id(scenario_path: &Path, fixture: &str) -> Option<String> {
    let file = fixture_path(scenario_path, fixture);
    let name = file.file_name()?.to_str()?;
    crate::scenario::steps::connector_fixtures(file.parent()?)
        .ok()?
        .into_iter()
        .find(|f| f.file == name)
        .map(|f| f.expected_external_session_id)
}

/// Compares a dry-run's report with what the providers saw during it.
async fn judge_dry_run(ctx: &mut StepCtx<'_>, fleet: &ProviderFleet, since: f64, role: &str, report: &Value) {
    let window: Vec<_> = fleet.journal().into_iter().filter(|r| r.t_offset_ms >= since).collect();
    if let Some(p) = report["servedBy"].as_str() {
        let last = window.iter().rev().find(|r| r.provider == p);
        // Failover overhead: from the first failed attempt's end to the fallback's first token.
        let first_failure = window.iter().find(|r| r.outcome != Outcome::Completed && r.provider != p);
        if report["fallbackUsed"] == true
            && let (Some(f), Some(ok)) = (first_failure, last)
            && let Some(first_byte) = ok.first_token_ms.or(ok.duration_ms)
        {
            let failed_at = f.t_offset_ms + f.duration_ms.unwrap_or(0.0);
            let overhead = ok.t_offset_ms + first_byte - failed_at;
            if overhead >= 0.0 {
                ctx.obs.latency("failover_overhead", Duration::from_secs_f64(overhead / 1000.0));
            }
        }
        if let Some(r) = last
            && matches!(
                r.outcome,
                Outcome::StreamCut
                    | Outcome::StreamTruncated
                    | Outcome::StreamMalformed
                    | Outcome::StreamErrorEvent
                    | Outcome::StreamStalled
            )
        {
            ctx.findings.push(Evidence {
                finding: Finding::TruncatedSuccessAccepted,
                provider: p.into(),
                detail: format!("reported as served while attempt {} ended {:?}", r.seq, r.outcome),
            });
        }
    }
    if report["failed"] == true {
        let profiles = ctx.get("/api/admin/ai-runtime/profiles").await;
        let chain: Vec<String> = profiles.body["roles"][role]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["provider"].as_str().map(str::to_string))
            .collect();
        let excused = |p: &str| {
            report["attempts"].as_array().into_iter().flatten().any(|a| {
                a["provider"] == p
                    && matches!(
                        a["detail"].as_str(),
                        Some("cooling_down" | "context_window_too_small" | "failover_budget_spent")
                    )
            })
        };
        for p in chain.iter().filter(|p| !window.iter().any(|r| &r.provider == *p) && !excused(p)) {
            ctx.findings.push(Evidence {
                finding: Finding::FailoverSkipped,
                provider: p.clone(),
                detail: format!("the {role} request failed without trying {p}"),
            });
        }
    }
}
