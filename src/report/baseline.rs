//! Baselines (DESIGN.md "The parts and how data flows", metrics: baselines; Keptn's comparison with
//! earlier passing runs): `--baseline DIR` names an earlier run's `--out` folder, and relative
//! gates (`p95_response_latency_ms <= baseline * 1.2`) compare each scenario with the same-named
//! scenario there. Only a scenario that passed in the baseline run is a baseline: comparing with a
//! failed run would loosen the gate. Any gate judged with a baseline reports its delta.
//! Fail-closed: a relative gate with no baseline value is inconclusive, never passed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::drill::runner::{ScenarioReport, ScenarioVerdict};
use crate::metrics::gate::Verdict;
use crate::metrics::judge::Undecided;
use crate::metrics::series::Source;

/// An earlier run's scenarios, by name.
#[derive(Debug)]
pub struct Baseline {
    pub dir: PathBuf,
    pub run_id: String,
    pub scenarios: BTreeMap<String, ScenarioReport>,
}

impl Baseline {
    /// Reads a run folder. A folder that does not exist is no baseline (`Ok(None)`: the first run
    /// of a pipeline has none, and its relative gates are inconclusive); one that exists and cannot
    /// be read is an error naming the file.
    pub fn load(dir: &Path) -> Result<Option<Baseline>, super::ArtifactError> {
        if !dir.exists() {
            return Ok(None);
        }
        let (meta, reports) = super::load_run(dir)?;
        Ok(Some(Baseline {
            dir: dir.to_path_buf(),
            run_id: meta.run_id,
            scenarios: reports.into_iter().map(|r| (r.name.clone(), r)).collect(),
        }))
    }

    /// The baseline record of scenario `name`, or why there is none to compare with. A scenario
    /// that passed qualifies, and so does one whose only undecided gates lacked a baseline
    /// themselves (the first run of a pipeline, kept as the next one's baseline).
    pub fn scenario(&self, name: &str) -> Result<&ScenarioReport, String> {
        let r = self
            .scenarios
            .get(name)
            .ok_or_else(|| format!("the baseline run {} has no scenario {name}", self.run_id))?;
        let only_unbased = r
            .gates
            .iter()
            .filter(|g| !g.advisory && g.verdict == Verdict::Inconclusive)
            .all(|g| g.undecided == Some(Undecided::NoBaseline));
        match r.verdict() {
            ScenarioVerdict::Pass => Ok(r),
            ScenarioVerdict::Inconclusive if only_unbased => Ok(r),
            v => Err(format!("scenario {name} did not pass in the baseline run {} ({v}): not a baseline", self.run_id)),
        }
    }
}

impl ScenarioReport {
    /// What this scenario recorded, for judging gates (and as a baseline).
    pub fn source(&self) -> Source<'_> {
        Source {
            windows: &self.windows,
            totals: &self.totals,
            latency: &self.latency,
            attempts: &self.attempts,
            attempts_complete: self.attempts_dropped == 0,
            findings: self.findings.len() as u64,
            watch_rules: &self.watch_rules,
        }
    }
}
