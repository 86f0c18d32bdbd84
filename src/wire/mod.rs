//! The runbook API on the wire (seed 001: the admin runtime, gateway session, ingest and
//! telemetry routes): its requests and answers as typed values, shared by the reference gateway,
//! which serializes them, and the drill, which parses every answer here once, at the edge. This is
//! the only place JSON from a gateway is interpreted. An answer that does not parse is kept as an
//! observation with its bounded raw bytes (`drill::exchange`), never defaulted.
//!
//! Parsing is strict on what the runbook's checks read (a missing `failed` in a dry-run answer is
//! a parse failure, which fails the check) and lenient on everything else (a real gateway may add
//! fields).

pub mod ingest;
pub mod runtime;
pub mod sessions;

use serde::{Deserialize, Serialize};

pub use ingest::{IngestAnswer, TelemetryAnswer, TelemetryGroup, TelemetryTotals};
pub use runtime::{AttemptCode, AttemptOutcome, AttemptReport, DryRunAnswer, RuntimeHealth, SkipReason, Usage};
pub use sessions::{ExternalId, SessionRef, SessionsList};

/// The runbook's error envelope: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// The runbook's paths, named once.
pub mod paths {
    pub const HEALTH: &str = "/health";
    pub const READY: &str = "/ready";
    pub const RUNTIME_HEALTH: &str = "/api/admin/ai-runtime/health";
    pub const PROFILES: &str = "/api/admin/ai-runtime/profiles";
    pub const DRY_RUN: &str = "/api/admin/ai-runtime/dry-run";
    pub const ORCHESTRATE: &str = "/api/admin/agent-gateway/orchestrate";
    pub const SESSIONS: &str = "/api/admin/agent-gateway/sessions";
    pub const TELEMETRY: &str = "/api/admin/agent-gateway/telemetry";
    pub const INGEST: &str = "/api/agent-gateway/adapters/ingest";
    /// The OpenAI API's chat completions, as OpenAI-compatible gateways (and the reference one) serve it.
    pub const CHAT_COMPLETIONS: &str = "/v1/chat/completions";
    /// Anthropic's messages API, which some OpenAI-compatible gateways also expose.
    pub const MESSAGES: &str = "/v1/messages";
    /// `GET .../sessions?source=db&status=active&limit=1000`: the active sessions.
    pub const ACTIVE_SESSIONS: &str = "/api/admin/agent-gateway/sessions?source=db&status=active&limit=1000";
    /// The launch gate's lookup of recent sessions.
    pub const RECENT_SESSIONS: &str = "/api/admin/agent-gateway/sessions?source=db&limit=200";
    /// The launch gate's telemetry window.
    pub const TELEMETRY_WINDOW: &str = "/api/admin/agent-gateway/telemetry?hours=24&limit=200";

    /// `.../sessions/{id}/{action}`, with the id percent-encoded so a hostile id cannot change
    /// the path.
    pub fn session(id: &str, action: &str) -> String {
        format!("{SESSIONS}/{}/{action}", super::percent_encode(id, b"-_~"))
    }
}

/// Percent-encodes every byte but ASCII letters, digits and `keep`.
pub fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The stable id a unit enum serializes to (`AI_PROVIDER_TIMEOUT`, `ingest_http_error`).
pub fn id_of<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_ids_cannot_leave_their_path_segment() {
        assert_eq!(super::paths::session("ags_1", "close"), "/api/admin/agent-gateway/sessions/ags_1/close");
        assert_eq!(
            super::paths::session("../../x?y", "status"),
            "/api/admin/agent-gateway/sessions/%2E%2E%2F%2E%2E%2Fx%3Fy/status"
        );
    }
}
