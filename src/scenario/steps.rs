//! The step kinds of a scenario. Each names what it sends and what it expects; the runner
//! (`drill::steps`) executes them, each under a deadline.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::mock::faults::FaultRule;
use crate::wire::runtime::{HealthState, ReportedCode};

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// `GET /health` answers 200.
    Health {},
    /// `GET /ready` answers 200 (or the status expected: 503 while the store is down).
    Ready {
        #[serde(default)]
        expect: StatusExpect,
    },
    /// `GET /api/admin/ai-runtime/health`, with expectations on its summary.
    RuntimeHealth {
        #[serde(default)]
        expect: HealthExpect,
    },
    /// `GET /api/admin/ai-runtime/profiles` answers 200 and shows no secret.
    Profiles {},
    /// `POST /api/admin/ai-runtime/dry-run`.
    DryRun {
        role: String,
        #[serde(default)]
        prompt: Option<String>,
        /// Repeat the prompt this many times (context-overflow drills).
        #[serde(default)]
        prompt_repeat: Option<u32>,
        #[serde(default)]
        timeout: Option<Dur>,
        #[serde(default)]
        expect: DryRunExpect,
    },
    /// `POST /v1/chat/completions` on an OpenAI-compatible gateway (or `POST /v1/messages` with
    /// `api = "anthropic"`, where the gateway exposes it), judged by what the providers' journal
    /// shows for this very request (tied to it by the probe marker in the prompt).
    Chat {
        /// What the gateway calls the model (for the reference gateway: a role).
        model: String,
        /// Which of the gateway's client APIs: `openai` (chat completions, the default) or
        /// `anthropic` (messages).
        #[serde(default)]
        api: ChatApi,
        #[serde(default)]
        prompt: Option<String>,
        #[serde(default)]
        stream: bool,
        #[serde(default)]
        timeout: Option<Dur>,
        #[serde(default)]
        expect: ChatExpect,
    },
    /// `POST /api/admin/agent-gateway/orchestrate`.
    Orchestrate {
        draft_id: String,
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        expect: StatusExpect,
    },
    /// `POST /api/agent-gateway/adapters/ingest` with a payload fixture from `mocks/connectors/`.
    Ingest {
        connector: String,
        channel: String,
        fixture: String,
        /// Send a wrong webhook secret instead of the right one.
        #[serde(default)]
        wrong_secret: bool,
        #[serde(default)]
        expect: IngestExpect,
    },
    /// `GET /api/admin/agent-gateway/sessions?source=db`.
    SessionsLookup {
        #[serde(default)]
        expect: SessionsExpect,
    },
    /// `GET .../sessions/{id}/status` for active sessions (the first 20).
    SessionStatus {},
    /// `GET .../sessions/{id}/summary` for active sessions (the first 20); the payloads are
    /// kept as incident evidence.
    SessionSummary {},
    /// `POST .../sessions/{id}/compact` on every active session.
    SessionCompact {
        keep_recent: u64,
    },
    /// `POST .../sessions/{id}/close` on every active session (draining a backlog).
    SessionClose {},
    /// `GET /api/admin/agent-gateway/telemetry`.
    Telemetry {
        #[serde(default)]
        expect: TelemetryExpect,
    },
    /// The launch gate's external-channel check, one probe per channel.
    ExternalChannelCheck {
        channels: Vec<ChannelSpec>,
    },
    /// Load against an endpoint: closed model (`concurrency` and `count`) or open model
    /// (`rate` per second for `duration`). Bounded in count and time; loopback targets only.
    /// Ingest load sends Telegram-shaped payloads for connector `gatedrill_load`, rotating
    /// over 100 chat ids.
    Load {
        against: LoadAgainst,
        #[serde(default)]
        role: Option<String>,
        #[serde(default)]
        concurrency: Option<u32>,
        #[serde(default)]
        count: Option<u64>,
        #[serde(default)]
        rate: Option<f64>,
        #[serde(default)]
        duration: Option<Dur>,
        /// Open model: most requests in flight at once (default 64). When all are busy, due
        /// requests wait; their latency still counts from when they were due (corrected for
        /// coordinated omission).
        #[serde(default)]
        connections: Option<u32>,
        #[serde(default)]
        expect: LoadExpect,
        /// Stop early when a gate on this load's tasks is clearly breached (after `grace`, with
        /// at least `min_samples`): `{ gate = "error_rate < 50%", grace = "500ms", min_samples = 20 }`.
        #[serde(default)]
        abort_on_breach: Option<super::abort::AbortOnBreach>,
    },
    /// Adds or clears fault rules mid-scenario (a phase change).
    Faults {
        #[serde(default)]
        clear: bool,
        #[serde(default)]
        add: Vec<FaultRule>,
    },
    /// Polls a condition until it holds or the deadline passes.
    WaitUntil {
        condition: Condition,
        deadline: Dur,
    },
    Sleep {
        duration: Dur,
    },
    /// Restarts (redeploys) the gateway gatedrill runs, embedded or `cmd:`, on the same address,
    /// with its variables changed: the playbooks' "redeploy" (runbook A step 3, runbook C step
    /// 2). Waits until `/ready` answers 200 again.
    GatewayRestart {
        /// Variables to set, e.g. `AGENT_ORCHESTRATION_ENABLED = "true"`.
        #[serde(default)]
        set: std::collections::BTreeMap<String, String>,
        /// Providers to remove from every `AI_*_MODEL_CHAIN` (an unhealthy provider dropped).
        #[serde(default)]
        remove_from_chains: Vec<String>,
    },
    /// Makes the embedded reference gateway's session store fail (runbook B step 5): writes
    /// refused, the store read-only, or every store call slow; `none` repairs it.
    StoreFault {
        fault: StoreFaultKind,
        /// How slow each store call is (`slow` only).
        #[serde(default)]
        delay: Option<Dur>,
    },
    /// Polls the runbook's probes (health, a dry-run per critical role, runtime health, the
    /// active sessions, and orchestrate when asked) every `every` for `duration`, and decides
    /// each degraded rule over the whole series. Durations are runbook time, turned into drill
    /// time by the scenario's `time_scale`.
    Watch {
        duration: Dur,
        every: Dur,
        /// The rules to decide (default: every runbook rule; `orchestrate_503` only with
        /// `orchestrate`).
        #[serde(default)]
        rules: Vec<crate::watch::RuleSpec>,
        /// Probe orchestration each round (the session it opens is closed at once).
        #[serde(default)]
        orchestrate: bool,
        #[serde(default)]
        expect: WatchExpect,
    },
}

pub use crate::gateway::faults::StoreFaultKind;

/// The rules a watch expects to trip; every other rule it decides must stay clear.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchExpect {
    #[serde(default)]
    pub tripped: Vec<crate::watch::RuleId>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthExpect {
    #[serde(default)]
    pub health: Option<HealthState>,
    #[serde(default)]
    pub roles_blocked: Option<u64>,
    #[serde(default)]
    pub providers_cooling_down: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunExpect {
    #[serde(default)]
    pub failed: Option<bool>,
    #[serde(default)]
    pub fallback_used: Option<bool>,
    #[serde(default)]
    pub served_by: Option<String>,
    /// Codes of the failed attempts, in order (the runbook's `AI_PROVIDER_*` codes, or a
    /// gateway's own).
    #[serde(default)]
    pub attempt_codes: Option<Vec<ReportedCode>>,
    /// Cost above which the answer breaches the drill's budget (cost-spike drills expect it).
    #[serde(default)]
    pub cost_usd_above: Option<f64>,
}

/// What a chat completion must show. Who served it and how many attempts each provider saw come
/// A gateway's client API a `chat` step speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatApi {
    /// `POST /v1/chat/completions`: a finish reason, and for a stream `[DONE]`.
    #[default]
    Openai,
    /// `POST /v1/messages`: a `stop_reason`, and for a stream `message_stop`.
    Anthropic,
}

/// from the providers' journal, never from the gateway's headers.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatExpect {
    /// The HTTP status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// A whole answer: a finish reason, and for a stream the `[DONE]` terminator.
    #[serde(default)]
    pub complete: Option<bool>,
    /// The provider whose attempt completed for this request.
    #[serde(default)]
    pub served_by: Option<String>,
    /// Attempts each provider saw for this request (providers not named: not checked).
    #[serde(default)]
    pub attempts: Option<std::collections::BTreeMap<String, u64>>,
    /// The whole exchange took less than this.
    #[serde(default)]
    pub latency_under: Option<Dur>,
    /// An error answer carries `Retry-After` (a 429 that says when to come back).
    #[serde(default)]
    pub retry_after: Option<bool>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusExpect {
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub code: Option<String>,
    /// Orchestrate: after a 201, the session's summary shows at least this many events (runbook
    /// C: "session status transitions and events are visible in gateway endpoints").
    #[serde(default)]
    pub session_events_min: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestExpect {
    #[serde(default)]
    pub status: Option<u16>,
    /// The error answer's `error.code` (e.g. `AGENT_GATEWAY_STORE_UNAVAILABLE`).
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub applied: Option<bool>,
    #[serde(default)]
    pub reject_reason: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionsExpect {
    #[serde(default)]
    pub active_min: Option<u64>,
    #[serde(default)]
    pub active_max: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryExpect {
    #[serde(default)]
    pub accepted_min: Option<u64>,
    #[serde(default)]
    pub rejected_min: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub channel: String,
    pub connector: String,
    pub fixture: String,
    #[serde(default = "yes")]
    pub required: bool,
    /// Probe with a stale webhook secret (a rotation the probe did not follow).
    #[serde(default)]
    pub wrong_secret: bool,
    /// This channel is a drill expected to fail with this mode: only then is its failure "drilled
    /// on purpose" and kept out of the launch gate's failed channels. Any other channel's failure
    /// counts, whatever the scenario expects elsewhere.
    #[serde(default)]
    pub expect_failure_mode: Option<crate::classify::FailureMode>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoadAgainst {
    DryRun,
    Orchestrate,
    Ingest,
    /// `POST /v1/chat/completions`, the load's `role` as the model.
    Chat,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadExpect {
    /// Largest share of failed requests (0..=1).
    #[serde(default)]
    pub max_error_rate: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Runtime health reports this value of `summary.health`.
    RuntimeHealth { health: HealthState },
    /// At most this many sessions are `active`.
    ActiveSessionsAtMost { count: u64 },
}

impl std::fmt::Display for Condition {
    /// The condition in the runbook's words, as a person reads it in a check.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::RuntimeHealth { health } => write!(f, "summary.health = {}", crate::wire::id_of(health)),
            Condition::ActiveSessionsAtMost { count } => write!(f, "at most {count} active session(s)"),
        }
    }
}

/// Upper bounds that keep every load loop bounded (README, "Bounds").
pub const MAX_LOAD_COUNT: u64 = 100_000;
/// Requests an open-model load may plan (rate × duration).
pub const MAX_OPEN_REQUESTS: f64 = 10_000_000.0;
pub const MAX_LOAD_DURATION_MS: u64 = 600_000;
pub const MAX_CONCURRENCY: u32 = 512;
pub const MIN_RATE: f64 = 0.01;
pub const MAX_RATE: f64 = 100_000.0;
/// Longest sleep, wait, dry-run timeout or step deadline.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
pub const MAX_PROMPT_REPEAT: u32 = 100_000;
/// Largest prompt a dry-run step builds.
pub const MAX_PROMPT_BYTES: usize = 4 * 1024 * 1024;
pub const MAX_KEEP_RECENT: u64 = 1_000_000;

fn at_most(field: &str, d: &Dur, max: std::time::Duration) -> Result<(), String> {
    if d.0 > max { Err(format!("{field}: {d} is longer than the ceiling of {}", Dur(max))) } else { Ok(()) }
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Health {} => "health",
            Step::Ready { .. } => "ready",
            Step::RuntimeHealth { .. } => "runtime_health",
            Step::Profiles {} => "profiles",
            Step::DryRun { .. } => "dry_run",
            Step::Chat { .. } => "chat",
            Step::Orchestrate { .. } => "orchestrate",
            Step::Ingest { .. } => "ingest",
            Step::SessionsLookup { .. } => "sessions_lookup",
            Step::SessionCompact { .. } => "session_compact",
            Step::SessionStatus {} => "session_status",
            Step::SessionSummary {} => "session_summary",
            Step::SessionClose {} => "session_close",
            Step::Telemetry { .. } => "telemetry",
            Step::ExternalChannelCheck { .. } => "external_channel_check",
            Step::Load { .. } => "load",
            Step::Faults { .. } => "faults",
            Step::WaitUntil { .. } => "wait_until",
            Step::Sleep { .. } => "sleep",
            Step::Watch { .. } => "watch",
            Step::GatewayRestart { .. } => "gateway_restart",
            Step::StoreFault { .. } => "store_fault",
        }
    }

    /// Whether the step only reads (allowed against any target) or puts load or faults on it.
    pub fn is_probe(&self) -> bool {
        !matches!(self, Step::Load { .. } | Step::Faults { .. } | Step::GatewayRestart { .. } | Step::StoreFault { .. })
    }

    /// Acts on the gateway itself (restart, store): needs a target gatedrill runs.
    pub fn controls_gateway(&self) -> bool {
        matches!(self, Step::GatewayRestart { .. } | Step::StoreFault { .. })
    }

    /// The rules a watch step decides, in runbook time.
    pub fn watch_rules(&self) -> Vec<crate::watch::RuleSpec> {
        use crate::watch::{RuleId, RuleSpec};
        let Step::Watch { rules, orchestrate, .. } = self else { return Vec::new() };
        if !rules.is_empty() {
            return rules.clone();
        }
        RuleId::ALL.into_iter().filter(|r| *orchestrate || *r != RuleId::Orchestrate503).map(RuleSpec::of).collect()
    }

    /// Checks a watch step in drill time: bounded duration and rounds, rules named once and
    /// well formed, expectations about rules it decides.
    pub fn validate_watch(&self, scale: f64) -> Result<(), String> {
        let Step::Watch { duration, every, expect, .. } = self else { return Ok(()) };
        let (d, e) = (crate::scenario::scaled(duration.0, scale), crate::scenario::scaled(every.0, scale));
        at_most("duration (in drill time)", &Dur(d), MAX_WAIT)?;
        if e < std::time::Duration::from_millis(5) || e > d {
            return Err(format!("every: {} in drill time must be within 5ms..=duration ({})", Dur(e), Dur(d)));
        }
        if d.as_secs_f64() / e.as_secs_f64() > crate::watch::poll::MAX_ROUNDS as f64 {
            return Err(format!("duration / every is over {} rounds", crate::watch::poll::MAX_ROUNDS));
        }
        let rules = self.watch_rules();
        for (i, r) in rules.iter().enumerate() {
            r.validate()?;
            if rules[..i].iter().any(|o| o.rule == r.rule) {
                return Err(format!("rules: {} is named twice", r.rule.id()));
            }
        }
        for t in &expect.tripped {
            if !rules.iter().any(|r| r.rule == *t) {
                return Err(format!("expect.tripped: {} is not among the rules decided", t.id()));
            }
        }
        Ok(())
    }

    /// Checks a step beyond what its type says (fixtures exist, roles are known, loads bounded).
    pub fn validate(&self, scenario_path: &Path) -> Result<(), String> {
        let role_ok = |r: &str| ["author", "critic", "maker", "judge"].contains(&r);
        let fixture_ok = |f: &str| -> Result<(), String> {
            let p = fixture_path(scenario_path, f)?;
            if p.is_file() { Ok(()) } else { Err(format!("fixture {f:?} not found (looked for {})", p.display())) }
        };
        match self {
            Step::Chat { model, prompt, timeout, expect, .. } => {
                if model.is_empty() || model.len() > 256 {
                    return Err("model: 1 to 256 characters".into());
                }
                if prompt.as_deref().is_some_and(|p| p.len() > MAX_PROMPT_BYTES) {
                    return Err(format!("prompt: over the ceiling of {MAX_PROMPT_BYTES} bytes"));
                }
                if let Some(t) = timeout {
                    at_most("timeout", t, MAX_WAIT)?;
                }
                if let Some(t) = &expect.latency_under {
                    at_most("expect.latency_under", t, MAX_WAIT)?;
                }
                Ok(())
            }
            Step::DryRun { role, prompt, prompt_repeat, timeout, expect } => {
                if !role_ok(role) {
                    return Err(format!("role {role:?} is not one of author, critic, maker, judge"));
                }
                let repeat = prompt_repeat.unwrap_or(1);
                if repeat == 0 || repeat > MAX_PROMPT_REPEAT {
                    return Err(format!("prompt_repeat: {repeat} is not within 1..={MAX_PROMPT_REPEAT}"));
                }
                let len = prompt.as_deref().map_or(48, str::len).max(1);
                if len.saturating_mul(repeat as usize) > MAX_PROMPT_BYTES {
                    return Err(format!(
                        "prompt_repeat: the prompt would be {} bytes, over the ceiling of {MAX_PROMPT_BYTES}",
                        len.saturating_mul(repeat as usize)
                    ));
                }
                if let Some(t) = timeout {
                    at_most("timeout", t, MAX_WAIT)?;
                }
                if expect.cost_usd_above.is_some_and(|c| !c.is_finite()) {
                    return Err("expect.cost_usd_above: must be a finite number".into());
                }
                Ok(())
            }
            Step::Sleep { duration } => at_most("duration", duration, MAX_WAIT),
            Step::StoreFault { fault, delay } => match (fault, delay) {
                (StoreFaultKind::Slow, Some(d)) => at_most("delay", d, std::time::Duration::from_secs(30)),
                (StoreFaultKind::Slow, None) => Err("delay: required for a slow store".into()),
                (_, Some(_)) => Err("delay: applies to a slow store only".into()),
                _ => Ok(()),
            },
            Step::GatewayRestart { set, .. } => match set.keys().find(|k| k.is_empty() || k.contains(['=', '\0'])) {
                Some(k) => Err(format!("set: {k:?} is not a variable name")),
                None => Ok(()),
            },
            Step::WaitUntil { deadline, .. } => at_most("deadline", deadline, MAX_WAIT),
            Step::SessionCompact { keep_recent } if *keep_recent > MAX_KEEP_RECENT => {
                Err(format!("keep_recent: {keep_recent} is over the ceiling of {MAX_KEEP_RECENT}"))
            }
            Step::Ingest { fixture, .. } => fixture_ok(fixture),
            Step::ExternalChannelCheck { channels } => {
                if channels.is_empty() {
                    return Err("channels: at least one channel".into());
                }
                for c in channels {
                    fixture_ok(&c.fixture)?;
                    // The id the payload must resolve to comes from fixtures.toml, written by hand:
                    // without it the fallback cannot be judged.
                    let p = fixture_path(scenario_path, &c.fixture)?;
                    let dir = p.parent().unwrap_or(Path::new("."));
                    let listed = connector_fixtures(dir)?
                        .into_iter()
                        .any(|f| f.file == c.fixture && !f.expected_external_session_id.is_empty());
                    if !listed {
                        return Err(format!(
                            "fixture {:?} has no expected_external_session_id in {}",
                            c.fixture,
                            dir.join("fixtures.toml").display()
                        ));
                    }
                }
                Ok(())
            }
            Step::Load { against, role, concurrency, count, rate, duration, connections, expect, .. } => {
                if connections.is_some_and(|c| c == 0 || c > MAX_CONCURRENCY) {
                    return Err(format!("connections must be 1..={MAX_CONCURRENCY}"));
                }
                // Against chat, `role` is the model the gateway is asked for (any name it serves).
                if *against != LoadAgainst::Chat && role.as_deref().is_some_and(|r| !role_ok(r)) {
                    return Err("role: not one of author, critic, maker, judge".into());
                }
                let closed = concurrency.is_some() || count.is_some();
                let open = rate.is_some() || duration.is_some();
                match (closed, open) {
                    (true, false) if concurrency.is_some() && count.is_some() => {}
                    (false, true) if rate.is_some() && duration.is_some() => {}
                    _ => {
                        return Err(
                            "give either concurrency and count (closed model) or rate and duration (open model)".into(),
                        );
                    }
                }
                if count.is_some_and(|c| c == 0 || c > MAX_LOAD_COUNT)
                    || concurrency.is_some_and(|c| c == 0 || c > MAX_CONCURRENCY)
                {
                    return Err(format!("count must be 1..={MAX_LOAD_COUNT} and concurrency 1..={MAX_CONCURRENCY}"));
                }
                if rate.is_some_and(|r| !(MIN_RATE..=MAX_RATE).contains(&r)) {
                    return Err(format!("rate: must be within {MIN_RATE}..={MAX_RATE} per second"));
                }
                if let Some(d) = duration {
                    at_most("duration", d, std::time::Duration::from_millis(MAX_LOAD_DURATION_MS))?;
                }
                if let (Some(r), Some(d)) = (rate, duration) {
                    let planned = r * d.0.as_secs_f64();
                    if planned < 1.0 {
                        return Err(format!("rate × duration plans {planned:.3} requests: at least one is needed"));
                    }
                    if planned > MAX_OPEN_REQUESTS {
                        return Err(format!("rate × duration plans {planned:.0} requests, over {MAX_OPEN_REQUESTS}"));
                    }
                }
                if expect.max_error_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                    return Err("expect.max_error_rate must be within 0..=1".into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The connector-fixture folder of a scenario: the first `mocks/connectors/` (holding a
/// `fixtures.toml`) found from the scenario's own folder upwards, so a library runs from any
/// working directory; for a scenario kept elsewhere, the working directory's.
pub fn fixtures_dir(scenario_path: &Path) -> Option<std::path::PathBuf> {
    let start = scenario_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let cwd = std::env::current_dir().ok();
    start
        .ancestors()
        .take(4)
        .chain(cwd.as_deref())
        .map(|a| a.join("mocks/connectors"))
        .find(|d| d.join("fixtures.toml").is_file())
}

/// A fixture named in a scenario: a plain file name inside the fixtures folder. Names that could
/// leave it (absolute, `..`, a separator) are refused, so no other file on disk is ever sent to
/// a target or archived.
pub fn fixture_path(scenario_path: &Path, name: &str) -> Result<std::path::PathBuf, String> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.contains('\0')
        && Path::new(name).components().count() == 1;
    if !plain {
        return Err(format!("fixture {name:?}: give a file name inside the fixtures folder (mocks/connectors/)"));
    }
    let dir = fixtures_dir(scenario_path).ok_or_else(|| {
        format!("fixture {name:?}: no mocks/connectors/fixtures.toml found above {}", scenario_path.display())
    })?;
    Ok(dir.join(name))
}

/// One entry of a connector-fixture folder's `fixtures.toml`: a payload file, its channel, and the
/// external session id its shape must resolve to (written by hand, not by the extractor).
#[derive(Clone, Debug, Deserialize)]
pub struct ConnectorFixture {
    pub file: String,
    pub channel: String,
    pub expected_external_session_id: String,
}

#[derive(Deserialize)]
struct FixtureIndex {
    fixture: Vec<ConnectorFixture>,
}

/// The `fixtures.toml` index of a connector-fixture folder.
pub fn connector_fixtures(dir: &Path) -> Result<Vec<ConnectorFixture>, String> {
    let index = dir.join("fixtures.toml");
    let text = std::fs::read_to_string(&index).map_err(|e| format!("{}: {e}", index.display()))?;
    toml::from_str::<FixtureIndex>(&text).map(|i| i.fixture).map_err(|e| format!("{}: {e}", index.display()))
}
