//! Integration tests for the `emroam` binary and library.

mod util;
mod xml;
