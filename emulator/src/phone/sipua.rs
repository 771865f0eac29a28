//! The phone's SIP side, pure: builds its REGISTERs (Contact with the Cisco
//! `+sip.instance` carrying its MAC) and their refreshes, reads the answers, answers the
//! cluster's `service-control` NOTIFY, places one call at a time (INVITE, ACK, BYE along the
//! Record-Route set; CANCEL when nobody answers), takes incoming calls as the phone's
//! [`AnswerPolicy`] says (ring time, auto-answer, a share answered busy; 486 when already in
//! a call), and retransmits over UDP as RFC 3261 §17 asks. No sockets, no clocks: datagrams
//! go out as [`PhoneAction::SendSip`] and the time is passed in.
//!
//! Choices (Cisco's exact behaviour is UNCONFIRMED where noted):
//! - Contact: `<sip:UUID@host:port;transport=udp>` with a per-line UUID-shaped user ending in
//!   the MAC (`00000000-0000-0000-0000-0011aabbccdd` for the first line), as Cisco phones put
//!   a UUID there rather than the number. Every request a cluster sends a phone is addressed
//!   to one of its Contacts, and every response carries the phone's own Via branch
//!   (`z9hG4bK` + MAC + …), so many phones can share one UDP socket: [`addressee`] says whose
//!   a datagram is.
//! - Refresh: the phone re-registers (same Call-ID, next CSeq) when 90 % of the expiry the
//!   registrar granted (the 200 OK's Contact `expires=`, else its `Expires`) has passed
//!   (UNCONFIRMED for Cisco; 90 % is a common phone default).
//! - Retransmission (RFC 3261 timers A, E and G with T1 = 500 ms, T2 = 4 s): an INVITE is
//!   sent again at 0.5, 1, 2, 4 s … until a provisional or final answer; REGISTER, BYE and
//!   CANCEL at 0.5, 1, 2, 4, 4 s … until a final answer; a callee's 200 OK until its ACK.
//!   Each wait also has its own deadline (`REGISTER_WAIT`, `CALL_WAIT`), shorter than
//!   RFC 3261's 32 s, so a load run shows a lost cluster in seconds.
//! - Answering: 180 Ringing at once, then 200 OK after the ring time; with auto-answer off the
//!   phone rings until the caller gives up (CANCEL → 200, then 487 for the INVITE). Whether a
//!   call is answered busy (486) is drawn from its Call-ID, so a run is repeatable.

use std::time::{Duration, Instant};

use emroam_protocol::sip::{self, Message, StartLine};

use super::PhoneAction;

/// How long a phone waits for its REGISTERs' answers.
pub const REGISTER_WAIT: Duration = Duration::from_secs(5);
/// How long a registered phone waits for the NOTIFY after an EM login or logout.
pub const RESTART_WAIT: Duration = Duration::from_secs(5);
/// How long a caller waits for an INVITE's or BYE's final answer.
pub const CALL_WAIT: Duration = Duration::from_secs(8);
/// How long an answered call's callee waits for the caller's BYE before it gives the call up
/// (CUCM's Maximum Call Duration timer defaults to 720 minutes; a test load never holds
/// that long).
pub const CALLEE_GUARD: Duration = Duration::from_secs(2 * 3600);
/// The expiry a phone asks for (the registrar may grant less).
pub const EXPIRES: u32 = 3600;
/// RFC 3261's T1: the first retransmission interval.
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261's T2: the cap of a non-INVITE request's retransmission interval.
pub const T2: Duration = Duration::from_secs(4);
/// The share of a granted expiry after which the phone refreshes its registration.
pub const REFRESH_SHARE: f64 = 0.9;

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

/// What a datagram meant to the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
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

/// One line's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reg {
    line: String,
    call_id: String,
    cseq: u32,
    /// Answered 200.
    ok: bool,
}

/// A phone's SIP user agent state: its Contact, its registrations, its call.
#[derive(Debug, Clone, PartialEq)]
pub struct SipUa {
    device: String,
    mac: String,
    contact: String,
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
    retx: Vec<Retx>,
    /// Datagrams sent again since the phone was made.
    retransmissions: u64,
    /// Who answered the last call placed (`Some("")`: something that is not an emulated
    /// phone).
    last_answered_by: Option<String>,
}

/// One call's dialog state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dialog {
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

/// The MAC in a To tag this phone model sets as callee (`<mac>a<n>`).
fn tag_mac(to: &str) -> Option<String> {
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
    /// The UA of `device`, reachable at `contact` (`host:port`).
    pub fn new(device: &str, contact: &str) -> SipUa {
        SipUa {
            device: device.to_owned(),
            mac: device.trim_start_matches("SEP").to_ascii_lowercase(),
            contact: contact.to_owned(),
            seq: 0,
            proxy: None,
            regs: Vec::new(),
            refresh_at: None,
            call: None,
            offer: None,
            answered: 0,
            policy: AnswerPolicy::default(),
            retx: Vec::new(),
            retransmissions: 0,
            last_answered_by: None,
        }
    }

    /// Takes calls as `policy` says.
    pub fn set_policy(&mut self, policy: AnswerPolicy) {
        self.policy = policy;
    }

    /// The lower-case MAC (what [`addressee`] returns for this phone).
    pub fn mac(&self) -> &str {
        &self.mac
    }

    /// Whether at least one REGISTER was answered 200 since the last restart.
    pub fn is_registered(&self) -> bool {
        self.regs.iter().any(|r| r.ok)
    }

    /// The lines (or the device name) registered now.
    pub fn registered_lines(&self) -> Vec<String> {
        self.regs
            .iter()
            .filter(|r| r.ok)
            .map(|r| r.line.clone())
            .collect()
    }

    /// When the registrations are due for a refresh.
    pub fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at.filter(|_| self.is_registered())
    }

    /// Calls this phone answered.
    pub fn answered_calls(&self) -> u64 {
        self.answered
    }

    /// Datagrams sent again (no answer in time) since the phone was made.
    pub fn retransmissions(&self) -> u64 {
        self.retransmissions
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

    pub(super) fn hold(&self) -> Duration {
        self.call.as_ref().map_or(Duration::ZERO, |d| d.hold)
    }

    pub(super) fn end_call(&mut self) {
        if let Some(d) = self.call.take() {
            self.retx
                .retain(|r| r.key != d.branch && r.key != format!("uas:{}", d.call_id));
        }
    }

    /// The earliest retransmission due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.retx.iter().map(|r| r.next).min()
    }

    /// Sends again what is due at `now`; forgets what ran out of time.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<PhoneAction>) {
        self.retx.retain(|r| r.until > now);
        for r in &mut self.retx {
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
    fn send_kept(
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
        self.retx.retain(|r| r.key != key);
        self.retx.push(Retx {
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

    fn settle(&mut self, key: &str) {
        self.retx.retain(|r| r.key != key);
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

    fn register_message(&mut self, idx: usize, proxy: &str, expires: u32) -> (Message, String) {
        let branch = self.branch('r');
        let r = &self.regs[idx];
        let line = r.line.clone();
        let m = Message::request("REGISTER", &format!("sip:{proxy}"))
            .with("Via", format!("SIP/2.0/UDP {};branch={branch}", self.contact))
            .with("From", format!("<sip:{line}@{proxy}>;tag={}r{idx}", self.mac))
            .with("To", format!("<sip:{line}@{proxy}>"))
            .with("Call-ID", r.call_id.clone())
            .with("CSeq", format!("{} REGISTER", r.cseq))
            .with("Max-Forwards", "70")
            .with("User-Agent", "Cisco-CP8865/14.2.1")
            .with(
                "Contact",
                format!(
                    "<{}>;+sip.instance={};+u.sip!devicename.ccm.cisco.com=\"{}\";+u.sip!model.ccm.cisco.com=\"36670\";expires={expires}",
                    self.contact_uri(idx),
                    sip::instance_for_mac(&self.mac),
                    self.device,
                ),
            )
            .with("Expires", expires.to_string());
        (m, branch)
    }

    /// Sends a REGISTER per line (the device name when there are none) to `proxy`
    /// (`host:port`), each with a new Call-ID; returns their Call-IDs.
    pub(super) fn register_all(
        &mut self,
        proxy: &str,
        lines: &[String],
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> Vec<String> {
        let reg_branch = format!("z9hG4bK{}r", self.mac);
        self.retx.retain(|r| !r.key.starts_with(&reg_branch));
        self.proxy = Some(proxy.to_owned());
        self.refresh_at = None;
        let lines: Vec<String> = if lines.is_empty() {
            vec![self.device.clone()]
        } else {
            lines.to_vec()
        };
        self.regs = lines
            .into_iter()
            .map(|line| {
                self.seq += 1;
                Reg {
                    call_id: format!("{}-{:08x}-{line}@{}", self.mac, self.seq, self.contact),
                    line,
                    cseq: 101,
                    ok: false,
                }
            })
            .collect();
        self.send_registers(now, out)
    }

    /// Refreshes every registration (same Call-ID, next CSeq); returns their Call-IDs (empty
    /// when the phone has not registered).
    pub(super) fn refresh(&mut self, now: Instant, out: &mut Vec<PhoneAction>) -> Vec<String> {
        if self.proxy.is_none() || self.regs.is_empty() {
            return Vec::new();
        }
        for r in &mut self.regs {
            r.cseq += 1;
        }
        self.refresh_at = None;
        self.send_registers(now, out)
    }

    fn send_registers(&mut self, now: Instant, out: &mut Vec<PhoneAction>) -> Vec<String> {
        let Some(proxy) = self.proxy.clone() else {
            return Vec::new();
        };
        for idx in 0..self.regs.len() {
            let (m, branch) = self.register_message(idx, &proxy, EXPIRES);
            self.send_kept(branch, &proxy, &m, true, now, now + REGISTER_WAIT, out);
        }
        self.regs.iter().map(|r| r.call_id.clone()).collect()
    }

    /// Places a call to `dn` through the proxy the phone registered with.
    pub(super) fn invite(
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
        let line = self
            .regs
            .iter()
            .find(|r| r.ok)
            .map_or_else(|| self.device.clone(), |r| r.line.clone());
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
        self.send_kept(branch.clone(), &proxy, &m, false, now, now + CALL_WAIT, out);
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
    pub(super) fn bye(&mut self, now: Instant, out: &mut Vec<PhoneAction>) {
        let cseq = self.call.as_ref().map_or(0, |d| d.cseq + 1);
        if let Some(d) = &mut self.call {
            d.cseq = cseq;
        }
        if let Some((m, to, branch)) = self.in_dialog("BYE", cseq) {
            self.send_kept(branch, &to, &m, true, now, now + CALL_WAIT, out);
        }
    }

    /// Gives up a placed call nobody answered: CANCEL (same branch as the INVITE, hop by
    /// hop to the proxy), and the call is over.
    pub(super) fn cancel(&mut self, out: &mut Vec<PhoneAction>) {
        let Some(d) = self.call.take() else {
            return;
        };
        self.settle(&d.branch);
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

    /// Reads one datagram at `now`; answers a request (NOTIFY 200, or 400 when its
    /// RegisterCallId is not ours, as Cisco phones do; BYE, CANCEL, OPTIONS; 486 for an
    /// INVITE while in a call; 405 for anything else). A new INVITE is kept as an offer
    /// ([`Got::Offered`]) for the phone to ring or reject.
    pub(super) fn on_datagram(
        &mut self,
        d: &[u8],
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> Got {
        let Ok(m) = sip::parse(d) else {
            return Got::Other;
        };
        match &m.start {
            StartLine::Response { code, .. } => self.on_response(&m, *code, now, out),
            StartLine::Request { method, .. } => {
                let method = method.clone();
                let Some(to) = m
                    .header("Via")
                    .and_then(|v| sip::via_target(sip::split_list(v)[0]))
                    .map(|(h, p)| format!("{h}:{p}"))
                else {
                    return Got::Other;
                };
                let ours = self.call.as_ref().is_some_and(|d| d.call_id == m.call_id());
                let ringing = ours
                    && self
                        .call
                        .as_ref()
                        .is_some_and(|d| !d.placed && d.invite.is_some());
                let (code, got) = match method.as_str() {
                    "NOTIFY" if m.header("Event") == Some("service-control") => {
                        match sip::parse_service_control(&m.body) {
                            Some((_, id)) if self.regs.iter().any(|r| r.call_id == id) => {
                                (200, Got::Restart)
                            }
                            _ => (400, Got::Other),
                        }
                    }
                    "OPTIONS" => (200, Got::Other),
                    "ACK" => {
                        if ours && let Some(d) = &self.call {
                            let key = format!("uas:{}", d.call_id);
                            self.settle(&key);
                            return Got::Ack;
                        }
                        return Got::Other;
                    }
                    "INVITE" => return self.on_invite(m, to, out),
                    "BYE" if ours => {
                        self.end_call();
                        (200, Got::ByeReceived)
                    }
                    "BYE" => (481, Got::Other),
                    "CANCEL" if ringing => {
                        // 200 for the CANCEL, 487 for the INVITE; the call is over.
                        if let Some(inv) = self.call.as_ref().and_then(|d| d.invite.clone()) {
                            let tag = format!("{}a{}", self.mac, self.answered + 1);
                            out.push(PhoneAction::SendSip {
                                to: to.clone(),
                                datagram: Message::response_to(&inv, 487, Some(&tag)).render(),
                            });
                        }
                        self.end_call();
                        (200, Got::Cancelled)
                    }
                    "CANCEL" => (if ours { 200 } else { 481 }, Got::Other),
                    _ => (405, Got::Other),
                };
                if got == Got::Restart {
                    for r in &mut self.regs {
                        r.ok = false;
                    }
                    self.refresh_at = None;
                }
                let r = Message::response_to(&m, code, Some(&self.mac));
                out.push(PhoneAction::SendSip {
                    to,
                    datagram: r.render(),
                });
                let _ = now;
                got
            }
        }
    }

    fn on_response(
        &mut self,
        m: &Message,
        code: u16,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> Got {
        let branch = m.top_branch().unwrap_or("").to_owned();
        if m.method() == Some("REGISTER") {
            let Some(idx) = self.regs.iter().position(|r| r.call_id == m.call_id()) else {
                return Got::Other;
            };
            if code < 200 {
                return Got::Other;
            }
            self.settle(&branch);
            // A refused refresh loses the registration.
            self.regs[idx].ok = code == 200;
            if code == 200 {
                let granted = m
                    .header("Contact")
                    .and_then(|c| sip::param(c, "expires"))
                    .and_then(|e| e.parse::<u32>().ok())
                    .or(m.expires())
                    .unwrap_or(EXPIRES)
                    .max(1);
                let at = now + Duration::from_secs(u64::from(granted)).mul_f64(REFRESH_SHARE);
                self.refresh_at = Some(self.refresh_at.map_or(at, |t| t.min(at)));
            }
            return Got::RegisterAnswer {
                call_id: m.call_id().to_owned(),
                code,
            };
        }
        let ours = self
            .call
            .as_ref()
            .is_some_and(|d| d.placed && d.call_id == m.call_id());
        if !ours {
            return Got::Other;
        }
        match m.method() {
            Some("INVITE") => {
                // Any answer ends timer A.
                if let Some(d) = &self.call {
                    let b = d.branch.clone();
                    self.settle(&b);
                }
                if (200..300).contains(&code) {
                    self.on_invite_ok(m, now, out);
                } else if code >= 300 {
                    self.ack_failure(m, out);
                }
                Got::CallAnswer { code }
            }
            Some("BYE") if code >= 200 => {
                self.settle(&branch);
                self.end_call();
                Got::ByeAnswer
            }
            _ => Got::Other,
        }
    }

    fn on_invite_ok(&mut self, m: &Message, _now: Instant, out: &mut Vec<PhoneAction>) {
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

    fn on_invite(&mut self, m: Message, to: String, out: &mut Vec<PhoneAction>) -> Got {
        if let Some(d) = &self.call
            && d.call_id == m.call_id()
            && !d.placed
        {
            // A retransmitted INVITE: the last answer again.
            if let Some(r) = d.last_response.clone() {
                out.push(PhoneAction::SendSip { to, datagram: r });
            }
            return Got::Other;
        }
        if self.call.is_some() || self.offer.is_some() {
            self.respond(&m, 486, &to, out);
            return Got::Other;
        }
        self.offer = Some(Box::new((m, to)));
        Got::Offered
    }

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
    pub(super) fn offer_is_declined(&self) -> bool {
        self.offer
            .as_ref()
            .is_some_and(|o| unit_of(o.0.call_id()) < self.policy.busy_share)
    }

    /// The ring time and whether the phone answers, from its policy.
    pub(super) fn policy(&self) -> AnswerPolicy {
        self.policy
    }

    /// Refuses the offered call with `code` (486 Busy Here: busy, or declined).
    pub(super) fn reject(&mut self, code: u16, out: &mut Vec<PhoneAction>) {
        if let Some(o) = self.offer.take() {
            let (m, to) = *o;
            self.respond(&m, code, &to, out);
        }
    }

    /// Takes the offered call: 180 Ringing now; [`SipUa::answer`] sends the 200 OK.
    pub(super) fn ring(&mut self, out: &mut Vec<PhoneAction>) -> bool {
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
    pub(super) fn answer(&mut self, now: Instant, out: &mut Vec<PhoneAction>) -> bool {
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
        self.send_kept(key, &to, &ok, true, now, now + CALL_WAIT, out);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(out: &[PhoneAction]) -> Vec<Message> {
        out.iter()
            .filter_map(|a| match a {
                PhoneAction::SendSip { datagram, .. } => Some(sip::parse(datagram).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn registers_each_line_with_its_mac_and_reads_the_answers() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        let ids = ua.register_all(
            "127.0.0.1:5060",
            &["1000".into(), "1001".into()],
            now,
            &mut out,
        );
        let regs = sent(&out);
        assert_eq!(regs.len(), 2);
        let c = regs[0].header("Contact").unwrap();
        assert_eq!(sip::instance_mac(c).as_deref(), Some("0011AABBCCDD"));
        assert!(c.contains("+u.sip!devicename.ccm.cisco.com=\"SEP0011AABBCCDD\""));
        assert!(!ua.is_registered());
        let ok = Message::response_to(&regs[0], 200, Some("s"))
            .with("Contact", "<sip:x@127.0.0.9:5062>;expires=120")
            .render();
        let got = ua.on_datagram(&ok, now, &mut Vec::new());
        assert_eq!(
            got,
            Got::RegisterAnswer {
                call_id: ids[0].clone(),
                code: 200
            }
        );
        assert_eq!(ua.registered_lines(), ["1000"]);
        // 90 % of the 120 s granted.
        assert_eq!(ua.refresh_at(), Some(now + Duration::from_secs(108)));
        // No lines: the device name registers.
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &[], now, &mut out);
        assert_eq!(
            sip::uri_user(sip::addr_uri(sent(&out)[0].header("To").unwrap())),
            Some("SEP0011AABBCCDD")
        );
    }

    #[test]
    fn a_refresh_keeps_the_call_id_and_raises_the_cseq() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
        let first = sent(&out).remove(0);
        let mut out = Vec::new();
        let ids = ua.refresh(now, &mut out);
        let again = sent(&out).remove(0);
        assert_eq!(ids, [first.call_id().to_owned()]);
        assert_eq!(again.call_id(), first.call_id());
        assert_eq!(again.cseq(), Some((102, "REGISTER")));
        assert_ne!(again.top_branch(), first.top_branch());
        // Never registered: nothing to refresh.
        let mut fresh = SipUa::new("SEP0011AABBCCDE", "127.0.0.9:5062");
        assert!(fresh.refresh(now, &mut Vec::new()).is_empty());
    }

    #[test]
    fn requests_are_sent_again_on_rfc3261_timers_until_answered() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
        let reg = sent(&out).remove(0);
        let ms = |n| now + Duration::from_millis(n);
        // Non-INVITE: 0.5, 1, 2, 4 s apart, capped at T2, until REGISTER_WAIT.
        let mut at = Vec::new();
        let mut t = now;
        while let Some(next) = ua.next_timer() {
            t = next;
            let mut out = Vec::new();
            ua.on_timer(t, &mut out);
            if out.is_empty() {
                break;
            }
            assert_eq!(sent(&out)[0].top_branch(), reg.top_branch());
            at.push(t);
        }
        assert_eq!(at, [ms(500), ms(1500), ms(3500)]);
        assert!(t >= ms(5000) || ua.next_timer().is_none());
        assert_eq!(ua.retransmissions(), 3);
        // An answer stops it.
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
        let reg = sent(&out).remove(0);
        let ok = Message::response_to(&reg, 200, Some("s")).render();
        ua.on_datagram(&ok, now, &mut Vec::new());
        assert_eq!(ua.next_timer(), None);
    }

    #[test]
    fn an_invite_is_sent_again_uncapped_until_a_provisional_answer() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
        let ok = Message::response_to(&sent(&out)[0], 200, Some("s")).render();
        ua.on_datagram(&ok, now, &mut Vec::new());
        let mut out = Vec::new();
        assert!(ua.invite("2000", Duration::ZERO, now, &mut out));
        let inv = sent(&out).remove(0);
        let mut times = Vec::new();
        for _ in 0..4 {
            let t = ua.next_timer().unwrap();
            ua.on_timer(t, &mut Vec::new());
            times.push(t.duration_since(now).as_millis());
        }
        assert_eq!(times, [500, 1500, 3500, 7500]);
        let trying = Message::response_to(&inv, 100, None).render();
        assert_eq!(
            ua.on_datagram(&trying, now, &mut Vec::new()),
            Got::CallAnswer { code: 100 }
        );
        assert_eq!(ua.next_timer(), None);
    }

    #[test]
    fn a_notify_restarts_only_with_our_register_call_id() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        let ids = ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
        let notify = |id: &str| {
            sip::service_control_notify(&sip::ServiceControl {
                action: sip::ServiceAction::Restart,
                contact: "sip:00000000-0000-0000-0000-0011aabbccdd@127.0.0.9:5062",
                register_call_id: id,
                local: "127.0.0.1:5060",
                branch: "-x",
                tag: "t",
                call_id: "n1",
            })
            .render()
        };
        assert_eq!(addressee(&notify("x")).as_deref(), Some("0011aabbccdd"));
        let mut out = Vec::new();
        assert_eq!(
            ua.on_datagram(&notify("someone-else"), now, &mut out),
            Got::Other
        );
        assert_eq!(sent(&out)[0].code(), Some(400));
        let mut out = Vec::new();
        assert_eq!(
            ua.on_datagram(&notify(&ids[0]), now, &mut out),
            Got::Restart
        );
        assert_eq!(sent(&out)[0].code(), Some(200));
        assert!(matches!(&out[0], PhoneAction::SendSip { to, .. } if to == "127.0.0.1:5060"));
        assert_eq!(ua.on_datagram(b"garbage", now, &mut Vec::new()), Got::Other);
    }

    fn invite(call_id: &str) -> Vec<u8> {
        Message::request(
            "INVITE",
            "sip:00000000-0000-0000-0000-0011aabbccdd@127.0.0.9:5062",
        )
        .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-1")
        .with("Record-Route", "<sip:127.0.0.1:5060;lr>")
        .with("From", "<sip:2000@127.0.0.1>;tag=c")
        .with("To", "<sip:1000@127.0.0.1>")
        .with("Call-ID", call_id)
        .with("CSeq", "1 INVITE")
        .with("Contact", "<sip:2000@127.0.0.8:5070>")
        .render()
    }

    #[test]
    fn rings_answers_after_the_ring_time_and_is_busy_for_a_second_call() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        assert_eq!(addressee(&invite("one")).as_deref(), Some("0011aabbccdd"));
        let mut out = Vec::new();
        assert_eq!(ua.on_datagram(&invite("one"), now, &mut out), Got::Offered);
        assert!(out.is_empty());
        assert!(!ua.offer_is_declined());
        assert!(ua.ring(&mut out));
        assert_eq!(sent(&out)[0].code(), Some(180));
        // A retransmitted INVITE gets the 180 again; a second call gets 486.
        let mut out = Vec::new();
        ua.on_datagram(&invite("one"), now, &mut out);
        assert_eq!(sent(&out)[0].code(), Some(180));
        let mut out = Vec::new();
        ua.on_datagram(&invite("two"), now, &mut out);
        assert_eq!(sent(&out)[0].code(), Some(486));
        let mut out = Vec::new();
        assert!(ua.answer(now, &mut out));
        let ok = sent(&out).remove(0);
        assert_eq!(ok.code(), Some(200));
        assert!(ok.header("Record-Route").is_some());
        assert_eq!(
            tag_mac(ok.header("To").unwrap()).as_deref(),
            Some("0011aabbccdd")
        );
        // The 200 is sent again until the ACK.
        let t = ua.next_timer().unwrap();
        let mut out = Vec::new();
        ua.on_timer(t, &mut out);
        assert_eq!(sent(&out)[0].code(), Some(200));
        let ack = Message::request("ACK", "sip:x@127.0.0.9:5062")
            .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-3")
            .with("From", "<sip:2000@127.0.0.1>;tag=c")
            .with("To", "<sip:1000@127.0.0.1>;tag=x")
            .with("Call-ID", "one")
            .with("CSeq", "1 ACK")
            .render();
        assert_eq!(ua.on_datagram(&ack, now, &mut Vec::new()), Got::Ack);
        assert_eq!(ua.next_timer(), None);
        assert_eq!(ua.answered_calls(), 1);
        let bye = Message::request("BYE", "sip:x@127.0.0.9:5062")
            .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-2")
            .with("From", "<sip:2000@127.0.0.1>;tag=c")
            .with("To", "<sip:1000@127.0.0.1>;tag=x")
            .with("Call-ID", "one")
            .with("CSeq", "2 BYE")
            .render();
        let mut out = Vec::new();
        assert_eq!(ua.on_datagram(&bye, now, &mut out), Got::ByeReceived);
        assert_eq!(sent(&out)[0].code(), Some(200));
        assert!(!ua.in_call());
    }

    #[test]
    fn a_cancelled_ringing_call_gets_200_and_487() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        ua.on_datagram(&invite("one"), now, &mut Vec::new());
        ua.ring(&mut Vec::new());
        let cancel = Message::request("CANCEL", "sip:x@127.0.0.9:5062")
            .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-1")
            .with("From", "<sip:2000@127.0.0.1>;tag=c")
            .with("To", "<sip:1000@127.0.0.1>")
            .with("Call-ID", "one")
            .with("CSeq", "1 CANCEL")
            .render();
        let mut out = Vec::new();
        assert_eq!(ua.on_datagram(&cancel, now, &mut out), Got::Cancelled);
        let codes: Vec<_> = sent(&out).iter().filter_map(Message::code).collect();
        assert_eq!(codes, [487, 200]);
        assert!(!ua.in_call());
    }

    #[test]
    fn the_busy_share_declines_that_share_of_calls_repeatably() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        ua.set_policy(AnswerPolicy {
            busy_share: 0.25,
            ..AnswerPolicy::default()
        });
        let mut declined = 0;
        for i in 0..2000 {
            ua.on_datagram(&invite(&format!("call-{i}")), now, &mut Vec::new());
            if ua.offer_is_declined() {
                declined += 1;
            }
            let mut out = Vec::new();
            ua.reject(486, &mut out);
            assert_eq!(sent(&out)[0].code(), Some(486));
        }
        assert!((400..600).contains(&declined), "{declined}");
    }

    #[test]
    fn responses_are_addressed_by_our_via_branch_or_call_id() {
        let now = t0();
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &["1000".into()], now, &mut out);
        let ok = Message::response_to(&sent(&out)[0], 200, Some("s")).render();
        assert_eq!(addressee(&ok).as_deref(), Some("0011aabbccdd"));
        for hostile in [
            &b""[..],
            b"SIP/2.0 200 OK\r\n\r\n",
            b"INVITE sip:short@x SIP/2.0\r\nCall-ID: 1\r\n\r\n",
            b"INVITE sip:zzzzzzzzzzzz@x SIP/2.0\r\nVia: SIP/2.0/UDP a:1;branch=z9hG4bK1\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>\r\nTo: <sip:c@d>\r\n\r\n",
        ] {
            assert_eq!(addressee(hostile), None);
        }
    }
}
