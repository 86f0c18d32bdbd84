//! The release window done right (seed 001, "Release Window Checks" and "Release-gate connector
//! diagnostics"): the launch gate's probes close the sessions they open, and the release-window
//! checks judge stale sessions against a baseline, so running the launch gate then the
//! release-window checks again and again against one gateway passes every time.

mod common;

use common::stack::{ADMIN_TOKEN, WEBHOOK_SECRET, stack};
use serde_json::Value;

const PROFILES: &str =
    r#"{"telegram_main":"telegram","slack_main":"slack","discord_main":"discord","gatedrill_load":"telegram"}"#;

/// `gatedrill run <scenario> --target <url>`; its exit code and output.
async fn run(url: &str, scenario: &str, out: &std::path::Path) -> (Option<i32>, String) {
    let (url, scenario, out) = (url.to_string(), scenario.to_string(), out.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
            .args(["run", &scenario, "--target", &url, "--out"])
            .arg(&out)
            .env("ADMIN_API_TOKEN", ADMIN_TOKEN)
            .env("AGENT_GATEWAY_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .output()
            .unwrap();
        (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_gate_then_release_window_twice_passes_every_time() {
    let s = stack(&[("AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES", PROFILES)]).await;
    let out = common::artifacts::temp_dir("release-window", "twice");
    for round in 0..2 {
        for scenario in ["scenarios/launch_gate.toml", "scenarios/release_window_checks.toml"] {
            let (code, text) = run(&s.gw.url, scenario, &out).await;
            assert_eq!(code, Some(0), "round {round}, {scenario}:\n{text}");
        }
        // The launch gate's probe sessions (fixture chat ids) are all closed: none is left active.
        let (status, list) = s.get("/api/admin/agent-gateway/sessions?source=db&status=active&limit=1000").await;
        assert_eq!(status, 200);
        let fixtures = ["-1001234567890", "C024BE91L", "1039203920392039203"];
        let left: Vec<&Value> = list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| fixtures.contains(&x["externalSessionId"].as_str().unwrap_or_default()))
            .collect();
        assert!(left.is_empty(), "round {round}: probe sessions left active: {left:?}");
    }
    // The probes did run: each channel's session exists, closed.
    let (_, all) = s.get("/api/admin/agent-gateway/sessions?source=db&status=closed&limit=1000").await;
    let closed = all["sessions"].as_array().unwrap();
    assert!(closed.iter().filter(|x| x["externalSessionId"] == "C024BE91L").count() >= 4, "{all}");
}
