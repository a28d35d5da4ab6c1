//! The CMCD v2 event-mode body (`application/cmcd`): one payload per line
//! (`transmission::lines`), taken all or nothing as `POST /cmcd` takes
//! them, and fed to a collector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streammon_core::cmcd::transmission::lines;
use streammon_fuzz::{check_report, collect};

fuzz_target!(|data: &[u8]| {
    // The route refuses a body that is not UTF-8 before it splits it.
    let Ok(body) = std::str::from_utf8(data) else { return };
    let mut reports = Vec::new();
    let mut last = 0;
    for (line, result) in lines(body) {
        assert!(line > last, "line numbers go up");
        last = line;
        match result {
            Ok(report) => {
                check_report(&report);
                reports.push(report);
            }
            Err(_) => return,
        }
    }
    collect(&reports);
});
