//! The baseline regression drill: the same scenario run normally, then with extra mock latency,
//! judged against the normal run's output folder (`--baseline DIR`). The slow run fails on its
//! relative gate, with the delta in the console and the summaries; without a baseline the relative
//! gate is inconclusive (exit 4), never a pass; a run that failed is never a baseline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-baseline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Twelve dry-runs; `fault` adds a rule every provider applies.
fn scenario(d: &Path, file: &str, fault: &str, extra_gate: &str) -> PathBuf {
    let p = d.join(file);
    let text = format!(
        r#"name = "latency_regression"
description = "the same load, judged against an earlier run"
playbook = "model_outage"
gates = ["p95_response_latency_ms <= baseline * 1.5", "model_fallback_rate <= baseline + 0.05"{extra_gate}]
{fault}
[[steps]]
kind = "load"
against = "dry_run"
role = "critic"
concurrency = 4
count = 12
"#
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn run(scenario: &Path, out: &Path, baseline: Option<&Path>, summary: &Path) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatedrill"));
    c.arg("run").arg(scenario).arg("--out").arg(out).args(["--progress", "never"]);
    if let Some(b) = baseline {
        c.arg("--baseline").arg(b);
    }
    c.env("GITHUB_STEP_SUMMARY", summary).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn summary_json(out: &Path) -> serde_json::Value {
    let p = out.join("release/production-launch-gate-summary.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

const SLOW: &str = "[[faults]]\nid = \"extra-latency\"\nfault = { kind = \"delay\", fixed = \"300ms\" }\n";

#[test]
fn extra_latency_fails_against_the_normal_runs_baseline() {
    let d = dir("regression");
    let normal = scenario(&d, "normal.toml", "", "");
    let slow = scenario(&d, "slow.toml", SLOW, "");
    let summary = d.join("step-summary.md");

    // The first run has no baseline: its relative gates are inconclusive, never passed.
    let o = run(&normal, &d.join("normal"), Some(&d.join("nothing-here")), &summary);
    let console = text(&o);
    assert_eq!(o.status.code(), Some(4), "{console}");
    assert!(console.contains("no such folder; relative gates are inconclusive"), "{console}");
    let lg = summary_json(&d.join("normal"));
    assert_eq!(lg["status"], "inconclusive");
    for g in lg["gates"].as_array().unwrap() {
        assert_eq!(g["detail"], "no baseline run (--baseline DIR): a relative gate cannot be judged", "{g}");
    }

    // It is still the next run's baseline (its only undecided gates lacked one themselves).
    let o = run(&slow, &d.join("slow"), Some(&d.join("normal")), &summary);
    let console = text(&o);
    assert_eq!(o.status.code(), Some(1), "{console}");
    assert!(console.contains("against the baseline run:"), "{console}");
    let lg = summary_json(&d.join("slow"));
    let base_run = summary_json(&d.join("normal"))["runId"].clone();
    assert_eq!(lg["baselineRunId"], base_run);
    let p95 = lg["gates"].as_array().unwrap().iter().find(|g| g["gate"].as_str().unwrap().starts_with("p95")).unwrap();
    assert_eq!(p95["verdict"], "fail", "{p95}");
    let (value, baseline) = (p95["value"].as_f64().unwrap(), p95["baseline"].as_f64().unwrap());
    assert!(value >= 300.0 && value > baseline * 1.5, "{p95}");
    assert!((p95["delta"].as_f64().unwrap() - (value - baseline)).abs() < 1e-6, "{p95}");
    assert!((p95["threshold"].as_f64().unwrap() - baseline * 1.5).abs() < 1e-6, "{p95}");
    let fallback = lg["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"].as_str().unwrap().starts_with("model_fallback"))
        .unwrap();
    assert_eq!(fallback["verdict"], "pass", "the same fallback rate is within baseline + 0.05: {fallback}");
    let step = std::fs::read_to_string(&summary).unwrap();
    assert!(step.contains("Against the baseline run") && step.contains("p95_response_latency_ms ="), "{step}");
    assert!(step.contains(&format!("Gates compared with the baseline run `{}`", base_run.as_str().unwrap())), "{step}");
    let html = std::fs::read_to_string(d.join("slow/report.html")).unwrap();
    assert!(html.contains("Against the baseline run"), "the HTML report lists the deltas");

    // A run that failed is no baseline: compared with it, relative gates are inconclusive.
    let o = run(&normal, &d.join("normal-again"), Some(&d.join("slow")), &summary);
    let console = text(&o);
    assert_eq!(o.status.code(), Some(4), "{console}");
    let detail = summary_json(&d.join("normal-again"))["gates"][0]["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("did not pass in the baseline run") && detail.contains("not a baseline"), "{detail}");
}

#[test]
fn an_unreadable_baseline_folder_is_a_usage_error() {
    let d = dir("unreadable");
    let normal = scenario(&d, "normal.toml", "", "");
    std::fs::create_dir_all(d.join("broken")).unwrap();
    std::fs::write(d.join("broken/run.json"), "{ not json").unwrap();
    let o = run(&normal, &d.join("out"), Some(&d.join("broken")), &d.join("summary.md"));
    let console = text(&o);
    assert_eq!(o.status.code(), Some(2), "{console}");
    assert!(console.contains("broken/run.json"), "{console}");
}

/// The nightly regression scenario (`scenarios/regression/`): its first run has no baseline and is
/// inconclusive only for that, which still makes it the next run's baseline; against it, every
/// relative gate is judged (pass or fail on this machine's noise, never undecided).
#[test]
fn the_nightly_regression_scenario_seeds_its_own_baseline() {
    let d = dir("nightly");
    let scenario = Path::new("scenarios/regression/nightly_regression.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("validate").arg(scenario).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first = run(scenario, &d.join("first"), None, &d.join("summary.md"));
    assert_eq!(first.status.code(), Some(4), "{}", text(&first));
    let lg = summary_json(&d.join("first"));
    for g in lg["gates"].as_array().unwrap().iter().filter(|g| g["verdict"] != "pass") {
        assert!(g["detail"].as_str().unwrap().starts_with("no baseline run"), "{g}");
    }
    let second = run(scenario, &d.join("second"), Some(&d.join("first")), &d.join("summary.md"));
    assert!(matches!(second.status.code(), Some(0 | 1)), "{}", text(&second));
    let lg = summary_json(&d.join("second"));
    let relative: Vec<&serde_json::Value> =
        lg["gates"].as_array().unwrap().iter().filter(|g| g["gate"].as_str().unwrap().contains("baseline")).collect();
    assert_eq!(relative.len(), 5);
    for g in relative {
        assert_ne!(g["verdict"], "inconclusive", "{g}");
        assert!(g["baseline"].is_number() && g["delta"].is_number(), "{g}");
    }
}
