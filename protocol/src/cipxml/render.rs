//! [`Object`] to XML the way a careful server writes it: UTF-8 with a declared prolog, the
//! documented element order (Title, Prompt, the object's own children, then SoftKeyItems),
//! and every mandatory escape (`&amp;` in URLs included).
//!
//! Pure; renders whatever the struct holds without enforcing limits (the parser does that).

use super::Object;
use super::objects::*;

/// The prolog every rendered document starts with.
pub const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

/// Renders `obj` as a complete UTF-8 document (same as [`Object::to_xml`]).
pub fn render(obj: &Object) -> String {
    let mut w = Writer {
        out: String::with_capacity(512),
        depth: 0,
    };
    w.out.push_str(PROLOG);
    let root = obj.root_name();
    match obj {
        Object::Menu(m) => {
            w.open(root, &app_attrs(&m.attrs));
            title_prompt(&mut w, &m.title, &m.prompt);
            menu_items(&mut w, &m.items);
            softkeys(&mut w, &m.softkeys);
        }
        Object::Text(t) => {
            w.open(root, &app_attrs(&t.attrs));
            title_prompt(&mut w, &t.title, &t.prompt);
            w.leaf("Text", &t.text);
            softkeys(&mut w, &t.softkeys);
        }
        Object::Input(i) => {
            w.open(root, &app_attrs(&i.attrs));
            title_prompt(&mut w, &i.title, &i.prompt);
            match i.method {
                InputMethod::Get => w.leaf("URL", &i.url),
                InputMethod::Post => w.leaf_with("URL", &[("method", "post".into())], &i.url),
            }
            for item in &i.items {
                w.open("InputItem", &[]);
                w.leaf("DisplayName", &item.display_name);
                w.leaf("QueryStringParam", &item.query_string_param);
                w.leaf("DefaultValue", &item.default_value);
                w.leaf("InputFlags", &item.flags.to_string());
                w.close("InputItem");
            }
            softkeys(&mut w, &i.softkeys);
        }
        Object::Directory(d) => {
            w.open(root, &app_attrs(&d.attrs));
            title_prompt(&mut w, &d.title, &d.prompt);
            for e in &d.entries {
                w.open("DirectoryEntry", &[]);
                w.leaf("Name", &e.name);
                w.leaf("Telephone", &e.telephone);
                w.close("DirectoryEntry");
            }
            softkeys(&mut w, &d.softkeys);
        }
        Object::Image(i) => {
            w.open(root, &with_window_mode(app_attrs(&i.attrs), i.window_mode));
            title_prompt(&mut w, &i.title, &i.prompt);
            cip_image(&mut w, &i.image);
            softkeys(&mut w, &i.softkeys);
        }
        Object::ImageFile(i) => {
            w.open(root, &with_window_mode(app_attrs(&i.attrs), i.window_mode));
            title_prompt(&mut w, &i.title, &i.prompt);
            w.num("LocationX", i.location_x);
            w.num("LocationY", i.location_y);
            w.leaf("URL", &i.url);
            softkeys(&mut w, &i.softkeys);
        }
        Object::GraphicMenu(g) => {
            w.open(root, &with_window_mode(app_attrs(&g.attrs), g.window_mode));
            title_prompt(&mut w, &g.title, &g.prompt);
            cip_image(&mut w, &g.image);
            menu_items(&mut w, &g.items);
            softkeys(&mut w, &g.softkeys);
        }
        Object::GraphicFileMenu(g) => {
            w.open(root, &with_window_mode(app_attrs(&g.attrs), g.window_mode));
            title_prompt(&mut w, &g.title, &g.prompt);
            w.num("LocationX", g.location_x);
            w.num("LocationY", g.location_y);
            w.leaf("URL", &g.url);
            menu_items(&mut w, &g.items);
            softkeys(&mut w, &g.softkeys);
        }
        Object::IconMenu(m) => {
            w.open(root, &app_attrs(&m.attrs));
            title_prompt(&mut w, &m.title, &m.prompt);
            menu_items(&mut w, &m.items);
            softkeys(&mut w, &m.softkeys);
            for icon in &m.icons {
                w.open("IconItem", &[]);
                w.num("Index", Some(icon.index));
                w.num("Height", icon.height);
                w.num("Width", icon.width);
                w.num("Depth", icon.depth);
                w.opt_leaf("Data", icon.data.as_deref());
                w.close("IconItem");
            }
        }
        Object::IconFileMenu(m) => {
            let mut attrs = app_attrs(&m.attrs);
            if let Some(i) = m.title_icon_index {
                attrs.push(("IconIndex", i.to_string()));
            }
            w.open(root, &attrs);
            title_prompt(&mut w, &m.title, &m.prompt);
            menu_items(&mut w, &m.items);
            softkeys(&mut w, &m.softkeys);
            for icon in &m.icons {
                w.open("IconItem", &[]);
                w.num("Index", Some(icon.index));
                w.leaf("URL", &icon.url);
                w.close("IconItem");
            }
        }
        Object::Status(s) => {
            w.open(root, &app_attrs(&s.attrs));
            w.opt_leaf("Text", s.text.as_deref());
            w.num("Timer", s.timer);
            cip_image(&mut w, &s.image);
        }
        Object::StatusFile(s) => {
            w.open(root, &app_attrs(&s.attrs));
            w.opt_leaf("Text", s.text.as_deref());
            w.num("Timer", s.timer);
            w.num("LocationX", s.location_x);
            w.num("LocationY", s.location_y);
            w.leaf("URL", &s.url);
        }
        Object::Execute(e) => {
            w.open(root, &[]);
            for item in &e.items {
                w.empty(
                    "ExecuteItem",
                    &[
                        ("Priority", item.priority.code().to_string()),
                        ("URL", item.url.clone()),
                    ],
                );
            }
        }
        Object::Response(r) => {
            w.open(root, &[]);
            for item in &r.items {
                w.empty(
                    "ResponseItem",
                    &[
                        ("Status", item.status.to_string()),
                        ("Data", item.data.clone()),
                        ("URL", item.url.clone()),
                    ],
                );
            }
        }
        Object::Error(e) => {
            let attrs = [("Number", e.number.to_string())];
            match &e.message {
                None => w.empty(root, &attrs),
                Some(m) => w.leaf_with(root, &attrs, m),
            }
            return w.out;
        }
    }
    w.close(root);
    w.out
}

type Attrs = Vec<(&'static str, String)>;

fn app_attrs(a: &AppAttrs) -> Attrs {
    let mut v = Vec::new();
    let mut push = |k: &'static str, val: &Option<String>| {
        if let Some(val) = val {
            v.push((k, val.clone()));
        }
    };
    push("appId", &a.app_id);
    push("onAppFocusLost", &a.on_app_focus_lost);
    push("onAppFocusGained", &a.on_app_focus_gained);
    push("onAppMinimized", &a.on_app_minimized);
    push("onAppClosed", &a.on_app_closed);
    if let Some(k) = a.keypad_target {
        v.push(("keypadTarget", k.as_str().to_owned()));
    }
    v
}

fn with_window_mode(mut attrs: Attrs, mode: Option<WindowMode>) -> Attrs {
    if let Some(m) = mode {
        attrs.push(("WindowMode", m.as_str().to_owned()));
    }
    attrs
}

fn title_prompt(w: &mut Writer, title: &Option<String>, prompt: &Option<String>) {
    w.opt_leaf("Title", title.as_deref());
    w.opt_leaf("Prompt", prompt.as_deref());
}

fn menu_items(w: &mut Writer, items: &[MenuItem]) {
    for item in items {
        w.open("MenuItem", &[]);
        w.num("IconIndex", item.icon_index);
        w.leaf("Name", &item.name);
        w.opt_leaf("URL", item.url.as_deref());
        if let Some(t) = item.touch_area {
            w.empty(
                "TouchArea",
                &[
                    ("X1", t.x1.to_string()),
                    ("Y1", t.y1.to_string()),
                    ("X2", t.x2.to_string()),
                    ("Y2", t.y2.to_string()),
                ],
            );
        }
        w.close("MenuItem");
    }
}

fn softkeys(w: &mut Writer, keys: &[SoftKeyItem]) {
    for k in keys {
        w.open("SoftKeyItem", &[]);
        w.leaf("Name", &k.name);
        w.opt_leaf("URL", k.url.as_deref());
        w.opt_leaf("URLDown", k.url_down.as_deref());
        w.num("Position", Some(k.position));
        w.close("SoftKeyItem");
    }
}

fn cip_image(w: &mut Writer, i: &CipImage) {
    w.num("LocationX", i.location_x);
    w.num("LocationY", i.location_y);
    w.num("Width", i.width);
    w.num("Height", i.height);
    w.num("Depth", i.depth);
    w.opt_leaf("Data", i.data.as_deref());
}

/// A minimal indenting XML writer; all names are static and need no escaping.
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v, true);
            self.out.push('"');
        }
    }

    fn open(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs);
        self.out.push_str("/>\n");
    }

    fn leaf_with(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        if text.is_empty() {
            return self.empty(name, attrs);
        }
        self.start_tag(name, attrs);
        self.out.push('>');
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(name, t);
        }
    }

    fn num<T: ToString>(&mut self, name: &str, n: Option<T>) {
        if let Some(n) = n {
            self.leaf(name, &n.to_string());
        }
    }
}

/// Escapes the five mandatory characters; CR always (it would be normalized away), and in
/// attributes TAB and LF too (attribute normalization would turn them into spaces).
fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_mandatory_character() {
        let mut s = String::new();
        escape_into(&mut s, "a&b<c>d\"e'f\rg\nh\ti", false);
        assert_eq!(s, "a&amp;b&lt;c&gt;d&quot;e&apos;f&#13;g\nh\ti");
        let mut s = String::new();
        escape_into(&mut s, "x\n\t\ry", true);
        assert_eq!(s, "x&#10;&#9;&#13;y");
    }

    #[test]
    fn menu_renders_in_documented_order_with_escaped_urls() {
        let menu = Menu {
            title: Some("T".into()),
            prompt: Some("P".into()),
            items: vec![MenuItem::new("A & B", "http://s/x?a=1&b=2")],
            softkeys: vec![SoftKeyItem::new("Select", "SoftKey:Select", 1)],
            attrs: AppAttrs {
                app_id: Some("Acme/App".into()),
                ..AppAttrs::default()
            },
        };
        let xml = render(&Object::Menu(menu));
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <CiscoIPPhoneMenu appId=\"Acme/App\">\n\
             \x20 <Title>T</Title>\n\
             \x20 <Prompt>P</Prompt>\n\
             \x20 <MenuItem>\n\
             \x20   <Name>A &amp; B</Name>\n\
             \x20   <URL>http://s/x?a=1&amp;b=2</URL>\n\
             \x20 </MenuItem>\n\
             \x20 <SoftKeyItem>\n\
             \x20   <Name>Select</Name>\n\
             \x20   <URL>SoftKey:Select</URL>\n\
             \x20   <Position>1</Position>\n\
             \x20 </SoftKeyItem>\n\
             </CiscoIPPhoneMenu>\n"
        );
    }

    #[test]
    fn execute_response_and_error_use_attributes() {
        let e = Object::Execute(Execute {
            items: vec![ExecuteItem {
                url: "Play:a&b.raw".into(),
                priority: Priority::WhenIdle,
            }],
        });
        assert!(render(&e).contains("<ExecuteItem Priority=\"1\" URL=\"Play:a&amp;b.raw\"/>"));
        let r = Object::Response(Response {
            items: vec![ResponseItem {
                status: 0,
                data: "Success".into(),
                url: "Key:Hold".into(),
            }],
        });
        assert!(
            render(&r).contains("<ResponseItem Status=\"0\" Data=\"Success\" URL=\"Key:Hold\"/>")
        );
        let err = Object::Error(Error {
            number: 4,
            message: None,
        });
        assert_eq!(
            render(&err),
            format!("{PROLOG}<CiscoIPPhoneError Number=\"4\"/>\n")
        );
    }
}
