//! `emroam server` processes against each other and against signals: one process per cluster
//! database, no connection accepted before the clusters can answer, a second SIGTERM during
//! the drain.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::server::{TOPO, get, http_addr, scratch, start};
use crate::util::spawn_server;

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Reads `from` line by line until one contains `want`; every line read, joined.
fn read_until(from: &mut impl BufRead, want: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = from.read_line(&mut line).unwrap();
        seen.push_str(&line);
        assert!(n > 0, "never {want:?}; read {seen}");
        if line.contains(want) {
            return seen;
        }
    }
}

#[test]
fn a_second_server_on_the_same_data_dir_exits_2_until_the_first_dies() {
    let dir = scratch("lock");
    let f = dir.join("t.toml");
    std::fs::write(&f, TOPO).unwrap();
    let data = dir.join("data");
    let (mut first, _) = start(&f, &data);
    // A second server on the same data directory: refused before serving anything.
    let (mut second, ready) = spawn_server(
        [
            "--topology".as_ref(),
            f.as_os_str(),
            "--data-dir".as_ref(),
            data.as_os_str(),
        ],
        Stdio::piped(),
    );
    if !ready.is_empty() {
        second.kill().unwrap();
    }
    let out = second.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(ready, "", "the second server served: {err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{} is held by process {}",
            data.join("c1.lock").display(),
            first.id()
        )),
        "{err}"
    );
    // The OS drops the lock with the process, even on SIGKILL: a new server starts.
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut again, addr) = start(&f, &data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page = rt.block_on(get(addr, "/api/counters")).unwrap();
    assert!(page.contains("\"cluster\": \"c1\""), "{page}");
    again.kill().unwrap();
    again.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// While the server loads (held here on its database: this test keeps `c1.db` locked in
/// SQLite, which the server waits out), its HTTP port refuses connections instead of
/// accepting them and saying nothing; once it is ready, the same port answers.
#[test]
fn a_connection_during_start_up_is_refused_not_left_hanging() {
    let dir = scratch("window");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = dir.join("t.toml");
    std::fs::write(
        &f,
        TOPO.replace("ports = { http = 0,", &format!("ports = {{ http = {port},")),
    )
    .unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut db = rusqlite::Connection::open(data.join("c1.db")).unwrap();
    let held = db
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(["-v", "server", "--topology"])
        .arg(&f)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // Its ports are bound, and it is waiting for the database this test holds.
    read_until(&mut stderr, "loading the clusters");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..3 {
        let e = std::net::TcpStream::connect(addr).expect_err("no connection before ready");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    }
    held.rollback().unwrap();
    drop(db);
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(http_addr(&ready), addr, "{ready}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page = rt.block_on(get(addr, "/api/counters")).unwrap();
    assert!(page.contains("\"cluster\": \"c1\""), "{page}");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// A login held in service longer than the drain deadline would keep the first SIGTERM's drain
/// waiting for minutes; the second SIGTERM ends the process at once with 143.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_during_the_drain_quits_at_once_with_143() {
    let dir = scratch("twice");
    let f = dir.join("t.toml");
    std::fs::write(
        &f,
        TOPO.replace("service_time = \"2ms\"", "service_time = \"600s\""),
    )
    .unwrap();
    let (mut child, ready) = spawn_server(
        [
            "--in-memory".as_ref(),
            "--drain-secs".as_ref(),
            "600".as_ref(),
            "--topology".as_ref(),
            f.as_os_str(),
        ],
        Stdio::piped(),
    );
    let addr = http_addr(&ready);
    let held = tokio::spawn(get(
        addr,
        "/emapp/EMAppServlet?device=SEP000000000001&userid=u001&seq=1234",
    ));
    // The login is in service (it holds a throttle slot) before the first signal.
    loop {
        let page = get(addr, "/api/counters").await.unwrap();
        if page.contains("\"RequestsInProgress\": 1,") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    signal(&child, "TERM");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = tokio::task::spawn_blocking(move || {
        let seen = read_until(&mut stderr, "shutdown requested; draining");
        (stderr, seen)
    })
    .await
    .unwrap();
    signal(&child, "TERM");
    // Bounded so that a drain which goes on fails here rather than hanging the suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still draining 30 s after the second SIGTERM");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    std::io::Read::read_to_string(&mut seen.0, &mut seen.1).unwrap();
    assert_eq!(status.code(), Some(143), "{}", seen.1);
    assert!(seen.1.contains("second signal: quitting now"), "{}", seen.1);
    // The held login never got its answer: the process ended under it.
    assert!(held.await.unwrap().is_err());
    let _ = std::fs::remove_dir_all(dir);
}
