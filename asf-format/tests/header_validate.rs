//! validate() on headers built from the model: cross-references between header objects.

use asf_format::objects::*;
use asf_format::strings::WString;
use asf_format::{AsfFile, AsfObject, Guid, Header, Limits, Severity, guids, validate};

fn file_with(extra: Vec<HeaderObject>, ext: Vec<HeaderObject>) -> AsfFile {
    let wf = WaveFormatEx {
        format_tag: 0x0161,
        channels: 1,
        codec_data: Some(vec![]),
        ..Default::default()
    };
    let sp = StreamProperties::audio(1, &wf, None);
    let fp = FileProperties {
        min_packet_size: 100,
        max_packet_size: 100,
        max_bitrate: 1,
        ..Default::default()
    };
    let mut objects = vec![
        HeaderObject::FileProperties(fp),
        HeaderObject::StreamProperties(sp),
        HeaderObject::HeaderExtension(HeaderExtension {
            objects: ext,
            ..Default::default()
        }),
    ];
    objects.extend(extra);
    let mut h = Header {
        objects,
        ..Default::default()
    };
    h.fix();
    let mut bytes = h.to_bytes();
    bytes.extend_from_slice(guids::DATA.as_bytes());
    bytes.extend_from_slice(&50u64.to_le_bytes());
    bytes.extend_from_slice(&[0; 24]);
    bytes.extend_from_slice(&[1, 1]);
    let f = AsfFile::parse(&bytes, &Limits::default()).expect("parses");
    assert!(f.to_bytes() == bytes);
    f
}

fn messages(f: &AsfFile) -> Vec<String> {
    validate(f).iter().map(|x| x.to_string()).collect()
}

#[test]
fn clean_minimal_header_has_no_findings() {
    let f = file_with(vec![], vec![]);
    assert!(validate(&f).is_empty(), "{:?}", messages(&f));
}

#[test]
fn dangling_stream_references_are_reported() {
    let esp = ExtendedStreamProperties {
        stream_number: 5,
        stream_language_index: 3,
        ..Default::default()
    };
    let langs = LanguageList {
        languages: vec![WString::new("en-us")],
        trailing: vec![],
    };
    let sbp = StreamBitrateProperties {
        records: vec![BitrateRecord {
            flags: 9,
            average_bitrate: 1000,
        }],
        trailing: vec![],
    };
    let mutex = BitrateMutualExclusion {
        exclusion_type: guids::MUTEX_BITRATE,
        stream_numbers: vec![1, 7],
        trailing: vec![],
    };
    let f = file_with(
        vec![
            HeaderObject::StreamBitrateProperties(sbp),
            HeaderObject::BitrateMutualExclusion(mutex),
        ],
        vec![
            HeaderObject::LanguageList(langs),
            HeaderObject::ExtendedStreamProperties(esp),
        ],
    );
    let m = messages(&f);
    let has = |s: &str| m.iter().any(|x| x.contains(s));
    assert!(has("stream 5 has no Stream Properties"), "{m:?}");
    assert!(has("Stream Language ID Index 3 is outside"), "{m:?}");
    assert!(has("bitrate record for stream 9"), "{m:?}");
    assert!(has("lists stream 7"), "{m:?}");
    assert!(validate(&f).iter().all(|x| x.severity == Severity::Warning));
}

#[test]
fn hidden_stream_in_extended_stream_properties_counts_as_defined() {
    let mut hidden = StreamProperties {
        stream_type: guids::BINARY_MEDIA,
        ..Default::default()
    };
    hidden.set_stream_number(2);
    let esp = ExtendedStreamProperties {
        stream_number: 2,
        stream_properties: Some(hidden),
        ..Default::default()
    };
    let f = file_with(vec![], vec![HeaderObject::ExtendedStreamProperties(esp)]);
    assert!(validate(&f).is_empty(), "{:?}", messages(&f));
    assert_eq!(f.header.stream_properties().len(), 2);
    assert!(f.header.stream(2).is_some());
    assert!(f.header.extended_stream_properties(2).is_some());
}

#[test]
fn script_commands_and_metadata_fields_are_checked() {
    let sc = ScriptCommand {
        command_types: vec![WString::new("URL")],
        commands: vec![ScriptCommandEntry {
            presentation_time: 0,
            type_index: 4,
            name: WString::new("http://example.invalid/"),
        }],
        ..Default::default()
    };
    let md = Metadata {
        records: vec![MetadataRecord {
            language_index: 1,
            stream_number: 1,
            name: WString::new("AspectRatioX"),
            value: TypedValue::dword(1),
        }],
        trailing: vec![],
    };
    let f = file_with(
        vec![HeaderObject::ScriptCommand(sc)],
        vec![HeaderObject::Metadata(md)],
    );
    let m = messages(&f);
    assert!(
        m.iter().any(|x| x.contains("command type index 4")),
        "{m:?}"
    );
    assert!(
        m.iter().any(|x| x.contains("Reserved field is not 0")),
        "{m:?}"
    );
    // The metadata accessor finds the record.
    let md = f
        .header
        .all_objects()
        .find_map(|o| match o {
            HeaderObject::Metadata(m) => Some(m),
            _ => None,
        })
        .expect("metadata");
    assert_eq!(
        md.get(1, "AspectRatioX").map(TypedValue::decode),
        Some(Value::Dword(1))
    );
}

#[test]
fn invalid_and_unknown_children_are_kept_and_reported() {
    // A File Properties Object with a body too short to parse, and an unknown object.
    let mut short_fp = guids::FILE_PROPERTIES.0.to_vec();
    short_fp.extend_from_slice(&30u64.to_le_bytes());
    short_fp.extend_from_slice(&[0; 6]);
    let (invalid, _) = HeaderObject::parse(&short_fp, 0, &Limits::default(), false).expect("frame");
    assert!(matches!(invalid, HeaderObject::Invalid(_)));
    let unknown = HeaderObject::Unknown(asf_format::RawObject {
        guid: Guid([0xEE; 16]),
        data: bytes::Bytes::from_static(b"xyz"),
    });
    let f = file_with(vec![invalid, unknown], vec![]);
    let m = messages(&f);
    assert!(
        m.iter()
            .any(|x| x.contains("kept raw") && x.contains("File Properties")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| x.contains("2 File Properties Objects") || x.contains("kept raw"))
    );
    assert_eq!(f.header.objects.len(), 5);
    assert_eq!(f.header.objects[4].name(), "unknown object");
    assert_eq!(f.header.objects[4].encoded_len(), 27);
    let _ = FileProperties::NAME;
}

#[test]
fn constructors_build_a_valid_header() {
    let wf = WaveFormatEx {
        format_tag: 0x0161,
        channels: 2,
        samples_per_sec: 44100,
        avg_bytes_per_sec: 16000,
        block_align: 2973,
        bits_per_sample: 16,
        codec_data: Some(vec![0; 10]),
        trailing: vec![],
    };
    let audio = StreamProperties::audio(1, &wf, Some(&AudioSpread::no_interleave(2973)));
    let vf = VideoFormat::new(640, 480, *b"WMV2", vec![1, 2, 3, 4]);
    assert_eq!(vf.format_data_size, 44);
    assert_eq!(vf.bi_size, 44);
    let video = StreamProperties::video(2, &vf);
    let mut h = Header {
        objects: vec![
            HeaderObject::FileProperties(FileProperties {
                min_packet_size: 3200,
                max_packet_size: 3200,
                max_bitrate: 1_000_000,
                ..Default::default()
            }),
            HeaderObject::StreamProperties(audio),
            HeaderObject::StreamProperties(video),
            HeaderObject::ContentDescription(ContentDescription::new("T", "A", "", "", "")),
            HeaderObject::CodecList(CodecList {
                entries: vec![
                    CodecEntry::new(
                        2,
                        "Windows Media Audio V8",
                        "128 kbps",
                        &0x0161u16.to_le_bytes(),
                    ),
                    CodecEntry::new(1, "Windows Media Video 8", "", b"WMV2"),
                ],
                ..Default::default()
            }),
        ],
        ..Default::default()
    };
    // No Header Extension yet: header_extension_mut appends one.
    h.header_extension_mut()
        .objects
        .push(HeaderObject::Compatibility(Compatibility::default()));
    assert_eq!(h.objects.len(), 6);
    h.header_extension_mut().objects.push(HeaderObject::Padding(
        Padding::with_total_len(100).expect("len"),
    ));
    assert_eq!(h.objects.len(), 6, "the existing extension is reused");
    h.fix();
    let bytes = h.to_bytes();
    let (back, _) = Header::parse(&bytes, 0, &Limits::default()).expect("parses");
    assert_eq!(back, h);
    let s1 = back.stream(1).expect("audio");
    assert_eq!(s1.audio_format(), Some(wf));
    assert_eq!(
        s1.audio_spread().map(|s| s.virtual_packet_length),
        Some(2973)
    );
    let s2 = back.stream(2).expect("video");
    assert_eq!(s2.video_format(), Some(vf));
    assert_eq!(
        back.content_description()
            .map(|c| c.title.to_string_lossy()),
        Some("T".to_string())
    );
    assert_eq!(
        back.content_description().map(|c| c.copyright.len_bytes()),
        Some(0)
    );
    let codecs = back.codec_list().expect("codec list");
    assert_eq!(
        codecs.entries[1].name.to_string_lossy(),
        "Windows Media Video 8"
    );
}

#[test]
fn checked_serialization_refuses_fields_that_do_not_fit() {
    // A Content Description title longer than its WORD byte length can say.
    let long = "x".repeat(40_000);
    let cd = ContentDescription::new(&long, "", "", "", "");
    assert!(matches!(
        cd.to_bytes_checked(),
        Err(asf_format::Error::InvalidArgument(_))
    ));
    let ok = ContentDescription::new("short", "", "", "", "");
    assert_eq!(ok.to_bytes_checked().expect("fits"), ok.to_bytes());
    // A whole header with the oversized object inside is refused too.
    let h = Header {
        objects: vec![HeaderObject::ContentDescription(cd)],
        ..Default::default()
    };
    assert!(h.to_bytes_checked().is_err());
}

#[test]
fn small_accessors() {
    let fp = FileProperties {
        play_duration: 31_000_000 + 20_000_000,
        preroll: 3100,
        flags: FileProperties::SEEKABLE,
        min_packet_size: 10,
        max_packet_size: 12,
        ..Default::default()
    };
    assert_eq!(fp.duration_100ns(), 20_000_000);
    assert!(fp.is_seekable() && !fp.is_broadcast());
    assert_eq!(fp.packet_size(), None, "min != max");
    let mut sp = StreamProperties {
        flags: 0x8000,
        ..Default::default()
    };
    sp.set_stream_number(0x85);
    assert_eq!(sp.stream_number(), 5);
    assert!(sp.is_encrypted());
    assert!(!sp.is_audio() && !sp.is_video());
    assert_eq!(sp.audio_format(), None);
    let ecd = ExtendedContentDescription {
        descriptors: vec![ContentDescriptor {
            name: WString::new("WM/AlbumTitle"),
            value: TypedValue::string("Album"),
        }],
        trailing: vec![],
    };
    assert_eq!(
        ecd.get("WM/AlbumTitle").map(TypedValue::decode),
        Some(Value::String("Album".into()))
    );
    assert_eq!(ecd.get("WM/Genre"), None);
    let lib = MetadataLibrary {
        records: vec![MetadataRecord {
            stream_number: 0,
            name: WString::new("WM/Picture"),
            value: TypedValue::bytes(&[1, 2, 3]),
            ..Default::default()
        }],
        trailing: vec![],
    };
    assert_eq!(lib.get(0, "WM/Picture").map(|v| v.data.len()), Some(3));
    assert_eq!(lib.get(1, "WM/Picture"), None);
    assert_eq!(WString::new_unterminated("ab").to_string_lossy(), "ab");
    assert_eq!(
        guids::name_of(&guids::INDEX_PLACEHOLDER),
        Some("Index Placeholder Object")
    );
    // Opaque objects: encryption objects are kept raw, not Unknown.
    let mut raw = guids::CONTENT_ENCRYPTION.0.to_vec();
    raw.extend_from_slice(&28u64.to_le_bytes());
    raw.extend_from_slice(b"DRM!");
    let (o, _) = HeaderObject::parse(&raw, 0, &Limits::default(), false).expect("frame");
    assert!(matches!(o, HeaderObject::Opaque(_)));
    assert_eq!(o.name(), "Content Encryption Object");
    let _ = Guid::ZERO;
}

#[test]
fn limits_bound_children_and_entries() {
    // 10 padding children with a limit of 4 children: LimitExceeded with an offset.
    let h = Header {
        objects: (0..10)
            .map(|_| HeaderObject::Padding(Padding::default()))
            .collect(),
        ..Default::default()
    };
    let bytes = h.to_bytes();
    let mut limits = Limits::default();
    limits.max_header_objects = 4;
    let e = Header::parse(&bytes, 0, &limits).expect_err("too many children");
    assert!(
        matches!(
            e,
            asf_format::Error::LimitExceeded {
                offset: 126,
                limit: 4,
                ..
            }
        ),
        "{e}"
    );
    assert!(Header::parse(&bytes, 0, &Limits::default()).is_ok());

    // A codec list of 3 entries with max_entries 2.
    let cl = CodecList {
        entries: vec![CodecEntry::new(1, "a", "", b""); 3],
        ..Default::default()
    };
    let mut limits = Limits::default();
    limits.max_entries = 2;
    let e = CodecList::parse(&cl.to_bytes(), 0, &limits).expect_err("too many entries");
    assert!(
        matches!(
            e,
            asf_format::Error::LimitExceeded {
                offset: 44,
                value: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn stream_type_specific_data_is_checked() {
    // Audio with 5 bytes of type-specific data, video with a wrong Format Data Size, and an
    // Audio Spread with span 0.
    let mut audio = StreamProperties {
        stream_type: guids::AUDIO_MEDIA,
        type_specific_data: vec![1, 2, 3, 4, 5],
        error_correction_type: guids::AUDIO_SPREAD,
        error_correction_data: AudioSpread {
            span: 0,
            ..AudioSpread::no_interleave(100)
        }
        .to_bytes(),
        ..Default::default()
    };
    audio.set_stream_number(3);
    let mut vf = VideoFormat::new(16, 16, *b"WMV3", vec![9; 4]);
    vf.format_data_size = 40;
    let video = StreamProperties::video(4, &vf);
    let f = file_with(
        vec![
            HeaderObject::StreamProperties(audio),
            HeaderObject::StreamProperties(video),
        ],
        vec![],
    );
    let m = messages(&f);
    let has = |s: &str| m.iter().any(|x| x.contains(s));
    assert!(
        has("stream 3: audio type-specific data is not a WAVEFORMATEX"),
        "{m:?}"
    );
    assert!(
        has("stream 3: Audio Spread span and virtual chunk length"),
        "{m:?}"
    );
    assert!(
        has("stream 4: Format Data Size 40 but the format block is 44"),
        "{m:?}"
    );
}

#[test]
fn findings_are_in_file_order() {
    let esp = ExtendedStreamProperties {
        stream_number: 5,
        ..Default::default()
    };
    let f = file_with(
        vec![HeaderObject::Unknown(asf_format::RawObject {
            guid: Guid([0xEE; 16]),
            data: bytes::Bytes::new(),
        })],
        vec![HeaderObject::ExtendedStreamProperties(esp)],
    );
    let mut h = f.header.clone();
    h.reserved2 = 9;
    let f = AsfFile { header: h, ..f };
    let offsets: Vec<u64> = validate(&f).iter().map(|x| x.offset).collect();
    assert!(offsets.len() >= 2, "{offsets:?}");
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "{offsets:?}");
}

#[test]
fn payload_extension_sizes_are_checked() {
    let esp = ExtendedStreamProperties {
        stream_number: 1,
        payload_extension_systems: vec![
            PayloadExtensionSystem {
                system_id: guids::PAYLOAD_EXT_SAMPLE_DURATION,
                data_size: 2,
                info: vec![],
            },
            PayloadExtensionSystem {
                system_id: guids::PAYLOAD_EXT_PIXEL_ASPECT_RATIO,
                data_size: 4,
                info: vec![],
            },
        ],
        ..Default::default()
    };
    let f = file_with(vec![], vec![HeaderObject::ExtendedStreamProperties(esp)]);
    let m = messages(&f);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].contains("Pixel Aspect Ratio has data size 4, expected 2"),
        "{m:?}"
    );
}
