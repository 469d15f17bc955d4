//! Writes a small synthetic ASF file (the conformance kit's stream: a WMV2-declared video
//! stream and a WMA2-declared audio stream with placeholder payloads) through the Writer into
//! a FileSink, and prints its size: `cargo run -p push-sink --example write_synthetic -- OUT.asf`.
//! The payloads are not real codec data: players parse the file but cannot decode it.

use bytes::Bytes;
use push_sink::testing::SimpleMux;
use push_sink::{FileSink, Sample, Writer};

fn main() -> Result<(), push_sink::Error> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| String::from("synthetic.asf"));
    let mut writer = Writer::new(Box::new(SimpleMux::new(1400)));
    writer.add_sink(Box::new(FileSink::create(&out)?));
    writer.begin_writing()?;
    for i in 0..250u64 {
        let video = Sample {
            stream: 1,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: i.is_multiple_of(25),
            data: Bytes::from(vec![0u8; 2000]),
        };
        writer.write_sample(video)?;
        let audio = Sample {
            stream: 2,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: true,
            data: Bytes::from(vec![0u8; 400]),
        };
        writer.write_sample(audio)?;
    }
    writer.end_writing()?;
    for failure in writer.take_sink_failures() {
        eprintln!("{failure}");
    }
    let report = &writer.sink_reports()[0];
    println!(
        "{out}: {} packets, {} bytes",
        report.stats.packets, report.stats.bytes
    );
    Ok(())
}
