//! Where the aggregator writes each interval: the HdrHistogram interval log (in the format
//! HdrHistogram's own readers take) and the CSV time series (one row per interval, the
//! fleet's columns then each cluster's).

use std::borrow::Cow;
use std::io::Write;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag};

use super::counts::Counts;
use super::recorder::Recorder;
use crate::phone::Step;

/// The interval log writer the aggregator hands to [`Sinks`].
pub type HlogWriter<'a> = IntervalLogWriter<'a, 'a, Box<dyn Write + Send>, V2DeflateSerializer>;

/// Where the aggregator writes each interval: the HdrHistogram interval log and the CSV
/// time series (both optional).
pub struct Sinks<'a> {
    /// The interval log (begun by [`begin_hlog`]): each interval, an untagged line with every
    /// journey of every cluster, then `Tag=<step>.<cluster>` lines.
    pub hlog: Option<HlogWriter<'a>>,
    /// CSV rows, one per interval, under [`csv_header`].
    pub csv: Option<Box<dyn Write + Send>>,
    /// Cluster names, in target order.
    pub clusters: Vec<String>,
    /// When the run started on the wall clock: a row's `time_utc` is this plus its
    /// `elapsed_s`, the log's `StartTime`/`BaseTime` are this.
    pub wall_start: SystemTime,
}

impl std::fmt::Debug for Sinks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("hlog", &self.hlog.is_some())
            .field("csv", &self.csv.is_some())
            .finish()
    }
}

/// Starts an interval log as HdrHistogram's `HistogramLogWriter` does (format version,
/// start and base time, legend), so Java's `HistogramLogProcessor` and Python's
/// `HistogramLogReader` read it: values in microseconds, the max column too (no divisor;
/// `HistogramLogProcessor -outputValueUnitRatio 1000` gives milliseconds), timestamps in
/// seconds from `wall_start`.
///
/// # Errors
/// I/O.
pub fn begin_hlog<'a>(
    out: &'a mut Box<dyn Write + Send>,
    ser: &'a mut V2DeflateSerializer,
    wall_start: SystemTime,
) -> std::io::Result<HlogWriter<'a>> {
    let epoch_s = wall_start
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    write!(
        out,
        "#[Logged with emroam {}]\n\
         #[Histogram log format version 1.3]\n\
         #[Values in microseconds (Interval_Max too), latency from each journey's intended start]\n\
         #[Untagged lines: every journey on every cluster; Tag=<step>.<cluster>: one step on one cluster]\n\
         #[StartTime: {epoch_s:.3} (seconds since epoch), {}]\n\
         #[BaseTime: {epoch_s:.3} (seconds since epoch)]\n\
         \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        env!("CARGO_PKG_VERSION"),
        rfc3339_utc(wall_start),
    )?;
    // Nothing more for the builder to write: its only other header is a non-standard
    // `#[MaxValueDivisor]`, which the default divisor (1) leaves out.
    IntervalLogWriterBuilder::new().begin_log_with(out, ser)
}

/// `2026-12-02T13:21:28.123Z`: RFC 3339, UTC, milliseconds.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days: days since 1970-01-01 to a proleptic Gregorian date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// One interval's figures, of the whole fleet or of one cluster.
struct Figures<'a> {
    c: &'a Counts,
    journey: Option<&'a Histogram<u64>>,
    setup: Option<&'a Histogram<u64>>,
    in_flight: u64,
}

type Cell = fn(&Figures<'_>) -> String;

/// A latency quantile in ms, empty when the interval has no sample (pandas reads NaN).
fn quantile(h: Option<&Histogram<u64>>, q: f64) -> String {
    h.map_or_else(String::new, |h| {
        format!("{:.3}", h.value_at_quantile(q) as f64 / 1000.0)
    })
}

fn max_ms(h: Option<&Histogram<u64>>) -> String {
    h.map_or_else(String::new, |h| format!("{:.3}", h.max() as f64 / 1000.0))
}

/// The fleet's columns (after `time_utc,elapsed_s,interval_s`): counts within the interval,
/// latencies of the interval's samples.
const FLEET: &[(&str, Cell)] = &[
    ("logins_attempted", |f| f.c.logins_attempted.to_string()),
    ("logins_ok", |f| f.c.logins_ok.to_string()),
    ("logouts_attempted", |f| f.c.logouts_attempted.to_string()),
    ("logouts_ok", |f| f.c.logouts_ok.to_string()),
    ("busy", |f| f.c.busy.to_string()),
    ("failed", |f| f.c.failed.to_string()),
    ("late_starts", |f| f.c.late_starts.to_string()),
    ("dropped", |f| f.c.dropped.to_string()),
    ("in_flight", |f| f.in_flight.to_string()),
    ("journey_p50_ms", |f| quantile(f.journey, 0.5)),
    ("journey_p99_ms", |f| quantile(f.journey, 0.99)),
    ("journey_max_ms", |f| max_ms(f.journey)),
    ("abandoned", |f| f.c.abandoned.to_string()),
    ("roaming_attempted", |f| f.c.roaming_attempted.to_string()),
    ("roaming_ok", |f| f.c.roaming_ok.to_string()),
    ("boots_ok", |f| f.c.sip.boots_ok.to_string()),
    ("boots_failed", |f| f.c.sip.boots_failed.to_string()),
    ("refreshes_ok", |f| f.c.sip.refreshes_ok.to_string()),
    ("refreshes_failed", |f| f.c.sip.refreshes_failed.to_string()),
    ("calls_attempted", |f| f.c.sip.calls_attempted.to_string()),
    ("calls_ok", |f| f.c.sip.calls_ok.to_string()),
    ("calls_busy", |f| f.c.sip.calls_busy.to_string()),
    ("calls_failed", |f| f.c.sip.calls_failed.to_string()),
    ("calls_misrouted", |f| f.c.sip.calls_misrouted.to_string()),
    ("calls_dropped", |f| f.c.sip.calls_dropped.to_string()),
    ("answered", |f| f.c.sip.answered.to_string()),
    ("missed", |f| f.c.sip.missed.to_string()),
    ("call_setup_p50_ms", |f| quantile(f.setup, 0.5)),
    ("call_setup_p99_ms", |f| quantile(f.setup, 0.99)),
];

/// Each cluster's columns, named `<cluster>.<column>`, after the fleet's: some of the
/// fleet's, for that cluster alone.
const CLUSTER: &[&str] = &[
    "logins_attempted",
    "logins_ok",
    "logouts_attempted",
    "logouts_ok",
    "busy",
    "failed",
    "dropped",
    "journey_p99_ms",
    "calls_attempted",
    "calls_ok",
    "calls_failed",
];

/// A fleet column's cell, by its name.
fn cell(name: &str) -> Cell {
    FLEET
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .expect("every cluster column is a fleet column")
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// The CSV header for these clusters: `time_utc,elapsed_s,interval_s`, the fleet's columns,
/// then `<cluster>.<column>` for each cluster in turn.
pub fn csv_header(clusters: &[String]) -> String {
    let mut cols: Vec<Cow<'_, str>> = ["time_utc", "elapsed_s", "interval_s"]
        .into_iter()
        .chain(FLEET.iter().map(|(n, _)| *n))
        .map(Cow::Borrowed)
        .collect();
    for c in clusters {
        for n in CLUSTER {
            cols.push(Cow::Owned(field(&format!("{c}.{n}")).into_owned()));
        }
    }
    cols.join(",") + "\n"
}

impl Sinks<'_> {
    /// Writes one interval: its histograms to the log, a row to the CSV.
    ///
    /// # Errors
    /// I/O.
    pub fn interval(
        &mut self,
        start: Duration,
        len: Duration,
        delta: &Recorder,
        in_flight: u64,
    ) -> std::io::Result<()> {
        let journey = delta.step_all(Step::Journey);
        if let Some(log) = &mut self.hlog {
            let err = |e| std::io::Error::other(format!("{e:?}"));
            if let Some(h) = &journey {
                log.write_histogram(h, start, len, None).map_err(err)?;
            }
            for (ci, c) in delta.clusters().iter().enumerate() {
                for step in Step::ALL {
                    if let Some(h) = c.hist(step) {
                        let name = format!(
                            "{}.{}",
                            step.name(),
                            self.clusters.get(ci).map_or("?", String::as_str)
                        );
                        log.write_histogram(h, start, len, Tag::new(&name))
                            .map_err(err)?;
                    }
                }
            }
        }
        if let Some(csv) = &mut self.csv {
            let end = start + len;
            let total = delta.totals();
            let setup = delta.call_setup_all(None);
            let fleet = Figures {
                c: &total,
                journey: journey.as_ref(),
                setup: setup.as_ref(),
                in_flight,
            };
            let mut row = vec![
                rfc3339_utc(self.wall_start + end),
                format!("{:.3}", end.as_secs_f64()),
                format!("{:.3}", len.as_secs_f64()),
            ];
            row.extend(FLEET.iter().map(|(_, cell)| cell(&fleet)));
            for c in delta.clusters() {
                let one = Figures {
                    c: &c.counts,
                    journey: c.hist(Step::Journey),
                    setup: None,
                    in_flight: 0,
                };
                row.extend(CLUSTER.iter().map(|n| cell(n)(&one)));
            }
            writeln!(csv, "{}", row.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::phone::StepSample;

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rfc3339_dates() {
        let at = |s: u64, ms: u64| {
            rfc3339_utc(SystemTime::UNIX_EPOCH + Duration::from_millis(s * 1000 + ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_798_761_599, 999), "2026-12-31T23:59:59.999Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn csv_header_names_and_quotes_cluster_columns() {
        let h = csv_header(&["c1".into(), "a,b".into()]);
        assert!(
            h.starts_with("time_utc,elapsed_s,interval_s,logins_attempted,"),
            "{h}"
        );
        assert!(h.contains(",calls_busy,"), "{h}");
        assert!(h.contains(",c1.logins_attempted,c1.logins_ok,"), "{h}");
        assert!(h.contains(",\"a,b.failed\","), "{h}");
        assert!(h.ends_with("\"a,b.calls_failed\"\n"), "{h}");
    }

    #[test]
    fn csv_and_hlog_rows() {
        let mut r = Recorder::new(2);
        let t = Instant::now();
        let end = t + Duration::from_millis(20);
        r.sample(
            1,
            &StepSample {
                step: Step::Journey,
                start: t,
                end,
            },
        );
        r.started(1, crate::phone::TaskKind::Login, Duration::ZERO);
        let (log_buf, csv_buf) = (Shared::default(), Shared::default());
        let mut ser = V2DeflateSerializer::new();
        let mut out: Box<dyn Write + Send> = Box::new(log_buf.clone());
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        let log = begin_hlog(&mut out, &mut ser, wall).unwrap();
        let clusters = vec!["c1".to_owned(), "c2".to_owned()];
        let mut sinks = Sinks {
            hlog: Some(log),
            csv: Some(Box::new(csv_buf.clone())),
            clusters: clusters.clone(),
            wall_start: wall,
        };
        sinks
            .interval(Duration::ZERO, Duration::from_secs(1), &r, 3)
            .unwrap();
        drop(sinks);
        let log = String::from_utf8(log_buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.starts_with("#[Logged with emroam ")
                && log.contains("\n#[Histogram log format version 1.3]\n")
                && log.contains("\n#[StartTime: 1798761599.000 (seconds since epoch), 2026-12-31T23:59:59.000Z]\n")
                && log.contains("\n#[BaseTime: 1798761599.000 (seconds since epoch)]\n")
                && log.contains("\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")
                && !log.contains("MaxValueDivisor"),
            "{log}"
        );
        // Every journey untagged, then each step of each cluster tagged; values in µs.
        assert!(log.contains("\n0.000,1.000,20015.000,HIST"), "{log}");
        assert!(
            log.contains("\nTag=journey.c2,0.000,1.000,20015.000,HIST"),
            "{log}"
        );
        // The crate's reader takes it whole: start and base time, two intervals, µs values.
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        let entries: Vec<_> = IntervalLogIterator::new(log.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(matches!(entries[0], LogEntry::StartTime(d) if d.as_secs() == 1_798_761_599));
        assert!(matches!(entries[1], LogEntry::BaseTime(d) if d.as_secs() == 1_798_761_599));
        let tags: Vec<Option<String>> = entries[2..]
            .iter()
            .map(|e| match e {
                LogEntry::Interval(i) => i.tag().map(|t| t.as_str().to_owned()),
                _ => Some("not an interval".into()),
            })
            .collect();
        assert_eq!(tags, vec![None, Some("journey.c2".to_owned())]);
        let LogEntry::Interval(i) = &entries[2] else {
            unreachable!()
        };
        // The max column is in µs as the histogram is (no divisor).
        assert!(i.max() >= 20_000.0 && i.max() < 20_100.0, "{}", i.max());

        let csv = String::from_utf8(csv_buf.0.lock().unwrap().clone()).unwrap();
        let header = csv_header(&clusters);
        let names: Vec<&str> = header.trim_end().split(',').collect();
        let row: Vec<&str> = csv.trim_end().split(',').collect();
        assert_eq!(row.len(), names.len(), "{header}{csv}");
        let col = |n: &str| row[names.iter().position(|x| *x == n).unwrap()];
        assert_eq!(col("time_utc"), "2027-01-01T00:00:00.000Z");
        assert_eq!((col("elapsed_s"), col("interval_s")), ("1.000", "1.000"));
        assert_eq!((col("logins_attempted"), col("in_flight")), ("1", "3"));
        assert!(col("journey_p99_ms").starts_with("20."), "{csv}");
        // No call in the interval: no call setup figure (not 0 ms).
        assert_eq!(
            (col("calls_attempted"), col("call_setup_p50_ms")),
            ("0", "")
        );
        assert_eq!(
            (col("c1.logins_attempted"), col("c2.logins_attempted")),
            ("0", "1")
        );
        assert_eq!(col("c1.journey_p99_ms"), "");
        assert!(col("c2.journey_p99_ms").starts_with("20."), "{csv}");
    }
}
