//! Who takes the work: open-model arrivals go to an idle phone in the right state, closed-
//! model phones cycle login → think → logout → think, and each login gets a free user (homed
//! on the phone's cluster, or a roaming superuser) with credentials of the profile's mix.

use std::cmp::Reverse;
use std::time::Duration;

use tokio::time::Instant;

use super::Shard;
use crate::driver::Transport;
use crate::fleet::journey::Work;
use crate::fleet::profile::Think;
use crate::fleet::stats::Dropped;
use crate::phone::{Credentials, LoginType, Task, TaskKind};

/// A closed-model phone that found no free user (or was paused) waits at least this long to
/// try again.
const RETRY_MIN: Duration = Duration::from_millis(100);

impl<T: Transport + 'static> Shard<T> {
    fn pick_login_type(&mut self) -> LoginType {
        let total: u32 = self.mix.iter().map(|(_, w)| w).sum();
        let mut x = (self.rng.unit() * f64::from(total)) as u32;
        for (lt, w) in &self.mix {
            if x < *w {
                return *lt;
            }
            x -= w;
        }
        LoginType::Uid
    }

    /// A free user for a login on `cluster`'s phone: homed there, or (roaming) a superuser
    /// homed elsewhere.
    fn free_user(&mut self, cluster: usize, roaming: bool) -> Option<usize> {
        let n = self.users.len();
        for k in 0..n {
            let i = (self.user_cursor + k) % n;
            let u = &self.users[i];
            let fits = if roaming {
                u.cluster != cluster && u.spec.superuser
            } else {
                u.cluster == cluster
            };
            if !u.busy && fits {
                self.user_cursor = i + 1;
                return Some(i);
            }
        }
        None
    }

    pub(super) fn credentials(&mut self, user: usize) -> Credentials {
        let lt = self.pick_login_type();
        let u = &self.users[user].spec;
        let (login_type, id) = match lt {
            LoginType::Dn => {
                u.dn.clone()
                    .map_or((LoginType::Uid, u.id.clone()), |d| (LoginType::Dn, d))
            }
            LoginType::Sp => u
                .self_service_id
                .clone()
                .map_or((LoginType::Uid, u.id.clone()), |d| (LoginType::Sp, d)),
            LoginType::Uid => (LoginType::Uid, u.id.clone()),
        };
        Credentials {
            login_type,
            id,
            pin: u.pin.clone(),
            profile: None,
        }
    }

    /// Starts `task` on slot `i` at `intended`; false if it cannot (no free user).
    pub(super) fn start(&mut self, i: usize, task: TaskKind, intended: Instant) -> bool {
        let cluster = self.slots[i].cluster;
        let (task, user) = match task {
            TaskKind::Login => {
                // A roaming pick with no free superuser from elsewhere takes a home user, and
                // a home pick with no free home user a roaming superuser (when the profile
                // roams at all): either way the phone is used, and the report counts which.
                let roam = self.roaming > 0.0 && self.rng.unit() < self.roaming;
                let u = if roam {
                    self.free_user(cluster, true)
                        .or_else(|| self.free_user(cluster, false))
                } else {
                    self.free_user(cluster, false).or_else(|| {
                        (self.roaming > 0.0)
                            .then(|| self.free_user(cluster, true))
                            .flatten()
                    })
                };
                let Some(u) = u else {
                    return false;
                };
                self.users[u].busy = true;
                (Task::Login(self.credentials(u)), Some(u))
            }
            TaskKind::Logout => (Task::Logout, self.slots[i].user),
            TaskKind::Boot => (Task::Boot, None),
            TaskKind::Refresh => (Task::Refresh, None),
            _ => (Task::Status, None),
        };
        let kind = task.kind();
        let started = self.spawn(i, kind, Work::Start(task), intended, user, None);
        if !started && let Some(u) = user.filter(|_| kind == TaskKind::Login) {
            self.users[u].release();
        }
        started
    }

    /// Whether the fleet believes someone is logged in on slot `i`'s phone.
    pub(super) fn logged_in(&self, i: usize) -> bool {
        self.slots[i].user.is_some() || self.slots[i].foreign
    }

    /// Whether slot `i`'s phone can take work now: no journey, not in a closed phase, its
    /// state known.
    pub(super) fn idle(&self, i: usize) -> bool {
        let s = &self.slots[i];
        s.phone.is_some() && s.closed_until.is_none() && !s.unknown
    }

    /// An open-model arrival: its cluster comes from cycling over the (cluster-interleaved)
    /// phones, so each cluster's arrival rate is its share of the phones whatever happens to
    /// its journeys; then the first phone of that cluster in the right state takes it (any
    /// cluster's, if that one has none).
    pub(super) fn arrival(&mut self, task: TaskKind, intended: Instant) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let k = usize::from(task == TaskKind::Logout);
        let from = self.cursor[k] % n;
        self.cursor[k] = from + 1;
        let want = self.slots[from].cluster;
        // What the search met, to say why when nobody takes the arrival.
        let (mut any_idle, mut any_fit) = (false, false);
        for same_cluster in [true, false] {
            for step in 0..n {
                let i = (from + step) % n;
                if same_cluster && self.slots[i].cluster != want {
                    continue;
                }
                let idle = self.idle(i) && !self.slots[i].is_reserved();
                any_idle |= idle;
                let fits = idle
                    && match task {
                        TaskKind::Login => !self.logged_in(i),
                        _ => self.logged_in(i),
                    };
                any_fit |= fits;
                if fits && self.start(i, task, intended) {
                    self.rec.arrival_started(self.slots[i].cluster);
                    return;
                }
            }
        }
        let why = match (any_idle, any_fit, task) {
            (false, _, _) => Dropped::NoIdlePhone,
            (true, true, _) => Dropped::NoFreeUser,
            (true, false, TaskKind::Login) => Dropped::AllLoggedIn,
            (true, false, _) => Dropped::NobodyLoggedIn,
        };
        self.rec.dropped(want, why);
    }

    /// A closed-model phase: the first `phones` free phones cycle until `until`.
    pub(super) fn closed(&mut self, phones: usize, think: Think, until: Instant) {
        let now = Instant::now();
        let mut started = 0;
        for i in 0..self.slots.len() {
            if started == phones {
                break;
            }
            if self.slots[i].closed_until.is_some()
                || self.slots[i].unknown
                || self.slots[i].is_reserved()
            {
                continue;
            }
            self.slots[i].closed_until = Some((until, think));
            started += 1;
            if self.slots[i].phone.is_some() {
                self.next_closed(i, now);
            }
        }
    }

    /// A closed-model phone's next journey after `think`, or its release at the phase end.
    pub(super) fn next_closed(&mut self, i: usize, from: Instant) {
        let Some((until, think)) = self.slots[i].closed_until else {
            return;
        };
        let intended = from + think.sample(self.rng.unit());
        if intended >= until {
            self.slots[i].closed_until = None;
            return;
        }
        if self.shared.control.borrow().paused {
            // Paused: not started, not counted; the phone looks again a little later.
            let at = intended.max(Instant::now() + RETRY_MIN);
            self.retry.push(Reverse((at, i)));
            return;
        }
        let task = if self.logged_in(i) {
            TaskKind::Logout
        } else {
            TaskKind::Login
        };
        if !self.start(i, task, intended) {
            // No free user now: counted, and the phone tries again a think time later.
            self.rec.dropped(self.slots[i].cluster, Dropped::NoFreeUser);
            let at = intended.max(Instant::now() + RETRY_MIN);
            self.retry.push(Reverse((at, i)));
        }
    }

    /// Closed-model phones whose retry is due try again.
    pub(super) fn retry_due(&mut self, now: Instant) {
        while let Some(Reverse((at, i))) = self.retry.peek().copied() {
            if at > now {
                break;
            }
            self.retry.pop();
            if self.slots[i].phone.is_some() {
                self.next_closed(i, at);
            }
        }
    }
}
