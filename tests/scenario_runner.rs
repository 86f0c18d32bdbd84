//! The scenario runner as users drive it: the whole library passes against the embedded gateway,
//! a wrong expectation fails the run, bad files exit 2 with their location, the committed schema
//! matches the types, and a gateway at a URL or a spawned command can be the target.

mod common;

use std::process::Command;

use clap::Parser;
use gatedrill::cli::{Cli, run};
use gatedrill::exit::Exit;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
}

fn temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gatedrill-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_library_passes_against_the_embedded_gateway() {
    let exit = run(Cli::parse_from(["gatedrill", "run", "scenarios/", "--seed", "7"])).await.unwrap();
    assert_eq!(exit, Exit::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_expectation_fails_the_run() {
    let p = temp(
        "wrong.toml",
        r#"name = "wrong_expectation"
description = "expects a fallback that does not happen"
playbook = "provider_failover"
[[steps]]
kind = "dry_run"
role = "critic"
expect = { served_by = "deepseek", fallback_used = true }
"#,
    );
    let exit = run(Cli::parse_from(["gatedrill", "run", p.to_str().unwrap()])).await.unwrap();
    assert_eq!(exit, Exit::GateFailed);
    // A planned fault that never fires fails the drill too: it did not happen.
    let p = temp(
        "never.toml",
        r#"name = "never_fired"
description = "plans a fault on a model nobody calls"
playbook = "model_outage"
[[faults]]
id = "unused"
fault = { kind = "overloaded" }
match = { provider = "deepseek", model = "deepseek-reasoner" }
[[steps]]
kind = "health"
"#,
    );
    let out = bin().args(["run", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unexpected finding planned_fault_never_fired"), "{text}");
}

#[test]
fn bad_scenarios_exit_2_with_their_location() {
    let p = temp(
        "bad.toml",
        "name = \"bad_one\"\ndescription = \"x\"\nplaybook = \"model_outage\"\n[[steps]]\nkind = \"dry_run\"\nrole = \"poet\"\n",
    );
    let out = bin().args(["validate", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4:1") && err.contains("role \"poet\""), "{err}");
    let p = temp(
        "typo.toml",
        "name = \"typo\"\ndescription = \"x\"\nplaybook = \"model_outage\"\n[[steps]]\nkind = \"dry_rn\"\n",
    );
    let out = bin().args(["validate", p.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.toml:") && err.contains("unknown variant `dry_rn`") && err.contains("expected one of"),
        "{err}"
    );
    let out = bin().args(["run", "--target", "ftp://x", "scenarios/"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_committed_schema_matches_the_types() {
    let committed = std::fs::read_to_string("scenarios/scenario.schema.json").unwrap();
    assert_eq!(
        committed,
        gatedrill::scenario::schema_json(),
        "regenerate with: gatedrill schema > scenarios/scenario.schema.json"
    );
    let out = bin().args(["validate", "scenarios/"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn every_library_scenario_validates_against_the_committed_schema() {
    // What an editor does with the schema: check the file as JSON against it.
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("scenarios/scenario.schema.json").unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the committed schema compiles");
    let mut checked = 0;
    let folders = ["scenarios", "scenarios/regression"];
    for entry in folders.iter().flat_map(|f| std::fs::read_dir(f).unwrap()) {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let doc: serde_json::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        checked += 1;
    }
    assert!(checked >= 15);
    // And the schema does reject what the loader rejects: a misspelt key, an unknown gate metric.
    let bad: serde_json::Value = serde_json::json!({
        "name": "x", "description": "x", "playbook": "model_outage",
        "steps": [{"kind": "health"}], "gates": ["p95 < 10"], "stepz": []
    });
    assert!(validator.iter_errors(&bad).count() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_at_a_url_runs_the_probes_and_skips_fault_drills() {
    let s = common::stack::stack(&[]).await;
    let out = tokio::task::spawn_blocking(move || {
        let url = s.gw.url.clone();
        let out = bin()
            .args(["run", "scenarios/release_window_checks.toml", "scenarios/rotated_key_401.toml", "--target", &url])
            .env("ADMIN_API_TOKEN", common::stack::ADMIN_TOKEN)
            .env("AGENT_GATEWAY_WEBHOOK_SECRET", common::stack::WEBHOOK_SECRET)
            .output()
            .unwrap();
        drop(s);
        out
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PASS  release_window_checks") && text.contains("SKIP  rotated_key_401"), "{text}");
    let out = bin()
        .args(["run", "scenarios/release_window_checks.toml", "--target", "http://127.0.0.1:9"])
        .env_remove("ADMIN_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "no token: the scenario errors");
    assert!(String::from_utf8_lossy(&out.stdout).contains("ADMIN_API_TOKEN"));
}

#[test]
fn a_spawned_gateway_command_is_driven_through_the_mocks() {
    let cmd = format!("cmd:{} gateway serve --bind 127.0.0.1:$GATEDRILL_GATEWAY_PORT", env!("CARGO_BIN_EXE_gatedrill"));
    let out = bin()
        .args(["run", "scenarios/rotated_key_401.toml", "scenarios/stream_cut_mid_response.toml", "--target", &cmd])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");
    let out = bin().args(["run", "scenarios/rotated_key_401.toml", "--target", "cmd:exit 3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exited (exit status: 3) before answering"), "{text}");
}

#[test]
fn the_library_validates_and_runs_from_any_working_directory() {
    let root = std::env::current_dir().unwrap();
    let elsewhere = std::env::temp_dir();
    let validate = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .arg("validate")
        .arg(root.join("scenarios"))
        .current_dir(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(validate.status.code(), Some(0), "{}", String::from_utf8_lossy(&validate.stderr));
    let out = elsewhere.join(format!("gatedrill-anywhere-{}", std::process::id()));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--progress", "never", "--out"])
        .arg(&out)
        .arg(root.join("scenarios/launch_gate.toml"))
        .current_dir(&elsewhere)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn fixture_names_cannot_leave_the_fixtures_folder() {
    for name in ["../providers.toml", "/etc/passwd", "..", "a/b.json"] {
        let e = gatedrill::scenario::steps::fixture_path(std::path::Path::new("scenarios/x.toml"), name).unwrap_err();
        assert!(e.contains("file name inside the fixtures folder"), "{name}: {e}");
    }
}

#[test]
fn validate_reports_every_problem_of_a_file_in_one_pass() {
    let dir = std::env::temp_dir().join(format!("gatedrill-validate-all-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"Bad Name\"\ndescription = \"d\"\nplaybook = \"provider_failover\"\nwindow = \"2h\"\n[gateway.env]\nAI_CRITIC_MODEL_CHAIN = \"openia:gpt-5\"\n[[faults]]\nid = \"r\"\nfault = { kind = \"auth_invalid\" }\nmatch = { provider = \"opnai\" }\n[[steps]]\nkind = \"sleep\"\nduration = \"11m\"\n[[steps]]\nkind = \"dry_run\"\nrole = \"critic\"\nexpect = { served_by = \"antropic\" }\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("validate").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for want in ["snake_case", "window", "11m", "\"opnai\"", "\"antropic\"", "\"openia:gpt-5\""] {
        assert!(stderr.contains(want), "{want} missing from: {stderr}");
    }
    assert!(stderr.lines().all(|l| l.contains("bad.toml:")), "every problem is located: {stderr}");
}
