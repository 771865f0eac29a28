//! Durable login state: one SQLite database per cluster, owned by one writer thread (an actor).
//!
//! Callers send a batch of [`StoreOp`]s over a bounded channel and await the reply; the thread
//! commits everything queued at that moment in one transaction (group commit), so the fsync
//! cost is shared by concurrent logins. A login is answered only after its transaction
//! committed. WAL mode with `synchronous=FULL`: a commit is on disk before the reply, which
//! survives power loss as well as `kill -9` (NORMAL would only survive a process crash).
//! Blocking work never runs on the tokio runtime.

use std::path::Path;

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

/// Jobs queued to the writer before callers wait (backpressure bound).
const QUEUE: usize = 1024;
/// Most jobs committed in one transaction.
const BATCH: usize = 256;

/// One persisted login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRow {
    /// Device name.
    pub device: String,
    /// User ID.
    pub user: String,
    /// Device profile name.
    pub profile: String,
    /// Login time, Unix milliseconds.
    pub since_ms: i64,
    /// When the login ends by itself, Unix milliseconds (`None`: never).
    pub expires_ms: Option<i64>,
}

/// One change to the login table.
#[derive(Debug, Clone)]
pub enum StoreOp {
    /// Record a login (replacing any row for the device).
    Put(LoginRow),
    /// Remove the device's login.
    Delete(String),
    /// Remove every login.
    DeleteAll,
}

/// A database failure (answered as EM code 6, Database Error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("database error: {0}")]
    Sqlite(String),
    /// The writer thread is gone (shutting down).
    #[error("database writer stopped")]
    Stopped,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e.to_string())
    }
}

struct Job {
    ops: Vec<StoreOp>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Handle to a cluster's login database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("ops", &self.ops.len()).finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path` (`None`: in memory, for tests), returns the
    /// logins it holds, and starts the writer thread.
    ///
    /// # Errors
    /// The database cannot be opened or its schema created.
    pub fn open(path: Option<&Path>) -> Result<(Store, Vec<LoginRow>), StoreError> {
        let conn = match path {
            Some(p) => Connection::open(p)?,
            None => Connection::open_in_memory()?,
        };
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS em_login (
                device     TEXT PRIMARY KEY NOT NULL,
                user_id    TEXT NOT NULL,
                profile    TEXT NOT NULL,
                since_ms   INTEGER NOT NULL,
                expires_ms INTEGER
            );",
        )?;
        let rows = {
            let mut stmt = conn
                .prepare("SELECT device, user_id, profile, since_ms, expires_ms FROM em_login")?;
            stmt.query_map([], |r| {
                Ok(LoginRow {
                    device: r.get(0)?,
                    user: r.get(1)?,
                    profile: r.get(2)?,
                    since_ms: r.get(3)?,
                    expires_ms: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("em-store".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| StoreError::Sqlite(format!("cannot start writer thread: {e}")))?;
        Ok((Store { tx }, rows))
    }

    /// Commits `ops` in one transaction (possibly together with other callers' batches).
    ///
    /// # Errors
    /// The transaction failed; nothing of `ops` is stored.
    ///
    /// # Cancel safety
    /// Once the job is queued it is committed even if this future is dropped.
    pub async fn commit(&self, ops: Vec<StoreOp>) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { ops, reply })
            .await
            .map_err(|_| StoreError::Stopped)?;
        rx.await.map_err(|_| StoreError::Stopped)?
    }
}

fn writer(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(job) = rx.blocking_recv() {
        batch.push(job);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result = apply(&mut conn, &batch);
        if let Err(e) = &result {
            tracing::error!(error = %e, jobs = batch.len(), "login database commit failed");
        }
        for job in batch.drain(..) {
            // A caller that went away does not matter: the data is committed either way.
            let _ = job.reply.send(result.clone());
        }
    }
}

fn apply(conn: &mut Connection, batch: &[Job]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO em_login (device, user_id, profile, since_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut del = tx.prepare_cached("DELETE FROM em_login WHERE device = ?1")?;
        for op in batch.iter().flat_map(|j| &j.ops) {
            match op {
                StoreOp::Put(r) => {
                    put.execute(params![
                        r.device,
                        r.user,
                        r.profile,
                        r.since_ms,
                        r.expires_ms
                    ])?;
                }
                StoreOp::Delete(d) => {
                    del.execute([d])?;
                }
                StoreOp::DeleteAll => {
                    tx.execute("DELETE FROM em_login", [])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(d: &str, u: &str) -> LoginRow {
        LoginRow {
            device: d.into(),
            user: u.into(),
            profile: format!("{u}-udp"),
            since_ms: 1,
            expires_ms: None,
        }
    }

    #[tokio::test]
    async fn commits_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("emroam-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let _ = std::fs::remove_file(&path);
        {
            let (s, rows) = Store::open(Some(&path)).unwrap();
            assert!(rows.is_empty());
            s.commit(vec![
                StoreOp::Put(row("SEP000000000001", "a")),
                StoreOp::Put(row("SEP000000000002", "b")),
            ])
            .await
            .unwrap();
            s.commit(vec![StoreOp::Delete("SEP000000000001".into())])
                .await
                .unwrap();
        }
        let (_s, mut rows) = Store::open(Some(&path)).unwrap();
        rows.sort_by(|a, b| a.device.cmp(&b.device));
        assert_eq!(rows, vec![row("SEP000000000002", "b")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
