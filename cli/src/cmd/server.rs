//! `emroam server`: run reference clusters from a topology file until Ctrl-C or SIGTERM.
//!
//! Builds the tokio runtime and the root [`CancellationToken`] (cancelled by the shutdown
//! signal), then hands over to [`emroam_server::run_with`]. Once every cluster is
//! serving it prints one line per cluster on stdout, `cluster ID http ADDR config ADDR`, so
//! scripts (and tests, with port 0 in the topology) learn the bound addresses.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use emroam_server::http::Limits;
use emroam_server::{Options, Topology};
use tokio_util::sync::CancellationToken;

use super::Exit;
use crate::cli::ServerArgs;

/// Runs `emroam server`.
///
/// # Errors
/// The runtime cannot start, a listener cannot be bound, the data directory is unusable.
/// A bad topology file, or a cluster database another server holds, is reported and exits 2.
pub fn run(args: &ServerArgs) -> anyhow::Result<Exit> {
    let topo = match Topology::load(&args.topology) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("emroam server: {e}");
            return Ok(Exit::BadInput);
        }
    };
    if let Some(bad) = args.clusters.iter().find(|c| topo.cluster(c).is_none()) {
        eprintln!(
            "emroam server: no cluster {bad:?} in {}",
            args.topology.display()
        );
        return Ok(Exit::BadInput);
    }
    let opts = Options {
        data_dir: (!args.in_memory).then(|| args.data_dir.clone()),
        admin_token: args.admin_token.clone(),
        durability: match args.sync {
            crate::cli::SyncMode::Crash => emroam_server::store::Durability::Crash,
            crate::cli::SyncMode::PowerLoss => emroam_server::store::Durability::PowerLoss,
        },
        limits: Limits {
            drain_deadline: Duration::from_secs(args.drain_secs),
            ..Limits::default()
        },
        sip: emroam_server::sip::SipOptions::default(),
    };
    let served = super::runtime()?.block_on(async {
        let token = CancellationToken::new();
        super::cancel_on_signal(token.clone(), || {
            tracing::warn!("shutdown requested; draining");
        });
        emroam_server::run_with(&topo, &args.clusters, &opts, token, |running| {
            let mut out = std::io::stdout().lock();
            for c in running.clusters() {
                if let Some((http, config)) = running.addrs(c.id()) {
                    let mut line = format!("cluster {} http {http} config {config}", c.id());
                    if let Some(ils) = c.ils_addr() {
                        line.push_str(&format!(" ils {ils}"));
                    }
                    if let Some((_, sip)) = running.sip(c.id()) {
                        line.push_str(&format!(" sip {sip}"));
                    }
                    let _ = writeln!(out, "{line}");
                }
            }
            let _ = out.flush();
        })
        .await
    });
    match served {
        Ok(()) => Ok(Exit::Ok),
        // Another server holds a cluster database: fix the command line (exit 2).
        Err(e @ emroam_server::ServerError::Locked { .. }) => {
            eprintln!("emroam server: {e}");
            Ok(Exit::BadInput)
        }
        Err(e) => Err(e).context("reference server"),
    }
}
