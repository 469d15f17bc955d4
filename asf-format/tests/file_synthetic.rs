//! Whole-file behaviour on files built in code (and, when `ffmpeg` is on PATH, made by
//! ffmpeg into a temporary directory): broadcast Data Object sizes, trailers, junk,
//! truncation, fix(), and validate findings.

use asf_format::file::{DataSection, TopLevelObject};
use asf_format::objects::{
    AudioSpread, FileProperties, HeaderExtension, HeaderObject, StreamProperties, WaveFormatEx,
};
use asf_format::{AsfFile, AsfObject, Guid, Header, Limits, Severity, guids, validate};
use bytes::Bytes;

const PACKET: usize = 64;
const FILE_ID: Guid = Guid([0x42; 16]);

fn packet(send_time: u32) -> Vec<u8> {
    // ASF 5.2: EC 82 00 00, length type flags 0 (single payload, no optional lengths),
    // property flags 0x5D, send time, duration; then one payload: stream 1 (key), media
    // object 0, offset 0, 8 bytes of replicated data (object size, presentation time), and
    // the payload data up to the packet size.
    let mut p = vec![0x82, 0, 0, 0x00, 0x5D];
    p.extend_from_slice(&send_time.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&[0x81, 0, 0, 0, 0, 0, 8]);
    let data_len = (PACKET - p.len() - 8) as u32;
    p.extend_from_slice(&data_len.to_le_bytes());
    p.extend_from_slice(&(send_time + 3100).to_le_bytes());
    p.resize(PACKET, 0xAB);
    p
}

fn header(packets: u64, flags: u32) -> Header {
    let wf = WaveFormatEx {
        format_tag: 0x0161,
        channels: 2,
        samples_per_sec: 44100,
        avg_bytes_per_sec: 16000,
        block_align: 0x1000,
        bits_per_sample: 16,
        codec_data: Some(vec![0, 0, 0, 0, 1, 0, 0, 0, 0, 0]),
        trailing: vec![],
    };
    let spread = AudioSpread {
        span: 1,
        virtual_packet_length: 0x1000,
        virtual_chunk_length: 0x1000,
        silence_data: vec![0],
        trailing: vec![],
    };
    let mut sp = StreamProperties {
        stream_type: guids::AUDIO_MEDIA,
        error_correction_type: guids::AUDIO_SPREAD,
        type_specific_data: wf.to_bytes(),
        error_correction_data: spread.to_bytes(),
        ..Default::default()
    };
    sp.set_stream_number(1);
    let fp = FileProperties {
        file_id: FILE_ID,
        data_packets_count: packets,
        play_duration: 31_000_000,
        preroll: 3100,
        flags,
        min_packet_size: PACKET as u32,
        max_packet_size: PACKET as u32,
        max_bitrate: 128_000,
        ..Default::default()
    };
    let mut h = Header {
        objects: vec![
            HeaderObject::FileProperties(fp),
            HeaderObject::HeaderExtension(HeaderExtension::default()),
            HeaderObject::StreamProperties(sp),
        ],
        ..Default::default()
    };
    h.fix();
    h
}

fn data_body(packets: &[Vec<u8>], total: u64) -> Vec<u8> {
    let mut b = FILE_ID.0.to_vec();
    b.extend_from_slice(&total.to_le_bytes());
    b.extend_from_slice(&0x0101u16.to_le_bytes());
    for p in packets {
        b.extend_from_slice(p);
    }
    b
}

fn file_bytes(h: &Header, data_size: Option<u64>, packets: &[Vec<u8>], total: u64) -> Vec<u8> {
    let mut out = h.to_bytes();
    let body = data_body(packets, total);
    out.extend_from_slice(guids::DATA.as_bytes());
    out.extend_from_slice(&data_size.unwrap_or(24 + body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn parse(b: &[u8]) -> AsfFile {
    let f = AsfFile::parse(b, &Limits::default()).expect("parses");
    assert!(f.to_bytes() == b, "round trip");
    assert_eq!(f.encoded_len(), b.len() as u64);
    f
}

fn errors(f: &AsfFile) -> Vec<String> {
    validate(f)
        .into_iter()
        .filter(|x| x.severity == Severity::Error)
        .map(|x| x.to_string())
        .collect()
}

#[test]
fn built_file_round_trips_and_validates_clean() {
    let packets: Vec<_> = (0..5).map(|i| packet(i * 100)).collect();
    let h = header(5, FileProperties::SEEKABLE);
    let mut bytes = file_bytes(&h, None, &packets, 5);
    // Set File Size now that it is known.
    let n = bytes.len() as u64;
    let mut h2 = h.clone();
    h2.file_properties_mut().expect("fp").file_size = n;
    let hb = h2.to_bytes();
    bytes[..hb.len()].copy_from_slice(&hb);
    let f = parse(&bytes);
    assert_eq!(f.header, h2);
    assert!(validate(&f).is_empty(), "{:?}", validate(&f));
    let d = f.data().expect("data");
    assert_eq!(d.file_id(), Some(FILE_ID));
    assert_eq!(d.total_data_packets(), Some(5));
    assert_eq!(d.packets().len(), 5 * PACKET);
    assert_eq!(f.header.packet_size(), Some(PACKET as u32));
    let times: Vec<u32> = f
        .packets()
        .map(|p| p.expect("packet").send_time())
        .collect();
    assert_eq!(times, vec![0, 100, 200, 300, 400]);
    assert_eq!(d.header().expect("data header").total_data_packets, 5);
    assert_eq!(f.header.preroll_ms(), Some(3100));
    let sp = f.header.stream(1).expect("stream 1");
    assert_eq!(sp.audio_format().expect("wfx").format_tag, 0x0161);
    assert_eq!(sp.audio_spread().expect("spread").span, 1);
}

#[test]
fn broadcast_data_object_sizes_run_to_end() {
    let packets: Vec<_> = (0..3).map(|i| packet(i * 10)).collect();
    let h = header(0, FileProperties::BROADCAST | FileProperties::SEEKABLE);
    for size in [0u64, 50] {
        let bytes = file_bytes(&h, Some(size), &packets, 0);
        let f = parse(&bytes);
        let d = f.data().expect("data");
        assert_eq!(d.size_field, size);
        assert_eq!(d.packets().len(), 3 * PACKET, "size {size}");
        assert!(f.truncated.is_none());
        assert!(errors(&f).is_empty(), "size {size}: {:?}", errors(&f));
    }
    // Size 0 without the Broadcast flag is an error finding, but still parses.
    let h = header(3, 0);
    let f = parse(&file_bytes(&h, Some(0), &packets, 3));
    assert!(errors(&f).iter().any(|e| e.contains("Object Size 0")));
}

#[test]
fn empty_data_object_followed_by_index_and_ffmpeg_trailer() {
    let h = header(0, 0);
    let mut bytes = file_bytes(&h, None, &[], 0);
    // A Simple Index with no entries, then FFmpeg's 12-byte `$E` end chunk.
    let mut idx = vec![0u8; 32];
    idx[16..24].copy_from_slice(&10_000_000u64.to_le_bytes());
    bytes.extend_from_slice(guids::SIMPLE_INDEX.as_bytes());
    bytes.extend_from_slice(&(24 + idx.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&idx);
    bytes.extend_from_slice(&[0x24, 0x45, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0x08, 0x00]);
    let f = parse(&bytes);
    assert_eq!(f.objects.len(), 3);
    assert!(matches!(&f.objects[0], TopLevelObject::Data(d) if d.size_field == 50));
    assert!(matches!(
        &f.objects[1],
        TopLevelObject::Index(asf_format::index::IndexObject::Simple(_))
    ));
    assert!(matches!(&f.objects[2], TopLevelObject::Junk(j) if j.len() == 12));
    assert_eq!(f.index_objects().count(), 1);
}

#[test]
fn junk_between_header_and_data_is_kept() {
    let packets = vec![packet(0)];
    let h = header(1, 0);
    let plain = file_bytes(&h, None, &packets, 1);
    let hl = h.encoded_len() as usize;
    let mut bytes = plain[..hl].to_vec();
    bytes.extend_from_slice(&[0u8; 40]);
    bytes.extend_from_slice(&plain[hl..]);
    let f = parse(&bytes);
    assert!(matches!(&f.objects[0], TopLevelObject::Junk(j) if j.len() == 40));
    assert!(matches!(&f.objects[1], TopLevelObject::Data(_)));
    assert!(
        errors(&f)
            .iter()
            .any(|e| e.contains("does not directly follow"))
    );
}

#[test]
fn truncated_data_object_is_reported() {
    let packets: Vec<_> = (0..4).map(|i| packet(i * 10)).collect();
    let h = header(4, 0);
    let bytes = file_bytes(&h, None, &packets, 4);
    let cut = &bytes[..bytes.len() - 100];
    let f = parse(cut);
    let t = f.truncated.expect("truncated");
    assert_eq!(t.object, "Data Object");
    assert_eq!(t.offset, h.encoded_len());
    assert_eq!(t.declared_size - t.available, 100);
    assert!(errors(&f).iter().any(|e| e.contains("input ends inside")));
}

#[test]
fn validate_reports_spec_violations() {
    let mut packets: Vec<_> = (0..3).map(|i| packet(1000 - i * 10)).collect();
    packets.push(packet(5000));
    let mut h = header(4, 0);
    {
        let fp = h.file_properties_mut().expect("fp");
        fp.min_packet_size = 1;
    }
    h.object_count = 9;
    h.reserved2 = 7;
    let f = parse(&file_bytes(&h, None, &packets, 4));
    let all: Vec<String> = validate(&f).iter().map(|x| x.to_string()).collect();
    let has = |s: &str| all.iter().any(|m| m.contains(s));
    assert!(has("Minimum Data Packet Size 1 differs"), "{all:?}");
    assert!(has("Number of Header Objects is 9"), "{all:?}");
    assert!(has("Reserved2"), "{all:?}");
    assert!(has("Send Time 990 ms is before"), "{all:?}");
    // fix() recomputes the count; the finding goes away.
    let mut f2 = f.clone();
    f2.fix();
    assert_eq!(f2.header.object_count, 3);
    assert!(
        !validate(&f2)
            .iter()
            .any(|x| x.message.contains("Number of Header Objects"))
    );

    // No streams, no File Properties: mandatory-object errors.
    let empty = Header::default();
    let f = parse(&file_bytes(&empty, None, &[], 0));
    let e = errors(&f);
    assert!(e.iter().any(|m| m.contains("no File Properties")), "{e:?}");
    assert!(
        e.iter().any(|m| m.contains("no Stream Properties")),
        "{e:?}"
    );
}

#[test]
fn not_asf_is_a_clear_error() {
    let e = AsfFile::parse(b"RIFF....WAVEfmt ", &Limits::default()).expect_err("not asf");
    assert!(e.to_string().contains("Truncated") || e.offset().is_some());
    let mut junk = vec![0u8; 64];
    junk[0] = 1;
    let e = AsfFile::parse(&junk, &Limits::default()).expect_err("not asf");
    assert_eq!(e.offset(), Some(0));
    assert!(e.to_string().contains("Header Object"));
}

#[test]
fn data_section_accessors_on_short_bodies() {
    let d = DataSection {
        size_field: 0,
        body: Bytes::from_static(&[1, 2, 3]),
    };
    assert_eq!(d.file_id(), None);
    assert_eq!(d.total_data_packets(), None);
    assert!(d.packets().is_empty());
}

/// Runs ffmpeg (when on PATH) into a temporary directory; `None` when ffmpeg is missing.
fn ffmpeg(args: &[&str], out: &std::path::Path, to_pipe: bool) -> Option<Vec<u8>> {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args);
    if to_pipe {
        cmd.arg("pipe:1");
        let o = cmd.output().ok()?;
        assert!(o.status.success(), "ffmpeg failed");
        return Some(o.stdout);
    }
    cmd.arg(out);
    let st = cmd.status().ok()?;
    assert!(st.success(), "ffmpeg failed");
    Some(std::fs::read(out).expect("read ffmpeg output"))
}

#[test]
fn ffmpeg_files_round_trip() {
    let dir = std::env::temp_dir().join(format!("asf-format-a-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let src = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=15:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=22050:duration=2",
        "-c:v",
        "wmv2",
        "-b:v",
        "200k",
        "-c:a",
        "wmav2",
        "-b:a",
        "64k",
        "-ac",
        "1",
        "-metadata",
        "title=Test title",
        "-metadata",
        "artist=wmpush",
        "-f",
        "asf",
    ];
    let Some(seekable) = ffmpeg(&src, &dir.join("a.asf"), false) else {
        println!("skip: ffmpeg not on PATH");
        return;
    };
    let f = parse(&seekable);
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
    let h = &f.header;
    assert_eq!(h.stream_properties().len(), 2);
    let v = h
        .stream_properties()
        .into_iter()
        .find_map(|s| s.video_format())
        .expect("video");
    assert_eq!((v.encoded_width, v.encoded_height), (160, 120));
    assert_eq!(&v.compression, b"WMV2");
    let cd = h.content_description().expect("content description");
    assert_eq!(cd.title.to_string_lossy(), "Test title");
    assert_eq!(cd.author.to_string_lossy(), "wmpush");
    assert!(h.codec_list().is_some_and(|c| c.entries.len() == 2));
    assert_eq!(
        f.index_objects().count(),
        1,
        "ffmpeg writes one Simple Index"
    );
    assert!(f.truncated.is_none());

    // Non-seekable output: broadcast-style header, and the `$E` trailer.
    let piped = ffmpeg(&src, &dir.join("unused"), true).expect("ffmpeg ran once already");
    let f = parse(&piped);
    assert!(f.header.is_broadcast());
    assert!(f.data().is_some_and(|d| d.size_field == 50));
    assert_eq!(
        f.index_objects().count(),
        1,
        "the Simple Index is still written"
    );
    assert!(matches!(f.objects.last(), Some(TopLevelObject::Junk(j)) if j.starts_with(b"$E")));
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));

    // Chapters and two audio languages: Marker, Language List, Extended Stream Properties
    // and Group Mutual Exclusion in the Header Extension.
    let chapters = dir.join("chapters.txt");
    std::fs::write(
        &chapters,
        ";FFMETADATA1\ntitle=Chapters\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=One\n\
         [CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n",
    )
    .expect("write chapters");
    let chapters = chapters.to_string_lossy().into_owned();
    let rich = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=15:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=22050:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=500:sample_rate=22050:duration=2",
        "-i",
        chapters.as_str(),
        "-map",
        "0",
        "-map",
        "1",
        "-map",
        "2",
        "-map_metadata",
        "3",
        "-map_chapters",
        "3",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=fra",
        "-c:v",
        "wmv2",
        "-c:a",
        "wmav2",
        "-ac",
        "1",
        "-b:a",
        "32k",
        "-f",
        "asf",
    ];
    let bytes = ffmpeg(&rich, &dir.join("rich.asf"), false).expect("ffmpeg");
    let f = parse(&bytes);
    let h = &f.header;
    let marker = h
        .all_objects()
        .find_map(|o| match o {
            HeaderObject::Marker(m) => Some(m),
            _ => None,
        })
        .expect("Marker from chapters");
    let names: Vec<String> = marker
        .markers
        .iter()
        .map(|m| m.description.to_string_lossy())
        .collect();
    assert_eq!(names, ["One", "Two"]);
    assert!(marker.markers[1].presentation_time > marker.markers[0].presentation_time);
    let langs = h
        .all_objects()
        .find_map(|o| match o {
            HeaderObject::LanguageList(l) => Some(l),
            _ => None,
        })
        .expect("Language List");
    assert_eq!(langs.languages.len(), 2);
    assert!(
        h.all_objects()
            .any(|o| matches!(o, HeaderObject::GroupMutualExclusion(_)))
    );
    assert_eq!(h.stream_properties().len(), 3);
    // Observed: ffmpeg does not count the Marker in Number of Header Objects; validate
    // reports it and fix() corrects it.
    let miscounted = validate(&f)
        .iter()
        .any(|x| x.message.contains("Number of Header Objects"));
    let mut fixed = f.clone();
    fixed.fix();
    assert_eq!(
        fixed.header.object_count as usize,
        fixed.header.objects.len()
    );
    assert_eq!(
        miscounted,
        f.header.object_count != fixed.header.object_count
    );
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn index_objects_are_checked_against_the_header() {
    let packets: Vec<_> = (0..2).map(|i| packet(i * 10)).collect();
    let mut h = header(2, FileProperties::SEEKABLE);
    h.header_extension_mut()
        .objects
        .push(HeaderObject::IndexParameters(
            asf_format::objects::IndexParameters {
                interval: 1000,
                specifiers: vec![asf_format::objects::IndexSpecifier {
                    stream_number: 1,
                    index_type: 3,
                }],
                trailing: vec![],
            },
        ));
    h.fix();
    let mut bytes = file_bytes(&h, None, &packets, 2);
    // Simple Index: Maximum Packet Count 1 but an entry spans 3 packets, and an entry
    // pointing at packet 9 of 2.
    let mut si = FILE_ID.0.to_vec();
    si.extend_from_slice(&10_000_000u64.to_le_bytes());
    si.extend_from_slice(&1u32.to_le_bytes());
    si.extend_from_slice(&2u32.to_le_bytes());
    si.extend_from_slice(&0u32.to_le_bytes());
    si.extend_from_slice(&3u16.to_le_bytes());
    si.extend_from_slice(&9u32.to_le_bytes());
    si.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(guids::SIMPLE_INDEX.as_bytes());
    bytes.extend_from_slice(&(24 + si.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&si);
    // Index Object with interval 500 (parameters say 1000), one specifier, no blocks.
    let mut io = 500u32.to_le_bytes().to_vec();
    io.extend_from_slice(&1u16.to_le_bytes());
    io.extend_from_slice(&0u32.to_le_bytes());
    io.extend_from_slice(&1u16.to_le_bytes());
    io.extend_from_slice(&3u16.to_le_bytes());
    bytes.extend_from_slice(guids::INDEX.as_bytes());
    bytes.extend_from_slice(&(24 + io.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&io);
    let f = parse(&bytes);
    assert_eq!(f.index_objects().count(), 2, "{:?}", validate(&f));
    let all: Vec<String> = validate(&f).iter().map(|x| x.to_string()).collect();
    let has = |s: &str| all.iter().any(|m| m.contains(s));
    assert!(has("Maximum Packet Count 1 is below"), "{all:?}");
    assert!(has("entry points at packet 9 of 2"), "{all:?}");
    assert!(has("differ from its parameters object"), "{all:?}");
}

#[test]
fn truncated_index_object_is_reported() {
    let packets = vec![packet(0)];
    let h = header(1, 0);
    let mut bytes = file_bytes(&h, None, &packets, 1);
    let data_end = bytes.len();
    let mut si = FILE_ID.0.to_vec();
    si.extend_from_slice(&10_000_000u64.to_le_bytes());
    si.extend_from_slice(&1u32.to_le_bytes());
    si.extend_from_slice(&1u32.to_le_bytes());
    si.extend_from_slice(&0u32.to_le_bytes());
    si.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(guids::SIMPLE_INDEX.as_bytes());
    bytes.extend_from_slice(&(24 + si.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&si);
    let cut = &bytes[..bytes.len() - 3];
    let f = parse(cut);
    let t = f.truncated.expect("truncated");
    assert_eq!(t.object, "Simple Index Object");
    assert_eq!(t.offset as usize, data_end);
    assert_eq!(t.declared_size - t.available, 3);
    assert!(matches!(f.objects.last(), Some(TopLevelObject::Junk(_))));
    assert!(errors(&f).iter().any(|e| e.contains("input ends inside")));
    // The whole file has its index.
    assert_eq!(parse(&bytes).index_objects().count(), 1);
}
