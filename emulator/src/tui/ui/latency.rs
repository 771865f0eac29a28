//! Screen 3: step and journey latency percentiles (ms, from each journey's intended start),
//! for the last interval (the difference of the last two snapshots) and the whole run; when
//! the run has SIP, call setup by route (local, trunk) under `call_setup`, and the calls.

use hdrhistogram::Histogram;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget};

use super::{answers_line, calls_line, ms, route_all};
use crate::fleet::stats::Route;
use crate::phone::Step;
use crate::tui::app::App;

type Hist = Histogram<u64>;

/// The last interval's histogram: now minus before (None if nothing happened in it).
fn interval(
    now: Option<&Histogram<u64>>,
    before: Option<&Histogram<u64>>,
) -> Option<Histogram<u64>> {
    let mut h = now?.clone();
    if let Some(b) = before {
        // Counts only grow between snapshots of one run; if not, show nothing rather than lie.
        h.subtract(b).ok()?;
    }
    (!h.is_empty()).then_some(h)
}

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(f) = &app.fleet else {
        Paragraph::new(
            "latency comes from a fleet: run `emroam fleet PROFILE --tui` or `emroam demo`",
        )
        .block(Block::bordered().title(" latency "))
        .render(area, buf);
        return;
    };
    let header = Row::new([
        "step", "n", "last p50", "p99", "run p50", "p90", "p99", "p99.9", "max",
    ])
    .style(Style::new().bold());
    let q =
        |h: Option<&Histogram<u64>>, p: f64| h.map_or("-".into(), |h| ms(h.value_at_quantile(p)));
    let sip = f.has_sip();
    // Each step, and with SIP call setup by route right under call_setup.
    let mut series: Vec<(String, Option<Hist>, Option<Hist>)> = Vec::new();
    for step in Step::ALL {
        series.push((
            step.name().to_string(),
            f.snap.total.step_all(step),
            f.prev.total.step_all(step),
        ));
        if sip && step == Step::CallSetup {
            for route in [Route::Local, Route::Trunk] {
                series.push((
                    format!("  {}", route.name()),
                    route_all(&f.snap.total, route),
                    route_all(&f.prev.total, route),
                ));
            }
        }
    }
    let n_rows = series.len() as u16;
    let rows = series.into_iter().map(|(name, run, before)| {
        let last = interval(run.as_ref(), before.as_ref());
        Row::new([
            name,
            run.as_ref().map_or("0".into(), |h| h.len().to_string()),
            q(last.as_ref(), 0.5),
            q(last.as_ref(), 0.99),
            q(run.as_ref(), 0.5),
            q(run.as_ref(), 0.9),
            q(run.as_ref(), 0.99),
            q(run.as_ref(), 0.999),
            run.as_ref().map_or("-".into(), |h| ms(h.max())),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Min(6),
        ],
    )
    .header(header)
    .block(
        Block::bordered().title(" latency ms from the intended start: last interval | whole run "),
    );
    if !sip {
        table.render(area, buf);
        return;
    }
    let [top, bottom] =
        Layout::vertical([Constraint::Length(n_rows + 3), Constraint::Min(0)]).areas(area);
    table.render(top, buf);
    let t = f.snap.total.totals();
    Paragraph::new(vec![calls_line(&t.sip), answers_line(&t.sip)])
        .block(Block::bordered().title(" calls (whole run) "))
        .render(bottom, buf);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crate::fleet::stats::{Recorder, Snapshot};
    use crate::phone::{Step, StepSample};
    use crate::tui::app::Screen;
    use crate::tui::event::Event;
    use crate::tui::ui::tests::lines;
    use crate::tui::update::update;

    fn snap(rec: &Recorder, secs: u64) -> Arc<Snapshot> {
        let mut s = Snapshot::empty(3);
        s.total = rec.clone();
        s.elapsed = Duration::from_secs(secs);
        Arc::new(s)
    }

    #[test]
    fn last_interval_is_the_difference_of_snapshots() {
        let mut a = super::super::overview::tests_support();
        a.screen = Screen::Latency;
        let t = Instant::now();
        let mut rec = Recorder::new(3);
        for _ in 0..10 {
            rec.sample(
                0,
                &StepSample {
                    step: Step::Journey,
                    start: t,
                    end: t + Duration::from_millis(10),
                },
            );
        }
        update(&mut a, Event::Stats(snap(&rec, 1)));
        for _ in 0..10 {
            rec.sample(
                1,
                &StepSample {
                    step: Step::Journey,
                    start: t,
                    end: t + Duration::from_millis(50),
                },
            );
        }
        update(&mut a, Event::Stats(snap(&rec, 2)));
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        let row = l.iter().find(|x| x.contains("journey")).unwrap();
        assert!(l.iter().any(|x| x.contains("last p50")), "{text}");
        let cols: Vec<&str> = row.trim_matches('│').split_whitespace().collect();
        // step, n, last p50, last p99, run p50 ...
        assert_eq!(
            cols[..5],
            ["journey", "20", "50.0", "50.0", "10.0"],
            "{text}"
        );
        let cfg = l.iter().find(|x| x.contains("config")).unwrap();
        assert!(cfg.contains(" 0 ") && cfg.contains('-'), "{text}");
        // No SIP in this run: no route rows, no calls.
        assert!(
            !text.contains("  local") && !text.contains("calls"),
            "{text}"
        );
    }

    #[test]
    fn with_sip_call_setup_by_route_and_the_calls_show() {
        let mut a = super::super::overview::tests_support_sip();
        a.screen = Screen::Latency;
        for (w, h) in [(80, 24), (120, 40)] {
            let l = lines(&a, w, h);
            let text = l.join("\n");
            let cols = |name: &str| -> Vec<String> {
                let r = l
                    .iter()
                    .find(|x| x.trim_start_matches('│').starts_with(name))
                    .unwrap_or_else(|| panic!("{name}: {text}"));
                r.trim_matches('│')
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            };
            // step, n, last p50, last p99, run p50, p90, p99 ...
            assert_eq!(cols("call_setup")[..2], ["call_setup", "4"], "{text}");
            assert_eq!(
                cols("  local")[..7],
                ["local", "3", "12.0", "15.0", "12.0", "15.0", "15.0"],
                "{text}"
            );
            assert_eq!(cols("  trunk")[..3], ["trunk", "1", "30.0"], "{text}");
            assert_eq!(cols("register")[..3], ["register", "1", "8.0"], "{text}");
            assert!(text.contains("misrouted 1"), "{text}");
            assert!(text.contains("calls 6  ok 3  busy (486) 1"), "{text}");
        }
    }
}
