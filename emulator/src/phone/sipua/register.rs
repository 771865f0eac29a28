//! Registration (RFC 3261 §10): a REGISTER per line, whose Contact carries the Cisco
//! `+sip.instance` with the phone's MAC, its answers, its refresh before the granted expiry
//! runs out, and the cluster's `service-control` NOTIFY that asks the phone to restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use emroam_protocol::sip::digest::Challenge;
use emroam_protocol::sip::{self, Message};

use super::{SipInput, SipUa};
use crate::phone::PhoneAction;

/// How long a phone waits for its REGISTERs' answers.
pub const REGISTER_WAIT: Duration = Duration::from_secs(5);
/// The expiry a phone asks for (the registrar may grant less).
pub const EXPIRES: u32 = 3600;
/// The share of a granted expiry after which the phone refreshes its registration.
pub const REFRESH_SHARE: f64 = 0.9;

/// One line's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reg {
    line: String,
    call_id: String,
    cseq: u32,
    /// Answered 200.
    ok: bool,
    /// The REGISTER in flight answers a challenge its own attempt got (a second refusal,
    /// unless stale, means wrong credentials); false for one sent with a remembered nonce.
    answering: bool,
}

/// A phone's digest credentials: its security profile's digest user and that user's digest
/// credentials (`Debug` leaves out the password).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// The digest user (an end user ID).
    pub user: String,
    /// Their digest credentials.
    pub password: String,
}

impl std::fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl SipUa {
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

    /// Answers digest challenges with these credentials.
    pub fn set_digest(&mut self, creds: Arc<DigestCredentials>) {
        self.digest = Some(creds);
    }

    /// Whether the phone has digest credentials.
    pub fn has_digest(&self) -> bool {
        self.digest.is_some()
    }

    /// When the registrations are due for a refresh.
    pub fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at.filter(|_| self.is_registered())
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
        // With credentials and a nonce from an earlier challenge, the next nonce count goes
        // along at once (no round trip for a 401 on every refresh).
        let m = match (&self.digest, &mut self.challenge) {
            (Some(d), Some(ch)) => {
                ch.1 += 1;
                let cnonce = format!("{}{:x}", self.mac, self.seq);
                let a = ch.0.answer(
                    &d.user,
                    &d.password,
                    "REGISTER",
                    &format!("sip:{proxy}"),
                    &cnonce,
                    ch.1,
                );
                m.with("Authorization", a.to_string())
            }
            _ => m,
        };
        (m, branch)
    }

    /// Sends a REGISTER per line (the device name when there are none) to `proxy`
    /// (`host:port`), each with a new Call-ID; returns their Call-IDs.
    pub(in crate::phone) fn register_all(
        &mut self,
        proxy: &str,
        lines: &[String],
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> Vec<String> {
        self.timers.settle_all(&format!("z9hG4bK{}r", self.mac));
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
                    answering: false,
                }
            })
            .collect();
        self.send_registers(now, out)
    }

    /// Refreshes every registration (same Call-ID, next CSeq); returns their Call-IDs (empty
    /// when the phone has not registered).
    pub(in crate::phone) fn refresh(
        &mut self,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> Vec<String> {
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
            self.regs[idx].answering = false;
            let (m, branch) = self.register_message(idx, &proxy, EXPIRES);
            self.timers
                .send_kept(branch, &proxy, &m, true, now, now + REGISTER_WAIT, out);
        }
        self.regs.iter().map(|r| r.call_id.clone()).collect()
    }

    /// The line a call is placed from: the first registered, else the device name.
    pub(super) fn calling_line(&self) -> String {
        self.regs
            .iter()
            .find(|r| r.ok)
            .map_or_else(|| self.device.clone(), |r| r.line.clone())
    }

    /// A `service-control` NOTIFY: a restart (200) when it names one of our REGISTERs'
    /// Call-IDs, which are then forgotten as registered; else 400, as Cisco phones answer.
    pub(super) fn on_service_control(&mut self, m: &Message) -> (u16, SipInput) {
        match sip::parse_service_control(&m.body) {
            Some((_, id)) if self.regs.iter().any(|r| r.call_id == id) => {
                for r in &mut self.regs {
                    r.ok = false;
                }
                self.refresh_at = None;
                (200, SipInput::Restart)
            }
            _ => (400, SipInput::Other),
        }
    }

    /// The answer to one of our REGISTERs (anything else is [`SipInput::Other`]).
    pub(super) fn on_register_answer(
        &mut self,
        m: &Message,
        code: u16,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> SipInput {
        let Some(idx) = self.regs.iter().position(|r| r.call_id == m.call_id()) else {
            return SipInput::Other;
        };
        if code < 200 {
            return SipInput::Other;
        }
        self.timers.settle(m.top_branch().unwrap_or(""));
        if code == 401 && self.answer_challenge(idx, m, now, out) {
            return SipInput::Other;
        }
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
        SipInput::RegisterAnswer {
            call_id: m.call_id().to_owned(),
            code,
        }
    }

    /// A 401 to line `idx`'s REGISTER: sends it again with credentials (next CSeq) and
    /// returns true, unless the phone has none, the challenge does not parse, or this
    /// attempt already answered a challenge and the nonce was not stale (wrong credentials).
    fn answer_challenge(
        &mut self,
        idx: usize,
        m: &Message,
        now: Instant,
        out: &mut Vec<PhoneAction>,
    ) -> bool {
        let (Some(_), Some(proxy)) = (&self.digest, self.proxy.clone()) else {
            return false;
        };
        let Some(ch) = m
            .header("WWW-Authenticate")
            .and_then(|h| Challenge::parse(h).ok())
        else {
            return false;
        };
        let refused = self.regs[idx].answering && !ch.stale;
        // The newest nonce is the one to use next, even after a refusal.
        self.challenge = Some(Box::new((ch, 0)));
        if refused {
            return false;
        }
        let r = &mut self.regs[idx];
        r.answering = true;
        r.cseq += 1;
        let (msg, branch) = self.register_message(idx, &proxy, EXPIRES);
        self.timers
            .send_kept(branch, &proxy, &msg, true, now, now + REGISTER_WAIT, out);
        true
    }
}
