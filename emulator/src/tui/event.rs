//! The dashboard's one event source: a task merging the crossterm `EventStream` (keys,
//! resizes), a redraw tick, the fleet's stats snapshots and the cluster poller's snapshots
//! (both `watch`: the newest wins, a slow terminal never holds back the producers), and the
//! outcomes of controls, into one [`Event`] stream.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::EventStream;
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::app::ClusterObs;
use crate::fleet::stats::Snapshot;

/// Redraws per second (the redraw rate, apart from the once-a-second data refresh).
pub const FRAME_RATE: f64 = 10.0;

/// Events queued between the event task and the loop; the producers behind it are `watch`
/// channels, so a full queue only delays the dashboard, never the fleet.
const QUEUE: usize = 64;

/// Everything the dashboard reacts to.
#[derive(Debug, Clone)]
pub enum Event {
    /// Time to redraw if anything changed.
    Tick,
    /// A key, a resize, a paste.
    Input(crossterm::event::Event),
    /// A new fleet snapshot.
    Stats(Arc<Snapshot>),
    /// The traced phone's last journey.
    Trace(Arc<crate::fleet::PhoneTrace>),
    /// A new poll of every cluster.
    Clusters(Arc<Vec<ClusterObs>>),
    /// A control finished: what to show in the status line.
    Done(String),
    /// The fleet's run ended (drained and reported).
    FleetFinished,
}

/// Where the event task reads from.
#[derive(Debug)]
pub struct Sources {
    /// The fleet's snapshots (none in `emroam tui`).
    pub stats: Option<watch::Receiver<Arc<Snapshot>>>,
    /// The traced phone's journeys (none in `emroam tui`).
    pub trace: Option<watch::Receiver<Arc<crate::fleet::PhoneTrace>>>,
    /// The poller's snapshots.
    pub clusters: watch::Receiver<Arc<Vec<ClusterObs>>>,
    /// Outcomes of controls and the fleet's end.
    pub done: mpsc::Receiver<Event>,
    /// Read the terminal (off in tests).
    pub terminal: bool,
}

/// Starts the event task; its stream ends when `token` is cancelled.
pub fn spawn(mut src: Sources, token: CancellationToken) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        let mut keys = src.terminal.then(EventStream::new);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / FRAME_RATE));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut stats_open = src.stats.is_some();
        let mut trace_open = src.trace.is_some();
        let mut clusters_open = true;
        let mut done_open = true;
        loop {
            let ev = tokio::select! {
                () = token.cancelled() => return,
                _ = tick.tick() => Event::Tick,
                Some(k) = async { keys.as_mut()?.next().await } => match k {
                    Ok(e) => Event::Input(e),
                    // A broken terminal read: stop reading keys; Ctrl-C still cancels.
                    Err(e) => {
                        tracing::warn!(error = %e, "terminal events stopped");
                        keys = None;
                        continue;
                    }
                },
                r = async { src.stats.as_mut()?.changed().await.ok() }, if stats_open => match r {
                    Some(()) => match src.stats.as_mut() {
                        Some(s) => Event::Stats(s.borrow_and_update().clone()),
                        None => continue,
                    },
                    None => { stats_open = false; continue }
                },
                r = async { src.trace.as_mut()?.changed().await.ok() }, if trace_open => match r {
                    Some(()) => match src.trace.as_mut() {
                        Some(s) => Event::Trace(s.borrow_and_update().clone()),
                        None => continue,
                    },
                    None => { trace_open = false; continue }
                },
                r = src.clusters.changed(), if clusters_open => match r {
                    Ok(()) => Event::Clusters(src.clusters.borrow_and_update().clone()),
                    Err(_) => { clusters_open = false; continue }
                },
                d = src.done.recv(), if done_open => match d {
                    Some(e) => e,
                    None => { done_open = false; continue }
                },
            };
            // A closed receiver is the signal to stop.
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    rx
}
