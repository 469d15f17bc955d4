//! Send-time scheduling: for random profiles and sample sequences that keep to their declared
//! bitrates, a checker replays every stream's leaky bucket (rate = bitrate, size = buffer
//! window) over the packets' send times and confirms it never overflows, that send times never
//! decrease, and that every payload is sent no later than its presentation time.

use std::collections::HashMap;

use asf_format::packet::PacketView;
use asf_packetizer::{
    Mode, Packet, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig, StreamKind,
};
use bytes::Bytes;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct StreamSpec {
    kind: StreamKind,
    bitrate: u32,
    window: u32,
    interval: u64,
    fill: Vec<u8>, // percent of the per-interval budget each sample uses
}

fn spec() -> impl Strategy<Value = StreamSpec> {
    (
        prop_oneof![
            Just(StreamKind::Audio),
            Just(StreamKind::Video),
            Just(StreamKind::Script)
        ],
        16_000u32..4_000_000,
        500u32..5000,
        prop_oneof![Just(20u64), Just(40), Just(46), Just(100)],
        prop::collection::vec(1u8..=100, 1..120),
    )
        .prop_map(|(kind, bitrate, window, interval, fill)| StreamSpec {
            kind,
            bitrate,
            window,
            interval,
            fill,
        })
}

/// Samples that keep to the rate: each uses at most bitrate × interval of data.
fn samples(specs: &[StreamSpec]) -> Vec<Sample> {
    let mut v = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let budget = (u64::from(s.bitrate) * s.interval / 8000).max(1);
        for (k, f) in s.fill.iter().enumerate() {
            let len = (budget * u64::from(*f) / 100).max(1) as usize;
            v.push(Sample {
                stream: i as u8 + 1,
                presentation_time: k as u64 * s.interval,
                duration: s.interval as u32,
                keyframe: k % 10 == 0,
                data: Bytes::from(vec![k as u8; len]),
            });
        }
    }
    // Interleaved by time, as a writer receives them.
    v.sort_by_key(|s| (s.presentation_time, s.stream));
    v
}

fn check(packets: &[Packet], specs: &[StreamSpec], packet_size: u32) {
    let mut last = 0u64;
    // Per stream: (level in ms of data, time of that level).
    let mut bucket: HashMap<u8, (f64, f64)> = HashMap::new();
    for p in packets {
        assert!(
            p.send_time >= last,
            "send time decreased at packet {}",
            p.index
        );
        last = p.send_time;
        let b = Bytes::copy_from_slice(p.bytes());
        let v = PacketView::parse(&b, packet_size, 0).expect("packet parses");
        let mut bytes: HashMap<u8, usize> = HashMap::new();
        for pl in v.payloads() {
            let pt = pl.presentation_time().expect("replicated data") as u64;
            assert!(
                p.send_time <= pt,
                "packet {} sent at {} after a payload's presentation time {}",
                p.index,
                p.send_time,
                pt
            );
            *bytes.entry(pl.stream_number).or_default() += pl.data.len();
        }
        let s = p.send_time as f64;
        for (stream, n) in bytes {
            let sp = &specs[usize::from(stream) - 1];
            let (level, at) = bucket.get(&stream).copied().unwrap_or((0.0, s));
            let drained = (level - (s - at)).max(0.0);
            let now = drained + n as f64 * 8000.0 / f64::from(sp.bitrate);
            assert!(
                now <= f64::from(sp.window) + 1e-6,
                "stream {stream} bucket overflows at packet {}: {now} ms of data > window {}",
                p.index,
                sp.window
            );
            bucket.insert(stream, (now, s));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn leaky_buckets_hold_and_payloads_are_on_time(
        specs in prop::collection::vec(spec(), 1..4),
        packet_size in prop_oneof![Just(1400u32), Just(3200), Just(8000), 200u32..20_000],
        live in any::<bool>(),
    ) {
        let preroll = specs.iter().map(|s| s.window).max().unwrap_or(3000);
        let profile = Profile {
            streams: specs
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    StreamConfig::new(i as u8 + 1, s.kind, Vec::new(), s.bitrate)
                        .with_buffer_window(s.window)
                })
                .collect(),
            ..Profile::default()
        };
        let mut o = PacketizerOptions::new(if live { Mode::Live } else { Mode::File });
        o.packet_size = packet_size;
        o.preroll = preroll;
        let mut p = Packetizer::new(profile, o).expect("valid profile");
        let mut out = Vec::new();
        for s in samples(&specs) {
            p.push_sample(s, &mut out).expect("push");
        }
        out.extend(p.finish(0).expect("finish").packets);
        check(&out, &specs, packet_size);
        prop_assert_eq!(p.stats().late_payloads, 0);
    }
}
