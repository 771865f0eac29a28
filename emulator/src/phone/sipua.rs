//! The phone's SIP side, pure: builds its REGISTERs (Contact with the Cisco
//! `+sip.instance` carrying its MAC), reads the answers, answers the cluster's
//! `service-control` NOTIFY, places one call at a time (INVITE, ACK and BYE along the
//! Record-Route set) and auto-answers incoming calls at once (180, 200; 486 when already in a
//! call; BYE answered 200). No sockets: datagrams go out as [`PhoneAction::SendSip`].

use std::time::Duration;

use emroam_protocol::sip::{self, Message, StartLine};

use super::PhoneAction;

/// How long a phone waits for its REGISTERs' answers.
pub const REGISTER_WAIT: Duration = Duration::from_secs(5);
/// How long a registered phone waits for the NOTIFY after an EM login or logout.
pub const RESTART_WAIT: Duration = Duration::from_secs(5);
/// How long a caller waits for an INVITE's or BYE's final answer.
pub const CALL_WAIT: Duration = Duration::from_secs(8);
/// The expiry a phone asks for (CUCM's default SIP station registration, 3600 s).
pub const EXPIRES: u32 = 3600;

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
    /// A response to the phone's INVITE (provisional or final; a 200 was ACKed).
    CallAnswer {
        /// The status.
        code: u16,
    },
    /// The answer to the phone's BYE.
    ByeAnswer,
    /// The other side hung up the call this phone placed or answered.
    ByeReceived,
    /// Something else (answered if it was a request).
    Other,
}

/// A phone's SIP user agent state: its Contact, its registrations' Call-IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUa {
    device: String,
    mac: String,
    contact: String,
    seq: u64,
    /// Call-IDs of the REGISTERs sent for the lines of the current config (the cluster's
    /// NOTIFY names one of them).
    call_ids: Vec<String>,
    /// Lines whose REGISTER was answered 200.
    registered: Vec<String>,
    /// A restart NOTIFY came before the phone was ready to act on it.
    pub(super) early_restart: bool,
    /// The call in progress, placed or answered.
    call: Option<Dialog>,
    /// Calls answered since the phone was made.
    answered: u64,
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
}

impl SipUa {
    /// The UA of `device`, reachable at `contact` (`host:port`).
    pub fn new(device: &str, contact: &str) -> SipUa {
        SipUa {
            device: device.to_owned(),
            mac: device.trim_start_matches("SEP").to_ascii_lowercase(),
            contact: contact.to_owned(),
            seq: 0,
            call_ids: Vec::new(),
            registered: Vec::new(),
            early_restart: false,
            call: None,
            answered: 0,
        }
    }

    /// Whether at least one REGISTER was answered 200 since the last restart.
    pub fn is_registered(&self) -> bool {
        !self.registered.is_empty()
    }

    /// The lines (or the device name) registered now.
    pub fn registered_lines(&self) -> &[String] {
        &self.registered
    }

    /// Sends a REGISTER per line (the device name when there are none) to `proxy`
    /// (`host:port`); returns their Call-IDs.
    pub(super) fn register_all(
        &mut self,
        proxy: &str,
        lines: &[String],
        out: &mut Vec<PhoneAction>,
    ) -> Vec<String> {
        self.registered.clear();
        self.call_ids.clear();
        let lines: Vec<String> = if lines.is_empty() {
            vec![self.device.clone()]
        } else {
            lines.to_vec()
        };
        for line in lines {
            self.seq += 1;
            let call_id = format!("{}-{:08x}-{line}@{}", self.mac, self.seq, self.contact);
            let host = proxy;
            let m = Message::request("REGISTER", &format!("sip:{host}"))
                .with(
                    "Via",
                    format!("SIP/2.0/UDP {};branch=z9hG4bK{}r{}", self.contact, self.mac, self.seq),
                )
                .with("From", format!("<sip:{line}@{host}>;tag={}r{}", self.mac, self.seq))
                .with("To", format!("<sip:{line}@{host}>"))
                .with("Call-ID", call_id.clone())
                .with("CSeq", "101 REGISTER")
                .with("Max-Forwards", "70")
                .with("User-Agent", "Cisco-CP8865/14.2.1")
                .with(
                    "Contact",
                    format!(
                        "<sip:{line}@{};transport=udp>;+sip.instance={};+u.sip!model.ccm.cisco.com=\"36670\";expires={EXPIRES}",
                        self.contact,
                        sip::instance_for_mac(&self.mac)
                    ),
                )
                .with("Expires", EXPIRES.to_string());
            out.push(PhoneAction::SendSip {
                to: proxy.to_owned(),
                datagram: m.render(),
            });
            self.call_ids.push(call_id);
        }
        self.call_ids.clone()
    }

    /// Calls this phone answered.
    pub fn answered_calls(&self) -> u64 {
        self.answered
    }

    /// Whether a call is in progress.
    pub fn in_call(&self) -> bool {
        self.call.is_some()
    }

    pub(super) fn hold(&self) -> Duration {
        self.call.as_ref().map_or(Duration::ZERO, |d| d.hold)
    }

    pub(super) fn end_call(&mut self) {
        self.call = None;
    }

    fn via(&mut self) -> String {
        self.seq += 1;
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{}c{}",
            self.contact, self.mac, self.seq
        )
    }

    /// Places a call to `dn` through `proxy`.
    pub(super) fn invite(
        &mut self,
        proxy: &str,
        dn: &str,
        hold: Duration,
        out: &mut Vec<PhoneAction>,
    ) {
        let via = self.via();
        let call_id = format!("{}-call-{:08x}@{}", self.mac, self.seq, self.contact);
        let line = self
            .registered
            .first()
            .cloned()
            .unwrap_or_else(|| self.device.clone());
        let from = format!("<sip:{line}@{proxy}>;tag={}c{}", self.mac, self.seq);
        let to = format!("<sip:{dn}@{proxy}>");
        let m = Message::request("INVITE", &format!("sip:{dn}@{proxy}"))
            .with("Via", via)
            .with("From", from.clone())
            .with("To", to.clone())
            .with("Call-ID", call_id.clone())
            .with("CSeq", "101 INVITE")
            .with("Max-Forwards", "70")
            .with("Contact", format!("<sip:{line}@{}>", self.contact))
            .with("User-Agent", "Cisco-CP8865/14.2.1");
        out.push(PhoneAction::SendSip {
            to: proxy.to_owned(),
            datagram: m.render(),
        });
        self.call = Some(Dialog {
            call_id,
            from,
            to,
            next_hop: proxy.to_owned(),
            remote_target: format!("sip:{dn}@{proxy}"),
            routes: Vec::new(),
            cseq: 101,
            hold,
            placed: true,
        });
    }

    fn in_dialog(&mut self, method: &str, cseq: u32) -> Option<(Message, String)> {
        let via = self.via();
        let d = self.call.as_ref()?;
        let mut m = Message::request(method, &d.remote_target)
            .with("Via", via)
            .with("From", d.from.clone())
            .with("To", d.to.clone())
            .with("Call-ID", d.call_id.clone())
            .with("CSeq", format!("{cseq} {method}"))
            .with("Max-Forwards", "70");
        if !d.routes.is_empty() {
            m = m.with("Route", d.routes.join(", "));
        }
        Some((m, d.next_hop.clone()))
    }

    /// Hangs up the call in progress.
    pub(super) fn bye(&mut self, out: &mut Vec<PhoneAction>) {
        let cseq = self.call.as_ref().map_or(0, |d| d.cseq + 1);
        if let Some((m, to)) = self.in_dialog("BYE", cseq) {
            out.push(PhoneAction::SendSip {
                to,
                datagram: m.render(),
            });
        }
    }

    /// Reads one datagram; answers a request (NOTIFY 200, or 400 when its RegisterCallId is
    /// not ours, as Cisco phones do; INVITE, BYE, CANCEL, OPTIONS; 405 for anything else).
    pub(super) fn on_datagram(&mut self, d: &[u8], out: &mut Vec<PhoneAction>) -> Got {
        let Ok(m) = sip::parse(d) else {
            return Got::Other;
        };
        match &m.start {
            StartLine::Response { code, .. } => self.on_response(&m, *code, out),
            StartLine::Request { method, .. } => {
                let method = method.clone();
                let to = m
                    .header("Via")
                    .and_then(|v| sip::via_target(sip::split_list(v)[0]))
                    .map(|(h, p)| format!("{h}:{p}"));
                let ours = self.call.as_ref().is_some_and(|d| d.call_id == m.call_id());
                let (code, got) = match method.as_str() {
                    "NOTIFY" if m.header("Event") == Some("service-control") => {
                        match sip::parse_service_control(&m.body) {
                            Some((_, id)) if self.call_ids.contains(&id) => (200, Got::Restart),
                            _ => (400, Got::Other),
                        }
                    }
                    "OPTIONS" => (200, Got::Other),
                    "ACK" => return Got::Other,
                    "INVITE" => return self.on_invite(&m, to, out),
                    "BYE" if ours => {
                        self.call = None;
                        (200, Got::ByeReceived)
                    }
                    "BYE" => (481, Got::Other),
                    "CANCEL" => (if ours { 200 } else { 481 }, Got::Other),
                    _ => (405, Got::Other),
                };
                if got == Got::Restart {
                    self.registered.clear();
                }
                if let Some(to) = to {
                    let r = Message::response_to(&m, code, Some(&self.mac));
                    out.push(PhoneAction::SendSip {
                        to,
                        datagram: r.render(),
                    });
                }
                got
            }
        }
    }

    fn on_response(&mut self, m: &Message, code: u16, out: &mut Vec<PhoneAction>) -> Got {
        if m.method() == Some("REGISTER") && self.call_ids.iter().any(|c| c == m.call_id()) {
            if code == 200
                && let Some(line) = m.header("To").and_then(|t| sip::uri_user(sip::addr_uri(t)))
            {
                self.registered.push(line.to_owned());
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
            Some("INVITE") if (200..300).contains(&code) => {
                // Route set: the Record-Route list reversed; in-dialog requests go to its
                // first hop.
                let mut routes: Vec<String> = m
                    .headers_named("Record-Route")
                    .flat_map(sip::split_list)
                    .map(str::to_owned)
                    .collect();
                routes.reverse();
                if let Some(d) = &mut self.call {
                    if let Some(to) = m.header("To") {
                        d.to = to.to_owned();
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
                }
                let cseq = self.call.as_ref().map_or(101, |d| d.cseq);
                if let Some((ack, to)) = self.in_dialog("ACK", cseq) {
                    out.push(PhoneAction::SendSip {
                        to,
                        datagram: ack.render(),
                    });
                }
                Got::CallAnswer { code }
            }
            Some("INVITE") if code >= 300 => {
                // The ACK of a failure goes hop by hop, with the INVITE's branch.
                if let Some(d) = self.call.take() {
                    let ack = Message::request("ACK", &format!("sip:{}", d.next_hop))
                        .with("Via", m.header("Via").unwrap_or("").to_owned())
                        .with("From", d.from)
                        .with("To", m.header("To").unwrap_or("").to_owned())
                        .with("Call-ID", d.call_id)
                        .with("CSeq", "101 ACK")
                        .with("Max-Forwards", "70");
                    out.push(PhoneAction::SendSip {
                        to: d.next_hop,
                        datagram: ack_fixup(ack, &d.remote_target),
                    });
                }
                Got::CallAnswer { code }
            }
            Some("INVITE") => Got::CallAnswer { code },
            Some("BYE") if code >= 200 => {
                self.call = None;
                Got::ByeAnswer
            }
            _ => Got::Other,
        }
    }

    /// Auto-answers an incoming call at once (180 then 200), or 486 when already in one.
    fn on_invite(&mut self, m: &Message, to: Option<String>, out: &mut Vec<PhoneAction>) -> Got {
        let Some(to) = to else {
            return Got::Other;
        };
        let retransmission = self.call.as_ref().is_some_and(|d| d.call_id == m.call_id());
        if self.call.is_some() && !retransmission {
            let r = Message::response_to(m, 486, Some(&self.mac));
            out.push(PhoneAction::SendSip {
                to,
                datagram: r.render(),
            });
            return Got::Other;
        }
        let tag = format!("{}a{}", self.mac, self.answered + 1);
        let mut ok = Message::response_to(m, 200, Some(&tag))
            .with("Contact", format!("<sip:{}@{}>", self.device, self.contact));
        for rr in m.headers_named("Record-Route") {
            ok = ok.with("Record-Route", rr.to_owned());
        }
        for r in [Message::response_to(m, 180, Some(&tag)), ok] {
            out.push(PhoneAction::SendSip {
                to: to.clone(),
                datagram: r.render(),
            });
        }
        if !retransmission {
            self.answered += 1;
            self.call = Some(Dialog {
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
            });
        }
        Got::Other
    }
}

/// The ACK of a failed INVITE carries the INVITE's Request-URI.
fn ack_fixup(mut ack: Message, uri: &str) -> Vec<u8> {
    ack.start = StartLine::Request {
        method: "ACK".into(),
        uri: uri.to_owned(),
    };
    ack.render()
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

    #[test]
    fn registers_each_line_with_its_mac_and_reads_the_answers() {
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        let ids = ua.register_all("127.0.0.1:5060", &["1000".into(), "1001".into()], &mut out);
        let regs = sent(&out);
        assert_eq!(regs.len(), 2);
        let c = regs[0].header("Contact").unwrap();
        assert_eq!(sip::instance_mac(c).as_deref(), Some("0011AABBCCDD"));
        assert!(!ua.is_registered());
        let ok = Message::response_to(&regs[0], 200, Some("s")).render();
        let got = ua.on_datagram(&ok, &mut Vec::new());
        assert_eq!(
            got,
            Got::RegisterAnswer {
                call_id: ids[0].clone(),
                code: 200
            }
        );
        assert_eq!(ua.registered_lines(), ["1000"]);
        // No lines: the device name registers.
        let mut out = Vec::new();
        ua.register_all("127.0.0.1:5060", &[], &mut out);
        assert_eq!(
            sip::uri_user(sip::addr_uri(sent(&out)[0].header("To").unwrap())),
            Some("SEP0011AABBCCDD")
        );
    }

    #[test]
    fn a_notify_restarts_only_with_our_register_call_id() {
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let mut out = Vec::new();
        let ids = ua.register_all("127.0.0.1:5060", &["1000".into()], &mut out);
        let notify = |id: &str| {
            sip::service_control_notify(&sip::ServiceControl {
                action: sip::ServiceAction::Restart,
                contact: "sip:1000@127.0.0.9:5062",
                register_call_id: id,
                local: "127.0.0.1:5060",
                branch: "-x",
                tag: "t",
                call_id: "n1",
            })
            .render()
        };
        let mut out = Vec::new();
        assert_eq!(
            ua.on_datagram(&notify("someone-else"), &mut out),
            Got::Other
        );
        assert_eq!(sent(&out)[0].code(), Some(400));
        let mut out = Vec::new();
        assert_eq!(ua.on_datagram(&notify(&ids[0]), &mut out), Got::Restart);
        assert_eq!(sent(&out)[0].code(), Some(200));
        assert!(matches!(&out[0], PhoneAction::SendSip { to, .. } if to == "127.0.0.1:5060"));
        assert_eq!(ua.on_datagram(b"garbage", &mut Vec::new()), Got::Other);
    }

    #[test]
    fn answers_an_incoming_call_and_is_busy_for_a_second() {
        let mut ua = SipUa::new("SEP0011AABBCCDD", "127.0.0.9:5062");
        let invite = |call_id: &str| {
            Message::request("INVITE", "sip:1000@127.0.0.9:5062")
                .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-1")
                .with("Record-Route", "<sip:127.0.0.1:5060;lr>")
                .with("From", "<sip:2000@127.0.0.1>;tag=c")
                .with("To", "<sip:1000@127.0.0.1>")
                .with("Call-ID", call_id)
                .with("CSeq", "1 INVITE")
                .with("Contact", "<sip:2000@127.0.0.8:5070>")
                .render()
        };
        let mut out = Vec::new();
        ua.on_datagram(&invite("one"), &mut out);
        let codes: Vec<_> = sent(&out).iter().map(|m| m.code().unwrap()).collect();
        assert_eq!(codes, [180, 200]);
        assert!(sent(&out)[1].header("Record-Route").is_some());
        assert!(ua.in_call());
        let mut out = Vec::new();
        ua.on_datagram(&invite("two"), &mut out);
        assert_eq!(sent(&out)[0].code(), Some(486));
        assert_eq!(ua.answered_calls(), 1);
        let bye = Message::request("BYE", "sip:SEP0011AABBCCDD@127.0.0.9:5062")
            .with("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-em-2")
            .with("From", "<sip:2000@127.0.0.1>;tag=c")
            .with("To", "<sip:1000@127.0.0.1>;tag=x")
            .with("Call-ID", "one")
            .with("CSeq", "2 BYE")
            .render();
        let mut out = Vec::new();
        assert_eq!(ua.on_datagram(&bye, &mut out), Got::ByeReceived);
        assert_eq!(sent(&out)[0].code(), Some(200));
        assert!(!ua.in_call());
    }
}
