//! `loadtests/run-all`'s list and arguments (it is not run here: its benchmarks are wall-clock).

use std::path::PathBuf;
use std::process::Command;

fn run_all(args: &[&str]) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("run-all");
    Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("bash runs loadtests/run-all")
}

#[test]
fn every_recorded_figure_belongs_to_a_benchmark_that_run_all_lists_with_it() {
    let out = run_all(&["--list"]);
    assert!(out.status.success(), "{out:?}");
    let list = String::from_utf8(out.stdout).expect("utf-8");
    let recorded =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("recorded.md"))
            .expect("loadtests/recorded.md");
    let rows: Vec<Vec<&str>> = recorded
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| benchmark"))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert!(rows.len() > 10, "recorded.md has its rows");
    let benchmarks: Vec<&str> = list
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for r in rows {
        let (bench, figure, value, date, commit) = (r[1], r[2], r[3].replace(',', ""), r[4], r[5]);
        assert!(
            benchmarks.contains(&bench),
            "{bench} of recorded.md is not in --list:\n{list}"
        );
        let shown = format!("{figure}: {value} ({date}, {commit})");
        assert!(
            list.contains(&shown),
            "--list does not show `{shown}`:\n{list}"
        );
    }
}

#[test]
fn an_unknown_benchmark_is_refused_before_anything_is_built() {
    let out = run_all(&["--only", "no-such-bench"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no benchmark no-such-bench"), "{err}");
    assert!(!err.contains("building"), "{err}");
}
