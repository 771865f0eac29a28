//! Tests of [`super`]: objects.

use super::*;

fn img(w: u32, h: u32, depth: u32, data: &str) -> CipImage {
    CipImage {
        width: Some(w),
        height: Some(h),
        depth: Some(depth),
        data: Some(data.into()),
        ..CipImage::default()
    }
}

#[test]
fn cip_pixels_unpack_low_bits_first() {
    assert_eq!(img(4, 1, 2, "2D").pixels(), Some(vec![1, 3, 2, 0]));
    assert_eq!(img(2, 2, 2, "2d").pixels(), Some(vec![1, 3, 2, 0]));
    assert_eq!(
        img(3, 1, 2, "2D").pixels(),
        Some(vec![1, 3, 2]),
        "padding ignored"
    );
    assert_eq!(
        img(8, 1, 1, "81").pixels(),
        Some(vec![1, 0, 0, 0, 0, 0, 0, 1])
    );
    assert_eq!(img(5, 1, 2, "2D").pixels(), None, "too short");
    assert_eq!(img(4, 1, 2, "2G").pixels(), None, "not hex");
    assert_eq!(img(4, 1, 2, "2D0").pixels(), None, "odd length");
    assert_eq!(img(4, 1, 4, "2D").pixels(), None, "depth 4");
    assert_eq!(CipImage::default().pixels(), None);
    assert_eq!(
        img(u32::MAX, u32::MAX, 2, "00").pixels(),
        None,
        "no overflow, no huge alloc"
    );
}

#[test]
fn items_expose_typed_uris() {
    assert_eq!(
        MenuItem::new("a", "Key:Services").uri(),
        Some(Uri::Key("Services".into()))
    );
    assert_eq!(
        ExecuteItem::new("Init:AppStatus").uri(),
        Uri::Init("AppStatus".into())
    );
    let sk = SoftKeyItem {
        url_down: Some("RTPTx:Stop".into()),
        ..SoftKeyItem::new("PTT", "SoftKey:Exit", 1)
    };
    assert_eq!(sk.uri(), Some(Uri::SoftKey("Exit".into())));
    assert!(matches!(sk.uri_down(), Some(Uri::Rtp(_))));
}
