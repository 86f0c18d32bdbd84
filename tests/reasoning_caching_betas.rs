//! DeepSeek thinking (`reasoning_content`, the echo rule), prompt-caching usage in each dialect's
//! fields and its price, and the `anthropic-beta` profile (../shared/WIRE.md
//! "Agent traffic").

mod common;

use common::*;
use gatedrill::mock::config::{Dialect, FleetConfig};
use gatedrill::mock::{FleetOptions, ProviderFleet};
use serde_json::{Value, json};

async fn send(f: &ProviderFleet, d: Dialect, name: &str, b: &Value) -> reqwest::Response {
    request(&client(), f.url(name).unwrap(), d, key(d), b).send().await.unwrap()
}

fn tool_history(echo: bool) -> Value {
    let mut assistant = json!({"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]});
    if echo {
        assistant["reasoning_content"] = json!("The user wants the weather.");
    }
    json!({"model": "deepseek-reasoner", "messages": [
        {"role": "user", "content": "use get_weather"}, assistant,
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}]})
}

#[tokio::test]
async fn deepseek_reasoner_answers_with_reasoning_content() {
    let f = fleet().await;
    let (d, name) = (Dialect::Deepseek, "deepseek");
    let b: Value = send(&f, d, name, &body(d, "deepseek-reasoner", false, None, "think")).await.json().await.unwrap();
    let m = &b["choices"][0]["message"];
    assert!(!m["reasoning_content"].as_str().unwrap().is_empty(), "{b}");
    assert!(!m["content"].as_str().unwrap().is_empty());
    let reasoning = b["usage"]["completion_tokens_details"]["reasoning_tokens"].as_u64().unwrap();
    assert!(reasoning > 0 && reasoning < b["usage"]["completion_tokens"].as_u64().unwrap());

    let chat: Value = send(&f, d, name, &body(d, "deepseek-chat", false, None, "think")).await.json().await.unwrap();
    assert!(chat["choices"][0]["message"].get("reasoning_content").is_none(), "not a thinking model");

    let resp = send(&f, d, name, &body(d, "deepseek-reasoner", true, None, "think")).await;
    let (bytes, _) = read_stream(resp).await;
    let (frames, _) = frames(&bytes);
    let deltas: Vec<Value> = frames
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f.data.as_deref()?).ok())
        .filter_map(|v| v["choices"].get(0).map(|c| c["delta"].clone()))
        .collect();
    let first_content = deltas.iter().position(|d| d["content"].as_str().is_some_and(|c| !c.is_empty())).unwrap();
    let last_reasoning =
        deltas.iter().rposition(|d| d["reasoning_content"].as_str().is_some_and(|c| !c.is_empty())).unwrap();
    assert!(last_reasoning < first_content, "reasoning streams before the answer");
    assert!(deltas[1]["content"].is_null());
}

#[tokio::test]
async fn thinking_mode_tool_history_must_echo_reasoning_content() {
    let f = fleet().await;
    let (d, name) = (Dialect::Deepseek, "deepseek");
    let r = send(&f, d, name, &tool_history(false)).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["message"], "The `reasoning_content` in the thinking mode must be passed back to the API.");
    assert_eq!(e["error"]["code"], "invalid_request_error");
    assert_eq!(last_attempt(&f, name).await["contract"]["missing_reasoning_echo"], true);
    assert_eq!(send(&f, d, name, &tool_history(true)).await.status(), 200);
    let mut chat = tool_history(false);
    chat["model"] = json!("deepseek-chat");
    assert_eq!(send(&f, d, name, &chat).await.status(), 200, "non-thinking models do not require it");

    let mut config = FleetConfig::embedded();
    config.providers.iter_mut().for_each(|p| p.require_reasoning_echo = false);
    let lenient = fleet_with(FleetOptions::new(config)).await;
    assert_eq!(send(&lenient, d, name, &tool_history(false)).await.status(), 200, "switched off");
}

fn long_system() -> String {
    "You are the release gate's assistant. Follow the runbook exactly and cite each section. ".repeat(90)
}

#[tokio::test]
async fn repeated_prefixes_are_cache_hits_in_each_dialects_fields() {
    let f = fleet().await;
    let spec = |provider: &str, model: &str| f.spec(provider).unwrap().model(model).unwrap().clone();

    let b = json!({"model": "gpt-5", "messages": [{"role": "system", "content": long_system()}, {"role": "user", "content": "hi"}]});
    let first: Value = send(&f, Dialect::Openai, "openai", &b).await.json().await.unwrap();
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let second: Value = send(&f, Dialect::Openai, "openai", &b).await.json().await.unwrap();
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap();
    let prompt = second["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(cached >= 1024 && (cached - 1024).is_multiple_of(128) && cached < prompt, "{cached} of {prompt}");
    let gpt5 = spec("openai", "gpt-5");
    assert!(gpt5.cost_with_cache_usd(prompt, cached, 0, 10) < gpt5.cost_usd(prompt, 10), "cache reads are cheaper");

    let b = json!({"model": "deepseek-chat", "messages": [{"role": "system", "content": long_system()}, {"role": "user", "content": "hi"}]});
    send(&f, Dialect::Deepseek, "deepseek", &b).await;
    let ds: Value = send(&f, Dialect::Deepseek, "deepseek", &b).await.json().await.unwrap();
    let u = &ds["usage"];
    let hit = u["prompt_cache_hit_tokens"].as_u64().unwrap();
    assert!(hit > 0 && hit.is_multiple_of(64));
    assert_eq!(hit + u["prompt_cache_miss_tokens"].as_u64().unwrap(), u["prompt_tokens"].as_u64().unwrap());

    let mut b = json!({"model": "claude-sonnet-4-5", "max_tokens": 32,
        "system": [{"type": "text", "text": long_system(), "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}]});
    let w: Value = send(&f, Dialect::Anthropic, "anthropic", &b).await.json().await.unwrap();
    let written = w["usage"]["cache_creation_input_tokens"].as_u64().unwrap();
    assert!(written >= 1024, "{w}");
    assert_eq!(w["usage"]["cache_creation"]["ephemeral_5m_input_tokens"], written);
    let r: Value = send(&f, Dialect::Anthropic, "anthropic", &b).await.json().await.unwrap();
    assert_eq!(r["usage"]["cache_read_input_tokens"], written);
    assert_eq!(r["usage"]["cache_creation_input_tokens"], 0);
    let input = r["usage"]["input_tokens"].as_u64().unwrap();
    assert!(input < 50, "input_tokens excludes the cached prefix: {input}");
    // Without a breakpoint Anthropic caches nothing.
    b["system"] = json!(long_system());
    send(&f, Dialect::Anthropic, "anthropic", &b).await;
    let n: Value = send(&f, Dialect::Anthropic, "anthropic", &b).await.json().await.unwrap();
    assert_eq!(n["usage"]["cache_read_input_tokens"], 0);
    let sonnet = spec("anthropic", "claude-sonnet-4-5");
    let total = input + written;
    assert!(sonnet.cost_with_cache_usd(total, 0, written, 0) > sonnet.cost_usd(total, 0), "cache writes cost more");
}

#[tokio::test]
async fn anthropic_beta_flags_are_checked_against_the_platform() {
    let f = fleet().await;
    let b = body(Dialect::Anthropic, "claude-sonnet-4-5", false, Some(16), "hi");
    let post = |flags: &'static str, f: &ProviderFleet| {
        let url = format!("{}/v1/messages", f.url("anthropic").unwrap());
        client()
            .post(url)
            .header("x-api-key", key(Dialect::Anthropic))
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", flags)
            .json(&b)
            .send()
    };
    assert_eq!(post("prompt-caching-2024-07-31, context-1m-2025-08-07", &f).await.unwrap().status(), 200);
    let r = post("context-1m-2025-08-07,made-up-2099-01-01", &f).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e["error"]["message"].as_str().unwrap().contains("`made-up-2099-01-01`"), "{e}");
    assert_eq!(last_attempt(&f, "anthropic").await["contract"]["rejected_betas"], json!(["made-up-2099-01-01"]));

    // A cloud platform that lacks a first-party beta refuses it, naming it.
    let mut config = FleetConfig::embedded();
    for p in config.providers.iter_mut().filter(|p| p.dialect == Dialect::Anthropic) {
        p.anthropic_betas = Some(vec!["prompt-caching-2024-07-31".into()]);
    }
    let platform = fleet_with(FleetOptions::new(config)).await;
    assert_eq!(post("prompt-caching-2024-07-31", &platform).await.unwrap().status(), 200);
    let r = post("context-1m-2025-08-07", &platform).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("`context-1m-2025-08-07`"));
}
