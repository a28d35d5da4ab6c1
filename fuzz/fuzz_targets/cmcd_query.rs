//! The CMCD query argument: a request's query string, as `GET /cmcd` and
//! every `--media` request take it (`transmission::from_query`), and the
//! report fed to a collector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streammon_core::cmcd::transmission::from_query;
use streammon_fuzz::{check_report, collect};

fuzz_target!(|data: &[u8]| {
    // A URI's query is ASCII: axum hands routes a `&str`.
    let Ok(query) = std::str::from_utf8(data) else { return };
    let mut buf = String::new();
    if let Ok(Some(report)) = from_query(query, &mut buf) {
        check_report(&report);
        collect(std::slice::from_ref(&report));
    }
});
