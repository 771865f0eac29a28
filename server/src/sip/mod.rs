//! A cluster's SIP registrar and proxy over UDP (an RFC 3261 subset), and the
//! `service-control` NOTIFY that restarts a phone after an EM login or logout.
//!
//! One task per cluster owns the socket ([`serve`]); state lives in a [`Sip`] handle (short
//! std locks, never held across `.await`). Parsing is [`emroam_protocol::sip`]'s. This file
//! dispatches one datagram ([`Sip::handle`]) and runs the timers; the parts:
//! - `registrar`: REGISTER and bindings;
//! - `auth`: digest authentication (nonces, checking credentials);
//! - `proxy`: INVITE routing, in-dialog forwarding, responses;
//! - `transactions`: what is remembered to absorb UDP retransmissions;
//! - `notify`: the restart NOTIFYs;
//! - `overload`: call throttling (CUCM's Code Yellow) on the socket's measured queue delay.
//!
//! The choices behind each status code are in `docs/decisions.md`.

mod auth;
mod bindings;
mod notify;
mod overload;
mod proxy;
mod registrar;
mod transactions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use emroam_protocol::sip::{self, Message, StartLine};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use transactions::{LINGER, Out, RETRANSMITTED, Recent, Txn, txn_key};

use crate::cluster::Cluster;
use crate::sync::{LockExt, RwLockExt};

/// Timers and limits of a cluster's SIP side.
#[derive(Debug, Clone, Copy)]
pub struct SipOptions {
    /// How long a phone has to answer an INVITE with anything before the caller gets 480.
    pub no_answer: Duration,
    /// How long a trunk has before the caller gets 503.
    pub trunk_no_answer: Duration,
    /// Call throttling: a growing share of new calls is refused with 503 while the mean queue
    /// delay of the last ten datagrams exceeds this (CUCM's Code Yellow Entry Latency); zero
    /// turns throttling off.
    pub code_yellow_entry: Duration,
    /// Throttling ends when the mean delay falls below this share of the entry latency, in
    /// percent (CUCM's Code Yellow Exit Latency).
    pub code_yellow_exit_percent: u32,
    /// The `Retry-After` of a throttled call's 503, in seconds.
    pub retry_after_secs: u32,
}

impl Default for SipOptions {
    fn default() -> SipOptions {
        SipOptions {
            no_answer: Duration::from_secs(2),
            trunk_no_answer: Duration::from_secs(1),
            code_yellow_entry: Duration::from_millis(100),
            code_yellow_exit_percent: 40,
            retry_after_secs: 1,
        }
    }
}

/// One registered contact of a line.
#[derive(Debug, Clone)]
struct Binding {
    device: String,
    contact: String,
    addr: SocketAddr,
    register_call_id: String,
    expires: Instant,
}

/// SIP counters of one cluster (emroam's own; CUCM's RTMT objects differ). [`Sip::counters`]
/// snapshots them as [`SipCounters`]: `/metrics.json` shows them under `sip` by field name,
/// `/metrics` as the `emroam_sip_*` families named here (label `cluster` on each).
#[derive(Debug, Default)]
struct Counters {
    /// `emroam_sip_registers_total`: REGISTERs accepted (refreshes included).
    registers: AtomicU64,
    /// `emroam_sip_registers_refused_total{code="403"}`: no instance, or an unknown device.
    register_refused_403: AtomicU64,
    /// `emroam_sip_registers_refused_total{code="404"}`: a line the device's profile lacks.
    register_refused_404: AtomicU64,
    /// `emroam_sip_unregisters_total`: bindings removed by expiry 0.
    unregisters: AtomicU64,
    /// `emroam_sip_invites_total`: new calls (initial INVITEs).
    invites: AtomicU64,
    /// `emroam_sip_invites_routed_total{route="local"}`.
    routed_local: AtomicU64,
    /// `emroam_sip_invites_routed_total{route="trunk"}`.
    routed_trunk: AtomicU64,
    /// `emroam_sip_invites_failed_total{code="404"}`.
    not_found: AtomicU64,
    /// `emroam_sip_invites_failed_total{code="480"}`.
    unavailable: AtomicU64,
    /// `emroam_sip_invites_failed_total{code="503"}`.
    trunk_down: AtomicU64,
    /// `emroam_sip_invites_throttled_total`: new calls refused with 503 in Code Yellow.
    throttled: AtomicU64,
    /// `emroam_sip_trunk_throttled_total`: new calls refused here with 503 because the trunk
    /// peer they would go to asked for fewer (RFC 7339 `oc`).
    trunk_throttled: AtomicU64,
    /// `emroam_sip_notifies_total`: service-control NOTIFYs sent.
    notifies: AtomicU64,
    /// `emroam_sip_malformed_total`: datagrams that did not parse.
    malformed: AtomicU64,
    /// `emroam_sip_registrations_expired_total`: bindings dropped because the phone did not
    /// refresh in time (within a second of expiry).
    registrations_expired: AtomicU64,
    /// `emroam_sip_auth_challenges_total`: requests without credentials from a phone whose
    /// security profile has digest on, answered 401/407 with a challenge.
    auth_challenges: AtomicU64,
    /// `emroam_sip_auth_failures_total{reason="wrong"}`: wrong user, password or nonce.
    auth_wrong: AtomicU64,
    /// `emroam_sip_auth_failures_total{reason="stale"}`: an expired or replayed nonce.
    auth_stale: AtomicU64,
    /// `emroam_sip_auth_failures_total{reason="malformed"}`: an unparsable header (400).
    auth_malformed: AtomicU64,
    /// `emroam_sip_cancels_forwarded_total`.
    cancels_forwarded: AtomicU64,
    /// `emroam_sip_byes_forwarded_total`.
    byes_forwarded: AtomicU64,
    /// `emroam_sip_retransmissions_absorbed_total{method=…}`: retransmissions recognised, by
    /// [`RETRANSMITTED`] method (`retransmissions_absorbed` in the snapshot).
    retransmissions: [AtomicU64; 4],
}

/// A snapshot of a cluster's SIP counters and gauges: the `/metrics.json` document's.
pub use emroam_schema::counters::SipCounters;

#[derive(Debug)]
struct Inner {
    cluster: Cluster,
    opts: SipOptions,
    /// Our `host:port` for Via, Record-Route and NOTIFY (set once bound).
    local: RwLock<String>,
    /// Line → contacts (a shared line may have several), indexed by device.
    bindings: Mutex<bindings::Bindings>,
    /// Our Via branch → forwarded INVITE.
    txns: Mutex<HashMap<String, Txn>>,
    /// Our Via branch → (next hop, Request-URI, forget-at) of INVITEs that ended with a
    /// non-2xx, for the hop-by-hop ACK.
    done: Mutex<HashMap<String, (SocketAddr, String, Instant)>>,
    /// Cluster ID → SIP address (the topology's, overridden by in-process bound ones).
    peers: RwLock<HashMap<String, SocketAddr>>,
    /// Directory number → its user's home cluster, for every cluster (ILS Global Dial Plan
    /// Replication's learned numbers; shared by every cluster of the process).
    homes: Arc<HashMap<String, String>>,
    /// Finished transactions, for retransmissions ([`Recent`]).
    recent: Mutex<Recent>,
    /// When lapsed bindings are next swept out (at most once a second: the sweep walks all).
    next_purge: Mutex<Instant>,
    counters: Counters,
    /// Call throttling on the socket's queue delay.
    throttle: overload::Throttle,
    /// What trunk peers asked of us (RFC 7339 `oc`).
    peer_reports: overload::PeerReports,
    /// Digest authentication (nonce key, nonce counts seen).
    auth: auth::Auth,
    seq: AtomicU64,
}

/// A cluster's SIP state: registrations, forwarded INVITEs, counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sip {
    inner: Arc<Inner>,
}

impl Sip {
    /// Every user's directory numbers (their profiles' lines and primary extension) by home
    /// cluster: the numbers Global Dial Plan Replication learns.
    pub fn homes_of(topo: &crate::topology::Topology) -> HashMap<String, String> {
        let mut m = HashMap::new();
        let profiles = topo.profile_map();
        for u in &topo.users {
            for p in &u.profiles {
                if let Some(p) = profiles.get(p.as_str()) {
                    for l in &p.lines {
                        m.entry(l.dn.clone()).or_insert_with(|| u.home.clone());
                    }
                }
            }
            if let Some(e) = &u.primary_extension {
                m.entry(e.clone()).or_insert_with(|| u.home.clone());
            }
        }
        m
    }

    /// A cluster's SIP state; `peers` gives every cluster's SIP address, `homes` every
    /// number's home cluster ([`Sip::homes_of`]).
    pub fn new(
        cluster: Cluster,
        peers: HashMap<String, SocketAddr>,
        homes: Arc<HashMap<String, String>>,
        opts: SipOptions,
    ) -> Sip {
        let local = format!("{}:{}", cluster.spec().address, cluster.spec().ports.sip);
        Sip {
            inner: Arc::new(Inner {
                cluster,
                opts,
                local: RwLock::new(local),
                bindings: Mutex::new(bindings::Bindings::default()),
                txns: Mutex::new(HashMap::new()),
                done: Mutex::new(HashMap::new()),
                peers: RwLock::new(peers),
                homes,
                recent: Mutex::new(Recent::default()),
                next_purge: Mutex::new(Instant::now()),
                counters: Counters::default(),
                throttle: overload::Throttle::new(
                    opts.code_yellow_entry,
                    opts.code_yellow_exit_percent,
                ),
                peer_reports: overload::PeerReports::default(),
                auth: auth::Auth::new(),
                seq: AtomicU64::new(1),
            }),
        }
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// Sets peers' SIP addresses (in-process clusters on ephemeral ports).
    pub fn set_peers(&self, peers: HashMap<String, SocketAddr>) {
        *self.inner.peers.write_locked() = peers;
    }

    /// Our `host:port`.
    pub fn local(&self) -> String {
        self.inner.local.read_locked().clone()
    }

    /// Counters now.
    pub fn counters(&self) -> SipCounters {
        let c = &self.inner.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SipCounters {
            registers: g(&c.registers),
            register_refused_403: g(&c.register_refused_403),
            register_refused_404: g(&c.register_refused_404),
            unregisters: g(&c.unregisters),
            invites: g(&c.invites),
            routed_local: g(&c.routed_local),
            routed_trunk: g(&c.routed_trunk),
            not_found: g(&c.not_found),
            unavailable: g(&c.unavailable),
            trunk_down: g(&c.trunk_down),
            throttled: g(&c.throttled),
            trunk_throttled: g(&c.trunk_throttled),
            code_yellow: u64::from(self.inner.throttle.yellow()),
            throttle_percent: self.inner.throttle.refused_pct(),
            queue_delay_us: self.inner.throttle.mean_delay_us(),
            datagrams_dropped: self.inner.throttle.dropped(),
            notifies: g(&c.notifies),
            malformed: g(&c.malformed),
            registrations_expired: g(&c.registrations_expired),
            // Gauges: `emroam_sip_bindings` (line bindings live now) and
            // `emroam_sip_invite_transactions` (INVITEs forwarded, final response not yet seen).
            bindings: self.binding_count() as u64,
            invite_transactions: self.inner.txns.locked().len() as u64,
            auth_challenges: g(&c.auth_challenges),
            auth_wrong: g(&c.auth_wrong),
            auth_stale: g(&c.auth_stale),
            auth_malformed: g(&c.auth_malformed),
            cancels_forwarded: g(&c.cancels_forwarded),
            byes_forwarded: g(&c.byes_forwarded),
            retransmissions_absorbed: RETRANSMITTED
                .iter()
                .zip(&c.retransmissions)
                .map(|(m, a)| ((*m).to_owned(), g(a)))
                .collect(),
        }
    }

    fn next(&self) -> u64 {
        self.inner.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn bump(&self, f: impl FnOnce(&Counters) -> &AtomicU64) {
        f(&self.inner.counters).fetch_add(1, Ordering::Relaxed);
    }

    fn bump_retransmission(&self, method: &str) {
        if let Some(i) = RETRANSMITTED.iter().position(|m| *m == method) {
            self.inner.counters.retransmissions[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Remembers what was sent for a finished transaction, for its retransmissions.
    fn remember(&self, key: String, sent: Out, now: Instant) {
        self.inner.recent.locked().insert(key, sent, now + LINGER);
    }

    /// Handles one datagram from `from`; returns what to send where. Callable without a socket.
    pub fn handle(
        &self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
    ) -> Vec<(Vec<u8>, SocketAddr)> {
        self.handle_queued(datagram, from, now, Duration::ZERO, None)
    }

    /// [`Sip::handle`] for a datagram that waited `waited` in the socket's queue, read with
    /// the kernel's count of datagrams `dropped` on a full queue (if known): both feed call
    /// throttling before the datagram is handled.
    pub fn handle_queued(
        &self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        waited: Duration,
        dropped: Option<u64>,
    ) -> Vec<(Vec<u8>, SocketAddr)> {
        if !self.inner.opts.code_yellow_entry.is_zero() {
            self.inner.throttle.observe(waited, dropped);
        }
        let mut out = Vec::new();
        if datagram.iter().all(|b| b.is_ascii_whitespace()) {
            return out; // keep-alive
        }
        let msg = match sip::parse(datagram) {
            Ok(m) => m,
            Err(e) => {
                self.bump(|c| &c.malformed);
                tracing::debug!(cluster = %self.inner.cluster.id(), %from, error = %e, "malformed SIP");
                if let Some(resp) = bad_request(datagram) {
                    out.push((resp, from));
                }
                return out;
            }
        };
        match &msg.start {
            StartLine::Response { .. } => self.on_response(msg, from, now, &mut out),
            StartLine::Request { .. } => self.on_request(msg, from, now, &mut out),
        }
        out
    }

    fn reply(&self, req: &Message, code: u16, to: SocketAddr, out: &mut Out) {
        self.reply_with(req, code, None, to, out);
    }

    fn reply_with(
        &self,
        req: &Message,
        code: u16,
        extra: Option<(&str, String)>,
        to: SocketAddr,
        out: &mut Out,
    ) {
        let tag = format!("em{}", self.next());
        let mut r = Message::response_to(req, code, (code > 100).then_some(tag.as_str()))
            .with("Server", "Cisco-CUCM12.5");
        if let Some((name, value)) = extra {
            r = r.with(name, value);
        }
        self.report_overload(&mut r);
        out.push((r.render(), to));
    }

    fn on_request(&self, mut req: Message, from: SocketAddr, now: Instant, out: &mut Out) {
        // RFC 3261 §18.2.1 / RFC 3581: note where the request really came from.
        if let Some(v) = req.headers.iter_mut().find(|(n, _)| n == "Via") {
            // Only the top Via of a comma-separated list is the sender's.
            let list: Vec<String> = sip::split_list(&v.1)
                .into_iter()
                .map(str::to_owned)
                .collect();
            let mut via = list.first().cloned().unwrap_or_default();
            if sip::param(&via, "received").is_none() {
                via.push_str(&format!(";received={}", from.ip()));
            }
            if sip::param(&via, "rport") == Some("") {
                via = via.replace(";rport;", ";").replace(";rport", "");
            }
            if sip::param(&via, "rport").is_none() {
                via.push_str(&format!(";rport={}", from.port()));
            }
            let mut all = vec![via];
            all.extend(list.into_iter().skip(1));
            v.1 = all.join(", ");
        }
        let method = req.method().unwrap_or("").to_owned();
        let local = self.local();
        // A Route naming us is ours to remove (loose routing).
        if let Some(top) = req
            .header("Route")
            .and_then(sip::first_in_list)
            .map(str::to_owned)
            && self.is_me(sip::addr_uri(&top), &local)
        {
            pop_first_route(&mut req);
        }
        // A retransmission of a finished transaction: what was sent the first time, again.
        let key = txn_key(&req).filter(|_| RETRANSMITTED.contains(&method.as_str()));
        if let Some(k) = &key {
            let again = self.inner.recent.locked().get(k);
            if let Some(again) = again {
                self.bump_retransmission(&method);
                out.extend(again);
                return;
            }
        }
        let start = out.len();
        if method == "ACK" || method == "CANCEL" || method == "BYE" || has_to_tag(&req) {
            self.forward_in_dialog(req, from, &local, out);
        } else {
            match method.as_str() {
                "REGISTER" => self.on_register(&req, from, now, out),
                "OPTIONS" => self.reply(&req, 200, from, out),
                // An INVITE's transaction ends with its final response (remembered then).
                "INVITE" => return self.on_invite(req, key, from, now, &local, out),
                _ => self.reply(&req, 405, from, out),
            }
        }
        // REGISTER, BYE and CANCEL end at once (the proxy is stateless for them).
        if let Some(k) = key
            && method != "INVITE"
        {
            self.remember(k, out[start..].to_vec(), now);
        }
    }

    fn is_me(&self, uri: &str, local: &str) -> bool {
        sip::uri_host_port(uri).is_some_and(|(h, p)| format!("{h}:{p}") == local)
    }

    /// Timers: INVITEs whose next hop did not answer in time get 480/503 upstream; finished
    /// transactions and lapsed bindings are forgotten.
    pub fn expire(&self, now: Instant) -> Vec<(Vec<u8>, SocketAddr)> {
        let due: Vec<Txn> = {
            let mut t = self.inner.txns.locked();
            let keys: Vec<String> = t
                .iter()
                .filter(|(_, x)| x.deadline <= now && !x.answered)
                .map(|(k, _)| k.clone())
                .collect();
            // Answered INVITEs whose final never came are forgotten after a minute.
            t.retain(|_, x| x.deadline + Duration::from_secs(60) > now);
            keys.iter().filter_map(|k| t.remove(k)).collect()
        };
        self.inner
            .done
            .locked()
            .retain(|_, (_, _, until)| *until > now);
        self.inner.recent.locked().expire(now);
        self.purge_bindings(now);
        let mut out = Vec::new();
        for x in due {
            let code = if x.trunk {
                self.bump(|c| &c.trunk_down);
                503
            } else {
                self.bump(|c| &c.unavailable);
                480
            };
            self.final_reply(&x.req, x.key, code, x.upstream, now, &mut out);
        }
        out
    }
}

fn has_to_tag(m: &Message) -> bool {
    m.header("To").and_then(|t| sip::param(t, "tag")).is_some()
}

fn pop_first_route(m: &mut Message) {
    if let Some(i) = m.headers.iter().position(|(n, _)| n == "Route") {
        let v = m.headers[i].1.clone();
        let rest: Vec<&str> = sip::split_list(&v).into_iter().skip(1).collect();
        if rest.is_empty() {
            m.headers.remove(i);
        } else {
            m.headers[i].1 = rest.join(", ");
        }
    }
}

/// A 400 for a request that did not parse, when enough of it is readable to answer.
fn bad_request(datagram: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(datagram.get(..datagram.len().min(sip::MAX_MESSAGE))?).ok()?;
    let head = text.split("\r\n\r\n").next()?;
    let first = head.lines().next()?;
    if first.starts_with("SIP/") {
        return None; // never answer a response
    }
    let mut r = Message {
        start: StartLine::Response {
            code: 400,
            reason: "Bad Request".into(),
        },
        headers: Vec::new(),
        body: Vec::new(),
    };
    for line in head.lines().skip(1) {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            let long = match n {
                "v" => "Via",
                "f" => "From",
                "t" => "To",
                "i" => "Call-ID",
                _ => n,
            };
            if ["Via", "From", "To", "Call-ID", "CSeq"]
                .iter()
                .any(|h| h.eq_ignore_ascii_case(long))
            {
                r.headers.push((long.to_owned(), v.trim().to_owned()));
            }
        }
    }
    // Without the headers a response must echo there is no answer to send.
    for h in ["Via", "From", "To", "Call-ID", "CSeq"] {
        r.header(h)?;
    }
    Some(r.render())
}

/// Serves a cluster's SIP on a bound UDP socket until `shutdown` is cancelled.
pub async fn serve(socket: UdpSocket, sip: Sip, shutdown: CancellationToken) {
    if let Ok(a) = socket.local_addr() {
        let host = if a.ip().is_unspecified() {
            sip.inner.cluster.spec().address
        } else {
            a.ip()
        };
        *sip.inner.local.write_locked() = format!("{host}:{}", a.port());
    }
    overload::prepare(&socket);
    let socket = Arc::new(socket);
    let mut restarts = sip.inner.cluster.watch_restarts();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; 65_536];
    let send = |out: Out| {
        let socket = socket.clone();
        async move {
            for (bytes, to) in out {
                if let Err(e) = socket.send_to(&bytes, to).await {
                    tracing::debug!(%to, error = %e, "SIP send failed");
                }
            }
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            r = overload::recv_stamped(&socket, &mut buf) => {
                let got = match r {
                    Ok(x) => x,
                    Err(e) => {
                        // ICMP port unreachable surfaces here on some systems: keep serving.
                        tracing::debug!(error = %e, "SIP recv");
                        continue;
                    }
                };
                if !sip.inner.cluster.listeners_up() {
                    continue;
                }
                let n = got.len.min(buf.len());
                // One task serves every datagram: a bug that panics on one must not take the
                // cluster's SIP down with it (a Route of only commas once did). The datagram is
                // dropped and the panic logged.
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sip.handle_queued(&buf[..n], got.from, Instant::now(), got.waited, got.dropped)
                }));
                let Ok(out) = handled else {
                    tracing::error!(cluster = %sip.inner.cluster.id(), from = %got.from, "a SIP datagram hit a bug (panic); dropped, still serving");
                    continue;
                };
                send(out).await;
            }
            _ = tick.tick() => {
                let out = sip.expire(Instant::now());
                send(out).await;
            }
            r = restarts.changed() => {
                if r.is_err() {
                    break;
                }
                let out = sip.restart_notifies();
                send(out).await;
            }
        }
    }
}
