//! One reference cluster's state: its directory (users, profiles, phones), who is logged in
//! where, service parameters, switches for fault injection, counters and pending restarts.
//!
//! [`Cluster`] is a cheap `Clone` handle around `Arc<Inner>`. Locks are `std` locks held for
//! short sections and never across `.await`; durable writes go through the [`Store`] actor.
//! The EM operations themselves live in [`crate::ops`]; this module owns the state they change.

mod directory;
pub(crate) mod logins;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use directory::{Directory, SyncedDir};
pub(crate) use logins::LoginTable;

use crate::counters::Counters;
use crate::error::ServerError;
use crate::ils::state::IlsState;
use crate::params::{ParamError, ParamsPatch, ServiceParams};
use crate::store::{Durability, Store};
use crate::sync::{LockExt, RwLockExt};
use crate::topology::{AppUser, ClusterSpec, DEFAULT_LOCALE, DeviceProfile, Phone, Topology, User};

/// How long a profile-choice ticket stays valid (EM's 2-minute cache window).
const TICKET_TTL: Duration = Duration::from_secs(120);

/// Where an EM request came from (for Validate IP Address and Allow Proxy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's address (the phone's, for the EM application).
    pub ip: Option<IpAddr>,
    /// Whether the HTTP request carried a `Via` header.
    pub via: bool,
}

/// What a phone must do to pick up a login or logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RestartKind {
    /// Restart: re-download the config and re-register (same locale).
    Restart,
    /// Reset: the user locale changed, so the config is rebuilt.
    Reset,
}

/// A login as the admin API and the config server see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoginInfo {
    /// Device name.
    pub device: String,
    /// User ID.
    pub user: String,
    /// Device profile in use.
    pub profile: String,
    /// Login time, Unix milliseconds.
    pub since_ms: i64,
    /// Automatic logout time, Unix milliseconds (`None`: never).
    pub expires_ms: Option<i64>,
}

/// Runtime switches the admin API flips.
#[derive(Debug)]
struct Switches {
    em_app: AtomicBool,
    em_service: AtomicBool,
}

/// A pending profile choice (user authenticated, owns several profiles).
#[derive(Debug)]
struct Ticket {
    device: String,
    user: String,
    until: tokio::time::Instant,
}

#[derive(Debug)]
struct Inner {
    spec: ClusterSpec,
    dir: Directory,
    /// Superusers of other clusters (superuser sync); swapped whole under a short lock.
    synced: RwLock<Arc<SyncedDir>>,
    /// Home users who are superusers now (the admin API can change it at run time).
    superusers: RwLock<std::collections::HashSet<String>>,
    /// ILS and roaming state.
    ils: IlsState,
    params: RwLock<ServiceParams>,
    counters: Counters,
    logins: Mutex<LoginTable>,
    store: Store,
    switches: Switches,
    /// Listeners up (`true`) or refusing connections; watched by the accept loops.
    listeners_up: watch::Sender<bool>,
    /// Device → what it must do, and the devices whose restart became pending since the SIP
    /// side last looked (both at most one entry a device): read and drained by the SIP side.
    restarts: Mutex<Restarts>,
    /// Bumped on every new pending restart, so a SIP task can wait for work.
    restart_seq: watch::Sender<u64>,
    tickets: Mutex<HashMap<String, Ticket>>,
    /// The HTTP address phones reach (the bound listener's, set when serving starts).
    http_addr: OnceLock<SocketAddr>,
    /// The bound SIP address (config files name it; tests bind port 0).
    sip_addr: OnceLock<SocketAddr>,
    /// Cancelled when the cluster shuts down: stops timers.
    token: CancellationToken,
    /// Timer tasks and detached EM operations.
    tracker: TaskTracker,
    rand_seq: AtomicU64,
}

/// Pending restarts: at most one per device, so bounded by the cluster's devices whatever
/// the number of logins; `fresh` lets the SIP side look only at what changed.
#[derive(Debug, Default)]
struct Restarts {
    pending: HashMap<String, RestartKind>,
    fresh: std::collections::HashSet<String>,
}

/// A handle to one reference cluster; clone freely.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The directory can hold tens of thousands of users: name the cluster only.
        f.debug_struct("Cluster")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

/// Unix time now in milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Cluster {
    /// Builds the cluster `spec.id` of `topo`, opening its login database in `data_dir`
    /// (`<id>.db`; `None`: in memory) and resuming the logins it holds, with their timers.
    ///
    /// # Errors
    /// The database cannot be opened.
    pub async fn open(
        topo: &Topology,
        spec: &ClusterSpec,
        data_dir: Option<&Path>,
        token: CancellationToken,
    ) -> Result<Cluster, ServerError> {
        Cluster::open_with(topo, spec, data_dir, Durability::default(), token).await
    }

    /// [`Cluster::open`] with a chosen [`Durability`] for the login database.
    ///
    /// # Errors
    /// The database cannot be opened, or the ILS TLS files cannot be used.
    pub async fn open_with(
        topo: &Topology,
        spec: &ClusterSpec,
        data_dir: Option<&Path>,
        durability: Durability,
        token: CancellationToken,
    ) -> Result<Cluster, ServerError> {
        let path = data_dir.map(|d| d.join(format!("{}.db", spec.id)));
        let (store, rows, roam) =
            tokio::task::spawn_blocking(move || Store::open_all(path.as_deref(), durability))
                .await
                .map_err(|e| ServerError::Internal(e.to_string()))?
                .map_err(|e| ServerError::Store(spec.id.clone(), e))?;
        let dir = Directory::build(topo, &spec.id);
        let tls = crate::ils::tls::IlsTls::load(topo, spec)
            .map_err(|e| ServerError::IlsTls(spec.id.clone(), e))?;
        let ils = IlsState::new(topo, spec, roam, tls);
        let synced = SyncedDir::build(&dir, &ils.superuser_sets(), &spec.id);
        let superusers = dir
            .users
            .values()
            .filter(|u| u.superuser)
            .map(|u| u.id.clone())
            .collect();
        let mut table = LoginTable::default();
        let mut resumed = Vec::new();
        for r in rows {
            if dir.phones.contains_key(&r.device)
                && (dir.users.contains_key(&r.user) || synced.users.contains_key(&r.user))
            {
                resumed.push((r.device.clone(), r.expires_ms));
                table.restore(r);
            } else {
                tracing::warn!(cluster = %spec.id, device = %r.device, "ignoring stored login for a device or user no longer in the topology");
            }
        }
        let cluster = Cluster {
            inner: Arc::new(Inner {
                params: RwLock::new(spec.params.clone()),
                spec: spec.clone(),
                dir,
                synced: RwLock::new(Arc::new(synced)),
                superusers: RwLock::new(superusers),
                ils,
                counters: Counters::default(),
                logins: Mutex::new(table),
                store,
                switches: Switches {
                    em_app: AtomicBool::new(true),
                    em_service: AtomicBool::new(true),
                },
                listeners_up: watch::Sender::new(true),
                restarts: Mutex::new(Restarts::default()),
                restart_seq: watch::Sender::new(0),
                tickets: Mutex::new(HashMap::new()),
                http_addr: OnceLock::new(),
                sip_addr: OnceLock::new(),
                token,
                tracker: TaskTracker::new(),
                rand_seq: AtomicU64::new(0),
            }),
        };
        for (device, expires_ms) in resumed {
            if let Some(at) = expires_ms {
                let left = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                let gen_ = cluster.with_logins(|t| t.generation(&device)).unwrap_or(0);
                cluster.schedule_expiry(device, gen_, left);
            }
        }
        Ok(cluster)
    }

    /// The cluster ID.
    pub fn id(&self) -> &str {
        &self.inner.spec.id
    }

    /// The cluster's topology entry.
    pub fn spec(&self) -> &ClusterSpec {
        &self.inner.spec
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// The service parameters now.
    pub fn params(&self) -> ServiceParams {
        self.inner.params.read_locked().clone()
    }

    /// Changes service parameters at run time (all or nothing).
    ///
    /// # Errors
    /// The first invalid field; nothing changes.
    pub fn update_params(&self, patch: &ParamsPatch) -> Result<ServiceParams, ParamError> {
        let mut p = self.inner.params.write_locked();
        let n = p.apply(patch)?;
        *p = n.clone();
        Ok(n)
    }

    /// Whether the EM application answers (else phones get HTTP 503).
    pub fn em_app_running(&self) -> bool {
        self.inner.switches.em_app.load(Ordering::Relaxed)
    }

    /// Starts or stops the EM application.
    pub fn set_em_app_running(&self, on: bool) {
        self.inner.switches.em_app.store(on, Ordering::Relaxed);
    }

    /// Whether the EM service answers (else the application answers 208 and API clients 503).
    pub fn em_service_running(&self) -> bool {
        self.inner.switches.em_service.load(Ordering::Relaxed)
    }

    /// Starts or stops the EM service.
    pub fn set_em_service_running(&self, on: bool) {
        self.inner.switches.em_service.store(on, Ordering::Relaxed);
    }

    /// Whether the cluster's listeners accept connections.
    pub fn listeners_up(&self) -> bool {
        *self.inner.listeners_up.borrow()
    }

    /// Takes every listener of the cluster down (connections refused, open ones closed) or
    /// brings them back on the same addresses.
    pub fn set_listeners_up(&self, up: bool) {
        self.inner.listeners_up.send_replace(up);
        self.ils().recompute_up(up);
    }

    /// Watches the listener switch (for the accept loops).
    pub(crate) fn watch_listeners(&self) -> watch::Receiver<bool> {
        self.inner.listeners_up.subscribe()
    }

    /// The HTTP address phones use for this cluster (bound address once serving, else the
    /// topology's).
    pub fn http_addr(&self) -> SocketAddr {
        self.inner
            .http_addr
            .get()
            .copied()
            .unwrap_or_else(|| SocketAddr::new(self.inner.spec.address, self.inner.spec.ports.http))
    }

    /// The SIP address phones register at (bound address once serving, else the topology's).
    pub fn sip_addr(&self) -> SocketAddr {
        self.inner
            .sip_addr
            .get()
            .copied()
            .unwrap_or_else(|| SocketAddr::new(self.inner.spec.address, self.inner.spec.ports.sip))
    }

    /// SIP Station KeepAlive Interval now: the longest registration granted, in seconds.
    pub fn sip_keepalive_secs(&self) -> u32 {
        self.inner
            .params
            .read_locked()
            .sip_station_keepalive_interval
    }

    /// Records the bound SIP address (first call wins).
    pub(crate) fn set_sip_addr(&self, addr: SocketAddr) {
        let _ = self.inner.sip_addr.set(addr);
    }

    /// Records the bound HTTP address (first call wins).
    pub(crate) fn set_http_addr(&self, addr: SocketAddr) {
        let _ = self.inner.http_addr.set(addr);
    }

    /// The EM service URL phones subscribe to, with CUCM's `#DEVICENAME#` macro.
    pub fn em_service_url(&self) -> String {
        emroam_schema::em_url::em_service_url(&format!("http://{}", self.http_addr()))
    }

    /// The cluster's cancellation token (cancelled at shutdown).
    pub fn token(&self) -> &CancellationToken {
        &self.inner.token
    }

    /// The tracker holding the cluster's timers and detached operations.
    pub fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }

    /// A phone of this cluster.
    pub fn phone(&self, name: &str) -> Option<&Phone> {
        self.inner.dir.phones.get(name)
    }

    /// An end user this cluster knows: one of its own, or a superuser of another cluster
    /// copied by the superuser sync.
    pub fn user(&self, id: &str) -> Option<User> {
        if let Some(u) = self.inner.dir.users.get(id) {
            let mut u = u.clone();
            u.superuser = self.is_superuser(id);
            return Some(u);
        }
        self.synced().users.get(id).cloned()
    }

    /// Whether a user is a superuser ("Standard EM Roaming Across Clusters Super Users").
    pub fn is_superuser(&self, id: &str) -> bool {
        if self.inner.dir.users.contains_key(id) {
            return self.inner.superusers.read_locked().contains(id);
        }
        self.synced().users.contains_key(id)
    }

    /// Adds or removes a home user from the superuser group; `false` if not a home user.
    pub(crate) fn set_superuser(&self, id: &str, on: bool) -> bool {
        if !self.inner.dir.users.contains_key(id) {
            return false;
        }
        let mut s = self.inner.superusers.write_locked();
        if on {
            s.insert(id.to_owned());
        } else {
            s.remove(id);
        }
        true
    }

    /// Home users who are superusers now, sorted.
    pub fn home_superusers(&self) -> Vec<User> {
        let ids = self.inner.superusers.read_locked().clone();
        let mut v: Vec<User> = ids
            .iter()
            .filter_map(|id| self.inner.dir.users.get(id).cloned())
            .map(|mut u| {
                u.superuser = true;
                u
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Superusers of other clusters known here (superuser sync), sorted.
    pub fn synced_superusers(&self) -> Vec<String> {
        let mut v: Vec<String> = self.synced().users.keys().cloned().collect();
        v.sort();
        v
    }

    /// Whether `pin` is the user's PIN (a synced superuser's is checked against its digest).
    pub fn pin_matches(&self, user: &User, pin: &str) -> bool {
        if self.inner.dir.users.contains_key(&user.id) {
            return crate::secret::same(pin.as_bytes(), user.pin.as_bytes());
        }
        let synced = self.synced();
        synced.pin_digests.get(&user.id).is_some_and(|d| {
            let want = emroam_protocol::ils::pin_digest(self.ils().password(), &user.id, pin);
            crate::secret::same(want.as_bytes(), d.as_bytes())
        })
    }

    fn synced(&self) -> Arc<SyncedDir> {
        self.inner.synced.read_locked().clone()
    }

    /// Rebuilds the synced directory from the superuser sets the ILS state holds.
    pub(crate) fn rebuild_synced(&self) {
        // Read the sets under the write lock (lock order: synced, then the ILS table), so two
        // rebuilds cannot finish out of order and leave the older sets in place.
        let mut w = self.inner.synced.write_locked();
        let d = SyncedDir::build(&self.inner.dir, &self.ils().superuser_sets(), self.id());
        *w = Arc::new(d);
    }

    /// The ILS and roaming state.
    pub(crate) fn ils(&self) -> &IlsState {
        &self.inner.ils
    }

    /// Users whose primary extension is `dn`.
    pub fn users_by_extension(&self, dn: &str) -> Vec<String> {
        let mut v = self.inner.dir.by_dn.get(dn).cloned().unwrap_or_default();
        v.extend(self.synced().by_dn.get(dn).into_iter().flatten().cloned());
        v
    }

    /// Users whose self-service user ID is `id`.
    pub fn users_by_self_service_id(&self, id: &str) -> Vec<String> {
        let mut v = self.inner.dir.by_sp.get(id).cloned().unwrap_or_default();
        v.extend(self.synced().by_sp.get(id).into_iter().flatten().cloned());
        v
    }

    /// A device profile known to this cluster (its own, or a synced superuser's).
    pub fn profile(&self, name: &str) -> Option<DeviceProfile> {
        if let Some(p) = self.inner.dir.profiles.get(name) {
            return Some(p.clone());
        }
        self.synced().profiles.get(name).cloned()
    }

    /// An application user of this cluster.
    pub fn app_user(&self, id: &str) -> Option<&AppUser> {
        self.inner.dir.app_users.get(id)
    }

    /// The locale of the phone's logout profile (the locale it runs with when logged out).
    pub fn logout_locale(&self, phone: &Phone) -> String {
        phone
            .logout_profile
            .as_deref()
            .and_then(|p| self.profile(p))
            .map_or_else(|| DEFAULT_LOCALE.to_owned(), |p| p.locale.clone())
    }

    /// The committed login on a device.
    pub fn login_on(&self, device: &str) -> Option<LoginInfo> {
        self.with_logins(|t| t.committed(device))
    }

    /// The last user who logged in on a device (also after they logged out).
    pub fn last_user(&self, device: &str) -> Option<String> {
        self.with_logins(|t| t.last_user(device))
    }

    /// Devices where a user is logged in (committed logins).
    pub fn devices_of(&self, user: &str) -> Vec<String> {
        self.with_logins(|t| t.devices_of(user))
    }

    /// Every committed login, sorted by device.
    pub fn logins(&self) -> Vec<LoginInfo> {
        let mut v = self.with_logins(LoginTable::all_committed);
        v.sort_by(|a, b| a.device.cmp(&b.device));
        v
    }

    /// The profile a device runs with now: the logged-in user's, else its logout profile.
    pub fn current_profile(&self, device: &str) -> Option<DeviceProfile> {
        let phone = self.phone(device)?;
        match self.login_on(device) {
            Some(l) => self.profile(&l.profile),
            None => phone
                .logout_profile
                .as_deref()
                .and_then(|p| self.profile(p)),
        }
    }

    fn with_logins<R>(&self, f: impl FnOnce(&mut LoginTable) -> R) -> R {
        let mut t = self.inner.logins.locked();
        f(&mut t)
    }

    /// Records that a device must restart (or reset) to pick up a change.
    pub(crate) fn push_restart(&self, device: &str, kind: RestartKind) {
        {
            let mut r = self.inner.restarts.locked();
            let e = r.pending.entry(device.to_owned()).or_insert(kind);
            if kind == RestartKind::Reset {
                *e = RestartKind::Reset;
            }
            r.fresh.insert(device.to_owned());
        }
        self.inner.restart_seq.send_modify(|s| *s += 1);
    }

    /// Pending restarts and resets, without clearing them (for the admin API; it walks them
    /// all).
    pub fn pending_restarts(&self) -> Vec<(String, RestartKind)> {
        let r = self.inner.restarts.locked();
        let mut v: Vec<_> = r.pending.iter().map(|(d, k)| (d.clone(), *k)).collect();
        v.sort();
        v
    }

    /// Takes every pending restart and reset (the admin API's and the tests' view; the SIP
    /// side takes them one device at a time).
    pub fn take_pending_restarts(&self) -> Vec<(String, RestartKind)> {
        let mut r = self.inner.restarts.locked();
        r.fresh.clear();
        let mut v: Vec<_> = r.pending.drain().collect();
        v.sort();
        v
    }

    /// The devices whose restart became pending since the last call (the SIP side delivers
    /// those it can); each stays pending until taken or dropped.
    pub(crate) fn take_fresh_restarts(&self) -> Vec<String> {
        self.inner.restarts.locked().fresh.drain().collect()
    }

    /// Takes `device`'s pending restart, if it has one (the SIP side sends the NOTIFY).
    pub(crate) fn take_restart(&self, device: &str) -> Option<RestartKind> {
        self.inner.restarts.locked().pending.remove(device)
    }

    /// Drops `device`'s pending restart, stale once the device registers afresh (it has just
    /// read its current config).
    pub(crate) fn drop_restart(&self, device: &str) {
        let mut r = self.inner.restarts.locked();
        r.pending.remove(device);
        r.fresh.remove(device);
    }

    /// Changes whenever a restart becomes pending.
    pub fn watch_restarts(&self) -> watch::Receiver<u64> {
        self.inner.restart_seq.subscribe()
    }

    /// Issues a profile-choice ticket for a user authenticated on a device.
    pub(crate) fn issue_ticket(&self, device: &str, user: &str) -> String {
        let t = format!("{:016x}{:016x}", self.random_u64(), self.random_u64());
        let now = tokio::time::Instant::now();
        let mut m = self.inner.tickets.locked();
        if m.len() > 10_000 {
            m.retain(|_, v| v.until > now);
        }
        m.insert(
            t.clone(),
            Ticket {
                device: device.to_owned(),
                user: user.to_owned(),
                until: now + TICKET_TTL,
            },
        );
        t
    }

    /// Redeems a ticket: the user it was issued to, if it matches the device and is fresh.
    pub(crate) fn redeem_ticket(&self, ticket: &str, device: &str) -> Option<String> {
        let mut m = self.inner.tickets.locked();
        let t = m.remove(ticket)?;
        (t.device == device && t.until > tokio::time::Instant::now()).then_some(t.user)
    }

    /// A random number (keyed by std's per-process random hasher state).
    pub(crate) fn random_u64(&self) -> u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.inner.rand_seq.fetch_add(1, Ordering::Relaxed));
        h.write_i64(now_ms());
        h.finish()
    }

    /// The store (for operations in this crate).
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether a request's origin passes Validate IP Address / Allow Proxy.
    ///
    /// # Errors
    /// 30 for a proxied request when proxies are not allowed, 28 for an untrusted address.
    pub fn check_origin(
        &self,
        params: &ServiceParams,
        origin: &Origin,
    ) -> Result<(), crate::em::EmError> {
        use crate::em::{EmError, code};
        if !params.validate_ip {
            return Ok(());
        }
        if origin.via && !params.allow_proxy {
            return Err(EmError::new(
                code::PROXY_NOT_ALLOWED,
                "request came through a proxy",
            ));
        }
        let trusted = origin.ip.is_some_and(|ip| {
            params
                .trusted_ips
                .iter()
                .any(|t| t.parse::<IpAddr>().is_ok_and(|t| t == ip))
        });
        if trusted {
            Ok(())
        } else {
            Err(EmError::new(
                code::UNTRUSTED_IP,
                "source address is not trusted",
            ))
        }
    }
}
