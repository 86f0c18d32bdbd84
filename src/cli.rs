//! Command-line surface. Raw arguments become a validated configuration before anything runs
//! (ripgrep's layering), and `run` lives in the library so tests call it in-process (oha's).
//! `main.rs` only parses and maps the outcome to an exit code.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit::Exit;
use crate::mock::config::FleetConfig;
use crate::mock::faults::{FaultRule, FaultSet};
use crate::mock::{FleetOptions, ProviderFleet};

#[derive(Debug, Parser)]
#[command(name = "gatedrill", version, about = "Release-gate and chaos drill harness for AI agent gateways")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios (files or folders) against a gateway and judge it.
    Run(RunArgs),
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
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Mock LLM providers (OpenAI, Anthropic, DeepSeek) with scheduled faults.
    Mock {
        #[command(subcommand)]
        command: MockCommand,
    },
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
}

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Serve the gateway until Ctrl-C or SIGTERM; prints one JSON line with its URL.
    Serve(GatewayServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct GatewayServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Session store: `memory` or `sqlite:PATH`.
    #[arg(long, default_value = "memory")]
    pub store: crate::gateway::StoreSpec,
}

#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// Serve the provider fleet until Ctrl-C or SIGTERM; prints one JSON line per provider.
    Serve(MockServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MockServeArgs {
    /// Provider configuration (TOML); the embedded mocks/providers.toml when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Fault rule files (TOML or JSON) loaded at start; may be repeated.
    #[arg(long = "faults")]
    pub faults: Vec<PathBuf>,
    /// Seed for every random draw (fault probabilities, jitter, replies).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Address to bind each provider's listener on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind_host: IpAddr,
    /// Attempts kept per provider journal (a ring; older records are counted as dropped).
    #[arg(long, default_value_t = 10_000)]
    pub journal_capacity: usize,
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

/// Validated options of `mock serve`.
pub struct MockServe {
    pub options: FleetOptions,
}

impl MockServeArgs {
    /// Loads and checks every file named, so nothing starts on bad input.
    pub fn validate(self) -> Result<MockServe, Failure> {
        let config = match &self.config {
            Some(path) => FleetConfig::load(path).map_err(Failure::usage)?,
            None => FleetConfig::embedded(),
        };
        let mut rules: Vec<FaultRule> = Vec::new();
        for path in &self.faults {
            let set: FaultSet = crate::input::load_file(path).map_err(Failure::usage)?;
            rules.extend(set.rules);
        }
        let mut options = FleetOptions::new(config);
        options.rules = rules;
        options.seed = self.seed;
        options.bind_host = self.bind_host;
        options.journal_capacity = self.journal_capacity;
        Ok(MockServe { options })
    }
}

/// Runs a parsed command line to completion.
pub async fn run(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Command::Run(args) => run_scenarios(args).await,
        Command::Validate { paths } => {
            let loaded = load_all(&paths)?;
            println!("{} scenario(s) valid", loaded.len());
            Ok(Exit::Pass)
        }
        Command::List { paths } => {
            for l in load_all(&paths)? {
                let s = &l.scenario;
                let playbook = crate::drill::runner::id(&s.playbook);
                println!("{:<38} {:<22} [{}] {}", s.name, playbook, s.tags.join(","), s.description);
            }
            Ok(Exit::Pass)
        }
        Command::Schema => {
            print!("{}", crate::scenario::schema_json());
            Ok(Exit::Pass)
        }
        Command::Mock { command: MockCommand::Serve(args) } => mock_serve(args.validate()?).await,
        Command::Gateway { command: GatewayCommand::Serve(args) } => gateway_serve(args).await,
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
        match crate::scenario::load(&f) {
            Ok(l) => loaded.push(l),
            Err(e) => problems.push(e.to_string()),
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

async fn run_scenarios(args: RunArgs) -> Result<Exit, Failure> {
    let mut loaded = load_all(&args.paths)?;
    if !args.tags.is_empty() {
        loaded.retain(|l| l.scenario.tags.iter().any(|t| args.tags.contains(t)));
    }
    let opts = crate::drill::runner::RunOptions {
        target: args.target.clone(),
        seed: args.seed,
        out: args.out.clone(),
        allow_load: args.allow_load,
    };
    let mut reports = Vec::new();
    let interrupted = tokio::select! {
        _ = async {
            for l in &loaded {
                reports.push(crate::drill::runner::run_scenario(l, &opts).await);
            }
        } => false,
        _ = shutdown_signal() => true,
    };
    print!("{}", crate::drill::summary::render(&reports, &opts.target.describe()));
    if interrupted {
        eprintln!("gatedrill: interrupted; {} of {} scenario(s) finished", reports.len(), loaded.len());
        return Ok(Exit::Interrupted);
    }
    Ok(if reports.iter().all(|r| r.passed) { Exit::Pass } else { Exit::GateFailed })
}

async fn gateway_serve(args: GatewayServeArgs) -> Result<Exit, Failure> {
    // Invalid configuration fails fast, naming the variable (runbook: "fails fast on API startup").
    let config = crate::gateway::config::GatewayConfig::from_env().map_err(Failure::usage)?;
    let handle = crate::gateway::start(config, &args.store, args.bind).await.map_err(Failure::usage)?;
    println!("{}", serde_json::json!({"gateway": handle.url}));
    let interrupted = shutdown_signal().await;
    handle.shutdown().await;
    Ok(if interrupted { Exit::Interrupted } else { Exit::Pass })
}

async fn mock_serve(cmd: MockServe) -> Result<Exit, Failure> {
    let fleet = ProviderFleet::start(cmd.options).await.map_err(Failure::usage)?;
    for e in fleet.endpoints() {
        println!("{}", serde_json::to_string(&e).unwrap_or_default());
    }
    let interrupted = shutdown_signal().await;
    fleet.shutdown().await;
    Ok(if interrupted { Exit::Interrupted } else { Exit::Pass })
}

/// Waits for Ctrl-C or SIGTERM. Returns true for Ctrl-C (an interruption), false for SIGTERM
/// (an orderly stop asked by a supervisor).
pub async fn shutdown_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => true,
                _ = term.recv() => false,
            },
            Err(_) => tokio::signal::ctrl_c().await.is_ok(),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
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
    init_tracing();
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
