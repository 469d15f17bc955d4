//! Property tests of `PacketizerMux` under the Writer: for random sample sequences, packet
//! sizes, prerolls and sink sets, every packet has the packet size and consecutive indices,
//! asf-format parses it, a packet flagged as a join point begins a video key frame, and
//! asf-format's reassembler gives back exactly the samples written (stream, bytes, key flag,
//! presentation time + preroll).

use asf_format::Limits;
use asf_format::media_object::Reassembler;
use asf_format::packet::PacketView;
use asf_packetizer::{Mode, Profile, StreamConfig};
use bytes::Bytes;
use proptest::prelude::*;
use push_sink::testing::{RecordingSink, SinkCall};
use push_sink::{PacketInfo, Sample, Writer};

#[derive(Debug, Clone)]
struct Input {
    packet_size: u32,
    preroll: u32,
    live: bool,
    sinks: usize,
    /// (stream 1 = video / 2 = audio, size, key frame)
    samples: Vec<(u16, usize, bool)>,
}

fn input() -> impl Strategy<Value = Input> {
    (
        200u32..4000,
        0u32..5000,
        any::<bool>(),
        1usize..3,
        prop::collection::vec((1u16..=2, 1usize..9000, any::<bool>()), 1..60),
    )
        .prop_map(|(packet_size, preroll, live, sinks, samples)| Input {
            packet_size,
            preroll,
            live,
            sinks,
            samples,
        })
}

fn units(log: &std::sync::Arc<std::sync::Mutex<Vec<SinkCall>>>) -> Vec<(Bytes, PacketInfo)> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|c| match c {
            SinkCall::DataUnit { packet, info, .. } => Some((packet.clone(), *info)),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn packetizer_writer_packets_reassemble_to_the_samples(input in input()) {
        let profile = Profile::new()
            .with_stream(StreamConfig::video_i420(1, 64, 48, 25))
            .with_stream(StreamConfig::pcm(2, 1, 8000, 16));
        let mode = if input.live { Mode::Live } else { Mode::File };
        let mut w = Writer::from_profile(profile, input.packet_size, input.preroll, mode)
            .expect("valid settings");
        let mut logs = Vec::new();
        for i in 0..input.sinks {
            let rec = RecordingSink::new(false, i * 4);
            logs.push(rec.log());
            w.add_sink(Box::new(rec));
        }
        w.begin_writing().expect("begin");
        let mut expected = Vec::new();
        for (i, &(stream, size, key)) in input.samples.iter().enumerate() {
            let data = Bytes::from((0..size).map(|b| (b + i) as u8).collect::<Vec<u8>>());
            let pt = i as u64 * 20;
            expected.push((stream as u8, data.clone(), key, pt as u32 + input.preroll));
            w.write_sample(Sample { stream, presentation_time_ms: pt, duration_ms: 20, key_frame: key, data })
                .expect("sample");
        }
        w.end_writing().expect("end");
        prop_assert!(w.take_sink_failures().is_empty());
        let first = units(&logs[0]);
        prop_assert_eq!(first.len() as u64, w.packets_made());
        for log in &logs[1..] {
            prop_assert_eq!(&units(log), &first);
        }
        let mut r = Reassembler::new(Limits::default());
        let mut got = Vec::new();
        for (i, (p, info)) in first.iter().enumerate() {
            prop_assert_eq!(p.len(), input.packet_size as usize);
            prop_assert_eq!(info.index, i as u64);
            let view = PacketView::parse(p, input.packet_size, 0).expect("asf-format parses");
            prop_assert_eq!(view.send_time(), info.send_time_ms);
            if info.key_frame {
                prop_assert!(view.payloads().any(|pl| pl.stream_number == 1 && pl.key_frame
                    && pl.offset_into_media_object() == Some(0)), "join point {} begins a video key frame", i);
            }
            r.push_packet(p, &view);
            while let Some(o) = r.poll_object() {
                got.push((o.stream, o.data, o.keyframe, o.presentation_time));
            }
        }
        r.finish();
        while let Some(o) = r.poll_object() {
            got.push((o.stream, o.data, o.keyframe, o.presentation_time));
        }
        prop_assert_eq!(r.drops().total(), 0);
        let key = |o: &(u8, Bytes, bool, u32)| (o.3, o.0);
        got.sort_by_key(key);
        expected.sort_by_key(key);
        prop_assert_eq!(got, expected);
    }
}
