//! Wire formats that emroam's phones and reference clusters agree on.
//!
//! Pure: plain functions over bytes and strings; no tokio, no sockets, no clocks.
//!
//! Layout:
//! - [`cipxml`]: the CiscoIPPhone XML objects phones fetch and display, parsed like a phone
//!   and rendered like a careful server, with the internal URIs and Input submission.
//! - [`emapi`]: the EM API XML of `/emservice/EMServiceServlet` (requests, queries, responses).
//! - [`codes`]: the EM error-code catalogue and the phone display text for each code.
//! - [`devicecfg`]: the `SEP<MAC>.cnf.xml` device configuration file (lines, SIP proxy, services).

pub mod cipxml;
pub mod codes;
pub mod devicecfg;
pub mod emapi;
