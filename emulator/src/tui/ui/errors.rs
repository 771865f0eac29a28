//! Screen 4: what went wrong, by cluster. The fleet's outcomes (succeeded, busy (26) apart,
//! failed) for the last interval, the whole run and each cluster, with failures by cause
//! grouped: transport (connection refused, host not found, timeout, broken connection, an
//! HTTP error status: no EM answer at all), EM codes, and the rest; dropped arrivals by why.
//! Beside it, what each cluster answered by EM code (its own counters) and why the
//! dashboard's polls of a cluster fail (it is down).

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use crate::fleet::stats::Counts;
use crate::tui::app::{App, FleetView};

/// The groups failure causes fall in, in the order shown.
const GROUPS: [&str; 3] = ["transport (no EM answer)", "EM codes", "other causes"];

/// Which of [`GROUPS`] a cause key is in (`boot_timeout` is transport like `timeout`).
fn group(cause: &str) -> usize {
    const TRANSPORT: [&str; 5] = [
        "connection_refused",
        "connection_failed",
        "host_not_found",
        "timeout",
        "http_",
    ];
    if TRANSPORT.iter().any(|t| cause.contains(t)) {
        0
    } else if cause.starts_with("em_") {
        1
    } else {
        2
    }
}

/// One row: a label, the last interval's count, the run's, and the run's per cluster.
fn row(label: String, f: &FleetView, get: &dyn Fn(&Counts) -> u64) -> Row<'static> {
    let now = get(&f.snap.total.totals());
    let before = get(&f.prev.total.totals());
    let mut cells = vec![
        label,
        now.saturating_sub(before).to_string(),
        now.to_string(),
    ];
    cells.extend(
        f.snap
            .total
            .clusters()
            .iter()
            .map(|c| get(&c.counts).to_string()),
    );
    Row::new(cells)
}

fn fleet_table(app: &App, f: &FleetView, area: Rect, buf: &mut Buffer) {
    let now = f.snap.total.totals();
    let mut rows = vec![
        row("succeeded".into(), f, &|c| c.succeeded()),
        row("busy (26)".into(), f, &|c| c.busy).style(Style::new().bold()),
        row("failed".into(), f, &|c| c.failed),
    ];
    let mut by_group: [Vec<&String>; 3] = Default::default();
    for cause in now.by_cause.keys().filter(|c| c.as_str() != "em_26") {
        by_group[group(cause)].push(cause);
    }
    let dim = Style::new().fg(Color::DarkGray);
    for (name, causes) in GROUPS.iter().zip(&by_group) {
        if causes.is_empty() {
            continue;
        }
        rows.push(Row::new([format!(" {name}")]).style(dim));
        for cause in causes {
            let key = (*cause).clone();
            rows.push(row(format!("   {cause}"), f, &move |c| {
                c.by_cause.get(&key).copied().unwrap_or(0)
            }));
        }
    }
    rows.push(row("late starts".into(), f, &|c| c.late_starts));
    rows.push(row("dropped".into(), f, &|c| c.dropped));
    for why in now.dropped_by.keys() {
        let key = why.clone();
        rows.push(row(format!("   {why}"), f, &move |c| {
            c.dropped_by.get(&key).copied().unwrap_or(0)
        }));
    }
    let n = f.snap.total.clusters().len();
    let mut header = vec!["outcome".to_string(), "last".into(), "run".into()];
    header.extend((0..n).map(|i| app.cluster_name(i)));
    // The numbers next to the labels; what is left stays empty on the right.
    let mut widths = vec![
        Constraint::Length(30),
        Constraint::Length(6),
        Constraint::Length(7),
    ];
    widths.extend((0..n).map(|i| Constraint::Length(app.cluster_name(i).len().max(5) as u16 + 1)));
    widths.push(Constraint::Fill(1));

    Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().bold()))
        .block(Block::bordered().title(" fleet outcomes by cause and cluster (run per cluster) "))
        .render(area, buf);
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [top, bottom] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length((app.clusters.len() as u16 + 3).max(6)),
    ])
    .areas(area);
    match &app.fleet {
        Some(f) => fleet_table(app, f, top, buf),
        None => Paragraph::new("no fleet")
            .block(Block::bordered().title(" fleet outcomes "))
            .render(top, buf),
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
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
        .render(left, buf);
    let polls: Vec<Line> = app
        .clusters
        .iter()
        .map(|c| match &c.last {
            None => Line::styled(
                format!("{} not polled yet", c.id),
                Style::new().fg(Color::DarkGray),
            ),
            Some(o) if o.up => Line::from(format!("{} answers", c.id)),
            Some(o) => Line::styled(
                format!(
                    "{} DOWN: {}",
                    c.id,
                    o.error.as_deref().unwrap_or("no answer")
                ),
                Style::new().fg(Color::Red),
            ),
        })
        .collect();
    Paragraph::new(polls)
        .wrap(ratatui::widgets::Wrap { trim: true })
        .block(Block::bordered().title(" the dashboard's polls "))
        .render(right, buf);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::tui::app::{ClusterObs, Screen};
    use crate::tui::event::Event;
    use crate::tui::ui::tests::{cols, has, lines};
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
        // cluster1 is down in the seeded app: said so, with why.
        assert!(has(&l, "cluster1 DOWN"), "{text}");
    }

    #[test]
    fn transport_failures_show_by_cluster_beside_em_codes() {
        use crate::fleet::stats::{Dropped, Recorder, Snapshot};
        use crate::phone::{Cause, Step, TaskKind, TaskOutcome};
        let mut a = super::super::overview::tests_support();
        a.screen = Screen::Errors;
        let mut rec = Recorder::new(3);
        let fail = |c| TaskOutcome::failed_at(TaskKind::Login, Step::LoginSubmit, c);
        for _ in 0..4 {
            rec.outcome(1, &fail(Cause::ConnectionRefused));
        }
        rec.outcome(1, &fail(Cause::Timeout));
        rec.outcome(0, &fail(Cause::HttpStatus(503)));
        rec.outcome(0, &fail(Cause::Em(201)));
        rec.outcome(2, &fail(Cause::Em(26)));
        rec.dropped(1, Dropped::NoFreeUser);
        let mut s = Snapshot::empty(3);
        s.total = rec;
        update(&mut a, Event::Stats(Arc::new(s)));
        for (w, h) in [(80, 24), (140, 40)] {
            let l = lines(&a, w, h);
            let text = l.join("\n");
            assert!(has(&l, "transport (no EM answer)"), "{text}");
            // label, last, run, cluster1, cluster2, cluster3
            for row in [
                ["connection_refused", "4", "4", "0", "4", "0"],
                ["timeout", "1", "1", "0", "1", "0"],
                ["http_503", "1", "1", "1", "0", "0"],
                ["em_201", "1", "1", "1", "0", "0"],
                ["no_free_user", "1", "1", "0", "1", "0"],
                ["failed", "7", "7", "2", "5", "0"],
            ] {
                // Causes are indented under their group; "failed" is a total.
                let indent = if row[0] == "failed" { "" } else { "   " };
                assert_eq!(cols(&l, &format!("│{indent}{}", row[0])), row, "{text}");
            }
            assert!(has(&l, "busy (26)"), "{text}");
            // The transport group comes before the EM codes.
            let at = |s: &str| l.iter().position(|x| x.contains(s)).unwrap();
            assert!(at("transport") < at("EM codes"), "{text}");
        }
    }
}
