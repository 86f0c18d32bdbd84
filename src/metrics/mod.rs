//! Numbers from a drill (seed 000's SLO metrics and gates): HdrHistograms in microseconds per
//! scenario, step, endpoint and provider, written as standard HdrHistogram interval logs so
//! sharded runs merge exactly; SLO windows with the playbooks' metric keys; gate expressions.
//! Memory is flat in the number of requests: histograms and per-window counters, never samples.

pub mod gate;
pub mod hlog;
pub mod judge;
pub mod series;
pub mod slo;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Counts are 32-bit: a histogram of 1 µs to 1 h at 3 digits has about 23,500 counters, and a
/// drill holds hundreds (a whole-run and a current-window histogram per series, per scenario), so
/// 64-bit counters made them most of the library run's peak memory (74 of 104 MiB of heap, by
/// heaptrack). A counter saturates at about 4.3 billion samples in one bucket.
pub type Hist = Histogram<u32>;

/// Highest latency tracked: one hour, in microseconds; longer values saturate.
const HIGHEST_US: u64 = 3_600_000_000;

/// An empty latency histogram: 1 µs to 1 h at 3 significant digits.
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("constant bounds are valid")
}

/// Records a duration, saturating at the histogram's range.
pub fn record(h: &mut Hist, d: Duration) {
    h.saturating_record((d.as_micros() as u64).clamp(1, HIGHEST_US));
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub count: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(h: &Hist) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
        Summary {
            count: h.len(),
            min_ms: h.min() as f64 / 1000.0,
            mean_ms: h.mean() / 1000.0,
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}

/// One series: its whole-run histogram, the histogram of the window being filled, and the
/// interval-log lines of the windows already closed.
struct Series {
    total: Hist,
    current: Option<(u64, Hist)>,
    intervals: Vec<hlog::Interval>,
}

/// Latency series of one scenario, keyed by tag (`scenario`, `step:03:dry_run`,
/// `endpoint:POST:/api/admin/ai-runtime/dry-run`, `provider:openai:ttft`, ...).
pub struct LatencyBook {
    start: Instant,
    window: Duration,
    series: BTreeMap<String, Series>,
}

impl LatencyBook {
    pub fn new(start: Instant, window: Duration) -> Self {
        LatencyBook { start, window: window.max(Duration::from_millis(1)), series: BTreeMap::new() }
    }

    fn window_of(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.start).as_nanos() / self.window.as_nanos()) as u64
    }

    /// Records `value` under `tag`, in the window holding `at`.
    pub fn record(&mut self, tag: &str, at: Instant, value: Duration) {
        let w = self.window_of(at);
        let window = self.window;
        let s = match self.series.get_mut(tag) {
            Some(s) => s,
            None => self.series.entry(hlog::clean_tag(tag)).or_insert_with(|| Series {
                total: new_hist(),
                current: None,
                intervals: Vec::new(),
            }),
        };
        record(&mut s.total, value);
        match &mut s.current {
            Some((cw, h)) if *cw >= w => record(h, value),
            _ => {
                if let Some((cw, h)) = s.current.take() {
                    s.intervals.extend(hlog::Interval::encode(tag, window * cw as u32, window, &h));
                }
                let mut h = new_hist();
                record(&mut h, value);
                s.current = Some((w, h));
            }
        }
    }

    /// Adds a histogram gathered elsewhere (the providers' side) as one interval over `span`.
    pub fn add_whole(&mut self, tag: &str, h: &Hist, span: Duration) {
        if h.is_empty() {
            return;
        }
        let s = self.series.entry(hlog::clean_tag(tag)).or_insert_with(|| Series {
            total: new_hist(),
            current: None,
            intervals: Vec::new(),
        });
        let _ = s.total.add(h);
        s.intervals.extend(hlog::Interval::encode(tag, Duration::ZERO, span.max(Duration::from_millis(1)), h));
    }

    /// Summary of one tag so far.
    pub fn summary(&self, tag: &str) -> Summary {
        self.series.get(tag).map(|s| Summary::of(&s.total)).unwrap_or_default()
    }

    /// Closes every open window: the per-tag summaries and the interval log's intervals.
    pub fn finish(&mut self) -> (BTreeMap<String, Summary>, Vec<hlog::Interval>) {
        let window = self.window;
        let mut intervals = Vec::new();
        let mut summaries = BTreeMap::new();
        for (tag, s) in &mut self.series {
            if let Some((cw, h)) = s.current.take() {
                s.intervals.extend(hlog::Interval::encode(tag, window * cw as u32, window, &h));
            }
            intervals.append(&mut s.intervals);
            summaries.insert(tag.clone(), Summary::of(&s.total));
        }
        intervals.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.tag.cmp(&b.tag)));
        (summaries, intervals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn windows_close_into_intervals_and_totals_keep_everything() {
        let start = Instant::now();
        let mut book = LatencyBook::new(start, Duration::from_millis(100));
        for i in 0..10u64 {
            book.record("scenario", Instant::now(), Duration::from_millis(i + 1));
            tokio::time::advance(Duration::from_millis(50)).await;
        }
        let (summaries, intervals) = book.finish();
        assert_eq!(summaries["scenario"].count, 10);
        assert_eq!(intervals.len(), 5, "10 records 50 ms apart fill five 100 ms windows");
        let merged = hlog::merge_intervals(&intervals);
        assert_eq!(Summary::of(&merged["scenario"]), summaries["scenario"]);
        assert!((summaries["scenario"].max_ms - 10.0).abs() < 0.01);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(Summary::of(&new_hist()).count, 0);
    }
}
