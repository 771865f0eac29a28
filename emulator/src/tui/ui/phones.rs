//! Screen 5: phones by state, per cluster (logged out, logging in, logged in, logging out,
//! other journeys, unknown), as the fleet's shards counted them at their last flush.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use crate::fleet::stats::PhoneStates;
use crate::tui::app::App;

fn row(name: String, total: u64, s: &PhoneStates) -> Row<'static> {
    Row::new([
        name,
        total.to_string(),
        s.logged_out.to_string(),
        s.logging_in.to_string(),
        s.logged_in.to_string(),
        s.logging_out.to_string(),
        s.busy_other.to_string(),
        s.unknown.to_string(),
    ])
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
    let [table, note] = Layout::vertical([
        Constraint::Length(f.phones.len() as u16 + 4),
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
            row(name, n, &st)
        })
        .collect();
    rows.push(
        row("all".into(), f.phones.iter().sum(), &all)
            .style(Style::new().add_modifier(Modifier::BOLD)),
    );
    Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Min(7),
        ],
    )
    .header(
        Row::new([
            "cluster",
            "phones",
            "logged out",
            "logging in",
            "logged in",
            "logging out",
            "other",
            "unknown",
        ])
        .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(Block::bordered().title(" phones by state "))
    .render(table, buf);
    Paragraph::new(format!(
        "journeys in flight {}; each phone's last messages: `emroam phone --device NAME` traces one",
        f.snap.in_flight
    ))
    .render(note, buf);
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
    }
}
