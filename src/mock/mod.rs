//! The mock provider fleet (../shared/WIRE.md): OpenAI, Anthropic and DeepSeek
//! dialects, a scheduled fault catalogue, quotas and an attempt journal, one listener per
//! provider so that one can be taken down while the others serve.
//!
//! Each provider exposes [`router`] for in-process tests and [`serve`] for a socket the caller
//! bound; [`ProviderFleet`] starts a whole configuration on loopback ports and is what the
//! runner uses.

pub mod answer;
pub mod assemble;
pub mod attempt;
pub mod cache;
pub mod config;
pub mod control;
pub mod dialect;
pub mod faults;
pub mod handler;
pub mod journal;
pub mod listener;
pub mod quota;
pub mod resident;
pub mod schedule;
pub mod state;
pub mod stream;
pub mod tokens;
pub mod tools;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use config::{Dialect, FleetConfig, ProviderSpec};
use faults::FaultRule;
use journal::AttemptRecord;
use schedule::{RuleBookError, RuleReceipt};
pub use state::Provider;

/// The HTTP routes of one provider: its dialect's API, the models list, the control API.
pub fn router(p: Arc<Provider>) -> Router {
    let api = match p.spec.dialect {
        Dialect::Openai => Router::new()
            .route("/v1/chat/completions", post(handler::chat))
            .route("/v1/responses", post(handler::responses))
            .route("/v1/embeddings", post(handler::embeddings))
            .route("/v1/models", get(handler::models)),
        Dialect::Anthropic => Router::new()
            .route("/v1/messages", post(handler::chat))
            .route("/v1/messages/count_tokens", post(handler::count_tokens))
            .route("/v1/models", get(handler::models)),
        Dialect::Deepseek => Router::new()
            .route("/chat/completions", post(handler::chat))
            .route("/v1/chat/completions", post(handler::chat))
            .route("/models", get(handler::models))
            .route("/v1/models", get(handler::models)),
    };
    let panics = p.harness_errors.clone();
    let routes = api
        .route("/_gatedrill/health", get(control::health))
        .route("/_gatedrill/faults", get(control::list_faults).post(control::add_faults).delete(control::clear_faults))
        .route("/_gatedrill/reset", post(control::reset))
        .route("/_gatedrill/journal", get(control::journal))
        .route("/_gatedrill/latency", get(control::latency))
        .fallback(handler::no_route)
        .with_state(p);
    crate::guard::catch_panics(routes, panics)
}

/// Serves one provider on a listener the caller bound, until `shutdown` fires.
pub async fn serve(listener: TcpListener, p: Arc<Provider>, shutdown: CancellationToken) {
    let r = router(p.clone());
    listener::serve(listener, p, r, shutdown).await;
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("provider {provider}: cannot bind {addr}: {source}")]
    Bind { provider: String, addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Rules(String),
}

/// How to start a fleet.
pub struct FleetOptions {
    pub config: FleetConfig,
    pub rules: Vec<FaultRule>,
    pub seed: u64,
    pub bind_host: IpAddr,
    pub journal_capacity: usize,
}

impl FleetOptions {
    pub fn new(config: FleetConfig) -> Self {
        FleetOptions {
            config,
            rules: Vec::new(),
            seed: 0,
            bind_host: IpAddr::from([127, 0, 0, 1]),
            journal_capacity: 10_000,
        }
    }
}

/// Where a started provider listens.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderEndpoint {
    pub provider: String,
    pub dialect: Dialect,
    pub url: String,
}

/// A running fleet. Dropping it without [`ProviderFleet::shutdown`] still stops the listeners.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use gatedrill::mock::config::FleetConfig;
/// use gatedrill::mock::faults::FaultSet;
/// use gatedrill::mock::{FleetOptions, ProviderFleet};
///
/// // Arrange: the embedded fleet, with OpenAI answering its first request with 429.
/// let fleet = ProviderFleet::start(FleetOptions::new(FleetConfig::embedded())).await.unwrap();
/// let rules: FaultSet = serde_json::from_str(
///     r#"{"rules": [{"id": "once", "fault": {"kind": "rate_limit", "retry_after": "1s"},
///                    "match": {"provider": "openai"}, "times": 1}]}"#,
/// ).unwrap();
/// fleet.add_rules(rules.rules).unwrap();
///
/// // Act: two identical requests.
/// let url = format!("{}/v1/chat/completions", fleet.url("openai").unwrap());
/// let body = serde_json::json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]});
/// let client = gatedrill::tls::builder().build().unwrap();
/// for _ in 0..2 {
///     client.post(&url).bearer_auth("sk-gatedrill-openai-0001").json(&body).send().await.unwrap();
/// }
///
/// // Assert: the journal saw the fault, then a success with a measured retry gap.
/// let journal = fleet.journal();
/// assert_eq!((journal[0].status, journal[1].status), (Some(429), Some(200)));
/// assert_eq!(journal[0].faults[0].rule, "once");
/// assert!(journal[1].gap_since_same_body_ms.is_some());
/// fleet.shutdown().await;
/// # }
/// ```
pub struct ProviderFleet {
    started: Instant,
    providers: Vec<(ProviderEndpoint, Arc<Provider>)>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl ProviderFleet {
    /// Binds every provider (its configured port, or an ephemeral one) and starts serving.
    pub async fn start(opts: FleetOptions) -> Result<Self, FleetError> {
        // Loading the BPE tables takes a moment; do it now, not inside a drill's first request
        // (whose timeout may be milliseconds).
        let used: Vec<config::Tokenizer> =
            opts.config.providers.iter().flat_map(|p| p.models.iter().map(|m| m.tokenizer)).collect();
        let _ = tokio::task::spawn_blocking(move || tokens::warm_up(used)).await;
        Self::start_with(opts, router).await
    }

    /// Binds every provider and serves each with the routes `routes` gives it: the mocks'
    /// own [`router`], or the fault proxy's, which shares the providers' state, rule books,
    /// journals and control API.
    pub async fn start_with(opts: FleetOptions, routes: impl Fn(Arc<Provider>) -> Router) -> Result<Self, FleetError> {
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let mut providers = Vec::new();
        let mut listeners = Vec::new();
        for spec in &opts.config.providers {
            let addr = SocketAddr::new(opts.bind_host, spec.port);
            let listener = TcpListener::bind(addr).await.map_err(|source| FleetError::Bind {
                provider: spec.name.clone(),
                addr,
                source,
            })?;
            let local = listener.local_addr().map_err(|source| FleetError::Bind {
                provider: spec.name.clone(),
                addr,
                source,
            })?;
            let p =
                Arc::new(Provider::new(spec.clone(), opts.seed, start, opts.journal_capacity, shutdown.child_token()));
            let endpoint =
                ProviderEndpoint { provider: spec.name.clone(), dialect: spec.dialect, url: format!("http://{local}") };
            providers.push((endpoint, p));
            listeners.push(listener);
        }
        let fleet_rules = opts.rules;
        let mut tasks = JoinSet::new();
        let mut fleet = ProviderFleet { started: start, providers, shutdown, tasks: JoinSet::new() };
        fleet.add_rules(fleet_rules).map_err(|e| FleetError::Rules(e.to_string()))?;
        for ((_, p), listener) in fleet.providers.iter().zip(listeners) {
            let r = routes(p.clone());
            tasks.spawn(listener::serve(listener, p.clone(), r, fleet.shutdown.clone()));
        }
        fleet.tasks = tasks;
        Ok(fleet)
    }

    /// Milliseconds since the fleet started: the clock of journal offsets and fault windows.
    pub fn elapsed_ms(&self) -> f64 {
        journal::ms(self.started.elapsed())
    }

    pub fn endpoints(&self) -> Vec<ProviderEndpoint> {
        self.providers.iter().map(|(e, _)| e.clone()).collect()
    }

    /// Base URL of a provider by name.
    pub fn url(&self, name: &str) -> Option<&str> {
        self.providers.iter().find(|(e, _)| e.provider == name).map(|(e, _)| e.url.as_str())
    }

    pub fn provider(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.iter().find(|(e, _)| e.provider == name).map(|(_, p)| p)
    }

    pub fn spec(&self, name: &str) -> Option<&ProviderSpec> {
        self.provider(name).map(|p| &p.spec)
    }

    /// Adds rules: a rule naming a provider goes to it, a rule naming none goes to every one.
    pub fn add_rules(&self, rules: Vec<FaultRule>) -> Result<(), RuleBookError> {
        if let Some(r) =
            rules.iter().find(|r| r.matcher.provider.as_deref().is_some_and(|n| self.provider(n).is_none()))
        {
            return Err(RuleBookError::WrongProvider {
                rule: r.id.clone(),
                named: r.matcher.provider.clone().unwrap_or_default(),
            });
        }
        for (_, p) in &self.providers {
            let mine: Vec<FaultRule> = rules
                .iter()
                .filter(|r| r.matcher.provider.as_deref().is_none_or(|n| n == p.spec.name))
                .cloned()
                .collect();
            if !mine.is_empty() {
                p.add_rules(mine)?;
            }
        }
        Ok(())
    }

    pub fn clear_rules(&self) {
        for (_, p) in &self.providers {
            p.clear_rules();
        }
    }

    /// Every provider's journal, merged in arrival order.
    pub fn journal(&self) -> Vec<AttemptRecord> {
        let mut all: Vec<AttemptRecord> =
            self.providers.iter().flat_map(|(_, p)| p.journal.page(0, usize::MAX).records).collect();
        all.sort_by(|a, b| a.t_offset_ms.total_cmp(&b.t_offset_ms).then_with(|| a.provider.cmp(&b.provider)));
        all
    }

    /// Each provider's latency histograms as it saw them: (provider, attempt, ttft, itl).
    pub fn latency(&self) -> Vec<(String, crate::metrics::Hist, crate::metrics::Hist, crate::metrics::Hist)> {
        self.providers
            .iter()
            .map(|(e, p)| p.with_latency(|l| (e.provider.clone(), l.attempt.clone(), l.ttft.clone(), l.itl.clone())))
            .collect()
    }

    /// Every provider's rules with their receipts.
    /// Records the journals' rings let go of (the journal is complete when this is 0).
    pub fn journal_dropped(&self) -> u64 {
        self.providers.iter().map(|(_, p)| p.journal.page(u64::MAX, 0).dropped).sum()
    }

    /// Handler panics caught across the fleet (harness errors).
    pub fn harness_errors(&self) -> u64 {
        self.providers.iter().map(|(_, p)| p.harness_errors.load(std::sync::atomic::Ordering::Relaxed)).sum()
    }

    pub fn receipts(&self) -> Vec<(String, RuleReceipt)> {
        self.providers
            .iter()
            .flat_map(|(e, p)| p.rules.receipts().into_iter().map(|r| (e.provider.clone(), r)))
            .collect()
    }

    /// A token that fires when the fleet shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, lets connections drain (bounded), and waits for the listeners.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for ProviderFleet {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
