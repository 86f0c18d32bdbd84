//! The OpenAI-compatible library (`scenarios/openai_compatible/`) against the embedded reference
//! gateway's `/v1/chat/completions`: every scenario passes, and a chat step whose expectations
//! need the providers' journal fails, never passes, against a gateway whose providers gatedrill
//! does not run.

use std::process::Command;

mod common;

#[test]
fn the_openai_compatible_library_passes_against_the_embedded_gateway() {
    let out = common::artifacts::temp_dir("openai_compatible", "library");
    let r = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "scenarios/openai_compatible/", "--progress", "never", "--out"])
        .arg(&out)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&r.stderr));
    assert!(stdout.contains("9 passed, 0 failed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_expectations_without_the_providers_journal_fail() {
    // The reference gateway at a URL, serving well: gatedrill does not run its providers, so
    // "served by" cannot be read from a journal, and the step fails rather than pass unseen.
    let s = common::stack::stack(&[]).await;
    let dir = common::artifacts::temp_dir("openai_compatible", "url");
    let scenario = dir.join("served_by.toml");
    std::fs::write(
        &scenario,
        "name = \"served_by_unseen\"\ndescription = \"d\"\nplaybook = \"provider_failover\"\n\n[[steps]]\nkind = \"chat\"\nmodel = \"author\"\nexpect = { served_by = \"openai\" }\n",
    )
    .unwrap();
    let url = s.gw.url.clone();
    let r = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_gatedrill"))
            .args(["run", "--progress", "never", "-v", "--target", &url, "--out"])
            .arg(dir.join("out"))
            .arg(&scenario)
            .env("ADMIN_API_TOKEN", common::stack::ADMIN_TOKEN)
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ok   step 1 chat: status: expected 200, got 200"), "the gateway answered: {stdout}");
    assert!(stdout.contains("providers' journal"), "{stdout}");
}
