//! The provider fleet's configuration (`mocks/providers.toml`): which providers exist, which
//! dialect each speaks, the API keys it accepts, its quotas, and its models with context window,
//! output limit, prices and latency model. The reference gateway reads the same model table to
//! price requests, so cost figures on both sides agree.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::input::{self, InputError};

/// The configuration compiled into the binary, so `gatedrill mock serve` works with no files.
pub const EMBEDDED_PROVIDERS_TOML: &str = include_str!("../../mocks/providers.toml");

/// Which provider API a mock speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    Openai,
    Anthropic,
    Deepseek,
}

impl Dialect {
    pub fn id(self) -> &'static str {
        match self {
            Dialect::Openai => "openai",
            Dialect::Anthropic => "anthropic",
            Dialect::Deepseek => "deepseek",
        }
    }
}

/// BPE encodings available for prompt counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tokenizer {
    #[default]
    O200kBase,
    Cl100kBase,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawFleet")]
pub struct FleetConfig {
    pub providers: Vec<ProviderSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    providers: Vec<ProviderSpec>,
}

impl TryFrom<RawFleet> for FleetConfig {
    type Error = String;
    fn try_from(raw: RawFleet) -> Result<Self, String> {
        if raw.providers.is_empty() {
            return Err("providers: at least one provider is required".into());
        }
        let mut names = HashSet::new();
        let mut ports = HashSet::new();
        for p in &raw.providers {
            if !names.insert(p.name.as_str()) {
                return Err(format!("providers: duplicate provider name {:?}", p.name));
            }
            if p.port != 0 && !ports.insert(p.port) {
                return Err(format!("providers: port {} is used by two providers", p.port));
            }
        }
        Ok(FleetConfig { providers: raw.providers })
    }
}

impl FleetConfig {
    /// The embedded default fleet.
    pub fn embedded() -> Self {
        input::parse_text(Path::new("mocks/providers.toml"), EMBEDDED_PROVIDERS_TOML)
            .expect("the embedded mocks/providers.toml is checked by tests")
    }

    pub fn load(path: &Path) -> Result<Self, InputError> {
        input::load_file(path)
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderSpec> {
        self.providers.iter().find(|p| p.name == name)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawProvider")]
pub struct ProviderSpec {
    pub name: String,
    pub dialect: Dialect,
    /// Fixed port, or 0 for an ephemeral one.
    pub port: u16,
    /// Keys the provider accepts. Secrets of the mock world; they never reach the journal.
    #[serde(skip_serializing)]
    pub api_keys: Vec<String>,
    pub quota: QuotaSpec,
    /// How often DeepSeek-style keep-alives are sent while a response waits.
    pub keepalive_interval: Dur,
    /// When the models call a declared tool under `tool_choice: auto`.
    pub tool_calls: crate::mock::tools::ToolPolicy,
    /// DeepSeek thinking mode: a tool-call history must echo the assistant's
    /// `reasoning_content`, or the request is refused with DeepSeek's 400. Switchable because
    /// reports disagree on how strictly the live API enforces it.
    pub require_reasoning_echo: bool,
    /// `anthropic-beta` flags this platform accepts; others get a 400 naming them. Absent:
    /// the first-party API's list ([`crate::mock::dialect::anthropic::FIRST_PARTY_BETAS`]).
    pub anthropic_betas: Option<Vec<String>>,
    pub models: Vec<ModelSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: String,
    dialect: Dialect,
    #[serde(default)]
    port: u16,
    api_keys: Vec<String>,
    #[serde(default)]
    quota: QuotaSpec,
    #[serde(default = "default_keepalive")]
    keepalive_interval: Dur,
    #[serde(default)]
    tool_calls: crate::mock::tools::ToolPolicy,
    #[serde(default)]
    require_reasoning_echo: bool,
    #[serde(default)]
    anthropic_betas: Option<Vec<String>>,
    models: Vec<ModelSpec>,
}

fn default_keepalive() -> Dur {
    Dur::from_millis(100)
}

impl TryFrom<RawProvider> for ProviderSpec {
    type Error = String;
    fn try_from(r: RawProvider) -> Result<Self, String> {
        let valid_name = !r.name.is_empty()
            && r.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(format!("name: {:?} must be lowercase letters, digits, '_' or '-'", r.name));
        }
        if r.api_keys.is_empty() || r.api_keys.iter().any(|k| k.is_empty()) {
            return Err(format!("api_keys: provider {:?} needs at least one non-empty key", r.name));
        }
        if r.models.is_empty() {
            return Err(format!("models: provider {:?} needs at least one model", r.name));
        }
        let mut ids = HashSet::new();
        for m in &r.models {
            if !ids.insert(m.id.as_str()) {
                return Err(format!("models: duplicate model id {:?} in provider {:?}", m.id, r.name));
            }
        }
        if r.keepalive_interval.0.is_zero() {
            return Err("keepalive_interval: must be greater than zero".into());
        }
        Ok(ProviderSpec {
            name: r.name,
            dialect: r.dialect,
            port: r.port,
            api_keys: r.api_keys,
            quota: r.quota,
            keepalive_interval: r.keepalive_interval,
            tool_calls: r.tool_calls,
            require_reasoning_echo: r.require_reasoning_echo,
            anthropic_betas: r.anthropic_betas,
            models: r.models,
        })
    }
}

impl ProviderSpec {
    pub fn model(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }
}

/// Per-key quotas, refilled continuously (a token bucket holding one minute's allowance).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSpec {
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
}

impl Default for QuotaSpec {
    fn default() -> Self {
        QuotaSpec { requests_per_minute: 100_000, tokens_per_minute: 100_000_000 }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawModel")]
pub struct ModelSpec {
    pub id: String,
    pub context_window: u64,
    pub max_output: u64,
    pub input_price_per_mtok: f64,
    pub output_price_per_mtok: f64,
    /// Price of input tokens read from the prompt cache (default: the input price).
    pub cached_input_price_per_mtok: Option<f64>,
    /// Price of input tokens written to the prompt cache (Anthropic; default: the input price).
    pub cache_write_price_per_mtok: Option<f64>,
    pub tokenizer: Tokenizer,
    pub latency: LatencyModel,
    /// Bounds of the natural reply length in tokens (before `max_tokens` cuts it).
    pub reply_tokens: [u32; 2],
    /// An embeddings model (served on `/v1/embeddings` only) and its vector length.
    pub embedding_dimensions: Option<u64>,
    /// A reasoning model: its answers carry reasoning tokens (a Responses `reasoning` item,
    /// DeepSeek `reasoning_content`).
    pub reasoning: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    id: String,
    context_window: u64,
    /// Required for chat models; embeddings models produce no output tokens.
    max_output: Option<u64>,
    #[serde(default)]
    embedding_dimensions: Option<u64>,
    #[serde(default)]
    reasoning: bool,
    input_price_per_mtok: f64,
    output_price_per_mtok: f64,
    #[serde(default)]
    cached_input_price_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_price_per_mtok: Option<f64>,
    #[serde(default)]
    tokenizer: Tokenizer,
    #[serde(default)]
    latency: LatencyModel,
    #[serde(default = "default_reply_tokens")]
    reply_tokens: [u32; 2],
}

fn default_reply_tokens() -> [u32; 2] {
    [16, 64]
}

impl TryFrom<RawModel> for ModelSpec {
    type Error = String;
    fn try_from(r: RawModel) -> Result<Self, String> {
        if r.id.is_empty() {
            return Err("id: must not be empty".into());
        }
        let max_output = match (r.max_output, r.embedding_dimensions) {
            (None, Some(_)) => 0,
            (Some(_), Some(_)) => return Err(format!("model {:?}: an embeddings model has no max_output", r.id)),
            (None, None) => return Err(format!("model {:?}: max_output is required", r.id)),
            (Some(m), None) => m,
        };
        if r.context_window == 0
            || (r.embedding_dimensions.is_none() && (max_output == 0 || max_output > r.context_window))
        {
            return Err(format!(
                "model {:?}: need 0 < max_output ({}) <= context_window ({})",
                r.id, max_output, r.context_window
            ));
        }
        if r.embedding_dimensions.is_some_and(|d| d == 0 || d > 16_384) {
            return Err(format!("model {:?}: embedding_dimensions must be 1 to 16384", r.id));
        }
        let prices_ok = |p: f64| p.is_finite() && p >= 0.0;
        let cache_prices = [r.cached_input_price_per_mtok, r.cache_write_price_per_mtok];
        if !prices_ok(r.input_price_per_mtok)
            || !prices_ok(r.output_price_per_mtok)
            || cache_prices.into_iter().flatten().any(|p| !prices_ok(p))
        {
            return Err(format!("model {:?}: prices must be finite and not negative", r.id));
        }
        if r.reply_tokens[0] == 0 || r.reply_tokens[0] > r.reply_tokens[1] {
            return Err(format!("model {:?}: reply_tokens must be [min, max] with 0 < min <= max", r.id));
        }
        if !(r.latency.tokens_per_second.is_finite() && r.latency.tokens_per_second > 0.0) {
            return Err(format!("model {:?}: latency.tokens_per_second must be greater than zero", r.id));
        }
        Ok(ModelSpec {
            id: r.id,
            context_window: r.context_window,
            max_output,
            input_price_per_mtok: r.input_price_per_mtok,
            output_price_per_mtok: r.output_price_per_mtok,
            cached_input_price_per_mtok: r.cached_input_price_per_mtok,
            cache_write_price_per_mtok: r.cache_write_price_per_mtok,
            tokenizer: r.tokenizer,
            latency: r.latency,
            reply_tokens: r.reply_tokens,
            embedding_dimensions: r.embedding_dimensions,
            reasoning: r.reasoning,
        })
    }
}

impl ModelSpec {
    /// Cost in USD of a request with these token counts at this model's prices.
    pub fn cost_usd(&self, prompt_tokens: u64, completion_tokens: u64) -> f64 {
        self.cost_with_cache_usd(prompt_tokens, 0, 0, completion_tokens)
    }

    /// Cost in USD when `cached` of the `prompt_tokens` were read from the prompt cache and
    /// `written` were written to it (`prompt_tokens` counts every input token).
    pub fn cost_with_cache_usd(&self, prompt_tokens: u64, cached: u64, written: u64, completion_tokens: u64) -> f64 {
        let plain = prompt_tokens.saturating_sub(cached + written) as f64;
        let read_price = self.cached_input_price_per_mtok.unwrap_or(self.input_price_per_mtok);
        let write_price = self.cache_write_price_per_mtok.unwrap_or(self.input_price_per_mtok);
        (plain * self.input_price_per_mtok
            + cached as f64 * read_price
            + written as f64 * write_price
            + completion_tokens as f64 * self.output_price_per_mtok)
            / 1_000_000.0
    }
}

/// How long a healthy answer takes: time to first token (plus uniform jitter), then tokens at a
/// steady rate. Drills compress time, so the defaults are milliseconds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyModel {
    pub ttft: Dur,
    pub jitter: Dur,
    pub tokens_per_second: f64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel { ttft: Dur::from_millis(5), jitter: Dur::from_millis(2), tokens_per_second: 4000.0 }
    }
}
