//! Element tree to [`Object`], applying the phone's rules: children in any order, unknown
//! children and attributes ignored, limits applied by truncating / dropping extras, and the
//! updated parser's mandatory fields enforced.
//!
//! Pure; called by [`parse_with`](super::parse_with) after `dom` has checked the XML.

use std::borrow::Cow;
use std::str::FromStr;

use super::XmlError;
use super::dom::{Element, is_xml_space, trim_xml_space};
use super::flags::InputFlags;
use super::objects::{limits as lim, *};
use super::{Object, ParseOptions};

/// Maps a well-formed tree to its object by root name; a root no phone knows is `[5]`.
pub(crate) fn to_object(root: &mut Element<'_>, opts: &ParseOptions) -> Result<Object, XmlError> {
    Ok(match &*root.name {
        "CiscoIPPhoneMenu" => Object::Menu(Menu {
            title: title(root),
            prompt: prompt(root),
            items: menu_items(root, lim::MENU_ITEMS, lim::MENU_ITEM_NAME)?,
            softkeys: softkeys(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneText" => Object::Text(Text {
            title: title(root),
            prompt: prompt(root),
            text: text(root, "Text", lim::TEXT).unwrap_or_default(),
            softkeys: softkeys(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneInput" => Object::Input(input(root)?),
        "CiscoIPPhoneDirectory" => Object::Directory(Directory {
            title: title(root),
            prompt: prompt(root),
            entries: each(root, "DirectoryEntry", lim::DIRECTORY_ENTRIES, |e| {
                Ok(DirectoryEntry {
                    name: text(e, "Name", lim::DIRECTORY_FIELD).unwrap_or_default(),
                    telephone: text(e, "Telephone", lim::DIRECTORY_FIELD).unwrap_or_default(),
                })
            })?,
            softkeys: softkeys(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneImage" => Object::Image(Image {
            title: title(root),
            prompt: prompt(root),
            image: cip_image(root, lim::IMAGE_DATA_HEX)?,
            softkeys: softkeys(root)?,
            window_mode: window_mode(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneImageFile" => Object::ImageFile(ImageFile {
            title: title(root),
            prompt: prompt(root),
            location_x: number(root, "LocationX")?,
            location_y: number(root, "LocationY")?,
            url: text(root, "URL", lim::URL).unwrap_or_default(),
            softkeys: softkeys(root)?,
            window_mode: window_mode(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneGraphicMenu" => Object::GraphicMenu(GraphicMenu {
            title: title(root),
            prompt: prompt(root),
            image: cip_image(root, lim::IMAGE_DATA_HEX)?,
            items: menu_items(root, lim::GRAPHIC_MENU_ITEMS, lim::MENU_ITEM_NAME)?,
            softkeys: softkeys(root)?,
            window_mode: window_mode(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneGraphicFileMenu" => Object::GraphicFileMenu(GraphicFileMenu {
            title: title(root),
            prompt: prompt(root),
            location_x: number(root, "LocationX")?,
            location_y: number(root, "LocationY")?,
            url: text(root, "URL", lim::URL).unwrap_or_default(),
            items: menu_items(
                root,
                lim::GRAPHIC_FILE_MENU_ITEMS,
                lim::GRAPHIC_FILE_MENU_ITEM_NAME,
            )?,
            softkeys: softkeys(root)?,
            window_mode: window_mode(root)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneIconMenu" => Object::IconMenu(IconMenu {
            title: title(root),
            prompt: prompt(root),
            items: menu_items(root, lim::ICON_MENU_ITEMS, lim::MENU_ITEM_NAME)?,
            softkeys: softkeys(root)?,
            icons: each(root, "IconItem", lim::ICON_ITEMS, |i| {
                Ok(IconItem {
                    index: number(i, "Index")?.unwrap_or(0),
                    height: number(i, "Height")?,
                    width: number(i, "Width")?,
                    depth: number(i, "Depth")?,
                    data: text(i, "Data", lim::ICON_DATA_HEX),
                })
            })?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneIconFileMenu" => Object::IconFileMenu(IconFileMenu {
            title: title(root),
            title_icon_index: match attr_number(root, "IconIndex")? {
                Some(i) => Some(i),
                None => match root.child("Title") {
                    Some(t) => attr_number(t, "IconIndex")?,
                    None => None,
                },
            },
            prompt: prompt(root),
            items: menu_items(root, lim::ICON_MENU_ITEMS, lim::MENU_ITEM_NAME)?,
            softkeys: softkeys(root)?,
            icons: each(root, "IconItem", lim::ICON_ITEMS, |i| {
                Ok(IconFileItem {
                    index: number(i, "Index")?.unwrap_or(0),
                    url: text(i, "URL", lim::URL).unwrap_or_default(),
                })
            })?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneStatus" => Object::Status(Status {
            text: text(root, "Text", lim::STATUS_TEXT),
            timer: number(root, "Timer")?,
            image: cip_image(root, lim::STATUS_DATA_HEX)?,
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneStatusFile" => Object::StatusFile(StatusFile {
            text: text(root, "Text", lim::STATUS_TEXT),
            timer: number(root, "Timer")?,
            location_x: number(root, "LocationX")?,
            location_y: number(root, "LocationY")?,
            url: text(root, "URL", lim::URL).unwrap_or_default(),
            attrs: app_attrs(root)?,
        }),
        "CiscoIPPhoneExecute" => Object::Execute(Execute {
            items: each(root, "ExecuteItem", opts.max_execute_items, |n| {
                execute_item(n)
            })?,
        }),
        // X1 misspells the root `CiscoIPhoneResponse`; tolerate it.
        "CiscoIPPhoneResponse" | "CiscoIPhoneResponse" => Object::Response(Response {
            items: each(root, "ResponseItem", usize::MAX, |n| response_item(n))?,
        }),
        "CiscoIPPhoneError" => Object::Error(Error {
            number: match attr_number(root, "Number")? {
                Some(n) => n,
                None => return Err(XmlError::parse("CiscoIPPhoneError without Number".into())),
            },
            message: Some(clean_owned(std::mem::take(&mut root.text), usize::MAX))
                .filter(|m| !m.is_empty()),
        }),
        other => {
            return Err(XmlError::Unsupported {
                root: other.to_owned(),
                detail: format!("<{other}> is not a CiscoIPPhone object"),
            });
        }
    })
}

/// The first `max` children called `name`, each mapped by `f`, in an exactly sized Vec; the
/// first error stops the walk.
fn each<'a, T>(
    node: &mut Element<'a>,
    name: &str,
    max: usize,
    mut f: impl FnMut(&mut Element<'a>) -> Result<T, XmlError>,
) -> Result<Vec<T>, XmlError> {
    let mut out = Vec::with_capacity(node.children_named(name).take(max).count());
    for child in node
        .children
        .iter_mut()
        .filter(|c| c.name == name)
        .take(max)
    {
        out.push(f(child)?);
    }
    Ok(out)
}

/// [`clean`], reusing an owned text's buffer when it needs no trimming or truncating.
fn clean_owned(s: Cow<'_, str>, limit: usize) -> String {
    match s {
        Cow::Owned(s)
            if s.len() <= limit && !s.starts_with(is_xml_space) && !s.ends_with(is_xml_space) =>
        {
            s
        }
        s => clean(&s, limit),
    }
}

/// The cleaned text of the last child called `name`, taken from the tree: each element's
/// text is read once, so text decoded into a buffer of its own moves into the object.
fn text(node: &mut Element<'_>, name: &str, limit: usize) -> Option<String> {
    node.child_mut(name)
        .map(|c| clean_owned(std::mem::take(&mut c.text), limit))
}

fn title(node: &mut Element<'_>) -> Option<String> {
    text(node, "Title", lim::TITLE)
}

fn prompt(node: &mut Element<'_>) -> Option<String> {
    text(node, "Prompt", lim::TITLE)
}

fn parse_num<T: FromStr>(raw: &str, what: &str) -> Result<T, XmlError> {
    let raw = trim_xml_space(raw);
    raw.parse()
        .map_err(|_| XmlError::parse(format!("{what} {raw:?} is not a valid number here")))
}

/// A numeric child element; absent (or empty) is `None`, garbage is a parse error.
fn number<T: FromStr>(node: &Element<'_>, name: &str) -> Result<Option<T>, XmlError> {
    match node.child(name) {
        Some(c) if !trim_xml_space(&c.text).is_empty() => {
            parse_num(&c.text, &format!("<{name}>")).map(Some)
        }
        _ => Ok(None),
    }
}

fn attr_number<T: FromStr>(node: &Element<'_>, name: &str) -> Result<Option<T>, XmlError> {
    node.attr(name)
        .map(|v| parse_num(v, &format!("attribute {name}")))
        .transpose()
}

fn app_attrs(root: &Element<'_>) -> Result<AppAttrs, XmlError> {
    let url = |name: &str| root.attr(name).map(|v| clean(v, lim::URL));
    Ok(AppAttrs {
        app_id: root.attr("appId").map(|v| clean(v, lim::APP_ID)),
        on_app_focus_lost: url("onAppFocusLost"),
        on_app_focus_gained: url("onAppFocusGained"),
        on_app_minimized: url("onAppMinimized"),
        on_app_closed: url("onAppClosed"),
        keypad_target: match root.attr("keypadTarget") {
            None => None,
            Some(v) => Some(
                KeypadTarget::from_xml(v.trim_matches(is_xml_space)).ok_or_else(|| {
                    XmlError::parse(format!("keypadTarget {v:?} is not a known value"))
                })?,
            ),
        },
    })
}

fn window_mode(root: &Element<'_>) -> Result<Option<WindowMode>, XmlError> {
    root.attr("WindowMode")
        .map(|v| {
            WindowMode::from_xml(v.trim_matches(is_xml_space))
                .ok_or_else(|| XmlError::parse(format!("WindowMode {v:?} is not Normal or Wide")))
        })
        .transpose()
}

fn menu_items(
    root: &mut Element<'_>,
    max: usize,
    name_limit: usize,
) -> Result<Vec<MenuItem>, XmlError> {
    each(root, "MenuItem", max, |m| {
        Ok(MenuItem {
            name: text(m, "Name", name_limit).unwrap_or_default(),
            url: text(m, "URL", lim::URL),
            icon_index: number(m, "IconIndex")?,
            touch_area: match m.child("TouchArea") {
                None => None,
                Some(t) => Some(TouchArea {
                    x1: attr_number(t, "X1")?.unwrap_or(0),
                    y1: attr_number(t, "Y1")?.unwrap_or(0),
                    x2: attr_number(t, "X2")?.unwrap_or(0),
                    y2: attr_number(t, "Y2")?.unwrap_or(0),
                }),
            },
        })
    })
}

/// Softkeys past the 8th are dropped unread; each kept one needs a valid `Position`.
fn softkeys(root: &mut Element<'_>) -> Result<Vec<SoftKeyItem>, XmlError> {
    each(root, "SoftKeyItem", lim::SOFTKEYS, |s| {
        let Some(pos) = s.child("Position") else {
            return Err(XmlError::parse("SoftKeyItem without Position".into()));
        };
        let position: i8 = parse_num(&pos.text, "SoftKeyItem Position")?;
        if position != -1 && !(1..=16).contains(&position) {
            return Err(XmlError::parse(format!(
                "SoftKeyItem Position {position} is not -1 or 1..16"
            )));
        }
        Ok(SoftKeyItem {
            name: text(s, "Name", lim::SOFTKEY_NAME).unwrap_or_default(),
            url: text(s, "URL", lim::URL),
            url_down: text(s, "URLDown", lim::URL),
            position,
        })
    })
}

fn input(root: &mut Element<'_>) -> Result<Input, XmlError> {
    let Some(url) = root.child_mut("URL") else {
        return Err(XmlError::parse("CiscoIPPhoneInput without URL".into()));
    };
    let method = match url.attr("method").map(|m| m.trim_matches(is_xml_space)) {
        Some(m) if m.eq_ignore_ascii_case("post") => InputMethod::Post,
        _ => InputMethod::Get,
    };
    let url = clean_owned(std::mem::take(&mut url.text), lim::URL);
    let items = each(root, "InputItem", lim::INPUT_ITEMS, |i| {
        let qsp = text(i, "QueryStringParam", lim::INPUT_FIELD).unwrap_or_default();
        if qsp.is_empty() {
            return Err(XmlError::parse("InputItem without QueryStringParam".into()));
        }
        Ok(InputItem {
            display_name: text(i, "DisplayName", lim::INPUT_FIELD).unwrap_or_default(),
            query_string_param: qsp,
            default_value: text(i, "DefaultValue", lim::INPUT_FIELD).unwrap_or_default(),
            flags: i
                .child("InputFlags")
                .map(|f| InputFlags::parse(&f.text))
                .unwrap_or_default(),
        })
    })?;
    Ok(Input {
        title: title(root),
        prompt: prompt(root),
        url,
        method,
        items,
        softkeys: softkeys(root)?,
        attrs: app_attrs(root)?,
    })
}

fn cip_image(node: &mut Element<'_>, data_limit: usize) -> Result<CipImage, XmlError> {
    Ok(CipImage {
        location_x: number(node, "LocationX")?,
        location_y: number(node, "LocationY")?,
        width: number(node, "Width")?,
        height: number(node, "Height")?,
        depth: number(node, "Depth")?,
        data: text(node, "Data", data_limit),
    })
}

fn execute_item(node: &Element<'_>) -> Result<ExecuteItem, XmlError> {
    let url = node
        .attr("URL")
        .map(|u| clean(u, lim::URL))
        .ok_or_else(|| XmlError::parse("ExecuteItem without URL".into()))?;
    let priority = match attr_number::<u8>(node, "Priority")? {
        None => Priority::Immediate,
        Some(p) => Priority::from_code(p)
            .ok_or_else(|| XmlError::parse(format!("ExecuteItem Priority {p} is not 0..2")))?,
    };
    Ok(ExecuteItem { url, priority })
}

/// Attribute form (what phones send) or X1's element form.
fn response_item(node: &Element<'_>) -> Result<ResponseItem, XmlError> {
    let field = |name: &str| -> Option<&str> {
        node.attr(name)
            .or_else(|| node.child(name).map(|c| c.text.as_ref()))
    };
    let status = field("Status")
        .ok_or_else(|| XmlError::parse("ResponseItem without Status".into()))
        .and_then(|s| parse_num(s, "ResponseItem Status"))?;
    Ok(ResponseItem {
        status,
        data: field("Data")
            .map(|d| clean(d, lim::RESPONSE_DATA))
            .unwrap_or_default(),
        url: field("URL").map(|u| clean(u, lim::URL)).unwrap_or_default(),
    })
}
