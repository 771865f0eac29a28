//! Transaction memory: the INVITEs this cluster forwarded and still waits to hear about, and
//! the transactions that ended recently with what was sent for them, so a UDP retransmission
//! gets the same datagrams again instead of being handled as a new request (RFC 3261 §17.2).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use emroam_protocol::sip::Message;
use tokio::time::Instant;

/// How long a finished transaction still answers retransmissions: 64·T1 with T1 = 500 ms
/// (RFC 3261 Timers H and J over UDP).
pub(super) const LINGER: Duration = Duration::from_millis(64 * 500);

/// Most finished transactions remembered at once (a REGISTER storm of 100,000 phones fits; the
/// oldest are forgotten first, so memory stays bounded under any load).
const RECENT_MAX: usize = 100_000;

/// Methods whose retransmissions are recognised, in counter order.
pub(super) const RETRANSMITTED: [&str; 4] = ["INVITE", "REGISTER", "BYE", "CANCEL"];

/// Datagrams to send, each with its destination.
pub(super) type Out = Vec<(Vec<u8>, SocketAddr)>;

/// An INVITE this cluster forwarded and waits to hear about.
#[derive(Debug)]
pub(super) struct Txn {
    /// The request as received (to answer 480/503 upstream).
    pub(super) req: Message,
    pub(super) upstream: SocketAddr,
    pub(super) deadline: Instant,
    pub(super) trunk: bool,
    /// A response came back: the timer no longer applies.
    pub(super) answered: bool,
    /// Where the INVITE went and its new Request-URI (for CANCEL and a non-2xx ACK).
    pub(super) target: SocketAddr,
    pub(super) uri: String,
    /// The incoming transaction ([`txn_key`]): a retransmission must match it.
    pub(super) key: Option<String>,
    /// The INVITE as forwarded, sent again for a retransmission while `target` is silent.
    pub(super) fwd: Vec<u8>,
}

/// Transactions that ended recently and what was sent for them, so a retransmission gets the
/// same datagrams again (RFC 3261 §17.2: the server transaction absorbs it).
#[derive(Debug, Default)]
pub(super) struct Recent {
    sent: HashMap<String, (Out, Instant)>,
    /// Keys in expiry order: every entry lingers equally long, so the front expires first.
    order: VecDeque<(Instant, String)>,
}

impl Recent {
    pub(super) fn get(&self, key: &str) -> Option<Out> {
        self.sent.get(key).map(|(o, _)| o.clone())
    }

    pub(super) fn insert(&mut self, key: String, out: Out, until: Instant) {
        if self.order.len() >= RECENT_MAX
            && let Some((_, k)) = self.order.pop_front()
        {
            self.sent.remove(&k);
        }
        self.order.push_back((until, key.clone()));
        self.sent.insert(key, (out, until));
    }

    pub(super) fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, k)) = self.order.pop_front()
                && self.sent.get(&k).is_some_and(|(_, until)| *until <= now)
            {
                self.sent.remove(&k);
            }
        }
    }
}

/// What identifies a request's transaction for retransmissions: its top Via branch (RFC 3261
/// cookie `z9hG4bK` only), Call-ID and CSeq. `None`: no usable branch, never matched.
pub(super) fn txn_key(req: &Message) -> Option<String> {
    let branch = req.top_branch().filter(|b| b.starts_with("z9hG4bK"))?;
    let (n, method) = req.cseq()?;
    Some(format!("{branch} {} {n} {method}", req.call_id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:5060".parse().unwrap()
    }

    #[test]
    fn a_transaction_is_its_branch_call_id_and_cseq() {
        let m = Message::request("BYE", "sip:x@h")
            .with(
                "Via",
                "SIP/2.0/UDP a:1;branch=z9hG4bKx1, SIP/2.0/UDP b:2;branch=z9hG4bKy",
            )
            .with("Call-ID", "c1")
            .with("CSeq", "7 BYE");
        assert_eq!(txn_key(&m).as_deref(), Some("z9hG4bKx1 c1 7 BYE"));
        let mut other = m.clone();
        other.set_header("CSeq", "8 BYE");
        assert_ne!(txn_key(&other), txn_key(&m));
        // RFC 2543 branches (no magic cookie) are never matched.
        let mut old = m.clone();
        old.set_header("Via", "SIP/2.0/UDP a:1;branch=1");
        assert_eq!(txn_key(&old), None);
    }

    #[test]
    fn finished_transactions_linger_then_go_and_stay_bounded() {
        let t0 = Instant::now();
        let mut r = Recent::default();
        r.insert("a".into(), vec![(b"x".to_vec(), addr())], t0 + LINGER);
        r.insert(
            "b".into(),
            vec![(b"y".to_vec(), addr())],
            t0 + LINGER + Duration::from_secs(1),
        );
        r.expire(t0 + LINGER - Duration::from_millis(1));
        assert_eq!(r.get("a").unwrap()[0].0, b"x");
        r.expire(t0 + LINGER);
        assert!(r.get("a").is_none());
        assert!(r.get("b").is_some());
        for i in 0..RECENT_MAX + 5 {
            r.insert(format!("k{i}"), Vec::new(), t0 + LINGER * 2);
        }
        assert!(r.sent.len() <= RECENT_MAX && r.order.len() <= RECENT_MAX);
        assert!(r.get("k0").is_none(), "the oldest forgotten first");
    }
}
