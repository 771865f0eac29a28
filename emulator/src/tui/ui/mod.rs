//! Rendering: `impl Widget for &App`, one module per numbered screen. Rendering only reads
//! the state; anything it shows is derived from the last snapshots on the spot.
//!
//! Fits 80×24; below [`MIN_WIDTH`]×[`MIN_HEIGHT`] it shows a "terminal too small" screen.

mod clusters;
mod errors;
mod latency;
mod overview;
mod phones;
mod roaming;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Tabs, Widget, Wrap};

use hdrhistogram::Histogram;

use super::app::{App, Screen};
use crate::fleet::stats::{Recorder, Route, SipCounts};

/// Narrowest terminal the layout fits.
pub const MIN_WIDTH: u16 = 72;
/// Lowest terminal the layout fits.
pub const MIN_HEIGHT: u16 = 18;

/// The keys, as the help overlay lists them.
pub const KEYS: &[(&str, &str)] = &[
    (
        "1..6",
        "overview, clusters, latency, errors, phones, roaming",
    ),
    ("?  Esc", "this help, again: what the words mean; close"),
    ("↑ ↓  j k  Tab", "select a cluster (screen 5: a phone)"),
    ("d  u", "take the selected cluster down, bring it up"),
    ("m  M", "halve, double its Maximum Concurrent Requests"),
    ("x  h", "cut, heal its ILS link to its first peer"),
    ("s  S", "superuser sync now, ILS full sync from it"),
    ("p  Space", "pause, resume starting work (fleet)"),
    ("+  -", "raise, lower the arrival rate (fleet)"),
    ("q  Ctrl-C", "quit: drain, write the report, restore"),
];

/// What the figures are, as the help overlay lists them under the keys.
pub const FIGURES: &[(&str, &str)] = &[
    (
        "1 arrivals",
        "arrivals/s: open phases', started or dropped; journeys/s",
    ),
    ("4", "failures by cause and cluster, transport ones apart"),
    (
        "6",
        "roaming users: where now, ILS@ each cluster, last move",
    ),
    (
        "2 SIP",
        "per cluster: bindings, INVITEs/s, routed local/trunk,",
    ),
    (
        "",
        "failed 404/480/503, calls in progress, retrans. absorbed",
    ),
    (
        "1 3 calls",
        "ok, busy (486), failed, misrouted, dropped; answered",
    ),
    (
        "1 3 5",
        "phones in call; call setup p50/p99 local/trunk, register",
    ),
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
            Screen::Roaming => roaming::render(self, body, buf),
        }
        let status = Line::from(vec![
            Span::raw(format!(" {} ", self.status)),
            Span::styled("  q quit  ? help", Style::new().fg(Color::DarkGray)),
        ]);
        Paragraph::new(status)
            .style(Style::new().reversed())
            .render(bottom, buf);
        if self.help && self.help_words {
            words(body, buf);
        } else if self.help {
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
    // Full tab titles where they leave room for the run's progress (its state, phase and
    // clock), short ones otherwise.
    let parts = app.fleet.as_ref().map(progress);
    let essential = parts.as_ref().map_or("watching".len(), |p| {
        p.iter().take(3).map(|x| x.chars().count() + 2).sum()
    });
    let full_w: usize = Screen::ALL.iter().map(|s| s.title().len() + 1).sum();
    let full = usize::from(area.width) >= full_w + 1 + essential;
    let titles: Vec<&str> = Screen::ALL
        .iter()
        .map(|s| if full { s.title() } else { s.short_title() })
        .collect();
    let tabs_w: u16 = titles.iter().map(|t| t.chars().count() as u16 + 1).sum();
    let [tabs, info] =
        Layout::horizontal([Constraint::Length(tabs_w + 1), Constraint::Min(0)]).areas(area);
    let sel = Screen::ALL
        .iter()
        .position(|s| *s == app.screen)
        .unwrap_or(0);
    Tabs::new(titles)
        .select(sel)
        .divider("")
        .padding(" ", "")
        .highlight_style(Style::new().reversed().bold())
        .render(tabs, buf);
    let right = match &parts {
        Some(p) => fit(p, info.width),
        None => "watching".into(),
    };
    Paragraph::new(right).right_aligned().render(info, buf);
}

/// The run's progress, most important first: state, phase n/N and its name, time on the
/// phases' clock against their total, time left, the profile's name.
fn progress(f: &super::app::FleetView) -> Vec<String> {
    let mut parts = Vec::new();
    if f.finished {
        parts.push("FINISHED".to_string());
    } else if f.paused {
        parts.push("PAUSED".to_string());
    }
    parts.push(f.phase_label());
    let total = f.total().as_secs();
    match f.run_clock() {
        Some(t) => {
            parts.push(format!("{}s/{total}s", t.as_secs()));
            if !f.finished {
                parts.push(format!("{}s left", total.saturating_sub(t.as_secs())));
            }
        }
        None => parts.push(format!("{:.0}s", f.snap.elapsed.as_secs_f64())),
    }
    parts.push(f.name.clone());
    parts
}

/// As many of `parts` (most important first) as fit in `width`, in their order, with the
/// state last ("phase 2/3 walk-up  27s/60s  33s left  demo  PAUSED").
fn fit(parts: &[String], width: u16) -> String {
    let mut keep: Vec<&String> = Vec::new();
    let len = |k: &[&String]| k.iter().map(|p| p.chars().count() + 2).sum::<usize>();
    for p in parts {
        keep.push(p);
        if len(&keep) > usize::from(width) {
            keep.pop();
            break;
        }
    }
    let state = keep
        .first()
        .filter(|p| p.as_str() == "FINISHED" || p.as_str() == "PAUSED")
        .map(|p| (*p).clone());
    let mut out: Vec<String> = keep
        .into_iter()
        .filter(|p| Some(*p) != state.as_ref())
        .cloned()
        .collect();
    out.extend(state);
    format!("{} ", out.join("  "))
}

fn help(body: Rect, buf: &mut Buffer) {
    let w = 76.min(body.width);
    let h = (KEYS.len() as u16 + FIGURES.len() as u16 + 3).min(body.height);
    let area = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    Clear.render(area, buf);
    let entry = |(k, what): &(&str, &'static str)| {
        Line::from(vec![
            Span::styled(format!("{k:>14}  "), Style::new().bold()),
            Span::raw(*what),
        ])
    };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(entry)
        .chain(std::iter::once(Line::from(Span::styled(
            "        screen  figures (SIP lines show when the run or cluster has SIP)",
            Style::new().fg(Color::DarkGray),
        ))))
        .chain(FIGURES.iter().map(entry))
        .collect();
    Paragraph::new(lines)
        .block(Block::bordered().title(" help (? the words, Esc closes) "))
        .render(area, buf);
}

/// The help's second page: what every reported word means (the list under the final table).
fn words(body: Rect, buf: &mut Buffer) {
    let w = 100.min(body.width);
    let h = (crate::fleet::glossary::GLOSSARY.len() as u16 + 2).min(body.height);
    let area = Rect::new(
        body.x + (body.width - w) / 2,
        body.y + (body.height - h) / 2,
        w,
        h,
    );
    Clear.render(area, buf);
    let lines: Vec<Line> = crate::fleet::glossary::GLOSSARY
        .iter()
        .map(|t| {
            Line::from(vec![
                Span::styled(format!("{}: ", t.word), Style::new().bold()),
                Span::raw(t.meaning),
            ])
        })
        .collect();
    Paragraph::new(lines)
        .wrap(ratatui::widgets::Wrap { trim: true })
        .block(Block::bordered().title(" what the words mean (? or Esc closes) "))
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

/// A failure count: red and bold when there is any, plain otherwise.
fn failure(label: &str, n: u64) -> Span<'static> {
    let text = if label.is_empty() {
        n.to_string()
    } else {
        format!("{label} {n}")
    };
    if n > 0 {
        Span::styled(
            text,
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw(text)
    }
}

/// The fleet's calls on one line: attempted, ok, busy (486) apart from failures, failed,
/// misrouted (highlighted: a call answered by the wrong phone is the worst failure), dropped.
fn calls_line(s: &SipCounts) -> Line<'static> {
    Line::from(vec![
        Span::raw(format!(
            "calls {}  ok {}  busy (486) {}  ",
            s.calls_attempted, s.calls_ok, s.calls_busy
        )),
        failure("failed", s.calls_failed),
        Span::raw("  "),
        failure("misrouted", s.calls_misrouted),
        Span::raw(format!("  dropped {}", s.calls_dropped)),
    ])
}

/// Calls taken, unverified answers and retransmissions, on one line.
fn answers_line(s: &SipCounts) -> Line<'static> {
    Line::from(format!(
        "answered {}  missed {}  unverified {}  retransmissions {}",
        s.answered, s.missed, s.calls_unverified, s.retransmissions
    ))
}

/// Call setup (INVITE to 200 OK) on `route`, merged across the fleet's clusters.
fn route_all(rec: &Recorder, route: Route) -> Option<Histogram<u64>> {
    let mut out: Option<Histogram<u64>> = None;
    for h in rec.clusters().iter().filter_map(|c| c.route_hist(route)) {
        match &mut out {
            // Same bounds everywhere (one constructor); a failed add only loses this line.
            Some(o) => {
                let _ = o.add(h);
            }
            None => out = Some(h.clone()),
        }
    }
    out
}

/// p50/p99 of a histogram in ms (`-/-` when empty).
fn p50_p99(h: Option<&Histogram<u64>>) -> String {
    h.map_or("-/-".into(), |h| {
        format!(
            "{}/{}",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99))
        )
    })
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

    /// The style of the first cell of the first place `needle` is drawn (within one line).
    pub(crate) fn style_of(
        app: &App,
        w: u16,
        h: u16,
        needle: &str,
    ) -> Option<ratatui::style::Style> {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| f.render_widget(app, f.area())).unwrap();
        let buf = t.backend().buffer();
        for y in 0..h {
            let cells: Vec<&str> = (0..w).map(|x| buf[(x, y)].symbol()).collect();
            for x in 0..cells.len() {
                if cells[x..].concat().starts_with(needle) {
                    return Some(buf[(x as u16, y)].style());
                }
            }
        }
        None
    }

    /// The words of the first line containing `needle`, its borders trimmed (a table row's
    /// cells, when no cell has spaces).
    pub(crate) fn cols(lines: &[String], needle: &str) -> Vec<String> {
        let text = lines.join("\n");
        lines
            .iter()
            .find(|x| x.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {text}"))
            .trim_matches('│')
            .split_whitespace()
            .map(str::to_owned)
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
    fn with_sip_data_nothing_panics_at_any_size_on_any_screen() {
        use crate::tui::app::Screen;
        let mut a = super::overview::tests_support_sip();
        // 1x1 to 200x60 in strides, plus every layout threshold (too small, 80x24).
        let mut widths: Vec<u16> = (1..=200).step_by(19).collect();
        widths.extend([2, 71, 72, 73, 79, 80, 81, 200]);
        let mut heights: Vec<u16> = (1..=60).step_by(7).collect();
        heights.extend([2, 17, 18, 19, 23, 24, 25, 60]);
        for screen in Screen::ALL {
            a.screen = screen;
            // Where the selection matters: a cluster with SIP, one without, one never polled.
            let selections = if matches!(screen, Screen::Clusters | Screen::Phones) {
                0..3
            } else {
                0..1
            };
            for selected in selections {
                a.selected = selected;
                for help in [false, true] {
                    a.help = help;
                    for &w in &widths {
                        for &h in &heights {
                            assert_eq!(lines(&a, w, h).len(), usize::from(h), "{w}x{h}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn help_names_the_sip_figures() {
        let mut a = super::overview::tests_support_sip();
        a.help = true;
        let l = lines(&a, 80, 24);
        for what in [
            "bindings, INVITEs/s",
            "calls in progress",
            "misrouted",
            "phones in call",
        ] {
            assert!(has(&l, what), "{what}: {l:#?}");
        }
        // The keys still come first and whole.
        assert!(has(&l, "quit: drain, write the report, restore"), "{l:#?}");
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
            "overview, clusters, latency, errors, phones, roaming",
            "halve, double its Maximum Concurrent Requests",
            "arrivals/s: open phases', started or dropped; journeys/s",
            "roaming users: where now, ILS@ each cluster, last move",
            "transport ones apart",
        ] {
            assert!(has(&l, what), "{what}: {l:#?}");
        }
    }

    #[test]
    fn the_helps_second_page_says_what_the_words_mean() {
        let mut a = super::overview::tests_support();
        a.help = true;
        a.help_words = true;
        let l = lines(&a, 140, 40);
        for what in [
            "what the words mean",
            "dropped: arrivals the schedule asked for",
            "late starts: journeys that started more than 10 ms",
            "abandoned:",
            "in flight: journeys running now",
        ] {
            assert!(has(&l, what), "{what}: {l:#?}");
        }
        // Small terminals clip the list but never panic.
        let _ = lines(&a, 80, 24);
        let _ = lines(&a, 20, 8);
    }
}
