//! Tests of [`super`]: ils.

use super::*;

fn sync() -> Message {
    Message::Sync {
        full: false,
        clusters: vec![ClusterInfo {
            cluster_id: "cluster2".into(),
            route_string: "cluster2.emroam".into(),
            role: Role::Hub,
        }],
        records: vec![LocationRecord {
            user: "bob".into(),
            home: "cluster1".into(),
            dns: vec!["1000001".into()],
            at: Some("cluster2".into()),
            route_string: Some("cluster2.emroam".into()),
            version: Version {
                counter: 7,
                cluster: "cluster2".into(),
            },
        }],
        acks: vec![],
        superusers: vec![],
    }
}

fn t<'a>(c: &'a [u8], s: &'a [u8]) -> Transcript<'a> {
    Transcript {
        client_nonce: c,
        server_nonce: s,
        client_id: "cluster3",
        server_id: "cluster2",
    }
}

#[test]
fn frames_round_trip_and_need_all_bytes() {
    let f = Frame {
        seq: 9,
        mac: [3; MAC_LEN],
        body: b"{}".to_vec(),
    };
    let bytes = f.encode();
    for n in 0..bytes.len() {
        assert_eq!(decode_frame(&bytes[..n], MAX_FRAME), Ok(None), "prefix {n}");
    }
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    let (g, used) = decode_frame(&two, MAX_FRAME).unwrap().unwrap();
    assert_eq!((g, used), (f, bytes.len()));
}

#[test]
fn oversized_is_refused_from_the_header() {
    let hdr = (u32::MAX).to_be_bytes();
    assert!(matches!(
        decode_frame(&hdr, MAX_FRAME),
        Err(IlsError::Oversized { .. })
    ));
    let short = 5u32.to_be_bytes();
    assert_eq!(
        decode_frame(&short, MAX_FRAME).unwrap_err().kind(),
        "malformed"
    );
}

#[test]
fn handshake_round_trips_and_checks_fields() {
    let h = Handshake::Hello {
        version: VERSION,
        cluster_id: "cluster3".into(),
        route_string: "cluster3.emroam".into(),
        role: Role::Spoke,
        nonce: hex(&[1; NONCE_LEN]),
    };
    let (f, _) = decode_frame(&h.encode(), MAX_FRAME).unwrap().unwrap();
    assert_eq!(Handshake::parse(&f).unwrap(), h);
    let bad = Handshake::Hello {
        version: VERSION,
        cluster_id: "bad id!".into(),
        route_string: "r".into(),
        role: Role::Spoke,
        nonce: hex(&[1; NONCE_LEN]),
    };
    let (f, _) = decode_frame(&bad.encode(), MAX_FRAME).unwrap().unwrap();
    assert_eq!(Handshake::parse(&f).unwrap_err().kind(), "invalid");
    let junk = Frame {
        seq: 0,
        mac: [0; MAC_LEN],
        body: b"{\"type\":\"hello\"".to_vec(),
    };
    assert_eq!(Handshake::parse(&junk).unwrap_err().kind(), "malformed");
    let sealed = Frame {
        seq: 1,
        mac: [0; MAC_LEN],
        body: b"{\"type\":\"welcome\"}".to_vec(),
    };
    assert_eq!(
        Handshake::parse(&sealed).unwrap_err().kind(),
        "unauthenticated"
    );
}

#[test]
fn proofs_need_the_password() {
    let (c, s) = ([1u8; NONCE_LEN], [2u8; NONCE_LEN]);
    let tr = t(&c, &s);
    let p = tr.server_proof("secret");
    assert!(tr.verify_server("secret", &p));
    assert!(!tr.verify_server("wrong", &p));
    assert!(!tr.verify_client("secret", &p), "labels differ");
    assert!(!tr.verify_server("secret", "zz"));
    let other = [3u8; NONCE_LEN];
    assert!(
        !t(&c, &other).verify_server("secret", &p),
        "bound to nonces"
    );
    assert!(!p.contains("secret"));
}

#[test]
fn sealed_frames_open_once_in_order() {
    let key = [5u8; MAC_LEN];
    let mut s = Sealer::new(key, Direction::ToDialer);
    let mut o = Opener::new(key, Direction::ToDialer);
    let a = s.seal(&sync());
    let b = s.seal(&sync());
    let fa = decode_frame(&a, MAX_FRAME).unwrap().unwrap().0;
    let fb = decode_frame(&b, MAX_FRAME).unwrap().unwrap().0;
    assert_eq!(o.open(&fa).unwrap(), sync());
    assert_eq!(o.open(&fa).unwrap_err().kind(), "replayed");
    assert_eq!(o.open(&fb).unwrap(), sync());
    assert_eq!(o.open(&fa).unwrap_err().kind(), "replayed");
}

#[test]
fn tampered_reflected_or_foreign_frames_are_unauthenticated() {
    let key = [5u8; MAC_LEN];
    let mut s = Sealer::new(key, Direction::ToDialer);
    let mut f = decode_frame(&s.seal(&sync()), MAX_FRAME)
        .unwrap()
        .unwrap()
        .0;
    let mut reflected = Opener::new(key, Direction::ToListener);
    assert_eq!(reflected.open(&f).unwrap_err().kind(), "unauthenticated");
    let mut other_session = Opener::new([6u8; MAC_LEN], Direction::ToDialer);
    assert_eq!(
        other_session.open(&f).unwrap_err().kind(),
        "unauthenticated"
    );
    f.body[10] ^= 1;
    let mut o = Opener::new(key, Direction::ToDialer);
    assert_eq!(o.open(&f).unwrap_err().kind(), "unauthenticated");
    // A refused frame does not move the seq: the genuine next frame still opens.
    let g = decode_frame(&s.seal(&sync()), MAX_FRAME)
        .unwrap()
        .unwrap()
        .0;
    assert!(o.open(&g).is_ok());
}

#[test]
fn authenticated_garbage_is_malformed_or_invalid() {
    let key = [5u8; MAC_LEN];
    let mut s = Sealer::new(key, Direction::ToListener);
    let mut o = Opener::new(key, Direction::ToListener);
    let f = decode_frame(&s.seal_body(b"not json".to_vec()), MAX_FRAME)
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(o.open(&f).unwrap_err().kind(), "malformed");
    let mut m = sync();
    let Message::Sync { records, .. } = &mut m;
    records[0].route_string = None;
    let f = decode_frame(&s.seal(&m), MAX_FRAME).unwrap().unwrap().0;
    assert_eq!(o.open(&f).unwrap_err().kind(), "invalid");
}

#[test]
fn versions_order_by_counter_then_cluster() {
    let v = |n, c: &str| Version {
        counter: n,
        cluster: c.into(),
    };
    assert!(v(2, "a") > v(1, "z"));
    assert!(v(2, "cluster2") > v(2, "cluster1"));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let key = [1u8; MAC_LEN];
        let mut o = Opener::new(key, Direction::ToListener);
        let mut buf = data.as_slice();
        while let Ok(Some((f, used))) = decode_frame(buf, 4096) {
            buf = &buf[used..];
            let _ = Handshake::parse(&f);
            let _ = o.open(&f);
        }
    }

    #[test]
    fn sealed_sync_round_trips(user in "[a-z]{1,12}", dn in "[0-9]{1,10}", counter in 0u64..1_000_000) {
        let mut m = sync();
        let Message::Sync { records, .. } = &mut m;
        records[0].user = user;
        records[0].dns = vec![dn];
        records[0].version.counter = counter;
        let key = [2u8; MAC_LEN];
        let bytes = Sealer::new(key, Direction::ToDialer).seal(&m);
        let (f, used) = decode_frame(&bytes, MAX_FRAME).unwrap().unwrap();
        proptest::prop_assert_eq!(used, bytes.len());
        proptest::prop_assert_eq!(Opener::new(key, Direction::ToDialer).open(&f).unwrap(), m);
    }
}

#[test]
fn hex_round_trips() {
    let b = [0u8, 1, 0xab, 0xff];
    assert_eq!(decode_hex(&hex(&b)).unwrap(), b);
    assert!(decode_hex("abc").is_none());
    assert!(decode_hex("zz").is_none());
    assert_ne!(
        pin_digest("pw", "bob", "12345"),
        pin_digest("pw", "bob", "12346")
    );
}

fn info(id: &str, role: Role) -> ClusterInfo {
    ClusterInfo {
        cluster_id: id.into(),
        route_string: format!("{id}.emroam"),
        role,
    }
}

fn frame(h: &Handshake) -> Frame {
    decode_frame(&h.encode(), MAX_FRAME).unwrap().unwrap().0
}

/// A listener (cluster2) that has read cluster3's `Hello`, and that dialer after the listener's
/// `Challenge`; the dialer's `Auth` under `password`.
fn up_to_auth(password: &str) -> (Accept, Dial, Handshake) {
    let mut dial = Dial::new(info("cluster3", Role::Spoke), "cluster2", [1; NONCE_LEN]);
    let mut acc = Accept::new(info("cluster2", Role::Hub), [2; NONCE_LEN]);
    let who = acc.hello(&frame(&dial.hello())).unwrap();
    assert_eq!(who, info("cluster3", Role::Spoke));
    let auth = dial.challenge(&frame(&acc.challenge()), password).unwrap();
    (acc, dial, auth)
}

#[test]
fn the_dialer_proves_first_then_both_share_a_session_key() {
    let (acc, dial, auth) = up_to_auth("secret");
    let (welcome, k_listener) = acc.auth(&frame(&auth), "secret").unwrap();
    let k_dialer = dial.welcome(&frame(&welcome), "secret").unwrap();
    assert_eq!(k_listener, k_dialer);
    // The challenge is the listener's nonce and nothing else.
    let body = String::from_utf8(frame(&acc.challenge()).body).unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"type":"challenge","nonce":"{}"}}"#,
            hex(&[2; NONCE_LEN])
        )
    );
}

#[test]
fn a_wrong_password_is_caught_by_the_listener_before_it_proves_anything() {
    let (acc, dial, auth) = up_to_auth("guess");
    assert_eq!(
        acc.auth(&frame(&auth), "secret").unwrap_err(),
        HandshakeError::BadProof
    );
    let refused = Handshake::Refused {
        reason: AUTH_FAILED.into(),
    };
    assert_eq!(
        dial.welcome(&frame(&refused), "guess").unwrap_err(),
        HandshakeError::Refused(AUTH_FAILED.into())
    );
}

#[test]
fn a_listener_that_cannot_prove_the_password_or_answers_as_another_is_refused() {
    let (acc, dial, auth) = up_to_auth("secret");
    let (welcome, _) = acc.auth(&frame(&auth), "secret").unwrap();
    let Handshake::Welcome { cluster_id, .. } = welcome else {
        panic!("{welcome:?}")
    };
    let forged = Handshake::Welcome {
        cluster_id,
        proof: hex(&[0; MAC_LEN]),
    };
    assert_eq!(
        dial.welcome(&frame(&forged), "secret").unwrap_err(),
        HandshakeError::BadProof
    );
    let other = Handshake::Welcome {
        cluster_id: "cluster1".into(),
        proof: hex(&[0; MAC_LEN]),
    };
    assert_eq!(
        dial.welcome(&frame(&other), "secret").unwrap_err(),
        HandshakeError::WrongPeer("cluster1".into())
    );
}

#[test]
fn another_version_or_order_is_refused_by_name() {
    let mut acc = Accept::new(info("cluster2", Role::Hub), [2; NONCE_LEN]);
    let v1 = Handshake::Hello {
        version: 1,
        cluster_id: "cluster3".into(),
        route_string: "cluster3.emroam".into(),
        role: Role::Spoke,
        nonce: hex(&[1; NONCE_LEN]),
    };
    let e = acc.hello(&frame(&v1)).unwrap_err();
    assert_eq!(e, HandshakeError::Version(1));
    assert!(
        e.to_string().contains("version 1 is not supported") && e.to_string().contains("version 2"),
        "{e}"
    );
    assert_eq!(e.kind(), Some("refused"));
    let auth = Handshake::Auth {
        proof: hex(&[0; MAC_LEN]),
    };
    let e = acc.auth(&frame(&auth), "secret").unwrap_err();
    assert_eq!(e.kind(), Some("malformed"), "{e}");
    let e = acc.hello(&frame(&auth)).unwrap_err();
    assert_eq!(
        e,
        HandshakeError::OutOfOrder {
            expected: "hello",
            got: "auth"
        }
    );
    // A version 1 listener's challenge (with a proof) is not a version 2 challenge.
    let old = Frame {
        seq: 0,
        mac: [0; MAC_LEN],
        body: format!(
            r#"{{"type":"challenge","cluster_id":"cluster2","route_string":"r","role":"hub","nonce":"{0}","proof":"{0}"}}"#,
            hex(&[2; NONCE_LEN])
        )
        .into_bytes(),
    };
    let mut dial = Dial::new(info("cluster3", Role::Spoke), "cluster2", [1; NONCE_LEN]);
    assert_eq!(
        dial.challenge(&old, "secret").unwrap_err().kind(),
        Some("malformed")
    );
}

proptest::proptest! {
    /// Nothing a listener sends a dialer that has not proved the password depends on the
    /// password: two listeners with different passwords answer a stranger byte for byte alike.
    #[test]
    fn a_stranger_learns_nothing_computable_from_the_password(
        id in "[a-z0-9]{1,20}",
        cn in proptest::array::uniform32(proptest::num::u8::ANY),
        proof in "[0-9a-f]{0,80}",
    ) {
        let hello = Handshake::Hello {
            version: VERSION,
            cluster_id: id,
            route_string: "r".into(),
            role: Role::Spoke,
            nonce: hex(&cn),
        };
        let auth = frame(&Handshake::Auth { proof });
        let mut a = Accept::new(info("cluster2", Role::Hub), [2; NONCE_LEN]);
        let mut b = a.clone();
        proptest::prop_assert_eq!(a.hello(&frame(&hello)), b.hello(&frame(&hello)));
        proptest::prop_assert_eq!(a.challenge().encode(), b.challenge().encode());
        proptest::prop_assert_eq!(
            a.auth(&auth, "emroam-ils").unwrap_err(),
            b.auth(&auth, "another password").unwrap_err()
        );
    }
}
