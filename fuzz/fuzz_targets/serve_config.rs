//! The TOML file of `streammon serve --config`: parsed as the binary
//! parses it (`config_file::parse` into `ServeFile`), then each table
//! validated and built as `serve` builds it (the simulator, the pipeline,
//! the memory store, the CMCD collector, the limits, the tokens), every
//! refusal located in the file as `file:line: reason`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use streammon_cli::config_file::{locate, parse};
use streammon_cli::serve_file::ServeFile;
use streammon_core::Simulator;
use streammon_core::cmcd::Collector;
use streammon_core::limits::Admission;
use streammon_core::pipeline::Pipeline;

fuzz_target!(|data: &[u8]| {
    // `read_to_string` refuses a file that is not UTF-8.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.toml");
    let file: ServeFile = match parse(path, text) {
        Ok(file) => file,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let refused = |e: streammon_core::Error| {
        let _ = locate(path, text, e).to_string();
    };
    if let Some(sim) = &file.simulator {
        match sim.validate() {
            Ok(()) => {
                if let Err(e) = Simulator::new(sim.clone()) {
                    refused(e);
                }
            }
            Err(e) => refused(e),
        }
    }
    match file.pipeline.validate() {
        Ok(()) => {
            if let Err(e) = Pipeline::new(&file.pipeline) {
                refused(e);
            }
        }
        Err(e) => refused(e),
    }
    if let Some(memory) = &file.memory {
        let _ = memory.clone().build();
    }
    if let Err(e) = Collector::new(file.cmcd.clone()) {
        refused(e);
    }
    match file.limits.validate() {
        Ok(()) => {
            let _ = Admission::new(file.limits);
        }
        Err(e) => refused(e),
    }
    let tokens = file.auth.ingest_tokens.iter().chain(&file.auth.read_tokens).chain(file.cmcd_ingest.tokens.values());
    for token in tokens {
        let _ = streammon_http::Token::try_from(token.expose().trim().to_owned());
    }
});
