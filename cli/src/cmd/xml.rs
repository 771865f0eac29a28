//! `emroam xml FILE`: what a phone would display for a CiscoIPPhone document.
//!
//! Parsing is the protocol crate's phone-faithful parser; this module only reads the input,
//! picks the output form (screen text or JSON) and maps a rejected document to exit code 2.

use std::io::{Read, Write};

use anyhow::Context;
use emroam_protocol::cipxml::{self, ParseOptions};

use super::Exit;
use crate::cli::XmlArgs;

/// The most `emroam xml` reads; the parser refuses far smaller documents, so this only bounds
/// memory when someone points it at something huge (a phone would never download it at all).
const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Runs `emroam xml`, writing what the phone shows (or the JSON object) to `out`.
///
/// A document a phone rejects prints the phone's error line (`XML Error [4]: Parse Error`) to
/// `out`, the developer-facing reason to stderr, and returns [`Exit::BadInput`].
///
/// A file that cannot be read, or an unknown locale charset, is reported and exits 2 too.
///
/// # Errors
/// Standard input cannot be read, or `out` cannot be written.
pub fn run(args: &XmlArgs, out: &mut impl Write) -> anyhow::Result<Exit> {
    let Some(locale_encoding) = encoding_rs::Encoding::for_label(args.locale_charset.as_bytes())
    else {
        eprintln!(
            "emroam xml: unknown --locale-charset {:?} (try iso-8859-1, utf-8, shift_jis)",
            args.locale_charset
        );
        return Ok(Exit::BadInput);
    };
    let doc = if args.file.as_os_str() == "-" {
        read_stdin()?
    } else {
        match read_file(&args.file) {
            Ok(doc) => doc,
            Err(e) => {
                // A file the user named, like a missing profile or topology: bad input.
                eprintln!("emroam xml: {}: cannot read: {e}", args.file.display());
                return Ok(Exit::BadInput);
            }
        }
    };
    let opts = ParseOptions {
        locale_encoding,
        ..ParseOptions::default()
    };
    match cipxml::parse_with(&doc, &opts) {
        Ok(object) => {
            if args.json {
                serde_json::to_writer_pretty(&mut *out, &object)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", object.screen())?;
            }
            Ok(Exit::Ok)
        }
        Err(err) => {
            if args.json {
                let v = serde_json::json!({
                    "error": err.to_string(),
                    "code": err.code(),
                    "detail": err.detail(),
                });
                serde_json::to_writer_pretty(&mut *out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(out, "{err}")?;
            }
            eprintln!("emroam xml: {}: {}", args.file.display(), err.detail());
            Ok(Exit::BadInput)
        }
    }
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT)
        .read_to_end(&mut buf)
        .context("reading standard input")?;
    Ok(buf)
}

fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_INPUT)
        .read_to_end(&mut buf)?;
    Ok(buf)
}
