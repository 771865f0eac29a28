//! `fleet-vs-oha`: the emulator's request rate on one core against a trivial endpoint, parsing
//! every page as a phone does, beside oha on the same endpoint in the same run.
//!
//! One process serves a fixed EM login page (`emroam_loadtests::em_login_page`, a
//! CiscoIPPhoneInput) from a hyper server on its own thread. Then, for SECS seconds, CONNS
//! emulated phones on one single-threaded runtime (one core) send the phone's GET with Cisco's
//! headers through the fleet's HTTP transport (`emroam::driver::HttpClient`, keep-alive) and
//! parse every answer with `cipxml::parse`, as the phone's page step does. Then the same
//! endpoint is driven for SECS seconds by `oha -z SECSs -c CONNS --no-tui`, pinned to one core
//! with `taskset -c 1` (oha's own default is every core). Both rates are printed.
//!
//! Usage: `cargo run --release -p emroam-loadtests --bin fleet-vs-oha -- [SECS] [CONNS] [OHA]`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use emroam::driver::HttpClient;
use emroam::phone::http::phone_headers;
use emroam::phone::{HttpRequest, Method, Model};
use emroam_protocol::cipxml;
use tokio_util::sync::CancellationToken;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let conns: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let oha = args.get(3).cloned().unwrap_or_else(|| "oha".to_owned());

    // The trivial endpoint, on its own thread.
    let token = CancellationToken::new();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let t = token.clone();
    let server = std::thread::Builder::new()
        .name("endpoint".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
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
                    t,
                )
                .await;
            });
        })
        .expect("endpoint thread");
    let addr = addr_rx.recv().expect("endpoint address");
    let url = format!("http://{addr}/emapp/EMAppServlet?device=SEP000000001001");

    // The emulator: CONNS phones on one single-threaded runtime.
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
            let (done, ok, bad, url) = (done.clone(), ok.clone(), bad.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let mut client = HttpClient::new(Duration::from_secs(5));
                let req = HttpRequest {
                    method: Method::Get,
                    url,
                    headers: phone_headers(&Model::default()),
                    body: None,
                    secrets: Vec::new(),
                };
                while !done.load(Ordering::Relaxed) {
                    match client.send(&req).await {
                        Ok(r) if r.status == 200 && cipxml::parse(&r.body).is_ok() => {
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
    let ours_secs = started.elapsed().as_secs_f64();
    let ours = ok.load(Ordering::Relaxed) as f64 / ours_secs;

    // oha on the same endpoint, one core.
    let out = std::process::Command::new("taskset")
        .args([
            "-c",
            "1",
            &oha,
            "-z",
            &format!("{secs}s"),
            "-c",
            &conns.to_string(),
            "--no-tui",
            &url,
        ])
        .output();
    let oha_rate = match &out {
        Ok(o) => String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Requests/sec:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse::<f64>().ok()),
        Err(_) => None,
    };
    token.cancel();
    let _ = server.join();

    println!("| measure | value |");
    println!("|---|---|");
    println!("| run | {secs} s each, {conns} keep-alive connections, one core per client |");
    println!(
        "| emulator (fleet transport + cipxml parse of every page) | {ours:.0} requests/s ({} ok, {} failed) |",
        ok.load(Ordering::Relaxed),
        bad.load(Ordering::Relaxed)
    );
    match oha_rate {
        Some(r) => {
            println!("| oha (`taskset -c 1`), same endpoint | {r:.0} requests/s |");
            println!("| emulator / oha | {:.2}× |", ours / r);
        }
        None => println!(
            "| oha | not run ({}): `cargo install oha --locked` |",
            out.map_or_else(
                |e| e.to_string(),
                |o| String::from_utf8_lossy(&o.stderr).trim().to_owned()
            )
        ),
    }
}
