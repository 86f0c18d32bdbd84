//! The raw accept loop in front of each provider's HTTP service. Connection-level faults live
//! here because an HTTP handler cannot do them: a reset with zero linger, a FIN before any
//! answer, a garbage status line, a connection held open with nothing said. The handler asks
//! for one through [`ConnControl`]; this loop takes the socket back from hyper and acts on it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::handler::Attempt;
use super::journal::Outcome;
use super::schedule::MatchInput;
use super::state::Provider;

/// What to do to the connection instead of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnFault {
    Reset,
    Close,
    Garbage,
    Hang,
}

pub struct ConnAction {
    pub fault: ConnFault,
    pub attempt: Attempt,
}

/// Lets the handler take over the connection; handed to it as a request extension.
#[derive(Clone)]
pub struct ConnControl(Arc<Mutex<Option<oneshot::Sender<ConnAction>>>>);

impl ConnControl {
    /// The control of the connection a request arrived on, if it was served by [`serve`].
    pub fn of(req: &axum::http::request::Parts) -> Option<ConnControl> {
        req.extensions.get::<ConnControl>().cloned()
    }
}

impl ConnControl {
    /// Passes the action to the connection task; gives it back if there is none listening.
    pub fn take_over(&self, action: ConnAction) -> Result<(), ConnAction> {
        let tx = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        match tx {
            Some(tx) => tx.send(action),
            None => Err(action),
        }
    }
}

/// The longest a hung connection is held before the mock lets go (DeepSeek's own limit).
pub const HANG_CAP: Duration = Duration::from_secs(600);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` fires, then drains connections (bounded).
pub async fn serve(listener: TcpListener, provider: Arc<Provider>, router: Router, shutdown: CancellationToken) {
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of descriptors and the like: back off briefly rather than spin.
                tracing::warn!(provider = provider.spec.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        if provider.has_accept_faults() && !is_control_request(&stream).await && refuse_at_accept(&provider) {
            let _ = stream.set_zero_linger();
            drop(stream);
            continue;
        }
        tracker.spawn(serve_connection(stream, router.clone(), shutdown.clone()));
    }
    tracker.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await;
}

/// Whether a new connection is for the control API, which is never faulted (otherwise an
/// active refusal could never be lifted over HTTP). Peeks at the request line without
/// consuming it; a client that says nothing for a moment is treated as an API client.
async fn is_control_request(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 32];
    let peek = tokio::time::timeout(Duration::from_millis(250), stream.peek(&mut buf)).await;
    let Ok(Ok(n)) = peek else { return false };
    let line = &buf[..n];
    line.windows(b" /_gatedrill/".len()).any(|w| w == b" /_gatedrill/")
}

/// Consults `outage{mode: refuse}` rules for a new connection; journals a refusal.
fn refuse_at_accept(p: &Arc<Provider>) -> bool {
    let now = tokio::time::Instant::now();
    // Peeked, not taken: a connection that is not refused is not an attempt.
    let index = p.journal.next_seq();
    let input = MatchInput { at_accept: true, ..Default::default() };
    let decision = p.rules.decide(&input, index, now.saturating_duration_since(p.fleet_start()));
    let Some(chosen) = decision.outcome else {
        return false;
    };
    let attempt = Attempt::begin(p, super::journal::AttemptRecord::new(&p.spec.name), now);
    attempt.finish(|r| {
        r.faults.push(super::journal::AppliedFault { rule: chosen.rule_id, kind: chosen.fault.kind().into() });
        r.outcome = Outcome::Refused;
    });
    true
}

async fn serve_connection(stream: TcpStream, router: Router, shutdown: CancellationToken) {
    let (tx, mut rx) = oneshot::channel();
    let control = ConnControl(Arc::new(Mutex::new(Some(tx))));
    let per_request = control.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(per_request.clone());
        router.clone().oneshot(req.map(Body::new))
    });
    let mut conn = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), svc);
    let mut draining = false;
    let action = loop {
        tokio::select! {
            res = &mut conn => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break None;
            }
            a = &mut rx => break a.ok(),
            _ = shutdown.cancelled(), if !draining => {
                draining = true;
                std::pin::Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    let Some(action) = action else { return };
    let mut stream = conn.into_parts().io.into_inner();
    let outcome = match action.fault {
        ConnFault::Reset => {
            let _ = stream.set_zero_linger();
            drop(stream);
            Outcome::ConnectionReset
        }
        ConnFault::Close => {
            let _ = stream.shutdown().await;
            Outcome::ConnectionClosed
        }
        ConnFault::Garbage => {
            let _ = stream.write_all(b"GARBAGE/0.0 ??? \xff\xfenot an http status line\r\n\r\n").await;
            let _ = stream.shutdown().await;
            Outcome::GarbageResponse
        }
        ConnFault::Hang => {
            // Hold the connection, saying nothing, until the client gives up (EOF or error),
            // the fleet shuts down, or the cap passes.
            let mut sink = [0u8; 1024];
            let wait = async {
                loop {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            };
            tokio::select! {
                _ = wait => {}
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(HANG_CAP) => {}
            }
            Outcome::NoResponse
        }
    };
    action.attempt.finish(|r| r.outcome = outcome);
}
