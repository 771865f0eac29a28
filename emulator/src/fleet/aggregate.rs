//! The one aggregator: merges the shards' recorder deltas, writes an interval (HdrHistogram
//! log, CSV row, [`Snapshot`]) every [`INTERVAL`], hands emptied recorders back, and returns
//! the run's total.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::directory::Directory;
use super::error::FleetError;
use super::stats::{self, Recorder, Snapshot};
use super::watchdog::{Lost, Watchdog};

/// How often the aggregator writes an interval (log line, CSV row, snapshot).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// How often shards hand their recorders to the aggregator: a quarter interval, with the
/// aggregator's ticks half a flush after theirs, so each sample lands in its own interval.
pub const FLUSH: Duration = Duration::from_millis(250);

/// What shards and the scheduler tell the aggregator.
pub(super) enum AggMsg {
    Delta {
        shard: usize,
        rec: Recorder,
        in_flight: u64,
        /// Phones believed logged in, per cluster.
        logged_in: Vec<u64>,
        /// Phones by state, per cluster.
        states: Vec<stats::PhoneStates>,
    },
    Phase(String),
}

/// Where a run writes its files.
#[derive(Debug, Clone)]
pub struct OutFiles {
    /// Directory.
    pub dir: PathBuf,
}

impl OutFiles {
    /// `summary.json`.
    pub fn summary(&self) -> PathBuf {
        self.dir.join("summary.json")
    }
    /// `latency.hlog`.
    pub fn hlog(&self) -> PathBuf {
        self.dir.join("latency.hlog")
    }
    /// `timeseries.csv`.
    pub fn csv(&self) -> PathBuf {
        self.dir.join("timeseries.csv")
    }

    /// The line a run's report ends with: `wrote <summary>, <hlog> and <csv>`.
    pub fn wrote(&self) -> String {
        format!(
            "wrote {}, {} and {}",
            self.summary().display(),
            self.hlog().display(),
            self.csv().display()
        )
    }
}

fn create(path: &Path) -> Result<Box<dyn std::io::Write + Send>, FleetError> {
    let f = std::fs::File::create(path).map_err(|source| FleetError::Output {
        path: path.to_owned(),
        source,
    })?;
    Ok(Box::new(std::io::BufWriter::new(f)))
}

/// What the aggregator is given besides the shards' messages.
pub(super) struct AggSetup {
    pub(super) spares: Vec<mpsc::Sender<Recorder>>,
    pub(super) clusters: Vec<String>,
    pub(super) start: Instant,
    pub(super) out: Option<OutFiles>,
    pub(super) snap: watch::Sender<Arc<Snapshot>>,
    /// Where the fleet believes users are: read into each snapshot for the dashboard.
    pub(super) dir: Arc<Directory>,
    /// Watches for a target that went away, and cancels `stop` when one did.
    pub(super) watchdog: Watchdog,
    pub(super) stop: CancellationToken,
}

/// Merges until every shard and the scheduler are gone; returns the run's total and the
/// target whose loss stopped the run, if one did.
pub(super) async fn aggregate(
    mut rx: mpsc::Receiver<AggMsg>,
    setup: AggSetup,
) -> Result<(Recorder, Option<Lost>), FleetError> {
    let AggSetup {
        spares,
        clusters,
        start,
        out,
        snap,
        dir,
        mut watchdog,
        stop,
    } = setup;
    let mut lost: Option<Lost> = None;
    let n = clusters.len();
    let (mut hlog_file, mut csv_file) = match &out {
        Some(o) => {
            std::fs::create_dir_all(&o.dir).map_err(|source| FleetError::Output {
                path: o.dir.clone(),
                source,
            })?;
            (Some(create(&o.hlog())?), Some(create(&o.csv())?))
        }
        None => (None, None),
    };
    let mut ser = hdrhistogram::serialization::V2DeflateSerializer::new();
    // The run's start on the wall clock (tokio's clock may be paused; the wall clock is not).
    let wall_start = std::time::SystemTime::now()
        .checked_sub(start.elapsed())
        .unwrap_or_else(std::time::SystemTime::now);
    let io_err = |path: PathBuf| move |source: std::io::Error| FleetError::Output { path, source };
    let hlog_path = out.as_ref().map(OutFiles::hlog).unwrap_or_default();
    let hlog = match hlog_file.as_mut() {
        Some(f) => {
            Some(stats::begin_hlog(f, &mut ser, wall_start).map_err(io_err(hlog_path.clone()))?)
        }
        None => None,
    };
    if let Some(c) = csv_file.as_mut() {
        c.write_all(stats::csv_header(&clusters).as_bytes())
            .map_err(io_err(out.as_ref().map(OutFiles::csv).unwrap_or_default()))?;
    }
    let mut sinks = stats::Sinks {
        hlog,
        csv: csv_file,
        clusters,
        wall_start,
    };
    let mut total = Recorder::new(n);
    let mut interval = Recorder::new(n);
    let mut in_flight: HashMap<usize, u64> = HashMap::new();
    let mut logged_in: HashMap<usize, Vec<u64>> = HashMap::new();
    let mut states: HashMap<usize, Vec<stats::PhoneStates>> = HashMap::new();
    let mut phase = String::new();
    let mut phases_from = None;
    let mut last = Duration::ZERO;
    let mut tick = tokio::time::interval_at(start + INTERVAL + FLUSH / 2, INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut write_interval = |interval: &mut Recorder,
                              total: &Recorder,
                              in_flight: u64,
                              logged_in: Vec<u64>,
                              states: Vec<stats::PhoneStates>,
                              phase: &str,
                              phases_from: Option<Duration>,
                              last: &mut Duration| {
        let elapsed = start.elapsed();
        let delta = interval.take();
        let r = sinks.interval(*last, elapsed.saturating_sub(*last), &delta, in_flight);
        *last = elapsed;
        snap.send_replace(Arc::new(Snapshot {
            elapsed,
            total: total.clone(),
            in_flight,
            phase: phase.to_owned(),
            logged_in,
            states,
            phases_from,
            roamers: dir.roamers(start),
            carried: dir.carried(),
        }));
        r
    };
    let per_cluster = |m: &HashMap<usize, Vec<u64>>| {
        let mut v = vec![0u64; n];
        for li in m.values() {
            for (a, b) in v.iter_mut().zip(li) {
                *a += b;
            }
        }
        v
    };
    let states_per_cluster = |m: &HashMap<usize, Vec<stats::PhoneStates>>| {
        let mut v = vec![stats::PhoneStates::default(); n];
        for st in m.values() {
            for (a, b) in v.iter_mut().zip(st) {
                a.add(b);
            }
        }
        v
    };
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(AggMsg::Delta { shard, rec, in_flight: f, logged_in: li, states: st }) => {
                    logged_in.insert(shard, li);
                    states.insert(shard, st);
                    total.merge(&rec);
                    interval.merge(&rec);
                    let mut rec = rec;
                    rec.reset();
                    if let Some(back) = spares.get(shard) {
                        let _ = back.try_send(rec);
                    }
                    in_flight.insert(shard, f);
                }
                Some(AggMsg::Phase(p)) => {
                    if phase.is_empty() {
                        watchdog.phases_began(start.elapsed());
                    }
                    if p != "boot" && phases_from.is_none() {
                        phases_from = Some(start.elapsed());
                    }
                    phase = p;
                }
                None => break,
            },
            _ = tick.tick() => {
                if lost.is_none()
                    && let Some(l) = watchdog.interval(last, start.elapsed(), &interval)
                {
                    tracing::warn!(cluster = %l.cluster, address = %l.address, "target unreachable: stopping the run");
                    stop.cancel();
                    lost = Some(l);
                }
                let f = in_flight.values().sum();
                write_interval(&mut interval, &total, f, per_cluster(&logged_in), states_per_cluster(&states), &phase, phases_from, &mut last)
                    .map_err(io_err(hlog_path.clone()))?;
            }
        }
    }
    write_interval(
        &mut interval,
        &total,
        0,
        per_cluster(&logged_in),
        states_per_cluster(&states),
        &phase,
        phases_from,
        &mut last,
    )
    .map_err(io_err(hlog_path))?;
    if let Some(c) = sinks.csv.as_mut() {
        let _ = c.flush();
    }
    if let Some(f) = hlog_file.as_mut() {
        let _ = f.flush();
    }
    Ok((total, lost))
}
