//! What a phone would show for an object, as plain text lines for a terminal
//! (`emroam xml`, `emroam phone`).
//!
//! Not a pixel model: no wrapping or paging, images are described, not drawn. Default
//! softkeys follow per-object sets derived from Cisco's examples (the per-model matrix is
//! UNCONFIRMED: docs/decisions.md); any custom softkey replaces them all, as on the phone.

use std::fmt;

use serde::Serialize;

use super::Object;
use super::objects::*;

/// A rendered screen: title bar, body lines, prompt line and softkey bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Screen {
    /// Root element name of the object shown.
    pub object: &'static str,
    /// Title bar (`None`: the phone would show the name of the item that led here).
    pub title: Option<String>,
    /// Body, one entry per display line.
    pub lines: Vec<String>,
    /// Prompt line.
    pub prompt: Option<String>,
    /// Softkeys sorted by position.
    pub softkeys: Vec<ScreenSoftKey>,
}

/// One softkey on the softkey bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenSoftKey {
    /// Position (`-1` = the Applications/Settings hard key).
    pub position: i8,
    /// Label.
    pub name: String,
    /// True when the phone supplies it (no custom softkeys defined).
    pub default: bool,
}

impl Object {
    /// What a phone shows for this object (see [`Screen`]).
    pub fn screen(&self) -> Screen {
        let mut s = Screen {
            object: self.root_name(),
            ..Screen::default()
        };
        let defaults: &[&str] = match self {
            Object::Menu(m) => {
                s.set(&m.title, &m.prompt, &m.softkeys);
                numbered(&mut s.lines, m.items.iter().map(|i| i.name.as_str()));
                &["Select", "Exit"]
            }
            Object::Text(t) => {
                s.set(&t.title, &t.prompt, &t.softkeys);
                // CR, LF and CRLF all break lines (Text may carry CR from `&#13;`).
                let body = t.text.replace("\r\n", "\n");
                s.lines.extend(body.split(['\r', '\n']).map(str::to_owned));
                &["Update", "Exit"]
            }
            Object::Input(i) => {
                s.set(&i.title, &i.prompt, &i.softkeys);
                for (n, item) in i.items.iter().enumerate() {
                    let shown = if item.flags.password {
                        "*".repeat(item.default_value.chars().count())
                    } else {
                        item.default_value.clone()
                    };
                    s.lines.push(format!(
                        "{} {} [{}]: {shown}",
                        n + 1,
                        item.display_name,
                        item.flags
                    ));
                }
                &["Submit", "<<", "Cancel"]
            }
            Object::Directory(d) => {
                s.set(&d.title, &d.prompt, &d.softkeys);
                for (n, e) in d.entries.iter().enumerate() {
                    s.lines.push(format!("{} {}", n + 1, e.name));
                    s.lines.push(format!("  {}", e.telephone));
                }
                &["Dial", "EditDial", "Exit"]
            }
            Object::Image(i) => {
                s.set(&i.title, &i.prompt, &i.softkeys);
                draw_cip(&mut s.lines, &i.image);
                &["Update", "Exit"]
            }
            Object::ImageFile(i) => {
                s.set(&i.title, &i.prompt, &i.softkeys);
                s.lines
                    .push(format!("[PNG {}{}]", i.url, at(i.location_x, i.location_y)));
                &["Update", "Exit"]
            }
            Object::GraphicMenu(g) => {
                s.set(&g.title, &g.prompt, &g.softkeys);
                draw_cip(&mut s.lines, &g.image);
                numbered(&mut s.lines, g.items.iter().map(|i| i.name.as_str()));
                &["Select", "Exit"]
            }
            Object::GraphicFileMenu(g) => {
                s.set(&g.title, &g.prompt, &g.softkeys);
                s.lines
                    .push(format!("[PNG {}{}]", g.url, at(g.location_x, g.location_y)));
                for (n, item) in g.items.iter().enumerate() {
                    let area = item.touch_area.map_or(String::new(), |t| {
                        format!(" [touch {},{}-{},{}]", t.x1, t.y1, t.x2, t.y2)
                    });
                    s.lines.push(format!("{} {}{area}", n + 1, item.name));
                }
                &["Select", "Exit"]
            }
            Object::IconMenu(m) => {
                s.set(&m.title, &m.prompt, &m.softkeys);
                icon_items(&mut s.lines, &m.items);
                &["Select", "Exit"]
            }
            Object::IconFileMenu(m) => {
                s.set(&m.title, &m.prompt, &m.softkeys);
                if let Some(i) = m.title_icon_index {
                    s.title = Some(format!("[icon {i}] {}", m.title.as_deref().unwrap_or("")));
                }
                icon_items(&mut s.lines, &m.items);
                &["Select", "Exit"]
            }
            Object::Status(st) => {
                status_lines(&mut s.lines, st.text.as_deref(), st.timer);
                if st.image != CipImage::default() {
                    draw_cip(&mut s.lines, &st.image);
                }
                &[]
            }
            Object::StatusFile(st) => {
                status_lines(&mut s.lines, st.text.as_deref(), st.timer);
                s.lines.push(format!(
                    "[PNG {}{}]",
                    st.url,
                    at(st.location_x, st.location_y)
                ));
                &[]
            }
            Object::Execute(e) => {
                for (n, item) in e.items.iter().enumerate() {
                    let p = match item.priority {
                        Priority::Immediate => "immediately",
                        Priority::WhenIdle => "when idle",
                        Priority::IfIdle => "if idle",
                    };
                    s.lines.push(format!("{} run {p}: {}", n + 1, item.url));
                }
                &[]
            }
            Object::Response(r) => {
                for (n, item) in r.items.iter().enumerate() {
                    s.lines.push(format!(
                        "{} {} -> {} {}",
                        n + 1,
                        item.url,
                        item.status,
                        item.data
                    ));
                }
                &[]
            }
            Object::Error(e) => {
                let meaning = e.meaning().unwrap_or("undocumented error number");
                s.lines
                    .push(format!("CiscoIPPhoneError {}: {meaning}", e.number));
                if let Some(m) = &e.message {
                    s.lines.push(m.clone());
                }
                &[]
            }
        };
        if s.softkeys.is_empty() {
            s.softkeys = (1..)
                .zip(defaults)
                .map(|(position, name)| ScreenSoftKey {
                    position,
                    name: (*name).to_owned(),
                    default: true,
                })
                .collect();
        }
        s
    }
}

impl Screen {
    fn set(&mut self, title: &Option<String>, prompt: &Option<String>, keys: &[SoftKeyItem]) {
        self.title.clone_from(title);
        self.prompt.clone_from(prompt);
        self.softkeys = keys
            .iter()
            .map(|k| ScreenSoftKey {
                position: k.position,
                name: k.name.clone(),
                default: false,
            })
            .collect();
        self.softkeys.sort_by_key(|k| k.position);
    }
}

/// "1 Name"; a name with line breaks continues on indented lines (≤ 3 lines on a phone).
fn numbered<'a>(lines: &mut Vec<String>, names: impl Iterator<Item = &'a str>) {
    for (n, name) in names.enumerate() {
        let label = (n + 1).to_string();
        let mut parts = name.split(['\r', '\n']);
        lines.push(format!("{label} {}", parts.next().unwrap_or("")));
        for more in parts {
            lines.push(format!("{} {more}", " ".repeat(label.len())));
        }
    }
}

fn icon_items(lines: &mut Vec<String>, items: &[MenuItem]) {
    for (n, item) in items.iter().enumerate() {
        let icon = item
            .icon_index
            .map_or(String::new(), |i| format!("[icon {i}] "));
        lines.push(format!("{} {icon}{}", n + 1, item.name));
    }
}

fn status_lines(lines: &mut Vec<String>, text: Option<&str>, timer: Option<u32>) {
    let mut line = text.unwrap_or("").to_owned();
    if let Some(t) = timer {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&format!("{:02}:{:02}", t / 60, t % 60));
    }
    if !line.is_empty() {
        lines.push(line);
    }
}

fn at(x: Option<i32>, y: Option<i32>) -> String {
    match (x, y) {
        (None, None) | (Some(-1), Some(-1)) => " centred".to_owned(),
        (x, y) => format!(" at ({},{})", x.unwrap_or(-1), y.unwrap_or(-1)),
    }
}

/// The image's description line, then the picture itself when `Data` decodes: one text
/// line per pixel row, gray levels 0 (white) .. 3 (black) drawn as ` .+#`.
fn draw_cip(lines: &mut Vec<String>, i: &CipImage) {
    lines.push(describe_cip(i));
    if let (Some(pixels), Some(width)) = (i.pixels(), i.width) {
        let width = usize::try_from(width).unwrap_or(usize::MAX).max(1);
        let shade = |p: &u8| match (i.depth, p) {
            (Some(1), 1) | (_, 3) => '#',
            (_, 2) => '+',
            (_, 1) => '.',
            _ => ' ',
        };
        lines.extend(
            pixels
                .chunks(width)
                .map(|row| row.iter().map(shade).collect::<String>()),
        );
    }
}

fn describe_cip(i: &CipImage) -> String {
    let dim = |v: Option<u32>| v.map_or("?".to_owned(), |v| v.to_string());
    format!(
        "[CIP image {}x{} depth {}{}]",
        dim(i.width),
        dim(i.height),
        dim(i.depth),
        at(i.location_x, i.location_y)
    )
}

impl fmt::Display for Screen {
    /// Title line, body, prompt line, softkey bar; lines without trailing spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(t) = &self.title {
            writeln!(f, "== {t} ==")?;
        }
        for line in &self.lines {
            writeln!(f, "{}", line.trim_end())?;
        }
        if let Some(p) = &self.prompt {
            writeln!(f, "-- {p}")?;
        }
        if !self.softkeys.is_empty() {
            let bar: Vec<String> = self
                .softkeys
                .iter()
                .map(|k| match k.position {
                    -1 => format!("[App: {}]", k.name),
                    p => format!("[{p} {}]", k.name),
                })
                .collect();
            writeln!(f, "{}", bar.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipxml::InputFlags;

    #[test]
    fn menu_screen_numbers_items_and_uses_default_softkeys() {
        let mut m = Menu::new(
            "Services",
            vec![
                MenuItem::new("One", "http://a"),
                MenuItem::new("Two\rlines", "http://b"),
            ],
        );
        m.prompt = Some("Pick".into());
        let text = Object::Menu(m).screen().to_string();
        assert_eq!(
            text,
            "== Services ==\n1 One\n2 Two\n  lines\n-- Pick\n[1 Select] [2 Exit]\n"
        );
    }

    #[test]
    fn custom_softkeys_replace_defaults_and_sort() {
        let mut t = Text::new("T", "line 1\r\nline 2");
        t.softkeys = vec![
            SoftKeyItem::new("B", "Key:Hold", 3),
            SoftKeyItem::new("A", "SoftKey:Exit", 1),
        ];
        let s = Object::Text(t).screen();
        assert_eq!(s.lines, ["line 1", "line 2"]);
        let cr = Object::Text(Text::new("T", "a\rb\n\nc")).screen();
        assert_eq!(cr.lines, ["a", "b", "", "c"]);
        assert_eq!(s.to_string().lines().last(), Some("[1 A] [3 B]"));
        assert!(s.softkeys.iter().all(|k| !k.default));
    }

    #[test]
    fn input_screen_shows_labels_flags_and_masks_passwords() {
        let mut i = Input::new("Login", "http://s/l")
            .item("User", "u", InputFlags::ASCII)
            .item("PIN", "p", InputFlags::PIN);
        i.items[0].default_value = "bob".into();
        i.items[1].default_value = "1234".into();
        let s = Object::Input(i).screen();
        assert_eq!(s.lines, ["1 User [A]: bob", "2 PIN [NP]: ****"]);
        assert_eq!(s.softkeys.len(), 3);
    }

    #[test]
    fn cip_images_are_drawn_as_text() {
        let image = CipImage {
            location_x: Some(-1),
            location_y: Some(-1),
            width: Some(2),
            height: Some(2),
            depth: Some(2),
            data: Some("2D".into()),
        };
        let s = Object::Image(Image {
            image,
            ..Image::default()
        })
        .screen();
        assert_eq!(s.lines, ["[CIP image 2x2 depth 2 centred]", ".#", "+ "]);
    }

    #[test]
    fn non_displayable_objects_describe_themselves() {
        let e = Object::Execute(Execute {
            items: vec![ExecuteItem::new("Key:Services")],
        });
        assert_eq!(e.screen().lines, ["1 run immediately: Key:Services"]);
        let err = Object::Error(Error {
            number: 4,
            message: None,
        });
        assert_eq!(
            err.screen().to_string(),
            "CiscoIPPhoneError 4: Authentication error\n"
        );
        let st = Object::Status(Status {
            text: Some("On hold".into()),
            timer: Some(75),
            ..Status::default()
        });
        assert_eq!(st.screen().lines, ["On hold 01:15"]);
    }
}
