//! The runbook's actions on the gateway itself, for the targets gatedrill runs (seed 001,
//! playbook A step 3 "remove it from model chain env and redeploy", playbook C "redeploy with
//! corrected env", playbook B step 5 "if writes still fail, check DB readiness"): a restart on
//! the same address with changed variables, and faults of the reference gateway's session
//! store. A gateway at a URL is not gatedrill's to restart: those steps are refused there.

use std::collections::BTreeMap;
use std::time::Duration;

use super::target::{Running, TargetError, wait_ready};
use crate::gateway::config::GatewayConfig;
use crate::gateway::faults::StoreFaultKind;

/// The variables after a redeploy: `set` applied, then `remove` dropped from every role's chain.
/// A chain left empty is refused (the runbook removes one unhealthy provider, not every one).
pub fn redeployed_env(
    env: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut env = env.clone();
    env.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
    for (k, v) in env.iter_mut().filter(|(k, _)| k.starts_with("AI_") && k.ends_with("_MODEL_CHAIN")) {
        let kept: Vec<&str> = v
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty() && !remove.iter().any(|r| l.split(':').next() == Some(r.as_str())))
            .collect();
        if kept.is_empty() {
            return Err(format!("{k}: removing {} leaves no provider", remove.join(", ")));
        }
        *v = kept.join(",");
    }
    Ok(env)
}

/// Binding the old address again: a port just released can take a moment to be free.
const REBIND_TRIES: u32 = 50;

impl Running {
    /// Restarts the gateway with changed variables on the same address; returns once `/ready`
    /// answers 200 (or why not).
    pub async fn restart(&mut self, set: &BTreeMap<String, String>, remove: &[String]) -> Result<(), TargetError> {
        let env = redeployed_env(&self.env, set, remove).map_err(TargetError::Config)?;
        if let Some(old) = self.embedded.take() {
            let config = GatewayConfig::from_vars(&env).map_err(|e| TargetError::Config(e.to_string()))?;
            let addr = old.addr;
            self.prior_harness_errors += old.gateway.harness_errors.load(std::sync::atomic::Ordering::Relaxed);
            old.shutdown().await;
            self.env = env;
            self.cooldown_ms = Some(config.cooldown.as_secs_f64() * 1000.0);
            let mut tries = 0;
            let handle = loop {
                match crate::gateway::start(config.clone(), &self.store, addr).await {
                    Ok(h) => break h,
                    Err(e) if tries >= REBIND_TRIES => return Err(TargetError::Start(e.to_string())),
                    Err(_) => tries += 1,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            self.embedded = Some(handle);
        } else if self.command.is_some() {
            self.stop().await;
            self.env = env;
            self.spawn().await?;
        } else {
            return Err(TargetError::Start("a gateway at a URL is not gatedrill's to restart".into()));
        }
        if wait_ready(&self.base_url, &self.profile.ready_path, self.profile.ready_within).await {
            Ok(())
        } else {
            Err(TargetError::Start(format!(
                "{}{} did not answer 200 within {} of the restart",
                self.base_url,
                self.profile.ready_path,
                crate::duration::Dur(self.profile.ready_within)
            )))
        }
    }

    /// Sets a fault on the embedded reference gateway's session store.
    pub fn store_fault(&self, kind: StoreFaultKind, delay: Duration) -> Result<(), String> {
        match &self.embedded {
            Some(h) => {
                h.gateway.store_faults.set(kind, delay);
                Ok(())
            }
            None => Err("a store fault needs the embedded reference gateway".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redeploy_drops_a_provider_from_every_chain_and_sets_variables() {
        let env: BTreeMap<String, String> = [
            ("AI_CRITIC_MODEL_CHAIN", "openai:gpt-5, anthropic:claude,deepseek:chat"),
            ("AI_JUDGE_MODEL_CHAIN", "openai"),
            ("AGENT_ORCHESTRATION_ENABLED", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let set = [("AGENT_ORCHESTRATION_ENABLED".to_string(), "true".to_string())].into();
        let e = redeployed_env(&env, &set, &["anthropic".into()]).unwrap();
        assert_eq!(e["AI_CRITIC_MODEL_CHAIN"], "openai:gpt-5,deepseek:chat");
        assert_eq!(e["AGENT_ORCHESTRATION_ENABLED"], "true");
        assert!(
            redeployed_env(&env, &BTreeMap::new(), &["openai".into()]).unwrap_err().contains("AI_JUDGE_MODEL_CHAIN")
        );
    }
}
