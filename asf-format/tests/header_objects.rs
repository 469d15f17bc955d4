//! Property tests for every header object: arbitrary model -> bytes -> model is the
//! identity, `encoded_len()` equals the bytes written, and the `HeaderObject` dispatch gives
//! back the same typed object. Also arbitrary bytes -> model -> bytes for the decoders.

use std::fmt::Debug;

use asf_format::objects::*;
use asf_format::strings::WString;
use asf_format::{AsfObject, Guid, Header, Limits};
use proptest::collection::vec;
use proptest::prelude::*;

fn check<T: AsfObject + PartialEq + Debug + Clone>(obj: &T, wrap: fn(T) -> HeaderObject) {
    let bytes = obj.to_bytes();
    assert_eq!(
        bytes.len() as u64,
        obj.encoded_len(),
        "{}: encoded_len",
        T::NAME
    );
    let (back, used) = T::parse(&bytes, 0, &Limits::default()).expect("parses");
    assert_eq!(used, bytes.len());
    assert_eq!(&back, obj);
    let (dispatched, used) =
        HeaderObject::parse(&bytes, 0, &Limits::default(), false).expect("dispatch");
    assert_eq!(used, bytes.len());
    assert_eq!(dispatched, wrap(obj.clone()));
    assert_eq!(dispatched.to_bytes(), bytes);
}

fn guid() -> impl Strategy<Value = Guid> {
    proptest::array::uniform16(any::<u8>()).prop_map(Guid)
}
fn blob(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}
/// Byte-counted string: any bytes.
fn bstr() -> impl Strategy<Value = WString> {
    blob(24).prop_map(WString)
}
/// WCHAR-counted string: an even number of bytes.
fn wstr() -> impl Strategy<Value = WString> {
    vec(any::<u16>(), 0..12).prop_map(|u| WString(u.iter().flat_map(|x| x.to_le_bytes()).collect()))
}
fn typed_value() -> impl Strategy<Value = TypedValue> {
    (0u16..8, blob(20)).prop_map(|(value_type, data)| TypedValue { value_type, data })
}

fn stream_properties() -> impl Strategy<Value = StreamProperties> {
    (
        guid(),
        guid(),
        any::<u64>(),
        any::<u16>(),
        any::<u32>(),
        blob(40),
        blob(12),
        blob(6),
    )
        .prop_map(
            |(
                stream_type,
                error_correction_type,
                time_offset,
                flags,
                reserved,
                ts,
                ec,
                trailing,
            )| {
                StreamProperties {
                    stream_type,
                    error_correction_type,
                    time_offset,
                    flags,
                    reserved,
                    type_specific_data: ts,
                    error_correction_data: ec,
                    trailing,
                }
            },
        )
}

fn file_properties() -> impl Strategy<Value = FileProperties> {
    (
        guid(),
        proptest::array::uniform6(any::<u64>()),
        proptest::array::uniform4(any::<u32>()),
        blob(4),
    )
        .prop_map(|(file_id, q, d, trailing)| FileProperties {
            file_id,
            file_size: q[0],
            creation_date: q[1],
            data_packets_count: q[2],
            play_duration: q[3],
            send_duration: q[4],
            preroll: q[5],
            flags: d[0],
            min_packet_size: d[1],
            max_packet_size: d[2],
            max_bitrate: d[3],
            trailing,
        })
}

fn extended_stream_properties() -> impl Strategy<Value = ExtendedStreamProperties> {
    (
        proptest::array::uniform3(any::<u64>()),
        proptest::array::uniform8(any::<u32>()),
        (any::<u16>(), any::<u16>()),
        vec((any::<u16>(), bstr()), 0..3),
        vec((guid(), any::<u16>(), blob(8)), 0..3),
        proptest::option::of(stream_properties()),
    )
        .prop_map(
            |(q, d, (sn, li), names, systems, sp)| ExtendedStreamProperties {
                start_time: q[0],
                end_time: q[1],
                data_bitrate: d[0],
                buffer_size: d[1],
                initial_buffer_fullness: d[2],
                alternate_data_bitrate: d[3],
                alternate_buffer_size: d[4],
                alternate_initial_buffer_fullness: d[5],
                maximum_object_size: d[6],
                flags: d[7],
                stream_number: sn,
                stream_language_index: li,
                average_time_per_frame: q[2],
                stream_names: names
                    .into_iter()
                    .map(|(language_index, name)| StreamName {
                        language_index,
                        name,
                    })
                    .collect(),
                payload_extension_systems: systems
                    .into_iter()
                    .map(|(system_id, data_size, info)| PayloadExtensionSystem {
                        system_id,
                        data_size,
                        info,
                    })
                    .collect(),
                stream_properties: sp,
                trailing: Vec::new(),
            },
        )
}

fn metadata_records() -> impl Strategy<Value = Vec<MetadataRecord>> {
    vec(
        (any::<u16>(), any::<u16>(), bstr(), typed_value()).prop_map(|(l, s, name, value)| {
            MetadataRecord {
                language_index: l,
                stream_number: s,
                name,
                value,
            }
        }),
        0..4,
    )
}

fn specifiers() -> impl Strategy<Value = Vec<IndexSpecifier>> {
    vec(
        (any::<u16>(), any::<u16>()).prop_map(|(stream_number, index_type)| IndexSpecifier {
            stream_number,
            index_type,
        }),
        0..5,
    )
}

/// Extension children used to build Header Extensions.
fn ext_child() -> impl Strategy<Value = HeaderObject> {
    prop_oneof![
        extended_stream_properties().prop_map(HeaderObject::ExtendedStreamProperties),
        (any::<u8>(), any::<u8>(), blob(3)).prop_map(|(profile, mode, trailing)| {
            HeaderObject::Compatibility(Compatibility {
                profile,
                mode,
                trailing,
            })
        }),
        blob(16).prop_map(|data| HeaderObject::Padding(Padding { data })),
        metadata_records().prop_map(|records| HeaderObject::Metadata(Metadata {
            records,
            trailing: vec![]
        })),
        vec(bstr(), 0..3).prop_map(|languages| HeaderObject::LanguageList(LanguageList {
            languages,
            trailing: vec![]
        })),
        metadata_records().prop_map(|records| HeaderObject::MetadataLibrary(MetadataLibrary {
            records,
            trailing: vec![]
        })),
        (any::<u32>(), specifiers()).prop_map(|(interval, specifiers)| {
            HeaderObject::IndexParameters(IndexParameters {
                interval,
                specifiers,
                trailing: vec![],
            })
        }),
        (guid(), vec(vec(any::<u16>(), 0..3), 0..3)).prop_map(|(exclusion_type, records)| {
            HeaderObject::GroupMutualExclusion(GroupMutualExclusion {
                exclusion_type,
                records,
                trailing: vec![],
            })
        }),
        (guid(), any::<u32>(), any::<u32>(), vec(any::<u16>(), 0..3)).prop_map(
            |(sharing_type, data_bitrate, buffer_size, stream_numbers)| {
                HeaderObject::BandwidthSharing(BandwidthSharing {
                    sharing_type,
                    data_bitrate,
                    buffer_size,
                    stream_numbers,
                    trailing: vec![],
                })
            }
        ),
        blob(20).prop_map(|d| HeaderObject::Opaque(asf_format::RawObject {
            guid: asf_format::guids::INDEX_PLACEHOLDER,
            data: d.into()
        })),
        (guid(), blob(20)).prop_map(|(g, d)| HeaderObject::Unknown(asf_format::RawObject {
            guid: Guid([0xEE; 16]).max(g),
            data: d.into()
        })),
    ]
    .prop_filter("unknown GUIDs must really be unknown", |o| match o {
        HeaderObject::Unknown(r) => asf_format::guids::name_of(&r.guid).is_none(),
        _ => true,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn file_properties_round_trip(o in file_properties()) {
        check(&o, HeaderObject::FileProperties);
    }

    #[test]
    fn stream_properties_round_trip(o in stream_properties()) {
        check(&o, HeaderObject::StreamProperties);
    }

    #[test]
    fn extended_stream_properties_round_trip(o in extended_stream_properties()) {
        check(&o, HeaderObject::ExtendedStreamProperties);
    }

    #[test]
    fn header_extension_round_trip(
        reserved1 in guid(), reserved2 in any::<u16>(),
        objects in vec(ext_child(), 0..4), unparsed in blob(23), trailing in blob(8),
    ) {
        let o = HeaderExtension { reserved1, reserved2, objects, unparsed, trailing };
        check(&o, HeaderObject::HeaderExtension);
    }

    #[test]
    fn header_round_trip(
        object_count in any::<u32>(), reserved1 in any::<u8>(), reserved2 in any::<u8>(),
        fp in file_properties(), sps in vec(stream_properties(), 0..3),
        ext in vec(ext_child(), 0..3), unparsed in blob(23),
        title in bstr(), descriptors in vec((bstr(), typed_value()), 0..3),
        codecs in vec((any::<u16>(), wstr(), wstr(), blob(4)), 0..3),
    ) {
        let mut objects = vec![HeaderObject::FileProperties(fp)];
        objects.extend(sps.into_iter().map(HeaderObject::StreamProperties));
        objects.push(HeaderObject::ContentDescription(ContentDescription { title, ..Default::default() }));
        objects.push(HeaderObject::ExtendedContentDescription(ExtendedContentDescription {
            descriptors: descriptors.into_iter().map(|(name, value)| ContentDescriptor { name, value }).collect(),
            trailing: vec![],
        }));
        objects.push(HeaderObject::CodecList(CodecList {
            entries: codecs.into_iter().map(|(codec_type, name, description, information)| CodecEntry {
                codec_type, name, description, information,
            }).collect(),
            ..Default::default()
        }));
        objects.push(HeaderObject::HeaderExtension(HeaderExtension { objects: ext, ..Default::default() }));
        let h = Header { object_count, reserved1, reserved2, objects, unparsed };
        let bytes = h.to_bytes();
        prop_assert_eq!(bytes.len() as u64, h.encoded_len());
        let (back, used) = Header::parse(&bytes, 0, &Limits::default()).expect("parses");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(&back, &h);
        let mut fixed = back.clone();
        fixed.fix();
        prop_assert_eq!(fixed.object_count as usize, fixed.objects.len());
    }

    #[test]
    fn codec_list_round_trip(
        reserved in guid(),
        entries in vec((any::<u16>(), wstr(), wstr(), blob(6)), 0..4),
        trailing in blob(4),
    ) {
        let o = CodecList {
            reserved,
            entries: entries.into_iter().map(|(codec_type, name, description, information)| CodecEntry {
                codec_type, name, description, information,
            }).collect(),
            trailing,
        };
        check(&o, HeaderObject::CodecList);
    }

    #[test]
    fn content_description_round_trip(
        s in proptest::array::uniform5(bstr()), trailing in blob(4),
    ) {
        let [title, author, copyright, description, rating] = s;
        let o = ContentDescription { title, author, copyright, description, rating, trailing };
        check(&o, HeaderObject::ContentDescription);
    }

    #[test]
    fn extended_content_description_round_trip(
        d in vec((bstr(), typed_value()), 0..5), trailing in blob(4),
    ) {
        let o = ExtendedContentDescription {
            descriptors: d.into_iter().map(|(name, value)| ContentDescriptor { name, value }).collect(),
            trailing,
        };
        check(&o, HeaderObject::ExtendedContentDescription);
    }

    #[test]
    fn metadata_objects_round_trip(records in metadata_records(), trailing in blob(4)) {
        let o = Metadata { records: records.clone(), trailing: trailing.clone() };
        check(&o, HeaderObject::Metadata);
        let o = MetadataLibrary { records, trailing };
        check(&o, HeaderObject::MetadataLibrary);
    }

    #[test]
    fn stream_bitrate_properties_round_trip(r in vec((any::<u16>(), any::<u32>()), 0..6), trailing in blob(4)) {
        let o = StreamBitrateProperties {
            records: r.into_iter().map(|(flags, average_bitrate)| BitrateRecord { flags, average_bitrate }).collect(),
            trailing,
        };
        check(&o, HeaderObject::StreamBitrateProperties);
    }

    #[test]
    fn language_list_round_trip(l in vec(bstr(), 0..5), trailing in blob(4)) {
        check(&LanguageList { languages: l, trailing }, HeaderObject::LanguageList);
    }

    #[test]
    fn marker_round_trip(
        reserved in guid(), reserved2 in any::<u16>(), name in bstr(),
        m in vec((any::<u64>(), any::<u64>(), any::<u16>(), any::<u32>(), any::<u32>(), wstr()), 0..4),
        trailing in blob(4),
    ) {
        let o = Marker {
            reserved, reserved2, name,
            markers: m.into_iter().map(|(offset, presentation_time, entry_length, send_time, flags, description)| MarkerEntry {
                offset, presentation_time, entry_length, send_time, flags, description,
            }).collect(),
            trailing,
        };
        check(&o, HeaderObject::Marker);
    }

    #[test]
    fn script_command_round_trip(
        reserved in guid(), types in vec(wstr(), 0..3),
        c in vec((any::<u32>(), any::<u16>(), wstr()), 0..4), trailing in blob(4),
    ) {
        let o = ScriptCommand {
            reserved,
            command_types: types,
            commands: c.into_iter().map(|(presentation_time, type_index, name)| ScriptCommandEntry {
                presentation_time, type_index, name,
            }).collect(),
            trailing,
        };
        check(&o, HeaderObject::ScriptCommand);
    }

    #[test]
    fn mutual_exclusion_objects_round_trip(
        g in guid(), s in vec(any::<u16>(), 0..6), groups in vec(vec(any::<u16>(), 0..4), 0..4),
        trailing in blob(4),
    ) {
        check(&BitrateMutualExclusion { exclusion_type: g, stream_numbers: s.clone(), trailing: trailing.clone() },
            HeaderObject::BitrateMutualExclusion);
        check(&AdvancedMutualExclusion { exclusion_type: g, stream_numbers: s, trailing: trailing.clone() },
            HeaderObject::AdvancedMutualExclusion);
        check(&GroupMutualExclusion { exclusion_type: g, records: groups, trailing },
            HeaderObject::GroupMutualExclusion);
    }

    #[test]
    fn stream_prioritization_and_bandwidth_sharing_round_trip(
        p in vec((any::<u16>(), any::<u16>()), 0..5), g in guid(), rate in any::<u32>(),
        buf in any::<u32>(), s in vec(any::<u16>(), 0..5), trailing in blob(4),
    ) {
        check(&StreamPrioritization {
            records: p.into_iter().map(|(stream_number, flags)| PriorityRecord { stream_number, flags }).collect(),
            trailing: trailing.clone(),
        }, HeaderObject::StreamPrioritization);
        check(&BandwidthSharing { sharing_type: g, data_bitrate: rate, buffer_size: buf, stream_numbers: s, trailing },
            HeaderObject::BandwidthSharing);
    }

    #[test]
    fn index_parameter_objects_round_trip(interval in any::<u32>(), s in specifiers(), trailing in blob(4)) {
        check(&IndexParameters { interval, specifiers: s.clone(), trailing: trailing.clone() }, HeaderObject::IndexParameters);
        check(&MediaObjectIndexParameters { interval, specifiers: s.clone(), trailing: trailing.clone() },
            HeaderObject::MediaObjectIndexParameters);
        check(&TimecodeIndexParameters { interval, specifiers: s, trailing }, HeaderObject::TimecodeIndexParameters);
    }

    #[test]
    fn small_objects_round_trip(
        g in guid(), data in blob(30), a in blob(20), b in blob(10), c in blob(10),
        t in any::<u32>(), trailing in blob(4), p in any::<u8>(), m in any::<u8>(),
    ) {
        check(&ErrorCorrection { error_correction_type: g, data: data.clone(), trailing: trailing.clone() },
            HeaderObject::ErrorCorrection);
        check(&ContentBranding { banner_image_type: t, banner_image: a, banner_url: b, copyright_url: c, trailing: trailing.clone() },
            HeaderObject::ContentBranding);
        check(&Padding { data }, HeaderObject::Padding);
        check(&Compatibility { profile: p, mode: m, trailing }, HeaderObject::Compatibility);
    }

    #[test]
    fn type_specific_decoders_round_trip(bytes in blob(80)) {
        if let Ok(w) = WaveFormatEx::parse(&bytes) {
            prop_assert_eq!(w.to_bytes(), bytes.clone());
        }
        if let Ok(v) = VideoFormat::parse(&bytes) {
            prop_assert_eq!(v.to_bytes(), bytes.clone());
        }
        if let Ok(a) = AudioSpread::parse(&bytes) {
            prop_assert_eq!(a.to_bytes(), bytes.clone());
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic_and_round_trip(
        which in 0usize..asf_format::guids::ALL.len(), body in blob(120),
    ) {
        // Any known GUID with any body: parse gives a typed object, Opaque, or Invalid; all
        // serialize back to the input.
        let g = asf_format::guids::ALL[which].0;
        let mut bytes = g.0.to_vec();
        bytes.extend_from_slice(&(24 + body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        let (o, used) = HeaderObject::parse(&bytes, 0, &Limits::default(), false).expect("frame is valid");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(o.to_bytes(), bytes);
    }
}

#[test]
fn typed_values_decode() {
    assert_eq!(
        TypedValue::string("ab").decode(),
        Value::String("ab".into())
    );
    assert_eq!(
        TypedValue::bytes(&[1, 2]).decode(),
        Value::Bytes(vec![1, 2])
    );
    assert_eq!(TypedValue::bool_dword(true).data.len(), 4);
    assert_eq!(TypedValue::bool_word(true).decode(), Value::Bool(true));
    assert_eq!(TypedValue::dword(7).decode(), Value::Dword(7));
    assert_eq!(TypedValue::qword(7).decode(), Value::Qword(7));
    assert_eq!(TypedValue::word(7).decode(), Value::Word(7));
    assert_eq!(
        TypedValue::guid(Guid([3; 16])).decode(),
        Value::Guid(Guid([3; 16]))
    );
    let bad = TypedValue {
        value_type: 3,
        data: vec![1],
    };
    assert_eq!(bad.decode(), Value::Invalid);
}

#[test]
fn object_errors_carry_offsets_and_names() {
    // A Stream Properties Object whose type-specific length runs past its end.
    let mut sp = StreamProperties {
        type_specific_data: vec![1, 2, 3],
        ..Default::default()
    };
    sp.set_stream_number(3);
    let mut bytes = sp.to_bytes();
    bytes[64..68].copy_from_slice(&100u32.to_le_bytes());
    let e = StreamProperties::parse(&bytes, 1000, &Limits::default()).expect_err("bad length");
    assert_eq!(e.offset(), Some(1000 + 78));
    assert!(e.to_string().contains("Stream Properties Object"), "{e}");
    // Through the dispatch it becomes Invalid, kept raw, and still round trips.
    let (o, _) = HeaderObject::parse(&bytes, 1000, &Limits::default(), false).expect("frame ok");
    assert!(matches!(o, HeaderObject::Invalid(_)));
    assert_eq!(o.to_bytes(), bytes);

    // A count that cannot fit is refused before allocating.
    let mut cl = CodecList::default().to_bytes();
    cl[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = CodecList::parse(&cl, 0, &Limits::default()).expect_err("huge count");
    assert_eq!(e.offset(), Some(44));
}
