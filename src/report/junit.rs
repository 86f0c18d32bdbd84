//! `junit.xml`: one testsuite per scenario, one testcase per check (step checks, expected
//! outcome, gates, external channels); failures carry the failure mode and the decisive numbers.
//! Written with the `junit-report` crate, which writes control and ANSI characters raw: every
//! string is sanitised here first, and timestamps are set explicitly from the trace.

use std::time::SystemTime;

use time::Duration;

use junit_report::{Report, TestCase, TestSuite};

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

fn ms(v: f64) -> Duration {
    Duration::seconds_f64((v / 1000.0).max(0.0))
}

fn case_ok(name: &str, t: Duration) -> TestCase {
    TestCase::success(&sanitize(name), t)
}

fn case_fail(name: &str, t: Duration, kind: &str, message: &str) -> TestCase {
    TestCase::failure(&sanitize(name), t, &sanitize(kind), &sanitize(message))
}

fn suite(meta: &RunMeta, r: &ScenarioReport) -> TestSuite {
    let mut suite = TestSuite::new(&sanitize(&r.name));
    let started = humantime::parse_rfc3339_weak(&r.started_at).unwrap_or(SystemTime::UNIX_EPOCH);
    suite.set_timestamp(time::OffsetDateTime::from(started));
    suite.set_system_out(&sanitize(&format!(
        "run {} target {} seed {} playbook {} file {}",
        meta.run_id,
        meta.target,
        r.seed,
        id(&r.playbook),
        r.file.display()
    )));
    let mut cases = Vec::new();
    if let Some(why) = &r.skipped {
        cases.push(TestCase::skipped_with_cause(&sanitize(&r.name), "skipped", &sanitize(why)));
    }
    if let Some(e) = &r.error {
        cases.push(TestCase::error("setup", ms(r.duration_ms), "setup_error", &sanitize(e)));
    }
    for s in &r.steps {
        let t = ms(s.duration_ms);
        if let Some(why) = &s.skipped {
            cases.push(TestCase::skipped_with_cause(
                &sanitize(&format!("step {:02} {}", s.index + 1, s.kind)),
                "skipped",
                &sanitize(why),
            ));
            continue;
        }
        for c in &s.checks {
            let name = format!("step {:02} {}: {}", s.index + 1, s.kind, c.name);
            cases.push(if c.passed {
                case_ok(&name, t)
            } else {
                case_fail(&name, t, "check", &format!("expected {}, got {}", c.expected, c.actual))
            });
        }
    }
    for c in &r.channels {
        let name = format!("external channel {} ({})", c.channel, c.connector_id);
        let t = ms(c.duration_ms);
        cases.push(match c.failure_mode {
            None => case_ok(&name, t),
            Some(m) if r.expect.failure_modes.contains(&m) => case_ok(&format!("{name}: drilled {}", m.id()), t),
            Some(m) => case_fail(
                &name,
                t,
                m.id(),
                &format!(
                    "failureMode {}; expected session {:?}, resolved {:?}; first action: {}",
                    m.id(),
                    c.expected_external_session_id,
                    c.resolved_external_session_id,
                    m.first_action()
                ),
            ),
        });
    }
    for g in &r.gates {
        let name = format!("gate: {}", g.gate);
        cases.push(match g.verdict {
            Verdict::Pass => case_ok(&name, Duration::ZERO),
            v => case_fail(&name, Duration::ZERO, &format!("gate_{}", id(&v)), &g.detail),
        });
    }
    let expectation: Vec<&String> =
        r.problems.iter().filter(|p| p.starts_with("expected") || p.starts_with("unexpected")).collect();
    let outcome = "expected failure modes and findings";
    cases.push(if expectation.is_empty() {
        case_ok(outcome, Duration::ZERO)
    } else {
        let kind = r.failure_modes.first().map_or("outcome", |m| m.id());
        case_fail(outcome, Duration::ZERO, kind, &expectation.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; "))
    });
    if r.incomplete {
        cases.push(case_fail(
            "complete",
            ms(r.duration_ms),
            "interrupted",
            "the run was interrupted before every step ran",
        ));
    }
    suite.add_testcases(cases);
    suite
}

pub fn render(meta: &RunMeta, reports: &[ScenarioReport]) -> String {
    let mut report = Report::new();
    report.add_testsuites(reports.iter().map(|r| suite(meta, r)));
    let mut buf = Vec::new();
    if report.write_xml(&mut buf).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_ansi_and_control_characters() {
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m ok\u{7}\u{0}\ttab\n"), "red ok\u{FFFD}\u{FFFD}\ttab\n");
        assert_eq!(sanitize("\u{FFFE}"), "\u{FFFD}");
    }
}
