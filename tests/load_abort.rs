//! The abort drill: a load against a gateway whose providers all fail stops once its error-rate
//! gate is clearly breached after the grace delay, records why and how many planned requests it
//! spared, and fails its step; a load that holds runs to the end; a bad rule is refused by
//! `validate`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-abort-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn scenario(d: &Path, faults: &str, shape: &str, abort: &str) -> PathBuf {
    let p = d.join("abort.toml");
    let text = format!(
        "name = \"abort_drill\"\ndescription = \"load with abort on breach\"\nplaybook = \"model_outage\"\n{faults}\n[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nrole = \"critic\"\n{shape}\nabort_on_breach = {abort}\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

fn run(p: &Path, out: &Path) -> (Output, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .arg("run")
        .arg(p)
        .arg("--out")
        .arg(out)
        .args(["--progress", "never"])
        .output()
        .unwrap();
    let trace = std::fs::read_to_string(out.join("abort_drill/trace.json")).unwrap();
    (o, serde_json::from_str(&trace).unwrap())
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const DOWN: &str = "[[faults]]\nid = \"all-down\"\nfault = { kind = \"http_error\", status = 500 }";
const RULE: &str = "{ gate = \"error_rate < 50%\", grace = \"100ms\", min_samples = 5 }";

#[test]
fn a_breach_stops_a_closed_load_early_and_says_what_it_spared() {
    let d = dir("closed");
    let (o, trace) = run(&scenario(&d, DOWN, "concurrency = 2\ncount = 5000", RULE), &d.join("out"));
    let console = text(&o);
    assert_eq!(o.status.code(), Some(1), "{console}");
    let load = &trace["load"][0];
    let (sent, planned) = (load["sent"].as_u64().unwrap(), load["planned"].as_u64().unwrap());
    let aborted = &load["aborted"];
    let spared = aborted["spared"].as_u64().unwrap();
    assert_eq!(planned, 5000);
    assert!(spared > 0 && sent + spared == planned, "{load}");
    assert_eq!(load["errors"].as_u64(), Some(sent), "spared requests are not counted as errors: {load}");
    assert!(load["statuses"].get("not_sent").is_none(), "{load}");
    assert!(aborted["at_ms"].as_f64().unwrap() >= 100.0, "never judged inside the grace delay: {aborted}");
    assert!(aborted["samples"].as_u64().unwrap() >= 5 && aborted["value"].as_f64().unwrap() >= 0.5, "{aborted}");
    assert_eq!(aborted["gate"], "error_rate < 50%");
    let check =
        trace["steps"][0]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "abort on breach").unwrap();
    assert_eq!(check["passed"], false);
    assert!(
        check["actual"].as_str().unwrap().contains(&format!("{spared} of 5000 planned request(s) spared")),
        "{check}"
    );
    assert!(console.contains("abort on breach"), "{console}");
    println!("abort drill: {sent} sent, {spared} of {planned} spared, stopped at {} ms", aborted["at_ms"]);
}

#[test]
fn a_breach_stops_an_open_load_early() {
    let d = dir("open");
    let (o, trace) = run(&scenario(&d, DOWN, "rate = 400\nduration = \"3s\"", RULE), &d.join("out"));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let load = &trace["load"][0];
    let spared = load["aborted"]["spared"].as_u64().unwrap();
    assert_eq!(load["planned"].as_u64(), Some(1200));
    assert!(spared > 0 && load["sent"].as_u64().unwrap() + spared == 1200, "{load}");
    assert!(load["duration_ms"].as_f64().unwrap() < 3000.0, "stopped before its planned duration: {load}");
}

#[test]
fn a_load_that_holds_runs_to_the_end() {
    let d = dir("holds");
    let (o, trace) = run(&scenario(&d, "", "concurrency = 2\ncount = 20", RULE), &d.join("out"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let load = &trace["load"][0];
    assert!(load["aborted"].is_null() && load["sent"] == 20, "{load}");
}

#[test]
fn validate_refuses_a_rule_it_cannot_judge_live() {
    let d = dir("bad-rule");
    for (rule, says) in [
        ("{ gate = \"p95_response_latency_ms < baseline * 2\" }", "a fixed threshold"),
        ("{ gate = \"failover_overhead.p95_ms < 100\" }", "one of the SLO metrics"),
        ("{ gate = \"error_rate < 5%\", grace = \"1h\" }", "abort_on_breach.grace"),
    ] {
        let p = scenario(&d, "", "concurrency = 1\ncount = 1", rule);
        let o = Command::new(env!("CARGO_BIN_EXE_gatedrill")).arg("validate").arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{rule}: {err}");
        assert!(err.contains("abort.toml:") && err.contains(says), "{rule}: {err}");
    }
}
