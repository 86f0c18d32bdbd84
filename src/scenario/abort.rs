//! Abort on breach (DESIGN.md "Verdicts fail closed"; k6's `abortOnFail` with `delayAbortEval`): a
//! load step can stop early when a gate on its own traffic is clearly breached, so a drill against
//! a real environment stops hurting it. The gate is judged on the load's tasks so far, only after a
//! grace delay and with at least `min_samples` tasks, so the first slow requests of a warm-up do
//! not stop it. What stopped it, when, and how many planned requests were spared are recorded, and
//! the step fails: a breach is never a pass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Dur;
use crate::metrics::gate::{Gate, Threshold};
use crate::metrics::series::Series;
use crate::metrics::slo::{MetricKey, Window};

/// `abort_on_breach = { gate = "error_rate < 50%", grace = "500ms", min_samples = 20 }`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, try_from = "AbortSpec", into = "AbortSpec")]
pub struct AbortOnBreach {
    pub gate: Gate,
    pub grace: Dur,
    pub min_samples: u64,
}

/// As written.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortSpec {
    /// A gate on one of the six SLO metrics with a fixed threshold, judged on this load's tasks.
    pub gate: Gate,
    /// No judgement before this much of the load has run.
    #[serde(default)]
    pub grace: Option<Dur>,
    /// No judgement before this many samples (default 1).
    #[serde(default)]
    pub min_samples: Option<u64>,
}

impl TryFrom<AbortSpec> for AbortOnBreach {
    type Error = String;
    fn try_from(s: AbortSpec) -> Result<Self, String> {
        if !matches!(s.gate.series, Series::Slo(_)) || s.gate.windowed() || s.gate.advisory() {
            return Err(format!(
                "abort_on_breach: `{}`: a whole-load gate on one of the SLO metrics, without window rules or advisory",
                s.gate.label()
            ));
        }
        if !matches!(s.gate.threshold, Threshold::Fixed(_)) {
            return Err(format!("abort_on_breach: `{}`: a fixed threshold, not a baseline", s.gate.label()));
        }
        let grace = s.grace.unwrap_or(Dur::from_millis(0));
        if grace.0 > super::steps::MAX_WAIT {
            return Err(format!("abort_on_breach.grace: at most {}", Dur(super::steps::MAX_WAIT)));
        }
        Ok(AbortOnBreach { gate: s.gate, grace, min_samples: s.min_samples.unwrap_or(1).max(1) })
    }
}

impl From<AbortOnBreach> for AbortSpec {
    fn from(a: AbortOnBreach) -> Self {
        AbortSpec { gate: a.gate, grace: Some(a.grace), min_samples: Some(a.min_samples) }
    }
}

impl AbortOnBreach {
    /// The breaching value and its samples, when the load's tasks so far (`w`, and `p95` of its
    /// latency series) clearly breach the gate after `elapsed`.
    pub fn breached(
        &self,
        elapsed: std::time::Duration,
        w: &Window,
        p95: impl Fn() -> Option<f64>,
    ) -> Option<(f64, u64)> {
        let (Series::Slo(key), Threshold::Fixed(limit)) = (&self.gate.series, self.gate.threshold) else { return None };
        if elapsed < self.grace.0 || w.samples(*key) < self.min_samples {
            return None;
        }
        let value = if *key == MetricKey::P95ResponseLatencyMs { p95()? } else { w.value(*key)? };
        (!self.gate.op.holds(value, limit)).then_some((value, w.samples(*key)))
    }
}
