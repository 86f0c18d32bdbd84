//! The reference gateway's admin API as the runbook uses it: the token is enforced, orchestration
//! honours its flag, sessions can be listed, inspected, compacted and closed, and bad input gets
//! a JSON error, never a panic.

mod common;

use common::client;
use common::stack::{ADMIN_TOKEN, stack};
use serde_json::{Value, json};

#[tokio::test]
async fn admin_routes_require_the_token() {
    let s = stack(&[]).await;
    let c = client();
    for path in [
        "/api/admin/ai-runtime/health",
        "/api/admin/ai-runtime/profiles",
        "/api/admin/agent-gateway/sessions?source=db&limit=20",
        "/api/admin/agent-gateway/telemetry?hours=24&limit=200",
        "/api/admin/agent-gateway/adapters?hours=24",
    ] {
        let url = format!("{}{path}", s.gw.url);
        let none = c.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{path}");
        let body: Value = none.json().await.unwrap();
        assert_eq!(body["error"]["code"], "ADMIN_UNAUTHORIZED");
        assert_eq!(c.get(&url).header("x-admin-token", "wrong").send().await.unwrap().status(), 401, "{path}");
        assert_eq!(c.get(&url).header("x-admin-token", ADMIN_TOKEN).send().await.unwrap().status(), 200, "{path}");
    }
    let dry = c
        .post(format!("{}/api/admin/ai-runtime/dry-run", s.gw.url))
        .json(&json!({"role": "critic"}))
        .send()
        .await
        .unwrap();
    assert_eq!(dry.status(), 401);
    assert_eq!(c.get(format!("{}/health", s.gw.url)).send().await.unwrap().status(), 200);
    let ready: Value = c.get(format!("{}/ready", s.gw.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["ready"], true);
}

#[tokio::test]
async fn profiles_show_chains_and_endpoints_but_no_key() {
    let s = stack(&[]).await;
    let (status, v) = s.get("/api/admin/ai-runtime/profiles").await;
    assert_eq!(status, 200);
    assert_eq!(v["roles"]["judge"][0], json!({"provider": "openai", "model": "gpt-5"}));
    assert_eq!(v["providers"].as_array().unwrap().len(), 3);
    let text = v.to_string();
    for k in ["sk-gatedrill-openai-0001", "sk-ant-gatedrill-0001", "sk-gatedrill-deepseek-0001", ADMIN_TOKEN] {
        assert!(!text.contains(k), "a secret in profiles: {k}");
    }
}

#[tokio::test]
async fn orchestration_disabled_says_so() {
    let s = stack(&[("AGENT_ORCHESTRATION_ENABLED", "false")]).await;
    let (status, v) =
        s.post("/api/admin/agent-gateway/orchestrate", json!({"draftId": "d-9", "channel": "release-check"})).await;
    assert_eq!(status, 503);
    assert_eq!(v["error"]["code"], "AGENT_ORCHESTRATION_DISABLED");
}

#[tokio::test]
async fn orchestrate_then_list_inspect_compact_close() {
    let s = stack(&[]).await;
    let (status, v) =
        s.post("/api/admin/agent-gateway/orchestrate", json!({"draftId": "d-1", "channel": "release-check"})).await;
    assert_eq!(status, 201, "{v}");
    let id = v["session"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["session"]["status"], "closed", "a completed orchestration closes its session");
    assert_eq!(v["roles"].as_array().unwrap().len(), 4);
    assert!(v["costUsd"].as_f64().unwrap() > 0.0);

    let (_, list) = s.get("/api/admin/agent-gateway/sessions?source=db&limit=20").await;
    assert_eq!((list["source"].as_str(), list["count"].as_u64()), (Some("db"), Some(1)));
    assert_eq!(list["sessions"][0]["id"], id.as_str());
    let (_, active) = s.get("/api/admin/agent-gateway/sessions?source=db&status=active").await;
    assert_eq!(active["count"], 0);

    let (status, st) = s.get(&format!("/api/admin/agent-gateway/sessions/{id}/status?source=db")).await;
    assert_eq!(status, 200);
    assert_eq!(st["session"]["eventCount"], 6, "started, four roles, completed");
    assert!(st["session"]["idleMs"].is_u64());
    let (_, sum) = s.get(&format!("/api/admin/agent-gateway/sessions/{id}/summary?source=db")).await;
    assert_eq!(sum["recentEventTypes"]["role_completed"], 4);

    let (status, c) =
        s.post(&format!("/api/admin/agent-gateway/sessions/{id}/compact"), json!({"keepRecent": 2})).await;
    assert_eq!(status, 200);
    assert_eq!((c["removed"].as_u64(), c["session"]["compactedEvents"].as_u64()), (Some(4), Some(4)));
    let (status, closed) = s.post(&format!("/api/admin/agent-gateway/sessions/{id}/close"), Value::Null).await;
    assert_eq!((status, closed["session"]["status"].as_str()), (200, Some("closed")));

    for path in ["status", "summary"] {
        let (status, nf) = s.get(&format!("/api/admin/agent-gateway/sessions/gs_nope/{path}")).await;
        assert_eq!((status, nf["error"]["code"].as_str()), (404, Some("AGENT_GATEWAY_SESSION_NOT_FOUND")));
    }
    let (status, _) = s.post("/api/admin/agent-gateway/sessions/gs_nope/close", Value::Null).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let s = stack(&[]).await;
    let c = client();
    let url = format!("{}/api/admin/ai-runtime/dry-run", s.gw.url);
    let send = |body: Vec<u8>| {
        c.post(&url).header("x-admin-token", ADMIN_TOKEN).header("content-type", "application/json").body(body).send()
    };
    let r = send(b"{\"role\": ".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "INVALID_REQUEST_BODY");
    let r = send(br#"{"role": "poet"}"#.to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "AI_RUNTIME_UNKNOWN_ROLE");
    let r = send(br#"{"role": 5}"#.to_vec()).await.unwrap();
    let e = r.json::<Value>().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().starts_with("role: "), "names the field: {e}");
    let r = send(vec![b' '; 2 * 1024 * 1024]).await.unwrap();
    assert_eq!(r.status(), 413);
    let (status, _) = s.get("/api/admin/agent-gateway/sessions?limit=lots").await;
    assert_eq!(status, 400);
    let (status, _) = s.get("/api/admin/agent-gateway/sessions?status=zombie").await;
    assert_eq!(status, 400);
}

#[test]
fn invalid_configuration_fails_fast_naming_the_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["gateway", "serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .env("ADMIN_API_TOKEN", "t")
        .env("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", "{\"telegram_main\": 7}")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES") && err.contains("telegram_main"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["gateway", "serve", "--bind", "127.0.0.1:0"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ADMIN_API_TOKEN"));
}

#[tokio::test]
async fn http_adapters_disabled_fails_every_attempt_and_degrades() {
    let s = stack(&[("AI_RUNTIME_USE_HTTP_ADAPTERS", "false")]).await;
    let v = s.dry_run("author", "probe").await;
    assert_eq!(v["failed"], true);
    assert_eq!(v["attempts"][0]["detail"], "http_adapters_disabled");
    assert!(
        common::journal(&s.fleet, "openai").await["records"].as_array().unwrap().is_empty(),
        "no provider was called"
    );
    let (_, h) = s.get("/api/admin/ai-runtime/health").await;
    assert_eq!(
        (h["summary"]["health"].as_str(), h["summary"]["httpAdapters"].as_bool()),
        (Some("degraded"), Some(false))
    );
    let cooling = h["providers"].as_array().unwrap().iter().find(|p| p["coolingDown"] == true).unwrap();
    assert!(humantime::parse_rfc3339(cooling["cooldownUntil"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn every_admin_path_needs_the_token_before_routing() {
    let s = stack(&[]).await;
    for path in ["/api/admin/nope", "/api/admin/ai-runtime/secret-route", "/api/admin"] {
        let r = client().get(format!("{}{path}", s.gw.url)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
    }
    let r = client().get(format!("{}/api/admin/nope", s.gw.url)).header("x-admin-token", ADMIN_TOKEN);
    assert_eq!(r.send().await.unwrap().status().as_u16(), 404, "with the token, an unknown route is a 404");
}

/// The reference gateway's answers parse as the wire types the drill reads (the two must never
/// drift: the drill would then fail against its own gateway).
#[tokio::test]
async fn every_answer_parses_as_the_drills_wire_types() {
    use gatedrill::wire::{
        DryRunAnswer, IngestAnswer, RuntimeHealth, SessionsList, TelemetryAnswer, runtime::Profiles,
    };
    let s = stack(&[("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", r#"{"telegram_main":"telegram"}"#)]).await;
    let dry = s.dry_run("critic", "wire check").await;
    let d: DryRunAnswer = serde_json::from_value(dry).unwrap();
    assert!(!d.failed && d.served_by.is_some() && d.fallback_used == Some(false));
    let body = json!({"connectorId": "telegram_main", "payload": {"message": {"chat": {"id": 42}}}});
    let (status, v) = s.ingest(common::stack::WEBHOOK_SECRET, body).await;
    assert_eq!(status, 201, "{v}");
    let i: IngestAnswer = serde_json::from_value(v).unwrap();
    assert!(i.ingest_applied && i.session_id.is_some());
    let (_, v) = s.get("/api/admin/ai-runtime/health").await;
    serde_json::from_value::<RuntimeHealth>(v).unwrap();
    let (_, v) = s.get("/api/admin/ai-runtime/profiles").await;
    assert!(serde_json::from_value::<Profiles>(v).unwrap().roles.contains_key("critic"));
    let (_, v) = s.get("/api/admin/agent-gateway/sessions?source=db&status=active&limit=10").await;
    let list: SessionsList = serde_json::from_value(v).unwrap();
    assert_eq!(list.sessions[0].external_session_id.as_ref().map(|e| e.as_text()), Some("42".into()));
    let (_, v) = s.get("/api/admin/agent-gateway/telemetry?hours=24&limit=200").await;
    let t: TelemetryAnswer = serde_json::from_value(v).unwrap();
    assert_eq!(t.counts("telegram_main", "telegram"), (1, 1));
}
