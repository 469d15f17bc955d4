//! `wmpush inspect FILE`: the object tree of an ASF file (asf-format's parser;
//! every field of every parsed object named, via its `Debug` form), stream
//! summaries, validation findings and, with `--packets`, one line per data
//! packet. `--json` prints the same as a stable JSON document (schema in the
//! README; field names never change within a major version).

use asf_format::file::TopLevelObject;
use asf_format::header::PartialHeader;
use asf_format::objects::HeaderObject;
use asf_format::packet::PacketView;
use asf_format::{AsfFile, Header, Limits, Severity, validate};
use serde::Serialize;

use crate::exit::{CliError, Failure};

/// Longest `fields` text kept per object (long binary fields are cut).
const MAX_FIELDS: usize = 4000;

/// One object in the tree.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectEntry {
    /// Absolute byte offset of the object.
    pub offset: u64,
    /// Object name from the ASF GUID table ("unknown object" otherwise).
    pub name: String,
    /// GUID in registry form.
    pub guid: String,
    /// Object size in bytes (header included).
    pub size: u64,
    /// Every field, named (Rust `Debug` of the parsed object), cut at 4000 characters.
    pub fields: String,
    /// Nested objects (Header Extension).
    pub children: Vec<ObjectEntry>,
}

/// One stream from its Stream Properties Object.
#[derive(Debug, Clone, Serialize)]
pub struct StreamEntry {
    /// Stream number (1-127).
    pub number: u8,
    /// "audio", "video" or "other".
    pub kind: &'static str,
    /// Stream Type GUID.
    pub stream_type: String,
    /// Encrypted flag.
    pub encrypted: bool,
    /// Audio: WAVEFORMATEX format tag, channels, sample rate, bits.
    pub audio: Option<(u16, u16, u32, u16)>,
    /// Video: encoded width and height.
    pub video: Option<(u32, u32)>,
}

/// File Properties summary.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    /// Fixed data packet size (min = max), if consistent.
    pub packet_size: Option<u32>,
    /// Preroll in ms.
    pub preroll_ms: u64,
    /// Play duration in 100-ns units.
    pub play_duration: u64,
    /// Broadcast flag.
    pub broadcast: bool,
    /// Seekable flag.
    pub seekable: bool,
    /// Data Packets Count field.
    pub data_packets_count: u64,
    /// Maximum bitrate field.
    pub max_bitrate: u32,
}

/// One validation finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingEntry {
    /// "error" or "warning".
    pub severity: &'static str,
    /// Absolute byte offset.
    pub offset: u64,
    /// Object concerned.
    pub object: String,
    /// What is wrong.
    pub message: String,
}

/// One data packet (`--packets`).
#[derive(Debug, Clone, Serialize)]
pub struct PacketEntry {
    /// Packet number from 0.
    pub index: u64,
    /// Absolute byte offset.
    pub offset: u64,
    /// Send time in ms.
    pub send_time_ms: u32,
    /// Duration in ms.
    pub duration_ms: u16,
    /// Number of payloads.
    pub payloads: u32,
    /// Padding bytes.
    pub padding: u32,
    /// A player can start here (see [`crate::point::join_point`]).
    pub key_frame_start: bool,
    /// Parse error, if the packet is unreadable.
    pub error: Option<String>,
}

/// The whole `inspect` result (the `--json` document).
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// File name as given.
    pub file: String,
    /// File size in bytes.
    pub size: u64,
    /// Top-level objects; the Header Object's children are the header objects.
    pub objects: Vec<ObjectEntry>,
    /// File Properties, if present.
    pub file_properties: Option<FileSummary>,
    /// Streams.
    pub streams: Vec<StreamEntry>,
    /// Whole data packets present.
    pub data_packets: u64,
    /// Where and how the file is cut short, if it is.
    pub truncated: Option<String>,
    /// Set when the file does not parse as a whole (the input ends inside the Header Object):
    /// the parser's error. `objects` then holds what could be read before the cut.
    pub error: Option<String>,
    /// Validation findings (asf-format's `validate`).
    pub findings: Vec<FindingEntry>,
    /// Packets, with `--packets`.
    pub packets: Option<Vec<PacketEntry>>,
}

fn cut(mut s: String) -> String {
    if s.len() > MAX_FIELDS {
        let mut end = MAX_FIELDS;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …");
    }
    s
}

fn object_fields(o: &HeaderObject) -> String {
    match o {
        HeaderObject::HeaderExtension(e) => format!(
            "HeaderExtension {{ reserved1: {}, reserved2: {}, objects: {}, unparsed: {} bytes, trailing: {} bytes }}",
            e.reserved1,
            e.reserved2,
            e.objects.len(),
            e.unparsed.len(),
            e.trailing.len()
        ),
        other => cut(format!("{other:?}")),
    }
}

fn entry(o: &HeaderObject, offset: u64) -> ObjectEntry {
    let mut children = Vec::new();
    if let HeaderObject::HeaderExtension(e) = o {
        // ASF 3.4: 24-byte object header + Reserved 1 (16) + Reserved 2 (2) + Data Size (4).
        let mut at = offset + 46;
        for c in &e.objects {
            children.push(entry(c, at));
            at += c.encoded_len();
        }
    }
    ObjectEntry {
        offset,
        name: o.name().to_owned(),
        guid: o.guid().to_string(),
        size: o.encoded_len(),
        fields: object_fields(o),
        children,
    }
}

/// Inspects `bytes` (the content of `name`).
pub fn inspect(name: &str, bytes: &[u8], with_packets: bool) -> Result<Inspection, CliError> {
    let limits = Limits::default();
    let (file, partial) = match AsfFile::parse(bytes, &limits) {
        Ok(file) => (file, None),
        Err(error) => {
            // ASF 3.1: the children before the point where the input ends are whole: show
            // them (asf-format's `Header::parse_partial`), with the error and the cut.
            let Some(p) = Header::parse_partial(bytes, &limits) else {
                return Err(CliError::new(Failure::Input, format!("{name}: {error}")));
            };
            let file = AsfFile {
                header: p.header.clone(),
                objects: Vec::new(),
                truncated: Some(p.truncated),
            };
            (file, Some((error, p)))
        }
    };
    let header = &file.header;
    let mut header_children = Vec::new();
    let mut at = 30;
    for o in &header.objects {
        header_children.push(entry(o, at));
        at += o.encoded_len();
    }
    if let Some((_, p)) = &partial {
        header_children.extend(cut_entry(p, at));
    }
    let header_size = at + header.unparsed.len() as u64;
    let mut objects = vec![ObjectEntry {
        offset: 0,
        name: "Header Object".to_owned(),
        guid: "75B22630-668E-11CF-A6D9-00AA0062CE6C".to_owned(),
        size: header_size,
        fields: format!(
            "Header {{ object_count: {}, objects: {}, unparsed: {} bytes }}",
            header.object_count,
            header.objects.len(),
            header.unparsed.len()
        ),
        children: header_children,
    }];
    let mut pos = header_size;
    let mut data_start = None;
    for t in &file.objects {
        let (name, guid, fields) = match t {
            TopLevelObject::Data(d) => {
                data_start = Some(pos + 50);
                (
                    "Data Object".to_owned(),
                    "75B22636-668E-11CF-A6D9-00AA0062CE6C".to_owned(),
                    format!(
                        "DataObject {{ size_field: {}, file_id: {}, total_data_packets: {:?}, reserved: {:?}, packet bytes: {} }}",
                        d.size_field,
                        d.file_id().map(|g| g.to_string()).unwrap_or_default(),
                        d.total_data_packets(),
                        d.reserved(),
                        d.packets().len()
                    ),
                )
            }
            TopLevelObject::Index(ix) => {
                let name = match ix {
                    asf_format::index::IndexObject::Simple(_) => "Simple Index Object",
                    asf_format::index::IndexObject::Index(_) => "Index Object",
                    asf_format::index::IndexObject::MediaObject(_) => "Media Object Index Object",
                    asf_format::index::IndexObject::Timecode(_) => "Timecode Index Object",
                    _ => "index object",
                };
                (name.to_owned(), String::new(), cut(format!("{ix:?}")))
            }
            TopLevelObject::Other(r) => (
                r.name().unwrap_or("unknown object").to_owned(),
                r.guid.to_string(),
                format!("{} bytes of body", r.encoded_len().saturating_sub(24)),
            ),
            TopLevelObject::Junk(b) => (
                "junk".to_owned(),
                String::new(),
                format!("{} bytes that form no object", b.len()),
            ),
            _ => ("object".to_owned(), String::new(), String::new()),
        };
        let size = t.encoded_len();
        objects.push(ObjectEntry {
            offset: pos,
            name,
            guid,
            size,
            fields,
            children: Vec::new(),
        });
        pos += size;
    }
    let file_properties = header.file_properties().map(|f| FileSummary {
        packet_size: f.packet_size(),
        preroll_ms: f.preroll,
        play_duration: f.play_duration,
        broadcast: f.is_broadcast(),
        seekable: f.is_seekable(),
        data_packets_count: f.data_packets_count,
        max_bitrate: f.max_bitrate,
    });
    let streams: Vec<StreamEntry> = header
        .stream_properties()
        .iter()
        .map(|s| StreamEntry {
            number: s.stream_number(),
            kind: if s.is_audio() {
                "audio"
            } else if s.is_video() {
                "video"
            } else {
                "other"
            },
            stream_type: s.stream_type.to_string(),
            encrypted: s.is_encrypted(),
            audio: s.audio_format().map(|a| {
                (
                    a.format_tag,
                    a.channels,
                    a.samples_per_sec,
                    a.bits_per_sample,
                )
            }),
            video: s
                .video_format()
                .map(|v| (v.encoded_width, v.encoded_height)),
        })
        .collect();
    let video: Vec<u8> = streams
        .iter()
        .filter(|s| s.kind == "video")
        .map(|s| s.number)
        .collect();
    let findings = validate(&file)
        .into_iter()
        .map(|f| FindingEntry {
            severity: if f.severity == Severity::Error {
                "error"
            } else {
                "warning"
            },
            offset: f.offset,
            object: f.object.to_owned(),
            message: f.message,
        })
        .collect();
    let packet_size = header.packet_size().unwrap_or(0);
    let data = file.data().map(|d| d.packets());
    let data_packets = match (&data, packet_size) {
        (Some(d), s) if s > 0 => d.len() as u64 / u64::from(s),
        _ => 0,
    };
    let packets = match (with_packets, &data, data_start) {
        (true, Some(d), Some(start)) if packet_size > 0 => {
            let mut v = Vec::new();
            for (i, chunk) in d.chunks_exact(packet_size as usize).enumerate() {
                let offset = start + i as u64 * u64::from(packet_size);
                v.push(match PacketView::parse(chunk, packet_size, offset) {
                    Ok(p) => PacketEntry {
                        index: i as u64,
                        offset,
                        send_time_ms: p.send_time(),
                        duration_ms: p.duration(),
                        payloads: p.payload_count(),
                        padding: p.padding_length(),
                        key_frame_start: crate::point::join_point(&p, &video),
                        error: None,
                    },
                    Err(e) => PacketEntry {
                        index: i as u64,
                        offset,
                        send_time_ms: 0,
                        duration_ms: 0,
                        payloads: 0,
                        padding: 0,
                        key_frame_start: false,
                        error: Some(e.to_string()),
                    },
                });
            }
            Some(v)
        }
        (true, ..) => Some(Vec::new()),
        _ => None,
    };
    Ok(Inspection {
        file: name.to_owned(),
        size: bytes.len() as u64,
        objects,
        file_properties,
        streams,
        data_packets,
        truncated: file.truncated.as_ref().map(|t| {
            format!(
                "{} at byte {} declares {} bytes, {} present",
                t.object, t.offset, t.declared_size, t.available
            )
        }),
        error: partial.map(|(e, _)| format!("{name}: {e}")),
        findings,
        packets,
    })
}

/// The header child that the end of the input cuts (starting at `at`), with the whole
/// Header Extension children before the cut when it is the Header Extension.
fn cut_entry(p: &PartialHeader, at: u64) -> Option<ObjectEntry> {
    let rest = &p.header.unparsed;
    let guid = asf_format::Guid(rest.get(..16)?.try_into().ok()?);
    let declared = u64::from_le_bytes(rest.get(16..24)?.try_into().ok()?);
    let name = asf_format::guids::name_of(&guid).unwrap_or("unknown object");
    let mut children = Vec::new();
    // ASF 3.4: 24-byte object header + Reserved 1 (16) + Reserved 2 (2) + Data Size (4).
    let mut inner = at + 46;
    for c in &p.extension_objects {
        children.push(entry(c, inner));
        inner += c.encoded_len();
    }
    Some(ObjectEntry {
        offset: at,
        name: name.to_owned(),
        guid: guid.to_string(),
        size: rest.len() as u64,
        fields: format!(
            "cut by the end of the input: {} of {declared} bytes present",
            rest.len()
        ),
        children,
    })
}

fn print_tree(out: &mut String, e: &ObjectEntry, depth: usize) {
    let pad = "  ".repeat(depth);
    out.push_str(&format!(
        "{pad}@{:<8} {} ({} bytes) {}\n{pad}    {}\n",
        e.offset, e.name, e.size, e.guid, e.fields
    ));
    for c in &e.children {
        print_tree(out, c, depth + 1);
    }
}

/// Human-readable text of an inspection.
pub fn to_text(i: &Inspection) -> String {
    let mut out = format!("{}: {} bytes\n\nObjects:\n", i.file, i.size);
    for o in &i.objects {
        print_tree(&mut out, o, 1);
    }
    if let Some(f) = &i.file_properties {
        out.push_str(&format!(
            "\nFile: packet size {:?}, preroll {} ms, duration {:.3} s, broadcast {}, seekable {}, {} packets announced, max bitrate {}\n",
            f.packet_size,
            f.preroll_ms,
            f.play_duration as f64 / 1e7,
            f.broadcast,
            f.seekable,
            f.data_packets_count,
            f.max_bitrate
        ));
    }
    out.push_str(&format!("Data packets present: {}\n", i.data_packets));
    for s in &i.streams {
        out.push_str(&format!(
            "Stream {}: {}{}{}{}\n",
            s.number,
            s.kind,
            s.audio
                .map(|(tag, ch, rate, bits)| format!(
                    ", format 0x{tag:04x}, {ch} ch, {rate} Hz, {bits} bit"
                ))
                .unwrap_or_default(),
            s.video
                .map(|(w, h)| format!(", {w}x{h}"))
                .unwrap_or_default(),
            if s.encrypted { ", encrypted" } else { "" }
        ));
    }
    if let Some(e) = &i.error {
        out.push_str(&format!(
            "Error: {e}\n(the objects above are what could be read before the end of the input)\n"
        ));
    }
    if let Some(t) = &i.truncated {
        out.push_str(&format!("Truncated: {t}\n"));
    }
    if i.findings.is_empty() {
        out.push_str("Validation: no findings\n");
    } else {
        out.push_str("Validation findings:\n");
        for f in &i.findings {
            out.push_str(&format!(
                "  {} at byte {} in {}: {}\n",
                f.severity, f.offset, f.object, f.message
            ));
        }
    }
    if let Some(p) = &i.packets {
        out.push_str("\nPackets (index @offset send-ms dur-ms payloads padding key):\n");
        for e in p {
            match &e.error {
                Some(err) => {
                    out.push_str(&format!("  {} @{} unreadable: {err}\n", e.index, e.offset))
                }
                None => out.push_str(&format!(
                    "  {} @{} {} {} {} {}{}\n",
                    e.index,
                    e.offset,
                    e.send_time_ms,
                    e.duration_ms,
                    e.payloads,
                    e.padding,
                    if e.key_frame_start { " key" } else { "" }
                )),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{SignalConfig, render_audio, render_frame};
    use crate::live_mux::LiveMux;

    fn demo_file() -> Vec<u8> {
        let mut m = LiveMux::new(SignalConfig::default(), 3600, 1000, [3; 16]).expect("valid");
        let c = *m.config();
        let mut out = m.header().to_vec();
        let (mut pic, mut pcm) = (Vec::new(), Vec::new());
        for i in 0..3 {
            render_frame(&c, i, &mut pic);
            let (a, b) = c.audio_range(i);
            render_audio(&c, a, b, &mut pcm);
            for p in m.packets_for_frame(i, &pic, &pcm) {
                out.extend_from_slice(&p.data);
            }
        }
        out
    }

    #[test]
    fn demo_stream_inspects_with_streams_and_packets() {
        let bytes = demo_file();
        let i = inspect("demo.asf", &bytes, true).expect("parses");
        assert_eq!(i.objects[0].name, "Header Object");
        assert!(
            i.objects[0]
                .children
                .iter()
                .any(|c| c.name.contains("File Properties"))
        );
        assert!(
            i.objects[0]
                .children
                .iter()
                .any(|c| c.fields.contains("max_packet_size: 3600"))
        );
        assert_eq!(i.streams.len(), 2);
        assert_eq!(i.streams[0].video, Some((160, 120)));
        assert_eq!(i.streams[1].audio, Some((1, 1, 16_000, 16)));
        let p = i.packets.as_ref().expect("packets");
        assert_eq!(p.len(), 30);
        assert_eq!(p.iter().filter(|e| e.key_frame_start).count(), 3);
        let text = to_text(&i);
        assert!(text.contains("Stream 1: video, 160x120"), "{text}");
        let json = serde_json::to_value(&i).expect("json");
        assert_eq!(json["streams"][1]["kind"], "audio");
    }

    #[test]
    fn garbage_is_an_input_error() {
        let e = inspect("x", &[0u8; 100], false).expect_err("not ASF");
        assert_eq!(e.kind, Failure::Input);
    }
}
