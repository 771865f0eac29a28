//! Where the aggregator writes each interval: the HdrHistogram interval log and the CSV
//! time series.

use std::io::Write;
use std::time::Duration;

use super::recorder::Recorder;
use crate::phone::Step;

/// Where the aggregator writes each interval: the HdrHistogram interval log and the CSV
/// time series (both optional).
pub struct Sinks<'a> {
    /// Standard interval log (`Tag=<step>.<cluster>,start,duration,max,histogram`).
    pub hlog: Option<
        hdrhistogram::serialization::interval_log::IntervalLogWriter<
            'a,
            'a,
            Box<dyn Write + Send>,
            hdrhistogram::serialization::V2DeflateSerializer,
        >,
    >,
    /// CSV rows, one per interval.
    pub csv: Option<Box<dyn Write + Send>>,
    /// Cluster names, in target order.
    pub clusters: Vec<String>,
}

impl std::fmt::Debug for Sinks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks")
            .field("hlog", &self.hlog.is_some())
            .field("csv", &self.csv.is_some())
            .finish()
    }
}

/// The CSV time series header.
pub const CSV_HEADER: &str = "elapsed_s,interval_s,logins_attempted,logins_ok,logouts_attempted,logouts_ok,busy,failed,late_starts,dropped,in_flight,journey_p50_ms,journey_p99_ms,journey_max_ms\n";

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
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
        if let Some(log) = &mut self.hlog {
            for (ci, c) in delta.clusters().iter().enumerate() {
                for step in Step::ALL {
                    if let Some(h) = c.hist(step) {
                        let name = format!(
                            "{}.{}",
                            step.name(),
                            self.clusters.get(ci).map_or("?", String::as_str)
                        );
                        let tag = hdrhistogram::serialization::interval_log::Tag::new(&name);
                        log.write_histogram(h, start, len, tag)
                            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
                    }
                }
            }
        }
        if let Some(csv) = &mut self.csv {
            let t = delta.totals();
            let j = delta.step_all(Step::Journey);
            let q = |p: f64| j.as_ref().map_or(0.0, |h| ms(h.value_at_quantile(p)));
            writeln!(
                csv,
                "{:.3},{:.3},{},{},{},{},{},{},{},{},{},{:.3},{:.3},{:.3}",
                (start + len).as_secs_f64(),
                len.as_secs_f64(),
                t.logins_attempted,
                t.logins_ok,
                t.logouts_attempted,
                t.logouts_ok,
                t.busy,
                t.failed,
                t.late_starts,
                t.dropped,
                in_flight,
                q(0.5),
                q(0.99),
                j.as_ref().map_or(0.0, |h| ms(h.max())),
            )?;
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
    fn csv_and_hlog_rows() {
        let mut r = Recorder::new(1);
        let t = Instant::now();
        let end = t + Duration::from_millis(20);
        r.sample(
            0,
            &StepSample {
                step: Step::Journey,
                start: t,
                end,
            },
        );
        let (log_buf, csv_buf) = (Shared::default(), Shared::default());
        let mut ser = hdrhistogram::serialization::V2DeflateSerializer::new();
        let mut out: Box<dyn Write + Send> = Box::new(log_buf.clone());
        let log = hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut ser)
            .unwrap();
        let mut sinks = Sinks {
            hlog: Some(log),
            csv: Some(Box::new(csv_buf.clone())),
            clusters: vec!["c1".into()],
        };
        sinks
            .interval(Duration::ZERO, Duration::from_secs(1), &r, 3)
            .unwrap();
        drop(sinks);
        let log = String::from_utf8(log_buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            log.contains("\nTag=journey.c1,0.000,1.000,20.015,"),
            "{log}"
        );
        let csv = String::from_utf8(csv_buf.0.lock().unwrap().clone()).unwrap();
        assert!(
            csv.starts_with("1.000,1.000,0,0,0,0,0,0,0,0,3,20."),
            "{csv}"
        );
        // The log parses back with the crate's reader.
        let n = hdrhistogram::serialization::interval_log::IntervalLogIterator::new(log.as_bytes())
            .filter(|e| e.is_ok())
            .count();
        assert_eq!(n, 1);
    }
}
