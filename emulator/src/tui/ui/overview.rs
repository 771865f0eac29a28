//! Screen 1: every cluster on one line (up or down, ILS role, RequestsInProgress against
//! Maximum Concurrent Requests, throttled and handled per second, logins, logouts) and the
//! fleet's totals (journeys, busy apart, rates, journey latency).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::{ms, up_down};
use crate::phone::Step;
use crate::tui::app::{App, FleetView};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let n = app.clusters.len() as u16;
    let fleet_h = if app.fleet.is_some() { 9 } else { 0 };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(n + 3), Constraint::Min(fleet_h)]).areas(area);
    cluster_table(app, top, buf);
    if let Some(f) = &app.fleet {
        fleet_block(f, bottom, buf);
    } else {
        Paragraph::new("no fleet: watching clusters only (emroam tui)")
            .block(Block::bordered().title(" fleet "))
            .render(bottom, buf);
    }
}

/// The clusters table shared by screens 1 and 2.
pub(super) fn cluster_table(app: &App, area: Rect, buf: &mut Buffer) {
    let header = Row::new([
        "cluster",
        "state",
        "ILS",
        "InProgress",
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
            Cell::from(format!("{:.1}", c.rate(|r| r.requests_throttled, 5))),
            Cell::from(format!("{:.1}", c.rate(|r| r.requests_handled, 5))),
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

fn fleet_block(f: &FleetView, area: Rect, buf: &mut Buffer) {
    let t = f.snap.total.totals();
    let phones: u64 = f.phones.iter().sum();
    let logged_in: u64 = f.snap.logged_in.iter().sum();
    let j = f.snap.total.step_all(Step::Journey);
    let q = |p: f64| {
        j.as_ref()
            .map_or("-".into(), |h| ms(h.value_at_quantile(p)))
    };
    let intended = f
        .intended_rate()
        .map_or("closed model".into(), |r| format!("{r:.1}/s"));
    let lines = vec![
        Line::from(format!(
            "phones {phones}  logged in {logged_in}  logged out {}  in flight {}",
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
            "arrivals {:.1}/s now, intended {intended}  rate x{:.2}{}",
            f.current_rate(),
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
    Paragraph::new(lines)
        .block(Block::bordered().title(format!(" fleet: {} ", f.name)))
        .render(area, buf);
}

/// The app the screen tests share: three clusters, cluster1 went down after two polls.
#[cfg(test)]
pub(super) fn tests_support() -> App {
    tests::seeded()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::tui::app::{App, ClusterObs, ClusterView, FleetView, Rtmt};
    use crate::tui::event::Event;
    use crate::tui::ui::tests::{has, lines};
    use crate::tui::update::update;

    pub(crate) fn seeded() -> App {
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
        assert!(
            l[0].contains("1 Overview") && l[0].contains("5 Phones"),
            "{text}"
        );
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
