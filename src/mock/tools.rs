//! Tool calls in the mocks (../shared/WIRE.md "Agent traffic"): when a mock
//! model calls a tool, which one, with which arguments, and how the arguments are split into
//! stream fragments. Every dialect renders the same [`ToolCall`]s, so a call planned here looks
//! the same through OpenAI chat, the Responses API, Anthropic and DeepSeek.
//!
//! Deterministic: the decision and the arguments depend on the provider's [`ToolPolicy`], the
//! request (its tools, `tool_choice`, the last message) and the seed only, so a retry or a
//! failover to a mock of the same seed sees the same call. Arguments are valid JSON for the
//! declared schema (types, enums, bounds, required properties), unless a
//! `tool_call_malformed` fault asks otherwise.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::rng::DrawKey;

/// A tool the request declares: its name and its JSON Schema for the arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolDecl {
    pub name: String,
    pub schema: Value,
}

/// The request's `tool_choice`, in each dialect's words reduced to one meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ToolChoice {
    /// `auto` (the default): the provider's [`ToolPolicy`] decides.
    #[default]
    Auto,
    /// `none`: never call.
    None,
    /// `required` (OpenAI) / `any` (Anthropic): call at least one.
    Required,
    /// One named tool.
    Named(String),
}

/// When a mock model calls a tool under `tool_choice: auto` (per provider in the fleet file, so
/// per scenario).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolPolicy {
    /// Call the declared tools the last user message names (several names: parallel calls).
    #[default]
    WhenAsked,
    /// Call a tool on every turn that does not answer a tool result.
    Always,
    /// Never call a tool unless `tool_choice` demands one.
    Never,
}

/// One call the mock model makes.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    /// The dialect's call id (`call_…`, `toolu_…`).
    pub id: String,
    pub name: String,
    /// The arguments as the wire carries them: a JSON text.
    pub arguments: String,
    /// `arguments` in the order the stream sends it; each fragment counts as one token.
    pub fragments: Vec<String>,
}

/// What the request says about tools, as every dialect's parser reports it.
#[derive(Clone, Debug, Default)]
pub struct ToolRequest {
    pub tools: Vec<ToolDecl>,
    pub choice: ToolChoice,
    /// `parallel_tool_calls` (OpenAI) / not `disable_parallel_tool_use` (Anthropic).
    pub parallel: bool,
    /// The conversation ends with tool results: the model answers them in words.
    pub answers_tool_result: bool,
    /// Text of the last user turn (where `when_asked` looks for tool names).
    pub last_user_text: String,
}

impl ToolRequest {
    /// The tool side of a conversation; `when_asked` reads the last user turn of `messages`.
    pub fn new(
        tools: Vec<ToolDecl>,
        choice: ToolChoice,
        parallel: bool,
        answers_tool_result: bool,
        messages: &[crate::mock::dialect::Message],
    ) -> Self {
        let last_user_text =
            messages.iter().rev().find(|m| m.role == "user").map(|m| m.text.clone()).unwrap_or_default();
        ToolRequest { tools, choice, parallel, answers_tool_result, last_user_text }
    }

    /// The declared tools as the prompt counts them (names and schemas).
    pub fn text(&self) -> String {
        self.tools.iter().map(|t| format!("{} {}", t.name, t.schema)).collect::<Vec<_>>().join("\n")
    }
}

/// The tools to call, in call order; `force` (a tool fault fired) turns "no call" into one.
pub fn decide(req: &ToolRequest, policy: ToolPolicy, key: DrawKey, force: bool) -> Vec<&ToolDecl> {
    if req.tools.is_empty() {
        return Vec::new();
    }
    let named: Vec<&ToolDecl> = req.tools.iter().filter(|t| req.last_user_text.contains(t.name.as_str())).collect();
    let drawn = || vec![&req.tools[(key.with_str("tool").bits() % req.tools.len() as u64) as usize]];
    let mut chosen = match &req.choice {
        ToolChoice::None => Vec::new(),
        ToolChoice::Named(n) => req.tools.iter().filter(|t| &t.name == n).take(1).collect(),
        ToolChoice::Required if named.is_empty() => drawn(),
        ToolChoice::Required => named.clone(),
        ToolChoice::Auto if req.answers_tool_result => Vec::new(),
        ToolChoice::Auto => match policy {
            ToolPolicy::Never => Vec::new(),
            ToolPolicy::WhenAsked => named.clone(),
            ToolPolicy::Always if named.is_empty() => drawn(),
            ToolPolicy::Always => named.clone(),
        },
    };
    if force && chosen.is_empty() {
        chosen = if named.is_empty() { drawn() } else { named };
    }
    if !req.parallel {
        chosen.truncate(1);
    }
    chosen
}

/// Deepest nesting of generated arguments; deeper schemas get empty objects and arrays.
const MAX_DEPTH: u8 = 6;
/// Most values generated for one call, whatever the schema (arrays repeat their item schema,
/// so a small schema could otherwise ask for a huge document).
const MAX_VALUES: u32 = 2_000;
const WORDS: &[&str] = &["Paris", "Berlin", "Tokyo", "alpha", "gateway", "report", "ticket", "invoice"];

/// Arguments that validate against `schema`, drawn from `key`.
pub fn arguments(schema: &Value, key: DrawKey) -> String {
    let mut budget = MAX_VALUES;
    let v = value_for(schema, key, 0, &mut budget);
    // The top level of a tool's arguments is always an object.
    let v = if v.is_object() { v } else { Value::Object(Map::new()) };
    serde_json::to_string(&v).unwrap_or_else(|_| "{}".into())
}

fn value_for(schema: &Value, key: DrawKey, depth: u8, budget: &mut u32) -> Value {
    let Some(s) = schema.as_object() else { return Value::Object(Map::new()) };
    if *budget == 0 {
        return Value::Null;
    }
    *budget -= 1;
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        return e[(key.with_str("enum").bits() % e.len() as u64) as usize].clone();
    }
    if let Some(first) =
        ["anyOf", "oneOf", "allOf"].iter().find_map(|k| s.get(*k).and_then(Value::as_array).and_then(|a| a.first()))
    {
        return value_for(first, key, depth + 1, budget);
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ => "string",
    };
    let num = |name: &str| s.get(name).and_then(Value::as_f64);
    match ty {
        "object" => {
            let mut out = Map::new();
            if depth < MAX_DEPTH
                && let Some(props) = s.get("properties").and_then(Value::as_object)
            {
                for (name, sub) in props {
                    if *budget == 0 {
                        break;
                    }
                    out.insert(name.clone(), value_for(sub, key.with_str(name), depth + 1, budget));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let n = num("minItems").unwrap_or(1.0).clamp(0.0, 3.0) as u64;
            let n = num("maxItems").map_or(n, |m| n.min(m.max(0.0) as u64));
            let items = s.get("items").cloned().unwrap_or(Value::Null);
            if depth >= MAX_DEPTH {
                return Value::Array(Vec::new());
            }
            Value::Array((0..n).map(|i| value_for(&items, key.with(i), depth + 1, budget)).collect())
        }
        "integer" | "number" => {
            let lo = num("minimum").or(num("exclusiveMinimum").map(|m| m + 1.0)).unwrap_or(0.0);
            let hi = num("maximum").or(num("exclusiveMaximum").map(|m| m - 1.0)).unwrap_or(lo + 100.0).max(lo);
            let v = (lo + (key.with_str("n").bits() % 10) as f64).min(hi).ceil();
            serde_json::Number::from_f64(v)
                .map_or(Value::from(0), |n| if ty == "integer" { Value::from(v as i64) } else { Value::Number(n) })
        }
        "boolean" => Value::Bool(key.with_str("b").bits() & 1 == 1),
        "null" => Value::Null,
        _ => {
            let mut w = match s.get("format").and_then(Value::as_str) {
                Some("date") => "2026-11-30".to_string(),
                Some("date-time") => "2026-11-30T12:00:00Z".to_string(),
                Some("email") => "ops@example.com".to_string(),
                _ => WORDS[(key.with_str("w").bits() % WORDS.len() as u64) as usize].to_string(),
            };
            let min = num("minLength").unwrap_or(0.0).clamp(0.0, 64.0) as usize;
            while w.chars().count() < min {
                w.push('x');
            }
            if let Some(max) = num("maxLength") {
                w = w.chars().take(max.max(0.0) as usize).collect();
            }
            Value::String(w)
        }
    }
}

/// Splits `text` into stream fragments of 1 to 6 characters at points drawn from `key` (never
/// inside a character).
pub fn fragments(text: &str, key: DrawKey) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let n = 1 + (key.with(i as u64).bits() % 6) as usize;
        let end = (i + n).min(chars.len());
        out.push(chars[i..end].iter().collect());
        i = end;
    }
    out
}

/// Arguments that are not valid JSON (`tool_call_malformed`): the object closed with `,]`.
/// Not even a prefix of valid JSON, so the SDKs' partial parsers (jiter's `partial_mode`, used by
/// the stream helpers) reject it too, as they do a model's garbled output.
pub fn malformed(arguments: &str) -> String {
    let open = arguments.strip_suffix('}').unwrap_or(arguments);
    format!("{open},]")
}

/// Plans the calls: ids from `id_of(i)`, arguments from each tool's schema, fragments, and a
/// malformed variant when asked.
pub fn plan(chosen: &[&ToolDecl], key: DrawKey, malformed_args: bool, id_of: impl Fn(u64) -> String) -> Vec<ToolCall> {
    chosen
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let k = key.with(i as u64).with_str(&t.name);
            let valid = arguments(&t.schema, k);
            let arguments = if malformed_args { malformed(&valid) } else { valid };
            let fragments = fragments(&arguments, k.with_str("split"));
            ToolCall { id: id_of(k.bits()), name: t.name.clone(), arguments, fragments }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(text: &str, choice: ToolChoice) -> ToolRequest {
        ToolRequest {
            tools: vec![
                ToolDecl { name: "get_weather".into(), schema: json!({}) },
                ToolDecl { name: "search_docs".into(), schema: json!({}) },
            ],
            choice,
            parallel: true,
            answers_tool_result: false,
            last_user_text: text.into(),
        }
    }

    #[test]
    fn when_asked_calls_the_named_tools_in_parallel() {
        let k = DrawKey::new(1);
        let r = req("use get_weather and search_docs", ToolChoice::Auto);
        let names: Vec<&str> = decide(&r, ToolPolicy::WhenAsked, k, false).iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["get_weather", "search_docs"]);
        assert!(decide(&req("hello", ToolChoice::Auto), ToolPolicy::WhenAsked, k, false).is_empty());
        assert_eq!(decide(&req("hello", ToolChoice::Auto), ToolPolicy::Always, k, false).len(), 1);
        assert!(decide(&req("get_weather", ToolChoice::None), ToolPolicy::Always, k, false).is_empty());
        let r = req("hi", ToolChoice::Named("search_docs".into()));
        assert_eq!(decide(&r, ToolPolicy::Never, k, false)[0].name, "search_docs");
        assert_eq!(
            decide(&req("hi", ToolChoice::Auto), ToolPolicy::Never, k, true).len(),
            1,
            "a tool fault forces a call"
        );
        let mut after = req("get_weather", ToolChoice::Auto);
        after.answers_tool_result = true;
        assert!(decide(&after, ToolPolicy::Always, k, false).is_empty());
        after.parallel = false;
        after.answers_tool_result = false;
        after.last_user_text = "get_weather search_docs".into();
        assert_eq!(decide(&after, ToolPolicy::WhenAsked, k, false).len(), 1);
    }

    #[test]
    fn arguments_follow_the_schema() {
        let schema = json!({"type": "object", "properties": {
            "city": {"type": "string", "minLength": 12},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 3},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "when": {"type": ["string", "null"], "format": "date"},
            "strict": {"type": "boolean"}},
            "required": ["city"]});
        for seed in 0..50 {
            let v: Value = serde_json::from_str(&arguments(&schema, DrawKey::new(seed))).unwrap();
            assert!(v["city"].as_str().unwrap().len() >= 12);
            assert!(["celsius", "fahrenheit"].contains(&v["unit"].as_str().unwrap()));
            assert!((1..=3).contains(&v["days"].as_i64().unwrap()), "{v}");
            assert_eq!(v["tags"].as_array().unwrap().len(), 2);
            assert_eq!(v["when"], "2026-11-30");
            assert!(v["strict"].is_boolean());
        }
    }

    #[test]
    fn a_schema_that_multiplies_stays_bounded() {
        let mut schema = json!({"type": "object", "properties": (0..500).map(|i| (format!("p{i}"), json!({"type": "string"}))).collect::<Map<_, _>>()});
        for _ in 0..6 {
            schema = json!({"type": "array", "minItems": 3, "items": schema});
        }
        let wrapped = json!({"type": "object", "properties": {"x": schema}});
        let args = arguments(&wrapped, DrawKey::new(1));
        assert!(args.len() < 64 * 1024, "{} bytes", args.len());
        assert!(serde_json::from_str::<Value>(&args).is_ok());
    }

    #[test]
    fn fragments_rejoin_and_malformed_does_not_parse() {
        let args = arguments(&json!({"properties": {"q": {"type": "string"}}}), DrawKey::new(3));
        let parts = fragments(&args, DrawKey::new(4));
        assert!(parts.len() > 1 && parts.concat() == args);
        assert!(serde_json::from_str::<Value>(&malformed(&args)).is_err());
    }
}
