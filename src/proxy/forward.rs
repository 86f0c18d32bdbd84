//! The fault proxy's request pipeline (DESIGN.md "The gateway under test, and where its
//! providers come from"), the mocks' pipeline with a real upstream in place of the answer:
//!
//! 1. journal the arrival (the same record the mocks write: path, model, stream flag, test id
//!    or probe marker, body hash, the key's fingerprint and never the key); 2. ask the rule book,
//!    through the mocks' own code; 3. answer a status or connection fault as the mock does, in
//!    the upstream's dialect, without asking the upstream; 4. otherwise forward the request
//!    untouched (method, path, query, headers with the key, body) and relay the answer, shaped by
//!    any stream or latency fault.
//!
//! An upstream that cannot be reached gets an honest 502 in the dialect, one that does not
//! answer in time a 504, each journaled with its typed reason. Redirects are never followed:
//! a 3xx goes back to the client as it came.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, Response, header};
use bytes::Bytes;
use serde::Deserialize;
use tokio::time::Instant;

use super::events::{StreamKind, upstream_refusal};
use super::relay::{Bounds, Relay, Shape};
use super::upstream::Upstream;
use crate::mock::config::Dialect;
use crate::mock::dialect::{self, ApiError};
use crate::mock::faults::Fault;
use crate::mock::handler::{self, Attempt, BODY_LIMIT, Ctx, Decided};
use crate::mock::journal::{self, AttemptRecord, Outcome, Refusal};
use crate::mock::listener::ConnControl;
use crate::mock::schedule::MatchInput;
use crate::mock::state::Provider;

/// An upstream's refusal is read whole, up to this size, to journal its reason.
const ERROR_BODY_LIMIT: usize = 1024 * 1024;

/// One proxy listener's route to its upstream.
pub struct Route {
    pub p: Arc<Provider>,
    pub upstream: Upstream,
    pub client: reqwest::Client,
    pub bounds: Bounds,
}

/// The two request fields a fault rule matches on, read without parsing the rest.
/// Either field of the wrong type leaves that field unread, not the other.
#[derive(Deserialize, Default)]
struct Peek {
    model: Option<serde_json::Value>,
    stream: Option<serde_json::Value>,
}

/// Headers that belong to one hop, never forwarded either way.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// Every request that is not for the control API.
pub async fn forward(route: Arc<Route>, req: Request) -> Response<Body> {
    let arrived = Instant::now();
    let p = &route.p;
    let d = p.spec.dialect;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, BODY_LIMIT).await;

    let mut rec = AttemptRecord::new(&p.spec.name);
    rec.path = Some(handler::route_path(parts.uri.path()));
    let test_id = parts.headers.get(handler::TEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    rec.test_id = test_id.or_else(|| body.as_ref().ok().and_then(|b| handler::marker(b)));
    rec.key_fingerprint = dialect::api_key(d, &parts.headers).ok().map(|k| p.fingerprint(&k));
    // A bodiless request (`GET /v1/models`) has no body to be resent: no hash, so the conduct
    // rules never take two of them for a retry.
    if let Ok(b) = &body
        && !b.is_empty()
    {
        rec.body_hash = Some(journal::body_hash(b));
        let peek: Peek = serde_json::from_slice(b).unwrap_or_default();
        rec.model = peek.model.and_then(|m| m.as_str().map(str::to_string));
        rec.stream = peek.stream.and_then(|v| v.as_bool()).unwrap_or(false);
    }
    let (model, stream, test_id) = (rec.model.clone(), rec.stream, rec.test_id.clone());
    let attempt = Attempt::begin(p, rec, arrived);
    let path = parts.uri.path();
    let input =
        MatchInput { model: model.as_deref(), stream, path: Some(path), test_id: test_id.as_deref(), at_accept: false };
    let Decided { request_id, pre_wait, first_token_wait, should_retry, outcome, .. } =
        handler::decide_faults(p, &attempt, &input, arrived);
    let conn = ConnControl::of(&parts);
    let mut ctx = Ctx { p: p.clone(), attempt, request_id, should_retry, pre_wait, conn };
    if let Some(fault) = &outcome {
        let api = api_of(path);
        let parsed = body.as_ref().ok().and_then(|b| dialect::parse_request(d, api, b).ok());
        ctx = match handler::answer_outcome_fault(ctx, fault, parsed.as_ref()).await {
            Ok(answered) => return answered,
            Err(ctx) => ctx,
        };
    }
    let Ok(body) = body else {
        return handler::error(ctx, &ApiError::TooLarge { limit: BODY_LIMIT }, None, None).await;
    };
    let upstream_req = match build_request(&route, &parts, body) {
        Ok(r) => r,
        Err(_) => return upstream_failed(ctx, Refusal::UpstreamUnreachable).await,
    };
    let sent = tokio::select! {
        r = tokio::time::timeout(route.bounds.timeout, route.client.execute(upstream_req)) => r,
        _ = p.shutdown.cancelled() => return upstream_failed(ctx, Refusal::UpstreamUnreachable).await,
    };
    let resp = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.is_timeout() => return upstream_failed(ctx, Refusal::UpstreamTimeout).await,
        Ok(Err(_)) => return upstream_failed(ctx, Refusal::UpstreamUnreachable).await,
        Err(_) => return upstream_failed(ctx, Refusal::UpstreamTimeout).await,
    };
    let status = resp.status();
    let headers = answer_headers(resp.headers());
    let is_sse = status.is_success()
        && resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    if !is_sse && outcome.as_ref().is_some_and(Fault::is_stream_only) {
        // The upstream sent no stream to apply it to: the record must not claim it was.
        ctx.attempt.update(|r| r.faults.retain(|f| outcome.as_ref().is_none_or(|o| o.kind() != f.kind)));
    }
    if !status.is_success() {
        return refused(ctx, &route, status.as_u16(), headers, resp).await;
    }
    // DeepSeek sends its headers at once and keeps a waiting connection warm; the others stay
    // silent until the answer starts (as the mocks do).
    let keeps_alive = d == Dialect::Deepseek;
    // A plain answer has no first token to wait for: that wait holds the whole answer.
    let wait = ctx.pre_wait + if is_sse { Duration::ZERO } else { first_token_wait };
    let held = keeps_alive && !wait.is_zero();
    let shape = Shape {
        stream: is_sse.then(|| StreamKind::for_path(d, parts.uri.path())),
        fault: outcome,
        hold: if keeps_alive { wait } else { Duration::ZERO },
        first_token_wait: if is_sse { first_token_wait } else { Duration::ZERO },
        keepalive: keeps_alive.then_some(p.spec.keepalive_interval.0),
        // Keep-alives ahead of the body make it longer than the upstream announced.
        length: if held { None } else { resp.content_length() },
    };
    if !keeps_alive {
        handler::sleep_unless_shutdown(p, wait).await;
    }
    ctx.attempt.update(|r| r.status = Some(status.as_u16()));
    let relay = Relay::new(p.clone(), ctx.attempt, status.as_u16(), Box::pin(resp.bytes_stream()), route.bounds, shape);
    let mut out = Response::new(relay.into_body());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    if is_sse || held {
        // Relayed chunked: a fault may end the body before the length the upstream announced,
        // and keep-alives make it longer.
        out.headers_mut().remove(header::CONTENT_LENGTH);
    }
    out
}

/// The API a path belongs to, for reading a request the way the mock would.
fn api_of(path: &str) -> dialect::Api {
    match path.trim_end_matches('/') {
        p if p.ends_with("/responses") => dialect::Api::Responses,
        p if p.ends_with("/embeddings") => dialect::Api::Embeddings,
        p if p.ends_with("/count_tokens") => dialect::Api::CountTokens,
        _ => dialect::Api::Chat,
    }
}

/// The upstream request: the client's method, path, query, headers (its key among them) and
/// body, minus what belongs to the client's hop.
fn build_request(route: &Route, parts: &axum::http::request::Parts, body: Bytes) -> reqwest::Result<reqwest::Request> {
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = format!("{}{path_and_query}", route.upstream.base);
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    route.client.request(parts.method.clone(), url).headers(headers).body(body).build()
}

/// The upstream's answer headers as the client gets them.
fn answer_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(upstream.len());
    for (k, v) in upstream {
        if !hop_by_hop(k) || k == header::CONTENT_LENGTH {
            h.append(k.clone(), v.clone());
        }
    }
    h
}

/// The upstream refused (or redirected): its answer goes back as it came, read whole (bounded)
/// so the journal can say why, typed.
async fn refused(
    ctx: Ctx,
    route: &Route,
    status: u16,
    mut headers: HeaderMap,
    resp: reqwest::Response,
) -> Response<Body> {
    let mut stream = resp.bytes_stream();
    let mut body = Vec::new();
    let read = async {
        use futures::StreamExt;
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.map_err(|_| Refusal::UpstreamUnreachable)?);
            if body.len() > ERROR_BODY_LIMIT {
                return Err(Refusal::UpstreamUnreachable);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(route.bounds.timeout, read).await {
        Ok(Ok(())) => {}
        Ok(Err(r)) => return upstream_failed(ctx, r).await,
        Err(_) => return upstream_failed(ctx, Refusal::UpstreamTimeout).await,
    }
    handler::sleep_unless_shutdown(&ctx.p, ctx.pre_wait).await;
    let (refusal, code) = upstream_refusal(status, &body);
    let retry_after_ms = retry_after_ms(&headers);
    let bytes = body.len() as u64;
    ctx.attempt.finish(|r| {
        r.status = Some(status);
        r.outcome = if (300..400).contains(&status) { Outcome::Completed } else { Outcome::HttpError };
        if status >= 400 {
            r.error = code;
            r.refusal = Some(refusal);
        }
        r.retry_after_ms = retry_after_ms;
        r.bytes_sent = bytes;
    });
    headers.remove(header::CONTENT_LENGTH);
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
    *out.headers_mut() = headers;
    out
}

/// The wait an answer's `retry-after-ms` or `retry-after` (seconds or an HTTP date) asks for.
fn retry_after_ms(h: &HeaderMap) -> Option<u64> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) {
        return Some(ms as u64);
    }
    let v = get("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).map_or(0, |d| d.as_millis() as u64))
}

/// The upstream could not be reached, or did not answer in time: the proxy answers 502 or 504
/// itself, in the dialect, and the journal names the reason.
async fn upstream_failed(ctx: Ctx, why: Refusal) -> Response<Body> {
    let (p, seq) = (ctx.p.clone(), ctx.attempt.seq);
    let (status, code) = match why {
        Refusal::UpstreamTimeout => (504, "upstream_timeout"),
        _ => (502, "upstream_unreachable"),
    };
    let answer = handler::error(ctx, &ApiError::Status(status), None, None).await;
    p.journal.update(seq, |r| {
        r.refusal = Some(why);
        r.error = Some(code.to_string());
    });
    answer
}
