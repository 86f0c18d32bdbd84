//! Which providers the fault proxy stands in front of (DESIGN.md "The gateway under test, and
//! where its providers come from": the third source of providers). Each `--upstream` entry is
//! `NAME=URL`, where NAME is one of the fleet's provider names (`openai`, `anthropic`,
//! `deepseek`, whose dialect it implies), or `NAME:DIALECT=URL` for any other name.
//!
//! Checked before anything starts: a bad entry is a usage error naming it. `http://` and
//! `https://` upstreams are served (TLS with rustls, certificates checked against the platform's
//! trust store).

use super::super::mock::config::{Dialect, FleetConfig, ProviderSpec, QuotaSpec};
use crate::duration::Dur;

/// One provider the proxy forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub name: String,
    pub dialect: Dialect,
    /// Scheme, host, port and any path prefix, without a trailing slash.
    pub base: String,
}

fn dialect_named(s: &str) -> Option<Dialect> {
    match s {
        "openai" => Some(Dialect::Openai),
        "anthropic" => Some(Dialect::Anthropic),
        "deepseek" => Some(Dialect::Deepseek),
        _ => None,
    }
}

/// Parses `NAME[:DIALECT]=URL[,...]` entries (one `--upstream` value may hold several).
pub fn parse_upstreams(values: &[String]) -> Result<Vec<Upstream>, String> {
    let mut out: Vec<Upstream> = Vec::new();
    for entry in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|e| !e.is_empty()) {
        let up = parse_one(entry)?;
        if out.iter().any(|o| o.name == up.name) {
            return Err(format!("--upstream {entry:?}: provider {:?} is named twice", up.name));
        }
        out.push(up);
    }
    if out.is_empty() {
        return Err("--upstream: name at least one provider, as NAME=URL (e.g. openai=http://127.0.0.1:8080)".into());
    }
    Ok(out)
}

fn parse_one(entry: &str) -> Result<Upstream, String> {
    let bad = |why: String| format!("--upstream {entry:?}: {why}");
    let (head, url) = entry.split_once('=').ok_or_else(|| bad("expected NAME=URL or NAME:DIALECT=URL".into()))?;
    let (name, dialect) = match head.split_once(':') {
        Some((name, d)) => {
            let dialect = dialect_named(d)
                .ok_or_else(|| bad(format!("unknown dialect {d:?} (openai, anthropic or deepseek)")))?;
            (name, dialect)
        }
        None => {
            let dialect = dialect_named(head).ok_or_else(|| {
                bad(format!("{head:?} names no dialect; write {head}:openai=URL (or :anthropic, :deepseek)"))
            })?;
            (head, dialect)
        }
    };
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid_name {
        return Err(bad(format!("name {name:?} must be 1 to 64 lowercase letters, digits, '_' or '-'")));
    }
    Ok(Upstream { name: name.to_string(), dialect, base: check_url(url).map_err(bad)? })
}

/// An upstream base URL: `http(s)://host[:port][/prefix]`, no query, no fragment, no credentials.
fn check_url(url: &str) -> Result<String, String> {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if authority.contains('@') {
        return Err("credentials in the URL are refused: the client's own key is passed through".into());
    }
    if url.contains('?') || url.contains('#') || url.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
        return Err(format!("{url:?} must be a plain base URL (no query, fragment or spaces)"));
    }
    reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    Ok(url.trim_end_matches('/').to_string())
}

/// The provider state behind one proxy listener: its name and dialect, no keys of its own (the
/// client's key goes to the upstream), and the quotas and model table of the fleet's provider of that
/// name (or dialect), so a `context_overflow` fault names the model's real window.
pub fn provider_spec(up: &Upstream, fleet: &FleetConfig) -> ProviderSpec {
    let like = fleet.provider(&up.name).or_else(|| fleet.providers.iter().find(|p| p.dialect == up.dialect));
    ProviderSpec {
        name: up.name.clone(),
        dialect: up.dialect,
        port: 0,
        api_keys: Vec::new(),
        quota: like.map_or_else(QuotaSpec::default, |p| p.quota),
        keepalive_interval: Dur::from_millis(100),
        tool_calls: Default::default(),
        require_reasoning_echo: false,
        anthropic_betas: None,
        models: like.map(|p| p.models.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Upstream>, String> {
        parse_upstreams(&[s.to_string()])
    }

    #[test]
    fn names_imply_dialects_and_others_state_theirs() {
        let ups = parse("openai=http://127.0.0.1:9/,litellm:openai=http://gw.internal:4000/v1").unwrap();
        assert_eq!(
            ups[0],
            Upstream { name: "openai".into(), dialect: Dialect::Openai, base: "http://127.0.0.1:9".into() }
        );
        assert_eq!((ups[1].name.as_str(), ups[1].dialect), ("litellm", Dialect::Openai));
        assert_eq!(ups[1].base, "http://gw.internal:4000/v1");
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        for (entry, why) in [
            ("openai", "expected NAME=URL"),
            ("mine=http://x", "names no dialect"),
            ("mine:cohere=http://x", "unknown dialect"),
            ("openai=ftp://x", "not an http:// or https:// URL"),
            ("openai=http://user:pw@x", "credentials"),
            ("openai=http://x/?a=1", "plain base URL"),
            ("openai=http://", "no host"),
            ("Open:openai=http://x", "lowercase"),
            ("openai=http://a,openai=http://b", "named twice"),
            ("", "at least one"),
        ] {
            let e = parse(entry).unwrap_err();
            assert!(e.contains(why), "{entry}: {e}");
        }
    }

    #[test]
    fn the_spec_borrows_the_fleet_model_table() {
        let fleet = FleetConfig::embedded();
        let up = &parse("anthropic=http://127.0.0.1:1").unwrap()[0];
        let spec = provider_spec(up, &fleet);
        assert!(spec.api_keys.is_empty());
        assert_eq!(spec.models.len(), fleet.provider("anthropic").unwrap().models.len());
        let other = &parse("edge:deepseek=http://127.0.0.1:1").unwrap()[0];
        assert!(provider_spec(other, &fleet).model("deepseek-chat").is_some());
    }
}
