//! Strangers holding ILS handshake slots: one address gets at most four at once, a stranger
//! that does not prove the password is cut after 2 s, and a flood from many addresses, opening
//! slots as fast as the listener frees them, does not keep cluster3 from cluster2 (slots are
//! reserved for the topology's peer addresses). The seed in-process, on real sockets, in
//! virtual time: the dialers connect from their clusters' topology addresses (127.0.0.x), the
//! strangers from 127.0.1.x and 127.0.2.x.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::roaming::{Net, login_ok, until};

async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::from((from, 0)))?;
    sock.connect(to).await
}

/// Whether the listener has closed `s` (without waiting).
fn is_closed(s: &TcpStream) -> bool {
    let mut b = [0u8; 64];
    !matches!(s.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Keeps one connection open from `from`, saying nothing, and opens the next one within a
/// millisecond of the listener closing it (a pause, so that virtual time can pass).
async fn hold(from: Ipv4Addr, to: SocketAddr, stop: CancellationToken) {
    while !stop.is_cancelled() {
        if let Ok(mut s) = connect_from(from, to).await {
            let mut b = [0u8; 64];
            tokio::select! {
                () = stop.cancelled() => return,
                _ = s.read(&mut b) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Polls `f` every 10 ms of virtual time (so the listener's deadlines and the dialer's
/// backoff pass while it waits), for up to 10 s of real time.
async fn until_virtual(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn connected(net: &Net, at: &str, peer: &str) -> bool {
    net.c(at)
        .ils_counters()
        .peers
        .iter()
        .any(|p| p.cluster == peer && p.up_to_date)
}

#[tokio::test(start_paused = true)]
async fn one_address_holds_at_most_four_handshakes_for_at_most_two_seconds() {
    let net = Net::seed().await;
    let c2 = net.c("cluster2");
    let addr = c2.ils_addr().unwrap();
    let stranger = Ipv4Addr::new(127, 0, 2, 1);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(stranger, addr).await.unwrap());
    }
    let mut fifth = connect_from(stranger, addr).await.unwrap();
    let t0 = tokio::time::Instant::now();
    let mut b = [0u8; 8];
    assert_eq!(fifth.read(&mut b).await.unwrap(), 0, "the fifth is closed");
    until("the fifth is counted", || {
        c2.ils_counters().handshakes_failed["busy"] == 1
    })
    .await;
    assert!(held.iter().all(|s| !is_closed(s)), "the four stay open");
    // Another address is not held back by this one.
    let other = connect_from(Ipv4Addr::new(127, 0, 2, 2), addr)
        .await
        .unwrap();
    // Saying nothing, they are cut at the deadline for proving the password.
    for s in &mut held {
        assert_eq!(s.read(&mut b).await.unwrap(), 0);
    }
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    until("the timeouts are counted", || {
        c2.ils_counters().handshakes_failed["timeout"] >= 4
    })
    .await;
    drop(other);
    net.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_handshake_flood_from_many_addresses_does_not_keep_cluster3_from_cluster2() {
    let net = Net::seed().await;
    let (c2, c3) = (net.c("cluster2"), net.c("cluster3"));
    c3.set_ils_running(false);
    until_virtual("cluster2 sees cluster3 gone", || {
        !connected(&net, "cluster2", "cluster3")
    })
    .await;
    // 20 addresses × 8 connections: more than all 64 slots, each re-opened once closed.
    let addr = c2.ils_addr().unwrap();
    let stop = CancellationToken::new();
    let mut flood = JoinSet::new();
    for i in 0..20u8 {
        for _ in 0..8 {
            flood.spawn(hold(Ipv4Addr::new(127, 0, 1, i), addr, stop.clone()));
        }
    }
    until_virtual(
        "strangers are turned away: every slot they may take is held",
        || c2.ils_counters().handshakes_failed["busy"] >= 200,
    )
    .await;
    c3.set_ils_running(true);
    until_virtual(
        "cluster3 and cluster2 in sync again during the flood",
        || connected(&net, "cluster2", "cluster3") && connected(&net, "cluster3", "cluster2"),
    )
    .await;
    // And they replicate: Bob logs in at cluster3, cluster2 learns where he is.
    assert_eq!(
        net.login("cluster3", "SEP000000003001", "bob").await,
        login_ok()
    );
    until_virtual("cluster2 learns bob at cluster3", || {
        net.located("cluster2", "1000001").as_deref() == Some("cluster3")
    })
    .await;
    let busy = c2.ils_counters().handshakes_failed["busy"];
    until_virtual("the flood is still running", || {
        c2.ils_counters().handshakes_failed["busy"] > busy
    })
    .await;
    stop.cancel();
    flood.join_all().await;
    net.shutdown().await;
}
