//! Shared helpers: run the real `emroam` binary, find fixtures; and a tiny EM application +
//! config server on `127.0.0.1:0` (pages built with `cipxml`), able to throttle (26), stall
//! and fail, with exact counters to check against. The fake stands in for the reference
//! cluster (server crate) until that lands on `main`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The protocol crate's CiscoIPPhone fixtures (real documents, with their sources in that folder).
pub(crate) fn cipxml_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/fixtures/cipxml")
        .join(name)
}

/// Runs `emroam ARGS` with `stdin` on its standard input and returns what it did.
pub(crate) fn emroam(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("emroam starts");
    // The child may exit before reading everything (an error), so a broken pipe is fine.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("emroam finishes")
}

/// Starts `emroam server ARGS` (standard error to `stderr`) and reads its first line of
/// standard output, printed once every cluster serves: `cluster ID http ADDR config ADDR …`.
pub(crate) fn spawn_server<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
    stderr: Stdio,
) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .arg("server")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("emroam server starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the ready line");
    (child, line)
}

/// Standard output as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use emroam_protocol::cipxml::{Input, InputFlags, Menu, MenuItem, Object, SoftKeyItem, Text};
use emroam_protocol::{codes, emapi};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One user of the fake cluster.
#[derive(Debug, Clone)]
pub(crate) struct FakeUser {
    pub(crate) id: String,
    pub(crate) pin: String,
    pub(crate) dn: String,
    pub(crate) profiles: Vec<String>,
}

/// Behaviour knobs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Knobs {
    /// Concurrent EM requests allowed before answering 26 (0: unlimited).
    pub(crate) max_concurrent: usize,
    /// Extra time each login submit takes.
    pub(crate) submit_delay: Duration,
    /// The first login submit stalls this long (the stall test).
    pub(crate) first_submit_stall: Duration,
    /// The first login submit holds every EM request for this long (a server-wide stall).
    pub(crate) global_stall: Duration,
    /// Answer every EM request with this status instead.
    pub(crate) status: Option<u16>,
    /// Answer the first page with this body instead.
    pub(crate) first_page: Option<String>,
    /// Config files name this SIP proxy (the first call manager), so phones register there.
    pub(crate) sip_proxy: Option<SocketAddr>,
}

/// Counters, exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) logins_successful: u64,
    pub(crate) logouts_successful: u64,
    pub(crate) requests_throttled: u64,
    pub(crate) requests: u64,
    pub(crate) config_fetches: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: Vec<FakeUser>,
    /// device → user.
    pub(crate) logged_in: HashMap<String, String>,
    pub(crate) counters: Counters,
    pub(crate) knobs: Knobs,
    in_flight: usize,
    stalled_once: bool,
    /// device → request headers of the last EM request.
    pub(crate) last_headers: HashMap<String, Vec<(String, String)>>,
    /// Held by a global stall; every EM request passes through it.
    gate: Arc<tokio::sync::RwLock<()>>,
}

/// A running fake cluster (stops when dropped).
#[derive(Debug)]
pub(crate) struct Fake {
    pub(crate) addr: SocketAddr,
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) token: CancellationToken,
}

impl Fake {
    pub(crate) fn service_url(&self) -> String {
        format!(
            "http://{}/emapp/EMAppServlet?device=#DEVICENAME#",
            self.addr
        )
    }
    pub(crate) fn config_url(&self, device: &str) -> String {
        format!("http://{}/{device}.cnf.xml", self.addr)
    }
    pub(crate) fn counters(&self) -> Counters {
        self.state.lock().unwrap().counters.clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// The seed's users: bob, alice, kally (PIN 12345); bob has two profiles when `two_profiles`.
pub(crate) fn seed_users(n_extra: usize) -> Vec<FakeUser> {
    let mut v = vec![
        FakeUser {
            id: "bob".into(),
            pin: "12345".into(),
            dn: "1000001".into(),
            profiles: vec!["bob-udp".into()],
        },
        FakeUser {
            id: "alice".into(),
            pin: "12345".into(),
            dn: "2000001".into(),
            profiles: vec!["alice-udp".into(), "alice-lab".into()],
        },
        FakeUser {
            id: "kally".into(),
            pin: "12345".into(),
            dn: "3000001".into(),
            profiles: vec!["kally-udp".into()],
        },
    ];
    for i in 0..n_extra {
        v.push(FakeUser {
            id: format!("user{i:05}"),
            pin: "12345".into(),
            dn: format!("9{i:06}"),
            profiles: vec![format!("user{i:05}-udp")],
        });
    }
    v
}

/// Starts a fake cluster on `127.0.0.1:0`.
pub(crate) async fn spawn_fake(users: Vec<FakeUser>, knobs: Knobs) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(State {
        users,
        knobs,
        ..State::default()
    }));
    let token = CancellationToken::new();
    let (st, tk) = (state.clone(), token.clone());
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = tk.cancelled() => return,
                r = listener.accept() => match r { Ok((s, _)) => s, Err(_) => continue },
            };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(st.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Fake { addr, state, token }
}

fn xml(obj: Object) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/xml; charset=utf-8")
        .body(Full::new(Bytes::from(obj.to_xml())))
        .unwrap()
}

fn raw(status: u16, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

fn message(text: &str) -> Object {
    Object::Text(Text::new("Extension Mobility", text))
}

struct InFlight(Arc<Mutex<State>>);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    st: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let params: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if path.ends_with(".cnf.xml") {
        let proxy = {
            let mut st = st.lock().unwrap();
            st.counters.config_fetches += 1;
            st.knobs.sip_proxy
        };
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let cfg = emroam_protocol::devicecfg::DeviceConfig {
            device_protocol: "SIP".into(),
            services: vec![emroam_protocol::devicecfg::PhoneService {
                service_type: 1,
                category: 0,
                name: "Extension Mobility".into(),
                url: format!("http://{host}/emapp/EMAppServlet?device=#DEVICENAME#"),
            }],
            call_managers: proxy
                .map(|p| emroam_protocol::devicecfg::CallManager {
                    priority: 0,
                    name: "fake".into(),
                    sip_port: p.port(),
                    secured_sip_port: 0,
                    process_node_name: p.ip().to_string(),
                })
                .into_iter()
                .collect(),
            ..Default::default()
        };
        return Ok(raw(200, &cfg.to_xml()));
    }
    if path == "/emservice/EMServiceServlet" {
        use http_body_util::BodyExt as _;
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let answer = emapi::xml_from_form(&body)
            .and_then(|x| emapi::parse_request(x.as_bytes()))
            .map(|env| match env.request {
                emapi::Request::DeviceUserQuery(q) => {
                    let s = st.lock().unwrap();
                    emapi::Response::DeviceUserResults(
                        q.device_names
                            .iter()
                            .map(|d| {
                                let user = s.logged_in.get(d).cloned();
                                emapi::DeviceUser {
                                    device_name: d.clone(),
                                    none: user.is_none(),
                                    user_id: user,
                                    ..emapi::DeviceUser::default()
                                }
                            })
                            .collect(),
                    )
                }
                emapi::Request::UserDevicesQuery(q) => {
                    let s = st.lock().unwrap();
                    emapi::Response::UserDevicesResults(
                        q.user_ids
                            .iter()
                            .map(|u| {
                                let devices: Vec<String> = s
                                    .logged_in
                                    .iter()
                                    .filter(|(_, who)| *who == u)
                                    .map(|(d, _)| d.clone())
                                    .collect();
                                emapi::UserDevices {
                                    user_id: u.clone(),
                                    none: devices.is_empty(),
                                    device_names: devices,
                                    ..emapi::UserDevices::default()
                                }
                            })
                            .collect(),
                    )
                }
                _ => emapi::Response::failure(8),
            })
            .unwrap_or_else(|e| emapi::Response::failure(e.em_code()));
        return Ok(raw(200, &answer.to_xml()));
    }
    if path != "/emapp/EMAppServlet" {
        return Ok(raw(404, "not found"));
    }
    let device = get("device").unwrap_or_default();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let submitted = get("userid").is_some() || get("deviceProfile").is_some();
    let logout = get("doLogout").as_deref() == Some("true");
    let gate = st.lock().unwrap().gate.clone();
    drop(gate.read().await);
    let (knobs, stall) = {
        let mut s = st.lock().unwrap();
        s.counters.requests += 1;
        s.last_headers.insert(device.clone(), headers);
        let stall = submitted && !s.stalled_once && !s.knobs.first_submit_stall.is_zero();
        if stall {
            s.stalled_once = true;
        }
        (s.knobs.clone(), stall)
    };
    if let Some(code) = knobs.status {
        return Ok(raw(code, "<html>Service Unavailable</html>"));
    }
    if !submitted && !logout {
        if let Some(body) = knobs.first_page {
            return Ok(raw(200, &body));
        }
        let s = st.lock().unwrap();
        let me = format!(
            "http://{}/emapp/EMAppServlet?device={device}",
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
        );
        let lt = get("loginType");
        let self_url = match &lt {
            Some(l) => format!("{me}&loginType={l}"),
            None => me.clone(),
        };
        return Ok(match s.logged_in.get(&device) {
            Some(u) => xml(Object::Text(Text {
                prompt: Some(format!("Logged in as {u}")),
                softkeys: vec![
                    SoftKeyItem::new("Yes", format!("{me}&doLogout=true"), 1),
                    SoftKeyItem::new("No", "SoftKey:Exit", 2),
                ],
                ..Text::new("Extension Mobility", "Do you want to log out?")
            })),
            None => {
                let (label, flags) = match lt.as_deref() {
                    Some("DN") => ("Primary Extension", InputFlags::TELEPHONE),
                    Some("SP") => ("Self-service User ID", InputFlags::NUMERIC),
                    _ => ("User ID", InputFlags::ASCII),
                };
                xml(Object::Input(
                    Input::new("Extension Mobility", self_url)
                        .prompt("Enter your ID and PIN")
                        .item(label, "userid", flags)
                        .item("PIN", "seq", InputFlags::PIN),
                ))
            }
        });
    }
    // A login or logout operation: throttled past max_concurrent.
    {
        let mut s = st.lock().unwrap();
        if s.knobs.max_concurrent > 0 && s.in_flight >= s.knobs.max_concurrent {
            s.counters.requests_throttled += 1;
            let text = if logout {
                codes::logout_display_text(26)
            } else {
                codes::login_display_text(26)
            };
            return Ok(xml(message(&text)));
        }
        s.in_flight += 1;
    }
    let _guard = InFlight(st.clone());
    if stall {
        tokio::time::sleep(knobs.first_submit_stall).await;
    }
    let global = {
        let mut s = st.lock().unwrap();
        let g = submitted && !s.knobs.global_stall.is_zero();
        if g {
            s.knobs.global_stall = Duration::ZERO;
        }
        g
    };
    if global {
        let _hold = gate.write().await;
        tokio::time::sleep(knobs.global_stall).await;
    }
    if !knobs.submit_delay.is_zero() {
        tokio::time::sleep(knobs.submit_delay).await;
    }
    let mut s = st.lock().unwrap();
    if logout {
        return Ok(if s.logged_in.remove(&device).is_some() {
            s.counters.logouts_successful += 1;
            let mut r = xml(message("Logout Successful"));
            r.headers_mut()
                .insert("refresh", "3; url=Init:Services".parse().unwrap());
            r
        } else {
            xml(message(&codes::logout_display_text(19)))
        });
    }
    let lt = get("loginType").unwrap_or_else(|| "UID".into());
    let id = get("userid").unwrap_or_default();
    let user = if let Some(p) = get("deviceProfile") {
        s.users.iter().find(|u| u.profiles.contains(&p)).cloned()
    } else {
        let pin = get("seq").unwrap_or_default();
        match s
            .users
            .iter()
            .find(|u| if lt == "UID" { u.id == id } else { u.dn == id })
        {
            Some(u) if u.pin == pin => Some(u.clone()),
            _ => return Ok(xml(message(&codes::login_display_text(201)))),
        }
    };
    let Some(user) = user else {
        return Ok(xml(message(&codes::login_display_text(205))));
    };
    if get("deviceProfile").is_none() && user.profiles.len() > 1 {
        let me = format!(
            "http://{}/emapp/EMAppServlet?device={device}",
            req.headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
        );
        let items = user
            .profiles
            .iter()
            .map(|p| MenuItem::new(p.clone(), format!("{me}&deviceProfile={p}")))
            .collect();
        return Ok(xml(Object::Menu(Menu {
            prompt: Some("Select a device profile".into()),
            ..Menu::new("Extension Mobility", items)
        })));
    }
    if s.logged_in.values().any(|u| *u == user.id) {
        return Ok(xml(message(&codes::login_display_text(25))));
    }
    s.logged_in.insert(device, user.id.clone());
    s.counters.logins_successful += 1;
    let mut r = xml(message("Login Successful"));
    r.headers_mut()
        .insert("refresh", "3; url=Init:Services".parse().unwrap());
    Ok(r)
}

/// A port with nothing listening (bound, then closed).
pub(crate) async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// What [`spawn_raw`] does with one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// Writes these bytes and waits for the next request on the same connection.
    Send(Vec<u8>),
    /// Writes these bytes and closes the connection.
    SendAndClose(Vec<u8>),
    /// Writes these bytes, then neither reads nor writes again (the connection stays open).
    SendAndHang(Vec<u8>),
}

/// A scripted HTTP server on `127.0.0.1:0` that writes raw bytes, for hostile responses: it
/// reads each request (head up to its blank line, then a `Content-Length` body) and answers
/// the n-th request, counted over all connections from 0, with `script(n)`. Returns its
/// address and the number of connections accepted so far.
pub(crate) async fn spawn_raw(
    script: impl Fn(usize) -> Reply + Send + Sync + 'static,
) -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let accepted = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (script, requests) = (script.clone(), requests.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // One request: its head, then its body.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let body_len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + body_len {
                        let mut chunk = [0u8; 4096];
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + body_len);
                    match script(requests.fetch_add(1, Ordering::SeqCst)) {
                        Reply::Send(bytes) => {
                            if sock.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                        Reply::SendAndClose(bytes) => {
                            let _ = sock.write_all(&bytes).await;
                            return;
                        }
                        Reply::SendAndHang(bytes) => {
                            let _ = sock.write_all(&bytes).await;
                            std::future::pending::<()>().await;
                        }
                    }
                }
            });
        }
    });
    (addr, conns)
}

/// The seed's three reference clusters in-process, every port chosen by the OS; the topology
/// comes back rewritten to those ports (so phones and profiles see the real URLs).
pub(crate) async fn seed_clusters() -> (emroam_server::Topology, emroam_server::Running) {
    start_clusters(include_str!("../../../profiles/topologies/seed.toml")).await
}

/// Every cluster of the topology `src`, in-process on ports the OS picks: the topology with
/// those ports, and the clusters.
pub(crate) async fn start_clusters(src: &str) -> (emroam_server::Topology, emroam_server::Running) {
    let mut topo = emroam_server::Topology::parse(src).unwrap();
    let listeners = emroam_server::bind_ephemeral(&mut topo).await.unwrap();
    let running = emroam_server::start(
        &topo,
        listeners,
        &emroam_server::Options::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    (topo, running)
}

/// Waits (10 s at most) until `cluster`'s ILS places `dn` at cluster `at`.
pub(crate) async fn until_placed(
    running: &emroam_server::Running,
    cluster: &str,
    dn: &str,
    at: &str,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while running
        .cluster(cluster)
        .unwrap()
        .locate_dn(dn)
        .map(|l| l.cluster)
        .as_deref()
        != Some(at)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "ILS did not place {dn} at {at}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The spec of `device`, a phone of cluster `c` that boots from its config file.
pub(crate) fn booting_spec(
    c: &emroam_server::topology::ClusterSpec,
    device: &str,
) -> emroam_emulator::phone::PhoneSpec {
    emroam_emulator::phone::PhoneSpec {
        device: device.into(),
        model: emroam_emulator::phone::Model::from_topology_name("Cisco 8865"),
        config_url: Some(format!(
            "http://{}:{}/{device}.cnf.xml",
            c.address, c.ports.config
        )),
        service_url: None,
    }
}

/// An `emroam phone --sip` run of `device` (cluster `c`) doing `tasks`: no calls taken after,
/// no digest credentials.
pub(crate) fn sip_phone_config(
    c: &emroam_server::topology::ClusterSpec,
    device: &str,
    tasks: Vec<emroam_emulator::phone::Task>,
) -> emroam::cmd::phone::PhoneConfig {
    emroam::cmd::phone::PhoneConfig {
        spec: booting_spec(c, device),
        tasks,
        timeout: Duration::from_secs(5),
        step: false,
        sip: true,
        answer_for: None,
        answer: emroam_emulator::phone::sipua::AnswerPolicy::default(),
        digest: None,
    }
}
