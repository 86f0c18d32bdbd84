//! The reference gateway's runtime against the mock fleet: failover on every provider fault,
//! cooldowns that open and close, Retry-After respected, context overflow routed to a larger
//! window, truncated streams refused, and a total outage that degrades health and recovers.

mod common;

use std::time::Duration;

use common::stack::stack;
use common::{journal, load_rules};
use serde_json::json;

#[tokio::test]
async fn healthy_dry_run_is_served_by_the_primary_and_priced() {
    let s = stack(&[]).await;
    let v = s.dry_run("critic", "health probe: summarize fallback readiness").await;
    assert_eq!(v["failed"], false);
    assert_eq!((v["servedBy"].as_str(), v["fallbackUsed"].as_bool()), (Some("openai"), Some(false)));
    assert_eq!(v["attempts"].as_array().unwrap().len(), 1);
    assert!(v["costUsd"].as_f64().unwrap() > 0.0);
    assert!(v["usage"]["promptTokens"].as_u64().unwrap() > 0 && v["usage"]["completionTokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn every_provider_fault_fails_over_with_its_code() {
    let s = stack(&[("AI_PROVIDER_TIMEOUT_MS", "400")]).await;
    let cases = [
        (json!({"kind": "http_error", "status": 500}), "AI_PROVIDER_HTTP_ERROR"),
        (json!({"kind": "overloaded"}), "AI_PROVIDER_HTTP_ERROR"),
        (json!({"kind": "rate_limit", "retry_after": "100ms"}), "AI_PROVIDER_RATE_LIMITED"),
        (json!({"kind": "auth_invalid"}), "AI_PROVIDER_AUTH_FAILED"),
        (json!({"kind": "quota_exhausted"}), "AI_PROVIDER_QUOTA_EXHAUSTED"),
        (json!({"kind": "outage", "mode": "reset"}), "AI_PROVIDER_UNAVAILABLE"),
        (json!({"kind": "outage", "mode": "close"}), "AI_PROVIDER_UNAVAILABLE"),
        (json!({"kind": "outage", "mode": "garbage"}), "AI_PROVIDER_UNAVAILABLE"),
        (json!({"kind": "no_response"}), "AI_PROVIDER_TIMEOUT"),
        (json!({"kind": "stream_cut", "after_events": 3}), "AI_PROVIDER_STREAM_TRUNCATED"),
        (json!({"kind": "stream_truncate", "after_events": 3}), "AI_PROVIDER_STREAM_TRUNCATED"),
        (json!({"kind": "stream_stall", "after_events": 2}), "AI_PROVIDER_TIMEOUT"),
        (json!({"kind": "stream_malformed", "after_events": 2}), "AI_PROVIDER_STREAM_ERROR"),
        (json!({"kind": "stream_error_event", "after_events": 2}), "AI_PROVIDER_STREAM_ERROR"),
    ];
    for (i, (fault, code)) in cases.iter().enumerate() {
        let id = format!("f{i}");
        load_rules(&s.fleet, json!([{"id": id, "fault": fault, "match": {"provider": "openai"}, "times": 1}]));
        let v = s.dry_run("author", &format!("case {i}")).await;
        assert_eq!(v["failed"], false, "{fault}: {v}");
        assert_eq!(v["servedBy"], "anthropic", "{fault}: {v}");
        assert_eq!(v["fallbackUsed"], true);
        assert_eq!(v["attempts"][0]["code"], *code, "{fault}: {v}");
        // Let the cooldown pass before the next case.
        tokio::time::sleep(Duration::from_millis(220)).await;
    }
    // Every planned fault fired exactly once: no attempt retried the failing provider.
    let j = journal(&s.fleet, "openai").await;
    assert!(j["rules"].as_array().unwrap().iter().all(|r| r["fired"] == 1), "{}", j["rules"]);
}

#[tokio::test]
async fn cooldown_opens_skips_and_closes() {
    let s = stack(&[("AI_PROVIDER_COOLDOWN_MS", "300")]).await;
    load_rules(
        &s.fleet,
        json!([{"id": "once", "fault": {"kind": "http_error", "status": 503}, "match": {"provider": "openai"}, "times": 1}]),
    );
    let first = s.dry_run("maker", "a").await;
    assert_eq!(first["servedBy"], "anthropic");
    let second = s.dry_run("maker", "b").await;
    assert_eq!(
        (second["attempts"][0]["outcome"].as_str(), second["attempts"][0]["detail"].as_str()),
        (Some("skipped"), Some("cooling_down"))
    );
    let (_, health) = s.get("/api/admin/ai-runtime/health").await;
    assert_eq!(health["summary"]["providersCoolingDown"], 1);
    assert_eq!(health["summary"]["health"], "ok", "one of three cooling is not degraded");
    let openai = health["providers"].as_array().unwrap().iter().find(|p| p["name"] == "openai").unwrap().clone();
    assert_eq!(
        (openai["coolingDown"].as_bool(), openai["lastErrorCode"].as_str()),
        (Some(true), Some("AI_PROVIDER_HTTP_ERROR"))
    );
    assert_eq!(journal(&s.fleet, "openai").await["records"].as_array().unwrap().len(), 1, "skipped, not called");
    tokio::time::sleep(Duration::from_millis(320)).await;
    let third = s.dry_run("maker", "c").await;
    assert_eq!(third["servedBy"], "openai", "cooldown closed: {third}");
}

#[tokio::test]
async fn retry_after_longer_than_the_cooldown_is_respected() {
    let s = stack(&[("AI_PROVIDER_COOLDOWN_MS", "100")]).await;
    load_rules(
        &s.fleet,
        json!([{"id": "r", "fault": {"kind": "rate_limit", "retry_after": "700ms"}, "match": {"provider": "openai"}, "times": 1}]),
    );
    assert_eq!(s.dry_run("judge", "x").await["attempts"][0]["retryAfterMs"], 700);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.dry_run("judge", "y").await["servedBy"], "anthropic", "still inside Retry-After");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(s.dry_run("judge", "z").await["servedBy"], "openai");
    let recs = journal(&s.fleet, "openai").await["records"].as_array().unwrap().clone();
    let gap = recs[1]["t_offset_ms"].as_f64().unwrap() - recs[0]["t_offset_ms"].as_f64().unwrap();
    assert!(gap >= 700.0, "next attempt {gap}ms after the 429");
}

#[tokio::test]
async fn context_overflow_goes_to_a_larger_window_and_cools_nothing() {
    // deepseek-chat 64k, then gpt-4 8k (too small, skipped), then claude 200k.
    let chain = "deepseek:deepseek-chat,openai:gpt-4,anthropic:claude-sonnet-4-5";
    let s = stack(&[("AI_AUTHOR_MODEL_CHAIN", chain)]).await;
    let big = "lorem ipsum ".repeat(35_000);
    let v = s.dry_run("author", &big).await;
    assert_eq!(v["servedBy"], "anthropic", "{}", v["attempts"]);
    assert_eq!(v["attempts"][0]["code"], "AI_PROVIDER_CONTEXT_OVERFLOW");
    assert_eq!(
        (v["attempts"][1]["outcome"].as_str(), v["attempts"][1]["detail"].as_str()),
        (Some("skipped"), Some("context_window_too_small"))
    );
    assert!(journal(&s.fleet, "openai").await["records"].as_array().unwrap().is_empty(), "gpt-4 never called");
    let (_, health) = s.get("/api/admin/ai-runtime/health").await;
    assert_eq!(health["summary"]["providersCoolingDown"], 0, "an overflow is not the provider's fault");
    assert_eq!(s.dry_run("author", "short").await["servedBy"], "deepseek");
}

#[tokio::test]
async fn total_outage_degrades_fails_orchestration_and_recovers() {
    let s = stack(&[("AI_PROVIDER_COOLDOWN_MS", "250")]).await;
    load_rules(&s.fleet, json!([{"id": "down", "fault": {"kind": "outage", "mode": "http_503"}}]));
    let v = s.dry_run("critic", "probe").await;
    assert_eq!(v["failed"], true);
    let codes: Vec<&str> = v["attempts"].as_array().unwrap().iter().map(|a| a["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["AI_PROVIDER_HTTP_ERROR"; 3]);
    let (_, health) = s.get("/api/admin/ai-runtime/health").await;
    assert_eq!(
        (health["summary"]["health"].as_str(), health["summary"]["rolesBlocked"].as_u64()),
        (Some("degraded"), Some(4))
    );
    let (status, body) =
        s.post("/api/admin/agent-gateway/orchestrate", json!({"draftId": "d-1", "channel": "release-check"})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "AI_RUNTIME_ALL_ATTEMPTS_FAILED");
    assert_eq!(body["session"]["status"], "failed");
    s.fleet.clear_rules();
    tokio::time::sleep(Duration::from_millis(270)).await;
    let (_, health) = s.get("/api/admin/ai-runtime/health").await;
    assert_eq!(health["summary"]["health"], "ok");
    assert_eq!(s.dry_run("critic", "probe").await["failed"], false);
}
