//! Reading a topology file: one function per section, in dependency order (clusters before
//! the users, phones and application users that name them; profiles before the users and
//! phones that name them), each checking its references as it goes.

use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{
    Raw, RawAppUser, RawCluster, RawIlsNetwork, RawPhone, RawPhonePattern, RawProfile,
    RawSecurityProfile, RawUser, RawUserPattern,
};
use super::{
    AppUser, ClusterSpec, DEFAULT_LOCALE, DEFAULT_MODEL, DEFAULT_NONCE_VALIDITY_TIME,
    DeviceProfile, EM_SERVICE_NAME, IlsRole, IlsTlsFiles, Line, PATTERN_MAX, Phone,
    SecurityProfile, Topology, TopologyError, User, is_device_name,
};
use crate::params::ServiceParams;

impl Topology {
    /// Reads and parses a topology file.
    ///
    /// # Errors
    /// [`TopologyError`], naming the file, line and field of the first problem.
    pub fn load(path: &Path) -> Result<Topology, TopologyError> {
        Topology::load_with(path, true)
    }

    /// Reads and parses a topology file as [`Topology::load`] does (same checks, same errors),
    /// but without building the device profiles that `[[user_pattern]]` generates: each
    /// generated user still names their profile, `profiles` holds only the `[[profile]]`
    /// tables. For a client that needs the users and phones but not what a profile shows
    /// (the fleet); a generated profile is about 400 bytes a user.
    ///
    /// # Errors
    /// [`TopologyError`], naming the file, line and field of the first problem.
    pub fn load_without_generated_profiles(path: &Path) -> Result<Topology, TopologyError> {
        Topology::load_with(path, false)
    }

    fn load_with(path: &Path, generated_profiles: bool) -> Result<Topology, TopologyError> {
        let src = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut t = Topology::parse_with(&src, generated_profiles).map_err(|e| e.in_file(path))?;
        if let Some(dir) = path.parent() {
            t.resolve_paths(dir);
        }
        Ok(t)
    }

    /// Makes the relative file paths in the topology (ILS TLS files) relative to `dir`.
    fn resolve_paths(&mut self, dir: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        if let Some(ca) = &mut self.ils.tls_ca {
            at(ca);
        }
        for c in &mut self.clusters {
            if let Some(f) = &mut c.ils_tls {
                at(&mut f.cert);
                at(&mut f.key);
            }
        }
    }

    /// Parses topology TOML text.
    ///
    /// # Errors
    /// [`TopologyError`], naming the line and field of the first problem.
    pub fn parse(src: &str) -> Result<Topology, TopologyError> {
        Topology::parse_with(src, true)
    }

    fn parse_with(src: &str, generated_profiles: bool) -> Result<Topology, TopologyError> {
        let raw: Raw = toml::from_str(src).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((0, 0), |s| crate::place::position(src, s.start));
            TopologyError::Syntax {
                file: None,
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let mut p = Parser {
            cx: Ctx { src },
            t: Topology::default(),
            cluster_ids: HashSet::new(),
            profile_names: HashSet::new(),
            user_ids: HashSet::new(),
            phone_names: HashSet::new(),
            with_digest: None,
            generated_profiles,
        };
        if let Some(n) = &raw.ils {
            p.ils(n)?;
        }
        p.clusters(&raw.cluster)?;
        p.ils_roles(&raw.cluster)?;
        p.ils_tls(raw.ils.as_ref(), &raw.cluster)?;
        p.profiles(&raw.profile)?;
        p.users(&raw.user)?;
        p.user_patterns(&raw.user_pattern)?;
        p.security_profiles(&raw.security_profile)?;
        p.phones(&raw.phone)?;
        p.phone_patterns(&raw.phone_pattern)?;
        p.app_users(&raw.app_user)?;
        Ok(p.t)
    }
}

/// The topology so far and the names already taken.
struct Parser<'a> {
    cx: Ctx<'a>,
    t: Topology,
    cluster_ids: HashSet<String>,
    profile_names: HashSet<String>,
    user_ids: HashSet<String>,
    phone_names: HashSet<String>,
    /// Users with digest credentials (built when the first phone names a digest user: every
    /// user is read by then).
    with_digest: Option<HashSet<String>>,
    /// Whether `[[user_pattern]]` builds each user's profile (or only names it).
    generated_profiles: bool,
}

impl Parser<'_> {
    /// `[ils]`: the network's password and sync intervals.
    fn ils(&mut self, n: &RawIlsNetwork) -> Result<(), TopologyError> {
        if let Some(p) = &n.password {
            self.t.ils.password.clone_from(p);
        }
        let dur = |v: &Option<Spanned<String>>, field: &str, d: &mut std::time::Duration| {
            if let Some(v) = v {
                *d = crate::duration::parse_positive(v.get_ref())
                    .map_err(|e| self.cx.err(v.span(), field, e.to_string()))?;
            }
            Ok::<(), TopologyError>(())
        };
        dur(
            &n.sync_interval,
            "ils.sync_interval",
            &mut self.t.ils.sync_interval,
        )?;
        dur(
            &n.superuser_sync_interval,
            "ils.superuser_sync_interval",
            &mut self.t.ils.superuser_sync_interval,
        )?;
        self.t.ils.tls_ca = n.tls_ca.as_ref().map(|p| PathBuf::from(p.get_ref()));
        Ok(())
    }

    /// ILS over TLS: with `[ils] tls_ca` every ILS cluster names its certificate and key;
    /// without it none does (a cluster alone on TLS could reach no peer).
    fn ils_tls(
        &mut self,
        net: Option<&RawIlsNetwork>,
        raw_clusters: &[RawCluster],
    ) -> Result<(), TopologyError> {
        let ca = net.and_then(|n| n.tls_ca.as_ref());
        for (c, spec) in raw_clusters.iter().zip(self.t.clusters.iter_mut()) {
            let Some(ils) = &c.ils else { continue };
            let files = match (&ils.tls_cert, &ils.tls_key) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some((cert, key)),
                (Some(cert), None) => {
                    return Err(self.cx.err(
                        cert.span(),
                        "ils.tls_key",
                        "a cluster with tls_cert names its private key too",
                    ));
                }
                (None, Some(key)) => {
                    return Err(self.cx.err(
                        key.span(),
                        "ils.tls_cert",
                        "a cluster with tls_key names its certificate too",
                    ));
                }
            };
            match (ca, files, &spec.ils) {
                (None, Some((cert, _)), _) => {
                    return Err(self.cx.err(
                        cert.span(),
                        "ils.tls_cert",
                        "ILS over TLS needs `[ils] tls_ca`, the CA peers' certificates chain to",
                    ));
                }
                (Some(_), None, IlsRole::Hub | IlsRole::Spoke { .. }) => {
                    return Err(self.cx.err(
                        c.id.span(),
                        "ils.tls_cert",
                        "ILS runs over TLS (`[ils] tls_ca`): every ILS cluster needs tls_cert \
                         and tls_key",
                    ));
                }
                (Some(_), Some((cert, key)), _) => {
                    spec.ils_tls = Some(IlsTlsFiles {
                        cert: PathBuf::from(cert.get_ref()),
                        key: PathBuf::from(key.get_ref()),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `[[cluster]]`: IDs, addresses, ports and service parameters.
    fn clusters(&mut self, raw_clusters: &[RawCluster]) -> Result<(), TopologyError> {
        for c in raw_clusters {
            let id = c.id.get_ref();
            if id.is_empty()
                || id.len() > 50
                || !id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
            {
                return Err(self.cx.err(
                    c.id.span(),
                    "id",
                    "cluster ID must be 1–50 alphanumerics, '.' or '-'",
                ));
            }
            if !self.cluster_ids.insert(id.clone()) {
                return Err(self
                    .cx
                    .err(c.id.span(), "id", format!("duplicate cluster {id:?}")));
            }
            let address: IpAddr = c.address.get_ref().parse().map_err(|_| {
                self.cx
                    .err(c.address.span(), "address", "not an IP address")
            })?;
            let params = match &c.em {
                Some(p) => ServiceParams::default()
                    .apply(p.get_ref())
                    .map_err(|e| self.cx.err(p.span(), &format!("em.{}", e.field), e.message))?,
                None => ServiceParams::default(),
            };
            self.t.clusters.push(ClusterSpec {
                id: id.clone(),
                address,
                ports: c.ports,
                ils: IlsRole::Standalone,
                route_string: c
                    .route_string
                    .clone()
                    .unwrap_or_else(|| format!("{id}.route")),
                params,
                ils_tls: None,
            });
        }
        Ok(())
    }

    /// Each cluster's ILS role; a spoke's hub must be a hub.
    fn ils_roles(&mut self, raw_clusters: &[RawCluster]) -> Result<(), TopologyError> {
        for (c, spec) in raw_clusters.iter().zip(self.t.clusters.iter_mut()) {
            if let Some(ils) = &c.ils {
                spec.ils = match (ils.role.get_ref().as_str(), &ils.hub) {
                    ("hub", None) => IlsRole::Hub,
                    ("standalone", None) => IlsRole::Standalone,
                    ("spoke", Some(h)) => {
                        let hub = raw_clusters.iter().find(|o| o.id.get_ref() == h.get_ref());
                        let is_hub = hub
                            .and_then(|o| o.ils.as_ref())
                            .is_some_and(|i| i.role.get_ref() == "hub");
                        if !is_hub {
                            return Err(self.cx.err(
                                h.span(),
                                "ils.hub",
                                format!("{:?} is not a hub cluster", h.get_ref()),
                            ));
                        }
                        IlsRole::Spoke {
                            hub: h.get_ref().clone(),
                        }
                    }
                    ("spoke", None) => {
                        return Err(self.cx.err(
                            ils.role.span(),
                            "ils.hub",
                            "a spoke names its hub",
                        ));
                    }
                    ("hub" | "standalone", Some(h)) => {
                        return Err(self.cx.err(h.span(), "ils.hub", "only a spoke has a hub"));
                    }
                    _ => {
                        return Err(self.cx.err(
                            ils.role.span(),
                            "ils.role",
                            "expected \"hub\", \"spoke\" or \"standalone\"",
                        ));
                    }
                };
            }
        }
        Ok(())
    }

    /// A reference to a cluster already read.
    fn cluster_ref(&self, s: &Spanned<String>, field: &str) -> Result<String, TopologyError> {
        if self.cluster_ids.contains(s.get_ref()) {
            Ok(s.get_ref().clone())
        } else {
            Err(self
                .cx
                .err(s.span(), field, format!("no cluster {:?}", s.get_ref())))
        }
    }

    /// A phone's logout profile, which must be a profile already read.
    fn profile_ref(&self, p: &Option<Spanned<String>>) -> Result<Option<String>, TopologyError> {
        match p {
            Some(p) if !self.profile_names.contains(p.get_ref()) => Err(self.cx.err(
                p.span(),
                "logout_profile",
                format!("no profile {:?}", p.get_ref()),
            )),
            Some(p) => Ok(Some(p.get_ref().clone())),
            None => Ok(None),
        }
    }

    /// `[[profile]]`: device profiles listed one by one.
    fn profiles(&mut self, raw_profiles: &[RawProfile]) -> Result<(), TopologyError> {
        for p in raw_profiles {
            let name = p.name.get_ref();
            if name.is_empty() || !self.profile_names.insert(name.clone()) {
                return Err(self.cx.err(
                    p.name.span(),
                    "name",
                    format!("empty or duplicate profile {name:?}"),
                ));
            }
            let mut lines = Vec::new();
            for l in &p.lines {
                if !is_digits(l.dn.get_ref()) {
                    return Err(self
                        .cx
                        .err(l.dn.span(), "dn", "a directory number is digits"));
                }
                let dn = l.dn.get_ref().clone();
                lines.push(Line {
                    label: l.label.clone().unwrap_or_else(|| dn.clone()),
                    display_name: l.display_name.clone().unwrap_or_else(|| dn.clone()),
                    dn,
                });
            }
            self.t.profiles.push(DeviceProfile {
                name: name.clone(),
                locale: p
                    .locale
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LOCALE.to_owned()),
                lines,
                services: p
                    .services
                    .clone()
                    .unwrap_or_else(|| vec![EM_SERVICE_NAME.to_owned()]),
            });
        }
        Ok(())
    }

    /// `[[user]]`: users listed one by one.
    fn users(&mut self, raw_users: &[RawUser]) -> Result<(), TopologyError> {
        for u in raw_users {
            let id = u.id.get_ref();
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                return Err(self.cx.err(
                    u.id.span(),
                    "id",
                    "a user ID is non-empty, without spaces",
                ));
            }
            if !self.user_ids.insert(id.clone()) {
                return Err(self
                    .cx
                    .err(u.id.span(), "id", format!("duplicate user {id:?}")));
            }
            if !is_digits(u.pin.get_ref()) {
                return Err(self.cx.err(u.pin.span(), "pin", "a PIN is digits"));
            }
            for (f, v) in [
                ("primary_extension", &u.primary_extension),
                ("self_service_id", &u.self_service_id),
            ] {
                if let Some(v) = v
                    && !is_digits(v.get_ref())
                {
                    return Err(self.cx.err(v.span(), f, "must be digits"));
                }
            }
            let home = self.cluster_ref(&u.home, "home")?;
            let mut profiles = Vec::new();
            for p in &u.profiles {
                if !self.profile_names.contains(p.get_ref()) {
                    return Err(self.cx.err(
                        p.span(),
                        "profiles",
                        format!("no profile {:?}", p.get_ref()),
                    ));
                }
                profiles.push(p.get_ref().clone());
            }
            let default_profile = match &u.default_profile {
                Some(d) if !profiles.contains(d.get_ref()) => {
                    return Err(self.cx.err(
                        d.span(),
                        "default_profile",
                        "not one of the user's profiles",
                    ));
                }
                Some(d) => Some(d.get_ref().clone()),
                None => profiles.first().cloned(),
            };
            self.t.users.push(User {
                id: id.clone(),
                pin: u.pin.get_ref().clone(),
                primary_extension: u.primary_extension.as_ref().map(|s| s.get_ref().clone()),
                self_service_id: u.self_service_id.as_ref().map(|s| s.get_ref().clone()),
                home,
                profiles,
                default_profile,
                superuser: u.superuser,
                password: u.password.clone(),
                digest_credentials: u.digest_credentials.clone(),
            });
        }
        Ok(())
    }

    /// `[[user_pattern]]`: generated users, each with a generated profile.
    fn user_patterns(&mut self, patterns: &[RawUserPattern]) -> Result<(), TopologyError> {
        for pat in patterns {
            let home = self.cluster_ref(&pat.home, "home")?;
            let count = *pat.count.get_ref();
            if count > PATTERN_MAX {
                return Err(self.cx.err(
                    pat.count.span(),
                    "count",
                    format!("at most {PATTERN_MAX}"),
                ));
            }
            if !is_digits(pat.pin.get_ref()) {
                return Err(self.cx.err(pat.pin.span(), "pin", "a PIN is digits"));
            }
            let locale = pat
                .locale
                .clone()
                .unwrap_or_else(|| DEFAULT_LOCALE.to_owned());
            for i in 0..count {
                let n = u64::from(pat.start) + u64::from(i);
                let id =
                    render(pat.id.get_ref(), n).map_err(|m| self.cx.err(pat.id.span(), "id", m))?;
                if !self.user_ids.insert(id.clone()) {
                    return Err(self.cx.err(
                        pat.id.span(),
                        "id",
                        format!("generates duplicate user {id:?}"),
                    ));
                }
                let ext = pat
                    .extension
                    .as_ref()
                    .map(|e| (*e.get_ref() + u64::from(i)).to_string());
                let label = match &pat.label {
                    Some(l) => {
                        render(l.get_ref(), n).map_err(|m| self.cx.err(l.span(), "label", m))?
                    }
                    None => id.clone(),
                };
                let pname = format!("{id}-udp");
                if !self.profile_names.insert(pname.clone()) {
                    return Err(self.cx.err(
                        pat.id.span(),
                        "id",
                        format!("generates duplicate profile {pname:?}"),
                    ));
                }
                if self.generated_profiles {
                    self.t.profiles.push(DeviceProfile {
                        name: pname.clone(),
                        locale: locale.clone(),
                        lines: ext
                            .iter()
                            .map(|dn| Line {
                                dn: dn.clone(),
                                label: label.clone(),
                                display_name: label.clone(),
                            })
                            .collect(),
                        services: vec![EM_SERVICE_NAME.to_owned()],
                    });
                }
                self.t.users.push(User {
                    id,
                    pin: pat.pin.get_ref().clone(),
                    self_service_id: if pat.self_service_is_extension {
                        ext.clone()
                    } else {
                        None
                    },
                    primary_extension: ext,
                    home: home.clone(),
                    profiles: vec![pname.clone()],
                    default_profile: Some(pname),
                    superuser: pat.superuser,
                    password: None,
                    digest_credentials: pat.digest_credentials.clone(),
                });
            }
        }
        Ok(())
    }

    /// `[[phone]]`: phones listed one by one.
    fn phones(&mut self, raw_phones: &[RawPhone]) -> Result<(), TopologyError> {
        for p in raw_phones {
            let name = p.name.get_ref();
            if !is_device_name(name) {
                return Err(self.cx.err(
                    p.name.span(),
                    "name",
                    format!("{name:?} is not SEP + 12 hex digits"),
                ));
            }
            let name = name.to_ascii_uppercase();
            if !self.phone_names.insert(name.clone()) {
                return Err(self.cx.err(
                    p.name.span(),
                    "name",
                    format!("duplicate phone {name:?}"),
                ));
            }
            self.t.phones.push(Phone {
                name,
                cluster: self.cluster_ref(&p.cluster, "cluster")?,
                model: p.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
                em_enabled: p.em_enabled,
                logout_profile: self.profile_ref(&p.logout_profile)?,
                security_profile: None,
                digest: false,
                nonce_validity_time: DEFAULT_NONCE_VALIDITY_TIME,
                digest_user: None,
            });
            let digest_user = p
                .digest_user
                .as_ref()
                .map(|u| (u.get_ref().clone(), u.span()));
            self.security(&p.security_profile, digest_user)?;
        }
        Ok(())
    }

    /// `[[phone_pattern]]`: phones from a first MAC, counting up in hex.
    fn phone_patterns(&mut self, patterns: &[RawPhonePattern]) -> Result<(), TopologyError> {
        for pat in patterns {
            let cluster = self.cluster_ref(&pat.cluster, "cluster")?;
            let first = pat.first.get_ref();
            if !is_device_name(first) {
                return Err(self.cx.err(
                    pat.first.span(),
                    "first",
                    format!("{first:?} is not SEP + 12 hex digits"),
                ));
            }
            let count = *pat.count.get_ref();
            let mac0 = u64::from_str_radix(&first[3..], 16).unwrap_or(0);
            if count > PATTERN_MAX || mac0 + u64::from(count) > 0xFFFF_FFFF_FFFF {
                return Err(self.cx.err(pat.count.span(), "count", "too many phones"));
            }
            let logout_profile = self.profile_ref(&pat.logout_profile)?;
            for i in 0..u64::from(count) {
                let name = format!("SEP{:012X}", mac0 + i);
                if !self.phone_names.insert(name.clone()) {
                    return Err(self.cx.err(
                        pat.first.span(),
                        "first",
                        format!("generates duplicate phone {name:?}"),
                    ));
                }
                self.t.phones.push(Phone {
                    name,
                    cluster: cluster.clone(),
                    model: pat
                        .model
                        .clone()
                        .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
                    em_enabled: pat.em_enabled,
                    logout_profile: logout_profile.clone(),
                    security_profile: None,
                    digest: false,
                    nonce_validity_time: DEFAULT_NONCE_VALIDITY_TIME,
                    digest_user: None,
                });
                let digest_user = match &pat.digest_user {
                    Some(t) => Some((
                        render(t.get_ref(), i + 1)
                            .map_err(|m| self.cx.err(t.span(), "digest_user", m))?,
                        t.span(),
                    )),
                    None => None,
                };
                self.security(&pat.security_profile, digest_user)?;
            }
        }
        Ok(())
    }

    /// `[[security_profile]]`: phone security profiles.
    fn security_profiles(&mut self, raw: &[RawSecurityProfile]) -> Result<(), TopologyError> {
        for r in raw {
            let name = r.name.get_ref();
            if self.t.security_profiles.iter().any(|p| p.name == *name) {
                return Err(self.cx.err(
                    r.name.span(),
                    "name",
                    format!("duplicate security profile {name:?}"),
                ));
            }
            let nonce_validity_time = match &r.nonce_validity_time {
                Some(n) if *n.get_ref() == 0 => {
                    return Err(self
                        .cx
                        .err(n.span(), "nonce_validity_time", "at least 1 second"));
                }
                Some(n) => *n.get_ref(),
                None => DEFAULT_NONCE_VALIDITY_TIME,
            };
            self.t.security_profiles.push(SecurityProfile {
                name: name.clone(),
                digest_authentication: r.digest_authentication,
                nonce_validity_time,
            });
        }
        Ok(())
    }

    /// The last phone's security profile and digest user: the profile must exist, a profile
    /// with digest on needs a digest user, and that user must exist with digest credentials.
    fn security(
        &mut self,
        profile: &Option<Spanned<String>>,
        digest_user: Option<(String, Range<usize>)>,
    ) -> Result<(), TopologyError> {
        let mut digest = false;
        let mut name = None;
        let mut validity = DEFAULT_NONCE_VALIDITY_TIME;
        if let Some(p) = profile {
            let Some(sp) = self
                .t
                .security_profiles
                .iter()
                .find(|s| s.name == *p.get_ref())
            else {
                return Err(self
                    .cx
                    .err(p.span(), "security_profile", "no such security profile"));
            };
            digest = sp.digest_authentication;
            validity = sp.nonce_validity_time;
            name = Some(sp.name.clone());
            if digest && digest_user.is_none() {
                return Err(self.cx.err(
                    p.span(),
                    "security_profile",
                    "digest authentication needs the phone's `digest_user`",
                ));
            }
        }
        if let Some((u, span)) = &digest_user {
            if !self.user_ids.contains(u) {
                return Err(self
                    .cx
                    .err(span.clone(), "digest_user", format!("no user {u:?}")));
            }
            let users = &self.t.users;
            let with = self.with_digest.get_or_insert_with(|| {
                users
                    .iter()
                    .filter(|x| x.digest_credentials.is_some())
                    .map(|x| x.id.clone())
                    .collect()
            });
            if digest && !with.contains(u) {
                return Err(self.cx.err(
                    span.clone(),
                    "digest_user",
                    format!("user {u:?} has no `digest_credentials`"),
                ));
            }
        }
        if let Some(ph) = self.t.phones.last_mut() {
            ph.security_profile = name;
            ph.digest = digest;
            ph.nonce_validity_time = validity;
            ph.digest_user = digest_user.map(|(u, _)| u);
        }
        Ok(())
    }

    /// `[[app_user]]`: EM API clients.
    fn app_users(&mut self, raw_apps: &[RawAppUser]) -> Result<(), TopologyError> {
        let mut app_ids = HashSet::new();
        for a in raw_apps {
            if !app_ids.insert(a.id.get_ref().clone()) || self.user_ids.contains(a.id.get_ref()) {
                return Err(self.cx.err(a.id.span(), "id", "duplicate user ID"));
            }
            let clusters = a
                .clusters
                .iter()
                .map(|c| self.cluster_ref(c, "clusters"))
                .collect::<Result<Vec<_>, _>>()?;
            self.t.app_users.push(AppUser {
                id: a.id.get_ref().clone(),
                password: a.password.clone(),
                proxy_rights: a.proxy_rights,
                clusters,
            });
        }
        Ok(())
    }
}

/// Validation context: the source text, to turn byte spans into lines and columns.
struct Ctx<'a> {
    src: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> TopologyError {
        let (line, column) = crate::place::position(self.src, span.start);
        TopologyError::Invalid {
            file: None,
            line,
            column,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Renders a pattern template: `{n}` is the number, `{n:05}` zero-padded to 5 digits.
pub(super) fn render(template: &str, n: u64) -> Result<String, String> {
    let open = template
        .find("{n")
        .ok_or_else(|| format!("{template:?} has no {{n}} placeholder"))?;
    let close = template[open..]
        .find('}')
        .map(|c| open + c)
        .ok_or_else(|| format!("unclosed placeholder in {template:?}"))?;
    let spec = &template[open + 2..close];
    let num = match spec {
        "" => n.to_string(),
        s => {
            let w: usize = s
                .strip_prefix(":0")
                .and_then(|w| w.parse().ok())
                .filter(|w| *w <= 20)
                .ok_or_else(|| format!("bad placeholder {{n{s}}} (use {{n}} or {{n:05}})"))?;
            format!("{n:0w$}")
        }
    };
    Ok(format!(
        "{}{}{}",
        &template[..open],
        num,
        &template[close + 1..]
    ))
}
