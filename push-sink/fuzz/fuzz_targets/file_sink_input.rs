//! Arbitrary headers and data units straight into a FileSink (it parses both): errors are
//! fine, panics and hangs are not.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use push_sink::testing::SyntheticStream;
use push_sink::{DataUnit, FileSink, FileSinkConfig, PacketInfo, WriterSink};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let stream = SyntheticStream::new(64 + usize::from(mode) * 4, 0);
    let mut sink = FileSink::new(std::io::Cursor::new(Vec::new()), FileSinkConfig::default());
    if mode & 1 == 0 {
        // A valid header, then the input cut into packet-size data units.
        let _ = sink.on_header(&stream.header);
        for (i, chunk) in rest.chunks(stream.packet_size).enumerate() {
            let mut p = chunk.to_vec();
            p.resize(stream.packet_size, 0);
            let info = PacketInfo {
                index: i as u64,
                key_frame: i.is_multiple_of(3),
                ..PacketInfo::default()
            };
            let _ = sink.on_data_unit(DataUnit::shared(Bytes::from(p), info));
        }
    } else {
        // The input as a header (possibly mutating a valid one).
        let mut h = stream.header.to_vec();
        for (i, b) in rest.iter().enumerate().take(h.len()) {
            h[i] ^= b;
        }
        if mode & 2 != 0 {
            h = rest.to_vec();
        }
        let _ = sink.on_header(&Bytes::from(h));
    }
    let _ = sink.on_end_writing();
});
