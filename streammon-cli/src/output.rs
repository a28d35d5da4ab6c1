//! Writing samples as JSON lines or CSV.

use std::fmt::Write as _;
use std::io::{self, Write};

use streammon_core::Sample;

/// Output format of `streammon simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line, in the sample schema.
    Jsonl,
    /// One row per sample with a header; `renditions` as `720p:120;1080p:480`.
    Csv,
}

/// The CSV header: the sample's fields in wire order.
pub(crate) const CSV_HEADER: &str = "schema,timestamp_ms,interval_ms,content_id,content_type,region,viewers,joins,exits,avg_watch_time_s,latency_ms,e2e_latency_ms,startup_time_ms,buffering_ratio,rebuffer_events,bitrate_kbps,rendition,renditions,segment_duration_s,segment_size_kb,bandwidth_mbps,error_rate";

/// Writes samples in one format, reusing a line buffer.
#[derive(Debug)]
pub(crate) struct SampleWriter<W: Write> {
    out: W,
    format: Format,
    line: String,
}

impl<W: Write> SampleWriter<W> {
    /// A writer that writes the CSV header first when the format is CSV.
    pub(crate) fn new(mut out: W, format: Format) -> io::Result<Self> {
        if format == Format::Csv {
            writeln!(out, "{CSV_HEADER}")?;
        }
        Ok(Self { out, format, line: String::with_capacity(512) })
    }

    /// Writes one sample.
    pub(crate) fn write(&mut self, s: &Sample) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, s)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => {
                self.line.clear();
                csv_row(&mut self.line, s);
                self.out.write_all(self.line.as_bytes())
            }
        }
    }

    /// Flushes and returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn csv_row(line: &mut String, s: &Sample) {
    let mut mix = String::new();
    for (id, viewers) in s.renditions.iter() {
        if !mix.is_empty() {
            mix.push(';');
        }
        let _ = write!(mix, "{id}:{viewers}");
    }
    let e2e = s.e2e_latency_ms.map(|v| v.to_string()).unwrap_or_default();
    let _ = writeln!(
        line,
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        s.schema,
        s.timestamp_ms,
        s.interval_ms,
        csv_field(s.content_id.as_str()),
        s.content_type,
        csv_field(s.region.as_str()),
        s.viewers,
        s.joins,
        s.exits,
        s.avg_watch_time_s,
        s.latency_ms,
        e2e,
        s.startup_time_ms,
        s.buffering_ratio,
        s.rebuffer_events,
        s.bitrate_kbps,
        s.rendition,
        mix,
        s.segment_duration_s,
        s.segment_size_kb,
        s.bandwidth_mbps,
        s.error_rate,
    );
}

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_match_the_header() {
        let mut sim = streammon_core::Simulator::new(Default::default()).unwrap();
        let frame = sim.next_frame();
        let mut w = SampleWriter::new(Vec::new(), Format::Csv).unwrap();
        for s in &frame.samples {
            w.write(s).unwrap();
        }
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let columns = CSV_HEADER.split(',').count();
        for line in text.lines() {
            assert_eq!(line.split(',').count(), columns, "{line}");
        }
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("a\"b,"), "\"a\"\"b,\"");
    }
}
