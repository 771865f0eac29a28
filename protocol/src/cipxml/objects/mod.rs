//! The CiscoIPPhone object types: one struct per root element plus the shared pieces
//! (softkeys, menu items, app attributes, limits).
//!
//! Plain data with public fields so services can build pages with struct literals; parsing
//! lives in `parse`, rendering in `render`, and neither is done here.

use serde::Serialize;

use super::dom::{is_xml_space, trim_xml_space};
use super::flags::InputFlags;
use super::uri::Uri;

/// Limits a phone applies, from Cisco's IP Phone Services development notes.
///
/// The parser truncates over-long strings to these character counts and drops repeated
/// items past these counts (the 7921/7925 behaviour, "truncate over-long values"), keeping
/// the first ones. Where the sources disagree the choice is noted on the constant.
pub mod limits {
    /// `Title` and `Prompt` (both XSDs).
    pub const TITLE: usize = 32;
    /// `MenuItem`s in a `CiscoIPPhoneMenu` (doc and both XSDs).
    pub const MENU_ITEMS: usize = 100;
    /// `MenuItem/Name` in Menu, GraphicMenu, IconMenu and IconFileMenu (doc: 64, two CRs allowed).
    pub const MENU_ITEM_NAME: usize = 64;
    /// Any URL element or attribute (XSD).
    pub const URL: usize = 256;
    /// `CiscoIPPhoneText/Text` (both XSDs).
    pub const TEXT: usize = 4000;
    /// `InputItem`s in an Input (doc and XSDs).
    pub const INPUT_ITEMS: usize = 5;
    /// `DisplayName`, `QueryStringParam` and `DefaultValue` of an `InputItem` (XSD-new).
    pub const INPUT_FIELD: usize = 32;
    /// `DirectoryEntry`s per Directory; more are paged by the service (doc).
    pub const DIRECTORY_ENTRIES: usize = 32;
    /// `DirectoryEntry/Name` and `Telephone` (XSD).
    pub const DIRECTORY_FIELD: usize = 32;
    /// `MenuItem`s in a GraphicMenu (keys 1..12).
    pub const GRAPHIC_MENU_ITEMS: usize = 12;
    /// `MenuItem`s in a GraphicFileMenu (XSD-new 32; XSD-old said 12, we follow the newer one).
    pub const GRAPHIC_FILE_MENU_ITEMS: usize = 32;
    /// `MenuItem/Name` in a GraphicFileMenu (XSD-new).
    pub const GRAPHIC_FILE_MENU_ITEM_NAME: usize = 32;
    /// `MenuItem`s in IconMenu / IconFileMenu (doc and XSD-new 32; XSD-old said 100).
    pub const ICON_MENU_ITEMS: usize = 32;
    /// `IconItem`s in IconMenu / IconFileMenu (index 0..9).
    pub const ICON_ITEMS: usize = 10;
    /// `SoftKeyItem`s per object (both XSDs; the newer doc allows positions up to 16 but
    /// no source raises the count, so we keep 8).
    pub const SOFTKEYS: usize = 8;
    /// `SoftKeyItem/Name` (XSD).
    pub const SOFTKEY_NAME: usize = 32;
    /// `ExecuteItem`s (doc and XSD-new: 3). Cisco's own 8875 SettingsMenu example has 16;
    /// see [`ParseOptions::max_execute_items`](crate::cipxml::ParseOptions::max_execute_items).
    pub const EXECUTE_ITEMS: usize = 3;
    /// `ResponseItem/Data` (XSD).
    pub const RESPONSE_DATA: usize = 32;
    /// `appId` attribute (XSD-new 1..64).
    pub const APP_ID: usize = 64;
    /// Status `Text` (single line).
    pub const STATUS_TEXT: usize = 32;
    /// CIP `Data` hex digits of Image / GraphicMenu (2162 octets, XSD-new).
    pub const IMAGE_DATA_HEX: usize = 2 * 2162;
    /// CIP `Data` hex digits of Status (557 octets, XSD-new).
    pub const STATUS_DATA_HEX: usize = 2 * 557;
    /// CIP `Data` hex digits of an IconItem (40 octets, XSD-new).
    pub const ICON_DATA_HEX: usize = 2 * 40;
    /// Largest document accepted, in bytes: the 6900 series' documented "Data too large!"
    /// threshold (196608 B), the only fetched-body limit any source gives.
    pub const MAX_BYTES: usize = 196_608;
    /// Deepest element nesting accepted (root = 1). Real objects are 3 deep; 16 leaves room
    /// for ignored extension elements while bounding the work on hostile input.
    pub const MAX_DEPTH: usize = 16;
}

/// Attributes every displayable root may carry (X1 `CiscoIPPhoneDisplayableType`).
///
/// Handler values are kept as written: a `;`-separated URI list (see
/// [`Uri::parse_list`](crate::cipxml::Uri::parse_list)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AppAttrs {
    /// `appId`: owning application, conventionally `Vendor/Product` (≤ 64 chars).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// `onAppFocusLost`: URIs run when the app loses focus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_app_focus_lost: Option<String>,
    /// `onAppFocusGained`: URIs run when the app gains focus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_app_focus_gained: Option<String>,
    /// `onAppMinimized`: URIs run when the app is minimized with `App:Minimize`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_app_minimized: Option<String>,
    /// `onAppClosed`: URIs run when the app's context closes (no http/https allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_app_closed: Option<String>,
    /// `keypadTarget`: where keypad presses go (semantics UNCONFIRMED in the sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keypad_target: Option<KeypadTarget>,
}

impl AppAttrs {
    /// True when no attribute is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Values of the `keypadTarget` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum KeypadTarget {
    /// `application` (the default).
    #[serde(rename = "application")]
    Application,
    /// `applicationCall`.
    #[serde(rename = "applicationCall")]
    ApplicationCall,
    /// `activeCall`.
    #[serde(rename = "activeCall")]
    ActiveCall,
}

impl KeypadTarget {
    /// The attribute value as written in XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::ApplicationCall => "applicationCall",
            Self::ActiveCall => "activeCall",
        }
    }

    /// Parses an attribute value (case-sensitive, like every name in these documents).
    pub fn from_xml(s: &str) -> Option<Self> {
        match s {
            "application" => Some(Self::Application),
            "applicationCall" => Some(Self::ApplicationCall),
            "activeCall" => Some(Self::ActiveCall),
            _ => None,
        }
    }
}

/// Values of the `WindowMode` attribute of image objects (B2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WindowMode {
    /// `Normal` (the default): the standard services pane.
    Normal,
    /// `Wide`: full 320 px width on 7941/42/45/61/62/65/70/71/75.
    Wide,
}

impl WindowMode {
    /// The attribute value as written in XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Wide => "Wide",
        }
    }

    /// Parses an attribute value; a bad value is a parse error on the phone (B2).
    pub fn from_xml(s: &str) -> Option<Self> {
        match s {
            "Normal" => Some(Self::Normal),
            "Wide" => Some(Self::Wide),
            _ => None,
        }
    }
}

/// A custom softkey (`SoftKeyItem`). Any custom softkey replaces all default softkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SoftKeyItem {
    /// Label (≤ 32 chars).
    pub name: String,
    /// Action on release: an HTTP URL or an internal URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Action on press (`URLDown`): internal URIs only, never HTTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_down: Option<String>,
    /// `-1` (the Applications/Settings hard key) or `1..=16`; mandatory for the updated parser.
    pub position: i8,
}

impl SoftKeyItem {
    /// The release action as a typed [`Uri`].
    pub fn uri(&self) -> Option<Uri> {
        self.url.as_deref().map(Uri::parse)
    }

    /// The press action (`URLDown`) as a typed [`Uri`].
    pub fn uri_down(&self) -> Option<Uri> {
        self.url_down.as_deref().map(Uri::parse)
    }

    /// A softkey with a release URL at `position`.
    pub fn new(name: impl Into<String>, url: impl Into<String>, position: i8) -> Self {
        Self {
            name: name.into(),
            url: Some(url.into()),
            url_down: None,
            position,
        }
    }
}

/// A `MenuItem`, shared by every menu object (the old XSD shares the type too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MenuItem {
    /// `Name`; a missing Name shows as a blank line (updated parser), so it is empty here.
    pub name: String,
    /// `URL`: an HTTP URL or internal URI run when the item is chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `IconIndex` (IconMenu / IconFileMenu): which `IconItem` to draw left of the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_index: Option<u16>,
    /// `TouchArea` (GraphicFileMenu): the rectangle that selects the item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub touch_area: Option<TouchArea>,
}

impl MenuItem {
    /// The item's action as a typed [`Uri`].
    pub fn uri(&self) -> Option<Uri> {
        self.url.as_deref().map(Uri::parse)
    }

    /// A plain item with a name and a URL.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: Some(url.into()),
            icon_index: None,
            touch_area: None,
        }
    }
}

/// A `TouchArea` rectangle, relative to the services area's upper-left corner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TouchArea {
    /// Left edge.
    pub x1: i32,
    /// Top edge.
    pub y1: i32,
    /// Right edge.
    pub x2: i32,
    /// Bottom edge.
    pub y2: i32,
}

/// `CiscoIPPhoneMenu`: a numbered list of choices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Menu {
    /// `Title` (≤ 32); `None` lets the phone show the name of the item that led here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32); `None` clears the prompt area.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Up to 100 items.
    pub items: Vec<MenuItem>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

impl Menu {
    /// A menu with a title and items, no prompt or softkeys.
    pub fn new(title: impl Into<String>, items: Vec<MenuItem>) -> Self {
        Self {
            title: Some(title.into()),
            items,
            ..Self::default()
        }
    }
}

/// `CiscoIPPhoneText`: a page of text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Text {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `Text` body (≤ 4000 chars; CR, LF and TAB are the only control characters allowed).
    pub text: String,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

impl Text {
    /// A text page with a title.
    pub fn new(title: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            title: Some(title.into()),
            text: text.into(),
            ..Self::default()
        }
    }

    /// What a phone shows for a non-XML (plain text) body: a Text without Title or Prompt,
    /// trimmed and cut to [`limits::TEXT`] characters like a parsed `<Text>`.
    pub fn plain(body: &str) -> Self {
        Self {
            text: clean(&body.replace("\r\n", "\n"), limits::TEXT),
            ..Self::default()
        }
    }
}

/// How the Input's `URL` is submitted (`<URL method="post">` exists only on 7800/8800/7832/8832).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputMethod {
    /// GET with the values in the query string (every phone).
    #[default]
    Get,
    /// `method="post"` (body format UNCONFIRMED; presumably form-urlencoded).
    Post,
}

/// `CiscoIPPhoneInput`: a form of up to 5 fields submitted to `url`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Input {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `URL` the values are submitted to (mandatory).
    pub url: String,
    /// The `method` attribute of `URL`.
    pub method: InputMethod,
    /// Up to 5 fields.
    pub items: Vec<InputItem>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

impl Input {
    /// An input form posting to `url` with no fields yet; add them with [`Input::item`].
    pub fn new(title: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            title: Some(title.into()),
            url: url.into(),
            ..Self::default()
        }
    }

    /// Builder step: sets the prompt.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Builder step: adds a field.
    pub fn item(
        mut self,
        display_name: impl Into<String>,
        query_string_param: impl Into<String>,
        flags: InputFlags,
    ) -> Self {
        self.items.push(InputItem {
            display_name: display_name.into(),
            query_string_param: query_string_param.into(),
            default_value: String::new(),
            flags,
        });
        self
    }

    /// Builder step: adds a softkey.
    pub fn softkey(mut self, key: SoftKeyItem) -> Self {
        self.softkeys.push(key);
        self
    }
}

/// One `InputItem` of an Input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InputItem {
    /// `DisplayName`: the field label (≤ 32).
    pub display_name: String,
    /// `QueryStringParam`: the query parameter name (mandatory, 1..32).
    pub query_string_param: String,
    /// `DefaultValue` (≤ 32); empty when absent.
    pub default_value: String,
    /// `InputFlags`: allowed characters and the password modifier.
    pub flags: InputFlags,
}

/// `CiscoIPPhoneDirectory`: named phone numbers with dialing softkeys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Directory {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Up to 32 entries; services page further ones with a `Refresh` header.
    pub entries: Vec<DirectoryEntry>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

impl Directory {
    /// A directory page with a title and entries, no prompt or softkeys.
    pub fn new(title: impl Into<String>, entries: Vec<DirectoryEntry>) -> Self {
        Self {
            title: Some(title.into()),
            entries,
            ..Self::default()
        }
    }
}

/// One `DirectoryEntry`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirectoryEntry {
    /// `Name` (≤ 32); empty when absent (the updated parser shows such entries).
    pub name: String,
    /// `Telephone` (≤ 32).
    pub telephone: String,
}

impl DirectoryEntry {
    /// An entry.
    pub fn new(name: impl Into<String>, telephone: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            telephone: telephone.into(),
        }
    }
}

/// A CIP (Cisco IP Phone) packed-pixel bitmap: the `LocationX..Data` group of Image,
/// GraphicMenu and Status. Every field is optional as written; the phone centres at (-1,-1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CipImage {
    /// `LocationX`: left pixel, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_x: Option<i32>,
    /// `LocationY`: top pixel, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_y: Option<i32>,
    /// `Width` in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// `Height` in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// `Depth`: bits per pixel (1 or 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// `Data`: hex digits, 4 pixels per byte, first pixel in the low bits; kept as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl CipImage {
    /// Unpacks `Data` into one gray level per pixel, row-major, `width * height` long.
    ///
    /// Depth 2: four pixels per byte, the first in the two least-significant bits (Cisco's
    /// example: pixels 1,3,2,0 are byte `2D`); 3 is black, 0 white. Depth 1 (packing
    /// UNCONFIRMED): eight pixels per byte, least-significant bit first. The stream is
    /// continuous across rows. `None` when a dimension is missing, the depth is not 1 or 2,
    /// or `Data` is not hex or too short.
    pub fn pixels(&self) -> Option<Vec<u8>> {
        let (w, h) = (self.width?, self.height?);
        let count = usize::try_from(u64::from(w) * u64::from(h)).ok()?;
        let bits: usize = match self.depth? {
            1 => 1,
            2 => 2,
            _ => return None,
        };
        let hex = self.data.as_deref()?.as_bytes();
        if hex.len() % 2 != 0 || hex.len() / 2 < count.checked_mul(bits)?.div_ceil(8) {
            return None;
        }
        let bytes = hex
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let per_byte = 8 / bits;
        let mask = (1u8 << bits) - 1;
        Some(
            (0..count)
                .map(|i| (bytes[i / per_byte] >> ((i % per_byte) * bits)) & mask)
                .collect(),
        )
    }
}

/// `CiscoIPPhoneImage`: a CIP bitmap in the services pane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Image {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The bitmap.
    pub image: CipImage,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// `WindowMode` root attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_mode: Option<WindowMode>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// `CiscoIPPhoneImageFile`: a PNG in the services pane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImageFile {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `LocationX`, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_x: Option<i32>,
    /// `LocationY`, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_y: Option<i32>,
    /// `URL` of the PNG (served as `image/png`).
    pub url: String,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// `WindowMode` root attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_mode: Option<WindowMode>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// `CiscoIPPhoneGraphicMenu`: a CIP bitmap whose items are chosen with keys 1..12.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GraphicMenu {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The bitmap.
    pub image: CipImage,
    /// Up to 12 items (names are not drawn; the chosen one titles the next page).
    pub items: Vec<MenuItem>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// `WindowMode` root attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_mode: Option<WindowMode>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// `CiscoIPPhoneGraphicFileMenu`: a PNG with touch areas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GraphicFileMenu {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `LocationX`, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_x: Option<i32>,
    /// `LocationY`, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_y: Option<i32>,
    /// `URL` of the PNG background.
    pub url: String,
    /// Up to 32 items with their `TouchArea`s; the first matching area wins.
    pub items: Vec<MenuItem>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// `WindowMode` root attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_mode: Option<WindowMode>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// `CiscoIPPhoneIconMenu`: a menu with CIP icons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IconMenu {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Up to 32 items, each naming an icon by `icon_index`.
    pub items: Vec<MenuItem>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// Up to 10 icons.
    pub icons: Vec<IconItem>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// A CIP `IconItem` (≤ 16×10 px).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IconItem {
    /// `Index` 0..9 referenced by `MenuItem/IconIndex`.
    pub index: u16,
    /// `Height` in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// `Width` in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// `Depth` in bits per pixel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// `Data`: packed pixels as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// `CiscoIPPhoneIconFileMenu`: a menu with PNG icons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IconFileMenu {
    /// `Title` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `IconIndex` of the title icon ("Enhanced Icon Menu"). Accepted on the root (X1) or
    /// on `<Title>` (B2); rendered on the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title_icon_index: Option<u16>,
    /// `Prompt` (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Up to 32 items.
    pub items: Vec<MenuItem>,
    /// Up to 8 custom softkeys.
    pub softkeys: Vec<SoftKeyItem>,
    /// Up to 10 icons.
    pub icons: Vec<IconFileItem>,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// A PNG `IconItem` (≤ 18×18 px) or a firmware `Resource` icon URI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IconFileItem {
    /// `Index` 0..9.
    pub index: u16,
    /// `URL` of the PNG.
    pub url: String,
}

/// `CiscoIPPhoneStatus`: the call-plane status window (text, timer, CIP image).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `Text`: one line (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `Timer`: seed of a free-running timer, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<u32>,
    /// The bitmap (106×21 on 7940/60).
    pub image: CipImage,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// `CiscoIPPhoneStatusFile`: the status window with a PNG.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusFile {
    /// `Text`: one line (≤ 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `Timer`: seed in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<u32>,
    /// `LocationX`, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_x: Option<i32>,
    /// `LocationY`, `-1` = centred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_y: Option<i32>,
    /// `URL` of the PNG.
    pub url: String,
    /// Displayable-root attributes.
    pub attrs: AppAttrs,
}

/// `ExecuteItem/@Priority`: when an HTTP URL runs (internal URIs always run at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Priority {
    /// 0, "Execute Immediately": the default when absent.
    #[default]
    Immediate,
    /// 1, "Execute When Idle": deferred until idle.
    WhenIdle,
    /// 2, "Execute If Idle": dropped unless idle now.
    IfIdle,
}

impl Priority {
    /// The numeric attribute value.
    pub fn code(self) -> u8 {
        match self {
            Self::Immediate => 0,
            Self::WhenIdle => 1,
            Self::IfIdle => 2,
        }
    }

    /// From the numeric value (XSD-new range 0..2).
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Immediate),
            1 => Some(Self::WhenIdle),
            2 => Some(Self::IfIdle),
            _ => None,
        }
    }
}

/// `CiscoIPPhoneExecute`: URIs/URLs a phone runs (pushed or pulled); not displayable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Execute {
    /// Items (3 at most on most phones; run in no guaranteed order).
    pub items: Vec<ExecuteItem>,
}

/// One `ExecuteItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExecuteItem {
    /// `URL` attribute (mandatory): HTTP URL or internal URI.
    pub url: String,
    /// `Priority` attribute (0 when absent).
    pub priority: Priority,
}

impl ExecuteItem {
    /// The item's action as a typed [`Uri`].
    pub fn uri(&self) -> Uri {
        Uri::parse(&self.url)
    }

    /// An item with the default priority (immediate).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            priority: Priority::Immediate,
        }
    }
}

/// `CiscoIPPhoneResponse`: what a phone answers to an Execute push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    /// One item per ExecuteItem, in completion order.
    pub items: Vec<ResponseItem>,
}

/// One `ResponseItem` (attribute form; the element form of X1 is accepted when parsing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResponseItem {
    /// `Status`: 0 = success, 1 = invalid URI, 6 = internal error.
    pub status: i32,
    /// `Data`: detail such as "Success" or "URI not found" (≤ 32).
    pub data: String,
    /// `URL`: the URI from the ExecuteItem.
    pub url: String,
}

/// `CiscoIPPhoneError`: a failed push (1 parse, 2 framing, 3 file, 4 authentication).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Error {
    /// `Number` attribute (mandatory).
    pub number: u16,
    /// Optional text content; `None` when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Error {
    /// What Cisco documents each `Number` to mean (`None` for undocumented numbers).
    pub fn meaning(&self) -> Option<&'static str> {
        match self.number {
            1 => Some("Error parsing CiscoIPPhone object"),
            2 => Some("Error framing CiscoIPPhoneResponse object"),
            3 => Some("Internal file error"),
            4 => Some("Authentication error"),
            _ => None,
        }
    }
}

/// Trims XML whitespace, then truncates to `limit` characters (and trims the cut end).
pub(crate) fn clean(s: &str, limit: usize) -> String {
    let s = trim_xml_space(s);
    // Never more characters than bytes: most strings are known to fit without counting.
    if s.len() <= limit {
        return s.to_owned();
    }
    match s.char_indices().nth(limit) {
        Some((cut, _)) => s[..cut].trim_end_matches(is_xml_space).to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests;
