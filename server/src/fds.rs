//! The process's open-file budget: the soft `RLIMIT_NOFILE` is raised to the hard limit at
//! start, and each listener's connection cap is its share of what is left after a reserve
//! for the databases, SIP, ILS and the process itself. So a flood on one port runs into that
//! port's cap, never into the process's last descriptor (which would stop every cluster's
//! accepts at once).

/// Descriptors kept for the process itself (logs, the runtime, clients of the admin API).
const RESERVE_BASE: u64 = 32;
/// Descriptors kept for each cluster besides its HTTP and config connections: the database
/// and its journal files, the SIP socket, the ILS listener, peer links and handshakes.
const RESERVE_PER_CLUSTER: u64 = 96;
/// The smallest cap a listener is given, however tight the budget.
const MIN_PER_LISTENER: usize = 8;

/// Raises the soft open-file limit to the hard one; returns the soft limit now in force
/// (`None`: unknown, or not a Unix).
pub fn raise_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let now = getrlimit(Resource::Nofile);
        let (Some(soft), hard) = (now.current, now.maximum) else {
            return None;
        };
        let target = hard.unwrap_or(u64::MAX);
        if target <= soft {
            return Some(soft);
        }
        let raised = Rlimit {
            current: hard,
            maximum: hard,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!(from = soft, to = target, "raised the open-file limit");
                Some(target)
            }
            Err(e) => {
                tracing::debug!(soft, error = %e, "cannot raise the open-file limit");
                Some(soft)
            }
        }
    }
    #[cfg(not(unix))]
    None
}

/// The soft open-file limit in force (`None`: unlimited, unknown, or not a Unix).
pub fn limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    None
}

/// Each listener's connection cap when `clusters` clusters share `listeners` TCP listeners
/// under an open-file limit of `limit`: at most `wanted`.
pub fn per_listener_cap(
    limit: Option<u64>,
    clusters: usize,
    listeners: usize,
    wanted: usize,
) -> usize {
    let Some(limit) = limit else { return wanted };
    let reserve = RESERVE_BASE + RESERVE_PER_CLUSTER * clusters as u64;
    let share = limit.saturating_sub(reserve) / listeners.max(1) as u64;
    usize::try_from(share)
        .unwrap_or(usize::MAX)
        .max(MIN_PER_LISTENER)
        .min(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_after_the_reserve() {
        // Three clusters, six listeners, 1,024 descriptors: 1024 - 32 - 288 = 704, 117 each.
        assert_eq!(per_listener_cap(Some(1024), 3, 6, 10_000), 117);
        assert_eq!(per_listener_cap(Some(1 << 20), 3, 6, 10_000), 10_000);
        assert_eq!(per_listener_cap(Some(64), 3, 6, 10_000), MIN_PER_LISTENER);
        assert_eq!(per_listener_cap(None, 3, 6, 10_000), 10_000);
    }
}
