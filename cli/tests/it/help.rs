//! The `--help` texts of the real binary: exit codes, files written, what must be running,
//! the dashboard's keys and the demo's length; snapshotted with insta, so any change to the
//! words shows as a diff in review (`INSTA_UPDATE=always` rewrites the snapshots after a
//! deliberate change). `-h` stays short.
//!
//! The parts computed from other files (the dashboard's keys, the demo profile's phases) are
//! checked against those files here, then put back to a placeholder in the snapshot: a new
//! key or a longer demo changes the help by itself, and fails no snapshot.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use emroam::cmd::demo::{DEMO_PROFILE, SEED_TOPOLOGY};
use emroam_emulator::fleet::profile::Profile;
use emroam_emulator::tui::ui::KEYS;
use emroam_schema::duration::format as dur;

/// What `emroam ARGS` prints, at a fixed width (clap wraps to the terminal's).
fn help(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(args)
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {o:?}");
    String::from_utf8(o.stdout).unwrap()
}

/// The lines of the section headed `title:`, up to the blank line that ends it.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != format!("{title}:"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

/// The exit codes the help lists (a row's continuation lines are indented further).
fn exit_codes(text: &str) -> BTreeSet<u8> {
    section(text, "Exit codes")
        .iter()
        .filter(|l| !l.starts_with("   "))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

/// The help with its section `title` replaced by a placeholder.
fn without_section(text: &str, title: &str, placeholder: &str) -> String {
    let lines = section(text, title);
    assert!(!lines.is_empty(), "no section {title}: {text}");
    text.replace(&lines.join("\n"), placeholder)
}

/// Every key of the dashboard, with what it does, in the `Keys` section.
fn assert_keys(text: &str) {
    let keys = section(text, "Keys");
    assert_eq!(keys.len(), KEYS.len(), "{text}");
    for ((key, what), line) in KEYS.iter().zip(&keys) {
        assert!(
            line.trim_start().starts_with(key) && line.ends_with(what),
            "{line:?} is not {key} {what}"
        );
    }
}

#[test]
fn fleet_help_gives_exit_codes_output_files_and_the_server_to_start() {
    let text = help(&["fleet", "--help"]);
    assert_eq!(
        exit_codes(&text),
        BTreeSet::from([0, 1, 2, 99, 130, 143]),
        "{text}"
    );
    let files = section(&text, "Files written with --out DIR");
    for name in ["DIR/summary.json", "DIR/latency.hlog", "DIR/timeseries.csv"] {
        assert!(files.iter().any(|l| l.contains(name)), "{name}: {text}");
    }
    assert!(
        text.contains("emroam server --topology profiles/topologies/seed.toml"),
        "{text}"
    );
    // Whatever the wrapping.
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("The phones' boot before the phases and the drain after them come on top"),
        "--duration says what it leaves out: {text}"
    );
    insta::assert_snapshot!("fleet_help", text);
}

#[test]
fn demo_help_gives_its_length_from_the_profile_its_keys_and_exit_codes() {
    let text = help(&["demo", "--help"]);
    let topo = emroam_schema::Topology::parse(SEED_TOPOLOGY).unwrap();
    let p = Profile::parse_with(DEMO_PROFILE, "demo.toml", None, Some(&topo)).unwrap();
    let length = section(&text, "How long it runs");
    assert_eq!(
        length[0],
        format!("  {} of phases, after the phones boot:", dur(p.duration())),
        "{text}"
    );
    for (ph, line) in p.phases.iter().zip(&length[1..]) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words, [ph.name.clone(), dur(ph.duration)], "{text}");
    }
    assert!(
        length.contains(
            &format!(
                "  then up to {} for the journeys in flight to finish.",
                dur(p.drain)
            )
            .as_str()
        ),
        "{text}"
    );
    assert!(
        length.last().unwrap().contains("the boot and drain aside"),
        "{text}"
    );
    assert_keys(&text);
    assert_eq!(
        exit_codes(&text),
        BTreeSet::from([0, 1, 2, 99, 130, 143]),
        "{text}"
    );
    let text = without_section(&text, "How long it runs", "  [the demo profile's phases]");
    let text = without_section(&text, "Keys", "  [the dashboard's keys]");
    insta::assert_snapshot!("demo_help", text);
}

#[test]
fn tui_help_gives_the_keys_and_exit_codes() {
    let text = help(&["tui", "--help"]);
    assert_keys(&text);
    assert_eq!(
        exit_codes(&text),
        BTreeSet::from([0, 1, 2, 130, 143]),
        "{text}"
    );
    assert!(text.contains("emroam server --topology FILE"), "{text}");
    let text = without_section(&text, "Keys", "  [the dashboard's keys]");
    insta::assert_snapshot!("tui_help", text);
}

#[test]
fn phone_help_says_the_pin_comes_from_the_topology() {
    let text = help(&["phone", "--help"]);
    assert!(
        text.contains("by default, with --topology, the topology's PIN for the user"),
        "{text}"
    );
    insta::assert_snapshot!("phone_help", text);
}

#[test]
fn short_help_stays_short_and_points_to_the_long_one() {
    for cmd in ["fleet", "demo", "tui"] {
        let short = help(&[cmd, "-h"]);
        assert!(!short.contains("Exit codes:"), "{cmd}: {short}");
        assert!(short.contains("see more with '--help'"), "{cmd}: {short}");
        assert!(short.lines().count() < 25, "{cmd}: {short}");
    }
}

#[test]
fn server_help_gives_exit_codes_and_the_data_dir_lock() {
    let text = help(&["server", "--help"]);
    assert_eq!(
        exit_codes(&text),
        BTreeSet::from([0, 1, 2, 130, 143]),
        "{text}"
    );
    assert!(text.contains("<cluster>.lock"), "{text}");
    assert!(text.contains("a second SIGTERM during the drain"), "{text}");
}
