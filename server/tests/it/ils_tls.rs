//! ILS over TLS: a lab CA and per-cluster certificates made with rcgen in a scratch directory,
//! a topology file naming them (paths relative to it). Roaming works over TLS and the bytes on
//! the wire carry no user ID; an untrusted certificate, a certificate naming another cluster,
//! plain TCP and broken TLS are refused and counted; a stalled TLS handshake holds its slot
//! for no longer than the 2 s deadline, and one address still gets at most four.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emroam_protocol::ils::{self, ClusterInfo, Dial, Handshake, Role};
use emroam_server::Topology;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::ils_input::{closed, read_frame};
use crate::roaming::{Net, login_ok, until};
use crate::util::scratch;

/// A user ID long enough that TLS ciphertext cannot contain it by chance.
const USER: &str = "superuser.bob.tls";
const AT_C2: &str = "SEP000000002001";

fn topology(tls: bool, c2_cert: &str) -> String {
    let (ca, t1, t2) = if tls {
        (
            "tls_ca = \"pki/ca.pem\"",
            ", tls_cert = \"pki/cluster1.pem\", tls_key = \"pki/cluster1.key\"".to_owned(),
            format!(", tls_cert = \"pki/{c2_cert}.pem\", tls_key = \"pki/{c2_cert}.key\""),
        )
    } else {
        ("", String::new(), String::new())
    };
    format!(
        r#"
[ils]
password = "tls-lab-password"
{ca}
[[cluster]]
id = "cluster1"
address = "127.0.0.1"
ils = {{ role = "hub"{t1} }}
[[cluster]]
id = "cluster2"
address = "127.0.0.1"
ils = {{ role = "spoke", hub = "cluster1"{t2} }}
[[profile]]
name = "lobby"
[[profile]]
name = "bob-udp"
lines = [{{ dn = "1000001", label = "Bob" }}]
[[user]]
id = "{USER}"
pin = "12345"
home = "cluster1"
profiles = ["bob-udp"]
superuser = true
[[phone]]
name = "SEP000000001001"
cluster = "cluster1"
logout_profile = "lobby"
[[phone]]
name = "{AT_C2}"
cluster = "cluster2"
logout_profile = "lobby"
"#
    )
}

/// A CA (`ca.pem`) and, for each `(file, name)`, a certificate naming `name` (`file.pem`,
/// `file.key`) signed by it, in `dir`; the CA's issuer for more.
fn make_pki(dir: &Path, ca_file: &str, certs: &[(&str, &str)]) -> Issuer<'static, KeyPair> {
    std::fs::create_dir_all(dir).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("emroam test CA {ca_file}"));
    let key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(format!("{ca_file}.pem")), ca.pem()).unwrap();
    let issuer = Issuer::new(params, key);
    for (file, name) in certs {
        leaf(dir, &issuer, file, name);
    }
    issuer
}

fn leaf(dir: &Path, issuer: &Issuer<'static, KeyPair>, file: &str, name: &str) {
    let mut params = CertificateParams::new(vec![(*name).to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
}

/// A scratch directory with the lab PKI (`cluster1`, `cluster2`, `intruder` signed by the lab
/// CA; `rogue` naming cluster2 but signed by another CA) and the topology file; loaded.
fn lab(tls: bool, c2_cert: &str) -> (std::path::PathBuf, Topology) {
    let dir = scratch("ils-tls");
    let pki = dir.join("pki");
    make_pki(
        &pki,
        "ca",
        &[
            ("cluster1", "cluster1"),
            ("cluster2", "cluster2"),
            ("intruder", "intruder"),
        ],
    );
    make_pki(&pki, "other-ca", &[("rogue", "cluster2")]);
    let path = dir.join("topology.toml");
    std::fs::write(&path, topology(tls, c2_cert)).unwrap();
    (dir, Topology::load(&path).unwrap())
}

fn up_to_date(net: &Net, at: &str) -> bool {
    let peers = net.c(at).ils_counters().peers;
    !peers.is_empty() && peers.iter().all(|p| p.up_to_date)
}

/// Forwards connections on `listener` to `to`, keeping every byte that passes either way.
async fn recording_proxy(listener: TcpListener, to: SocketAddr, seen: Arc<Mutex<Vec<u8>>>) {
    async fn pump<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
        mut r: R,
        mut w: W,
        seen: Arc<Mutex<Vec<u8>>>,
    ) {
        let mut b = vec![0u8; 16 * 1024];
        while let Ok(n) = r.read(&mut b).await {
            if n == 0 || w.write_all(&b[..n]).await.is_err() {
                break;
            }
            seen.lock().unwrap().extend_from_slice(&b[..n]);
        }
        let _ = w.shutdown().await;
    }
    while let Ok((a, _)) = listener.accept().await {
        let Ok(b) = TcpStream::connect(to).await else {
            continue;
        };
        let (ar, aw) = a.into_split();
        let (br, bw) = b.into_split();
        tokio::spawn(pump(ar, bw, seen.clone()));
        tokio::spawn(pump(br, aw, seen.clone()));
    }
}

/// cluster1 and cluster2 as two processes with cluster2's ILS link through a recording proxy;
/// a roaming login at cluster2 reaches cluster1. Every byte the link carried.
async fn roam_through_a_proxy(tls: bool) -> Vec<u8> {
    let (_dir, topo) = lab(tls, "cluster2");
    let hub = Net::start_only(&topo, None, &["cluster1"]).await;
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut spoke_topo = topo.clone();
    spoke_topo.clusters[0].ports.ils = proxy.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let task = tokio::spawn(recording_proxy(
        proxy,
        hub.c("cluster1").ils_addr().unwrap(),
        seen.clone(),
    ));
    let spoke = Net::start_only(&spoke_topo, None, &["cluster2"]).await;
    until("the link is up both ways", || {
        up_to_date(&hub, "cluster1") && up_to_date(&spoke, "cluster2")
    })
    .await;
    until("cluster2 knows the superuser", || {
        spoke.c("cluster2").user(USER).is_some()
    })
    .await;
    assert_eq!(spoke.login("cluster2", AT_C2, USER).await, login_ok());
    until("cluster1 learns 1000001 is at cluster2", || {
        hub.located("cluster1", "1000001").as_deref() == Some("cluster2")
    })
    .await;
    assert_eq!(spoke.c("cluster2").ils_counters().roaming_logins_in, 1);
    spoke.shutdown().await;
    hub.shutdown().await;
    task.abort();
    seen.lock().unwrap().clone()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roaming_works_over_tls_and_the_wire_shows_no_user_id() {
    let plain = roam_through_a_proxy(false).await;
    assert!(
        contains(&plain, USER.as_bytes()),
        "without TLS the user ID travels readable (the check can see it)"
    );
    let tls = roam_through_a_proxy(true).await;
    assert!(tls.len() > 1000, "the link carried the sync: {}", tls.len());
    assert!(!contains(&tls, USER.as_bytes()), "user ID on the wire");
    assert!(!contains(&tls, b"1000001"), "directory number on the wire");
    assert!(
        !contains(&tls, b"cluster2.route"),
        "route string on the wire"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_whose_certificate_the_ca_did_not_sign_is_refused_and_counted() {
    // cluster2 presents a certificate naming it, from another CA.
    let (_dir, topo) = lab(true, "rogue");
    let net = Net::start_only(&topo, None, &[]).await;
    until("cluster1 refuses cluster2's TLS handshakes", || {
        net.c("cluster1").ils_counters().handshakes_failed["tls"] >= 2
    })
    .await;
    until("cluster2 counts its refused dials", || {
        net.c("cluster2").ils_counters().rejected["tls"] >= 1
    })
    .await;
    for c in ["cluster1", "cluster2"] {
        let peers = net.c(c).ils_counters().peers;
        assert!(peers.iter().all(|p| !p.connected), "{c}: {peers:?}");
    }
    let (_, metrics) = net.http("cluster1", hyper::Method::GET, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("emroam_ils_handshakes_failed_total{")
                && l.contains("reason=\"tls\"")
                && !l.ends_with(" 0")),
        "{metrics}"
    );
    net.shutdown().await;
}

/// Starts cluster2 of the lab with these certificate and key files; the error printed.
async fn start_error(cert: &str, key: &str) -> String {
    let (dir, mut topo) = lab(true, "cluster2");
    let files = topo.clusters[1].ils_tls.as_mut().unwrap();
    files.cert = dir.join("pki").join(cert);
    files.key = dir.join("pki").join(key);
    let listeners = vec![(
        "cluster2".to_owned(),
        emroam_server::ClusterListeners::ephemeral().await.unwrap(),
    )];
    match emroam_server::start(
        &topo,
        listeners,
        &emroam_server::Options::default(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    {
        Ok(_) => panic!("started with {cert} and {key}"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_certificate_not_naming_the_cluster_or_a_key_not_fitting_is_refused_at_start() {
    let msg = start_error("intruder.pem", "intruder.key").await;
    assert!(msg.contains("intruder.pem"), "{msg}");
    assert!(
        msg.contains("does not name this cluster (\"cluster2\")"),
        "{msg}"
    );
    let msg = start_error("cluster2.pem", "intruder.key").await;
    assert!(msg.starts_with("cluster cluster2: ILS TLS:"), "{msg}");
    assert!(!msg.contains("PRIVATE KEY"), "{msg}");
    let msg = start_error("cluster2.pem", "missing.key").await;
    assert!(msg.contains("missing.key"), "{msg}");
}

/// A TLS client with the lab CA's `file` certificate, connected to `to`.
async fn tls_client(
    dir: &Path,
    file: &str,
    to: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let pki = dir.join("pki");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.join("ca.pem")).unwrap())
        .unwrap();
    let chain = vec![CertificateDer::from_pem_file(pki.join(format!("{file}.pem"))).unwrap()];
    let key = PrivateKeyDer::from_pem_file(pki.join(format!("{file}.key"))).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    let tcp = TcpStream::connect(to).await?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("cluster1").unwrap(), tcp)
        .await
}

fn hello_as(id: &str) -> Vec<u8> {
    let me = ClusterInfo {
        cluster_id: id.into(),
        route_string: format!("{id}.route"),
        role: Role::Spoke,
    };
    Dial::new(me, "cluster1", [7u8; ils::NONCE_LEN])
        .hello()
        .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_garbage_and_a_certificate_naming_another_cluster_are_refused() {
    let (dir, topo) = lab(true, "cluster2");
    let net = Net::start(&topo, None).await;
    let c1 = net.c("cluster1");
    let addr = c1.ils_addr().unwrap();
    let failed = |r: &str| c1.ils_counters().handshakes_failed[r];

    // A plain-TCP dialer speaking the password handshake gets no ILS frame back.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&hello_as("cluster2")).await.unwrap();
    assert_eq!(read_frame(&mut s).await, None, "no ILS answer in plain TCP");
    until("plain TCP counted", || failed("tls") == 1).await;

    // Garbage that starts like a TLS record.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut garbage = vec![0x16, 0x03, 0x01, 0x00, 0x40];
    garbage.extend((0..0x40u8).map(|i| i.wrapping_mul(37)));
    s.write_all(&garbage).await.unwrap();
    assert!(closed(&mut s).await);
    until("garbage counted", || failed("tls") == 2).await;

    // A certificate the CA signed, naming "intruder", claiming to be cluster2.
    let mut s = tls_client(&dir, "intruder", addr).await.unwrap();
    s.write_all(&hello_as("cluster2")).await.unwrap();
    let f = read_frame(&mut s).await.expect("a refusal");
    match Handshake::parse(&f) {
        Ok(Handshake::Refused { reason }) => assert!(reason.contains("certificate"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    until("the impostor counted", || failed("tls") == 3).await;
    assert_eq!(failed("bad_proof"), 0);
    assert!(up_to_date(&net, "cluster1"), "the real link stays up");
    net.shutdown().await;
}

/// The first bytes of a real TLS ClientHello (cut short: the listener waits for the rest).
fn half_a_client_hello() -> Vec<u8> {
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from("cluster1").unwrap())
            .unwrap();
    let mut out = Vec::new();
    conn.write_tls(&mut out).unwrap();
    out.truncate(out.len() / 2);
    out
}

async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((from, 0))).unwrap();
    sock.connect(to).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn stalled_tls_handshakes_hold_at_most_four_slots_for_at_most_two_seconds() {
    let (_dir, topo) = lab(true, "cluster2");
    let net = Net::start(&topo, None).await;
    let c1 = net.c("cluster1");
    let addr = c1.ils_addr().unwrap();
    let stranger = Ipv4Addr::new(127, 0, 2, 1);
    let hello = half_a_client_hello();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from(stranger, addr).await;
        s.write_all(&hello).await.unwrap();
        held.push(s);
    }
    let mut fifth = connect_from(stranger, addr).await;
    let mut b = [0u8; 8];
    assert_eq!(fifth.read(&mut b).await.unwrap(), 0, "the fifth is closed");
    let t0 = tokio::time::Instant::now();
    for s in &mut held {
        // The listener cuts each at its deadline (maybe with a TLS alert first).
        while s.read(&mut b).await.is_ok_and(|n| n > 0) {}
    }
    assert!(
        t0.elapsed() <= Duration::from_millis(2100),
        "{:?}",
        t0.elapsed()
    );
    let failed = c1.ils_counters().handshakes_failed;
    assert_eq!((failed["busy"], failed["timeout"]), (1, 4), "{failed:?}");
    assert!(up_to_date(&net, "cluster1"), "the real link stays up");
    net.shutdown().await;
}
