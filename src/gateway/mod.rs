//! The reference agent gateway: the runbook's API (seed 001) with role model chains, failover,
//! cooldowns, sessions and ingest connectors, so gatedrill runs out of the box and users can
//! compare their gateway with one that behaves well.
//!
//! [`router`] serves in-process tests, [`serve`] a listener the caller bound, and [`start`]
//! binds loopback and returns a handle with the URL, as the runner uses it.

pub mod api;
pub mod api_sessions;
pub mod client;
pub mod config;
pub mod cooldown;
pub mod faults;
pub mod ingest;
pub mod openai_compat;
pub mod runtime;
pub mod sessions;
pub mod sqlite;
pub mod telemetry;
pub mod tools;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use config::GatewayConfig;
use runtime::Runtime;
use sessions::{MemoryStore, SessionStore, StoreError};
use telemetry::IngestTelemetry;

/// The gateway's shared state.
pub struct Gateway {
    pub config: Arc<GatewayConfig>,
    pub runtime: Runtime,
    pub store: Arc<dyn SessionStore>,
    /// The store's fault switch (drills only; `None` in service).
    pub store_faults: Arc<faults::StoreFaults>,
    pub telemetry: IngestTelemetry,
    /// Handler panics caught (`crate::guard`).
    pub harness_errors: Arc<std::sync::atomic::AtomicU64>,
}

impl Gateway {
    pub fn new(config: GatewayConfig, store: Arc<dyn SessionStore>) -> Self {
        let config = Arc::new(config);
        let store_faults = Arc::new(faults::StoreFaults::default());
        Gateway {
            runtime: Runtime::new(config.clone()),
            config,
            store: Arc::new(faults::FaultyStore { inner: store, faults: store_faults.clone() }),
            store_faults,
            telemetry: IngestTelemetry::default(),
            harness_errors: Default::default(),
        }
    }
}

/// Where sessions are kept: `memory` or `sqlite:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    Memory,
    Sqlite(PathBuf),
}

impl std::str::FromStr for StoreSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "memory" => Ok(StoreSpec::Memory),
            _ => match s.strip_prefix("sqlite:") {
                Some(p) if !p.is_empty() => Ok(StoreSpec::Sqlite(PathBuf::from(p))),
                _ => Err(format!("{s:?}: expected `memory` or `sqlite:PATH`")),
            },
        }
    }
}

impl StoreSpec {
    pub fn open(&self) -> Result<Arc<dyn SessionStore>, StoreError> {
        Ok(match self {
            StoreSpec::Memory => Arc::new(MemoryStore::default()),
            StoreSpec::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path)?),
        })
    }
}

/// Every route of the gateway.
pub fn router(gw: Arc<Gateway>) -> Router {
    let admin = Router::new()
        .route("/api/admin/ai-runtime/health", get(api::runtime_health))
        .route("/api/admin/ai-runtime/profiles", get(api::profiles))
        .route("/api/admin/ai-runtime/dry-run", post(api::dry_run))
        .route("/api/admin/agent-gateway/orchestrate", post(api::orchestrate))
        .route("/api/admin/agent-gateway/sessions", get(api_sessions::list))
        .route("/api/admin/agent-gateway/sessions/{id}/status", get(api_sessions::status))
        .route("/api/admin/agent-gateway/sessions/{id}/summary", get(api_sessions::summary))
        .route("/api/admin/agent-gateway/sessions/{id}/compact", post(api_sessions::compact))
        .route("/api/admin/agent-gateway/sessions/{id}/close", post(api_sessions::close))
        .route("/api/admin/agent-gateway/telemetry", get(api::telemetry))
        .route("/api/admin/agent-gateway/adapters", get(api::adapters));
    let routes = Router::new()
        .route("/health", get(api::health))
        .route("/ready", get(api::ready))
        .route("/api/agent-gateway/adapters/ingest", post(api_sessions::ingest))
        .route("/v1/chat/completions", post(openai_compat::chat_completions))
        .merge(admin)
        .fallback(|| async { api::ApiError::new(axum::http::StatusCode::NOT_FOUND, "NOT_FOUND", "no such route") })
        // Before routing: an admin path without a valid token is a 401, routed or not.
        .layer(axum::middleware::from_fn_with_state(gw.clone(), api::require_admin))
        .layer(axum::middleware::from_fn_with_state(gw.clone(), slow_store));
    let panics = gw.harness_errors.clone();
    crate::guard::catch_panics(routes.with_state(gw), panics)
}

/// A slow session store (a drill's `store_fault`) delays every route that touches it.
async fn slow_store(
    axum::extract::State(gw): axum::extract::State<Arc<Gateway>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(d) = gw.store_faults.delay().filter(|_| faults::touches_store(req.uri().path())) {
        tokio::time::sleep(d).await;
    }
    next.run(req).await
}

/// Connections served at once; further ones wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 512;
/// A client must send a request's headers within this long (idle and slow clients let go).
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the gateway on a listener the caller bound until `shutdown` fires: at most
/// [`MAX_CONNECTIONS`] connections, each dropped when its headers do not arrive within
/// [`HEADER_TIMEOUT`] (bodies have `api::BODY_TIMEOUT`).
pub async fn serve(listener: TcpListener, gw: Arc<Gateway>, shutdown: CancellationToken) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let app = router(gw);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    // Out of descriptors and the like: back off rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let app = app.clone();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn).await;
                }
            }
            drop(permit);
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), tracker.wait()).await;
    Ok(())
}

/// A gateway started in-process.
pub struct GatewayHandle {
    pub url: String,
    pub addr: SocketAddr,
    pub gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl GatewayHandle {
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Starts the gateway on `addr` (port 0 for an ephemeral one).
pub async fn start(config: GatewayConfig, store: &StoreSpec, addr: SocketAddr) -> Result<GatewayHandle, StartError> {
    let gw = Arc::new(Gateway::new(config, store.open()?));
    let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, gw.clone(), shutdown.clone()));
    Ok(GatewayHandle { url: format!("http://{addr}"), addr, gateway: gw, shutdown, task })
}
