//! The SLOs of a run: each `[slo]` threshold judged against the totals ([`SloResult`]), and
//! how the final table prints their figures (units, rounding). Pure: no I/O.

use serde::Serialize;

use super::super::RunResult;
use super::{ArrivalRate, Totals, ms};

/// One threshold, checked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloResult {
    /// `success_ratio`, `busy_ratio`, `p99.<step>`.
    pub name: String,
    /// The threshold (ms for latencies).
    pub threshold: f64,
    /// The measured value.
    pub actual: f64,
    /// Whether it held (a threshold with nothing measured does not).
    pub passed: bool,
    /// Why it failed without a measurement (`no samples`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub(super) fn evaluate(
    run: &RunResult,
    totals: &Totals,
    arrivals: Option<&ArrivalRate>,
) -> Vec<SloResult> {
    let slo = &run.profile.slo;
    let mut out = Vec::new();
    let nothing = (totals.attempted == 0).then(|| "nothing attempted".to_owned());
    if let Some(min) = slo.success_ratio {
        out.push(SloResult {
            name: "success_ratio".into(),
            threshold: min,
            actual: totals.success_ratio,
            passed: nothing.is_none() && totals.success_ratio >= min,
            note: nothing.clone(),
        });
    }
    if let Some(max) = slo.busy_ratio {
        out.push(SloResult {
            name: "busy_ratio".into(),
            threshold: max,
            actual: totals.busy_ratio,
            passed: nothing.is_none() && totals.busy_ratio <= max,
            note: nothing.clone(),
        });
    }
    // Calls: the success ratio leaves 486s out; the busy ratio is what gates them.
    let sip = &totals.counts.sip;
    let no_calls = (sip.calls_attempted == 0).then(|| "no calls placed".to_owned());
    for (name, threshold, actual, at_least) in [
        (
            "call_success_ratio",
            slo.call_success_ratio,
            sip.call_success_ratio(),
            true,
        ),
        (
            "call_busy_ratio",
            slo.call_busy_ratio,
            sip.call_busy_ratio(),
            false,
        ),
    ] {
        let Some(threshold) = threshold else {
            continue;
        };
        let held = if at_least {
            actual >= threshold
        } else {
            actual <= threshold
        };
        out.push(SloResult {
            name: name.into(),
            threshold,
            actual,
            passed: no_calls.is_none() && held,
            note: no_calls.clone(),
        });
    }
    if let Some(max) = slo.dropped_ratio {
        let c = &totals.counts;
        let offered = totals.attempted + c.dropped;
        let actual = if offered == 0 {
            0.0
        } else {
            c.dropped as f64 / offered as f64
        };
        out.push(SloResult {
            name: "dropped_ratio".into(),
            threshold: max,
            actual,
            passed: offered > 0 && actual <= max,
            note: (offered == 0).then(|| "nothing offered".to_owned()),
        });
    }
    if !run.story.is_empty() {
        // The story is what the profile says must happen: every step, or the run fails.
        let ok = run.story.iter().filter(|s| s.ok).count();
        let failed: Vec<&str> = run
            .story
            .iter()
            .filter(|s| !s.ok)
            .map(|s| s.step.as_str())
            .collect();
        out.push(SloResult {
            name: "story".into(),
            threshold: run.story.len() as f64,
            actual: ok as f64,
            passed: failed.is_empty(),
            note: (!failed.is_empty())
                .then(|| format!("not as the story says: {}", failed.join("; "))),
        });
    }
    if let Some(min) = slo.achieved_rate {
        let a = arrivals;
        out.push(SloResult {
            name: "achieved_rate".into(),
            threshold: min,
            actual: a.map_or(0.0, |a| a.ratio),
            passed: a.is_some_and(|a| a.ratio >= min),
            note: a.is_none().then(|| "no open phase ran".to_owned()),
        });
    }
    if !slo.allow_idle_clusters {
        // A cluster whose arrivals were all dropped did nothing: the run did not test it.
        for (t, cl) in run.profile.targets.iter().zip(run.total.clusters()) {
            let c = &cl.counts;
            let attempted = c.logins_attempted + c.logouts_attempted;
            if attempted == 0 && c.dropped > 0 {
                out.push(SloResult {
                    name: format!("cluster.{}.journeys", t.cluster),
                    threshold: 1.0,
                    actual: 0.0,
                    passed: false,
                    note: Some(format!(
                        "no journey ran on {}: {} arrivals dropped (no idle phone or free user; \
                         allow_idle_clusters = true in [slo] to accept)",
                        t.cluster, c.dropped
                    )),
                });
            }
        }
    }
    for (step, max) in &slo.p99 {
        let h = run.total.step_all(*step).filter(|h| !h.is_empty());
        let actual = h.as_ref().map_or(0.0, |h| ms(h.value_at_quantile(0.99)));
        let threshold = max.as_secs_f64() * 1000.0;
        out.push(SloResult {
            name: format!("p99.{}", step.name()),
            threshold,
            actual,
            passed: h.is_some() && actual <= threshold,
            note: h.is_none().then(|| "no samples".to_owned()),
        });
    }
    out
}

/// A figure with the decimals it needs: whole numbers and anything from 100 up without any,
/// one from 1 up, three below (`7.3`, `2000`, `303`, `0.001`).
pub(super) fn short(v: f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        trim_zeros(format!("{v:.3}"))
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// An SLO's measured value and threshold as the table prints them, with their unit: `p99.*`
/// in ms, `*_ratio` and `achieved_rate` (started / intended) in percent (two decimals at most), counts as they are. A failed SLO
/// whose two figures would print the same gets six decimals, so the table never shows a
/// value failing a threshold equal to it.
pub(super) fn slo_figures(s: &SloResult) -> (String, String) {
    let text = |v: f64, precise: bool| {
        if s.name.starts_with("p99.") {
            let n = if precise { format!("{v:.6}") } else { short(v) };
            format!("{n} ms")
        } else if s.name.ends_with("_ratio") || s.name == "achieved_rate" {
            let pct = v * 100.0;
            let n = if precise {
                format!("{pct:.6}")
            } else {
                trim_zeros(format!("{pct:.2}"))
            };
            format!("{n} %")
        } else if precise {
            format!("{v:.6}")
        } else {
            short(v)
        }
    };
    let (a, t) = (text(s.actual, false), text(s.threshold, false));
    if a == t && !s.passed && s.note.is_none() {
        (text(s.actual, true), text(s.threshold, true))
    } else {
        (a, t)
    }
}

#[cfg(test)]
mod tests {
    use super::{SloResult, slo_figures};

    fn slo(name: &str, actual: f64, threshold: f64, passed: bool) -> (String, String) {
        slo_figures(&SloResult {
            name: name.into(),
            threshold,
            actual,
            passed,
            note: None,
        })
    }

    #[test]
    fn slo_figures_carry_units_and_the_decimals_they_need() {
        let s = |a: &str, t: &str| (a.to_owned(), t.to_owned());
        assert_eq!(
            slo("p99.journey", 7.327, 2000.0, true),
            s("7.3 ms", "2000 ms")
        );
        assert_eq!(
            slo("p99.call_setup", 303.26, 400.0, true),
            s("303 ms", "400 ms")
        );
        assert_eq!(
            slo("p99.journey", 0.0125, 0.001, false),
            s("0.013 ms", "0.001 ms")
        );
        assert_eq!(slo("success_ratio", 0.992, 0.99, true), s("99.2 %", "99 %"));
        assert_eq!(
            slo("call_busy_ratio", 0.30419, 0.05, false),
            s("30.42 %", "5 %")
        );
        assert_eq!(slo("cluster.c2.journeys", 0.0, 1.0, false), s("0", "1"));
        assert_eq!(slo("achieved_rate", 0.5, 0.9, false), s("50 %", "90 %"));
        // Failing by less than the table's rounding: enough decimals to see why.
        assert_eq!(
            slo("success_ratio", 0.999_99, 1.0, false),
            s("99.999000 %", "100.000000 %")
        );
    }
}
