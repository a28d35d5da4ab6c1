//! The four `CMCD-*` headers (`transmission::from_headers`): each input
//! line is one header, `name: value`, among others a request carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streammon_core::cmcd::transmission::from_headers;
use streammon_fuzz::{check_report, collect};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let headers = text.lines().map(|line| line.split_once(':').map_or((line, ""), |(n, v)| (n, v.trim_start())));
    let mut buf = String::new();
    if let Ok(Some(report)) = from_headers(headers, &mut buf) {
        check_report(&report);
        collect(std::slice::from_ref(&report));
    }
});
