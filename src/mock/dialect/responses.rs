//! OpenAI Responses API, `POST /v1/responses` (../shared/WIRE.md "Agent
//! traffic"): the request (`input` as text or items, `instructions`, flat function `tools`,
//! `max_output_tokens`), the response object (`status`, `output` items `reasoning`, `message`,
//! `function_call`; usage with cached and reasoning tokens), and the typed event stream: every
//! event has an `event:` line, a `type` and a rising `sequence_number`, and a stream ends in
//! exactly one of `response.completed` / `response.incomplete` / `response.failed`, or an
//! `error` event. No `[DONE]`.
//!
//! Shapes follow openai-python's `types/responses` models (the official SDK is the judge).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::frames::{Frames, json_text};
use super::{ApiError, ChatRequest, Completion, Finish, Message, StreamPlan};
use crate::mock::tools::{ToolDecl, ToolRequest};
use crate::sse;

#[derive(Deserialize)]
struct Req {
    model: Option<String>,
    input: Option<Input>,
    instructions: Option<String>,
    max_output_tokens: Option<u64>,
    stream: Option<bool>,
    tools: Option<Vec<ReqTool>>,
    tool_choice: Option<Value>,
    parallel_tool_calls: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    Text(String),
    Items(Vec<Item>),
}

/// One input item: a message (with or without `type: message`), a `function_call` the model
/// made earlier, its `function_call_output`, or a `reasoning` item handed back.
#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: Option<String>,
    role: Option<String>,
    content: Option<Value>,
    name: Option<String>,
    arguments: Option<String>,
    output: Option<Value>,
}

#[derive(Deserialize)]
struct ReqTool {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    parameters: Option<Value>,
}

fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// Request fields the response object echoes back, as the API does.
const ECHOED: [&str; 8] = [
    "instructions",
    "max_output_tokens",
    "parallel_tool_calls",
    "tool_choice",
    "tools",
    "temperature",
    "top_p",
    "metadata",
];

pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let bad = |message: String, param: Option<&'static str>| ApiError::BadRequest { message, param };
    let echo: serde_json::Map<String, Value> = serde_json::from_slice::<serde_json::Map<String, Value>>(body)
        .map(|m| m.into_iter().filter(|(k, _)| ECHOED.contains(&k.as_str())).collect())
        .unwrap_or_default();
    let r: Req = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            bad("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)".into(), None)
        } else {
            bad(format!("Invalid request body: {e}"), None)
        }
    })?;
    let model = r
        .model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("Missing required parameter: 'model'.".into(), Some("model")))?;
    let (messages, answers_tool_result) = match r.input {
        None => return Err(bad("Missing required parameter: 'input'.".into(), Some("input"))),
        Some(Input::Text(t)) => (vec![Message { role: "user".into(), text: t, name: None }], false),
        Some(Input::Items(items)) => {
            let last_output = items.last().is_some_and(|i| i.kind.as_deref() == Some("function_call_output"));
            let messages = items
                .into_iter()
                .filter_map(|i| match i.kind.as_deref() {
                    None | Some("message") => Some(Message {
                        role: i.role.unwrap_or_else(|| "user".into()),
                        text: i.content.as_ref().map(content_text).unwrap_or_default(),
                        name: None,
                    }),
                    Some("function_call") => Some(Message {
                        role: "assistant".into(),
                        text: format!("{}{}", i.name.unwrap_or_default(), i.arguments.unwrap_or_default()),
                        name: None,
                    }),
                    Some("function_call_output") => Some(Message {
                        role: "tool".into(),
                        text: i.output.as_ref().map(content_text).unwrap_or_default(),
                        name: None,
                    }),
                    _ => None,
                })
                .collect();
            (messages, last_output)
        }
    };
    let decls: Vec<ToolDecl> = r
        .tools
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.kind == "function")
        .filter_map(|t| Some(ToolDecl { name: t.name?, schema: t.parameters.unwrap_or(Value::Null) }))
        .collect();
    let choice = super::openai::tool_choice(r.tool_choice.as_ref(), |v| v["name"].as_str())?;
    Ok(ChatRequest {
        model,
        stream: r.stream.unwrap_or(false),
        max_tokens: r.max_output_tokens,
        system: r.instructions,
        tools: ToolRequest::new(decls, choice, r.parallel_tool_calls.unwrap_or(true), answers_tool_result, &messages),
        messages,
        echo: (!echo.is_empty()).then_some(Value::Object(echo)),
        ..ChatRequest::default()
    })
}

/// An id in the API's style: a prefix and 50 hex digits derived from the completion's id.
fn item_id(prefix: &str, c: &Completion, n: u64) -> String {
    let a = crate::rng::mix(crate::rng::fnv1a(c.id.as_bytes()) ^ n);
    let b = crate::rng::mix(a);
    let c2 = crate::rng::mix(b);
    let d = crate::rng::mix(c2);
    format!("{prefix}{a:016x}{b:016x}{c2:016x}{:02x}", d & 0xff)
}

fn usage(c: &Completion) -> Value {
    let output = c.completion_tokens();
    json!({
        "input_tokens": c.prompt_tokens,
        "input_tokens_details": {"cached_tokens": c.cached_tokens},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": c.reasoning.len()},
        "total_tokens": c.prompt_tokens + output,
    })
}

/// One output item, typed: the response object and the stream's item events both write it.
#[derive(Serialize)]
#[serde(untagged)]
enum OutputItem<'a> {
    Reasoning {
        id: String,
        #[serde(rename = "type")]
        kind: &'static str,
        summary: [(); 0],
    },
    Message {
        id: String,
        #[serde(rename = "type")]
        kind: &'static str,
        status: &'static str,
        /// Empty while in progress, the one text part once done.
        content: Vec<TextPart<'a>>,
        role: &'static str,
    },
    FunctionCall {
        id: String,
        #[serde(rename = "type")]
        kind: &'static str,
        status: &'static str,
        arguments: &'a str,
        call_id: &'a str,
        name: &'a str,
    },
}

#[derive(Serialize)]
struct TextPart<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    annotations: [(); 0],
    logprobs: [(); 0],
    text: &'a str,
}

fn reasoning_item(c: &Completion) -> OutputItem<'static> {
    OutputItem::Reasoning { id: item_id("rs_", c, 0), kind: "reasoning", summary: [] }
}

fn message_item<'a>(c: &Completion, text: &'a str, status: &'static str) -> OutputItem<'a> {
    let content = if status == "in_progress" { Vec::new() } else { vec![text_part(text)] };
    OutputItem::Message { id: item_id("msg_", c, 1), kind: "message", status, content, role: "assistant" }
}

fn text_part(text: &str) -> TextPart<'_> {
    TextPart { kind: "output_text", annotations: [], logprobs: [], text }
}

fn call_item<'a>(c: &'a Completion, i: usize, arguments: &'a str, status: &'static str) -> OutputItem<'a> {
    let t = &c.tool_calls[i];
    OutputItem::FunctionCall {
        id: item_id("fc_", c, 2 + i as u64),
        kind: "function_call",
        status,
        arguments,
        call_id: &t.id,
        name: &t.name,
    }
}

/// Every output item in its final form.
fn output<'a>(c: &'a Completion, text: &'a str) -> Vec<OutputItem<'a>> {
    let mut out = Vec::new();
    if !c.reasoning.is_empty() {
        out.push(reasoning_item(c));
    }
    if c.tool_calls.is_empty() {
        out.push(message_item(c, text, "completed"));
    }
    for (i, t) in c.tool_calls.iter().enumerate() {
        out.push(call_item(c, i, &t.arguments, "completed"));
    }
    out
}

/// `completed`, or `incomplete` with `max_output_tokens` when the output was cut.
fn status(c: &Completion) -> (&'static str, Value) {
    match c.finish {
        Finish::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        Finish::Stop | Finish::ToolCalls => ("completed", Value::Null),
    }
}

/// The response object; `state` overrides status, output, usage and error for the stream's
/// opening (`in_progress`) and failing (`failed`) snapshots.
/// The `error` of a failed response.
fn failed_error() -> Value {
    json!({"code": "server_error", "message": "The server had an error while processing your request. Sorry about that!"})
}

/// `response.failed` for a response known only by the snapshot its stream announced (the fault
/// proxy's upstream): that snapshot, failed, without output or usage.
pub fn failed_frame_from(snapshot: &Value, seq: usize) -> Bytes {
    let mut response = snapshot.clone();
    if let Some(r) = response.as_object_mut() {
        r.insert("status".into(), json!("failed"));
        r.insert("error".into(), failed_error());
        r.insert("output".into(), json!([]));
        r.insert("usage".into(), Value::Null);
        r.insert("incomplete_details".into(), Value::Null);
    }
    let data = json!({"type": "response.failed", "sequence_number": seq, "response": response});
    sse::encode(Some("response.failed"), &data.to_string())
}

fn response(c: &Completion, state: Option<&str>) -> Value {
    let (status, incomplete) = status(c);
    let (status, incomplete, output, usage, error) = match state {
        None => (status, incomplete, json!(output(c, &c.text())), usage(c), Value::Null),
        Some("failed") => ("failed", Value::Null, json!([]), Value::Null, failed_error()),
        Some(s) => (
            if s == "in_progress" { "in_progress" } else { "queued" },
            Value::Null,
            json!([]),
            Value::Null,
            Value::Null,
        ),
    };
    let mut v = json!({
        "id": item_id("resp_", c, 99), "object": "response", "created_at": c.created, "status": status,
        "background": false, "error": error, "incomplete_details": incomplete, "instructions": null,
        "max_output_tokens": null, "model": c.model, "output": output, "parallel_tool_calls": true,
        "previous_response_id": null, "reasoning": {"effort": null, "summary": null}, "store": true,
        "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
        "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": null, "metadata": {},
    });
    // The request's own settings replace the defaults, in place (the key order stays the API's).
    if let (Some(Value::Object(echo)), Some(obj)) = (&c.echo, v.as_object_mut()) {
        for (k, val) in echo {
            obj.insert(k.clone(), val.clone());
        }
    }
    v
}

pub fn render_completion(c: &Completion) -> Bytes {
    super::json_bytes(&response(c, None))
}

/// Writes typed events: each event's own fields, then its `type` and rising `sequence_number`.
struct Events(Frames);

impl Events {
    fn push(&mut self, kind: &str, fields: impl FnOnce(&mut Frames)) {
        let seq = self.0.count();
        self.0.open(Some(kind)).raw("{");
        fields(&mut self.0);
        self.0.raw(",\"type\":").str(kind).raw(",\"sequence_number\":").json(&seq).raw("}").close();
    }

    /// An `output_item.added` / `.done` event.
    fn item(&mut self, kind: &str, index: usize, item: &OutputItem<'_>) {
        self.push(kind, |f| {
            f.raw("\"output_index\":").json(&index).raw(",\"item\":").json(item);
        });
    }
}

pub fn stream_plan(c: &Completion) -> StreamPlan {
    let mut ev = Events(Frames::new(c.completion_tokens() as usize + 12, 160));
    // The opening snapshot goes out twice (created, in progress): rendered once.
    let opening = json_text(&response(c, Some("in_progress")));
    for kind in ["response.created", "response.in_progress"] {
        ev.push(kind, |f| {
            f.raw("\"response\":").raw(&opening);
        });
    }
    let mut index = 0;
    if !c.reasoning.is_empty() {
        let item = reasoning_item(c);
        ev.item("response.output_item.added", index, &item);
        ev.item("response.output_item.done", index, &item);
        index += 1;
    }
    if c.tool_calls.is_empty() {
        let id = item_id("msg_", c, 1);
        let at = |f: &mut Frames| {
            f.raw("\"item_id\":").str(&id).raw(",\"output_index\":").json(&index).raw(",\"content_index\":0");
        };
        ev.item("response.output_item.added", index, &message_item(c, "", "in_progress"));
        ev.push("response.content_part.added", |f| {
            at(f);
            f.raw(",\"part\":").json(&text_part(""));
        });
        for p in &c.pieces {
            ev.push("response.output_text.delta", |f| {
                at(f);
                f.raw(",\"delta\":").str(p).raw(",\"logprobs\":[]");
            });
        }
        let text = c.text();
        ev.push("response.output_text.done", |f| {
            at(f);
            f.raw(",\"text\":").str(&text).raw(",\"logprobs\":[]");
        });
        ev.push("response.content_part.done", |f| {
            at(f);
            f.raw(",\"part\":").json(&text_part(&text));
        });
        ev.item("response.output_item.done", index, &message_item(c, &text, "completed"));
    }
    for (i, t) in c.tool_calls.iter().enumerate() {
        let out = index + i;
        let id = item_id("fc_", c, 2 + i as u64);
        let at = |f: &mut Frames| {
            f.raw("\"item_id\":").str(&id).raw(",\"output_index\":").json(&out);
        };
        ev.item("response.output_item.added", out, &call_item(c, i, "", "in_progress"));
        for a in &t.fragments {
            ev.push("response.function_call_arguments.delta", |f| {
                at(f);
                f.raw(",\"delta\":").str(a);
            });
        }
        ev.push("response.function_call_arguments.done", |f| {
            at(f);
            f.raw(",\"arguments\":").str(&t.arguments).raw(",\"name\":").str(&t.name);
        });
        ev.item("response.output_item.done", out, &call_item(c, i, &t.arguments, "completed"));
    }
    let terminal = ev.0.count();
    let kind = if c.finish == Finish::Length { "response.incomplete" } else { "response.completed" };
    ev.push(kind, |f| {
        f.raw("\"response\":").json(&response(c, None));
    });
    StreamPlan { frames: ev.0.into_list(), first_content: 2, terminal }
}

/// The `error` event (`stream_error_event`), numbered as the `seq`th event.
pub fn error_frame(seq: usize) -> Bytes {
    let data = json!({"type": "error", "code": "server_error",
        "message": "The server had an error while processing your request. Sorry about that!",
        "param": null, "sequence_number": seq});
    sse::encode(Some("error"), &data.to_string())
}

/// `response.failed` after HTTP 200 (`response_failed`), numbered as the `seq`th event.
pub fn failed_frame(c: &Completion, seq: usize) -> Bytes {
    let data = json!({"type": "response.failed", "sequence_number": seq, "response": response(c, Some("failed"))});
    sse::encode(Some("response.failed"), &data.to_string())
}

pub fn malformed_frame(seq: usize) -> Bytes {
    Bytes::from(format!(
        "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{seq},\"delta\":\"unterminated\n\n"
    ))
}
