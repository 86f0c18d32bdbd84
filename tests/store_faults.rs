//! The reference gateway with its session store broken (seed 001, playbook B step 5): readiness
//! and the write paths answer as a production service would, reads keep working, a slow store
//! delays what touches it and nothing else, and a repaired store serves again.

mod common;

use std::time::Duration;

use common::stack::{WEBHOOK_SECRET, stack};
use gatedrill::gateway::faults::StoreFaultKind;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_refuses_writes_and_readiness_but_serves_reads() {
    let s = stack(&[]).await;
    let body = json!({"connectorId": "x", "channel": "slack", "externalSessionId": "C1", "payload": {}});
    let (status, v) = s.ingest(WEBHOOK_SECRET, body.clone()).await;
    assert_eq!(status, 201, "{v}");
    let id = v["sessionId"].as_str().unwrap().to_string();
    s.gw.gateway.store_faults.set(StoreFaultKind::ReadOnly, Duration::ZERO);
    let (status, v) = s.get("/ready").await;
    assert_eq!((status, v["ready"].as_bool()), (503, Some(false)), "{v}");
    let (status, v) = s.ingest(WEBHOOK_SECRET, body.clone()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("AGENT_GATEWAY_STORE_UNAVAILABLE")), "{v}");
    let (status, v) = s.post(&format!("/api/admin/agent-gateway/sessions/{id}/close"), json!({})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("AGENT_GATEWAY_STORE_UNAVAILABLE")), "{v}");
    // Reads still answer, and the session is still active: nothing was half-written.
    let (status, v) = s.get(&format!("/api/admin/agent-gateway/sessions/{id}/status")).await;
    assert_eq!((status, v["session"]["status"].as_str()), (200, Some("active")), "{v}");
    s.gw.gateway.store_faults.set(StoreFaultKind::None, Duration::ZERO);
    assert_eq!(s.get("/ready").await.0, 200);
    assert_eq!(s.post(&format!("/api/admin/agent-gateway/sessions/{id}/close"), json!({})).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_delays_what_touches_it_only() {
    let s = stack(&[]).await;
    s.gw.gateway.store_faults.set(StoreFaultKind::Slow, Duration::from_secs(5));
    let quick = gatedrill::tls::builder().timeout(Duration::from_millis(500)).build().unwrap();
    // /health does not touch the store: it answers at once.
    assert_eq!(quick.get(format!("{}/health", s.gw.url)).send().await.unwrap().status(), 200);
    // /ready does: it waits out the delay, so a short client deadline expires first.
    let slow = quick.get(format!("{}/ready", s.gw.url)).send().await;
    assert!(slow.is_err_and(|e| e.is_timeout()));
    s.gw.gateway.store_faults.set(StoreFaultKind::None, Duration::ZERO);
    assert_eq!(quick.get(format!("{}/ready", s.gw.url)).send().await.unwrap().status(), 200);
}
