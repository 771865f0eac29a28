//! ILS (Intercluster Lookup Service) as emroam's reference clusters speak it: framing, the
//! password handshake, and the sealed sync messages that carry EM roaming state.
//!
//! Pure: bytes in, values out; no sockets, clocks or randomness (nonces are passed in).
//! Cisco's ILS wire format is not public; this one keeps its facts (cluster ID, route string,
//! hub/spoke roles, one password shared by every cluster, never sent in clear).
//!
//! # Frames
//! `len: u32 BE | seq: u64 BE | mac: [u8; 32] | body: JSON` where `len` counts everything after
//! itself. [`decode_frame`] refuses a length above the limit before the body arrives.
//!
//! # Handshake (seq 0, zero MAC): [`Handshake`], [`Accept`], [`Dial`]
//! The dialer proves the password first; the listener sends nothing that depends on it until
//! the dialer's proof has checked. Both sides then derive the session key from the password,
//! both nonces and both cluster IDs.
//!
//! # Sealed messages (seq ≥ 1)
//! `mac = HMAC(key, direction ‖ seq ‖ body)`; each direction numbers its frames 1, 2, 3, …
//! An [`Opener`] refuses a frame whose seq is not above the last one (replay), whose MAC does not
//! verify (unauthenticated, or replayed from another session: the key differs), whose JSON is
//! malformed, or whose content is invalid ([`Message::validate`]).

mod handshake;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use handshake::{AUTH_FAILED, Accept, Dial, Handshake, HandshakeError, Transcript, VERSION};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of a MAC (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Bytes of a nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes after the length prefix and before the body (seq + MAC).
pub const HEADER_LEN: usize = 8 + MAC_LEN;
/// Default largest frame (length field value) a cluster accepts.
pub const MAX_FRAME: usize = 8 * 1024 * 1024;
/// Longest identifier (user ID, DN, profile name, label) accepted in a message.
pub const MAX_ID_LEN: usize = 256;

/// Why bytes from a peer were refused. [`IlsError::kind`] names the counter it bumps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IlsError {
    /// The length field is above the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    Oversized {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a frame, or a body that is not the expected JSON.
    #[error("malformed ILS message: {0}")]
    Malformed(String),
    /// A sealed frame whose seq is not above the last accepted one.
    #[error("replayed ILS frame (seq {seq}, last {last})")]
    Replayed {
        /// The frame's seq.
        seq: u64,
        /// The last seq accepted.
        last: u64,
    },
    /// A MAC or a handshake proof that does not verify, or a sealed frame before authentication.
    #[error("unauthenticated ILS message")]
    Unauthenticated,
    /// Well-formed and authenticated but with impossible content.
    #[error("invalid ILS message: {0}")]
    Invalid(String),
}

impl IlsError {
    /// A short name for counters: `oversized`, `malformed`, `replayed`, `unauthenticated`, `invalid`.
    pub fn kind(&self) -> &'static str {
        match self {
            IlsError::Oversized { .. } => "oversized",
            IlsError::Malformed(_) => "malformed",
            IlsError::Replayed { .. } => "replayed",
            IlsError::Unauthenticated => "unauthenticated",
            IlsError::Invalid(_) => "invalid",
        }
    }
}

/// One frame off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 0 for handshake frames, then 1, 2, … per direction.
    pub seq: u64,
    /// HMAC of the sealed frame (zero in the handshake).
    pub mac: [u8; MAC_LEN],
    /// JSON body.
    pub body: Vec<u8>,
}

impl Frame {
    /// The frame's bytes, length prefix included.
    ///
    /// # Panics
    /// If the body is larger than 4 GiB.
    pub fn encode(&self) -> Vec<u8> {
        let len = u32::try_from(HEADER_LEN + self.body.len()).expect("frame under 4 GiB");
        let mut v = Vec::with_capacity(4 + len as usize);
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&self.seq.to_be_bytes());
        v.extend_from_slice(&self.mac);
        v.extend_from_slice(&self.body);
        v
    }
}

/// Decodes one frame from the start of `buf`: `Ok(None)` if more bytes are needed, else the
/// frame and how many bytes it used.
///
/// # Errors
/// [`IlsError::Oversized`] as soon as the length field is read, [`IlsError::Malformed`] for a
/// length too short to hold the header.
pub fn decode_frame(buf: &[u8], max: usize) -> Result<Option<(Frame, usize)>, IlsError> {
    let Some(len) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > max {
        return Err(IlsError::Oversized { len, max });
    }
    if len < HEADER_LEN {
        return Err(IlsError::Malformed(format!("frame length {len} too short")));
    }
    let Some(rest) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&rest[..8]);
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&rest[8..HEADER_LEN]);
    Ok(Some((
        Frame {
            seq: u64::from_be_bytes(seq),
            mac,
            body: rest[HEADER_LEN..].to_vec(),
        },
        4 + len,
    )))
}

/// A cluster's ILS role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Hub: full mesh with the other hubs, serves spokes.
    Hub,
    /// Spoke: talks to its one hub only.
    Spoke,
}

fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; MAC_LEN] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        // Length-prefix each part so that no two transcripts hash alike.
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time equality of two MACs.
fn ct_eq(want: &[u8; MAC_LEN], got: &[u8]) -> bool {
    got.len() == MAC_LEN && want.iter().zip(got).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Which way a sealed frame travels (part of its MAC, so a frame cannot be reflected back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Dialer to listener.
    ToListener,
    /// Listener to dialer.
    ToDialer,
}

impl Direction {
    fn label(self) -> &'static [u8] {
        match self {
            Direction::ToListener => b"c2s",
            Direction::ToDialer => b"s2c",
        }
    }
}

fn frame_mac(key: &[u8; MAC_LEN], dir: Direction, seq: u64, body: &[u8]) -> [u8; MAC_LEN] {
    hmac_parts(key, &[dir.label(), &seq.to_be_bytes(), body])
}

/// Seals outgoing messages of one session direction.
#[derive(Clone)]
pub struct Sealer {
    key: [u8; MAC_LEN],
    dir: Direction,
    next: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("dir", &self.dir)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for frames going `dir`, numbering from 1.
    pub fn new(key: [u8; MAC_LEN], dir: Direction) -> Sealer {
        Sealer { key, dir, next: 1 }
    }

    /// The next frame's bytes.
    ///
    /// # Panics
    /// Never: messages always serialize.
    pub fn seal(&mut self, msg: &Message) -> Vec<u8> {
        let body = serde_json::to_vec(msg).expect("message serializes");
        self.seal_body(body)
    }

    /// Seals an already serialized body (the same body can go to several peers).
    pub fn seal_body(&mut self, body: Vec<u8>) -> Vec<u8> {
        let seq = self.next;
        self.next += 1;
        let mac = frame_mac(&self.key, self.dir, seq, &body);
        Frame { seq, mac, body }.encode()
    }
}

/// Checks and parses incoming sealed frames of one session direction.
#[derive(Clone)]
pub struct Opener {
    key: [u8; MAC_LEN],
    dir: Direction,
    last: u64,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("dir", &self.dir)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// An opener for frames coming `dir`.
    pub fn new(key: [u8; MAC_LEN], dir: Direction) -> Opener {
        Opener { key, dir, last: 0 }
    }

    /// Verifies, parses and validates a frame; only an accepted frame moves the seq on.
    ///
    /// # Errors
    /// Replayed, unauthenticated, malformed or invalid (see [`IlsError`]).
    pub fn open(&mut self, frame: &Frame) -> Result<Message, IlsError> {
        if frame.seq == 0 {
            return Err(IlsError::Unauthenticated);
        }
        let want = frame_mac(&self.key, self.dir, frame.seq, &frame.body);
        if !ct_eq(&want, &frame.mac) {
            return Err(IlsError::Unauthenticated);
        }
        if frame.seq <= self.last {
            return Err(IlsError::Replayed {
                seq: frame.seq,
                last: self.last,
            });
        }
        let msg: Message =
            serde_json::from_slice(&frame.body).map_err(|e| IlsError::Malformed(e.to_string()))?;
        msg.validate()?;
        self.last = frame.seq;
        Ok(msg)
    }
}

/// A logical timestamp: a hybrid logical clock counter (Lamport, raised to wall-clock
/// milliseconds by the cluster that stamps it), then cluster ID as the tiebreak. Ordered by
/// `(counter, cluster)`; the highest version of a user's record wins everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// Hybrid logical clock counter (never below a version the stamping cluster had seen).
    pub counter: u64,
    /// The cluster that made the change.
    pub cluster: String,
}

/// Where a superuser's directory numbers are registered now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationRecord {
    /// User ID.
    pub user: String,
    /// The user's home cluster.
    pub home: String,
    /// The user's directory numbers (lines of their device profiles).
    pub dns: Vec<String>,
    /// The cluster the user is logged in at (`None`: nowhere; numbers route to `home`).
    pub at: Option<String>,
    /// Route string of `at`.
    pub route_string: Option<String>,
    /// Version of this record.
    pub version: Version,
}

/// "Cluster `cluster` has applied version `version` of `user`'s record" (clears deferred logouts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ack {
    /// User ID.
    pub user: String,
    /// The cluster that applied it.
    pub cluster: String,
    /// The version applied.
    pub version: Version,
}

/// A device profile line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineEntry {
    /// Directory number.
    pub dn: String,
    /// Line label.
    pub label: String,
    /// Display name.
    pub display_name: String,
}

/// A device profile copied by the superuser sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    /// Profile name.
    pub name: String,
    /// User locale.
    pub locale: String,
    /// Lines.
    pub lines: Vec<LineEntry>,
    /// Subscribed services.
    pub services: Vec<String>,
}

/// A superuser copied by the superuser sync (the PIN travels only as [`pin_digest`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperuserEntry {
    /// User ID.
    pub id: String,
    /// Home cluster.
    pub home: String,
    /// Primary extension (DN login).
    pub primary_extension: Option<String>,
    /// Self-service user ID (SP login).
    pub self_service_id: Option<String>,
    /// The user's device profiles.
    pub profiles: Vec<ProfileEntry>,
    /// Default profile name.
    pub default_profile: Option<String>,
    /// [`pin_digest`] of the PIN (hex).
    pub pin_digest: String,
}

/// One home cluster's superusers at one sync of the superuser sync tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperuserSet {
    /// The home cluster.
    pub origin: String,
    /// Increases with each sync of that cluster; a receiver keeps the highest.
    pub version: u64,
    /// The superusers homed on `origin`.
    pub users: Vec<SuperuserEntry>,
}

/// A peer info vector entry (Cluster View).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterInfo {
    /// Cluster ID.
    pub cluster_id: String,
    /// Advertised route string.
    pub route_string: String,
    /// Role.
    pub role: Role,
}

/// Sealed messages after the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// State: all of it (`full`, on connect and on every sync interval) or what changed.
    Sync {
        /// Whether this is the sender's whole state.
        full: bool,
        /// Peer info vectors the sender knows.
        clusters: Vec<ClusterInfo>,
        /// Location records.
        records: Vec<LocationRecord>,
        /// Applied versions.
        acks: Vec<Ack>,
        /// Superuser sets.
        superusers: Vec<SuperuserSet>,
    },
}

fn check_id(what: &str, s: &str) -> Result<(), IlsError> {
    if s.is_empty() || s.len() > MAX_ID_LEN || s.chars().any(char::is_control) {
        return Err(IlsError::Invalid(format!("{what} {s:?}")));
    }
    Ok(())
}

/// Checks a cluster ID: 1–50 alphanumerics, `.` or `-` (CUCM's enterprise parameter).
///
/// # Errors
/// [`IlsError::Invalid`].
pub fn check_cluster_id(s: &str) -> Result<(), IlsError> {
    if s.is_empty()
        || s.len() > 50
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(IlsError::Invalid(format!("cluster ID {s:?}")));
    }
    Ok(())
}

impl Message {
    /// Checks identifiers and references (cluster IDs well-formed, a record's route string
    /// present exactly when it has a location, digests hex).
    ///
    /// # Errors
    /// [`IlsError::Invalid`] naming the first bad field.
    pub fn validate(&self) -> Result<(), IlsError> {
        let Message::Sync {
            clusters,
            records,
            acks,
            superusers,
            ..
        } = self;
        for c in clusters {
            check_cluster_id(&c.cluster_id)?;
            check_id("route_string", &c.route_string)?;
        }
        for r in records {
            check_id("user", &r.user)?;
            check_cluster_id(&r.home)?;
            check_cluster_id(&r.version.cluster)?;
            for d in &r.dns {
                check_id("dn", d)?;
            }
            match (&r.at, &r.route_string) {
                (Some(a), Some(rs)) => {
                    check_cluster_id(a)?;
                    check_id("route_string", rs)?;
                }
                (None, None) => {}
                _ => return Err(IlsError::Invalid("route_string without location".into())),
            }
        }
        for a in acks {
            check_id("user", &a.user)?;
            check_cluster_id(&a.cluster)?;
            check_cluster_id(&a.version.cluster)?;
        }
        for s in superusers {
            check_cluster_id(&s.origin)?;
            for u in &s.users {
                check_id("user", &u.id)?;
                if u.home != s.origin {
                    return Err(IlsError::Invalid(format!(
                        "superuser {:?} not homed on {:?}",
                        u.id, s.origin
                    )));
                }
                if decode_hex(&u.pin_digest).is_none_or(|d| d.len() != MAC_LEN) {
                    return Err(IlsError::Invalid("pin_digest".into()));
                }
                if u.profiles.is_empty() {
                    return Err(IlsError::Invalid(format!(
                        "superuser {:?} has no profile",
                        u.id
                    )));
                }
                for p in &u.profiles {
                    check_id("profile", &p.name)?;
                    for l in &p.lines {
                        check_id("dn", &l.dn)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The PIN digest superusers travel with: `HMAC(ILS password, "pin" ‖ user ‖ pin)`, hex. Every
/// cluster knows the ILS password, so it can check a PIN typed on its phones without the PIN
/// ever crossing the network.
pub fn pin_digest(password: &str, user: &str, pin: &str) -> String {
    hex(&hmac_parts(
        password.as_bytes(),
        &[b"pin", user.as_bytes(), pin.as_bytes()],
    ))
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(D[usize::from(x >> 4)] as char);
        s.push(D[usize::from(x & 15)] as char);
    }
    s
}

/// Parses hex (either case); `None` if not hex.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests;
