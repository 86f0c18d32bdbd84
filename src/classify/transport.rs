//! Transport failures: what happened when an exchange with the gateway got no complete HTTP
//! answer (DESIGN.md, "Verdicts fail closed"). Decided from typed data only: reqwest's error
//! predicates, then the `hyper::Error` and `io::Error` found by walking `source()`; an error's
//! text is never read.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportFailure {
    /// No complete answer inside the exchange's deadline (a hang, or a trickle).
    Timeout,
    /// Nothing listens there.
    Refused,
    /// The connection was reset or aborted.
    Reset,
    /// The connection closed before the answer was complete.
    Closed,
    /// Not HTTP: an invalid status line, header or chunk framing.
    Protocol,
    /// The answer was larger than the drill reads; the prefix is kept.
    TooLarge,
    /// A 3xx: redirects are never followed, so no request leaves the address the user gave.
    Redirected,
    /// The connection could not be made for another reason (name resolution, TLS).
    Connect,
    /// The request could not be sent or the body not read, for a reason not named above.
    Other,
}

impl TransportFailure {
    pub fn id(self) -> String {
        crate::wire::id_of(&self)
    }

    /// Classifies a reqwest error.
    pub fn of(e: &reqwest::Error) -> TransportFailure {
        if e.is_timeout() {
            return TransportFailure::Timeout;
        }
        if e.is_redirect() {
            return TransportFailure::Redirected;
        }
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && let Some(f) = Self::of_io(io.kind())
            {
                return f;
            }
            if let Some(h) = err.downcast_ref::<hyper::Error>() {
                if h.is_timeout() {
                    return TransportFailure::Timeout;
                }
                if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() {
                    return TransportFailure::Protocol;
                }
                if h.is_incomplete_message() || h.is_closed() || h.is_canceled() {
                    return TransportFailure::Closed;
                }
            }
            cur = err.source();
        }
        if e.is_connect() { TransportFailure::Connect } else { TransportFailure::Other }
    }

    fn of_io(kind: std::io::ErrorKind) -> Option<TransportFailure> {
        use std::io::ErrorKind as K;
        Some(match kind {
            K::ConnectionRefused => TransportFailure::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => TransportFailure::Reset,
            K::UnexpectedEof => TransportFailure::Closed,
            K::TimedOut => TransportFailure::Timeout,
            K::InvalidData => TransportFailure::Protocol,
            _ => return None,
        })
    }
}
