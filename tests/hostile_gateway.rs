//! Hostile gateways on loopback (DESIGN.md, "Verdicts fail closed"): whatever the target does,
//! every planned channel of the launch gate is classified, the run ends inside its deadlines with
//! exit 1, every artifact parses, nothing is fetched from where a redirect points, and two strict
//! runs against a hung gateway stop the rollout (exit 3). Each case prints its wall time and the
//! run's peak memory (`cargo nextest run --test hostile_gateway --no-capture`); they are figures,
//! not assertions.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::artifacts::{self, files, json, parse};
use common::hostile::{Behaviour, Hostile, hang_one_connector, serve};

const ADMIN: &str = "gd-hostile-admin-5c1e";

const SCENARIO: &str = r#"name = "hostile_launch_gate"
description = "the launch gate's probes against a hostile gateway"
playbook = "release_window"
step_deadline = "1500ms"

[[steps]]
kind = "health"

[[steps]]
kind = "runtime_health"

[[steps]]
kind = "external_channel_check"
channels = [
  { channel = "telegram", connector = "telegram_main", fixture = "telegram_message.json" },
  { channel = "slack", connector = "slack_main", fixture = "slack_event_callback.json" },
  { channel = "discord", connector = "discord_main", fixture = "discord_message_create.json" },
]

[[steps]]
kind = "dry_run"
role = "critic"
"#;

fn temp_dir(name: &str) -> PathBuf {
    artifacts::temp_dir("hostile", name)
}

struct Ran {
    code: Option<i32>,
    secs: f64,
    peak_mib: f64,
    stderr: String,
    out: PathBuf,
}

/// Runs gatedrill against `target` and measures its wall time and peak resident memory.
fn run(dir: &Path, target: &str, out: &str, extra: &[&str]) -> Ran {
    run_as(dir, target, out, extra, (ADMIN, None))
}

/// The hostile launch gate with these credentials.
fn run_as(dir: &Path, target: &str, out: &str, extra: &[&str], creds: (&str, Option<&str>)) -> Ran {
    let scenario = dir.join("hostile.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    run_with(dir, target, out, extra, &scenario, (Some(creds.0), creds.1))
}

/// Any scenario file; an admin token of `None` runs without one.
// The child is reaped by `wait4` below, which also gives its peak memory.
#[allow(clippy::zombie_processes)]
fn run_with(
    dir: &Path,
    target: &str,
    out: &str,
    extra: &[&str],
    scenario: &Path,
    creds: (Option<&str>, Option<&str>),
) -> Ran {
    let out = dir.join(out);
    let err_path = dir.join(format!("{}.stderr", out.file_name().unwrap().to_string_lossy()));
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatedrill"));
    cmd.args(["run", "--progress", "never", "--target", target, "--out"]).arg(&out).args(extra).arg(scenario);
    match creds.0 {
        Some(token) => cmd.env("ADMIN_API_TOKEN", token),
        None => cmd.env_remove("ADMIN_API_TOKEN"),
    };
    let child = cmd
        .env("AGENT_GATEWAY_WEBHOOK_SECRET", creds.1.unwrap_or_default())
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid, and wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        secs: started.elapsed().as_secs_f64(),
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        out,
    }
}

/// The required channels that failed, as (channel, failure mode).
fn required_failed(r: &Ran) -> Vec<(String, String)> {
    let s = json(&r.out.join("release/production-launch-gate-summary.json"));
    let list = s["ingestExternalChannelFailureModes"]["requiredFailedChannels"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|c| (c["channel"].as_str().unwrap().to_string(), c["failureMode"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

/// Every artifact parses (JSON, JUnit XML), and the run's size on disk.
fn artifacts_parse(r: &Ran) -> u64 {
    files(&r.out).iter().map(|f| parse(f).len() as u64).sum()
}

fn all_three(mode: &str) -> Vec<(String, String)> {
    ["discord", "slack", "telegram"].iter().map(|c| (c.to_string(), mode.to_string())).collect()
}

fn case(name: &str, server: &Hostile, want_mode: &str) -> Ran {
    let dir = temp_dir(name);
    let r = run(&dir, &server.url, "out", &[]);
    let bytes = artifacts_parse(&r);
    eprintln!(
        "hostile {name:<20} exit {:?}  {:>6.2} s  peak {:>6.1} MiB  artifacts {:>7.1} KiB",
        r.code,
        r.secs,
        r.peak_mib,
        bytes as f64 / 1024.0
    );
    assert_eq!(r.code, Some(1), "{name}: {}", r.stderr);
    assert_eq!(required_failed(&r), all_three(want_mode), "{name}");
    assert!(bytes < 4 << 20, "{name}: artifacts stay small ({bytes} bytes)");
    r
}

#[test]
fn a_hung_gateway_fails_every_required_channel() {
    case("hang", &serve(Behaviour::Hang), "ingest_http_error");
}

#[test]
fn a_trickling_gateway_fails_every_required_channel() {
    case("trickle_1_byte_per_s", &serve(Behaviour::Trickle), "ingest_http_error");
}

#[test]
fn html_invalid_status_lines_and_resets_fail_every_required_channel() {
    case("html_200", &serve(Behaviour::Html200), "ingest_http_error");
    case("invalid_status_line", &serve(Behaviour::InvalidStatusLine), "ingest_http_error");
    case("reset", &serve(Behaviour::Reset), "ingest_http_error");
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", refused.local_addr().unwrap());
    drop(refused);
    let dir = temp_dir("refused");
    let r = run(&dir, &url, "out", &[]);
    assert_eq!((r.code, required_failed(&r)), (Some(1), all_three("ingest_http_error")), "{}", r.stderr);
}

#[test]
fn a_huge_answer_is_read_only_up_to_the_cap() {
    let r = case("answer_200_mb", &serve(Behaviour::Huge(200 << 20)), "ingest_http_error");
    let trace = json(&r.out.join("hostile_launch_gate/trace.json"));
    let ingest = &trace["channels"][0]["requests"][0];
    assert_eq!(ingest["transportFailure"], "too_large", "{ingest}");
    assert!(ingest["response"]["truncated"] == true && ingest["response"]["sha256"].is_string());
}

#[test]
fn control_characters_keep_every_artifact_valid() {
    case("control_characters", &serve(Behaviour::ControlCharacters), "ingest_not_applied");
}

#[test]
fn a_redirect_is_an_observation_and_never_followed() {
    let elsewhere = serve(Behaviour::Html200);
    let r = case("redirect", &serve(Behaviour::Redirect(elsewhere.url.clone())), "ingest_http_error");
    assert_eq!(elsewhere.hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing went where the 307 pointed");
    let trace = json(&r.out.join("hostile_launch_gate/trace.json"));
    assert_eq!(trace["channels"][0]["requests"][0]["transportFailure"], "redirected");
}

#[test]
fn two_strict_runs_against_a_hung_gateway_stop_the_rollout() {
    let hung = serve(Behaviour::Hang);
    let dir = temp_dir("strict-hang");
    let state = dir.join("state.json");
    let strict = ["--strict", "--state", state.to_str().unwrap()];
    let first = run(&dir, &hung.url, "one", &strict);
    assert_eq!(first.code, Some(1), "{}", first.stderr);
    let second = run(&dir, &hung.url, "two", &strict);
    assert_eq!(second.code, Some(3), "{}", second.stderr);
    assert!(second.stderr.contains("pause rollout"), "{}", second.stderr);
    // Another target keeps its own count: its first failing strict run is not a hard stop.
    let other = serve(Behaviour::Hang);
    let third = run(&dir, &other.url, "three", &strict);
    assert_eq!(third.code, Some(1), "{}", third.stderr);
}

#[test]
fn a_strict_run_that_could_not_probe_counts_as_failing() {
    let hung = serve(Behaviour::Hang);
    let dir = temp_dir("strict-unprobed");
    let state = dir.join("state.json");
    let strict = ["--strict", "--state", state.to_str().unwrap()];
    assert_eq!(run(&dir, &hung.url, "one", &strict).code, Some(1));
    // The second run has no admin token: it cannot probe, which is no reset.
    let scenario = dir.join("hostile.toml");
    let two = run_with(&dir, &hung.url, "two", &strict, &scenario, (None, None));
    assert_eq!(two.code, Some(3), "{}", two.stderr);
    // The summary agrees with the state: every planned required channel, not observed.
    assert_eq!(required_failed(&two), all_three("unknown"));
}

#[test]
fn a_run_in_which_nothing_ran_does_not_pass() {
    let dir = temp_dir("nothing-ran");
    let hung = serve(Behaviour::Hang);
    // A scenario that injects provider faults is skipped against a URL: nothing ran.
    let faults = Path::new("scenarios/primary_timeout_failover.toml");
    let out = run_with(&dir, &hung.url, "out", &[], faults, (Some(ADMIN), None));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    // A tag no scenario has selects nothing: a usage error, not a pass.
    let none = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--tag", "nosuchtag", "--out"])
        .arg(dir.join("none"))
        .arg("scenarios/")
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2), "{}", String::from_utf8_lossy(&none.stderr));
}

#[test]
fn a_strict_run_that_plans_no_required_channel_leaves_the_state_alone() {
    let hung = serve(Behaviour::Hang);
    let dir = temp_dir("strict-none-planned");
    let state = dir.join("state.json");
    let strict = ["--strict", "--state", state.to_str().unwrap()];
    assert_eq!(run(&dir, &hung.url, "one", &strict).code, Some(1));
    let before = std::fs::read_to_string(&state).unwrap();
    let no_channels = Path::new("scenarios/orchestration_disabled.toml");
    let out = run_with(&dir, &hung.url, "two", &strict, no_channels, (Some(ADMIN), None));
    assert!(out.stderr.contains("hard-stop state is unchanged"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before, "no reset by a run that checked no channel");
    assert_eq!(run(&dir, &hung.url, "three", &strict).code, Some(3), "the count went on from one");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_hung_channel_fails_that_channel_alone() {
    let s = common::stack::stack(&[]).await;
    let proxy = hang_one_connector(&s.gw.url, "slack_main");
    let dir = temp_dir("one-channel");
    let url = proxy.url.clone();
    let r = tokio::task::spawn_blocking(move || {
        let creds = (common::stack::ADMIN_TOKEN, Some(common::stack::WEBHOOK_SECRET));
        let mut r = run_as(&dir, &url, "out", &[], creds);
        r.stderr.truncate(4000);
        r
    })
    .await
    .unwrap();
    eprintln!("hostile one_channel_hang     exit {:?}  {:>6.2} s  peak {:>6.1} MiB", r.code, r.secs, r.peak_mib);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(required_failed(&r), vec![("slack".to_string(), "ingest_http_error".to_string())]);
    artifacts_parse(&r);
}

#[test]
fn a_drill_on_one_channel_never_hides_a_real_failure_on_another() {
    let hung = serve(Behaviour::Hang);
    let dir = temp_dir("drill-per-channel");
    let scenario = dir.join("drill.toml");
    std::fs::write(
        &scenario,
        r#"name = "drill_per_channel"
description = "telegram is drilled to fail; discord is not"
playbook = "connector_ingest"
step_deadline = "900ms"
[[steps]]
kind = "external_channel_check"
channels = [
  { channel = "telegram", connector = "telegram_main", fixture = "telegram_message.json", expect_failure_mode = "ingest_http_error" },
  { channel = "discord", connector = "discord_main", fixture = "discord_message_create.json" },
]
[expect]
failure_modes = ["ingest_http_error"]
"#,
    )
    .unwrap();
    let ran = run_with(&dir, &hung.url, "out", &[], &scenario, (Some(ADMIN), None));
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(required_failed(&ran), vec![("discord".to_string(), "ingest_http_error".to_string())]);
}
