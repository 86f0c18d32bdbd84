//! The launch gate's external-channel check as a step (seed 001, "Release-gate connector
//! diagnostics"). Channels are probed concurrently, each with its own budget inside the step's
//! deadline, so every planned channel yields exactly one classification whatever the gateway
//! does: a hung gateway, one hung channel, or a trickle give `ingest_http_error` per channel,
//! never a cancelled step with no channels recorded.

use std::time::Duration;

use super::{Check, StepCtx, check, expected_id};
use crate::drill::external::{ChannelProbe, check_channel, unobserved};
use crate::drill::observe::{Endpoint, Exchanged};
use crate::scenario::steps::ChannelSpec;

/// The part of the step's deadline the channels may use; the rest is headroom for recording.
pub fn channel_budget(step_deadline: Duration) -> Duration {
    step_deadline.mul_f64(0.9)
}

pub async fn run(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>, channels: &[ChannelSpec]) {
    let budget = channel_budget(ctx.deadline);
    let mut probes = Vec::new();
    for c in channels {
        let probe = ChannelProbe {
            connector_id: c.connector.clone(),
            channel: c.channel.clone(),
            payload: serde_json::Value::Null,
            expected_external_session_id: expected_id(ctx.scenario_path, &c.fixture).unwrap_or_default(),
            required: c.required,
            stale_secret: c.wrong_secret,
            expect_failure_mode: c.expect_failure_mode,
        };
        match ctx.fixture(&c.fixture) {
            Ok(payload) => probes.push(Ok(ChannelProbe { payload, ..probe })),
            Err(e) => {
                out.push(check(&format!("{} fixture", c.channel), false, &c.fixture, e));
                probes.push(Err(probe));
            }
        }
    }
    let ex = &ctx.ex;
    let runs = probes.iter().map(|p| async move {
        match p {
            Ok(p) => Some(check_channel(ex, p, budget).await),
            Err(_) => None,
        }
    });
    let results = futures::future::join_all(runs).await;
    for (probe, result) in probes.iter().zip(results) {
        let trace = match (probe, result) {
            (Ok(_), Some((trace, seen))) => {
                for (r, (endpoint, s)) in trace.requests.iter().zip(&seen) {
                    ctx.record(Exchanged {
                        endpoint: *endpoint,
                        method: &r.method,
                        path: &r.path,
                        seen: s,
                        ok: s.is_success(),
                        keep_body: false,
                        signal: None,
                    });
                }
                trace
            }
            (Ok(p) | Err(p), _) => unobserved(p),
        };
        let mode = trace.failure_mode.map_or("none", |m| m.id());
        out.push(check(&format!("{} ({})", trace.channel, trace.connector_id), true, "classified", mode));
        ctx.channels.push(trace);
    }
    close_probe_sessions(ctx, out).await;
}

/// Closes the sessions the channel probes opened (runbook B's close), so a launch gate leaves no
/// fixture session active in production; one that cannot be closed is a failed check, since the
/// release-window checks would otherwise find it there.
async fn close_probe_sessions(ctx: &mut StepCtx<'_>, out: &mut Vec<Check>) {
    let opened: Vec<(String, String)> = ctx
        .channels
        .iter()
        .filter_map(|t| t.probe_session_id.clone().map(|id| (t.channel.clone(), id)))
        .filter(|(_, id)| !ctx.probe_sessions.contains(id))
        .collect();
    for (channel, id) in opened {
        let path = crate::wire::paths::session(&id, "close");
        let seen =
            ctx.call(Endpoint::Session, reqwest::Method::POST, &path, None, crate::drill::exchange::Auth::Admin).await;
        out.push(check(
            &format!("{channel} probe session closed"),
            seen.is(200),
            200,
            format!("{} ({id})", seen.describe()),
        ));
        ctx.probe_sessions.insert(id);
    }
}
