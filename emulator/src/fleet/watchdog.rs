//! Stops a run whose target went away: a cluster that refused every connection for
//! [`Profile::stop_when_unreachable`] while nothing got through is not being tested any more,
//! and the rest of the run would only count refusals. The profile's own faults that take a
//! cluster's listeners down (`listeners-stop`) are outages it asked for: not counted.

use std::time::Duration;

use serde::Serialize;

use super::profile::Profile;
use super::stats::Recorder;

/// Why a run stopped before its end: a target that went away.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lost {
    /// The cluster.
    pub cluster: String,
    /// Where its phones connect (`host:port`).
    pub address: String,
    /// Seconds into the run when its refusals began.
    pub since_s: f64,
    /// Seconds into the run when the run was stopped.
    pub at_s: f64,
}

impl Lost {
    /// The report's line.
    pub fn line(&self) -> String {
        format!(
            "stopped early: {} at {} refused every connection from {:.1} s to {:.1} s into the \
             run; is it still running? (emroam server for the reference clusters; \
             stop_when_unreachable = \"off\" in the profile to run on regardless)",
            self.cluster, self.address, self.since_s, self.at_s
        )
    }
}

/// Watches each interval's outcomes per cluster.
#[derive(Debug)]
pub(super) struct Watchdog {
    after: Option<Duration>,
    clusters: Vec<Watched>,
    /// When the first phase began on the aggregator's clock (the faults' clock starts there).
    offset: Duration,
}

#[derive(Debug)]
struct Watched {
    name: String,
    address: String,
    /// When its refusals began (nothing got through since).
    since: Option<Duration>,
    /// Windows (from, to) of the run in which the profile's faults hold its listeners down.
    excused: Vec<(Duration, Duration)>,
}

/// The `host:port` of an `http://` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

impl Watchdog {
    pub(super) fn new(profile: &Profile) -> Self {
        let mut clusters: Vec<Watched> = profile
            .targets
            .iter()
            .map(|t| Watched {
                name: t.cluster.clone(),
                address: authority(&t.service_url).to_owned(),
                since: None,
                excused: Vec::new(),
            })
            .collect();
        for (i, f) in profile.faults.iter().enumerate() {
            let Some(length) = f.takes_listeners_down() else {
                continue;
            };
            let until = length.map(|d| f.at + d).or_else(|| {
                profile.faults[i + 1..]
                    .iter()
                    .find(|g| g.target == f.target && g.brings_listeners_back())
                    .map(|g| g.at)
            });
            if let Some(c) = clusters.get_mut(f.target) {
                c.excused.push((f.at, until.unwrap_or(Duration::MAX)));
            }
        }
        Self {
            after: profile.stop_when_unreachable,
            clusters,
            offset: Duration::ZERO,
        }
    }

    /// The first phase began `at` on the aggregator's clock (after the phones booted).
    pub(super) fn phases_began(&mut self, at: Duration) {
        self.offset = at;
        for c in &mut self.clusters {
            c.since = None;
        }
    }

    /// Takes the interval `[from, to)` of the aggregator's clock (its outcomes in `delta`);
    /// returns the first cluster that has refused every connection for the profile's limit.
    pub(super) fn interval(
        &mut self,
        from: Duration,
        to: Duration,
        delta: &Recorder,
    ) -> Option<Lost> {
        let after = self.after?;
        let offset = self.offset;
        // Fault times count from the first phase.
        let (from, to) = (from.saturating_sub(offset), to.saturating_sub(offset));
        for (c, stats) in self.clusters.iter_mut().zip(delta.clusters()) {
            let n = &stats.counts;
            let key = |k: &str| n.by_cause.get(k).copied().unwrap_or(0);
            let refused = key("connection_refused") + key("boot_connection_refused");
            let ended = n.logins_ok
                + n.logouts_ok
                + n.busy
                + n.failed
                + n.sip.boots_ok
                + n.sip.boots_failed;
            let excused = c
                .excused
                .iter()
                .any(|&(a, b)| from < b.saturating_add(after) && to > a);
            if excused || ended > refused {
                // Something got through (or the profile itself holds it down).
                c.since = None;
            } else if refused > 0 {
                let since = *c.since.get_or_insert(from);
                if to.saturating_sub(since) >= after {
                    return Some(Lost {
                        cluster: c.name.clone(),
                        address: c.address.clone(),
                        since_s: since.as_secs_f64(),
                        at_s: to.as_secs_f64(),
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Watchdog;
    use crate::fleet::profile::Profile;
    use crate::fleet::stats::Recorder;
    use crate::phone::{Cause, TaskKind, TaskOutcome};

    fn src(extra: &str) -> String {
        format!(
            r#"name = "w"
{extra}
[[target]]
cluster = "c1"
service_url = "http://127.0.0.9:8080/emapp/EMAppServlet?device=#DEVICENAME#"
admin_url = "http://127.0.0.9:8080"
devices = {{ first = "SEP000000009001", count = 2 }}
users = {{ prefix = "u", first = 0, count = 2, width = 4, pin = "1" }}
[[phase]]
duration = "60s"
login_rate = 1.0
"#
        )
    }

    fn profile(extra: &str) -> Profile {
        Profile::parse(&src(extra), "w.toml", None).unwrap()
    }

    fn refused(n: usize) -> Recorder {
        let mut r = Recorder::new(1);
        for _ in 0..n {
            r.outcome(
                0,
                &TaskOutcome::failed(TaskKind::Login, Cause::ConnectionRefused),
            );
        }
        r
    }

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    #[test]
    fn refusals_for_the_limit_stop_the_run_and_one_success_resets_it() {
        let mut w = Watchdog::new(&profile("stop_when_unreachable = \"3s\""));
        assert_eq!(w.interval(s(0), s(1), &refused(2)), None);
        assert_eq!(w.interval(s(1), s(2), &refused(1)), None);
        // Nothing ended in this interval: neither a success nor a refusal.
        assert_eq!(w.interval(s(2), s(3), &Recorder::new(1)), None);
        let lost = w
            .interval(s(3), s(4), &refused(1))
            .expect("3 s of refusals");
        assert_eq!(lost.cluster, "c1");
        assert_eq!(lost.address, "127.0.0.9:8080");
        assert!((lost.since_s, lost.at_s) == (0.0, 4.0), "{lost:?}");
        assert!(
            lost.line().contains("c1 at 127.0.0.9:8080"),
            "{}",
            lost.line()
        );

        let mut w = Watchdog::new(&profile("stop_when_unreachable = \"3s\""));
        let mut mixed = refused(5);
        for _ in 0..6 {
            mixed.outcome(0, &TaskOutcome::failed(TaskKind::Login, Cause::Timeout));
        }
        assert_eq!(w.interval(s(0), s(2), &refused(1)), None);
        // More ended than were refused: something answered.
        assert_eq!(w.interval(s(2), s(3), &mixed), None);
        assert_eq!(w.interval(s(3), s(5), &refused(1)), None);
    }

    #[test]
    fn the_profiles_own_outage_is_excused_and_off_never_stops() {
        let mut w = Watchdog::new(&profile(
            "stop_when_unreachable = \"2s\"\n[[fault]]\nat = \"10s\"\ncluster = \"c1\"\naction = \"listeners-stop\"\n[[fault]]\nat = \"20s\"\ncluster = \"c1\"\naction = \"listeners-start\"",
        ));
        w.phases_began(s(5));
        // 15 s..25 s on the aggregator's clock is the outage: excused.
        for t in 15..26 {
            assert_eq!(w.interval(s(t), s(t + 1), &refused(1)), None, "at {t}");
        }
        // Refused again after the outage and its grace (2 s after it ended): a loss.
        assert_eq!(w.interval(s(28), s(29), &refused(1)), None);
        assert!(w.interval(s(29), s(31), &refused(1)).is_some());

        let mut w = Watchdog::new(&profile("stop_when_unreachable = \"off\""));
        for t in 0..100 {
            assert_eq!(w.interval(s(t), s(t + 1), &refused(3)), None);
        }
    }

    #[test]
    fn a_bad_limit_is_an_error_with_its_place() {
        let e =
            Profile::parse(&src("stop_when_unreachable = \"soon\""), "w.toml", None).unwrap_err();
        assert!(e.to_string().starts_with("w.toml:2:"), "{e}");
        assert!(e.to_string().contains("stop_when_unreachable"), "{e}");
    }
}
