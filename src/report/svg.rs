//! The report's two plots, drawn as plain SVG (no fonts to load, nothing fetched, the same bytes
//! every time): an HdrHistogram-style percentile distribution with a log x-axis, and a timeline
//! of fault phases against success rate and p95 per SLO window.

use std::fmt::Write;

use crate::metrics::Hist;
use crate::metrics::slo::{MetricKey, Window};

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 64.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 48.0;
const COLOURS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" font-family="sans-serif" font-size="11"><title>{}</title><rect width="{W}" height="{H}" fill="white"/>"#,
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

/// Success rate (left axis) and p95 (right axis) per window, with fault phases marked.
pub fn timeline_plot(title: &str, windows: &[Window], phases: &[(f64, String)], end_ms: f64) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let tmax = end_ms.max(windows.last().map_or(0.0, |w| w.end_ms)).max(1.0);
    let pmax = nice_max(windows.iter().filter_map(|w| w.p95_ms).fold(0.0, f64::max));
    let x = |t: f64| LEFT + (t / tmax).clamp(0.0, 1.0) * pw;
    let y = |frac: f64| TOP + ph - frac.clamp(0.0, 1.0) * ph;
    let _ = write!(out, r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>"##);
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#2ca02c">{:.0}%</text><text x="{:.1}" y="{:.1}" fill="#d62728">{}</text>"##,
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
        let t = tmax * i as f64 / 5.0;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.1}s</text>"#,
            x(t),
            TOP + ph + 16.0,
            t / 1000.0
        );
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since the scenario started</text><text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" fill="#2ca02c">success rate</text><text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="#d62728">p95 (ms)</text>"##,
        LEFT + pw / 2.0,
        H - 8.0,
        TOP + ph / 2.0,
        W - 12.0,
        TOP + ph / 2.0
    );
    for (i, (t, what)) in phases.iter().enumerate() {
        let xi = x(*t);
        let _ = write!(
            out,
            r##"<line x1="{xi:.1}" y1="{TOP}" x2="{xi:.1}" y2="{:.1}" stroke="#ff7f0e" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" fill="#b35900">{}</text>"##,
            TOP + ph,
            xi + 3.0,
            TOP + 12.0 + 12.0 * (i % 4) as f64,
            esc(&what.chars().take(60).collect::<String>())
        );
    }
    let with_data: Vec<&Window> = windows.iter().filter(|w| w.tasks > 0).collect();
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
    let success = line(&|w| w.value(MetricKey::ToolSuccessRate));
    let p95 = line(&|w| w.p95_ms.map(|p| p / pmax));
    for (pts, c) in [(success, "#2ca02c"), (p95, "#d62728")] {
        let _ = write!(out, r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>"#);
        for p in pts.split(' ').filter(|p| !p.is_empty()) {
            if let Some((px, py)) = p.split_once(',') {
                let _ = write!(out, r#"<circle cx="{px}" cy="{py}" r="2.5" fill="{c}"/>"#);
            }
        }
    }
    out.push_str("</svg>");
    out
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
        let svg = timeline_plot("t", &[w], &[(50.0, "fault <x>".into())], 200.0);
        assert!(svg.contains("fault &lt;x&gt;") && svg.contains("circle"));
        assert!(percentile_plot("empty", &[]).contains("no latency recorded"));
    }
}
