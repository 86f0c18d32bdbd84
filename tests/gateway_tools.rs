//! Tools through the reference gateway (seed 000, Playbook B): a role's tools and a dry-run's own
//! reach every provider in its dialect, the assembled calls come back, a broken tool call
//! (malformed arguments, a stream cut mid-arguments) fails over naming the tool, cached prompt
//! tokens are priced apart, and orchestration records tool calls in the session's events.

mod common;

use common::stack::stack;
use common::{journal, load_rules};
use serde_json::{Value, json};

const TOOLS: &[(&str, &str)] = &[("AI_MAKER_TOOLS", "search_docs,create_ticket")];

fn last_contract_tools(j: &Value) -> Value {
    j["records"].as_array().unwrap().last().unwrap()["contract"]["tools"].clone()
}

#[tokio::test]
async fn role_tools_pass_through_and_calls_come_back() {
    let s = stack(TOOLS).await;
    let v = s.dry_run("maker", "use search_docs to find the runbook").await;
    assert_eq!((v["failed"].as_bool(), v["servedBy"].as_str()), (Some(false), Some("openai")), "{v}");
    assert_eq!(v["toolsDeclared"], 2);
    let call = &v["toolCalls"][0];
    assert_eq!(call["name"], "search_docs");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert!(args["query"].is_string(), "{args}");
    assert_eq!(last_contract_tools(&journal(&s.fleet, "openai").await), json!(["search_docs", "create_ticket"]));

    // A role without tools declares none; a dry-run's own tools replace the role's.
    let plain = s.dry_run("author", "use search_docs").await;
    assert!(plain.get("toolCalls").is_none() && plain.get("toolsDeclared").is_none(), "{plain}");
    let body = json!({"role": "author", "prompt": "use lookup_order", "timeoutMs": 5000,
        "tools": [{"name": "lookup_order", "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}}}}]});
    let (status, own) = s.post("/api/admin/ai-runtime/dry-run", body).await;
    assert_eq!(status, 200);
    assert_eq!(own["toolCalls"][0]["name"], "lookup_order", "{own}");
    let bad = json!({"role": "author", "prompt": "x", "tools": [{"name": "has space"}]});
    assert_eq!(s.post("/api/admin/ai-runtime/dry-run", bad).await.0, 400);
}

#[tokio::test]
async fn broken_tool_calls_fail_over_naming_the_tool() {
    let s = stack(TOOLS).await;
    for (i, fault) in
        [json!({"kind": "tool_call_malformed"}), json!({"kind": "stream_cut", "after_events": 4})].iter().enumerate()
    {
        load_rules(
            &s.fleet,
            json!([{"id": format!("t{i}"), "fault": fault, "match": {"provider": "openai"}, "times": 1}]),
        );
        let v = s.dry_run("maker", &format!("case {i}: use create_ticket")).await;
        assert_eq!((v["failed"].as_bool(), v["servedBy"].as_str()), (Some(false), Some("anthropic")), "{fault}: {v}");
        let first = &v["attempts"][0];
        let code = if i == 0 { "AI_PROVIDER_TOOL_CALL_INVALID" } else { "AI_PROVIDER_STREAM_TRUNCATED" };
        assert_eq!(first["code"], code, "{v}");
        assert_eq!(first["failedTools"], json!(["create_ticket"]), "{v}");
        assert_eq!(v["toolCalls"][0]["name"], "create_ticket");
        // The fallback declared the same tools, in its own dialect.
        assert_eq!(last_contract_tools(&journal(&s.fleet, "anthropic").await), json!(["search_docs", "create_ticket"]));
        tokio::time::sleep(std::time::Duration::from_millis(250)).await; // the 200 ms cooldown
    }
}

#[tokio::test]
async fn a_split_tool_name_is_joined_not_failed_over() {
    let s = stack(TOOLS).await;
    load_rules(
        &s.fleet,
        json!([{"id": "split", "fault": {"kind": "tool_name_split"}, "match": {"provider": "openai"}, "times": 1}]),
    );
    let v = s.dry_run("maker", "use create_ticket").await;
    assert_eq!((v["servedBy"].as_str(), v["fallbackUsed"].as_bool()), (Some("openai"), Some(false)), "{v}");
    assert_eq!(v["toolCalls"][0]["name"], "create_ticket");
    let rec = &journal(&s.fleet, "openai").await["records"][0];
    assert_eq!(rec["faults"][0]["kind"], "tool_name_split", "the fault fired: {rec}");
}

#[tokio::test]
async fn orchestration_records_tool_calls_in_session_events() {
    let s = stack(TOOLS).await;
    let (status, v) = s.post("/api/admin/agent-gateway/orchestrate", json!({"draftId": "d-1", "channel": "ops"})).await;
    assert_eq!(status, 201, "{v}");
    let maker = v["roles"].as_array().unwrap().iter().find(|r| r["role"] == "maker").unwrap();
    assert_eq!(maker["toolsDeclared"], 2);
    let id = v["session"]["id"].as_str().unwrap();
    let (_, session) = s.get(&format!("/api/admin/agent-gateway/sessions/{id}/summary")).await;
    let text = session.to_string();
    assert!(text.contains("toolsDeclared"), "the maker's event records its tools: {text}");
}

#[tokio::test]
async fn cached_prompt_tokens_are_priced_apart() {
    let s = stack(&[]).await;
    let prompt = "Follow the runbook exactly and cite each section of it. ".repeat(120);
    let first = s.dry_run("author", &prompt).await;
    let second = s.dry_run("author", &prompt).await;
    assert!(first["usage"].get("cachedTokens").is_none(), "{first}");
    assert!(second["usage"]["cachedTokens"].as_u64().is_some_and(|c| c >= 1024), "{second}");
    assert!(second["costUsd"].as_f64().unwrap() < first["costUsd"].as_f64().unwrap());
}
