//! Gateway sessions (seed 001, playbook B and "Release Window Checks"): the list the runbook
//! reads to find stale `active` sessions, and a session as the drill needs it.

use serde::{Deserialize, Serialize};

/// An external session id as a gateway shows it: a string or a number (Telegram chat ids are
/// numbers in some gateways' answers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExternalId {
    Text(String),
    Number(serde_json::Number),
}

impl ExternalId {
    pub fn as_text(&self) -> String {
        match self {
            ExternalId::Text(s) => s.clone(),
            ExternalId::Number(n) => n.to_string(),
        }
    }
}

/// A session in a list or a status answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRef {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub external_session_id: Option<ExternalId>,
    #[serde(default)]
    pub last_event_at: Option<u64>,
    #[serde(default)]
    pub idle_ms: Option<u64>,
}

/// `GET /api/admin/agent-gateway/sessions?source=db&limit=N[&status=active]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsList {
    pub sessions: Vec<SessionRef>,
    #[serde(default)]
    pub active_count: Option<u64>,
}

impl SessionsList {
    /// Active sessions: the gateway's own count, else (the list was asked for `status=active`)
    /// the length of the list.
    pub fn active(&self) -> u64 {
        self.active_count.unwrap_or(self.sessions.len() as u64)
    }
}

/// `GET .../sessions/{id}/summary` (the part the drill reads): the session and its recent events.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub session: SessionRef,
    pub recent_events: Vec<serde_json::Value>,
}
