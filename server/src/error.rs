//! The server's error types: [`ServerError`] for starting and running clusters, and
//! [`crate::http::HttpError`] (in `http`, beside its one mapping to a response, `into_response`)
//! for requests refused before any EM logic.

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
    /// A bug or a panicked task.
    #[error("internal error: {0}")]
    Internal(String),
}
