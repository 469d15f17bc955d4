//! Real WMV2/WMA2 packets (made by ffmpeg) pushed through PushSink to the loopback push
//! server (push-protocol's `PushServer`): every `$D` is the file's packet with its padding stripped; putting the padding
//! back (push-protocol's `restore_padding`, as a relaying server does) gives the original
//! bytes, and the reassembled file decodes without errors in ffmpeg. Skipped with a message
//! when ffmpeg is missing, unless `WMPUSH_INTEROP=require`.

mod network_sink_support;
mod push_sink_support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use network_sink_support as media;
use push_protocol::pull_server::restore_padding;
use push_sink::push_sink::asf_file::AsfFile;
use push_sink::push_sink::{PushSink, PushSinkConfig};
use push_sink::{DataUnit, WriterSink};
use push_sink_support::{Harness, Seen, ServerConfig};

#[test]
fn real_packets_arrive_stripped_and_restore_to_the_original_file() {
    let Some(input) = media::wmv2_input() else {
        return;
    };
    let original = std::fs::read(&input).expect("read input");
    let file = AsfFile::parse(Bytes::from(original.clone())).expect("input parses");
    let server = Harness::start(ServerConfig::default());
    // Unpaced: the whole 10 s file is queued at once, so lift the queue's time bound.
    let config = PushSinkConfig::default().queue_limits(64 << 20, Duration::from_secs(3600));
    let mut sink = PushSink::new(config).expect("sink");
    sink.connect(&server.url("/real"), None, false)
        .expect("connect");
    sink.on_header(file.header()).expect("header");
    let mut stripped_bytes = 0usize;
    for p in file.packets() {
        let (packet, info) = p.expect("packet");
        // The writer's zero-copy path: the packet goes into the sink's own buffer.
        let mut buf: BytesMut = sink.allocate_data_unit(packet.len());
        let headroom = buf.len();
        buf.extend_from_slice(&packet);
        sink.on_data_unit(DataUnit::new(buf, headroom, info).expect("unit"))
            .expect("on_data_unit");
        stripped_bytes += packet.len();
    }
    sink.on_end_writing().expect("end writing");
    sink.end_session().expect("end session");
    assert!(server.wait_for(Duration::from_secs(10), |v| matches!(
        v.last(),
        Some(Seen::End { reason: 0, .. })
    )));
    let seen = server.seen();
    let data: Vec<Vec<u8>> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Data { packet, .. } => Some(packet.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sink.stats().drops, 0);
    assert_eq!(data.len(), file.packet_count());
    let sent: usize = data.iter().map(Vec::len).sum();
    assert!(
        sent < stripped_bytes,
        "padding was stripped ({sent} of {stripped_bytes} bytes)"
    );
    // Reassemble: header as received, then every packet re-padded to the packet size.
    let header = seen
        .iter()
        .find_map(|s| match s {
            Seen::Header { header, .. } => Some(header.clone()),
            _ => None,
        })
        .expect("$H");
    assert_eq!(&header[..], &file.header()[..]);
    let mut rebuilt = header.clone();
    for d in &data {
        let restored =
            restore_padding(&Bytes::from(d.clone()), file.packet_size()).expect("re-pad");
        rebuilt.extend_from_slice(&restored);
    }
    let end = rebuilt.len();
    assert_eq!(
        &rebuilt[..],
        &original[..end],
        "stripping then restoring the padding gives the original bytes"
    );
    let dir = media::scratch("real_media");
    let out = dir.join("rebuilt.asf");
    std::fs::write(&out, &rebuilt).expect("write");
    media::ffmpeg_decodes(&out).expect("rebuilt file decodes");
}
