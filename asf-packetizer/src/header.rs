//! Header building: the Header Object (and the 50-byte Data Object header) for a profile, in
//! live (broadcast) or file form, and the in-place fix-up of a file's header at the end.

use asf_format::data::DataObjectHeader;
use asf_format::object::AsfObject;
use asf_format::objects::{BitrateRecord, IndexSpecifier};
use asf_format::objects::{
    CodecEntry, CodecList, ContentDescription, ContentDescriptor, ExtendedContentDescription,
    ExtendedStreamProperties, FileProperties, HeaderExtension, IndexParameters, LanguageList,
    Metadata, MetadataLibrary, Padding, StreamBitrateProperties, StreamName, StreamProperties,
};
use asf_format::strings::WString;
use asf_format::{Header, HeaderObject, guids};
use bytes::Bytes;

use crate::index::INDEX_INTERVAL_MS;
use crate::packetizer::{Mode, PacketizerOptions};
use crate::profile::Profile;
use crate::{Error, Result};

/// Values known only when a file is finished, written by the fix-up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FinalValues {
    /// Data packets written.
    pub packets: u64,
    /// Play duration, 100 ns, preroll included (ASF 3.2).
    pub play_duration: u64,
    /// Send duration, 100 ns.
    pub send_duration: u64,
    /// Creation date, FILETIME (100 ns since 1601-01-01), from the caller: no clock here.
    pub creation_date: u64,
    /// Bytes after the Data Object (the index objects), for the File Size.
    pub trailer_len: u64,
    /// The file can be seeked (indexed, or audio only): File Properties Seekable flag.
    pub seekable: bool,
    /// Streams that are indexed (Extended Stream Properties Seekable flag).
    pub indexed_streams: Vec<u8>,
    /// Largest media object per stream (Extended Stream Properties Maximum Object Size).
    pub max_object_sizes: Vec<(u8, u32)>,
    /// No Index Object is written (a video stream had no key frame): the Index Parameters
    /// Object, which ASF requires only with an Index Object, becomes a Padding Object of the
    /// same size so the header keeps its length.
    pub omit_index_parameters: bool,
    /// File mode written where the header cannot be rewritten at the end (a pipe, standard
    /// output): File Properties carries the Broadcast flag, so readers do not trust the zero
    /// sizes, counts and durations, as FFmpeg's `asf` muxer writes to a pipe. Ignored in live
    /// mode (always broadcast).
    pub broadcast: bool,
}

/// Bytes to write over the start of the output to finish a file: the Header Object and the
/// Data Object header, the same length as first written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFixup {
    /// Where to write (0: the start of the file).
    pub offset: u64,
    /// What to write.
    pub bytes: Bytes,
}

/// Maximum Bitrate of File Properties: the sum of the stream bitrates, never 0 (VLC's note:
/// 0 breaks WMP12 and Silverlight, asf-format.md §5).
pub fn max_bitrate(profile: &Profile) -> u32 {
    profile
        .streams
        .iter()
        .fold(0u32, |a, s| a.saturating_add(s.bitrate))
        .max(1)
}

/// Builds the Header Object followed by the 50-byte Data Object header.
///
/// Live: File Properties with the Broadcast flag and File Size, Creation Date, packet count and
/// durations 0, Data Object size 50 (asf-format.md §3: WMP over WMSP rejects 0). File: the
/// values in `fin` (zero for the first write; [`crate::Packetizer::finish`] rewrites them in
/// place, every such field having a fixed width).
///
/// Objects: File Properties; Stream Properties per stream (Audio Spread for streams that ask);
/// Header Extension with Extended Stream Properties per stream (the leaky bucket: bitrate,
/// buffer window, initial fullness = the window), Language List, Metadata, Index Parameters
/// (file mode with video); Codec List; Content Description and Extended Content Description
/// when set; Stream Bitrate Properties; a Padding Object of `opts.header_padding` bytes.
pub fn build_header(
    profile: &Profile,
    opts: &PacketizerOptions,
    fin: &FinalValues,
) -> Result<Bytes> {
    profile.validate()?;
    let live = opts.mode == Mode::Live;
    let indexed: Vec<u8> = if live {
        Vec::new()
    } else {
        profile
            .streams
            .iter()
            .filter(|s| s.is_video())
            .map(|s| s.number)
            .collect()
    };
    let mut objects = Vec::new();
    let mut flags = 0;
    if live || fin.broadcast {
        flags |= FileProperties::BROADCAST;
    }
    if !live && fin.seekable {
        flags |= FileProperties::SEEKABLE;
    }
    let fp_index = objects.len();
    objects.push(HeaderObject::FileProperties(FileProperties {
        file_id: opts.file_id,
        file_size: 0,
        creation_date: if live { 0 } else { fin.creation_date },
        data_packets_count: if live { 0 } else { fin.packets },
        play_duration: if live { 0 } else { fin.play_duration },
        send_duration: if live { 0 } else { fin.send_duration },
        preroll: u64::from(opts.preroll),
        flags,
        min_packet_size: opts.packet_size,
        max_packet_size: opts.packet_size,
        max_bitrate: max_bitrate(profile),
        trailing: Vec::new(),
    }));
    // Content Description and Extended Content Description before the streams, as FFmpeg and
    // WM writers order them (FFmpeg exposes a WM/Picture attribute as a stream, numbered by
    // where it reads it).
    let md = &profile.metadata;
    if md.has_content_description() {
        objects.push(HeaderObject::ContentDescription(ContentDescription::new(
            &md.title,
            &md.author,
            &md.copyright,
            &md.description,
            &md.rating,
        )));
    }
    if !md.attributes.is_empty() {
        objects.push(HeaderObject::ExtendedContentDescription(
            ExtendedContentDescription {
                descriptors: md
                    .attributes
                    .iter()
                    .map(|(n, v)| ContentDescriptor {
                        name: WString::new(n),
                        value: v.clone(),
                    })
                    .collect(),
                trailing: Vec::new(),
            },
        ));
    }
    for s in &profile.streams {
        let mut sp = StreamProperties {
            stream_type: s.kind.guid(),
            error_correction_type: if s.audio_spread.is_some() {
                guids::AUDIO_SPREAD
            } else {
                guids::NO_ERROR_CORRECTION
            },
            type_specific_data: s.type_specific_data.clone(),
            error_correction_data: s
                .audio_spread
                .as_ref()
                .map(|a| a.to_bytes())
                .unwrap_or_default(),
            ..Default::default()
        };
        sp.set_stream_number(s.number);
        objects.push(HeaderObject::StreamProperties(sp));
    }
    // Header Extension children.
    let mut languages: Vec<String> = Vec::new();
    for s in &profile.streams {
        if let Some(l) = &s.language
            && !languages.contains(l)
        {
            languages.push(l.clone());
        }
    }
    let mut ext = HeaderExtension::default();
    for s in &profile.streams {
        let lang = s
            .language
            .as_ref()
            .and_then(|l| languages.iter().position(|x| x == l))
            .map_or(0, |i| u16::try_from(i).unwrap_or(0));
        let mut esp_flags = 0;
        if indexed.contains(&s.number) && fin.indexed_streams.contains(&s.number) {
            esp_flags |= 0x2; // ASF 4.1: Seekable.
        }
        ext.objects.push(HeaderObject::ExtendedStreamProperties(
            ExtendedStreamProperties {
                data_bitrate: s.bitrate,
                buffer_size: s.buffer_window,
                initial_buffer_fullness: s.buffer_window,
                alternate_data_bitrate: s.bitrate,
                alternate_buffer_size: s.buffer_window,
                alternate_initial_buffer_fullness: s.buffer_window,
                maximum_object_size: fin
                    .max_object_sizes
                    .iter()
                    .find(|(n, _)| *n == s.number)
                    .map_or(0, |&(_, m)| m),
                flags: esp_flags,
                stream_number: u16::from(s.number),
                stream_language_index: lang,
                average_time_per_frame: s.average_time_per_frame,
                stream_names: s
                    .name
                    .iter()
                    .map(|n| StreamName {
                        language_index: lang,
                        name: WString::new(n),
                    })
                    .collect(),
                ..Default::default()
            },
        ));
    }
    if !languages.is_empty() {
        ext.objects.push(HeaderObject::LanguageList(LanguageList {
            languages: languages.iter().map(|l| WString::new(l)).collect(),
            trailing: Vec::new(),
        }));
    }
    if !profile.metadata.records.is_empty() {
        ext.objects.push(HeaderObject::Metadata(Metadata {
            records: profile.metadata.records.clone(),
            trailing: Vec::new(),
        }));
    }
    if !profile.metadata.library_records.is_empty() {
        ext.objects
            .push(HeaderObject::MetadataLibrary(MetadataLibrary {
                records: profile.metadata.library_records.clone(),
                trailing: Vec::new(),
            }));
    }
    if !indexed.is_empty() {
        let ip = IndexParameters {
            interval: INDEX_INTERVAL_MS as u32,
            specifiers: indexed
                .iter()
                .map(|&n| IndexSpecifier {
                    stream_number: u16::from(n),
                    index_type: 3, // nearest past cleanpoint
                })
                .collect(),
            trailing: Vec::new(),
        };
        if fin.omit_index_parameters {
            let len = usize::try_from(ip.encoded_len()).unwrap_or(usize::MAX);
            ext.objects.push(HeaderObject::Padding(
                Padding::with_total_len(len).expect("an Index Parameters Object is over 24 bytes"),
            ));
        } else {
            ext.objects.push(HeaderObject::IndexParameters(ip));
        }
    }
    if profile.metadata.library_records.is_empty() {
        objects.push(HeaderObject::HeaderExtension(ext));
    } else {
        // WM writers put the Header Extension (with the Metadata Library) right after File
        // Properties, before the Extended Content Description; FFmpeg numbers WM/Picture
        // streams in the order it reads them, so the same order keeps the same streams.
        objects.insert(fp_index + 1, HeaderObject::HeaderExtension(ext));
    }
    objects.push(HeaderObject::CodecList(CodecList {
        entries: profile
            .streams
            .iter()
            .map(|s| {
                let (ty, name, desc, info) = s.codec_entry();
                CodecEntry::new(ty, &name, &desc, &info)
            })
            .collect(),
        ..Default::default()
    }));
    objects.push(HeaderObject::StreamBitrateProperties(
        StreamBitrateProperties {
            records: profile
                .streams
                .iter()
                .map(|s| BitrateRecord {
                    flags: u16::from(s.number),
                    average_bitrate: s.bitrate,
                })
                .collect(),
            trailing: Vec::new(),
        },
    ));
    if opts.header_padding >= 24 {
        objects.push(HeaderObject::Padding(
            Padding::with_total_len(opts.header_padding as usize)
                .expect("header padding is at least 24 bytes"),
        ));
    }
    let mut header = Header {
        objects,
        ..Default::default()
    };
    header.fix();
    let header_len = header.encoded_len();
    let data_header = if live {
        DataObjectHeader::broadcast(opts.file_id)
    } else {
        DataObjectHeader::new(opts.file_id, fin.packets, opts.packet_size)
    };
    if !live {
        let size = header_len + data_header.size + fin.trailer_len;
        if let HeaderObject::FileProperties(fp) = &mut header.objects[fp_index] {
            fp.file_size = size;
        }
    }
    let mut out = header
        .to_bytes_checked()
        .map_err(|_| Error::InvalidArgument("the profile does not fit the header's fields (a name, language or codec data too long)"))?;
    out.extend_from_slice(&data_header.to_bytes());
    Ok(Bytes::from(out))
}
