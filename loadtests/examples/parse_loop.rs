//! Parses the EM login page (or the 100-item menu) N times: a driver for
//! `valgrind --tool=callgrind`, whose instruction counts divide by N into a per-page cost.
//!
//! `cargo build --profile bench -p emroam-loadtests --example parse_loop`, then
//! `valgrind --tool=callgrind target/release/examples/parse_loop [login|menu] [N]`.

use std::hint::black_box;

use emroam_loadtests::{em_login_page, menu_100};
use emroam_protocol::cipxml;

fn main() {
    let mut args = std::env::args().skip(1);
    let doc = match args.next().as_deref() {
        Some("menu") => menu_100(),
        _ => em_login_page(),
    };
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let mut items = 0;
    for _ in 0..n {
        match cipxml::parse(black_box(doc.as_bytes())) {
            Ok(object) => {
                items += usize::from(matches!(black_box(&object), cipxml::Object::Input(_)))
            }
            Err(e) => panic!("benchmark document fails to parse: {e}"),
        }
    }
    println!("parsed {n} documents ({items} inputs)");
}
