//! Combining runs: `gatedrill merge DIR... --out DIR` joins runs sharded across machines (CI
//! matrix jobs) into one: the traces side by side, each scenario's interval log copied, and
//! `latency-summary.json` computed by decoding and adding every interval of equal tag, which
//! is exact (HdrHistograms add without loss). A run writes the same summary for itself.
//! Shards of one `--shard K/N` run are checked to belong together and to be all there.

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

/// The runs given to a merge that are shards of one sharded run must all be there, once each,
/// and belong together: the same shard count, selection, seed and gatedrill version, each holding
/// only scenarios its index owns. Returns the shards that are missing (with `allow_partial`) or
/// refuses, naming what is wrong.
fn check_shards(
    metas: &[(PathBuf, RunMeta)],
    unreadable: &[ArtifactError],
    allow_partial: bool,
) -> Result<Vec<String>, ArtifactError> {
    let refuse = |path: &Path, message: String| ArtifactError { path: path.to_path_buf(), message };
    let sharded: Vec<&(PathBuf, RunMeta)> = metas.iter().filter(|(_, m)| m.shard.is_some()).collect();
    if let Some(e) = unreadable.first()
        && !allow_partial
    {
        return Err(refuse(&e.path, format!("{} (merge --allow-partial to merge without it)", e.message)));
    }
    let Some((first_dir, first)) = sharded.first() else {
        return Ok(unreadable.iter().map(|e| e.path.display().to_string()).collect());
    };
    if sharded.len() != metas.len() {
        let plain = metas.iter().find(|(_, m)| m.shard.is_none()).map_or(first_dir.as_path(), |(d, _)| d.as_path());
        return Err(refuse(plain, "not a shard: a sharded run merges only with its own shards".into()));
    }
    let count = first.shard.map_or(1, |s| s.count);
    let mut seen = std::collections::BTreeMap::new();
    for (dir, m) in &sharded {
        let shard = m.shard.unwrap_or(crate::drill::shard::Shard { index: 1, count: 1 });
        let differs =
            |what: &str| refuse(dir, format!("a foreign shard: its {what} differs from {}'s", first_dir.display()));
        if shard.count != count {
            return Err(differs("shard count"));
        }
        if m.selected != first.selected {
            return Err(differs("scenario selection"));
        }
        if m.seed != first.seed {
            return Err(differs("seed"));
        }
        if m.version != first.version {
            return Err(differs("gatedrill version"));
        }
        if let Some(name) = m.scenarios.iter().find(|n| !shard.owns(n) || !first.selected.contains(n)) {
            return Err(refuse(dir, format!("a foreign shard: scenario {name:?} does not belong to shard {shard}")));
        }
        if let Some(other) = seen.insert(shard.index, dir) {
            return Err(refuse(dir, format!("shard {shard} given twice (also {})", other.display())));
        }
    }
    let mut missing = Vec::new();
    for k in (1..=count).filter(|k| !seen.contains_key(k)) {
        let shard = crate::drill::shard::Shard { index: k, count };
        let owned: Vec<&str> = first.selected.iter().filter(|n| shard.owns(n)).map(String::as_str).collect();
        if owned.is_empty() {
            missing.push(format!("{shard} (no scenario)"));
        } else {
            missing.push(format!("{shard} ({})", owned.join(", ")));
        }
    }
    if !missing.is_empty() && !allow_partial {
        return Err(refuse(
            first_dir,
            format!("shard(s) missing: {} (merge --allow-partial to merge without them)", missing.join("; ")),
        ));
    }
    missing.extend(unreadable.iter().map(|e| format!("{}: {}", e.path.display(), e.message)));
    Ok(missing)
}

/// Loads the runs, renames scenarios that appear in more than one (`name__2`), copies their
/// interval logs into `out`, and returns the combined run.
pub fn merge(
    dirs: &[PathBuf],
    out: &Path,
    allow_partial: bool,
) -> Result<(RunMeta, Vec<ScenarioReport>), ArtifactError> {
    let mut loaded = Vec::new();
    let mut unreadable = Vec::new();
    for dir in dirs {
        match load_run(dir) {
            Ok(run) => loaded.push((dir.clone(), run)),
            Err(e) => unreadable.push(e),
        }
    }
    let shard_metas: Vec<(PathBuf, RunMeta)> = loaded.iter().map(|(d, (m, _))| (d.clone(), m.clone())).collect();
    let missing_shards = check_shards(&shard_metas, &unreadable, allow_partial)?;
    if loaded.is_empty() {
        return Err(ArtifactError {
            path: dirs.first().cloned().unwrap_or_default(),
            message: "no run could be read".into(),
        });
    }
    let mut metas = Vec::new();
    let mut reports: Vec<ScenarioReport> = Vec::new();
    for (dir, (meta, runs)) in loaded {
        let dir = &dir;
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
        incomplete: metas.iter().any(|m| m.incomplete) || !missing_shards.is_empty(),
        strict: metas.iter().any(|m| m.strict),
        merged_from: metas
            .iter()
            .flat_map(|m| std::iter::once(m.run_id.clone()).chain(m.merged_from.clone()))
            .collect(),
        scenarios: reports.iter().map(|r| r.name.clone()).collect(),
        gateway_version: first.gateway_version.clone(),
        ci_run_url: crate::report::ci_run_url().or_else(|| first.ci_run_url.clone()),
        shard: None,
        selected: Vec::new(),
        missing_shards,
    };
    Ok((meta, reports))
}
