//! Ingest telemetry (`/api/admin/agent-gateway/telemetry` and `/adapters`): per connector and
//! channel, how many events arrived, how many were accepted, and why the rest were rejected.
//! The launch gate reads it to tell `telemetry_no_connector_events` from
//! `telemetry_zero_accepted`. Events live in a bounded ring, so memory stays flat; counts cover
//! the requested window within what the ring holds.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use super::sessions::now_ms;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestEvent {
    pub at: u64,
    pub connector_id: Option<String>,
    pub channel: Option<String>,
    pub adapter: Option<String>,
    pub accepted: bool,
    pub reject_reason: Option<String>,
    pub session_id: Option<String>,
    pub external_session_id: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub events: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub reject_reasons: BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, e: &IngestEvent) {
        self.events += 1;
        if e.accepted {
            self.accepted += 1;
        } else {
            self.rejected += 1;
            *self.reject_reasons.entry(e.reject_reason.clone().unwrap_or_else(|| "unknown".into())).or_default() += 1;
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCounts {
    pub connector_id: Option<String>,
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
}

pub struct IngestTelemetry {
    capacity: usize,
    events: Mutex<VecDeque<IngestEvent>>,
}

impl Default for IngestTelemetry {
    fn default() -> Self {
        IngestTelemetry { capacity: 10_000, events: Mutex::new(VecDeque::new()) }
    }
}

type GroupKey = (Option<String>, Option<String>, Option<String>);

impl IngestTelemetry {
    pub fn record(&self, e: IngestEvent) {
        let mut g = self.events.lock().unwrap_or_else(|p| p.into_inner());
        g.push_back(e);
        if g.len() > self.capacity {
            g.pop_front();
        }
    }

    /// Totals, groups (by connector and channel, plus adapter when `by_adapter`) and the most
    /// recent `limit` events of the last `hours`.
    pub fn window(&self, hours: u64, limit: usize, by_adapter: bool) -> (Counts, Vec<GroupCounts>, Vec<IngestEvent>) {
        let since = now_ms().saturating_sub(hours.saturating_mul(3_600_000));
        let g = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let mut totals = Counts::default();
        let mut groups: BTreeMap<GroupKey, Counts> = BTreeMap::new();
        for e in g.iter().filter(|e| e.at >= since) {
            totals.add(e);
            let adapter = if by_adapter { e.adapter.clone() } else { None };
            groups.entry((e.connector_id.clone(), e.channel.clone(), adapter)).or_default().add(e);
        }
        let recent: Vec<IngestEvent> = g.iter().rev().filter(|e| e.at >= since).take(limit).cloned().collect();
        let groups = groups
            .into_iter()
            .map(|((connector_id, channel, adapter), counts)| GroupCounts { connector_id, channel, adapter, counts })
            .collect();
        (totals, groups, recent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(connector: &str, accepted: bool, reason: Option<&str>) -> IngestEvent {
        IngestEvent {
            at: now_ms(),
            connector_id: Some(connector.into()),
            channel: Some("slack".into()),
            adapter: Some("external_webhook".into()),
            accepted,
            reject_reason: reason.map(str::to_string),
            session_id: None,
            external_session_id: None,
        }
    }

    #[test]
    fn counts_by_connector_with_reasons() {
        let t = IngestTelemetry::default();
        t.record(ev("slack_main", true, None));
        t.record(ev("slack_main", false, Some("profile_conflict:channel")));
        t.record(ev("other", false, Some("unauthorized")));
        let (totals, groups, recent) = t.window(24, 2, false);
        assert_eq!((totals.events, totals.accepted, totals.rejected), (3, 1, 2));
        let slack = groups.iter().find(|g| g.connector_id.as_deref() == Some("slack_main")).unwrap();
        assert_eq!(slack.counts.reject_reasons["profile_conflict:channel"], 1);
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].connector_id.as_deref(), Some("other"), "most recent first");
    }
}
