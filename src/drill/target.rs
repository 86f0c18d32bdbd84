//! The gateway under test: the embedded reference gateway (default), a running gateway at a URL,
//! or the user's own process (`cmd:"..."`) spawned with the mocks' endpoints in its environment.
//! Secrets for the embedded and spawned gateways are generated per run; for a URL they come from
//! the environment (`ADMIN_API_TOKEN`, `AGENT_GATEWAY_WEBHOOK_SECRET`), never from files or
//! arguments.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::drill::exchange::{Auth, Exchanger};
use crate::drill::fleet::Fleet;
use crate::drill::profile::{ConfigText, TargetApi, TargetProfile};
use crate::gateway::config::GatewayConfig;
use crate::gateway::{GatewayHandle, StoreSpec};
use crate::secret::{Redacted, Secrets};

/// How the user named the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    Embedded,
    Url(String),
    Command(String),
}

impl std::str::FromStr for TargetSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "embedded" {
            Ok(TargetSpec::Embedded)
        } else if let Some(cmd) = s.strip_prefix("cmd:") {
            // `cmd:"COMMAND"`: surrounding quotes are the form's when the command has no other.
            let cmd = cmd.trim();
            let cmd =
                cmd.strip_prefix('"').and_then(|c| c.strip_suffix('"')).filter(|c| !c.contains('"')).unwrap_or(cmd);
            if cmd.is_empty() { Err("cmd: needs a command".into()) } else { Ok(TargetSpec::Command(cmd.to_string())) }
        } else if s.starts_with("http://") || s.starts_with("https://") {
            let u = reqwest::Url::parse(s).map_err(|_| "the target URL does not parse".to_string())?;
            if u.query().is_some() || u.fragment().is_some() {
                return Err("the target URL must not have a query or fragment".into());
            }
            Ok(TargetSpec::Url(s.trim_end_matches('/').to_string()))
        } else {
            Err(format!("{s:?}: expected `embedded`, a http(s) URL, or cmd:\"COMMAND\""))
        }
    }
}

impl TargetSpec {
    /// Whether a target runs against this run's mocks (faults and journals mean something).
    pub fn uses_mocks(&self) -> bool {
        !matches!(self, TargetSpec::Url(_))
    }

    /// Secrets the target's name itself carries (a URL's userinfo, and its Basic form).
    pub fn secrets(&self) -> Vec<String> {
        let TargetSpec::Url(u) = self else { return Vec::new() };
        let Ok(url) = reqwest::Url::parse(u) else { return vec![u.clone()] };
        let mut out = Vec::new();
        if let Some(p) = url.password() {
            out.push(p.to_string());
            out.push(format!("{}:{p}", url.username()));
        }
        out
    }

    /// How artifacts name the target: a URL without its userinfo.
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Embedded => "embedded".into(),
            TargetSpec::Url(u) => match reqwest::Url::parse(u) {
                Ok(mut url) => {
                    let _ = url.set_username("");
                    let _ = url.set_password(None);
                    url.as_str().trim_end_matches('/').to_string()
                }
                Err(_) => "a URL".into(),
            },
            TargetSpec::Command(c) => format!("cmd:{c}"),
        }
    }
}

/// A target that is up.
pub struct Running {
    pub base_url: String,
    pub admin_token: Redacted,
    pub webhook_secret: Option<Redacted>,
    /// The gateway's provider cooldown, when gatedrill configured it.
    pub cooldown_ms: Option<f64>,
    /// Load may run against it (loopback, or allowed explicitly).
    pub load_allowed: bool,
    /// Every secret this target was given or configured with.
    pub secrets: Secrets,
    pub(super) embedded: Option<GatewayHandle>,
    child: Option<tokio::process::Child>,
    pub stderr_path: Option<PathBuf>,
    stderr_log: Option<tokio::task::JoinHandle<()>>,
    /// The variables the gateway was started with (embedded and `cmd:`), for a restart.
    pub(super) env: BTreeMap<String, String>,
    /// The command of a spawned gateway.
    pub(super) command: Option<String>,
    /// Where the embedded gateway keeps sessions.
    pub(super) store: StoreSpec,
    /// Handler panics of embedded gateways a restart replaced.
    pub(super) prior_harness_errors: u64,
    /// How the target is reached (readiness path, client key header, API).
    pub profile: TargetProfile,
    /// The private folder of a rendered configuration file, removed at stop.
    config_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("gateway configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Start(String),
}

fn random_secret(label: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let a = crate::rng::mix(nanos ^ crate::rng::fnv1a(label.as_bytes()) ^ u64::from(std::process::id()));
    format!("gd-{label}-{a:016x}{:016x}", crate::rng::mix(a))
}

/// The environment gatedrill gives a gateway it configures: mock endpoints and keys, compressed
/// timeouts, per-run secrets, then the scenario's own variables (with `{{mock.<p>.url}}`).
pub fn gateway_env(fleet: &Fleet, scenario_env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    // Per-run secrets, unless the environment names them (so a user can check, with values they
    // know, that no artifact carries them).
    let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    set("ADMIN_API_TOKEN", from_env("ADMIN_API_TOKEN").unwrap_or_else(|| random_secret("admin")));
    set(
        "AGENT_GATEWAY_WEBHOOK_SECRET",
        from_env("AGENT_GATEWAY_WEBHOOK_SECRET").unwrap_or_else(|| random_secret("webhook")),
    );
    set("AGENT_ORCHESTRATION_ENABLED", "true".into());
    set("AI_PROVIDER_COOLDOWN_MS", "200".into());
    set("AI_PROVIDER_TIMEOUT_MS", "1000".into());
    set("AI_RUNTIME_FAILOVER_BUDGET_MS", "5000".into());
    set(
        "AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES",
        r#"{"telegram_main":"telegram","slack_main":"slack","discord_main":"discord","gatedrill_load":"telegram"}"#
            .into(),
    );
    let mut chain = Vec::new();
    for e in fleet.endpoints() {
        let Some(spec) = fleet.spec(&e.provider) else { continue };
        let up = e.provider.to_ascii_uppercase().replace('-', "_");
        let model = spec.models.first().map(|m| m.id.clone()).unwrap_or_default();
        set(&format!("AI_RUNTIME_{up}_ENDPOINT"), e.url.clone());
        set(&format!("AI_RUNTIME_{up}_API_KEY"), spec.api_keys.first().cloned().unwrap_or_default());
        set(&format!("AI_RUNTIME_{up}_MODEL"), model.clone());
        set(&format!("AI_RUNTIME_{up}_DIALECT"), spec.dialect.id().into());
        chain.push(format!("{}:{model}", e.provider));
    }
    for role in ["AUTHOR", "CRITIC", "MAKER", "JUDGE"] {
        set(&format!("AI_{role}_MODEL_CHAIN"), chain.join(","));
    }
    for (k, v) in scenario_env {
        let mut value = v.clone();
        for e in fleet.endpoints() {
            value = value.replace(&format!("{{{{mock.{}.url}}}}", e.provider), &e.url);
        }
        env.insert(k.clone(), value);
    }
    env
}

fn is_loopback(url: &str) -> bool {
    reqwest::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).is_some_and(|h| {
        h == "localhost" || h.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    })
}

pub(super) async fn wait_ready(url: &str, path: &str, deadline: Duration) -> bool {
    let ex = Exchanger::new(url, Redacted::default(), None, Duration::from_millis(500));
    let now = tokio::time::Instant::now();
    let until = now.checked_add(deadline).unwrap_or(now);
    while tokio::time::Instant::now() < until {
        if ex.send(reqwest::Method::GET, path, None, Auth::None).await.is_success() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The secrets of a gateway gatedrill configures: its admin token and webhook secret, and the
/// mocks' keys it was given.
pub(super) fn configured_secrets(env: &BTreeMap<String, String>, fleet: &Fleet) -> Secrets {
    let mut s = Secrets::default();
    for k in ["ADMIN_API_TOKEN", "AGENT_GATEWAY_WEBHOOK_SECRET"] {
        s.add(env.get(k).map_or("", String::as_str));
    }
    for e in fleet.endpoints() {
        for key in fleet.spec(&e.provider).into_iter().flat_map(|p| &p.api_keys) {
            s.add(key);
        }
    }
    s
}

/// Copies a spawned gateway's stderr to its log, line by line, with every secret masked; lines
/// and the whole log are bounded.
fn redact_stderr(stderr: tokio::process::ChildStderr, path: PathBuf, secrets: Secrets) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    const LINE_CAP: usize = 64 * 1024;
    const LOG_CAP: u64 = 16 * 1024 * 1024;
    tokio::spawn(async move {
        // Appended: a restarted gateway's lines follow the first one's.
        let Ok(mut file) = tokio::fs::OpenOptions::new().create(true).append(true).open(&path).await else { return };
        let mut reader = tokio::io::BufReader::new(stderr);
        let mut line = Vec::new();
        let mut written = 0u64;
        loop {
            line.clear();
            let mut limited = (&mut reader).take(LINE_CAP as u64);
            match limited.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if written >= LOG_CAP {
                continue;
            }
            let text = secrets.redact(&String::from_utf8_lossy(&line));
            written += text.len() as u64;
            if file.write_all(text.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = file.flush().await;
    })
}

/// How the run reaches its target, beyond its name.
pub struct Reach<'a> {
    pub profile: &'a TargetProfile,
    /// A URL target's declared configuration (`--target-env`).
    pub declared: Option<&'a BTreeMap<String, String>>,
    pub allow_load: bool,
}

/// Starts (or reaches) the target for one scenario.
pub async fn start(
    spec: &TargetSpec,
    fleet: Option<&Fleet>,
    setup: &crate::scenario::GatewaySetup,
    reach: &Reach<'_>,
    work_dir: &std::path::Path,
) -> Result<Running, TargetError> {
    let allow_load = reach.allow_load;
    let scenario_env = &setup.env;
    match spec {
        TargetSpec::Embedded => {
            let fleet =
                fleet.ok_or_else(|| TargetError::Start("the embedded gateway needs this run's mocks".into()))?;
            let env = gateway_env(fleet, scenario_env);
            let config = GatewayConfig::from_vars(&env).map_err(|e| TargetError::Config(e.to_string()))?;
            let cooldown_ms = Some(config.cooldown.as_secs_f64() * 1000.0);
            let secrets = configured_secrets(&env, fleet);
            let (admin, secret) = (config.admin_token.clone(), config.webhook_secret.clone());
            let store = match setup.store {
                crate::scenario::GatewayStore::Memory => StoreSpec::Memory,
                crate::scenario::GatewayStore::Sqlite => {
                    std::fs::create_dir_all(work_dir)
                        .map_err(|e| TargetError::Start(format!("{}: {e}", work_dir.display())))?;
                    let file = work_dir.join("sessions.sqlite");
                    // A fresh store per run: sessions of an earlier run are not this drill's.
                    for f in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{f}", file.display()));
                    }
                    StoreSpec::Sqlite(file)
                }
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let handle =
                crate::gateway::start(config, &store, addr).await.map_err(|e| TargetError::Start(e.to_string()))?;
            Ok(Running {
                base_url: handle.url.clone(),
                admin_token: admin,
                webhook_secret: secret,
                cooldown_ms,
                load_allowed: true,
                secrets,
                embedded: Some(handle),
                child: None,
                stderr_path: None,
                stderr_log: None,
                env,
                command: None,
                store,
                prior_harness_errors: 0,
                profile: reach.profile.clone(),
                config_dir: None,
            })
        }
        TargetSpec::Url(url) => {
            let key_env = &reach.profile.auth.env;
            let admin = std::env::var(key_env).unwrap_or_default();
            // The runbook's admin API needs its token; a provider-API gateway may take no key.
            if admin.is_empty() && reach.profile.api == TargetApi::Runbook {
                return Err(TargetError::Config(format!(
                    "{key_env} must be set in the environment to drive a gateway at a URL"
                )));
            }
            let secret = std::env::var("AGENT_GATEWAY_WEBHOOK_SECRET").ok().filter(|s| !s.is_empty()).map(Redacted);
            let mut secrets = Secrets::new(spec.secrets());
            if let Some(fleet) = fleet {
                secrets.extend(&configured_secrets(&BTreeMap::new(), fleet));
            }
            secrets.add(&admin);
            secrets.add(secret.as_ref().map_or("", |s| s.0.as_str()));
            Ok(Running {
                base_url: url.clone(),
                admin_token: Redacted(admin),
                webhook_secret: secret,
                // What the gateway is declared to be configured with, for the conduct rules.
                cooldown_ms: reach
                    .declared
                    .and_then(|d| d.get("AI_PROVIDER_COOLDOWN_MS"))
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0),
                load_allowed: is_loopback(url) || allow_load,
                secrets,
                embedded: None,
                child: None,
                stderr_path: None,
                stderr_log: None,
                env: BTreeMap::new(),
                command: None,
                store: StoreSpec::Memory,
                prior_harness_errors: 0,
                profile: reach.profile.clone(),
                config_dir: None,
            })
        }
        TargetSpec::Command(cmd) => {
            let fleet = fleet.ok_or_else(|| TargetError::Start("a spawned gateway needs this run's mocks".into()))?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| TargetError::Start(e.to_string()))?
                .port();
            let mut env = gateway_env(fleet, scenario_env);
            env.insert("GATEDRILL_GATEWAY_PORT".into(), port.to_string());
            let url = format!("http://127.0.0.1:{port}");
            env.insert("GATEDRILL_GATEWAY_URL".into(), url.clone());
            let cooldown_ms = env.get("AI_PROVIDER_COOLDOWN_MS").and_then(|v| v.parse::<f64>().ok());
            let prefix = &reach.profile.auth.key_prefix;
            let admin = Redacted(format!("{prefix}{}", env.get("ADMIN_API_TOKEN").map_or("", String::as_str)));
            // A profile's key variable carries the same per-run key.
            env.insert("ADMIN_API_TOKEN".into(), admin.0.clone());
            env.insert(reach.profile.auth.env.clone(), admin.0.clone());

            let secret = env.get("AGENT_GATEWAY_WEBHOOK_SECRET").cloned().map(Redacted);
            let secrets = configured_secrets(&env, fleet);
            std::fs::create_dir_all(work_dir)
                .map_err(|e| TargetError::Start(format!("{}: {e}", work_dir.display())))?;
            let config_dir = match &reach.profile.template {
                Some(t) => {
                    let (dir, file) = render_config(t, fleet, port)?;
                    env.insert(t.env.clone(), file.display().to_string());
                    Some(dir)
                }
                None => None,
            };
            let stderr_path = work_dir.join("gateway.stderr.log");
            let _ = std::fs::remove_file(&stderr_path);
            let mut running = Running {
                base_url: url,
                admin_token: admin,
                webhook_secret: secret,
                cooldown_ms,
                load_allowed: true,
                secrets,
                embedded: None,
                child: None,
                stderr_path: Some(stderr_path),
                stderr_log: None,
                env,
                command: Some(cmd.clone()),
                store: StoreSpec::Memory,
                prior_harness_errors: 0,
                profile: reach.profile.clone(),
                config_dir,
            };
            if let Err(problem) = running.spawn().await {
                running.stop().await;
                return Err(problem);
            }
            Ok(running)
        }
    }
}

impl Running {
    /// Spawns the gateway command with the current variables and waits until it answers
    /// `/ready` (its stderr appended, redacted, to the log).
    pub(super) async fn spawn(&mut self) -> Result<(), TargetError> {
        let (Some(cmd), Some(log_path)) = (self.command.clone(), self.stderr_path.clone()) else {
            return Err(TargetError::Start("not a spawned gateway".into()));
        };
        let url = self.base_url.clone();
        let (path, within) = (self.profile.ready_path.clone(), self.profile.ready_within);
        let mut command = tokio::process::Command::new("sh");
        command.arg("-c").arg(&cmd).envs(&self.env).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        // Its own process group, so stopping it reaches what the shell started, not only the shell.
        #[cfg(unix)]
        command.process_group(0);
        let mut child =
            command.kill_on_drop(true).spawn().map_err(|e| TargetError::Start(format!("cannot spawn {cmd:?}: {e}")))?;
        self.stderr_log = child.stderr.take().map(|e| redact_stderr(e, log_path, self.secrets.clone()));
        self.child = Some(child);
        let child = self.child.as_mut();
        let exited = async {
            match child {
                Some(c) => c.wait().await.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            ready = wait_ready(&url, &path, within) => if ready { None } else {
                Some(format!(
                    "{cmd:?} did not answer GET {url}{path} within {} (it must listen on $GATEDRILL_GATEWAY_PORT)",
                    crate::duration::Dur(within)
                ))
            },
            status = exited => Some(format!("{cmd:?} exited ({status}) before answering GET {url}{path}")),
        };
        outcome.map_or(Ok(()), |p| Err(TargetError::Start(p)))
    }
}

impl Running {
    /// Handler panics the embedded gateway caught (a harness error).
    pub fn harness_errors(&self) -> u64 {
        self.prior_harness_errors
            + self.embedded.as_ref().map_or(0, |h| h.gateway.harness_errors.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub async fn stop(&mut self) {
        if let Some(h) = self.embedded.take() {
            h.shutdown().await;
        }
        if let Some(mut c) = self.child.take() {
            // SIGTERM to the whole group first (a graceful stop), SIGKILL after 5 s.
            let group = c.id().map(|pid| pid as i32);
            signal_group(group, Signal::Term);
            if tokio::time::timeout(Duration::from_secs(5), c.wait()).await.is_err() {
                signal_group(group, Signal::Kill);
                let _ = c.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
            }
            // The shell may be gone while something it started lingers: end the group.
            signal_group(group, Signal::Kill);
        }
        if let Some(log) = self.stderr_log.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), log).await;
        }
    }
}

enum Signal {
    Term,
    Kill,
}

/// Signals every process in the group a spawned gateway leads.
fn signal_group(group: Option<i32>, signal: Signal) {
    #[cfg(unix)]
    if let Some(pgid) = group.filter(|p| *p > 0) {
        let sig = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: kill(2) with a negative pid signals a process group; it touches no memory.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
    #[cfg(not(unix))]
    let _ = (group, signal);
}

impl Drop for Running {
    /// The rendered configuration outlives restarts of the gateway, not the run.
    fn drop(&mut self) {
        if let Some(dir) = self.config_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Renders a profile's configuration template into a private folder (the file may hold the
/// mocks' keys, so it never goes to the artifacts): (folder, file).
fn render_config(t: &ConfigText, fleet: &Fleet, port: u16) -> Result<(PathBuf, PathBuf), TargetError> {
    let lookup = |name: &str, field: &str| {
        let e = fleet.endpoints().into_iter().find(|e| e.provider == name)?;
        let spec = fleet.spec(name)?;
        match field {
            "url" => Some(e.url),
            "key" => spec.api_keys.first().cloned(),
            "model" => spec.models.first().map(|m| m.id.clone()),
            "dialect" => Some(spec.dialect.id().to_string()),
            _ => None,
        }
    };
    let text = crate::drill::profile::render(&t.text, &lookup, port).map_err(TargetError::Config)?;
    let dir = std::env::temp_dir().join(random_secret("config"));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(|e| TargetError::Start(format!("{}: {e}", dir.display())))?;
    let file = dir.join(&t.file_name);
    if let Err(e) = std::fs::write(&file, text) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(TargetError::Start(format!("{}: {e}", file.display())));
    }
    Ok((dir, file))
}
