use std::collections::BTreeMap;

use super::*;
use crate::metrics::series::Attempts;
use crate::metrics::slo::Window;

fn windows(fallback: &[(u64, u64)]) -> Vec<Window> {
    fallback
        .iter()
        .enumerate()
        .map(|(i, (fb, n))| Window {
            index: i as u64,
            start_ms: i as f64 * 100.0,
            end_ms: (i + 1) as f64 * 100.0,
            tasks: *n,
            succeeded: *n,
            model_answered: *n,
            fallbacks: *fb,
            ..Window::default()
        })
        .collect()
}

fn judge(g: &str, w: &[Window], total: &Window) -> GateVerdict {
    let gate: Gate = g.parse().unwrap();
    let (latency, attempts) = (BTreeMap::new(), Attempts::new());
    gate.evaluate(
        &Source {
            windows: w,
            totals: total,
            latency: &latency,
            attempts: &attempts,
            attempts_complete: true,
            findings: 0,
            watch_rules: &Default::default(),
        },
        Err("no baseline"),
    )
}

fn table(toml_text: &str) -> Result<Gate, String> {
    #[derive(serde::Deserialize)]
    struct T {
        g: Gate,
    }
    toml::from_str::<T>(toml_text).map(|t| t.g).map_err(|e| e.to_string())
}

#[test]
fn parses_the_issue_examples() {
    let g: Gate = "p95_response_latency_ms < 1500".parse().unwrap();
    assert_eq!(
        (g.series.clone(), g.op, g.threshold, g.pass_after),
        (Series::Slo(MetricKey::P95ResponseLatencyMs), Op::Lt, Threshold::Fixed(1500.0), None)
    );
    let g: Gate = "model_fallback_rate <= 0.2 for 2 consecutive windows".parse().unwrap();
    assert_eq!(g.pass_after, Some(2));
    let g: Gate = "error_rate < 1%".parse().unwrap();
    assert!(matches!(g.threshold, Threshold::Fixed(t) if (t - 0.01).abs() < 1e-12));
    let g: Gate = "p95_response_latency_ms <= baseline * 1.2".parse().unwrap();
    assert_eq!(g.threshold, Threshold::Baseline { factor: 1.2, offset: 0.0 });
    let g: Gate = "model_fallback_rate <= baseline + 5%".parse().unwrap();
    assert!(matches!(g.threshold, Threshold::Baseline { factor: 1.0, offset } if (offset - 0.05).abs() < 1e-12));
    let g: Gate = "failover_overhead.p95_ms < 300".parse().unwrap();
    assert_eq!(g.series.id(), "failover_overhead.p95_ms");
    // A factor and a noise floor together; exponents are not signs.
    let g: Gate = "p95_response_latency_ms <= baseline * 1.2 + 5".parse().unwrap();
    assert_eq!(g.threshold, Threshold::Baseline { factor: 1.2, offset: 5.0 });
    let g: Gate = "p95_response_latency_ms <= baseline*1e-3-2".parse().unwrap();
    assert_eq!(g.threshold, Threshold::Baseline { factor: 0.001, offset: -2.0 });
    for bad in ["error_rate <= baseline * -1", "error_rate <= baseline * 2 * 3", "error_rate <= baseline + 1 * 2"] {
        assert!(bad.parse::<Gate>().is_err(), "{bad}");
    }
}

#[test]
fn bad_gates_say_what_is_wrong() {
    for (expr, says) in [
        ("fallback < 1", "unknown series"),
        ("error_rate ~ 1", "unknown operator"),
        ("error_rate < lots", "not a number"),
        ("p95_response_latency_ms < 5%", "not a rate"),
        ("error_rate < 1 for 0 consecutive windows", "positive window count"),
        ("error_rate < 1 during 2 consecutive windows", "expected"),
        ("error_rate < baseline / 2", "after `baseline`"),
        ("failover_overhead.p95_ms < 300 for 2 consecutive windows", "window rules apply to the SLO metrics only"),
    ] {
        let e = expr.parse::<Gate>().unwrap_err();
        assert!(e.contains(says), "{expr}: {e}");
    }
    let e = table("g = { gate = \"error_rate < 1%\", failure_limt = 1 }").unwrap_err();
    assert!(e.contains("failure_limt"), "{e}");
    let e = table("g = { gate = \"error_rate < 1% for 2 consecutive windows\", pass_after = 3 }").unwrap_err();
    assert!(e.contains("keep one"), "{e}");
}

#[test]
fn tables_round_trip_and_strings_stay_strings() {
    let g = table("g = { gate = \"error_rate  < 1%\", failure_limit = 1, advisory = true }").unwrap();
    assert_eq!(g.label(), "error_rate < 1% [failure_limit 1, advisory]");
    assert!(g.advisory() && g.windowed());
    let v = serde_json::to_value(&g).unwrap();
    assert_eq!(v["failure_limit"], 1);
    assert_eq!(serde_json::to_value("error_rate < 1%".parse::<Gate>().unwrap()).unwrap(), "error_rate < 1%");
}

#[test]
fn close_criterion_needs_the_last_windows_in_slo() {
    let g = "model_fallback_rate <= 0.2 for 2 consecutive windows";
    let total = Window::default();
    // Outage (all fallback), then two clean windows: closed, from the start of window 2.
    let v = judge(g, &windows(&[(10, 10), (0, 10), (0, 10)]), &total);
    assert_eq!(v.verdict, Verdict::Pass);
    assert_eq!((v.decided_from_ms, v.decided_until_ms), (Some(100.0), Some(300.0)));
    // Still falling back at the end: not closed.
    let v = judge(g, &windows(&[(0, 10), (0, 10), (5, 10)]), &total);
    assert_eq!((v.verdict, v.breach), (Verdict::Fail, Some(Breach::NotRecovered)));
    assert_eq!(v.window_values, [0.0, 0.0, 0.5]);
    // Empty windows are skipped and counted apart; one window of data is not enough.
    let v = judge(g, &windows(&[(0, 0), (0, 10), (0, 0)]), &total);
    assert_eq!((v.verdict, v.undecided), (Verdict::Inconclusive, Some(Undecided::TooFewWindows)));
    assert_eq!(v.windows.map(|c| (c.no_data, c.good)), Some((2, 1)));
}

#[test]
fn budgets_streaks_and_minimum_samples() {
    let total = Window::default();
    let w = windows(&[(0, 10), (5, 10), (0, 10), (5, 10), (0, 3)]);
    let g = |t: &str| {
        let gate = table(&format!("g = {{ gate = \"model_fallback_rate <= 0.2\", {t} }}")).unwrap();
        let (latency, attempts) = (BTreeMap::new(), Attempts::new());
        gate.evaluate(
            &Source {
                windows: &w,
                totals: &total,
                latency: &latency,
                attempts: &attempts,
                attempts_complete: true,
                findings: 0,
                watch_rules: &Default::default(),
            },
            Err("no baseline"),
        )
    };
    assert_eq!(g("failure_limit = 2").verdict, Verdict::Pass);
    let v = g("failure_limit = 1");
    assert_eq!((v.verdict, v.breach), (Verdict::Fail, Some(Breach::FailureBudget)));
    assert!(v.detail.contains("from 300 ms"), "{}", v.detail);
    assert_eq!(g("fail_after = 2").verdict, Verdict::Pass, "the bad windows are not in a row");
    // The last window holds 3 tasks: with a per-window minimum of 5 it is thin, not judged.
    let v = g("failure_limit = 2, min_window_samples = 5");
    assert_eq!(v.windows.map(|c| (c.thin, c.samples)), Some((1, 40)));
    let v = g("failure_limit = 2, min_samples = 100");
    assert_eq!((v.verdict, v.undecided), (Verdict::Inconclusive, Some(Undecided::TooFewSamples)));
}

#[test]
fn whole_scenario_gate_and_no_data() {
    let g = "error_rate < 1%";
    let total = Window { tasks: 200, succeeded: 199, ..Window::default() };
    assert_eq!(judge(g, &[], &total).verdict, Verdict::Pass);
    let total = Window { tasks: 100, succeeded: 98, ..Window::default() };
    assert_eq!(judge(g, &[], &total).verdict, Verdict::Fail);
    assert_eq!(judge(g, &[], &Window::default()).verdict, Verdict::Inconclusive);
    let gate = table("g = { gate = \"error_rate < 1%\", min_samples = 500 }").unwrap();
    let (latency, attempts) = (BTreeMap::new(), Attempts::new());
    let total = Window { tasks: 200, succeeded: 200, ..Window::default() };
    let src = Source {
        windows: &[],
        totals: &total,
        latency: &latency,
        attempts: &attempts,
        attempts_complete: true,
        findings: 0,
        watch_rules: &Default::default(),
    };
    assert_eq!(gate.evaluate(&src, Err("no baseline")).undecided, Some(Undecided::TooFewSamples));
}

#[test]
fn relative_gates_need_their_baseline() {
    let gate: Gate = "p95_response_latency_ms <= baseline * 1.2".parse().unwrap();
    let (latency, attempts) = (BTreeMap::new(), Attempts::new());
    let now = Window { tasks: 10, p95_ms: Some(130.0), ..Window::default() };
    let before = Window { tasks: 10, p95_ms: Some(100.0), ..Window::default() };
    let watch_rules = BTreeMap::new();
    let src = |w| Source {
        windows: &[],
        totals: w,
        latency: &latency,
        attempts: &attempts,
        attempts_complete: true,
        findings: 0,
        watch_rules: &watch_rules,
    };
    let v = gate.evaluate(&src(&now), Err("no baseline run"));
    assert_eq!((v.verdict, v.undecided), (Verdict::Inconclusive, Some(Undecided::NoBaseline)));
    let v = gate.evaluate(&src(&now), Ok(&src(&before)));
    assert_eq!((v.verdict, v.threshold, v.delta), (Verdict::Fail, Some(120.0), Some(30.0)));
    assert!(v.detail.contains("+30.0%"), "{}", v.detail);
    let v = gate.evaluate(&src(&before), Ok(&src(&before)));
    assert_eq!(v.verdict, Verdict::Pass);
    // A baseline without the series: inconclusive, never a pass.
    let v = gate.evaluate(&src(&now), Ok(&src(&Window::default())));
    assert_eq!(v.undecided, Some(Undecided::NoBaseline));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// An oracle for a windowed `model_fallback_rate <= t` gate, written from the README's rules:
    /// each window to `G`, `B` or nothing (no tasks, or fewer than the per-window minimum), then
    /// the rules as string tests.
    fn oracle(w: &[(u64, u64)], t: f64, min_window: u64, limit: Option<u32>, fail_after: Option<u32>) -> Verdict {
        let mut judged = String::new();
        let mut samples = 0;
        for (fb, n) in w {
            if *n == 0 || *n < min_window {
                continue;
            }
            samples += n;
            judged.push(if (*fb as f64 / *n as f64) <= t { 'G' } else { 'B' });
        }
        let limit = if limit.is_none() && fail_after.is_none() { Some(0) } else { limit };
        let over_budget = limit.is_some_and(|k| judged.matches('B').count() > k as usize);
        let streak = fail_after.is_some_and(|n| judged.contains(&"B".repeat(n as usize)));
        if over_budget || streak {
            Verdict::Fail
        } else if judged.is_empty() || samples < 20 {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn windowed_verdicts_agree_with_the_oracle(
            raw in proptest::collection::vec((0u64..10, 0u64..10), 0..16),
            tenths in 0u32..=10,
            min_window in 0u64..6,
            limit in proptest::option::of(0u32..4),
            fail_after in proptest::option::of(1u32..4),
        ) {
            // Thresholds a window's rate can equal exactly, so `<=` is told from `<`.
            let t = f64::from(tenths) / 10.0;
            let w: Vec<(u64, u64)> = raw.iter().map(|(fb, n)| ((*fb).min(*n), *n)).collect();
            let mut opts = format!("gate = \"model_fallback_rate <= {t}\", min_window_samples = {min_window}, min_samples = 20");
            if let Some(k) = limit {
                opts.push_str(&format!(", failure_limit = {k}"));
            }
            if let Some(n) = fail_after {
                opts.push_str(&format!(", fail_after = {n}"));
            }
            let gate = table(&format!("g = {{ {opts} }}")).unwrap();
            let (latency, attempts) = (BTreeMap::new(), Attempts::new());
            let windows = windows(&w);
            let total = Window::default();
            let src = Source { windows: &windows, totals: &total, latency: &latency, attempts: &attempts, attempts_complete: true, findings: 0, watch_rules: &Default::default() };
            let v = gate.evaluate(&src, Err("no baseline"));
            prop_assert_eq!(v.verdict, oracle(&w, t, min_window, limit, fail_after), "{:?} {}", w, v.detail);
            let c = v.windows.unwrap();
            prop_assert_eq!(c.no_data, w.iter().filter(|(_, n)| *n == 0).count() as u64);
        }
    }
}

#[test]
fn the_schema_pattern_accepts_what_the_parser_accepts() {
    let schema = serde_json::json!({"type": "string", "pattern": expr_pattern()});
    let v = jsonschema::validator_for(&schema).unwrap();
    for ok in [
        "p95_response_latency_ms < 1500",
        "error_rate < 1%",
        "model_fallback_rate <= 0.2 for 2 consecutive windows",
        "p95_response_latency_ms <= baseline * 1.2",
        "model_fallback_rate <= baseline + 0.05",
        "model_fallback_rate <= baseline",
        "p95_response_latency_ms <= baseline * 1.2 + 5",
        "failover_overhead.p95_ms < 300",
        "provider:openai:attempts.http_error_rate == 1",
        "conduct_findings == 0",
    ] {
        assert!(ok.parse::<Gate>().is_ok(), "{ok}");
        assert!(v.is_valid(&serde_json::json!(ok)), "the schema refuses {ok}");
    }
    for bad in ["fallback < 1", "error_rate ~ 1", "error_rate < lots", "error_rate < 1 for 0 consecutive windows"] {
        assert!(bad.parse::<Gate>().is_err(), "{bad}");
        assert!(!v.is_valid(&serde_json::json!(bad)), "the schema accepts {bad}");
    }
}
