//! Shared helpers: run the real `emroam` binary, find fixtures.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The protocol crate's CiscoIPPhone fixtures (copied from `../shared/fixtures/cipxml`).
pub(crate) fn cipxml_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/fixtures/cipxml")
        .join(name)
}

/// Runs `emroam ARGS` with `stdin` on its standard input and returns what it did.
pub(crate) fn emroam(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_emroam"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("emroam starts");
    // The child may exit before reading everything (an error), so a broken pipe is fine.
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("emroam finishes")
}

/// Standard output as text.
pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
