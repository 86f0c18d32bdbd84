//! The external-channel check: one wiremock double of the gateway per row of the runbook's
//! failure-mode table must produce exactly that mode; the reference gateway passes every
//! fixture, and fails in the ways the table predicts when misconfigured.

mod common;

use std::time::Duration;

use common::stack::{ADMIN_TOKEN, WEBHOOK_SECRET, stack};
use gatedrill::classify::FailureMode;
use gatedrill::drill::exchange::Exchanger;
use gatedrill::drill::external::{ChannelProbe, ChannelTrace, check_channel};
use gatedrill::secret::Redacted;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn probe() -> ChannelProbe {
    ChannelProbe {
        connector_id: "telegram_main".into(),
        channel: "telegram".into(),
        payload: json!({"message": {"chat": {"id": 42}}}),
        expected_external_session_id: "42".into(),
        required: true,
        stale_secret: false,
        expect_failure_mode: None,
    }
}

fn target(url: &str, secret: &str) -> Exchanger {
    Exchanger::new(url, Redacted(ADMIN_TOKEN.into()), Some(Redacted(secret.into())), Duration::from_millis(500))
}

async fn check(ex: &Exchanger, p: &ChannelProbe) -> ChannelTrace {
    check_channel(ex, p, Duration::from_millis(1500)).await.0
}

const APPLIED: &str = r#"{"ingestApplied": true, "sessionId": "s1", "externalSessionId": "42"}"#;
const SESSIONS: &str = r#"{"sessions": [{"id": "s1", "externalSessionId": "42", "channel": "telegram"}]}"#;
const TELEMETRY: &str =
    r#"{"connectors": [{"connectorId": "telegram_main", "channel": "telegram", "events": 3, "accepted": 3}]}"#;

/// A gateway double answering each of the three calls as given.
async fn double(ingest: ResponseTemplate, sessions: ResponseTemplate, telemetry: ResponseTemplate) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST")).and(path("/api/agent-gateway/adapters/ingest")).respond_with(ingest).mount(&s).await;
    Mock::given(method("GET")).and(path("/api/admin/agent-gateway/sessions")).respond_with(sessions).mount(&s).await;
    Mock::given(method("GET")).and(path("/api/admin/agent-gateway/telemetry")).respond_with(telemetry).mount(&s).await;
    s
}

fn json_body(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

#[tokio::test]
async fn each_row_of_the_runbook_table_yields_its_mode() {
    let ok = || (json_body(201, APPLIED), json_body(200, SESSIONS), json_body(200, TELEMETRY));
    let rows: Vec<(Option<FailureMode>, (ResponseTemplate, ResponseTemplate, ResponseTemplate))> = vec![
        (None, ok()),
        (
            Some(FailureMode::IngestHttpError),
            (json_body(401, r#"{"error":{"code":"AGENT_GATEWAY_WEBHOOK_UNAUTHORIZED"}}"#), ok().1, ok().2),
        ),
        (
            Some(FailureMode::IngestHttpError),
            (ResponseTemplate::new(201).set_delay(Duration::from_secs(3)), ok().1, ok().2),
        ),
        (
            Some(FailureMode::IngestNotApplied),
            (json_body(201, r#"{"ingestApplied": false, "rejectReason": "profile_conflict:channel"}"#), ok().1, ok().2),
        ),
        (Some(FailureMode::SessionsLookupError), (ok().0, json_body(500, "{}"), ok().2)),
        (
            Some(FailureMode::FallbackSessionMismatch),
            (ok().0, json_body(200, r#"{"sessions": [{"id": "s1", "externalSessionId": "-100"}]}"#), ok().2),
        ),
        (Some(FailureMode::TelemetryHttpError), (ok().0, ok().1, json_body(503, "{}"))),
        (Some(FailureMode::TelemetryNoConnectorEvents), (ok().0, ok().1, json_body(200, r#"{"connectors": []}"#))),
        (
            Some(FailureMode::TelemetryZeroAccepted),
            (
                ok().0,
                ok().1,
                json_body(
                    200,
                    r#"{"connectors": [{"connectorId": "telegram_main", "channel": "telegram", "events": 2, "accepted": 0}]}"#,
                ),
            ),
        ),
        (Some(FailureMode::Unknown), (ResponseTemplate::new(201).set_body_string("created"), ok().1, ok().2)),
    ];
    for (want, (i, s, t)) in rows {
        let server = double(i, s, t).await;
        let trace = check(&target(&server.uri(), WEBHOOK_SECRET), &probe()).await;
        assert_eq!(trace.failure_mode, want, "{:#?}", trace.requests);
        assert_eq!(trace.passed, want.is_none());
    }
}

#[tokio::test]
async fn the_probe_sends_the_secret_and_token_but_never_traces_them() {
    let server = double(json_body(201, APPLIED), json_body(200, SESSIONS), json_body(200, TELEMETRY)).await;
    let trace = check(&target(&server.uri(), WEBHOOK_SECRET), &probe()).await;
    let got = server.received_requests().await.unwrap();
    let ingest = got.iter().find(|r| r.url.path().ends_with("/ingest")).unwrap();
    assert_eq!(ingest.headers.get("x-agent-gateway-webhook-secret").unwrap(), WEBHOOK_SECRET);
    let body: Value = serde_json::from_slice(&ingest.body).unwrap();
    assert!(body.get("externalSessionId").is_none(), "the probe relies on fallback extraction");
    assert!(
        got.iter()
            .filter(|r| r.method.as_str() == "GET")
            .all(|r| r.headers.get("x-admin-token").unwrap() == ADMIN_TOKEN)
    );
    let text = serde_json::to_string(&trace).unwrap();
    assert!(!text.contains(WEBHOOK_SECRET) && !text.contains(ADMIN_TOKEN));
    assert_eq!(trace.requests.len(), 3);
}

#[tokio::test]
async fn the_reference_gateway_passes_every_fixture_and_fails_as_predicted() {
    let profiles = r#"{"telegram_main": {"channel": "telegram"}, "slack_main": "slack", "discord_main": "discord"}"#;
    let s = stack(&[
        ("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", profiles),
        ("AGENT_GATEWAY_INGEST_ENFORCE_CONNECTOR_PROFILE", "true"),
    ])
    .await;
    for f in gatedrill::scenario::steps::connector_fixtures(std::path::Path::new("mocks/connectors")).unwrap() {
        let payload =
            serde_json::from_str(&std::fs::read_to_string(format!("mocks/connectors/{}", f.file)).unwrap()).unwrap();
        let p = ChannelProbe {
            connector_id: format!("{}_main", f.channel),
            channel: f.channel.clone(),
            payload,
            expected_external_session_id: f.expected_external_session_id.clone(),
            required: true,
            stale_secret: false,
            expect_failure_mode: None,
        };
        let trace = check(&target(&s.gw.url, WEBHOOK_SECRET), &p).await;
        assert_eq!(trace.failure_mode, None, "{}: {:#?}", f.file, trace.requests);
        assert_eq!(trace.resolved_external_session_id.as_deref(), Some(f.expected_external_session_id.as_str()));
    }
    let wrong_secret = check(&target(&s.gw.url, "stale-secret"), &probe()).await;
    assert_eq!(wrong_secret.failure_mode, Some(FailureMode::IngestHttpError));
    let conflict = ChannelProbe { channel: "slack".into(), ..probe() };
    let trace = check(&target(&s.gw.url, WEBHOOK_SECRET), &conflict).await;
    assert_eq!(trace.failure_mode, Some(FailureMode::IngestNotApplied), "strict profile conflict");
    let dead = check(&target("http://127.0.0.1:9", WEBHOOK_SECRET), &probe()).await;
    assert_eq!(dead.failure_mode, Some(FailureMode::IngestHttpError), "no gateway at all");
    assert!(dead.requests[0].transport_failure.is_some());
}
