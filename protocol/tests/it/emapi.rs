//! The EM API and the code catalogue through the public API only, as the server and the
//! emulator use them: form body in, response out, phone text back to a code.

use emroam_protocol::codes;
use emroam_protocol::emapi::{
    self, AppInfo, EmApiError, Envelope, Login, Request, Response, form_body, parse_request,
    parse_response, xml_from_form,
};

/// What a reference EMService does with a body: parse, or answer the error's code.
fn serve(body: &[u8], answer: impl Fn(&Envelope) -> Response) -> String {
    match xml_from_form(body).and_then(|xml| parse_request(xml.as_bytes())) {
        Ok(env) => answer(&env),
        Err(err) => Response::failure(err.em_code()),
    }
    .to_xml()
}

#[test]
fn login_refused_with_25_reads_back_on_the_phone() {
    let env = Envelope::new(
        AppInfo::with_password("CCMSysUser", "secret"),
        Login::new("SEP003094C25B15", "em@cisco.com"),
    );
    assert!(matches!(env.request, Request::Login(_)));
    let reply = serve(form_body(&env.to_xml()).as_bytes(), |got| {
        assert_eq!(got, &env);
        Response::failure(codes::MULTI_LOGIN_NOT_ALLOWED)
    });
    let code = parse_response(reply.as_bytes())
        .unwrap()
        .error_code()
        .unwrap();
    assert_eq!(code, 25);
    let screen = format!("Extension Mobility\n{}", codes::login_display_text(code));
    assert_eq!(screen, "Extension Mobility\nMulti-Login Not Allowed (25)");
    assert_eq!(codes::code_from_page_text(&screen), Some(25));
}

#[test]
fn bad_bodies_get_code_1_or_8() {
    let never = |_: &Envelope| -> Response { panic!("must not parse") };
    let cases: [(&[u8], u16); 5] = [
        (b"", codes::PARSE_ERROR),
        (b"xml=%3Crequest", codes::PARSE_ERROR),
        (b"xml=%ff%fe", codes::PARSE_ERROR),
        (b"foo=bar", codes::PARSE_ERROR),
        (
            b"xml=<query><appInfo><appID>a</appID><appCertificate>p</appCertificate></appInfo>\
              <checkUser><userID>u</userID></checkUser></query>",
            codes::QUERY_TYPE_UNDETERMINED,
        ),
    ];
    for (body, code) in cases {
        let reply = parse_response(serve(body, never).as_bytes()).unwrap();
        assert_eq!(reply.error_code(), Some(code), "{body:?}");
    }
}

#[test]
fn every_catalogue_code_survives_the_wire_and_the_screen() {
    for c in codes::all() {
        let reply = parse_response(Response::failure(c.code).to_xml().as_bytes()).unwrap();
        assert_eq!(
            reply,
            Response::Failure {
                code: c.code,
                message: c.name.to_owned()
            }
        );
        assert_eq!(
            codes::code_from_page_text(&codes::logout_display_text(c.code)),
            Some(c.code)
        );
    }
}

#[test]
fn catalogue_serializes_for_reports() {
    let json = serde_json::to_value(codes::lookup(codes::BUSY).unwrap()).unwrap();
    assert_eq!(json["code"], 26);
    assert_eq!(json["source"], "service");
    assert_eq!(json["login_display"], "Login is unavailable(26)");
    assert_eq!(json["confirmed"], true);
    assert_eq!(
        serde_json::to_value(codes::all())
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        64
    );
}

#[test]
fn limits_are_public_and_enforced() {
    let too_big = vec![b' '; emapi::MAX_XML_BYTES + 1];
    assert!(matches!(
        parse_request(&too_big),
        Err(EmApiError::TooLarge { .. })
    ));
}
