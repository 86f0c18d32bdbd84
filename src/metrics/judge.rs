//! The window arithmetic of a gate (seed 000's close criterion; DESIGN.md "Verdicts fail closed"),
//! kept apart from any metric so it can be checked against an independent oracle. Each SLO window
//! is marked good, bad, without data, or thin (data, but fewer samples than the gate's per-window
//! minimum); only good and bad windows are judged, and streaks run over judged windows. The rules,
//! as release gates use them (Argo Rollouts' `failureLimit`, `consecutiveErrorLimit`, Kayenta's
//! minimum samples):
//! - failure budget `failure_limit = K`: more than K bad windows fail the gate;
//! - `fail_after = N`: N bad windows in a row fail it;
//! - `pass_after = N` (`for N consecutive windows`): the last N judged windows must all be good,
//!   fewer than N judged windows is inconclusive;
//! - with none of the three, the budget is zero: every judged window must be good.
//!
//! A breach fails whatever else is missing; otherwise too few samples for the gate, or no judged
//! window at all, is inconclusive. Fail-closed: what was not observed never passes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How one window stood against a gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    Good,
    Bad,
    /// The series had no value in the window.
    NoData,
    /// A value, from fewer samples than the per-window minimum: not judged.
    Thin,
}

/// The window rules of one gate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub failure_limit: Option<u32>,
    pub fail_after: Option<u32>,
    pub pass_after: Option<u32>,
    /// Samples the judged windows must hold together.
    pub min_samples: u64,
}

/// Which rule decided a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breach {
    /// More bad windows than the failure budget allows.
    FailureBudget,
    /// `fail_after` bad windows in a row.
    ConsecutiveBad,
    /// The last `pass_after` judged windows were not all good.
    NotRecovered,
    /// A whole-scenario value outside its threshold.
    Threshold,
}

/// Why a gate could not be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Undecided {
    /// No window (or no whole-scenario value) had data.
    NoData,
    /// Fewer judged windows than `pass_after` needs.
    TooFewWindows,
    /// Fewer samples than the gate's minimum.
    TooFewSamples,
    /// A relative threshold with no baseline value to compare with.
    NoBaseline,
}

/// What the window rules concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Passed; the deciding streak (or the judged windows) began at this window index.
    Pass {
        from: usize,
    },
    /// Failed by `breach`, decided at this window index.
    Fail {
        breach: Breach,
        at: usize,
    },
    Inconclusive(Undecided),
}

/// How the windows of one gate were counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WindowCounts {
    pub good: u64,
    pub bad: u64,
    /// Windows where the series had no value: counted apart, never as failing.
    pub no_data: u64,
    /// Windows with fewer samples than the per-window minimum: counted apart, not judged.
    pub thin: u64,
    /// The longest run of bad judged windows.
    pub longest_bad_run: u64,
    /// Samples in the judged windows.
    pub samples: u64,
}

/// Applies `rules` to windows marked in time order, each with its sample count.
pub fn decide(marks: &[(Mark, u64)], rules: Rules) -> (Decision, WindowCounts) {
    let mut c = WindowCounts::default();
    // Indexes (into `marks`) of the judged windows, and whether each was good.
    let mut judged: Vec<(usize, bool)> = Vec::new();
    let mut run = 0u64;
    let mut first_breach: Option<(Breach, usize)> = None;
    let budget = match (rules.failure_limit, rules.fail_after, rules.pass_after) {
        (None, None, None) => Some(0),
        (k, _, _) => k,
    };
    for (i, (mark, samples)) in marks.iter().enumerate() {
        match mark {
            Mark::NoData => c.no_data += 1,
            Mark::Thin => c.thin += 1,
            Mark::Good | Mark::Bad => {
                let good = *mark == Mark::Good;
                c.samples = c.samples.saturating_add(*samples);
                judged.push((i, good));
                if good {
                    c.good += 1;
                    run = 0;
                } else {
                    c.bad += 1;
                    run += 1;
                    c.longest_bad_run = c.longest_bad_run.max(run);
                    if first_breach.is_none() {
                        if budget.is_some_and(|k| c.bad > u64::from(k)) {
                            first_breach = Some((Breach::FailureBudget, i));
                        } else if rules.fail_after.is_some_and(|n| run >= u64::from(n)) {
                            first_breach = Some((Breach::ConsecutiveBad, i));
                        }
                    }
                }
            }
        }
    }
    if let Some((breach, at)) = first_breach {
        return (Decision::Fail { breach, at }, c);
    }
    let mut from = judged.first().map_or(0, |(i, _)| *i);
    if let Some(n) = rules.pass_after {
        let n = n as usize;
        if judged.len() < n {
            return (Decision::Inconclusive(Undecided::TooFewWindows), c);
        }
        let last = &judged[judged.len() - n..];
        if let Some((at, _)) = last.iter().rev().find(|(_, good)| !good) {
            return (Decision::Fail { breach: Breach::NotRecovered, at: *at }, c);
        }
        from = last[0].0;
    }
    if judged.is_empty() {
        return (Decision::Inconclusive(Undecided::NoData), c);
    }
    if c.samples < rules.min_samples {
        return (Decision::Inconclusive(Undecided::TooFewSamples), c);
    }
    (Decision::Pass { from }, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The oracle, written independently of `decide`: the judged windows as a string of `G` and
    /// `B`, each rule a string test.
    fn oracle(marks: &[(Mark, u64)], rules: Rules) -> &'static str {
        let judged: String = marks
            .iter()
            .filter_map(|(m, _)| match m {
                Mark::Good => Some('G'),
                Mark::Bad => Some('B'),
                _ => None,
            })
            .collect();
        let samples: u64 = marks.iter().filter(|(m, _)| matches!(m, Mark::Good | Mark::Bad)).map(|(_, s)| s).sum();
        let any_rule = rules.failure_limit.is_some() || rules.fail_after.is_some() || rules.pass_after.is_some();
        let limit = if any_rule { rules.failure_limit.map(|k| k as usize) } else { Some(0) };
        if limit.is_some_and(|k| judged.matches('B').count() > k) {
            return "fail";
        }
        if rules.fail_after.is_some_and(|n| judged.contains(&"B".repeat(n as usize))) {
            return "fail";
        }
        if let Some(n) = rules.pass_after {
            if judged.len() < n as usize {
                return "inconclusive";
            }
            if !judged.ends_with(&"G".repeat(n as usize)) {
                return "fail";
            }
        }
        if judged.is_empty() || samples < rules.min_samples {
            return "inconclusive";
        }
        "pass"
    }

    fn name(d: Decision) -> &'static str {
        match d {
            Decision::Pass { .. } => "pass",
            Decision::Fail { .. } => "fail",
            Decision::Inconclusive(_) => "inconclusive",
        }
    }

    fn mark() -> impl Strategy<Value = (Mark, u64)> {
        (prop_oneof![Just(Mark::Good), Just(Mark::Bad), Just(Mark::NoData), Just(Mark::Thin)], 0u64..50)
    }

    fn rules() -> impl Strategy<Value = Rules> {
        (
            proptest::option::of(0u32..5),
            proptest::option::of(1u32..5),
            proptest::option::of(1u32..5),
            prop_oneof![Just(0u64), 0u64..300],
        )
            .prop_map(|(failure_limit, fail_after, pass_after, min_samples)| Rules {
                failure_limit,
                fail_after,
                pass_after,
                min_samples,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        #[test]
        fn decide_agrees_with_the_oracle(marks in proptest::collection::vec(mark(), 0..24), rules in rules()) {
            let (d, c) = decide(&marks, rules);
            prop_assert_eq!(name(d), oracle(&marks, rules), "{:?} {:?}", marks, rules);
            let count = |m: Mark| marks.iter().filter(|(x, _)| *x == m).count() as u64;
            prop_assert_eq!((c.good, c.bad, c.no_data, c.thin), (count(Mark::Good), count(Mark::Bad), count(Mark::NoData), count(Mark::Thin)));
        }

        /// Windows without data (or thin ones) never fail a gate and never make it pass.
        #[test]
        fn unjudged_windows_change_nothing(marks in proptest::collection::vec(mark(), 0..16), rules in rules(), at in 0usize..17, thin in any::<bool>()) {
            let mut more = marks.clone();
            more.insert(at.min(marks.len()), (if thin { Mark::Thin } else { Mark::NoData }, 1000));
            prop_assert_eq!(name(decide(&marks, rules).0), name(decide(&more, rules).0));
        }
    }

    #[test]
    fn the_rules_on_examples() {
        use Mark::*;
        let w = |s: &str| {
            s.chars()
                .map(|c| {
                    (
                        if c == 'G' {
                            Good
                        } else if c == 'B' {
                            Bad
                        } else {
                            NoData
                        },
                        10,
                    )
                })
                .collect::<Vec<_>>()
        };
        let r = |failure_limit, fail_after, pass_after| Rules { failure_limit, fail_after, pass_after, min_samples: 0 };
        // Budget of one failing window: the second fails, at its index.
        assert_eq!(decide(&w("GBGG"), r(Some(1), None, None)).0, Decision::Pass { from: 0 });
        assert_eq!(
            decide(&w("GBGB"), r(Some(1), None, None)).0,
            Decision::Fail { breach: Breach::FailureBudget, at: 3 }
        );
        // Two bad in a row fail; two bad apart do not (no budget given beside it).
        assert_eq!(decide(&w("BGBG"), r(None, Some(2), None)).0, Decision::Pass { from: 0 });
        assert_eq!(
            decide(&w("GBB"), r(None, Some(2), None)).0,
            Decision::Fail { breach: Breach::ConsecutiveBad, at: 2 }
        );
        // A window without data neither breaks nor makes a streak.
        assert_eq!(
            decide(&w("GB-B"), r(None, Some(2), None)).0,
            Decision::Fail { breach: Breach::ConsecutiveBad, at: 3 }
        );
        // Close criterion: the outage, then two good windows; from the first of them.
        assert_eq!(decide(&w("BBGG"), r(None, None, Some(2))).0, Decision::Pass { from: 2 });
        assert_eq!(decide(&w("GGB"), r(None, None, Some(2))).0, Decision::Fail { breach: Breach::NotRecovered, at: 2 });
        assert_eq!(decide(&w("-G-"), r(None, None, Some(2))).0, Decision::Inconclusive(Undecided::TooFewWindows));
        // No rule: a zero budget.
        assert_eq!(decide(&w("GGB"), r(None, None, None)).0, Decision::Fail { breach: Breach::FailureBudget, at: 2 });
        assert_eq!(decide(&w("---"), r(None, None, None)).0, Decision::Inconclusive(Undecided::NoData));
        // Too few samples: inconclusive, but a breach still fails.
        let min = Rules { min_samples: 100, ..r(None, None, None) };
        assert_eq!(decide(&w("GG"), min).0, Decision::Inconclusive(Undecided::TooFewSamples));
        assert_eq!(decide(&w("GB"), min).0, Decision::Fail { breach: Breach::FailureBudget, at: 1 });
    }
}
