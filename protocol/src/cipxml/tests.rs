//! Unit tests for parsing every object kind, charsets, escapes, limits and error rules.

use super::*;

fn ok(doc: &str) -> Object {
    match parse(doc.as_bytes()) {
        Ok(o) => o,
        Err(e) => panic!("{e}: {}\n{doc}", e.detail()),
    }
}

fn code(doc: &[u8]) -> u8 {
    parse(doc).expect_err("should fail").code()
}

const SK: &str =
    "<SoftKeyItem><Name>Exit</Name><URL>SoftKey:Exit</URL><Position>3</Position></SoftKeyItem>";

#[test]
fn menu() {
    let doc = format!(
        "<CiscoIPPhoneMenu appId=\"Acme/Dir\" onAppClosed=\"Notify:http:s:80:p\" keypadTarget=\"activeCall\">\
         <Prompt>Pick</Prompt>{SK}<MenuItem><URL>http://s/1?a=1&amp;b=2</URL><Name>One</Name></MenuItem>\
         <MenuItem><Name>No URL</Name></MenuItem><MenuItem><URL>Dial:1000</URL></MenuItem>\
         <Unknown><Deep/></Unknown><Title>Title</Title></CiscoIPPhoneMenu>"
    );
    let Object::Menu(m) = ok(&doc) else { panic!() };
    assert_eq!(m.title.as_deref(), Some("Title"));
    assert_eq!(m.prompt.as_deref(), Some("Pick"));
    assert_eq!(m.items.len(), 3);
    assert_eq!(m.items[0].url.as_deref(), Some("http://s/1?a=1&b=2"));
    assert_eq!(m.items[1].url, None);
    assert_eq!(
        m.items[2].name, "",
        "a MenuItem without Name is a blank line"
    );
    assert_eq!(m.softkeys, [SoftKeyItem::new("Exit", "SoftKey:Exit", 3)]);
    assert_eq!(m.attrs.app_id.as_deref(), Some("Acme/Dir"));
    assert_eq!(m.attrs.on_app_closed.as_deref(), Some("Notify:http:s:80:p"));
    assert_eq!(m.attrs.keypad_target, Some(KeypadTarget::ActiveCall));
}

#[test]
fn text_keeps_inner_newlines_and_trims_the_ends() {
    let Object::Text(t) =
        ok("<CiscoIPPhoneText><Text>\n  Line 1\r\n  Line 2 &lt;ok&gt;\n</Text></CiscoIPPhoneText>")
    else {
        panic!()
    };
    assert_eq!(t.text, "Line 1\n  Line 2 <ok>");
    assert_eq!(t.title, None);
}

#[test]
fn input() {
    let doc = "<CiscoIPPhoneInput><Title>Login</Title><URL method=\"post\">http://s/login</URL>\
        <InputItem><DisplayName>User</DisplayName><QueryStringParam>u</QueryStringParam>\
        <InputFlags>A</InputFlags></InputItem>\
        <InputItem><QueryStringParam>p</QueryStringParam><DefaultValue>0000</DefaultValue>\
        <InputFlags>PN</InputFlags></InputItem></CiscoIPPhoneInput>";
    let Object::Input(i) = ok(doc) else { panic!() };
    assert_eq!(i.url, "http://s/login");
    assert_eq!(i.method, InputMethod::Post);
    assert_eq!(i.items.len(), 2);
    assert_eq!(i.items[0].default_value, "");
    assert_eq!(i.items[1].flags, InputFlags::PIN);
    assert_eq!(i.items[1].display_name, "");
}

#[test]
fn input_mandatory_fields() {
    // No URL.
    assert_eq!(
        code(b"<CiscoIPPhoneInput><InputItem><QueryStringParam>a</QueryStringParam></InputItem></CiscoIPPhoneInput>"),
        4
    );
    // No QueryStringParam.
    assert_eq!(
        code(b"<CiscoIPPhoneInput><URL>http://s</URL><InputItem><DisplayName>a</DisplayName></InputItem></CiscoIPPhoneInput>"),
        4
    );
    // Missing InputFlags means A.
    let Object::Input(i) = ok(
        "<CiscoIPPhoneInput><URL>http://s</URL><InputItem><QueryStringParam>q</QueryStringParam></InputItem></CiscoIPPhoneInput>",
    ) else {
        panic!()
    };
    assert_eq!(i.items[0].flags, InputFlags::ASCII);
}

#[test]
fn softkey_position_is_mandatory_and_bounded() {
    let with = |pos: &str| {
        format!(
            "<CiscoIPPhoneText><Text>x</Text><SoftKeyItem><Name>a</Name>{pos}</SoftKeyItem></CiscoIPPhoneText>"
        )
    };
    assert_eq!(code(with("").as_bytes()), 4);
    assert_eq!(code(with("<Position>0</Position>").as_bytes()), 4);
    assert_eq!(code(with("<Position>17</Position>").as_bytes()), 4);
    assert_eq!(code(with("<Position>one</Position>").as_bytes()), 4);
    for p in ["-1", "1", "16", " 8 "] {
        let Object::Text(t) = ok(&with(&format!("<Position>{p}</Position>"))) else {
            panic!()
        };
        assert_eq!(
            i32::from(t.softkeys[0].position),
            p.trim().parse::<i32>().unwrap()
        );
    }
}

#[test]
fn directory() {
    let doc = "<CiscoIPPhoneDirectory><Title>Dir</Title><DirectoryEntry><Telephone>1000</Telephone></DirectoryEntry>\
        <DirectoryEntry><Name>Bob</Name><Telephone>2000</Telephone></DirectoryEntry></CiscoIPPhoneDirectory>";
    let Object::Directory(d) = ok(doc) else {
        panic!()
    };
    assert_eq!(
        d.entries,
        [
            DirectoryEntry::new("", "1000"),
            DirectoryEntry::new("Bob", "2000")
        ]
    );
}

#[test]
fn images() {
    let doc = "<CiscoIPPhoneImage WindowMode=\"Wide\"><LocationX>-1</LocationX><LocationY>0</LocationY>\
        <Width>4</Width><Height>1</Height><Depth>2</Depth><Data>2D</Data></CiscoIPPhoneImage>";
    let Object::Image(i) = ok(doc) else { panic!() };
    assert_eq!(i.window_mode, Some(WindowMode::Wide));
    assert_eq!(
        i.image,
        CipImage {
            location_x: Some(-1),
            location_y: Some(0),
            width: Some(4),
            height: Some(1),
            depth: Some(2),
            data: Some("2D".into())
        }
    );
    assert_eq!(code(b"<CiscoIPPhoneImage WindowMode=\"wide\"/>"), 4);
    assert_eq!(
        code(b"<CiscoIPPhoneImage><Width>x</Width></CiscoIPPhoneImage>"),
        4
    );

    let Object::ImageFile(f) = ok(
        "<CiscoIPPhoneImageFile><URL>http://s/a.png</URL><LocationX>10</LocationX></CiscoIPPhoneImageFile>",
    ) else {
        panic!()
    };
    assert_eq!(
        (f.url.as_str(), f.location_x, f.location_y),
        ("http://s/a.png", Some(10), None)
    );
}

#[test]
fn graphic_menus() {
    let items: String = (1..=14)
        .map(|n| format!("<MenuItem><Name>K{n}</Name><URL>http://s/{n}</URL></MenuItem>"))
        .collect();
    let Object::GraphicMenu(g) = ok(&format!(
        "<CiscoIPPhoneGraphicMenu><Width>133</Width><Data>00</Data>{items}</CiscoIPPhoneGraphicMenu>"
    )) else {
        panic!()
    };
    assert_eq!(g.items.len(), 12, "keys 1..12 only");
    assert_eq!(g.image.width, Some(133));

    let Object::GraphicFileMenu(g) = ok("<CiscoIPPhoneGraphicFileMenu><URL>http://s/bg.png</URL>\
        <MenuItem><Name>Left</Name><URL>http://s/l</URL><TouchArea X1=\"0\" Y1=\"0\" X2=\"100\" Y2=\"50\"/></MenuItem>\
        </CiscoIPPhoneGraphicFileMenu>")
    else {
        panic!()
    };
    assert_eq!(
        g.items[0].touch_area,
        Some(TouchArea {
            x1: 0,
            y1: 0,
            x2: 100,
            y2: 50
        })
    );
}

#[test]
fn icon_menus() {
    let Object::IconMenu(m) = ok(
        "<CiscoIPPhoneIconMenu><MenuItem><IconIndex>1</IconIndex><Name>A</Name></MenuItem>\
        <IconItem><Index>1</Index><Height>10</Height><Width>16</Width><Depth>2</Depth><Data>FF</Data></IconItem>\
        </CiscoIPPhoneIconMenu>",
    ) else {
        panic!()
    };
    assert_eq!(m.items[0].icon_index, Some(1));
    assert_eq!(m.icons[0].width, Some(16));

    // IconIndex on the root (X1) or on Title (B2).
    for doc in [
        "<CiscoIPPhoneIconFileMenu IconIndex=\"2\"><Title>T</Title></CiscoIPPhoneIconFileMenu>",
        "<CiscoIPPhoneIconFileMenu><Title IconIndex=\"2\">T</Title><IconItem><Index>2</Index><URL>Resource:Icon.Connected</URL></IconItem></CiscoIPPhoneIconFileMenu>",
    ] {
        let Object::IconFileMenu(m) = ok(doc) else {
            panic!()
        };
        assert_eq!(m.title_icon_index, Some(2));
        assert_eq!(m.title.as_deref(), Some("T"));
    }
}

#[test]
fn status_objects() {
    let Object::Status(s) = ok(
        "<CiscoIPPhoneStatus><Text>Recording</Text><Timer>0</Timer><Width>10</Width></CiscoIPPhoneStatus>",
    ) else {
        panic!()
    };
    assert_eq!(
        (s.text.as_deref(), s.timer, s.image.width),
        (Some("Recording"), Some(0), Some(10))
    );
    let Object::StatusFile(s) =
        ok("<CiscoIPPhoneStatusFile><URL>http://s/i.png</URL></CiscoIPPhoneStatusFile>")
    else {
        panic!()
    };
    assert_eq!(s.url, "http://s/i.png");
    assert_eq!(s.text, None);
}

#[test]
fn execute_priority_and_item_limit() {
    let items: String = (0..5)
        .map(|n| format!("<ExecuteItem URL=\"Key:KeyPad{n}\"/>"))
        .collect();
    let doc = format!(
        "<CiscoIPPhoneExecute>{items}<ExecuteItem Priority=\"2\" URL=\"http://s\"/></CiscoIPPhoneExecute>"
    );
    let Object::Execute(e) = ok(&doc) else {
        panic!()
    };
    assert_eq!(e.items.len(), 3);
    assert_eq!(e.items[0], ExecuteItem::new("Key:KeyPad0"));
    let opts = ParseOptions {
        max_execute_items: 16,
        ..ParseOptions::default()
    };
    let Ok(Object::Execute(e)) = parse_with(doc.as_bytes(), &opts) else {
        panic!()
    };
    assert_eq!(e.items.len(), 6);
    assert_eq!(e.items[5].priority, Priority::IfIdle);

    assert_eq!(
        code(b"<CiscoIPPhoneExecute><ExecuteItem Priority=\"0\"/></CiscoIPPhoneExecute>"),
        4
    );
    assert_eq!(
        code(b"<CiscoIPPhoneExecute><ExecuteItem Priority=\"3\" URL=\"x\"/></CiscoIPPhoneExecute>"),
        4
    );
}

#[test]
fn response_in_attribute_and_element_form() {
    let Object::Response(r) = ok(
        "<CiscoIPPhoneResponse><ResponseItem URL=\"Key:Hold\" Data=\"Success\" Status=\"0\"/>\
        <ResponseItem><Status>6</Status><Data>URI not found</Data><URL>Key:Nope</URL></ResponseItem></CiscoIPPhoneResponse>",
    ) else {
        panic!()
    };
    assert_eq!(
        r.items[0],
        ResponseItem {
            status: 0,
            data: "Success".into(),
            url: "Key:Hold".into()
        }
    );
    assert_eq!(r.items[1].status, 6);
    assert_eq!(r.items[1].url, "Key:Nope");
    // X1's misspelt root is tolerated.
    assert!(matches!(ok("<CiscoIPhoneResponse/>"), Object::Response(_)));
    assert_eq!(
        code(b"<CiscoIPPhoneResponse><ResponseItem Data=\"x\"/></CiscoIPPhoneResponse>"),
        4
    );
}

#[test]
fn error_object() {
    assert_eq!(
        ok("<CiscoIPPhoneError Number=\"4\"/>"),
        Object::Error(Error {
            number: 4,
            message: None
        })
    );
    assert_eq!(
        ok("<CiscoIPPhoneError Number=\"1\"> bad push </CiscoIPPhoneError>"),
        Object::Error(Error {
            number: 1,
            message: Some("bad push".into())
        })
    );
    assert_eq!(code(b"<CiscoIPPhoneError/>"), 4);
    assert_eq!(code(b"<CiscoIPPhoneError Number=\"x\"/>"), 4);
}

#[test]
fn unknown_root_is_5_but_broken_unknown_root_is_4() {
    let e = parse(b"<YealinkIPPhoneDirectory><a/></YealinkIPPhoneDirectory>").unwrap_err();
    assert_eq!(e.code(), 5);
    assert_eq!(e.to_string(), "XML Error [5]: Unsupported XML Object");
    assert!(e.detail().contains("YealinkIPPhoneDirectory"));
    // Names are case-sensitive.
    assert_eq!(code(b"<ciscoipphonemenu/>"), 5);
    let e = parse(b"<Yealink><a></Yealink>").unwrap_err();
    assert_eq!(e.to_string(), "XML Error [4]: Parse Error");
}

#[test]
fn limits_truncate_strings_and_drop_extra_items() {
    let long = "x".repeat(100);
    let items: String = (0..120)
        .map(|n| format!("<MenuItem><Name>{long}</Name><URL>http://s/{n}</URL></MenuItem>"))
        .collect();
    let sks: String = (1..=10)
        .map(|n| format!("<SoftKeyItem><Name>{long}</Name><Position>{n}</Position></SoftKeyItem>"))
        .collect();
    let doc = format!(
        "<CiscoIPPhoneMenu><Title>{long}</Title><Prompt>{long}</Prompt>{items}{sks}</CiscoIPPhoneMenu>"
    );
    let Object::Menu(m) = ok(&doc) else { panic!() };
    assert_eq!(m.title.unwrap().len(), limits::TITLE);
    assert_eq!(m.prompt.unwrap().len(), limits::TITLE);
    assert_eq!(m.items.len(), limits::MENU_ITEMS);
    assert_eq!(m.items[0].name.len(), limits::MENU_ITEM_NAME);
    assert_eq!(m.items[99].url.as_deref(), Some("http://s/99"));
    assert_eq!(m.softkeys.len(), limits::SOFTKEYS);
    assert_eq!(m.softkeys[0].name.len(), limits::SOFTKEY_NAME);

    let text = "é".repeat(5000);
    let Object::Text(t) = ok(&format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><CiscoIPPhoneText><Text>{text}</Text></CiscoIPPhoneText>"
    )) else {
        panic!()
    };
    assert_eq!(
        t.text.chars().count(),
        limits::TEXT,
        "limits count characters, not bytes"
    );

    let entries: String = (0..40)
        .map(|n| format!("<DirectoryEntry><Name>{n}</Name></DirectoryEntry>"))
        .collect();
    let Object::Directory(d) = ok(&format!(
        "<CiscoIPPhoneDirectory>{entries}</CiscoIPPhoneDirectory>"
    )) else {
        panic!()
    };
    assert_eq!(d.entries.len(), limits::DIRECTORY_ENTRIES);

    let inputs: String = (0..7)
        .map(|n| format!("<InputItem><QueryStringParam>q{n}</QueryStringParam></InputItem>"))
        .collect();
    let Object::Input(i) = ok(&format!(
        "<CiscoIPPhoneInput><URL>http://s</URL>{inputs}</CiscoIPPhoneInput>"
    )) else {
        panic!()
    };
    assert_eq!(i.items.len(), limits::INPUT_ITEMS);
}

#[test]
fn repeated_singular_child_last_wins() {
    let Object::Text(t) =
        ok("<CiscoIPPhoneText><Title>a</Title><Title>b</Title></CiscoIPPhoneText>")
    else {
        panic!()
    };
    assert_eq!(t.title.as_deref(), Some("b"));
}

#[test]
fn empty_title_differs_from_absent_title() {
    let Object::Text(t) = ok("<CiscoIPPhoneText><Title/><Prompt></Prompt></CiscoIPPhoneText>")
    else {
        panic!()
    };
    assert_eq!(t.title.as_deref(), Some(""));
    assert_eq!(t.prompt.as_deref(), Some(""));
}

#[test]
fn entities_and_character_references_are_decoded() {
    let Object::Text(t) = ok(
        "<CiscoIPPhoneText><Title>&quot;A&apos; &amp; B&quot;</Title>\
        <Text>&lt;&gt;&#233;&#x20AC;<![CDATA[&amp;]]></Text></CiscoIPPhoneText>",
    ) else {
        panic!()
    };
    assert_eq!(t.title.as_deref(), Some("\"A' & B\""));
    assert_eq!(t.text, "<>é€&amp;");
}

#[test]
fn latin1_with_and_without_declaration() {
    let body = b"<CiscoIPPhoneText><Text>caf\xe9 \xa3</Text></CiscoIPPhoneText>";
    // Declared.
    let mut doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".to_vec();
    doc.extend_from_slice(body);
    let Ok(Object::Text(t)) = parse(&doc) else {
        panic!()
    };
    assert_eq!(t.text, "café £");
    // Undeclared: the locale default (ISO-8859-1), not UTF-8.
    let Ok(Object::Text(t)) = parse(body) else {
        panic!()
    };
    assert_eq!(t.text, "café £");
    // Undeclared on a phone whose locale is UTF-8: invalid bytes are a parse error.
    let utf8 = ParseOptions {
        locale_encoding: encoding_rs::UTF_8,
        ..ParseOptions::default()
    };
    assert_eq!(parse_with(body, &utf8).unwrap_err().code(), 4);
}

#[test]
fn utf8_needs_a_declaration_on_a_latin1_phone() {
    let body = "<CiscoIPPhoneText><Text>café</Text></CiscoIPPhoneText>";
    let Ok(Object::Text(t)) =
        parse(format!("<?xml version=\"1.0\" encoding=\"utf-8\" ?>{body}").as_bytes())
    else {
        panic!()
    };
    assert_eq!(t.text, "café");
    // Without the declaration a Latin-1 phone shows mojibake, exactly like the real one.
    let Ok(Object::Text(t)) = parse(body.as_bytes()) else {
        panic!()
    };
    assert_eq!(t.text, "cafÃ©");
    // A BOM is believed.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(body.as_bytes());
    let Ok(Object::Text(t)) = parse(&bom) else {
        panic!()
    };
    assert_eq!(t.text, "café");
}

#[test]
fn bad_charsets_are_parse_errors() {
    assert_eq!(code(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><CiscoIPPhoneText><Text>\xff\xfe</Text></CiscoIPPhoneText>"), 4);
    assert_eq!(
        code(b"<?xml version=\"1.0\" encoding=\"klingon\"?><CiscoIPPhoneText/>"),
        4
    );
    assert_eq!(
        code(b"<?xml version=\"1.0\" encoding=\"utf-16\"?><CiscoIPPhoneText/>"),
        4
    );
    let e = parse(b"<?xml version=\"1.0\" encoding=\"klingon\"?><CiscoIPPhoneText/>").unwrap_err();
    assert!(e.detail().contains("klingon"), "{}", e.detail());
}

#[test]
fn shift_jis_declared() {
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><CiscoIPPhoneText><Text>電話</Text></CiscoIPPhoneText>");
    let Ok(Object::Text(t)) = parse(&bytes) else {
        panic!()
    };
    assert_eq!(t.text, "電話");
}

#[test]
fn xml_error_display_is_the_phone_line() {
    let e = parse(b"<CiscoIPPhoneText>").unwrap_err();
    assert_eq!(e.to_string(), "XML Error [4]: Parse Error");
    assert_eq!(e.code(), 4);
    assert!(e.detail().contains("CiscoIPPhoneText"), "{}", e.detail());
}

#[test]
fn serializes_with_the_root_name_as_tag() {
    let json = serde_json::to_value(ok("<CiscoIPPhoneMenu><MenuItem><Name>A</Name><URL>http://x</URL></MenuItem></CiscoIPPhoneMenu>")).unwrap();
    assert_eq!(json["object"], "CiscoIPPhoneMenu");
    assert_eq!(json["items"][0]["name"], "A");
    let json = serde_json::to_value(Object::Input(Input::new("t", "http://u").item(
        "PIN",
        "pin",
        InputFlags::PIN,
    )))
    .unwrap();
    assert_eq!(json["object"], "CiscoIPPhoneInput");
    assert_eq!(json["items"][0]["flags"], "NP");
    assert_eq!(json["method"], "get");
}

#[test]
fn render_then_parse_every_kind() {
    let sk = vec![SoftKeyItem {
        name: "Down".into(),
        url: Some("Key:NavDwn".into()),
        url_down: Some("RTPTx:Stop".into()),
        position: -1,
    }];
    let attrs = AppAttrs {
        app_id: Some("A/B".into()),
        on_app_focus_lost: Some("RTPRx:Stop; RTPTx:Stop".into()),
        on_app_focus_gained: Some("x".into()),
        on_app_minimized: Some("y".into()),
        on_app_closed: Some("z".into()),
        keypad_target: Some(KeypadTarget::ApplicationCall),
    };
    let image = CipImage {
        location_x: Some(-1),
        location_y: Some(-1),
        width: Some(4),
        height: Some(1),
        depth: Some(2),
        data: Some("2D".into()),
    };
    let objects: Vec<Object> = vec![
        Menu {
            title: Some("a<b".into()),
            prompt: None,
            items: vec![MenuItem::new("x&y", "http://s/?a=1&b='2'")],
            softkeys: sk.clone(),
            attrs: attrs.clone(),
        }
        .into(),
        Text {
            title: None,
            prompt: Some("".into()),
            text: "l1\nl2\r\n\tl3".into(),
            softkeys: vec![],
            attrs: AppAttrs::default(),
        }
        .into(),
        Input::new("In", "http://s/i?x=1")
            .prompt("p")
            .item("a", "b", InputFlags::parse("PA"))
            .softkey(sk[0].clone())
            .into(),
        Directory {
            entries: vec![DirectoryEntry::new("A \"B\"", "1")],
            ..Directory::default()
        }
        .into(),
        Image {
            image: image.clone(),
            window_mode: Some(WindowMode::Normal),
            ..Image::default()
        }
        .into(),
        ImageFile {
            url: "http://s/i.png".into(),
            location_x: Some(0),
            window_mode: Some(WindowMode::Wide),
            ..ImageFile::default()
        }
        .into(),
        GraphicMenu {
            image: image.clone(),
            items: vec![MenuItem::new("k", "Key:KeyPad1")],
            ..GraphicMenu::default()
        }
        .into(),
        GraphicFileMenu {
            url: "u".into(),
            items: vec![MenuItem {
                touch_area: Some(TouchArea {
                    x1: 1,
                    y1: 2,
                    x2: 3,
                    y2: 4,
                }),
                ..MenuItem::new("t", "u")
            }],
            ..GraphicFileMenu::default()
        }
        .into(),
        IconMenu {
            items: vec![MenuItem {
                icon_index: Some(0),
                ..MenuItem::new("i", "u")
            }],
            icons: vec![IconItem {
                index: 0,
                height: Some(10),
                width: Some(16),
                depth: Some(2),
                data: Some("00".into()),
            }],
            ..IconMenu::default()
        }
        .into(),
        IconFileMenu {
            title: Some("T".into()),
            title_icon_index: Some(3),
            icons: vec![IconFileItem {
                index: 3,
                url: "Resource:Icon.Locked".into(),
            }],
            ..IconFileMenu::default()
        }
        .into(),
        Status {
            text: Some("s".into()),
            timer: Some(5),
            image,
            attrs,
        }
        .into(),
        StatusFile {
            url: "http://s/s.png".into(),
            location_y: Some(-1),
            ..StatusFile::default()
        }
        .into(),
        Execute {
            items: vec![ExecuteItem {
                url: "Play:a.raw".into(),
                priority: Priority::WhenIdle,
            }],
        }
        .into(),
        Response {
            items: vec![ResponseItem {
                status: 6,
                data: "URI not found".into(),
                url: "Key:X".into(),
            }],
        }
        .into(),
        Error {
            number: 4,
            message: Some("nope <really>".into()),
        }
        .into(),
    ];
    assert_eq!(objects.len(), 15);
    for o in objects {
        let xml = o.to_xml();
        assert!(xml.starts_with(PROLOG));
        assert_eq!(parse(xml.as_bytes()).as_ref(), Ok(&o), "{xml}");
        assert_eq!(render(&o), xml);
    }
}

#[test]
fn plain_text_bodies_become_text_objects() {
    let t = Text::plain(&format!("  hello\n{}", "x".repeat(5000)));
    assert_eq!(t.title, None);
    assert!(t.text.starts_with("hello\nxx"));
    assert_eq!(t.text.chars().count(), limits::TEXT);
}

#[test]
fn declaration_after_leading_whitespace_is_refused() {
    let e = parse(b"\n<?xml version=\"1.0\" encoding=\"utf-8\"?><CiscoIPPhoneText/>").unwrap_err();
    assert_eq!(e.code(), 4);
    assert!(e.detail().contains("declaration"), "{}", e.detail());
    // Leading whitespace without a declaration is fine.
    assert!(parse(b"\n  <CiscoIPPhoneText/>").is_ok());
}
