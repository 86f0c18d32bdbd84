//! Gates (DESIGN.md "The parts and how data flows", metrics: gate expressions and baselines; seed
//! 000's SLO metrics and close criterion). A gate is written as an expression, `<series> <op>
//! <threshold> [for <N> consecutive windows]`, e.g. `p95_response_latency_ms < 1500`,
//! `error_rate < 1%`, `model_fallback_rate <= 0.2 for 2 consecutive windows`,
//! `failover_overhead.p95_ms < 300`, or relative to a baseline run (`--baseline DIR`):
//! `p95_response_latency_ms <= baseline * 1.2`, `model_fallback_rate <= baseline + 0.05`. Or as a table with the expression under `gate` and the
//! window rules of [`super::judge`] beside it: `failure_limit`, `fail_after`, `pass_after`,
//! `min_samples`, `min_window_samples`, and `advisory` (judged and reported everywhere, never part
//! of the verdict). Without a window rule a gate judges the whole scenario.
//!
//! Every verdict is pass, fail or inconclusive, with the numbers that decided it. Fail-closed: no
//! data, too few samples, or a relative threshold without its baseline is inconclusive, never a
//! pass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::judge::{self, Breach, Decision, Mark, Undecided, WindowCounts};
use super::series::{self, Series, Source};
use super::slo::MetricKey;

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

/// What a value is compared with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    Fixed(f64),
    /// `baseline * factor + offset`: the baseline run's whole-scenario value of the same series
    /// (`baseline * 1.2`, `baseline + 0.05`, `baseline * 1.2 + 5` for a noise floor).
    Baseline {
        factor: f64,
        offset: f64,
    },
}

/// A gate as written in a table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateTable {
    /// The expression (see [`GateExpr`]).
    #[schemars(with = "GateExpr")]
    pub gate: String,
    /// Judged and reported everywhere; never changes the verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub advisory: bool,
    /// Per window: at most this many failing windows (the failure budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<u32>,
    /// Per window: this many failing windows in a row fail the gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub fail_after: Option<u32>,
    /// Per window: the last this many windows with data must hold (as `for N consecutive windows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub pass_after: Option<u32>,
    /// Fewer samples than this (tasks, attempts or histogram values) is inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    /// Per window: a window with fewer samples is not judged (counted as thin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_window_samples: Option<u64>,
}

/// `<series> <op> <number>[%] | baseline [* <factor>] [+ <offset> | - <offset>]
/// [for <N> consecutive windows]`. Series: the six SLO metric keys (tool_success_rate,
/// model_fallback_rate, p95_response_latency_ms, cost_per_successful_task_usd, escalation_rate,
/// error_rate), `conduct_findings`, a latency histogram `<tag>.<stat>` (e.g.
/// `failover_overhead.p95_ms`, `provider:openai:ttft.p99_ms`), or a provider's attempt rate
/// `provider:<name>:attempts.<outcome>_rate` (`.failed_rate`, `.count`).
pub struct GateExpr;

impl JsonSchema for GateExpr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GateExpr".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`<series> <op> <number>[%] | baseline [* <factor>] [+ <offset>[%] | - <offset>[%]] [for <N> consecutive windows]`",
            "type": "string",
            "pattern": expr_pattern(),
        })
    }
}

/// The expression's regular expression, built from the one definition of series names.
pub fn expr_pattern() -> String {
    format!(
        "^\\s*{}\\s+(<|<=|>|>=|==)\\s+([0-9.eE+-]+%?|baseline(\\s*\\*\\s*[0-9.eE+-]+?)?(\\s*[+-]\\s*[0-9.eE+-]+%?)?)(\\s+for\\s+[1-9][0-9]*\\s+consecutive\\s+windows?)?\\s*$",
        series::pattern()
    )
}

/// A gate: an expression string or a table.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum GateSpec {
    Expr(GateExpr),
    Table(GateTable),
}

/// A parsed gate.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// As written, normalized.
    pub spec: GateTable,
    pub series: Series,
    pub op: Op,
    pub threshold: Threshold,
    pub pass_after: Option<u32>,
}

impl Gate {
    pub fn advisory(&self) -> bool {
        self.spec.advisory
    }

    /// Judged per window (a window rule is set) rather than over the whole scenario.
    pub fn windowed(&self) -> bool {
        let s = &self.spec;
        self.pass_after.is_some()
            || s.failure_limit.is_some()
            || s.fail_after.is_some()
            || s.min_window_samples.is_some()
    }

    /// Whether judging needs a baseline run.
    pub fn relative(&self) -> bool {
        matches!(self.threshold, Threshold::Baseline { .. })
    }

    /// The expression with its options, as reports name the gate.
    pub fn label(&self) -> String {
        let s = &self.spec;
        let mut opts = Vec::new();
        let mut opt = |k: &str, v: Option<u64>| {
            if let Some(v) = v {
                opts.push(format!("{k} {v}"));
            }
        };
        opt("failure_limit", s.failure_limit.map(u64::from));
        opt("fail_after", s.fail_after.map(u64::from));
        opt("pass_after", s.pass_after.map(u64::from));
        opt("min_samples", s.min_samples);
        opt("min_window_samples", s.min_window_samples);
        if s.advisory {
            opts.push("advisory".into());
        }
        if opts.is_empty() { s.gate.clone() } else { format!("{} [{}]", s.gate, opts.join(", ")) }
    }
}

impl std::str::FromStr for Gate {
    type Err = String;
    fn from_str(expr: &str) -> Result<Gate, String> {
        Gate::try_from(GateTable { gate: expr.to_string(), ..GateTable::default() })
    }
}

fn number(expr: &str, word: &str, rate: bool, series: &str) -> Result<f64, String> {
    let (num, percent) = match word.strip_suffix('%') {
        Some(n) => (n, true),
        None => (word, false),
    };
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("gate {expr:?}: {word:?} is not a number"))?;
    if percent && !rate {
        return Err(format!("gate {expr:?}: {series} is not a rate; a percentage makes no sense"));
    }
    Ok(if percent { v / 100.0 } else { v })
}

fn threshold(expr: &str, words: &[&str], s: &Series) -> Result<Threshold, String> {
    let joined: String = words.concat();
    let Some(rest) = joined.strip_prefix("baseline") else {
        return match words {
            [w] => Ok(Threshold::Fixed(number(expr, w, s.is_rate(), &s.id())?)),
            _ => Err(format!("gate {expr:?}: expected a number or `baseline [* <factor>] [+ <offset> | - <offset>]`")),
        };
    };
    let bad = || format!("gate {expr:?}: after `baseline`, expected `* <factor>`, then `+ <offset>` or `- <offset>`");
    // `* <factor>` first, then a signed offset: the sign is the first `+` or `-` after the factor
    // that is not an exponent's (`1e-3`).
    let (factor, rest) = match rest.strip_prefix('*') {
        Some(f) => {
            let b = f.as_bytes();
            let end = (1..b.len()).find(|&i| matches!(b[i], b'+' | b'-') && !matches!(b[i - 1], b'e' | b'E'));
            let end = end.unwrap_or(b.len());
            (number(expr, &f[..end], false, &s.id())?, &f[end..])
        }
        None => (1.0, rest),
    };
    let offset = match rest.chars().next() {
        None => 0.0,
        Some('+') => number(expr, &rest[1..], s.is_rate(), &s.id())?,
        Some('-') => -number(expr, &rest[1..], s.is_rate(), &s.id())?,
        Some(_) => return Err(bad()),
    };
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(bad());
    }
    Ok(Threshold::Baseline { factor, offset })
}

impl TryFrom<GateTable> for Gate {
    type Error = String;
    fn try_from(mut spec: GateTable) -> Result<Gate, String> {
        let expr = spec.gate.clone();
        let words: Vec<&str> = expr.split_whitespace().collect();
        let usage = "expected `<series> <op> <threshold> [for <N> consecutive windows]`";
        let n = words.len();
        let (body, consecutive) = if n >= 4 && words[n - 4] == "for" {
            let c: u32 = words[n - 3]
                .parse()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| format!("gate {expr:?}: {:?} is not a positive window count", words[n - 3]))?;
            if words[n - 2] != "consecutive" || !matches!(words[n - 1], "windows" | "window") {
                return Err(format!("gate {expr:?}: {usage}"));
            }
            (&words[..n - 4], Some(c))
        } else {
            (&words[..], None)
        };
        if body.len() < 3 || body.contains(&"for") {
            return Err(format!("gate {expr:?}: {usage}"));
        }
        let series = Series::parse(body[0]).map_err(|e| format!("gate {expr:?}: {e}"))?;
        let op = Op::parse(body[1])
            .ok_or_else(|| format!("gate {expr:?}: unknown operator {:?}; expected <, <=, >, >= or ==", body[1]))?;
        let threshold = threshold(&expr, &body[2..], &series)?;
        if consecutive.is_some() && spec.pass_after.is_some() {
            return Err(format!("gate {expr:?}: `for N consecutive windows` and pass_after both given; keep one"));
        }
        if spec.fail_after == Some(0) || spec.pass_after == Some(0) {
            return Err(format!("gate {expr:?}: fail_after and pass_after count windows: at least 1"));
        }
        spec.gate = words.join(" ");
        let gate = Gate { pass_after: consecutive.or(spec.pass_after), spec, series, op, threshold };
        if gate.windowed() && !gate.series.windowed() {
            return Err(format!(
                "gate {expr:?}: window rules apply to the SLO metrics only ({}); {} is judged over the whole scenario",
                MetricKey::ALL.iter().map(|k| k.id()).collect::<Vec<_>>().join(", "),
                gate.series.id()
            ));
        }
        Ok(gate)
    }
}

impl Serialize for Gate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.spec == (GateTable { gate: self.spec.gate.clone(), ..GateTable::default() }) {
            s.serialize_str(&self.spec.gate)
        } else {
            self.spec.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Gate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Gate, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Gate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a gate expression or a table with `gate` and window rules")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Gate, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Gate, A::Error> {
                let t = GateTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Gate::try_from(t).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Gate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Gate".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        GateSpec::json_schema(g)
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
    /// The expression with its options.
    pub gate: String,
    /// The gate as written, so a merge can decide it again on joined data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<GateTable>,
    /// The series judged.
    #[serde(default)]
    pub series: String,
    /// The SLO metric judged, for the six playbook metrics.
    #[serde(default)]
    pub metric: Option<MetricKey>,
    pub verdict: Verdict,
    /// Reported, never part of the scenario's verdict.
    #[serde(default)]
    pub advisory: bool,
    /// The threshold applied (for a relative gate: computed from the baseline).
    pub threshold: Option<f64>,
    /// The value judged (the whole scenario, or the last judged window).
    pub value: Option<f64>,
    /// Samples behind the value (whole scenario) or in the judged windows.
    #[serde(default)]
    pub samples: u64,
    /// The baseline run's value of the same series (relative gates).
    #[serde(default)]
    pub baseline: Option<f64>,
    /// The whole scenario's value minus the baseline's.
    #[serde(default)]
    pub delta: Option<f64>,
    /// The judged windows' values, oldest first, the last 64 (empty for a whole-scenario gate).
    pub window_values: Vec<f64>,
    /// How the windows were counted (windowed gates).
    #[serde(default)]
    pub windows: Option<WindowCounts>,
    #[serde(default)]
    pub breach: Option<Breach>,
    #[serde(default)]
    pub undecided: Option<Undecided>,
    /// Where the deciding streak began, in ms from the scenario's start (a pass).
    pub decided_from_ms: Option<f64>,
    /// Where the deciding streak ended (a pass with `pass_after`).
    #[serde(default)]
    pub decided_until_ms: Option<f64>,
    pub detail: String,
}

pub fn fmt(v: f64) -> String {
    if v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.4}") }
}

/// A difference with its sign, and as a percentage of `base` when that is not zero.
pub fn delta_text(d: f64, base: f64) -> String {
    let sign = if d >= 0.0 { "+" } else { "" };
    let pct = if base != 0.0 { format!(" ({:+.1}%)", d / base.abs() * 100.0) } else { String::new() };
    format!("{sign}{}{pct}", fmt(d))
}

/// Windows' values kept in a verdict.
const KEPT_WINDOWS: usize = 64;

impl Gate {
    /// Judges the gate on what a scenario recorded; `baseline` is the baseline run's record of the
    /// same scenario, or why there is none to compare with.
    pub fn evaluate(&self, src: &Source<'_>, baseline: Result<&Source<'_>, &str>) -> GateVerdict {
        let whole = self.series.whole(src);
        let base = baseline.ok().and_then(|b| self.series.whole(b)).map(|(v, _)| v);
        let mut v = GateVerdict {
            gate: self.label(),
            spec: Some(self.spec.clone()),
            series: self.series.id(),
            metric: match self.series {
                Series::Slo(k) => Some(k),
                _ => None,
            },
            verdict: Verdict::Inconclusive,
            advisory: self.advisory(),
            threshold: None,
            value: whole.map(|(x, _)| x),
            samples: whole.map_or(0, |(_, n)| n),
            baseline: base,
            delta: base.zip(whole).map(|(b, (x, _))| x - b),
            window_values: Vec::new(),
            windows: None,
            breach: None,
            undecided: None,
            decided_from_ms: None,
            decided_until_ms: None,
            detail: String::new(),
        };
        let id = self.series.id();
        let limit = match self.threshold {
            Threshold::Fixed(t) => t,
            Threshold::Baseline { factor, offset } => match base {
                Some(b) => b * factor + offset,
                None => {
                    v.undecided = Some(Undecided::NoBaseline);
                    v.detail = match baseline {
                        Ok(_) => format!("the baseline run has no value of {id}: a relative gate cannot be judged"),
                        Err(why) => format!("{why}: a relative gate cannot be judged"),
                    };
                    return v;
                }
            },
        };
        v.threshold = Some(limit);
        let versus = base.map_or(String::new(), |b| {
            let d = delta_text(v.delta.unwrap_or(0.0), b);
            format!("; baseline {}, threshold {}, delta {d}", fmt(b), fmt(limit))
        });
        if !self.windowed() {
            let min = self.spec.min_samples.unwrap_or(0);
            match whole {
                None => {
                    v.undecided = Some(Undecided::NoData);
                    v.detail = format!("no data for {id}{versus}");
                }
                Some((x, n)) => {
                    v.detail = format!("{id} = {} over {n} sample(s){versus}", fmt(x));
                    if !self.op.holds(x, limit) {
                        (v.verdict, v.breach) = (Verdict::Fail, Some(Breach::Threshold));
                    } else if n < min {
                        v.undecided = Some(Undecided::TooFewSamples);
                        v.detail.push_str(&format!("; {min} needed"));
                    } else {
                        v.verdict = Verdict::Pass;
                    }
                }
            }
            return v;
        }
        let min_window = self.spec.min_window_samples.unwrap_or(0);
        let mut values = Vec::new();
        let marks: Vec<(Mark, u64)> = src
            .windows
            .iter()
            .map(|w| match self.series.in_window(w) {
                None => (Mark::NoData, 0),
                Some((_, n)) if n < min_window => (Mark::Thin, n),
                Some((x, n)) => {
                    values.push(x);
                    (if self.op.holds(x, limit) { Mark::Good } else { Mark::Bad }, n)
                }
            })
            .collect();
        let rules = judge::Rules {
            failure_limit: self.spec.failure_limit,
            fail_after: self.spec.fail_after,
            pass_after: self.pass_after,
            min_samples: self.spec.min_samples.unwrap_or(0),
        };
        let (decision, counts) = judge::decide(&marks, rules);
        v.value = values.last().copied();
        v.samples = counts.samples;
        v.window_values = values[values.len().saturating_sub(KEPT_WINDOWS)..].to_vec();
        v.windows = Some(counts);
        let shown: Vec<String> = v.window_values.iter().rev().take(8).rev().map(|x| fmt(*x)).collect();
        v.detail = format!(
            "{} good, {} bad, {} without data, {} thin window(s); longest bad run {}; {} sample(s); last judged [{}]{versus}",
            counts.good,
            counts.bad,
            counts.no_data,
            counts.thin,
            counts.longest_bad_run,
            counts.samples,
            shown.join(", ")
        );
        match decision {
            Decision::Pass { from } => {
                v.verdict = Verdict::Pass;
                v.decided_from_ms = src.windows.get(from).map(|w| w.start_ms);
                if self.pass_after.is_some() {
                    let last = marks.iter().rposition(|(m, _)| matches!(m, Mark::Good));
                    v.decided_until_ms = last.and_then(|i| src.windows.get(i)).map(|w| w.end_ms);
                }
            }
            Decision::Fail { breach, at } => {
                (v.verdict, v.breach) = (Verdict::Fail, Some(breach));
                let at_ms = src.windows.get(at).map_or(0.0, |w| w.start_ms);
                v.detail.push_str(&format!(
                    "; {} at the window from {at_ms:.0} ms",
                    breach_text(breach, &self.spec, self.pass_after)
                ));
            }
            Decision::Inconclusive(why) => {
                v.undecided = Some(why);
                if why == Undecided::TooFewWindows {
                    v.detail.push_str(&format!("; {} judged window(s) needed", self.pass_after.unwrap_or(0)));
                }
                if why == Undecided::TooFewSamples {
                    v.detail.push_str(&format!("; {} sample(s) needed", rules.min_samples));
                }
            }
        }
        v
    }
}

fn breach_text(b: Breach, s: &GateTable, pass_after: Option<u32>) -> String {
    match b {
        Breach::FailureBudget => format!("failure budget of {} window(s) exceeded", s.failure_limit.unwrap_or(0)),
        Breach::ConsecutiveBad => format!("{} failing window(s) in a row", s.fail_after.unwrap_or(0)),
        Breach::NotRecovered => format!("the last {} judged window(s) did not all hold", pass_after.unwrap_or(0)),
        Breach::Threshold => "threshold breached".into(),
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
