//! Screen 2: the clusters table, then the selected cluster in full: each RTMT counter by its
//! exact name with its value, rates over 10 s and 60 s and a sparkline of the last minutes,
//! RequestsInProgress as a gauge against Maximum Concurrent Requests, the switches, the ILS
//! role and sync status per peer, EM answers by code, and its SIP registrar and proxy
//! (bindings, INVITEs/s, routing, failures by code, calls in progress, retransmissions
//! absorbed) or "no SIP".

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Sparkline, Widget};

use super::failure;
use super::overview::cluster_table;
use crate::tui::app::{App, ClusterView, Rtmt, SipCounters};

type Getter = fn(&Rtmt) -> u64;

const COUNTERS: [(&str, Getter, bool); 6] = [
    ("RequestsInProgress", |r| r.requests_in_progress, true),
    ("RequestsThrottled", |r| r.requests_throttled, false),
    ("RequestsHandled", |r| r.requests_handled, false),
    ("LoginsSuccessful", |r| r.logins_successful, false),
    ("LogoutsSuccessful", |r| r.logouts_successful, false),
    (
        "Total Login/LogoutRequestsAttempted",
        |r| r.attempted,
        false,
    ),
];

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let n = app.clusters.len() as u16;
    let [top, bottom] =
        Layout::vertical([Constraint::Length(n + 3), Constraint::Min(0)]).areas(area);
    cluster_table(app, top, buf);
    let Some(c) = app.selected_cluster() else {
        return;
    };
    let block = Block::bordered().title(format!(" {} ({}) ", c.id, c.base));
    let inner = block.inner(bottom);
    block.render(bottom, buf);
    detail(c, inner, buf);
}

fn detail(c: &ClusterView, area: Rect, buf: &mut Buffer) {
    let now = c.counters().unwrap_or_default();
    let mut y = area.y;
    let bottom = area.y + area.height;
    let line = |y: u16| Rect::new(area.x, y, area.width, 1);
    if y < bottom {
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(
                    "{:<36}{:>9}{:>8}{:>8}  ",
                    "counter", "value", "/s 10s", "/s 60s"
                ),
                Style::new().bold(),
            ),
            Span::styled("last minutes", Style::new().bold()),
        ]))
        .render(line(y), buf);
        y += 1;
    }
    for (name, get, gauge) in COUNTERS {
        if y >= bottom {
            return;
        }
        let (r10, r60) = if gauge {
            ("".to_string(), "".to_string())
        } else if !c.is_up() {
            // Down: no rate (the last one is from before it went down).
            ("—".to_string(), "—".to_string())
        } else {
            (
                format!("{:.1}", c.rate(get, 10)),
                format!("{:.1}", c.rate(get, 60)),
            )
        };
        let text = format!("{name:<36}{:>9}{r10:>8}{r60:>8}  ", get(&now));
        let w = text.chars().count() as u16;
        Paragraph::new(text).render(line(y), buf);
        if area.width > w {
            let spark_w = (area.width - w) as usize;
            let series = c.series(get, gauge);
            let tail = &series[series.len().saturating_sub(spark_w)..];
            Sparkline::default()
                .data(tail)
                .style(Style::new().fg(Color::Cyan))
                .render(Rect::new(area.x + w, y, area.width - w, 1), buf);
        }
        y += 1;
    }
    let obs = c.last.as_ref();
    let max = obs.and_then(|o| o.max_concurrent);
    if y < bottom {
        let label = format!(
            "RequestsInProgress {} of Maximum Concurrent Requests {}",
            now.requests_in_progress,
            max.map_or("?".into(), |m| m.to_string())
        );
        let ratio = max.filter(|m| *m > 0).map_or(0.0, |m| {
            (now.requests_in_progress as f64 / f64::from(m)).clamp(0.0, 1.0)
        });
        Gauge::default()
            .ratio(ratio)
            .label(label)
            .gauge_style(Style::new().fg(if ratio >= 1.0 {
                Color::Red
            } else {
                Color::Green
            }))
            .render(line(y), buf);
        y += 1;
    }
    let state = match obs {
        None => "waiting for the first poll".to_string(),
        Some(o) if o.up => {
            let sw = match o.switches {
                Some((a, s, l)) => format!(
                    "UP  EM application {}  EM service {}  listeners {}  logins {}",
                    on(a),
                    on(s),
                    on(l),
                    o.logins.map_or("?".into(), |n| n.to_string())
                ),
                None => "UP".into(),
            };
            sw + &o
                .error
                .as_ref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        }
        Some(o) => format!("DOWN: {}", o.error.as_deref().unwrap_or("no answer")),
    };
    let ils = match obs.filter(|o| !o.ils_peers.is_empty()) {
        Some(o) => o
            .ils_peers
            .iter()
            .map(|(p, s)| format!("{p}: {s}"))
            .collect::<Vec<_>>()
            .join("  "),
        None => format!(
            "peers {} (no sync status reported)",
            if c.ils_peers.is_empty() {
                "-".into()
            } else {
                c.ils_peers.join(", ")
            }
        ),
    };
    let codes = match obs.filter(|o| !o.codes.is_empty()) {
        Some(o) => o
            .codes
            .iter()
            .map(|(k, v)| {
                if k == "26" {
                    format!("26 busy: {v}")
                } else {
                    format!("{k}: {v}")
                }
            })
            .collect::<Vec<_>>()
            .join("  "),
        None => "-".into(),
    };
    let mut lines = vec![
        Line::from(state),
        Line::from(format!("ILS {}  {ils}", c.ils_role)),
        Line::from(format!("EM codes  {codes}")),
    ];
    lines.extend(sip_lines(c));
    for l in lines {
        if y >= bottom {
            return;
        }
        Paragraph::new(l).render(line(y), buf);
        y += 1;
    }
}

/// Call throttling: Code Yellow and the share of new calls refused, calls refused so far, the
/// socket's queue delay and what the kernel dropped.
fn throttle_line(s: &SipCounters) -> Line<'static> {
    let state = if s.code_yellow > 0 {
        Span::styled(
            format!(
                "Code Yellow: refusing {} % of new calls",
                s.throttle_percent
            ),
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw("throttling off")
    };
    Line::from(vec![
        Span::raw("  "),
        state,
        Span::raw("  "),
        failure("throttled 503", s.throttled),
        Span::raw(format!(
            "  queue delay {:.1} ms  ",
            s.queue_delay_us as f64 / 1000.0
        )),
        failure("dropped by kernel", s.datagrams_dropped),
    ])
}

/// The cluster's SIP registrar and proxy, most watched first (the lines that do not fit are
/// cut from the end): bindings, INVITEs per second and calls being set up; where INVITEs
/// went and how many the cluster failed, by code; retransmissions it absorbed; registrations.
fn sip_lines(c: &ClusterView) -> Vec<Line<'static>> {
    let bold = Style::new().bold();
    let Some(s) = c.sip() else {
        let why = if c.last.is_none() {
            "waiting for the first poll"
        } else {
            "no SIP (the cluster reports no SIP figures)"
        };
        return vec![Line::from(vec![
            Span::styled("SIP  ", bold),
            Span::raw(why),
        ])];
    };
    let retrans = s
        .retransmissions_absorbed
        .iter()
        .map(|(m, n)| format!("{m} {n}"))
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        Line::from(vec![
            Span::styled("SIP  ", bold),
            Span::raw(format!(
                "bindings {}  INVITEs/s {}  calls in progress {}",
                s.bindings,
                if c.is_up() {
                    format!(
                        "{:.1} (60 s {:.1})",
                        c.sip_rate(|s| s.invites, 10),
                        c.sip_rate(|s| s.invites, 60)
                    )
                } else {
                    "— (down)".to_string()
                },
                s.invite_transactions
            )),
        ]),
        Line::from(vec![
            Span::raw(format!(
                "  INVITEs {}  routed local {}  trunk {}  failed ",
                s.invites, s.routed_local, s.routed_trunk
            )),
            failure("404", s.not_found),
            Span::raw(" "),
            failure("480", s.unavailable),
            Span::raw(" "),
            failure("503", s.trunk_down),
        ]),
        Line::from(format!(
            "  retransmissions absorbed {}  ({})",
            s.retransmissions(),
            if retrans.is_empty() {
                "-".into()
            } else {
                retrans
            }
        )),
        throttle_line(s),
        Line::from(vec![
            Span::raw(format!("  REGISTERs {}  refused ", s.registers)),
            failure("403", s.register_refused_403),
            Span::raw(" "),
            failure("404", s.register_refused_404),
            Span::raw(format!(
                "  unregisters {}  expired {}",
                s.unregisters, s.registrations_expired
            )),
        ]),
        Line::from(vec![
            Span::raw(format!(
                "  forwarded CANCEL {} BYE {}  NOTIFYs {}  ",
                s.cancels_forwarded, s.byes_forwarded, s.notifies
            )),
            failure("malformed", s.malformed),
        ]),
    ]
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "OFF" }
}

#[cfg(test)]
mod tests {
    use crate::tui::ui::tests::{has, lines};

    #[test]
    fn clusters_screen_names_every_rtmt_counter_and_the_gauge() {
        let mut a = super::super::overview::tests_support();
        a.screen = crate::tui::app::Screen::Clusters;
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        for name in [
            "RequestsInProgress",
            "RequestsThrottled",
            "RequestsHandled",
            "LoginsSuccessful",
            "LogoutsSuccessful",
            "Total Login/LogoutRequestsAttempted",
        ] {
            assert!(has(&l, name), "{name} missing:\n{text}");
        }
        let throttled = l.iter().find(|x| x.contains("│RequestsThrottled")).unwrap();
        assert!(throttled.contains("10"), "{text}");
        assert!(
            has(&l, "RequestsInProgress 4 of Maximum Concurrent Requests 5"),
            "{text}"
        );
        assert!(has(&l, "DOWN: "), "{text}");
        assert!(has(&l, "ILS hub"), "{text}");
        // cluster1 answered counters without SIP, then went down: no SIP, not zeros.
        assert!(has(&l, "SIP  no SIP"), "{text}");
        assert!(!has(&l, "bindings"), "{text}");
    }

    #[test]
    fn clusters_screen_shows_a_clusters_sip_block_or_no_sip() {
        use crate::tui::app::Screen;
        let mut a = super::super::overview::tests_support_sip();
        a.screen = Screen::Clusters;
        a.selected = 1;
        // 80x24: the most watched SIP lines fit under the EM ones.
        let l = lines(&a, 80, 24);
        let text = l.join("\n");
        assert!(has(&l, "ILS hub"), "{text}");
        assert!(
            has(
                &l,
                "SIP  bindings 17  INVITEs/s 4.0 (60 s 4.0)  calls in progress 6"
            ),
            "{text}"
        );
        assert!(
            has(
                &l,
                "INVITEs 8  routed local 30  trunk 9  failed 404 1 480 2 503 3"
            ),
            "{text}"
        );
        assert!(
            has(&l, "retransmissions absorbed 7  (INVITE 5 REGISTER 2)"),
            "{text}"
        );
        // Larger: throttling, the registrations and forwarding too.
        let l = lines(&a, 120, 40);
        let text = l.join("\n");
        assert!(
            has(
                &l,
                "Code Yellow: refusing 30 % of new calls  throttled 503 12  queue delay 140.5 ms  dropped by kernel 0"
            ),
            "{text}"
        );
        assert!(
            has(
                &l,
                "REGISTERs 40  refused 403 1 404 0  unregisters 0  expired 0"
            ),
            "{text}"
        );
        assert!(
            has(&l, "forwarded CANCEL 0 BYE 0  NOTIFYs 0  malformed 0"),
            "{text}"
        );
        // cluster3 never answered: waiting, not "no SIP".
        a.selected = 2;
        let l = lines(&a, 80, 24);
        assert!(has(&l, "SIP  waiting for the first poll"), "{l:#?}");
        // cluster1 has none.
        a.selected = 0;
        let l = lines(&a, 80, 24);
        assert!(has(&l, "SIP  no SIP"), "{l:#?}");
    }
}
