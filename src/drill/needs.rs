//! What a scenario needs from its target, and why a target that cannot meet it skips the
//! scenario with the reason (DESIGN.md, "Targets"): a drill that did not happen neither fails
//! the gateway falsely nor passes by accident.
//!
//! - Faults need a fleet the gateway calls: this run's own mocks (embedded and `cmd:` targets),
//!   or, for a gateway at a URL, a fleet named with `--fleet` that its providers point at.
//! - A gateway at a URL was configured by someone else: a scenario that injects faults assumes
//!   the configuration gatedrill would have given it (endpoints, keys, chains, cooldown and
//!   timeouts, then the scenario's own `gateway.env`), so that configuration must be declared
//!   (`--target-env`) and match.
//! - Restarting the gateway or breaking its store needs a gateway gatedrill runs.
//! - A gateway configured from a profile's template does not read the runbook's variables, so a
//!   scenario that sets them does not apply to it.
//! - A gateway that speaks only the providers' APIs (an OpenAI-compatible target profile) can
//!   run only the scenarios that use nothing else.

use std::collections::BTreeMap;

use crate::drill::fleet::Fleet;
use crate::drill::target::{TargetSpec, gateway_env};
use crate::scenario::{Loaded, Step};

/// Variables of a configured gateway that are per-run secrets or the spawn's own wiring, never
/// part of what a URL target must declare.
const NOT_DECLARED: &[&str] =
    &["ADMIN_API_TOKEN", "AGENT_GATEWAY_WEBHOOK_SECRET", "GATEDRILL_GATEWAY_PORT", "GATEDRILL_GATEWAY_URL"];

/// Whether the scenario puts faults on the providers (so it needs a fleet the gateway calls).
pub fn injects_faults(loaded: &Loaded) -> bool {
    !loaded.scenario.faults.is_empty() || loaded.scenario.steps.iter().any(|s| matches!(s, Step::Faults { .. }))
}

/// Whether a step uses only what an OpenAI-compatible gateway serves.
fn provider_api_only(s: &Step) -> bool {
    match s {
        Step::Chat { .. } | Step::Faults { .. } | Step::Sleep { .. } => true,
        Step::Load { against, .. } => *against == crate::scenario::steps::LoadAgainst::Chat,
        _ => false,
    }
}

/// Providers the scenario's fault rules name.
fn named_providers(loaded: &Loaded) -> impl Iterator<Item = &str> {
    let s = &loaded.scenario;
    let in_steps = s.steps.iter().flat_map(|st| match st {
        Step::Faults { add, .. } => add.as_slice(),
        _ => &[],
    });
    s.faults.iter().chain(in_steps).filter_map(|r| r.matcher.provider.as_deref())
}

/// A variable whose value is a credential: a skip reason names it, never its value.
fn is_credential(name: &str) -> bool {
    ["KEY", "TOKEN", "SECRET", "PASSWORD"].iter().any(|w| name.contains(w))
}

/// The configuration a scenario assumes its gateway has, without secrets.
pub fn assumed_env(fleet: &Fleet, loaded: &Loaded) -> BTreeMap<String, String> {
    let mut env = gateway_env(fleet, &loaded.scenario.gateway.env);
    env.retain(|k, _| !NOT_DECLARED.contains(&k.as_str()));
    env
}

/// What the run knows of its target beyond its name.
pub struct Known<'a> {
    pub target: &'a TargetSpec,
    /// The fleet the scenario would use (for a URL target, as `--fleet` names it).
    pub fleet: Option<&'a Fleet>,
    /// A URL target's declared configuration (`--target-env`).
    pub declared: Option<&'a BTreeMap<String, String>>,
    /// The target speaks only the providers' APIs.
    pub provider_api_only: bool,
    /// A spawned target reads its configuration from a profile's template, not the runbook's
    /// variables.
    pub templated: bool,
}

/// Why the scenario cannot run against this target, or `None` when it can.
pub fn unmet(loaded: &Loaded, known: &Known<'_>) -> Option<String> {
    let s = &loaded.scenario;
    if known.provider_api_only
        && let Some(step) = s.steps.iter().find(|st| !provider_api_only(st))
    {
        return Some(format!(
            "uses the runbook's admin API (a {} step), and the target profile says the gateway speaks only the providers' APIs",
            step.kind()
        ));
    }
    if known.templated
        && matches!(known.target, TargetSpec::Command(_))
        && let Some(k) = s.gateway.env.keys().next()
    {
        return Some(format!(
            "sets the gateway's {k}, and a gateway configured from the profile's template does not read the runbook's variables"
        ));
    }
    if let Some(fleet) = known.fleet {
        let have = fleet.endpoints();
        if let Some(missing) = named_providers(loaded).find(|n| !have.iter().any(|e| e.provider == *n)) {
            return Some(format!("puts faults on provider {missing:?}, which --fleet does not name"));
        }
    }
    let TargetSpec::Url(_) = known.target else { return None };
    if s.steps.iter().any(Step::controls_gateway) {
        return Some(
            "restarts the gateway or breaks its store, which needs a target gatedrill runs (embedded or cmd:)".into(),
        );
    }
    let want = match known.fleet {
        // Its providers are the fleet: the drill assumes the whole configuration it would give.
        Some(fleet) => assumed_env(fleet, loaded),
        None if injects_faults(loaded) => {
            return Some(
                "injects provider faults, which needs the target's providers to be a fleet gatedrill drives: \
                 this run's (embedded or cmd:) or one named with --fleet"
                    .into(),
            );
        }
        // Its providers are its own: only what the scenario itself sets is assumed.
        None => s.gateway.env.clone(),
    };
    if want.is_empty() {
        return None;
    }
    let Some(declared) = known.declared else {
        let some: Vec<&str> = want.keys().take(2).map(String::as_str).collect();
        return Some(format!(
            "assumes the gateway is configured with {} variable(s) ({}{}); a gateway at a URL must declare its \
             configuration with --target-env FILE (`gatedrill gateway env --fleet ...` prints the fleet's)",
            want.len(),
            some.join(", "),
            if want.len() > 2 { ", ..." } else { "" }
        ));
    };
    let differs: Vec<String> = want
        .iter()
        .filter(|(k, v)| declared.get(*k) != Some(*v))
        .map(|(k, v)| match declared.get(k) {
            _ if is_credential(k) => format!(
                "{k} as the fleet has it (declared {})",
                if declared.contains_key(k) { "otherwise" } else { "nothing" }
            ),
            Some(d) => format!("{k}={v} (declared {d})"),
            None => format!("{k}={v} (not declared)"),
        })
        .collect();
    (!differs.is_empty()).then(|| {
        let shown: Vec<&str> = differs.iter().take(3).map(String::as_str).collect();
        let more = if differs.len() > 3 { format!(" and {} more", differs.len() - 3) } else { String::new() };
        format!("needs a gateway configured with {}{more}", shown.join(", "))
    })
}

/// Reads a `--target-env` file: `KEY=VALUE` lines, `#` comments and blank lines; a line that is
/// neither is an error naming the file and line.
pub fn read_declared(path: &std::path::Path) -> Result<BTreeMap<String, String>, String> {
    let text = crate::input::read_small(path, "--target-env")?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("{}:{}:1: expected KEY=VALUE", path.display(), i + 1));
        };
        let k = k.trim();
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("{}:{}:1: {k:?} is not a variable name", path.display(), i + 1));
        }
        let v = v.trim();
        // As `gateway env` writes it (single quotes, `'\''` for a quote), or double-quoted, or bare.
        let v = match v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
            Some(inner) => inner.replace("'\\''", "'"),
            None => v.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(v).to_string(),
        };
        if out.insert(k.to_string(), v).is_some() {
            return Err(format!("{}:{}:1: {k} is declared twice", path.display(), i + 1));
        }
    }
    Ok(out)
}

/// `gatedrill gateway env`: the configuration a drill assumes of a gateway using `fleet`, as
/// shell-sourceable `KEY='VALUE'` lines (a `'` in a value is written `'\''`).
pub fn env_lines(
    spec: &crate::drill::fleet::FleetSpec,
    config: &crate::mock::config::FleetConfig,
) -> Result<String, String> {
    if let Some(e) = spec.providers.iter().find(|e| !config.providers.iter().any(|p| p.name == e.provider)) {
        return Err(format!("--fleet names provider {:?}, which the provider configuration does not have", e.provider));
    }
    let fleet = Fleet::Remote(crate::drill::fleet::RemoteFleet::describe(spec, config));
    let mut env = gateway_env(&fleet, &BTreeMap::new());
    env.retain(|k, _| !NOT_DECLARED.contains(&k.as_str()));
    Ok(env.iter().map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', "'\\''"))).collect())
}
