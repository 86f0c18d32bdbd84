//! The run's attestation, `attestation.intoto.json`: an in-toto Statement v1 with the
//! test-result v0.1 predicate, validated against the predicate's schema (vendored in
//! `tests/data/in-toto/`, see its NOTICE.md), with the result matching the run's exit code, the
//! gateway under test as its subject, the scenario files' sha256 and the CI run URL; a version
//! that is no digest leaves no statement rather than an unverifiable one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-attest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn scenario(d: &Path, name: &str, gates: &str) -> PathBuf {
    let p = d.join(format!("{name}.toml"));
    let text = format!(
        "name = \"{name}\"\ndescription = \"attested\"\nplaybook = \"model_outage\"\ngates = [{gates}]\n[[steps]]\nkind = \"dry_run\"\nrole = \"critic\"\n"
    );
    std::fs::write(&p, text).unwrap();
    p
}

const COMMIT: &str = "d20ace7968ba43c0219f62d71334c1095bab1602";

fn run(d: &Path, scenarios: &[&Path], version: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatedrill"));
    c.arg("run").args(scenarios).arg("--out").arg(d.join("out")).args(["--progress", "never"]);
    c.env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_REPOSITORY", "acme/gateway")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env_remove("GITHUB_STEP_SUMMARY");
    match version {
        Some(v) => c.env("GATEDRILL_GATEWAY_VERSION", v),
        None => c.env_remove("GATEDRILL_GATEWAY_VERSION"),
    };
    c.output().unwrap()
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string("tests/data/in-toto/test-result-v0.1.schema.json").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

fn statement(d: &Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/attestation.intoto.json")).unwrap()).unwrap();
    let errors: Vec<String> = validator().iter_errors(&v).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "the statement breaks the predicate's schema: {errors:?}\n{v:#}");
    v
}

#[test]
fn a_passing_run_attests_passed_with_its_configuration_and_subject() {
    let d = dir("passed");
    let p = scenario(&d, "attested_pass", "\"error_rate < 1%\"");
    let o = run(&d, &[&p], Some(COMMIT));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    let v = statement(&d);
    assert_eq!(v["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(v["predicateType"], "https://in-toto.io/attestation/test-result/v0.1");
    assert_eq!(v["subject"][0]["digest"]["gitCommit"], COMMIT);
    assert_eq!(v["subject"][0]["name"], "embedded");
    let pred = &v["predicate"];
    assert_eq!(pred["result"], "PASSED");
    assert_eq!(pred["url"], "https://github.example/acme/gateway/actions/runs/4242");
    assert_eq!(pred["passedTests"], serde_json::json!(["attested_pass", "attested_pass: gate error_rate < 1%"]));
    assert_eq!(pred["failedTests"], serde_json::json!([]));
    let want = hex::encode(Sha256::digest(std::fs::read(&p).unwrap()));
    let config = pred["configuration"].as_array().unwrap();
    let file = config.iter().find(|c| c["name"] == p.display().to_string()).unwrap();
    assert_eq!(file["digest"]["sha256"], want.as_str());
    let gatedrill = config.iter().find(|c| c["name"] == "gatedrill").unwrap();
    assert_eq!(gatedrill["annotations"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(gatedrill["digest"]["gitCommit"], "0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn failed_inconclusive_and_advisory_runs_attest_what_they_concluded() {
    let d = dir("failed");
    let fail = scenario(&d, "attested_fail", "\"p95_response_latency_ms < 0.001\"");
    let o = run(&d, &[&fail], Some(&format!("sha256:{}", "ab".repeat(32))));
    assert_eq!(o.status.code(), Some(1));
    let v = statement(&d);
    assert_eq!(v["subject"][0]["digest"]["sha256"], "ab".repeat(32));
    assert_eq!(v["predicate"]["result"], "FAILED");
    assert!(v["predicate"]["failedTests"].as_array().unwrap().contains(&"attested_fail".into()));

    let d = dir("inconclusive");
    let undecided = scenario(&d, "attested_undecided", "{ gate = \"error_rate < 1%\", min_samples = 1000 }");
    let o = run(&d, &[&undecided], Some(COMMIT));
    assert_eq!(o.status.code(), Some(4));
    let v = statement(&d);
    assert_eq!(v["predicate"]["result"], "WARNED");
    assert!(v["predicate"]["warnedTests"].as_array().unwrap().contains(&"attested_undecided".into()));

    let d = dir("advisory");
    let advisory = scenario(&d, "attested_advisory", "{ gate = \"p95_response_latency_ms < 0.001\", advisory = true }");
    let o = run(&d, &[&advisory], Some(COMMIT));
    assert_eq!(o.status.code(), Some(0));
    let v = statement(&d);
    assert_eq!(v["predicate"]["result"], "WARNED", "an advisory gate not met is a warning, never a pass");
    assert_eq!(v["predicate"]["passedTests"], serde_json::json!(["attested_advisory"]));
}

#[test]
fn a_version_that_is_no_digest_writes_no_statement() {
    let d = dir("no-digest");
    let p = scenario(&d, "attested_nodigest", "\"error_rate < 1%\"");
    // A statement left by an earlier run in the same folder goes too.
    std::fs::create_dir_all(d.join("out")).unwrap();
    std::fs::write(d.join("out/attestation.intoto.json"), "{}").unwrap();
    let o = run(&d, &[&p], Some("v1.4.2"));
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no attestation written") && err.contains("\"v1.4.2\" is no digest"), "{err}");
    assert!(!d.join("out/attestation.intoto.json").exists());
}

#[test]
fn the_schema_refuses_what_the_predicate_forbids() {
    let d = dir("schema");
    let p = scenario(&d, "attested_schema", "\"error_rate < 1%\"");
    assert_eq!(run(&d, &[&p], Some(COMMIT)).status.code(), Some(0));
    let good = statement(&d);
    let v = validator();
    type Change = fn(&mut serde_json::Value);
    let broken: [(&str, Change); 6] = [
        ("result outside the enum", |s| s["predicate"]["result"] = "OK".into()),
        ("no configuration", |s| {
            s["predicate"].as_object_mut().unwrap().remove("configuration");
        }),
        ("a subject without digest", |s| {
            s["subject"][0].as_object_mut().unwrap().remove("digest");
        }),
        ("no subject", |s| s["subject"] = serde_json::json!([])),
        ("a short sha256", |s| s["predicate"]["configuration"][0]["digest"]["sha256"] = "abc".into()),
        ("the v0.1 statement type", |s| s["_type"] = "https://in-toto.io/Statement/v0.1".into()),
    ];
    for (what, change) in broken {
        let mut s = good.clone();
        change(&mut s);
        assert!(!v.is_valid(&s), "the schema accepts {what}");
    }
}

#[test]
fn merged_shards_attest_every_scenario_and_its_providers_file() {
    let d = dir("merged");
    let providers = std::fs::canonicalize("mocks/providers.toml").unwrap();
    let a = scenario(&d, "shard_a", "\"error_rate < 1%\"");
    let text = std::fs::read_to_string(&a).unwrap().replace(
        "playbook = \"model_outage\"\n",
        &format!("playbook = \"model_outage\"\nproviders = {:?}\n", providers.display().to_string()),
    );
    std::fs::write(&a, text).unwrap();
    let b = scenario(&d, "shard_b", "\"error_rate < 1%\"");
    for (shard, p) in [("one", &a), ("two", &b)] {
        let o = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
            .arg("run")
            .arg(p)
            .arg("--out")
            .arg(d.join(shard))
            .args(["--progress", "never", "--gateway-version", COMMIT])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .arg("merge")
        .arg(d.join("one"))
        .arg(d.join("two"))
        .arg("--out")
        .arg(d.join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = statement(&d);
    assert_eq!(v["predicate"]["result"], "PASSED");
    assert_eq!(v["subject"][0]["digest"]["gitCommit"], COMMIT, "the stated version survives the merge");
    let passed = v["predicate"]["passedTests"].as_array().unwrap();
    assert!(passed.contains(&"shard_a".into()) && passed.contains(&"shard_b".into()), "{passed:?}");
    let config = v["predicate"]["configuration"].as_array().unwrap();
    let want = hex::encode(Sha256::digest(std::fs::read(&providers).unwrap()));
    let file = config.iter().find(|c| c["name"] == providers.display().to_string()).expect("the providers file");
    assert_eq!(file["digest"]["sha256"], want.as_str());
}
