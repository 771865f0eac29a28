//! LogoutAll: every EM login of the cluster ends (EM API, proxy rights only).

use crate::cluster::{Cluster, Origin};
use crate::em::{EmError, code};
use crate::store::StoreOp;

/// A logoutAll request.
#[derive(Debug, Clone)]
pub struct LogoutAll {
    /// Where the request came from.
    pub origin: Origin,
}

impl LogoutAll {
    /// Logs every device out; returns how many.
    ///
    /// # Errors
    /// 26, 28, 30, or 6 (then nothing changed).
    pub async fn apply(self, c: &Cluster) -> Result<usize, EmError> {
        let c2 = c.clone();
        super::steps::detached(c, async move { self.run(&c2).await }).await
    }

    async fn run(self, c: &Cluster) -> Result<usize, EmError> {
        let params = c.params();
        let _slot = super::steps::begin(c, &params, &self.origin)?;
        super::steps::service_time(c, &params).await;
        let taken = c.lock_logins().take_all_committed();
        let ops = taken
            .iter()
            .map(|(d, _)| StoreOp::Delete(d.clone()))
            .collect();
        if let Err(e) = c.store().commit(ops).await {
            tracing::error!(cluster = %c.id(), error = %e, "logoutAll not persisted");
            let mut t = c.lock_logins();
            for (d, e) in taken {
                t.put_back(&d, e);
            }
            return Err(EmError::new(code::DATABASE_ERROR, "database error"));
        }
        c.counters().logouts_ok(taken.len() as u64);
        for (d, e) in &taken {
            let k = c.restart_kind(d, Some(&e.profile), None);
            c.push_restart(d, k);
        }
        let mut users: Vec<&str> = taken.iter().map(|(_, e)| e.user.as_str()).collect();
        users.sort_unstable();
        users.dedup();
        for u in users {
            c.roam_after_logout(u).await;
        }
        Ok(taken.len())
    }
}
