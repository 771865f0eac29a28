//! The callgrind regression gate's bookkeeping: the baselines file, callgrind's totals, and
//! the verdict for one path (instructions per iteration against its baseline, within a margin).
//! Pure: no processes, no files; `src/bin/callgrind_gate` measures and calls these.
//!
//! The baselines file (`loadtests/callgrind/baselines.toml`) is TOML that this module reads and
//! rewrites line by line, so every comment stays where it is:
//!
//! ```toml
//! # what the file is
//! margin_percent = 5
//!
//! # what em_pair_10k measures
//! em_pair_10k = 226_000
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// The key of the margin in the baselines file.
pub const MARGIN_KEY: &str = "margin_percent";

/// A path this much cheaper than its baseline (in %) is pointed out (never a failure).
pub const CHEAPER_NOTE_PERCENT: f64 = 10.0;

/// What the baselines file says.
#[derive(Debug, Clone, PartialEq)]
pub struct Baselines {
    /// Growth over the baseline (in %) that fails the gate.
    pub margin_percent: f64,
    /// Instructions per iteration, by path name.
    pub counts: BTreeMap<String, u64>,
}

/// A baselines file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub what: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// `key = value` of a line that is not blank or a comment; the value without a trailing comment.
fn entry(line: &str) -> Option<(&str, &str)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let (k, v) = t.split_once('=')?;
    let v = v.split('#').next().unwrap_or("");
    Some((k.trim(), v.trim()))
}

/// Reads a baselines file.
///
/// # Errors
/// A line that is neither blank, a comment nor `name = integer` (`margin_percent` may be a
/// decimal), a name given twice, or no `margin_percent`.
pub fn parse_baselines(text: &str) -> Result<Baselines, FileError> {
    let mut margin = None;
    let mut counts = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let err = |what: String| FileError { line: i + 1, what };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((k, v)) = entry(line) else {
            return Err(err(format!("expected `name = number`, found {t:?}")));
        };
        let v = v.replace('_', "");
        if k == MARGIN_KEY {
            margin = Some(
                v.parse::<f64>()
                    .ok()
                    .filter(|m| *m > 0.0)
                    .ok_or_else(|| err(format!("{MARGIN_KEY} must be a positive number")))?,
            );
            continue;
        }
        let n: u64 = v
            .parse()
            .map_err(|_| err(format!("{k}: {v:?} is not a whole number")))?;
        if counts.insert(k.to_owned(), n).is_some() {
            return Err(err(format!("{k} is given twice")));
        }
    }
    let margin_percent = margin.ok_or(FileError {
        line: 0,
        what: format!("no {MARGIN_KEY}"),
    })?;
    Ok(Baselines {
        margin_percent,
        counts,
    })
}

/// Writes `n` with `_` between thousands, as the file keeps it.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// The baselines file with the counts of `measured` put in: an entry's number is replaced
/// where it stands (its comment kept); a path the file lacks is added at the end under
/// `# {description}`. Entries not measured are left as they are.
pub fn update_baselines(text: &str, measured: &[(&str, &str, u64)]) -> String {
    let mut out = String::new();
    let mut seen = Vec::new();
    for line in text.lines() {
        match entry(line).and_then(|(k, _)| measured.iter().find(|(n, _, _)| *n == k)) {
            Some((name, _, n)) => {
                out.push_str(&format!("{name} = {}\n", grouped(*n)));
                seen.push(*name);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (name, description, n) in measured {
        if !seen.contains(name) {
            out.push_str(&format!("\n# {description}\n{name} = {}\n", grouped(*n)));
        }
    }
    out
}

/// How one path compares with its baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Within the margin.
    Held {
        /// The line to print.
        line: String,
    },
    /// Much cheaper than the baseline: worth a new baseline, not a failure.
    Cheaper {
        /// The line to print.
        line: String,
    },
    /// Grown past the margin: the gate fails.
    Regressed {
        /// The line to print.
        line: String,
    },
    /// The baselines file has no entry for the path: the gate fails.
    Missing {
        /// The line to print.
        line: String,
    },
}

impl Verdict {
    /// Whether the gate fails on this.
    pub fn fails(&self) -> bool {
        matches!(self, Verdict::Regressed { .. } | Verdict::Missing { .. })
    }

    /// What to print.
    pub fn line(&self) -> &str {
        match self {
            Verdict::Held { line }
            | Verdict::Cheaper { line }
            | Verdict::Regressed { line }
            | Verdict::Missing { line } => line,
        }
    }
}

/// Judges `path`'s `measured` instructions per iteration against `baseline` with the margin
/// (in %): growth beyond it fails, naming the path, both counts and the growth.
pub fn judge(path: &str, measured: u64, baseline: Option<u64>, margin_percent: f64) -> Verdict {
    let Some(base) = baseline else {
        return Verdict::Missing {
            line: format!(
                "FAIL {path}: {} instructions per iteration, and no baseline for it in loadtests/callgrind/baselines.toml (add one: loadtests/callgrind/gate --update {path})",
                grouped(measured)
            ),
        };
    };
    let change = (measured as f64 - base as f64) / (base.max(1) as f64) * 100.0;
    let counts = format!(
        "{} instructions per iteration, baseline {} ({change:+.1} %, margin {margin_percent} %)",
        grouped(measured),
        grouped(base)
    );
    if change > margin_percent {
        Verdict::Regressed {
            line: format!("FAIL {path} grew: {counts}"),
        }
    } else if change < -CHEAPER_NOTE_PERCENT {
        Verdict::Cheaper {
            line: format!(
                "ok   {path} is much cheaper: {counts}; consider a new baseline (loadtests/callgrind/gate --update {path}, in a commit of its own saying why)"
            ),
        }
    } else {
        Verdict::Held {
            line: format!("ok   {path}: {counts}"),
        }
    }
}

/// The total instruction count in a callgrind output file (its `totals:` line, else `summary:`).
pub fn callgrind_total(out: &str) -> Option<u64> {
    let find = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    find("totals:").or_else(|| find("summary:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# header\nmargin_percent = 5\n\n# the EM pair\nem_pair = 200_000\n# a parse\nparse = 24_100 # trailing\n";

    #[test]
    fn growth_past_the_margin_fails_naming_the_path_and_both_counts() {
        let v = judge("em_pair_10k", 231_000, Some(200_000), 5.0);
        assert!(v.fails());
        assert_eq!(
            v.line(),
            "FAIL em_pair_10k grew: 231_000 instructions per iteration, baseline 200_000 (+15.5 %, margin 5 %)"
        );
    }

    #[test]
    fn growth_within_the_margin_passes() {
        let v = judge("parse", 209_000, Some(200_000), 5.0);
        assert!(!v.fails());
        assert!(matches!(v, Verdict::Held { .. }));
        assert_eq!(
            v.line(),
            "ok   parse: 209_000 instructions per iteration, baseline 200_000 (+4.5 %, margin 5 %)"
        );
    }

    #[test]
    fn a_path_without_a_baseline_fails() {
        let v = judge("new_path", 1_000, None, 5.0);
        assert!(v.fails());
        assert!(
            v.line()
                .starts_with("FAIL new_path: 1_000 instructions per iteration, and no baseline"),
            "{}",
            v.line()
        );
    }

    #[test]
    fn a_much_cheaper_path_passes_and_says_to_update_the_baseline() {
        let v = judge("parse", 150_000, Some(200_000), 5.0);
        assert!(!v.fails());
        assert!(matches!(v, Verdict::Cheaper { .. }));
        assert!(v.line().contains("(-25.0 %, margin 5 %)"), "{}", v.line());
        assert!(v.line().contains("consider a new baseline"), "{}", v.line());
    }

    #[test]
    fn the_file_is_read_with_its_margin_and_counts() {
        let b = parse_baselines(FILE).unwrap();
        assert_eq!(b.margin_percent, 5.0);
        assert_eq!(b.counts.get("em_pair"), Some(&200_000));
        assert_eq!(b.counts.get("parse"), Some(&24_100));
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line() {
        let e = parse_baselines("margin_percent = 5\nem_pair = lots\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.what.contains("em_pair"), "{e}");
        assert!(parse_baselines("em_pair = 1\n").is_err(), "no margin");
        assert!(parse_baselines("margin_percent = 5\na = 1\na = 2\n").is_err());
    }

    #[test]
    fn an_update_keeps_comments_and_adds_new_paths_at_the_end() {
        let text = update_baselines(
            FILE,
            &[("parse", "a parse", 25_000), ("ils", "an ILS delta", 7)],
        );
        assert_eq!(
            text,
            "# header\nmargin_percent = 5\n\n# the EM pair\nem_pair = 200_000\n# a parse\nparse = 25_000\n\n# an ILS delta\nils = 7\n"
        );
        let b = parse_baselines(&text).unwrap();
        assert_eq!(b.counts.get("ils"), Some(&7));
    }

    #[test]
    fn callgrind_totals_are_read() {
        let out = "version: 1\nevents: Ir\nsummary: 1234\nfn=main\n0 1234\ntotals: 1234\n";
        assert_eq!(callgrind_total(out), Some(1234));
        assert_eq!(callgrind_total("events: Ir\nsummary: 99\n"), Some(99));
        assert_eq!(callgrind_total("nothing"), None);
    }
}
