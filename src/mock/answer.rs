//! The successful answer to a request, before any dialect renders it (../shared/WIRE.md "Agent traffic"): its
//! text or tool calls, a reasoning model's reasoning, and where the output limit or a fault cut
//! it. Depends on the seed and the request body only, so a retry gets the same answer.

use std::time::SystemTime;

use super::config::{Dialect, ModelSpec, ProviderSpec};
use super::dialect::{self, ChatRequest, Completion, Finish};
use super::faults::Fault;
use super::tokens;
use crate::rng::DrawKey;

#[allow(clippy::too_many_arguments)]
pub fn build_completion(
    d: Dialect,
    req: &ChatRequest,
    spec: &ProviderSpec,
    model: &ModelSpec,
    prompt: u64,
    body_key: DrawKey,
    id: String,
    fault: Option<&Fault>,
) -> Completion {
    let natural = tokens::natural_length(body_key, model.reply_tokens);
    // A reasoning model thinks first; its reasoning counts against the output limit.
    let thought = if model.reasoning { (natural / 2).max(1) } else { 0 };
    let thought = req.max_tokens.map_or(thought, |m| thought.min(m.saturating_sub(1)));
    let budget = req.max_tokens.map(|m| m - thought);
    let reasoning = tokens::reply_pieces(body_key.with_str("reasoning"), thought, thought);
    let tool_fault = matches!(fault, Some(Fault::ToolCallMalformed | Fault::ToolNameSplit));
    // A tool fault fires only on a tool call, so a request that declares tools gets one.
    let chosen = super::tools::decide(&req.tools, spec.tool_calls, body_key, tool_fault);
    let malformed = matches!(fault, Some(Fault::ToolCallMalformed));
    let mut tool_calls =
        super::tools::plan(&chosen, body_key.with_str("calls"), malformed, |bits| dialect::call_id(d, req.api, bits));
    let (pieces, finish) = if !tool_calls.is_empty() {
        // Arguments cut at the output limit, as a model that ran out of tokens sends them.
        let total: u64 = tool_calls.iter().map(|t| t.fragments.len() as u64).sum();
        match budget {
            Some(max) if max < total => {
                let mut left = max as usize;
                for t in &mut tool_calls {
                    t.fragments.truncate(left);
                    left -= t.fragments.len();
                    t.arguments = t.fragments.concat();
                }
                tool_calls.retain(|t| !t.fragments.is_empty());
                (Vec::new(), Finish::Length)
            }
            _ => (Vec::new(), Finish::ToolCalls),
        }
    } else {
        let (n, finish) = match (fault, budget) {
            (Some(Fault::TruncatedOutput), Some(max)) => (max, Finish::Length),
            (Some(Fault::TruncatedOutput), None) => ((natural / 2).max(1), Finish::Length),
            (_, Some(max)) if max < natural => (max, Finish::Length),
            _ => (natural, Finish::Stop),
        };
        (tokens::reply_pieces(body_key, n, natural), finish)
    };
    Completion {
        api: req.api,
        id,
        created: SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        model: req.model.clone(),
        pieces,
        reasoning,
        tool_calls,
        prompt_tokens: prompt,
        cached_tokens: 0,
        cache_write_tokens: 0,
        finish,
        split_tool_names: matches!(fault, Some(Fault::ToolNameSplit)),
        echo: req.echo.clone(),
    }
}
