//! Screen 6: the roaming users (those the fleet has seen log in away from home, most recent
//! move first), where the fleet believes each is logged in now (cluster and phone), where each
//! cluster's ILS places their number (its admin API's `locate`, asked only for the users
//! shown), and their last move. Screen 1 shows the first few rows of the same table.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use crate::fleet::stats::Roamer;
use crate::tui::app::{App, FleetView};

/// What a cluster's ILS says about a number, as a cell: the cluster it names (red when the
/// fleet believes the user is elsewhere), `?` when it does not know the number, `—` when the
/// cluster cannot be asked (down, no admin API, or the user has no number).
fn ils_cell(app: &App, cluster: usize, r: &Roamer) -> Cell<'static> {
    let asked = app
        .clusters
        .get(cluster)
        .and_then(|c| c.last.as_ref())
        .filter(|o| o.up)
        .and_then(|o| o.located.as_ref())
        .zip(r.dn.as_ref())
        .and_then(|(m, dn)| m.get(dn));
    match asked {
        None => Cell::from(Span::styled("—", Style::new().fg(Color::DarkGray))),
        Some(None) => Cell::from("?"),
        Some(Some(at)) => {
            let fleet = r.now.as_ref().map(|(c, _)| app.cluster_name(*c));
            if fleet.is_some_and(|f| f != *at) {
                Cell::from(Span::styled(
                    at.clone(),
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ))
            } else {
                Cell::from(at.clone())
            }
        }
    }
}

/// "cluster1 → cluster2 at 12s (3s ago)", the time on the phases' clock (the header's);
/// "— → cluster2" when the fleet had not seen them logged in before.
fn last_move(app: &App, f: &FleetView, r: &Roamer) -> String {
    let Some(m) = r.last_move else {
        return "—".into();
    };
    let from = m
        .from
        .map_or_else(|| "—".to_string(), |c| app.cluster_name(c));
    let ago = f.snap.elapsed.saturating_sub(m.at).as_secs();
    let at = m.at.saturating_sub(f.snap.phases_from.unwrap_or_default());
    format!(
        "{from} → {} at {}s ({ago}s ago)",
        app.cluster_name(m.to),
        at.as_secs()
    )
}

/// The roaming table: at most as many users as fit in `area`; `title` on its border.
pub(super) fn table(app: &App, f: &FleetView, area: Rect, buf: &mut Buffer, title: &str) {
    let n = app.clusters.len();
    let mut header = vec![
        "user".to_string(),
        "home".into(),
        "logged in now (fleet)".into(),
    ];
    header.extend(app.clusters.iter().map(|c| format!("ILS@{}", c.id)));
    header.push("last move".into());
    let fits = area.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = f
        .snap
        .roamers
        .iter()
        .take(fits)
        .map(|r| {
            let now = r.now.as_ref().map_or_else(
                || "logged out".to_string(),
                |(c, d)| format!("{} {d}", app.cluster_name(*c)),
            );
            let user = match &r.dn {
                Some(dn) => format!("{} {dn}", r.user),
                None => r.user.clone(),
            };
            let mut cells = vec![
                Cell::from(user),
                Cell::from(app.cluster_name(r.home)),
                Cell::from(now),
            ];
            cells.extend((0..n).map(|c| ils_cell(app, c, r)));
            cells.push(Cell::from(last_move(app, f, r)));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(16),
        Constraint::Length(9),
        Constraint::Length(26),
    ];
    widths.extend(
        app.clusters
            .iter()
            .map(|c| Constraint::Length((c.id.len() as u16 + 4).max(9))),
    );
    widths.push(Constraint::Min(10));
    let block = Block::bordered().title(title.to_owned());
    if rows.is_empty() {
        Paragraph::new("nobody has logged in away from home yet")
            .block(block)
            .render(area, buf);
        return;
    }
    Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold()))
        .block(block)
        .render(area, buf);
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(f) = &app.fleet else {
        Paragraph::new(
            "roaming users come from a fleet: run `emroam fleet PROFILE --tui` or `emroam demo`",
        )
        .block(Block::bordered().title(" roaming "))
        .render(area, buf);
        return;
    };
    let [top, note] = Layout::vertical([Constraint::Min(4), Constraint::Length(4)]).areas(area);
    table(
        app,
        f,
        top,
        buf,
        " roaming users, most recent move first (the fleet's belief; ILS per cluster) ",
    );
    let dim = Style::new().fg(Color::DarkGray);
    let s = f.snap.total.totals();
    Paragraph::new(vec![
        Line::from(format!(
            "roaming logins {}/{} (ok/attempted) of {} logins",
            s.roaming_ok, s.roaming_attempted, s.logins_attempted
        )),
        Line::styled(
            "ILS@c: where cluster c's ILS places the user's number (GET /admin/clusters/c/locate/DN),",
            dim,
        ),
        Line::styled(
            "  red: not where the fleet logged them in; ?: not known there; —: cannot ask (down, no admin API)",
            dim,
        ),
    ])
    .render(note.inner(ratatui::layout::Margin::new(1, 0)), buf);
}

/// The roamers the screen tests share: Bob moved cluster1 → cluster2, Alice is logged out.
#[cfg(test)]
pub(super) fn tests_roamers() -> Vec<Roamer> {
    tests::roamers()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::fleet::stats::{Move, Roamer, Snapshot};
    use crate::tui::app::{ClusterObs, Screen};
    use crate::tui::event::Event;
    use crate::tui::ui::tests::{has, lines, style_of};
    use crate::tui::update::update;

    /// Bob (home cluster1) moved to cluster2 at 12 s; Alice is logged out after a move.
    pub(crate) fn roamers() -> Vec<Roamer> {
        vec![
            Roamer {
                user: "bob".into(),
                dn: Some("1000001".into()),
                home: 0,
                now: Some((1, "SEP000000002001".into())),
                last_move: Some(Move {
                    from: Some(0),
                    to: 1,
                    at: Duration::from_secs(12),
                }),
            },
            Roamer {
                user: "alice".into(),
                dn: Some("2000001".into()),
                home: 1,
                now: None,
                last_move: Some(Move {
                    from: Some(1),
                    to: 0,
                    at: Duration::from_secs(4),
                }),
            },
        ]
    }

    #[test]
    fn each_roamer_where_the_fleet_and_each_ils_believe_and_the_last_move() {
        let mut a = super::super::overview::tests_support();
        a.screen = Screen::Roaming;
        let mut s = Snapshot::empty(3);
        s.elapsed = Duration::from_secs(15);
        // The phones booted for 2 s: moves show on the phases' clock, as the header does.
        s.phases_from = Some(Duration::from_secs(2));
        s.roamers = roamers();
        update(&mut a, Event::Stats(Arc::new(s)));
        assert_eq!(a.roaming_dns(), ["1000001", "2000001"]);
        // cluster2's ILS knows Bob at cluster2 and not Alice; cluster1 is down; cluster3 was
        // never polled.
        let obs = ClusterObs {
            id: "cluster2".into(),
            up: true,
            located: Some(
                [
                    ("1000001".to_string(), Some("cluster2".to_string())),
                    ("2000001".to_string(), None),
                ]
                .into(),
            ),
            ..ClusterObs::default()
        };
        update(&mut a, Event::Clusters(Arc::new(vec![obs])));
        let l = lines(&a, 140, 40);
        let text = l.join("\n");
        let row = |who: &str| l.iter().find(|x| x.contains(who)).cloned().unwrap();
        let bob: Vec<String> = row("bob 1000001")
            .trim_matches('│')
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            bob,
            [
                "bob",
                "1000001",
                "cluster1",
                "cluster2",
                "SEP000000002001",
                "—",
                "cluster2",
                "—",
                "cluster1",
                "→",
                "cluster2",
                "at",
                "10s",
                "(3s",
                "ago)"
            ],
            "{text}"
        );
        assert!(row("alice 2000001").contains("logged out"), "{text}");
        assert!(row("alice 2000001").contains("?"), "{text}");
        assert!(has(&l, "ILS@cluster2"), "{text}");
        assert!(has(&l, "roaming logins 0/0"), "{text}");
        // An ILS that places Bob elsewhere than the fleet logged him in is red.
        let obs = ClusterObs {
            id: "cluster2".into(),
            up: true,
            located: Some([("1000001".to_string(), Some("stale-c9".to_string()))].into()),
            ..ClusterObs::default()
        };
        update(&mut a, Event::Clusters(Arc::new(vec![obs])));
        let st = style_of(&a, 140, 40, "stale-c9").unwrap();
        assert_eq!(st.fg, Some(ratatui::style::Color::Red));
        // Small terminals clip rows, never panic.
        let _ = lines(&a, 80, 24);
    }

    #[test]
    fn nobody_roamed_yet_says_so() {
        let mut a = super::super::overview::tests_support();
        a.screen = Screen::Roaming;
        let l = lines(&a, 80, 24);
        assert!(has(&l, "nobody has logged in away from home yet"), "{l:#?}");
        a.fleet = None;
        assert!(has(&lines(&a, 80, 24), "roaming users come from a fleet"));
    }
}
