//! The steps every login and logout shares: running as a tracked task of its own, counting the
//! attempt and taking a throttle slot, and the artificial service time.

use std::future::Future;

use crate::cluster::{Cluster, Origin};
use crate::counters::InProgress;
use crate::em::{EmError, code};
use crate::params::ServiceParams;

/// Runs an operation as its own tracked task, so a client hanging up mid-way cannot leave a
/// half-done login behind: the operation finishes (and commits or rolls back) regardless.
pub(crate) async fn detached<T: Send + 'static>(
    c: &Cluster,
    f: impl Future<Output = Result<T, EmError>> + Send + 'static,
) -> Result<T, EmError> {
    c.tracker()
        .spawn(f)
        .await
        .unwrap_or(Err(EmError::new(0, "operation task failed")))
}

/// The start of every login/logout: count the attempt, take a throttle slot (else 26, never
/// queued), check the origin.
pub(crate) fn begin<'c>(
    c: &'c Cluster,
    params: &ServiceParams,
    origin: &Origin,
) -> Result<InProgress<'c>, EmError> {
    c.counters().attempted();
    let slot = c
        .counters()
        .try_begin(params.max_concurrent_requests)
        .ok_or(EmError::new(
            code::BUSY,
            "Maximum Concurrent Requests reached",
        ))?;
    c.check_origin(params, origin)?;
    Ok(slot)
}

/// Sleeps the artificial service time (zero: returns at once).
pub(crate) async fn service_time(c: &Cluster, params: &ServiceParams) {
    let r = (c.random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let d = params.service_time.sample(r);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}
