//! Arbitrary profiles and sample sequences: the packetizer never panics, every packet has the
//! packet size and parses back with asf-format, send times never decrease, the media objects
//! reassemble to the samples, and a file-mode output (fix-up, packets, indexes) parses.
#![no_main]

use asf_format::Limits;
use asf_format::media_object::Reassembler;
use asf_format::packet::PacketView;
use asf_packetizer::{
    Mode, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig, StreamKind,
};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut it = data.iter().copied();
    let mut next = move || it.next();
    let (Some(a), Some(b), Some(c), Some(d)) = (next(), next(), next(), next()) else {
        return;
    };
    // Profile: 1..=4 streams from the first byte; kinds and bitrates from the next.
    let n = usize::from(a % 4) + 1;
    let mut profile = Profile::new();
    for i in 0..n {
        let kind = if (b >> i) & 1 == 1 {
            StreamKind::Audio
        } else {
            StreamKind::Video
        };
        let bitrate = 8_000 * (u32::from(c) + 1) * (i as u32 + 1);
        profile = profile.with_stream(
            StreamConfig::new(i as u8 * 30 + 1, kind, vec![0; 18], bitrate)
                .with_buffer_window(u32::from(d) * 40 + 1),
        );
    }
    let mut o = PacketizerOptions::new(if d & 1 == 0 { Mode::Live } else { Mode::File });
    o.packet_size = 64 + u32::from(a) * 60 + u32::from(b);
    o.preroll = u32::from(c) * 20;
    o.compressed_payloads = b & 0x80 != 0;
    let ps = o.packet_size;
    let Ok(mut p) = Packetizer::new(profile, o) else {
        return;
    };
    let mut samples = Vec::new();
    let mut t = [0u64; 4];
    // Samples: (stream, dt, len hi, len lo, key) records of 5 bytes; fill byte = record index.
    while let (Some(s), Some(dt), Some(hi), Some(lo), Some(k)) =
        (next(), next(), next(), next(), next())
    {
        let si = usize::from(s) % n;
        t[si] += u64::from(dt);
        let len = (usize::from(hi) << 5 | usize::from(lo)) % 9000 + 1;
        samples.push(Sample {
            stream: si as u8 * 30 + 1,
            presentation_time: t[si],
            duration: u32::from(dt),
            keyframe: k & 1 == 1,
            data: Bytes::from(vec![k; len]),
        });
        if samples.len() >= 200 {
            break;
        }
    }
    let mut packets = Vec::new();
    for s in &samples {
        p.push_sample(s.clone(), &mut packets)
            .expect("declared stream, non-empty sample");
    }
    let file_mode = d & 1 == 1;
    let header = p.header().expect("header of a valid profile");
    let end = p.finish(0).expect("first finish");
    packets.extend(end.packets);
    if file_mode {
        // File mode: header fix-up in place + packets + indexes read back as one file.
        let fix = end.fixup.expect("file mode has a fix-up");
        assert_eq!(fix.bytes.len(), header.len());
        let mut file = fix.bytes.to_vec();
        for pk in &packets {
            file.extend_from_slice(pk.bytes());
        }
        file.extend_from_slice(&end.index_objects);
        let f = asf_format::AsfFile::parse(&file, &Limits::default()).expect("output parses");
        assert_eq!(
            f.header.file_properties().map(|fp| fp.data_packets_count),
            Some(packets.len() as u64)
        );
    } else {
        assert!(end.fixup.is_none());
    }
    let mut r = Reassembler::new(Limits::default());
    let mut last = 0;
    let mut objects = Vec::new();
    for pk in &packets {
        assert_eq!(pk.bytes().len(), ps as usize);
        assert!(pk.send_time >= last);
        last = pk.send_time;
        let b = Bytes::copy_from_slice(pk.bytes());
        let v = PacketView::parse(&b, ps, 0).expect("every packet parses back");
        r.push_packet(&b, &v);
        while let Some(obj) = r.poll_object() {
            objects.push(obj);
        }
    }
    r.finish();
    while let Some(obj) = r.poll_object() {
        objects.push(obj);
    }
    assert_eq!(objects.len(), samples.len());
    for stream in (0..n).map(|i| i as u8 * 30 + 1) {
        let a = objects
            .iter()
            .filter(|o| o.stream == stream)
            .map(|o| &o.data);
        let b = samples
            .iter()
            .filter(|s| s.stream == stream)
            .map(|s| &s.data);
        assert!(a.eq(b), "stream {stream} reassembles to its samples");
    }
});
