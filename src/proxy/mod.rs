//! The fault proxy (DESIGN.md "The gateway under test, and where its providers come from"): one
//! reverse-proxy listener per upstream provider, each forwarding to a real endpoint and applying
//! the mocks' fault catalogue, schedules, journal and control API to what passes through. A
//! gateway pointed at the proxy is drilled against its real providers exactly as against the
//! mocks: status faults answered in the upstream's dialect, stream faults applied to the
//! upstream's own stream, connection faults on the client's side.
//!
//! It is a [`ProviderFleet`] whose providers serve the proxy's routes: the state, rule books,
//! journals, receipts, listeners (connection faults) and control API are the mocks' own code.
//! What the proxy cannot do to a real answer (rewrite its content: `truncated_output`,
//! `tool_call_malformed`, `tool_name_split`) is refused when the rule is loaded, never
//! journaled as fired and silently skipped.

pub mod events;
pub mod forward;
pub mod relay;
pub mod upstream;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::mock::config::FleetConfig;
use crate::mock::control;
use crate::mock::faults::{Fault, FaultRule, FaultSet};
use crate::mock::state::Provider;
use crate::mock::{FleetError, FleetOptions, ProviderFleet};
pub use relay::Bounds;
pub use upstream::{Upstream, parse_upstreams};

/// How to start a proxy.
pub struct ProxyOptions {
    pub upstreams: Vec<Upstream>,
    /// Where each proxied provider's model table (context windows, quotas) comes from: the
    /// fleet provider of the same name, else of the same dialect.
    pub models: FleetConfig,
    pub rules: Vec<FaultRule>,
    pub seed: u64,
    pub bind_host: IpAddr,
    pub journal_capacity: usize,
    pub bounds: Bounds,
}

impl ProxyOptions {
    pub fn new(upstreams: Vec<Upstream>) -> Self {
        ProxyOptions {
            upstreams,
            models: FleetConfig::embedded(),
            rules: Vec::new(),
            seed: 0,
            bind_host: IpAddr::from([127, 0, 0, 1]),
            journal_capacity: 10_000,
            bounds: Bounds { timeout: Duration::from_secs(600), max_bytes: 256 * 1024 * 1024 },
        }
    }
}

/// Fault kinds that rewrite a successful answer's content, which the proxy only relays.
pub fn unsupported(f: &Fault) -> bool {
    matches!(f, Fault::TruncatedOutput | Fault::ToolCallMalformed | Fault::ToolNameSplit)
}

/// Refuses rules the proxy cannot apply, naming the first.
pub fn check_rules(rules: &[FaultRule]) -> Result<(), String> {
    match rules.iter().find(|r| unsupported(&r.fault)) {
        Some(r) => Err(format!(
            "rule {:?}: {} rewrites the answer's content, which the fault proxy relays untouched \
             (use the mocks for it)",
            r.id,
            r.fault.kind()
        )),
        None => Ok(()),
    }
}

/// Starts one listener per upstream. Endpoints, journals, rules and shutdown are the fleet's.
pub async fn start(opts: ProxyOptions) -> Result<ProviderFleet, FleetError> {
    check_rules(&opts.rules).map_err(FleetError::Rules)?;
    let models = FleetConfig::embedded();
    let config =
        FleetConfig { providers: opts.upstreams.iter().map(|u| upstream::provider_spec(u, &models)).collect() };
    let client = crate::tls::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(opts.bounds.timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| FleetError::Rules(format!("cannot build the upstream client: {e}")))?;
    let mut fleet = FleetOptions::new(config);
    fleet.rules = opts.rules;
    fleet.seed = opts.seed;
    fleet.bind_host = opts.bind_host;
    fleet.journal_capacity = opts.journal_capacity;
    let (upstreams, bounds) = (opts.upstreams, opts.bounds);
    ProviderFleet::start_with(fleet, move |p| {
        let upstream = upstreams.iter().find(|u| u.name == p.spec.name).cloned();
        let route = upstream.map(|upstream| forward::Route { p: p.clone(), upstream, client: client.clone(), bounds });
        router(p, route.map(Arc::new))
    })
    .await
}

/// A proxy listener's routes: the control API (never faulted, never forwarded), and every
/// other request forwarded.
fn router(p: Arc<Provider>, route: Option<Arc<forward::Route>>) -> Router {
    let panics = p.harness_errors.clone();
    let routes = Router::new()
        .route("/_gatedrill/health", get(control::health))
        .route("/_gatedrill/faults", get(control::list_faults).post(add_faults).delete(control::clear_faults))
        .route("/_gatedrill/reset", post(control::reset))
        .route("/_gatedrill/journal", get(control::journal))
        .route("/_gatedrill/latency", get(control::latency))
        .route("/_gatedrill/{*rest}", any(no_control_route))
        .with_state(p)
        .fallback(move |req: Request| {
            let route = route.clone();
            async move {
                match route {
                    Some(route) => forward::forward(route, req).await,
                    None => control::problem(StatusCode::BAD_GATEWAY, "no_upstream", "no upstream configured".into()),
                }
            }
        });
    crate::guard::catch_panics(routes, panics)
}

/// `POST /_gatedrill/faults`: the mocks' own, after refusing what the proxy cannot apply.
async fn add_faults(State(p): State<Arc<Provider>>, body: Bytes) -> Response {
    if let Ok(set) = serde_json::from_slice::<FaultSet>(&body)
        && let Err(e) = check_rules(&set.rules)
    {
        return control::problem(StatusCode::BAD_REQUEST, "unsupported_fault", e);
    }
    control::add_faults(State(p), body).await
}

async fn no_control_route(req: Request) -> Response {
    control::problem(StatusCode::NOT_FOUND, "no_such_control_route", format!("no control route {}", req.uri().path()))
}
