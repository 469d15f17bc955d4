//! A third-party sink in a few lines: counts packets and key frames per header and prints a
//! one-line summary of every call to stdout. Run it with
//! `cargo run -p push-sink --example counting_sink`: it feeds the sink a small synthetic
//! stream (built in code), then runs the conformance kit against it.

use bytes::Bytes;
use push_sink::testing::{self, SyntheticStream};
use push_sink::{DataUnit, SinkError, SinkStats, WriterSink};

/// Counts what it gets and prints a summary line per call.
#[derive(Debug, Default)]
pub struct CountingSink {
    stats: SinkStats,
    key_frames: u64,
    quiet: bool,
}

impl CountingSink {
    /// A sink that prints (`quiet == false`) or only counts.
    pub fn new(quiet: bool) -> Self {
        CountingSink {
            quiet,
            ..Self::default()
        }
    }
}

impl WriterSink for CountingSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError> {
        self.stats.headers += 1;
        if !self.quiet {
            println!("header #{}: {} bytes", self.stats.headers, header.len());
        }
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        false
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        self.stats.packets += 1;
        self.stats.bytes += unit.len() as u64;
        if unit.is_key_frame() {
            self.key_frames += 1;
        }
        if !self.quiet {
            println!(
                "packet {:>5}: send {:>7} ms, {} bytes{}",
                unit.index(),
                unit.send_time_ms(),
                unit.len(),
                if unit.is_key_frame() {
                    ", key frame"
                } else {
                    ""
                }
            );
        }
        Ok(())
    }

    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        if !self.quiet {
            println!(
                "end: {} packets, {} bytes, {} key-frame packets",
                self.stats.packets, self.stats.bytes, self.key_frames
            );
        }
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }

    fn name(&self) -> String {
        String::from("counting sink")
    }
}

fn main() -> Result<(), SinkError> {
    let stream = SyntheticStream::new(1200, 12);
    let mut sink = CountingSink::new(false);
    sink.on_header(&stream.header)?;
    for i in 0..stream.len() {
        let unit = stream.unit_for(&mut sink, i).map_err(SinkError::custom)?;
        sink.on_data_unit(unit)?;
    }
    sink.on_end_writing()?;

    let report = testing::run_all(&mut || Box::new(CountingSink::new(true)));
    for (check, outcome) in &report.outcomes {
        println!(
            "conformance {check}: {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
    }
    report.assert_ok();
    Ok(())
}
