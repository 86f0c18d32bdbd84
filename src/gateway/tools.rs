//! Tools in the reference gateway (seed 000, Playbook B; ../shared/WIRE.md "Agent traffic"): the tools a role's requests declare
//! (`AI_<ROLE>_TOOLS`, or a dry-run's own `tools`), rendered in each provider's dialect, and what
//! became of the calls the provider made. A call whose arguments do not parse, or a tool stream
//! cut before its end, is a failed attempt, and the runtime fails over (`client`, `runtime`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::config::{ConfigError, Role};
use crate::mock::config::Dialect;

/// One tool a request declares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments.
    #[serde(default = "default_parameters")]
    pub parameters: Value,
}

/// The schema a tool named in `AI_<ROLE>_TOOLS` gets: one query, one optional limit.
pub fn default_parameters() -> Value {
    json!({"type": "object", "properties": {
        "query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 20}},
        "required": ["query"]})
}

/// Longest tool list a role or request may declare (providers cap it at 128).
pub const MAX_TOOLS: usize = 128;

/// `AI_<ROLE>_TOOLS`: comma-separated tool names per role (names as providers allow them:
/// letters, digits, `_` and `-`, at most 64).
pub fn role_tools(vars: &BTreeMap<String, String>) -> Result<BTreeMap<Role, Vec<ToolDef>>, ConfigError> {
    let mut out = BTreeMap::new();
    for role in Role::ALL {
        let var = format!("AI_{}_TOOLS", role.id().to_ascii_uppercase());
        let Some(text) = vars.get(&var).filter(|t| !t.trim().is_empty()) else { continue };
        let mut tools = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !valid_name(name) {
                return Err(ConfigError { var, message: format!("tool name {name:?} must be 1-64 of [A-Za-z0-9_-]") });
            }
            tools.push(ToolDef {
                name: name.to_string(),
                description: format!("{name} tool"),
                parameters: default_parameters(),
            });
        }
        if tools.len() > MAX_TOOLS {
            return Err(ConfigError { var, message: format!("at most {MAX_TOOLS} tools") });
        }
        out.insert(role, tools);
    }
    Ok(out)
}

pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The `tools` field of a chat request in the provider's dialect.
pub fn render(d: Dialect, tools: &[ToolDef]) -> Value {
    Value::Array(
        tools
            .iter()
            .map(|t| match d {
                Dialect::Anthropic => {
                    json!({"name": t.name, "description": t.description, "input_schema": t.parameters})
                }
                Dialect::Openai | Dialect::Deepseek => json!({"type": "function", "function":
                    {"name": t.name, "description": t.description, "parameters": t.parameters}}),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_tools_parse_and_refuse_bad_names() {
        let vars: BTreeMap<String, String> =
            [("AI_MAKER_TOOLS".to_string(), "search_docs, create_ticket".to_string())].into();
        let t = role_tools(&vars).unwrap();
        assert_eq!(
            t[&Role::Maker].iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["search_docs", "create_ticket"]
        );
        let bad: BTreeMap<String, String> = [("AI_JUDGE_TOOLS".to_string(), "no spaces".to_string())].into();
        assert_eq!(role_tools(&bad).unwrap_err().var, "AI_JUDGE_TOOLS");
        assert_eq!(render(Dialect::Anthropic, &t[&Role::Maker])[0]["input_schema"]["required"][0], "query");
        assert_eq!(render(Dialect::Openai, &t[&Role::Maker])[1]["function"]["name"], "create_ticket");
    }
}
