//! EM codes the cluster answers with, and the error type every EM operation returns.
//!
//! Numbers and phone display texts are the protocol catalogue's ([`emroam_protocol::codes`]);
//! texts are looked up only where pages are built.

/// EM code numbers: the protocol crate's catalogue.
pub use emroam_protocol::codes as code;

/// An EM operation's failure: the code the client is shown, and an internal reason for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("EM code {code}: {reason}")]
pub struct EmError {
    /// The EM code.
    pub code: u16,
    /// Why (for logs and the EM API's message text; never contains a PIN).
    pub reason: &'static str,
}

impl EmError {
    /// An error with this code and reason.
    pub const fn new(code: u16, reason: &'static str) -> Self {
        EmError { code, reason }
    }
}
