//! Load segments joined (`gatedrill run --segment K/N` on N machines, then `gatedrill merge`):
//! each scenario's N parts become one result, decided again on the joined data as one machine
//! would have decided it (DESIGN: runs past one machine). SLO windows add their counts by index
//! and take their p95 from the joined interval log (each window's task histogram is logged as
//! the `slo` series, and HdrHistograms add exactly); every gate is evaluated again on those
//! windows; a step passes only if it passed on every segment; load figures add up. Windows line
//! up as well as the machines' starts do (`--start-at`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::drill::load::LoadReport;
use crate::drill::observe::SLO_SERIES;
use crate::drill::problem::Problem;
use crate::drill::runner::ScenarioReport;
use crate::metrics::gate::{Gate, GateVerdict, Verdict};
use crate::metrics::hlog::Interval;
use crate::metrics::slo::Window;
use crate::metrics::{Hist, Summary, new_hist};
use crate::mock::journal::{AttemptCount, add_count};

/// One segment's result of a scenario with its decoded interval log.
pub struct Part {
    pub report: ScenarioReport,
    pub intervals: Vec<(String, Duration, Duration, Hist)>,
}

fn add_window(into: &mut Window, w: &Window) {
    into.tasks += w.tasks;
    into.succeeded += w.succeeded;
    into.model_answered += w.model_answered;
    into.fallbacks += w.fallbacks;
    into.cost_usd += w.cost_usd;
    into.judge_tasks += w.judge_tasks;
    into.judge_failed += w.judge_failed;
    into.tool_tasks += w.tool_tasks;
    into.tool_calls_ok += w.tool_calls_ok;
    into.end_ms = into.end_ms.max(w.end_ms);
}

fn p95(h: &Hist) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(0.95) as f64 / 1000.0)
}

fn add_load(into: &mut LoadReport, l: &LoadReport) {
    into.sent += l.sent;
    into.errors += l.errors;
    into.answered += l.answered;
    for (k, v) in &l.statuses {
        *into.statuses.entry(k.clone()).or_default() += v;
    }
    into.duration_ms = into.duration_ms.max(l.duration_ms);
    into.requested_rate = match (into.requested_rate, l.requested_rate) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    into.achieved_rate += l.achieved_rate;
    into.planned += l.planned;
    // A breach stopped a segment: the joined load records it (its spared requests included).
    match (&mut into.aborted, &l.aborted) {
        (Some(a), Some(b)) => a.spared += b.spared,
        (None, Some(b)) => into.aborted = Some(b.clone()),
        _ => {}
    }
    into.rss.extend(l.rss.iter().cloned());
}

/// The N segments' results of one scenario (the first, then the others), as one result.
pub fn combine(first: Part, others: Vec<Part>) -> ScenarioReport {
    let mut r = first.report;
    let mut intervals = first.intervals;
    let mut windows: BTreeMap<u64, Window> = r.windows.iter().map(|w| (w.index, w.clone())).collect();
    let mut mix: Vec<AttemptCount> = std::mem::take(&mut r.attempt_mix);
    let mut down: Vec<String> = r.severity.providers_down.clone();
    for p in others {
        let o = p.report;
        intervals.extend(p.intervals);
        for w in &o.windows {
            add_window(windows.entry(w.index).or_insert_with(|| Window { p95_ms: None, ..w.clone() }), w);
        }
        add_window(&mut r.totals, &o.totals);
        for (mine, theirs) in r.steps.iter_mut().zip(&o.steps) {
            mine.passed &= theirs.passed;
            mine.duration_ms = mine.duration_ms.max(theirs.duration_ms);
            mine.checks.extend(theirs.checks.iter().filter(|c| !c.passed).cloned());
        }
        for (mine, theirs) in r.load.iter_mut().zip(&o.load) {
            add_load(mine, theirs);
        }
        r.channels.extend(o.channels);
        r.findings.extend(o.findings);
        for m in o.failure_modes {
            if !r.failure_modes.contains(&m) {
                r.failure_modes.push(m);
            }
        }
        r.problems.extend(o.problems);
        r.requests.extend(o.requests);
        r.journal.extend(o.journal);
        r.receipts.extend(o.receipts);
        r.evidence.extend(o.evidence);
        r.phases.extend(o.phases);
        mix.extend(o.attempt_mix);
        for (provider, outcomes) in o.attempts {
            let into = r.attempts.entry(provider).or_default();
            for (outcome, n) in outcomes {
                *into.entry(outcome).or_default() += n;
            }
        }
        r.attempts_dropped += o.attempts_dropped;
        down.extend(o.severity.providers_down);
        r.requests_dropped.successes += o.requests_dropped.successes;
        r.requests_dropped.failures += o.requests_dropped.failures;
        r.journal_dropped.successes += o.journal_dropped.successes;
        r.journal_dropped.failures += o.journal_dropped.failures;
        r.incomplete |= o.incomplete;
        r.duration_ms = r.duration_ms.max(o.duration_ms);
        r.started_at = r.started_at.clone().min(o.started_at);
        r.error = r.error.or(o.error);
    }
    r.attempt_mix = join_mix(mix);
    // Each window's p95 from the joined `slo` histograms of the same start; the whole's from all.
    let mut slo: BTreeMap<Duration, Hist> = BTreeMap::new();
    let mut all = new_hist();
    let mut by_tag: BTreeMap<String, Hist> = BTreeMap::new();
    for (tag, start, _, h) in &intervals {
        let _ = by_tag.entry(tag.clone()).or_insert_with(new_hist).add(h);
        if tag == SLO_SERIES {
            let _ = slo.entry(*start).or_insert_with(new_hist).add(h);
            let _ = all.add(h);
        }
    }
    let window_len = r.windows.first().map_or(0.0, |w| w.end_ms - w.start_ms);
    for w in windows.values_mut() {
        let start = Duration::from_secs_f64((w.index as f64 * window_len / 1000.0).max(0.0));
        w.p95_ms = slo.get(&start).and_then(p95);
    }
    r.windows = windows.into_values().collect();
    r.totals.p95_ms = p95(&all);
    r.latency = by_tag.iter().map(|(t, h)| (t.clone(), Summary::of(h))).collect();
    // Each load step's latency from its joined series (`load:NN`, or corrected and not).
    let load_steps: Vec<usize> = r.steps.iter().filter(|s| s.kind == "load").map(|s| s.index + 1).collect();
    for (l, n) in r.load.iter_mut().zip(load_steps) {
        l.segment = None;
        let summary = |tag: String| by_tag.get(&tag).map(Summary::of);
        match summary(format!("load:{n:02}:corrected")) {
            Some(corrected) => {
                l.latency = corrected;
                l.uncorrected = summary(format!("load:{n:02}:uncorrected"));
            }
            None => l.latency = summary(format!("load:{n:02}")).unwrap_or_default(),
        }
    }
    r.intervals = intervals.iter().filter_map(|(tag, start, len, h)| Interval::encode(tag, *start, *len, h)).collect();
    r.intervals.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.tag.cmp(&b.tag)));
    // Severity assessed again on the joined windows: a provider is down only if no segment saw
    // it complete an attempt.
    down.sort();
    down.dedup();
    down.retain(|p| r.attempts.get(p).and_then(|o| o.get("completed")).is_none_or(|n| *n == 0));
    r.severity = crate::report::severity::assess(&r.totals, &r.windows, down, r.severity.runbook_minutes);
    redecide(&mut r, true);
    r
}

/// Every gate decided again on the report's own data (`joined`: data the segments' merge just
/// put together, else a shard's unchanged trace). The old gate problems are replaced. A gate a
/// merge cannot decide again is inconclusive on joined data, never a pass: one recorded without
/// its spec, or a relative gate (its baseline run is not part of a merge); on a shard's
/// unchanged data such a gate keeps the verdict it was given on that same data.
pub fn redecide(r: &mut ScenarioReport, joined: bool) {
    r.problems.retain(|p| !matches!(p, Problem::Gate { .. }));
    let mut seen = std::collections::BTreeSet::new();
    r.problems.retain(|p| seen.insert(p.to_string()));
    let old = std::mem::take(&mut r.gates);
    let mut gates = Vec::with_capacity(old.len());
    for v in old {
        let gate = v.spec.clone().map(Gate::try_from);
        gates.push(match gate {
            Some(Ok(g)) if !g.relative() => g.evaluate(&r.source(), Err("a merge has no baseline run")),
            _ if !joined => v,
            Some(Ok(_)) => GateVerdict {
                verdict: Verdict::Inconclusive,
                detail: "a relative gate is decided per run against its baseline; joined segments have none".into(),
                ..v
            },
            Some(Err(e)) => {
                GateVerdict { verdict: Verdict::Inconclusive, detail: format!("not decided again: {e}"), ..v }
            }
            None => GateVerdict {
                verdict: Verdict::Inconclusive,
                detail: "recorded without its spec: cannot be decided again on the joined data".into(),
                ..v
            },
        });
    }
    r.gates = gates;
    for g in r.gates.iter().filter(|g| g.verdict != Verdict::Pass && !g.advisory) {
        r.problems.push(Problem::Gate { gate: g.gate.clone(), verdict: g.verdict, detail: g.detail.clone() });
    }
    r.passed = r.steps.iter().all(|s| s.passed) && r.problems.is_empty() && r.skipped.is_none();
}

fn join_mix(all: Vec<AttemptCount>) -> Vec<AttemptCount> {
    let mut out: Vec<AttemptCount> = Vec::new();
    for c in all {
        add_count(&mut out, c);
    }
    out.sort_by(|a, b| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)));
    out
}
