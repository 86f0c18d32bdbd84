//! Faults of the reference gateway's own session store (seed 001, playbook B: "logs contain
//! repeated gateway background write failures", step 5 "if writes still fail, check DB
//! readiness"). A drill sets one on a running gateway; the gateway then answers as a production
//! service would: `/ready` says not ready (503, `ready: false`), every write is refused with
//! `503 AGENT_GATEWAY_STORE_UNAVAILABLE`, reads keep working unless the store is slow, in which
//! case every route that touches it waits first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sessions::{Event, NewEvent, NewSession, Session, SessionStatus, SessionStore, StoreError};

/// What is wrong with the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreFaultKind {
    /// Repaired: the store works.
    #[default]
    None,
    /// Every write fails (a lost connection, a full disk); readiness fails.
    WritesFail,
    /// The store is read-only (a failover replica, a read-only mount); readiness fails.
    ReadOnly,
    /// Every call that touches the store waits `delay` first.
    Slow,
}

impl StoreFaultKind {
    fn from_u8(n: u8) -> Self {
        [StoreFaultKind::None, StoreFaultKind::WritesFail, StoreFaultKind::ReadOnly, StoreFaultKind::Slow]
            .get(usize::from(n))
            .copied()
            .unwrap_or_default()
    }
}

/// The store's current fault, shared by the store wrapper and the gateway's routes.
#[derive(Debug, Default)]
pub struct StoreFaults {
    kind: AtomicU8,
    delay_ms: AtomicU64,
}

impl StoreFaults {
    pub fn set(&self, kind: StoreFaultKind, delay: Duration) {
        self.delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
        self.kind.store(kind as u8, Ordering::SeqCst);
    }

    pub fn kind(&self) -> StoreFaultKind {
        StoreFaultKind::from_u8(self.kind.load(Ordering::SeqCst))
    }

    /// How long a call touching the store waits first.
    pub fn delay(&self) -> Option<Duration> {
        (self.kind() == StoreFaultKind::Slow).then(|| Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)))
    }

    fn write(&self) -> Result<(), StoreError> {
        match self.kind() {
            StoreFaultKind::WritesFail => {
                Err(StoreError::Other("write failed: the session store is unavailable".into()))
            }
            StoreFaultKind::ReadOnly => Err(StoreError::Other("write refused: the session store is read-only".into())),
            StoreFaultKind::None | StoreFaultKind::Slow => Ok(()),
        }
    }
}

/// A session store with a fault switch in front of it.
pub struct FaultyStore {
    pub inner: Arc<dyn SessionStore>,
    pub faults: Arc<StoreFaults>,
}

impl SessionStore for FaultyStore {
    fn create(&self, new: NewSession) -> Result<Session, StoreError> {
        self.faults.write()?;
        self.inner.create(new)
    }
    fn append(&self, id: &str, e: NewEvent) -> Result<Option<Event>, StoreError> {
        self.faults.write()?;
        self.inner.append(id, e)
    }
    fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.inner.get(id)
    }
    fn events(&self, id: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.inner.events(id, limit)
    }
    fn list(&self, status: Option<SessionStatus>, limit: usize) -> Result<Vec<Session>, StoreError> {
        self.inner.list(status, limit)
    }
    fn count(&self, status: Option<SessionStatus>) -> Result<u64, StoreError> {
        self.inner.count(status)
    }
    fn find_active(&self, channel: &str, external: &str) -> Result<Option<Session>, StoreError> {
        self.inner.find_active(channel, external)
    }
    fn set_status(&self, id: &str, status: SessionStatus) -> Result<Option<Session>, StoreError> {
        self.faults.write()?;
        self.inner.set_status(id, status)
    }
    fn compact(&self, id: &str, keep_recent: usize) -> Result<Option<(u64, Session)>, StoreError> {
        self.faults.write()?;
        self.inner.compact(id, keep_recent)
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.faults.write()?;
        self.inner.ping()
    }
}

/// Routes that touch the session store (a slow store delays them).
pub fn touches_store(path: &str) -> bool {
    path == "/ready" || path.starts_with("/api/admin/agent-gateway/") || path == "/api/agent-gateway/adapters/ingest"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::sessions::MemoryStore;

    #[test]
    fn writes_fail_reads_work_and_repair_restores() {
        let faults = Arc::new(StoreFaults::default());
        let store = FaultyStore { inner: Arc::new(MemoryStore::default()), faults: faults.clone() };
        let s = store.create(NewSession { channel: "slack".into(), ..Default::default() }).unwrap();
        for kind in [StoreFaultKind::WritesFail, StoreFaultKind::ReadOnly] {
            faults.set(kind, Duration::ZERO);
            assert!(store.ping().is_err() && store.append(&s.id, NewEvent::default()).is_err());
            assert!(store.set_status(&s.id, SessionStatus::Closed).is_err());
            assert_eq!(store.get(&s.id).unwrap().unwrap().status, SessionStatus::Active);
        }
        faults.set(StoreFaultKind::Slow, Duration::from_millis(7));
        assert_eq!(faults.delay(), Some(Duration::from_millis(7)));
        assert!(store.ping().is_ok());
        faults.set(StoreFaultKind::None, Duration::ZERO);
        assert_eq!(faults.delay(), None);
        // Repaired, a faulty store keeps every store's contract.
        crate::gateway::sessions::tests::store_contract(&FaultyStore {
            inner: Arc::new(MemoryStore::default()),
            faults,
        });
    }
}
