//! Every artifact writer. A run's traces (`<scenario>/trace.json`, one `ScenarioReport` each)
//! and `run.json` are the source of truth; the launch-gate summary, the channel traces, JUnit,
//! the drill evidence and the GitHub step summary are rendered from them, so `gatedrill report`
//! can re-render a finished run and `gatedrill merge` can combine sharded ones.
//!
//! Every write is atomic (a temporary file beside the target, then a rename). Secrets are masked
//! in the reports' values before any writer runs (`redact`); JSON writers mask every value once
//! more on its way out, and no rendered text is ever rewritten.

pub mod attest;
pub mod baseline;
pub mod evidence;
pub mod html;
pub mod junit;
pub mod launch_gate;
pub mod merge;
pub mod post_incident;
pub mod reasons;
pub mod redact;
pub mod segments;
pub mod severity;
pub mod state;
pub mod svg;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::drill::runner::ScenarioReport;
use crate::metrics::hlog;
use crate::secret::Secrets;

/// What a run was: written as `run.json` beside the traces.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunMeta {
    pub run_id: String,
    pub seed: Option<u64>,
    pub target: String,
    /// gatedrill's version.
    pub version: String,
    /// The commit under test: `GITHUB_SHA`, or the working tree's `git rev-parse HEAD`.
    pub commit: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub incomplete: bool,
    pub strict: bool,
    /// Run ids this one was merged from (`gatedrill merge`).
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// The scenarios of this run, so traces left in the folder by an earlier run are not read.
    #[serde(default)]
    pub scenarios: Vec<String>,
    /// The gateway's version or commit as the user stated it (`--gateway-version`, or
    /// `GATEDRILL_GATEWAY_VERSION`).
    #[serde(default)]
    pub gateway_version: Option<String>,
    /// The CI run this ran in (GitHub Actions' server, repository and run id).
    #[serde(default)]
    pub ci_run_url: Option<String>,
    /// This run is shard K of N (`--shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::drill::shard::Shard>,
    /// This run sent segment K of N of every load step (`--segment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<crate::drill::shard::Shard>,
    /// With `--shard`: every scenario selected across all shards, so a merge knows what to expect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected: Vec<String>,
    /// A merge made with `--allow-partial`: the shards or segments that did not come back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_parts: Vec<String>,
    /// The run gates were compared with (`--baseline DIR`), by run id.
    #[serde(default)]
    pub baseline_run_id: Option<String>,
}

/// The GitHub Actions run URL, when running there.
pub fn ci_run_url() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some(format!("{}/{}/actions/runs/{}", var("GITHUB_SERVER_URL")?, var("GITHUB_REPOSITORY")?, var("GITHUB_RUN_ID")?))
}

/// Writes a file atomically: a temporary file in the same folder, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact");
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// An artifact that could not be written or read, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ArtifactError {
    pub path: PathBuf,
    pub message: String,
}

fn write_text(path: &Path, text: &str) -> Result<(), ArtifactError> {
    write_atomic(path, text.as_bytes()).map_err(|e| ArtifactError { path: path.to_path_buf(), message: e.to_string() })
}

fn write_json<T: Serialize>(path: &Path, value: &T, secrets: &Secrets) -> Result<(), ArtifactError> {
    let v = redact::redacted_value(value, secrets);
    let text = serde_json::to_string_pretty(&v)
        .map_err(|e| ArtifactError { path: path.to_path_buf(), message: e.to_string() })?;
    write_text(path, &(text + "\n"))
}

/// The file names of a run folder (../shared/DESIGN.md).
pub const TRACES: &str = "release/production-agent-gateway-external-channel-traces.json";
pub const LAUNCH_GATE: &str = "release/production-launch-gate-summary.json";
pub const JUNIT: &str = "junit.xml";
pub const EVIDENCE: &str = "drill-evidence.md";
pub const RUN: &str = "run.json";
pub const HTML: &str = "report.html";

/// Writes a run's raw records: each scenario's trace and interval log, and `run.json`.
pub fn write_traces(
    out: &Path,
    meta: &RunMeta,
    reports: &[ScenarioReport],
    secrets: &Secrets,
) -> Result<(), ArtifactError> {
    for r in reports {
        let dir = out.join(&r.name);
        write_json(&dir.join("trace.json"), r, secrets)?;
        if !r.intervals.is_empty() {
            let base = humantime::parse_rfc3339_weak(&r.started_at).unwrap_or(SystemTime::now());
            let comment = format!("gatedrill {} run {} scenario {}", meta.version, meta.run_id, r.name);
            write_text(&dir.join("latency.hlog"), &hlog::render(&r.intervals, base, &comment))?;
        }
    }
    // Scenario names are snake_case ids (folder names), never masked.
    let mut v = redact::redacted_value(meta, secrets);
    if let Some(names) = v.get_mut("scenarios") {
        *names = serde_json::json!(meta.scenarios);
    }
    write_json(&out.join(RUN), &v, &Secrets::default())
}

/// Renders every derived artifact from the traces. Returns the launch-gate summary.
pub fn write_derived(
    out: &Path,
    meta: &RunMeta,
    reports: &[ScenarioReport],
    hard_stop: Option<&state::HardStop>,
    secrets: &Secrets,
) -> Result<launch_gate::Summary, ArtifactError> {
    let summary = launch_gate::summary(meta, reports, hard_stop);
    let hists = merge::scenario_histograms(out, reports)?;
    write_json(&out.join(merge::LATENCY_SUMMARY), &merge::latency_summary(&hists), secrets)?;
    write_text(&out.join(HTML), &html::render(meta, reports, &summary, &hists))?;
    write_json(&out.join(LAUNCH_GATE), &summary, secrets)?;
    write_json(&out.join(TRACES), &launch_gate::traces(meta, reports), secrets)?;
    write_text(&out.join(JUNIT), &junit::render(meta, reports))?;
    write_text(&out.join(EVIDENCE), &evidence::render(meta, reports))?;
    if let Ok(p) = std::env::var("GITHUB_STEP_SUMMARY")
        && !p.is_empty()
    {
        let text = evidence::step_summary(meta, reports, &summary);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| ArtifactError { path: PathBuf::from(&p), message: e.to_string() })?;
    }
    Ok(summary)
}

/// Reads a finished run: `run.json` and the `<scenario>/trace.json` of each scenario it names.
pub fn load_run(dir: &Path) -> Result<(RunMeta, Vec<ScenarioReport>), ArtifactError> {
    let err = |path: &Path, message: String| ArtifactError { path: path.to_path_buf(), message };
    let run_path = dir.join(RUN);
    let text =
        std::fs::read_to_string(&run_path).map_err(|e| err(&run_path, format!("not a gatedrill run folder: {e}")))?;
    let meta: RunMeta = serde_json::from_str(&text).map_err(|e| err(&run_path, e.to_string()))?;
    let mut reports = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| err(dir, e.to_string()))?;
    // Names become folder names when a run is re-rendered or merged: only snake_case ids, so no
    // name can lead outside the output folder.
    let safe = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if let Some(bad) = meta.scenarios.iter().find(|n| !safe(n)) {
        return Err(err(&run_path, format!("scenario name {bad:?} is not a snake_case id")));
    }
    let mut traces: Vec<PathBuf> = if meta.scenarios.is_empty() {
        entries.filter_map(|e| e.ok().map(|e| e.path().join("trace.json"))).filter(|p| p.is_file()).collect()
    } else {
        meta.scenarios.iter().map(|n| dir.join(n).join("trace.json")).collect()
    };
    traces.sort();
    for p in traces {
        let text = std::fs::read_to_string(&p).map_err(|e| err(&p, e.to_string()))?;
        let mut de = serde_json::Deserializer::from_str(&text);
        let r: ScenarioReport = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let (line, col) = (e.inner().line(), e.inner().column());
            err(&p, format!("line {line}, column {col}: {}: {}", e.path(), e.inner()))
        })?;
        if !safe(&r.name) {
            return Err(err(&p, format!("scenario name {:?} is not a snake_case id", r.name)));
        }
        reports.push(r);
    }
    Ok((meta, reports))
}

/// The JSON Schema of `<scenario>/trace.json`, as committed in `schemas/trace.schema.json`.
pub fn trace_schema_json() -> String {
    let schema = schemars::schema_for!(ScenarioReport);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// The commit under test, from CI's environment or the working tree (bounded: 2 s).
pub fn commit() -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA")
        && !sha.is_empty()
    {
        return Some(sha);
    }
    let mut child = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    let sha = out.trim();
    (sha.len() >= 7).then(|| sha.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_whose_names_would_leave_the_folder_is_refused() {
        let dir = std::env::temp_dir().join(format!("gatedrill-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let meta = RunMeta { scenarios: vec!["../x".into()], ..Default::default() };
        std::fs::write(dir.join(RUN), serde_json::to_string(&meta).unwrap()).unwrap();
        let e = load_run(&dir).unwrap_err();
        assert!(e.to_string().contains("snake_case"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("gatedrill-atomic-{}", std::process::id()));
        let p = dir.join("x/y.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
