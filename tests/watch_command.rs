//! `gatedrill watch` against a live gateway: rounds of probes for a real duration, the record
//! written as it goes (and kept when interrupted), a gateway that cannot be observed never
//! judged clear, and the hard-stop state after consecutive failing watches.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::stack::{ADMIN_TOKEN, stack};
use serde_json::Value;

fn watch(url: &str, out: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatedrill"));
    c.args(["watch", "--target", url, "--out"]).arg(out).args(args).env("ADMIN_API_TOKEN", ADMIN_TOKEN);
    c
}

fn record(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("release/watch.json")).unwrap()).unwrap()
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
}

fn dir(name: &str) -> PathBuf {
    common::artifacts::temp_dir("watch-command", name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_gateway_is_watched_for_the_whole_duration_and_judged_clear() {
    let s = stack(&[]).await;
    let out = dir("healthy");
    let o = output(watch(&s.gw.url, &out, &["--for", "1500ms", "--every", "300ms"])).await;
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&o.stderr));
    let r = record(&out);
    assert_eq!((r["finished"].as_bool(), r["tripped"].as_array().map(Vec::len)), (Some(true), Some(0)));
    let rounds = r["watch"]["rounds"].as_u64().unwrap();
    assert!((4..=6).contains(&rounds), "{r}");
    for v in r["watch"]["verdicts"].as_array().unwrap() {
        assert_eq!((v["outcome"].as_str(), v["observations"].as_u64()), (Some("clear"), Some(rounds)), "{v}");
    }
    // Progress went to the console, round by round.
    assert!(String::from_utf8_lossy(&o.stderr).matches("] round ").count() as u64 >= rounds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_cannot_be_observed_is_never_clear_and_twice_is_a_hard_stop() {
    let out = dir("refused");
    let url = "http://127.0.0.1:9";
    let o = output(watch(url, &out, &["--for", "400ms", "--every", "100ms"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let r = record(&out);
    assert_eq!(r["tripped"].as_array().unwrap().len(), 5, "{r}");
    // Probes without answers are unobserved; dry-runs without answers are failed dry-runs, still
    // holding when the watch ended. Neither is clear.
    let verdicts = r["watch"]["verdicts"].as_array().unwrap();
    assert!(verdicts.iter().all(|v| v["outcome"] == "unobserved" || v["outcome"] == "holding"), "{r}");
    assert!(verdicts.iter().any(|v| v["outcome"] == "unobserved"), "{r}");
    let o = output(watch(url, &out, &["--for", "400ms", "--every", "100ms"])).await;
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("HARD STOP"));
    assert_eq!(record(&out)["hard_stop"]["paused"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_watch_leaves_its_record() {
    let s = stack(&[]).await;
    let out = dir("interrupted");
    let _ = std::fs::remove_file(out.join("release/watch.json"));
    let mut child = watch(&s.gw.url, &out, &["--for", "60s", "--every", "200ms"]).spawn().unwrap();
    // Wait for the first round's record, then interrupt.
    for _ in 0..200 {
        if out.join("release/watch.json").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // SAFETY: kill(2) on the child's pid; it touches no memory.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert_eq!(status.code(), Some(130));
    let r = record(&out);
    assert_eq!((r["finished"].as_bool(), r["watch"]["interrupted"].as_bool()), (Some(true), Some(true)), "{r}");
    assert!(r["watch"]["rounds"].as_u64().unwrap() >= 1);
}
