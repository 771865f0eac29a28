//! The phone's SIP user agent, pure: registration (`register.rs`), calls (`call.rs`) and
//! their retransmission over UDP (`timers.rs`). No sockets, no clocks: datagrams go out as
//! [`PhoneAction::SendSip`] and the time is passed in. `SipUa::on_datagram` reads what
//! arrives and says what it meant to the phone ([`SipInput`]). Its choices where Cisco's
//! behaviour is not documented are in `docs/decisions.md`.

mod call;
mod register;
#[cfg(test)]
mod tests;
mod timers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use emroam_protocol::sip::{self, Message, StartLine};

use self::call::Dialog;
pub use self::call::{AnswerPolicy, CALL_WAIT, CALLEE_GUARD};
use self::register::Reg;
pub use self::register::{DigestCredentials, EXPIRES, REFRESH_SHARE, REGISTER_WAIT};
use self::timers::Timers;
pub use self::timers::{T1, T2};
use crate::phone::PhoneAction;

/// How long a registered phone waits for the NOTIFY after an EM login or logout.
pub const RESTART_WAIT: Duration = Duration::from_secs(5);

/// What a datagram meant to the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipInput {
    /// The answer to one of its REGISTERs.
    RegisterAnswer {
        /// That REGISTER's Call-ID.
        call_id: String,
        /// The status.
        code: u16,
    },
    /// A valid `service-control` NOTIFY (answered 200): restart now.
    Restart,
    /// A response to the phone's INVITE (provisional or final; a 2xx was ACKed).
    CallAnswer {
        /// The status.
        code: u16,
    },
    /// The answer to the phone's BYE.
    ByeAnswer,
    /// The other side hung up the call this phone placed or answered.
    ByeReceived,
    /// A new incoming call: the phone decides to ring (and later answer) or to reject it.
    Offered,
    /// The ACK of the 200 OK this phone sent as callee.
    Ack,
    /// The caller cancelled the call this phone is ringing for (answered 200 and 487).
    Cancelled,
    /// Something else (answered if it was a request).
    Other,
}

/// A phone's SIP user agent state: its Contact, its registrations, its call.
#[derive(Debug, Clone, PartialEq)]
pub struct SipUa {
    device: String,
    mac: String,
    /// Shared: a fleet shard's phones all have its socket's address.
    contact: Arc<str>,
    seq: u64,
    /// The proxy the registrations went to (refreshes and calls go there too).
    proxy: Option<String>,
    /// One per line of the current config, in order.
    regs: Vec<Reg>,
    /// When the registrations should be refreshed (90 % of the smallest granted expiry).
    refresh_at: Option<Instant>,
    /// The call in progress, placed or answered (boxed: an idle phone pays a pointer).
    call: Option<Box<Dialog>>,
    /// An incoming INVITE waiting for the phone's decision.
    offer: Option<Box<(Message, String)>>,
    /// Calls answered since the phone was made.
    answered: u64,
    policy: AnswerPolicy,
    /// What is sent again until answered.
    timers: Timers,
    /// Digest credentials, when its security profile has digest on (shared with the fleet's
    /// copy).
    digest: Option<Arc<DigestCredentials>>,
    /// The last digest challenge and the nonce count used with it (boxed: a phone without
    /// digest pays a pointer).
    challenge: Option<Box<(sip::digest::Challenge, u32)>>,
    /// Who answered the last call placed (`Some("")`: something that is not an emulated
    /// phone).
    last_answered_by: Option<String>,
}

/// Whose a datagram arriving on a socket several phones share is: the lower-case MAC of the
/// phone it is addressed to. A request's Request-URI is one of the phone's Contacts (its user
/// ends in the MAC); a response carries the phone's Via branch (`z9hG4bK` + MAC + …), else its
/// Call-ID (which starts with the MAC). `None`: not a phone's.
pub fn addressee(d: &[u8]) -> Option<String> {
    let m = sip::parse(d).ok()?;
    let mac = match &m.start {
        StartLine::Request { uri, .. } => {
            let user = sip::uri_user(uri)?;
            user.get(user.len().checked_sub(12)?..)?.to_owned()
        }
        StartLine::Response { .. } => {
            let from_branch = m
                .top_branch()
                .and_then(|b| b.strip_prefix("z9hG4bK"))
                .and_then(|b| b.get(..12))
                .filter(|b| is_mac(b));
            match from_branch {
                Some(b) => b.to_owned(),
                None => m.call_id().get(..12)?.to_owned(),
            }
        }
    };
    is_mac(&mac).then(|| mac.to_ascii_lowercase())
}

fn is_mac(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl SipUa {
    /// The UA of `device`, reachable at `contact` (`host:port`).
    pub fn new(device: &str, contact: impl Into<Arc<str>>) -> SipUa {
        SipUa {
            device: device.to_owned(),
            mac: device.trim_start_matches("SEP").to_ascii_lowercase(),
            contact: contact.into(),
            seq: 0,
            proxy: None,
            regs: Vec::new(),
            refresh_at: None,
            call: None,
            offer: None,
            answered: 0,
            policy: AnswerPolicy::default(),
            timers: Timers::default(),
            last_answered_by: None,
            digest: None,
            challenge: None,
        }
    }

    /// The lower-case MAC (what [`addressee`] returns for this phone).
    pub fn mac(&self) -> &str {
        &self.mac
    }

    /// Datagrams sent again (no answer in time) since the phone was made.
    pub fn retransmissions(&self) -> u64 {
        self.timers.retransmissions()
    }

    /// The earliest retransmission due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Sends again what is due at `now`; forgets what ran out of time.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<PhoneAction>) {
        self.timers.on_timer(now, out);
    }

    /// The Contact user of line `idx`: UUID-shaped, ending in the MAC.
    fn contact_user(&self, idx: usize) -> String {
        format!("{idx:08x}-0000-0000-0000-{}", self.mac)
    }

    fn contact_uri(&self, idx: usize) -> String {
        format!(
            "sip:{}@{};transport=udp",
            self.contact_user(idx),
            self.contact
        )
    }

    fn branch(&mut self, kind: char) -> String {
        self.seq += 1;
        format!("z9hG4bK{}{kind}{}", self.mac, self.seq)
    }

    /// Reads one datagram at `now`; answers a request (NOTIFY 200, or 400 when its
    /// RegisterCallId is not ours, as Cisco phones do; BYE, CANCEL, OPTIONS; 486 for an
    /// INVITE while in a call; 405 for anything else). A new INVITE is kept as an offer
    /// ([`SipInput::Offered`]) for the phone to ring or reject.
    pub(in crate::phone) fn on_datagram(
        &mut self,
        d: &[u8],
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> SipInput {
        let Ok(m) = sip::parse(d) else {
            return SipInput::Other;
        };
        let method = match &m.start {
            StartLine::Response { code, .. } if m.method() == Some("REGISTER") => {
                return self.on_register_answer(&m, *code, now, out);
            }
            StartLine::Response { code, .. } => return self.on_call_answer(&m, *code, out),
            StartLine::Request { method, .. } => method.clone(),
        };
        let Some(to) = m
            .header("Via")
            .and_then(sip::first_in_list)
            .and_then(sip::via_target)
            .map(|(h, p)| format!("{h}:{p}"))
        else {
            return SipInput::Other;
        };
        let (code, input) = match method.as_str() {
            "NOTIFY" if m.header("Event") == Some("service-control") => self.on_service_control(&m),
            "OPTIONS" => (200, SipInput::Other),
            "ACK" => return self.on_ack(&m),
            "INVITE" => return self.on_invite(m, to, out),
            "BYE" => self.on_bye(&m),
            "CANCEL" => self.on_cancel(&m, &to, out),
            _ => (405, SipInput::Other),
        };
        let r = Message::response_to(&m, code, Some(&self.mac));
        out.push(PhoneAction::SendSip {
            to,
            datagram: r.render(),
        });
        input
    }
}
