//! The durable session store: SQLite (bundled) in WAL mode. Every acknowledged write is
//! committed before the API answers, so a killed and restarted gateway keeps every session and
//! event it acknowledged.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sessions::{
    Event, NewEvent, NewSession, Session, SessionStatus, SessionStore, StoreError, new_session_id, now_ms,
};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, channel TEXT NOT NULL, draft_id TEXT,
  external_session_id TEXT, connector_id TEXT, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, last_event_at INTEGER, event_count INTEGER NOT NULL DEFAULT 0,
  compacted_events INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS sessions_external ON sessions(channel, external_session_id, status);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated_at);
CREATE TABLE IF NOT EXISTS events (
  session_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL,
  from_role TEXT, to_role TEXT, data TEXT NOT NULL, PRIMARY KEY (session_id, seq));
";

const COLUMNS: &str = "id, status, channel, draft_id, external_session_id, connector_id, created_at, updated_at, last_event_at, event_count, compacted_events";

fn session(r: &Row<'_>) -> rusqlite::Result<Session> {
    let status: String = r.get(1)?;
    Ok(Session {
        id: r.get(0)?,
        status: SessionStatus::parse(&status).unwrap_or(SessionStatus::Failed),
        channel: r.get(2)?,
        draft_id: r.get(3)?,
        external_session_id: r.get(4)?,
        connector_id: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        last_event_at: r.get(8)?,
        event_count: r.get(9)?,
        compacted_events: r.get(10)?,
    })
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let store = SqliteStore { conn: Mutex::new(conn) };
        // A store that cannot be written fails at start, not at the first session.
        store.ping()?;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get_in(c: &Connection, id: &str) -> Result<Option<Session>, StoreError> {
        Ok(c.query_row(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1"), [id], session).optional()?)
    }
}

impl SessionStore for SqliteStore {
    fn create(&self, new: NewSession) -> Result<Session, StoreError> {
        let now = now_ms();
        let id = new_session_id();
        let c = self.lock();
        c.execute(
            "INSERT INTO sessions (id, status, channel, draft_id, external_session_id, connector_id, created_at, updated_at)
             VALUES (?1, 'active', ?2, ?3, ?4, ?5, ?6, ?6)",
            params![id, new.channel, new.draft_id, new.external_session_id, new.connector_id, now],
        )?;
        Self::get_in(&c, &id)?.ok_or_else(|| StoreError::Other("session vanished after insert".into()))
    }

    fn append(&self, id: &str, e: NewEvent) -> Result<Option<Event>, StoreError> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        let Some(count) =
            tx.query_row("SELECT event_count FROM sessions WHERE id = ?1", [id], |r| r.get::<_, u64>(0)).optional()?
        else {
            return Ok(None);
        };
        let now = now_ms();
        let seq = count + 1;
        tx.execute(
            "INSERT INTO events (session_id, seq, at, kind, from_role, to_role, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, seq, now, e.kind, e.from_role, e.to_role, e.data.to_string()],
        )?;
        tx.execute(
            "UPDATE sessions SET event_count = ?2, last_event_at = ?3, updated_at = ?3 WHERE id = ?1",
            params![id, seq, now],
        )?;
        tx.commit()?;
        Ok(Some(Event { seq, at: now, kind: e.kind, from_role: e.from_role, to_role: e.to_role, data: e.data }))
    }

    fn get(&self, id: &str) -> Result<Option<Session>, StoreError> {
        Self::get_in(&self.lock(), id)
    }

    fn events(&self, id: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare(
            "SELECT seq, at, kind, from_role, to_role, data FROM events WHERE session_id = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let mut out: Vec<Event> = stmt
            .query_map(params![id, limit as i64], |r| {
                let data: String = r.get(5)?;
                Ok(Event {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    from_role: r.get(3)?,
                    to_role: r.get(4)?,
                    data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
                })
            })?
            .collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }

    fn list(&self, status: Option<SessionStatus>, limit: usize) -> Result<Vec<Session>, StoreError> {
        let c = self.lock();
        let mut stmt = c.prepare(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE (?1 IS NULL OR status = ?1) ORDER BY updated_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![status.map(SessionStatus::id), limit as i64], session)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count(&self, status: Option<SessionStatus>) -> Result<u64, StoreError> {
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM sessions WHERE (?1 IS NULL OR status = ?1)",
            params![status.map(SessionStatus::id)],
            |r| r.get(0),
        )?)
    }

    fn find_active(&self, channel: &str, external: &str) -> Result<Option<Session>, StoreError> {
        let c = self.lock();
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions WHERE channel = ?1 AND external_session_id = ?2 AND status = 'active' ORDER BY updated_at DESC LIMIT 1"
        );
        Ok(c.query_row(&sql, params![channel, external], session).optional()?)
    }

    fn set_status(&self, id: &str, status: SessionStatus) -> Result<Option<Session>, StoreError> {
        let c = self.lock();
        c.execute(
            "UPDATE sessions SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, status.id(), now_ms()],
        )?;
        Self::get_in(&c, id)
    }

    fn compact(&self, id: &str, keep_recent: usize) -> Result<Option<(u64, Session)>, StoreError> {
        let mut c = self.lock();
        let tx = c.transaction()?;
        if Self::get_in(&tx, id)?.is_none() {
            return Ok(None);
        }
        let removed = tx.execute(
            "DELETE FROM events WHERE session_id = ?1 AND seq NOT IN
               (SELECT seq FROM events WHERE session_id = ?1 ORDER BY seq DESC LIMIT ?2)",
            params![id, keep_recent as i64],
        )? as u64;
        tx.execute(
            "UPDATE sessions SET compacted_events = compacted_events + ?2, updated_at = ?3 WHERE id = ?1",
            params![id, removed, now_ms()],
        )?;
        let s = Self::get_in(&tx, id)?;
        tx.commit()?;
        Ok(s.map(|s| (removed, s)))
    }

    /// A real write (a one-row probe table), so a full disk or a read-only file is found by
    /// readiness, not by the first session write.
    fn ping(&self) -> Result<(), StoreError> {
        let c = self.lock();
        c.execute_batch("CREATE TABLE IF NOT EXISTS gatedrill_ready (k INTEGER PRIMARY KEY, at INTEGER NOT NULL);")?;
        c.execute("INSERT OR REPLACE INTO gatedrill_ready (k, at) VALUES (1, ?1)", [now_ms() as i64])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_store_keeps_the_contract_and_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("gatedrill-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sessions.db");
        let _ = std::fs::remove_file(&path);
        let store = SqliteStore::open(&path).unwrap();
        crate::gateway::sessions::tests::store_contract(&store);
        let total = store.count(None).unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.count(None).unwrap(), total);
    }
}
