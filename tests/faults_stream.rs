//! Stream faults: a cut is told from a clean end, a truncation ends cleanly without its
//! terminator, a malformed frame is broken JSON, a stall keeps the line open (with or without
//! keep-alives), an in-band error arrives after HTTP 200, and truncated output says "length".

mod common;

use std::time::{Duration, Instant};

use common::*;
use gatedrill::mock::config::Dialect;
use serde_json::{Value, json};

async fn stream_with(
    fault: Value,
    d: Dialect,
    name: &str,
    model: &str,
) -> (Vec<u8>, Result<(), reqwest::Error>, Value) {
    let f = fleet().await;
    load_rules(&f, json!([{"id": "s", "fault": fault, "match": {"provider": name}}]));
    let r = chat(&f, d, name, model, true).await;
    assert_eq!(r.status(), 200, "stream faults come after HTTP 200");
    let (bytes, end) = read_stream(r).await;
    let rec = last_attempt(&f, name).await;
    (bytes, end, rec)
}

#[tokio::test]
async fn cut_drops_the_connection_without_terminator() {
    for (d, name, model) in DIALECTS {
        let (bytes, end, rec) = stream_with(json!({"kind": "stream_cut", "after_events": 4}), d, name, model).await;
        assert!(end.is_err(), "{name}: a cut is a body error, not a clean end");
        let (fr, _) = frames(&bytes);
        assert_eq!(fr.iter().filter(|f| !f.is_comment()).count(), 4, "{name}");
        assert!(fr.iter().all(|f| f.data.as_deref() != Some("[DONE]") && f.event.as_deref() != Some("message_stop")));
        assert_eq!(rec["outcome"], "stream_cut");
        assert_eq!(rec["events_sent"], 4);
        assert_eq!(rec["bytes_sent"].as_u64().unwrap() as usize, bytes.len());
    }
}

#[tokio::test]
async fn truncate_ends_cleanly_but_without_finish() {
    for (d, name, model) in DIALECTS {
        let (bytes, end, rec) =
            stream_with(json!({"kind": "stream_truncate", "after_events": 3}), d, name, model).await;
        assert!(end.is_ok(), "{name}: truncation is a clean HTTP end");
        let (fr, tail) = frames(&bytes);
        assert!(tail.is_empty());
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("finish_reason\":\"stop") && !text.contains("[DONE]") && !text.contains("message_stop"),
            "{text}"
        );
        assert_eq!(fr.len(), 3);
        assert_eq!(rec["outcome"], "stream_truncated");
    }
}

#[tokio::test]
async fn an_after_events_past_the_end_still_lands_before_the_terminator() {
    let (bytes, end, _) =
        stream_with(json!({"kind": "stream_truncate", "after_events": 100000}), Dialect::Openai, "openai", "gpt-5")
            .await;
    assert!(end.is_ok());
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("[DONE]") && !text.contains("\"finish_reason\":\"stop\""));
}

#[tokio::test]
async fn malformed_frame_is_broken_json() {
    for (d, name, model) in DIALECTS {
        let (bytes, _, rec) = stream_with(json!({"kind": "stream_malformed", "after_events": 2}), d, name, model).await;
        let (fr, _) = frames(&bytes);
        let last = fr.last().unwrap().data.as_deref().unwrap();
        assert!(serde_json::from_str::<Value>(last).is_err(), "{name}: {last}");
        assert!(fr[..fr.len() - 1].iter().all(|f| serde_json::from_str::<Value>(f.data.as_deref().unwrap()).is_ok()));
        assert_eq!(rec["outcome"], "stream_malformed");
    }
}

#[tokio::test]
async fn in_band_error_after_200() {
    let (bytes, end, rec) = stream_with(
        json!({"kind": "stream_error_event", "after_events": 3}),
        Dialect::Anthropic,
        "anthropic",
        "claude-sonnet-4-5",
    )
    .await;
    assert!(end.is_ok());
    let (fr, _) = frames(&bytes);
    let last = fr.last().unwrap();
    assert_eq!(last.event.as_deref(), Some("error"));
    let e: Value = serde_json::from_str(last.data.as_deref().unwrap()).unwrap();
    assert_eq!(e["error"]["type"], "overloaded_error");
    assert_eq!(rec["outcome"], "stream_error_event");

    let (bytes, _, _) =
        stream_with(json!({"kind": "stream_error_event", "after_events": 2}), Dialect::Openai, "openai", "gpt-5").await;
    let (fr, _) = frames(&bytes);
    let e: Value = serde_json::from_str(fr.last().unwrap().data.as_deref().unwrap()).unwrap();
    assert!(e.get("choices").is_none() && e["error"]["type"] == "server_error", "{e}");
}

#[tokio::test]
async fn stall_with_keepalive_holds_the_line_until_the_client_gives_up() {
    let f = fleet().await;
    load_rules(
        &f,
        json!([{"id": "st", "fault": {"kind": "stream_stall", "after_events": 2, "keepalive": true}, "match": {"provider": "deepseek"}}]),
    );
    let d = Dialect::Deepseek;
    let r = chat(&f, d, "deepseek", "deepseek-chat", true).await;
    let mut got = Vec::new();
    let read = async {
        use futures::StreamExt;
        let mut s = r.bytes_stream();
        while let Some(Ok(b)) = s.next().await {
            got.extend_from_slice(&b);
        }
    };
    // The stall never ends by itself within a drill: the client's deadline ends it.
    assert!(tokio::time::timeout(Duration::from_millis(450), read).await.is_err());
    let (fr, _) = frames(&got);
    assert_eq!(fr.iter().filter(|f| !f.is_comment()).count(), 2);
    assert!(fr.iter().filter(|f| f.is_comment()).count() >= 2, "keep-alives every 100ms during the stall");
    assert!(fr.iter().filter(|f| f.is_comment()).all(|f| f.comments == ["keep-alive"]));
    let j = journal(&f, "deepseek").await;
    assert_eq!(j["records"][0]["outcome"], "stream_stalled");
}

#[tokio::test]
async fn stall_ends_with_a_cut_when_its_max_passes() {
    let (bytes, end, rec) = stream_with(
        json!({"kind": "stream_stall", "after_events": 1, "max": "150ms"}),
        Dialect::Openai,
        "openai",
        "gpt-5",
    )
    .await;
    assert!(end.is_err());
    assert_eq!(frames(&bytes).0.len(), 1);
    assert_eq!(rec["outcome"], "stream_stalled");
    assert!(rec["duration_ms"].as_f64().unwrap() >= 150.0);
}

#[tokio::test]
async fn truncated_output_says_length_with_completion_equal_to_max_tokens() {
    let f = fleet().await;
    load_rules(&f, json!([{"id": "t", "fault": {"kind": "truncated_output"}}]));
    for (d, name, model) in DIALECTS {
        let r = request(&client(), f.url(name).unwrap(), d, key(d), &body(d, model, false, Some(200), "hi"))
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap();
        match d {
            Dialect::Anthropic => assert_eq!(
                (b["stop_reason"].as_str(), b["usage"]["output_tokens"].as_u64()),
                (Some("max_tokens"), Some(200))
            ),
            _ => assert_eq!(
                (b["choices"][0]["finish_reason"].as_str(), b["usage"]["completion_tokens"].as_u64()),
                (Some("length"), Some(200))
            ),
        }
    }
}

#[tokio::test]
async fn slow_first_token_sends_headers_then_waits() {
    let f = fleet().await;
    load_rules(&f, json!([{"id": "slow", "fault": {"kind": "slow_first_token", "delay": "300ms"}}]));
    let t0 = Instant::now();
    let r = chat(&f, Dialect::Openai, "openai", "gpt-5", true).await;
    let headers_at = t0.elapsed();
    let (bytes, _) = read_stream(r).await;
    assert!(t0.elapsed() >= Duration::from_millis(300), "the first token waited");
    assert!(headers_at < Duration::from_millis(300), "headers did not wait: {headers_at:?}");
    assert!(frames(&bytes).0.len() > 3);
}

#[tokio::test]
async fn deepseek_keeps_a_delayed_plain_answer_alive_with_empty_lines() {
    let f = fleet().await;
    load_rules(
        &f,
        json!([{"id": "d", "fault": {"kind": "delay", "fixed": "350ms"}, "match": {"provider": "deepseek"}}]),
    );
    let r = chat(&f, Dialect::Deepseek, "deepseek", "deepseek-chat", false).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let blank = text.bytes().take_while(|b| *b == b'\n').count();
    assert!(blank >= 2, "empty lines before the JSON: {blank}");
    let b: Value = serde_json::from_str(text.trim_start()).unwrap();
    assert_eq!(b["object"], "chat.completion");
}
