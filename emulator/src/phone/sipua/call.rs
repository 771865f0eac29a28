//! Calls (RFC 3261 §12-15): one at a time, placed (INVITE, ACK, BYE along the Record-Route
//! set; CANCEL when nobody answers) or taken as the phone's [`AnswerPolicy`] says (180, then
//! 200 after the ring time; 486 when busy or declined; CANCEL → 200 and 487).

use std::time::{Duration, Instant};

use emroam_protocol::sip::{self, Message, StartLine};

use super::{SipInput, SipUa, is_mac};
use crate::phone::PhoneAction;

/// How long a caller waits for an INVITE's or BYE's final answer.
pub const CALL_WAIT: Duration = Duration::from_secs(8);
/// How long an answered call's callee waits for the caller's BYE before it gives the call up
/// (CUCM's Maximum Call Duration timer defaults to 720 minutes; a test load never holds
/// that long).
pub const CALLEE_GUARD: Duration = Duration::from_secs(2 * 3600);

/// How a phone takes incoming calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerPolicy {
    /// Time between 180 Ringing and 200 OK.
    pub ring: Duration,
    /// Whether the phone answers at all (off: it rings until the caller gives up).
    pub auto_answer: bool,
    /// Share (0..=1) of incoming calls answered 486 Busy Here, as a user who declines.
    pub busy_share: f64,
}

impl Default for AnswerPolicy {
    fn default() -> Self {
        Self {
            ring: Duration::ZERO,
            auto_answer: true,
            busy_share: 0.0,
        }
    }
}

/// One call's dialog state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dialog {
    call_id: String,
    /// Our From and their To as sent (To with their tag once answered).
    from: String,
    to: String,
    /// Where in-dialog requests go: the first route's address, else the proxy.
    next_hop: String,
    remote_target: String,
    routes: Vec<String>,
    cseq: u32,
    hold: Duration,
    placed: bool,
    /// The INVITE's branch (a CANCEL carries it).
    branch: String,
    /// The callee's last response (sent again for a retransmitted INVITE).
    last_response: Option<Vec<u8>>,
    /// For a callee: the INVITE (to answer it later); for a caller: who answered (the MAC
    /// in the 200 OK's To tag, when the callee is an emulated phone).
    invite: Option<Message>,
    answered_by: Option<String>,
}

/// The MAC in a To tag this phone model sets as callee (`<mac>a<n>`).
pub(super) fn tag_mac(to: &str) -> Option<String> {
    let tag = sip::param(to, "tag")?;
    let mac = tag.get(..12)?;
    (is_mac(mac) && tag[12..].starts_with('a')).then(|| mac.to_ascii_lowercase())
}

/// A number in [0, 1) drawn from `s` (FNV-1a), for repeatable choices.
fn unit_of(s: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's high bits mix poorly for strings that differ at the end: finish as splitmix64.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl SipUa {
    /// Takes calls as `policy` says.
    pub fn set_policy(&mut self, policy: AnswerPolicy) {
        self.policy = policy;
    }

    /// The ring time and whether the phone answers, from its policy.
    pub(in crate::phone) fn policy(&self) -> AnswerPolicy {
        self.policy
    }

    /// Calls this phone answered.
    pub fn answered_calls(&self) -> u64 {
        self.answered
    }

    /// Whether a call is in progress.
    pub fn in_call(&self) -> bool {
        self.call.is_some()
    }

    /// Who answered the call in progress or last placed (an emulated phone's MAC).
    pub fn answered_by(&self) -> Option<&str> {
        self.call.as_ref().and_then(|d| d.answered_by.as_deref())
    }

    /// Who answered the last call this phone placed: an emulated phone's MAC (from the
    /// 200 OK's To tag), `""` for anything else, `None` if it was not answered.
    pub fn last_answered_by(&self) -> Option<&str> {
        self.last_answered_by.as_deref()
    }

    /// How long the call in progress is to be held once answered.
    pub(in crate::phone) fn hold(&self) -> Duration {
        self.call.as_ref().map_or(Duration::ZERO, |d| d.hold)
    }

    /// Forgets the call in progress (and stops sending its INVITE or 200 OK again).
    pub(in crate::phone) fn end_call(&mut self) {
        if let Some(d) = self.call.take() {
            self.timers.settle(&d.branch);
            self.timers.settle(&format!("uas:{}", d.call_id));
        }
    }

    /// Places a call to `dn` through the proxy the phone registered with.
    pub(in crate::phone) fn invite(
        &mut self,
        dn: &str,
        hold: Duration,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> bool {
        let Some(proxy) = self.proxy.clone() else {
            return false;
        };
        self.last_answered_by = None;
        let branch = self.branch('c');
        let call_id = format!("{}-call-{:08x}@{}", self.mac, self.seq, self.contact);
        let line = self.calling_line();
        let from = format!("<sip:{line}@{proxy}>;tag={}c{}", self.mac, self.seq);
        let to = format!("<sip:{dn}@{proxy}>");
        let m = Message::request("INVITE", &format!("sip:{dn}@{proxy}"))
            .with(
                "Via",
                format!("SIP/2.0/UDP {};branch={branch}", self.contact),
            )
            .with("From", from.clone())
            .with("To", to.clone())
            .with("Call-ID", call_id.clone())
            .with("CSeq", "101 INVITE")
            .with("Max-Forwards", "70")
            .with("Contact", format!("<{}>", self.contact_uri(0)))
            .with("User-Agent", "Cisco-CP8865/14.2.1");
        self.timers
            .send_kept(branch.clone(), &proxy, &m, false, now, now + CALL_WAIT, out);
        self.call = Some(Box::new(Dialog {
            call_id,
            from,
            to,
            next_hop: proxy.clone(),
            remote_target: format!("sip:{dn}@{proxy}"),
            routes: Vec::new(),
            cseq: 101,
            hold,
            placed: true,
            branch,
            last_response: None,
            invite: Some(m),
            answered_by: None,
        }));
        true
    }

    fn in_dialog(&mut self, method: &str, cseq: u32) -> Option<(Message, String, String)> {
        let branch = self.branch('c');
        let d = self.call.as_ref()?;
        let mut m = Message::request(method, &d.remote_target)
            .with(
                "Via",
                format!("SIP/2.0/UDP {};branch={branch}", self.contact),
            )
            .with("From", d.from.clone())
            .with("To", d.to.clone())
            .with("Call-ID", d.call_id.clone())
            .with("CSeq", format!("{cseq} {method}"))
            .with("Max-Forwards", "70");
        if !d.routes.is_empty() {
            m = m.with("Route", d.routes.join(", "));
        }
        Some((m, d.next_hop.clone(), branch))
    }

    /// Hangs up the call in progress (BYE, retransmitted until answered).
    pub(in crate::phone) fn bye(&mut self, now: Instant, out: &mut Vec<PhoneAction>) {
        let cseq = self.call.as_ref().map_or(0, |d| d.cseq + 1);
        if let Some(d) = &mut self.call {
            d.cseq = cseq;
        }
        if let Some((m, to, branch)) = self.in_dialog("BYE", cseq) {
            self.timers
                .send_kept(branch, &to, &m, true, now, now + CALL_WAIT, out);
        }
    }

    /// Gives up a placed call nobody answered: CANCEL (same branch as the INVITE, hop by
    /// hop to the proxy), and the call is over.
    pub(in crate::phone) fn cancel(&mut self, out: &mut Vec<PhoneAction>) {
        let Some(d) = self.call.take() else {
            return;
        };
        self.timers.settle(&d.branch);
        if !d.placed || d.answered_by.is_some() {
            return;
        }
        let Some(invite) = &d.invite else { return };
        let uri = match &invite.start {
            StartLine::Request { uri, .. } => uri.clone(),
            StartLine::Response { .. } => return,
        };
        let m = Message::request("CANCEL", &uri)
            .with("Via", invite.header("Via").unwrap_or("").to_owned())
            .with("From", d.from)
            .with("To", d.to)
            .with("Call-ID", d.call_id)
            .with("CSeq", "101 CANCEL")
            .with("Max-Forwards", "70");
        out.push(PhoneAction::SendSip {
            to: d.next_hop,
            datagram: m.render(),
        });
    }

    /// A response in the call this phone placed: to its INVITE (a 2xx is ACKed along the
    /// route set, a failure hop by hop) or to its BYE.
    pub(super) fn on_call_answer(
        &mut self,
        m: &Message,
        code: u16,
        out: &mut Vec<PhoneAction>,
    ) -> SipInput {
        let ours = self
            .call
            .as_ref()
            .is_some_and(|d| d.placed && d.call_id == m.call_id());
        if !ours {
            return SipInput::Other;
        }
        match m.method() {
            Some("INVITE") => {
                // Any answer ends timer A.
                if let Some(d) = &self.call {
                    let b = d.branch.clone();
                    self.timers.settle(&b);
                }
                if (200..300).contains(&code) {
                    self.on_invite_ok(m, out);
                } else if code >= 300 {
                    self.ack_failure(m, out);
                }
                SipInput::CallAnswer { code }
            }
            Some("BYE") if code >= 200 => {
                self.timers.settle(m.top_branch().unwrap_or(""));
                self.end_call();
                SipInput::ByeAnswer
            }
            _ => SipInput::Other,
        }
    }

    fn on_invite_ok(&mut self, m: &Message, out: &mut Vec<PhoneAction>) {
        // Route set: the Record-Route list reversed; in-dialog requests go to its first hop.
        let mut routes: Vec<String> = m
            .headers_named("Record-Route")
            .flat_map(sip::split_list)
            .map(str::to_owned)
            .collect();
        routes.reverse();
        let Some(d) = &mut self.call else { return };
        if let Some(to) = m.header("To") {
            d.to = to.to_owned();
            d.answered_by = tag_mac(to).or(Some(String::new()));
            self.last_answered_by.clone_from(&d.answered_by);
        }
        if let Some(c) = m.header("Contact") {
            d.remote_target = sip::addr_uri(c).to_owned();
        }
        if let Some((h, p)) = routes
            .first()
            .and_then(|r| sip::uri_host_port(sip::addr_uri(r)))
        {
            d.next_hop = format!("{h}:{p}");
        }
        d.routes = routes;
        // A retransmitted 200 OK gets the ACK again (the ACK of a 2xx is its own
        // transaction, with the INVITE's CSeq number).
        if let Some((ack, to, _)) = self.in_dialog("ACK", 101) {
            out.push(PhoneAction::SendSip {
                to,
                datagram: ack.render(),
            });
        }
    }

    /// The ACK of a failed INVITE goes hop by hop, with the INVITE's branch and Request-URI.
    fn ack_failure(&mut self, m: &Message, out: &mut Vec<PhoneAction>) {
        let Some(d) = self.call.take() else { return };
        let uri = d
            .invite
            .as_ref()
            .and_then(|i| match &i.start {
                StartLine::Request { uri, .. } => Some(uri.clone()),
                StartLine::Response { .. } => None,
            })
            .unwrap_or_else(|| d.remote_target.clone());
        let ack = Message::request("ACK", &uri)
            .with("Via", m.header("Via").unwrap_or("").to_owned())
            .with("From", d.from)
            .with("To", m.header("To").unwrap_or("").to_owned())
            .with("Call-ID", d.call_id)
            .with("CSeq", "101 ACK")
            .with("Max-Forwards", "70");
        out.push(PhoneAction::SendSip {
            to: d.next_hop,
            datagram: ack.render(),
        });
    }

    /// A new INVITE: kept as the offer ([`SipInput::Offered`]) when the phone is free, 486
    /// when it is not; a retransmitted one gets the last answer again.
    pub(super) fn on_invite(
        &mut self,
        m: Message,
        to: String,
        out: &mut Vec<PhoneAction>,
    ) -> SipInput {
        if let Some(d) = &self.call
            && d.call_id == m.call_id()
            && !d.placed
        {
            // A retransmitted INVITE: the last answer again.
            if let Some(r) = d.last_response.clone() {
                out.push(PhoneAction::SendSip { to, datagram: r });
            }
            return SipInput::Other;
        }
        if self.call.is_some() || self.offer.is_some() {
            self.respond(&m, 486, &to, out);
            return SipInput::Other;
        }
        self.offer = Some(Box::new((m, to)));
        SipInput::Offered
    }

    /// Whether `m` belongs to the call in progress.
    fn is_ours(&self, m: &Message) -> bool {
        self.call.as_ref().is_some_and(|d| d.call_id == m.call_id())
    }

    /// An ACK: for the 200 OK this phone sent as callee, it stops that 200's retransmission.
    pub(super) fn on_ack(&mut self, m: &Message) -> SipInput {
        if self.is_ours(m)
            && let Some(d) = &self.call
        {
            let key = format!("uas:{}", d.call_id);
            self.timers.settle(&key);
            return SipInput::Ack;
        }
        SipInput::Other
    }

    /// A BYE: the other side hung up our call (200), or a call we do not know (481).
    pub(super) fn on_bye(&mut self, m: &Message) -> (u16, SipInput) {
        if self.is_ours(m) {
            self.end_call();
            return (200, SipInput::ByeReceived);
        }
        (481, SipInput::Other)
    }

    /// A CANCEL: for the call this phone is ringing for, 487 for its INVITE and the call is
    /// over; the CANCEL itself is answered 200 (481 for a call we do not know).
    pub(super) fn on_cancel(
        &mut self,
        m: &Message,
        to: &str,
        out: &mut Vec<PhoneAction>,
    ) -> (u16, SipInput) {
        let ours = self.is_ours(m);
        let ringing = ours
            && self
                .call
                .as_ref()
                .is_some_and(|d| !d.placed && d.invite.is_some());
        if !ringing {
            return (if ours { 200 } else { 481 }, SipInput::Other);
        }
        // 200 for the CANCEL, 487 for the INVITE; the call is over.
        if let Some(inv) = self.call.as_ref().and_then(|d| d.invite.clone()) {
            let tag = format!("{}a{}", self.mac, self.answered + 1);
            out.push(PhoneAction::SendSip {
                to: to.to_owned(),
                datagram: Message::response_to(&inv, 487, Some(&tag)).render(),
            });
        }
        self.end_call();
        (200, SipInput::Cancelled)
    }

    /// Answers `m` with `code`, with this phone's To tag as callee; returns what was sent.
    fn respond(&self, m: &Message, code: u16, to: &str, out: &mut Vec<PhoneAction>) -> Vec<u8> {
        let tag = format!("{}a{}", self.mac, self.answered + 1);
        let d = Message::response_to(m, code, Some(&tag)).render();
        out.push(PhoneAction::SendSip {
            to: to.to_owned(),
            datagram: d.clone(),
        });
        d
    }

    /// Whether the offered call is to be answered busy (the policy's share, drawn from its
    /// Call-ID).
    pub(in crate::phone) fn offer_is_declined(&self) -> bool {
        self.offer
            .as_ref()
            .is_some_and(|o| unit_of(o.0.call_id()) < self.policy.busy_share)
    }

    /// Refuses the offered call with `code` (486 Busy Here: busy, or declined).
    pub(in crate::phone) fn reject(&mut self, code: u16, out: &mut Vec<PhoneAction>) {
        if let Some(o) = self.offer.take() {
            let (m, to) = *o;
            self.respond(&m, code, &to, out);
        }
    }

    /// Takes the offered call: 180 Ringing now; [`SipUa::answer`] sends the 200 OK.
    pub(in crate::phone) fn ring(&mut self, out: &mut Vec<PhoneAction>) -> bool {
        let Some(o) = self.offer.take() else {
            return false;
        };
        let (m, to) = *o;
        let last = self.respond(&m, 180, &to, out);
        let tag = format!("{}a{}", self.mac, self.answered + 1);
        self.call = Some(Box::new(Dialog {
            call_id: m.call_id().to_owned(),
            from: format!("{};tag={tag}", m.header("To").unwrap_or("")),
            to: m.header("From").unwrap_or("").to_owned(),
            next_hop: to,
            remote_target: m
                .header("Contact")
                .map(|c| sip::addr_uri(c).to_owned())
                .unwrap_or_default(),
            routes: m
                .headers_named("Record-Route")
                .flat_map(sip::split_list)
                .map(str::to_owned)
                .collect(),
            cseq: 0,
            hold: Duration::ZERO,
            placed: false,
            branch: m.top_branch().unwrap_or("").to_owned(),
            last_response: Some(last),
            invite: Some(m),
            answered_by: None,
        }));
        true
    }

    /// Answers the ringing call: 200 OK (with the phone's Contact and the Record-Route set),
    /// sent again until the ACK comes.
    pub(in crate::phone) fn answer(&mut self, now: Instant, out: &mut Vec<PhoneAction>) -> bool {
        let contact = format!("<{}>", self.contact_uri(0));
        let tag = format!("{}a{}", self.mac, self.answered + 1);
        let Some(d) = &mut self.call else {
            return false;
        };
        let Some(inv) = d.invite.take() else {
            return false;
        };
        let mut ok = Message::response_to(&inv, 200, Some(&tag)).with("Contact", contact);
        for rr in inv.headers_named("Record-Route") {
            ok = ok.with("Record-Route", rr.to_owned());
        }
        d.last_response = Some(ok.render());
        let (key, to) = (format!("uas:{}", d.call_id), d.next_hop.clone());
        self.answered += 1;
        self.timers
            .send_kept(key, &to, &ok, true, now, now + CALL_WAIT, out);
        true
    }
}
