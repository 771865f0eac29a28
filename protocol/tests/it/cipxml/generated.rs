//! Generated objects: parse(render(o)) == o, render is stable, random bytes never panic.

use super::*;

/// Strings that survive a phone parse unchanged: printable (some non-ASCII and every
/// character that needs escaping), trimmed, within `max` characters.
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~éü€日本]{{0,{max}}}"))
        .unwrap()
        .prop_map(|s| s.trim_matches(' ').to_owned())
}

fn nonempty(max: usize) -> impl Strategy<Value = String> {
    text(max).prop_filter("non-empty", |s| !s.is_empty())
}

fn body(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~é\\n\\t\\r]{{0,{max}}}"))
        .unwrap()
        .prop_map(|s| s.trim_matches([' ', '\t', '\n', '\r']).to_owned())
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    proptest::option::of(s)
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        text(60).prop_map(|p| format!("http://server/{p}?a=1&b=<2>")),
        Just("SoftKey:Exit".to_owned()),
        Just("Key:KeyPad1".to_owned()),
        Just("QueryStringParam:message=1".to_owned()),
        text(256),
    ]
}

fn position() -> impl Strategy<Value = i8> {
    prop_oneof![Just(-1i8), 1i8..=16]
}

fn softkeys() -> impl Strategy<Value = Vec<SoftKeyItem>> {
    proptest::collection::vec(
        (text(32), opt(url()), opt(url()), position()).prop_map(
            |(name, url, url_down, position)| SoftKeyItem {
                name,
                url,
                url_down,
                position,
            },
        ),
        0..=3,
    )
}

fn attrs() -> impl Strategy<Value = AppAttrs> {
    let kt = opt(prop_oneof![
        Just(KeypadTarget::Application),
        Just(KeypadTarget::ApplicationCall),
        Just(KeypadTarget::ActiveCall),
    ]);
    (
        opt(text(64)),
        opt(url()),
        opt(url()),
        opt(url()),
        opt(url()),
        kt,
    )
        .prop_map(
            |(app_id, lost, gained, minimized, closed, keypad_target)| AppAttrs {
                app_id,
                on_app_focus_lost: lost,
                on_app_focus_gained: gained,
                on_app_minimized: minimized,
                on_app_closed: closed,
                keypad_target,
            },
        )
}

fn menu_items(name_max: usize) -> impl Strategy<Value = Vec<MenuItem>> {
    let touch = (any::<i32>(), any::<i32>(), any::<i32>(), any::<i32>())
        .prop_map(|(x1, y1, x2, y2)| TouchArea { x1, y1, x2, y2 });
    proptest::collection::vec(
        (text(name_max), opt(url()), opt(any::<u16>()), opt(touch)).prop_map(
            |(name, url, icon_index, touch_area)| MenuItem {
                name,
                url,
                icon_index,
                touch_area,
            },
        ),
        0..=4,
    )
}

fn cip_image() -> impl Strategy<Value = CipImage> {
    (
        opt(any::<i32>()),
        opt(any::<i32>()),
        opt(any::<u32>()),
        opt(any::<u32>()),
        opt(any::<u32>()),
        opt("[0-9A-F]{0,64}"),
    )
        .prop_map(
            |(location_x, location_y, width, height, depth, data)| CipImage {
                location_x,
                location_y,
                width,
                height,
                depth,
                data,
            },
        )
}

fn window_mode() -> impl Strategy<Value = Option<WindowMode>> {
    opt(prop_oneof![
        Just(WindowMode::Normal),
        Just(WindowMode::Wide)
    ])
}

fn flags() -> impl Strategy<Value = InputFlags> {
    proptest::sample::select(vec![
        "A", "T", "N", "E", "U", "L", "AP", "PA", "NP", "PT", "EP", "UP", "PL", "a", "P", "X",
    ])
    .prop_map(InputFlags::parse)
}

fn object() -> impl Strategy<Value = Object> {
    let tp = || (opt(text(32)), opt(text(32)));
    prop_oneof![
        (tp(), menu_items(64), softkeys(), attrs()).prop_map(
            |((title, prompt), items, softkeys, attrs)| {
                Object::Menu(Menu {
                    title,
                    prompt,
                    items,
                    softkeys,
                    attrs,
                })
            }
        ),
        (tp(), body(300), softkeys(), attrs()).prop_map(
            |((title, prompt), text, softkeys, attrs)| {
                Object::Text(Text {
                    title,
                    prompt,
                    text,
                    softkeys,
                    attrs,
                })
            }
        ),
        (
            tp(),
            url(),
            any::<bool>(),
            proptest::collection::vec((text(32), "[a-zA-Z0-9_]{1,32}", text(32), flags()), 0..=5),
            softkeys(),
            attrs()
        )
            .prop_map(|((title, prompt), url, post, items, softkeys, attrs)| {
                Object::Input(Input {
                    title,
                    prompt,
                    url,
                    method: if post {
                        InputMethod::Post
                    } else {
                        InputMethod::Get
                    },
                    items: items
                        .into_iter()
                        .map(
                            |(display_name, query_string_param, default_value, flags)| InputItem {
                                display_name,
                                query_string_param,
                                default_value,
                                flags,
                            },
                        )
                        .collect(),
                    softkeys,
                    attrs,
                })
            }),
        (
            tp(),
            proptest::collection::vec((text(32), text(32)), 0..=4),
            softkeys(),
            attrs()
        )
            .prop_map(|((title, prompt), entries, softkeys, attrs)| {
                Object::Directory(Directory {
                    title,
                    prompt,
                    entries: entries
                        .into_iter()
                        .map(|(n, t)| DirectoryEntry::new(n, t))
                        .collect(),
                    softkeys,
                    attrs,
                })
            }),
        (tp(), cip_image(), softkeys(), window_mode(), attrs()).prop_map(
            |((title, prompt), image, softkeys, window_mode, attrs)| {
                Object::Image(Image {
                    title,
                    prompt,
                    image,
                    softkeys,
                    window_mode,
                    attrs,
                })
            }
        ),
        (
            tp(),
            opt(any::<i32>()),
            opt(any::<i32>()),
            url(),
            softkeys(),
            window_mode(),
            attrs()
        )
            .prop_map(
                |((title, prompt), location_x, location_y, url, softkeys, window_mode, attrs)| {
                    Object::ImageFile(ImageFile {
                        title,
                        prompt,
                        location_x,
                        location_y,
                        url,
                        softkeys,
                        window_mode,
                        attrs,
                    })
                }
            ),
        (
            tp(),
            cip_image(),
            menu_items(64),
            softkeys(),
            window_mode(),
            attrs()
        )
            .prop_map(
                |((title, prompt), image, items, softkeys, window_mode, attrs)| {
                    Object::GraphicMenu(GraphicMenu {
                        title,
                        prompt,
                        image,
                        items,
                        softkeys,
                        window_mode,
                        attrs,
                    })
                }
            ),
        (
            tp(),
            (opt(any::<i32>()), opt(any::<i32>())),
            url(),
            menu_items(32),
            softkeys(),
            window_mode(),
            attrs()
        )
            .prop_map(
                |(
                    (title, prompt),
                    (location_x, location_y),
                    url,
                    items,
                    softkeys,
                    window_mode,
                    attrs,
                )| {
                    Object::GraphicFileMenu(GraphicFileMenu {
                        title,
                        prompt,
                        location_x,
                        location_y,
                        url,
                        items,
                        softkeys,
                        window_mode,
                        attrs,
                    })
                }
            ),
        (
            tp(),
            menu_items(64),
            softkeys(),
            proptest::collection::vec(
                (
                    any::<u16>(),
                    opt(any::<u32>()),
                    opt(any::<u32>()),
                    opt(any::<u32>()),
                    opt("[0-9A-F]{0,80}")
                ),
                0..=3
            ),
            attrs()
        )
            .prop_map(|((title, prompt), items, softkeys, icons, attrs)| {
                Object::IconMenu(IconMenu {
                    title,
                    prompt,
                    items,
                    softkeys,
                    icons: icons
                        .into_iter()
                        .map(|(index, height, width, depth, data)| IconItem {
                            index,
                            height,
                            width,
                            depth,
                            data,
                        })
                        .collect(),
                    attrs,
                })
            }),
        (
            tp(),
            opt(any::<u16>()),
            menu_items(64),
            softkeys(),
            proptest::collection::vec((any::<u16>(), url()), 0..=3),
            attrs()
        )
            .prop_map(
                |((title, prompt), title_icon_index, items, softkeys, icons, attrs)| {
                    Object::IconFileMenu(IconFileMenu {
                        title,
                        title_icon_index,
                        prompt,
                        items,
                        softkeys,
                        icons: icons
                            .into_iter()
                            .map(|(index, url)| IconFileItem { index, url })
                            .collect(),
                        attrs,
                    })
                }
            ),
        (opt(text(32)), opt(any::<u32>()), cip_image(), attrs()).prop_map(
            |(text, timer, image, attrs)| {
                Object::Status(Status {
                    text,
                    timer,
                    image,
                    attrs,
                })
            }
        ),
        (
            opt(text(32)),
            opt(any::<u32>()),
            opt(any::<i32>()),
            opt(any::<i32>()),
            url(),
            attrs()
        )
            .prop_map(|(text, timer, location_x, location_y, url, attrs)| {
                Object::StatusFile(StatusFile {
                    text,
                    timer,
                    location_x,
                    location_y,
                    url,
                    attrs,
                })
            }),
        proptest::collection::vec((url(), 0u8..=2), 0..=3).prop_map(|items| {
            Object::Execute(Execute {
                items: items
                    .into_iter()
                    .map(|(url, p)| ExecuteItem {
                        url,
                        priority: Priority::from_code(p).unwrap(),
                    })
                    .collect(),
            })
        }),
        proptest::collection::vec((any::<i32>(), text(32), url()), 0..=4).prop_map(|items| {
            Object::Response(Response {
                items: items
                    .into_iter()
                    .map(|(status, data, url)| ResponseItem { status, data, url })
                    .collect(),
            })
        }),
        (any::<u16>(), opt(nonempty(100)))
            .prop_map(|(number, message)| Object::Error(Error { number, message })),
    ]
}

/// A fixture with some bytes overwritten and possibly cut short.
fn mutated_fixture() -> impl Strategy<Value = Vec<u8>> {
    let fixtures: Vec<Vec<u8>> = all_fixtures().into_iter().map(|(_, b)| b).collect();
    (
        proptest::sample::select(fixtures),
        proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8),
        any::<proptest::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(mut doc, flips, cut, truncate)| {
            for (at, byte) in flips {
                let i = at.index(doc.len());
                doc[i] = byte;
            }
            if truncate {
                doc.truncate(cut.index(doc.len() + 1));
            }
            doc
        })
}

proptest! {
    #[test]
    fn parse_inverts_render(obj in object()) {
        let xml = render(&obj);
        prop_assert_eq!(parse(xml.as_bytes()), Ok(obj.clone()), "{}", xml);
        // Screens of any object render without panicking.
        let _ = obj.screen().to_string();
    }

    #[test]
    fn render_is_stable(obj in object()) {
        let xml = render(&obj);
        let again = render(&parse(xml.as_bytes()).unwrap());
        prop_assert_eq!(again, xml);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic_and_what_parses_re_renders(doc in mutated_fixture()) {
        if let Ok(obj) = parse(&doc) {
            let _ = obj.screen().to_string();
            prop_assert_eq!(parse(render(&obj).as_bytes()), Ok(obj));
        }
    }

    #[test]
    fn uri_display_inverts_parse(s in "[ -~]{0,40}") {
        prop_assert_eq!(Uri::parse(&s).to_string(), s);
    }

    #[test]
    fn submit_url_query_decodes_back(value in "\\PC{0,20}") {
        let input = Input::new("t", "http://s/x?k=v").item("V", "v", InputFlags::ASCII);
        let url = input.submit_url(&[("v", &value)]);
        let query = url.strip_prefix("http://s/x?k=v&v=").unwrap();
        prop_assert!(query.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        let decoded = percent_encoding::percent_decode_str(query).decode_utf8().unwrap();
        prop_assert_eq!(decoded, value);
    }
}
