//! `junit.xml`, shaped for the CI tools that read it (GitHub JUnit actions, xunit viewers, test
//! history): one `<testsuite>` per scenario with its properties (seed, target, playbook, failure
//! modes); one `<testcase>` per check with `classname="gatedrill.<scenario>"` and a name that is
//! stable across runs (no session ids) and unique in its suite; failures carry the decisive
//! numbers and the runbook's first action; times are real and sum to the run (a step's time is
//! carried by its first check only). Every string is made legal XML 1.0 first, and escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::RunMeta;
use crate::drill::runner::{ScenarioReport, id};
use crate::metrics::gate::Verdict;

/// Makes a string legal XML 1.0 character data: ANSI escape sequences removed, other control
/// characters (but tab and line breaks) and non-characters replaced.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte; other escapes: ESC + one character.
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        let legal = matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}';
        out.push(if legal { c } else { '\u{FFFD}' });
    }
    out
}

/// Sanitized and escaped for an attribute or text.
fn x(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

enum Outcome {
    Passed,
    Failed {
        kind: String,
        message: String,
    },
    Error {
        kind: String,
        message: String,
    },
    Skipped {
        message: String,
    },
    /// Passed, with a note for the reader (an advisory gate not met).
    Noted {
        message: String,
    },
}

struct Case {
    name: String,
    secs: f64,
    outcome: Outcome,
}

fn case(name: String, ms: f64, outcome: Outcome) -> Case {
    Case { name, secs: (ms / 1000.0).max(0.0), outcome }
}

/// The cases of one scenario, in order.
fn cases(r: &ScenarioReport) -> Vec<Case> {
    let mut out = Vec::new();
    if let Some(why) = &r.skipped {
        out.push(case("scenario".into(), 0.0, Outcome::Skipped { message: why.clone() }));
    }
    if let Some(e) = &r.error {
        out.push(case(
            "setup".into(),
            r.duration_ms,
            Outcome::Error { kind: "setup_error".into(), message: e.clone() },
        ));
    }
    for s in &r.steps {
        let step = format!("step {:02} {}", s.index + 1, s.kind);
        if let Some(why) = &s.skipped {
            out.push(case(step, 0.0, Outcome::Skipped { message: why.clone() }));
            continue;
        }
        for (i, c) in s.checks.iter().enumerate() {
            let ms = if i == 0 { s.duration_ms } else { 0.0 };
            let outcome = if c.passed {
                Outcome::Passed
            } else {
                Outcome::Failed { kind: "check".into(), message: format!("expected {}, got {}", c.expected, c.actual) }
            };
            out.push(case(format!("{step}: {}", c.name), ms, outcome));
        }
    }
    // A channel's time is inside its step's: its case carries none.
    for c in &r.channels {
        let name = format!("external channel {} ({})", c.channel, c.connector_id);
        let outcome = match c.failure_mode {
            None => Outcome::Passed,
            Some(_) if c.drilled() => Outcome::Passed,
            Some(m) => Outcome::Failed {
                kind: m.id().into(),
                message: format!(
                    "failureMode {}; expected session {:?}, resolved {:?}; first action: {}; escalate to {}",
                    m.id(),
                    c.expected_external_session_id,
                    c.resolved_external_session_id.as_deref().unwrap_or("none"),
                    m.first_action(),
                    m.escalate_to()
                ),
            },
        };
        out.push(case(name, 0.0, outcome));
    }
    // An inconclusive gate is a skipped case with its reason: neither passed nor failed. An
    // advisory gate never fails a case: what it found is noted on a passed one.
    for g in &r.gates {
        let outcome = match (g.verdict, g.advisory) {
            (Verdict::Pass, _) => Outcome::Passed,
            (v, true) => Outcome::Noted { message: format!("advisory gate {}: {}", id(&v), g.detail) },
            (Verdict::Inconclusive, false) => Outcome::Skipped { message: format!("inconclusive: {}", g.detail) },
            (v, false) => Outcome::Failed { kind: format!("gate_{}", id(&v)), message: g.detail.clone() },
        };
        out.push(case(format!("gate {}", g.gate), 0.0, outcome));
    }
    let expectation: Vec<String> = r.problems.iter().filter(|p| p.is_expectation()).map(|p| p.to_string()).collect();
    let outcome = if expectation.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed { kind: "outcome".into(), message: expectation.join("; ") }
    };
    out.push(case("expected failure modes and findings".into(), 0.0, outcome));
    for p in
        r.problems.iter().filter(|p| !p.is_expectation() && !matches!(p, crate::drill::problem::Problem::Gate { .. }))
    {
        out.push(case(p.id().into(), 0.0, Outcome::Error { kind: p.id().into(), message: p.to_string() }));
    }
    unique(&mut out);
    out
}

/// Makes names unique in a suite: a repeated name gets ` #2`, ` #3`, ...
fn unique(cases: &mut [Case]) {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for c in cases {
        let n = seen.entry(c.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.name = format!("{} #{n}", c.name);
        }
    }
}

fn suite(out: &mut String, meta: &RunMeta, r: &ScenarioReport) -> (usize, usize, usize, usize, f64) {
    let cases = cases(r);
    let count = |f: fn(&Outcome) -> bool| cases.iter().filter(|c| f(&c.outcome)).count();
    let failures = count(|o| matches!(o, Outcome::Failed { .. }));
    let errors = count(|o| matches!(o, Outcome::Error { .. }));
    let skipped = count(|o| matches!(o, Outcome::Skipped { .. }));
    let secs: f64 = cases.iter().map(|c| c.secs).sum();
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{secs:.3}" timestamp="{}">"#,
        x(&r.name),
        cases.len(),
        x(r.started_at.trim_end_matches('Z')),
    );
    let modes: Vec<&str> = r.failure_modes.iter().map(|m| m.id()).collect();
    let gates = |f: fn(&crate::metrics::gate::GateVerdict) -> bool| {
        r.gates.iter().filter(|g| f(g)).map(|g| g.gate.clone()).collect::<Vec<_>>().join("; ")
    };
    let properties = [
        ("seed", r.seed.to_string()),
        ("target", meta.target.clone()),
        ("playbook", id(&r.playbook)),
        ("verdict", r.verdict().as_str().to_string()),
        ("failure_modes", modes.join(",")),
        ("file", r.file.display().to_string()),
        ("run_id", meta.run_id.clone()),
        ("inconclusive_gates", gates(|g| !g.advisory && g.verdict == Verdict::Inconclusive)),
        ("advisory_gates_not_met", gates(|g| g.advisory && g.verdict != Verdict::Pass)),
    ];
    out.push_str("    <properties>\n");
    for (k, v) in properties {
        let _ = writeln!(out, r#"      <property name="{k}" value="{}"/>"#, x(&v));
    }
    out.push_str("    </properties>\n");
    let classname = format!("gatedrill.{}", r.name);
    for c in &cases {
        let head = format!(r#"    <testcase classname="{}" name="{}" time="{:.3}""#, x(&classname), x(&c.name), c.secs);
        match &c.outcome {
            Outcome::Passed => {
                let _ = writeln!(out, "{head}/>");
            }
            Outcome::Noted { message } => {
                let _ = writeln!(out, "{head}>\n      <system-out>{}</system-out>\n    </testcase>", x(message));
            }
            Outcome::Failed { kind, message } | Outcome::Error { kind, message } => {
                let tag = if matches!(c.outcome, Outcome::Failed { .. }) { "failure" } else { "error" };
                let _ = writeln!(
                    out,
                    "{head}>\n      <{tag} type=\"{}\" message=\"{}\">{}</{tag}>\n    </testcase>",
                    x(kind),
                    x(message),
                    x(message)
                );
            }
            Outcome::Skipped { message } => {
                let _ = writeln!(out, "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>", x(message));
            }
        }
    }
    let _ = writeln!(out, "  </testsuite>");
    (cases.len(), failures, errors, skipped, secs)
}

pub fn render(meta: &RunMeta, reports: &[ScenarioReport]) -> String {
    let mut body = String::new();
    let mut totals = (0, 0, 0, 0, 0.0);
    for r in reports {
        let t = suite(&mut body, meta, r);
        totals = (totals.0 + t.0, totals.1 + t.1, totals.2 + t.2, totals.3 + t.3, totals.4 + t.4);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"gatedrill\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n{body}</testsuites>\n",
        totals.0, totals.1, totals.2, totals.3, totals.4
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_ansi_and_control_characters() {
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m ok\u{7}\u{0}\ttab\n"), "red ok\u{FFFD}\u{FFFD}\ttab\n");
        assert_eq!(sanitize("\u{FFFE}"), "\u{FFFD}");
        assert_eq!(x("a\"<&>'\n"), "a&quot;&lt;&amp;&gt;&apos;&#10;");
    }

    #[test]
    fn repeated_names_become_unique() {
        let mut c = vec![
            case("a".into(), 0.0, Outcome::Passed),
            case("a".into(), 0.0, Outcome::Passed),
            case("b".into(), 0.0, Outcome::Passed),
            case("a".into(), 0.0, Outcome::Passed),
        ];
        unique(&mut c);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "a #2", "b", "a #3"]);
    }
}
