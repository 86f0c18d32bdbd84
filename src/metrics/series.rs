//! The series a gate can judge (DESIGN.md "The parts and how data flows", metrics): the six SLO
//! metric keys of seed 000, per window and over the whole scenario; any recorded latency histogram
//! with a statistic (`failover_overhead.p95_ms`, `provider:openai:ttft.p99_ms`,
//! `provider:anthropic:itl.max_ms`); each provider's attempts by outcome as rates of its attempts
//! (`provider:openai:attempts.http_error_rate`, `.failed_rate`, `.count`), counted from the whole
//! journal, not the sample a trace keeps; and the number of conduct findings (`conduct_findings`).
//! This module is the one definition of their names: the parser, `validate`'s list of known series
//! and the scenario schema's pattern all come from it.

use std::collections::BTreeMap;

use super::Summary;
use super::slo::{MetricKey, Window};
use crate::mock::journal::Outcome;

/// Statistics of a latency histogram, in milliseconds (`count` in samples).
pub const LATENCY_STATS: [&str; 9] =
    ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "min_ms", "mean_ms", "max_ms", "count"];

/// Histogram families a scenario records beside its steps' and loads' series.
pub const HISTOGRAMS: [&str; 2] = ["scenario", "failover_overhead"];
/// Per-provider histograms from the providers' side.
pub const PROVIDER_HISTOGRAMS: [&str; 3] = ["attempt", "ttft", "itl"];
/// The number of conduct findings in a scenario.
pub const CONDUCT_FINDINGS: &str = "conduct_findings";
/// Attempt outcomes a rate may name, beside `failed` (every outcome but `completed`).
pub const ATTEMPT_OUTCOMES: [Outcome; 14] = [
    Outcome::InFlight,
    Outcome::Completed,
    Outcome::HttpError,
    Outcome::StreamCut,
    Outcome::StreamTruncated,
    Outcome::StreamMalformed,
    Outcome::StreamStalled,
    Outcome::StreamErrorEvent,
    Outcome::ConnectionReset,
    Outcome::ConnectionClosed,
    Outcome::GarbageResponse,
    Outcome::NoResponse,
    Outcome::Refused,
    Outcome::ClientDisconnected,
];

/// Attempts per provider, by outcome id.
pub type Attempts = BTreeMap<String, BTreeMap<String, u64>>;

/// One judged series.
#[derive(Clone, Debug, PartialEq)]
pub enum Series {
    Slo(MetricKey),
    /// `<tag>.<stat>` of a latency histogram.
    Latency {
        tag: String,
        stat: &'static str,
    },
    /// `provider:<name>:attempts.<outcome>_rate`, `.failed_rate` or `.count`.
    Attempts {
        provider: String,
        stat: AttemptStat,
    },
    ConductFindings,
    /// `watch:<rule>.not_clear`: how many of the scenario's watches did not find the runbook
    /// rule clear (tripped, still holding, or never observed).
    WatchRule {
        rule: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum AttemptStat {
    Count,
    Failed,
    Rate(String),
}

/// What a finished scenario recorded, for judging any series.
pub struct Source<'a> {
    pub windows: &'a [Window],
    pub totals: &'a Window,
    pub latency: &'a BTreeMap<String, Summary>,
    pub attempts: &'a Attempts,
    /// Whether `attempts` holds every attempt (no journal dropped any).
    pub attempts_complete: bool,
    pub findings: u64,
    /// Per runbook rule a watch decided: (verdicts not clear, verdicts).
    pub watch_rules: &'a BTreeMap<String, (u64, u64)>,
}

fn outcome_id(o: Outcome) -> String {
    serde_json::to_value(o).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

impl Series {
    pub fn parse(s: &str) -> Result<Series, String> {
        if let Some(k) = MetricKey::from_id(s) {
            return Ok(Series::Slo(k));
        }
        if s == CONDUCT_FINDINGS {
            return Ok(Series::ConductFindings);
        }
        let unknown = || format!("unknown series {s:?}; {}", grammar());
        let (tag, stat) = s.rsplit_once('.').ok_or_else(unknown)?;
        if let Some(rule) = tag.strip_prefix("watch:") {
            let known = crate::watch::rules::RuleId::ALL.iter().any(|r| r.id() == rule);
            return if known && stat == "not_clear" {
                Ok(Series::WatchRule { rule: rule.to_string() })
            } else {
                Err(unknown())
            };
        }
        if let Some(provider) = tag.strip_prefix("provider:").and_then(|t| t.strip_suffix(":attempts")) {
            let stat = match stat {
                "count" => AttemptStat::Count,
                "failed_rate" => AttemptStat::Failed,
                other => {
                    let o =
                        other.strip_suffix("_rate").filter(|o| ATTEMPT_OUTCOMES.iter().any(|x| outcome_id(*x) == *o));
                    AttemptStat::Rate(o.ok_or_else(unknown)?.to_string())
                }
            };
            return Ok(Series::Attempts { provider: provider.to_string(), stat });
        }
        let stat = LATENCY_STATS.iter().find(|x| **x == stat).ok_or_else(unknown)?;
        if tag.is_empty() || tag.contains(|c: char| c.is_whitespace() || c == ',') {
            return Err(unknown());
        }
        Ok(Series::Latency { tag: tag.to_string(), stat })
    }

    pub fn id(&self) -> String {
        match self {
            Series::Slo(k) => k.id().into(),
            Series::ConductFindings => CONDUCT_FINDINGS.into(),
            Series::Latency { tag, stat } => format!("{tag}.{stat}"),
            Series::WatchRule { rule } => format!("watch:{rule}.not_clear"),
            Series::Attempts { provider, stat } => format!(
                "provider:{provider}:attempts.{}",
                match stat {
                    AttemptStat::Count => "count".into(),
                    AttemptStat::Failed => "failed_rate".into(),
                    AttemptStat::Rate(o) => format!("{o}_rate"),
                }
            ),
        }
    }

    /// The histogram or attempt tag the series reads, for checking it against a scenario.
    pub fn tag(&self) -> Option<String> {
        match self {
            Series::Latency { tag, .. } => Some(tag.clone()),
            Series::Attempts { provider, .. } => Some(format!("provider:{provider}:attempts")),
            _ => None,
        }
    }

    /// Whether values are fractions (so `1%` means 0.01).
    pub fn is_rate(&self) -> bool {
        match self {
            Series::Slo(k) => k.is_rate(),
            Series::Attempts { stat, .. } => !matches!(stat, AttemptStat::Count),
            _ => false,
        }
    }

    /// Whether the series has a value per SLO window (the six metric keys).
    pub fn windowed(&self) -> bool {
        matches!(self, Series::Slo(_))
    }

    /// The value in one window, with the samples behind it.
    pub fn in_window(&self, w: &Window) -> Option<(f64, u64)> {
        match self {
            Series::Slo(k) => w.value(*k).map(|v| (v, w.samples(*k))),
            _ => None,
        }
    }

    /// The whole scenario's value, with the samples behind it; `None` when nothing was recorded
    /// to compute it from.
    pub fn whole(&self, src: &Source<'_>) -> Option<(f64, u64)> {
        match self {
            Series::Slo(_) => self.in_window(src.totals),
            Series::ConductFindings => Some((src.findings as f64, 1)),
            // No watch decided the rule: nothing to judge, never a pass.
            Series::WatchRule { rule } => src.watch_rules.get(rule).map(|(not_clear, n)| (*not_clear as f64, *n)),
            Series::Latency { tag, stat } => {
                let s = src.latency.get(tag).filter(|s| s.count > 0);
                if *stat == "count" {
                    return Some((s.map_or(0.0, |s| s.count as f64), 1));
                }
                let s = s?;
                let v = match *stat {
                    "p50_ms" => s.p50_ms,
                    "p90_ms" => s.p90_ms,
                    "p95_ms" => s.p95_ms,
                    "p99_ms" => s.p99_ms,
                    "p999_ms" => s.p999_ms,
                    "min_ms" => s.min_ms,
                    "mean_ms" => s.mean_ms,
                    _ => s.max_ms,
                };
                Some((v, s.count))
            }
            // Counts from a journal that dropped attempts are no count: no data, never a pass.
            Series::Attempts { .. } if !src.attempts_complete => None,
            Series::Attempts { provider, stat } => {
                let by = src.attempts.get(provider);
                let total: u64 = by.map_or(0, |m| m.values().sum());
                let n = match stat {
                    AttemptStat::Count => return Some((total as f64, 1)),
                    AttemptStat::Failed => total - by.and_then(|m| m.get("completed")).copied().unwrap_or(0),
                    AttemptStat::Rate(o) => by.and_then(|m| m.get(o)).copied().unwrap_or(0),
                };
                (total > 0).then(|| (n as f64 / total as f64, total))
            }
        }
    }
}

/// The grammar of series names, for error messages.
pub fn grammar() -> String {
    let keys: Vec<&str> = MetricKey::ALL.iter().map(|k| k.id()).collect();
    format!(
        "a series is one of {}, {CONDUCT_FINDINGS}; a latency histogram `<tag>.<stat>` with stat one of {}; `provider:<name>:attempts.<outcome>_rate` (or `.failed_rate`, `.count`); or `watch:<rule>.not_clear` with rule one of {}",
        keys.join(", "),
        LATENCY_STATS.join(", "),
        crate::watch::rules::RuleId::ALL.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
    )
}

/// The regular expression of a series name, for the scenario schema.
pub fn pattern() -> String {
    let keys: Vec<&str> = MetricKey::ALL.iter().map(|k| k.id()).collect();
    let outcomes: Vec<String> = ATTEMPT_OUTCOMES.iter().map(|o| outcome_id(*o)).collect();
    format!(
        "({}|{CONDUCT_FINDINGS}|provider:[^\\s,.]+:attempts\\.(({}|failed)_rate|count)|watch:({})\\.not_clear|[^\\s,]+\\.({}))",
        keys.join("|"),
        outcomes.join("|"),
        crate::watch::rules::RuleId::ALL.iter().map(|r| r.id()).collect::<Vec<_>>().join("|"),
        LATENCY_STATS.join("|")
    )
}

/// The histogram and attempt tags a scenario records, for `validate`: its providers' series, its
/// steps' (`step:NN:<kind>`) and loads' (`load:NN`, `load:NN:corrected`, `load:NN:uncorrected`).
pub fn known_tags(providers: &[&str], steps: &[(usize, &str, bool)]) -> Vec<String> {
    let mut out: Vec<String> = HISTOGRAMS.iter().map(|s| s.to_string()).collect();
    for p in providers {
        out.extend(PROVIDER_HISTOGRAMS.iter().map(|h| format!("provider:{p}:{h}")));
        out.push(format!("provider:{p}:attempts"));
    }
    for (i, kind, load) in steps {
        out.push(format!("step:{:02}:{kind}", i + 1));
        if *load {
            out.push(format!("load:{:02}", i + 1));
            out.push(format!("load:{:02}:corrected", i + 1));
            out.push(format!("load:{:02}:uncorrected", i + 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_schema_pattern() {
        let schema = serde_json::json!({"type": "string", "pattern": format!("^{}$", pattern())});
        let v = jsonschema::validator_for(&schema).unwrap();
        for s in [
            "error_rate",
            "conduct_findings",
            "failover_overhead.p95_ms",
            "provider:openai:ttft.p99_ms",
            "provider:anthropic:attempts.http_error_rate",
            "provider:deepseek:attempts.failed_rate",
            "provider:deepseek:attempts.count",
            "load:02:corrected.max_ms",
        ] {
            let series = Series::parse(s).unwrap();
            assert_eq!(series.id(), s);
            assert!(v.is_valid(&serde_json::json!(s)), "{s} against the schema's pattern");
        }
        for bad in ["latency", "failover_overhead.p42", "provider:x:attempts.sad_rate", ".p95_ms"] {
            let e = Series::parse(bad).unwrap_err();
            assert!(e.contains("unknown series") && e.contains("p95_ms"), "{bad}: {e}");
            assert!(!v.is_valid(&serde_json::json!(bad)), "{bad} passes the schema's pattern");
        }
    }

    #[test]
    fn attempt_rates_count_every_attempt() {
        let mut attempts = Attempts::new();
        attempts.insert("openai".into(), [("completed".to_string(), 3), ("http_error".to_string(), 1)].into());
        let totals = Window::default();
        let latency = BTreeMap::new();
        let watch_rules = BTreeMap::from([("roles_blocked".to_string(), (1u64, 2u64))]);
        let mut src = Source {
            windows: &[],
            totals: &totals,
            latency: &latency,
            attempts: &attempts,
            attempts_complete: true,
            findings: 2,
            watch_rules: &watch_rules,
        };
        let v = |s: &str| Series::parse(s).unwrap().whole(&src);
        assert_eq!(v("watch:roles_blocked.not_clear"), Some((1.0, 2)), "one of two watches not clear");
        assert_eq!(v("watch:session_not_found.not_clear"), None, "no watch decided it: no value");
        assert!(Series::parse("watch:no_such_rule.not_clear").is_err());
        assert!(Series::parse("watch:roles_blocked.p95_ms").is_err());
        assert_eq!(v("provider:openai:attempts.http_error_rate"), Some((0.25, 4)));
        assert_eq!(v("provider:openai:attempts.failed_rate"), Some((0.25, 4)));
        assert_eq!(v("provider:anthropic:attempts.failed_rate"), None, "no attempts: no rate");
        assert_eq!(v("conduct_findings"), Some((2.0, 1)));
        assert_eq!(v("failover_overhead.p95_ms"), None, "never recorded: no data");
        assert_eq!(v("failover_overhead.count"), Some((0.0, 1)));
        src.attempts_complete = false;
        let v = |s: &str| Series::parse(s).unwrap().whole(&src);
        assert_eq!(v("provider:openai:attempts.count"), None, "a journal that dropped attempts counts nothing");
    }
}
