//! Arbitrary sample sequences (and sink changes) through the Writer into an in-memory
//! FileSink and a recording sink: no panic, every delivered packet has the packet size, the
//! file sink never fails on what the writer made.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use push_sink::testing::{RecordingSink, SimpleMux, SinkCall};
use push_sink::{FileSink, FileSinkConfig, Sample, Writer};

fuzz_target!(|data: &[u8]| {
    let Some((&size, mut rest)) = data.split_first() else {
        return;
    };
    let packet_size = 64 + usize::from(size) * 8;
    let mut w = Writer::new(Box::new(SimpleMux::new(packet_size)));
    let rec = RecordingSink::new(false, usize::from(size % 16));
    let log = rec.log();
    w.add_sink(Box::new(rec));
    w.add_sink(Box::new(FileSink::new(
        std::io::Cursor::new(Vec::new()),
        FileSinkConfig::default(),
    )));
    w.begin_writing().expect("begin");
    let mut t = 0u64;
    let mut ops = 0;
    while rest.len() >= 4 && ops < 2000 {
        ops += 1;
        let (op, len_lo, len_hi, dt) = (rest[0], rest[1], rest[2], rest[3]);
        rest = &rest[4..];
        t += u64::from(dt);
        match op % 8 {
            0 => {
                let _ = w.set_profile(Box::new(SimpleMux::audio_only(packet_size)));
            }
            1 => {
                w.add_sink(Box::new(RecordingSink::new(op & 0x10 != 0, 4)));
            }
            _ => {
                let len = (usize::from(len_lo) | usize::from(len_hi & 0x3F) << 8).max(1);
                let sample = Sample {
                    stream: u16::from(op >> 6) + 1,
                    presentation_time_ms: t,
                    duration_ms: 0,
                    key_frame: op & 0x20 != 0,
                    data: Bytes::from(vec![op; len]),
                };
                let _ = w.write_sample(sample);
            }
        }
        let _ = w.deliver_due(std::time::Duration::from_secs(u64::MAX / 4));
    }
    w.end_writing().expect("end");
    for f in w.take_sink_failures() {
        // The file sink must accept everything the writer makes; a new profile with another
        // stream set is fine, a failure is not.
        panic!("sink failed: {f}");
    }
    let calls = log.lock().expect("log");
    for c in calls.iter() {
        if let SinkCall::DataUnit { packet, .. } = c {
            assert_eq!(packet.len(), packet_size);
        }
    }
});
