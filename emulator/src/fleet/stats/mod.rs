//! Fleet statistics: what is counted ([`Counts`], [`SipCounts`]), per-shard [`Recorder`]s
//! merged by one aggregator, the [`Snapshot`]s it publishes, and the [`Sinks`] it writes each
//! interval.

mod counts;
mod recorder;
mod sinks;
mod snapshot;

pub use counts::{CallResult, Counts, Dropped, Route, RouteCounts, SipCounts};
pub use recorder::{ClusterStats, HIST_MAX_US, LATE_AFTER, Recorder};
pub use sinks::{HlogWriter, Sinks, begin_hlog, csv_header, rfc3339_utc};
pub use snapshot::{Move, PhoneStates, Roamer, Snapshot};
