//! The protocol crate's one integration-test binary; one module per wire format.

mod cipxml;
mod emapi;
mod sip;
