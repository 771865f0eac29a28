//! Why a fleet run could not happen.

use std::path::PathBuf;

/// Why a run could not happen (a failed threshold is not an error: see
/// [`super::report`]).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Output files could not be written.
    #[error("writing {path}: {source}")]
    Output {
        /// Which file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Logins were found at the start and the profile says `found_logged_in = "refuse"`.
    #[error("{}", .0.refusal())]
    FoundLoggedIn(Box<super::start::StartState>),
    /// A shard's SIP socket could not be bound.
    #[error("binding the phones' SIP socket at {addr}: {source}")]
    SipBind {
        /// The `[sip] bind` address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}
