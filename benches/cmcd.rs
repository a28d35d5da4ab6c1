//! CMCD parsing and collection, one core.
//!
//! | bench                          | input                                                              | bytes |
//! |--------------------------------|--------------------------------------------------------------------|-------|
//! | `cmcd/parse/v1_request`        | the CTA-5004 example: 17 keys of a video segment request            | 226   |
//! | `cmcd/parse/v1_query`          | the same as a `CMCD=` query argument, percent-decoded then parsed   | 346   |
//! | `cmcd/parse/v2_event`          | a v2 time-interval event report with inner lists                    | 166   |
//! | `cmcd/parse/v1_small`          | a typical dash.js request: br, bl, d, mtp, ot, sid, cid, tb, su     | 120   |
//! | `cmcd/collect/10000_sessions`  | parse + `Collector::observe` over 10 000 sessions, a tick each 10 000 reports | — |
//!
//! Throughput is in payloads (reports) per second. Target: at least one
//! million payloads parsed per second on one core.
//!
//! Run: `cargo bench -p streammon-benches --bench cmcd`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use streammon_core::RegionId;
use streammon_core::cmcd::transmission::from_query;
use streammon_core::cmcd::{Collector, CollectorConfig, Report};

const V1: &str = r#"bl=21300,br=3200,bs,cid="faec5fc2-ac30-11ea-bb37-0242ac130002",d=4004,dl=18500,mtp=48100,nor="..%2F300kbps%2Ftrack.m4v",nrr="12323-48763",ot=v,pr=1.08,rtp=12000,sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v,su,tb=6000"#;
const V1_QUERY: &str = "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22faec5fc2-ac30-11ea-bb37-0242ac130002%22%2Cd%3D4004%2Cdl%3D18500%2Cmtp%3D48100%2Cnor%3D%22..%252F300kbps%252Ftrack.m4v%22%2Cnrr%3D%2212323-48763%22%2Cot%3Dv%2Cpr%3D1.08%2Crtp%3D12000%2Csf%3Dd%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Cst%3Dv%2Csu%2Ctb%3D6000";
const V2: &str = r#"bl=(12000),br=(1800),cdn="cdn-a",cid="faec5fc2-ac30-11ea-bb37-0242ac130002",e=t,ltc=4000,mtp=(9000),pt=30000,sid="6e2fb550-c457",ts=1700000030000,v=2"#;
const SMALL: &str = r#"bl=8800,br=3000,cid="film-000042",d=2000,mtp=21000,ot=v,sid="b0c1d2e3-f405",tb=6000"#;

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("cmcd/parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("v1_request", |b| b.iter(|| black_box(Report::parse(black_box(V1)).expect("valid"))));
    let mut buf = String::with_capacity(512);
    g.bench_function("v1_query", |b| {
        b.iter(|| {
            let r = from_query(black_box(V1_QUERY), &mut buf).expect("valid").expect("present");
            black_box(r.br.first())
        })
    });
    g.bench_function("v2_event", |b| b.iter(|| black_box(Report::parse(black_box(V2)).expect("valid"))));
    g.bench_function("v1_small", |b| b.iter(|| black_box(Report::parse(black_box(SMALL)).expect("valid"))));
    g.finish();
}

fn collect(c: &mut Criterion) {
    const SESSIONS: usize = 10_000;
    let texts: Vec<String> = (0..SESSIONS)
        .map(|i| {
            format!(
                r#"bl=8800,br={},cid="film-{:04}",d=2000,mtp=21000,ot=v,sid="s-{i:06}",tb=6000"#,
                800 + (i % 4) * 1000,
                i % 200
            )
        })
        .collect();
    let region = RegionId::from("eu-west");
    let mut collector = Collector::new(CollectorConfig::default()).expect("valid");
    let (mut samples, mut changes) = (Vec::new(), Vec::new());
    let (mut i, mut now) = (0usize, 1_700_000_000_000i64);
    let mut g = c.benchmark_group("cmcd/collect");
    g.throughput(Throughput::Elements(1));
    g.bench_function("10000_sessions", |b| {
        b.iter(|| {
            let r = Report::parse(&texts[i % SESSIONS]).expect("valid");
            black_box(collector.observe(&r, &region, now).expect("has sid"));
            i += 1;
            if i % SESSIONS == 0 {
                now += 1_000;
                samples.clear();
                changes.clear();
                collector.tick(now, 1_000, &mut samples, &mut changes);
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = parse, collect
}
criterion_main!(benches);
