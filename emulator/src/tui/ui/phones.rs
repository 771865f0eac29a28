//! Screen 5: phones by state, per cluster, from the fleet's snapshots (logged in, logged out;
//! journeys in flight are counted fleet-wide).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use crate::tui::app::App;

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
    let rows = f.phones.iter().enumerate().map(|(i, &n)| {
        let li = f.snap.logged_in.get(i).copied().unwrap_or(0);
        let name = app
            .clusters
            .get(i)
            .map_or_else(|| format!("#{i}"), |c| c.id.clone());
        Row::new([
            name,
            n.to_string(),
            li.to_string(),
            n.saturating_sub(li).to_string(),
        ])
    });
    let total: u64 = f.phones.iter().sum();
    let li: u64 = f.snap.logged_in.iter().sum();
    let rows = rows.chain(std::iter::once(
        Row::new([
            "all".to_string(),
            total.to_string(),
            li.to_string(),
            total.saturating_sub(li).to_string(),
        ])
        .style(Style::new().bold()),
    ));
    Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(11),
        ],
    )
    .header(Row::new(["cluster", "phones", "logged in", "logged out"]).style(Style::new().bold()))
    .block(Block::bordered().title(" phones by state "))
    .render(table, buf);
    Paragraph::new(format!(
        "journeys in flight (booting, logging in or out, restarting): {}",
        f.snap.in_flight
    ))
    .render(note, buf);
}
