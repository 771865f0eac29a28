//! Retransmission over UDP (RFC 3261 §17): a datagram is kept and sent again, at doubling
//! intervals from [`T1`] (capped at [`T2`] but for an INVITE's timer A), until its answer
//! settles it or its own deadline passes.

use std::time::{Duration, Instant};

use emroam_protocol::sip::Message;

use crate::phone::PhoneAction;

/// RFC 3261's T1: the first retransmission interval.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261's T2: the cap of a non-INVITE request's retransmission interval.
pub const T2: Duration = Duration::from_secs(4);

/// A datagram the phone sends again until it hears back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Retx {
    /// A client transaction's Via branch, or `uas:` + Call-ID for a callee's 200 OK.
    key: String,
    to: String,
    datagram: Vec<u8>,
    next: Instant,
    interval: Duration,
    /// No interval cap (an INVITE's timer A) or [`T2`].
    capped: bool,
    until: Instant,
}

/// The datagrams a UA keeps sending until they are answered (timers A, E and G).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Timers {
    kept: Vec<Retx>,
    /// Datagrams sent again since the phone was made.
    retransmissions: u64,
}

impl Timers {
    /// The earliest retransmission due.
    pub(super) fn next(&self) -> Option<Instant> {
        self.kept.iter().map(|r| r.next).min()
    }

    /// Datagrams sent again since the phone was made.
    pub(super) fn retransmissions(&self) -> u64 {
        self.retransmissions
    }

    /// Sends again what is due at `now`; forgets what ran out of time.
    pub(super) fn on_timer(&mut self, now: Instant, out: &mut Vec<PhoneAction>) {
        self.keep_only(|r| r.until > now);
        for r in &mut self.kept {
            if r.next > now {
                continue;
            }
            out.push(PhoneAction::SendSip {
                to: r.to.clone(),
                datagram: r.datagram.clone(),
            });
            self.retransmissions += 1;
            r.interval = if r.capped {
                (r.interval * 2).min(T2)
            } else {
                r.interval * 2
            };
            r.next = now + r.interval;
        }
    }

    /// Sends `m` to `to` and keeps it for retransmission under `key` until `until`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_kept(
        &mut self,
        key: String,
        to: &str,
        m: &Message,
        capped: bool,
        now: Instant,
        until: Instant,
        out: &mut Vec<PhoneAction>,
    ) {
        let datagram = m.render();
        self.kept.retain(|r| r.key != key);
        self.kept.push(Retx {
            key,
            to: to.to_owned(),
            datagram: datagram.clone(),
            next: now + T1,
            interval: T1,
            capped,
            until,
        });
        out.push(PhoneAction::SendSip {
            to: to.to_owned(),
            datagram,
        });
    }

    /// Stops sending what was kept under `key` (it was answered).
    pub(super) fn settle(&mut self, key: &str) {
        self.keep_only(|r| r.key != key);
    }

    /// Stops sending everything kept under a key starting with `prefix`.
    pub(super) fn settle_all(&mut self, prefix: &str) {
        self.keep_only(|r| !r.key.starts_with(prefix));
    }

    /// Keeps what `keep` says; when nothing is left, lets the list's memory go too: an idle
    /// phone (all its datagrams answered) then holds no retransmission buffer, which at
    /// 100,000 phones is about 50 MB.
    fn keep_only(&mut self, keep: impl FnMut(&Retx) -> bool) {
        self.kept.retain(keep);
        if self.kept.is_empty() {
            self.kept = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_datagram_leaves_no_list_behind() {
        let (mut t, mut out, now) = (Timers::default(), Vec::new(), Instant::now());
        let m = Message::request("REGISTER", "sip:127.0.0.1:5060");
        for key in ["a", "b"] {
            t.send_kept(
                key.into(),
                "127.0.0.1:5060",
                &m,
                true,
                now,
                now + T2,
                &mut out,
            );
        }
        t.settle("a");
        assert_eq!(t.next(), Some(now + T1), "b is still sent again");
        t.settle("b");
        assert_eq!(t.next(), None);
        assert_eq!(
            t.kept.capacity(),
            0,
            "an idle phone holds no retransmission list"
        );
        // Timed out rather than answered: the same.
        t.send_kept(
            "c".into(),
            "127.0.0.1:5060",
            &m,
            true,
            now,
            now + T1,
            &mut out,
        );
        t.on_timer(now + T2, &mut out);
        assert_eq!(t.kept.capacity(), 0);
    }
}
