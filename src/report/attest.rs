//! `attestation.intoto.json`: a verifiable statement of the verdict (DESIGN.md "Artifacts"), an
//! in-toto Statement v1 with the test-result predicate
//! (`https://in-toto.io/attestation/test-result/v0.1`), so a release policy can check that the
//! gate ran, with which configuration, against which gateway, and what it concluded. CI signs it
//! with its own identity (for example GitHub's artifact attestation); gatedrill holds no key.
//!
//! - `subject`: the gateway under test, which a v1 statement must name by an immutable digest:
//!   `--gateway-version` / `GATEDRILL_GATEWAY_VERSION` given as a git commit (40 or 64 hex) or as
//!   `<algorithm>:<hex>` (an image digest such as `sha256:...`); for the embedded reference
//!   gateway, gatedrill's own commit. A version with no digest (`v1.4.2`) cannot be a subject:
//!   no statement is written and the run says why, rather than attesting something unverifiable.
//! - `result`: `FAILED` when the run failed, stopped hard or was interrupted; `WARNED` when it was
//!   inconclusive, skipped a scenario, or an advisory gate was not met; `PASSED` otherwise.
//! - `passedTests` / `warnedTests` / `failedTests`: each scenario by name and each gate as
//!   `<scenario>: gate <expression>`.
//! - `configuration`: every scenario file (and the providers file it names) with its sha256, and
//!   gatedrill with its version and commit. `gatedrill report` and `merge` write the statement of
//!   the run they render, from the files as they are then.
//! - `url`: the CI run, when running in GitHub Actions.

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::RunMeta;
use crate::drill::runner::{ScenarioReport, ScenarioVerdict};
use crate::exit::Exit;
use crate::metrics::gate::Verdict;

pub const FILE: &str = "attestation.intoto.json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://in-toto.io/attestation/test-result/v0.1";

/// Scenario and provider files hashed into the configuration are read up to this size.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Hex digest lengths of the algorithms a gateway version may name.
const ALGORITHMS: [(&str, &[usize]); 6] = [
    ("sha256", &[64]),
    ("sha384", &[96]),
    ("sha512", &[128]),
    ("sha1", &[40]),
    ("gitCommit", &[40, 64]),
    ("gitTree", &[40, 64]),
];

fn is_hex(s: &str, lengths: &[usize]) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The digest naming a gateway version: a bare git commit, or `<algorithm>:<hex>`.
pub fn version_digest(version: &str) -> Option<(&'static str, String)> {
    let v = version.trim().to_ascii_lowercase();
    if is_hex(&v, &[40, 64]) {
        return Some(("gitCommit", v));
    }
    let (alg, hex) = v.split_once(':')?;
    ALGORITHMS
        .iter()
        .find(|(name, lengths)| name.eq_ignore_ascii_case(alg) && is_hex(hex, lengths))
        .map(|(name, _)| (*name, hex.to_string()))
}

/// The subject: the gateway under test with its digest, or why it has none.
fn subject(meta: &RunMeta) -> Result<Value, String> {
    if let Some(v) = &meta.gateway_version {
        let (alg, hex) = version_digest(v).ok_or_else(|| {
            format!(
                "the gateway version {v:?} is no digest: give a git commit or <algorithm>:<hex> (e.g. an image's sha256:...) to attest it"
            )
        })?;
        return Ok(json!({"name": meta.target, "digest": {alg: hex}, "annotations": {"gatewayVersion": v}}));
    }
    if meta.target == "embedded" {
        let commit = meta.commit.as_deref().and_then(version_digest).filter(|(a, _)| *a == "gitCommit");
        let (_, hex) = commit.ok_or("the embedded gateway's commit is unknown (no GITHUB_SHA, no git)")?;
        return Ok(json!({
            "name": "gatedrill reference gateway (embedded)",
            "digest": {"gitCommit": hex},
            "annotations": {"gatewayVersion": meta.version}
        }));
    }
    Err("the gateway under test has no stated version: set --gateway-version (or GATEDRILL_GATEWAY_VERSION) to its commit or image digest".into())
}

fn sha256_file(path: &Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut r = f.take(MAX_CONFIG_BYTES + 1);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = r.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        total += n as u64;
        h.update(&buf[..n]);
    }
    (total <= MAX_CONFIG_BYTES).then(|| hex::encode(h.finalize()))
}

/// The providers file a scenario file names, resolved beside it.
fn providers_file(scenario: &Path) -> Option<std::path::PathBuf> {
    let s: crate::scenario::Scenario = crate::input::load_file(scenario).ok()?;
    Some(scenario.parent().unwrap_or(Path::new(".")).join(s.providers?))
}

/// The configuration: each scenario file, its provider file, and gatedrill itself.
fn configuration(meta: &RunMeta, reports: &[ScenarioReport]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut file = |name: String, path: &Path| {
        let d = sha256_file(path);
        out.push(match d {
            Some(d) => json!({"name": name, "digest": {"sha256": d}}),
            // Unreadable now: named by location, marked as not digested.
            None => json!({"name": name, "uri": format!("file:{}", path.display()), "annotations": {"digest": "unreadable"}}),
        });
    };
    for r in reports {
        file(r.file.display().to_string(), &r.file);
        if let Some(p) = providers_file(&r.file) {
            file(p.display().to_string(), &p);
        }
    }
    let mut gatedrill = json!({
        "name": "gatedrill",
        "uri": format!("pkg:cargo/gatedrill@{}", meta.version),
        "annotations": {"version": meta.version, "runId": meta.run_id, "target": meta.target, "seed": meta.seed, "strict": meta.strict, "baselineRunId": meta.baseline_run_id}
    });
    if let Some((_, hex)) = meta.commit.as_deref().and_then(version_digest).filter(|(a, _)| *a == "gitCommit") {
        gatedrill["digest"] = json!({"gitCommit": hex});
    }
    out.push(gatedrill);
    out
}

/// The statement of a finished run with its exit code, or why none can be written.
pub fn statement(meta: &RunMeta, reports: &[ScenarioReport], exit: Exit) -> Result<Value, String> {
    let subject = subject(meta)?;
    let (mut passed, mut warned, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for r in reports {
        match r.verdict() {
            ScenarioVerdict::Pass => passed.push(r.name.clone()),
            ScenarioVerdict::Fail => failed.push(r.name.clone()),
            ScenarioVerdict::Inconclusive | ScenarioVerdict::Skip => warned.push(r.name.clone()),
        }
        for g in &r.gates {
            let name = format!("{}: gate {}", r.name, g.gate);
            match (g.verdict, g.advisory) {
                (Verdict::Pass, _) => passed.push(name),
                (Verdict::Fail, false) => failed.push(name),
                _ => warned.push(name),
            }
        }
    }
    let result = match exit {
        Exit::Pass if warned.is_empty() => "PASSED",
        Exit::Pass | Exit::Inconclusive => "WARNED",
        _ => "FAILED",
    };
    let mut predicate = json!({
        "result": result,
        "configuration": configuration(meta, reports),
        "passedTests": passed,
        "warnedTests": warned,
        "failedTests": failed,
    });
    if let Some(url) = &meta.ci_run_url {
        predicate["url"] = json!(url);
    }
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [subject],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }))
}

/// Writes the statement beside the run's other artifacts, or says why none can be written (and
/// removes one an earlier run left there, so no stale statement outlives its run).
pub fn write(
    out: &Path,
    meta: &RunMeta,
    reports: &[ScenarioReport],
    exit: Exit,
    secrets: &crate::secret::Secrets,
) -> Result<Result<std::path::PathBuf, String>, super::ArtifactError> {
    let path = out.join(FILE);
    match statement(meta, reports, exit) {
        Ok(v) => super::write_json(&path, &v, secrets).map(|_| Ok(path)),
        Err(why) => {
            let _ = std::fs::remove_file(&path);
            Ok(Err(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_that_are_digests_and_those_that_are_not() {
        let c = "d20ace7968ba43c0219f62d71334c1095bab1602";
        assert_eq!(version_digest(c), Some(("gitCommit", c.to_string())));
        let s = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(version_digest(&s), Some(("sha256", "ab".repeat(32))));
        for no in ["v1.4.2", "sha256:abc", "md5:0123", "gitCommit:xyz", ""] {
            assert_eq!(version_digest(no), None, "{no}");
        }
        let meta = RunMeta {
            target: "https://gw.example".into(),
            gateway_version: Some("v1.4.2".into()),
            ..Default::default()
        };
        assert!(subject(&meta).unwrap_err().contains("no digest"));
        let meta = RunMeta { target: "https://gw.example".into(), ..Default::default() };
        assert!(subject(&meta).unwrap_err().contains("--gateway-version"));
    }
}
