//! `update`: the dashboard's only state transition. An [`Event`] in, the [`App`] changed, and
//! maybe a [`Command`] out for the loop to carry out (an admin call, a fleet control, quit).
//! Pure: no terminal, no I/O, so every key is tested without one.

use crossterm::event::{Event as Term, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, HISTORY, Screen};
use super::event::Event;
use crate::fleet::Control;
use crate::phone::Method;

/// Lowest and highest arrival-rate factor the `-`/`+` keys reach.
pub const RATE_FACTOR_RANGE: (f64, f64) = (0.05, 20.0);

/// What one `+`/`-` press multiplies or divides the arrival rate by.
pub const RATE_STEP: f64 = 1.25;

/// Something for the loop to do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Cancel the token, restore the terminal, write the report, exit 0.
    Quit,
    /// An admin request to the clusters, tried through each base URL in turn (a cluster whose
    /// listeners are down is reached through another one).
    Admin {
        /// GET or POST.
        method: Method,
        /// Path under the base URL (`/admin/clusters/cluster1/listeners/stop`).
        path: String,
        /// JSON body for POST (empty: none).
        body: String,
        /// Base URLs to try, in order.
        via: Vec<String>,
        /// What it does, for the status line.
        what: String,
    },
    /// A new fleet control state (pause, arrival-rate factor).
    Fleet(Control),
    /// Trace this phone's journeys (the one selected on screen 5).
    WatchPhone(String),
}

/// Applies one event to the state.
pub fn update(app: &mut App, ev: Event) -> Option<Command> {
    match ev {
        Event::Tick => None,
        Event::Input(Term::Key(k)) => key(app, k),
        Event::Input(Term::Resize(..)) => {
            app.dirty = true;
            None
        }
        Event::Input(_) => None,
        Event::Stats(s) => {
            if let Some(f) = &mut app.fleet {
                f.push(s);
                app.dirty = true;
            }
            None
        }
        Event::Clusters(obs) => {
            for o in obs.iter() {
                if let Some(v) = app.clusters.iter_mut().find(|v| v.id == o.id) {
                    if let Some(c) = o.counters {
                        if v.history.len() >= HISTORY {
                            v.history.pop_front();
                        }
                        v.history.push_back(c);
                        // Counters answered: their `sip` says whether it has SIP now.
                        match &o.sip {
                            Some(s) => {
                                if v.sip_history.len() >= HISTORY {
                                    v.sip_history.pop_front();
                                }
                                v.sip_history.push_back(s.clone());
                            }
                            None => v.sip_history.clear(),
                        }
                    }
                    v.last = Some(o.clone());
                }
            }
            app.dirty = true;
            None
        }
        Event::Trace(t) => {
            if let Some(f) = &mut app.fleet {
                f.trace = t;
                app.dirty = true;
            }
            None
        }
        Event::Done(msg) => {
            app.status = msg;
            app.dirty = true;
            None
        }
        Event::FleetFinished => {
            if let Some(f) = &mut app.fleet {
                f.finished = true;
            }
            app.status = "run finished: report written; q to quit".into();
            app.dirty = true;
            None
        }
    }
}

fn key(app: &mut App, k: KeyEvent) -> Option<Command> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    app.dirty = true;
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Char('c') if ctrl => {
            app.interrupted = true;
            quit(app)
        }
        KeyCode::Char('q') => quit(app),
        // Closed → the keys and figures → what the words mean → closed.
        KeyCode::Char('?') | KeyCode::F(1) => {
            match (app.help, app.help_words) {
                (false, _) => (app.help, app.help_words) = (true, false),
                (true, false) => app.help_words = true,
                (true, true) => (app.help, app.help_words) = (false, false),
            }
            None
        }
        KeyCode::Esc => {
            app.help = false;
            None
        }
        KeyCode::Char(c @ '1'..='6') => {
            app.screen = Screen::ALL[usize::from(c as u8 - b'1')];
            app.help = false;
            if app.screen == Screen::Phones {
                return move_phone(app, 0);
            }
            None
        }
        KeyCode::Down | KeyCode::Char('j') if app.screen == Screen::Phones => move_phone(app, 1),
        KeyCode::Up | KeyCode::Char('k') if app.screen == Screen::Phones => move_phone(app, -1),
        KeyCode::PageDown if app.screen == Screen::Phones => move_phone(app, 10),
        KeyCode::PageUp if app.screen == Screen::Phones => move_phone(app, -10),
        KeyCode::Tab | KeyCode::BackTab if app.screen == Screen::Phones => {
            if !app.clusters.is_empty() {
                let n = app.clusters.len();
                app.selected = if k.code == KeyCode::Tab {
                    (app.selected + 1) % n
                } else {
                    (app.selected + n - 1) % n
                };
            }
            if let Some(f) = &mut app.fleet {
                f.phone = 0;
            }
            move_phone(app, 0)
        }
        KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
            if !app.clusters.is_empty() {
                app.selected = (app.selected + 1) % app.clusters.len();
            }
            None
        }
        KeyCode::Up | KeyCode::Char('k') | KeyCode::BackTab => {
            if !app.clusters.is_empty() {
                app.selected = (app.selected + app.clusters.len() - 1) % app.clusters.len();
            }
            None
        }
        KeyCode::Char('p') | KeyCode::Char(' ') => fleet(app, |c| c.paused = !c.paused),
        KeyCode::Char('+') | KeyCode::Char('=') => fleet(app, |c| {
            c.rate_factor = (c.rate_factor * RATE_STEP).min(RATE_FACTOR_RANGE.1);
        }),
        KeyCode::Char('-') | KeyCode::Char('_') => fleet(app, |c| {
            c.rate_factor = (c.rate_factor / RATE_STEP).max(RATE_FACTOR_RANGE.0);
        }),
        KeyCode::Char('d') => cluster_switch(app, "listeners/stop", "down"),
        KeyCode::Char('u') => cluster_switch(app, "listeners/start", "up"),
        KeyCode::Char('m') => max_concurrent(app, false),
        KeyCode::Char('M') => max_concurrent(app, true),
        KeyCode::Char(k @ ('x' | 'h')) => {
            let c = app.selected_cluster()?;
            let Some(peer) = c.ils_peers.first().cloned() else {
                app.status = format!("{} has no ILS peer", c.id);
                return None;
            };
            let (action, word) = if k == 'x' {
                ("cut", "cut")
            } else {
                ("heal", "healed")
            };
            Some(admin(
                app,
                format!("/admin/clusters/{}/ils/links/{peer}/{action}", c.id),
                String::new(),
                false,
                format!("ILS link {} ↔ {peer} {word}", c.id),
            ))
        }
        KeyCode::Char('s') => {
            app.selected_cluster()?;
            Some(admin(
                app,
                "/admin/superuser-sync".into(),
                String::new(),
                false,
                "superuser sync (every cluster)".into(),
            ))
        }
        KeyCode::Char('S') => {
            let c = app.selected_cluster()?;
            Some(admin(
                app,
                format!("/admin/clusters/{}/ils/sync", c.id),
                String::new(),
                false,
                format!("ILS full sync from {}", c.id),
            ))
        }
        _ => {
            app.dirty = false;
            None
        }
    }
}

/// Moves screen 5's selection by `by` within the selected cluster's phones (clamped) and
/// asks the fleet to trace the phone selected.
fn move_phone(app: &mut App, by: i64) -> Option<Command> {
    let f = app.fleet.as_mut()?;
    let list = f.devices.get(app.selected)?;
    if list.is_empty() {
        return None;
    }
    let at = (f.phone as i64 + by).clamp(0, list.len() as i64 - 1) as usize;
    f.phone = at;
    let d = list[at].clone();
    app.status = format!("tracing {d}: its next journey shows here");
    Some(Command::WatchPhone(d))
}

fn quit(app: &mut App) -> Option<Command> {
    app.quitting = true;
    app.status = "quitting: draining, writing the report…".into();
    Some(Command::Quit)
}

fn fleet(app: &mut App, f: impl FnOnce(&mut Control)) -> Option<Command> {
    let Some(fv) = &mut app.fleet else {
        app.status = "no fleet here: pause and rate are fleet controls".into();
        return None;
    };
    if fv.finished {
        app.status = "the run has finished".into();
        return None;
    }
    let mut c = Control {
        paused: fv.paused,
        rate_factor: fv.rate_factor,
    };
    f(&mut c);
    fv.paused = c.paused;
    fv.rate_factor = c.rate_factor;
    app.status = if c.paused {
        "paused: no new journeys start (p resumes)".into()
    } else {
        format!(
            "running at {:.0}% of the profile's arrival rate",
            c.rate_factor * 100.0
        )
    };
    Some(Command::Fleet(c))
}

/// An admin request about the selected cluster: through itself first, or (`others_first`)
/// through the others first, as bringing back a cluster whose listeners are down needs.
fn admin(app: &App, path: String, body: String, others_first: bool, what: String) -> Command {
    let me = app.selected_cluster().map(|c| c.base.clone());
    let mut via: Vec<String> = app
        .clusters
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != app.selected)
        .map(|(_, c)| c.base.clone())
        .collect();
    via.dedup();
    if let Some(me) = me {
        if others_first {
            via.push(me);
        } else {
            via.insert(0, me);
        }
    }
    Command::Admin {
        method: Method::Post,
        path,
        body,
        via,
        what,
    }
}

fn cluster_switch(app: &mut App, action: &str, word: &str) -> Option<Command> {
    let id = app.selected_cluster()?.id.clone();
    app.status = format!("taking {id} {word}…");
    Some(admin(
        app,
        format!("/admin/clusters/{id}/{action}"),
        String::new(),
        word == "up",
        format!("{id} {word}"),
    ))
}

/// The next Maximum Concurrent Requests from `now`: doubled (`up`) or halved, at least 1 and
/// at most [`MAX_CONCURRENT_LIMIT`]: a few presses reach any order of magnitude.
pub fn max_concurrent_step(now: u32, up: bool) -> u32 {
    let n = if up { now.saturating_mul(2) } else { now / 2 };
    n.clamp(1, MAX_CONCURRENT_LIMIT)
}

/// The highest Maximum Concurrent Requests `M` asks for.
pub const MAX_CONCURRENT_LIMIT: u32 = 100_000;

fn max_concurrent(app: &mut App, up: bool) -> Option<Command> {
    let c = app.selected_cluster()?;
    let Some(now) = c.last.as_ref().and_then(|o| o.max_concurrent) else {
        app.status = format!("{}: Maximum Concurrent Requests not known yet", c.id);
        return None;
    };
    let n = max_concurrent_step(now, up);
    let id = c.id.clone();
    Some(admin(
        app,
        format!("/admin/clusters/{id}/params"),
        format!("{{\"max_concurrent_requests\":{n}}}"),
        false,
        format!("{id}: Maximum Concurrent Requests {now} → {n}"),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::tui::app::{ClusterObs, ClusterView, FleetView, Rtmt};

    fn app() -> App {
        App::new(
            vec![
                ClusterView::new(
                    "cluster1",
                    "http://127.0.0.1:1",
                    "hub",
                    vec!["cluster2".into()],
                ),
                ClusterView::new(
                    "cluster2",
                    "http://127.0.0.2:2",
                    "hub",
                    vec!["cluster1".into()],
                ),
            ],
            Some(FleetView::new("demo", vec![], vec![3, 3])),
        )
    }

    fn press(app: &mut App, code: KeyCode) -> Option<Command> {
        update(
            app,
            Event::Input(Term::Key(KeyEvent::new(code, KeyModifiers::NONE))),
        )
    }

    #[test]
    fn number_keys_pick_screens_and_help_toggles() {
        let mut a = app();
        for (c, s) in ('1'..='6').zip(Screen::ALL) {
            assert_eq!(press(&mut a, KeyCode::Char(c)), None);
            assert_eq!(a.screen, s);
        }
        press(&mut a, KeyCode::Char('?'));
        assert!(a.help);
        press(&mut a, KeyCode::Esc);
        assert!(!a.help);
        press(&mut a, KeyCode::Char('?'));
        press(&mut a, KeyCode::Char('2'));
        assert!(!a.help);
        assert_eq!(a.screen, Screen::Clusters);
        // `?` pages: the keys, then what the words mean, then closed.
        press(&mut a, KeyCode::Char('?'));
        assert!(a.help && !a.help_words);
        press(&mut a, KeyCode::Char('?'));
        assert!(a.help && a.help_words);
        press(&mut a, KeyCode::Char('?'));
        assert!(!a.help);
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let mut a = app();
        assert_eq!(press(&mut a, KeyCode::Char('q')), Some(Command::Quit));
        assert!(a.quitting);
        let mut a = app();
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            update(&mut a, Event::Input(Term::Key(k))),
            Some(Command::Quit)
        );
        // Ctrl-C is the user's interrupt even as a key: the command exits 130, `q` 0.
        assert!(a.interrupted);
        let mut a = app();
        press(&mut a, KeyCode::Char('q'));
        assert!(!a.interrupted);
    }

    #[test]
    fn down_goes_through_itself_and_up_through_a_peer() {
        let mut a = app();
        match press(&mut a, KeyCode::Char('d')) {
            Some(Command::Admin { path, via, .. }) => {
                assert_eq!(path, "/admin/clusters/cluster1/listeners/stop");
                assert_eq!(via, ["http://127.0.0.1:1", "http://127.0.0.2:2"]);
            }
            other => panic!("{other:?}"),
        }
        match press(&mut a, KeyCode::Char('u')) {
            Some(Command::Admin { path, via, .. }) => {
                assert_eq!(path, "/admin/clusters/cluster1/listeners/start");
                assert_eq!(via, ["http://127.0.0.2:2", "http://127.0.0.1:1"]);
            }
            other => panic!("{other:?}"),
        }
        press(&mut a, KeyCode::Down);
        assert_eq!(a.selected, 1);
        press(&mut a, KeyCode::Down);
        assert_eq!(a.selected, 0);
        press(&mut a, KeyCode::Up);
        assert_eq!(a.selected, 1);
        match press(&mut a, KeyCode::Char('x')) {
            Some(Command::Admin { path, .. }) => {
                assert_eq!(path, "/admin/clusters/cluster2/ils/links/cluster1/cut");
            }
            other => panic!("{other:?}"),
        }
        match press(&mut a, KeyCode::Char('h')) {
            Some(Command::Admin { path, .. }) => {
                assert_eq!(path, "/admin/clusters/cluster2/ils/links/cluster1/heal");
            }
            other => panic!("{other:?}"),
        }
        match press(&mut a, KeyCode::Char('S')) {
            Some(Command::Admin { path, .. }) => {
                assert_eq!(path, "/admin/clusters/cluster2/ils/sync");
            }
            other => panic!("{other:?}"),
        }
        match press(&mut a, KeyCode::Char('s')) {
            Some(Command::Admin { path, .. }) => {
                assert_eq!(path, "/admin/superuser-sync");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pause_and_rate_are_fleet_controls_and_clamped() {
        let mut a = app();
        assert_eq!(
            press(&mut a, KeyCode::Char('p')),
            Some(Command::Fleet(Control {
                paused: true,
                rate_factor: 1.0
            }))
        );
        press(&mut a, KeyCode::Char('p'));
        match press(&mut a, KeyCode::Char('+')) {
            Some(Command::Fleet(c)) => assert!(!c.paused && (c.rate_factor - 1.25).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        for _ in 0..100 {
            press(&mut a, KeyCode::Char('-'));
        }
        assert_eq!(a.fleet.as_ref().unwrap().rate_factor, RATE_FACTOR_RANGE.0);
        let mut watch_only = App::new(vec![], None);
        assert_eq!(press(&mut watch_only, KeyCode::Char('p')), None);
        assert!(watch_only.status.contains("fleet"));
        // Keys that need a cluster do nothing without one.
        for c in ['d', 'u', 'x', 'h', 's', 'S', 'm', 'M', 'j', 'k'] {
            assert_eq!(press(&mut watch_only, KeyCode::Char(c)), None);
        }
    }

    #[test]
    fn max_concurrent_needs_the_current_value() {
        let mut a = app();
        assert_eq!(press(&mut a, KeyCode::Char('m')), None);
        let obs = ClusterObs {
            id: "cluster1".into(),
            up: true,
            counters: Some(Rtmt::default()),
            max_concurrent: Some(1),
            ..ClusterObs::default()
        };
        update(&mut a, Event::Clusters(Arc::new(vec![obs])));
        match press(&mut a, KeyCode::Char('m')) {
            Some(Command::Admin { body, .. }) => {
                assert_eq!(body, "{\"max_concurrent_requests\":1}")
            }
            other => panic!("{other:?}"),
        }
        match press(&mut a, KeyCode::Char('M')) {
            Some(Command::Admin { body, what, .. }) => {
                assert_eq!(body, "{\"max_concurrent_requests\":2}");
                assert_eq!(what, "cluster1: Maximum Concurrent Requests 1 → 2");
            }
            other => panic!("{other:?}"),
        }
        // From 100, throttling at load is a few presses away, not a hundred.
        let at = |a: &mut App, n: u32| {
            let obs = ClusterObs {
                id: "cluster1".into(),
                up: true,
                counters: Some(Rtmt::default()),
                max_concurrent: Some(n),
                ..ClusterObs::default()
            };
            update(a, Event::Clusters(Arc::new(vec![obs])));
        };
        let mut n = 100;
        let mut presses = 0;
        while n > 1 {
            at(&mut a, n);
            match press(&mut a, KeyCode::Char('m')) {
                Some(Command::Admin { body, .. }) => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    n = u32::try_from(v["max_concurrent_requests"].as_u64().unwrap()).unwrap();
                }
                other => panic!("{other:?}"),
            }
            presses += 1;
        }
        assert_eq!(presses, 6, "100 → 50 → 25 → 12 → 6 → 3 → 1");
        assert_eq!(max_concurrent_step(100, true), 200);
        assert_eq!(
            max_concurrent_step(MAX_CONCURRENT_LIMIT, true),
            MAX_CONCURRENT_LIMIT
        );
    }

    #[test]
    fn sip_history_is_bounded_kept_while_down_and_cleared_without_sip() {
        use crate::tui::app::SipCounters;
        let mut a = app();
        let poll = |a: &mut App, counters: bool, sip: Option<u64>| {
            let obs = ClusterObs {
                id: "cluster1".into(),
                up: counters,
                counters: counters.then_some(Rtmt::default()),
                sip: sip.map(|invites| SipCounters {
                    invites,
                    ..SipCounters::default()
                }),
                ..ClusterObs::default()
            };
            update(a, Event::Clusters(Arc::new(vec![obs])));
        };
        for i in 0..(HISTORY as u64 + 10) {
            poll(&mut a, true, Some(3 * i));
        }
        let c = &a.clusters[0];
        assert_eq!(c.sip_history.len(), HISTORY);
        assert_eq!(c.sip().unwrap().invites, 3 * (HISTORY as u64 + 9));
        assert_eq!(c.sip_rate(|s| s.invites, 10), 3.0);
        // Down: the last SIP figures stay.
        poll(&mut a, false, None);
        assert!(a.clusters[0].sip().is_some());
        // Counters without SIP (restarted without its SIP port): "no SIP", not stale figures.
        poll(&mut a, true, None);
        assert!(a.clusters[0].sip().is_none());
    }

    #[test]
    fn polls_fill_history_bounded_and_unknown_clusters_are_ignored() {
        let mut a = app();
        for i in 0..(HISTORY as u64 + 10) {
            let obs = vec![
                ClusterObs {
                    id: "cluster1".into(),
                    up: true,
                    counters: Some(Rtmt {
                        requests_handled: i,
                        ..Rtmt::default()
                    }),
                    ..ClusterObs::default()
                },
                ClusterObs {
                    id: "nobody".into(),
                    ..ClusterObs::default()
                },
            ];
            update(&mut a, Event::Clusters(Arc::new(obs)));
        }
        assert_eq!(a.clusters[0].history.len(), HISTORY);
        assert!(a.clusters[0].is_up());
        assert!(a.clusters[1].last.is_none());
        // Down keeps the last counters.
        let down = ClusterObs {
            id: "cluster1".into(),
            error: Some("Host Not Found".into()),
            ..ClusterObs::default()
        };
        update(&mut a, Event::Clusters(Arc::new(vec![down])));
        assert!(!a.clusters[0].is_up());
        assert_eq!(
            a.clusters[0].counters().unwrap().requests_handled,
            HISTORY as u64 + 9
        );
    }

    #[test]
    fn resize_marks_dirty_and_release_events_are_ignored() {
        let mut a = app();
        a.dirty = false;
        update(&mut a, Event::Input(Term::Resize(10, 5)));
        assert!(a.dirty);
        let mut k = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        k.kind = KeyEventKind::Release;
        assert_eq!(update(&mut a, Event::Input(Term::Key(k))), None);
    }
}
