//! Conduct judged from the client's side (DESIGN.md, "Conduct findings"): against a gateway at
//! a URL, whose providers gatedrill does not run, `retry_after_dropped` is still judged from
//! what the client got, and every rule that needs the providers' journal is recorded as not
//! judged, never as passed. The gateway is a wiremock double of an OpenAI-compatible gateway.

use std::process::Command;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

const SCENARIO: &str = "name = \"gateway_429\"\ndescription = \"d\"\nplaybook = \"provider_failover\"\n\n[[steps]]\nkind = \"chat\"\nmodel = \"author\"\nexpect = { status = 429 }\n";

/// A gateway answering every chat completion 429, with or without a Retry-After.
async fn gateway(retry_after: bool) -> MockServer {
    let s = MockServer::start().await;
    let mut answer = ResponseTemplate::new(429).set_body_json(serde_json::json!({
        "error": {"message": "rate limited", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}
    }));
    if retry_after {
        answer = answer.insert_header("retry-after", "2");
    }
    Mock::given(method("POST")).and(path("/v1/chat/completions")).respond_with(answer).mount(&s).await;
    s
}

/// Runs `scenario` against `url`; (exit code, stdout, the trace).
async fn run(name: &str, url: String, scenario: String) -> (Option<i32>, String, Value) {
    let dir = common::artifacts::temp_dir("conduct_client_side", name);
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("out");
    let r = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            Command::new(env!("CARGO_BIN_EXE_gatedrill"))
                .args(["run", "--progress", "never", "--target", &url, "--out"])
                .arg(&out)
                .arg(&file)
                .env("ADMIN_API_TOKEN", "conduct-client-side-token")
                .env_remove("GITHUB_STEP_SUMMARY")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let trace = serde_json::from_str(&std::fs::read_to_string(out.join("gateway_429/trace.json")).unwrap()).unwrap();
    (r.status.code(), String::from_utf8_lossy(&r.stdout).into_owned(), trace)
}

fn findings(trace: &Value) -> Vec<&str> {
    trace["findings"].as_array().unwrap().iter().map(|f| f["finding"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_without_retry_after_is_retry_after_dropped() {
    let gw = gateway(false).await;
    let (code, stdout, trace) = run("dropped", gw.uri(), SCENARIO.to_string()).await;
    assert_eq!(code, Some(1), "an unexpected finding fails the scenario: {stdout}");
    assert_eq!(findings(&trace), ["retry_after_dropped"], "{trace}");
    let detail = trace["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("chat-1-1") && detail.contains("step 1"), "names the request: {detail}");
    // Expected, it passes.
    let expected = format!("{SCENARIO}\n[expect]\nfindings = [\"retry_after_dropped\"]\n");
    let (code, stdout, _) = run("expected", gw.uri(), expected).await;
    assert_eq!(code, Some(0), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_passes_and_journal_rules_are_not_judged() {
    let gw = gateway(true).await;
    let (code, stdout, trace) = run("kept", gw.uri(), SCENARIO.to_string()).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(findings(&trace).is_empty(), "{trace}");
    let not_judged: Vec<&str> =
        trace["not_judged"].as_array().unwrap().iter().map(|n| n["finding"].as_str().unwrap()).collect();
    for rule in
        ["cooldown_violated", "hung_provider_not_cooled", "slow_failover", "premature_give_up", "failover_skipped"]
    {
        assert!(not_judged.contains(&rule), "{rule} must be recorded as not judged: {not_judged:?}");
    }
    assert!(!not_judged.contains(&"retry_after_dropped"), "judged from the client's side");
}
