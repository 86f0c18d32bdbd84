//! Launch-gate classification (seed 001, "External-channel failure-mode routing"): one external
//! channel check is decided into exactly one of the runbook's failure modes, by its predicates,
//! in its order. The decision is made from typed observations (statuses, parsed bodies, counts),
//! never from error text.

pub mod causality;
pub mod conduct;
pub mod contract;
pub mod requests;
pub mod served;
pub mod transport;

#[cfg(test)]
mod conduct_sim;

use serde::{Deserialize, Serialize};

use crate::wire::{IngestAnswer, SessionsList, TelemetryAnswer};
use transport::TransportFailure;

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

/// One exchange of a channel check as its predicates read it: the status, whether the answer
/// was complete, and the answer parsed into its wire type (`None` when it did not parse; the raw
/// bytes are in the trace).
#[derive(Clone, Debug)]
pub struct Probe<T> {
    pub status: Option<u16>,
    pub failure: Option<TransportFailure>,
    pub answer: Option<T>,
}

impl<T> Default for Probe<T> {
    fn default() -> Self {
        Probe { status: None, failure: None, answer: None }
    }
}

impl<T> Probe<T> {
    /// A complete answer with this status.
    pub fn is(&self, status: u16) -> bool {
        self.failure.is_none() && self.status == Some(status)
    }
}

/// What one external-channel check saw, step by step. Later steps are absent when an earlier
/// one already failed.
#[derive(Clone, Debug, Default)]
pub struct ChannelObservation {
    pub connector_id: String,
    pub channel: String,
    pub expected_external_session_id: String,
    pub ingest: Probe<IngestAnswer>,
    pub lookup: Option<Probe<SessionsList>>,
    pub telemetry: Option<Probe<TelemetryAnswer>>,
}

/// The external session id the admin sessions lookup shows for the ingested session.
pub fn looked_up_external_id(o: &ChannelObservation) -> Option<String> {
    let session_id = o.ingest.answer.as_ref()?.session_id.as_deref()?;
    let sessions = &o.lookup.as_ref()?.answer.as_ref()?.sessions;
    let s = sessions.iter().find(|s| s.id == session_id)?;
    s.external_session_id.as_ref().map(|e| e.as_text())
}

/// The runbook's predicates in its order; `None` when the check passed. An exchange without a
/// complete answer fails its own predicate (no answer is not a `201`, nor a `200`).
pub fn classify(o: &ChannelObservation) -> Option<FailureMode> {
    if !o.ingest.is(201) {
        return Some(FailureMode::IngestHttpError);
    }
    match &o.ingest.answer {
        None => return Some(FailureMode::Unknown),
        Some(a) if !a.ingest_applied => return Some(FailureMode::IngestNotApplied),
        Some(_) => {}
    }
    let Some(lookup) = &o.lookup else { return Some(FailureMode::Unknown) };
    if !lookup.is(200) {
        return Some(FailureMode::SessionsLookupError);
    }
    if lookup.answer.is_none() {
        return Some(FailureMode::Unknown);
    }
    // Without an expectation the fallback cannot be judged: no known predicate decides.
    if o.expected_external_session_id.is_empty() {
        return Some(FailureMode::Unknown);
    }
    if looked_up_external_id(o).as_deref() != Some(o.expected_external_session_id.as_str()) {
        return Some(FailureMode::FallbackSessionMismatch);
    }
    let Some(telemetry) = &o.telemetry else { return Some(FailureMode::Unknown) };
    if !telemetry.is(200) {
        return Some(FailureMode::TelemetryHttpError);
    }
    let Some(t) = &telemetry.answer else { return Some(FailureMode::Unknown) };
    match t.counts(&o.connector_id, &o.channel) {
        (0, _) => Some(FailureMode::TelemetryNoConnectorEvents),
        (_, 0) => Some(FailureMode::TelemetryZeroAccepted),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
