//! The fault catalogue and the shape of a fault rule, shared by TOML fault files
//! (`mocks/faults/*.toml`, `--faults`) and the control API's JSON.
//!
//! A rule says what to inject (`fault`), which requests it concerns (`match`), and when it fires
//! (`times`, `after`, `every_nth`, `from`/`until`, `probability`). Validation runs inside
//! deserialization so a bad rule in a file is reported at its line and column, and a bad rule
//! posted to the control API is answered with the field that is wrong.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::Dur;

/// What a rule injects. Ids are stable snake_case (`kind` in files and JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fault {
    /// An error status in the dialect's error shape.
    HttpError { status: u16 },
    /// 429 with Retry-After (styles drive each branch of the official SDKs' retry logic).
    RateLimit {
        #[serde(default)]
        retry_after: Option<Dur>,
        #[serde(default)]
        retry_after_style: RetryAfterStyle,
    },
    /// Billing/quota refusal that must not be retried: OpenAI `insufficient_quota` 429,
    /// DeepSeek 402, Anthropic 402 `billing_error` (or the spend-limit 429).
    QuotaExhausted {
        #[serde(default)]
        variant: QuotaVariant,
    },
    /// 401 in the dialect's shape, as after a key rotation.
    AuthInvalid,
    /// Anthropic 529 `overloaded_error`; 503 elsewhere.
    Overloaded,
    /// The dialect's context-overflow 400, whatever the prompt size.
    ContextOverflow,
    /// The provider is down.
    Outage { mode: OutageMode },
    /// Read the request, never answer (the connection stays open until the client gives up).
    NoResponse,
    /// Extra wait before the response starts.
    Delay(DelaySpec),
    /// Headers at once, then a wait before the first token (non-streaming: a plain delay).
    SlowFirstToken {
        #[serde(alias = "ms")]
        delay: Dur,
    },
    /// Drop the connection after N events: no terminator, no closing chunk.
    StreamCut { after_events: u32 },
    /// End the body cleanly after N events, without finish reason or `[DONE]`/`message_stop`.
    StreamTruncate { after_events: u32 },
    /// Send a frame of broken JSON after N events, then end.
    StreamMalformed { after_events: u32 },
    /// Stop sending after N events; optionally keep the connection warm with `: keep-alive`.
    StreamStall {
        after_events: u32,
        #[serde(default)]
        keepalive: bool,
        /// How long the stall lasts before the mock closes the connection (default 10 minutes,
        /// as DeepSeek documents).
        #[serde(default)]
        max: Option<Dur>,
    },
    /// An in-band error event after HTTP 200.
    StreamErrorEvent { after_events: u32 },
    /// A complete answer cut at the output limit (`finish_reason: length` / `stop_reason: max_tokens`).
    TruncatedOutput,
    /// A Responses stream that ends in `response.failed` after HTTP 200, after N events (chat
    /// streams, which have no such event, get their in-band error instead).
    ResponseFailed { after_events: u32 },
    /// Tool-call arguments that are not valid JSON. A request that declares tools gets a tool
    /// call even when the model would have answered in words.
    ToolCallMalformed,
    /// Each tool name streamed in two deltas (legal in OpenAI-shaped streams, often mishandled;
    /// Anthropic and Responses streams carry the name whole, so there it only forces a call).
    ToolNameSplit,
    /// The provider answers as for a withdrawn model id (OpenAI 404 `model_not_found` naming
    /// the deprecation, Anthropic 404 `not_found_error`, DeepSeek 400 `Model Not Exist`).
    RetiredModel,
}

impl Fault {
    /// The stable id of this fault's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::HttpError { .. } => "http_error",
            Fault::RateLimit { .. } => "rate_limit",
            Fault::QuotaExhausted { .. } => "quota_exhausted",
            Fault::AuthInvalid => "auth_invalid",
            Fault::Overloaded => "overloaded",
            Fault::ContextOverflow => "context_overflow",
            Fault::Outage { .. } => "outage",
            Fault::NoResponse => "no_response",
            Fault::Delay(_) => "delay",
            Fault::SlowFirstToken { .. } => "slow_first_token",
            Fault::StreamCut { .. } => "stream_cut",
            Fault::StreamTruncate { .. } => "stream_truncate",
            Fault::StreamMalformed { .. } => "stream_malformed",
            Fault::StreamStall { .. } => "stream_stall",
            Fault::StreamErrorEvent { .. } => "stream_error_event",
            Fault::TruncatedOutput => "truncated_output",
            Fault::ResponseFailed { .. } => "response_failed",
            Fault::ToolCallMalformed => "tool_call_malformed",
            Fault::ToolNameSplit => "tool_name_split",
            Fault::RetiredModel => "retired_model",
        }
    }

    /// Latency faults stack with one outcome fault; outcome faults exclude each other.
    pub fn is_latency(&self) -> bool {
        matches!(self, Fault::Delay(_) | Fault::SlowFirstToken { .. })
    }

    /// Faults that only make sense on a streaming request.
    pub fn is_stream_only(&self) -> bool {
        matches!(
            self,
            Fault::StreamCut { .. }
                | Fault::StreamTruncate { .. }
                | Fault::StreamMalformed { .. }
                | Fault::StreamStall { .. }
                | Fault::StreamErrorEvent { .. }
                | Fault::ResponseFailed { .. }
        )
    }

    /// Decided when a connection is accepted, before any byte is read.
    pub fn is_at_accept(&self) -> bool {
        matches!(self, Fault::Outage { mode: OutageMode::Refuse })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterStyle {
    /// `retry-after: <whole seconds, rounded up>` and `retry-after-ms: <ms>`.
    #[default]
    SecondsAndMs,
    /// Only `retry-after: <whole seconds>`.
    Seconds,
    /// Only `retry-after-ms`.
    Ms,
    /// `retry-after: <HTTP-date>`.
    HttpDate,
    /// No retry header at all (clients fall back to exponential backoff).
    None,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaVariant {
    /// OpenAI `insufficient_quota`, DeepSeek 402, Anthropic 402 `billing_error`.
    #[default]
    Billing,
    /// Anthropic 429 with `error.details.error_code = "enforced_spend_limit_reached"`
    /// (the other dialects answer as for `billing`).
    SpendLimit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutageMode {
    /// Reset every connection as it is accepted (zero linger), before reading a byte; a pooled
    /// connection is reset at its next request.
    Refuse,
    /// Read the request, then reset the connection (RST, zero linger).
    Reset,
    /// Read the request, then close the connection cleanly (FIN) without answering.
    Close,
    /// Answer with a garbage status line that is not HTTP.
    Garbage,
    /// 503 in the dialect's error shape.
    #[serde(rename = "http_503")]
    Http503,
}

/// How long a `delay` waits: exactly one of `fixed`, `uniform`, `lognormal`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, try_from = "RawDelay")]
pub struct DelaySpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uniform: Option<UniformDelay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lognormal: Option<LognormalDelay>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UniformDelay {
    pub min: Dur,
    pub max: Dur,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LognormalDelay {
    pub median: Dur,
    pub sigma: f64,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDelay {
    fixed: Option<Dur>,
    uniform: Option<UniformDelay>,
    lognormal: Option<LognormalDelay>,
}

impl TryFrom<RawDelay> for DelaySpec {
    type Error = String;
    fn try_from(r: RawDelay) -> Result<Self, String> {
        let set = [r.fixed.is_some(), r.uniform.is_some(), r.lognormal.is_some()];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err("delay: give exactly one of `fixed`, `uniform` or `lognormal`".into());
        }
        if let Some(u) = &r.uniform
            && u.min > u.max
        {
            return Err("delay.uniform: min must not exceed max".into());
        }
        if let Some(l) = &r.lognormal
            && !(l.sigma.is_finite() && l.sigma >= 0.0)
        {
            return Err("delay.lognormal.sigma: must be a finite number >= 0".into());
        }
        Ok(DelaySpec { fixed: r.fixed, uniform: r.uniform, lognormal: r.lognormal })
    }
}

impl DelaySpec {
    /// Longest single delay the mock will sleep, whatever the distribution draws.
    pub const CAP: std::time::Duration = std::time::Duration::from_secs(600);

    /// The delay for one request, from a uniform `u` and a standard normal `z`.
    pub fn sample(&self, u: f64, z: f64) -> std::time::Duration {
        let d = if let Some(f) = self.fixed {
            f.0
        } else if let Some(r) = &self.uniform {
            r.min.0 + (r.max.0 - r.min.0).mul_f64(u)
        } else if let Some(l) = &self.lognormal {
            l.median.0.mul_f64((l.sigma * z).exp().min(1e6))
        } else {
            std::time::Duration::ZERO
        };
        d.min(Self::CAP)
    }
}

/// Which requests a rule concerns. Absent fields match anything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Value of the `x-gatedrill-test-id` request header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_id: Option<String>,
}

impl Match {
    fn has_request_fields(&self) -> bool {
        self.model.is_some() || self.stream.is_some() || self.path.is_some() || self.test_id.is_some()
    }
}

/// One fault rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, try_from = "RawRule")]
pub struct FaultRule {
    pub id: String,
    pub fault: Fault,
    #[serde(rename = "match", default)]
    pub matcher: Match,
    /// Fire at most this many times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// Let this many matching requests pass before firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// Fire on every nth matching request (after `after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every_nth: Option<u64>,
    /// Window relative to the fleet's start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Dur>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Dur>,
    /// Fire with this probability, drawn from (seed, provider, request index, rule id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Adds `x-should-retry: true|false` to error answers (the official SDKs obey it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub should_retry: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    fault: Fault,
    #[serde(rename = "match", default)]
    matcher: Match,
    times: Option<u64>,
    after: Option<u64>,
    every_nth: Option<u64>,
    from: Option<Dur>,
    until: Option<Dur>,
    probability: Option<f64>,
    should_retry: Option<bool>,
}

impl TryFrom<RawRule> for FaultRule {
    type Error = String;
    fn try_from(r: RawRule) -> Result<Self, String> {
        let id = &r.id;
        if id.is_empty() || id.len() > 128 {
            return Err("id: must be 1 to 128 characters".into());
        }
        if let Fault::HttpError { status } = r.fault
            && !(400..=599).contains(&status)
        {
            return Err(format!("rule {id:?}: fault.status {status} is not an error status (400-599)"));
        }
        if r.times == Some(0) {
            return Err(format!("rule {id:?}: times must be at least 1 (remove the rule to disable it)"));
        }
        if r.every_nth == Some(0) {
            return Err(format!("rule {id:?}: every_nth must be at least 1"));
        }
        if let Some(p) = r.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("rule {id:?}: probability {p} is not within 0..=1"));
        }
        if let (Some(f), Some(u)) = (r.from, r.until)
            && f >= u
        {
            return Err(format!("rule {id:?}: from ({f}) must be before until ({u})"));
        }
        if r.fault.is_stream_only() && r.matcher.stream == Some(false) {
            return Err(format!("rule {id:?}: {} only applies to streams but match.stream is false", r.fault.kind()));
        }
        if r.fault.is_at_accept() && r.matcher.has_request_fields() {
            return Err(format!(
                "rule {id:?}: outage mode \"refuse\" acts before the request is read, so match may only name a provider"
            ));
        }
        Ok(FaultRule {
            id: r.id,
            fault: r.fault,
            matcher: r.matcher,
            times: r.times,
            after: r.after,
            every_nth: r.every_nth,
            from: r.from,
            until: r.until,
            probability: r.probability,
            should_retry: r.should_retry,
        })
    }
}

/// The document shape of fault files and of `POST /_gatedrill/faults`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSet {
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<FaultSet, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn issue_examples_parse() {
        let s = parse(r#"{"rules": [{"id": "primary-429", "fault": {"kind": "rate_limit", "retry_after": "2s"}, "match": {"model": "gpt-5"}, "times": 2}]}"#).unwrap();
        assert_eq!(s.rules[0].times, Some(2));
        assert_eq!(
            s.rules[0].fault,
            Fault::RateLimit {
                retry_after: Some(Dur::from_millis(2000)),
                retry_after_style: RetryAfterStyle::SecondsAndMs
            }
        );
        let s = parse(r#"{"rules": [{"id": "down", "fault": {"kind": "outage", "mode": "http_503"}}]}"#).unwrap();
        assert_eq!(s.rules[0].fault, Fault::Outage { mode: OutageMode::Http503 });
    }

    #[test]
    fn unknown_kind_lists_the_valid_ones() {
        let e = parse(r#"{"rules": [{"id": "x", "fault": {"kind": "meteor"}}]}"#).unwrap_err();
        assert!(e.contains("unknown variant `meteor`") && e.contains("stream_cut"), "{e}");
    }

    #[test]
    fn bad_fields_are_named() {
        let e = parse(r#"{"rules": [{"id": "x", "fault": {"kind": "http_error", "status": 200}}]}"#).unwrap_err();
        assert!(e.contains("status 200"), "{e}");
        let e = parse(r#"{"rules": [{"id": "x", "fault": {"kind": "delay"}}]}"#).unwrap_err();
        assert!(e.contains("exactly one of"), "{e}");
        let e =
            parse(r#"{"rules": [{"id": "x", "fault": {"kind": "auth_invalid"}, "probability": 1.5}]}"#).unwrap_err();
        assert!(e.contains("probability"), "{e}");
        let e = parse(r#"{"rules": [{"id": "x", "fault": {"kind": "auth_invalid"}, "tmes": 1}]}"#).unwrap_err();
        assert!(e.contains("unknown field `tmes`"), "{e}");
        let e = parse(
            r#"{"rules": [{"id": "x", "fault": {"kind": "outage", "mode": "refuse"}, "match": {"model": "m"}}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("only name a provider"), "{e}");
    }

    #[test]
    fn delay_distributions_sample_in_range() {
        let d: DelaySpec = serde_json::from_str(r#"{"uniform": {"min": "10ms", "max": "20ms"}}"#).unwrap();
        let ms = d.sample(0.5, 0.0).as_millis();
        assert_eq!(ms, 15);
        let d: DelaySpec = serde_json::from_str(r#"{"lognormal": {"median": "50ms", "sigma": 0.5}}"#).unwrap();
        assert_eq!(d.sample(0.3, 0.0).as_millis(), 50);
        assert!(d.sample(0.3, 1.0) > d.sample(0.3, 0.0));
    }
}
