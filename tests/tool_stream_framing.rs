//! Property: whatever the split points of the bytes on the wire, a tool-call stream assembles
//! into exactly the planned calls; cut anywhere before its terminal event, it assembles into an
//! incomplete call whose arguments are a prefix of the planned ones (../shared/WIRE.md
//! "Agent traffic": ids and names on the first delta, arguments in fragments).

use gatedrill::mock::assemble::{ToolCallVerdict, ToolStream};
use gatedrill::mock::config::Dialect;
use gatedrill::mock::dialect::{self, Api, Completion, Finish};
use gatedrill::mock::tools::{self, ToolDecl};
use gatedrill::rng::DrawKey;
use proptest::prelude::*;
use serde_json::{Value, json};

fn completion(api: Api, seed: u64, n_calls: usize, split_names: bool) -> Completion {
    let decls: Vec<ToolDecl> = (0..n_calls)
        .map(|i| ToolDecl {
            name: format!("tool_number_{i}"),
            schema: json!({"type": "object", "properties": {
                "q": {"type": "string", "minLength": 3}, "n": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "nested": {"type": "object", "properties": {"flag": {"type": "boolean"}}}}}),
        })
        .collect();
    let chosen: Vec<&ToolDecl> = decls.iter().collect();
    let calls = tools::plan(&chosen, DrawKey::new(seed), false, |b| format!("call_{b:x}"));
    Completion {
        api,
        id: "chatcmpl-prop".into(),
        created: 1,
        model: "m".into(),
        pieces: Vec::new(),
        reasoning: Vec::new(),
        tool_calls: calls,
        prompt_tokens: 10,
        cached_tokens: 0,
        cache_write_tokens: 0,
        finish: Finish::ToolCalls,
        split_tool_names: split_names,
        echo: None,
    }
}

fn assemble(d: Dialect, api: Api, bytes: &[u8], splits: &[usize]) -> ToolStream {
    let mut decoder = gatedrill::sse::Decoder::new();
    let mut ts = ToolStream::default();
    let mut at = 0;
    let mut cuts: Vec<usize> = splits.iter().map(|s| s % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    for c in cuts {
        for f in decoder.feed(&bytes[at..c.max(at)]) {
            if let Some(v) = f.data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) {
                ts.feed(d, api, &v);
            }
        }
        at = c.max(at);
    }
    ts
}

const CASES: [(Dialect, Api); 4] = [
    (Dialect::Openai, Api::Chat),
    (Dialect::Deepseek, Api::Chat),
    (Dialect::Anthropic, Api::Chat),
    (Dialect::Openai, Api::Responses),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_assembles_the_planned_calls(
        seed in any::<u64>(), n in 1usize..4, case in 0usize..4, split_names in any::<bool>(),
        splits in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let (d, api) = CASES[case];
        let c = completion(api, seed, n, split_names);
        let plan = dialect::stream_plan(d, &c, true);
        let bytes = plan.frames.span(0..plan.frames.len());
        let ts = assemble(d, api, &bytes, &splits);
        prop_assert_eq!(ts.verdict(), ToolCallVerdict::Valid);
        prop_assert_eq!(ts.calls.len(), n);
        for (got, want) in ts.calls.values().zip(&c.tool_calls) {
            prop_assert_eq!(&got.name, &want.name);
            prop_assert_eq!(&got.id, &want.id);
            prop_assert_eq!(&got.arguments, &want.arguments);
        }
    }

    #[test]
    fn a_cut_before_the_terminal_event_is_incomplete(
        seed in any::<u64>(), n in 1usize..3, case in 0usize..4, at in any::<usize>(), mid_frame in any::<usize>(),
    ) {
        let (d, api) = CASES[case];
        let c = completion(api, seed, n, false);
        let plan = dialect::stream_plan(d, &c, false);
        // Keep whole frames up to a point before the terminal one, plus part of the next frame.
        let keep = 1 + at % (plan.terminal - 1);
        let mut bytes = plan.frames.span(0..keep).to_vec();
        let next = plan.frames.get(keep);
        bytes.extend_from_slice(&next[..mid_frame % next.len()]);
        let ts = assemble(d, api, &bytes, &[]);
        prop_assert!(ts.finish.is_none());
        if !ts.calls.is_empty() {
            prop_assert_eq!(ts.verdict(), ToolCallVerdict::Incomplete);
        }
        for (got, want) in ts.calls.values().zip(&c.tool_calls) {
            prop_assert!(want.arguments.starts_with(&got.arguments), "{} !< {}", got.arguments, want.arguments);
        }
    }
}
