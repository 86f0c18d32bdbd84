//! The external-channel ingest webhook and its telemetry (seed 001, "Connector Ingest
//! Profiles" and "Release-gate connector diagnostics"): what the launch gate's probe sends and
//! the answers its failure-mode predicates read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/agent-gateway/adapters/ingest` as the probe sends it: no `externalSessionId`, so
/// the gateway must extract it from the channel's payload shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestProbe {
    pub connector_id: String,
    pub channel: String,
    pub payload: Value,
}

/// The ingest answer (`201`): applied or not, and the session it went to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestAnswer {
    pub ingest_applied: bool,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub reject_reason: Option<String>,
    #[serde(default)]
    pub external_session_id: Option<super::ExternalId>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryTotals {
    pub events: u64,
    pub accepted: u64,
    /// Not every gateway reports it; the launch gate's predicates read only events and accepted.
    #[serde(default)]
    pub rejected: u64,
}

/// Telemetry counts of one connector (and channel).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryGroup {
    #[serde(default)]
    pub connector_id: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    pub events: u64,
    pub accepted: u64,
}

/// `GET /api/admin/agent-gateway/telemetry?hours=24&limit=200` (the part the drill reads).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryAnswer {
    #[serde(default)]
    pub totals: Option<TelemetryTotals>,
    pub connectors: Vec<TelemetryGroup>,
}

impl TelemetryAnswer {
    /// Events and accepted events of `connector` on `channel` (groups without a channel count).
    pub fn counts(&self, connector: &str, channel: &str) -> (u64, u64) {
        self.connectors
            .iter()
            .filter(|g| {
                g.connector_id.as_deref() == Some(connector) && g.channel.as_deref().is_none_or(|c| c == channel)
            })
            .fold((0, 0), |(e, a), g| (e.saturating_add(g.events), a.saturating_add(g.accepted)))
    }
}
