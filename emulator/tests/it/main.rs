//! Integration tests of the emroam crate: one binary, shared helpers in `util`.

mod phone;
mod util;
