//! The dashboard's roaming view (screen 6) and phones list against the seed's reference
//! clusters (in-process, ports chosen by the OS): superusers roam, and the view shows where
//! the fleet logged each in, where every cluster's ILS places their number (its admin API,
//! asked by the dashboard's poller), the last move; the phones list, who each phone carries.

use std::sync::Arc;
use std::time::Duration;

use emroam_emulator::fleet::{self, RunOptions, profile::Profile, stats::Snapshot};
use emroam_emulator::tui::app::Screen;
use emroam_emulator::tui::event::Event;
use emroam_emulator::tui::update::update;
use emroam_emulator::tui::{App, FleetView, cluster_views, poll};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::watch;

/// The dashboard drawn into a `w`×`h` test terminal, line by line.
fn screen(app: &App, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(app, f.area())).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roaming_view_shows_where_the_fleet_and_each_clusters_ils_place_a_roamer() {
    let (topo, running) = crate::util::seed_clusters().await;
    let src = r#"
name = "roam"
topology = "inline"
request_timeout = "5s"
drain = "5s"
seed = 3
roaming = 1.0
[population]
devices_per_cluster = 1
[[phase]]
name = "logins"
duration = "1500ms"
login_rate = 3.0
"#;
    let p = Profile::parse_with(src, "roam.toml", None, Some(&topo)).unwrap();
    let mut view = FleetView::new(&p.name, p.phases.clone(), vec![1, 1, 1]);
    view.devices = p.targets.iter().map(|t| t.devices.clone()).collect();
    let (tx, rx) = watch::channel(Arc::new(Snapshot::empty(3)));
    fleet::run(p, RunOptions::default().snapshots(tx))
        .await
        .unwrap();
    let snap = rx.borrow().clone();
    let t = snap.total.totals();
    assert!(t.roaming_ok >= 1, "{t:?}");
    // Every roamer the fleet saw is where it logged them in, away from home, on a phone that
    // carries them.
    assert!(!snap.roamers.is_empty());
    let ids = ["cluster1", "cluster2", "cluster3"];
    for r in &snap.roamers {
        let (at, device) = r.now.clone().expect("still logged in");
        assert_ne!(at, r.home, "{r:?}");
        assert_eq!(snap.carried.get(&device), Some(&r.user), "{r:?}");
        let m = r.last_move.expect("a move");
        assert_eq!(m.to, at, "{r:?}");
        // Wait for every cluster's ILS to learn where the number is now.
        for c in ids {
            crate::util::until_placed(&running, c, r.dn.as_deref().unwrap(), ids[at]).await;
        }
    }
    // The dashboard: the fleet's last snapshot, and one poll of every cluster asking about
    // the roamers' numbers, as its poller does.
    let mut app = App::new(cluster_views(&topo.clusters), Some(view));
    update(&mut app, Event::Stats(snap.clone()));
    let dns = app.roaming_dns();
    assert_eq!(dns.len(), snap.roamers.len());
    let mut obs = Vec::new();
    for c in &app.clusters {
        let target = poll::Target {
            id: c.id.clone(),
            base: c.base.clone(),
        };
        obs.push(poll::poll_one(&target, Duration::from_secs(2), &dns).await);
    }
    update(&mut app, Event::Clusters(Arc::new(obs)));
    app.screen = Screen::Roaming;
    let lines = screen(&app, 140, 40);
    let text = lines.join("\n");
    for r in &snap.roamers {
        let (at, device) = r.now.clone().unwrap();
        let row = lines
            .iter()
            .find(|l| l.contains(&format!("{} {}", r.user, r.dn.as_deref().unwrap())))
            .unwrap_or_else(|| panic!("{}: {text}", r.user));
        let cols: Vec<&str> = row.trim_matches('│').split_whitespace().collect();
        // user, number, home, now: cluster and phone, ILS at each of the three clusters, then
        // the last move "from → to at Ns (Ns ago)".
        assert_eq!(
            cols[..8],
            [
                r.user.as_str(),
                r.dn.as_deref().unwrap(),
                ids[r.home],
                ids[at],
                device.as_str(),
                ids[at],
                ids[at],
                ids[at],
            ],
            "{text}"
        );
        assert!(row.contains(&format!("→ {} at", ids[at])), "{text}");
    }
    // Screen 5: each phone with the user it carries.
    let r = &snap.roamers[0];
    let (at, device) = r.now.clone().unwrap();
    app.selected = at;
    app.screen = Screen::Phones;
    let text = screen(&app, 140, 40).join("\n");
    assert!(text.contains(&format!("{device} {}", r.user)), "{text}");
}
