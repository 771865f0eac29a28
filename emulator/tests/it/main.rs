//! Integration tests of the emroam crate.
