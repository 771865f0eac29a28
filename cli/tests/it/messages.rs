//! What the commands say when something is wrong: a file that cannot be read, a TOML error,
//! logs sent to a file; one style and one exit code each. (`fleet --tui` without a terminal:
//! in `cli`, beside the other fleet failures.)

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::emroam;

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("emroam-msg-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_named_file_that_cannot_be_read_exits_2_in_one_style() {
    let missing = "/nonexistent/file.toml";
    for (args, cmd) in [
        (&["xml", missing][..], "xml"),
        (&["fleet", missing][..], "fleet"),
        (&["tui", "--topology", missing][..], "tui"),
        (
            &["server", "--topology", missing, "--in-memory"][..],
            "server",
        ),
        (
            &[
                "phone",
                "--topology",
                missing,
                "--device",
                "SEP000000001001",
            ][..],
            "phone",
        ),
    ] {
        let out = emroam(args, b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert_eq!(
            err.trim_end(),
            format!("emroam {cmd}: {missing}: cannot read: No such file or directory (os error 2)"),
            "{cmd}"
        );
    }
}

#[test]
fn toml_errors_read_file_line_column_message_everywhere() {
    let dir = scratch("toml");
    let topo = dir.join("topo.toml");
    std::fs::write(&topo, "[[cluster]\nid = \"c1\"\n").unwrap();
    let t = topo.display().to_string();
    let want = format!("{t}:1:11: unclosed array table, expected `]`");
    for (args, cmd) in [
        (vec!["server", "--topology", &t, "--in-memory"], "server"),
        (vec!["tui", "--topology", &t], "tui"),
        (
            vec!["phone", "--topology", &t, "--device", "SEP000000001001"],
            "phone",
        ),
    ] {
        let out = emroam(&args, b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        // One line, as the profile's errors: no "TOML parse error" banner and excerpt.
        assert_eq!(err.trim_end(), format!("emroam {cmd}: {want}"), "{cmd}");
    }
    // The profile's own TOML error, in the same style.
    let profile = dir.join("p.toml");
    std::fs::write(&profile, "name = \"p\"\n[[phase]\n").unwrap();
    let out = emroam(&["fleet", profile.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "emroam fleet: {}:2:9: unclosed array table, expected `]`",
            profile.display()
        )
    );
    // A profile naming a bad topology: the profile's place, then the topology's, each path
    // once.
    std::fs::write(&profile, "name = \"p\"\ntopology = \"topo.toml\"\n").unwrap();
    let out = emroam(&["fleet", profile.to_str().unwrap()], b"");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        format!("emroam fleet: {}:2:12: topology {want}", profile.display())
    );
    std::fs::write(&profile, "name = \"p\"\ntopology = \"gone.toml\"\n").unwrap();
    let err = stderr(&emroam(&["fleet", profile.to_str().unwrap()], b""));
    let gone = dir.join("gone.toml").display().to_string();
    assert_eq!(err.matches(&gone).count(), 1, "{err}");
    assert!(
        err.contains(&format!("topology {gone}: cannot read: ")),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn server_logs_sent_to_a_file_carry_no_colour_escapes() {
    let dir = scratch("log");
    let topo = dir.join("t.toml");
    std::fs::write(
        &topo,
        r#"[[cluster]]
id = "c1"
address = "127.0.0.1"
ports = { http = 0, config = 0, sip = 0 }

[[profile]]
name = "lobby"

[[phone]]
name = "SEP000000000001"
cluster = "c1"
logout_profile = "lobby"
"#,
    )
    .unwrap();
    let log = dir.join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(["-v", "server", "--in-memory", "--topology"])
        .arg(&topo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Serving once it prints its addresses.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("cluster c1 http"), "{line}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "server still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(" INFO ") && text.contains("cluster serving"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "colour escapes in a file: {text:?}");
    let _ = std::fs::remove_dir_all(dir);
}
