//! The control API under `/_gatedrill/` on every provider: load and clear fault rules, read
//! the attempt journal and injection receipts, reset, health. It is never faulted, and it
//! governs only the provider it is served by, so curling one provider changes that one alone.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::faults::FaultSet;
use super::schedule::RuleBookError;
use super::state::Provider;

pub(crate) fn problem(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

pub async fn health(State(p): State<Arc<Provider>>) -> Response {
    let page = p.journal.page(u64::MAX, 0);
    Json(json!({
        "status": "ok",
        "provider": p.spec.name,
        "dialect": p.spec.dialect.id(),
        "uptime_ms": crate::mock::journal::ms(p.fleet_start().elapsed()),
        "rules": p.rules.receipts().len(),
        "harness_errors": p.harness_errors.load(std::sync::atomic::Ordering::Relaxed),
        "journal": {"next_seq": page.next_seq, "dropped": page.dropped},
    }))
    .into_response()
}

pub async fn list_faults(State(p): State<Arc<Provider>>) -> Response {
    Json(json!({"provider": p.spec.name, "rules": p.rules.receipts()})).into_response()
}

/// `POST /_gatedrill/faults` with `{"rules": [...]}`. A rule that names another provider,
/// a duplicate id, or any malformed field is refused whole, with the field named.
pub async fn add_faults(State(p): State<Arc<Provider>>, body: Bytes) -> Response {
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let set: FaultSet = match serde_path_to_error::deserialize(de) {
        Ok(s) => s,
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!("{path}: ") };
            return problem(StatusCode::BAD_REQUEST, "invalid_fault_rules", format!("{at}{}", e.into_inner()));
        }
    };
    match p.add_rules(set.rules) {
        Ok(n) => (StatusCode::CREATED, Json(json!({"added": n, "rules": p.rules.receipts()}))).into_response(),
        Err(e @ RuleBookError::DuplicateId(_)) => problem(StatusCode::CONFLICT, "duplicate_rule_id", e.to_string()),
        Err(e @ RuleBookError::WrongProvider { .. }) => {
            problem(StatusCode::BAD_REQUEST, "wrong_provider", e.to_string())
        }
    }
}

pub async fn clear_faults(State(p): State<Arc<Provider>>) -> Response {
    Json(json!({"cleared": p.clear_rules()})).into_response()
}

/// `GET /_gatedrill/latency`: the provider's own latency histograms (whole attempts, first
/// token, gaps between tokens) as an HdrHistogram interval log tagged `attempt`, `ttft`, `itl`,
/// so a drill using a fleet in another process gets them exactly, not estimated.
pub async fn latency(State(p): State<Arc<Provider>>) -> Response {
    let since = p.fleet_start().elapsed();
    let intervals: Vec<_> = p.with_latency(|l| {
        [("attempt", &l.attempt), ("ttft", &l.ttft), ("itl", &l.itl)]
            .into_iter()
            .filter_map(|(tag, h)| crate::metrics::hlog::Interval::encode(tag, std::time::Duration::ZERO, since, h))
            .collect()
    });
    let text = crate::metrics::hlog::render(&intervals, std::time::SystemTime::now(), &p.spec.name);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

pub async fn reset(State(p): State<Arc<Provider>>) -> Response {
    p.reset();
    Json(json!({"reset": true})).into_response()
}

#[derive(Deserialize)]
pub struct JournalQuery {
    #[serde(default)]
    since: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    10_000
}

/// `GET /_gatedrill/journal?since=SEQ&limit=N`: records with `seq >= since`, plus receipts.
pub async fn journal(
    State(p): State<Arc<Provider>>,
    q: Result<Query<JournalQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return problem(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "since and limit must be non-negative integers".into(),
        );
    };
    let page = p.journal.page(q.since, q.limit.min(100_000));
    Json(json!({
        "provider": p.spec.name,
        "records": page.records,
        "dropped": page.dropped,
        "next_seq": page.next_seq,
        "rules": p.rules.receipts(),
    }))
    .into_response()
}
