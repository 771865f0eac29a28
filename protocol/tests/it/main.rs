//! Integration tests for emroam-protocol.
mod emapi;
