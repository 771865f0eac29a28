//! Durable login state: one SQLite database per cluster, owned by one writer thread (an actor).
//!
//! Callers send a batch of [`StoreOp`]s over a bounded channel and await the reply; the thread
//! commits everything queued at that moment in one transaction (group commit), so the fsync
//! cost is shared by concurrent logins. A login is answered only after its transaction
//! committed. WAL mode with `synchronous=FULL`: a commit is on disk before the reply, which
//! survives power loss as well as `kill -9` (NORMAL would only survive a process crash).
//! Blocking work never runs on the tokio runtime.

use std::path::Path;

use emroam_protocol::ils;
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

/// Roaming state read back at start (see [`crate::ils`]).
#[derive(Debug, Clone, Default)]
pub struct RoamRows {
    /// Location records.
    pub records: Vec<ils::LocationRecord>,
    /// Applied versions.
    pub acks: Vec<ils::Ack>,
    /// Deferred logouts not yet acknowledged, as acks naming the cluster that must log out.
    pub pending: Vec<ils::Ack>,
    /// Superuser sets copied by the superuser sync.
    pub superusers: Vec<ils::SuperuserSet>,
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
    /// Keep a location record unless a newer version is stored.
    PutRecord(ils::LocationRecord),
    /// Keep an applied version unless a newer one is stored.
    PutAck(ils::Ack),
    /// Record a deferred logout (`cluster` must log `user` out, version `version`).
    PutPending(ils::Ack),
    /// A deferred logout was acknowledged (by `cluster`, at `version`): removed unless a newer
    /// one is stored.
    DeletePending(ils::Ack),
    /// Keep a superuser set unless a newer version is stored.
    PutSuperusers(ils::SuperuserSet),
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
        Store::open_all(path).map(|(s, rows, _)| (s, rows))
    }

    /// [`Store::open`], also returning the roaming state.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_all(path: Option<&Path>) -> Result<(Store, Vec<LoginRow>, RoamRows), StoreError> {
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
            );
            CREATE TABLE IF NOT EXISTS roam_record (
                user_id TEXT PRIMARY KEY NOT NULL, counter INTEGER NOT NULL,
                vcluster TEXT NOT NULL, body TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS roam_ack (
                user_id TEXT NOT NULL, cluster TEXT NOT NULL, counter INTEGER NOT NULL,
                vcluster TEXT NOT NULL, PRIMARY KEY (user_id, cluster));
            CREATE TABLE IF NOT EXISTS roam_pending (
                user_id TEXT NOT NULL, cluster TEXT NOT NULL, counter INTEGER NOT NULL,
                vcluster TEXT NOT NULL, PRIMARY KEY (user_id, cluster));
            CREATE TABLE IF NOT EXISTS roam_superusers (
                origin TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);",
        )?;
        let roam = load_roam(&conn)?;
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
        Ok((Store { tx }, rows, roam))
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
                StoreOp::PutRecord(r) => {
                    let body =
                        serde_json::to_string(r).map_err(|e| StoreError::Sqlite(e.to_string()))?;
                    tx.prepare_cached(
                        "INSERT INTO roam_record (user_id, counter, vcluster, body) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(user_id) DO UPDATE SET counter = excluded.counter,
                           vcluster = excluded.vcluster, body = excluded.body
                         WHERE (excluded.counter, excluded.vcluster) > (counter, vcluster)",
                    )?
                    .execute(params![r.user, counter(r.version.counter), r.version.cluster, body])?;
                }
                StoreOp::PutAck(a) => {
                    tx.prepare_cached(
                        "INSERT INTO roam_ack (user_id, cluster, counter, vcluster) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(user_id, cluster) DO UPDATE SET counter = excluded.counter,
                           vcluster = excluded.vcluster
                         WHERE (excluded.counter, excluded.vcluster) > (counter, vcluster)",
                    )?
                    .execute(params![a.user, a.cluster, counter(a.version.counter), a.version.cluster])?;
                }
                StoreOp::PutPending(a) => {
                    tx.prepare_cached(
                        "INSERT INTO roam_pending (user_id, cluster, counter, vcluster) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(user_id, cluster) DO UPDATE SET counter = excluded.counter,
                           vcluster = excluded.vcluster
                         WHERE (excluded.counter, excluded.vcluster) > (counter, vcluster)",
                    )?
                    .execute(params![a.user, a.cluster, counter(a.version.counter), a.version.cluster])?;
                }
                StoreOp::DeletePending(a) => {
                    tx.prepare_cached(
                        "DELETE FROM roam_pending WHERE user_id = ?1 AND cluster = ?2
                         AND (counter, vcluster) <= (?3, ?4)",
                    )?
                    .execute(params![
                        a.user,
                        a.cluster,
                        counter(a.version.counter),
                        a.version.cluster
                    ])?;
                }
                StoreOp::PutSuperusers(set) => {
                    let body = serde_json::to_string(set)
                        .map_err(|e| StoreError::Sqlite(e.to_string()))?;
                    tx.prepare_cached(
                        "INSERT INTO roam_superusers (origin, version, body) VALUES (?1, ?2, ?3)
                         ON CONFLICT(origin) DO UPDATE SET version = excluded.version, body = excluded.body
                         WHERE excluded.version > version",
                    )?
                    .execute(params![set.origin, counter(set.version), body])?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// SQLite integers are signed; counters never come near `i64::MAX`.
fn counter(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn load_roam(conn: &Connection) -> Result<RoamRows, StoreError> {
    let bad = |e: serde_json::Error| StoreError::Sqlite(format!("stored roaming state: {e}"));
    let mut out = RoamRows::default();
    let mut stmt = conn.prepare("SELECT body FROM roam_record")?;
    for body in stmt.query_map([], |r| r.get::<_, String>(0))? {
        out.records.push(serde_json::from_str(&body?).map_err(bad)?);
    }
    let mut stmt = conn.prepare("SELECT body FROM roam_superusers")?;
    for body in stmt.query_map([], |r| r.get::<_, String>(0))? {
        out.superusers
            .push(serde_json::from_str(&body?).map_err(bad)?);
    }
    for (table, into) in [
        ("roam_ack", &mut out.acks),
        ("roam_pending", &mut out.pending),
    ] {
        let mut stmt = conn.prepare(&format!(
            "SELECT user_id, cluster, counter, vcluster FROM {table}"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(ils::Ack {
                user: r.get(0)?,
                cluster: r.get(1)?,
                version: ils::Version {
                    counter: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    cluster: r.get(3)?,
                },
            })
        })?;
        for a in rows {
            into.push(a?);
        }
    }
    Ok(out)
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
