//! Gateway sessions and their event timelines (seed 001, playbook B "session backlog"): created
//! by orchestration and by connector ingest, listed, inspected, compacted and closed through the
//! admin API. Each session records when it last had an event, so stale `active` sessions can be
//! found. One trait, two stores: in memory, and SQLite (`sqlite.rs`) for durability.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    Closed,
    Failed,
}

impl SessionStatus {
    pub fn id(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Closed => "closed",
            SessionStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [SessionStatus::Active, SessionStatus::Closed, SessionStatus::Failed].into_iter().find(|x| x.id() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    pub status: SessionStatus,
    pub channel: String,
    pub draft_id: Option<String>,
    pub external_session_id: Option<String>,
    pub connector_id: Option<String>,
    /// Unix milliseconds.
    pub created_at: u64,
    pub updated_at: u64,
    pub last_event_at: Option<u64>,
    pub event_count: u64,
    pub compacted_events: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub seq: u64,
    pub at: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub from_role: Option<String>,
    pub to_role: Option<String>,
    pub data: Value,
}

/// What a new session starts with.
#[derive(Clone, Debug, Default)]
pub struct NewSession {
    pub channel: String,
    pub draft_id: Option<String>,
    pub external_session_id: Option<String>,
    pub connector_id: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct NewEvent {
    pub kind: String,
    pub from_role: Option<String>,
    pub to_role: Option<String>,
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("session store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("session store: {0}")]
    Other(String),
}

pub trait SessionStore: Send + Sync {
    fn create(&self, new: NewSession) -> Result<Session, StoreError>;
    /// Appends an event; `None` when the session does not exist.
    fn append(&self, id: &str, e: NewEvent) -> Result<Option<Event>, StoreError>;
    fn get(&self, id: &str) -> Result<Option<Session>, StoreError>;
    /// The most recent `limit` events, oldest first.
    fn events(&self, id: &str, limit: usize) -> Result<Vec<Event>, StoreError>;
    /// Sessions, most recently updated first.
    fn list(&self, status: Option<SessionStatus>, limit: usize) -> Result<Vec<Session>, StoreError>;
    fn count(&self, status: Option<SessionStatus>) -> Result<u64, StoreError>;
    fn find_active(&self, channel: &str, external_session_id: &str) -> Result<Option<Session>, StoreError>;
    fn set_status(&self, id: &str, status: SessionStatus) -> Result<Option<Session>, StoreError>;
    /// Keeps the `keep_recent` newest events; returns how many were removed.
    fn compact(&self, id: &str, keep_recent: usize) -> Result<Option<(u64, Session)>, StoreError>;
    /// Whether the store can be written now (readiness).
    fn ping(&self) -> Result<(), StoreError>;
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

static ID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh session id, unique across restarts.
pub fn new_session_id() -> String {
    let n = ID_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let bits = crate::rng::mix(nanos ^ crate::rng::mix(n ^ u64::from(std::process::id())));
    format!("gs_{bits:016x}")
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<BTreeMap<String, (Session, Vec<Event>)>>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Session, Vec<Event>)>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SessionStore for MemoryStore {
    fn create(&self, new: NewSession) -> Result<Session, StoreError> {
        let now = now_ms();
        let s = Session {
            id: new_session_id(),
            status: SessionStatus::Active,
            channel: new.channel,
            draft_id: new.draft_id,
            external_session_id: new.external_session_id,
            connector_id: new.connector_id,
            created_at: now,
            updated_at: now,
            last_event_at: None,
            event_count: 0,
            compacted_events: 0,
        };
        self.lock().insert(s.id.clone(), (s.clone(), Vec::new()));
        Ok(s)
    }

    fn append(&self, id: &str, e: NewEvent) -> Result<Option<Event>, StoreError> {
        let mut g = self.lock();
        let Some((s, events)) = g.get_mut(id) else { return Ok(None) };
        let now = now_ms();
        let ev = Event {
            seq: s.event_count + 1,
            at: now,
            kind: e.kind,
            from_role: e.from_role,
            to_role: e.to_role,
            data: e.data,
        };
        s.event_count += 1;
        s.last_event_at = Some(now);
        s.updated_at = now;
        events.push(ev.clone());
        Ok(Some(ev))
    }

    fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.lock().get(id).map(|(s, _)| s.clone()))
    }

    fn events(&self, id: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        Ok(self.lock().get(id).map(|(_, e)| e[e.len().saturating_sub(limit)..].to_vec()).unwrap_or_default())
    }

    fn list(&self, status: Option<SessionStatus>, limit: usize) -> Result<Vec<Session>, StoreError> {
        let g = self.lock();
        let mut all: Vec<Session> =
            g.values().map(|(s, _)| s).filter(|s| status.is_none_or(|st| s.status == st)).cloned().collect();
        all.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| b.id.cmp(&a.id)));
        all.truncate(limit);
        Ok(all)
    }

    fn count(&self, status: Option<SessionStatus>) -> Result<u64, StoreError> {
        Ok(self.lock().values().filter(|(s, _)| status.is_none_or(|st| s.status == st)).count() as u64)
    }

    fn find_active(&self, channel: &str, external: &str) -> Result<Option<Session>, StoreError> {
        Ok(self
            .lock()
            .values()
            .map(|(s, _)| s)
            .find(|s| {
                s.status == SessionStatus::Active
                    && s.channel == channel
                    && s.external_session_id.as_deref() == Some(external)
            })
            .cloned())
    }

    fn set_status(&self, id: &str, status: SessionStatus) -> Result<Option<Session>, StoreError> {
        let mut g = self.lock();
        Ok(g.get_mut(id).map(|(s, _)| {
            s.status = status;
            s.updated_at = now_ms();
            s.clone()
        }))
    }

    fn compact(&self, id: &str, keep_recent: usize) -> Result<Option<(u64, Session)>, StoreError> {
        let mut g = self.lock();
        Ok(g.get_mut(id).map(|(s, events)| {
            let removed = events.len().saturating_sub(keep_recent);
            events.drain(..removed);
            s.compacted_events += removed as u64;
            s.updated_at = now_ms();
            (removed as u64, s.clone())
        }))
    }

    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The behaviour every store must have; run against each implementation.
    pub fn store_contract(store: &dyn SessionStore) {
        let a = store
            .create(NewSession {
                channel: "telegram".into(),
                external_session_id: Some("42".into()),
                ..Default::default()
            })
            .unwrap();
        let b = store
            .create(NewSession { channel: "release-check".into(), draft_id: Some("d1".into()), ..Default::default() })
            .unwrap();
        assert_ne!(a.id, b.id);
        for i in 0..5 {
            let e = NewEvent { kind: format!("e{i}"), from_role: Some("observer".into()), ..Default::default() };
            assert_eq!(store.append(&a.id, e).unwrap().unwrap().seq, i + 1);
        }
        assert!(store.append("gs_missing", NewEvent::default()).unwrap().is_none());
        let got = store.get(&a.id).unwrap().unwrap();
        assert_eq!((got.event_count, got.last_event_at.is_some()), (5, true));
        assert_eq!(store.find_active("telegram", "42").unwrap().unwrap().id, a.id);
        assert_eq!(store.events(&a.id, 2).unwrap().iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["e3", "e4"]);
        let (removed, s) = store.compact(&a.id, 2).unwrap().unwrap();
        assert_eq!((removed, s.compacted_events), (3, 3));
        assert_eq!(store.events(&a.id, 100).unwrap().len(), 2);
        assert_eq!(store.count(Some(SessionStatus::Active)).unwrap(), 2);
        store.set_status(&a.id, SessionStatus::Closed).unwrap().unwrap();
        assert!(store.find_active("telegram", "42").unwrap().is_none());
        assert_eq!(store.list(Some(SessionStatus::Active), 10).unwrap().len(), 1);
        assert_eq!(store.list(None, 1).unwrap().len(), 1);
        assert!(store.get("gs_missing").unwrap().is_none());
        store.ping().unwrap();
    }

    #[test]
    fn memory_store_keeps_the_contract() {
        store_contract(&MemoryStore::default());
    }
}
