//! The conformance kit run against this crate's sinks and the test sinks it ships.

use std::io::Cursor;

use push_sink::testing::{self, FailingSink, RecordingSink, SyntheticStream};
use push_sink::{FileSink, FileSinkConfig, WriterSink};

#[path = "../examples/counting_sink.rs"]
#[allow(dead_code)]
mod counting_sink;

#[test]
fn file_sink_in_memory_conforms() {
    testing::run_all(&mut || {
        Box::new(FileSink::new(
            Cursor::new(Vec::new()),
            FileSinkConfig::default(),
        ))
    })
    .assert_ok();
}

#[test]
fn file_sink_without_index_conforms() {
    testing::run_all(&mut || {
        Box::new(FileSink::new(
            Cursor::new(Vec::new()),
            FileSinkConfig::default().auto_index(false),
        ))
    })
    .assert_ok();
}

#[test]
fn file_sink_on_disk_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    testing::run_all(&mut || {
        n += 1;
        Box::new(FileSink::create(dir.path().join(format!("conf{n}.asf"))).expect("create"))
    })
    .assert_ok();
}

#[test]
fn example_counting_sink_conforms() {
    testing::run_all(&mut || Box::new(counting_sink::CountingSink::new(true))).assert_ok();
}

#[test]
fn recording_sink_conforms() {
    testing::run_all(&mut || Box::new(RecordingSink::new(true, 4))).assert_ok();
}

#[test]
fn kit_catches_a_failing_sink() {
    let report = testing::run_all(&mut || Box::new(FailingSink::new(1)));
    assert!(!report.is_ok());
    let failed: Vec<_> = report.failures().iter().map(|f| f.check).collect();
    assert!(failed.contains(&"header_before_data"), "{failed:?}");
}

/// A sink that lies about its buffer capacity.
struct ShortBufferSink;

impl WriterSink for ShortBufferSink {
    fn on_header(&mut self, _: &bytes::Bytes) -> Result<(), push_sink::SinkError> {
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn allocate_data_unit(&mut self, _packet_size: usize) -> bytes::BytesMut {
        let mut b = bytes::BytesMut::new();
        b.resize(8, 0);
        b
    }
    fn on_data_unit(&mut self, _: push_sink::DataUnit) -> Result<(), push_sink::SinkError> {
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), push_sink::SinkError> {
        Ok(())
    }
}

#[test]
fn kit_catches_a_short_buffer() {
    let report = testing::run_all(&mut || Box::new(ShortBufferSink));
    let failed: Vec<_> = report.failures().iter().map(|f| f.check).collect();
    assert_eq!(failed, vec!["allocate_data_unit"]);
}

/// A sink whose counters go down.
struct ShrinkingStatsSink(u64);

impl WriterSink for ShrinkingStatsSink {
    fn on_header(&mut self, _: &bytes::Bytes) -> Result<(), push_sink::SinkError> {
        self.0 = 10;
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn on_data_unit(&mut self, _: push_sink::DataUnit) -> Result<(), push_sink::SinkError> {
        self.0 = self.0.saturating_sub(1);
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), push_sink::SinkError> {
        Ok(())
    }
    fn stats(&self) -> push_sink::SinkStats {
        let mut s = push_sink::SinkStats::new();
        s.bytes = self.0;
        s
    }
}

#[test]
fn kit_catches_shrinking_stats() {
    let report = testing::run_all(&mut || Box::new(ShrinkingStatsSink(0)));
    let failed: Vec<_> = report.failures().iter().map(|f| f.check).collect();
    assert_eq!(failed, vec!["stats_monotonic"]);
}

/// A sink that panics on data before a header.
struct PanickySink(bool);

impl WriterSink for PanickySink {
    fn on_header(&mut self, _: &bytes::Bytes) -> Result<(), push_sink::SinkError> {
        self.0 = true;
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn on_data_unit(&mut self, _: push_sink::DataUnit) -> Result<(), push_sink::SinkError> {
        assert!(self.0, "data before header");
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), push_sink::SinkError> {
        Ok(())
    }
}

#[test]
fn kit_catches_a_panic() {
    let report = testing::run_all(&mut || Box::new(PanickySink(false)));
    let failed: Vec<_> = report.failures().iter().map(|f| f.check).collect();
    assert_eq!(failed, vec!["errors_are_values"]);
}

#[test]
fn synthetic_stream_round_trips_through_a_file_sink() {
    let stream = SyntheticStream::new(500, 30);
    let mut sink = FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default());
    sink.on_header(&stream.header).expect("header");
    for i in 0..stream.len() {
        let unit = stream.unit_for(&mut sink, i).expect("unit");
        sink.on_data_unit(unit).expect("data");
    }
    sink.on_end_writing().expect("end");
    assert_eq!(
        sink.unscannable_packets(),
        0,
        "the file sink parses every synthetic packet"
    );
    assert_eq!(sink.packet_count(), 30);
    // Last presentation 29*40 + 1000 ms, plus one frame of 80 ms (per stream), minus preroll.
    assert_eq!(sink.duration().as_millis(), 29 * 40 + 80);
}

#[test]
fn shared_file_sink_conforms() {
    testing::run_all(&mut || {
        Box::new(push_sink::SharedSink::new(FileSink::new(
            Cursor::new(Vec::new()),
            FileSinkConfig::default(),
        )))
    })
    .assert_ok();
}
