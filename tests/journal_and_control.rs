//! The journal and the control API: same seed, same journal; receipts count what fired; the
//! ring stays bounded; retry gaps are measured; bad rules are refused with the field named.

mod common;

use std::net::IpAddr;

use common::*;
use gatedrill::mock::config::{Dialect, FleetConfig};
use gatedrill::mock::{FleetOptions, ProviderFleet};
use serde_json::{Value, json};

/// Deterministic fields of a journal, in order.
async fn run_once(seed: u64) -> Vec<(u64, String, String, Option<u64>)> {
    let mut opts = FleetOptions::new(FleetConfig::embedded());
    opts.seed = seed;
    let f = fleet_with(opts).await;
    load_rules(
        &f,
        json!([
            {"id": "flaky", "fault": {"kind": "overloaded"}, "probability": 0.3, "match": {"provider": "anthropic"}},
            {"id": "every3", "fault": {"kind": "rate_limit", "retry_after": "1s"}, "every_nth": 3, "match": {"provider": "anthropic"}}
        ]),
    );
    for i in 0..30 {
        let d = Dialect::Anthropic;
        let b = body(d, "claude-haiku-4-5", false, None, &format!("prompt {i}"));
        request(&client(), f.url("anthropic").unwrap(), d, key(d), &b).send().await.unwrap();
    }
    let j = journal(&f, "anthropic").await;
    j["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["faults"].to_string(),
                r["body_hash"].as_str().unwrap().to_string(),
                r["status"].as_u64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn same_seed_same_journal_other_seed_other_faults() {
    let a = run_once(7).await;
    let b = run_once(7).await;
    assert_eq!(a, b);
    let c = run_once(8).await;
    assert_ne!(a.iter().map(|r| &r.1).collect::<Vec<_>>(), c.iter().map(|r| &r.1).collect::<Vec<_>>());
    let flaky = a.iter().filter(|r| r.1.contains("flaky")).count();
    assert!((3..=18).contains(&flaky), "about 30% of 30: {flaky}");
}

#[tokio::test]
async fn receipts_gap_and_fingerprint() {
    let f = fleet().await;
    load_rules(
        &f,
        json!([{"id": "never", "fault": {"kind": "auth_invalid"}, "match": {"model": "gpt-4"}}, {"id": "twice", "fault": {"kind": "overloaded"}, "times": 2}]),
    );
    for _ in 0..3 {
        chat(&f, Dialect::Openai, "openai", "gpt-5", false).await;
    }
    let j = journal(&f, "openai").await;
    let rules = j["rules"].as_array().unwrap();
    assert_eq!(
        (rules[0]["id"].as_str(), rules[0]["fired"].as_u64()),
        (Some("never"), Some(0)),
        "a planned fault that never fired is visible"
    );
    assert_eq!((rules[1]["matched"].as_u64(), rules[1]["fired"].as_u64()), (Some(3), Some(2)));
    let recs = j["records"].as_array().unwrap();
    assert!(recs[0]["gap_since_same_body_ms"].is_null());
    assert!(recs[1]["gap_since_same_body_ms"].as_f64().unwrap() >= 0.0, "same body again: a retry gap");
    let text = j.to_string();
    assert!(!text.contains(key(Dialect::Openai)), "the key never reaches the journal");
    assert!(recs[0]["key_fingerprint"].as_str().unwrap().starts_with("sha256:"));
}

#[tokio::test]
async fn journal_is_a_bounded_ring_and_pages() {
    let mut opts = FleetOptions::new(FleetConfig::embedded());
    opts.journal_capacity = 5;
    let f = fleet_with(opts).await;
    for _ in 0..8 {
        chat(&f, Dialect::Deepseek, "deepseek", "deepseek-chat", false).await;
    }
    let j = journal(&f, "deepseek").await;
    assert_eq!(j["records"].as_array().unwrap().len(), 5);
    assert_eq!((j["dropped"].as_u64(), j["next_seq"].as_u64()), (Some(3), Some(8)));
    let page = get_json(&f, "deepseek", "/_gatedrill/journal?since=6&limit=1").await;
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(page["records"][0]["seq"], 6);
    let bad = client().get(format!("{}/_gatedrill/journal?since=-1", f.url("deepseek").unwrap())).send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn bad_rules_are_refused_with_the_field_named() {
    let f = fleet().await;
    let r = add_rules(&f, "openai", json!([{"id": "x", "fault": {"kind": "meteor"}}])).await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("rules[0].fault") && msg.contains("stream_cut"), "{msg}");
    let r = add_rules(&f, "openai", json!([{"id": "x", "fault": {"kind": "stream_cut"}}])).await;
    assert!(r.text().await.unwrap().contains("after_events"));
    let r = add_rules(
        &f,
        "openai",
        json!([{"id": "x", "fault": {"kind": "overloaded"}, "match": {"provider": "anthropic"}}]),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(add_rules(&f, "openai", json!([{"id": "x", "fault": {"kind": "overloaded"}}])).await.status(), 201);
    assert_eq!(add_rules(&f, "openai", json!([{"id": "x", "fault": {"kind": "overloaded"}}])).await.status(), 409);
    let raw = client().post(format!("{}/_gatedrill/faults", f.url("openai").unwrap())).body("{").send().await.unwrap();
    assert_eq!(raw.status(), 400);
    // Reset clears rules and journal.
    let reset = client().post(format!("{}/_gatedrill/reset", f.url("openai").unwrap())).send().await.unwrap();
    assert_eq!(reset.status(), 200);
    let j = journal(&f, "openai").await;
    assert!(j["rules"].as_array().unwrap().is_empty() && j["records"].as_array().unwrap().is_empty());
    let h = get_json(&f, "openai", "/_gatedrill/health").await;
    assert_eq!((h["status"].as_str(), h["dialect"].as_str()), (Some("ok"), Some("openai")));
}

#[tokio::test]
async fn quotas_refuse_with_the_real_wait_and_refill() {
    let text = r#"
[[providers]]
name = "tight"
dialect = "openai"
api_keys = ["sk-gatedrill-openai-0001", "sk-gatedrill-openai-0002"]
quota = { requests_per_minute = 600, tokens_per_minute = 100000000 }
[[providers.models]]
id = "gpt-5"
context_window = 128000
max_output = 16384
input_price_per_mtok = 1.25
output_price_per_mtok = 10.0
latency = { ttft = "0ms", jitter = "0ms", tokens_per_second = 1000000.0 }
"#;
    let config: FleetConfig = gatedrill::input::parse_text(std::path::Path::new("tight.toml"), text).unwrap();
    let mut opts = FleetOptions::new(config);
    opts.bind_host = IpAddr::from([127, 0, 0, 1]);
    let f = ProviderFleet::start(opts).await.unwrap();
    let c = client();
    let d = Dialect::Openai;
    let b = body(d, "gpt-5", false, None, "hi");
    let mut refused = None;
    for _ in 0..700 {
        let r = request(&c, f.url("tight").unwrap(), d, key(d), &b).send().await.unwrap();
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("600 a minute runs out");
    // The bucket is per key: another key is still served while this one waits.
    let other = request(&c, f.url("tight").unwrap(), d, "sk-gatedrill-openai-0002", &b).send().await.unwrap();
    assert_eq!(other.status(), 200);
    let wait_ms: u64 = r.headers()["retry-after-ms"].to_str().unwrap().parse().unwrap();
    assert!(wait_ms <= 100, "one request refills every 100ms: {wait_ms}");
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "0");
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["error"]["code"].as_str(), e["error"]["type"].as_str()),
        (Some("rate_limit_exceeded"), Some("requests"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(wait_ms + 20)).await;
    let again = request(&c, f.url("tight").unwrap(), d, key(d), &b).send().await.unwrap();
    assert_eq!(again.status(), 200, "refilled after the wait it asked for");
}
