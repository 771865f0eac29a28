//! Screen 5: phones by state, per cluster (logged out, logging in, logged in, logging out,
//! in a call when the run has SIP, other journeys, unknown), as the fleet's shards counted
//! them at their last flush; the selected cluster's phones as a list with the user each
//! carries, and the selected phone's last journey's messages (the fleet traces only that
//! phone).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use crate::fleet::stats::PhoneStates;
use crate::tui::app::App;

/// One row; with SIP an `in call` column after `logging out`.
fn row(name: String, total: u64, s: &PhoneStates, sip: bool) -> Row<'static> {
    let mut cells = vec![
        name,
        total.to_string(),
        s.logged_out.to_string(),
        s.logging_in.to_string(),
        s.logged_in.to_string(),
        s.logging_out.to_string(),
    ];
    if sip {
        cells.push(s.in_call.to_string());
    }
    cells.extend([s.busy_other.to_string(), s.unknown.to_string()]);
    Row::new(cells)
}

/// The header and widths: as before SIP without it; with it, an `in call` column and
/// two-line headers so all nine fit in 80 columns.
fn columns(sip: bool) -> (Row<'static>, Vec<Constraint>) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    if !sip {
        let header = Row::new([
            "cluster",
            "phones",
            "logged out",
            "logging in",
            "logged in",
            "logging out",
            "other",
            "unknown",
        ]);
        let widths = [10, 8, 10, 10, 9, 11, 6];
        let mut w: Vec<Constraint> = widths.into_iter().map(Constraint::Length).collect();
        w.push(Constraint::Min(7));
        return (header.style(bold), w);
    }
    let header = Row::new([
        "cluster",
        "phones",
        "logged\nout",
        "logging\nin",
        "logged\nin",
        "logging\nout",
        "in\ncall",
        "other",
        "unknown",
    ])
    .height(2);
    let widths = [10, 8, 7, 8, 7, 8, 6, 6];
    let mut w: Vec<Constraint> = widths.into_iter().map(Constraint::Length).collect();
    w.push(Constraint::Min(7));
    (header.style(bold), w)
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(f) = &app.fleet else {
        Paragraph::new(
            "phones come from a fleet: run `emroam fleet PROFILE --tui` or `emroam demo`",
        )
        .block(Block::bordered().title(" phones "))
        .render(area, buf);
        return;
    };
    let sip = f.has_sip();
    let [table, note] = Layout::vertical([
        Constraint::Length(f.phones.len() as u16 + 4 + u16::from(sip)),
        Constraint::Min(0),
    ])
    .areas(area);
    let mut all = PhoneStates::default();
    let mut rows: Vec<Row> = f
        .phones
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let st = f.snap.states.get(i).copied().unwrap_or_default();
            all.add(&st);
            let name = app
                .clusters
                .get(i)
                .map_or_else(|| format!("#{i}"), |c| c.id.clone());
            row(name, n, &st, sip)
        })
        .collect();
    rows.push(
        row("all".into(), f.phones.iter().sum(), &all, sip)
            .style(Style::new().add_modifier(Modifier::BOLD)),
    );
    let (header, widths) = columns(sip);
    Table::new(rows, widths)
        .header(header)
        .block(Block::bordered().title(" phones by state "))
        .render(table, buf);
    let [list, msgs] = Layout::horizontal([Constraint::Length(34), Constraint::Min(0)]).areas(note);
    let devices = f.devices.get(app.selected).map_or(&[][..], Vec::as_slice);
    let rows = list.height.saturating_sub(2) as usize;
    // A window of the list that keeps the selection in view.
    let first = f.phone.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = devices
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, d)| {
            // Who it carries, as the fleet believes ("-": nobody logged in).
            let user = f.snap.carried.get(d).map_or("-", String::as_str);
            let text = format!("{d} {user}");
            if i == f.phone {
                Line::styled(
                    format!("▶{text}"),
                    Style::new().add_modifier(Modifier::REVERSED),
                )
            } else {
                Line::from(format!(" {text}"))
            }
        })
        .collect();
    let cluster = app.selected_cluster().map_or("", |c| c.id.as_str());
    Paragraph::new(lines)
        .block(Block::bordered().title(format!(
            " {cluster} {}/{}: phone, user ",
            (f.phone + 1).min(devices.len()),
            devices.len()
        )))
        .render(list, buf);
    let selected = devices.get(f.phone);
    let body: Vec<Line> = match selected {
        Some(d) if *d == f.trace.device => f
            .trace
            .lines
            .iter()
            .map(|l| Line::from(l.as_str()))
            .collect(),
        Some(_) => vec![Line::from(
            "waiting for its next journey (↑↓ phone, Tab cluster)",
        )],
        None => vec![Line::from("no phones")],
    };
    let skip = body
        .len()
        .saturating_sub(msgs.height.saturating_sub(2) as usize);
    Paragraph::new(body.into_iter().skip(skip).collect::<Vec<_>>())
        .block(Block::bordered().title(format!(
            " last messages of {}  (in flight {}) ",
            selected.map_or("-", String::as_str),
            f.snap.in_flight
        )))
        .render(msgs, buf);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::fleet::stats::{PhoneStates, Snapshot};
    use crate::tui::app::Screen;
    use crate::tui::event::Event;
    use crate::tui::ui::tests::lines;
    use crate::tui::update::update;

    #[test]
    fn phones_by_state_per_cluster_and_totals() {
        let mut a = super::super::overview::tests_support();
        a.screen = Screen::Phones;
        let mut s = Snapshot::empty(3);
        s.states[0] = PhoneStates {
            logged_out: 1,
            logging_in: 1,
            logged_in: 1,
            ..PhoneStates::default()
        };
        s.states[2] = PhoneStates {
            logging_out: 2,
            unknown: 1,
            ..PhoneStates::default()
        };
        update(&mut a, Event::Stats(Arc::new(s)));
        let l = lines(&a, 80, 24);
        let cols = |id: &str| -> Vec<String> {
            let r = l.iter().find(|x| x.contains(id)).unwrap();
            r.trim_matches('│')
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            cols("cluster1"),
            ["cluster1", "3", "1", "1", "1", "0", "0", "0"]
        );
        assert_eq!(
            cols("cluster3"),
            ["cluster3", "3", "0", "0", "0", "2", "0", "1"]
        );
        assert_eq!(cols("all"), ["all", "9", "1", "1", "1", "2", "0", "1"]);
        assert!(!l.join("\n").contains("call"), "no SIP: no in-call column");
    }

    #[test]
    fn with_sip_phones_in_call_are_a_state_of_their_own() {
        let mut a = super::super::overview::tests_support_sip();
        a.screen = Screen::Phones;
        for (w, h) in [(80, 24), (120, 40)] {
            let l = lines(&a, w, h);
            let text = l.join("\n");
            // By the first column ("all" is also in the header's "call").
            let cols = |id: &str| -> Vec<String> {
                let r = l
                    .iter()
                    .find(|x| x.trim_start_matches('│').starts_with(&format!("{id} ")))
                    .unwrap_or_else(|| panic!("{id}: {text}"));
                r.trim_matches('│')
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            };
            assert!(l.iter().any(|x| x.contains("call")), "{text}");
            assert!(l.iter().any(|x| x.contains("unknown")), "{text}");
            // cluster, phones, logged out, logging in, logged in, logging out, in call, ...
            assert_eq!(
                cols("cluster1"),
                ["cluster1", "3", "0", "0", "1", "0", "2", "0", "0"],
                "{text}"
            );
            assert_eq!(cols("all")[6], "2", "{text}");
        }
    }

    #[test]
    fn the_selected_phone_is_traced_and_its_messages_shown() {
        use crossterm::event::{Event as Term, KeyCode, KeyEvent, KeyModifiers};

        use crate::fleet::PhoneTrace;
        use crate::tui::update::Command;
        let mut a = super::super::overview::tests_support();
        a.fleet.as_mut().unwrap().devices = vec![
            vec!["SEP000000001001".into(), "SEP000000001002".into()],
            vec!["SEP000000002001".into()],
            vec![],
        ];
        let press = |a: &mut crate::tui::app::App, c: KeyCode| {
            update(
                a,
                Event::Input(Term::Key(KeyEvent::new(c, KeyModifiers::NONE))),
            )
        };
        assert_eq!(
            press(&mut a, KeyCode::Char('5')),
            Some(Command::WatchPhone("SEP000000001001".into()))
        );
        assert_eq!(
            press(&mut a, KeyCode::Down),
            Some(Command::WatchPhone("SEP000000001002".into()))
        );
        // Clamped at the end; the cluster selection did not move.
        assert_eq!(
            press(&mut a, KeyCode::Down),
            Some(Command::WatchPhone("SEP000000001002".into()))
        );
        assert_eq!(a.selected, 0);
        update(
            &mut a,
            Event::Trace(Arc::new(PhoneTrace {
                device: "SEP000000001002".into(),
                lines: vec![
                    "→ GET http://x/emapp".into(),
                    "← 200 (812 B, 1.2 ms)".into(),
                ],
            })),
        );
        let mut s = crate::fleet::stats::Snapshot::empty(3);
        s.carried = Arc::new([("SEP000000001001".to_string(), "bob".to_string())].into());
        update(&mut a, Event::Stats(Arc::new(s)));
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        assert!(text.contains("▶SEP000000001002 -"), "{text}");
        assert!(text.contains(" SEP000000001001 bob"), "{text}");
        assert!(text.contains("← 200 (812 B, 1.2 ms)"), "{text}");
        assert_eq!(
            press(&mut a, KeyCode::Tab),
            Some(Command::WatchPhone("SEP000000002001".into()))
        );
        assert_eq!(a.selected, 1);
        let text = lines(&a, 80, 24).join("\n");
        assert!(text.contains("waiting for its next journey"), "{text}");
        // A cluster with no phones: nothing to trace, no panic.
        assert_eq!(press(&mut a, KeyCode::Tab), None);
        let _ = lines(&a, 80, 24);
    }
}
