//! The drill's one HTTP client (DESIGN.md, "Verdicts fail closed"): every exchange with the
//! gateway under test, from steps, load and the launch gate's channel probes, goes through
//! [`Exchanger::send`]. Each exchange ends inside its deadline with exactly one observation:
//! a complete answer, or a [`TransportFailure`] with whatever part of the answer arrived.
//!
//! - Reads are bounded: at most `body_cap` bytes are kept; a larger answer is `too_large`, and
//!   its prefix, length and hash are what the trace keeps.
//! - Redirects are never followed and no proxy from the environment is used: a request never
//!   leaves the address the user gave, and a 3xx is an observation (`redirected`).
//! - Credentials go in headers only and never into an observation.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::classify::transport::TransportFailure;
use crate::secret::Redacted;

/// Bytes of an answer the drill reads at most.
pub const BODY_CAP: usize = 1024 * 1024;
/// Bytes of an answer a load request reads at most (up to 512 are in flight at once).
pub const LOAD_BODY_CAP: usize = 64 * 1024;
/// A JSON answer is kept whole in a trace up to this size; larger ones keep a prefix.
const TRACE_JSON_CAP: usize = 16 * 1024;
/// Bytes of a non-JSON (or oversized) answer a trace keeps.
const TRACE_PREFIX: usize = 2048;

/// Which credential an exchange carries.
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    None,
    /// `x-admin-token`.
    Admin,
    /// `x-agent-gateway-webhook-secret`: the run's secret, or the one given (a stale one).
    Webhook(Option<&'a str>),
    /// The client key of an OpenAI-compatible gateway: `Authorization: Bearer <ADMIN_API_TOKEN>`,
    /// or the header and key a target profile names. No key, no header.
    Bearer,
}

/// Where the drill sends, with the credentials (which never reach an observation).
#[derive(Clone)]
pub struct Exchanger {
    client: reqwest::Client,
    pub base_url: String,
    pub admin_token: Redacted,
    pub webhook_secret: Option<Redacted>,
    /// Deadline of each exchange, answer body included.
    pub deadline: Duration,
    pub body_cap: usize,
    /// Header name and value prefix of [`Auth::Bearer`].
    key_header: (String, String),
}

/// One exchange as observed.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `None` when no HTTP status line arrived.
    pub status: Option<u16>,
    /// Set whenever the answer is not complete and within bounds (then `status` may still be
    /// set: a stall in the body, a too-large answer, a redirect).
    pub failure: Option<TransportFailure>,
    /// The answer's bytes, at most the cap.
    pub body: Bytes,
    /// Bytes received before the exchange ended (more than `body.len()` when too large).
    pub received: u64,
    pub latency: Duration,
    /// The answer's `Retry-After`, as sent (at most 64 bytes kept).
    pub retry_after: Option<String>,
}

/// An answer that did not have the runbook's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParseFailure {
    /// What serde said, with line and column in the answer.
    pub message: String,
}

impl std::fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "answer not in the runbook's shape: {}", self.message)
    }
}

impl Observed {
    /// A complete answer with this status.
    pub fn is(&self, status: u16) -> bool {
        self.failure.is_none() && self.status == Some(status)
    }

    /// A complete 2xx answer.
    pub fn is_success(&self) -> bool {
        self.failure.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The answer parsed into a wire type.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ParseFailure> {
        if let Some(f) = self.failure {
            return Err(ParseFailure { message: format!("no complete answer ({})", f.id()) });
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!("{path}: ") };
            ParseFailure { message: format!("{at}{}", e.into_inner()) }
        })
    }

    /// What was seen, in words: `201`, `no answer (timeout)`, `200, then timeout`.
    pub fn describe(&self) -> String {
        match (self.status, self.failure) {
            (Some(s), None) => s.to_string(),
            (None, Some(f)) => format!("no answer ({})", f.id()),
            (Some(s), Some(f)) => format!("{s}, then {}", f.id()),
            (None, None) => "no answer".into(),
        }
    }

    /// The answer as a trace keeps it: bounded, with its length and hash.
    pub fn traced(&self) -> TracedBody {
        TracedBody::of(&self.body, self.received, self.failure == Some(TransportFailure::TooLarge))
    }
}

/// An answer body as kept in a trace: the JSON itself when small, else a bounded prefix (text,
/// or base64 when not UTF-8), always with the length received and the hash of what was read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracedBody {
    pub bytes: u64,
    /// SHA-256 of the bytes read (the first `BODY_CAP` when too large).
    pub sha256: String,
    /// The trace keeps less than what arrived.
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

impl TracedBody {
    pub fn of(body: &[u8], received: u64, too_large: bool) -> TracedBody {
        let mut t = TracedBody {
            bytes: received,
            sha256: hex::encode(Sha256::digest(body)),
            truncated: too_large,
            ..Default::default()
        };
        if body.is_empty() {
            return t;
        }
        if !too_large
            && body.len() <= TRACE_JSON_CAP
            && let Ok(v) = serde_json::from_slice::<Value>(body)
        {
            t.json = Some(v);
            return t;
        }
        let prefix = &body[..body.len().min(TRACE_PREFIX)];
        t.truncated |= prefix.len() < body.len();
        match std::str::from_utf8(prefix) {
            Ok(s) => t.text = Some(s.to_string()),
            // A cut can land inside a character: keep what is valid, else the raw bytes.
            Err(e) if e.valid_up_to() + 4 > prefix.len() && e.valid_up_to() > 0 => {
                t.text = Some(String::from_utf8_lossy(&prefix[..e.valid_up_to()]).into_owned());
                t.truncated = true;
            }
            Err(_) => {
                use base64::Engine as _;
                t.base64 = Some(base64::engine::general_purpose::STANDARD.encode(prefix));
            }
        }
        t
    }
}

impl Exchanger {
    /// The drill's client: no redirects, no proxies, bounded idle connections (each keeps its
    /// buffers, and a long load would otherwise hold as many as its burstiest moment opened).
    pub fn client() -> reqwest::Client {
        let built = crate::tls::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(64)
            .pool_idle_timeout(Duration::from_secs(30))
            .build();
        match built {
            Ok(c) => c,
            // Never a default client (it follows redirects and proxies): a client that cannot be
            // built leaves gatedrill unable to judge anything, which is fatal, not a fallback.
            Err(e) => {
                eprintln!("gatedrill: cannot build the HTTP client: {e}");
                std::process::exit(2);
            }
        }
    }

    pub fn new(base_url: &str, admin_token: Redacted, webhook_secret: Option<Redacted>, deadline: Duration) -> Self {
        Exchanger {
            client: Self::client(),
            base_url: base_url.trim_end_matches('/').to_string(),
            admin_token,
            webhook_secret,
            deadline,
            body_cap: BODY_CAP,
            key_header: ("authorization".into(), "Bearer ".into()),
        }
    }

    /// The same target with the client key in another header (a target profile's).
    pub fn with_key_header(self, key_header: (String, String)) -> Self {
        Exchanger { key_header, ..self }
    }

    /// The same target with another per-exchange deadline.
    pub fn with_deadline(&self, deadline: Duration) -> Self {
        Exchanger { deadline, ..self.clone() }
    }

    /// One exchange: `path` (starting with `/`) on the target, JSON `body` when given.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>, auth: Auth<'_>) -> Observed {
        self.send_within(method, path, body, auth, self.deadline).await
    }

    /// One exchange with its own deadline.
    pub async fn send_within(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
        deadline: Duration,
    ) -> Observed {
        self.send_bounded(method, path, body, auth, (deadline, self.body_cap)).await
    }

    /// One exchange with its own deadline and read cap.
    pub async fn send_bounded(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
        (deadline, cap): (Duration, usize),
    ) -> Observed {
        let mut req = self.client.request(method, format!("{}{path}", self.base_url));
        match auth {
            Auth::None => {}
            Auth::Admin => req = req.header("x-admin-token", self.admin_token.0.as_str()),
            Auth::Bearer if !self.admin_token.0.is_empty() => {
                let (name, prefix) = &self.key_header;
                req = req.header(name.as_str(), format!("{prefix}{}", self.admin_token.0));
            }
            Auth::Bearer => {}
            Auth::Webhook(given) => {
                if let Some(s) = given.or(self.webhook_secret.as_ref().map(|s| s.0.as_str())) {
                    req = req.header("x-agent-gateway-webhook-secret", s);
                }
            }
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.exchange(req, deadline, cap).await
    }

    async fn exchange(&self, req: reqwest::RequestBuilder, deadline: Duration, cap: usize) -> Observed {
        let started = Instant::now();
        let until = started.checked_add(deadline).unwrap_or(started + Duration::from_secs(3600));
        let mut seen = Observed::default();
        match tokio::time::timeout_at(until, req.send()).await {
            Err(_) => seen.failure = Some(TransportFailure::Timeout),
            Ok(Err(e)) => seen.failure = Some(TransportFailure::of(&e)),
            Ok(Ok(mut resp)) => {
                seen.status = Some(resp.status().as_u16());
                seen.retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .map(|v| String::from_utf8_lossy(&v.as_bytes()[..v.len().min(64)]).into_owned());
                if resp.status().is_redirection() {
                    seen.failure = Some(TransportFailure::Redirected);
                } else {
                    let (body, received, failure) = read_bounded(&mut resp, until, cap).await;
                    (seen.body, seen.received, seen.failure) = (body, received, failure);
                }
            }
        }
        seen.latency = started.elapsed();
        seen
    }
}

/// Reads a body chunk by chunk until its end, the deadline, or the cap.
async fn read_bounded(
    resp: &mut reqwest::Response,
    until: Instant,
    cap: usize,
) -> (Bytes, u64, Option<TransportFailure>) {
    let mut buf = BytesMut::new();
    let mut received = 0u64;
    loop {
        match tokio::time::timeout_at(until, resp.chunk()).await {
            Err(_) => return (buf.freeze(), received, Some(TransportFailure::Timeout)),
            Ok(Err(e)) => return (buf.freeze(), received, Some(TransportFailure::of(&e))),
            Ok(Ok(None)) => return (buf.freeze(), received, None),
            Ok(Ok(Some(chunk))) => {
                received = received.saturating_add(chunk.len() as u64);
                let room = cap.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if received > cap as u64 {
                    return (buf.freeze(), received, Some(TransportFailure::TooLarge));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traced_bodies_are_bounded_and_keep_what_is_not_json() {
        let json = TracedBody::of(br#"{"a":1}"#, 7, false);
        assert_eq!(json.json, Some(serde_json::json!({"a": 1})));
        let big = vec![b'x'; 100_000];
        let t = TracedBody::of(&big, 200_000_000, true);
        assert_eq!((t.bytes, t.truncated, t.text.as_ref().map(String::len)), (200_000_000, true, Some(TRACE_PREFIX)));
        let bin = TracedBody::of(&[0xff, 0xfe, 0x00, 0x01, 0x80, 0x81], 6, false);
        assert!(bin.base64.is_some() && bin.text.is_none());
        let ansi = TracedBody::of(b"\x1b[31mred\x1b[0m <html>", 20, false);
        assert_eq!(ansi.text.as_deref(), Some("\x1b[31mred\x1b[0m <html>"));
        assert!(serde_json::to_string(&ansi).unwrap().contains("\\u001b"));
    }
}
