//! The registrar's table: line → contacts (a shared line may have several), with an index of
//! the lines each device has bindings on, so "is this device registered" and "drop this
//! device's bindings" cost the device's lines, not a walk of every binding of the cluster.

use std::collections::{HashMap, HashSet};

use tokio::time::Instant;

use super::Binding;

/// Every binding of a cluster, by line and by device. The index may name lines whose binding
/// has lapsed (until the sweep); a lookup checks the binding itself.
#[derive(Debug, Default)]
pub(super) struct Bindings {
    by_line: HashMap<String, Vec<Binding>>,
    lines_of: HashMap<String, HashSet<String>>,
}

impl Bindings {
    /// A line's bindings, oldest first.
    pub(super) fn line(&self, dn: &str) -> Option<&[Binding]> {
        self.by_line.get(dn).map(Vec::as_slice)
    }

    /// Every binding.
    pub(super) fn all(&self) -> impl Iterator<Item = &Binding> {
        self.by_line.values().flatten()
    }

    /// Whether `device` has a binding live at `now` on any line.
    pub(super) fn registered(&self, device: &str, now: Instant) -> bool {
        self.lines_of.get(device).is_some_and(|lines| {
            lines.iter().any(|dn| {
                self.by_line
                    .get(dn)
                    .is_some_and(|v| v.iter().any(|b| b.device == device && b.expires > now))
            })
        })
    }

    /// Sets `device`'s binding on `dn` (replacing its earlier one there; `None` removes it),
    /// dropping the line's lapsed bindings on the way; returns how many had lapsed.
    pub(super) fn set(
        &mut self,
        dn: &str,
        device: &str,
        binding: Option<Binding>,
        now: Instant,
    ) -> usize {
        let v = self.by_line.entry(dn.to_owned()).or_default();
        let mut lapsed = 0;
        let mut gone: Vec<String> = Vec::new();
        v.retain(|b| {
            let keep = b.expires > now && b.device != device;
            if !keep {
                lapsed += usize::from(b.expires <= now);
                gone.push(b.device.clone());
            }
            keep
        });
        let added = binding.is_some();
        if let Some(b) = binding {
            v.push(b);
        }
        if v.is_empty() {
            self.by_line.remove(dn);
        }
        for d in gone {
            if !(added && d == device) {
                self.unindex(&d, dn);
            }
        }
        if added {
            self.lines_of
                .entry(device.to_owned())
                .or_default()
                .insert(dn.to_owned());
        }
        lapsed
    }

    /// Removes every binding of `device`; returns the first one live at `now`, if any.
    pub(super) fn remove_device(&mut self, device: &str, now: Instant) -> Option<Binding> {
        let lines = self.lines_of.remove(device)?;
        let mut found = None;
        for dn in lines {
            let Some(v) = self.by_line.get_mut(&dn) else {
                continue;
            };
            if let Some(i) = v.iter().position(|x| x.device == device) {
                if v[i].expires > now {
                    found.get_or_insert_with(|| v[i].clone());
                }
                v.remove(i);
            }
            if v.is_empty() {
                self.by_line.remove(&dn);
            }
        }
        found
    }

    /// Drops every binding lapsed at `now`; returns how many.
    pub(super) fn sweep(&mut self, now: Instant) -> usize {
        let mut gone: Vec<(String, String)> = Vec::new();
        for (dn, v) in &mut self.by_line {
            v.retain(|x| {
                let live = x.expires > now;
                if !live {
                    gone.push((x.device.clone(), dn.clone()));
                }
                live
            });
        }
        self.by_line.retain(|_, v| !v.is_empty());
        for (d, dn) in &gone {
            self.unindex(d, dn);
        }
        gone.len()
    }

    fn unindex(&mut self, device: &str, dn: &str) {
        if let Some(lines) = self.lines_of.get_mut(device) {
            lines.remove(dn);
            if lines.is_empty() {
                self.lines_of.remove(device);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Binding, Bindings};
    use tokio::time::Instant;

    fn b(device: &str, until: Instant) -> Binding {
        Binding {
            device: device.into(),
            contact: format!("sip:{device}@127.0.0.1:5062"),
            addr: "127.0.0.1:5062".parse().unwrap(),
            register_call_id: "c".into(),
            expires: until,
        }
    }

    #[test]
    fn a_device_is_found_by_its_lines_and_removed_with_them() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut t = Bindings::default();
        t.set("1000", "SEPA", Some(b("SEPA", later)), now);
        t.set("2000", "SEPA", Some(b("SEPA", later)), now);
        t.set("1000", "SEPB", Some(b("SEPB", later)), now);
        assert!(t.registered("SEPA", now));
        assert!(t.registered("SEPB", now));
        assert!(!t.registered("SEPC", now));
        // Re-registering replaces, never duplicates.
        t.set("1000", "SEPA", Some(b("SEPA", later)), now);
        assert_eq!(t.line("1000").unwrap().len(), 2);
        assert!(t.remove_device("SEPA", now).is_some());
        assert!(!t.registered("SEPA", now));
        assert_eq!(t.line("1000").unwrap().len(), 1);
        assert!(t.line("2000").is_none());
        // Unregistering (no binding) removes it from the index too.
        t.set("1000", "SEPB", None, now);
        assert!(!t.registered("SEPB", now));
        assert_eq!(t.all().count(), 0);
        assert!(t.lines_of.is_empty() && t.by_line.is_empty());
    }

    #[test]
    fn lapsed_bindings_do_not_count_and_are_swept_from_the_index() {
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        let mut t = Bindings::default();
        t.set("1000", "SEPA", Some(b("SEPA", soon)), now);
        let after = soon + Duration::from_secs(1);
        assert!(!t.registered("SEPA", after));
        // Another device's REGISTER on the line drops the lapsed one and counts it.
        assert_eq!(
            t.set(
                "1000",
                "SEPB",
                Some(b("SEPB", after + Duration::from_secs(9))),
                after
            ),
            1
        );
        assert!(!t.lines_of.contains_key("SEPA"));
        t.set("2000", "SEPC", Some(b("SEPC", soon)), now);
        assert_eq!(t.sweep(after), 1);
        assert!(!t.lines_of.contains_key("SEPC"));
        assert!(t.registered("SEPB", after));
    }
}
