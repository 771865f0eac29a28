//! Who may start an ILS handshake, and how often a failed one is logged.
//!
//! [`Gate`]: at most [`MAX_HANDSHAKES`] connections in the handshake at once, at most
//! [`PER_SOURCE`] of them from one address, and [`RESERVED`] of the slots only for the
//! topology's addresses of this cluster's ILS peers, so strangers cannot starve the peers.
//! [`Throttle`]: a warning at most once per interval, with the count left out meanwhile.
//! Plain state behind a short `std` lock; no I/O.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::LockExt;

/// Connections allowed in the handshake at once (more are closed at once and counted).
pub(super) const MAX_HANDSHAKES: usize = 64;
/// Of those, slots only a peer's address may take.
pub(super) const RESERVED: usize = 16;
/// Handshakes in progress from one address. A peer dials each listener once at a time, so
/// four leave room for a few clusters sharing one address.
pub(super) const PER_SOURCE: usize = 4;

#[derive(Debug, Default)]
struct Held {
    /// Slots taken from the shared pool.
    shared: usize,
    /// Slots taken from the peers' reserve.
    reserved: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// Handshake slots of one ILS listener.
#[derive(Debug)]
pub(super) struct Gate {
    /// The topology's addresses of this cluster's ILS peers.
    peers: HashSet<IpAddr>,
    held: Mutex<Held>,
}

/// One handshake slot; dropping it frees it.
#[derive(Debug)]
pub(super) struct Slot {
    gate: Arc<Gate>,
    ip: IpAddr,
    reserved: bool,
}

impl Gate {
    /// A gate reserving slots for `peers`.
    pub(super) fn new(peers: impl IntoIterator<Item = IpAddr>) -> Arc<Gate> {
        Arc::new(Gate {
            peers: peers.into_iter().map(|ip| ip.to_canonical()).collect(),
            held: Mutex::new(Held::default()),
        })
    }

    /// A slot for a connection from `ip`, or `None` (its address has [`PER_SOURCE`] in
    /// progress, or no slot is free for it).
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let ip = ip.to_canonical();
        let mut h = self.held.locked();
        if h.by_source.get(&ip).copied().unwrap_or(0) >= PER_SOURCE {
            return None;
        }
        let reserved = if h.shared < MAX_HANDSHAKES - RESERVED {
            h.shared += 1;
            false
        } else if h.reserved < RESERVED && self.peers.contains(&ip) {
            h.reserved += 1;
            true
        } else {
            return None;
        };
        *h.by_source.entry(ip).or_default() += 1;
        Some(Slot {
            gate: self.clone(),
            ip,
            reserved,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut h = self.gate.held.locked();
        if self.reserved {
            h.reserved -= 1;
        } else {
            h.shared -= 1;
        }
        if let Some(n) = h.by_source.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                h.by_source.remove(&self.ip);
            }
        }
    }
}

/// Lets a warning through at most once per interval; counts the ones held back.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    next: Mutex<Option<Instant>>,
    held_back: AtomicU64,
}

impl Throttle {
    /// At most one warning per `every`.
    pub(crate) fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            next: Mutex::new(None),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(n)`: log now, saying `n` warnings were held back since the last one; `None`:
    /// hold this one back.
    pub(crate) fn pass(&self, now: Instant) -> Option<u64> {
        let mut next = self.next.locked();
        if next.is_some_and(|t| now < t) {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *next = Some(now + self.every);
        Some(self.held_back.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_gets_four_and_strangers_leave_the_reserve_to_peers() {
        let g = Gate::new([ip("127.0.0.3")]);
        let mine: Vec<Slot> = (0..PER_SOURCE)
            .map(|_| g.admit(ip("10.0.0.1")).unwrap())
            .collect();
        assert!(g.admit(ip("10.0.0.1")).is_none(), "fifth from one address");
        // Strangers from many addresses fill the shared pool, not the reserve.
        let mut strangers = Vec::new();
        for i in 0..100u8 {
            strangers.extend(g.admit(IpAddr::from([10, 1, 0, i])));
        }
        assert_eq!(strangers.len() + mine.len(), MAX_HANDSHAKES - RESERVED);
        let peer: Vec<Slot> = (0..PER_SOURCE)
            .map(|_| g.admit(ip("127.0.0.3")).expect("the reserve"))
            .collect();
        assert!(
            g.admit(ip("127.0.0.3")).is_none(),
            "per address for peers too"
        );
        // Mapped IPv6 is the same address.
        assert!(g.admit(ip("::ffff:127.0.0.3")).is_none());
        drop(mine);
        assert!(g.admit(ip("10.0.0.1")).is_some(), "freed on drop");
        drop(peer);
        drop(strangers);
        let h = g.held.locked();
        assert_eq!((h.shared, h.reserved, h.by_source.len()), (0, 0, 0));
    }

    #[test]
    fn a_throttle_passes_one_per_interval_and_counts_the_rest() {
        let t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.pass(t0), Some(0));
        assert_eq!(t.pass(t0 + Duration::from_secs(1)), None);
        assert_eq!(t.pass(t0 + Duration::from_secs(9)), None);
        assert_eq!(t.pass(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(t.pass(t0 + Duration::from_secs(11)), None);
    }
}
