//! Target profiles (DESIGN.md, "Targets"): how to reach a gateway that is not the runbook's,
//! such as an OpenAI-compatible one (LiteLLM proxy, Portkey, Bifrost): which API it speaks, the
//! path that says it is up, the header its clients' key goes in (the key itself read from the
//! environment, never from a file), and, for a gateway gatedrill spawns (`cmd:`), its own
//! configuration file rendered from a template with the mocks' URLs, keys and models.

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::duration::Dur;
use crate::input::InputError;

/// Which API the gateway serves its clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetApi {
    /// The runbook's API (`/ready`, `/api/admin/*`, ingest).
    #[default]
    Runbook,
    /// Only the providers' APIs (`/v1/chat/completions`): scenarios with other steps are skipped.
    Openai,
}

/// A target profile file (TOML).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    #[serde(default)]
    pub api: TargetApi,
    /// Path answered with a 2xx once the gateway is up (default `/ready`).
    #[serde(default)]
    pub ready_path: Option<String>,
    /// How long a spawned gateway may take to become ready (default 20s, at most 10m).
    #[serde(default)]
    pub ready_within: Option<Dur>,
    #[serde(default)]
    pub auth: ClientAuth,
    /// The gateway's own configuration file, for `cmd:` targets.
    #[serde(default)]
    pub config: Option<ConfigTemplate>,
}

/// Where a client's key goes.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientAuth {
    /// Header name (default `authorization`).
    #[serde(default = "default_header")]
    pub header: String,
    /// Written before the key, with a space (default `Bearer`; empty for the bare key).
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// Environment variable holding the key (default `ADMIN_API_TOKEN`). For a spawned gateway
    /// gatedrill generates the key per run and sets this variable (and `ADMIN_API_TOKEN`).
    #[serde(default = "default_key_env")]
    pub env: String,
    /// Put before the key gatedrill generates for a spawned gateway (LiteLLM wants `sk-`).
    #[serde(default)]
    pub key_prefix: String,
}

impl Default for ClientAuth {
    fn default() -> Self {
        ClientAuth {
            header: default_header(),
            scheme: default_scheme(),
            env: default_key_env(),
            key_prefix: String::new(),
        }
    }
}

fn default_header() -> String {
    "authorization".into()
}
fn default_scheme() -> String {
    "Bearer".into()
}
fn default_key_env() -> String {
    "ADMIN_API_TOKEN".into()
}

/// A configuration template. Placeholders: `{{mock.<provider>.url}}`, `.key`, `.model`,
/// `.dialect`, and `{{gateway.port}}`. The rendered file lives in a private temporary folder
/// (it may hold the mocks' keys), removed when the gateway stops; its path is in `env`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigTemplate {
    /// The template, relative to the profile file.
    pub template: PathBuf,
    /// Variable that gives the rendered file's path to the command (default
    /// `GATEDRILL_TARGET_CONFIG`).
    #[serde(default = "default_config_env")]
    pub env: String,
}

fn default_config_env() -> String {
    "GATEDRILL_TARGET_CONFIG".into()
}

/// A profile, checked and with its template read.
#[derive(Clone, Debug)]
pub struct TargetProfile {
    pub api: TargetApi,
    pub ready_path: String,
    pub ready_within: Duration,
    pub auth: ClientAuth,
    pub template: Option<ConfigText>,
}

/// A configuration template, read and checked.
#[derive(Clone, Debug)]
pub struct ConfigText {
    pub text: String,
    /// The rendered file's name (the template's, without `.tmpl`).
    pub file_name: String,
    /// The variable naming the rendered file.
    pub env: String,
}

impl Default for TargetProfile {
    fn default() -> Self {
        TargetProfile {
            api: TargetApi::Runbook,
            ready_path: crate::wire::paths::READY.into(),
            ready_within: Duration::from_secs(20),
            auth: ClientAuth::default(),
            template: None,
        }
    }
}

const MAX_READY_WITHIN: Duration = Duration::from_secs(600);

/// A variable a profile may name: not one gatedrill sets for the gateway or the shell needs.
fn env_name_ok(n: &str) -> bool {
    let reserved = ["PATH", "HOME", "SHELL", "LD_PRELOAD", "LD_LIBRARY_PATH"].contains(&n)
        || ["AI_", "AGENT_", "GATEDRILL_GATEWAY_"].iter().any(|p| n.starts_with(p));
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !reserved
}

impl TargetProfile {
    /// Loads a profile, naming the file and field of every problem.
    pub fn load(path: &Path) -> Result<TargetProfile, InputError> {
        let f: ProfileFile = crate::input::load_file(path)?;
        let bad = |field: &str, message: String| {
            crate::scenario::locate(
                path,
                field,
                InputError { path: path.to_path_buf(), line: None, column: None, message },
            )
        };
        let ready_path = f.ready_path.unwrap_or_else(|| crate::wire::paths::READY.into());
        if !ready_path.starts_with('/') || ready_path.len() > 1024 || ready_path.contains(['?', '#', ' ']) {
            return Err(bad("ready_path", format!("ready_path {ready_path:?} must be a path starting with '/'")));
        }
        let ready_within = f.ready_within.map_or(Duration::from_secs(20), |d| d.0);
        if ready_within.is_zero() || ready_within > MAX_READY_WITHIN {
            return Err(bad("ready_within", format!("ready_within must be within 1ms..={}", Dur(MAX_READY_WITHIN))));
        }
        if reqwest::header::HeaderName::from_bytes(f.auth.header.as_bytes()).is_err() {
            return Err(bad("header", format!("auth.header {:?} is not a header name", f.auth.header)));
        }
        if !f.auth.scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(bad("scheme", format!("auth.scheme {:?} must be one word", f.auth.scheme)));
        }
        if f.auth.key_prefix.len() > 32 || !f.auth.key_prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("key_prefix", "auth.key_prefix must be at most 32 visible characters".into()));
        }
        if !env_name_ok(&f.auth.env) {
            return Err(bad(
                "env",
                format!("auth.env {:?}: a variable name gatedrill does not set itself", f.auth.env),
            ));
        }
        let template = match f.config {
            None => None,
            Some(c) => {
                if !env_name_ok(&c.env) {
                    return Err(bad(
                        "template",
                        format!("config.env {:?}: a variable name gatedrill does not set itself", c.env),
                    ));
                }
                let file = path.parent().unwrap_or(Path::new(".")).join(&c.template);
                let text = crate::input::read_small(&file, "config.template").map_err(|e| bad("template", e))?;
                if let Some((line, column, name)) = placeholders(&text).find(|(_, _, p)| !placeholder_ok(p)) {
                    return Err(InputError {
                        path: file.clone(),
                        line: Some(line),
                        column: Some(column),
                        message: format!(
                            "unknown placeholder {{{{{name}}}}} (known: mock.<provider>.url, .key, .model, .dialect; gateway.port)"
                        ),
                    });
                }
                let name = file.file_name().map(|n| n.to_string_lossy().trim_end_matches(".tmpl").to_string());
                let file_name = name.unwrap_or_else(|| "gateway.conf".into());
                Some(ConfigText { text, file_name, env: c.env })
            }
        };
        Ok(TargetProfile { api: f.api, ready_path, ready_within, auth: f.auth, template })
    }

    /// The `(header, value prefix)` a client key goes in.
    pub fn key_header(&self) -> (String, String) {
        let prefix = if self.auth.scheme.is_empty() { String::new() } else { format!("{} ", self.auth.scheme) };
        (self.auth.header.to_ascii_lowercase(), prefix)
    }
}

/// Every `{{...}}` in a template, with its line and column.
fn placeholders(text: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    text.lines().enumerate().flat_map(|(i, line)| {
        line.match_indices("{{").filter_map(move |(at, _)| {
            line[at + 2..].split_once("}}").map(|(p, _)| (i + 1, line[..at].chars().count() + 1, p.trim()))
        })
    })
}

fn placeholder_ok(p: &str) -> bool {
    if p == "gateway.port" {
        return true;
    }
    let parts: Vec<&str> = p.split('.').collect();
    matches!(parts.as_slice(), ["mock", name, "url" | "key" | "model" | "dialect"] if !name.is_empty())
}

/// Renders a template; a provider the fleet does not have is an error naming it.
pub fn render(text: &str, lookup: &dyn Fn(&str, &str) -> Option<String>, port: u16) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    // Line by line, as the placeholders were checked: `{{` without `}}` on its line is text.
    for line in text.split_inclusive('\n') {
        render_line(line, lookup, port, &mut out)?;
    }
    Ok(out)
}

fn render_line(
    line: &str,
    lookup: &dyn Fn(&str, &str) -> Option<String>,
    port: u16,
    out: &mut String,
) -> Result<(), String> {
    let mut rest = line;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let Some((p, after)) = rest[at + 2..].split_once("}}") else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let p = p.trim();
        let value = if p == "gateway.port" {
            Some(port.to_string())
        } else {
            match p.split('.').collect::<Vec<_>>().as_slice() {
                ["mock", name, field] => lookup(name, field),
                _ => None,
            }
        };
        let value = value.ok_or_else(|| {
            format!("template placeholder {{{{{p}}}}}: the fleet has no such provider, or it has no key or model")
        })?;
        out.push_str(&value);
        rest = after;
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_unknown_placeholders_are_refused() {
        let lookup = |p: &str, f: &str| (p == "openai").then(|| format!("{p}-{f}"));
        let t = "url: {{mock.openai.url}}\nkey: {{ mock.openai.key }}\nport: {{gateway.port}}\n";
        assert_eq!(render(t, &lookup, 8080).unwrap(), "url: openai-url\nkey: openai-key\nport: 8080\n");
        assert!(render("{{mock.nope.url}}", &lookup, 1).unwrap_err().contains("mock.nope.url"));
        let bad: Vec<_> =
            placeholders("a {{mock.x.url}} b {{env.HOME}}").filter(|(_, _, p)| !placeholder_ok(p)).collect();
        assert_eq!(bad, [(1, 20, "env.HOME")]);
        assert!(placeholders("a {{mock.x.model}}\n{{gateway.port}}").all(|(_, _, p)| placeholder_ok(p)));
    }
}
