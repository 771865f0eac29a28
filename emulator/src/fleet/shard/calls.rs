//! The shard's SIP side: datagrams routed to the phone they are for (its journey, or the
//! idle phone itself, which may begin answering a call or restarting), registration
//! refreshes of idle phones, call arrivals, and how a placed call is judged.

use std::cmp::Reverse;

use tokio::time::Instant;

use super::{Shard, Slot, mac_key};
use crate::driver::Transport;
use crate::fleet::journey::{CallPlan, Work};
use crate::fleet::stats::{CallResult, Route};
use crate::phone::sipua::{SipUa, addressee};
use crate::phone::{Cause, Phone, PhoneAction, PhoneEvent, Task, TaskKind, TaskOutcome};

impl<T: Transport + 'static> Shard<T> {
    /// A datagram on the shard's SIP socket: to the journey of its phone, else to the idle
    /// phone itself (which may begin answering a call or restarting).
    pub(super) fn on_datagram(&mut self, d: &[u8]) {
        let Some(sip) = &self.sip else { return };
        let Some(i) = addressee(d).and_then(|m| sip.by_mac.get(&mac_key(&m)?).map(|&k| k as usize))
        else {
            tracing::debug!("SIP datagram for no phone of this shard dropped");
            return;
        };
        if let Some(tx) = sip.inboxes.get(&i) {
            // Full: dropped, as a socket buffer would; the sender sends it again.
            let _ = tx.try_send(d.to_vec());
            return;
        }
        if self.slots[i].unknown {
            return;
        }
        let Some(phone) = self.slots[i].phone.take() else {
            return;
        };
        let now = Instant::now();
        let (phone, actions) = phone.step(PhoneEvent::Sip(d.to_vec()), now.into_std());
        if phone.is_idle() {
            for a in actions {
                if let PhoneAction::SendSip { to, datagram } = a
                    && let Ok(addr) = to.parse::<std::net::SocketAddr>()
                {
                    let _ = sip.socket.try_send_to(&datagram, addr);
                }
            }
            self.slots[i].phone = Some(phone);
            return;
        }
        let kind = if phone.sip().is_some_and(SipUa::in_call) {
            TaskKind::Answer
        } else {
            TaskKind::Restart
        };
        self.slots[i].phone = Some(phone);
        self.spawn(i, kind, Work::Continue(actions), now, None, None);
    }

    /// Refreshes the registrations of idle phones that are due.
    pub(super) fn refresh_due(&mut self, now: Instant) {
        while let Some(Reverse((at, i))) = self.refresh.peek().copied() {
            if at > now {
                break;
            }
            self.refresh.pop();
            let due = self.slots[i]
                .phone
                .as_ref()
                .and_then(Phone::refresh_due)
                .map(Instant::from_std);
            match due {
                Some(d) if d <= now && self.idle(i) => {
                    self.start(i, TaskKind::Refresh, now);
                }
                // Not yet (refreshed meanwhile), or busy: looked at again when due or when
                // its journey ends.
                Some(d) if d > now => self.refresh.push(Reverse((d, i))),
                _ => {}
            }
        }
    }

    /// A call arrival: an idle registered phone (one with a user logged in first) calls a
    /// number the directory places, chosen by the profile's callee mix.
    pub(super) fn call_arrival(&mut self, intended: Instant) {
        let n = self.slots.len();
        let Some(spec) = self.sip.as_ref().map(|s| s.spec.clone()) else {
            return;
        };
        if n == 0 {
            return;
        }
        let from = self.call_cursor % n;
        self.call_cursor = from + 1;
        let registered = |s: &Slot<T>| {
            s.phone
                .as_ref()
                .and_then(Phone::sip)
                .is_some_and(SipUa::is_registered)
        };
        let caller = [true, false].into_iter().find_map(|with_user| {
            (0..n).map(|k| (from + k) % n).find(|&i| {
                self.idle(i)
                    && !self.slots[i].is_reserved()
                    && registered(&self.slots[i])
                    && (!with_user || self.slots[i].user.is_some())
            })
        });
        let want = self.slots[from].cluster;
        let Some(i) = caller else {
            self.rec.call_dropped(want);
            return;
        };
        let cluster = self.slots[i].cluster;
        let mac = self.slots[i]
            .phone
            .as_ref()
            .and_then(Phone::sip)
            .map(|u| u.mac().to_owned())
            .unwrap_or_default();
        let kind = spec.callee.kind(self.rng.unit());
        let (u, v) = (self.rng.unit(), self.rng.unit());
        let Some(callee) = self.shared.dir.pick(kind, cluster, &mac, u, v) else {
            self.rec.call_dropped(cluster);
            return;
        };
        let hold = spec.hold.sample(self.rng.unit());
        self.place_call(i, callee.dn, callee.cluster, callee.mac, hold, intended);
    }

    /// Slot `i`'s phone calls `dn`, which the fleet places at `cluster` on the phone `mac`
    /// (local or over the trunk from the caller's cluster), holding `hold` once answered;
    /// false if the phone is busy.
    pub(super) fn place_call(
        &mut self,
        i: usize,
        dn: String,
        cluster: usize,
        mac: String,
        hold: std::time::Duration,
        intended: Instant,
    ) -> bool {
        let plan = CallPlan {
            route: if cluster == self.slots[i].cluster {
                Route::Local
            } else {
                Route::Trunk
            },
            dn: dn.clone(),
            mac,
        };
        self.spawn(
            i,
            TaskKind::Call,
            Work::Start(Task::Call { dn, hold }),
            intended,
            None,
            Some(plan),
        )
    }

    /// How a placed call went: answered by the phone where the callee is (or now is), by
    /// another of the fleet's phones (misrouted), or not at all.
    pub(super) fn judge_call(&self, phone: &Phone, plan: &CallPlan, o: &TaskOutcome) -> CallResult {
        match &o.result {
            Ok(_) => match phone.sip().and_then(|u| u.last_answered_by()) {
                None | Some("") => CallResult::Ok { verified: false },
                Some(by) => {
                    let now_at = self.shared.dir.locate(&plan.dn).map(|(_, m)| m);
                    if by == plan.mac || now_at.as_deref() == Some(by) {
                        CallResult::Ok { verified: true }
                    } else {
                        tracing::warn!(dn = %plan.dn, expected = %plan.mac, answered_by = %by, "misrouted call");
                        CallResult::Misrouted
                    }
                }
            },
            Err(f) => match &f.cause {
                Cause::CallFailed(code) => CallResult::Status(*code),
                Cause::CallTimeout => CallResult::Timeout,
                c => CallResult::Other(c.key()),
            },
        }
    }
}
