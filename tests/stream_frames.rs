//! Stream frames and answers are byte-for-byte what the providers' SDKs were checked against
//! (WIRE.md, "Streams"). The frames of every dialect's streams (OpenAI chat, DeepSeek, Anthropic,
//! Responses), their fault frames (malformed, in-band error, `response.failed`) at several cut
//! points, and the same completion as a plain answer are compared with `tests/data/stream_frames.json`, recorded from the rendering
//! the official-SDK check passed on. The corpus covers text with characters JSON must escape,
//! reasoning, tool calls (names split or whole, arguments that are not JSON), usage chunks,
//! prompt caching, length cuts, an empty answer, and a Responses object echoing its request.
//!
//! `GATEDRILL_BLESS=1 cargo nextest run --test stream_frames` rewrites the recording; do that
//! only for an intended change of the wire, and say so in the commit.

use gatedrill::mock::config::Dialect;
use gatedrill::mock::dialect::{self, Api, Completion, Finish};
use gatedrill::mock::tools::ToolCall;
use serde_json::{Value, json};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stream_frames.json");

fn call(id: &str, name: &str, fragments: &[&str]) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: fragments.concat(),
        fragments: fragments.iter().map(|f| f.to_string()).collect(),
    }
}

fn base(api: Api, id: &str) -> Completion {
    Completion {
        api,
        id: id.into(),
        created: 1_764_547_200,
        model: "gpt-5".into(),
        pieces: vec!["Hello", ",", " world", "."],
        reasoning: Vec::new(),
        tool_calls: Vec::new(),
        prompt_tokens: 42,
        cached_tokens: 0,
        cache_write_tokens: 0,
        finish: Finish::Stop,
        split_tool_names: false,
        echo: None,
    }
}

/// Every shape a stream takes, for one API.
fn corpus(api: Api, id: &str) -> Vec<(&'static str, Completion)> {
    let escaped = Completion {
        pieces: vec!["He said \"hi\"", "\n", "tab\t", "back\\slash", "é", "😀", "\u{1}\u{1f}", "</script>", "\u{2028}"],
        ..base(api, id)
    };
    let reasoning =
        Completion { reasoning: vec!["Let", " me", " think", " \"hard\""], cached_tokens: 30, ..base(api, id) };
    let tools = |split_tool_names| Completion {
        pieces: Vec::new(),
        tool_calls: vec![
            call("call_AAAAAAAAAAAAAAAAAAAAAA", "get_weather", &["{\"city\"", ": \"Par", "is\"}"]),
            call("call_BBBBBBBBBBBBBBBBBBBBBB", "lookup_order_état", &["{\"id\": 7", "}"]),
        ],
        finish: Finish::ToolCalls,
        split_tool_names,
        ..base(api, id)
    };
    let not_json = Completion {
        pieces: Vec::new(),
        tool_calls: vec![call("call_CCCCCCCCCCCCCCCCCCCCCC", "search", &["{\"q\": \"unterminated"])],
        finish: Finish::ToolCalls,
        ..base(api, id)
    };
    let length = Completion { finish: Finish::Length, cache_write_tokens: 12, cached_tokens: 5, ..base(api, id) };
    let empty = Completion { pieces: Vec::new(), prompt_tokens: 0, ..base(api, id) };
    let echo = Completion {
        echo: Some(json!({"instructions": "Be brief.", "temperature": 0.2, "max_output_tokens": 64,
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "metadata": {"k": "v"}})),
        ..base(api, id)
    };
    vec![
        ("text", base(api, id)),
        ("escaped", escaped),
        ("reasoning", reasoning),
        ("tools", tools(false)),
        ("tools_split_names", tools(true)),
        ("tool_args_not_json", not_json),
        ("length_cached", length),
        ("empty", empty),
        ("echo", echo),
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("frames are UTF-8")
}

/// The recording of every case: frames, the plan's indexes, and the fault frames at cuts.
fn render_all() -> Value {
    let apis = [
        ("openai", Dialect::Openai, Api::Chat, "chatcmpl-0123456789abcdef01234567"),
        ("deepseek", Dialect::Deepseek, Api::Chat, "0123abcd-0123-4567-a89a-0123456789ab"),
        ("anthropic", Dialect::Anthropic, Api::Chat, "msg_01ABCDEFGHIJKLMNOPQRSTUV"),
        ("responses", Dialect::Openai, Api::Responses, "chatcmpl-0123456789abcdef01234567"),
    ];
    let mut cases = serde_json::Map::new();
    for (api_name, d, api, id) in apis {
        for (name, c) in corpus(api, id) {
            for include_usage in [false, true] {
                let plan = dialect::stream_plan(d, &c, include_usage);
                let cuts: Vec<usize> = [0, 1, 3, plan.terminal].into_iter().filter(|&s| s <= plan.terminal).collect();
                let faults: Vec<Value> = cuts
                    .iter()
                    .map(|&seq| {
                        json!({"seq": seq,
                            "malformed": text(&dialect::malformed_frame(d, &c, seq)),
                            "error": text(&dialect::error_frame(d, &c, seq)),
                            "failed": text(&dialect::failed_frame(d, &c, seq))})
                    })
                    .collect();
                cases.insert(
                    format!("{api_name}/{name}/usage={include_usage}"),
                    json!({"plain": text(&dialect::render_completion(d, &c)),
                        "first_content": plan.first_content, "terminal": plan.terminal,
                        "frames": (0..plan.frames.len()).map(|i| text(&plan.frames.get(i))).collect::<Vec<_>>(),
                        "faults": faults}),
                );
            }
        }
    }
    Value::Object(cases)
}

#[test]
fn every_dialects_stream_frames_match_the_recording() {
    // Arrange
    let now = render_all();
    if std::env::var_os("GATEDRILL_BLESS").is_some() {
        let mut s = serde_json::to_string_pretty(&now).expect("serialisable");
        s.push('\n');
        std::fs::write(PATH, s).expect("write the recording");
    }
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(PATH).expect("tests/data/stream_frames.json")).expect("JSON");

    // Act: the first difference, named by case, frame and byte.
    let (now, recorded) = (now.as_object().expect("object"), recorded.as_object().expect("object"));
    let mut differences = Vec::new();
    for (case, want) in recorded {
        let Some(got) = now.get(case) else {
            differences.push(format!("{case}: no longer rendered"));
            continue;
        };
        if got == want {
            continue;
        }
        for key in ["plain", "first_content", "terminal"] {
            if got[key] != want[key] {
                differences.push(format!("{case}: {key} {} != recorded {}", got[key], want[key]));
            }
        }
        let frames = |v: &Value, k: &str| v[k].as_array().cloned().unwrap_or_default();
        let (g, w) = (frames(got, "frames"), frames(want, "frames"));
        if g.len() != w.len() {
            differences.push(format!("{case}: {} frames != recorded {}", g.len(), w.len()));
        }
        if let Some(i) = (0..g.len().min(w.len())).find(|&i| g[i] != w[i]) {
            differences.push(format!("{case}: frame {i}\n  got      {}\n  recorded {}", g[i], w[i]));
        }
        if got["faults"] != want["faults"] {
            differences
                .push(format!("{case}: fault frames\n  got      {}\n  recorded {}", got["faults"], want["faults"]));
        }
    }
    differences.extend(now.keys().filter(|k| !recorded.contains_key(*k)).map(|k| format!("{k}: not recorded")));

    // Assert
    assert!(recorded.len() >= 72, "the recording holds every case ({} cases)", recorded.len());
    assert!(differences.is_empty(), "stream frames differ from the recording:\n{}", differences.join("\n"));
}
