//! Executing one scenario step against the target: one function per step kind. A step produces
//! checks, each with what was expected and what was seen. Every exchange goes through the drill's
//! one client (`drill::exchange`) and every answer is parsed into its wire type at once; an
//! exchange without a complete answer, or an answer not in the runbook's shape, is a failed check
//! that says which, never a panic and never a default value standing in for what was not seen.

mod channels;
pub mod chat;
mod control;
mod runtime;
mod sessions;
mod watch;

use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exchange::{Auth, Exchanger, Observed, ParseFailure, TracedBody};
use super::external::ChannelTrace;
use super::observe::{Endpoint, Exchanged, Observer};
use super::target::Running;
use crate::classify::conduct::Evidence;
use crate::drill::fleet::Fleet;
use crate::scenario::steps::{Step, fixture_path};

pub use runtime::dry_run_task;
pub(crate) use runtime::signal_of;
pub use sessions::deliver;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
}

pub(crate) fn check(name: &str, passed: bool, expected: impl ToString, actual: impl ToString) -> Check {
    Check { name: name.into(), passed, expected: expected.to_string(), actual: actual.to_string() }
}

/// A check of an expected value against what was seen; a value that was not seen fails it.
pub(crate) fn expect_eq<T: PartialEq + Serialize>(out: &mut Vec<Check>, name: &str, want: Option<&T>, got: Option<&T>) {
    // Shown as the wire writes them (`"anthropic"`, `["AI_PROVIDER_RATE_LIMITED"]`), the form a
    // scenario file states them in, never as Rust's debug form.
    let shown = |v: &T| serde_json::to_string(v).unwrap_or_else(|e| format!("(unprintable: {e})"));
    if let Some(w) = want {
        let passed = got == Some(w);
        out.push(check(name, passed, shown(w), got.map_or("absent".into(), shown)));
    }
}

/// A payload kept as incident evidence (runtime health, dry-run attempts, session summary).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    RuntimeHealth,
    RuntimeHealthAtEnd,
    DryRun,
    DryRunWithErrors,
    SessionSummary,
    OrchestrateFailed,
}

/// What steps share during one scenario.
pub struct StepCtx<'a> {
    pub target: &'a mut Running,
    pub fleet: Option<&'a Fleet>,
    pub ex: Exchanger,
    pub scenario_path: &'a Path,
    pub deadline: Duration,
    pub channels: Vec<ChannelTrace>,
    pub findings: Vec<Evidence>,
    pub load: Vec<super::load::LoadReport>,
    pub probes: u64,
    pub obs: &'a Observer,
    /// The step running: (index, kind), for latency series and the trace.
    pub step: (usize, &'static str),
    /// When the running step must have recorded everything: every exchange ends before it, so a
    /// step with many exchanges records what each observed instead of being cut off whole.
    pub until: tokio::time::Instant,
    /// Bytes of an answer the running step reads at most (smaller under load).
    pub body_cap: usize,
    /// Fault phase changes: (ms from the scenario's start, what changed).
    pub phases: Vec<(f64, String)>,
    /// Payloads kept as incident evidence.
    pub evidence: Vec<(EvidenceKind, String, TracedBody)>,
    pub progress: super::progress::ScenarioProgress,
    /// This machine's segment of every load step (`--segment K/N`).
    pub segment: Option<super::shard::Shard>,
    /// Runbook time per unit of drill time (the scenario's `time_scale`).
    pub time_scale: f64,
    /// What each `watch` step decided.
    pub watches: Vec<crate::watch::WatchReport>,
    /// Sessions earlier steps saw active (a watch checks they are still known).
    pub known_sessions: Vec<String>,
    /// Sessions gatedrill's own probes opened (never counted as the gateway's stale sessions).
    pub probe_sessions: std::collections::BTreeSet<String>,
    /// Chat completions as their client took them (steps and load), for the conduct rules.
    pub requests: std::sync::Mutex<ClientLog>,
}

/// The client's chat completions, bounded: past the cap they are counted, not kept.
#[derive(Debug, Default)]
pub struct ClientLog {
    pub kept: Vec<crate::classify::requests::ClientRequest>,
    pub dropped: u64,
}

/// Chat completions a scenario keeps for the conduct rules (about 200 bytes each).
pub const CLIENT_LOG_CAP: usize = 50_000;

impl StepCtx<'_> {
    /// A task from a probe step (anything but load). With `--segment`, every segment runs the
    /// probes (each machine's checks need them), but only segment 1 counts them in the SLO
    /// windows, so the joined windows count each probe once, as one machine would.
    pub fn probe_task(&self, t: crate::metrics::slo::TaskOutcome) {
        if self.segment.is_none_or(|s| s.index == 1) {
            self.obs.task(t);
        }
    }

    /// One exchange with the target, ending by the step's `until`; not yet recorded.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>, auth: Auth<'_>) -> Observed {
        self.send_within(method, path, body, auth, self.ex.deadline).await
    }

    /// One exchange with its own deadline, still ending by the step's `until`.
    pub async fn send_within(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
        deadline: Duration,
    ) -> Observed {
        let left = self.until.saturating_duration_since(tokio::time::Instant::now());
        self.ex.send_bounded(method, path, body, auth, (deadline.min(left), self.body_cap)).await
    }

    /// Records an exchange in the scenario's latency series and trace.
    pub fn record(&self, x: Exchanged<'_>) {
        self.obs.exchange(self.step, x);
    }

    /// An exchange recorded with its body, counting a complete 2xx as a success.
    pub async fn call(
        &self,
        endpoint: Endpoint,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
    ) -> Observed {
        let name = method.to_string();
        let seen = self.send(method, path, body, auth).await;
        let ok = seen.is_success();
        self.record(Exchanged { endpoint, method: &name, path, seen: &seen, ok, keep_body: true, signal: None });
        seen
    }

    /// An admin `GET`, recorded.
    pub async fn get(&self, endpoint: Endpoint, path: &str) -> Observed {
        self.call(endpoint, reqwest::Method::GET, path, None, Auth::Admin).await
    }

    /// Milliseconds on the fleet's clock (the journal's), 0 without a fleet.
    pub fn fleet_ms(&self) -> f64 {
        self.fleet.map_or(0.0, |f| f.elapsed_ms())
    }

    /// A request as its client took it: `(marker, model)`, when it was sent on the fleet's clock,
    /// what came back, whether it was a whole success, whether a stream's tokens arrived.
    pub fn took(
        &self,
        api: crate::classify::requests::Api,
        (marker, model): (&str, &str),
        sent_ms: f64,
        seen: &Observed,
        ok: bool,
        tokens_received: bool,
    ) -> crate::classify::requests::ClientRequest {
        use crate::classify::transport::TransportFailure;
        crate::classify::requests::ClientRequest {
            api,
            marker: marker.to_string(),
            model: model.to_string(),
            step: self.step.0 + 1,
            sent_ms,
            ended_ms: self.fleet_ms(),
            status: seen.status,
            ok,
            retry_after: seen.retry_after.is_some(),
            // The client stopped waiting (or reading): what the gateway did next is not its answer.
            gave_up: matches!(seen.failure, Some(TransportFailure::Timeout | TransportFailure::TooLarge)),
            tokens_received,
        }
    }

    /// Keeps one request as its client took it (counted once the log is full).
    pub fn client_request(&self, c: crate::classify::requests::ClientRequest) {
        if let Ok(mut log) = self.requests.lock() {
            if log.kept.len() < CLIENT_LOG_CAP {
                log.kept.push(c);
            } else {
                log.dropped += 1;
            }
        }
    }

    /// Remembers sessions seen active (bounded), for a later watch's `session_not_found` rule.
    pub fn saw_active<'s>(&mut self, ids: impl IntoIterator<Item = &'s str>) {
        for id in ids {
            if self.known_sessions.len() < KNOWN_SESSIONS && !self.known_sessions.iter().any(|k| k == id) {
                self.known_sessions.push(id.to_string());
            }
        }
    }

    fn next_probe(&mut self) -> u64 {
        self.probes += 1;
        self.probes
    }

    fn fixture(&self, name: &str) -> Result<Value, String> {
        let p = fixture_path(self.scenario_path, name)?;
        let text = read_bounded(&p, FIXTURE_CAP).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    }
}

/// Sessions a scenario remembers having seen active.
const KNOWN_SESSIONS: usize = 1000;

/// Largest fixture read.
const FIXTURE_CAP: u64 = 1024 * 1024;

/// Reads a file of at most `cap` bytes.
pub(crate) fn read_bounded(path: &Path, cap: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?.take(cap + 1).read_to_string(&mut text)?;
    if text.len() as u64 > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(text)
}

/// The status check every step makes; true when the answer is complete with that status.
pub(crate) fn status_check(out: &mut Vec<Check>, want: u16, seen: &Observed) -> bool {
    let ok = seen.is(want);
    out.push(check("status", ok, want, seen.describe()));
    ok
}

/// The answer parsed, or a failed check naming what was wrong with it.
pub(crate) fn parsed<T: serde::de::DeserializeOwned>(out: &mut Vec<Check>, what: &str, seen: &Observed) -> Option<T> {
    match seen.parse::<T>() {
        Ok(v) => Some(v),
        Err(ParseFailure { message }) => {
            out.push(check(&format!("{what} answer"), false, "the runbook's shape", message));
            None
        }
    }
}

/// Runs one step; returns its checks.
pub async fn execute(ctx: &mut StepCtx<'_>, step: &Step) -> Vec<Check> {
    let mut out = Vec::new();
    match step {
        Step::Health {} => runtime::health(ctx, &mut out, crate::wire::paths::HEALTH, 200).await,
        Step::Ready { expect } => {
            runtime::health(ctx, &mut out, crate::wire::paths::READY, expect.status.unwrap_or(200)).await
        }
        Step::RuntimeHealth { expect } => runtime::runtime_health(ctx, &mut out, expect).await,
        Step::Profiles {} => runtime::profiles(ctx, &mut out).await,
        Step::Chat { model, api, prompt, stream, timeout, expect } => {
            chat::chat(ctx, &mut out, (model, *api), prompt.as_deref(), *stream, *timeout, expect).await
        }
        Step::DryRun { role, prompt, prompt_repeat, timeout, expect } => {
            runtime::dry_run(ctx, &mut out, role, prompt.as_deref(), *prompt_repeat, *timeout, expect).await
        }
        Step::Orchestrate { draft_id, channel, expect } => {
            runtime::orchestrate(ctx, &mut out, draft_id, channel.as_deref(), expect).await
        }
        Step::Ingest { connector, channel, fixture, wrong_secret, expect } => {
            sessions::ingest(ctx, &mut out, connector, channel, fixture, *wrong_secret, expect).await
        }
        Step::SessionsLookup { expect } => sessions::lookup(ctx, &mut out, expect).await,
        Step::SessionCompact { keep_recent } => sessions::compact(ctx, &mut out, *keep_recent).await,
        Step::SessionStatus {} => sessions::read_each(ctx, &mut out, sessions::Read::Status).await,
        Step::SessionSummary {} => sessions::read_each(ctx, &mut out, sessions::Read::Summary).await,
        Step::SessionClose {} => sessions::close(ctx, &mut out).await,
        Step::Telemetry { expect } => sessions::telemetry(ctx, &mut out, expect).await,
        Step::ExternalChannelCheck { channels } => channels::run(ctx, &mut out, channels).await,
        Step::Load { .. } => control::load(ctx, &mut out, step).await,
        Step::Faults { clear, add } => control::faults(ctx, &mut out, *clear, add).await,
        Step::WaitUntil { condition, deadline } => control::wait_until(ctx, &mut out, condition, deadline.0).await,
        Step::Sleep { duration } => tokio::time::sleep(duration.0).await,
        Step::Watch { .. } => watch::run(ctx, &mut out, step).await,
        Step::GatewayRestart { set, remove_from_chains } => {
            control::gateway_restart(ctx, &mut out, set, remove_from_chains).await
        }
        Step::StoreFault { fault, delay } => control::store_fault(ctx, &mut out, *fault, delay.map(|d| d.0)),
    }
    out
}

/// The expected external session id of a fixture, from `fixtures.toml` beside it.
pub fn expected_id(scenario_path: &Path, fixture: &str) -> Option<String> {
    let file = fixture_path(scenario_path, fixture).ok()?;
    let name = file.file_name()?.to_str()?;
    crate::scenario::steps::connector_fixtures(file.parent()?)
        .ok()?
        .into_iter()
        .find(|f| f.file == name)
        .map(|f| f.expected_external_session_id)
}
