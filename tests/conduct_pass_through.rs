//! The conduct rules on a real journal, behind a pass-through gateway (DESIGN.md, "Conduct
//! findings"): a tiny OpenAI-compatible gateway on loopback that forwards each chat completion
//! to the mocks and streams the answer through as it comes, the way LiteLLM does. Once a stream
//! has sent tokens to the client no gateway can fail over, so a stream cut mid-answer raises
//! neither `failover_skipped` nor `premature_give_up`; the same gateway refusing to fail over
//! before any byte was sent raises both.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gatedrill::classify::conduct::{Context, Finding, judge};
use gatedrill::classify::requests::{Api, ClientRequest};
use gatedrill::drill::steps::chat::{body, read_answer};
use gatedrill::mock::ProviderFleet;
use gatedrill::mock::journal::Outcome;
use serde_json::{Value, json};

/// The chain: (provider, its chat path, key, model), all in OpenAI's dialect.
struct Chain(Vec<(String, &'static str, &'static str)>);

/// Forwards to the first link that answers 200 and streams its body through; with
/// `x-no-failover`, gives up on the first link's error (the misbehaviour drilled).
async fn pass_through(
    State(chain): State<Arc<Chain>>,
    headers: HeaderMap,
    axum::Json(mut req): axum::Json<Value>,
) -> Response {
    let client = gatedrill::tls::builder().build().unwrap();
    let no_failover = headers.contains_key("x-no-failover");
    for (url, key, model) in &chain.0 {
        req["model"] = json!(model);
        let Ok(up) = client.post(url).bearer_auth(key).json(&req).send().await else { continue };
        if up.status().is_success() {
            return Response::builder()
                .header(
                    "content-type",
                    up.headers().get("content-type").cloned().unwrap_or("text/plain".parse().unwrap()),
                )
                .body(Body::from_stream(up.bytes_stream()))
                .unwrap();
        }
        if no_failover {
            break;
        }
    }
    (StatusCode::BAD_GATEWAY, axum::Json(json!({"error": {"message": "no provider served", "type": "server_error"}})))
        .into_response()
}

async fn gateway(fleet: &ProviderFleet) -> String {
    let chain = Chain(vec![
        (format!("{}/v1/chat/completions", fleet.url("openai").unwrap()), "sk-gatedrill-openai-0001", "gpt-5"),
        (format!("{}/chat/completions", fleet.url("deepseek").unwrap()), "sk-gatedrill-deepseek-0001", "deepseek-chat"),
    ]);
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(pass_through))
        .with_state(Arc::new(chain));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// One chat completion through the gateway, taken as the `chat` step takes it.
async fn send(fleet: &ProviderFleet, gw: &str, marker: &str, stream: bool, no_failover: bool) -> ClientRequest {
    let sent_ms = fleet.elapsed_ms();
    let mut rb =
        common::client().post(format!("{gw}/v1/chat/completions")).json(&body("author", "hello", stream, marker));
    if no_failover {
        rb = rb.header("x-no-failover", "1");
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    // A cut stream ends the body with an error: what arrived before it is what the client got.
    let mut bytes = Vec::new();
    let mut r = r;
    while let Ok(Some(chunk)) = r.chunk().await {
        bytes.extend_from_slice(&chunk);
    }
    let answer = read_answer(&bytes, stream);
    ClientRequest {
        api: Api::Chat,
        marker: marker.into(),
        model: "author".into(),
        step: 1,
        sent_ms,
        ended_ms: fleet.elapsed_ms(),
        status: Some(status),
        ok: status == 200 && answer.complete(stream),
        retry_after: false,
        gave_up: false,
        tokens_received: !answer.content.is_empty(),
    }
}

/// The findings on the fleet's journal once no attempt is in flight.
async fn findings(fleet: &ProviderFleet, requests: &[ClientRequest]) -> Vec<Finding> {
    let mut journal = fleet.journal();
    for _ in 0..500 {
        if journal.iter().all(|r| r.outcome != Outcome::InFlight) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        journal = fleet.journal();
    }
    let window = |_: &str| None;
    let ctx = Context {
        cooldown_ms: None,
        retry_storm: 4,
        failover_budget_ms: None,
        requests,
        window: &window,
        journal_complete: true,
    };
    let mut out: Vec<Finding> = judge(&journal, &fleet.receipts(), &ctx).into_iter().map(|e| e.finding).collect();
    out.sort();
    out.dedup();
    out
}

/// A first request that shows the chain (openai fails before any byte, deepseek serves), then
/// one more under `rule` on openai: the findings, and what the client got.
async fn after_warm_up(rule: Value, stream: bool, no_failover: bool) -> (Vec<Finding>, ClientRequest) {
    let fleet = common::fleet().await;
    let gw = gateway(&fleet).await;
    common::load_rules(
        &fleet,
        json!([{"id": "first-500", "fault": {"kind": "http_error", "status": 500}, "match": {"provider": "openai"}, "times": 1}]),
    );
    let warm = send(&fleet, &gw, "warm", false, false).await;
    assert!(warm.ok, "{warm:?}");
    common::load_rules(&fleet, json!([rule]));
    let second = send(&fleet, &gw, "second", stream, no_failover).await;
    (findings(&fleet, &[warm, second.clone()]).await, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_after_tokens_reached_the_client_is_no_skipped_failover() {
    let cut = json!({"id": "cut", "fault": {"kind": "stream_cut", "after_events": 3}, "match": {"provider": "openai"}, "times": 1});
    let (found, got) = after_warm_up(cut, true, false).await;
    assert!(!got.ok && got.tokens_received, "a half answer with tokens: {got:?}");
    assert!(!found.contains(&Finding::FailoverSkipped) && !found.contains(&Finding::PrematureGiveUp), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_before_any_byte_with_a_healthy_fallback_is_both() {
    let again = json!({"id": "again-500", "fault": {"kind": "http_error", "status": 500}, "match": {"provider": "openai"}, "times": 1});
    let (found, got) = after_warm_up(again, false, true).await;
    assert_eq!(got.status, Some(502));
    assert_eq!(found, [Finding::FailoverSkipped, Finding::PrematureGiveUp]);
}
