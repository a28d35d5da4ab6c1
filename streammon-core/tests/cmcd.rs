//! The CMCD parser against the specification's examples and against an
//! independent implementation (the vectors of `@svta/cml-cmcd`, written by
//! `scripts/node/cmcd-vectors.mjs`), in every transmission; and fuzzed:
//! no input panics, and every valid payload reads back what was written.

use proptest::prelude::*;
use serde_json::{Value, json};
use streammon_core::cmcd::transmission::{from_headers, from_query, lines};
use streammon_core::cmcd::{OtList, Report};

/// A report's value of `key`, as the vectors' decoder writes it.
fn field(r: &Report<'_>, key: &str) -> Value {
    let list = |l: &OtList| -> Value {
        let v: Vec<i64> = l.iter().map(|(v, _)| v).collect();
        if v.is_empty() { Value::Null } else { json!(v) }
    };
    let s = |v: &Option<std::borrow::Cow<'_, str>>| v.as_deref().map_or(Value::Null, |s| json!(s));
    match key {
        "v" => json!(r.version),
        "br" => list(&r.br),
        "ab" => list(&r.ab),
        "d" => json!(r.d),
        "lb" => list(&r.lb),
        "lab" => list(&r.lab),
        "ot" => json!(r.ot.map(|t| t.as_str())),
        "tb" => list(&r.tb),
        "tab" => list(&r.tab),
        "tpb" => list(&r.tpb),
        "bl" => list(&r.bl),
        "cs" => s(&r.cs),
        "dfa" => json!(r.dfa),
        "dl" => json!(r.dl),
        "ltc" => json!(r.ltc),
        "mtp" => list(&r.mtp),
        "nor" => s(&r.nor),
        "nrr" => s(&r.nrr),
        "pb" => list(&r.pb),
        "sn" => json!(r.sn),
        "sta" => json!(r.sta.map(|t| t.as_str())),
        "su" => json!(r.su),
        "tbl" => list(&r.tbl),
        "cid" => s(&r.cid),
        "msd" => json!(r.msd),
        "sf" => json!(r.sf.map(|t| t.as_str())),
        "sid" => s(&r.sid),
        "st" => json!(r.st.map(|t| t.as_str())),
        "bg" => json!(r.bg),
        "bs" => json!(r.bs),
        "bsa" => list(&r.bsa),
        "bsd" => list(&r.bsd),
        "bsda" => list(&r.bsda),
        "cdn" => s(&r.cdn),
        "ec" => s(&r.ec),
        "nr" => json!(r.nr),
        "pr" => json!(r.pr),
        "pt" => json!(r.pt),
        "rtp" => json!(r.rtp),
        "e" => json!(r.e.map(|t| t.as_str())),
        "ts" => json!(r.ts),
        "cen" => s(&r.cen),
        "h" => s(&r.h),
        "rc" => json!(r.rc),
        "ttfb" => json!(r.ttfb),
        "ttfbb" => json!(r.ttfbb),
        "ttlb" => json!(r.ttlb),
        "url" => s(&r.url),
        "cmsdd" => s(&r.cmsdd),
        "cmsds" => s(&r.cmsds),
        "smrt" => s(&r.smrt),
        other => panic!("the vectors use a key the test does not map: {other}"),
    }
}

/// The decoder's value, in the form [`field`] gives: single values of the
/// list keys as one-element lists, `nor` lists as their first item, `ec`
/// lists joined by spaces.
fn expected(key: &str, v: &Value) -> Value {
    const LISTS: [&str; 14] =
        ["br", "ab", "lb", "lab", "tb", "tab", "tpb", "bl", "mtp", "pb", "tbl", "bsa", "bsd", "bsda"];
    match (key, v) {
        (k, Value::Number(_)) if LISTS.contains(&k) => json!([v]),
        ("nor", Value::Array(items)) => items[0].clone(),
        ("ec", Value::Array(items)) => {
            json!(items.iter().map(|i| i.as_str().unwrap().to_owned()).collect::<Vec<_>>().join(" "))
        }
        _ => v.clone(),
    }
}

fn check(name: &str, form: &str, r: &Report<'_>, decoded: &serde_json::Map<String, Value>) {
    for (key, value) in decoded {
        assert_eq!(field(r, key), expected(key, value), "{name} ({form}): `{key}`");
    }
    assert!(r.unknown.is_empty(), "{name} ({form}): unknown keys {:?}", r.unknown);
}

#[test]
fn every_vector_of_the_independent_encoder_reads_back_in_every_transmission() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cmcd-vectors.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let vectors = fixture["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 25, "{} vectors", vectors.len());
    let mut keys = std::collections::BTreeSet::new();
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let decoded = v["decoded"].as_object().unwrap();
        keys.extend(decoded.keys().cloned());
        let r = Report::parse(v["dict"].as_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(name, "dictionary", &r, decoded);
        assert_eq!(u64::from(r.version), v["version"].as_u64().unwrap(), "{name}");
        let mut buf = String::new();
        let q = from_query(v["query"].as_str().unwrap(), &mut buf).unwrap().expect("a CMCD argument");
        check(name, "query", &q, decoded);
        if let Some(headers) = v["headers"].as_object() {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
            let mut buf = String::new();
            let h = from_headers(pairs, &mut buf).unwrap().expect("CMCD headers");
            check(name, "headers", &h, decoded);
        }
    }
    // Together the vectors use every key of both versions but `tbl`, `sn`
    // and `st=ll`, which the encoder leaves out of request reports.
    for key in [
        "ab", "bg", "bl", "br", "bs", "bsa", "bsd", "bsda", "cdn", "cen", "cid", "cmsdd", "cmsds", "cs", "d", "dfa",
        "dl", "e", "ec", "h", "lab", "lb", "ltc", "msd", "mtp", "nor", "nr", "nrr", "ot", "pb", "pr", "pt", "rc",
        "rtp", "sf", "sid", "smrt", "st", "sta", "su", "tab", "tb", "tpb", "ts", "ttfb", "ttfbb", "ttlb", "url", "v",
    ] {
        assert!(keys.contains(key), "no vector has `{key}`");
    }
}

#[test]
fn the_specifications_examples() {
    // CTA-5004 section 3.2: the same report as a query argument and as headers.
    let mut buf = String::new();
    let q = from_query(
        "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22faec5fc2-ac30-11ea-bb37-0242ac130002%22%2Cd%3D4004%2Cdl%3D18500%2Cmtp%3D48100%2Cnor%3D%22..%252F300kbps%252Ftrack.m4v%22%2Cnrr%3D%2212323-48763%22%2Cot%3Dv%2Cpr%3D1.08%2Crtp%3D12000%2Csf%3Dd%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Cst%3Dv%2Csu%2Ctb%3D6000",
        &mut buf,
    )
    .unwrap()
    .unwrap();
    let headers = [
        ("CMCD-Request", r#"bl=21300,dl=18500,mtp=48100,nor="..%2F300kbps%2Ftrack.m4v",nrr="12323-48763",su"#),
        ("CMCD-Object", "br=3200,d=4004,ot=v,tb=6000"),
        ("CMCD-Status", "bs,rtp=12000"),
        (
            "CMCD-Session",
            r#"cid="faec5fc2-ac30-11ea-bb37-0242ac130002",pr=1.08,sf=d,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",st=v"#,
        ),
    ];
    let mut hbuf = String::new();
    let h = from_headers(headers, &mut hbuf).unwrap().unwrap();
    assert_eq!(q, h, "the two transmissions carry the same report");
    assert_eq!(
        (q.br.first(), q.bl.first(), q.d, q.dl, q.mtp.first(), q.rtp, q.tb.first()),
        (Some(3200), Some(21300), Some(4004), Some(18500), Some(48100), Some(12000), Some(6000))
    );
    assert_eq!((q.bs, q.su, q.pr), (Some(true), Some(true), Some(1.08)));
    assert_eq!(q.nrr.as_deref(), Some("12323-48763"));
    // Event mode: one report per line of an application/cmcd body.
    let body = "e=ps,sid=\"a\",sta=s,ts=1700000000000,v=2\ne=ps,sid=\"a\",sta=p,ts=1700000001000,v=2\n";
    assert_eq!(lines(body).filter(|(_, r)| r.is_ok()).count(), 2);
}

fn key_value() -> impl Strategy<Value = (String, String, Value)> {
    let int = 0i64..1_000_000_000;
    prop_oneof![
        int.clone().prop_map(|v| ("br".into(), v.to_string(), json!([v]))),
        int.clone().prop_map(|v| ("d".into(), v.to_string(), json!(v))),
        prop::collection::vec(int.clone(), 1..6).prop_map(|v| {
            let text = format!("({})", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" "));
            ("bl".into(), text, json!(v))
        }),
        "[ -~]{0,40}".prop_map(|s| {
            let escaped = s.replace('\\', "\\\\").replace('"', "\\\"");
            ("cid".into(), format!("\"{escaped}\""), json!(s))
        }),
        prop::sample::select(vec!["m", "a", "v", "av", "i", "c", "tt", "k", "o"]).prop_map(|t| (
            "ot".into(),
            t.to_owned(),
            json!(t)
        )),
        prop::sample::select(vec!["s", "p", "k", "r", "a", "w", "e", "f", "q", "d"]).prop_map(|t| (
            "sta".into(),
            t.to_owned(),
            json!(t)
        )),
        any::<bool>().prop_map(|b| ("bs".into(), if b { String::new() } else { "?0".into() }, json!(b))),
        (0u32..100_000).prop_map(|v| {
            let rate = f64::from(v) / 1_000.0;
            ("pr".into(), format!("{rate:.3}"), json!(rate))
        }),
        (100i64..600).prop_map(|v| ("rc".into(), v.to_string(), json!(v))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_text_panics(text in "\\PC{0,200}") {
        let _ = Report::parse(&text);
        let mut buf = String::new();
        let _ = from_query(&format!("CMCD={text}"), &mut buf);
        for (_, r) in lines(&text) {
            let _ = r;
        }
    }

    #[test]
    fn no_bytes_near_a_valid_payload_panic(pos in 0usize..200, byte in any::<u8>(), cut in any::<bool>()) {
        let valid = r#"bl=(21300 15000;a),br=3200,bs,cid="faec5fc2",d=4004,e=ps,ec=("E1" "E2"),nor=("a" "b"),ot=v,pr=1.08,sid="6e2f",sta=p,v=2"#;
        let mut bytes = valid.as_bytes().to_vec();
        let at = pos % bytes.len();
        if cut { bytes.truncate(at) } else { bytes[at] = byte }
        let text = String::from_utf8_lossy(&bytes);
        let _ = Report::parse(&text);
        let mut buf = String::new();
        let _ = from_headers([("CMCD-Request", &*text)], &mut buf);
    }

    #[test]
    fn what_is_written_reads_back(members in prop::collection::vec(key_value(), 1..12)) {
        // The last value of a repeated key wins.
        let mut last = std::collections::BTreeMap::new();
        for (k, text, v) in &members {
            last.insert(k.clone(), (text.clone(), v.clone()));
        }
        let text = last.iter().map(|(k, (t, _))| if t.is_empty() { k.clone() } else { format!("{k}={t}") }).collect::<Vec<_>>().join(",");
        let r = Report::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        for (k, (_, v)) in &last {
            prop_assert_eq!(field(&r, k), v.clone(), "{} in {}", k, text);
        }
    }
}
