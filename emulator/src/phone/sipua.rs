//! The phone's SIP side, pure: builds its REGISTERs (Contact with the Cisco
//! `+sip.instance` carrying its MAC), reads the answers, answers the cluster's
//! `service-control` NOTIFY. No sockets: datagrams go out as [`PhoneAction::SendSip`].

use std::time::Duration;

use emroam_protocol::sip::{self, Message, StartLine};

use super::PhoneAction;

/// How long a phone waits for its REGISTERs' answers.
pub const REGISTER_WAIT: Duration = Duration::from_secs(5);
/// How long a registered phone waits for the NOTIFY after an EM login or logout.
pub const RESTART_WAIT: Duration = Duration::from_secs(5);
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

    /// Reads one datagram; answers a request (NOTIFY 200, or 400 when its RegisterCallId is
    /// not ours, as Cisco phones do; 405 for anything else).
    pub(super) fn on_datagram(&mut self, d: &[u8], out: &mut Vec<PhoneAction>) -> Got {
        let Ok(m) = sip::parse(d) else {
            return Got::Other;
        };
        match &m.start {
            StartLine::Response { code, .. } => {
                if m.method() == Some("REGISTER") && self.call_ids.iter().any(|c| c == m.call_id())
                {
                    if *code == 200
                        && let Some(line) =
                            m.header("To").and_then(|t| sip::uri_user(sip::addr_uri(t)))
                    {
                        self.registered.push(line.to_owned());
                    }
                    return Got::RegisterAnswer {
                        call_id: m.call_id().to_owned(),
                        code: *code,
                    };
                }
                Got::Other
            }
            StartLine::Request { method, .. } => {
                let to = m
                    .header("Via")
                    .and_then(|v| sip::via_target(sip::split_list(v)[0]))
                    .map(|(h, p)| format!("{h}:{p}"));
                let (code, got) =
                    if method == "NOTIFY" && m.header("Event") == Some("service-control") {
                        match sip::parse_service_control(&m.body) {
                            Some((_, id)) if self.call_ids.contains(&id) => (200, Got::Restart),
                            _ => (400, Got::Other),
                        }
                    } else if method == "OPTIONS" {
                        (200, Got::Other)
                    } else if method == "ACK" {
                        return Got::Other;
                    } else {
                        (405, Got::Other)
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
}
