//! Golden shapes of tool calling in every dialect (../shared/WIRE.md "Agent
//! traffic"): plain answers, streams assembled as an SDK's helper does, parallel calls, tool
//! results in history, the per-provider policy, and the tool faults.

mod common;

use common::*;
use gatedrill::mock::assemble::{ToolCallVerdict, ToolStream, plain_calls};
use gatedrill::mock::config::{Dialect, FleetConfig};
use gatedrill::mock::dialect::Api;
use gatedrill::mock::tools::ToolPolicy;
use gatedrill::mock::{FleetOptions, ProviderFleet};
use serde_json::{Value, json};

fn weather_schema() -> Value {
    json!({"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["city", "unit"]})
}

fn docs_schema() -> Value {
    json!({"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}})
}

/// A request declaring `get_weather` and `search_docs`, in the dialect's tool shape.
fn tool_body(d: Dialect, model: &str, stream: bool, prompt: &str) -> Value {
    let mut b = body(d, model, stream, None, prompt);
    b["tools"] = match d {
        Dialect::Anthropic => json!([
            {"name": "get_weather", "description": "Weather", "input_schema": weather_schema()},
            {"name": "search_docs", "description": "Docs", "input_schema": docs_schema()}]),
        _ => json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": weather_schema()}},
            {"type": "function", "function": {"name": "search_docs", "description": "Docs", "parameters": docs_schema()}}]),
    };
    b
}

async fn send(f: &ProviderFleet, d: Dialect, name: &str, b: &Value) -> reqwest::Response {
    request(&client(), f.url(name).unwrap(), d, key(d), b).send().await.unwrap()
}

/// Streams an answer and assembles its tool calls.
async fn stream_calls(f: &ProviderFleet, d: Dialect, name: &str, b: &Value) -> (ToolStream, Vec<Value>) {
    let resp = send(f, d, name, b).await;
    assert_eq!(resp.status(), 200);
    let (bytes, _) = read_stream(resp).await;
    let (frames, _) = frames(&bytes);
    let mut ts = ToolStream::default();
    let mut payloads = Vec::new();
    for fr in frames {
        if let Some(v) = fr.data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) {
            ts.feed(d, Api::Chat, &v);
            payloads.push(v);
        }
    }
    (ts, payloads)
}

fn assert_weather_args(args: &str) {
    let v: Value = serde_json::from_str(args).unwrap_or_else(|e| panic!("{args}: {e}"));
    assert!(v["city"].is_string(), "{v}");
    assert!(["celsius", "fahrenheit"].contains(&v["unit"].as_str().unwrap()), "{v}");
    assert!((1..=5).contains(&v["days"].as_i64().unwrap()), "{v}");
}

#[tokio::test]
async fn openai_plain_tool_call_has_the_documented_shape() {
    let f = fleet().await;
    for (d, name, model) in [DIALECTS[0], DIALECTS[2]] {
        let r = send(&f, d, name, &tool_body(d, model, false, "what is the weather? use get_weather")).await;
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        let choice = &b["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{b}");
        let content = &choice["message"]["content"];
        assert!(if d == Dialect::Openai { content.is_null() } else { content == "" }, "{b}");
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 1);
        assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        assert_weather_args(calls[0]["function"]["arguments"].as_str().unwrap());
        let u = &b["usage"];
        assert_eq!(u["total_tokens"], u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap());
        let rec = last_attempt(&f, name).await;
        assert_eq!(rec["tool_calls"], json!(["get_weather"]));
        assert_eq!(rec["tool_arguments_valid"], true);
        assert_eq!(rec["contract"]["tools"], json!(["get_weather", "search_docs"]));
    }
}

#[tokio::test]
async fn parallel_calls_and_deterministic_arguments() {
    let f = fleet().await;
    let (d, name, model) = DIALECTS[0];
    let b = tool_body(d, model, false, "call get_weather and search_docs");
    let first: Value = send(&f, d, name, &b).await.json().await.unwrap();
    let again: Value = send(&f, d, name, &b).await.json().await.unwrap();
    let calls = plain_calls(d, Api::Chat, &first);
    assert_eq!(calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["get_weather", "search_docs"]);
    assert_ne!(calls[0].id, calls[1].id);
    assert_eq!(calls, plain_calls(d, Api::Chat, &again), "same seed and body, same calls");
    let mut serial = b.clone();
    serial["parallel_tool_calls"] = json!(false);
    let one: Value = send(&f, d, name, &serial).await.json().await.unwrap();
    assert_eq!(plain_calls(d, Api::Chat, &one).len(), 1);
}

#[tokio::test]
async fn openai_stream_sends_id_and_name_first_then_argument_fragments() {
    let f = fleet().await;
    for (d, name, model) in [DIALECTS[0], DIALECTS[2]] {
        let b = tool_body(d, model, true, "use get_weather and search_docs");
        let (ts, payloads) = stream_calls(&f, d, name, &b).await;
        assert_eq!(ts.finish.as_deref(), Some("tool_calls"));
        assert_eq!(ts.verdict(), ToolCallVerdict::Valid);
        assert_eq!(ts.calls.len(), 2);
        assert_weather_args(&ts.calls[&0].arguments);
        let first = &payloads[0]["choices"][0]["delta"];
        assert_eq!(first["role"], "assistant");
        assert!(first["content"].is_null());
        assert_eq!(first["tool_calls"][0]["function"]["arguments"], "");
        // Only the first delta of each index has the id and the name.
        let mut seen = std::collections::HashSet::new();
        let mut fragments = 0;
        for p in &payloads {
            for tc in p["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
                let first_of_index = seen.insert(tc["index"].as_u64().unwrap());
                assert_eq!(tc.get("id").is_some(), first_of_index, "{tc}");
                assert_eq!(tc["function"].get("name").is_some(), first_of_index, "{tc}");
                fragments += usize::from(!first_of_index);
            }
        }
        let usage = &payloads.last().unwrap()["usage"];
        assert_eq!(usage["completion_tokens"].as_u64().unwrap() as usize, fragments);
    }
}

#[tokio::test]
async fn anthropic_tool_use_plain_and_streamed() {
    let f = fleet().await;
    let (d, name, model) = DIALECTS[1];
    let b: Value = send(&f, d, name, &tool_body(d, model, false, "use get_weather")).await.json().await.unwrap();
    assert_eq!(b["stop_reason"], "tool_use");
    let block = &b["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_01"));
    assert_eq!(block["name"], "get_weather");
    assert_weather_args(&block["input"].to_string());

    let (ts, payloads) = stream_calls(&f, d, name, &tool_body(d, model, true, "use get_weather")).await;
    assert_eq!(ts.finish.as_deref(), Some("tool_use"));
    assert_eq!(ts.verdict(), ToolCallVerdict::Valid);
    assert_weather_args(&ts.calls[&0].arguments);
    let start = payloads.iter().find(|p| p["type"] == "content_block_start").unwrap();
    assert_eq!(start["content_block"]["input"], json!({}));
    assert_eq!(start["content_block"]["type"], "tool_use");
    let kinds: Vec<&str> = payloads.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.last(), Some(&"message_stop"));
    assert!(kinds.contains(&"content_block_stop"));
    assert!(payloads.iter().any(|p| p["delta"]["type"] == "input_json_delta"));
}

#[tokio::test]
async fn a_tool_result_in_history_gets_a_text_answer() {
    let f = fleet().await;
    let (d, name, model) = DIALECTS[0];
    let mut b = tool_body(d, model, false, "use get_weather");
    b["messages"] = json!([
        {"role": "user", "content": "use get_weather"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"}]);
    let r: Value = send(&f, d, name, &b).await.json().await.unwrap();
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
    assert!(r["choices"][0]["message"]["content"].is_string());

    let (d, name, model) = DIALECTS[1];
    let mut b = tool_body(d, model, false, "use get_weather");
    b["messages"] = json!([
        {"role": "user", "content": "use get_weather"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]}]);
    let r: Value = send(&f, d, name, &b).await.json().await.unwrap();
    assert_eq!(r["stop_reason"], "end_turn", "{r}");
}

#[tokio::test]
async fn tool_choice_and_the_provider_policy_decide() {
    let f = fleet().await;
    let (d, name, model) = DIALECTS[0];
    let mut b = tool_body(d, model, false, "hello");
    let r: Value = send(&f, d, name, &b).await.json().await.unwrap();
    assert_eq!(r["choices"][0]["finish_reason"], "stop", "not asked: words");
    b["tool_choice"] = json!("required");
    let r: Value = send(&f, d, name, &b).await.json().await.unwrap();
    assert_eq!(r["choices"][0]["finish_reason"], "tool_calls");
    b["tool_choice"] = json!({"type": "function", "function": {"name": "search_docs"}});
    let r: Value = send(&f, d, name, &b).await.json().await.unwrap();
    assert_eq!(r["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "search_docs");
    b["tool_choice"] = json!("sometimes");
    assert_eq!(send(&f, d, name, &b).await.status(), 400);

    let mut config = FleetConfig::embedded();
    config.providers.iter_mut().for_each(|p| p.tool_calls = ToolPolicy::Always);
    let always = fleet_with(FleetOptions::new(config)).await;
    let (d, name, model) = DIALECTS[1];
    let r: Value = send(&always, d, name, &tool_body(d, model, false, "hello")).await.json().await.unwrap();
    assert_eq!(r["stop_reason"], "tool_use");
}

#[tokio::test]
async fn tool_call_malformed_and_tool_name_split() {
    let f = fleet().await;
    for (d, name, model) in DIALECTS {
        load_rules(
            &f,
            json!([{"id": "bad-args", "fault": {"kind": "tool_call_malformed"}, "match": {"provider": name}, "times": 2}]),
        );
        // The fault forces a call even though the prompt names no tool.
        let plain: Value = send(&f, d, name, &tool_body(d, model, false, "hello")).await.json().await.unwrap();
        let calls = plain_calls(d, Api::Chat, &plain);
        assert_eq!(calls.len(), 1, "{plain}");
        assert!(serde_json::from_str::<Value>(&calls[0].arguments).is_err(), "{plain}");
        assert_eq!(last_attempt(&f, name).await["tool_arguments_valid"], false);
        let (ts, _) = stream_calls(&f, d, name, &tool_body(d, model, true, "hello")).await;
        assert_eq!(ts.verdict(), ToolCallVerdict::MalformedArguments, "{d:?}");
    }
    let (d, name, model) = DIALECTS[0];
    load_rules(
        &f,
        json!([{"id": "split", "fault": {"kind": "tool_name_split"}, "match": {"provider": name}, "times": 1}]),
    );
    let (ts, payloads) = stream_calls(&f, d, name, &tool_body(d, model, true, "use get_weather")).await;
    let name_parts: Vec<&str> = payloads
        .iter()
        .filter_map(|p| p["choices"][0]["delta"]["tool_calls"][0]["function"]["name"].as_str())
        .collect();
    assert_eq!(name_parts.len(), 2, "the name arrives in two deltas");
    assert_eq!(ts.calls[&0].name, "get_weather");
    assert_eq!(ts.verdict(), ToolCallVerdict::Valid);
}

#[tokio::test]
async fn a_cut_inside_tool_arguments_leaves_an_incomplete_call() {
    let f = fleet().await;
    for (d, name, model) in DIALECTS {
        // Past the call's opening frames: inside the argument fragments.
        load_rules(
            &f,
            json!([{"id": "cut", "fault": {"kind": "stream_cut", "after_events": 5}, "match": {"provider": name}, "times": 1}]),
        );
        let (ts, _) = stream_calls(&f, d, name, &tool_body(d, model, true, "use get_weather")).await;
        assert_eq!(ts.verdict(), ToolCallVerdict::Incomplete, "{d:?}");
        assert!(!ts.calls[&0].arguments.is_empty(), "some arguments arrived before the cut");
        assert_eq!(last_attempt(&f, name).await["outcome"], "stream_cut");
    }
}
