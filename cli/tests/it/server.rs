//! `emroam server` as a real process: a bad topology, SIGTERM drain, and the durability crash
//! test (SIGKILL in the middle of a login storm, restart on the same data dir: every login
//! answered as a success is still logged in).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::util::{emroam, spawn_server};

/// One cluster on ephemeral ports (port 0), 200 users and phones, real service time.
pub(crate) const TOPO: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ports = { http = 0, config = 0 }
em = { max_concurrent_requests = 100, multiple_login_behavior = "allowed", service_time = "2ms" }

[[app_user]]
id = "emapi"
password = "emapi-secret"
proxy_rights = true

[[profile]]
name = "lobby"

[[user_pattern]]
home = "c1"
count = 200
id = "u{n:03}"
pin = "1234"
extension = 2000001

[[phone_pattern]]
cluster = "c1"
count = 200
first = "SEP000000000001"
logout_profile = "lobby"
"#;

pub(crate) fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emroam-srv-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `emroam server` and returns it with its HTTP address (read from its stdout).
pub(crate) fn start(topo: &Path, data: &Path) -> (Child, SocketAddr) {
    let (child, line) = spawn_server(
        [
            "--topology".as_ref(),
            topo.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--drain-secs".as_ref(),
            "2".as_ref(),
        ],
        Stdio::null(),
    );
    (child, http_addr(&line))
}

/// The HTTP address in a ready line, "cluster c1 http 127.0.0.1:PORT config 127.0.0.1:PORT".
pub(crate) fn http_addr(line: &str) -> SocketAddr {
    line.split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("no ready line: {line:?}"))
        .parse()
        .unwrap()
}

pub(crate) async fn get(addr: SocketAddr, pq: &str) -> std::io::Result<String> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let req = hyper::Request::get(pq)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = tx.send_request(req).await.map_err(std::io::Error::other)?;
    let body = r
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn bad_topology_names_the_line_and_exits_2() {
    let dir = scratch("bad");
    let f = dir.join("t.toml");
    std::fs::write(
        &f,
        TOPO.replace("logout_profile = \"lobby\"", "logout_profile = \"nope\""),
    )
    .unwrap();
    let out = emroam(
        &["server", "--topology", f.to_str().unwrap(), "--in-memory"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:27:", f.display())) && err.contains("logout_profile"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_port_in_use_and_a_data_dir_on_a_file_say_the_os_error_once() {
    let dir = scratch("inuse");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let f = dir.join("t.toml");
    std::fs::write(
        &f,
        TOPO.replace("ports = { http = 0,", &format!("ports = {{ http = {port},")),
    )
    .unwrap();
    let out = emroam(
        &["server", "--topology", f.to_str().unwrap(), "--in-memory"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert_eq!(err.matches("(os error 98)").count(), 1, "{err}");
    // A data directory that is a file.
    let file = dir.join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let plain = dir.join("plain.toml");
    std::fs::write(&plain, TOPO).unwrap();
    let out = emroam(
        &[
            "server",
            "--topology",
            plain.to_str().unwrap(),
            "--data-dir",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("data directory"), "{err}");
    assert_eq!(err.matches("(os error").count(), 1, "{err}");
    drop(taken);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits() {
    let dir = scratch("term");
    let f = dir.join("t.toml");
    std::fs::write(&f, TOPO).unwrap();
    let (mut child, addr) = start(&f, &dir.join("data"));
    let page = get(
        addr,
        "/emapp/EMAppServlet?device=SEP000000000001&userid=u001&seq=1234",
    )
    .await
    .unwrap();
    assert!(page.contains("Login Successful"), "{page}");
    let t0 = Instant::now();
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "server did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_storm_loses_no_acknowledged_login() {
    let dir = scratch("kill");
    let f = dir.join("t.toml");
    std::fs::write(&f, TOPO).unwrap();
    let data = dir.join("data");
    let (mut child, addr) = start(&f, &data);

    // 32 workers log users in on their own phones until the server dies.
    let acked: Arc<Mutex<BTreeSet<(u32, u32)>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..32u32 {
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let n = w + 1 + 32 * i;
                if n > 200 {
                    break;
                }
                let q = format!("/emapp/EMAppServlet?device=SEP{n:012X}&userid=u{n:03}&seq=1234");
                match get(addr, &q).await {
                    Ok(page) if page.contains("Login Successful") => {
                        acked.lock().unwrap().insert((n, n));
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    // Kill as soon as a good share has been acknowledged.
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 40 && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for w in workers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "only {} logins before the kill",
        acked.len()
    );

    // Restart on the same data dir: every acknowledged login is there, and nothing else is
    // half-written (every stored login is a user on their own phone).
    let (mut child, addr) = start(&f, &data);
    let json = get(addr, "/admin/clusters/c1/logins").await.unwrap();
    let logins: serde_json::Value = serde_json::from_str(&json).unwrap();
    let stored: BTreeSet<(u32, u32)> = logins
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let d = u32::from_str_radix(&l["device"].as_str().unwrap()[3..], 16).unwrap();
            let u: u32 = l["user"].as_str().unwrap()[1..].parse().unwrap();
            assert_eq!(l["profile"].as_str().unwrap(), format!("u{u:03}-udp"));
            (d, u)
        })
        .collect();
    for a in &acked {
        assert!(
            stored.contains(a),
            "acknowledged login {a:?} lost; stored {}",
            stored.len()
        );
    }
    assert!(stored.iter().all(|(d, u)| d == u));
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cluster_flag_runs_only_the_named_clusters() {
    let dir = scratch("only");
    let f = dir.join("t.toml");
    let two = format!(
        "{TOPO}\n[[cluster]]\nid = \"c2\"\naddress = \"127.0.0.1\"\nports = {{ http = 0, config = 0 }}\n"
    );
    std::fs::write(&f, two).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(["server", "--in-memory", "--cluster", "c2", "--topology"])
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("cluster c2 http 127.0.0.1:"), "{line:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    assert!(!rest.contains("cluster c1"), "{rest}");
    let out = emroam(
        &[
            "server",
            "--in-memory",
            "--cluster",
            "c9",
            "--topology",
            f.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `emroam server --cluster ID` (in memory or on a data dir); its HTTP address.
fn start_cluster(topo: &Path, id: &str, data: Option<&Path>) -> (Child, SocketAddr) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "--topology".as_ref(),
        topo.as_os_str(),
        "--cluster".as_ref(),
        id.as_ref(),
        "--drain-secs".as_ref(),
        "1".as_ref(),
    ];
    match data {
        Some(d) => args.extend(["--data-dir".as_ref(), d.as_os_str()]),
        None => args.push("--in-memory".as_ref()),
    }
    let (child, line) = spawn_server(args, Stdio::null());
    (child, http_addr(&line))
}

async fn until_body(addr: SocketAddr, pq: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let body = get(addr, pq).await.unwrap_or_default();
        if body.contains(want) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{pq}: never {want:?}; last {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The seed with one `emroam server` process per cluster: Bob roams to cluster 2 while the
/// cluster 1 process is killed; cluster 3 learns where 1000001 is; cluster 1 restarts on its
/// data dir and logs Bob out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_roaming_with_one_process_per_cluster() {
    let dir = scratch("roam");
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles/topologies/seed.toml"),
    )
    .unwrap();
    // ILS ports must be known to the peers: take free ones; HTTP and config stay ephemeral.
    let mut topo = seed;
    for n in 1..=3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        topo = topo.replace(
            &format!(
                "address = \"127.0.0.{n}\"\nports = {{ http = 8080, config = 6970, sip = 5060, ils = 7502 }}"
            ),
            &format!("address = \"127.0.0.1\"\nports = {{ http = 0, config = 0, sip = 0, ils = {port} }}"),
        );
    }
    assert!(!topo.contains("7502"), "every cluster got a port");
    let f = dir.join("seed.toml");
    std::fs::write(&f, topo).unwrap();
    let data1 = dir.join("c1");
    let (mut p1, a1) = start_cluster(&f, "cluster1", Some(&data1));
    let (mut p2, a2) = start_cluster(&f, "cluster2", None);
    let (mut p3, a3) = start_cluster(&f, "cluster3", None);
    // Superusers copied everywhere, links up.
    until_body(a3, "/admin/superuser-sync?format=json", "\"bob\"").await;
    let ok = "Login Successful";
    let page = get(
        a1,
        "/emapp/EMAppServlet?device=SEP000000001001&userid=bob&seq=12345",
    )
    .await
    .unwrap();
    assert!(page.contains(ok), "{page}");
    until_body(
        a3,
        "/admin/clusters/cluster3/locate/1000001",
        "\"cluster1\"",
    )
    .await;
    p1.kill().unwrap();
    p1.wait().unwrap();
    let page = get(
        a2,
        "/emapp/EMAppServlet?device=SEP000000002001&userid=bob&seq=12345",
    )
    .await
    .unwrap();
    assert!(page.contains(ok), "{page}");
    until_body(
        a3,
        "/admin/clusters/cluster3/locate/1000001",
        "\"cluster2\"",
    )
    .await;
    until_body(
        a2,
        "/metrics",
        "emroam_ils_deferred_logouts_pending{cluster=\"cluster2\"} 1",
    )
    .await;
    // Cluster 1 comes back on its data dir (Bob's login there survived the crash) and logs him out.
    let (mut p1, a1) = start_cluster(&f, "cluster1", Some(&data1));
    until_body(a1, "/admin/clusters/cluster1/logins", "[]").await;
    until_body(
        a2,
        "/metrics",
        "emroam_ils_deferred_logouts_pending{cluster=\"cluster2\"} 0",
    )
    .await;
    let logins = get(a2, "/admin/clusters/cluster2/logins").await.unwrap();
    assert!(logins.contains("\"bob\""), "{logins}");
    for p in [&mut p1, &mut p2, &mut p3] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
    let _ = std::fs::remove_dir_all(dir);
}
