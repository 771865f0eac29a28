//! Parse and render rates of CiscoIPPhone XML (an EM login page, a 100-item menu), beside
//! quick-xml's raw event reader over the same bytes, in one run.
//!
//! `cargo bench -p emroam-loadtests --bench cipxml`; figures go in `loadtests/README.md`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use emroam_loadtests::{em_login_page, menu_100, raw_tokenize};
use emroam_protocol::cipxml;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    for (name, doc) in [("em_login_page", em_login_page()), ("menu_100", menu_100())] {
        let bytes = doc.as_bytes();
        let object = cipxml::parse(bytes).expect("benchmark document parses");
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("quick_xml_raw_events", |b| {
            b.iter(|| raw_tokenize(black_box(bytes)))
        });
        g.bench_function("cipxml_parse", |b| {
            b.iter(|| cipxml::parse(black_box(bytes)).expect("parses"))
        });
        g.bench_function("cipxml_render", |b| b.iter(|| black_box(&object).to_xml()));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
