//! Screen 4: outcomes by EM code and failure cause, "busy" (26) apart from failures, for the
//! last interval and the whole run, per fleet cluster; and what each cluster answered, by EM
//! code, from its own counters.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use crate::tui::app::App;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    match &app.fleet {
        Some(f) => {
            let now = f.snap.total.totals();
            let before = f.prev.total.totals();
            let mut rows = vec![
                Row::new([
                    "succeeded".to_string(),
                    now.succeeded()
                        .saturating_sub(before.succeeded())
                        .to_string(),
                    now.succeeded().to_string(),
                ]),
                Row::new([
                    "busy (26)".to_string(),
                    now.busy.saturating_sub(before.busy).to_string(),
                    now.busy.to_string(),
                ])
                .style(Style::new().bold()),
                Row::new([
                    "failed".to_string(),
                    now.failed.saturating_sub(before.failed).to_string(),
                    now.failed.to_string(),
                ]),
            ];
            for (cause, n) in &now.by_cause {
                if cause == "em_26" {
                    continue;
                }
                let b = before.by_cause.get(cause).copied().unwrap_or(0);
                rows.push(Row::new([
                    format!("  {cause}"),
                    n.saturating_sub(b).to_string(),
                    n.to_string(),
                ]));
            }
            rows.push(Row::new([
                "late starts".to_string(),
                now.late_starts
                    .saturating_sub(before.late_starts)
                    .to_string(),
                now.late_starts.to_string(),
            ]));
            rows.push(Row::new([
                "dropped".to_string(),
                now.dropped.saturating_sub(before.dropped).to_string(),
                now.dropped.to_string(),
            ]));
            Table::new(
                rows,
                [
                    Constraint::Min(16),
                    Constraint::Length(6),
                    Constraint::Length(8),
                ],
            )
            .header(Row::new(["outcome", "last", "run"]).style(Style::new().bold()))
            .block(Block::bordered().title(" fleet outcomes "))
            .render(left, buf);
        }
        None => Paragraph::new("no fleet")
            .block(Block::bordered().title(" fleet outcomes "))
            .render(left, buf),
    }
    let mut codes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &app.clusters {
        if let Some(o) = &c.last {
            for (k, v) in &o.codes {
                codes
                    .entry(k.clone())
                    .or_default()
                    .push(format!("{}:{v}", c.id.trim_start_matches("cluster")));
            }
        }
    }
    let rows = codes.into_iter().map(|(k, v)| {
        let name = if k == "26" { "26 busy".to_string() } else { k };
        Row::new([name, v.join(" ")])
    });
    Table::new(rows, [Constraint::Length(8), Constraint::Min(0)])
        .header(Row::new(["EM code", "per cluster"]).style(Style::new().bold()))
        .block(Block::bordered().title(" clusters' EM answers "))
        .render(right, buf);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::tui::app::{ClusterObs, Screen};
    use crate::tui::event::Event;
    use crate::tui::ui::tests::{has, lines};
    use crate::tui::update::update;

    #[test]
    fn busy_is_apart_and_codes_per_cluster() {
        let mut a = super::super::overview::tests_support();
        a.screen = Screen::Errors;
        let obs = ClusterObs {
            id: "cluster2".into(),
            up: true,
            codes: [("26".to_string(), 3), ("201".to_string(), 1)].into(),
            ..ClusterObs::default()
        };
        update(&mut a, Event::Clusters(Arc::new(vec![obs])));
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        assert!(has(&l, "busy (26)"), "{text}");
        assert!(has(&l, "26 busy  2:3"), "{text}");
        assert!(has(&l, "201      2:1"), "{text}");
    }
}
