//! Golden shapes of the OpenAI Responses API, embeddings and Anthropic count_tokens
//! (../shared/WIRE.md "Agent traffic"), and the stream faults placed inside Responses streams.

mod common;

use base64::Engine as _;
use common::*;
use gatedrill::mock::ProviderFleet;
use gatedrill::mock::assemble::{ToolCallVerdict, ToolStream};
use gatedrill::mock::config::Dialect;
use gatedrill::mock::dialect::Api;
use serde_json::{Value, json};

const OPENAI_KEY: &str = "sk-gatedrill-openai-0001";

async fn post(f: &ProviderFleet, provider: &str, path: &str, body: &Value) -> reqwest::Response {
    let rb = client().post(format!("{}{path}", f.url(provider).unwrap())).json(body);
    let rb = if provider == "anthropic" {
        rb.header("x-api-key", "sk-ant-gatedrill-0001").header("anthropic-version", "2023-06-01")
    } else {
        rb.bearer_auth(OPENAI_KEY)
    };
    rb.send().await.unwrap()
}

/// The typed events of a Responses stream, and the tail a cut left.
async fn events(f: &ProviderFleet, body: &Value) -> (Vec<(String, Value)>, bool) {
    let resp = post(f, "openai", "/v1/responses", body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (bytes, end) = read_stream(resp).await;
    let (frames, _) = frames(&bytes);
    let ev =
        frames.into_iter().filter_map(|f| Some((f.event?, serde_json::from_str(f.data.as_deref()?).ok()?))).collect();
    (ev, end.is_ok())
}

fn weather_tool() -> Value {
    json!([{"type": "function", "name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

#[tokio::test]
async fn responses_object_has_the_documented_shape() {
    let f = fleet().await;
    let b: Value = post(&f, "openai", "/v1/responses", &json!({"model": "gpt-5", "input": "hello there"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(b["id"].as_str().unwrap().starts_with("resp_"), "{b}");
    assert_eq!((b["object"].as_str(), b["status"].as_str()), (Some("response"), Some("completed")));
    let msg = &b["output"][0];
    assert_eq!((msg["type"].as_str(), msg["role"].as_str()), (Some("message"), Some("assistant")));
    assert_eq!(msg["content"][0]["type"], "output_text");
    assert!(!msg["content"][0]["text"].as_str().unwrap().is_empty());
    let u = &b["usage"];
    assert_eq!(u["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(u["output_tokens_details"]["reasoning_tokens"], 0);
    assert_eq!(u["total_tokens"], u["input_tokens"].as_u64().unwrap() + u["output_tokens"].as_u64().unwrap());

    // A reasoning model puts a reasoning item first and counts its tokens.
    let b: Value =
        post(&f, "openai", "/v1/responses", &json!({"model": "o4-mini", "input": [{"role": "user", "content": "hi"}]}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(b["output"][0]["type"], "reasoning");
    assert!(b["usage"]["output_tokens_details"]["reasoning_tokens"].as_u64().unwrap() > 0);

    // Cut at max_output_tokens: incomplete, with the reason.
    let b: Value =
        post(&f, "openai", "/v1/responses", &json!({"model": "gpt-5", "input": "hi", "max_output_tokens": 3}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(b["status"], "incomplete");
    assert_eq!(b["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(b["max_output_tokens"], 3, "the request's settings are echoed");

    // A function call, and the text answer once its output comes back.
    let b: Value = post(
        &f,
        "openai",
        "/v1/responses",
        &json!({"model": "gpt-5", "input": "use get_weather", "tools": weather_tool()}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(b["tools"], weather_tool());
    let call = &b["output"][0];
    assert_eq!(call["type"], "function_call");
    assert!(call["call_id"].as_str().unwrap().starts_with("call_"));
    assert!(call["id"].as_str().unwrap().starts_with("fc_"));
    assert!(serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap()["city"].is_string());
    let next = json!({"model": "gpt-5", "tools": weather_tool(), "input": [
        {"role": "user", "content": "use get_weather"}, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}]});
    let b: Value = post(&f, "openai", "/v1/responses", &next).await.json().await.unwrap();
    assert_eq!(b["output"][0]["type"], "message");
}

#[tokio::test]
async fn responses_stream_numbers_its_events_and_ends_once() {
    let f = fleet().await;
    for body in [
        json!({"model": "gpt-5", "input": "hi", "stream": true}),
        json!({"model": "o4-mini", "input": "use get_weather", "tools": weather_tool(), "stream": true}),
        json!({"model": "gpt-5", "input": "hi", "stream": true, "max_output_tokens": 2}),
    ] {
        let (ev, clean) = events(&f, &body).await;
        assert!(clean);
        for (i, (name, data)) in ev.iter().enumerate() {
            assert_eq!(data["type"], name.as_str(), "event line and type agree");
            assert_eq!(data["sequence_number"], i, "{name}");
        }
        assert_eq!(ev[0].0, "response.created");
        assert_eq!(ev[0].1["response"]["status"], "in_progress");
        assert_eq!(ev[1].0, "response.in_progress");
        let terminals: Vec<&str> = ev
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| ["response.completed", "response.incomplete", "response.failed"].contains(n))
            .collect();
        assert_eq!(terminals.len(), 1);
        assert_eq!(ev.last().unwrap().0, terminals[0]);
        let mut ts = ToolStream::default();
        ev.iter().for_each(|(_, v)| ts.feed(Dialect::Openai, Api::Responses, v));
        if body.get("tools").is_some() {
            assert_eq!(ts.verdict(), ToolCallVerdict::Valid);
            assert!(ev.iter().any(|(n, _)| n == "response.function_call_arguments.done"));
            assert_eq!(ev[2].1["item"]["type"], "reasoning");
        } else if body.get("max_output_tokens").is_some() {
            assert_eq!(terminals[0], "response.incomplete");
        } else {
            let text: String = ev
                .iter()
                .filter(|(n, _)| n == "response.output_text.delta")
                .map(|(_, v)| v["delta"].as_str().unwrap())
                .collect();
            let done = ev.iter().find(|(n, _)| n == "response.output_text.done").unwrap();
            assert_eq!(done.1["text"], text.as_str());
            let last = &ev.last().unwrap().1["response"];
            assert_eq!(last["output"][0]["content"][0]["text"], text.as_str());
        }
    }
}

#[tokio::test]
async fn faults_land_inside_responses_streams() {
    let f = fleet().await;
    let body = json!({"model": "gpt-5", "input": "use get_weather", "tools": weather_tool(), "stream": true});
    load_rules(
        &f,
        json!([{"id": "failed", "fault": {"kind": "response_failed", "after_events": 4}, "match": {"path": "/v1/responses"}, "times": 1}]),
    );
    let (ev, _) = events(&f, &body).await;
    let (name, last) = ev.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(last["sequence_number"], 4);
    assert_eq!(last["response"]["status"], "failed");
    assert_eq!(last["response"]["error"]["code"], "server_error");
    assert_eq!(last_attempt(&f, "openai").await["outcome"], "stream_error_event");

    load_rules(
        &f,
        json!([{"id": "err", "fault": {"kind": "stream_error_event", "after_events": 3}, "match": {"path": "/v1/responses"}, "times": 1}]),
    );
    let (ev, _) = events(&f, &body).await;
    let (name, last) = ev.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!((last["sequence_number"].as_u64(), last["code"].as_str()), (Some(3), Some("server_error")));

    load_rules(
        &f,
        json!([{"id": "cut", "fault": {"kind": "stream_cut", "after_events": 4}, "match": {"path": "/v1/responses"}, "times": 1}]),
    );
    let (ev, clean) = events(&f, &body).await;
    assert!(!clean, "the connection drops");
    let mut ts = ToolStream::default();
    ev.iter().for_each(|(_, v)| ts.feed(Dialect::Openai, Api::Responses, v));
    assert_eq!(ts.verdict(), ToolCallVerdict::Incomplete);

    // Outcome faults match by path too: only the embeddings route fails.
    load_rules(
        &f,
        json!([{"id": "emb", "fault": {"kind": "http_error", "status": 503}, "match": {"path": "/v1/embeddings"}, "times": 1}]),
    );
    let chat = post(
        &f,
        "openai",
        "/v1/chat/completions",
        &json!({"model": "gpt-5", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(chat.status(), 200);
    let emb = post(&f, "openai", "/v1/embeddings", &json!({"model": "text-embedding-3-small", "input": "x"})).await;
    assert_eq!(emb.status(), 503);
    let rec = last_attempt(&f, "openai").await;
    assert_eq!((rec["path"].as_str(), rec["faults"][0]["kind"].as_str()), (Some("/v1/embeddings"), Some("http_error")));

    load_rules(
        &f,
        json!([{"id": "gone", "fault": {"kind": "retired_model"}, "match": {"path": "/v1/responses"}, "times": 1}]),
    );
    let r = post(&f, "openai", "/v1/responses", &json!({"model": "gpt-5", "input": "x"})).await;
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "model_not_found");
    assert!(e["error"]["message"].as_str().unwrap().contains("has been deprecated"));
}

#[tokio::test]
async fn embeddings_float_base64_dimensions_and_limits() {
    let f = fleet().await;
    let url = "/v1/embeddings";
    let b: Value = post(&f, "openai", url, &json!({"model": "text-embedding-3-small", "input": ["alpha", "beta"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((b["object"].as_str(), b["model"].as_str()), (Some("list"), Some("text-embedding-3-small")));
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    assert_eq!((b["data"][1]["object"].as_str(), b["data"][1]["index"].as_u64()), (Some("embedding"), Some(1)));
    let floats: Vec<f32> =
        b["data"][0]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    assert_eq!(floats.len(), 1536);
    assert_eq!(b["usage"]["prompt_tokens"], b["usage"]["total_tokens"]);
    assert!(b["usage"]["prompt_tokens"].as_u64().unwrap() >= 2);

    let b64: Value = post(
        &f,
        "openai",
        url,
        &json!({"model": "text-embedding-3-small", "input": "alpha", "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let raw = base64::engine::general_purpose::STANDARD.decode(b64["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let decoded: Vec<f32> = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(decoded, floats, "the same input, the same vector, in either encoding");

    let small: Value =
        post(&f, "openai", url, &json!({"model": "text-embedding-3-large", "input": "alpha", "dimensions": 256}))
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(small["data"][0]["embedding"].as_array().unwrap().len(), 256);

    let long = "lorem ipsum ".repeat(9000);
    let r = post(&f, "openai", url, &json!({"model": "text-embedding-3-small", "input": long})).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().starts_with("This model's maximum context length is 8192 tokens"));
    assert_eq!(e["error"]["type"], "invalid_request_error");

    let many: Vec<String> = (0..80).map(|i| format!("{i} {}", "lorem ipsum ".repeat(2000))).collect();
    let r = post(&f, "openai", url, &json!({"model": "text-embedding-3-small", "input": many})).await;
    assert_eq!(r.status(), 400, "over 300k tokens in one request");
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().ends_with("max 300000 tokens per request"), "{e}");

    let r = post(&f, "openai", url, &json!({"model": "gpt-5", "input": "x"})).await;
    assert_eq!(r.status(), 400, "a chat model does not embed");
    let r = post(
        &f,
        "openai",
        "/v1/chat/completions",
        &json!({"model": "text-embedding-3-small", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(r.status(), 404, "an embeddings model does not chat");
}

#[tokio::test]
async fn anthropic_count_tokens_matches_the_messages_usage() {
    let f = fleet().await;
    let body = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hello there"}]});
    let r = post(&f, "anthropic", "/v1/messages/count_tokens", &body).await;
    assert_eq!(r.status(), 200);
    let count: Value = r.json().await.unwrap();
    let mut full = body.clone();
    full["max_tokens"] = json!(16);
    let m: Value = post(&f, "anthropic", "/v1/messages", &full).await.json().await.unwrap();
    assert_eq!(count["input_tokens"], m["usage"]["input_tokens"]);
    assert_eq!(count.as_object().unwrap().len(), 1);
    let r = post(&f, "anthropic", "/v1/messages/count_tokens", &json!({"model": "claude-sonnet-4-5"})).await;
    assert_eq!(r.status(), 400);
}
