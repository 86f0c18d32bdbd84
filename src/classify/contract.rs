//! The request contract of every fallback attempt (seed 001 playbook A, "verify dry-run now
//! succeeds via fallback provider"), judged from the providers' journal: when a gateway fails
//! over, the request it sends the next provider must be valid for that target. The mocks record what they read of each request
//! ([`RequestContract`]); an attempt that follows a failed attempt on another provider is a
//! fallback attempt, and it breaks the contract when its model id is not served there, its
//! prompt does not fit that model's window, its tools differ from the original request's, the
//! platform refuses its `anthropic-beta` flags, or a thinking-mode target lacks the
//! `reasoning_content` echo. Finding `fallback_request_invalid`, naming the part.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::conduct::{Evidence, Finding};
use crate::mock::journal::{AttemptRecord, Outcome, RequestContract};

/// Which part of a fallback request broke its target's contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "part")]
#[non_exhaustive]
pub enum ContractBreach {
    /// The target provider does not serve the model id (an alias, a retired model).
    ModelNotServed,
    /// The prompt and output limit exceed the target model's window.
    ExceedsWindow,
    /// The declared tools differ from the original request's.
    ToolsChanged { original: Vec<String>, sent: Vec<String> },
    /// The platform refused these `anthropic-beta` flags.
    BetaRejected { flags: Vec<String> },
    /// A thinking-mode target required the assistant's `reasoning_content` back.
    ReasoningEchoMissing,
}

impl ContractBreach {
    pub fn describe(&self) -> String {
        match self {
            ContractBreach::ModelNotServed => "model id not served by the target".into(),
            ContractBreach::ExceedsWindow => "prompt does not fit the target model's window".into(),
            ContractBreach::ToolsChanged { original, sent } => {
                format!("tools changed: the request declared {original:?}, the fallback sent {sent:?}")
            }
            ContractBreach::BetaRejected { flags } => format!("anthropic-beta flags refused: {flags:?}"),
            ContractBreach::ReasoningEchoMissing => "reasoning_content not echoed for a thinking-mode target".into(),
        }
    }
}

/// The breaches of one fallback request, given the original request's contract.
pub fn breaches(sent: &RequestContract, original: Option<&RequestContract>) -> Vec<ContractBreach> {
    let mut out = Vec::new();
    if !sent.model_served {
        out.push(ContractBreach::ModelNotServed);
        // Nothing else was read of a request for a model the provider does not serve.
        return out;
    }
    if !sent.fits_window {
        out.push(ContractBreach::ExceedsWindow);
    }
    if let Some(o) = original.filter(|o| o.model_served) {
        let set = |t: &[String]| t.iter().cloned().collect::<BTreeSet<_>>();
        if set(&o.tools) != set(&sent.tools) {
            out.push(ContractBreach::ToolsChanged { original: o.tools.clone(), sent: sent.tools.clone() });
        }
    }
    if !sent.rejected_betas.is_empty() {
        out.push(ContractBreach::BetaRejected { flags: sent.rejected_betas.clone() });
    }
    if sent.missing_reasoning_echo {
        out.push(ContractBreach::ReasoningEchoMissing);
    }
    out
}

fn failed(r: &AttemptRecord) -> bool {
    !matches!(r.outcome, Outcome::Completed | Outcome::InFlight)
}

/// Fallback attempts in a merged journal (arrival order): an attempt whose predecessor is a
/// failed attempt on another provider that had ended when it arrived. Under concurrent load
/// the pairing is by arrival order, so it is evidence to read, not a proof of one task's walk.
pub fn judge(journal: &[AttemptRecord]) -> Vec<Evidence> {
    let mut out = Vec::new();
    for pair in journal.windows(2) {
        let (prev, r) = (&pair[0], &pair[1]);
        let ended = prev.t_offset_ms + prev.duration_ms.unwrap_or(f64::INFINITY);
        if prev.provider == r.provider || !failed(prev) || r.t_offset_ms < ended {
            continue;
        }
        let Some(sent) = &r.contract else { continue };
        for b in breaches(sent, prev.contract.as_ref()) {
            out.push(Evidence {
                finding: Finding::FallbackRequestInvalid,
                provider: r.provider.clone(),
                detail: format!(
                    "attempt {} after a failure on {} (attempt {}): {}",
                    r.seq,
                    prev.provider,
                    prev.seq,
                    b.describe()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(tools: &[&str]) -> RequestContract {
        RequestContract {
            model_served: true,
            fits_window: true,
            tools: tools.iter().map(|t| t.to_string()).collect(),
            ..RequestContract::default()
        }
    }

    #[test]
    fn each_part_is_named() {
        let o = contract(&["search_docs"]);
        assert!(breaches(&contract(&["search_docs"]), Some(&o)).is_empty());
        let b = breaches(&contract(&[]), Some(&o));
        assert_eq!(b, [ContractBreach::ToolsChanged { original: vec!["search_docs".into()], sent: vec![] }]);
        let mut s = contract(&["search_docs"]);
        s.fits_window = false;
        s.rejected_betas = vec!["context-1m-2025-08-07".into()];
        s.missing_reasoning_echo = true;
        let parts = breaches(&s, Some(&o));
        assert_eq!(parts.len(), 3);
        assert!(parts[1].describe().contains("context-1m-2025-08-07"));
        let unknown = RequestContract::default();
        assert_eq!(breaches(&unknown, Some(&o)), [ContractBreach::ModelNotServed]);
    }

    #[test]
    fn only_fallback_attempts_are_judged() {
        let mut a = AttemptRecord::new("openai");
        a.outcome = Outcome::HttpError;
        a.duration_ms = Some(5.0);
        a.contract = Some(contract(&["search_docs"]));
        let mut b = AttemptRecord::new("anthropic");
        b.t_offset_ms = 6.0;
        b.outcome = Outcome::Completed;
        b.contract = Some(contract(&[]));
        let found = judge(&[a.clone(), b.clone()]);
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("tools changed"), "{}", found[0].detail);
        // A first attempt, or one after a success, is not a fallback.
        a.outcome = Outcome::Completed;
        assert!(judge(&[a, b]).is_empty());
    }
}
