//! CiscoIPPhone XML objects: parsed like a phone, rendered like a careful server.
//!
//! [`parse`] / [`parse_with`] turn a fetched or pushed body into an [`Object`] (one variant
//! per root element) or the [`XmlError`] line a phone would show; [`render`] /
//! [`Object::to_xml`] write one back; [`Object::screen`] says what a phone displays;
//! [`Uri`] types the internal URIs phones act on; [`Input::submit_url`] builds the
//! submission. Pure: no I/O, no clocks.
//!
//! # How the parser behaves (choices where the sources disagree)
//!
//! - **Charset:** a BOM wins, else the prolog's `encoding`, else
//!   [`ParseOptions::locale_encoding`] (a phone uses its locale, *not* UTF-8). The default
//!   is ISO-8859-1 (an English-US phone), decoded as windows-1252 like every WHATWG-based
//!   decoder. Bytes invalid in that charset, or an unknown charset label, are `[4]`.
//! - **Well-formedness:** anything an XML 1.0 parser rejects is `[4]`, as are undefined
//!   entities, an XML declaration anywhere but at byte 0 (leading whitespace included: its
//!   charset would otherwise be silently ignored) and raw C0 control characters or NULs. A `<!DOCTYPE>` is skipped and never expanded, so a billion-laughs document
//!   fails on its first undefined `&lol9;` instead of growing.
//! - **Bounds:** documents over [`limits::MAX_BYTES`] (196608 B, the 6900's documented
//!   "Data too large!" limit) and nesting over [`limits::MAX_DEPTH`] (16) are `[4]`; both are
//!   [`ParseOptions`] fields. Work and memory are linear in the (bounded) input.
//! - **Unknown root:** a well-formed document whose root no phone knows is `[5]`.
//! - **Children:** any order; unknown elements and attributes are ignored; a repeated
//!   singular child (two `Title`s): the last wins. Text is trimmed of XML whitespace.
//! - **Limits** ([`limits`]): over-long strings are truncated and surplus items dropped (the
//!   first ones are kept), like the 7921/7925 which "truncate over-long values". Execute
//!   keeps 3 items by default ([`ParseOptions::max_execute_items`]).
//! - **Updated-parser rules:** an Input without `URL`, an `InputItem` without
//!   `QueryStringParam`, a `SoftKeyItem` without `Position` (or outside `-1`, `1..=16`), an
//!   `ExecuteItem` without `URL` and a `CiscoIPPhoneError` without `Number` are `[4]`, as
//!   are numbers that do not parse and bad enumerated attribute values (`WindowMode`,
//!   `keypadTarget`, `Priority` outside 0..2). A `MenuItem` or `DirectoryEntry` without
//!   `Name` is kept with an empty name (new-parser behaviour); missing `InputFlags` mean `A`.

mod dom;
mod flags;
mod objects;
mod parse;
mod render;
mod screen;
mod submit;
mod uri;

use serde::Serialize;

pub use flags::{InputFlags, InputKind};
pub use objects::{
    AppAttrs, CipImage, Directory, DirectoryEntry, Error, Execute, ExecuteItem, GraphicFileMenu,
    GraphicMenu, IconFileItem, IconFileMenu, IconItem, IconMenu, Image, ImageFile, Input,
    InputItem, InputMethod, KeypadTarget, Menu, MenuItem, Priority, Response, ResponseItem,
    SoftKeyItem, Status, StatusFile, Text, TouchArea, WindowMode, limits,
};
pub use render::{PROLOG, render};
pub use screen::{Screen, ScreenSoftKey};
pub use submit::{append_query, encode_component};
pub use uri::{App, Dial, Notify, Rtp, RtpDirection, RtpStream, Uri};

/// Why a document was refused; `Display` is exactly the line a phone shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed, not decodable, too big or too deep, or a mandatory field missing.
    #[error("XML Error [4]: Parse Error")]
    Parse {
        /// Developer-facing reason, e.g. `line 3: ...`.
        detail: String,
    },
    /// Well-formed, but the root element is not an object a phone knows.
    #[error("XML Error [5]: Unsupported XML Object")]
    Unsupported {
        /// The root element's name.
        root: String,
        /// Developer-facing reason.
        detail: String,
    },
}

impl XmlError {
    pub(crate) fn parse(detail: String) -> Self {
        Self::Parse { detail }
    }

    /// The phone's error number: 4 (parse) or 5 (unsupported object).
    pub fn code(&self) -> u8 {
        match self {
            Self::Parse { .. } => 4,
            Self::Unsupported { .. } => 5,
        }
    }

    /// The developer-facing reason (never shown by a phone).
    pub fn detail(&self) -> &str {
        match self {
            Self::Parse { detail } | Self::Unsupported { detail, .. } => detail,
        }
    }
}

/// How to parse: the phone's locale charset and the bounds applied to hostile input.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Charset used when the document declares none (the user locale's, not UTF-8).
    pub locale_encoding: &'static encoding_rs::Encoding,
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting accepted (root = 1).
    pub max_depth: usize,
    /// `ExecuteItem`s kept; 3 on most phones, Cisco's 8875 example sends 16.
    pub max_execute_items: usize,
}

impl Default for ParseOptions {
    /// An English-US phone: ISO-8859-1 locale and the limits in [`limits`].
    fn default() -> Self {
        Self {
            locale_encoding: encoding_rs::WINDOWS_1252,
            max_bytes: limits::MAX_BYTES,
            max_depth: limits::MAX_DEPTH,
            max_execute_items: limits::EXECUTE_ITEMS,
        }
    }
}

/// Parses a document like an English-US phone (ISO-8859-1 locale, default limits).
///
/// # Errors
///
/// [`XmlError`] with code 4 or 5; see the module docs for what triggers each.
pub fn parse(doc: &[u8]) -> Result<Object, XmlError> {
    parse_with(doc, &ParseOptions::default())
}

/// Parses a document with explicit options.
///
/// # Errors
///
/// [`XmlError`] with code 4 or 5; see the module docs for what triggers each.
pub fn parse_with(doc: &[u8], opts: &ParseOptions) -> Result<Object, XmlError> {
    let decoded = dom::decode_checked(doc, opts)?;
    let mut root = dom::build(&decoded, opts.max_depth)?;
    parse::to_object(&mut root, opts)
}

/// A CiscoIPPhone object: one variant per root element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "object")]
pub enum Object {
    /// `CiscoIPPhoneMenu`.
    #[serde(rename = "CiscoIPPhoneMenu")]
    Menu(Menu),
    /// `CiscoIPPhoneText`.
    #[serde(rename = "CiscoIPPhoneText")]
    Text(Text),
    /// `CiscoIPPhoneInput`.
    #[serde(rename = "CiscoIPPhoneInput")]
    Input(Input),
    /// `CiscoIPPhoneDirectory`.
    #[serde(rename = "CiscoIPPhoneDirectory")]
    Directory(Directory),
    /// `CiscoIPPhoneImage`.
    #[serde(rename = "CiscoIPPhoneImage")]
    Image(Image),
    /// `CiscoIPPhoneImageFile`.
    #[serde(rename = "CiscoIPPhoneImageFile")]
    ImageFile(ImageFile),
    /// `CiscoIPPhoneGraphicMenu`.
    #[serde(rename = "CiscoIPPhoneGraphicMenu")]
    GraphicMenu(GraphicMenu),
    /// `CiscoIPPhoneGraphicFileMenu`.
    #[serde(rename = "CiscoIPPhoneGraphicFileMenu")]
    GraphicFileMenu(GraphicFileMenu),
    /// `CiscoIPPhoneIconMenu`.
    #[serde(rename = "CiscoIPPhoneIconMenu")]
    IconMenu(IconMenu),
    /// `CiscoIPPhoneIconFileMenu`.
    #[serde(rename = "CiscoIPPhoneIconFileMenu")]
    IconFileMenu(IconFileMenu),
    /// `CiscoIPPhoneStatus`.
    #[serde(rename = "CiscoIPPhoneStatus")]
    Status(Status),
    /// `CiscoIPPhoneStatusFile`.
    #[serde(rename = "CiscoIPPhoneStatusFile")]
    StatusFile(StatusFile),
    /// `CiscoIPPhoneExecute`.
    #[serde(rename = "CiscoIPPhoneExecute")]
    Execute(Execute),
    /// `CiscoIPPhoneResponse`.
    #[serde(rename = "CiscoIPPhoneResponse")]
    Response(Response),
    /// `CiscoIPPhoneError`.
    #[serde(rename = "CiscoIPPhoneError")]
    Error(Error),
}

impl Object {
    /// The root element name, e.g. `"CiscoIPPhoneMenu"`.
    pub fn root_name(&self) -> &'static str {
        match self {
            Object::Menu(_) => "CiscoIPPhoneMenu",
            Object::Text(_) => "CiscoIPPhoneText",
            Object::Input(_) => "CiscoIPPhoneInput",
            Object::Directory(_) => "CiscoIPPhoneDirectory",
            Object::Image(_) => "CiscoIPPhoneImage",
            Object::ImageFile(_) => "CiscoIPPhoneImageFile",
            Object::GraphicMenu(_) => "CiscoIPPhoneGraphicMenu",
            Object::GraphicFileMenu(_) => "CiscoIPPhoneGraphicFileMenu",
            Object::IconMenu(_) => "CiscoIPPhoneIconMenu",
            Object::IconFileMenu(_) => "CiscoIPPhoneIconFileMenu",
            Object::Status(_) => "CiscoIPPhoneStatus",
            Object::StatusFile(_) => "CiscoIPPhoneStatusFile",
            Object::Execute(_) => "CiscoIPPhoneExecute",
            Object::Response(_) => "CiscoIPPhoneResponse",
            Object::Error(_) => "CiscoIPPhoneError",
        }
    }

    /// Renders the object as a UTF-8 document with a declared prolog (same as [`render`]).
    pub fn to_xml(&self) -> String {
        render(self)
    }

    /// The custom softkeys of a displayable object (empty for the others).
    pub fn softkeys(&self) -> &[SoftKeyItem] {
        match self {
            Object::Menu(o) => &o.softkeys,
            Object::Text(o) => &o.softkeys,
            Object::Input(o) => &o.softkeys,
            Object::Directory(o) => &o.softkeys,
            Object::Image(o) => &o.softkeys,
            Object::ImageFile(o) => &o.softkeys,
            Object::GraphicMenu(o) => &o.softkeys,
            Object::GraphicFileMenu(o) => &o.softkeys,
            Object::IconMenu(o) => &o.softkeys,
            Object::IconFileMenu(o) => &o.softkeys,
            Object::Status(_)
            | Object::StatusFile(_)
            | Object::Execute(_)
            | Object::Response(_)
            | Object::Error(_) => &[],
        }
    }
}

macro_rules! from_impls {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Object {
            fn from(o: $variant) -> Self {
                Object::$variant(o)
            }
        }
    )*};
}
from_impls!(
    Menu,
    Text,
    Input,
    Directory,
    Image,
    ImageFile,
    GraphicMenu,
    GraphicFileMenu,
    IconMenu,
    IconFileMenu,
    Status,
    StatusFile,
    Execute,
    Response,
    Error
);

#[cfg(test)]
mod tests;
