//! Connector ingest against the reference gateway: each channel's fallback extraction on real
//! webhook shapes (`mocks/connectors/`), explicit values winning over profiles, strict-mode
//! conflicts not applied, a wrong webhook secret refused, and telemetry counting all of it.

mod common;

use common::stack::{Stack, WEBHOOK_SECRET, stack};
use serde_json::{Value, json};

const PROFILES: &str = r#"{
  "telegram_main": {"adapter": "external_webhook", "channel": "telegram", "fromRole": "observer", "toRole": "author", "type": "observer_message"},
  "slack_main": "slack",
  "discord_main": {"channel": "discord", "toRole": "critic"}
}"#;

use gatedrill::scenario::steps::ConnectorFixture as Fixture;

fn fixtures() -> Vec<(Fixture, Value)> {
    gatedrill::scenario::steps::connector_fixtures(std::path::Path::new("mocks/connectors"))
        .unwrap()
        .into_iter()
        .map(|f| {
            let payload =
                serde_json::from_str(&std::fs::read_to_string(format!("mocks/connectors/{}", f.file)).unwrap())
                    .unwrap();
            (f, payload)
        })
        .collect()
}

async fn with_profiles(strict: bool) -> Stack {
    stack(&[
        ("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", PROFILES),
        ("AGENT_GATEWAY_INGEST_ENFORCE_CONNECTOR_PROFILE", if strict { "true" } else { "false" }),
    ])
    .await
}

#[tokio::test]
async fn every_fixture_resolves_its_channels_session_by_fallback() {
    let s = with_profiles(false).await;
    for (f, payload) in fixtures() {
        let connector = format!("{}_main", f.channel);
        let (status, v) = s.ingest(WEBHOOK_SECRET, json!({"connectorId": connector, "payload": payload})).await;
        assert_eq!(status, 201, "{}: {v}", f.file);
        assert_eq!(v["ingestApplied"], true, "{}: {v}", f.file);
        assert_eq!(v["externalSessionId"], f.expected_external_session_id.as_str(), "{}", f.file);
        assert_eq!(v["externalSessionIdSource"], "fallback");
        assert_eq!(v["fieldSources"]["channel"], "profile");
        // The admin sessions endpoint shows the same mapping.
        let (_, list) = s.get("/api/admin/agent-gateway/sessions?source=db&limit=100").await;
        let found = list["sessions"].as_array().unwrap().iter().find(|x| x["id"] == v["sessionId"]).cloned().unwrap();
        assert_eq!(found["externalSessionId"], f.expected_external_session_id.as_str());
        assert_eq!(found["channel"], f.channel.as_str());
    }
    let (_, t) = s.get("/api/admin/agent-gateway/telemetry?hours=24&limit=200").await;
    assert_eq!((t["totals"]["events"].as_u64(), t["totals"]["accepted"].as_u64()), (Some(6), Some(6)));
    assert!(t["connectorProfiles"]["slack_main"]["channel"] == "slack");
}

#[tokio::test]
async fn the_same_chat_maps_to_the_same_session_and_explicit_ids_win() {
    let s = with_profiles(false).await;
    let (f, payload) = fixtures().into_iter().next().unwrap();
    let body = json!({"connectorId": "telegram_main", "payload": payload});
    let (_, a) = s.ingest(WEBHOOK_SECRET, body.clone()).await;
    let (_, b) = s.ingest(WEBHOOK_SECRET, body).await;
    assert_eq!(a["sessionId"], b["sessionId"]);
    assert_eq!((a["sessionCreated"].as_bool(), b["sessionCreated"].as_bool()), (Some(true), Some(false)));
    assert_eq!(b["eventSeq"], 2);
    assert_eq!(a["externalSessionId"], f.expected_external_session_id.as_str());
    let (_, c) = s
        .ingest(
            WEBHOOK_SECRET,
            json!({"connectorId": "telegram_main", "externalSessionId": "thread-9", "toRole": "judge", "payload": {}}),
        )
        .await;
    assert_eq!((c["externalSessionIdSource"].as_str(), c["toRole"].as_str()), (Some("explicit"), Some("judge")));
}

#[tokio::test]
async fn strict_mode_conflict_is_not_applied_and_counted() {
    let s = with_profiles(true).await;
    let (status, v) = s
        .ingest(
            WEBHOOK_SECRET,
            json!({"connectorId": "telegram_main", "channel": "slack", "payload": {"event": {"channel": "C1"}}}),
        )
        .await;
    assert_eq!(status, 201, "runbook: ingestApplied=false despite 201");
    assert_eq!(
        (v["ingestApplied"].as_bool(), v["rejectReason"].as_str()),
        (Some(false), Some("profile_conflict:channel"))
    );
    let (_, t) = s.get("/api/admin/agent-gateway/telemetry?hours=24").await;
    assert_eq!((t["totals"]["events"].as_u64(), t["totals"]["accepted"].as_u64()), (Some(1), Some(0)));
    assert_eq!(t["connectors"][0]["rejectReasons"]["profile_conflict:channel"], 1);
    // Without a conflict, strict mode applies as usual.
    let (_, ok) = s
        .ingest(WEBHOOK_SECRET, json!({"connectorId": "telegram_main", "payload": {"message": {"chat": {"id": 5}}}}))
        .await;
    assert_eq!(ok["ingestApplied"], true);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_shows_in_telemetry() {
    let s = with_profiles(false).await;
    let (status, v) =
        s.ingest("not-the-secret", json!({"connectorId": "slack_main", "payload": {"event": {"channel": "C1"}}})).await;
    assert_eq!((status, v["error"]["code"].as_str()), (401, Some("AGENT_GATEWAY_WEBHOOK_UNAUTHORIZED")));
    let (_, t) = s.get("/api/admin/agent-gateway/telemetry?hours=24").await;
    assert_eq!(t["totals"]["accepted"], 0);
    assert_eq!(t["connectors"][0]["rejectReasons"]["unauthorized"], 1);
    assert!(!t.to_string().contains(WEBHOOK_SECRET));
    let (_, a) = s.get("/api/admin/agent-gateway/adapters?hours=24").await;
    assert_eq!(a["totals"]["rejected"], 1);
}

#[tokio::test]
async fn missing_channel_and_unextractable_ids_are_rejected_with_reasons() {
    let s = with_profiles(false).await;
    let (_, v) = s.ingest(WEBHOOK_SECRET, json!({"connectorId": "unknown", "payload": {}})).await;
    assert_eq!(v["rejectReason"], "missing_channel");
    let (_, v) =
        s.ingest(WEBHOOK_SECRET, json!({"connectorId": "slack_main", "payload": {"text": "no channel here"}})).await;
    assert_eq!(v["rejectReason"], "missing_external_session_id");
}
