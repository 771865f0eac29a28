//! The registrar: REGISTER (device by the Contact's `+sip.instance`, lines by its current
//! profile, expiry cut to the SIP Station KeepAlive Interval), binding expiry, and the lookups
//! the proxy and the admin side make.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use emroam_protocol::sip::{self, Message};
use tokio::time::Instant;

use super::auth::Verdict;
use super::{Binding, Out, Sip};
use crate::sync::LockExt;

impl Sip {
    /// The device registered for a line now, if any (latest registration).
    pub fn registered_device(&self, dn: &str) -> Option<String> {
        let now = Instant::now();
        let b = self.inner.bindings.locked();
        b.line(dn)?
            .iter()
            .rev()
            .find(|b| b.expires > now)
            .map(|b| b.device.clone())
    }

    /// How many line bindings are live.
    pub fn binding_count(&self) -> usize {
        let now = Instant::now();
        let b = self.inner.bindings.locked();
        b.all().filter(|b| b.expires > now).count()
    }

    /// Drops bindings whose expiry passed (at most once a second), counting them.
    pub(super) fn purge_bindings(&self, now: Instant) {
        {
            let mut next = self.inner.next_purge.locked();
            if *next > now {
                return;
            }
            *next = now + Duration::from_secs(1);
        }
        let gone = self.inner.bindings.locked().sweep(now);
        if gone > 0 {
            self.inner
                .counters
                .registrations_expired
                .fetch_add(gone as u64, Ordering::Relaxed);
        }
    }

    /// A REGISTER: 403 for a device this cluster does not know (by the Contact's
    /// `+sip.instance`), 404 for a line its current profile does not have (a profile without
    /// lines registers the device name itself; UNCONFIRMED: docs/decisions.md), else a binding
    /// for min(asked, SIP Station KeepAlive Interval) seconds; 0 removes it.
    pub(super) fn on_register(&self, req: &Message, from: SocketAddr, now: Instant, out: &mut Out) {
        let c = &self.inner.cluster;
        let Some(contact) = req.header("Contact").map(str::to_owned) else {
            // A query: answer 200 with nothing.
            self.reply(req, 200, from, out);
            return;
        };
        let device = sip::instance_mac(&contact).map(|m| format!("SEP{m}"));
        let Some(device) = device.filter(|d| c.phone(d).is_some()) else {
            self.bump(|c| &c.register_refused_403);
            self.reply(req, 403, from, out);
            return;
        };
        if !self.authenticated(req, &device, from, now, out) {
            return;
        }
        let dn = req
            .header("To")
            .and_then(|t| sip::uri_user(sip::addr_uri(t)).map(str::to_owned));
        let has_line = dn.as_deref().is_some_and(|dn| {
            dn == device
                || c.current_profile(&device)
                    .is_some_and(|p| p.lines.iter().any(|l| l.dn == dn))
        });
        let Some(dn) = dn.filter(|_| has_line) else {
            self.bump(|c| &c.register_refused_404);
            self.reply(req, 404, from, out);
            return;
        };
        let asked: u32 = sip::param(&contact, "expires")
            .and_then(|e| e.parse().ok())
            .or(req.expires())
            .unwrap_or(3600);
        // CUCM grants at most its SIP Station KeepAlive Interval (read per REGISTER, so a
        // change through the admin API applies to the next grant); less is granted as asked
        // (UNCONFIRMED: docs/decisions.md).
        let expires = asked.min(c.sip_keepalive_secs());
        let uri = sip::addr_uri(&contact).to_owned();
        let (lapsed, first) = {
            let mut b = self.inner.bindings.locked();
            // A device with no live binding anywhere is registering afresh (boot, or after a
            // restart): it has just read its current config.
            let first = !b.registered(&device, now);
            let binding = (expires > 0).then(|| Binding {
                device: device.clone(),
                contact: uri.clone(),
                addr: from,
                register_call_id: req.call_id().to_owned(),
                expires: now + Duration::from_secs(expires.into()),
            });
            (b.set(&dn, &device, binding, now), first)
        };
        // A restart queued while the device was not registered (an EM login before the phone
        // booted) is stale once it registers afresh: delivered later, it would drop the
        // bindings of a phone that already has the new profile.
        if first && expires > 0 {
            c.drop_restart(&device);
        }
        if lapsed > 0 {
            self.inner
                .counters
                .registrations_expired
                .fetch_add(lapsed as u64, Ordering::Relaxed);
        }
        if expires == 0 {
            self.bump(|c| &c.unregisters);
            self.reply(req, 200, from, out);
            return;
        }
        self.bump(|c| &c.registers);
        let tag = format!("em{}", self.next());
        let r = Message::response_to(req, 200, Some(&tag))
            .with("Contact", format!("<{uri}>;expires={expires}"))
            .with("Expires", expires.to_string())
            .with("Server", "Cisco-CUCM12.5");
        out.push((r.render(), from));
        tracing::debug!(cluster = %c.id(), %device, %dn, "registered");
    }

    /// Whether `req` from `device` may go on: true when the device's security profile has
    /// digest off or the request carries its digest user's right credentials; otherwise the
    /// answer (401 with a challenge, or 400 for an unparsable header) is in `out`.
    pub(super) fn authenticated(
        &self,
        req: &Message,
        device: &str,
        from: SocketAddr,
        now: Instant,
        out: &mut Out,
    ) -> bool {
        let c = &self.inner.cluster;
        let Some(phone) = c.phone(device).filter(|p| p.digest) else {
            return true;
        };
        let user = phone.digest_user.as_deref().unwrap_or("");
        let password = c.user(user).and_then(|u| u.digest_credentials);
        let verdict = self.inner.auth.verify(
            req,
            "Authorization",
            (user, password.as_deref()),
            Duration::from_secs(phone.nonce_validity_time.into()),
            now,
        );
        let stale = match verdict {
            Verdict::Ok => return true,
            Verdict::Malformed => {
                self.bump(|c| &c.auth_malformed);
                self.reply(req, 400, from, out);
                return false;
            }
            Verdict::Missing => {
                self.bump(|c| &c.auth_challenges);
                false
            }
            Verdict::Stale => {
                self.bump(|c| &c.auth_stale);
                true
            }
            Verdict::Wrong => {
                self.bump(|c| &c.auth_wrong);
                tracing::info!(cluster = %c.id(), %device, %from, "digest credentials refused");
                false
            }
        };
        let challenge = self.inner.auth.challenge(now, stale).to_string();
        self.reply_with(req, 401, Some(("WWW-Authenticate", challenge)), from, out);
        false
    }

    /// The live contact of a line here whose device still has the line.
    pub(super) fn local_target(&self, dn: &str, now: Instant) -> Option<Binding> {
        let b = {
            let b = self.inner.bindings.locked();
            b.line(dn)?.iter().rev().find(|b| b.expires > now)?.clone()
        };
        let still = self
            .inner
            .cluster
            .current_profile(&b.device)
            .is_some_and(|p| p.lines.iter().any(|l| l.dn == dn));
        still.then_some(b)
    }
}
