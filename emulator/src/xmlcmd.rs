//! `emroam xml FILE`: what a phone would display for a CiscoIPPhone document (placeholder).

use std::io::Write;

use crate::{Exit, cli::XmlArgs};

/// Runs `emroam xml`, writing to `out`.
///
/// # Errors
/// The file cannot be read, or `out` cannot be written.
pub fn run(_args: &XmlArgs, _out: &mut impl Write) -> anyhow::Result<Exit> {
    anyhow::bail!("not built yet")
}
