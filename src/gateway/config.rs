//! The reference gateway's configuration, read from the environment variables the runbook names
//! (seed 001, "AI provider failover cascade" step 2 and "Connector Ingest Profiles"). Anything
//! invalid fails fast at start with the variable named, as the runbook requires for profiles.
//!
//! Variables beyond the runbook's, with their defaults: `AI_PROVIDER_TIMEOUT_MS` (20000, one
//! attempt), `AI_RUNTIME_FAILOVER_BUDGET_MS` (60000, a whole failover walk),
//! `AI_RUNTIME_<PROVIDER>_DIALECT` (inferred from the provider's name), and
//! `AI_RUNTIME_PRICING_FILE` (prices and context windows; default: the embedded
//! `mocks/providers.toml`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::ingest::ConnectorProfiles;
use crate::mock::config::{Dialect, FleetConfig, ModelSpec};
use crate::secret::Redacted;

/// The four runtime roles of the runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Author,
    Critic,
    Maker,
    Judge,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Author, Role::Critic, Role::Maker, Role::Judge];

    pub fn id(self) -> &'static str {
        match self {
            Role::Author => "author",
            Role::Critic => "critic",
            Role::Maker => "maker",
            Role::Judge => "judge",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.id() == s)
    }
}

/// A provider the runtime can call.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub name: String,
    pub dialect: Dialect,
    pub endpoint: String,
    pub api_key: Redacted,
    pub model: String,
}

/// One link of a role's model chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainEntry {
    pub provider: String,
    pub model: String,
}

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub admin_token: Redacted,
    pub use_http_adapters: bool,
    pub providers: Vec<ProviderConfig>,
    pub chains: BTreeMap<Role, Vec<ChainEntry>>,
    pub cooldown: Duration,
    pub attempt_timeout: Duration,
    pub failover_budget: Duration,
    pub orchestration_enabled: bool,
    pub profiles: ConnectorProfiles,
    pub enforce_profiles: bool,
    pub webhook_secret: Option<Redacted>,
    /// Prices and context windows by model id.
    pub models: BTreeMap<String, ModelSpec>,
    /// Tools each role's requests declare (`AI_<ROLE>_TOOLS`).
    pub role_tools: BTreeMap<Role, Vec<super::tools::ToolDef>>,
}

/// A configuration problem, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    pub var: String,
    pub message: String,
}

fn err(var: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { var: var.to_string(), message: message.into() }
}

fn parse_bool(vars: &BTreeMap<String, String>, var: &str, default: bool) -> Result<bool, ConfigError> {
    match vars.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(err(var, format!("expected true or false, got {v:?}"))),
        },
    }
}

/// Ceilings of the timing variables (README, "Bounds"): a cooldown of at most an hour, an
/// attempt timeout and a failover budget of at most ten minutes.
pub const MAX_COOLDOWN_MS: u64 = 3_600_000;
pub const MAX_TIMEOUT_MS: u64 = 600_000;

fn parse_ms(vars: &BTreeMap<String, String>, var: &str, default_ms: u64, max_ms: u64) -> Result<Duration, ConfigError> {
    match vars.get(var) {
        None => Ok(Duration::from_millis(default_ms)),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) if ms <= max_ms => Ok(Duration::from_millis(ms)),
            Ok(ms) => Err(err(var, format!("{ms} is over the ceiling of {max_ms} milliseconds"))),
            Err(_) => Err(err(var, format!("expected a whole number of milliseconds, got {v:?}"))),
        },
    }
}

impl GatewayConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads a map of variables (the process environment, or a scenario's).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let admin_token = match vars.get("ADMIN_API_TOKEN") {
            Some(t) if !t.is_empty() => Redacted(t.clone()),
            _ => return Err(err("ADMIN_API_TOKEN", "required: admin endpoints are never exposed without a token")),
        };
        let models = match vars.get("AI_RUNTIME_PRICING_FILE") {
            Some(path) => {
                FleetConfig::load(Path::new(path)).map_err(|e| err("AI_RUNTIME_PRICING_FILE", e.to_string()))?
            }
            None => FleetConfig::embedded(),
        }
        .providers
        .into_iter()
        .flat_map(|p| p.models)
        .map(|m| (m.id.clone(), m))
        .collect();
        let providers = providers(vars)?;
        let chains = chains(vars, &providers)?;
        let profiles = match vars.get("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES") {
            Some(text) if !text.trim().is_empty() => ConnectorProfiles::parse(text)
                .map_err(|e| err("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", format!("invalid profile JSON: {e}")))?,
            _ => ConnectorProfiles::default(),
        };
        let webhook_secret =
            vars.get("AGENT_GATEWAY_WEBHOOK_SECRET").filter(|s| !s.is_empty()).map(|s| Redacted(s.clone()));
        Ok(GatewayConfig {
            admin_token,
            use_http_adapters: parse_bool(vars, "AI_RUNTIME_USE_HTTP_ADAPTERS", true)?,
            providers,
            chains,
            cooldown: parse_ms(vars, "AI_PROVIDER_COOLDOWN_MS", 30_000, MAX_COOLDOWN_MS)?,
            attempt_timeout: parse_ms(vars, "AI_PROVIDER_TIMEOUT_MS", 20_000, MAX_TIMEOUT_MS)?,
            failover_budget: parse_ms(vars, "AI_RUNTIME_FAILOVER_BUDGET_MS", 60_000, MAX_TIMEOUT_MS)?,
            orchestration_enabled: parse_bool(vars, "AGENT_ORCHESTRATION_ENABLED", false)?,
            profiles,
            enforce_profiles: parse_bool(vars, "AGENT_GATEWAY_INGEST_ENFORCE_CONNECTOR_PROFILE", false)?,
            webhook_secret,
            models,
            role_tools: super::tools::role_tools(vars)?,
        })
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn model(&self, id: &str) -> Option<&ModelSpec> {
        self.models.get(id)
    }
}

/// Every `AI_RUNTIME_<PROVIDER>_ENDPOINT` names a provider; its key and model are required.
fn providers(vars: &BTreeMap<String, String>) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out = Vec::new();
    for (var, endpoint) in vars {
        let Some(upper) = var.strip_prefix("AI_RUNTIME_").and_then(|r| r.strip_suffix("_ENDPOINT")) else {
            continue;
        };
        let name = upper.to_ascii_lowercase();
        let url = reqwest::Url::parse(endpoint).map_err(|e| err(var, format!("not a URL ({e}): {endpoint:?}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err(var, "the endpoint must be http or https"));
        }
        let key_var = format!("AI_RUNTIME_{upper}_API_KEY");
        let api_key = vars.get(&key_var).filter(|k| !k.is_empty()).ok_or_else(|| err(&key_var, "required"))?;
        let model_var = format!("AI_RUNTIME_{upper}_MODEL");
        let model = vars.get(&model_var).filter(|m| !m.is_empty()).ok_or_else(|| err(&model_var, "required"))?;
        let dialect_var = format!("AI_RUNTIME_{upper}_DIALECT");
        let dialect = match vars.get(&dialect_var).map(String::as_str).unwrap_or(name.as_str()) {
            "openai" => Dialect::Openai,
            "anthropic" => Dialect::Anthropic,
            "deepseek" => Dialect::Deepseek,
            other => {
                return Err(err(
                    &dialect_var,
                    format!("unknown dialect {other:?}: set it to openai, anthropic or deepseek"),
                ));
            }
        };
        out.push(ProviderConfig {
            name,
            dialect,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            api_key: Redacted(api_key.clone()),
            model: model.clone(),
        });
    }
    Ok(out)
}

/// `AI_<ROLE>_MODEL_CHAIN` (`provider:model,...`); a role without one uses every provider's
/// default model, in name order.
fn chains(
    vars: &BTreeMap<String, String>,
    providers: &[ProviderConfig],
) -> Result<BTreeMap<Role, Vec<ChainEntry>>, ConfigError> {
    let mut out = BTreeMap::new();
    for role in Role::ALL {
        let var = format!("AI_{}_MODEL_CHAIN", role.id().to_ascii_uppercase());
        let chain = match vars.get(&var).filter(|v| !v.trim().is_empty()) {
            None => providers.iter().map(|p| ChainEntry { provider: p.name.clone(), model: p.model.clone() }).collect(),
            Some(text) => {
                let mut chain = Vec::new();
                for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (provider, model) = match item.split_once(':') {
                        Some((p, m)) => (p.trim().to_ascii_lowercase(), m.trim().to_string()),
                        None => {
                            let p = item.to_ascii_lowercase();
                            let model = providers.iter().find(|c| c.name == p).map(|c| c.model.clone());
                            (p, model.unwrap_or_default())
                        }
                    };
                    if !providers.iter().any(|p| p.name == provider) {
                        return Err(err(
                            &var,
                            format!(
                                "names provider {provider:?}, which has no AI_RUNTIME_{}_ENDPOINT",
                                provider.to_ascii_uppercase()
                            ),
                        ));
                    }
                    chain.push(ChainEntry { provider, model });
                }
                chain
            }
        };
        out.insert(role, chain);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("ADMIN_API_TOKEN", "t"),
            ("AI_RUNTIME_OPENAI_ENDPOINT", "http://127.0.0.1:1/v1"),
            ("AI_RUNTIME_OPENAI_API_KEY", "k"),
            ("AI_RUNTIME_OPENAI_MODEL", "gpt-5"),
            ("AI_RUNTIME_ANTHROPIC_ENDPOINT", "http://127.0.0.1:2"),
            ("AI_RUNTIME_ANTHROPIC_API_KEY", "k2"),
            ("AI_RUNTIME_ANTHROPIC_MODEL", "claude-sonnet-4-5"),
        ]
    }

    #[test]
    fn chains_default_and_explicit() {
        let mut v = base();
        v.push(("AI_CRITIC_MODEL_CHAIN", "anthropic:claude-haiku-4-5, openai"));
        let c = GatewayConfig::from_vars(&vars(&v)).unwrap();
        assert_eq!(
            c.chains[&Role::Critic][0],
            ChainEntry { provider: "anthropic".into(), model: "claude-haiku-4-5".into() }
        );
        assert_eq!(c.chains[&Role::Critic][1].model, "gpt-5");
        assert_eq!(c.chains[&Role::Author].len(), 2);
        assert!(!c.orchestration_enabled);
        assert_eq!(format!("{:?}", c.admin_token), "[redacted]");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let mut v = base();
        v.push(("AI_JUDGE_MODEL_CHAIN", "mistral:large"));
        assert_eq!(GatewayConfig::from_vars(&vars(&v)).unwrap_err().var, "AI_JUDGE_MODEL_CHAIN");
        let mut v = base();
        v.push(("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", "{not json"));
        assert_eq!(GatewayConfig::from_vars(&vars(&v)).unwrap_err().var, "AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES");
        let mut v = base();
        v.push(("AI_PROVIDER_COOLDOWN_MS", "soon"));
        assert_eq!(GatewayConfig::from_vars(&vars(&v)).unwrap_err().var, "AI_PROVIDER_COOLDOWN_MS");
        v.pop();
        v.push(("AI_PROVIDER_COOLDOWN_MS", "18446744073709551615"));
        let e = GatewayConfig::from_vars(&vars(&v)).unwrap_err();
        assert!(e.var == "AI_PROVIDER_COOLDOWN_MS" && e.to_string().contains("ceiling"), "{e}");
        let v: Vec<_> = base().into_iter().filter(|(k, _)| *k != "AI_RUNTIME_OPENAI_API_KEY").collect();
        assert_eq!(GatewayConfig::from_vars(&vars(&v)).unwrap_err().var, "AI_RUNTIME_OPENAI_API_KEY");
        let v: Vec<_> = base().into_iter().filter(|(k, _)| *k != "ADMIN_API_TOKEN").collect();
        assert_eq!(GatewayConfig::from_vars(&vars(&v)).unwrap_err().var, "ADMIN_API_TOKEN");
    }
}
