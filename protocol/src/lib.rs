//! Wire formats that emroam's phones and reference clusters agree on.
//!
//! Pure: plain functions over bytes and strings; no tokio, no sockets, no clocks.
//!
//! Layout:
//! - [`cipxml`]: the CiscoIPPhone XML objects phones fetch and display, parsed like a phone
//!   and rendered like a careful server, with the internal URIs and Input submission.
//! - [`emapi`]: the EM API XML of `/emservice/EMServiceServlet`: [`emapi::parse_request`] turns
//!   a `<request>`/`<query>` into an [`emapi::Envelope`] (credentials + one [`emapi::Request`]),
//!   [`emapi::Response`] is the answer, [`emapi::form_body`]/[`emapi::xml_from_form`] the `xml=`
//!   transport; every [`emapi::EmApiError`] names the EM code to answer with.
//! - [`codes`]: the EM code catalogue (EMService 0–47, EMApp 201–216), the exact text a phone
//!   shows for each ([`codes::login_display_text`]) and the way back ([`codes::code_from_page_text`]).
//! - [`devicecfg`]: the `SEP<MAC>.cnf.xml` device configuration file (lines, SIP proxy, services).
//! - [`http1`]: HTTP/1.1 requests rendered and responses decoded (head, `Content-Length`,
//!   chunked or until-close bodies) for the phone's HTTP client, sans-IO.
//! - [`ils`]: ILS between reference clusters: frames, the password handshake, sealed sync
//!   messages carrying EM roaming locations and superusers.
//! - [`sip`]: SIP messages over UDP (an RFC 3261 subset), the Cisco `+sip.instance` MAC and
//!   the `service-control` NOTIFY that restarts a phone after EM login/logout.

pub mod cipxml;
pub mod codes;
pub mod devicecfg;
pub mod emapi;
pub mod http1;
pub mod ils;
pub mod sip;
