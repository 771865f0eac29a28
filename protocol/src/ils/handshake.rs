//! The ILS password handshake (version 2), sans IO: the messages, the proofs, and one small
//! state machine per side ([`Accept`] for the listener, [`Dial`] for the dialer).
//!
//! The dialer proves first, so a listener answers a stranger with nothing computable from the
//! password:
//! 1. dialer → `Hello { version, cluster_id, route_string, role, nonce_c }`
//! 2. listener → `Challenge { nonce_s }` (or `Refused`: version, not a peer, link cut)
//! 3. dialer → `Auth { proof_c }`, `proof_c = HMAC(pw, "ils-client" ‖ nonce_c ‖ nonce_s ‖ ids)`
//! 4. listener checks `proof_c` in constant time; wrong: `Refused { AUTH_FAILED }`
//!    (ILSPwdAuthenticationFailed); right: `Welcome { cluster_id, proof_s }` with the
//!    `"ils-server"` label, which the dialer checks in turn.
//!
//! Both sides then derive `key = HMAC(pw, "ils-session" ‖ nonce_c ‖ nonce_s ‖ ids)`.
//! [`Accept::challenge`] takes no password: the type says the listener cannot leak it early.
//! `Hello` kept version 1's fields, so a version 1 cluster and a version 2 one each refuse the
//! other's `Hello` by its version number, with a reason that names it.

use serde::{Deserialize, Serialize};

use super::{
    ClusterInfo, Frame, IlsError, MAC_LEN, NONCE_LEN, Role, check_cluster_id, check_id, ct_eq,
    decode_hex, hex, hmac_parts,
};

/// The handshake version a `Hello` carries (2: the dialer proves first).
pub const VERSION: u32 = 2;

/// The `Refused` reason a listener gives when the dialer's proof does not verify.
pub const AUTH_FAILED: &str = "authentication failed";

/// Handshake messages (unsealed, seq 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Handshake {
    /// Dialer's opening (the same fields in every version, so any listener can name the
    /// version it refuses).
    Hello {
        /// Protocol version ([`VERSION`]).
        version: u32,
        /// Dialer's cluster ID.
        cluster_id: String,
        /// Dialer's advertised route string.
        route_string: String,
        /// Dialer's role.
        role: Role,
        /// Dialer's nonce (hex).
        nonce: String,
    },
    /// Listener's fresh nonce: all it says before the dialer has proved the password.
    Challenge {
        /// Listener's nonce (hex).
        nonce: String,
    },
    /// Dialer's proof.
    Auth {
        /// `proof_c` (hex).
        proof: String,
    },
    /// The listener accepted the dialer's proof and proves the password in turn (its route
    /// string and role come from the topology and the first sync, not from here).
    Welcome {
        /// Listener's cluster ID (bound by the proof).
        cluster_id: String,
        /// `proof_s` (hex).
        proof: String,
    },
    /// The listener refused (wrong password, version, not a peer it serves, link cut).
    Refused {
        /// Why, for logs.
        reason: String,
    },
}

impl Handshake {
    /// The framed bytes (seq 0, zero MAC).
    ///
    /// # Panics
    /// Never: handshake messages always serialize.
    pub fn encode(&self) -> Vec<u8> {
        Frame {
            seq: 0,
            mac: [0; MAC_LEN],
            body: serde_json::to_vec(self).expect("handshake serializes"),
        }
        .encode()
    }

    /// Parses a handshake frame.
    ///
    /// # Errors
    /// [`IlsError::Unauthenticated`] for a sealed frame (seq ≠ 0) during the handshake,
    /// [`IlsError::Malformed`] for bad JSON, [`IlsError::Invalid`] for bad identifiers.
    pub fn parse(frame: &Frame) -> Result<Handshake, IlsError> {
        if frame.seq != 0 || frame.mac != [0; MAC_LEN] {
            return Err(IlsError::Unauthenticated);
        }
        let h: Handshake =
            serde_json::from_slice(&frame.body).map_err(|e| IlsError::Malformed(e.to_string()))?;
        let nonce_ok = |n: &str| decode_hex(n).is_some_and(|n| n.len() == NONCE_LEN);
        match &h {
            Handshake::Hello {
                cluster_id,
                route_string,
                nonce,
                ..
            } => {
                check_cluster_id(cluster_id)?;
                check_id("route_string", route_string)?;
                if !nonce_ok(nonce) {
                    return Err(IlsError::Invalid("nonce".into()));
                }
            }
            Handshake::Challenge { nonce } if !nonce_ok(nonce) => {
                return Err(IlsError::Invalid("nonce".into()));
            }
            Handshake::Welcome { cluster_id, .. } => check_cluster_id(cluster_id)?,
            _ => {}
        }
        Ok(h)
    }

    fn name(&self) -> &'static str {
        match self {
            Handshake::Hello { .. } => "hello",
            Handshake::Challenge { .. } => "challenge",
            Handshake::Auth { .. } => "auth",
            Handshake::Welcome { .. } => "welcome",
            Handshake::Refused { .. } => "refused",
        }
    }
}

/// Why a handshake stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Bytes that are not a handshake message.
    #[error(transparent)]
    Ils(#[from] IlsError),
    /// A well-formed message at the wrong step.
    #[error("ILS handshake out of order: expected {expected}, got {got}")]
    OutOfOrder {
        /// The message this step waits for.
        expected: &'static str,
        /// The message that came.
        got: &'static str,
    },
    /// The dialer speaks another handshake version.
    #[error(
        "ILS handshake version {0} is not supported: this cluster speaks version {VERSION} \
         (the dialer proves the password first); run the same emroam release on both clusters"
    )]
    Version(u32),
    /// A proof did not verify: the clusters' ILS passwords differ.
    #[error("{AUTH_FAILED}: ILS password mismatch")]
    BadProof,
    /// The listener refused, giving this reason.
    #[error("refused by the peer: {0}")]
    Refused(String),
    /// The listener answered as another cluster than the one dialed.
    #[error("the peer answered as cluster {0:?}")]
    WrongPeer(String),
}

impl HandshakeError {
    /// The [`IlsError::kind`] this is counted under, `refused` for a version or identity
    /// refusal, `None` for a failed proof (counted as ILSPwdAuthenticationFailed) or a
    /// refusal received.
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            HandshakeError::Ils(e) => Some(e.kind()),
            HandshakeError::OutOfOrder { .. } => Some("malformed"),
            HandshakeError::Version(_) | HandshakeError::WrongPeer(_) => Some("refused"),
            HandshakeError::BadProof | HandshakeError::Refused(_) => None,
        }
    }
}

/// Everything a proof binds: both nonces and both cluster IDs.
#[derive(Debug, Clone, Copy)]
pub struct Transcript<'a> {
    /// The dialer's nonce.
    pub client_nonce: &'a [u8],
    /// The listener's nonce.
    pub server_nonce: &'a [u8],
    /// The dialer's cluster ID.
    pub client_id: &'a str,
    /// The listener's cluster ID.
    pub server_id: &'a str,
}

impl Transcript<'_> {
    fn proof(&self, password: &str, label: &[u8]) -> [u8; MAC_LEN] {
        hmac_parts(
            password.as_bytes(),
            &[
                label,
                self.client_nonce,
                self.server_nonce,
                self.client_id.as_bytes(),
                self.server_id.as_bytes(),
            ],
        )
    }

    /// The listener's proof, hex.
    pub fn server_proof(&self, password: &str) -> String {
        hex(&self.proof(password, b"ils-server"))
    }

    /// The dialer's proof, hex.
    pub fn client_proof(&self, password: &str) -> String {
        hex(&self.proof(password, b"ils-client"))
    }

    /// Whether `proof` (hex) is the listener's proof, compared in constant time.
    pub fn verify_server(&self, password: &str, proof: &str) -> bool {
        ct_eq_hex(&self.proof(password, b"ils-server"), proof)
    }

    /// Whether `proof` (hex) is the dialer's proof, compared in constant time.
    pub fn verify_client(&self, password: &str, proof: &str) -> bool {
        ct_eq_hex(&self.proof(password, b"ils-client"), proof)
    }

    /// The session key both sides derive after the handshake.
    pub fn session_key(&self, password: &str) -> [u8; MAC_LEN] {
        self.proof(password, b"ils-session")
    }
}

fn ct_eq_hex(want: &[u8; MAC_LEN], got: &str) -> bool {
    decode_hex(got).is_some_and(|got| ct_eq(want, &got))
}

/// The error for `got` arriving where `expected` should have.
fn unexpected(got: Handshake, expected: &'static str) -> HandshakeError {
    match got {
        Handshake::Refused { reason } => HandshakeError::Refused(reason),
        h => HandshakeError::OutOfOrder {
            expected,
            got: h.name(),
        },
    }
}

/// The listener's side of one handshake: [`Accept::hello`], then send [`Accept::challenge`],
/// then [`Accept::auth`].
#[derive(Clone)]
pub struct Accept {
    me: ClusterInfo,
    nonce: [u8; NONCE_LEN],
    /// The dialer's cluster ID and nonce, once its `Hello` was read.
    dialer: Option<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Accept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accept")
            .field("me", &self.me.cluster_id)
            .field("dialer", &self.dialer.as_ref().map(|d| &d.0))
            .finish_non_exhaustive()
    }
}

impl Accept {
    /// A listener's handshake as `me`, with its fresh `nonce`.
    pub fn new(me: ClusterInfo, nonce: [u8; NONCE_LEN]) -> Accept {
        Accept {
            me,
            nonce,
            dialer: None,
        }
    }

    /// Reads the dialer's `Hello`; the caller decides whether it serves that cluster, and if
    /// so sends [`Accept::challenge`].
    ///
    /// # Errors
    /// Not a `Hello` ([`HandshakeError::Ils`], [`HandshakeError::OutOfOrder`]), or another
    /// version ([`HandshakeError::Version`]: answer `Refused` with its text).
    pub fn hello(&mut self, frame: &Frame) -> Result<ClusterInfo, HandshakeError> {
        let (version, cluster_id, route_string, role, nonce) = match Handshake::parse(frame)? {
            Handshake::Hello {
                version,
                cluster_id,
                route_string,
                role,
                nonce,
            } => (version, cluster_id, route_string, role, nonce),
            h => return Err(unexpected(h, "hello")),
        };
        if version != VERSION {
            return Err(HandshakeError::Version(version));
        }
        let nonce = decode_hex(&nonce).ok_or(IlsError::Invalid("nonce".into()))?;
        self.dialer = Some((cluster_id.clone(), nonce));
        Ok(ClusterInfo {
            cluster_id,
            route_string,
            role,
        })
    }

    /// The `Challenge` to send: the listener's nonce, nothing derived from the password.
    pub fn challenge(&self) -> Handshake {
        Handshake::Challenge {
            nonce: hex(&self.nonce),
        }
    }

    /// Checks the dialer's `Auth` in constant time: the `Welcome` to send and the session key.
    ///
    /// # Errors
    /// [`HandshakeError::BadProof`] (answer `Refused { AUTH_FAILED }`), or not an `Auth`
    /// after a `Hello`.
    pub fn auth(
        &self,
        frame: &Frame,
        password: &str,
    ) -> Result<(Handshake, [u8; MAC_LEN]), HandshakeError> {
        let proof = match Handshake::parse(frame)? {
            Handshake::Auth { proof } => proof,
            h => return Err(unexpected(h, "auth")),
        };
        let Some((client_id, client_nonce)) = &self.dialer else {
            return Err(HandshakeError::OutOfOrder {
                expected: "hello",
                got: "auth",
            });
        };
        let tr = Transcript {
            client_nonce,
            server_nonce: &self.nonce,
            client_id,
            server_id: &self.me.cluster_id,
        };
        if !tr.verify_client(password, &proof) {
            return Err(HandshakeError::BadProof);
        }
        let welcome = Handshake::Welcome {
            cluster_id: self.me.cluster_id.clone(),
            proof: tr.server_proof(password),
        };
        Ok((welcome, tr.session_key(password)))
    }
}

/// The dialer's side of one handshake: send [`Dial::hello`], then [`Dial::challenge`] gives
/// the `Auth` to send, then [`Dial::welcome`].
#[derive(Clone)]
pub struct Dial {
    me: ClusterInfo,
    peer: String,
    nonce: [u8; NONCE_LEN],
    /// The listener's nonce, once its `Challenge` was read.
    server_nonce: Option<Vec<u8>>,
}

impl std::fmt::Debug for Dial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dial")
            .field("me", &self.me.cluster_id)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Dial {
    /// A dialer's handshake as `me` with `peer`, with its fresh `nonce`.
    pub fn new(me: ClusterInfo, peer: &str, nonce: [u8; NONCE_LEN]) -> Dial {
        Dial {
            me,
            peer: peer.to_owned(),
            nonce,
            server_nonce: None,
        }
    }

    /// The `Hello` to send.
    pub fn hello(&self) -> Handshake {
        Handshake::Hello {
            version: VERSION,
            cluster_id: self.me.cluster_id.clone(),
            route_string: self.me.route_string.clone(),
            role: self.me.role,
            nonce: hex(&self.nonce),
        }
    }

    fn transcript<'a>(&'a self, server_nonce: &'a [u8]) -> Transcript<'a> {
        Transcript {
            client_nonce: &self.nonce,
            server_nonce,
            client_id: &self.me.cluster_id,
            server_id: &self.peer,
        }
    }

    /// Reads the listener's `Challenge`: the `Auth` to send.
    ///
    /// # Errors
    /// [`HandshakeError::Refused`] (the listener's reason), or not a `Challenge`.
    pub fn challenge(
        &mut self,
        frame: &Frame,
        password: &str,
    ) -> Result<Handshake, HandshakeError> {
        let nonce = match Handshake::parse(frame)? {
            Handshake::Challenge { nonce } => nonce,
            h => return Err(unexpected(h, "challenge")),
        };
        let sn = decode_hex(&nonce).ok_or(IlsError::Invalid("nonce".into()))?;
        let proof = self.transcript(&sn).client_proof(password);
        self.server_nonce = Some(sn);
        Ok(Handshake::Auth { proof })
    }

    /// Reads the listener's `Welcome`: the session key.
    ///
    /// # Errors
    /// [`HandshakeError::Refused`] (with [`AUTH_FAILED`] when the passwords differ),
    /// [`HandshakeError::WrongPeer`], [`HandshakeError::BadProof`] (a listener that does not
    /// know the password), or not a `Welcome` after a `Challenge`.
    pub fn welcome(&self, frame: &Frame, password: &str) -> Result<[u8; MAC_LEN], HandshakeError> {
        let (cluster_id, proof) = match Handshake::parse(frame)? {
            Handshake::Welcome { cluster_id, proof } => (cluster_id, proof),
            h => return Err(unexpected(h, "welcome")),
        };
        let Some(sn) = &self.server_nonce else {
            return Err(HandshakeError::OutOfOrder {
                expected: "challenge",
                got: "welcome",
            });
        };
        if cluster_id != self.peer {
            return Err(HandshakeError::WrongPeer(cluster_id));
        }
        let tr = self.transcript(sn);
        if !tr.verify_server(password, &proof) {
            return Err(HandshakeError::BadProof);
        }
        Ok(tr.session_key(password))
    }
}
