//! What readers of a run see: whole, immutable [`Snapshot`]s the aggregator publishes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::recorder::Recorder;

/// What the progress line, the TUI and the report read: whole and immutable.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Everything so far.
    pub total: Recorder,
    /// Journeys in flight, or waiting for their intended start (closed-model think time).
    pub in_flight: u64,
    /// The name of the current phase.
    pub phase: String,
    /// Phones the fleet believes logged in, per cluster (target order): the state population.
    pub logged_in: Vec<u64>,
    /// Phones by state, per cluster (target order), as of the shards' last flush.
    pub states: Vec<PhoneStates>,
    /// When the first phase began (since the run started; `None` while the phones boot): the
    /// phases' clock, which the profile's durations and rates are in.
    pub phases_from: Option<Duration>,
    /// Users the fleet has seen log in away from home, most recent move first (bounded: see
    /// [`crate::fleet::directory::Directory`]).
    pub roamers: Vec<Roamer>,
    /// Who each phone carries: device name → user ID, for phones with a user logged in as the
    /// fleet believes. Shared, not copied, between snapshots while nobody logs in or out.
    pub carried: Arc<HashMap<String, String>>,
}

/// A roaming user as the fleet believes: who, from where, where logged in now, the last move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roamer {
    /// User ID.
    pub user: String,
    /// Their number (what ILS is asked about), if the profile gives one.
    pub dn: Option<String>,
    /// Their home cluster (target index).
    pub home: usize,
    /// Where they are logged in now: cluster (target index) and device; `None`: logged out.
    pub now: Option<(usize, String)>,
    /// Their last move.
    pub last_move: Option<Move>,
}

/// A user's login at another cluster than their last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// Where they were logged in last (target index; `None`: nowhere the fleet saw).
    pub from: Option<usize>,
    /// Where they logged in.
    pub to: usize,
    /// When, since the run started (the snapshots' `elapsed` clock).
    pub at: Duration,
}

/// How many phones of a cluster are in each state (counted by the shards at each flush).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhoneStates {
    /// Idle, nobody logged in (the logout profile).
    pub logged_out: u64,
    /// A login journey in flight (EM page, submit, restart, re-register).
    pub logging_in: u64,
    /// Idle, a user logged in.
    pub logged_in: u64,
    /// A logout journey in flight.
    pub logging_out: u64,
    /// Another journey in flight (boot, status, a registration refresh).
    pub busy_other: u64,
    /// In a call, placed or answered (ringing included).
    pub in_call: u64,
    /// Unknown: its journey was abandoned at a deadline.
    pub unknown: u64,
}

impl PhoneStates {
    /// Adds another count.
    pub fn add(&mut self, o: &PhoneStates) {
        self.logged_out += o.logged_out;
        self.logging_in += o.logging_in;
        self.logged_in += o.logged_in;
        self.logging_out += o.logging_out;
        self.busy_other += o.busy_other;
        self.in_call += o.in_call;
        self.unknown += o.unknown;
    }
}

impl Snapshot {
    /// The snapshot before anything ran, for `n` clusters.
    pub fn empty(n: usize) -> Self {
        Self {
            elapsed: Duration::ZERO,
            total: Recorder::new(n),
            in_flight: 0,
            phase: String::new(),
            logged_in: vec![0; n],
            states: vec![PhoneStates::default(); n],
            phases_from: None,
            roamers: Vec::new(),
            carried: Arc::default(),
        }
    }
}
