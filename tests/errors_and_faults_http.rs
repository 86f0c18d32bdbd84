//! Real refusals (bad key, bad body, unknown model, context window, output limit) and every
//! HTTP-level fault, in each dialect's own error shape.

mod common;

use common::*;
use gatedrill::mock::config::Dialect;
use serde_json::{Value, json};

async fn send(
    f: &gatedrill::mock::ProviderFleet,
    d: Dialect,
    name: &str,
    k: &str,
    b: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = request(&client(), f.url(name).unwrap(), d, k, b).send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.json().await.unwrap())
}

/// The error type/code in the dialect's envelope.
fn code(d: Dialect, b: &Value) -> (String, String) {
    match d {
        Dialect::Anthropic => {
            assert_eq!(b["type"], "error");
            (b["error"]["type"].as_str().unwrap().into(), b["error"]["message"].as_str().unwrap().into())
        }
        _ => {
            let e = &b["error"];
            assert!(e.get("param").is_some() && e.get("code").is_some() && e.get("type").is_some(), "{b}");
            let c = e["code"].as_str().or(e["type"].as_str()).unwrap_or_default();
            (c.to_string(), e["message"].as_str().unwrap().into())
        }
    }
}

#[tokio::test]
async fn wrong_and_missing_keys_get_401_without_echoing_the_key() {
    let f = fleet().await;
    for (d, name, model) in DIALECTS {
        let (s, _, b) = send(&f, d, name, "sk-leaked-secret-123", &body(d, model, false, None, "hi")).await;
        assert_eq!(s, 401, "{name}");
        assert!(!b.to_string().contains("leaked-secret"), "{b}");
        let (c, _) = code(d, &b);
        let want = match d {
            Dialect::Openai => "invalid_api_key",
            Dialect::Anthropic => "authentication_error",
            Dialect::Deepseek => "invalid_request_error",
        };
        assert_eq!(c, want, "{name}");
        let r = client()
            .post(format!("{}{}", f.url(name).unwrap(), path(d)))
            .json(&body(d, model, false, None, "hi"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "missing key on {name}");
    }
}

#[tokio::test]
async fn bad_json_unknown_model_and_output_limit() {
    let f = fleet().await;
    for (d, name, model) in DIALECTS {
        let r =
            request(&client(), f.url(name).unwrap(), d, key(d), &json!(null)).body("{not json").send().await.unwrap();
        assert_eq!(r.status(), 400, "{name}");
        let (s, _, _) = send(&f, d, name, key(d), &body(d, "no-such-model", false, None, "hi")).await;
        assert_eq!(s, if d == Dialect::Deepseek { 400 } else { 404 }, "{name}");
        let (s, _, b) = send(&f, d, name, key(d), &body(d, model, false, Some(10_000_000), "hi")).await;
        assert_eq!(s, 400, "{name}");
        assert!(code(d, &b).1.contains("max_tokens"), "{b}");
    }
    // Anthropic requires max_tokens and its version header.
    let base = f.url("anthropic").unwrap();
    let r = client()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", key(Dialect::Anthropic))
        .json(&json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["message"], "max_tokens: Field required");
}

#[tokio::test]
async fn a_real_context_overflow_is_answered_in_each_dialects_words() {
    let f = fleet().await;
    // ~70k words: over DeepSeek's 64k and GPT-4's 8k windows, inside Claude's 200k.
    let big = "lorem ipsum ".repeat(35_000);
    let (s, _, b) =
        send(&f, Dialect::Openai, "openai", key(Dialect::Openai), &body(Dialect::Openai, "gpt-4", false, None, &big))
            .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "context_length_exceeded");
    assert!(b["error"]["message"].as_str().unwrap().starts_with("This model's maximum context length is 8192 tokens."));
    let (s, _, b) = send(
        &f,
        Dialect::Deepseek,
        "deepseek",
        key(Dialect::Deepseek),
        &body(Dialect::Deepseek, "deepseek-chat", false, Some(8192), &big),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "invalid_request_error", "DeepSeek has no context_length_exceeded code");
    assert!(b["error"]["message"].as_str().unwrap().contains("in the messages, 8192 in the completion"));
    let (s, _, _) = send(
        &f,
        Dialect::Anthropic,
        "anthropic",
        key(Dialect::Anthropic),
        &body(Dialect::Anthropic, "claude-sonnet-4-5", false, Some(1000), &big),
    )
    .await;
    assert_eq!(s, 200, "fits Claude's window");
    let rec = last_attempt(&f, "anthropic").await;
    assert!(rec["prompt_tokens"].as_u64().unwrap() > 64_000);
}

#[tokio::test]
async fn http_error_auth_overloaded_outage_503_and_forced_overflow() {
    let f = fleet().await;
    // (fault, expected status per dialect openai/anthropic/deepseek, expected code per dialect)
    let cases: [(Value, [u16; 3], [&str; 3]); 5] = [
        (
            json!({"kind": "http_error", "status": 502}),
            [502, 502, 502],
            ["server_error", "api_error", "invalid_request_error"],
        ),
        (
            json!({"kind": "auth_invalid"}),
            [401, 401, 401],
            ["invalid_api_key", "authentication_error", "invalid_request_error"],
        ),
        (json!({"kind": "overloaded"}), [503, 529, 503], ["server_error", "overloaded_error", "server_error"]),
        (json!({"kind": "outage", "mode": "http_503"}), [503, 503, 503], ["server_error", "api_error", "server_error"]),
        (
            json!({"kind": "context_overflow"}),
            [400, 400, 400],
            ["context_length_exceeded", "invalid_request_error", "invalid_request_error"],
        ),
    ];
    for (i, (fault, statuses, codes)) in cases.iter().enumerate() {
        for (j, (d, name, model)) in DIALECTS.into_iter().enumerate() {
            let id = format!("case-{i}");
            let added = add_rules(&f, name, json!([{"id": id, "fault": fault, "times": 1}])).await;
            assert_eq!(added.status(), 201, "{}", added.text().await.unwrap());
            let (s, h, b) = send(&f, d, name, key(d), &body(d, model, false, None, "hi")).await;
            assert_eq!(s, statuses[j], "{fault} on {name}: {b}");
            assert_eq!(code(d, &b).0, codes[j], "{fault} on {name}: {b}");
            let rid = match d {
                Dialect::Openai => "x-request-id",
                Dialect::Anthropic => "request-id",
                Dialect::Deepseek => "x-ds-trace-id",
            };
            assert!(h.contains_key(rid), "request id header on errors too");
            let rec = last_attempt(&f, name).await;
            assert_eq!(rec["faults"][0]["rule"], id);
            assert_eq!(rec["outcome"], "http_error");
            // Fired once: the next request is healthy.
            let (s, _, _) = send(&f, d, name, key(d), &body(d, model, false, None, "hi")).await;
            assert_eq!(s, 200);
        }
    }
}

#[tokio::test]
async fn rate_limit_headers_drive_each_sdk_branch() {
    let f = fleet().await;
    let d = Dialect::Openai;
    let styles = [
        ("seconds_and_ms", Some("2"), Some("1500")),
        ("seconds", Some("2"), None),
        ("ms", None, Some("1500")),
        ("none", None, None),
    ];
    for (style, secs, ms) in styles {
        let rule = json!([{"id": style, "fault": {"kind": "rate_limit", "retry_after": "1500ms", "retry_after_style": style}, "times": 1}]);
        add_rules(&f, "openai", rule).await;
        let (s, h, b) = send(&f, d, "openai", key(d), &body(d, "gpt-5", false, None, "hi")).await;
        assert_eq!(s, 429);
        assert_eq!(b["error"]["code"], "rate_limit_exceeded");
        assert_eq!(h.get("retry-after").map(|v| v.to_str().unwrap()), secs, "{style}");
        assert_eq!(h.get("retry-after-ms").map(|v| v.to_str().unwrap()), ms, "{style}");
        let rec = last_attempt(&f, "openai").await;
        assert_eq!(rec["retry_after_ms"].as_u64(), if style == "none" { None } else { Some(1500) });
    }
    let rule = json!([{"id": "date", "fault": {"kind": "rate_limit", "retry_after": "3s", "retry_after_style": "http_date"}, "times": 1, "should_retry": false}]);
    add_rules(&f, "openai", rule).await;
    let (_, h, _) = send(&f, d, "openai", key(d), &body(d, "gpt-5", false, None, "hi")).await;
    let at = httpdate::parse_http_date(h["retry-after"].to_str().unwrap()).unwrap();
    let wait = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    assert!(wait.as_secs() <= 3, "HTTP-date in the near future");
    assert_eq!(h["x-should-retry"], "false");
}

#[tokio::test]
async fn quota_exhausted_is_not_a_rate_limit() {
    let f = fleet().await;
    for (d, name, model) in DIALECTS {
        add_rules(&f, name, json!([{"id": "q", "fault": {"kind": "quota_exhausted"}, "times": 1}])).await;
        let (s, h, b) = send(&f, d, name, key(d), &body(d, model, false, None, "hi")).await;
        let (status, c) = match d {
            Dialect::Openai => (429, "insufficient_quota"),
            Dialect::Anthropic => (402, "billing_error"),
            Dialect::Deepseek => (402, "invalid_request_error"),
        };
        assert_eq!((s, code(d, &b).0.as_str()), (status, c), "{name}: {b}");
        assert!(!h.contains_key("retry-after"), "no Retry-After on a quota refusal");
    }
    add_rules(
        &f,
        "anthropic",
        json!([{"id": "spend", "fault": {"kind": "quota_exhausted", "variant": "spend_limit"}, "times": 1}]),
    )
    .await;
    let d = Dialect::Anthropic;
    let (s, _, b) = send(&f, d, "anthropic", key(d), &body(d, "claude-sonnet-4-5", false, None, "hi")).await;
    assert_eq!(s, 429);
    assert_eq!(b["error"]["details"]["error_code"], "enforced_spend_limit_reached");
}

#[tokio::test]
async fn unknown_paths_get_the_dialects_404_and_are_journaled() {
    let f = fleet().await;
    let r = client().post(format!("{}/v1/engines", f.url("openai").unwrap())).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["message"], "Invalid URL (POST /v1/engines)");
    assert_eq!(last_attempt(&f, "openai").await["path"], "/v1/engines");
}

#[tokio::test]
async fn anthropic_takes_the_key_as_x_api_key_or_bearer() {
    let f = fleet().await;
    let d = Dialect::Anthropic;
    let url = format!("{}/v1/messages", f.url("anthropic").unwrap());
    let b = body(d, "claude-haiku-4-5", false, None, "hi");
    // The form current official SDKs send.
    let r = client()
        .post(&url)
        .bearer_auth(key(d))
        .header("anthropic-version", "2023-06-01")
        .json(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client().post(&url).bearer_auth("sk-ant-wrong").json(&b).send().await.unwrap();
    assert_eq!(r.status(), 401);
}
