//! The external-channel check (seed 001, "Release-gate connector diagnostics"): for one channel,
//! send an ingest probe without `externalSessionId`, look the session up through the admin
//! sessions endpoint, compare the resolved external session with the id the payload shape says
//! it must be, and read telemetry for the connector. The observation is classified into exactly
//! one runbook failure mode (or none). Every exchange has a deadline, and the trace keeps the
//! requests and responses but never a header, so no token or secret reaches it.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::classify::{ChannelObservation, Exchange, FailureMode, classify};
use crate::secret::Redacted;

/// What to probe.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelProbe {
    pub connector_id: String,
    pub channel: String,
    pub payload: Value,
    pub expected_external_session_id: String,
    pub required: bool,
}

/// Where to probe, with the credentials (which never reach the trace).
#[derive(Clone)]
pub struct ProbeTarget {
    pub base_url: String,
    pub admin_token: Redacted,
    pub webhook_secret: Option<Redacted>,
    pub client: reqwest::Client,
    /// Deadline of each exchange.
    pub deadline: Duration,
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
    pub response_body: Value,
    /// What went wrong when no HTTP answer came (`timeout`, `connect`, ...).
    pub transport_error: Option<String>,
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
    #[serde(skip)]
    #[schemars(skip)]
    pub observation: ChannelObservation,
}

impl ProbeTarget {
    async fn exchange(
        &self,
        step: &'static str,
        req: reqwest::RequestBuilder,
        path: String,
        body: Option<Value>,
    ) -> (Exchange, TracedRequest) {
        let started = Instant::now();
        let sent = tokio::time::timeout(self.deadline, async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, bytes))
        })
        .await;
        let (status, response_body, transport_error) = match sent {
            Ok(Ok((status, bytes))) => (Some(status), serde_json::from_slice(&bytes).unwrap_or(Value::Null), None),
            Ok(Err(e)) => (None, Value::Null, Some(transport_kind(&e))),
            Err(_) => (None, Value::Null, Some("timeout".to_string())),
        };
        let traced = TracedRequest {
            step: step.into(),
            method: if body.is_some() { "POST" } else { "GET" }.into(),
            path,
            request_body: body,
            status,
            response_body: response_body.clone(),
            transport_error,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        (Exchange { status, body: response_body }, traced)
    }
}

/// A transport failure's kind from reqwest's typed predicates and the io error in its chain.
fn transport_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    if let Some(kind) = crate::gateway::client::io_kind(e) {
        return format!("{kind:?}");
    }
    if e.is_connect() { "connect" } else { "request" }.into()
}

/// Runs the check for one channel.
pub async fn check_channel(t: &ProbeTarget, p: &ChannelProbe) -> ChannelTrace {
    let started = Instant::now();
    let base = t.base_url.trim_end_matches('/');
    let mut requests = Vec::new();
    let mut obs = ChannelObservation {
        connector_id: p.connector_id.clone(),
        channel: p.channel.clone(),
        expected_external_session_id: p.expected_external_session_id.clone(),
        ..Default::default()
    };

    let body = json!({"connectorId": p.connector_id, "channel": p.channel, "payload": p.payload});
    let path = "/api/agent-gateway/adapters/ingest".to_string();
    let mut req = t.client.post(format!("{base}{path}")).json(&body);
    if let Some(secret) = &t.webhook_secret {
        req = req.header("x-agent-gateway-webhook-secret", &secret.0);
    }
    let (ex, tr) = t.exchange("ingest", req, path, Some(body)).await;
    obs.ingest = ex;
    requests.push(tr);

    let applied = obs.ingest.status == Some(201) && obs.ingest.body.get("ingestApplied") == Some(&Value::Bool(true));
    if applied {
        let path = "/api/admin/agent-gateway/sessions?source=db&limit=200".to_string();
        let req = t.client.get(format!("{base}{path}")).header("x-admin-token", &t.admin_token.0);
        let (ex, tr) = t.exchange("sessions_lookup", req, path, None).await;
        obs.lookup = Some(ex);
        requests.push(tr);
        if obs.lookup.as_ref().is_some_and(|l| l.status == Some(200)) {
            let path = "/api/admin/agent-gateway/telemetry?hours=24&limit=200".to_string();
            let req = t.client.get(format!("{base}{path}")).header("x-admin-token", &t.admin_token.0);
            let (ex, tr) = t.exchange("telemetry", req, path, None).await;
            obs.telemetry = Some(ex);
            requests.push(tr);
        }
    }
    let failure_mode = classify(&obs);
    ChannelTrace {
        connector_id: p.connector_id.clone(),
        channel: p.channel.clone(),
        required: p.required,
        passed: failure_mode.is_none(),
        failure_mode,
        expected_external_session_id: p.expected_external_session_id.clone(),
        resolved_external_session_id: crate::classify::looked_up_external_id(&obs),
        requests,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        observation: obs,
    }
}
