//! Secrets redacted by construction (DESIGN.md, "Artifacts"): adversarial secret values (JSON
//! and XML metacharacters, a 3-character token, URL userinfo, a secret the spawned gateway prints
//! to its stderr) reach no artifact and no console line in any encoding, and every artifact still
//! parses. Environment values gatedrill does not own (`OPENAI_API_KEY=test`,
//! `DEPLOY_SECRET=true`) are left alone: scrubbing them would corrupt the artifacts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::artifacts::{self, files, parse};
use gatedrill::secret::Secrets;
use serde_json::Value;

const ADMIN: &str = "a\"b\\c<d&e>-adm";
const HOOK: &str = "Q7z";
const PASSWORD: &str = "pw-S3cr3t/!x";

fn temp_dir(name: &str) -> PathBuf {
    artifacts::temp_dir("secrets", name)
}

fn run(out: &Path, target: &str, scenarios: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--progress", "never", "--target", target, "--out"])
        .arg(out)
        .args(scenarios)
        .env("ADMIN_API_TOKEN", ADMIN)
        .env("AGENT_GATEWAY_WEBHOOK_SECRET", HOOK)
        .env("OPENAI_API_KEY", "test")
        .env("DEPLOY_SECRET", "true")
        .env("GITHUB_STEP_SUMMARY", out.with_extension("step-summary.md"))
        .output()
        .unwrap()
}

/// No form of any owned secret anywhere the run wrote or printed; every artifact parses.
fn assert_clean(out: &Path, run: &Output, extra: &[&str]) {
    let secrets = Secrets::new([ADMIN, HOOK].iter().chain(extra));
    let console = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(!secrets.appears_in(&console), "console: {console}");
    let mut written = files(out);
    written.push(out.with_extension("step-summary.md"));
    assert!(written.len() > 6, "{written:?}");
    for f in written {
        assert!(!secrets.appears_in(&parse(&f)), "{} holds a secret", f.display());
    }
}

#[test]
fn embedded_runs_leak_no_adversarial_secret() {
    let out = temp_dir("embedded");
    let r = run(&out, "embedded", &["scenarios/launch_gate.toml", "scenarios/wrong_webhook_secret.toml"]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    assert_clean(&out, &r, &[]);
    // Values gatedrill does not own are not masked: "test" and "true" stay where they belong.
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuite"), "{junit}");
    let summary = std::fs::read_to_string(out.join("release/production-launch-gate-summary.json")).unwrap();
    assert!(summary.contains(": true"), "{summary}");
}

#[test]
fn a_spawned_gateway_printing_the_secret_does_not_leak_it() {
    let out = temp_dir("cmd");
    let bin = env!("CARGO_BIN_EXE_gatedrill");
    let cmd = format!(
        "cmd:printf 'starting with token %s and hook %s\\n' \"$ADMIN_API_TOKEN\" \"$AGENT_GATEWAY_WEBHOOK_SECRET\" >&2; exec {bin} gateway serve --bind 127.0.0.1:$GATEDRILL_GATEWAY_PORT"
    );
    let r = run(&out, &cmd, &["scenarios/launch_gate.toml"]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let log = std::fs::read_to_string(out.join("launch_gate/gateway.stderr.log")).unwrap();
    assert!(log.contains("starting with token [redacted] and hook [redacted]"), "{log}");
    assert_clean(&out, &r, &[]);
}

#[test]
fn url_userinfo_reaches_no_artifact() {
    let mut gw = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["gateway", "serve", "--bind", "127.0.0.1:0"])
        .env("ADMIN_API_TOKEN", ADMIN)
        .env("AGENT_GATEWAY_WEBHOOK_SECRET", HOOK)
        .env(
            "AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES",
            r#"{"telegram_main":"telegram","slack_main":"slack","discord_main":"discord"}"#,
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(gw.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let url = serde_json::from_str::<Value>(&line).unwrap()["gateway"].as_str().unwrap().to_string();
    let with_userinfo = url.replace("http://", &format!("http://release:{}@", PASSWORD.replace('/', "%2F")));
    let out = temp_dir("userinfo");
    let r = run(&out, &with_userinfo, &["scenarios/launch_gate.toml"]);
    let _ = gw.kill();
    let _ = gw.wait();
    assert!(matches!(r.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&r.stderr));
    assert_clean(&out, &r, &[PASSWORD, &PASSWORD.replace('/', "%2F"), "release:pw-S3cr3t%2F!x"]);
}

#[test]
fn a_one_character_token_keeps_every_artifact_readable() {
    let out = temp_dir("one-char");
    let r = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--progress", "never", "--out"])
        .arg(&out)
        .arg("scenarios/launch_gate.toml")
        .env("ADMIN_API_TOKEN", "x")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    for f in files(&out) {
        parse(&f);
    }
    // The traces still read back as traces: field names are vocabulary, never masked.
    let again = Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("report").arg(&out).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
}
