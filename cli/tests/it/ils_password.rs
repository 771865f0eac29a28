//! `emroam server` warns at start when clusters speak ILS with the topology's default
//! password, and says nothing of the kind (nor the password) when the topology sets one.

use std::io::Read;
use std::process::Stdio;

use crate::util::spawn_server;

/// Two ILS hubs on ephemeral ports.
const TWO_HUBS: &str = r#"
[[cluster]]
id = "c1"
address = "127.0.0.1"
ports = { http = 0, config = 0, sip = 0, ils = 0 }
ils = { role = "hub" }

[[cluster]]
id = "c2"
address = "127.0.0.1"
ports = { http = 0, config = 0, sip = 0, ils = 0 }
ils = { role = "hub" }
"#;

/// Runs `emroam server` on `topo` until it is serving, stops it; its standard error.
fn stderr_of_a_start(name: &str, topo: &str) -> String {
    let dir = std::env::temp_dir().join(format!("emroam-ilspw-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("t.toml");
    std::fs::write(&f, topo).unwrap();
    let (mut child, line) = spawn_server(
        [
            "--in-memory".as_ref(),
            "--drain-secs".as_ref(),
            "1".as_ref(),
            "--topology".as_ref(),
            f.as_os_str(),
        ],
        Stdio::piped(),
    );
    assert!(line.starts_with("cluster c1 http"), "not serving: {line:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = std::fs::remove_dir_all(dir);
    err
}

#[test]
fn the_default_ils_password_is_warned_about_at_start() {
    let err = stderr_of_a_start("default", TWO_HUBS);
    assert!(
        err.contains("ILS uses the default password") && err.contains("[ils] password"),
        "{err}"
    );
    assert!(!err.contains("emroam-ils"), "the password itself: {err}");
    let own = format!("{TWO_HUBS}\n[ils]\npassword = \"a-password-of-our-own\"\n");
    let err = stderr_of_a_start("own", &own);
    assert!(!err.contains("default password"), "{err}");
    assert!(!err.contains("a-password-of-our-own"), "{err}");
}
