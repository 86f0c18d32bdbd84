//! With `--store sqlite:PATH`, a gateway killed with SIGKILL and started again keeps every
//! session and event it acknowledged.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::stack::{ADMIN_TOKEN, vars};
use serde_json::{Value, json};

fn spawn(env: &std::collections::BTreeMap<String, String>, db: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["gateway", "serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite:{}", db.display()))
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let url = serde_json::from_str::<Value>(&line).unwrap()["gateway"].as_str().unwrap().to_string();
    (child, url)
}

#[tokio::test]
async fn sessions_survive_a_kill_and_restart() {
    let fleet = common::fleet().await;
    let env = vars(&fleet, &[]);
    let dir = std::env::temp_dir().join(format!("gatedrill-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("gateway.db");
    let _ = std::fs::remove_file(&db);
    let c = common::client();

    let (mut first, url) = spawn(&env, &db);
    let r = c
        .post(format!("{url}/api/admin/agent-gateway/orchestrate"))
        .header("x-admin-token", ADMIN_TOKEN)
        .json(&json!({"draftId": "d-77", "channel": "release-check"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let session: Value = r.json().await.unwrap();
    let id = session["session"]["id"].as_str().unwrap().to_string();
    first.kill().unwrap(); // SIGKILL: no graceful shutdown
    first.wait().unwrap();

    let (mut second, url) = spawn(&env, &db);
    let r = c
        .get(format!("{url}/api/admin/agent-gateway/sessions/{id}/summary?source=db"))
        .header("x-admin-token", ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["session"]["eventCount"].as_u64(), v["session"]["status"].as_str()), (Some(6), Some("closed")));
    assert_eq!(v["recentEvents"].as_array().unwrap().len(), 6);
    second.kill().unwrap();
    second.wait().unwrap();
}

#[test]
fn a_read_only_store_fails_fast_at_start() {
    let dir = std::env::temp_dir().join(format!("gatedrill-readonly-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("gateway.db");
    let _ = std::fs::remove_file(&db);
    drop(gatedrill::gateway::sqlite::SqliteStore::open(&db).unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["gateway", "serve", "--bind", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite:file:{}?mode=ro", db.display()))
        .env_clear()
        .env("ADMIN_API_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.to_ascii_lowercase().contains("readonly"), "{stderr}");
}
