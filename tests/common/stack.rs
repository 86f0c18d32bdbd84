//! A mock fleet with the reference gateway pointed at it, configured through the runbook's
//! environment variables, with drill-compressed timeouts and cooldowns.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use gatedrill::gateway::config::GatewayConfig;
use gatedrill::gateway::{GatewayHandle, StoreSpec};
use gatedrill::mock::ProviderFleet;
use serde_json::Value;

use super::{DIALECTS, client, fleet, key};

pub const ADMIN_TOKEN: &str = "test-admin-token-7f3a";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-91c2";

pub struct Stack {
    pub fleet: ProviderFleet,
    pub gw: GatewayHandle,
}

/// The gateway's variables for a fleet, before `extra` overrides.
pub fn vars(fleet: &ProviderFleet, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let mut set = |k: &str, val: &str| v.insert(k.to_string(), val.to_string());
    set("ADMIN_API_TOKEN", ADMIN_TOKEN);
    set("AGENT_GATEWAY_WEBHOOK_SECRET", WEBHOOK_SECRET);
    set("AGENT_ORCHESTRATION_ENABLED", "true");
    set("AI_PROVIDER_COOLDOWN_MS", "200");
    set("AI_PROVIDER_TIMEOUT_MS", "1000");
    for (d, name, model) in DIALECTS {
        let up = name.to_ascii_uppercase();
        set(&format!("AI_RUNTIME_{up}_ENDPOINT"), fleet.url(name).unwrap());
        set(&format!("AI_RUNTIME_{up}_API_KEY"), key(d));
        set(&format!("AI_RUNTIME_{up}_MODEL"), model);
    }
    for role in ["AUTHOR", "CRITIC", "MAKER", "JUDGE"] {
        set(&format!("AI_{role}_MODEL_CHAIN"), "openai:gpt-5,anthropic:claude-sonnet-4-5,deepseek:deepseek-chat");
    }
    for (k, val) in extra {
        set(k, val);
    }
    v
}

pub async fn stack(extra: &[(&str, &str)]) -> Stack {
    let fleet = fleet().await;
    let config = GatewayConfig::from_vars(&vars(&fleet, extra)).expect("valid gateway configuration");
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let gw = gatedrill::gateway::start(config, &StoreSpec::Memory, addr).await.unwrap();
    Stack { fleet, gw }
}

impl Stack {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r =
            client().get(format!("{}{path}", self.gw.url)).header("x-admin-token", ADMIN_TOKEN).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = client()
            .post(format!("{}{path}", self.gw.url))
            .header("x-admin-token", ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn dry_run(&self, role: &str, prompt: &str) -> Value {
        let body = serde_json::json!({"role": role, "prompt": prompt, "timeoutMs": 5000});
        let (s, v) = self.post("/api/admin/ai-runtime/dry-run", body).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    pub async fn ingest(&self, secret: &str, body: Value) -> (u16, Value) {
        let r = client()
            .post(format!("{}/api/agent-gateway/adapters/ingest", self.gw.url))
            .header("x-agent-gateway-webhook-secret", secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}
