//! The external-channel check (seed 001, "Release-gate connector diagnostics"): for one channel,
//! send an ingest probe without `externalSessionId`, look the session up through the admin
//! sessions endpoint, compare the resolved external session with the id the payload shape says
//! it must be, and read telemetry for the connector. The observation is classified into exactly
//! one runbook failure mode (or none).
//!
//! Deadlines compose: a channel makes at most three exchanges, each with a third of the channel's
//! budget, so a channel always ends, and is always classified, inside its budget; channels run
//! concurrently. A probe that got no answer in time is `ingest_http_error` with the transport
//! failure in its trace. The trace keeps requests and bounded answers, never a header.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exchange::{Auth, Exchanger, Observed, TracedBody};
use super::observe::Endpoint;
use crate::classify::transport::TransportFailure;
use crate::classify::{ChannelObservation, FailureMode, Probe, classify};
use crate::wire::ingest::IngestProbe;
use crate::wire::paths;

/// What to probe.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelProbe {
    pub connector_id: String,
    pub channel: String,
    pub payload: Value,
    pub expected_external_session_id: String,
    pub required: bool,
    /// Probe with a stale webhook secret (a rotation the probe did not follow).
    pub stale_secret: bool,
    /// The failure this channel is drilled for, if it is a drill.
    pub expect_failure_mode: Option<FailureMode>,
}

/// One exchange, as kept in the trace.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracedRequest {
    pub step: String,
    pub method: String,
    pub path: String,
    pub request_body: Option<Value>,
    pub status: Option<u16>,
    /// Why no complete answer came (`timeout`, `refused`, `too_large`, ...).
    pub transport_failure: Option<TransportFailure>,
    /// The answer did not have the runbook's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    pub response: TracedBody,
    pub latency_ms: f64,
}

/// The result of one channel's check.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTrace {
    pub connector_id: String,
    pub channel: String,
    pub required: bool,
    pub passed: bool,
    pub failure_mode: Option<FailureMode>,
    pub expected_external_session_id: String,
    pub resolved_external_session_id: Option<String>,
    pub requests: Vec<TracedRequest>,
    pub duration_ms: f64,
    /// The failure this channel was drilled for (a failure with exactly this mode is on purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_failure_mode: Option<FailureMode>,
    /// The session the probe opened (from the ingest answer): a probe's own, closed at the end
    /// of the check and never counted among the gateway's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_session_id: Option<String>,
}

impl ChannelTrace {
    /// Failed with exactly the mode it was drilled for.
    pub fn drilled(&self) -> bool {
        self.failure_mode.is_some() && self.failure_mode == self.expect_failure_mode
    }
}

/// A stale secret that no gateway accepts.
const STALE_SECRET: &str = "gatedrill-stale-secret";

fn traced<T: serde::de::DeserializeOwned>(
    step: &str,
    method: &str,
    path: &str,
    request_body: Option<Value>,
    seen: &Observed,
) -> (Probe<T>, TracedRequest) {
    let parsed = seen.parse::<T>();
    let parse_error = match (&parsed, seen.failure) {
        (Err(e), None) => Some(e.message.clone()),
        _ => None,
    };
    let probe = Probe { status: seen.status, failure: seen.failure, answer: parsed.ok() };
    let trace = TracedRequest {
        step: step.into(),
        method: method.into(),
        path: path.into(),
        request_body,
        status: seen.status,
        transport_failure: seen.failure,
        parse_error,
        response: seen.traced(),
        latency_ms: seen.latency.as_secs_f64() * 1000.0,
    };
    (probe, trace)
}

/// Runs the check for one channel within `budget`; every exchange it made is also returned for
/// the scenario's latency series.
pub async fn check_channel(
    target: &Exchanger,
    p: &ChannelProbe,
    budget: Duration,
) -> (ChannelTrace, Vec<(Endpoint, Observed)>) {
    let started = Instant::now();
    let ex = target.with_deadline(budget / 3);
    let mut requests = Vec::new();
    let mut seen_all = Vec::new();
    let mut obs = ChannelObservation {
        connector_id: p.connector_id.clone(),
        channel: p.channel.clone(),
        expected_external_session_id: p.expected_external_session_id.clone(),
        ..Default::default()
    };
    let body = serde_json::to_value(IngestProbe {
        connector_id: p.connector_id.clone(),
        channel: p.channel.clone(),
        payload: p.payload.clone(),
    })
    .unwrap_or_default();
    let auth = Auth::Webhook(p.stale_secret.then_some(STALE_SECRET));
    let seen = ex.send(reqwest::Method::POST, paths::INGEST, Some(&body), auth).await;
    let (probe, tr) = traced("ingest", "POST", paths::INGEST, Some(body), &seen);
    obs.ingest = probe;
    requests.push(tr);
    seen_all.push((Endpoint::Ingest, seen));

    if obs.ingest.is(201) && obs.ingest.answer.as_ref().is_some_and(|a| a.ingest_applied) {
        let seen = ex.send(reqwest::Method::GET, paths::RECENT_SESSIONS, None, Auth::Admin).await;
        let (probe, tr) = traced("sessions_lookup", "GET", paths::RECENT_SESSIONS, None, &seen);
        requests.push(tr);
        seen_all.push((Endpoint::Sessions, seen));
        let looked_up = probe.is(200);
        obs.lookup = Some(probe);
        if looked_up {
            let seen = ex.send(reqwest::Method::GET, paths::TELEMETRY_WINDOW, None, Auth::Admin).await;
            let (probe, tr) = traced("telemetry", "GET", paths::TELEMETRY_WINDOW, None, &seen);
            requests.push(tr);
            seen_all.push((Endpoint::Telemetry, seen));
            obs.telemetry = Some(probe);
        }
    }
    let failure_mode = classify(&obs);
    let trace = ChannelTrace {
        connector_id: p.connector_id.clone(),
        channel: p.channel.clone(),
        required: p.required,
        passed: failure_mode.is_none(),
        failure_mode,
        expected_external_session_id: p.expected_external_session_id.clone(),
        resolved_external_session_id: crate::classify::looked_up_external_id(&obs),
        requests,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        expect_failure_mode: p.expect_failure_mode,
        probe_session_id: obs.ingest.answer.as_ref().and_then(|a| a.session_id.clone()),
    };
    (trace, seen_all)
}

/// A channel whose check could not even be sent (its fixture is missing or unreadable): it is
/// not observed, so it fails as the runbook's catch-all, never as a pass.
pub fn unobserved(spec: &ChannelProbe) -> ChannelTrace {
    ChannelTrace {
        connector_id: spec.connector_id.clone(),
        channel: spec.channel.clone(),
        required: spec.required,
        passed: false,
        failure_mode: Some(FailureMode::Unknown),
        expected_external_session_id: spec.expected_external_session_id.clone(),
        resolved_external_session_id: None,
        requests: Vec::new(),
        duration_ms: 0.0,
        expect_failure_mode: spec.expect_failure_mode,
        probe_session_id: None,
    }
}
