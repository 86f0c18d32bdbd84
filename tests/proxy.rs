//! The fault proxy in front of gatedrill's own mocks, on loopback: every fault of the catalogue
//! answered through the proxy as the mock answers it itself, in all three dialects (status,
//! error body, retry headers, stream framing and how it ends, the journal's record); answers
//! relayed byte for byte when no fault is loaded; the client's key reaching the upstream and
//! nothing of it reaching the proxy's journal or control API; an upstream that is down or
//! silent answered with a typed 502/504, not a hang.

mod common;

use std::time::Duration;

use common::*;
use gatedrill::mock::ProviderFleet;
use gatedrill::mock::config::Dialect;
use gatedrill::proxy::{self, ProxyOptions, Upstream};
use serde_json::{Value, json};

/// The proxy in front of every provider of `mocks`.
async fn proxy_for(mocks: &ProviderFleet, timeout: Duration) -> ProviderFleet {
    let ups =
        mocks.endpoints().into_iter().map(|e| Upstream { name: e.provider, dialect: e.dialect, base: e.url }).collect();
    let mut opts = ProxyOptions::new(ups);
    opts.bounds.timeout = timeout;
    proxy::start(opts).await.expect("the proxy starts on loopback")
}

/// What a client saw of one answer, with the fields that differ between any two attempts
/// (ids, timestamps) masked.
#[derive(Debug, PartialEq)]
struct Seen {
    status: Option<u16>,
    /// `timeout` or `transport` when the request failed without an answer.
    failure: Option<&'static str>,
    retry_after: [Option<String>; 3],
    json: Option<Value>,
    /// Each non-comment frame: its event name and its (masked) data.
    frames: Vec<(Option<String>, String)>,
    keepalives: bool,
    unterminated: bool,
    clean_end: bool,
}

fn mask(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "id" | "created" | "created_at" | "item_id") {
                    *x = json!("*");
                } else {
                    mask(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask),
        _ => {}
    }
}

fn masked(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            mask(&mut v);
            v.to_string()
        }
        Err(_) => format!("<not json, {} bytes>", text.len()),
    }
}

async fn observe(client: &reqwest::Client, base: &str, d: Dialect, stream: bool, prompt: &str) -> Seen {
    let body = body(d, model_of(d), stream, None, prompt);
    let mut seen = Seen {
        status: None,
        failure: None,
        retry_after: [None, None, None],
        json: None,
        frames: Vec::new(),
        keepalives: false,
        unterminated: false,
        clean_end: false,
    };
    let resp = match request(client, base, d, key(d), &body).send().await {
        Ok(r) => r,
        Err(e) => {
            seen.failure = Some(if e.is_timeout() { "timeout" } else { "transport" });
            return seen;
        }
    };
    seen.status = Some(resp.status().as_u16());
    let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    seen.retry_after = [h("retry-after"), h("retry-after-ms"), h("x-should-retry")];
    let sse = h("content-type").is_some_and(|c| c.starts_with("text/event-stream"));
    let (bytes, end) = read_stream(resp).await;
    seen.clean_end = end.is_ok();
    if sse {
        let (fr, tail) = frames(&bytes);
        seen.keepalives = fr.iter().any(|f| f.is_comment());
        seen.frames = fr
            .iter()
            .filter(|f| !f.is_comment())
            .map(|f| (f.event.clone(), masked(f.data.as_deref().unwrap_or_default())))
            .collect();
        seen.unterminated = !tail.is_empty();
    } else {
        seen.json =
            serde_json::from_slice::<Value>(String::from_utf8_lossy(&bytes).trim().as_bytes()).ok().map(|mut v| {
                mask(&mut v);
                v
            });
    }
    seen
}

fn model_of(d: Dialect) -> &'static str {
    DIALECTS.iter().find(|(x, _, _)| *x == d).map(|(_, _, m)| *m).unwrap_or_default()
}

/// The journal fields the conduct rules read, from a provider's last finished record.
fn judged(rec: &Value) -> Value {
    let kinds: Vec<&Value> =
        rec["faults"].as_array().map(|a| a.iter().map(|f| &f["kind"]).collect()).unwrap_or_default();
    json!({
        "status": rec["status"], "outcome": rec["outcome"], "error": rec["error"], "refusal": rec["refusal"],
        "retry_after_ms": rec["retry_after_ms"], "faults": kinds, "stream": rec["stream"], "model": rec["model"],
        "test_id": rec["test_id"], "events_sent": rec["events_sent"], "path": rec["path"],
    })
}

/// The fault catalogue: (case, fault, streamed request).
fn catalogue() -> Vec<(&'static str, Value, bool)> {
    let stall =
        |keepalive: bool| json!({"kind": "stream_stall", "after_events": 2, "keepalive": keepalive, "max": "300ms"});
    vec![
        ("http_500", json!({"kind": "http_error", "status": 500}), false),
        ("http_503_on_a_stream", json!({"kind": "http_error", "status": 503}), true),
        ("rate_limit", json!({"kind": "rate_limit", "retry_after": "2s"}), false),
        (
            "rate_limit_seconds",
            json!({"kind": "rate_limit", "retry_after": "3s", "retry_after_style": "seconds"}),
            true,
        ),
        ("quota_billing", json!({"kind": "quota_exhausted"}), false),
        ("quota_spend_limit", json!({"kind": "quota_exhausted", "variant": "spend_limit"}), false),
        ("auth_invalid", json!({"kind": "auth_invalid"}), false),
        ("overloaded", json!({"kind": "overloaded"}), true),
        ("context_overflow", json!({"kind": "context_overflow"}), false),
        ("retired_model", json!({"kind": "retired_model"}), false),
        ("outage_http_503", json!({"kind": "outage", "mode": "http_503"}), false),
        ("outage_reset", json!({"kind": "outage", "mode": "reset"}), false),
        ("outage_close", json!({"kind": "outage", "mode": "close"}), true),
        ("outage_garbage", json!({"kind": "outage", "mode": "garbage"}), false),
        ("outage_refuse", json!({"kind": "outage", "mode": "refuse"}), false),
        ("no_response", json!({"kind": "no_response"}), false),
        ("delay", json!({"kind": "delay", "fixed": "120ms"}), false),
        ("delay_on_a_stream", json!({"kind": "delay", "fixed": "120ms"}), true),
        ("slow_first_token", json!({"kind": "slow_first_token", "delay": "120ms"}), true),
        ("slow_first_token_plain", json!({"kind": "slow_first_token", "delay": "120ms"}), false),
        ("stream_cut", json!({"kind": "stream_cut", "after_events": 3}), true),
        ("stream_cut_past_the_end", json!({"kind": "stream_cut", "after_events": 100000}), true),
        ("stream_truncate", json!({"kind": "stream_truncate", "after_events": 2}), true),
        ("stream_truncate_past_the_end", json!({"kind": "stream_truncate", "after_events": 100000}), true),
        ("stream_malformed", json!({"kind": "stream_malformed", "after_events": 2}), true),
        ("stream_stall_keepalive", stall(true), true),
        ("stream_stall_silent", stall(false), true),
        ("stream_error_event", json!({"kind": "stream_error_event", "after_events": 2}), true),
        ("response_failed_on_chat", json!({"kind": "response_failed", "after_events": 3}), true),
    ]
}

async fn post_rule(fleet: &ProviderFleet, provider: &str, id: &str, fault: &Value) {
    let url = format!("{}/_gatedrill/faults", fleet.url(provider).unwrap());
    let r = client().post(url).json(&json!({"rules": [{"id": id, "fault": fault, "times": 1}]})).send().await.unwrap();
    assert_eq!(r.status(), 201, "{provider} {id}: {}", r.text().await.unwrap());
}

/// Every fault through the proxy, against the same fault from the mock itself.
async fn catalogue_matches(d: Dialect, name: &str) {
    let mocks = fleet().await;
    let px = proxy_for(&mocks, Duration::from_secs(5)).await;
    let short =
        gatedrill::tls::builder().timeout(Duration::from_millis(400)).pool_max_idle_per_host(0).build().unwrap();
    let mut mismatches = Vec::new();
    for (case, fault, stream) in catalogue() {
        let prompt = format!("hello [gatedrill probe {case}]");
        let c = if case == "no_response" { &short } else { &client() };
        post_rule(&mocks, name, case, &fault).await;
        let direct = observe(c, mocks.url(name).unwrap(), d, stream, &prompt).await;
        let direct_rec = judged(&last_attempt(&mocks, name).await);
        mocks.clear_rules();
        post_rule(&px, name, case, &fault).await;
        let proxied = observe(c, px.url(name).unwrap(), d, stream, &prompt).await;
        let proxied_rec = judged(&last_attempt(&px, name).await);
        px.clear_rules();
        assert!(
            !direct_rec["faults"].as_array().unwrap().is_empty(),
            "{name} {case}: the mock's own fault fired ({direct_rec})"
        );
        if direct != proxied {
            mismatches.push(format!("{case}: answer\n  mock:  {direct:?}\n  proxy: {proxied:?}"));
        }
        if direct_rec != proxied_rec {
            mismatches.push(format!("{case}: journal\n  mock:  {direct_rec}\n  proxy: {proxied_rec}"));
        }
    }
    assert!(mismatches.is_empty(), "{name}: {} mismatch(es):\n{}", mismatches.len(), mismatches.join("\n"));
    px.shutdown().await;
    mocks.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_through_the_proxy_matches_the_mock_openai() {
    catalogue_matches(Dialect::Openai, "openai").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_through_the_proxy_matches_the_mock_anthropic() {
    catalogue_matches(Dialect::Anthropic, "anthropic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_through_the_proxy_matches_the_mock_deepseek() {
    catalogue_matches(Dialect::Deepseek, "deepseek").await;
}

/// Plain and streamed bodies from a fresh mock, direct and through the proxy to a twin mock
/// (same seed, same request index): byte for byte the same. Retried when the two straddled a
/// second (the answers carry `created` in whole seconds).
#[tokio::test]
async fn answers_pass_through_byte_identical_without_faults() {
    for (d, name, model) in DIALECTS {
        let mut last = String::new();
        let mut same = false;
        for _ in 0..3 {
            let direct = fleet().await;
            let twin = fleet().await;
            let px = proxy_for(&twin, Duration::from_secs(5)).await;
            let mut bodies = Vec::new();
            for stream in [false, true] {
                let b = body(d, model, stream, None, "pass me through");
                let (a, z) = tokio::join!(
                    request(&client(), direct.url(name).unwrap(), d, key(d), &b).send(),
                    request(&client(), px.url(name).unwrap(), d, key(d), &b).send(),
                );
                let (a, z) = (a.unwrap(), z.unwrap());
                assert_eq!((a.status().as_u16(), z.status().as_u16()), (200, 200), "{name}");
                assert_eq!(a.headers().get("content-type"), z.headers().get("content-type"), "{name}");
                let (ab, ae) = read_stream(a).await;
                let (zb, ze) = read_stream(z).await;
                assert!(ae.is_ok() && ze.is_ok(), "{name}: both end cleanly");
                bodies.push((ab, zb));
            }
            let rec = last_attempt(&px, name).await;
            assert_eq!(rec["outcome"], "completed", "{name}: {rec}");
            assert_eq!(rec["bytes_sent"].as_u64(), Some(bodies[1].1.len() as u64), "{name}");
            assert!(rec["events_sent"].as_u64().unwrap() > 3, "{name}: the stream's events are counted");
            assert!(rec["first_token_ms"].is_number(), "{name}");
            let plain = last_attempt_at(&px, name, 0).await;
            assert_eq!(plain["outcome"], "completed", "{name}: the plain answer ended: {plain}");
            // The tokens the upstream reported are journaled as the upstream journaled them.
            for (seq, proxied) in [(0, &plain), (1, &rec)] {
                let upstream = last_attempt_at(&twin, name, seq).await;
                for k in ["prompt_tokens", "completion_tokens"] {
                    assert!(proxied[k].as_u64().is_some_and(|n| n > 0), "{name} {seq} {k}: {proxied}");
                    assert_eq!(proxied[k], upstream[k], "{name} {seq} {k}");
                }
            }
            same = bodies.iter().all(|(a, z)| a == z);
            if same {
                break;
            }
            last = format!(
                "{:?}",
                bodies
                    .iter()
                    .map(|(a, z)| (String::from_utf8_lossy(a).into_owned(), String::from_utf8_lossy(z).into_owned()))
                    .collect::<Vec<_>>()
            );
        }
        assert!(same, "{name}: bodies differ: {last}");
    }
}

/// The record `seq` of a provider's journal, once finished.
async fn last_attempt_at(f: &ProviderFleet, name: &str, seq: usize) -> Value {
    for _ in 0..200 {
        let j = journal(f, name).await;
        if let Some(r) = j["records"].get(seq)
            && r["outcome"] != "in_flight"
        {
            return r.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("record {seq} of {name} never finished");
}

#[tokio::test]
async fn the_key_reaches_the_upstream_and_never_the_proxy_journal() {
    let mocks = fleet().await;
    let px = proxy_for(&mocks, Duration::from_secs(5)).await;
    for (d, name, model) in DIALECTS {
        // The mock checks keys: a 200 through the proxy means the key arrived untouched.
        let r = request(&client(), px.url(name).unwrap(), d, key(d), &body(d, model, true, None, "k"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let _ = read_stream(r).await;
        let upstream = last_attempt(&mocks, name).await;
        assert_eq!(upstream["outcome"], "completed");
        // A wrong key is the upstream's refusal, passed on and journaled typed.
        let r = request(&client(), px.url(name).unwrap(), d, "sk-wrong-key-123456", &body(d, model, false, None, "k"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{name}");
        let rec = last_attempt(&px, name).await;
        assert_eq!((rec["outcome"].as_str(), rec["refusal"].as_str()), (Some("http_error"), Some("invalid_key")));
        assert_eq!(
            upstream["key_fingerprint"],
            last_attempt_at(&px, name, 0).await["key_fingerprint"],
            "{name}: both sides fingerprint the same key"
        );
        for path in ["/_gatedrill/journal", "/_gatedrill/faults", "/_gatedrill/health"] {
            let text =
                client().get(format!("{}{path}", px.url(name).unwrap())).send().await.unwrap().text().await.unwrap();
            for secret in [key(d), "sk-wrong-key-123456", "wrong-key"] {
                assert!(!text.contains(secret), "{name}{path} shows a key");
            }
        }
        let all = serde_json::to_string(&px.journal()).unwrap();
        assert!(!all.contains(key(d)) && !all.contains("wrong-key"), "{name}");
    }
}

#[tokio::test]
async fn an_upstream_that_is_down_or_silent_gets_a_typed_answer() {
    // Arrange: a port nobody listens on, and a mock that never answers (its own no_response).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let silent = fleet().await;
    load_rules(&silent, json!([{"id": "hang", "fault": {"kind": "no_response"}}]));
    let ups = vec![
        Upstream { name: "openai".into(), dialect: Dialect::Openai, base: format!("http://{closed}") },
        Upstream {
            name: "anthropic".into(),
            dialect: Dialect::Anthropic,
            base: silent.url("anthropic").unwrap().into(),
        },
    ];
    let mut opts = ProxyOptions::new(ups);
    opts.bounds.timeout = Duration::from_millis(300);
    let px = proxy::start(opts).await.unwrap();

    // Act + Assert: refused upstream, 502 in OpenAI's shape.
    let r = chat(&px, Dialect::Openai, "openai", "gpt-5", false).await;
    assert_eq!(r.status(), 502);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].is_string() && e["error"]["type"].is_string(), "{e}");
    let rec = last_attempt(&px, "openai").await;
    assert_eq!(
        (rec["refusal"].as_str(), rec["error"].as_str()),
        (Some("upstream_unreachable"), Some("upstream_unreachable"))
    );
    assert_eq!(rec["outcome"], "http_error");

    // A silent upstream: 504 in Anthropic's shape, within the bound.
    let d = Dialect::Anthropic;
    let started = std::time::Instant::now();
    let b = body(d, "claude-sonnet-4-5", true, None, "x");
    let r = request(&client(), px.url("anthropic").unwrap(), d, key(d), &b).send().await.unwrap();
    assert_eq!(r.status(), 504);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["type"], "error", "{e}");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by the upstream timeout");
    let rec = last_attempt(&px, "anthropic").await;
    assert_eq!(rec["refusal"], "upstream_timeout");
}

#[tokio::test]
async fn rules_that_rewrite_content_are_refused_and_control_is_never_forwarded() {
    let mocks = fleet().await;
    let px = proxy_for(&mocks, Duration::from_secs(5)).await;
    let url = format!("{}/_gatedrill/faults", px.url("openai").unwrap());
    for kind in ["truncated_output", "tool_call_malformed", "tool_name_split"] {
        let r =
            client().post(&url).json(&json!({"rules": [{"id": "x", "fault": {"kind": kind}}]})).send().await.unwrap();
        assert_eq!(r.status(), 400, "{kind}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "unsupported_fault", "{e}");
    }
    // A malformed rule is reported by the mocks' own control API, field named.
    let r = client().post(&url).json(&json!({"rules": [{"id": "x", "fault": {"kind": "nope"}}]})).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "invalid_fault_rules");
    let r = client().get(format!("{}/_gatedrill/other", px.url("openai").unwrap())).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(journal(&mocks, "openai").await["records"].as_array().map(Vec::len), Some(0), "nothing forwarded");
    assert_eq!(journal(&px, "openai").await["records"].as_array().map(Vec::len), Some(0), "nothing journaled");
    let ups = mocks.endpoints().into_iter().map(|e| Upstream { name: e.provider, dialect: e.dialect, base: e.url });
    let opts = ProxyOptions { rules: rules_of("truncated_output"), ..ProxyOptions::new(ups.collect()) };
    assert!(proxy::start(opts).await.is_err(), "refused at start too");
}

fn rules_of(kind: &str) -> Vec<gatedrill::mock::faults::FaultRule> {
    let set: gatedrill::mock::faults::FaultSet =
        serde_json::from_value(json!({"rules": [{"id": "x", "fault": {"kind": kind}}]})).unwrap();
    set.rules
}

/// Responses streams: `response_failed` ends the upstream's real stream with `response.failed`
/// carrying the response its stream announced, as the mock ends its own.
#[tokio::test]
async fn a_responses_stream_fails_in_band_as_on_the_mock() {
    let mocks = fleet().await;
    let px = proxy_for(&mocks, Duration::from_secs(5)).await;
    let body = json!({"model": "gpt-5", "input": "hello", "stream": true});
    let mut seen = Vec::new();
    for f in [&mocks, &px] {
        post_rule(f, "openai", "failed", &json!({"kind": "response_failed", "after_events": 3})).await;
        let r = client()
            .post(format!("{}/v1/responses", f.url("openai").unwrap()))
            .bearer_auth(key(Dialect::Openai))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (bytes, end) = read_stream(r).await;
        assert!(end.is_ok());
        let (fr, tail) = frames(&bytes);
        assert!(tail.is_empty());
        let last = fr.last().unwrap();
        assert_eq!(last.event.as_deref(), Some("response.failed"));
        let data: Value = serde_json::from_str(last.data.as_deref().unwrap()).unwrap();
        assert_eq!(data["response"]["status"], "failed");
        assert_eq!(data["response"]["error"]["code"], "server_error");
        assert_eq!(data["sequence_number"], 3);
        assert!(data["response"]["id"].as_str().unwrap().starts_with("resp_"), "{data}");
        let events: Vec<Option<String>> = fr.iter().map(|f| f.event.clone()).collect();
        seen.push((events, judged(&last_attempt(f, "openai").await)));
        f.clear_rules();
    }
    assert_eq!(seen[0], seen[1]);
}

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
}

/// `gatedrill proxy` as a user runs it: one JSON line per provider, as `mock serve` prints,
/// a fault file loaded, a clean stop on SIGTERM; a bad upstream is exit 2 naming it.
#[tokio::test]
async fn the_command_announces_each_listener_like_mock_serve() {
    use std::io::{BufRead, BufReader};
    let mocks = fleet().await;
    let ups = format!("openai={},edge:anthropic={}", mocks.url("openai").unwrap(), mocks.url("anthropic").unwrap());
    let mut child = bin()
        .args(["proxy", "--upstream", &ups, "--faults", "mocks/faults/primary-rate-limit.toml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().take(2).map(|l| l.unwrap()).collect::<Vec<String>>()
    })
    .await
    .unwrap();
    let v: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((v[0]["provider"].as_str(), v[0]["dialect"].as_str()), (Some("openai"), Some("openai")));
    assert_eq!((v[1]["provider"].as_str(), v[1]["dialect"].as_str()), (Some("edge"), Some("anthropic")));
    let d = Dialect::Openai;
    let r = request(&client(), v[0]["url"].as_str().unwrap(), d, key(d), &body(d, "gpt-5", false, None, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the fault file is loaded");
    assert_eq!(journal(&mocks, "openai").await["records"].as_array().map(Vec::len), Some(0), "answered by the proxy");
    let d = Dialect::Anthropic;
    let r =
        request(&client(), v[1]["url"].as_str().unwrap(), d, key(d), &body(d, "claude-sonnet-4-5", false, None, "x"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200, "forwarded to the anthropic mock");
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert_eq!(out.code(), Some(0));

    for (args, says) in [
        (vec!["proxy", "--upstream", "mine=http://127.0.0.1:9"], "names no dialect"),
        (vec!["proxy", "--upstream", "openai=ftp://api.openai.com"], "not an http:// or https:// URL"),
        (vec!["proxy", "--upstream", "openai=http://127.0.0.1:9", "--upstream-timeout", "0s"], "upstream-timeout"),
    ] {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The upstream's own refusal passes through as it came, journaled typed with its Retry-After;
/// a stream fault that found no stream to land on is not claimed by the record.
#[tokio::test]
async fn an_upstream_refusal_passes_through_typed_and_an_unapplied_stream_fault_is_not_claimed() {
    let mocks = fleet().await;
    let px = proxy_for(&mocks, Duration::from_secs(5)).await;
    post_rule(&mocks, "anthropic", "busy", &json!({"kind": "rate_limit", "retry_after": "2s"})).await;
    post_rule(&px, "anthropic", "cut", &json!({"kind": "stream_cut", "after_events": 2})).await;
    let d = Dialect::Anthropic;
    let b = body(d, "claude-sonnet-4-5", true, None, "x");
    let r = request(&client(), px.url("anthropic").unwrap(), d, key(d), &b).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "rate_limit_error", "the upstream's own body: {e}");
    let rec = last_attempt(&px, "anthropic").await;
    assert_eq!(
        (rec["status"].as_u64(), rec["refusal"].as_str(), rec["retry_after_ms"].as_u64()),
        (Some(429), Some("rate_limited"), Some(2000))
    );
    assert_eq!(rec["error"], "rate_limit_error");
    assert_eq!(rec["faults"], json!([]), "the cut had no stream to land on: {rec}");
}

/// The upstream's own broken stream reaches the client broken, and the journal says the break
/// was the upstream's.
#[tokio::test]
async fn an_upstream_that_cuts_its_own_stream_is_relayed_cut() {
    let mocks = fleet().await;
    let px = proxy_for(&mocks, Duration::from_secs(5)).await;
    post_rule(&mocks, "deepseek", "cut", &json!({"kind": "stream_cut", "after_events": 4})).await;
    let r = chat(&px, Dialect::Deepseek, "deepseek", "deepseek-chat", true).await;
    assert_eq!(r.status(), 200);
    let (bytes, end) = read_stream(r).await;
    assert!(end.is_err(), "a cut, not a clean end");
    let (fr, _) = frames(&bytes);
    assert_eq!(fr.iter().filter(|f| !f.is_comment()).count(), 4);
    let rec = last_attempt(&px, "deepseek").await;
    assert_eq!((rec["outcome"].as_str(), rec["error"].as_str()), (Some("stream_cut"), Some("upstream_cut")));
    assert_eq!((rec["events_sent"].as_u64(), rec["faults"].clone()), (Some(4), json!([])));
    assert_eq!(rec["bytes_sent"].as_u64(), Some(bytes.len() as u64));
}
