//! Combining runs: `gatedrill merge DIR... --out DIR` joins runs sharded across machines (CI
//! matrix jobs) into one: the traces side by side, each scenario's interval log copied, and
//! `latency-summary.json` computed by decoding and adding every interval of equal tag, which
//! is exact (HdrHistograms add without loss). A run writes the same summary for itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ArtifactError, RunMeta, load_run};
use crate::drill::runner::ScenarioReport;
use crate::metrics::{Hist, Summary, hlog, new_hist};

pub const LATENCY_SUMMARY: &str = "latency-summary.json";

#[derive(Debug, Serialize)]
pub struct LatencySummary {
    /// Every scenario's series added together, by tag.
    pub all: BTreeMap<String, Summary>,
    /// Per scenario, by tag.
    pub scenarios: BTreeMap<String, BTreeMap<String, Summary>>,
}

/// Every scenario's interval log under `dir`, decoded, intervals of equal tag added.
pub fn scenario_histograms(
    dir: &Path,
    reports: &[ScenarioReport],
) -> Result<BTreeMap<String, BTreeMap<String, Hist>>, ArtifactError> {
    let mut out = BTreeMap::new();
    for r in reports {
        let p = dir.join(&r.name).join("latency.hlog");
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let parsed = hlog::parse(&text).map_err(|e| ArtifactError { path: p.clone(), message: e.to_string() })?;
        out.insert(r.name.clone(), hlog::merge_parsed(parsed));
    }
    Ok(out)
}

/// Percentiles of every series, per scenario and added across scenarios.
pub fn latency_summary(hists: &BTreeMap<String, BTreeMap<String, Hist>>) -> LatencySummary {
    let mut all: BTreeMap<String, Hist> = BTreeMap::new();
    for merged in hists.values() {
        for (tag, h) in merged {
            let _ = all.entry(tag.clone()).or_insert_with(new_hist).add(h);
        }
    }
    LatencySummary {
        all: all.iter().map(|(t, h)| (t.clone(), Summary::of(h))).collect(),
        scenarios: hists
            .iter()
            .map(|(n, merged)| (n.clone(), merged.iter().map(|(t, h)| (t.clone(), Summary::of(h))).collect()))
            .collect(),
    }
}

/// Loads the runs, renames scenarios that appear in more than one (`name__2`), copies their
/// interval logs into `out`, and returns the combined run.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<(RunMeta, Vec<ScenarioReport>), ArtifactError> {
    let mut metas = Vec::new();
    let mut reports: Vec<ScenarioReport> = Vec::new();
    for dir in dirs {
        let (meta, runs) = load_run(dir)?;
        for mut r in runs {
            let source = dir.join(&r.name).join("latency.hlog");
            let mut name = r.name.clone();
            let mut k = 2;
            while reports.iter().any(|x| x.name == name) {
                name = format!("{}__{k}", r.name);
                k += 1;
            }
            r.name = name;
            if source.is_file() {
                let text = std::fs::read(&source)
                    .map_err(|e| ArtifactError { path: source.clone(), message: e.to_string() })?;
                let dest = out.join(&r.name).join("latency.hlog");
                super::write_atomic(&dest, &text).map_err(|e| ArtifactError { path: dest, message: e.to_string() })?;
            }
            reports.push(r);
        }
        metas.push(meta);
    }
    let first = metas.first().cloned().unwrap_or_default();
    let mut targets: Vec<String> = metas.iter().map(|m| m.target.clone()).collect();
    targets.dedup();
    let seeds: Vec<Option<u64>> = metas.iter().map(|m| m.seed).collect();
    let meta = RunMeta {
        run_id: format!("merged-{}", metas.iter().map(|m| m.run_id.as_str()).collect::<Vec<_>>().join("+")),
        seed: if seeds.windows(2).all(|w| w[0] == w[1]) { first.seed } else { None },
        target: targets.join(", "),
        version: first.version.clone(),
        commit: first.commit.clone(),
        started_at: metas.iter().map(|m| m.started_at.clone()).min().unwrap_or_default(),
        finished_at: metas.iter().map(|m| m.finished_at.clone()).max().unwrap_or_default(),
        incomplete: metas.iter().any(|m| m.incomplete),
        strict: metas.iter().any(|m| m.strict),
        merged_from: metas
            .iter()
            .flat_map(|m| std::iter::once(m.run_id.clone()).chain(m.merged_from.clone()))
            .collect(),
        scenarios: reports.iter().map(|r| r.name.clone()).collect(),
        gateway_version: first.gateway_version.clone(),
        ci_run_url: crate::report::ci_run_url().or_else(|| first.ci_run_url.clone()),
        baseline_run_id: first.baseline_run_id.clone(),
    };
    Ok((meta, reports))
}
