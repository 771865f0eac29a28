//! `fleet-vs-oha`: the emulator's request rate on one core against a trivial endpoint, parsing
//! every page as a phone does, beside oha on the same endpoint in the same run.
//!
//! Three processes, so that nobody shares a core: the endpoint (this binary re-executed as
//! `fleet-vs-oha serve`, a hyper server answering a fixed EM login page,
//! `emroam_loadtests::em_login_page`) pinned to core 0 with `taskset -c 0`; then, pinned to
//! core 1 with `taskset -c 1`, first the emulator (`fleet-vs-oha client URL SECS CONNS`: CONNS
//! phones on one single-threaded runtime sending the phone's GET with Cisco's headers through
//! the fleet's HTTP transport, `emroam_emulator::driver::HttpClient`, keep-alive, and parsing every answer
//! with `cipxml::parse` as the phone's page step does), then `oha -z SECSs -c CONNS --no-tui`
//! with the same headers; and, for scale, the emulator once more without the parse
//! (`client URL SECS CONNS no-parse`). Besides the rates, the table gives each client's CPU (as a waited-for
//! child, from `/proc/self/stat`) and the endpoint's (`/proc/PID/stat`) in each phase, so that a
//! rate capped by the endpoint shows as one.
//!
//! Then `wrk -t1 -cCONNS -dSECSs` (one thread), same headers, pinned the same way, when it is
//! installed; a peer that is not installed is reported as skipped, with how to install it.
//!
//! Usage: `cargo run --release -p emroam-loadtests --bin fleet-vs-oha -- [SECS] [CONNS] [OHA] [WRK]`

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use emroam_emulator::driver::HttpClient;
use emroam_emulator::phone::http::phone_headers;
use emroam_emulator::phone::{HttpRequest, Method, Model};
use emroam_protocol::cipxml;
use tokio_util::sync::CancellationToken;

/// Clock ticks per second in `/proc/*/stat` (`USER_HZ`, 100 on every Linux we run on).
const TICKS_PER_SEC: f64 = 100.0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(),
        Some("client") => {
            let url = args.get(2).expect("client URL SECS CONNS");
            let secs = args.get(3).and_then(|s| s.parse().ok()).expect("SECS");
            let conns = args.get(4).and_then(|s| s.parse().ok()).expect("CONNS");
            let parse = args.get(5).is_none_or(|p| p != "no-parse");
            let (ok, bad, took) = client(url, secs, conns, parse);
            println!("{ok} {bad} {took}");
        }
        _ => compare(&args[1..]),
    }
}

/// The endpoint: prints its address, serves until its standard input closes.
fn serve() {
    let token = CancellationToken::new();
    let t = token.clone();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        t.cancel();
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("{}", listener.local_addr().expect("addr"));
        let page: bytes::Bytes = emroam_loadtests::em_login_page().into();
        let (_up_tx, up_rx) = tokio::sync::watch::channel(true);
        let handler = move |_req: hyper::Request<hyper::body::Incoming>, _: SocketAddr| {
            std::future::ready(emroam_server::http::respond(
                hyper::StatusCode::OK,
                "text/xml; charset=utf-8",
                page.clone(),
            ))
        };
        emroam_server::http::serve(
            listener,
            handler,
            emroam_server::http::Limits::default(),
            up_rx,
            token,
        )
        .await;
    });
}

fn phone_request(url: &str) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url: url.to_owned(),
        headers: phone_headers(&Model::default()),
        body: None,
        secrets: Vec::new(),
    }
}

/// The emulator: `conns` phones on one single-threaded runtime for `secs` seconds, parsing
/// every page unless `parse` is off; pages answered (and parsed), pages failed, seconds taken.
fn client(url: &str, secs: u64, conns: usize, parse: bool) -> (u64, u64, f64) {
    let done = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (done, ok, bad) = (done.clone(), ok.clone(), bad.clone());
            let req = phone_request(url);
            tasks.push(tokio::spawn(async move {
                let mut client = HttpClient::new(Duration::from_secs(5));
                while !done.load(Ordering::Relaxed) {
                    match client.send(&req).await {
                        Ok(r) if r.status == 200 && (!parse || cipxml::parse(&r.body).is_ok()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        done.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    (
        ok.load(Ordering::Relaxed),
        bad.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    )
}

/// utime + stime of a process (`pid`), or of this process's waited-for children (`None`:
/// cutime + cstime of this process), in seconds.
fn cpu_secs(pid: Option<u32>) -> f64 {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let f: Vec<&str> = stat[close + 2..].split(' ').collect();
    // Fields after the command: state(0) … utime(11) stime(12) cutime(13) cstime(14).
    let (u, s) = if pid.is_some() { (11, 12) } else { (13, 14) };
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (tick(u) + tick(s)) as f64 / TICKS_PER_SEC
}

/// One phase's figures.
struct Phase {
    rate: Option<f64>,
    detail: String,
    /// CPU seconds of the client and of the endpoint.
    client_cpu: f64,
    endpoint_cpu: f64,
    wall: f64,
}

fn measure(endpoint: u32, run: impl FnOnce() -> (Option<f64>, String)) -> Phase {
    let (c0, e0, t0) = (cpu_secs(None), cpu_secs(Some(endpoint)), Instant::now());
    let (rate, detail) = run();
    Phase {
        rate,
        detail,
        client_cpu: cpu_secs(None) - c0,
        endpoint_cpu: cpu_secs(Some(endpoint)) - e0,
        wall: t0.elapsed().as_secs_f64(),
    }
}

fn compare(args: &[String]) {
    let secs: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let conns: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32);
    let oha = args.get(2).cloned().unwrap_or_else(|| "oha".to_owned());
    let wrk = args.get(3).cloned().unwrap_or_else(|| "wrk".to_owned());
    let exe = std::env::current_exe().expect("own path");

    let mut endpoint = Command::new("taskset")
        .args(["-c", "0"])
        .arg(&exe)
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset runs the endpoint");
    let mut line = String::new();
    BufReader::new(endpoint.stdout.take().expect("endpoint stdout"))
        .read_line(&mut line)
        .expect("endpoint address");
    let url = format!(
        "http://{}/emapp/EMAppServlet?device=SEP000000001001",
        line.trim()
    );
    let pid = endpoint.id();

    let emulator = |parse: &str| {
        measure(pid, || {
            let out = Command::new("taskset")
                .args(["-c", "1"])
                .arg(&exe)
                .args(["client", &url, &secs.to_string(), &conns.to_string(), parse])
                .output()
                .expect("taskset runs the emulator");
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<f64> = text
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            match f[..] {
                [ok, bad, took] => (Some(ok / took), format!("{ok:.0} ok, {bad:.0} failed")),
                _ => (None, String::from_utf8_lossy(&out.stderr).trim().to_owned()),
            }
        })
    };
    let ours = emulator("parse");
    let bare = emulator("no-parse");

    let headers = phone_headers(&Model::default());
    let mut oha_args = vec![
        "-z".to_owned(),
        format!("{secs}s"),
        "-c".to_owned(),
        conns.to_string(),
        "--no-tui".to_owned(),
    ];
    // wrk on one thread (`-t1`): one core, as the other two clients have.
    let mut wrk_args = vec!["-t1".to_owned(), format!("-c{conns}"), format!("-d{secs}s")];
    for (n, v) in &headers {
        for a in [&mut oha_args, &mut wrk_args] {
            a.push("-H".to_owned());
            a.push(format!("{n}: {v}"));
        }
    }
    oha_args.push(url.clone());
    wrk_args.push(url.clone());
    let theirs = measure(pid, || {
        peer(&oha, &oha_args, "`cargo install oha --locked`", |text| {
            field(text, "Success rate:").map_or_else(String::new, |v| format!("success rate {v}"))
        })
    });
    let wrk_run = measure(pid, || {
        peer(&wrk, &wrk_args, "`apt-get install wrk`", |text| {
            let errors: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("Non-2xx") || l.starts_with("Socket errors"))
                .collect();
            if errors.is_empty() {
                "0 errors".to_owned()
            } else {
                errors.join("; ")
            }
        })
    });

    drop(endpoint.stdin.take());
    let _ = endpoint.wait();

    println!(
        "| client (`taskset -c 1`), {secs} s, {conns} keep-alive connections | requests/s | client CPU per request | client core busy | endpoint core busy (`taskset -c 0`) | |"
    );
    println!("|---|---:|---:|---:|---:|---|");
    for (name, p) in [
        (
            "emulator (fleet transport + cipxml parse of every page)",
            &ours,
        ),
        ("emulator, transport only (pages not parsed)", &bare),
        ("oha, same headers", &theirs),
        ("wrk `-t1`, same headers", &wrk_run),
    ] {
        let rate = p
            .rate
            .map_or_else(|| "not run".to_owned(), |r| format!("{r:.0}"));
        let per = p.rate.map_or_else(String::new, |r| {
            format!("{:.2} µs", p.client_cpu / (r * p.wall) * 1e6)
        });
        // A client that did not run has no share of a core (its phase took no time).
        let busy = |cpu: f64| {
            p.rate
                .map_or_else(String::new, |_| format!("{:.0} %", 100.0 * cpu / p.wall))
        };
        println!(
            "| {name} | {rate} | {per} | {} | {} | {} |",
            busy(p.client_cpu),
            busy(p.endpoint_cpu),
            p.detail
        );
    }
    // On a shared machine a client may not get its whole core; requests per CPU-second
    // (what each would do with a core to itself) compare them regardless.
    let per_cpu = |p: &Phase| {
        p.rate
            .filter(|_| p.client_cpu > 0.0)
            .map(|r| r * p.wall / p.client_cpu)
    };
    for (name, p, peer) in [
        ("emulator / oha", &ours, &theirs),
        ("transport only / oha", &bare, &theirs),
        ("emulator / wrk", &ours, &wrk_run),
        ("transport only / wrk", &bare, &wrk_run),
    ] {
        if let (Some(a), Some(b)) = (p.rate, peer.rate) {
            let cpu = match (per_cpu(p), per_cpu(peer)) {
                (Some(x), Some(y)) => format!("{:.2}× per CPU-second", x / y),
                _ => String::new(),
            };
            println!("| **{name}** | **{:.2}×** | {cpu} | | | |", a / b);
        }
    }
}

/// The value after `name` on the first line of `text` that starts with it (oha and wrk both
/// print `Requests/sec:`).
fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
}

/// Runs a peer load generator pinned to core 1: its `Requests/sec:` and `detail` of its output,
/// or no rate and why (a generator that is not installed is skipped, with how to install it).
fn peer(
    tool: &str,
    args: &[String],
    install: &str,
    detail: impl FnOnce(&str) -> String,
) -> (Option<f64>, String) {
    match Command::new("taskset")
        .args(["-c", "1", tool])
        .args(args)
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            (
                field(&text, "Requests/sec:").and_then(|v| v.parse::<f64>().ok()),
                detail(&text),
            )
        }
        // taskset exits 127 when it cannot find the program.
        Ok(o) if o.status.code() == Some(127) => {
            (None, format!("skipped: install {tool} ({install})"))
        }
        Ok(o) => (None, String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        Err(e) => (None, format!("{e}: taskset (util-linux) is needed")),
    }
}
