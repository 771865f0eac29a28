//! A cluster's SIP registrar and proxy over UDP (an RFC 3261 subset), and the
//! `service-control` NOTIFY that restarts a phone after an EM login or logout.
//!
//! One task per cluster owns the socket ([`serve`]); state lives in a [`Sip`] handle (short
//! std locks, never held across `.await`). Parsing is [`emroam_protocol::sip`]'s.
//!
//! Choices (CUCM's exact behaviour is UNCONFIRMED where noted):
//! - REGISTER: the device is `SEP` + the MAC in the Contact's `+sip.instance`. No instance,
//!   or a device this cluster does not know → **403 Forbidden**. A line (To user) that the
//!   device's current profile (the user's after EM login, the logout profile's otherwise) does
//!   not have → **404 Not Found**. Expiry as CUCM grants it: the asked one (the Contact's
//!   `expires`, else `Expires`, else 3600 s) cut to the cluster's SIP Station KeepAlive Interval
//!   ([`crate::params::ServiceParams::sip_station_keepalive_interval`], default 120 s, changeable
//!   at run time), carried in the 200's Contact `expires=` and `Expires`; `0` removes the
//!   binding. Asked values under 60 s are granted as asked (whether CUCM answers 423 instead is
//!   UNCONFIRMED). A binding not refreshed in time is gone: calls to it get 480 (or go where ILS
//!   says the number is), and it is counted as expired when dropped. A phone whose profile has no
//!   lines (the seed's logout profiles) registers its device name as the user
//!   (`To: <sip:SEP…@cluster>`), so the cluster can still restart it (UNCONFIRMED).
//! - Routing an INVITE to a number: registered here → that phone; else where ILS says it is
//!   now ([`Cluster::locate_dn`]; for numbers ILS does not place, the user's home cluster, as
//!   Global Dial Plan Replication would learn it) → over the SIP trunk to that cluster; a number this cluster
//!   owns but nobody has registered → **480 Temporarily Unavailable**; unknown → **404**. A
//!   request that came over a trunk is only delivered locally (no trunk loops).
//! - A next hop that does not answer an INVITE within [`SipOptions::no_answer`] (a phone: 2 s,
//!   a trunk: 1 s) → **480** for a phone and **503 Service Unavailable** for a trunk (CUCM
//!   turns an out-of-service trunk into cause 34 "no circuit", which it sends as 503). A
//!   cluster whose listeners are down (`listeners/stop`) ignores every datagram, so calls to
//!   it fail with 503 at the caller's cluster.
//! - Proxy: stateless forwarding with `Via` (our branch derived from the incoming one, so a
//!   CANCEL follows its INVITE and a retransmission is one downstream too) and `Record-Route`
//!   (`;lr`) so ACK and BYE come through the clusters; only INVITE keeps a small transaction
//!   for the no-answer timer. OPTIONS to the cluster is answered 200.
//! - UDP retransmissions (RFC 3261 §17.2; a phone resends at T1 = 500 ms, doubling): a request
//!   with the top Via branch, Call-ID and CSeq of one seen before is not new. An INVITE in
//!   progress gets 100 Trying again and goes onward again only while the next hop has said
//!   nothing; an INVITE already answered with a final gets that final again (2xx included,
//!   so a lost 200 is repaired); a REGISTER, BYE or CANCEL gets the same datagrams as the first
//!   time (our answer, and the same forwarded copy for BYE and CANCEL). None is counted again
//!   as a call, registration or forward; each is counted as absorbed. Finished transactions are
//!   remembered for 64·T1 = 32 s (Timers H and J). The cluster does not retransmit itself.
//! - [`crate::ClusterListeners::bind`] runs a cluster without SIP (warned) when its SIP port is
//!   taken, so topologies that predate SIP (5060 everywhere) still start.
//! - After EM login/logout ([`Cluster::take_pending_restarts`]) each registered device gets a
//!   NOTIFY with `action=restart` (or `reset`) carrying its REGISTER's Call-ID, and its
//!   bindings are dropped (the phone re-registers the lines of its new profile). A restart
//!   queued for a device that is not registered waits; when that device registers afresh (no
//!   live binding: it booted and read its current config) the restart is dropped as stale.
//!
//! Counters ([`SipCounters`]; emroam's own, CUCM's RTMT objects differ): in `/metrics.json`
//! under `sip` by field name, and in `/metrics` as (label `cluster` on each):
//! - `emroam_sip_registers_total`: REGISTERs accepted (refreshes included) — `registers`
//! - `emroam_sip_registers_refused_total{code="403"|"404"}` — `register_refused_403`, `_404`
//! - `emroam_sip_unregisters_total`: bindings removed by expiry 0 — `unregisters`
//! - `emroam_sip_registrations_expired_total`: bindings dropped because the phone did not
//!   refresh in time (within a second of expiry) — `registrations_expired`
//! - `emroam_sip_bindings` (gauge): line bindings registered now — `bindings`
//! - `emroam_sip_invites_total`: new calls (initial INVITEs) — `invites`
//! - `emroam_sip_invites_routed_total{route="local"|"trunk"}` — `routed_local`, `routed_trunk`
//! - `emroam_sip_invites_failed_total{code="404"|"480"|"503"}` — `not_found`, `unavailable`,
//!   `trunk_down`
//! - `emroam_sip_invite_transactions` (gauge): INVITEs forwarded, final response not yet
//!   seen — `invite_transactions`
//! - `emroam_sip_cancels_forwarded_total`, `emroam_sip_byes_forwarded_total` —
//!   `cancels_forwarded`, `byes_forwarded`
//! - `emroam_sip_notifies_total`: service-control NOTIFYs sent — `notifies`
//! - `emroam_sip_malformed_total`: datagrams that did not parse — `malformed`
//! - `emroam_sip_retransmissions_absorbed_total{method="INVITE"|"REGISTER"|"BYE"|"CANCEL"}`:
//!   retransmissions recognised (see above) — `retransmissions_absorbed` (method → count)

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use emroam_protocol::sip::{self, Message, StartLine};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::{Cluster, RestartKind};

/// Private header marking a request that came over a trunk (delivered locally only).
const TRUNK_HEADER: &str = "X-Emroam-Trunk";

/// How long a finished transaction still answers retransmissions: 64·T1 with T1 = 500 ms
/// (RFC 3261 Timers H and J over UDP).
const LINGER: Duration = Duration::from_millis(64 * 500);

/// Most finished transactions remembered at once (a REGISTER storm of 100,000 phones fits; the
/// oldest are forgotten first, so memory stays bounded under any load).
const RECENT_MAX: usize = 100_000;

/// Methods whose retransmissions are recognised, in counter order.
const RETRANSMITTED: [&str; 4] = ["INVITE", "REGISTER", "BYE", "CANCEL"];

type Out = Vec<(Vec<u8>, SocketAddr)>;

/// Timers and limits of a cluster's SIP side.
#[derive(Debug, Clone, Copy)]
pub struct SipOptions {
    /// How long a phone has to answer an INVITE with anything before the caller gets 480.
    pub no_answer: Duration,
    /// How long a trunk has before the caller gets 503.
    pub trunk_no_answer: Duration,
}

impl Default for SipOptions {
    fn default() -> SipOptions {
        SipOptions {
            no_answer: Duration::from_secs(2),
            trunk_no_answer: Duration::from_secs(1),
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

/// An INVITE this cluster forwarded and waits to hear about.
#[derive(Debug)]
struct Txn {
    /// The request as received (to answer 480/503 upstream).
    req: Message,
    upstream: SocketAddr,
    deadline: Instant,
    trunk: bool,
    /// A response came back: the timer no longer applies.
    answered: bool,
    /// Where the INVITE went and its new Request-URI (for CANCEL and a non-2xx ACK).
    target: SocketAddr,
    uri: String,
    /// The incoming transaction ([`txn_key`]): a retransmission must match it.
    key: Option<String>,
    /// The INVITE as forwarded, sent again for a retransmission while `target` is silent.
    fwd: Vec<u8>,
}

/// Transactions that ended recently and what was sent for them, so a retransmission gets the
/// same datagrams again (RFC 3261 §17.2: the server transaction absorbs it).
#[derive(Debug, Default)]
struct Recent {
    sent: HashMap<String, (Out, Instant)>,
    /// Keys in expiry order: every entry lingers equally long, so the front expires first.
    order: VecDeque<(Instant, String)>,
}

impl Recent {
    fn get(&self, key: &str) -> Option<Out> {
        self.sent.get(key).map(|(o, _)| o.clone())
    }

    fn insert(&mut self, key: String, out: Out, until: Instant) {
        if self.order.len() >= RECENT_MAX
            && let Some((_, k)) = self.order.pop_front()
        {
            self.sent.remove(&k);
        }
        self.order.push_back((until, key.clone()));
        self.sent.insert(key, (out, until));
    }

    fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, k)) = self.order.pop_front()
                && self.sent.get(&k).is_some_and(|(_, until)| *until <= now)
            {
                self.sent.remove(&k);
            }
        }
    }
}

/// What identifies a request's transaction for retransmissions: its top Via branch (RFC 3261
/// cookie `z9hG4bK` only), Call-ID and CSeq. `None`: no usable branch, never matched.
fn txn_key(req: &Message) -> Option<String> {
    let branch = req.top_branch().filter(|b| b.starts_with("z9hG4bK"))?;
    let (n, method) = req.cseq()?;
    Some(format!("{branch} {} {n} {method}", req.call_id()))
}

/// SIP counters of one cluster.
#[derive(Debug, Default)]
struct Counters {
    registers: AtomicU64,
    register_refused_403: AtomicU64,
    register_refused_404: AtomicU64,
    unregisters: AtomicU64,
    invites: AtomicU64,
    routed_local: AtomicU64,
    routed_trunk: AtomicU64,
    not_found: AtomicU64,
    unavailable: AtomicU64,
    trunk_down: AtomicU64,
    notifies: AtomicU64,
    malformed: AtomicU64,
    registrations_expired: AtomicU64,
    cancels_forwarded: AtomicU64,
    byes_forwarded: AtomicU64,
    /// By [`RETRANSMITTED`] method.
    retransmissions: [AtomicU64; 4],
}

/// A snapshot of a cluster's SIP counters and gauges: the `/metrics.json` document's.
pub use emroam_schema::counters::SipCounters;

/// Where a [`Cluster`] finds the SIP side serving it (for its counters); weak, because that
/// side holds the cluster.
#[derive(Debug, Default)]
pub(crate) struct SipSlot(Mutex<Weak<Inner>>);

impl SipSlot {
    /// Points the slot at `sip` (the latest wins).
    pub(crate) fn set(&self, sip: &Sip) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(&sip.inner);
    }

    /// The SIP side, while it is alive.
    pub(crate) fn get(&self) -> Option<Sip> {
        let w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        w.upgrade().map(|inner| Sip { inner })
    }
}

#[derive(Debug)]
struct Inner {
    cluster: Cluster,
    opts: SipOptions,
    /// Our `host:port` for Via, Record-Route and NOTIFY (set once bound).
    local: RwLock<String>,
    /// Line → contacts (a shared line may have several).
    bindings: Mutex<HashMap<String, Vec<Binding>>>,
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
    seq: AtomicU64,
}

/// A cluster's SIP state: registrations, forwarded INVITEs, counters. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sip {
    inner: Arc<Inner>,
}

fn derived_branch(incoming: &str, cluster: &str) -> String {
    let mut h = std::hash::DefaultHasher::new();
    incoming.hash(&mut h);
    cluster.hash(&mut h);
    format!("z9hG4bK-em-{:016x}", h.finish())
}

fn parse_addr(host: &str, port: u16) -> Option<SocketAddr> {
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

impl Sip {
    /// Every user's directory numbers (their profiles' lines and primary extension) by home
    /// cluster: the numbers Global Dial Plan Replication learns.
    pub fn homes_of(topo: &crate::topology::Topology) -> HashMap<String, String> {
        let mut m = HashMap::new();
        for u in &topo.users {
            for p in &u.profiles {
                if let Some(p) = topo.profiles.iter().find(|x| &x.name == p) {
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
        let sip = Sip {
            inner: Arc::new(Inner {
                cluster,
                opts,
                local: RwLock::new(local),
                bindings: Mutex::new(HashMap::new()),
                txns: Mutex::new(HashMap::new()),
                done: Mutex::new(HashMap::new()),
                peers: RwLock::new(peers),
                homes,
                recent: Mutex::new(Recent::default()),
                next_purge: Mutex::new(Instant::now()),
                counters: Counters::default(),
                seq: AtomicU64::new(1),
            }),
        };
        sip.inner.cluster.attach_sip(&sip);
        sip
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.inner.cluster
    }

    /// Sets peers' SIP addresses (in-process clusters on ephemeral ports).
    pub fn set_peers(&self, peers: HashMap<String, SocketAddr>) {
        *self.inner.peers.write().unwrap_or_else(|e| e.into_inner()) = peers;
    }

    /// Our `host:port`.
    pub fn local(&self) -> String {
        self.inner
            .local
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
            notifies: g(&c.notifies),
            malformed: g(&c.malformed),
            registrations_expired: g(&c.registrations_expired),
            bindings: self.binding_count() as u64,
            invite_transactions: self
                .inner
                .txns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len() as u64,
            cancels_forwarded: g(&c.cancels_forwarded),
            byes_forwarded: g(&c.byes_forwarded),
            retransmissions_absorbed: RETRANSMITTED
                .iter()
                .zip(&c.retransmissions)
                .map(|(m, a)| ((*m).to_owned(), g(a)))
                .collect(),
        }
    }

    /// The device registered for a line now, if any (latest registration).
    pub fn registered_device(&self, dn: &str) -> Option<String> {
        let now = Instant::now();
        let b = self
            .inner
            .bindings
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        b.get(dn)?
            .iter()
            .rev()
            .find(|b| b.expires > now)
            .map(|b| b.device.clone())
    }

    /// How many line bindings are live.
    pub fn binding_count(&self) -> usize {
        let now = Instant::now();
        let b = self
            .inner
            .bindings
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        b.values()
            .map(|v| v.iter().filter(|b| b.expires > now).count())
            .sum()
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
        self.inner
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, sent, now + LINGER);
    }

    /// Answers an initial INVITE with a final status here, remembering it for retransmissions.
    fn final_reply(
        &self,
        req: &Message,
        key: Option<String>,
        code: u16,
        to: SocketAddr,
        now: Instant,
        out: &mut Out,
    ) {
        let mut sent = Vec::new();
        self.reply(req, code, to, &mut sent);
        if let Some(k) = key {
            self.remember(k, sent.clone(), now);
        }
        out.extend(sent);
    }

    /// Drops bindings whose expiry passed (at most once a second), counting them.
    fn purge_bindings(&self, now: Instant) {
        {
            let mut next = self
                .inner
                .next_purge
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if *next > now {
                return;
            }
            *next = now + Duration::from_secs(1);
        }
        let mut gone = 0;
        {
            let mut b = self
                .inner
                .bindings
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for v in b.values_mut() {
                let before = v.len();
                v.retain(|x| x.expires > now);
                gone += before - v.len();
            }
            b.retain(|_, v| !v.is_empty());
        }
        if gone > 0 {
            self.inner
                .counters
                .registrations_expired
                .fetch_add(gone as u64, Ordering::Relaxed);
        }
    }

    /// Handles one datagram from `from`; returns what to send where. Callable without a socket.
    pub fn handle(
        &self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
    ) -> Vec<(Vec<u8>, SocketAddr)> {
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
            StartLine::Response { .. } => self.on_response(msg, now, &mut out),
            StartLine::Request { .. } => self.on_request(msg, from, now, &mut out),
        }
        out
    }

    fn reply(
        &self,
        req: &Message,
        code: u16,
        to: SocketAddr,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
        let tag = format!("em{}", self.next());
        let r = Message::response_to(req, code, (code > 100).then_some(tag.as_str()))
            .with("Server", "Cisco-CUCM12.5");
        out.push((r.render(), to));
    }

    fn on_request(
        &self,
        mut req: Message,
        from: SocketAddr,
        now: Instant,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
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
            .map(|r| sip::split_list(r)[0].to_owned())
            && self.is_me(sip::addr_uri(&top), &local)
        {
            pop_first_route(&mut req);
        }
        // A retransmission of a finished transaction: what was sent the first time, again.
        let key = txn_key(&req).filter(|_| RETRANSMITTED.contains(&method.as_str()));
        if let Some(k) = &key {
            let again = self
                .inner
                .recent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(k);
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

    fn on_register(
        &self,
        req: &Message,
        from: SocketAddr,
        now: Instant,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
        let c = &self.inner.cluster;
        let Some(contact) = req.header("Contact").map(str::to_owned) else {
            // A query: answer 200 with nothing.
            self.reply(req, 200, from, out);
            return;
        };
        let device = sip::instance_mac(&contact).map(|m| format!("SEP{m}"));
        let Some(device) = device.filter(|d| c.phone(d).is_some()) else {
            self.bump(|c| &c.register_refused_403);
            self.reply(req, 403, from, out);
            return;
        };
        let dn = req
            .header("To")
            .and_then(|t| sip::uri_user(sip::addr_uri(t)).map(str::to_owned));
        let has_line = dn.as_deref().is_some_and(|dn| {
            dn == device
                || c.current_profile(&device)
                    .is_some_and(|p| p.lines.iter().any(|l| l.dn == dn))
        });
        let Some(dn) = dn.filter(|_| has_line) else {
            self.bump(|c| &c.register_refused_404);
            self.reply(req, 404, from, out);
            return;
        };
        let asked: u32 = sip::param(&contact, "expires")
            .and_then(|e| e.parse().ok())
            .or(req.expires())
            .unwrap_or(3600);
        // CUCM grants at most its SIP Station KeepAlive Interval (read per REGISTER, so a
        // change through the admin API applies to the next grant).
        let expires = asked.min(c.sip_keepalive_secs());
        let uri = sip::addr_uri(&contact).to_owned();
        let (lapsed, first) = {
            let mut b = self
                .inner
                .bindings
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // A device with no live binding anywhere is registering afresh (boot, or after a
            // restart): it has just read its current config.
            let first = !b
                .values()
                .any(|v| v.iter().any(|x| x.device == device && x.expires > now));
            let v = b.entry(dn.clone()).or_default();
            let before = v.len();
            v.retain(|b| b.expires > now);
            let lapsed = before - v.len();
            v.retain(|b| b.device != device);
            if expires > 0 {
                v.push(Binding {
                    device: device.clone(),
                    contact: uri.clone(),
                    addr: from,
                    register_call_id: req.call_id().to_owned(),
                    expires: now + Duration::from_secs(expires.into()),
                });
            }
            if v.is_empty() {
                b.remove(&dn);
            }
            (lapsed, first)
        };
        // A restart queued while the device was not registered (an EM login before the phone
        // booted) is stale once it registers afresh: delivered later, it would drop the
        // bindings of a phone that already has the new profile.
        if first && expires > 0 && c.pending_restarts().iter().any(|(d, _)| *d == device) {
            for (d, kind) in c.take_pending_restarts() {
                if d != device {
                    c.push_restart(&d, kind);
                }
            }
        }
        if lapsed > 0 {
            self.inner
                .counters
                .registrations_expired
                .fetch_add(lapsed as u64, Ordering::Relaxed);
        }
        if expires == 0 {
            self.bump(|c| &c.unregisters);
            self.reply(req, 200, from, out);
            return;
        }
        self.bump(|c| &c.registers);
        let tag = format!("em{}", self.next());
        let r = Message::response_to(req, 200, Some(&tag))
            .with("Contact", format!("<{uri}>;expires={expires}"))
            .with("Expires", expires.to_string())
            .with("Server", "Cisco-CUCM12.5");
        out.push((r.render(), from));
        tracing::debug!(cluster = %c.id(), %device, %dn, "registered");
    }

    /// The live contact of a line here whose device still has the line.
    fn local_target(&self, dn: &str, now: Instant) -> Option<Binding> {
        let b = {
            let b = self
                .inner
                .bindings
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            b.get(dn)?.iter().rev().find(|b| b.expires > now)?.clone()
        };
        let still = self
            .inner
            .cluster
            .current_profile(&b.device)
            .is_some_and(|p| p.lines.iter().any(|l| l.dn == dn));
        still.then_some(b)
    }

    fn on_invite(
        &self,
        mut req: Message,
        key: Option<String>,
        from: SocketAddr,
        now: Instant,
        local: &str,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
        let c = &self.inner.cluster;
        let in_branch = req.top_branch().unwrap_or("").to_owned();
        let branch = derived_branch(&in_branch, c.id());
        // A retransmission while the INVITE is in progress: 100 Trying again, and onward again
        // only while the next hop has not answered (it may have lost the first copy).
        if let Some(k) = &key {
            let again = self
                .inner
                .txns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&branch)
                .filter(|t| t.key.as_ref() == Some(k))
                .map(|t| (!t.answered).then(|| (t.fwd.clone(), t.target)));
            if let Some(onward) = again {
                self.bump_retransmission("INVITE");
                out.push((Message::response_to(&req, 100, None).render(), from));
                out.extend(onward);
                return;
            }
        }
        self.bump(|c| &c.invites);
        let mf: u32 = req
            .header("Max-Forwards")
            .and_then(|v| v.parse().ok())
            .unwrap_or(70);
        if mf == 0 {
            self.final_reply(&req, key, 483, from, now, out);
            return;
        }
        let uri = match &req.start {
            StartLine::Request { uri, .. } => uri.clone(),
            StartLine::Response { .. } => return,
        };
        let Some(dn) = sip::uri_user(&uri).map(str::to_owned) else {
            self.bump(|c| &c.not_found);
            self.final_reply(&req, key, 404, from, now, out);
            return;
        };
        let from_trunk = req.header(TRUNK_HEADER).is_some();
        let (target, new_uri, trunk) = if let Some(b) = self.local_target(&dn, now) {
            self.bump(|c| &c.routed_local);
            (b.addr, b.contact, false)
        } else {
            // A location record first (roaming superusers), else the number's home (GDPR).
            let at = c
                .locate_dn(&dn)
                .map(|l| l.cluster)
                .or_else(|| self.inner.homes.get(&dn).cloned());
            match at {
                Some(at) if at != c.id() && !from_trunk => {
                    let peer = self
                        .inner
                        .peers
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&at)
                        .copied();
                    let Some(peer) = peer else {
                        self.bump(|c| &c.trunk_down);
                        self.final_reply(&req, key, 503, from, now, out);
                        return;
                    };
                    self.bump(|c| &c.routed_trunk);
                    (peer, format!("sip:{dn}@{peer}"), true)
                }
                Some(_) => {
                    self.bump(|c| &c.unavailable);
                    self.final_reply(&req, key, 480, from, now, out);
                    return;
                }
                None => {
                    self.bump(|c| &c.not_found);
                    self.final_reply(&req, key, 404, from, now, out);
                    return;
                }
            }
        };
        // 100 Trying hop by hop, so the upstream stops its timer.
        let trying = Message::response_to(&req, 100, None);
        out.push((trying.render(), from));
        let original = req.clone();
        let new_uri_copy = new_uri.clone();
        req.start = StartLine::Request {
            method: "INVITE".into(),
            uri: new_uri,
        };
        req.set_header("Max-Forwards", (mf - 1).to_string());
        req.remove_header(TRUNK_HEADER);
        if trunk {
            req.headers.push((TRUNK_HEADER.into(), c.id().to_owned()));
        }
        req.headers
            .insert(0, ("Record-Route".into(), format!("<sip:{local};lr>")));
        req.headers.insert(
            0,
            ("Via".into(), format!("SIP/2.0/UDP {local};branch={branch}")),
        );
        let fwd = req.render();
        let wait = if trunk {
            self.inner.opts.trunk_no_answer
        } else {
            self.inner.opts.no_answer
        };
        self.inner
            .txns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                branch,
                Txn {
                    req: original,
                    upstream: from,
                    deadline: now + wait,
                    trunk,
                    answered: false,
                    target,
                    uri: new_uri_copy,
                    key,
                    fwd: fwd.clone(),
                },
            );
        out.push((fwd, target));
    }

    fn forward_in_dialog(
        &self,
        mut req: Message,
        from: SocketAddr,
        local: &str,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
        let method = req.method().unwrap_or("").to_owned();
        // The next hop: the next Route, else the Request-URI.
        let next_uri = match req.header("Route") {
            Some(r) => sip::addr_uri(sip::split_list(r)[0]).to_owned(),
            None => match &req.start {
                StartLine::Request { uri, .. } => uri.clone(),
                StartLine::Response { .. } => return,
            },
        };
        // CANCEL, and the ACK of a non-2xx, go where their INVITE went (same derived branch).
        if (method == "CANCEL" || method == "ACK")
            && req.header("Route").is_none()
            && self.is_me(&next_uri, local)
        {
            let branch = derived_branch(req.top_branch().unwrap_or(""), self.inner.cluster.id());
            let hop = if method == "CANCEL" {
                self.inner
                    .txns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&branch)
                    .map(|t| (t.target, t.uri.clone()))
            } else {
                self.inner
                    .done
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&branch)
                    .map(|(a, u, _)| (a, u))
            };
            if method == "CANCEL" {
                self.reply(&req, if hop.is_some() { 200 } else { 481 }, from, out);
            }
            if let Some((target, uri)) = hop {
                if method == "CANCEL" {
                    self.bump(|c| &c.cancels_forwarded);
                }
                req.start = StartLine::Request {
                    method: method.clone(),
                    uri,
                };
                req.remove_header(TRUNK_HEADER);
                req.headers.insert(
                    0,
                    ("Via".into(), format!("SIP/2.0/UDP {local};branch={branch}")),
                );
                out.push((req.render(), target));
            }
            return;
        }
        if self.is_me(&next_uri, local) && req.header("Route").is_none() {
            // Addressed to us and not a dialog we proxy.
            if method != "ACK" {
                self.reply(&req, if method == "OPTIONS" { 200 } else { 481 }, from, out);
            }
            return;
        }
        let Some(target) = sip::uri_host_port(&next_uri).and_then(|(h, p)| parse_addr(h, p)) else {
            if method != "ACK" {
                self.reply(&req, 404, from, out);
            }
            return;
        };
        let mf: u32 = req
            .header("Max-Forwards")
            .and_then(|v| v.parse().ok())
            .unwrap_or(70);
        if mf == 0 {
            if method != "ACK" {
                self.reply(&req, 483, from, out);
            }
            return;
        }
        req.set_header("Max-Forwards", (mf - 1).to_string());
        // Derived, so a retransmission goes on as the same transaction (a request without an
        // RFC 3261 branch gets a fresh one).
        let branch = match req.top_branch() {
            Some(b) if b.starts_with("z9hG4bK") => derived_branch(b, self.inner.cluster.id()),
            _ => format!("z9hG4bK-em-{}-{}", self.inner.cluster.id(), self.next()),
        };
        req.headers.insert(
            0,
            ("Via".into(), format!("SIP/2.0/UDP {local};branch={branch}")),
        );
        if method == "BYE" {
            self.bump(|c| &c.byes_forwarded);
        }
        out.push((req.render(), target));
    }

    fn on_response(&self, mut resp: Message, now: Instant, out: &mut Vec<(Vec<u8>, SocketAddr)>) {
        let Some(top) = resp.top_branch().map(str::to_owned) else {
            return;
        };
        if !top.starts_with("z9hG4bK-em-") {
            return; // not ours
        }
        let code = resp.code().unwrap_or(0);
        let method = resp.method().unwrap_or("").to_owned();
        // The incoming INVITE transaction this final response ends (remembered once relayed).
        let mut finished = None;
        if method == "INVITE" {
            let mut t = self.inner.txns.lock().unwrap_or_else(|e| e.into_inner());
            if code >= 200 {
                if let Some(x) = t.remove(&top) {
                    finished = x.key.clone();
                    if code >= 300 {
                        self.inner
                            .done
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(top.clone(), (x.target, x.uri, now + LINGER));
                    }
                }
            } else if let Some(x) = t.get_mut(&top) {
                x.answered = true;
            }
        }
        if code == 100 {
            return; // hop by hop
        }
        if method == "CANCEL" {
            return; // we answered the upstream CANCEL ourselves
        }
        // Pop our Via; the next says where the response goes.
        if let Some(i) = resp.headers.iter().position(|(n, _)| n == "Via") {
            let v = resp.headers[i].1.clone();
            let mut vias = sip::split_list(&v)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            if vias.len() > 1 {
                vias.remove(0);
                resp.headers[i].1 = vias.join(", ");
            } else {
                resp.headers.remove(i);
            }
        }
        let Some(next) = resp.header("Via") else {
            return; // our own request (a NOTIFY) was answered
        };
        let next = sip::split_list(next)[0].to_owned();
        if let Some(to) = sip::via_target(&next).and_then(|(h, p)| parse_addr(h, p)) {
            let bytes = resp.render();
            if let Some(k) = finished {
                self.remember(k, vec![(bytes.clone(), to)], now);
            }
            out.push((bytes, to));
        }
    }

    /// Timers: INVITEs whose next hop did not answer in time get 480/503 upstream; finished
    /// transactions and lapsed bindings are forgotten.
    pub fn expire(&self, now: Instant) -> Vec<(Vec<u8>, SocketAddr)> {
        let due: Vec<Txn> = {
            let mut t = self.inner.txns.lock().unwrap_or_else(|e| e.into_inner());
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
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (_, _, until)| *until > now);
        self.inner
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expire(now);
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

    /// NOTIFYs for the restarts EM logins and logouts left; drops those devices' bindings.
    pub fn restart_notifies(&self) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut out = Vec::new();
        // Restarts of devices not registered here stay pending (the admin API and tests read
        // them, and nothing here could deliver them); take only when one can be sent.
        let now = Instant::now();
        let registered = |d: &str| {
            let b = self
                .inner
                .bindings
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            b.values()
                .any(|v| v.iter().any(|x| x.device == d && x.expires > now))
        };
        let c = &self.inner.cluster;
        if !c.pending_restarts().iter().any(|(d, _)| registered(d)) {
            return out;
        }
        let mut pending = c.take_pending_restarts();
        pending.retain(|(d, kind)| {
            let keep = registered(d);
            if !keep {
                // Re-pending wakes this task once more; it then finds nothing to send.
                c.push_restart(d, *kind);
            }
            keep
        });
        let local = self.local();
        for (device, kind) in pending {
            let found = {
                let mut b = self
                    .inner
                    .bindings
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let mut found = None;
                for v in b.values_mut() {
                    if let Some(i) = v.iter().position(|x| x.device == device) {
                        if v[i].expires > now {
                            found.get_or_insert_with(|| v[i].clone());
                        }
                        v.remove(i);
                    }
                }
                b.retain(|_, v| !v.is_empty());
                found
            };
            let Some(bd) = found else {
                tracing::debug!(cluster = %self.inner.cluster.id(), %device, "restart for an unregistered device");
                continue;
            };
            let n = self.next();
            let action = match kind {
                RestartKind::Restart => sip::ServiceAction::Restart,
                RestartKind::Reset => sip::ServiceAction::Reset,
            };
            let msg = sip::service_control_notify(&sip::ServiceControl {
                action,
                contact: &bd.contact,
                register_call_id: &bd.register_call_id,
                local: &local,
                branch: &format!("-em-n{n}"),
                tag: &format!("em{n}"),
                call_id: &format!("em-notify-{n}@{local}"),
            });
            self.bump(|c| &c.notifies);
            out.push((msg.render(), bd.addr));
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
        *sip.inner.local.write().unwrap_or_else(|e| e.into_inner()) =
            format!("{host}:{}", a.port());
    }
    let socket = Arc::new(socket);
    let mut restarts = sip.inner.cluster.watch_restarts();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; 65_536];
    let send = |out: Vec<(Vec<u8>, SocketAddr)>| {
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
            r = socket.recv_from(&mut buf) => {
                let (n, from) = match r {
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
                let out = sip.handle(&buf[..n], from, Instant::now());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:5060".parse().unwrap()
    }

    #[test]
    fn a_transaction_is_its_branch_call_id_and_cseq() {
        let m = Message::request("BYE", "sip:x@h")
            .with(
                "Via",
                "SIP/2.0/UDP a:1;branch=z9hG4bKx1, SIP/2.0/UDP b:2;branch=z9hG4bKy",
            )
            .with("Call-ID", "c1")
            .with("CSeq", "7 BYE");
        assert_eq!(txn_key(&m).as_deref(), Some("z9hG4bKx1 c1 7 BYE"));
        let mut other = m.clone();
        other.set_header("CSeq", "8 BYE");
        assert_ne!(txn_key(&other), txn_key(&m));
        // RFC 2543 branches (no magic cookie) are never matched.
        let mut old = m.clone();
        old.set_header("Via", "SIP/2.0/UDP a:1;branch=1");
        assert_eq!(txn_key(&old), None);
    }

    #[test]
    fn finished_transactions_linger_then_go_and_stay_bounded() {
        let t0 = Instant::now();
        let mut r = Recent::default();
        r.insert("a".into(), vec![(b"x".to_vec(), addr())], t0 + LINGER);
        r.insert(
            "b".into(),
            vec![(b"y".to_vec(), addr())],
            t0 + LINGER + Duration::from_secs(1),
        );
        r.expire(t0 + LINGER - Duration::from_millis(1));
        assert_eq!(r.get("a").unwrap()[0].0, b"x");
        r.expire(t0 + LINGER);
        assert!(r.get("a").is_none());
        assert!(r.get("b").is_some());
        for i in 0..RECENT_MAX + 5 {
            r.insert(format!("k{i}"), Vec::new(), t0 + LINGER * 2);
        }
        assert!(r.sent.len() <= RECENT_MAX && r.order.len() <= RECENT_MAX);
        assert!(r.get("k0").is_none(), "the oldest forgotten first");
    }

    #[test]
    fn prometheus_text_has_every_figure_with_its_cluster() {
        let mut c = SipCounters {
            registers: 3,
            register_refused_404: 1,
            bindings: 2,
            unavailable: 4,
            ..SipCounters::default()
        };
        c.retransmissions_absorbed = RETRANSMITTED.iter().map(|m| ((*m).to_owned(), 0)).collect();
        c.retransmissions_absorbed.insert("INVITE".into(), 5);
        let mut text = String::new();
        crate::prometheus::sip(&mut text, "cluster1", &c);
        for line in [
            "emroam_sip_registers_total{cluster=\"cluster1\"} 3",
            "emroam_sip_registers_refused_total{cluster=\"cluster1\",code=\"404\"} 1",
            "emroam_sip_bindings{cluster=\"cluster1\"} 2",
            "emroam_sip_invites_failed_total{cluster=\"cluster1\",code=\"480\"} 4",
            "emroam_sip_retransmissions_absorbed_total{cluster=\"cluster1\",method=\"INVITE\"} 5",
            "emroam_sip_retransmissions_absorbed_total{cluster=\"cluster1\",method=\"BYE\"} 0",
            "# TYPE emroam_sip_bindings gauge",
            "# TYPE emroam_sip_invite_transactions gauge",
            "# TYPE emroam_sip_byes_forwarded_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 21);
    }
}
