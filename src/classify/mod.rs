//! Launch-gate classification (seed 001, "External-channel failure-mode routing"): one external
//! channel check is decided into exactly one of the runbook's failure modes, by its predicates,
//! in its order. The decision is made from typed observations (statuses, parsed bodies, counts),
//! never from error text.

pub mod conduct;
pub mod contract;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The runbook's failure modes, with their stable ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureMode {
    IngestHttpError,
    IngestNotApplied,
    SessionsLookupError,
    FallbackSessionMismatch,
    TelemetryHttpError,
    TelemetryNoConnectorEvents,
    TelemetryZeroAccepted,
    Unknown,
}

impl FailureMode {
    pub const ALL: [FailureMode; 8] = [
        FailureMode::IngestHttpError,
        FailureMode::IngestNotApplied,
        FailureMode::SessionsLookupError,
        FailureMode::FallbackSessionMismatch,
        FailureMode::TelemetryHttpError,
        FailureMode::TelemetryNoConnectorEvents,
        FailureMode::TelemetryZeroAccepted,
        FailureMode::Unknown,
    ];

    pub fn id(self) -> &'static str {
        match self {
            FailureMode::IngestHttpError => "ingest_http_error",
            FailureMode::IngestNotApplied => "ingest_not_applied",
            FailureMode::SessionsLookupError => "sessions_lookup_error",
            FailureMode::FallbackSessionMismatch => "fallback_session_mismatch",
            FailureMode::TelemetryHttpError => "telemetry_http_error",
            FailureMode::TelemetryNoConnectorEvents => "telemetry_no_connector_events",
            FailureMode::TelemetryZeroAccepted => "telemetry_zero_accepted",
            FailureMode::Unknown => "unknown",
        }
    }

    /// The runbook's first operator action.
    pub fn first_action(self) -> &'static str {
        match self {
            FailureMode::IngestHttpError => {
                "Check RELEASE_AGENT_GATEWAY_WEBHOOK_SECRET, API URL, and /api/agent-gateway/adapters/ingest route health; inspect API response body/status in workflow logs."
            }
            FailureMode::IngestNotApplied => {
                "Check ingest response payload for policy rejects/conflicts; validate connector profile strictness (AGENT_GATEWAY_INGEST_ENFORCE_CONNECTOR_PROFILE) and channel profile fields."
            }
            FailureMode::SessionsLookupError => {
                "Verify RELEASE_ADMIN_API_TOKEN and /api/admin/agent-gateway/sessions health; check DB readiness and admin-token scope."
            }
            FailureMode::FallbackSessionMismatch => {
                "Compare channel payload shape vs connector extractor expectations (telegram chat id, slack channel id, discord channel id); validate connector profile channel value."
            }
            FailureMode::TelemetryHttpError => {
                "Verify /api/admin/agent-gateway/telemetry availability and admin token; check API deploy health and recent errors."
            }
            FailureMode::TelemetryNoConnectorEvents => {
                "Confirm telemetry query window/filters; verify connector id and channel labels in profile map; inspect ingest logs for dropped events."
            }
            FailureMode::TelemetryZeroAccepted => {
                "Inspect rejection reasons in ingest telemetry; validate webhook secret and profile constraints, and check payload schema drift."
            }
            FailureMode::Unknown => {
                "Download production-external-channel-traces + launch summary, attach raw check payloads, and open incident with run URL + commit SHA."
            }
        }
    }

    /// Who the runbook escalates to.
    pub fn escalate_to(self) -> &'static str {
        match self {
            FailureMode::SessionsLookupError | FailureMode::TelemetryHttpError => "Backend/API + Platform",
            FailureMode::Unknown => "Release commander",
            _ => "Backend/API on-call",
        }
    }
}

/// One HTTP exchange as observed: `status` is `None` when no HTTP answer came (transport error
/// or deadline), `body` is `Null` when the answer was not JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub status: Option<u16>,
    pub body: Value,
}

/// What one external-channel check saw, step by step. Later steps are absent when an earlier
/// one already failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelObservation {
    pub connector_id: String,
    pub channel: String,
    pub expected_external_session_id: String,
    pub ingest: Exchange,
    pub lookup: Option<Exchange>,
    pub telemetry: Option<Exchange>,
}

/// The external session id the admin sessions lookup shows for the ingested session.
pub fn looked_up_external_id(o: &ChannelObservation) -> Option<String> {
    let session_id = o.ingest.body.get("sessionId")?.as_str()?;
    let sessions = o.lookup.as_ref()?.body.get("sessions")?.as_array()?;
    let s = sessions.iter().find(|s| s.get("id").and_then(Value::as_str) == Some(session_id))?;
    s.get("externalSessionId").and_then(|v| match v {
        Value::String(x) => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Telemetry counts (events, accepted) for this connector and channel.
pub fn telemetry_counts(o: &ChannelObservation) -> Option<(u64, u64)> {
    let groups = o.telemetry.as_ref()?.body.get("connectors")?.as_array()?;
    let mut found = None;
    for g in groups {
        let connector = g.get("connectorId").and_then(Value::as_str);
        let channel = g.get("channel").and_then(Value::as_str);
        if connector == Some(o.connector_id.as_str()) && channel.is_none_or(|c| c == o.channel) {
            let (e, a) = found.unwrap_or((0, 0));
            let events = g.get("events")?.as_u64()?;
            let accepted = g.get("accepted")?.as_u64()?;
            found = Some((e + events, a + accepted));
        }
    }
    Some(found.unwrap_or((0, 0)))
}

/// The runbook's predicates in its order; `None` when the check passed.
pub fn classify(o: &ChannelObservation) -> Option<FailureMode> {
    if o.ingest.status != Some(201) {
        return Some(FailureMode::IngestHttpError);
    }
    match o.ingest.body.get("ingestApplied").and_then(Value::as_bool) {
        Some(true) => {}
        Some(false) => return Some(FailureMode::IngestNotApplied),
        None => return Some(FailureMode::Unknown),
    }
    let Some(lookup) = &o.lookup else { return Some(FailureMode::Unknown) };
    if lookup.status != Some(200) {
        return Some(FailureMode::SessionsLookupError);
    }
    if lookup.body.get("sessions").and_then(Value::as_array).is_none() {
        return Some(FailureMode::Unknown);
    }
    if looked_up_external_id(o).as_deref() != Some(o.expected_external_session_id.as_str()) {
        return Some(FailureMode::FallbackSessionMismatch);
    }
    let Some(telemetry) = &o.telemetry else { return Some(FailureMode::Unknown) };
    if telemetry.status != Some(200) {
        return Some(FailureMode::TelemetryHttpError);
    }
    match telemetry_counts(o) {
        None => Some(FailureMode::Unknown),
        Some((0, _)) => Some(FailureMode::TelemetryNoConnectorEvents),
        Some((_, 0)) => Some(FailureMode::TelemetryZeroAccepted),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests;
