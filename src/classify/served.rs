//! Judging a dry-run's report against what the providers saw while it ran (seed 001 playbook A,
//! "verify dry-run now succeeds via fallback provider"): a provider reported as serving whose
//! stream broke, a role that failed while a chain member was never tried and not excused, and
//! the failover overhead (from the first failed attempt's end to the fallback's first token).

use std::time::Duration;

use super::conduct::{Evidence, Finding};
use crate::mock::journal::{AttemptRecord, Outcome};
use crate::wire::runtime::DryRunAnswer;

/// What one dry-run's judgement found.
#[derive(Debug, Default)]
pub struct Judged {
    pub findings: Vec<Evidence>,
    pub failover_overhead: Option<Duration>,
}

fn broken_stream(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::StreamCut
            | Outcome::StreamTruncated
            | Outcome::StreamMalformed
            | Outcome::StreamErrorEvent
            | Outcome::StreamStalled
    )
}

/// `window`: the journal's records since the dry-run was sent; `chain`: the role's providers as
/// profiles show them (needed only when the dry-run failed).
pub fn judge_dry_run(window: &[AttemptRecord], report: &DryRunAnswer, role: &str, chain: &[String]) -> Judged {
    let mut out = Judged::default();
    if let Some(p) = report.served_by.as_deref() {
        let last = window.iter().rev().find(|r| r.provider == p);
        let first_failure = window.iter().find(|r| r.outcome != Outcome::Completed && r.provider != p);
        if report.fallback_used == Some(true)
            && let (Some(f), Some(ok)) = (first_failure, last)
            && let Some(first_byte) = ok.first_token_ms.or(ok.duration_ms)
        {
            let failed_at = f.t_offset_ms + f.duration_ms.unwrap_or(0.0);
            let overhead = ok.t_offset_ms + first_byte - failed_at;
            if overhead.is_finite() && overhead >= 0.0 {
                out.failover_overhead = Duration::try_from_secs_f64(overhead / 1000.0).ok();
            }
        }
        if let Some(r) = last
            && broken_stream(r.outcome)
        {
            out.findings.push(Evidence {
                finding: Finding::TruncatedSuccessAccepted,
                provider: p.into(),
                detail: format!("reported as served while attempt {} ended {}", r.seq, crate::wire::id_of(&r.outcome)),
            });
        }
    }
    if report.failed {
        for p in chain.iter().filter(|p| !window.iter().any(|r| &r.provider == *p) && !report.skipped_with_reason(p)) {
            out.findings.push(Evidence {
                finding: Finding::FailoverSkipped,
                provider: p.clone(),
                detail: format!("the {role} request failed without trying {p}"),
            });
        }
    }
    out
}
