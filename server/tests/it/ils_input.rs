//! Bad ILS input against the seed's clusters: a wrong password, a stranger naming a peer, an
//! old handshake version, a cluster that is not a peer, garbage, oversized, unauthenticated,
//! replayed and impossible messages, and idle connections. Nothing a peer sends that fails is
//! applied. (Slot floods: `ils_flood`.)

use std::time::Duration;

use emroam_protocol::ils::{self, ClusterInfo, Dial, Handshake, Role};
use hyper::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::roaming::{BOB_C1, Net, login_ok, until};

/// The next ILS frame from `s`; `None` if it closes, errs or says nothing for 5 s.
pub async fn read_frame<R: AsyncRead + Unpin>(s: &mut R) -> Option<ils::Frame> {
    let mut buf = Vec::new();
    loop {
        if let Ok(Some((f, _))) = ils::decode_frame(&buf, ils::MAX_FRAME) {
            return Some(f);
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until the peer closes the connection (frames it sends before are skipped).
pub async fn closed<R: AsyncRead + Unpin>(s: &mut R) -> bool {
    let mut chunk = [0u8; 65536];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

fn hello(id: &str, cn: &[u8]) -> Vec<u8> {
    Handshake::Hello {
        version: ils::VERSION,
        cluster_id: id.into(),
        route_string: format!("{id}.emroam"),
        role: Role::Spoke,
        nonce: ils::hex(cn),
    }
    .encode()
}

fn dialer(id: &str, server: &str) -> Dial {
    let me = ClusterInfo {
        cluster_id: id.into(),
        route_string: format!("{id}.emroam"),
        role: Role::Spoke,
    };
    Dial::new(me, server, [7u8; ils::NONCE_LEN])
}

/// Handshakes as `id` with `password` (the dialer proves first); the session key if
/// welcomed, else the listener's last answer.
async fn handshake(
    s: &mut TcpStream,
    id: &str,
    server: &str,
    password: &str,
) -> Result<[u8; 32], Option<Handshake>> {
    let mut d = dialer(id, server);
    s.write_all(&d.hello().encode()).await.unwrap();
    let f = read_frame(s).await.ok_or(None)?;
    let auth = d
        .challenge(&f, password)
        .map_err(|_| Handshake::parse(&f).ok())?;
    s.write_all(&auth.encode()).await.unwrap();
    let f = read_frame(s).await.ok_or(None)?;
    d.welcome(&f, password)
        .map_err(|_| Handshake::parse(&f).ok())
}

fn bob_at(cluster: &str) -> ils::Message {
    ils::Message::Sync {
        full: false,
        clusters: vec![],
        records: vec![ils::LocationRecord {
            user: "bob".into(),
            home: "cluster1".into(),
            dns: vec!["1000001".into()],
            at: Some(cluster.into()),
            route_string: Some(format!("{cluster}.emroam")),
            version: ils::Version {
                counter: 1_000_000,
                cluster: cluster.into(),
            },
        }],
        acks: vec![],
        superusers: vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ils_password_is_refused_and_raises_ils_pwd_authentication_failed() {
    let net = Net::seed().await;
    let c2 = net.c("cluster2");
    let mut s = TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap();
    assert_eq!(
        handshake(&mut s, "cluster3", "cluster2", "wrong").await,
        Err(Some(Handshake::Refused {
            reason: ils::AUTH_FAILED.into()
        }))
    );
    assert!(closed(&mut s).await);
    let ils = c2.ils_counters();
    assert_eq!(ils.ils_pwd_authentication_failed, 1);
    assert_eq!(ils.handshakes_failed["bad_proof"], 1);
    // A cluster that is not its peer is refused before any proof.
    let mut s = TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap();
    s.write_all(&hello("intruder", &[1; ils::NONCE_LEN]))
        .await
        .unwrap();
    let f = read_frame(&mut s).await.unwrap();
    assert!(matches!(
        Handshake::parse(&f),
        Ok(Handshake::Refused { .. })
    ));
    let ils = c2.ils_counters();
    assert_eq!(ils.rejected["refused"], 1);
    assert_eq!(ils.handshakes_failed["refused"], 1);
    net.shutdown().await;
}

/// A stranger naming a known peer gets a fresh nonce and nothing computed from the password,
/// so it has nothing to test password guesses against offline; walking away is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_naming_a_peer_gets_a_nonce_and_nothing_derived_from_the_password() {
    let net = Net::seed().await;
    let c2 = net.c("cluster2");
    let mut s = TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap();
    s.write_all(&hello("cluster3", &[1; ils::NONCE_LEN]))
        .await
        .unwrap();
    let f = read_frame(&mut s).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&f.body).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["nonce", "type"], "{v}");
    assert_eq!(v["type"], "challenge");
    assert_eq!(v["nonce"].as_str().unwrap().len(), 2 * ils::NONCE_LEN);
    drop(s);
    until("the abandoned handshake is counted", || {
        c2.ils_counters().handshakes_failed["closed"] == 1
    })
    .await;
    assert_eq!(c2.ils_counters().ils_pwd_authentication_failed, 0);
    let (_, metrics) = net.http("cluster2", Method::GET, "/metrics").await;
    for want in [
        "emroam_ils_handshakes_failed_total{cluster=\"cluster2\",reason=\"closed\"} 1",
        "emroam_ils_handshakes_failed_total{cluster=\"cluster2\",reason=\"timeout\"} 0",
    ] {
        assert!(metrics.contains(want), "{want}\n{metrics}");
    }
    let (_, json) = net.http("cluster2", Method::GET, "/metrics.json").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["ils"]["handshakes_failed"]["closed"], 1, "{json}");
    net.shutdown().await;
}

/// A cluster on the previous handshake (the listener proving first) is refused with a reason
/// that names both versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_handshake_version_is_refused_by_name() {
    let net = Net::seed().await;
    let c2 = net.c("cluster2");
    let mut s = TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap();
    let v1 = Handshake::Hello {
        version: 1,
        cluster_id: "cluster3".into(),
        route_string: "cluster3.emroam".into(),
        role: Role::Spoke,
        nonce: ils::hex(&[1; ils::NONCE_LEN]),
    };
    s.write_all(&v1.encode()).await.unwrap();
    let f = read_frame(&mut s).await.unwrap();
    let Ok(Handshake::Refused { reason }) = Handshake::parse(&f) else {
        panic!("{f:?}")
    };
    assert!(
        reason.contains("version 1 is not supported") && reason.contains("version 2"),
        "{reason}"
    );
    assert!(closed(&mut s).await);
    assert_eq!(c2.ils_counters().handshakes_failed["refused"], 1);
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_oversized_and_unauthenticated_ils_input_is_refused_and_believed_never() {
    let net = Net::seed().await;
    let c2 = net.c("cluster2");
    let addr = c2.ils_addr().unwrap();
    // Oversized: the length alone is refused.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0xff; 64]).await.unwrap();
    assert!(closed(&mut s).await);
    // Malformed: a frame whose body is not JSON.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let junk = ils::Frame {
        seq: 0,
        mac: [0; 32],
        body: b"\x00\x01garbage".to_vec(),
    };
    s.write_all(&junk.encode()).await.unwrap();
    assert!(closed(&mut s).await);
    // Unauthenticated: a sealed frame moving Bob, with no handshake.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut sealer = ils::Sealer::new([0; 32], ils::Direction::ToListener);
    s.write_all(&sealer.seal(&bob_at("cluster3")))
        .await
        .unwrap();
    assert!(closed(&mut s).await);
    // A length too short for a header.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&3u32.to_be_bytes()).await.unwrap();
    assert!(closed(&mut s).await);
    let r = c2.ils_counters().rejected;
    assert_eq!(r["oversized"], 1);
    assert_eq!(r["malformed"], 2);
    assert_eq!(r["unauthenticated"], 1);
    assert_eq!(net.located("cluster2", "1000001").as_deref(), None);
    assert!(c2.ils_status().records.iter().all(|r| r.user != "bob"));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_or_invalid_sealed_message_disconnects_the_peer() {
    let net = Net::seed().await;
    // Keep the real cluster3 from dialing while we speak as it.
    net.c("cluster3").set_ils_running(false);
    let c2 = net.c("cluster2");
    until("cluster2 sees cluster3 gone", || {
        c2.ils_counters()
            .peers
            .iter()
            .all(|p| p.cluster != "cluster3" || !p.connected)
    })
    .await;
    let mut s = TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap();
    let key = handshake(&mut s, "cluster3", "cluster2", "emroam-ils")
        .await
        .expect("welcomed");
    let mut sealer = ils::Sealer::new(key, ils::Direction::ToListener);
    let empty = ils::Message::Sync {
        full: false,
        clusters: vec![],
        records: vec![],
        acks: vec![],
        superusers: vec![],
    };
    let first = sealer.seal(&empty);
    s.write_all(&first).await.unwrap();
    s.write_all(&first).await.unwrap();
    assert!(closed(&mut s).await);
    assert_eq!(c2.ils_counters().rejected["replayed"], 1);
    // Authenticated but impossible content: refused, connection closed, nothing applied.
    let mut s = TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap();
    let key = handshake(&mut s, "cluster3", "cluster2", "emroam-ils")
        .await
        .expect("welcomed");
    let mut sealer = ils::Sealer::new(key, ils::Direction::ToListener);
    let mut bad = bob_at("cluster3");
    let ils::Message::Sync { records, .. } = &mut bad;
    records[0].route_string = None;
    s.write_all(&sealer.seal(&bad)).await.unwrap();
    assert!(closed(&mut s).await);
    assert_eq!(c2.ils_counters().rejected["invalid"], 1);
    assert!(c2.ils_status().records.iter().all(|r| r.user != "bob"));
    net.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_unauthenticated_connections_are_bounded_and_do_not_disturb_sessions() {
    let net = Net::seed().await;
    let c2 = net.c("cluster2");
    let mut idle = Vec::new();
    for _ in 0..80 {
        idle.push(TcpStream::connect(c2.ils_addr().unwrap()).await.unwrap());
    }
    until("connections past the handshake bound are refused", || {
        c2.ils_counters().rejected["refused"] >= 16
    })
    .await;
    // Established sessions carry on.
    assert_eq!(net.login("cluster1", BOB_C1, "bob").await, login_ok());
    until("cluster3 still learns through cluster2", || {
        net.located("cluster3", "1000001").as_deref() == Some("cluster1")
    })
    .await;
    drop(idle);
    net.shutdown().await;
}
