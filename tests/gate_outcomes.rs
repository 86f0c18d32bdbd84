//! Every gate outcome end to end, through the binary: pass exits 0, a failed gate 1, a run whose
//! only non-pass gates are inconclusive exits 4 and every summary says inconclusive, a failing
//! advisory gate leaves the exit at 0 and is reported everywhere, and `validate` names an unknown
//! series with the series the scenario records.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-gates-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A one-task scenario (a dry-run the embedded gateway serves) with these gates.
fn scenario(d: &Path, name: &str, gates: &str) -> PathBuf {
    let p = d.join(format!("{name}.toml"));
    let text = format!(
        "name = \"{name}\"\ndescription = \"gate outcome\"\nplaybook = \"model_outage\"\ngates = [\n{gates}\n]\n[[steps]]\nkind = \"dry_run\"\nrole = \"critic\"\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn run(d: &Path, scenarios: &[&Path]) -> Output {
    let summary = d.join("step-summary.md");
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .arg("run")
        .args(scenarios)
        .arg("--out")
        .arg(d.join("out"))
        .args(["--progress", "never"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("GITHUB_SERVER_URL")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn launch_gate(d: &Path) -> serde_json::Value {
    let p = d.join("out/release/production-launch-gate-summary.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

const HOLDS: &str = "\"error_rate < 1%\"";
const FAILS: &str = "\"p95_response_latency_ms < 0.001\"";
const UNDECIDED: &str = "{ gate = \"error_rate < 1%\", min_samples = 1000 }";

#[test]
fn a_passing_gate_exits_0() {
    let d = dir("pass");
    let o = run(&d, &[&scenario(&d, "gate_pass", HOLDS)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(launch_gate(&d)["status"], "pass");
}

#[test]
fn a_failing_gate_exits_1() {
    let d = dir("fail");
    let o = run(&d, &[&scenario(&d, "gate_fail", &format!("{HOLDS}, {FAILS}"))]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(launch_gate(&d)["status"], "fail");
    // A failure anywhere wins over an inconclusive scenario beside it.
    let d = dir("fail-and-undecided");
    let o = run(&d, &[&scenario(&d, "gate_fail", FAILS), &scenario(&d, "gate_undecided", UNDECIDED)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("0 passed, 1 failed, 1 inconclusive"), "{}", text(&o));
}

#[test]
fn only_inconclusive_gates_exit_4_and_every_summary_says_so() {
    let d = dir("inconclusive");
    let o = run(&d, &[&scenario(&d, "gate_undecided", &format!("{HOLDS}, {UNDECIDED}"))]);
    let console = text(&o);
    assert_eq!(o.status.code(), Some(4), "{console}");
    assert!(console.contains("0 passed, 0 failed, 1 inconclusive"), "{console}");
    assert!(console.contains("INCONCLUSIVE") && console.contains("1000 needed"), "{console}");
    let lg = launch_gate(&d);
    assert_eq!(lg["status"], "inconclusive");
    assert_eq!(lg["scenarios"][0]["verdict"], "INCONCLUSIVE");
    let undecided = lg["gates"].as_array().unwrap().iter().find(|g| g["verdict"] == "inconclusive").unwrap();
    assert!(undecided["detail"].as_str().unwrap().contains("1000 needed"), "{undecided}");
    let step = std::fs::read_to_string(d.join("step-summary.md")).unwrap();
    assert!(step.contains("**INCONCLUSIVE**") && step.contains("a person decides"), "{step}");
    let junit = std::fs::read_to_string(d.join("out/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name").is_some_and(|a| a.contains("min_samples 1000")))
        .unwrap();
    let skipped = case.children().find(|n| n.has_tag_name("skipped")).expect("an inconclusive gate is a skipped case");
    assert!(skipped.attribute("message").unwrap().starts_with("inconclusive: "), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let verdict = doc
        .descendants()
        .find(|n| n.has_tag_name("property") && n.attribute("name") == Some("verdict"))
        .and_then(|n| n.attribute("value"));
    assert_eq!(verdict, Some("INCONCLUSIVE"));
    // `--quiet` keeps what needs a person: the inconclusive scenario and why.
    let quiet =
        Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("-q").arg("report").arg(d.join("out")).output().unwrap();
    let q = text(&quiet);
    assert!(q.contains("INCO  gate_undecided") && q.contains("are INCONCLUSIVE"), "{q}");
    // `report` re-renders the same verdict and exit code from the traces.
    let again = Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("report").arg(d.join("out")).output().unwrap();
    assert_eq!(again.status.code(), Some(4), "{}", text(&again));
}

#[test]
fn a_failing_advisory_gate_is_reported_and_the_run_still_passes() {
    let d = dir("advisory");
    let advisory = "{ gate = \"p95_response_latency_ms < 0.001\", advisory = true }";
    let o = run(&d, &[&scenario(&d, "gate_advisory", &format!("{HOLDS}, {advisory}"))]);
    let console = text(&o);
    assert_eq!(o.status.code(), Some(0), "{console}");
    assert!(console.contains("advisory gates not met") && console.contains("[advisory]`: fail"), "{console}");
    let lg = launch_gate(&d);
    assert_eq!(lg["status"], "pass");
    let row = lg["gates"].as_array().unwrap().iter().find(|g| g["advisory"] == true).unwrap();
    assert_eq!(row["verdict"], "fail");
    let junit = std::fs::read_to_string(d.join("out/junit.xml")).unwrap();
    assert!(!junit.contains("<failure") && junit.contains("<system-out>advisory gate fail: "), "{junit}");
    let step = std::fs::read_to_string(d.join("step-summary.md")).unwrap();
    assert!(step.contains("Advisory gates not met"), "{step}");
    let html = std::fs::read_to_string(d.join("out/report.html")).unwrap();
    assert!(html.contains("(advisory)"), "the HTML gate table marks it");
    let evidence = std::fs::read_to_string(d.join("out/drill-evidence.md")).unwrap();
    assert!(evidence.contains("[advisory]`: **fail**"), "{evidence}");
}

#[test]
fn validate_names_an_unknown_series_with_the_known_ones() {
    let d = dir("unknown-series");
    let p = scenario(&d, "gate_typo", "\"provider:openia:ttft.p95_ms < 100\"");
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gate_typo.toml:4:1"), "file, line and column of `gates`: {err}");
    assert!(err.contains("unknown series \"provider:openia:ttft.p95_ms\""), "{err}");
    assert!(err.contains("provider:openai:ttft") && err.contains("failover_overhead"), "{err}");
    // A series name outside the grammar is refused by the parser, with the grammar.
    let p = scenario(&d, "gate_grammar", "\"failover_overhead.p42 < 100\"");
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("validate").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gate_grammar.toml:") && err.contains("unknown series") && err.contains("p95_ms"), "{err}");
}

#[test]
fn gates_on_recorded_series_beyond_the_six_metrics() {
    let d = dir("recorded-series");
    let p = d.join("series.toml");
    std::fs::write(
        &p,
        r#"name = "series_gates"
description = "a failing primary: failover overhead, the primary's attempts and the findings are gated"
playbook = "model_outage"
gates = [
  "failover_overhead.count == 1",
  "failover_overhead.p95_ms < 60000",
  "provider:openai:attempts.http_error_rate == 1",
  "provider:anthropic:attempts.failed_rate == 0",
  "provider:anthropic:ttft.count >= 1",
  "conduct_findings == 0",
  { gate = "provider:deepseek:attempts.failed_rate < 1%", advisory = true },
]
[[faults]]
id = "primary-503"
fault = { kind = "http_error", status = 503 }
match = { provider = "openai" }
times = 1
[[steps]]
kind = "dry_run"
role = "critic"
expect = { failed = false, fallback_used = true, served_by = "anthropic" }
"#,
    )
    .unwrap();
    let o = run(&d, &[&p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lg = launch_gate(&d);
    let gates = lg["gates"].as_array().unwrap();
    let verdict = |g: &str| gates.iter().find(|x| x["gate"].as_str().unwrap().starts_with(g)).unwrap().clone();
    assert_eq!(verdict("failover_overhead.count")["value"], 1.0);
    assert!(verdict("failover_overhead.p95_ms")["value"].as_f64().unwrap() > 0.0);
    assert_eq!(verdict("provider:openai:attempts.http_error_rate")["value"], 1.0);
    // DeepSeek was never called: no attempts, no rate; inconclusive, and advisory so reported only.
    let ds = verdict("provider:deepseek:attempts.failed_rate");
    assert_eq!((ds["verdict"].as_str(), ds["advisory"].as_bool()), (Some("inconclusive"), Some(true)), "{ds}");
}
