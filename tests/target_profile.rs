//! Target profiles as a user of an OpenAI-compatible gateway uses them: a spawned gateway gets its
//! configuration file rendered from a template and its client key in the profile's variable;
//! the key goes in the profile's header; scenarios that need the runbook's admin API are skipped
//! with the reason; a bad profile is refused at start with exit 2 and its location.

use std::path::PathBuf;
use std::process::{Command, Output};

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-profile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The reference gateway spawned as a user's gateway: it starts only if the rendered file names
/// the fleet's URLs and the port it must listen on, and if its client key came in the
/// profile's variable with the profile's prefix.
fn gateway_cmd() -> String {
    let bin = env!("CARGO_BIN_EXE_gatedrill");
    format!(
        "cmd:grep -q \"^primary = http://127.0.0.1:\" \"$GATEDRILL_TARGET_CONFIG\" \
         && grep -q \"^port = $GATEDRILL_GATEWAY_PORT$\" \"$GATEDRILL_TARGET_CONFIG\" \
         && grep -q \"^fallback = http://127.0.0.1:[0-9]* (anthropic)$\" \"$GATEDRILL_TARGET_CONFIG\" \
         && case \"$GATEDRILL_TEST_CLIENT_KEY\" in sk-gd-admin-*) true;; *) false;; esac \
         && [ \"$GATEDRILL_TEST_CLIENT_KEY\" = \"$ADMIN_API_TOKEN\" ] \
         && exec {bin} gateway serve --bind 127.0.0.1:$GATEDRILL_GATEWAY_PORT"
    )
}

/// Runs with its own temporary folder, where the rendered configuration lives while it runs.
fn run(profile: &str, out: &PathBuf, tmp: &PathBuf, paths: &[&str]) -> Output {
    std::fs::create_dir_all(tmp).unwrap();
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--progress", "never", "-q", "--target", &gateway_cmd(), "--profile", profile, "--out"])
        .arg(out)
        .args(paths)
        .env_remove("ADMIN_API_TOKEN")
        .env("TMPDIR", tmp)
        .output()
        .unwrap()
}

fn trace(out: &std::path::Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join(name).join("trace.json")).unwrap()).unwrap()
}

#[test]
fn a_spawned_gateway_gets_its_rendered_config_and_key_and_runbook_scenarios_are_skipped() {
    let (out, tmp) = (out_dir("openai"), out_dir("openai-tmp"));
    let o = run(
        "tests/data/profile/openai.toml",
        &out,
        &tmp,
        &["scenarios/openai_compatible/chat_primary_http_error.toml", "scenarios/rotated_key_401.toml"],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let chat = trace(&out, "chat_primary_http_error");
    assert_eq!(chat["passed"], true, "{stderr}\n{chat:#}");
    let runbook = trace(&out, "rotated_key_401");
    let why = runbook["skipped"].as_str().unwrap_or_default();
    assert!(why.contains("runbook's admin API"), "{runbook:#}");
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    // The rendered file was in the run's temporary folder, and is gone.
    let leftovers: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().map(|e| e.path()).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The client key and the mocks' keys never reach an artifact.
    for f in walk(&out) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["sk-gatedrill-openai-0001", "sk-ant-gatedrill-0001"] {
            assert!(!text.contains(secret), "{} holds {secret}", f.display());
        }
        // The per-run key is `sk-gd-admin-` and hex (the command line names only its prefix).
        let keys = text
            .match_indices("sk-gd-admin-")
            .filter(|(at, m)| text[at + m.len()..].chars().next().is_some_and(|c| c.is_ascii_hexdigit()));
        assert_eq!(keys.count(), 0, "{} holds the client key", f.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn the_key_goes_in_the_profiles_header() {
    // The reference gateway wants `Authorization: Bearer`; a profile that puts the key
    // elsewhere gets 401s, and the scenario fails rather than passing unauthenticated.
    let out = out_dir("header");
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--progress", "never", "-q", "--profile", "tests/data/profile/wrong_header.toml", "--out"])
        .arg(&out)
        .arg("scenarios/openai_compatible/chat_primary_http_error.toml")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let t = trace(&out, "chat_primary_http_error");
    assert!(t.to_string().contains("401"), "{t:#}");
}

#[test]
fn a_template_with_an_unknown_placeholder_is_refused_with_its_line() {
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--profile", "tests/data/profile/bad_placeholder.toml", "--out"])
        .arg(out_dir("bad"))
        .arg("scenarios/openai_compatible/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.tmpl:1") && stderr.contains("env.HOME"), "{stderr}");
}
