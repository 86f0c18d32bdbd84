//! Gate expressions: `<metric> <op> <number>[%] [for <N> consecutive windows]`, e.g.
//! `p95_response_latency_ms < 1500`, `error_rate < 1%`, or the seed-000 close criterion
//! `model_fallback_rate <= 0.2 for 2 consecutive windows`. Without `for`, a gate judges the whole
//! scenario; with it, the last N windows that have data must all hold. A gate without enough data
//! is inconclusive, never passed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::slo::{MetricKey, Window};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            _ => return None,
        })
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Eq => (value - threshold).abs() < 1e-9,
        }
    }
}

/// A parsed gate; written and read as its expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gate {
    pub expr: String,
    pub metric: MetricKey,
    pub op: Op,
    pub threshold: f64,
    pub consecutive: Option<u32>,
}

impl From<Gate> for String {
    fn from(g: Gate) -> String {
        g.expr
    }
}

impl TryFrom<String> for Gate {
    type Error = String;
    fn try_from(s: String) -> Result<Gate, String> {
        s.parse()
    }
}

impl std::str::FromStr for Gate {
    type Err = String;
    fn from_str(expr: &str) -> Result<Gate, String> {
        let words: Vec<&str> = expr.split_whitespace().collect();
        let usage = "expected `<metric> <op> <number>[%] [for <N> consecutive windows]`";
        if words.len() != 3 && words.len() != 7 {
            return Err(format!("gate {expr:?}: {usage}"));
        }
        let metric = MetricKey::from_id(words[0]).ok_or_else(|| {
            let known: Vec<&str> = MetricKey::ALL.iter().map(|k| k.id()).collect();
            format!("gate {expr:?}: unknown metric {:?}; expected one of {}", words[0], known.join(", "))
        })?;
        let op = Op::parse(words[1])
            .ok_or_else(|| format!("gate {expr:?}: unknown operator {:?}; expected <, <=, >, >= or ==", words[1]))?;
        let (num, percent) = match words[2].strip_suffix('%') {
            Some(n) => (n, true),
            None => (words[2], false),
        };
        let mut threshold: f64 = num
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("gate {expr:?}: {:?} is not a number", words[2]))?;
        if percent {
            if !metric.is_rate() {
                return Err(format!("gate {expr:?}: {} is not a rate; a percentage makes no sense", metric.id()));
            }
            threshold /= 100.0;
        }
        let consecutive = if words.len() == 7 {
            let n: u32 = words[4]
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("gate {expr:?}: {:?} is not a positive window count", words[4]))?;
            if words[3] != "for" || words[5] != "consecutive" || !matches!(words[6], "windows" | "window") {
                return Err(format!("gate {expr:?}: {usage}"));
            }
            Some(n)
        } else {
            None
        };
        Ok(Gate { expr: words.join(" "), metric, op, threshold, consecutive })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

/// A gate's verdict with the numbers that decided it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateVerdict {
    pub gate: String,
    pub metric: MetricKey,
    pub verdict: Verdict,
    pub threshold: f64,
    /// The value judged (the whole scenario, or the last window of the streak).
    pub value: Option<f64>,
    /// The windows judged, oldest first (empty for a whole-scenario gate).
    pub window_values: Vec<f64>,
    /// Where the deciding streak began, in ms from the scenario's start.
    pub decided_from_ms: Option<f64>,
    pub detail: String,
}

fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.4}") }
}

impl Gate {
    pub fn evaluate(&self, windows: &[Window], total: &Window) -> GateVerdict {
        let mut v = GateVerdict {
            gate: self.expr.clone(),
            metric: self.metric,
            verdict: Verdict::Inconclusive,
            threshold: self.threshold,
            value: None,
            window_values: Vec::new(),
            decided_from_ms: None,
            detail: String::new(),
        };
        match self.consecutive {
            None => match total.value(self.metric) {
                None => v.detail = format!("no data for {} ({} tasks)", self.metric.id(), total.tasks),
                Some(x) => {
                    v.value = Some(x);
                    let ok = self.op.holds(x, self.threshold);
                    v.verdict = if ok { Verdict::Pass } else { Verdict::Fail };
                    v.detail = format!("{} = {} over {} tasks", self.metric.id(), fmt(x), total.tasks);
                }
            },
            Some(n) => {
                let with_data: Vec<(&Window, f64)> =
                    windows.iter().filter_map(|w| w.value(self.metric).map(|x| (w, x))).collect();
                if with_data.len() < n as usize {
                    v.detail = format!("{} window(s) with data, {n} needed", with_data.len());
                    return v;
                }
                let last = &with_data[with_data.len() - n as usize..];
                v.window_values = last.iter().map(|(_, x)| *x).collect();
                v.value = last.last().map(|(_, x)| *x);
                let ok = last.iter().all(|(_, x)| self.op.holds(*x, self.threshold));
                v.verdict = if ok { Verdict::Pass } else { Verdict::Fail };
                if ok {
                    v.decided_from_ms = last.first().map(|(w, _)| w.start_ms);
                }
                let shown: Vec<String> = v.window_values.iter().map(|x| fmt(*x)).collect();
                v.detail = format!("last {n} window(s) with data: [{}]", shown.join(", "));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(fallback: &[(u64, u64)]) -> Vec<Window> {
        fallback
            .iter()
            .enumerate()
            .map(|(i, (fb, n))| Window {
                index: i as u64,
                start_ms: i as f64 * 100.0,
                tasks: *n,
                succeeded: *n,
                model_answered: *n,
                fallbacks: *fb,
                ..Window::default()
            })
            .collect()
    }

    #[test]
    fn parses_the_issue_examples() {
        let g: Gate = "p95_response_latency_ms < 1500".parse().unwrap();
        assert_eq!(
            (g.metric, g.op, g.threshold, g.consecutive),
            (MetricKey::P95ResponseLatencyMs, Op::Lt, 1500.0, None)
        );
        let g: Gate = "model_fallback_rate <= 0.2 for 2 consecutive windows".parse().unwrap();
        assert_eq!(g.consecutive, Some(2));
        let g: Gate = "error_rate < 1%".parse().unwrap();
        assert!((g.threshold - 0.01).abs() < 1e-12);
    }

    #[test]
    fn bad_gates_say_what_is_wrong() {
        for (expr, says) in [
            ("fallback < 1", "unknown metric"),
            ("error_rate ~ 1", "unknown operator"),
            ("error_rate < lots", "not a number"),
            ("p95_response_latency_ms < 5%", "not a rate"),
            ("error_rate < 1 for 0 consecutive windows", "positive window count"),
            ("error_rate < 1 during 2 consecutive windows", "expected"),
        ] {
            let e = expr.parse::<Gate>().unwrap_err();
            assert!(e.contains(says), "{expr}: {e}");
        }
    }

    #[test]
    fn close_criterion_needs_the_last_windows_in_slo() {
        let g: Gate = "model_fallback_rate <= 0.2 for 2 consecutive windows".parse().unwrap();
        let total = Window::default();
        // Outage (all fallback), then two clean windows: closed, from the start of window 2.
        let v = g.evaluate(&windows(&[(10, 10), (0, 10), (0, 10)]), &total);
        assert_eq!(v.verdict, Verdict::Pass);
        assert_eq!(v.decided_from_ms, Some(100.0));
        // Still falling back at the end: not closed.
        let v = g.evaluate(&windows(&[(0, 10), (0, 10), (5, 10)]), &total);
        assert_eq!(v.verdict, Verdict::Fail);
        assert_eq!(v.window_values, [0.0, 0.5]);
        // Empty windows are skipped; one window of data is not enough.
        let v = g.evaluate(&windows(&[(0, 0), (0, 10), (0, 0)]), &total);
        assert_eq!(v.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn whole_scenario_gate_and_no_data() {
        let g: Gate = "error_rate < 1%".parse().unwrap();
        let total = Window { tasks: 200, succeeded: 199, ..Window::default() };
        assert_eq!(g.evaluate(&[], &total).verdict, Verdict::Pass);
        let total = Window { tasks: 100, succeeded: 98, ..Window::default() };
        assert_eq!(g.evaluate(&[], &total).verdict, Verdict::Fail);
        assert_eq!(g.evaluate(&[], &Window::default()).verdict, Verdict::Inconclusive);
    }
}
