//! `emroam server` under pressure as a real process: a lowered open-file limit.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Two standalone clusters on ephemeral ports.
const TWO: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ports = { http = 0, config = 0, sip = 0 }

[[cluster]]
id = "c2"
address = "127.0.0.1"
ports = { http = 0, config = 0, sip = 0 }

[[profile]]
name = "lobby"

[[user_pattern]]
home = "c1"
count = 2
id = "u{n:03}"
pin = "1234"
extension = 2000001

[[phone_pattern]]
cluster = "c1"
count = 2
first = "SEP000000000001"
logout_profile = "lobby"
"#;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emroam-lim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The running server, its stderr file, and each cluster's HTTP address (from its ready
/// lines).
struct Server {
    child: Child,
    stderr: PathBuf,
    http: Vec<SocketAddr>,
}

impl Server {
    /// `emroam server` on `TWO` through `sh -c PREFIX exec emroam server ...`.
    fn start(dir: &Path, prefix: &str, args: &[&str]) -> Server {
        let topo = dir.join("t.toml");
        std::fs::write(&topo, TWO).unwrap();
        let stderr = dir.join(format!("stderr-{}", args.join("_").replace('/', "_")));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{prefix} t=\"$1\"; shift; exec \"$0\" server --topology \"$t\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_emroam"))
            .arg(&topo)
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("emroam server starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut http = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            // "cluster c1 http 127.0.0.1:PORT config ..."
            match line.split_whitespace().nth(3) {
                Some(a) => http.push(a.parse().unwrap()),
                None => break,
            }
        }
        Server {
            child,
            stderr,
            http,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /metrics` on a fresh connection: the status line, or why there is none.
fn status_line(addr: SocketAddr) -> String {
    let mut c = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(c) => c,
        Err(e) => return format!("connect: {e}"),
    };
    // Bounds a hang (the defect: every listener out of descriptors), not the service time.
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = c.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut buf = Vec::new();
    match c.read_to_end(&mut buf) {
        Ok(_) => String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        Err(e) => format!("read: {e}"),
    }
}

#[test]
fn out_of_descriptors_on_one_cluster_leaves_the_other_serving() {
    let dir = scratch("fds");
    let s = Server::start(&dir, "ulimit -n 256 &&", &["--in-memory"]);
    assert_eq!(s.http.len(), 2, "{}", s.stderr());
    // More stalled connections to cluster 1 than the whole process may open.
    let mut held = Vec::new();
    for _ in 0..400 {
        let Ok(mut c) = TcpStream::connect_timeout(&s.http[0], Duration::from_secs(1)) else {
            continue;
        };
        let _ = c.write_all(b"POST /emservice/EMServiceServlet HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nxml=");
        held.push(c);
    }
    // Cluster 2 answers while they are held.
    assert_eq!(status_line(s.http[1]), "HTTP/1.1 200 OK", "{}", s.stderr());
    drop(held);
    let warnings = s.stderr().matches("accept failed").count();
    assert!(warnings <= 4, "{warnings} accept warnings:\n{}", s.stderr());
    let _ = std::fs::remove_dir_all(dir);
}
