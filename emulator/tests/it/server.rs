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

use crate::util::emroam;

/// One cluster on ephemeral ports (port 0), 200 users and phones, real service time.
const TOPO: &str = r#"
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

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emroam-srv-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `emroam server` and returns it with its HTTP address (read from its stdout).
fn start(topo: &Path, data: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(["server", "--topology"])
        .arg(topo)
        .arg("--data-dir")
        .arg(data)
        .args(["--drain-secs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emroam server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "cluster c1 http 127.0.0.1:PORT config 127.0.0.1:PORT"
    let addr = line
        .split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("no ready line: {line:?}"));
    (child, addr.parse().unwrap())
}

async fn get(addr: SocketAddr, pq: &str) -> std::io::Result<String> {
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
        err.contains("line 27") && err.contains("logout_profile"),
        "{err}"
    );
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
