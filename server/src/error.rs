//! The server's error types: [`ServerError`] for starting and running clusters (with
//! [`IlsTlsError`] for a cluster's ILS TLS files), and
//! [`crate::http::HttpError`] (in `http`, beside its one mapping to a response, `into_response`)
//! for requests refused before any EM logic.

use std::path::PathBuf;

use crate::store::StoreError;
use crate::topology::TopologyError;

/// Why clusters could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The topology file is bad.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// `--cluster` named a cluster the topology lacks.
    #[error("no cluster {0:?} in the topology")]
    UnknownCluster(String),
    /// A listener could not be bound (the OS error is the source, printed once by the
    /// caller's error chain).
    #[error("cluster {cluster}: cannot listen on {addr}")]
    Bind {
        /// Cluster ID.
        cluster: String,
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The data directory is unusable (the OS error is the source).
    #[error("data directory {path}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the lock on a cluster database ([`crate::datalock`]).
    #[error(
        "{} is held by {}: another emroam server runs this cluster on the same data directory (stop it, or give another --data-dir)",
        path.display(),
        holder.map_or_else(|| "another process".to_owned(), |p| format!("process {p}"))
    )]
    Locked {
        /// The lock file.
        path: std::path::PathBuf,
        /// The PID written in the lock file by its holder, if readable.
        holder: Option<u32>,
    },
    /// The login database failed to open.
    #[error("cluster {0}: {1}")]
    Store(String, StoreError),
    /// The cluster's ILS TLS files cannot be used.
    #[error("cluster {0}: {1}")]
    IlsTls(String, IlsTlsError),
    /// A bug or a panicked task.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a cluster's ILS TLS could not be set up (at start).
#[derive(Debug, thiserror::Error)]
pub enum IlsTlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("ILS TLS: {}: {what}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the key's contents).
        what: String,
    },
    /// The certificates or key were refused by rustls (a key not matching the certificate, a
    /// CA that is not one, …).
    #[error("ILS TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client certificate verifier could not be built (no usable CA).
    #[error("ILS TLS: the CA file gives no trust anchor: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The cluster ID cannot be a certificate's DNS name.
    #[error("ILS TLS: cluster ID {0:?} is not a DNS name a certificate can carry")]
    BadId(String),
    /// The cluster's own certificate does not name it.
    #[error("ILS TLS: {} does not name this cluster ({cluster:?}) as a DNS subject alternative name", path.display())]
    NotNamed {
        /// The certificate file.
        path: PathBuf,
        /// The cluster ID.
        cluster: String,
    },
}
