//! Fault drills against a gateway gatedrill did not start: `gatedrill mock serve` and
//! `gatedrill gateway serve` run as separate processes, as a staging deployment would, and
//! `gatedrill run --target URL --fleet ... --target-env ...` drives the library through them.
//! Every scenario passes or is skipped with its reason; none fails falsely, and a gateway that is
//! not wired to the fleet cannot pass a fault scenario by accident.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
}

/// Spawns `args`, returning it with the first `n` lines it printed.
fn spawn(args: &[&str], env: &BTreeMap<String, String>, n: usize) -> (Proc, Vec<String>) {
    let mut child =
        bin().args(args).envs(env).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn gatedrill");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let got = (0..n).map(|_| lines.next().expect("a line").expect("utf-8")).collect();
    (Proc(child), got)
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-remote-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fleet in its own process, and the configuration a gateway using it needs (`gateway env`).
fn fleet(d: &Path) -> (Proc, PathBuf, BTreeMap<String, String>) {
    let (p, lines) = spawn(&["mock", "serve"], &BTreeMap::new(), 3);
    describe(d, p, lines)
}

/// The fleet's lines written to a file, and `gateway env` for it.
fn describe(d: &Path, p: Proc, lines: Vec<String>) -> (Proc, PathBuf, BTreeMap<String, String>) {
    let file = d.join("fleet.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = bin().args(["gateway", "env", "--fleet"]).arg(&file).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let env = text
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.trim_matches('\'').to_string())
        })
        .collect();
    (p, file, env)
}

const ADMIN: &str = "remote-fleet-admin-token";
const SECRET: &str = "remote-fleet-webhook-secret";

/// A reference gateway in its own process with `env`, and the `--target-env` file declaring it.
fn gateway(d: &Path, name: &str, mut env: BTreeMap<String, String>) -> (Proc, String, PathBuf) {
    let declared = d.join(format!("{name}.env"));
    let text: String = env.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    std::fs::write(&declared, text).unwrap();
    env.insert("ADMIN_API_TOKEN".into(), ADMIN.into());
    env.insert("AGENT_GATEWAY_WEBHOOK_SECRET".into(), SECRET.into());
    let (p, lines) = spawn(&["gateway", "serve", "--bind", "127.0.0.1:0"], &env, 1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    (p, v["gateway"].as_str().unwrap().to_string(), declared)
}

/// Runs `paths` against `url` through the fleet; (exit code, verdict and skip reason by name).
fn run(
    d: &Path,
    url: &str,
    fleet: &Path,
    declared: &Path,
    paths: &[&str],
) -> (i32, BTreeMap<String, (String, String)>) {
    let out = d.join(format!("out-{}", paths.len()));
    let status = bin()
        .args(["run", "--progress", "never", "-q", "--target", url, "--fleet"])
        .arg(fleet)
        .arg("--target-env")
        .arg(declared)
        .arg("--out")
        .arg(&out)
        .args(paths)
        .env("ADMIN_API_TOKEN", ADMIN)
        .env("AGENT_GATEWAY_WEBHOOK_SECRET", SECRET)
        .status()
        .unwrap();
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let verdicts = run["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let name = s.as_str().unwrap().to_string();
            let trace: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join(&name).join("trace.json")).unwrap()).unwrap();
            let verdict = match (trace["skipped"].as_str(), trace["passed"].as_bool()) {
                (Some(_), _) => "skip",
                (None, Some(true)) => "pass",
                _ => "fail",
            };
            let skipped = trace["skipped"].as_str().unwrap_or_default().to_string();
            (name, (verdict.to_string(), skipped))
        })
        .collect();
    (status.code().unwrap_or(-1), verdicts)
}

#[test]
fn the_library_runs_against_a_gateway_at_a_url_through_a_separate_fleet() {
    let d = dir("library");
    let (_fleet, fleet_file, env) = fleet(&d);
    let (_gw, url, declared) = gateway(&d, "defaults", env.clone());
    let (code, verdicts) = run(&d, &url, &fleet_file, &declared, &["scenarios/"]);
    let failed: Vec<_> = verdicts.iter().filter(|(_, (v, _))| v == "fail").collect();
    assert!(failed.is_empty(), "false failures: {failed:#?}");
    // Skipped only with a reason, and only where the gateway cannot be what the scenario needs.
    for (name, (verdict, why)) in &verdicts {
        if verdict == "skip" {
            assert!(
                why.contains("needs a gateway configured with") || why.contains("restarts the gateway"),
                "{name}: {why}"
            );
        }
    }
    let passed = verdicts.values().filter(|(v, _)| v == "pass").count();
    // The fault scenarios that assume only the defaults ran and passed through the remote fleet.
    for name in ["rate_limit_storm", "rotated_key_401", "stream_cut_mid_response", "session_backlog"] {
        assert_eq!(verdicts[name].0, "pass", "{name}: {:?}", verdicts[name]);
    }
    assert!(passed >= 8, "{verdicts:#?}");
    assert_eq!(code, 0);

    // A gateway configured as a skipped scenario needs it: the scenario runs and passes.
    let mut slow = env.clone();
    slow.insert("AI_PROVIDER_TIMEOUT_MS".into(), "300".into());
    let (_gw2, url2, declared2) = gateway(&d, "timeout300", slow);
    let (code, verdicts) = run(
        &d,
        &url2,
        &fleet_file,
        &declared2,
        &["scenarios/primary_timeout_failover.toml", "scenarios/rate_limit_storm.toml"],
    );
    assert_eq!(verdicts["primary_timeout_failover"].0, "pass", "{verdicts:#?}");
    assert_eq!(verdicts["rate_limit_storm"].0, "skip", "declared timeout differs: {verdicts:#?}");
    assert!(verdicts["rate_limit_storm"].1.contains("AI_PROVIDER_TIMEOUT_MS=1000 (declared 300)"));
    assert_eq!(code, 0);
}

#[test]
fn a_gateway_not_wired_to_the_fleet_cannot_pass_a_fault_scenario() {
    let d = dir("unwired");
    let (_fleet, fleet_file, env) = fleet(&d);
    // The gateway calls another fleet, but its declaration claims the first one.
    let other = dir("unwired-other");
    let (_other, _, other_env) = fleet(&other);
    let (_gw, url, _) = gateway(&d, "other", other_env);
    let claimed = d.join("claimed.env");
    let text: String = env.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    std::fs::write(&claimed, text).unwrap();
    let (code, verdicts) = run(&d, &url, &fleet_file, &claimed, &["scenarios/rate_limit_storm.toml"]);
    assert_eq!(verdicts["rate_limit_storm"].0, "fail", "{verdicts:#?}");
    assert_eq!(code, 1);
    let trace = std::fs::read_to_string(d.join("out-1/rate_limit_storm/trace.json")).unwrap();
    assert!(trace.contains("\"planned_fault_never_fired\""), "the drill did not happen: {trace}");
}

#[test]
fn an_unreachable_fleet_fails_the_scenario_and_an_undeclared_target_skips_it() {
    let d = dir("unreachable");
    let (fleet_proc, fleet_file, env) = fleet(&d);
    let (_gw, url, declared) = gateway(&d, "defaults", env);
    drop(fleet_proc);
    let (code, verdicts) = run(&d, &url, &fleet_file, &declared, &["scenarios/rate_limit_storm.toml"]);
    assert_eq!(verdicts["rate_limit_storm"].0, "fail", "{verdicts:#?}");
    assert_eq!(code, 1);
    let trace = std::fs::read_to_string(d.join("out-1/rate_limit_storm/trace.json")).unwrap();
    assert!(trace.contains("/_gatedrill/reset"), "the fleet named as unreachable: {trace}");
    // No --target-env: the configuration the drill assumes is unknown, so nothing runs.
    let out = bin()
        .args(["run", "--progress", "never", "-q", "--target", &url, "--fleet"])
        .arg(&fleet_file)
        .arg("--out")
        .arg(d.join("undeclared"))
        .arg("scenarios/rate_limit_storm.toml")
        .env("ADMIN_API_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "all skipped is not a pass");
    let trace = std::fs::read_to_string(d.join("undeclared/rate_limit_storm/trace.json")).unwrap();
    assert!(trace.contains("--target-env"), "{trace}");
}

#[test]
fn a_fleet_that_loses_the_scenarios_rules_fails_it() {
    let d = dir("lost");
    let (_fleet, fleet_file, env) = fleet(&d);
    let (_gw, url, declared) = gateway(&d, "defaults", env);
    let openai = std::fs::read_to_string(&fleet_file).unwrap();
    let openai: serde_json::Value = serde_json::from_str(openai.lines().next().unwrap()).unwrap();
    let base = openai["url"].as_str().unwrap().to_string();
    // Another run sharing the fleet resets it once this scenario's rule is loaded.
    let resetter = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let c = gatedrill::tls::builder().build().unwrap();
            for _ in 0..400 {
                let rules = c.get(format!("{base}/_gatedrill/faults")).send().await.unwrap().text().await.unwrap();
                if rules.contains("primary-down") {
                    c.post(format!("{base}/_gatedrill/reset")).send().await.unwrap();
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            false
        })
    });
    let (code, verdicts) = run(&d, &url, &fleet_file, &declared, &["tests/data/remote/rules_lost.toml"]);
    assert!(resetter.join().unwrap(), "the rule was never seen loaded");
    assert_eq!(verdicts["rules_lost"].0, "fail", "{verdicts:#?}");
    assert_eq!(code, 1);
    let trace = std::fs::read_to_string(d.join("out-1/rules_lost/trace.json")).unwrap();
    assert!(trace.contains("fleet_unreadable") && trace.contains("no longer has them"), "{trace}");
}

#[test]
fn the_fleet_can_be_a_fault_proxy_in_front_of_providers() {
    let d = dir("proxy");
    // The providers behind the proxy: mocks with no faults of their own.
    let (_upstream, lines) = spawn(&["mock", "serve"], &BTreeMap::new(), 3);
    let upstreams: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}={}", v["provider"].as_str().unwrap(), v["url"].as_str().unwrap())
        })
        .collect();
    let (proxy, lines) = spawn(&["proxy", "--upstream", &upstreams.join(",")], &BTreeMap::new(), 3);
    let (_proxy, fleet_file, env) = describe(&d, proxy, lines);
    let (_gw, url, declared) = gateway(&d, "defaults", env);
    let scenarios =
        ["scenarios/rate_limit_storm.toml", "scenarios/rotated_key_401.toml", "scenarios/stream_cut_mid_response.toml"];
    let (code, verdicts) = run(&d, &url, &fleet_file, &declared, &scenarios);
    for name in ["rate_limit_storm", "rotated_key_401", "stream_cut_mid_response"] {
        assert_eq!(verdicts[name].0, "pass", "{name}: {verdicts:#?}");
    }
    assert_eq!(code, 0);
}

#[test]
fn the_chat_step_speaks_anthropic_messages_where_a_gateway_exposes_them() {
    let d = dir("messages");
    let (_fleet, fleet_file, env) = fleet(&d);
    let declared = d.join("declared.env");
    std::fs::write(&declared, env.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect::<String>()).unwrap();
    // The Anthropic mock itself stands in for a gateway exposing /v1/messages.
    let lines = std::fs::read_to_string(&fleet_file).unwrap();
    let anthropic = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["provider"] == "anthropic");
    let url = anthropic.unwrap()["url"].as_str().unwrap().to_string();
    let out = d.join("out");
    let status = bin()
        .args(["run", "--progress", "never", "-q", "--target", &url, "--fleet"])
        .arg(&fleet_file)
        .arg("--target-env")
        .arg(&declared)
        .args(["--profile", "tests/data/profile/anthropic_direct.toml", "--out"])
        .arg(&out)
        .arg("tests/data/remote/anthropic_messages.toml")
        .env("GATEDRILL_TEST_ANTHROPIC_KEY", "sk-ant-gatedrill-0001")
        .status()
        .unwrap();
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("anthropic_messages/trace.json")).unwrap()).unwrap();
    assert_eq!(trace["passed"], true, "{:#}", trace["steps"]);
    assert_eq!(status.code(), Some(0));
}
