//! `gatedrill mock serve` as a user runs it: a real process, JSON lines on stdout, a clean stop
//! on SIGTERM, and exit 2 with file:line:column on bad input.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
}

#[test]
fn serves_all_three_providers_and_stops_on_sigterm() {
    let mut child = bin()
        .args(["mock", "serve", "--faults", "mocks/faults/primary-rate-limit.toml", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut urls = Vec::new();
    for _ in 0..3 {
        let line = lines.next().unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["provider"], v["dialect"]);
        urls.push((v["provider"].as_str().unwrap().to_string(), v["url"].as_str().unwrap().to_string()));
    }
    assert_eq!(urls.iter().map(|u| u.0.as_str()).collect::<Vec<_>>(), ["openai", "anthropic", "deepseek"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = gatedrill::tls::builder().build().unwrap();
        let body = serde_json::json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]});
        let send = || {
            c.post(format!("{}/v1/chat/completions", urls[0].1))
                .bearer_auth("sk-gatedrill-openai-0001")
                .json(&body)
                .send()
        };
        assert_eq!(send().await.unwrap().status(), 429, "fault file loaded");
        assert_eq!(send().await.unwrap().status(), 429);
        assert_eq!(send().await.unwrap().status(), 200, "times = 2");
    });
    // SIGTERM: an orderly stop, exit 0.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert_eq!(s.code(), Some(0));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_bad_fault_file_exits_2_with_its_location() {
    let dir = std::env::temp_dir().join(format!("gatedrill-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[[rules]]\nid = \"x\"\nfault = { kind = \"meteor\" }\n").unwrap();
    let out = bin().args(["mock", "serve", "--faults"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3:"), "{err}");
    assert!(err.contains("unknown variant `meteor`"), "{err}");

    std::fs::write(
        &file,
        "[[providers]]\nname = \"Bad Name\"\ndialect = \"openai\"\napi_keys = [\"k\"]\nmodels = []\n",
    )
    .unwrap();
    let out = bin().args(["mock", "serve", "--config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:1:1") && err.contains("must be lowercase"), "{err}");

    let out = bin().args(["mock", "serve", "--config", "/no/such/file.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.toml: cannot read file"));

    let out = bin().args(["mock", "serve", "--seed", "minus-one"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_shipped_fault_file_and_the_embedded_config_load() {
    for entry in std::fs::read_dir("mocks/faults").unwrap() {
        let path = entry.unwrap().path();
        let set: Result<gatedrill::mock::faults::FaultSet, _> = gatedrill::input::load_file(&path);
        assert!(set.is_ok_and(|s| !s.rules.is_empty()), "{}", path.display());
    }
    let embedded = gatedrill::mock::config::FleetConfig::embedded();
    assert_eq!(embedded.providers.len(), 3);
}
