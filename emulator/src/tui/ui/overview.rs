//! Screen 1: every cluster on one line (up or down, ILS role, RequestsInProgress against
//! Maximum Concurrent Requests, throttled and handled per second, logins, logouts) and the
//! fleet's totals (journeys, busy apart, rates, journey latency); when the run has SIP, phones
//! in a call, calls by outcome (misrouted highlighted) and call setup by route.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::{answers_line, calls_line, ms, p50_p99, route_all, up_down};
use crate::fleet::stats::Route;
use crate::phone::Step;
use crate::tui::app::{App, ClusterView, FleetView};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let n = app.clusters.len() as u16;
    let Some(f) = &app.fleet else {
        let [top, bottom] =
            Layout::vertical([Constraint::Length(n + 3), Constraint::Min(0)]).areas(area);
        cluster_table(app, top, buf);
        Paragraph::new("no fleet: watching clusters only (emroam tui)")
            .block(Block::bordered().title(" fleet "))
            .render(bottom, buf);
        return;
    };
    let lines = fleet_lines(f);
    let fleet_h = lines.len() as u16 + 2;
    // What is left below the clusters and the fleet goes to the fleet per cluster, then to
    // the roaming users (each only where it fits whole enough to read).
    let mut rest = area.height.saturating_sub(n + 3 + fleet_h);
    let by_cluster_h = if rest >= n + 3 { n + 3 } else { 0 };
    rest -= by_cluster_h;
    let roaming_h = if rest >= 4 { rest } else { 0 };
    let [top, fleet, by_cluster, roaming] = Layout::vertical([
        Constraint::Length(n + 3),
        Constraint::Length(fleet_h),
        Constraint::Length(by_cluster_h),
        Constraint::Min(roaming_h),
    ])
    .areas(area);
    cluster_table(app, top, buf);
    Paragraph::new(lines)
        .block(Block::bordered().title(format!(" fleet: {} ", f.name)))
        .render(fleet, buf);
    if by_cluster_h > 0 {
        fleet_by_cluster(app, f, by_cluster, buf);
    }
    if roaming_h > 0 {
        super::roaming::table(
            app,
            f,
            roaming,
            buf,
            " roaming users (screen 6: the whole view) ",
        );
    }
}

/// The clusters table shared by screens 1 and 2.
pub(super) fn cluster_table(app: &App, area: Rect, buf: &mut Buffer) {
    let header = Row::new([
        "cluster",
        "state",
        "ILS",
        "InProg/Max",
        "Throttled/s",
        "Handled/s",
        "Logins",
        "Logouts",
    ])
    .style(Style::new().bold());
    let rows = app.clusters.iter().enumerate().map(|(i, c)| {
        let now = c.counters().unwrap_or_default();
        let max = c
            .last
            .as_ref()
            .and_then(|o| o.max_concurrent)
            .map_or("?".to_string(), |m| m.to_string());
        let inprog = if c.is_up() {
            format!("{}/{max}", now.requests_in_progress)
        } else {
            format!("-/{max}")
        };
        let mark = if i == app.selected { "▶" } else { " " };
        Row::new([
            Cell::from(format!("{mark}{}", c.id)),
            Cell::from(up_down(c)),
            Cell::from(c.ils_role.clone()),
            Cell::from(inprog),
            Cell::from(rate_cell(c, |r| r.requests_throttled)),
            Cell::from(rate_cell(c, |r| r.requests_handled)),
            Cell::from(now.logins_successful.to_string()),
            Cell::from(now.logouts_successful.to_string()),
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Length(14),
            Constraint::Length(10),
            Constraint::Length(11),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Min(7),
        ],
    )
    .header(header)
    .block(Block::bordered().title(" clusters (RTMT Cisco Extension Mobility, rates over 5 s) "))
    .render(area, buf);
}

/// A counter's rate over 5 s while the cluster answers; "—" while it is down or not polled
/// yet (its last rate would be a reading from before it went down).
fn rate_cell(c: &ClusterView, f: fn(&crate::tui::app::Rtmt) -> u64) -> Span<'static> {
    if c.is_up() {
        Span::raw(format!("{:.1}", c.rate(f, 5)))
    } else {
        Span::styled("—", Style::new().fg(Color::DarkGray))
    }
}

/// The fleet's totals, a line each.
fn fleet_lines(f: &FleetView) -> Vec<Line<'static>> {
    let t = f.snap.total.totals();
    let phones: u64 = f.phones.iter().sum();
    let logged_in: u64 = f.snap.logged_in.iter().sum();
    let j = f.snap.total.step_all(Step::Journey);
    let q = |p: f64| {
        j.as_ref()
            .map_or("-".into(), |h| ms(h.value_at_quantile(p)))
    };
    let intended = match f.intended_rate() {
        Some(r) => format!("{r:.1}/s"),
        None if f.closed_now() => "none (closed model)".into(),
        None => "—".into(),
    };
    let (now, started) = f.current_rate().map_or(("—".into(), "—".into()), |(a, s)| {
        (format!("{a:.1}/s"), format!("{s:.1}/s"))
    });
    let sip = f.has_sip();
    let in_call = if sip {
        let n: u64 = f.snap.states.iter().map(|s| s.in_call).sum();
        format!("  in call {n}")
    } else {
        String::new()
    };
    let total = f.total().as_secs();
    let run = match f.run_clock() {
        Some(c) => format!(
            "run {}s of {total}s, {}s left  {}",
            c.as_secs(),
            total.saturating_sub(c.as_secs()),
            f.phase_label()
        ),
        None => format!("run not started ({total}s of phases)  {}", f.phase_label()),
    };
    let mut lines = vec![
        Line::from(run),
        Line::from(format!(
            "phones {phones}  logged in {logged_in}  logged out {}  in flight {}{in_call}",
            phones.saturating_sub(logged_in),
            f.snap.in_flight
        )),
        Line::from(format!(
            "logins {}/{}  logouts {}/{}  roaming {}/{}",
            t.logins_ok,
            t.logins_attempted,
            t.logouts_ok,
            t.logouts_attempted,
            t.roaming_ok,
            t.roaming_attempted
        )),
        Line::from(format!(
            "busy (26) {}  failed {}  late starts {}  dropped {}  abandoned {}",
            t.busy, t.failed, t.late_starts, t.dropped, t.abandoned
        )),
        Line::from(format!(
            "arrivals {now}, started {started} ({} s), intended {intended}  rate x{:.2}{}",
            crate::tui::app::RATE_WINDOW.as_secs(),
            f.rate_factor,
            if f.paused { "  PAUSED" } else { "" }
        )),
        Line::from(format!(
            "journey ms (whole run)  p50 {}  p90 {}  p99 {}  p99.9 {}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999)
        )),
    ];
    if sip {
        let setup = |r| p50_p99(route_all(&f.snap.total, r).as_ref());
        lines.extend([
            calls_line(&t.sip),
            answers_line(&t.sip),
            Line::from(format!(
                "call setup ms p50/p99  local {}  trunk {}  register {}",
                setup(Route::Local),
                setup(Route::Trunk),
                p50_p99(f.snap.total.step_all(Step::Register).as_ref())
            )),
        ]);
    }
    lines
}

/// The fleet's journeys per cluster: logins, logouts, roaming logins (ok/attempted), busy,
/// failed, dropped, and the commonest failure causes.
fn fleet_by_cluster(app: &App, f: &FleetView, area: Rect, buf: &mut Buffer) {
    let rows = f.snap.total.clusters().iter().enumerate().map(|(i, c)| {
        let k = &c.counts;
        let mut causes: Vec<(&String, &u64)> = k
            .by_cause
            .iter()
            .filter(|(cause, _)| cause.as_str() != "em_26")
            .collect();
        causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top = causes
            .iter()
            .take(3)
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let down = app
            .clusters
            .get(i)
            .is_some_and(|c| c.last.is_some() && !c.is_up());
        Row::new([
            Cell::from(app.cluster_name(i)),
            Cell::from(format!("{}/{}", k.logins_ok, k.logins_attempted)),
            Cell::from(format!("{}/{}", k.logouts_ok, k.logouts_attempted)),
            Cell::from(format!("{}/{}", k.roaming_ok, k.roaming_attempted)),
            Cell::from(k.busy.to_string()),
            Cell::from(super::failure("", k.failed)),
            Cell::from(k.dropped.to_string()),
            Cell::from(if down && top.is_empty() {
                "(cluster DOWN)".to_string()
            } else {
                top
            }),
        ])
    });
    Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "cluster",
            "logins",
            "logouts",
            "roaming",
            "busy",
            "failed",
            "dropped",
            "top causes",
        ])
        .style(Style::new().bold()),
    )
    .block(Block::bordered().title(" fleet by cluster (ok/attempted; causes on screen 4) "))
    .render(area, buf);
}

/// The app the screen tests share: three clusters, cluster1 went down after two polls.
#[cfg(test)]
pub(super) fn tests_support() -> App {
    tests::seeded()
}

/// [`tests_support`] with SIP: cluster2 reports SIP figures (cluster1 answered without them,
/// cluster3 never answered), and the fleet placed calls (one misrouted) and has phones in
/// calls.
#[cfg(test)]
pub(super) fn tests_support_sip() -> App {
    tests::seeded_sip()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::fleet::stats::{CallResult, Recorder, Route, Snapshot};
    use crate::phone::{Step, StepSample, Success, TaskKind, TaskOutcome};
    use crate::tui::app::{App, ClusterObs, ClusterView, FleetView, Rtmt, SipCounters};
    use crate::tui::event::Event;
    use crate::tui::ui::tests::{has, lines};
    use crate::tui::update::update;

    pub(crate) fn seeded() -> App {
        seeded_with(false)
    }

    /// The fleet's SIP run the SIP tests share: on cluster1 two local calls ok (12 ms), one
    /// misrouted, one busy (486); on cluster2 a trunk call ok (30 ms) and one answered 404;
    /// one dropped arrival, one call taken, a register step (8 ms), two phones in call.
    pub(crate) fn sip_snapshot() -> Snapshot {
        let mut rec = Recorder::new(3);
        let ms = Duration::from_millis;
        let t = Instant::now();
        // As the fleet does: the call_setup step's sample, and the call by route with it.
        let call = |rec: &mut Recorder, c, route, result: CallResult, setup: Option<u64>| {
            let setup = setup.map(ms);
            if let Some(d) = setup {
                let sample = StepSample {
                    step: Step::CallSetup,
                    start: t,
                    end: t + d,
                };
                rec.sample(c, &sample);
            }
            rec.call(c, route, &result, setup);
        };
        for _ in 0..2 {
            call(
                &mut rec,
                0,
                Route::Local,
                CallResult::Ok { verified: true },
                Some(12),
            );
        }
        call(&mut rec, 0, Route::Local, CallResult::Misrouted, Some(15));
        call(&mut rec, 0, Route::Local, CallResult::Status(486), None);
        call(
            &mut rec,
            1,
            Route::Trunk,
            CallResult::Ok { verified: true },
            Some(30),
        );
        call(&mut rec, 1, Route::Trunk, CallResult::Status(404), None);
        rec.call_dropped(2);
        rec.sip_task(
            1,
            &TaskOutcome {
                task: TaskKind::Answer,
                result: Ok(Success::Answered),
            },
        );
        rec.sample(
            0,
            &StepSample {
                step: Step::Register,
                start: t,
                end: t + ms(8),
            },
        );
        let mut s = Snapshot::empty(3);
        s.total = rec;
        s.elapsed = Duration::from_secs(3);
        s.states[0].in_call = 2;
        s.states[0].logged_in = 1;
        s
    }

    pub(crate) fn seeded_sip() -> App {
        let mut a = seeded_with(true);
        update(&mut a, Event::Stats(Arc::new(sip_snapshot())));
        a
    }

    /// Three polls; with `sip`, cluster2 reports SIP figures growing 4 INVITEs a second.
    fn seeded_with(sip: bool) -> App {
        let mut a = App::new(
            vec![
                ClusterView::new("cluster1", "http://a", "hub", vec!["cluster2".into()]),
                ClusterView::new("cluster2", "http://b", "hub", vec!["cluster1".into()]),
                ClusterView::new(
                    "cluster3",
                    "http://c",
                    "spoke>cluster2",
                    vec!["cluster2".into()],
                ),
            ],
            Some(FleetView::new("demo", vec![], vec![3, 3, 3])),
        );
        for i in 0..3u64 {
            let obs = vec![
                ClusterObs {
                    id: "cluster1".into(),
                    up: i < 2,
                    counters: (i < 2).then_some(Rtmt {
                        requests_in_progress: 4,
                        requests_throttled: 10 * i,
                        requests_handled: 100 * i,
                        logins_successful: 7,
                        ..Rtmt::default()
                    }),
                    max_concurrent: Some(5),
                    ..ClusterObs::default()
                },
                ClusterObs {
                    id: "cluster2".into(),
                    up: true,
                    counters: Some(Rtmt {
                        requests_handled: 5 * i,
                        ..Rtmt::default()
                    }),
                    sip: sip.then(|| SipCounters {
                        bindings: 17,
                        invites: 4 * i,
                        routed_local: 30,
                        routed_trunk: 9,
                        not_found: 1,
                        unavailable: 2,
                        trunk_down: 3,
                        throttled: 12,
                        code_yellow: 1,
                        throttle_percent: 30,
                        queue_delay_us: 140_500,
                        invite_transactions: 6,
                        registers: 40,
                        register_refused_403: 1,
                        retransmissions_absorbed: [
                            ("INVITE".to_owned(), 5),
                            ("REGISTER".to_owned(), 2),
                        ]
                        .into(),
                        ..SipCounters::default()
                    }),
                    max_concurrent: Some(5),
                    ..ClusterObs::default()
                },
            ];
            update(&mut a, Event::Clusters(Arc::new(obs)));
        }
        a
    }

    #[test]
    fn overview_at_80x24_shows_clusters_up_down_and_the_fleet() {
        let a = seeded();
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        // 80 columns: short tab titles leave room for the run's progress.
        assert!(l[0].contains("1 Ovr") && l[0].contains("6 Roam"), "{text}");
        let row = |id: &str| {
            l.iter()
                .find(|x| x.contains(id))
                .cloned()
                .unwrap_or_default()
        };
        assert!(row("▶cluster1").contains("DOWN"), "{text}");
        assert!(row("▶cluster1").contains("-/5"), "{text}");
        assert!(row("cluster2").contains("UP"), "{text}");
        assert!(row("cluster2").contains("0/5"), "{text}");
        assert!(row("cluster3").contains("wait"), "{text}");
        assert!(row("cluster3").contains("spoke>cluster2"), "{text}");
        assert!(has(&l, "busy (26) 0"), "{text}");
        assert!(has(&l, "phones 9  logged in 0"), "{text}");
        assert!(l[23].contains("q quit"), "{text}");
        // A run without SIP looks as it did before SIP.
        for sip in ["in call", "calls ", "call setup", "misrouted"] {
            assert!(!has(&l, sip), "{sip}: {text}");
        }
    }

    #[test]
    fn overview_with_sip_shows_in_call_calls_misrouted_and_setup_by_route() {
        use ratatui::style::Color;

        use crate::tui::ui::tests::style_of;
        let a = seeded_sip();
        for (w, h) in [(80, 24), (120, 40)] {
            let l = lines(&a, w, h);
            let text = l.join("\n");
            assert!(has(&l, "in flight 0  in call 2"), "{text}");
            assert!(
                has(
                    &l,
                    "calls 6  ok 3  busy (486) 1  failed 2  misrouted 1  dropped 1"
                ),
                "{text}"
            );
            assert!(
                has(&l, "answered 1  missed 0  unverified 0  retransmissions 0"),
                "{text}"
            );
            assert!(
                has(
                    &l,
                    "call setup ms p50/p99  local 12.0/15.0  trunk 30.0/30.0  register 8.0/8.0"
                ),
                "{text}"
            );
            // The EM lines are all still there.
            assert!(has(&l, "busy (26) 0"), "{text}");
            assert!(has(&l, "journey ms (whole run)"), "{text}");
            // A misrouted call is a failure, and looks like one.
            let st = style_of(&a, w, h, "misrouted 1").unwrap();
            assert_eq!(st.fg, Some(Color::Red), "{st:?}");
        }
        // Nothing misrouted: not highlighted.
        let mut b = seeded();
        let mut s = sip_snapshot();
        s.states[0].in_call = 0;
        let mut rec = Recorder::new(3);
        rec.call(0, Route::Local, &CallResult::Ok { verified: true }, None);
        s.total = rec;
        update(&mut b, Event::Stats(Arc::new(s)));
        let st = style_of(&b, 80, 24, "misrouted 0").unwrap();
        assert_ne!(st.fg, Some(ratatui::style::Color::Red));
    }

    #[test]
    fn a_down_cluster_shows_no_rate() {
        let a = seeded();
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        // cluster1 handled 100/s and throttled 10/s before it went down: neither shows.
        let row = l.iter().find(|x| x.contains("▶cluster1")).unwrap();
        assert!(row.contains("DOWN") && row.contains("—"), "{text}");
        assert!(!row.contains("100.0") && !row.contains("10.0"), "{text}");
        let row = l.iter().find(|x| x.contains("cluster2")).unwrap();
        assert!(row.contains("5.0"), "{text}");
    }

    /// A profile of a 10 s closed phase then a 20 s open one at 1/s, the phones booted 2 s.
    fn timed() -> App {
        use crate::fleet::profile::Rate;
        let mut a = seeded();
        let half = Rate { from: 0.5, to: 0.5 };
        let phases = crate::tui::app::warm_then_open("walk-up", 20, half, half);
        a.fleet = Some(FleetView::new("demo", phases, vec![3, 3, 3]));
        a
    }

    /// A snapshot at `secs` since the run started with `started` arrivals that started a
    /// journey and `dropped` arrivals so far.
    fn at(secs: u64, started: u64, dropped: u64) -> Arc<Snapshot> {
        use crate::fleet::stats::Dropped;
        let mut rec = Recorder::new(3);
        for _ in 0..started {
            rec.arrival_started(0);
            rec.started(0, crate::phone::TaskKind::Login, Duration::ZERO);
        }
        for _ in 0..dropped {
            rec.dropped(1, Dropped::NoFreeUser);
        }
        let mut s = Snapshot::empty(3);
        s.total = rec;
        s.elapsed = Duration::from_secs(secs);
        s.phases_from = Some(Duration::from_secs(2));
        s.phase = "walk-up".into();
        Arc::new(s)
    }

    #[test]
    fn the_header_and_the_fleet_say_phase_n_of_n_elapsed_total_and_time_left() {
        let mut a = timed();
        update(&mut a, Event::Stats(at(17, 0, 0)));
        // 15 s into the phases (2 s of boot apart): phase 2 of 2, 15 s left.
        let l = lines(&a, 140, 40);
        let text = l.join("\n");
        assert!(
            l[0].contains("1 Overview") && l[0].contains("6 Roaming"),
            "{text}"
        );
        assert!(
            l[0].contains("phase 2/2 walk-up  15s/30s  15s left  demo"),
            "{text}"
        );
        assert!(
            has(&l, "run 15s of 30s, 15s left  phase 2/2 walk-up"),
            "{text}"
        );
        // 80 columns: short titles, and the progress still whole.
        let l = lines(&a, 80, 24);
        assert!(
            l[0].contains("6 Roam") && l[0].contains("phase 2/2 walk-up  15s/30s"),
            "{l:#?}"
        );
        // Paused: said first where there is room for it.
        a.fleet.as_mut().unwrap().paused = true;
        assert!(lines(&a, 140, 40)[0].contains("15s left  demo  PAUSED"));
        // Before the phases (boot): no phase clock yet.
        let mut b = timed();
        let mut s = Snapshot::empty(3);
        s.phase = "boot".into();
        s.elapsed = Duration::from_secs(1);
        update(&mut b, Event::Stats(Arc::new(s)));
        let l = lines(&b, 140, 40);
        assert!(has(&l, "run not started (30s of phases)  boot"), "{l:#?}");
        // In the closed phase: no intended rate, and why.
        let mut c = timed();
        update(&mut c, Event::Stats(at(5, 0, 0)));
        let l = lines(&c, 140, 40);
        assert!(has(&l, "phase 1/2 warm"), "{l:#?}");
        assert!(
            has(&l, "intended none (closed model)  rate x1.00"),
            "{l:#?}"
        );
    }

    #[test]
    fn arrivals_count_dropped_ones_over_a_five_second_window() {
        let mut a = timed();
        // One arrival a second, every one dropped (no free user): the rate still shows them,
        // where journeys started alone read 0.0/s for the whole phase.
        for (i, secs) in (13..=20).enumerate() {
            update(&mut a, Event::Stats(at(secs, 0, i as u64)));
        }
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        assert!(
            has(
                &l,
                "arrivals 1.0/s, started 0.0/s (5 s), intended 1.0/s  rate x1.00"
            ),
            "{text}"
        );
        // A closed phase has no arrivals; its journeys show as started, and it fits 80 columns.
        let mut c = timed();
        for (secs, n) in [(5, 0), (6, 3), (7, 6)] {
            let mut s = Snapshot::empty(3);
            let mut rec = Recorder::new(3);
            for _ in 0..n {
                rec.started(0, crate::phone::TaskKind::Login, Duration::ZERO);
            }
            s.total = rec;
            s.elapsed = Duration::from_secs(secs);
            s.phases_from = Some(Duration::from_secs(2));
            update(&mut c, Event::Stats(Arc::new(s)));
        }
        let l = lines(&c, 80, 24);
        assert!(
            has(
                &l,
                "arrivals 0.0/s, started 3.0/s (5 s), intended none (closed model)  rate x1.00"
            ),
            "{l:#?}"
        );
        // A 1/s process seen one second at a time reads 0 or 2; over 5 s it reads its rate.
        let mut b = timed();
        for (secs, n) in [
            (13, 0),
            (14, 2),
            (15, 2),
            (16, 4),
            (17, 4),
            (18, 6),
            (19, 6),
        ] {
            update(&mut b, Event::Stats(at(secs, n, 0)));
        }
        assert!(has(
            &lines(&b, 140, 40),
            "arrivals 0.8/s, started 0.8/s (5 s)"
        ));
        // Nothing yet: no rate, not a zero.
        let c = timed();
        assert!(has(&lines(&c, 140, 40), "arrivals —, started — (5 s)"));
    }

    #[test]
    fn at_140x40_the_space_below_holds_the_fleet_by_cluster_and_the_roamers() {
        use crate::fleet::stats::Dropped;
        use crate::phone::Cause;
        let mut a = seeded();
        let mut rec = Recorder::new(3);
        rec.started(1, TaskKind::Login, Duration::ZERO);
        rec.outcome(
            1,
            &TaskOutcome::failed_at(TaskKind::Login, Step::LoginSubmit, Cause::ConnectionRefused),
        );
        rec.dropped(1, Dropped::NoIdlePhone);
        let mut s = Snapshot::empty(3);
        s.total = rec;
        s.roamers = super::super::roaming::tests_roamers();
        update(&mut a, Event::Stats(Arc::new(s)));
        let l = lines(&a, 140, 40);
        let text = l.join("\n");
        assert!(has(&l, "fleet by cluster"), "{text}");
        let row = l
            .iter()
            .find(|x| x.contains("cluster2  0/1"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains("connection_refused 1"), "{text}");
        assert!(has(&l, "roaming users"), "{text}");
        assert!(has(&l, "bob 1000001"), "{text}");
        // Most of the screen is used: no more than a few empty rows inside the panels.
        let empty = l
            .iter()
            .filter(|x| x.trim_matches(|c| c == '│' || c == ' ').is_empty())
            .count();
        assert!(empty <= 16, "{empty} empty rows: {text}");
    }

    #[test]
    fn watch_mode_says_there_is_no_fleet() {
        let mut a = seeded();
        a.fleet = None;
        let l = lines(&a, 80, 24);
        assert!(has(&l, "no fleet"));
        assert!(l[0].contains("watching"));
    }
}
