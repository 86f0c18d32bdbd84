//! Connection-level faults, as a client sees them: refused/reset connections, FIN before an
//! answer, a garbage status line, and a request that is never answered. Each is journaled.

mod common;

use std::time::Duration;

use common::*;
use gatedrill::gateway::client::io_kind;
use gatedrill::mock::config::Dialect;
use serde_json::json;

async fn attempt_with(fault: serde_json::Value) -> (reqwest::Error, serde_json::Value, gatedrill::mock::ProviderFleet) {
    let f = fleet().await;
    load_rules(&f, json!([{"id": "c", "fault": fault, "match": {"provider": "openai"}, "times": 1}]));
    let c = gatedrill::tls::builder().timeout(Duration::from_millis(400)).build().unwrap();
    let d = Dialect::Openai;
    let e = request(&c, f.url("openai").unwrap(), d, key(d), &body(d, "gpt-5", false, None, "hi"))
        .send()
        .await
        .unwrap_err();
    let rec = last_attempt(&f, "openai").await;
    (e, rec, f)
}

#[tokio::test]
async fn reset_is_a_connection_reset() {
    let (e, rec, f) = attempt_with(json!({"kind": "outage", "mode": "reset"})).await;
    assert!(!e.is_timeout());
    assert_eq!(io_kind(&e), Some(std::io::ErrorKind::ConnectionReset), "{e:?}");
    assert_eq!(rec["outcome"], "connection_reset");
    assert!(rec["status"].is_null());
    // `times: 1`: the provider serves again.
    assert_eq!(chat(&f, Dialect::Openai, "openai", "gpt-5", false).await.status(), 200);
}

#[tokio::test]
async fn refuse_resets_at_accept_and_spares_the_control_api() {
    let f = fleet().await;
    load_rules(
        &f,
        json!([{"id": "down", "fault": {"kind": "outage", "mode": "refuse"}, "match": {"provider": "openai"}}]),
    );
    let d = Dialect::Openai;
    for _ in 0..3 {
        let e = request(&client(), f.url("openai").unwrap(), d, key(d), &body(d, "gpt-5", false, None, "hi"))
            .send()
            .await
            .unwrap_err();
        assert!(e.is_connect() || e.is_request(), "{e:?}");
    }
    // The control API still answers while the provider refuses, so the outage can be lifted.
    let j = journal(&f, "openai").await;
    let recs = j["records"].as_array().unwrap();
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r["outcome"] == "refused" && r["faults"][0]["rule"] == "down"));
    assert_eq!(j["rules"][0]["fired"], 3);
    let cleared = client().delete(format!("{}/_gatedrill/faults", f.url("openai").unwrap())).send().await.unwrap();
    assert_eq!(cleared.status(), 200);
    assert_eq!(chat(&f, d, "openai", "gpt-5", false).await.status(), 200);
    // The other providers were never affected.
    assert_eq!(chat(&f, Dialect::Anthropic, "anthropic", "claude-sonnet-4-5", false).await.status(), 200);
}

#[tokio::test]
async fn close_is_an_incomplete_message_not_a_reset() {
    let (e, rec, _) = attempt_with(json!({"kind": "outage", "mode": "close"})).await;
    assert!(!e.is_timeout());
    assert_ne!(io_kind(&e), Some(std::io::ErrorKind::ConnectionReset), "{e:?}");
    assert_eq!(rec["outcome"], "connection_closed");
}

#[tokio::test]
async fn garbage_status_line_is_a_protocol_error() {
    let (e, rec, _) = attempt_with(json!({"kind": "outage", "mode": "garbage"})).await;
    assert!(!e.is_timeout() && !e.is_connect(), "{e:?}");
    assert_eq!(rec["outcome"], "garbage_response");
}

#[tokio::test]
async fn no_response_hangs_until_the_client_deadline() {
    let (e, rec, _) = attempt_with(json!({"kind": "no_response"})).await;
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(rec["outcome"], "no_response");
    assert!(rec["duration_ms"].as_f64().unwrap() >= 390.0, "held until the client left: {rec}");
}

#[tokio::test]
async fn a_delay_holds_back_the_status_line() {
    let f = fleet().await;
    load_rules(
        &f,
        json!([{"id": "d", "fault": {"kind": "delay", "fixed": "250ms"}, "match": {"provider": "anthropic"}}]),
    );
    let t0 = std::time::Instant::now();
    let r = chat(&f, Dialect::Anthropic, "anthropic", "claude-sonnet-4-5", false).await;
    assert!(t0.elapsed() >= Duration::from_millis(250));
    assert_eq!(r.status(), 200);
    let rec = last_attempt(&f, "anthropic").await;
    assert_eq!(rec["faults"][0]["kind"], "delay");
    assert_eq!(rec["outcome"], "completed");
}
