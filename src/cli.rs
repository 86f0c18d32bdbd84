//! Command-line surface. Raw arguments become a validated configuration before anything runs
//! (ripgrep's layering), and `run` lives in the library so tests call it in-process (oha's).
//! `main.rs` only parses and maps the outcome to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;
use crate::mock::config::FleetConfig;
pub use crate::serve::shutdown_signal;
use crate::serve::{GatewayCommand, MockCommand, ProxyArgs, gateway_serve, mock_serve, proxy_serve};

#[derive(Debug, Parser)]
#[command(name = "gatedrill", version, about = "Release-gate and chaos drill harness for AI agent gateways")]
pub struct Cli {
    /// Print only failing and inconclusive scenarios and the final line (and errors).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every check; -vv also turns on debug logs (GATEDRILL_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The console summary: a table, or the launch-gate summary as JSON.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How much the console says.
#[derive(Clone, Copy, Debug)]
pub struct Console {
    pub quiet: bool,
    pub verbose: u8,
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios (files or folders) against a gateway and judge it.
    Run(RunArgs),
    /// Watch a live gateway through a release window: the runbook's probes in rounds, its
    /// degraded rules at their real durations, the record written as it goes.
    Watch(crate::watch::command::WatchArgs),
    /// Parse and check scenario files; every problem with file, line and column.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Name, tags, playbook and description of each scenario.
    List {
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (or, with --trace, of trace.json).
    Schema {
        /// The schema of `<scenario>/trace.json` instead.
        #[arg(long)]
        trace: bool,
    },
    /// Re-render the summaries, JUnit and drill evidence of a finished run from its traces.
    Report {
        /// A run's output folder (the `--out` of `gatedrill run`).
        dir: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions { shell: clap_complete::Shell },
    /// Merge runs sharded across machines: traces, interval logs and summaries.
    Merge {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged run goes.
        #[arg(long)]
        out: PathBuf,
        /// Merge even when shards are missing; the result is marked partial and incomplete.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Mock LLM providers (OpenAI, Anthropic, DeepSeek) with scheduled faults.
    Mock {
        #[command(subcommand)]
        command: MockCommand,
    },
    /// A fault proxy in front of real providers: the mocks' faults, journal and control API on
    /// what passes through; prints one JSON line per provider, as `mock serve` does.
    Proxy(ProxyArgs),
    /// The reference agent gateway, configured from the runbook's environment variables.
    Gateway {
        #[command(subcommand)]
        command: GatewayCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// `embedded` (the reference gateway), a URL, or cmd:"COMMAND" (your gateway, spawned).
    #[arg(long, default_value = "embedded")]
    pub target: crate::drill::target::TargetSpec,
    /// Seed for the mocks' draws (overrides each scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where run outputs go.
    #[arg(long, default_value = "artifacts")]
    pub out: PathBuf,
    /// Only scenarios with this tag (repeatable: any of them).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Allow load and fault steps against a non-loopback URL.
    #[arg(long)]
    pub allow_load: bool,
    /// Launch-gate mode: keep state between runs and apply the runbook's hard-stop rule
    /// (required channels failing in more than one consecutive strict run: exit 3).
    #[arg(long)]
    pub strict: bool,
    /// The strict runs' state file (default: <out>/release/launch-gate-state.json).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// The gateway under test's version: a git commit or `<algorithm>:<hex>` (an image digest)
    /// makes it the subject of the run's attestation; any other text is recorded as stated.
    #[arg(long, env = "GATEDRILL_GATEWAY_VERSION")]
    pub gateway_version: Option<String>,
    /// An earlier run's --out folder: relative gates (`... <= baseline * 1.2`) compare with the
    /// same scenario there (only if it passed), and every gate reports its delta. A folder that
    /// does not exist leaves relative gates inconclusive.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Progress bars on stderr: auto shows them when stderr is a terminal.
    #[arg(long, value_enum, default_value_t = crate::drill::progress::ProgressMode::Auto)]
    pub progress: crate::drill::progress::ProgressMode,
    /// Run only shard K of N (counted from 1) of the selected scenarios; `gatedrill merge`
    /// joins the N outputs and checks none is missing.
    #[arg(long)]
    pub shard: Option<crate::drill::shard::Shard>,
    /// Send only segment K of N of every load step: N machines together send the whole load
    /// (each request once, at its scheduled time); `gatedrill merge` re-decides the gates.
    #[arg(long, conflicts_with = "shard")]
    pub segment: Option<crate::drill::shard::Shard>,
    /// Wait until this UTC time (RFC 3339, e.g. 2026-12-01T03:00:00Z) before the first scenario,
    /// so the segments' windows line up. At most 24 hours ahead.
    #[arg(long, value_parser = parse_start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// A fleet already running (`gatedrill mock serve` or `gatedrill proxy`): NAME=URL,... or a
    /// file of the lines it printed. Each scenario resets it, loads its faults and reads its
    /// journal back, so fault scenarios run against a gateway at a URL whose providers point at it.
    #[arg(long, value_parser = crate::drill::fleet::FleetSpec::parse)]
    pub fleet: Option<crate::drill::fleet::FleetSpec>,
    /// What a gateway at a URL is configured with (KEY=VALUE lines, as `gatedrill gateway env`
    /// prints): a fault scenario whose assumptions it does not meet is skipped with the reason.
    #[arg(long)]
    pub target_env: Option<PathBuf>,
    /// A target profile (TOML): the API the gateway speaks, its readiness path, the header of its
    /// clients' key, and a configuration template for `cmd:`.
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

fn parse_start_at(s: &str) -> Result<std::time::SystemTime, String> {
    let at = humantime::parse_rfc3339_weak(s).map_err(|e| format!("--start-at {s:?}: {e} (expected RFC 3339 UTC)"))?;
    let ahead = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    if ahead > std::time::Duration::from_secs(24 * 3600) {
        return Err(format!("--start-at {s:?} is more than 24 hours ahead"));
    }
    Ok(at)
}

/// Writes to stdout; a closed pipe (`gatedrill list | head -1`) ends the output quietly instead
/// of panicking.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

macro_rules! say {
    ($($arg:tt)*) => { emit(&format!("{}\n", format_args!($($arg)*))) };
}

/// A user-facing failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl std::fmt::Display) -> Self {
        Failure { exit: Exit::Usage, message: message.to_string() }
    }
}

/// Runs a parsed command line to completion.
pub async fn run(cli: Cli) -> Result<Exit, Failure> {
    let console = Console { quiet: cli.quiet, verbose: cli.verbose, format: cli.format };
    match cli.command {
        Command::Run(args) => run_scenarios(args, console).await,
        Command::Watch(args) => crate::watch::command::run(args, run_id(None)).await.map_err(Failure::usage),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gatedrill", &mut script);
            emit(&String::from_utf8_lossy(&script));
            Ok(Exit::Pass)
        }
        Command::Validate { paths } => {
            let loaded = load_all(&paths)?;
            say!("{} scenario(s) valid", loaded.len());
            Ok(Exit::Pass)
        }
        Command::List { paths } => {
            for l in load_all(&paths)? {
                let s = &l.scenario;
                let playbook = crate::drill::runner::id(&s.playbook);
                say!("{:<38} {:<22} [{}] {}", s.name, playbook, s.tags.join(","), s.description);
            }
            Ok(Exit::Pass)
        }
        Command::Schema { trace } => {
            emit(&if trace { crate::report::trace_schema_json() } else { crate::scenario::schema_json() });
            Ok(Exit::Pass)
        }
        Command::Report { dir } => {
            let (meta, reports) = crate::report::load_run(&dir).map_err(Failure::usage)?;
            let secrets = crate::secret::Secrets::default();
            let summary =
                crate::report::write_derived(&dir, &meta, &reports, None, &secrets).map_err(Failure::usage)?;
            print_console(console, &reports, &meta, &summary);
            if console.format == Format::Text {
                say!("re-rendered {} scenario trace(s) in {}", reports.len(), dir.display());
            }
            attest(&dir, &meta, &reports, &summary, &secrets)
        }
        Command::Merge { dirs, out, allow_partial } => {
            let (meta, reports) = crate::report::merge::merge(&dirs, &out, allow_partial).map_err(Failure::usage)?;
            let secrets = crate::secret::Secrets::default();
            crate::report::write_traces(&out, &meta, &reports, &secrets).map_err(Failure::usage)?;
            let summary =
                crate::report::write_derived(&out, &meta, &reports, None, &secrets).map_err(Failure::usage)?;
            print_console(console, &reports, &meta, &summary);
            if console.format == Format::Text {
                say!("merged {} run(s), {} scenario(s) into {}", dirs.len(), reports.len(), out.display());
            }
            if !meta.missing_parts.is_empty() {
                eprintln!(
                    "gatedrill merge: PARTIAL: {} missing; the result is marked incomplete",
                    meta.missing_parts.join(", ")
                );
            }
            attest(&out, &meta, &reports, &summary, &secrets)
        }
        Command::Mock { command: MockCommand::Serve(args) } => mock_serve(args.validate()?).await,
        Command::Gateway { command: GatewayCommand::Serve(args) } => gateway_serve(args).await,
        Command::Gateway { command: GatewayCommand::Env { fleet, config } } => {
            let config = match &config {
                Some(path) => FleetConfig::load(path).map_err(Failure::usage)?,
                None => FleetConfig::embedded(),
            };
            emit(&crate::drill::needs::env_lines(&fleet, &config).map_err(Failure::usage)?);
            Ok(Exit::Pass)
        }
        Command::Proxy(args) => proxy_serve(args.validate()?).await,
    }
}

/// Loads every scenario under `paths`, reporting every problem (not only the first).
fn load_all(paths: &[PathBuf]) -> Result<Vec<crate::scenario::Loaded>, Failure> {
    let files = crate::scenario::discover(paths).map_err(Failure::usage)?;
    if files.is_empty() {
        return Err(Failure::usage(format!("no scenario files under {paths:?}")));
    }
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        match crate::scenario::check(&f) {
            Ok(l) => loaded.push(l),
            Err(all) => problems.extend(all.iter().map(ToString::to_string)),
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for l in &loaded {
        if !names.insert(l.scenario.name.clone()) {
            problems.push(format!("{}: name {:?} is used by another scenario", l.path.display(), l.scenario.name));
        }
    }
    if problems.is_empty() { Ok(loaded) } else { Err(Failure::usage(problems.join("\n"))) }
}

/// The console summary of a finished run: the table (`--quiet`: failures only; `--verbose`:
/// every check), or the launch-gate summary as JSON.
fn print_console(
    console: Console,
    reports: &[crate::drill::runner::ScenarioReport],
    meta: &crate::report::RunMeta,
    summary: &crate::report::launch_gate::Summary,
) {
    let text = match console.format {
        Format::Json => serde_json::to_string_pretty(summary).unwrap_or_default() + "\n",
        Format::Text => {
            let detail = if console.quiet {
                crate::drill::summary::Detail::Failures
            } else if console.verbose > 0 {
                crate::drill::summary::Detail::Checks
            } else {
                crate::drill::summary::Detail::Scenarios
            };
            crate::drill::summary::render(reports, &meta.target, detail)
        }
    };
    emit(&text);
}

/// The exit code a finished (or re-rendered) run maps to.
fn verdict(
    meta: &crate::report::RunMeta,
    reports: &[crate::drill::runner::ScenarioReport],
    summary: &crate::report::launch_gate::Summary,
) -> Exit {
    if !meta.missing_parts.is_empty() {
        // A partial merge: the missing shards' drills did not happen, so the run did not pass.
        Exit::GateFailed
    } else if meta.incomplete {
        Exit::Interrupted
    } else if meta.shard.is_some() && reports.is_empty() {
        // This shard owns none of the selected scenarios; the merge of all shards decides.
        Exit::Pass
    } else if summary.hard_stop.as_ref().is_some_and(|h| h.paused) {
        Exit::HardStop
    } else if reports.iter().all(|r| r.verdict() == crate::drill::runner::ScenarioVerdict::Skip) {
        // Nothing ran: a drill that did not happen did not pass.
        Exit::GateFailed
    } else if reports.iter().any(|r| r.verdict() == crate::drill::runner::ScenarioVerdict::Fail) {
        Exit::GateFailed
    } else if reports.iter().any(|r| r.verdict() == crate::drill::runner::ScenarioVerdict::Inconclusive) {
        // Neither pass nor fail: a person decides (its own code, never 1 or 3).
        Exit::Inconclusive
    } else {
        Exit::Pass
    }
}

/// The exit code of a finished run, with its attestation written beside its artifacts (or why
/// none could be).
fn attest(
    out: &std::path::Path,
    meta: &crate::report::RunMeta,
    reports: &[crate::drill::runner::ScenarioReport],
    summary: &crate::report::launch_gate::Summary,
    secrets: &crate::secret::Secrets,
) -> Result<Exit, Failure> {
    let exit = verdict(meta, reports, summary);
    if let Err(why) = crate::report::attest::write(out, meta, reports, exit, secrets).map_err(Failure::usage)? {
        eprintln!("gatedrill: no attestation written: {why}");
    }
    Ok(exit)
}

/// Checks that `--out` can be written before anything runs, so a run never ends with nothing
/// written.
fn check_writable(out: &std::path::Path) -> Result<(), Failure> {
    let probe = out.join(".gatedrill-write-probe");
    std::fs::create_dir_all(out)
        .and_then(|_| crate::report::write_atomic(&probe, b"probe"))
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| Failure::usage(format!("{}: --out is not writable: {e}", out.display())))
}

/// Required launch-gate channels the selected scenarios plan.
fn planned_required(loaded: &[crate::scenario::Loaded]) -> usize {
    loaded
        .iter()
        .flat_map(|l| &l.scenario.steps)
        .map(|s| match s {
            crate::scenario::Step::ExternalChannelCheck { channels } => channels.iter().filter(|c| c.required).count(),
            _ => 0,
        })
        .sum()
}

fn run_id(seed: Option<u64>) -> String {
    let now = std::time::SystemTime::now();
    let nanos = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let stamp = humantime::format_rfc3339_seconds(now).to_string().replace([':', '-'], "");
    format!("{}-{:06x}", stamp.trim_end_matches('Z'), crate::rng::mix(nanos ^ seed.unwrap_or(0)) & 0xff_ffff)
}

async fn run_scenarios(args: RunArgs, console: Console) -> Result<Exit, Failure> {
    let mut loaded = load_all(&args.paths)?;
    if !args.tags.is_empty() {
        loaded.retain(|l| l.scenario.tags.iter().any(|t| args.tags.contains(t)));
        if loaded.is_empty() {
            return Err(Failure::usage(format!(
                "no scenario has the tag(s) {}: nothing would run",
                args.tags.join(", ")
            )));
        }
    }
    if args.strict && (args.shard.is_some() || args.segment.is_some()) {
        // The hard-stop state counts whole strict runs: a shard that passed would reset the count
        // another shard's failures just raised, and a rollout the runbook pauses would go on.
        return Err(Failure::usage(
            "--strict cannot be split with --shard or --segment: the launch gate's hard-stop state counts whole runs",
        ));
    }
    let selected: Vec<String> = loaded.iter().map(|l| l.scenario.name.clone()).collect();
    if let Some(shard) = args.shard {
        loaded.retain(|l| shard.owns(&l.scenario.name));
        if console.format == Format::Text && !console.quiet {
            say!("shard {shard}: {} of the {} selected scenario(s)", loaded.len(), selected.len());
        }
    }
    check_writable(&args.out)?;
    let declared = match &args.target_env {
        Some(path) => Some(crate::drill::needs::read_declared(path).map_err(Failure::usage)?),
        None => None,
    };
    let profile = match &args.profile {
        Some(path) => crate::drill::profile::TargetProfile::load(path).map_err(Failure::usage)?,
        None => crate::drill::profile::TargetProfile::default(),
    };
    let baseline = match &args.baseline {
        Some(dir) => {
            let b = crate::report::baseline::Baseline::load(dir).map_err(Failure::usage)?;
            if b.is_none() {
                eprintln!("gatedrill: --baseline {}: no such folder; relative gates are inconclusive", dir.display());
            }
            b.map(std::sync::Arc::new)
        }
        None => None,
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let opts = crate::drill::runner::RunOptions {
        target: args.target.clone(),
        seed: args.seed,
        out: args.out.clone(),
        allow_load: args.allow_load,
        cancel: cancel.clone(),
        secrets: std::sync::Arc::new(std::sync::Mutex::new(crate::secret::Secrets::new(args.target.secrets()))),
        progress: if console.format == Format::Json || console.quiet {
            crate::drill::progress::Progress::hidden()
        } else {
            crate::drill::progress::Progress::new(args.progress)
        },
        segment: args.segment,
        baseline: baseline.clone(),
        fleet: args.fleet.clone(),
        declared,
        profile: std::sync::Arc::new(profile),
    };
    // The first Ctrl-C or SIGTERM stops the run between steps and still writes what was
    // gathered; a second one, a second or more later, exits at once. One interrupt delivered
    // twice (coreutils `timeout` signals the child, then its group) is one interrupt.
    let watcher = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            shutdown_signal().await;
            let first = std::time::Instant::now();
            eprintln!(
                "gatedrill: interrupted; finishing the step in flight and writing what was gathered (again to quit now)"
            );
            cancel.cancel();
            loop {
                shutdown_signal().await;
                if first.elapsed() >= std::time::Duration::from_secs(1) {
                    std::process::exit(Exit::Interrupted as i32);
                }
            }
        }
    });
    if let Some(at) = args.start_at {
        // Aligned starts: every segment's windows begin together. Ctrl-C still ends the wait.
        let wait = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => {}
        }
    }
    let meta_start = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let id = run_id(args.seed);
    let mut reports = Vec::new();
    for l in &loaded {
        if cancel.is_cancelled() {
            break;
        }
        let mut r = crate::drill::runner::run_scenario(l, &opts).await;
        r.run_id = id.clone();
        reports.push(r);
    }
    watcher.abort();
    opts.progress.done();
    let interrupted = cancel.is_cancelled();
    let meta = crate::report::RunMeta {
        run_id: id,
        seed: args.seed,
        target: opts.target.describe(),
        version: env!("CARGO_PKG_VERSION").into(),
        commit: tokio::task::spawn_blocking(crate::report::commit).await.ok().flatten(),
        started_at: meta_start,
        finished_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        incomplete: interrupted,
        strict: args.strict,
        merged_from: Vec::new(),
        gateway_version: args.gateway_version.clone().filter(|v| !v.trim().is_empty()),
        ci_run_url: crate::report::ci_run_url(),
        baseline_run_id: baseline.as_ref().map(|b| b.run_id.clone()),
        scenarios: reports.iter().map(|r| r.name.clone()).collect(),
        shard: args.shard,
        segment: args.segment,
        selected: if args.shard.is_some() || args.segment.is_some() { selected } else { Vec::new() },
        missing_parts: Vec::new(),
    };
    let secrets = opts.secrets.lock().map(|s| s.clone()).unwrap_or_default();
    let reports = reports
        .iter()
        .map(|r| crate::report::redact::report(r, &secrets))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    crate::report::write_traces(&args.out, &meta, &reports, &secrets).map_err(Failure::usage)?;
    // The hard-stop state changes only with runs that planned required channels: a strict run
    // that checked none is no evidence of a clean launch gate, and never resets the count.
    let strict = args.strict && !interrupted;
    if strict && planned_required(&loaded) == 0 {
        eprintln!(
            "gatedrill: --strict, but no selected scenario checks a required channel: the hard-stop state is unchanged"
        );
    }
    let hard_stop = if strict && planned_required(&loaded) > 0 {
        let (failed, _) = crate::report::launch_gate::failed_channels(&reports);
        let required: Vec<String> = failed
            .iter()
            .filter(|f| f.required)
            .map(|f| format!("{}:{}:{}", f.channel, f.connector_id, f.failure_mode.id()))
            .collect();
        let path = args.state.clone().unwrap_or_else(|| args.out.join("release/launch-gate-state.json"));
        Some(crate::report::state::apply(&path, &meta.target, &meta.run_id, &required).map_err(Failure::usage)?)
    } else {
        None
    };
    let summary = crate::report::write_derived(&args.out, &meta, &reports, hard_stop.as_ref(), &secrets)
        .map_err(Failure::usage)?;
    print_console(console, &reports, &meta, &summary);
    if console.format == Format::Text && !console.quiet {
        say!("artifacts: {}", args.out.display());
    }
    let exit = attest(&args.out, &meta, &reports, &summary, &secrets)?;
    if let Some(h) = hard_stop.as_ref().filter(|h| h.paused) {
        eprintln!("gatedrill: HARD STOP: {}", h.action);
    }
    if interrupted {
        eprintln!(
            "gatedrill: interrupted; {} of {} scenario(s) ran; artifacts are marked incomplete",
            reports.len(),
            loaded.len()
        );
    }
    Ok(exit)
}

/// Parses the process arguments, runs, and maps the result to an exit code.
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Exit::Usage.into() } else { Exit::Pass.into() };
        }
    };
    // In a drill the reference gateway is the system under test: the errors it logs are what
    // the drill provoked (a store made to fail) and are judged from its answers, so its own log
    // shows only with -v. Served alone (`gateway serve`) it logs as a service does.
    let drill = matches!(cli.command, Command::Run(_));
    init_tracing(cli.quiet, cli.verbose, drill);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatedrill: cannot start the async runtime: {e}");
            return Exit::Usage.into();
        }
    };
    match rt.block_on(run(cli)) {
        Ok(exit) => exit.into(),
        Err(f) => {
            eprintln!("gatedrill: {}", f.message);
            f.exit.into()
        }
    }
}

fn init_tracing(quiet: bool, verbose: u8, drill: bool) {
    let level = match (quiet, verbose) {
        (true, _) if drill => "error,gatedrill::gateway=off",
        (true, _) => "error",
        (false, 0) if drill => "warn,gatedrill::gateway=off",
        (false, 0) => "warn",
        (false, 1) => "gatedrill=info,warn",
        // gatedrill's own decisions, not the HTTP libraries' internals (GATEDRILL_LOG for those).
        _ => "gatedrill=debug,warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| crate::drill::progress::LogWriter).try_init();
}
