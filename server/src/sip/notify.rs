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
    /// NOTIFYs for the restarts EM logins and logouts left; drops those devices' bindings.
    pub fn restart_notifies(&self) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut out = Vec::new();
        // Restarts of devices not registered here stay pending (the admin API and tests read
        // them, and nothing here could deliver them); take only when one can be sent.
        let now = Instant::now();
        let registered = |d: &str| {
            let b = self.inner.bindings.locked();
            b.values()
                .any(|v| v.iter().any(|x| x.device == d && x.expires > now))
        };
        let c = &self.inner.cluster;
        if !c.pending_restarts().iter().any(|(d, _)| registered(d)) {
            return out;
        }
        let mut pending = c.take_pending_restarts();
        pending.retain(|(d, kind)| {
            let keep = registered(d);
            if !keep {
                // Re-pending wakes this task once more; it then finds nothing to send.
                c.push_restart(d, *kind);
            }
            keep
        });
        let local = self.local();
        for (device, kind) in pending {
            let found = {
                let mut b = self.inner.bindings.locked();
                let mut found = None;
                for v in b.values_mut() {
                    if let Some(i) = v.iter().position(|x| x.device == device) {
                        if v[i].expires > now {
                            found.get_or_insert_with(|| v[i].clone());
                        }
                        v.remove(i);
                    }
                }
                b.retain(|_, v| !v.is_empty());
                found
            };
            let Some(bd) = found else {
                tracing::debug!(cluster = %self.inner.cluster.id(), %device, "restart for an unregistered device");
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
