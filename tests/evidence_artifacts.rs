//! The evidence a run leaves, as its consumers read it: every artifact present and parseable
//! (JUnit by a strict XML parser, traces against the committed schema), no secret in any file
//! or console line, `report` and `merge` re-rendering from the traces, the strict launch gate's
//! hard stop, and Ctrl-C still writing what was gathered.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::artifacts::{files, json};

const ADMIN: &str = "gd-known-admin-7f3a9c41e2";
const HOOK: &str = "gd-known-hook-5b2e11d0aa";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatedrill"));
    c.env("ADMIN_API_TOKEN", ADMIN).env("AGENT_GATEWAY_WEBHOOK_SECRET", HOOK).env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    common::artifacts::temp_dir("evidence", name)
}

fn provider_keys() -> Vec<String> {
    let v: toml::Value = toml::from_str(&std::fs::read_to_string("mocks/providers.toml").unwrap()).unwrap();
    v["providers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["api_keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()))
        .collect()
}

fn assert_no_secret(what: &str, text: &str) {
    for s in [ADMIN, HOOK].into_iter().map(String::from).chain(provider_keys()) {
        assert!(!text.contains(&s), "{what} contains the secret {s}");
    }
}

const SCENARIOS: [&str; 5] = [
    "scenarios/release_window_checks.toml",
    "scenarios/rate_limit_storm.toml",
    "scenarios/total_outage_recovery.toml",
    "scenarios/wrong_webhook_secret.toml",
    "scenarios/strict_profile_conflict.toml",
];

#[test]
fn a_run_writes_every_artifact_valid_and_without_secrets() {
    let out = temp_dir("full");
    let step_summary = out.join("github-step-summary.md");
    let run = bin()
        .args(["run", "--seed", "3", "--out"])
        .arg(&out)
        .args(SCENARIOS)
        .env("GITHUB_STEP_SUMMARY", &step_summary)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{stderr}");

    // The drill evidence's phases are in order in every scenario: Detect, Contain, Recover, Close.
    let evidence = std::fs::read_to_string(out.join("drill-evidence.md")).unwrap();
    for block in evidence.split("### Scenario ").skip(1) {
        let stamps: Vec<&str> = block
            .lines()
            .filter(|l| ["| Detect |", "| Contain |", "| Recover |", "| Close |"].iter().any(|p| l.starts_with(p)))
            .filter_map(|l| l.split('|').nth(2).map(str::trim))
            .filter(|t| *t != "-")
            .collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "phases out of order: {block}");
    }

    // No secret anywhere: every file written, and the console.
    assert_no_secret("stdout", &stdout);
    assert_no_secret("stderr", &stderr);
    let written = files(&out);
    assert!(written.len() >= 5 * 2 + 6, "{written:?}");
    for f in &written {
        assert_no_secret(&f.display().to_string(), &String::from_utf8_lossy(&std::fs::read(f).unwrap()));
    }

    // JUnit parses strictly, one suite per scenario, nothing failed.
    let xml = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("junit.xml is well-formed XML");
    let suites: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), SCENARIOS.len());
    assert!(suites.iter().all(|s| s.attribute("timestamp").is_some_and(|t| t.starts_with("20"))));
    assert!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count() > 40);
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 0, "{xml}");

    // Every trace validates against the committed schema.
    let schema = json(Path::new("schemas/trace.schema.json"));
    let validator = jsonschema::validator_for(&schema).expect("the committed schema compiles");
    for s in SCENARIOS {
        let name = Path::new(s).file_stem().unwrap().to_str().unwrap();
        let trace = json(&out.join(name).join("trace.json"));
        let errors: Vec<String> =
            validator.iter_errors(&trace).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert!(out.join(name).join("latency.hlog").is_file());
        // The attempt mix counts every attempt the journal held, the sampled-out ones too.
        let mixed: u64 = trace["attempt_mix"].as_array().unwrap().iter().map(|c| c["attempts"].as_u64().unwrap()).sum();
        let dropped = &trace["journal_dropped"];
        let held = trace["journal"].as_array().unwrap().len() as u64
            + dropped["successes"].as_u64().unwrap()
            + dropped["failures"].as_u64().unwrap();
        assert_eq!(mixed, held, "{name}");
    }

    // The launch-gate summary in the runbook's words; drilled failures kept apart.
    let summary = json(&out.join("release/production-launch-gate-summary.json"));
    assert_eq!(summary["status"], "pass");
    let fm = &summary["ingestExternalChannelFailureModes"];
    assert_eq!(fm["failedChannels"], serde_json::json!([]));
    assert_eq!(fm["requiredFailedChannels"], serde_json::json!([]));
    let drilled: Vec<&str> =
        fm["drilledFailures"].as_array().unwrap().iter().map(|f| f["failureMode"].as_str().unwrap()).collect();
    assert!(drilled.contains(&"ingest_http_error") && drilled.contains(&"ingest_not_applied"), "{drilled:?}");
    assert!(summary["ingestExternalChannelFallback"]["checkedChannels"].as_u64().unwrap() >= 3);
    assert!(summary["gates"].as_array().unwrap().iter().all(|g| g["verdict"] == "pass"));
    let traces = json(&out.join("release/production-agent-gateway-external-channel-traces.json"));
    assert!(
        traces["channels"].as_array().unwrap().iter().all(|c| c["requests"].as_array().is_some_and(|r| !r.is_empty()))
    );

    // Drill evidence reads as evidence: the four phases and the runbook's capture list.
    let md = std::fs::read_to_string(out.join("drill-evidence.md")).unwrap();
    for needle in [
        "## Playbook `model_outage`",
        "| Detect |",
        "| Close |",
        "close criterion met",
        "`service_outage`",
        "Incident Evidence to Capture",
        "Dry-run attempts payload",
        "**Post-incident artifact** (seed 000, Playbook A)",
        "- Alert types fired: `rate_limit`",
        "- Affected model ids: `gpt-5`",
    ] {
        assert!(md.contains(needle), "drill-evidence.md lacks {needle:?}");
    }
    assert!(std::fs::read_to_string(&step_summary).unwrap().contains("| total_outage_recovery |"));

    // The HTML report stands alone: no script, nothing fetched; two plots and the gates per scenario.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));
    assert_eq!(html.matches("<svg").count(), 2 * SCENARIOS.len());
    assert!(
        html.contains("latency by percentile")
            && html.contains("<code>model_fallback_rate &lt;= 0.2 for 2 consecutive windows</code>")
    );

    // `report` re-renders from the traces alone, and only this run's (not a stale folder's).
    std::fs::create_dir_all(out.join("stale_scenario")).unwrap();
    std::fs::copy(out.join("rate_limit_storm/trace.json"), out.join("stale_scenario/trace.json")).unwrap();
    std::fs::remove_file(out.join("junit.xml")).unwrap();
    std::fs::remove_file(out.join("drill-evidence.md")).unwrap();
    let r = bin().arg("report").arg(&out).output().unwrap();
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
    let rerendered = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&rerendered).unwrap();
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testsuite")).count(), SCENARIOS.len());
    assert!(out.join("drill-evidence.md").is_file());

    // `merge` of two shards adds their histograms exactly.
    let merged = temp_dir("merged");
    let m = bin().arg("merge").arg(&out).arg(&out).arg("--out").arg(&merged).output().unwrap();
    assert_eq!(m.status.code(), Some(0), "{}", String::from_utf8_lossy(&m.stderr));
    let one = json(&out.join("latency-summary.json"));
    let two = json(&merged.join("latency-summary.json"));
    assert_eq!(
        two["all"]["scenario"]["count"].as_u64().unwrap(),
        2 * one["all"]["scenario"]["count"].as_u64().unwrap()
    );
    assert_eq!(two["all"]["scenario"]["max_ms"], one["all"]["scenario"]["max_ms"]);
    assert!(merged.join("rate_limit_storm__2/trace.json").is_file());
    assert_eq!(json(&merged.join("run.json"))["mergedFrom"].as_array().unwrap().len(), 2);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn strict_runs_stop_the_rollout_after_two_consecutive_required_failures() {
    let dir = temp_dir("strict");
    let scenario = write(
        &dir,
        "gate.toml",
        r#"name = "launch_gate_stale_secret"
description = "the release probe's webhook secret is stale: the required telegram channel fails"
playbook = "release_window"
[[steps]]
kind = "external_channel_check"
channels = [{ channel = "telegram", connector = "telegram_main", fixture = "telegram_message.json", wrong_secret = true }]
"#,
    );
    let state = dir.join("state.json");
    let strict = |out: &str| -> Output {
        bin()
            .args(["run", "--strict", "--state"])
            .arg(&state)
            .arg("--out")
            .arg(dir.join(out))
            .arg(&scenario)
            .output()
            .unwrap()
    };
    let first = strict("one");
    assert_eq!(first.status.code(), Some(1), "{}", String::from_utf8_lossy(&first.stderr));
    let summary = json(&dir.join("one/release/production-launch-gate-summary.json"));
    let required = &summary["ingestExternalChannelFailureModes"]["requiredFailedChannels"];
    assert_eq!(required[0]["failureMode"], "ingest_http_error");
    assert_eq!(required[0]["channel"], "telegram");
    let second = strict("two");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("pause rollout") && stderr.contains("docs/ops/rollback-playbook.md"), "{stderr}");
    assert_eq!(json(&dir.join("two/release/production-launch-gate-summary.json"))["status"], "hard_stop");
}

#[test]
fn junit_stays_valid_xml_when_the_gateway_answers_with_control_characters() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        use wiremock::matchers::{method, path};
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/admin/agent-gateway/orchestrate"))
            .respond_with(
                ResponseTemplate::new(503)
                    .set_body_json(serde_json::json!({"error": {"code": "\u{1b}[31mBOOM\u{1b}[0m\u{7}\u{0}<&>"}})),
            )
            .mount(&s)
            .await;
        s
    });
    let dir = temp_dir("junit");
    let scenario = write(
        &dir,
        "ctl.toml",
        r#"name = "control_characters"
description = "a gateway whose error code carries ANSI colours and control characters"
playbook = "orchestration_disabled"
[[steps]]
kind = "orchestrate"
draft_id = "d"
expect = { status = 503, code = "AGENT_ORCHESTRATION_DISABLED" }
"#,
    );
    let out =
        bin().args(["run", "--target", &server.uri(), "--out"]).arg(dir.join("out")).arg(&scenario).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(dir.join("out/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("the wrong code is a failure");
    let message = failure.attribute("message").unwrap();
    assert!(message.contains("BOOM") && message.contains("<&>") && !message.contains('\u{1b}'), "{message}");
    drop(server);
}

#[test]
fn interrupting_a_run_still_writes_what_was_gathered() {
    let dir = temp_dir("interrupt");
    let scenario = write(
        &dir,
        "long.toml",
        r#"name = "long_drill"
description = "a drill interrupted in its second step"
playbook = "release_window"
[[steps]]
kind = "health"
[[steps]]
kind = "sleep"
duration = "60s"
"#,
    );
    let mut child = bin()
        .args(["run", "--out"])
        .arg(dir.join("out"))
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first step has run (the gateway answered), then interrupt.
    std::thread::sleep(Duration::from_millis(3000));
    // One interrupt delivered twice (coreutils `timeout` signals the child, then its group) is
    // one interrupt: the run still writes what it gathered.
    for _ in 0..2 {
        let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        std::thread::sleep(Duration::from_millis(30));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the run did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert_eq!(json(&dir.join("out/run.json"))["incomplete"], true);
    let trace = json(&dir.join("out/long_drill/trace.json"));
    assert_eq!(trace["incomplete"], true);
    assert_eq!(trace["steps"][0]["passed"], true, "the health step ran before the interrupt");
    let xml = std::fs::read_to_string(dir.join("out/junit.xml")).unwrap();
    assert!(xml.contains("interrupted"));
}

#[test]
fn the_committed_trace_schema_matches_the_types() {
    let committed = std::fs::read_to_string("schemas/trace.schema.json").unwrap();
    assert_eq!(
        committed,
        gatedrill::report::trace_schema_json(),
        "schemas/trace.schema.json drifted: regenerate with `gatedrill schema --trace > schemas/trace.schema.json`"
    );
}

#[test]
fn an_unwritable_out_is_refused_before_anything_runs() {
    let dir = temp_dir("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let run = bin().args(["run", "--out"]).arg(file.join("out")).arg("scenarios/launch_gate.toml").output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--out is not writable"), "{stderr}");
    assert!(!stderr.contains("launch_gate"), "no scenario ran: {stderr}");
}
