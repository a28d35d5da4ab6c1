//! The CMCD JSON transmission: a `POST /cmcd` body of one object or an
//! array of objects keyed by CMCD key, decoded as the route decodes it
//! (`streammon_http::parse_cmcd_json`), and fed to a collector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streammon_fuzz::{check_report, collect};

fuzz_target!(|data: &[u8]| {
    if let Ok(reports) = streammon_http::parse_cmcd_json(data) {
        for report in &reports {
            check_report(report);
        }
        collect(&reports);
    }
});
