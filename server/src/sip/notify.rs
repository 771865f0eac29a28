//! The `service-control` NOTIFY that restarts (or resets) a phone after an EM login or logout,
//! sent to the contact of its registration with its REGISTER's Call-ID; the phone's bindings
//! are dropped (it re-registers the lines of its new profile). A restart for a device not
//! registered here waits; the registrar drops it as stale when the device registers afresh.

use std::net::SocketAddr;

use emroam_protocol::sip;
use tokio::time::Instant;

use super::Sip;
use crate::cluster::RestartKind;
use crate::sync::LockExt;

impl Sip {
    /// NOTIFYs for the restarts EM logins and logouts left since the last call, to the
    /// devices registered here; drops those devices' bindings. A restart for a device not
    /// registered stays pending (one per device at most) until it registers afresh, which
    /// drops it as stale. Costs the new restarts' devices' lines, nothing that grows with the
    /// cluster's registrations or past logins.
    pub fn restart_notifies(&self) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut out = Vec::new();
        let now = Instant::now();
        let c = &self.inner.cluster;
        let local = self.local();
        for device in c.take_fresh_restarts() {
            let bd = {
                let mut b = self.inner.bindings.locked();
                if !b.registered(&device, now) {
                    tracing::debug!(cluster = %c.id(), %device, "restart for an unregistered device stays pending");
                    continue;
                }
                let Some(kind) = c.take_restart(&device) else {
                    continue;
                };
                b.remove_device(&device, now).map(|bd| (bd, kind))
            };
            let Some((bd, kind)) = bd else {
                continue;
            };
            let n = self.next();
            let action = match kind {
                RestartKind::Restart => sip::ServiceAction::Restart,
                RestartKind::Reset => sip::ServiceAction::Reset,
            };
            let msg = sip::service_control_notify(&sip::ServiceControl {
                action,
                contact: &bd.contact,
                register_call_id: &bd.register_call_id,
                local: &local,
                branch: &format!("-em-n{n}"),
                tag: &format!("em{n}"),
                call_id: &format!("em-notify-{n}@{local}"),
            });
            self.bump(|c| &c.notifies);
            out.push((msg.render(), bd.addr));
        }
        out
    }
}
