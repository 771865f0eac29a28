//! Rendering: `impl Widget for &App`, one module per numbered screen. Rendering only reads
//! the state; anything it shows is derived from the last snapshots on the spot.
//!
//! Fits 80×24; below [`MIN_WIDTH`]×[`MIN_HEIGHT`] it shows a "terminal too small" screen.

mod clusters;
mod errors;
mod latency;
mod overview;
mod phones;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Widget, Wrap};

use super::app::{App, Screen};

/// Narrowest terminal the layout fits.
pub const MIN_WIDTH: u16 = 72;
/// Lowest terminal the layout fits.
pub const MIN_HEIGHT: u16 = 18;

/// The keys, as the help overlay lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("1..5", "overview, clusters, latency, errors, phones"),
    ("?  Esc", "this help, close it"),
    ("↑ ↓  j k  Tab", "select a cluster (screen 5: a phone)"),
    ("d  u", "take the selected cluster down, bring it up"),
    ("m  M", "lower, raise its Maximum Concurrent Requests"),
    ("x  h", "cut, heal its ILS link to its first peer"),
    ("s  S", "superuser sync now, ILS full sync from it"),
    ("p  Space", "pause, resume starting work (fleet)"),
    ("+  -", "raise, lower the arrival rate (fleet)"),
    ("q  Ctrl-C", "quit: drain, write the report, restore"),
];

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            too_small(area, buf);
            return;
        }
        let [top, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        header(self, top, buf);
        match self.screen {
            Screen::Overview => overview::render(self, body, buf),
            Screen::Clusters => clusters::render(self, body, buf),
            Screen::Latency => latency::render(self, body, buf),
            Screen::Errors => errors::render(self, body, buf),
            Screen::Phones => phones::render(self, body, buf),
        }
        let status = Line::from(vec![
            Span::raw(format!(" {} ", self.status)),
            Span::styled("  q quit  ? help", Style::new().fg(Color::DarkGray)),
        ]);
        Paragraph::new(status)
            .style(Style::new().reversed())
            .render(bottom, buf);
        if self.help {
            help(body, buf);
        }
    }
}

fn too_small(area: Rect, buf: &mut Buffer) {
    let text = vec![
        Line::from("terminal too small".bold()),
        Line::from(format!(
            "{}x{}: need {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::from("enlarge it, or q to quit"),
    ];
    let h = (text.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    Paragraph::new(text)
        .centered()
        .wrap(Wrap { trim: true })
        .render(Rect::new(area.x, y, area.width, h), buf);
}

fn header(app: &App, area: Rect, buf: &mut Buffer) {
    let [tabs, info] = Layout::horizontal([Constraint::Length(56), Constraint::Min(0)]).areas(area);
    let sel = Screen::ALL
        .iter()
        .position(|s| *s == app.screen)
        .unwrap_or(0);
    Tabs::new(Screen::ALL.iter().map(|s| s.title()))
        .select(sel)
        .divider("")
        .padding(" ", "")
        .highlight_style(Style::new().reversed().bold())
        .render(tabs, buf);
    let right = match &app.fleet {
        Some(f) => {
            let state = if f.finished {
                " FINISHED"
            } else if f.paused {
                " PAUSED"
            } else {
                ""
            };
            format!(
                "{} {} {:.0}s{state}",
                f.name,
                f.snap.phase,
                f.snap.elapsed.as_secs_f64()
            )
        }
        None => "watching".into(),
    };
    Paragraph::new(right).right_aligned().render(info, buf);
}

fn help(body: Rect, buf: &mut Buffer) {
    let w = 64.min(body.width);
    let h = (KEYS.len() as u16 + 2).min(body.height);
    let area = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    Clear.render(area, buf);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>14}  "), Style::new().bold()),
                Span::raw(*what),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .block(Block::bordered().title(" help (Esc closes) "))
        .render(area, buf);
}

/// A cluster's state word and its style.
fn up_down(c: &super::app::ClusterView) -> Span<'static> {
    match &c.last {
        None => Span::styled("wait", Style::new().fg(Color::DarkGray)),
        Some(o) if o.up => Span::styled("UP", Style::new().fg(Color::Green)),
        Some(_) => Span::styled(
            "DOWN",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    }
}

/// Microseconds as milliseconds for tables.
fn ms(us: u64) -> String {
    let v = us as f64 / 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::tui::app::App;

    /// Renders `app` into a `w`×`h` test terminal and returns its lines.
    pub(crate) fn lines(app: &App, w: u16, h: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| f.render_widget(app, f.area())).unwrap();
        let buf = t.backend().buffer();
        (0..h)
            .map(|y| {
                (0..w)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }

    /// Whether any line contains `s`.
    pub(crate) fn has(lines: &[String], s: &str) -> bool {
        lines.iter().any(|l| l.contains(s))
    }

    #[test]
    fn a_small_terminal_gets_the_too_small_screen_and_nothing_panics() {
        let mut a = super::overview::tests_support();
        let l = lines(&a, 40, 10);
        assert!(has(&l, "terminal too small"), "{l:?}");
        assert!(has(&l, "40x10: need 72x18"), "{l:?}");
        // Every screen, with and without help, at every size from tiny to large: no panic.
        for screen in crate::tui::app::Screen::ALL {
            a.screen = screen;
            for help in [false, true] {
                a.help = help;
                for (w, h) in [(1, 1), (5, 2), (71, 17), (72, 18), (80, 24), (200, 60)] {
                    let l = lines(&a, w, h);
                    assert_eq!(l.len(), usize::from(h));
                }
            }
        }
    }

    #[test]
    fn help_lists_every_control() {
        let mut a = super::overview::tests_support();
        a.help = true;
        let l = lines(&a, 80, 24);
        for what in [
            "take the selected cluster down",
            "pause, resume",
            "superuser sync",
            "cut, heal its ILS link",
            "quit",
        ] {
            assert!(has(&l, what), "{what}: {l:#?}");
        }
    }
}
