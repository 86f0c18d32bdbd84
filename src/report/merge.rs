//! Combining runs: `gatedrill merge DIR... --out DIR` joins runs sharded across machines (CI
//! matrix jobs) into one: the traces side by side, each scenario's interval log copied, and
//! `latency-summary.json` computed by decoding and adding every interval of equal tag, which
//! is exact (HdrHistograms add without loss). A run writes the same summary for itself.
//! The parts of a split run (`--shard K/N` or `--segment K/N`) are checked to belong together
//! and to be all there; segments are joined per scenario (`segments`), and every gate is decided
//! again on the merged data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ArtifactError, RunMeta, load_run};
use crate::drill::runner::ScenarioReport;
use crate::drill::shard::Shard;
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

/// How the runs given to a merge were split: by scenario (`--shard`) or by load (`--segment`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    Shards,
    Segments,
}

impl Split {
    fn of(m: &RunMeta) -> Option<(Split, Shard)> {
        m.shard.map(|s| (Split::Shards, s)).or(m.segment.map(|s| (Split::Segments, s)))
    }

    fn word(self) -> &'static str {
        match self {
            Split::Shards => "shard",
            Split::Segments => "segment",
        }
    }
}

/// The runs given to a merge that are parts of one split run must all be there, once each, and
/// belong together: the same split, count, selection, seed and gatedrill version; a shard holds
/// only scenarios its index owns, a segment every selected one. Returns the split and the parts
/// that are missing (with `allow_partial`), or refuses, naming what is wrong.
fn check_parts(
    metas: &[(PathBuf, RunMeta)],
    unreadable: &[ArtifactError],
    allow_partial: bool,
) -> Result<(Option<Split>, Vec<String>), ArtifactError> {
    let refuse = |path: &Path, message: String| ArtifactError { path: path.to_path_buf(), message };
    if let Some(e) = unreadable.first()
        && !allow_partial
    {
        return Err(refuse(&e.path, format!("{} (merge --allow-partial to merge without it)", e.message)));
    }
    let unread = || unreadable.iter().map(|e| format!("{}: {}", e.path.display(), e.message)).collect::<Vec<_>>();
    let Some((first_dir, first, (split, part))) = metas.iter().find_map(|(d, m)| Split::of(m).map(|p| (d, m, p)))
    else {
        return Ok((None, unread()));
    };
    let word = split.word();
    let count = part.count;
    let mut seen = std::collections::BTreeMap::new();
    for (dir, m) in metas {
        let Some((_, this)) = Split::of(m).filter(|(s, _)| *s == split) else {
            return Err(refuse(dir, format!("not a {word}: a run split by {word} merges only with its own {word}s")));
        };
        let differs =
            |what: &str| refuse(dir, format!("a foreign {word}: its {what} differs from {}'s", first_dir.display()));
        if this.count != count {
            return Err(differs(&format!("{word} count")));
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
        let belongs = |n: &String| first.selected.contains(n) && (split == Split::Segments || this.owns(n));
        if let Some(name) = m.scenarios.iter().find(|n| !belongs(n)) {
            return Err(refuse(dir, format!("a foreign {word}: scenario {name:?} does not belong to {word} {this}")));
        }
        if let Some(other) = seen.insert(this.index, dir) {
            return Err(refuse(dir, format!("{word} {this} given twice (also {})", other.display())));
        }
    }
    let mut missing = Vec::new();
    for k in (1..=count).filter(|k| !seen.contains_key(k)) {
        let this = Shard { index: k, count };
        let owned: Vec<&str> =
            first.selected.iter().filter(|n| split == Split::Segments || this.owns(n)).map(String::as_str).collect();
        missing.push(format!("{this} ({})", if owned.is_empty() { "no scenario".into() } else { owned.join(", ") }));
    }
    if !missing.is_empty() && !allow_partial {
        return Err(refuse(
            first_dir,
            format!("{word}(s) missing: {} (merge --allow-partial to merge without them)", missing.join("; ")),
        ));
    }
    missing.extend(unread());
    Ok((Some(split), missing))
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
    let (split, missing_parts) = check_parts(&shard_metas, &unreadable, allow_partial)?;
    if loaded.is_empty() {
        return Err(ArtifactError {
            path: dirs.first().cloned().unwrap_or_default(),
            message: "no run could be read".into(),
        });
    }
    let mut metas = Vec::new();
    let mut reports: Vec<ScenarioReport> = Vec::new();
    if split == Some(Split::Segments) {
        // Every segment ran every scenario: join each scenario's parts into one result.
        let mut parts: BTreeMap<String, Vec<super::segments::Part>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (dir, (meta, runs)) in std::mem::take(&mut loaded) {
            for r in runs {
                let source = dir.join(&r.name).join("latency.hlog");
                let intervals = match std::fs::read_to_string(&source) {
                    Ok(text) => hlog::parse(&text)
                        .map_err(|e| ArtifactError { path: source.clone(), message: e.to_string() })?,
                    Err(_) => Vec::new(),
                };
                if !order.contains(&r.name) {
                    order.push(r.name.clone());
                }
                parts.entry(r.name.clone()).or_default().push(super::segments::Part { report: r, intervals });
            }
            metas.push(meta);
        }
        for name in order {
            let mut p = parts.remove(&name).unwrap_or_default().into_iter();
            if let Some(first) = p.next() {
                reports.push(super::segments::combine(first, p.collect()));
            }
        }
    }
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
            // The merge's verdict is decided from the data, not copied: the gates again on the
            // trace's windows (for a shard, the same windows, so the same verdicts).
            super::segments::redecide(&mut r, false);
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
        incomplete: metas.iter().any(|m| m.incomplete) || !missing_parts.is_empty(),
        strict: metas.iter().any(|m| m.strict),
        merged_from: metas
            .iter()
            .flat_map(|m| std::iter::once(m.run_id.clone()).chain(m.merged_from.clone()))
            .collect(),
        scenarios: reports.iter().map(|r| r.name.clone()).collect(),
        gateway_version: first.gateway_version.clone(),
        ci_run_url: crate::report::ci_run_url().or_else(|| first.ci_run_url.clone()),
        shard: None,
        segment: None,
        selected: Vec::new(),
        missing_parts,
        baseline_run_id: first.baseline_run_id.clone(),
    };
    Ok((meta, reports))
}
