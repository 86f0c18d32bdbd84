//! The report's two plots, drawn as plain SVG (no fonts to load, nothing fetched, the same bytes
//! every time): an HdrHistogram-style percentile distribution with a log x-axis, and a timeline
//! of fault phases and firings against error rate, fallback rate and p95 per SLO window, with the
//! gates' thresholds drawn. Both scale to the page's width (a viewBox, no fixed size).

use std::fmt::Write;

use crate::metrics::Hist;
use crate::metrics::slo::{MetricKey, Window};

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 64.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 48.0;
const COLOURS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" preserveAspectRatio="xMidYMid meet" role="img" font-family="sans-serif" font-size="11"><title>{}</title><rect width="{W}" height="{H}" fill="white"/>"#,
        esc(title)
    );
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * p).find(|c| *c >= v).unwrap_or(10.0 * p)
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Latency by percentile, x = 1/(1-p) on a log axis from 0% to 99.99%, one line per series.
pub fn percentile_plot(title: &str, series: &[(String, &Hist)]) -> String {
    let series: Vec<&(String, &Hist)> = series.iter().filter(|(_, h)| !h.is_empty()).take(COLOURS.len()).collect();
    let mut out = String::new();
    open(&mut out, title);
    if series.is_empty() {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">no latency recorded</text></svg>"#,
            W / 2.0,
            H / 2.0
        );
        return out;
    }
    let decades = 4.0; // up to 99.99%
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let ymax = nice_max(series.iter().map(|(_, h)| h.value_at_quantile(0.9999) as f64 / 1000.0).fold(0.0, f64::max));
    let x = |inv: f64| LEFT + inv.log10() / decades * pw;
    let y = |ms: f64| TOP + ph - (ms / ymax).min(1.0) * ph;
    // Axes and grid.
    for (i, label) in ["0%", "90%", "99%", "99.9%", "99.99%"].iter().enumerate() {
        let xi = x(10f64.powi(i as i32));
        let _ = write!(
            out,
            r##"<line x1="{xi:.1}" y1="{TOP}" x2="{xi:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xi:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            TOP + ph,
            TOP + ph + 16.0
        );
    }
    for i in 0..=4 {
        let v = ymax * i as f64 / 4.0;
        let yi = y(v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{yi:.1}" x2="{:.1}" y2="{yi:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yi + 4.0,
            fmt_ms(v)
        );
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">latency (ms)</text>"##,
        LEFT + pw / 2.0,
        H - 8.0,
        TOP + ph / 2.0
    );
    for (i, (name, h)) in series.iter().enumerate() {
        let mut pts = String::new();
        for k in 0..=160 {
            let inv = 10f64.powf(decades * k as f64 / 160.0);
            let q = 1.0 - 1.0 / inv;
            let v = h.value_at_quantile(q) as f64 / 1000.0;
            let _ = write!(pts, "{:.1},{:.1} ", x(inv), y(v));
        }
        let c = COLOURS[i];
        let _ = write!(out, r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#, pts.trim_end());
        let ly = TOP + 12.0 + 14.0 * i as f64;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="10" height="3" fill="{c}"/><text x="{:.1}" y="{:.1}">{} (n={}, p99 {} ms)</text>"#,
            LEFT + 8.0,
            ly - 4.0,
            LEFT + 22.0,
            ly,
            esc(name),
            h.len(),
            fmt_ms(h.value_at_quantile(0.99) as f64 / 1000.0)
        );
    }
    out.push_str("</svg>");
    out
}

/// A gate's threshold drawn across the timeline: on the rate axis, or on the latency axis for
/// p95. A gate on a rate the plot does not always draw adds that rate's line.
pub struct Threshold {
    pub label: String,
    pub value: f64,
    pub metric: MetricKey,
}

impl Threshold {
    fn latency(&self) -> bool {
        self.metric == MetricKey::P95ResponseLatencyMs
    }
}

/// What the timeline draws: the SLO windows, the drill's fault phases (from the steps), the
/// faults as the providers fired them (from the journal), and the gates' thresholds.
pub struct Timeline<'a> {
    pub windows: &'a [Window],
    pub phases: &'a [(f64, String)],
    /// (ms since the scenario started, provider) of each attempt a fault rule acted on.
    pub firings: &'a [(f64, String)],
    pub thresholds: &'a [Threshold],
    pub end_ms: f64,
}

const ERR: &str = "#d62728";
const FALLBACK: &str = "#1f77b4";
const P95: &str = "#9467bd";
const FAULT: &str = "#ff7f0e";

/// Error rate and fallback rate (left axis) and p95 (right axis) per window, with the fault
/// phases, each fault firing as a tick under the plot, and the gates' thresholds as dashed lines.
pub fn timeline_plot(title: &str, t: &Timeline) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let tmax = t.end_ms.max(t.windows.last().map_or(0.0, |w| w.end_ms)).max(1.0);
    // The axis fits the data; a latency threshold far above it is labelled at the top edge
    // rather than squashing the line flat.
    let pmax = nice_max(t.windows.iter().filter_map(|w| w.p95_ms).fold(0.0, f64::max) * 1.1);
    let x = |ms: f64| LEFT + (ms / tmax).clamp(0.0, 1.0) * pw;
    let y = |frac: f64| TOP + ph - frac.clamp(0.0, 1.0) * ph;
    let _ = write!(out, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>"##);
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}%</text><text x="{:.1}" y="{:.1}" fill="{P95}">{}</text>"##,
            y(f),
            LEFT + pw,
            y(f),
            LEFT - 6.0,
            y(f) + 4.0,
            f * 100.0,
            LEFT + pw + 6.0,
            y(f) + 4.0,
            fmt_ms(pmax * f)
        );
    }
    for i in 0..=5 {
        let ms = tmax * i as f64 / 5.0;
        let label = if tmax < 2000.0 { format!("{ms:.0}ms") } else { format!("{:.1}s", ms / 1000.0) };
        let _ = write!(out, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, x(ms), TOP + ph + 24.0);
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since the scenario started</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">rate</text><text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="{P95}">p95 (ms)</text>"##,
        LEFT + pw / 2.0,
        H - 6.0,
        TOP + ph / 2.0,
        W - 12.0,
        TOP + ph / 2.0
    );
    for (i, (at, what)) in t.phases.iter().enumerate() {
        let xi = x(*at);
        let _ = write!(
            out,
            r##"<line x1="{xi:.1}" y1="{TOP}" x2="{xi:.1}" y2="{:.1}" stroke="{FAULT}" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#b35900">{}</text>"##,
            TOP + ph,
            xi + 3.0,
            TOP + 12.0 + 12.0 * (i % 4) as f64,
            esc(&what.chars().take(60).collect::<String>())
        );
    }
    firing_ticks(&mut out, t.firings, &x, TOP + ph);
    for l in t.thresholds {
        let frac = if l.latency() { l.value / pmax } else { l.value };
        let (yi, c) = (y(frac), colour(l.metric));
        if frac > 1.0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{c}">{} (above the scale)</text>"#,
                LEFT + pw - 4.0,
                TOP + 12.0,
                esc(&l.label)
            );
            continue;
        }
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{yi:.1}" x2="{:.1}" y2="{yi:.1}" stroke="{c}" stroke-dasharray="2 4" stroke-width="1.5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{c}">{}</text>"##,
            LEFT + pw,
            LEFT + pw - 4.0,
            yi - 3.0,
            esc(&l.label)
        );
    }
    let with_data: Vec<&Window> = t.windows.iter().filter(|w| w.tasks > 0).collect();
    if with_data.is_empty() {
        let _ =
            write!(out, r#"<text x="{}" y="{}" text-anchor="middle">no tasks in any window</text>"#, W / 2.0, H / 2.0);
    }
    let mid = |w: &Window| (w.start_ms + w.end_ms) / 2.0;
    let line = |f: &dyn Fn(&Window) -> Option<f64>| {
        with_data
            .iter()
            .filter_map(|w| f(w).map(|v| format!("{:.1},{:.1}", x(mid(w)), y(v))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut drawn = vec![MetricKey::ErrorRate, MetricKey::ModelFallbackRate, MetricKey::P95ResponseLatencyMs];
    for l in t.thresholds {
        if l.metric.is_rate() && !drawn.contains(&l.metric) {
            drawn.push(l.metric);
        }
    }
    let series: Vec<(&str, String, &str)> = drawn
        .iter()
        .map(|&m| {
            let pts = match m {
                MetricKey::P95ResponseLatencyMs => line(&|w| w.p95_ms.map(|p| p / pmax)),
                _ => line(&|w| w.value(m)),
            };
            (label(m), pts, colour(m))
        })
        .collect();
    let mut at = LEFT + 8.0;
    for (name, pts, c) in &series {
        let _ = write!(out, r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>"#);
        for p in pts.split(' ').filter(|p| !p.is_empty()) {
            if let Some((px, py)) = p.split_once(',') {
                let _ = write!(out, r#"<circle cx="{px}" cy="{py}" r="2.5" fill="{c}"/>"#);
            }
        }
        at = legend(&mut out, at, name, c);
    }
    if !t.firings.is_empty() {
        legend(&mut out, at, &format!("fault fired ({})", t.firings.len()), FAULT);
    }
    out.push_str("</svg>");
    out
}

fn colour(m: MetricKey) -> &'static str {
    match m {
        MetricKey::ErrorRate => ERR,
        MetricKey::ModelFallbackRate => FALLBACK,
        MetricKey::P95ResponseLatencyMs => P95,
        MetricKey::ToolSuccessRate => "#2ca02c",
        _ => "#17becf",
    }
}

fn label(m: MetricKey) -> &'static str {
    match m {
        MetricKey::ErrorRate => "error rate",
        MetricKey::ModelFallbackRate => "fallback rate",
        MetricKey::P95ResponseLatencyMs => "p95 (right axis)",
        MetricKey::ToolSuccessRate => "tool success rate",
        MetricKey::EscalationRate => "escalation rate",
        _ => m.id(),
    }
}

/// One legend entry along the plot's top edge, at `x`; returns where the next one starts.
fn legend(out: &mut String, x: f64, name: &str, colour: &str) -> f64 {
    let _ = write!(
        out,
        r#"<rect x="{x:.1}" y="{:.1}" width="10" height="3" fill="{colour}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
        TOP - 10.0,
        x + 14.0,
        TOP - 6.0,
        esc(name)
    );
    x + 34.0 + 6.5 * name.chars().count() as f64
}

/// Each fault firing as a tick below the plot area, one tick per pixel column however many fired.
fn firing_ticks(out: &mut String, firings: &[(f64, String)], x: &dyn Fn(f64) -> f64, base: f64) {
    let mut columns: Vec<i64> = firings.iter().map(|(ms, _)| x(*ms).round() as i64).collect();
    columns.sort_unstable();
    columns.dedup();
    for cx in columns {
        let _ = write!(
            out,
            r#"<line x1="{cx}" y1="{:.1}" x2="{cx}" y2="{:.1}" stroke="{FAULT}" stroke-width="1.5"/>"#,
            base + 2.0,
            base + 10.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{new_hist, record};

    #[test]
    fn plots_are_well_formed_and_escape_labels() {
        let mut h = new_hist();
        for ms in 1..100 {
            record(&mut h, std::time::Duration::from_millis(ms));
        }
        let svg = percentile_plot("lat <1>", &[("a&b".into(), &h)]);
        assert!(
            svg.starts_with("<svg") && svg.ends_with("</svg>") && svg.contains("a&amp;b") && svg.contains("polyline")
        );
        let w = Window { tasks: 2, succeeded: 1, start_ms: 0.0, end_ms: 100.0, p95_ms: Some(5.0), ..Window::default() };
        let limit = Threshold { label: "p95 <= 4".into(), value: 4.0, metric: MetricKey::P95ResponseLatencyMs };
        let t = Timeline {
            windows: &[w],
            phases: &[(50.0, "fault <x>".into())],
            firings: &[(60.0, "openai".into()), (60.2, "openai".into())],
            thresholds: &[limit],
            end_ms: 200.0,
        };
        let svg = timeline_plot("t", &t);
        assert!(svg.contains("fault &lt;x&gt;") && svg.contains("circle") && svg.contains("p95 &lt;= 4"));
        assert!(svg.contains("fault fired (2)"), "two firings in one pixel column are one tick, counted twice");
        assert!(percentile_plot("empty", &[]).contains("no latency recorded"));
    }
}
