//! Assembling tool calls from a stream, as an SDK's stream helper does
//! (../shared/WIRE.md "Agent traffic"): OpenAI-shaped `delta.tool_calls[]` by index (id and name on the first delta, name
//! possibly split, arguments in fragments), Anthropic `tool_use` blocks with `input_json_delta`,
//! and Responses `function_call` items with `function_call_arguments.delta`.
//!
//! The tests judge the mocks' framing with it, and the reference gateway judges a provider's
//! tool-call answer with it: a call whose arguments do not parse, or a stream that ended
//! before its terminal event, is a failed tool call ([`ToolCallVerdict`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::Dialect;
use super::dialect::Api;

/// One call put back together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssembledCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// How an answer's tool calls came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallVerdict {
    /// No tool call in the answer.
    NoCall,
    /// Every call complete, with arguments that parse as JSON objects.
    Valid,
    /// A call's arguments are not a JSON object (`tool_call_malformed`).
    MalformedArguments,
    /// The stream ended before its terminal event, or with an error, while a call was open.
    Incomplete,
}

/// The calls of one streamed answer, fed frame by frame.
#[derive(Debug, Default)]
pub struct ToolStream {
    pub calls: BTreeMap<u64, AssembledCall>,
    /// The finish / stop reason or terminal event type, once seen.
    pub finish: Option<String>,
    /// An in-band error (chat `error` object, Anthropic `error`, Responses `error` or
    /// `response.failed`) arrived.
    pub errored: bool,
}

impl ToolStream {
    /// Feeds one decoded `data:` payload of the given dialect and API.
    pub fn feed(&mut self, d: Dialect, api: Api, v: &Value) {
        if api == Api::Responses {
            return self.feed_responses(v);
        }
        match d {
            Dialect::Openai | Dialect::Deepseek => self.feed_chat(v),
            Dialect::Anthropic => self.feed_messages(v),
        }
    }

    fn call(&mut self, index: u64) -> &mut AssembledCall {
        self.calls.entry(index).or_default()
    }

    fn feed_chat(&mut self, v: &Value) {
        if v.get("error").is_some_and(|e| !e.is_null()) {
            self.errored = true;
            return;
        }
        let Some(choice) = v["choices"].as_array().and_then(|c| c.first()) else { return };
        for tc in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let Some(i) = tc["index"].as_u64() else { continue };
            let call = self.call(i);
            if let Some(id) = tc["id"].as_str() {
                call.id.push_str(id);
            }
            if let Some(n) = tc["function"]["name"].as_str() {
                call.name.push_str(n);
            }
            if let Some(a) = tc["function"]["arguments"].as_str() {
                call.arguments.push_str(a);
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            self.finish = Some(f.to_string());
        }
    }

    fn feed_messages(&mut self, v: &Value) {
        let i = v["index"].as_u64().unwrap_or(0);
        match v["type"].as_str() {
            Some("content_block_start") if v["content_block"]["type"] == "tool_use" => {
                let b = &v["content_block"];
                let call = self.call(i);
                call.id = b["id"].as_str().unwrap_or_default().to_string();
                call.name = b["name"].as_str().unwrap_or_default().to_string();
            }
            Some("content_block_delta") if v["delta"]["type"] == "input_json_delta" => {
                let part = v["delta"]["partial_json"].as_str().unwrap_or_default().to_string();
                self.call(i).arguments.push_str(&part);
            }
            Some("message_delta") => self.finish = v["delta"]["stop_reason"].as_str().map(str::to_string),
            Some("error") => self.errored = true,
            _ => {}
        }
    }

    fn feed_responses(&mut self, v: &Value) {
        let i = v["output_index"].as_u64().unwrap_or(0);
        match v["type"].as_str() {
            Some("response.output_item.added") if v["item"]["type"] == "function_call" => {
                let item = &v["item"];
                let call = self.call(i);
                call.id = item["call_id"].as_str().unwrap_or_default().to_string();
                call.name = item["name"].as_str().unwrap_or_default().to_string();
            }
            Some("response.function_call_arguments.delta") => {
                let part = v["delta"].as_str().unwrap_or_default().to_string();
                self.call(i).arguments.push_str(&part);
            }
            Some(t @ ("response.completed" | "response.incomplete")) => self.finish = Some(t.to_string()),
            Some("response.failed" | "error") => self.errored = true,
            _ => {}
        }
    }

    /// The verdict once the stream has ended.
    pub fn verdict(&self) -> ToolCallVerdict {
        verdict(self.calls.values().map(|c| c.arguments.as_str()), self.finish.is_some() && !self.errored)
    }
}

/// The verdict over the arguments of an answer's calls; `complete` says the answer reached its
/// proper end.
pub fn verdict<'a>(arguments: impl IntoIterator<Item = &'a str>, complete: bool) -> ToolCallVerdict {
    let mut any = false;
    for a in arguments {
        any = true;
        if !complete {
            return ToolCallVerdict::Incomplete;
        }
        if !serde_json::from_str::<Value>(a).is_ok_and(|v| v.is_object()) {
            return ToolCallVerdict::MalformedArguments;
        }
    }
    if any { ToolCallVerdict::Valid } else { ToolCallVerdict::NoCall }
}

/// The calls of a plain (non-streamed) answer, with arguments as JSON text.
pub fn plain_calls(d: Dialect, api: Api, answer: &Value) -> Vec<AssembledCall> {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let calls: Vec<AssembledCall> = match (d, api) {
        (_, Api::Responses) => answer["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["type"] == "function_call")
            .map(|o| AssembledCall {
                id: text(&o["call_id"]),
                name: text(&o["name"]),
                arguments: text(&o["arguments"]),
            })
            .collect(),
        (Dialect::Anthropic, _) => answer["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "tool_use")
            // `input` is an object on the wire; a string there is arguments that did not parse.
            .map(|b| AssembledCall { id: text(&b["id"]), name: text(&b["name"]), arguments: text(&b["input"]) })
            .collect(),
        _ => answer["choices"][0]["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| AssembledCall {
                id: text(&c["id"]),
                name: text(&c["function"]["name"]),
                arguments: text(&c["function"]["arguments"]),
            })
            .collect(),
    };
    calls
}
