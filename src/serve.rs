//! The long-running commands (DESIGN.md, "Mock providers" and "Reference gateway"): `mock
//! serve`, `proxy` and `gateway serve` start, announce themselves on stdout as one JSON line per
//! listener, and serve until Ctrl-C or SIGTERM. Their options are checked before anything binds.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Subcommand;

use crate::cli::{Failure, emit};
use crate::exit::Exit;
use crate::mock::config::FleetConfig;
use crate::mock::faults::{FaultRule, FaultSet};
use crate::mock::{FleetOptions, ProviderFleet};

#[derive(Debug, Subcommand)]
pub enum GatewayCommand {
    /// Serve the gateway until Ctrl-C or SIGTERM; prints one JSON line with its URL.
    Serve(GatewayServeArgs),
    /// Print the configuration a drill assumes of a gateway using a fleet (KEY='VALUE' lines,
    /// without the admin token and webhook secret): give it to your gateway, and to `run
    /// --target-env`.
    Env {
        /// The fleet, as for `run --fleet`.
        #[arg(long, value_parser = crate::drill::fleet::FleetSpec::parse)]
        fleet: crate::drill::fleet::FleetSpec,
        /// Provider configuration (TOML); the embedded one when absent.
        #[arg(long)]
        config: Option<PathBuf>,
    },
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

#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Upstreams as NAME=URL (NAME one of openai, anthropic, deepseek) or NAME:DIALECT=URL;
    /// comma-separated or repeated.
    #[arg(long = "upstream", required = true)]
    pub upstreams: Vec<String>,
    /// Longest wait for an upstream's headers, and longest gap inside its answer.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "600s")]
    pub upstream_timeout: std::time::Duration,
    /// Fault files, seed, bind host and journal as for `mock serve`; `--config` gives the model
    /// table (context windows, quotas) the proxy's own fault answers quote.
    #[command(flatten)]
    pub fleet: MockServeArgs,
}

impl ProxyArgs {
    /// Checks every upstream and fault file, so nothing starts on bad input.
    pub fn validate(self) -> Result<crate::proxy::ProxyOptions, Failure> {
        let upstreams = crate::proxy::parse_upstreams(&self.upstreams).map_err(Failure::usage)?;
        if self.upstream_timeout.is_zero() || self.upstream_timeout > crate::mock::listener::HANG_CAP {
            return Err(Failure::usage("--upstream-timeout: must be more than 0s and at most 10m"));
        }
        let fleet = self.fleet.validate()?.options;
        crate::proxy::check_rules(&fleet.rules).map_err(Failure::usage)?;
        let mut options = crate::proxy::ProxyOptions::new(upstreams);
        options.models = fleet.config;
        options.rules = fleet.rules;
        options.seed = fleet.seed;
        options.bind_host = fleet.bind_host;
        options.journal_capacity = fleet.journal_capacity;
        options.bounds.timeout = self.upstream_timeout;
        Ok(options)
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

pub async fn gateway_serve(args: GatewayServeArgs) -> Result<Exit, Failure> {
    // Invalid configuration fails fast, naming the variable (runbook: "fails fast on API startup").
    let config = crate::gateway::config::GatewayConfig::from_env().map_err(Failure::usage)?;
    let handle = crate::gateway::start(config, &args.store, args.bind).await.map_err(Failure::usage)?;
    emit(&format!("{}\n", serde_json::json!({"gateway": handle.url})));
    let interrupted = shutdown_signal().await;
    handle.shutdown().await;
    Ok(if interrupted { Exit::Interrupted } else { Exit::Pass })
}

pub async fn mock_serve(cmd: MockServe) -> Result<Exit, Failure> {
    let fleet = ProviderFleet::start(cmd.options).await.map_err(Failure::usage)?;
    serve_fleet(fleet).await
}

pub async fn proxy_serve(options: crate::proxy::ProxyOptions) -> Result<Exit, Failure> {
    serve_fleet(crate::proxy::start(options).await.map_err(Failure::usage)?).await
}

/// Announces a started fleet (mocks or proxy), one JSON line per provider, and serves it until
/// Ctrl-C or SIGTERM.
async fn serve_fleet(fleet: ProviderFleet) -> Result<Exit, Failure> {
    for e in fleet.endpoints() {
        emit(&format!("{}\n", serde_json::to_string(&e).unwrap_or_default()));
    }
    // Started: the start-up's code and the BPE source data are not needed resident any more.
    crate::mock::resident::release_startup_pages();
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
