//! Integration tests for the `emroam` binary and library.

mod server;
mod util;
mod xml;
