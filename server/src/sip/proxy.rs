//! The proxy: an initial INVITE routed to a phone registered here, over a trunk to the cluster
//! where the number is now, or answered 404/480/503; requests inside a dialog (ACK, BYE,
//! CANCEL, re-INVITE) forwarded along their route; responses relayed back down the Via path.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

use emroam_protocol::sip::{self, Message, StartLine};
use tokio::time::Instant;

use super::transactions::{LINGER, Txn};
use super::{Out, Sip};
use crate::sync::{LockExt, RwLockExt};

/// Private header marking a request that came over a trunk (delivered locally only).
const TRUNK_HEADER: &str = "X-Emroam-Trunk";

/// Our Via branch for a request forwarded with branch `incoming`: the same for its
/// retransmissions and for a CANCEL of it.
fn derived_branch(incoming: &str, cluster: &str) -> String {
    let mut h = std::hash::DefaultHasher::new();
    incoming.hash(&mut h);
    cluster.hash(&mut h);
    format!("z9hG4bK-em-{:016x}", h.finish())
}

fn parse_addr(host: &str, port: u16) -> Option<SocketAddr> {
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

impl Sip {
    /// Answers an initial INVITE with a final status here, remembering it for retransmissions.
    pub(super) fn final_reply(
        &self,
        req: &Message,
        key: Option<String>,
        code: u16,
        to: SocketAddr,
        now: Instant,
        out: &mut Out,
    ) {
        self.final_reply_with(req, key, code, None, to, now, out);
    }

    /// A new call refused for overload: 503 with `Retry-After`.
    fn refuse_overloaded(
        &self,
        req: &Message,
        key: Option<String>,
        from: SocketAddr,
        now: Instant,
        out: &mut Out,
    ) {
        let retry = ("Retry-After", self.inner.opts.retry_after_secs.to_string());
        self.final_reply_with(req, key, 503, Some(retry), from, now, out);
    }

    /// [`Sip::final_reply`] with one more header.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn final_reply_with(
        &self,
        req: &Message,
        key: Option<String>,
        code: u16,
        extra: Option<(&str, String)>,
        to: SocketAddr,
        now: Instant,
        out: &mut Out,
    ) {
        let mut sent = Vec::new();
        self.reply_with(req, code, extra, to, &mut sent);
        if let Some(k) = key {
            self.remember(k, sent.clone(), now);
        }
        out.extend(sent);
    }

    /// An initial INVITE: to the phone registered here for the number, else over the trunk to
    /// where ILS places it (or its home cluster), else 480 for a number this cluster owns and
    /// 404 for one it does not. A request that came over a trunk is only delivered locally.
    pub(super) fn on_invite(
        &self,
        mut req: Message,
        key: Option<String>,
        from: SocketAddr,
        now: Instant,
        local: &str,
        out: &mut Out,
    ) {
        let c = &self.inner.cluster;
        let in_branch = req.top_branch().unwrap_or("").to_owned();
        let branch = derived_branch(&in_branch, c.id());
        // A retransmission while the INVITE is in progress: 100 Trying again, and onward again
        // only while the next hop has not answered (it may have lost the first copy).
        if let Some(k) = &key {
            let again = self
                .inner
                .txns
                .locked()
                .get(&branch)
                .filter(|t| t.key.as_ref() == Some(k))
                .map(|t| (!t.answered).then(|| (t.fwd.clone(), t.target)));
            if let Some(onward) = again {
                self.bump_retransmission("INVITE");
                out.push((Message::response_to(&req, 100, None).render(), from));
                out.extend(onward);
                return;
            }
        }
        self.bump(|c| &c.invites);
        if !self.inner.throttle.admit() {
            // Code Yellow: refused at once, with when to try again, rather than queued to time
            // out (the ACK of this 503 is absorbed like any non-2xx's).
            self.bump(|c| &c.throttled);
            self.refuse_overloaded(&req, key, from, now, out);
            return;
        }
        let mf: u32 = req
            .header("Max-Forwards")
            .and_then(|v| v.parse().ok())
            .unwrap_or(70);
        if mf == 0 {
            self.final_reply(&req, key, 483, from, now, out);
            return;
        }
        let uri = match &req.start {
            StartLine::Request { uri, .. } => uri.clone(),
            StartLine::Response { .. } => return,
        };
        let Some(dn) = sip::uri_user(&uri).map(str::to_owned) else {
            self.bump(|c| &c.not_found);
            self.final_reply(&req, key, 404, from, now, out);
            return;
        };
        let from_trunk = req.header(TRUNK_HEADER).is_some();
        let (target, new_uri, trunk) = if let Some(b) = self.local_target(&dn, now) {
            self.bump(|c| &c.routed_local);
            (b.addr, b.contact, false)
        } else {
            // A location record first (roaming superusers), else the number's home (GDPR).
            let at = c
                .locate_dn(&dn)
                .map(|l| l.cluster)
                .or_else(|| self.inner.homes.get(&dn).cloned());
            match at {
                Some(at) if at != c.id() && !from_trunk => {
                    let peer = self.inner.peers.read_locked().get(&at).copied();
                    let Some(peer) = peer else {
                        self.bump(|c| &c.trunk_down);
                        self.final_reply(&req, key, 503, from, now, out);
                        return;
                    };
                    if !self.inner.peer_reports.admit(peer) {
                        // The peer reported overload: its share is refused here.
                        self.bump(|c| &c.trunk_throttled);
                        self.refuse_overloaded(&req, key, from, now, out);
                        return;
                    }
                    self.bump(|c| &c.routed_trunk);
                    (peer, format!("sip:{dn}@{peer}"), true)
                }
                Some(_) => {
                    self.bump(|c| &c.unavailable);
                    self.final_reply(&req, key, 480, from, now, out);
                    return;
                }
                None => {
                    self.bump(|c| &c.not_found);
                    self.final_reply(&req, key, 404, from, now, out);
                    return;
                }
            }
        };
        // 100 Trying hop by hop, so the upstream stops its timer.
        let mut trying = Message::response_to(&req, 100, None);
        self.report_overload(&mut trying);
        out.push((trying.render(), from));
        let original = req.clone();
        let new_uri_copy = new_uri.clone();
        req.start = StartLine::Request {
            method: "INVITE".into(),
            uri: new_uri,
        };
        req.set_header("Max-Forwards", (mf - 1).to_string());
        req.remove_header(TRUNK_HEADER);
        if trunk {
            req.headers.push((TRUNK_HEADER.into(), c.id().to_owned()));
        }
        req.headers
            .insert(0, ("Record-Route".into(), format!("<sip:{local};lr>")));
        // Over a trunk our Via offers overload control (RFC 7339): the peer answers with
        // `oc=PERCENT` in it while it throttles.
        let oc = if trunk { ";oc" } else { "" };
        req.headers.insert(
            0,
            (
                "Via".into(),
                format!("SIP/2.0/UDP {local};branch={branch}{oc}"),
            ),
        );
        let fwd = req.render();
        let wait = if trunk {
            self.inner.opts.trunk_no_answer
        } else {
            self.inner.opts.no_answer
        };
        self.inner.txns.locked().insert(
            branch,
            Txn {
                req: original,
                upstream: from,
                deadline: now + wait,
                trunk,
                answered: false,
                target,
                uri: new_uri_copy,
                key,
                fwd: fwd.clone(),
            },
        );
        out.push((fwd, target));
    }

    /// A request inside a dialog (or ACK, BYE, CANCEL): on along its Route, or to where its
    /// INVITE went, with our Via (branch derived from the incoming one) on top.
    pub(super) fn forward_in_dialog(
        &self,
        mut req: Message,
        from: SocketAddr,
        local: &str,
        out: &mut Out,
    ) {
        let method = req.method().unwrap_or("").to_owned();
        // The next hop: the next Route, else the Request-URI.
        let next_uri = match req.header("Route") {
            Some(r) => sip::addr_uri(sip::first_in_list(r).unwrap_or("")).to_owned(),
            None => match &req.start {
                StartLine::Request { uri, .. } => uri.clone(),
                StartLine::Response { .. } => return,
            },
        };
        // CANCEL, and the ACK of a non-2xx, go where their INVITE went (same derived branch).
        if (method == "CANCEL" || method == "ACK")
            && req.header("Route").is_none()
            && self.is_me(&next_uri, local)
        {
            let branch = derived_branch(req.top_branch().unwrap_or(""), self.inner.cluster.id());
            let hop = if method == "CANCEL" {
                self.inner
                    .txns
                    .locked()
                    .get(&branch)
                    .map(|t| (t.target, t.uri.clone()))
            } else {
                self.inner
                    .done
                    .locked()
                    .remove(&branch)
                    .map(|(a, u, _)| (a, u))
            };
            if method == "CANCEL" {
                self.reply(&req, if hop.is_some() { 200 } else { 481 }, from, out);
            }
            if let Some((target, uri)) = hop {
                if method == "CANCEL" {
                    self.bump(|c| &c.cancels_forwarded);
                }
                req.start = StartLine::Request {
                    method: method.clone(),
                    uri,
                };
                req.remove_header(TRUNK_HEADER);
                req.headers.insert(
                    0,
                    ("Via".into(), format!("SIP/2.0/UDP {local};branch={branch}")),
                );
                out.push((req.render(), target));
            }
            return;
        }
        if self.is_me(&next_uri, local) && req.header("Route").is_none() {
            // Addressed to us and not a dialog we proxy.
            if method != "ACK" {
                self.reply(&req, if method == "OPTIONS" { 200 } else { 481 }, from, out);
            }
            return;
        }
        let Some(target) = sip::uri_host_port(&next_uri).and_then(|(h, p)| parse_addr(h, p)) else {
            if method != "ACK" {
                self.reply(&req, 404, from, out);
            }
            return;
        };
        let mf: u32 = req
            .header("Max-Forwards")
            .and_then(|v| v.parse().ok())
            .unwrap_or(70);
        if mf == 0 {
            if method != "ACK" {
                self.reply(&req, 483, from, out);
            }
            return;
        }
        req.set_header("Max-Forwards", (mf - 1).to_string());
        // Derived, so a retransmission goes on as the same transaction (a request without an
        // RFC 3261 branch gets a fresh one).
        let branch = match req.top_branch() {
            Some(b) if b.starts_with("z9hG4bK") => derived_branch(b, self.inner.cluster.id()),
            _ => format!("z9hG4bK-em-{}-{}", self.inner.cluster.id(), self.next()),
        };
        req.headers.insert(
            0,
            ("Via".into(), format!("SIP/2.0/UDP {local};branch={branch}")),
        );
        if method == "BYE" {
            self.bump(|c| &c.byes_forwarded);
        }
        out.push((req.render(), target));
    }

    /// A response: our Via popped, relayed to the next one; an INVITE's final ends its
    /// transaction.
    pub(super) fn on_response(
        &self,
        mut resp: Message,
        from: SocketAddr,
        now: Instant,
        out: &mut Out,
    ) {
        let Some(top) = resp.top_branch().map(str::to_owned) else {
            return;
        };
        if !top.starts_with("z9hG4bK-em-") {
            return; // not ours
        }
        self.read_overload_report(&resp, from);
        let code = resp.code().unwrap_or(0);
        let method = resp.method().unwrap_or("").to_owned();
        // The incoming INVITE transaction this final response ends (remembered once relayed).
        let mut finished = None;
        if method == "INVITE" {
            let mut t = self.inner.txns.locked();
            if code >= 200 {
                if let Some(x) = t.remove(&top) {
                    finished = x.key.clone();
                    if code >= 300 {
                        self.inner
                            .done
                            .locked()
                            .insert(top.clone(), (x.target, x.uri, now + LINGER));
                    }
                }
            } else if let Some(x) = t.get_mut(&top) {
                x.answered = true;
            } else if code > 100 {
                // A provisional after the final (reordered, or late after our 480/503): the
                // transaction is over upstream too.
                return;
            }
        }
        if code == 100 {
            return; // hop by hop
        }
        if method == "CANCEL" {
            return; // we answered the upstream CANCEL ourselves
        }
        // Pop our Via; the next says where the response goes.
        if let Some(i) = resp.headers.iter().position(|(n, _)| n == "Via") {
            let v = resp.headers[i].1.clone();
            let mut vias = sip::split_list(&v)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            if vias.len() > 1 {
                vias.remove(0);
                resp.headers[i].1 = vias.join(", ");
            } else {
                resp.headers.remove(i);
            }
        }
        self.report_overload(&mut resp);
        let Some(next) = resp.header("Via") else {
            return; // our own request (a NOTIFY) was answered
        };
        let Some(next) = sip::first_in_list(next).map(str::to_owned) else {
            return; // a Via of only commas: nowhere to send it
        };
        if let Some(to) = sip::via_target(&next).and_then(|(h, p)| parse_addr(h, p)) {
            let bytes = resp.render();
            if let Some(k) = finished {
                self.remember(k, vec![(bytes.clone(), to)], now);
            }
            out.push((bytes, to));
        }
    }

    /// RFC 7339: a response whose top Via is one that offered overload control (`;oc`, no
    /// value) gets this cluster's share of new calls refused now, for the sender to apply.
    pub(super) fn report_overload(&self, resp: &mut Message) {
        let Some(i) = resp.headers.iter().position(|(n, _)| n == "Via") else {
            return;
        };
        if !resp.headers[i].1.contains(";oc") {
            return; // the common case: no Via offered overload control
        }
        let list = sip::split_list(&resp.headers[i].1)
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let Some(first) = list.first() else {
            return;
        };
        if sip::param(first, "oc") != Some("") {
            return;
        }
        let pct = self.inner.throttle.refused_pct();
        let first = first.replacen(
            ";oc",
            &format!(
                ";oc={pct};oc-validity={};oc-algo=\"loss\"",
                super::overload::OC_VALIDITY_MS
            ),
            1,
        );
        let mut all = vec![first];
        all.extend(list.into_iter().skip(1));
        resp.headers[i].1 = all.join(", ");
    }

    /// Records what a trunk peer reported in our Via (RFC 7339 `oc`, `oc-validity`).
    fn read_overload_report(&self, resp: &Message, from: SocketAddr) {
        let Some(via) = resp
            .header("Via")
            .filter(|v| v.contains(";oc="))
            .and_then(sip::first_in_list)
        else {
            return;
        };
        let Some(pct) = sip::param(via, "oc").and_then(|v| v.parse::<u32>().ok()) else {
            return;
        };
        let validity = sip::param(via, "oc-validity")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(super::overload::OC_VALIDITY_MS)
            .min(60_000);
        self.inner
            .peer_reports
            .record(from, pct, std::time::Duration::from_millis(validity));
    }
}
