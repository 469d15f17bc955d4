//! `validate`: what is wrong with a parsed file (STYLE habit 3: parse is not validate).
//!
//! Parsing keeps what is on the wire; this module reports spec violations and oddities with
//! a severity, the absolute byte offset, the object and a message, so tools can show a
//! broken file and still say what is broken.

use core::fmt;

use crate::file::{AsfFile, DATA_OBJECT_HEADER_LEN, TopLevelObject};
use crate::object::{AsfObject, OBJECT_HEADER_LEN};
use crate::objects::{FileProperties, HeaderObject};
use crate::{Guid, guids};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Allowed but unusual, or known to trouble some players.
    Warning,
    /// Violates the specification.
    Error,
}

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Absolute byte offset of the object or field concerned.
    pub offset: u64,
    /// The object concerned.
    pub object: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{sev}: {} at byte offset {}: {}",
            self.object, self.offset, self.message
        )
    }
}

struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, severity: Severity, offset: u64, object: &'static str, message: String) {
        self.0.push(Finding {
            severity,
            offset,
            object,
            message,
        });
    }
}

/// Checks a parsed file against the ASF rules; returns the findings in file order (an empty
/// list means nothing was found).
pub fn validate(file: &AsfFile) -> Vec<Finding> {
    let mut f = Findings(Vec::new());
    let h = &file.header;
    const HDR: &str = "Header Object";

    // ASF 3.1: Number of Header Objects counts the direct children.
    if h.object_count as usize != h.objects.len() {
        f.push(
            Severity::Warning,
            24,
            HDR,
            format!(
                "Number of Header Objects is {} but {} objects are present",
                h.object_count,
                h.objects.len()
            ),
        );
    }
    if h.reserved1 != 1 {
        f.push(
            Severity::Warning,
            28,
            HDR,
            format!("Reserved1 is {:#04x}, expected 0x01", h.reserved1),
        );
    }
    // ASF 3.1: readers should refuse a Reserved2 other than 0x02 (FFmpeg and VLC do not).
    if h.reserved2 != 2 {
        f.push(
            Severity::Error,
            29,
            HDR,
            format!("Reserved2 is {:#04x}, expected 0x02", h.reserved2),
        );
    }

    // Walk the children with their offsets.
    let mut off = 30u64;
    let mut fp_count = 0;
    let mut he_count = 0;
    let mut stream_numbers: Vec<u8> = Vec::new();
    for o in &h.objects {
        check_object(&mut f, o, off, &mut stream_numbers);
        match o {
            HeaderObject::FileProperties(fp) => {
                fp_count += 1;
                check_file_properties(&mut f, fp, off);
            }
            HeaderObject::HeaderExtension(he) => {
                he_count += 1;
                if he.reserved1 != guids::HEADER_EXTENSION_RESERVED_1 {
                    f.push(
                        Severity::Warning,
                        off + 24,
                        o.name(),
                        "Reserved Field 1 is not the specified GUID".into(),
                    );
                }
                if he.reserved2 != 6 {
                    f.push(
                        Severity::Warning,
                        off + 40,
                        o.name(),
                        format!("Reserved Field 2 is {}, expected 6", he.reserved2),
                    );
                }
                let mut inner = off + 46;
                for c in &he.objects {
                    check_object(&mut f, c, inner, &mut stream_numbers);
                    inner += c.encoded_len();
                }
                if !he.unparsed.is_empty() {
                    f.push(
                        Severity::Error,
                        inner,
                        o.name(),
                        format!(
                            "{} bytes of extension data do not form an object ({})",
                            he.unparsed.len(),
                            why_unparsed(&he.unparsed, inner)
                        ),
                    );
                }
                if !he.trailing.is_empty() {
                    f.push(
                        Severity::Error,
                        inner + he.unparsed.len() as u64,
                        o.name(),
                        format!(
                            "{} bytes after the declared Header Extension Data Size",
                            he.trailing.len()
                        ),
                    );
                }
            }
            _ => {}
        }
        off += o.encoded_len();
    }
    if !h.unparsed.is_empty() {
        f.push(
            Severity::Error,
            off,
            HDR,
            format!(
                "{} bytes at the end of the header do not form an object ({})",
                h.unparsed.len(),
                why_unparsed(&h.unparsed, off)
            ),
        );
    }
    // ASF 3.1: File Properties, Header Extension and at least one Stream Properties are
    // mandatory.
    if fp_count == 0 {
        f.push(Severity::Error, 0, HDR, "no File Properties Object".into());
    } else if fp_count > 1 {
        f.push(
            Severity::Error,
            0,
            HDR,
            format!("{fp_count} File Properties Objects, expected one"),
        );
    }
    if he_count == 0 {
        f.push(
            Severity::Warning,
            0,
            HDR,
            "no Header Extension Object (mandatory since ASF 1.2)".into(),
        );
    } else if he_count > 1 {
        f.push(
            Severity::Error,
            0,
            HDR,
            format!("{he_count} Header Extension Objects, expected one"),
        );
    }
    if stream_numbers.is_empty() {
        f.push(
            Severity::Error,
            0,
            HDR,
            "no Stream Properties Object".into(),
        );
    }

    check_cross_references(&mut f, file, &stream_numbers);
    check_top_level(&mut f, file);
    // File order: by offset; findings at the same offset keep the order they were found in.
    f.0.sort_by_key(|x| x.offset);
    f.0
}

fn check_object(f: &mut Findings, o: &HeaderObject, off: u64, streams: &mut Vec<u8>) {
    match o {
        HeaderObject::Invalid(i) => f.push(
            Severity::Error,
            i.error.offset().unwrap_or(off),
            o.name(),
            format!("kept raw: {}", i.error),
        ),
        HeaderObject::StreamProperties(sp) => {
            check_stream(f, sp.stream_number(), off, o.name(), streams);
            check_type_specific(f, sp, off);
        }
        HeaderObject::ExtendedStreamProperties(e) => {
            if let Some(sp) = &e.stream_properties {
                check_stream(f, sp.stream_number(), off, o.name(), streams);
                check_type_specific(f, sp, off);
            }
            // asf-format.md §1.3 (payload extension systems): the fixed-size systems have
            // known sizes; a different size makes every payload's replicated data misread.
            for sys in &e.payload_extension_systems {
                let expected = match sys.system_id {
                    g if g == guids::PAYLOAD_EXT_CONTENT_TYPE => Some(1),
                    g if g == guids::PAYLOAD_EXT_OUTPUT_CLEANPOINT => Some(1),
                    g if g == guids::PAYLOAD_EXT_PIXEL_ASPECT_RATIO => Some(2),
                    g if g == guids::PAYLOAD_EXT_SAMPLE_DURATION => Some(2),
                    _ => None,
                };
                if let Some(n) = expected.filter(|&n| sys.data_size != n) {
                    f.push(
                        Severity::Warning,
                        off,
                        o.name(),
                        format!(
                            "stream {}: payload extension {} has data size {}, expected {n}",
                            e.stream_number,
                            guids::name_of(&sys.system_id).unwrap_or("system"),
                            sys.data_size
                        ),
                    );
                }
            }
            if e.stream_number == 0 || e.stream_number > 127 {
                f.push(
                    Severity::Error,
                    off + 72,
                    o.name(),
                    format!("stream number {} outside 1..=127", e.stream_number),
                );
            }
        }
        _ => {}
    }
}

// ASF 3.3: stream numbers are 1..=127 and unique.
fn check_stream(f: &mut Findings, n: u8, off: u64, name: &'static str, streams: &mut Vec<u8>) {
    if n == 0 {
        f.push(
            Severity::Error,
            off,
            name,
            "stream number 0 is invalid".into(),
        );
    } else if streams.contains(&n) {
        f.push(
            Severity::Error,
            off,
            name,
            format!("stream number {n} defined twice"),
        );
    }
    streams.push(n);
}

fn check_file_properties(f: &mut Findings, fp: &FileProperties, off: u64) {
    let name = FileProperties::NAME;
    // ASF 3.2: the object is 104 bytes.
    if fp.encoded_len() != 104 {
        f.push(
            Severity::Error,
            off,
            name,
            format!("size {} bytes, expected 104", fp.encoded_len()),
        );
    }
    // ASF 3.2: minimum and maximum data packet size are equal, even when broadcasting.
    if fp.min_packet_size != fp.max_packet_size {
        f.push(
            Severity::Error,
            off + 92,
            name,
            format!(
                "Minimum Data Packet Size {} differs from Maximum {}",
                fp.min_packet_size, fp.max_packet_size
            ),
        );
    }
    if fp.max_packet_size == 0 {
        f.push(
            Severity::Error,
            off + 96,
            name,
            "data packet size is 0".into(),
        );
    }
    if fp.max_bitrate == 0 {
        f.push(
            Severity::Warning,
            off + 100,
            name,
            "Maximum Bitrate is 0 (breaks WMP12 and Silverlight per VLC)".into(),
        );
    }
    if !fp.is_broadcast()
        && fp.play_duration != 0
        && fp.play_duration < fp.preroll.saturating_mul(10_000)
    {
        f.push(
            Severity::Warning,
            off + 64,
            name,
            "Play Duration is shorter than the preroll (it must include it)".into(),
        );
    }
}

/// How many whole packets that parse start the junk `b` when it directly follows the Data
/// Object (object `i` of the file); `None` when it does not or the packet size is unknown.
/// Packets are recognised as the streaming reader does: same first byte and Property Flags as
/// the Data Object's last packet, and they parse.
fn stray_packets(file: &AsfFile, i: usize, b: &[u8]) -> Option<usize> {
    let TopLevelObject::Data(d) = file.objects.get(i.checked_sub(1)?)? else {
        return None;
    };
    let size = file.header.packet_size().filter(|&s| s > 0)?;
    let packets = d.packets();
    let last = packets.chunks_exact(size as usize).last()?;
    let signature = crate::stream::packet_signature(last);
    Some(
        b.chunks_exact(size as usize)
            .take_while(|p| {
                crate::stream::packet_signature(p) == signature
                    && crate::packet::PacketView::parse(p, size, 0).is_ok()
            })
            .count(),
    )
}

fn check_top_level(f: &mut Findings, file: &AsfFile) {
    let fp = file.header.file_properties();
    let broadcast = fp.is_some_and(FileProperties::is_broadcast);
    let mut off = file.header.encoded_len();
    let mut data_seen = false;
    let mut index_guids: Vec<Guid> = Vec::new();
    for (i, o) in file.objects.iter().enumerate() {
        match o {
            TopLevelObject::Data(d) => {
                const NAME: &str = "Data Object";
                // ASF 2: the Data Object directly follows the Header Object, exactly once.
                if data_seen {
                    f.push(Severity::Error, off, NAME, "second Data Object".into());
                }
                if i != 0 {
                    f.push(
                        Severity::Error,
                        off,
                        NAME,
                        "Data Object does not directly follow the Header Object".into(),
                    );
                }
                data_seen = true;
                if d.body.len() + (OBJECT_HEADER_LEN as usize) < DATA_OBJECT_HEADER_LEN {
                    f.push(
                        Severity::Error,
                        off,
                        NAME,
                        "Data Object shorter than its 50-byte fixed part".into(),
                    );
                } else {
                    check_data(f, d, off, fp, broadcast, file.truncated.is_some());
                }
            }
            TopLevelObject::Index(i) => index_guids.push(crate::file::index_guid(i)),
            TopLevelObject::InvalidIndex(i) => {
                index_guids.push(i.raw.guid);
                f.push(
                    Severity::Error,
                    i.error.offset().unwrap_or(off),
                    i.raw.name().unwrap_or("index object"),
                    format!("kept raw: {}", i.error),
                );
            }
            TopLevelObject::Other(r) => f.push(
                Severity::Warning,
                off,
                "object",
                format!(
                    "{} ({}) after the Data Object",
                    r.name().unwrap_or("unknown object"),
                    r.guid
                ),
            ),
            TopLevelObject::Junk(b) => {
                if b.starts_with(b"$E") && b.len() <= 12 {
                    f.push(
                        Severity::Warning,
                        off,
                        "file",
                        "FFmpeg's MMSH `$E` end chunk after the last object (non-seekable output)"
                            .into(),
                    );
                } else if let Some(n) = stray_packets(file, i, b).filter(|&n| n > 0) {
                    // ASF 5.1: the Data Object's size covers its packets. Here more packets
                    // follow it; FFmpeg's asfdec stops at the declared size and skips them.
                    f.push(
                        Severity::Warning,
                        off,
                        "Data Object",
                        format!(
                            "{n} data packets after the end of the Data Object (its size is too small)"
                        ),
                    );
                } else if file.truncated.is_none() {
                    f.push(
                        Severity::Warning,
                        off,
                        "file",
                        format!("{} bytes that do not form an object", b.len()),
                    );
                }
            }
        }
        off += o.encoded_len();
    }
    check_packets(f, file);
    check_indexes(f, file);
    if !data_seen {
        f.push(Severity::Error, off, "file", "no Data Object".into());
    }
    if let Some(t) = &file.truncated {
        f.push(
            Severity::Error,
            t.offset,
            t.object,
            format!(
                "input ends inside the object: {} of {} bytes present",
                t.available, t.declared_size
            ),
        );
    }
    // ASF 4.9-4.11: each index object needs its parameters object in the Header Extension.
    let has = |g: Guid| file.header.all_objects().any(|o| o.guid() == g);
    for (index, params) in [
        (guids::INDEX, guids::INDEX_PARAMETERS),
        (
            guids::MEDIA_OBJECT_INDEX,
            guids::MEDIA_OBJECT_INDEX_PARAMETERS,
        ),
        (guids::TIMECODE_INDEX, guids::TIMECODE_INDEX_PARAMETERS),
    ] {
        if index_guids.contains(&index) && !has(params) {
            f.push(
                Severity::Warning,
                0,
                guids::name_of(&index).unwrap_or("index"),
                format!(
                    "present without a {}",
                    guids::name_of(&params).unwrap_or("parameters object")
                ),
            );
        }
    }
    if let Some(fp) = fp
        && !fp.is_broadcast()
        && fp.file_size != 0
        && file.truncated.is_none()
        && fp.file_size != file.encoded_len()
    {
        {
            f.push(
                Severity::Warning,
                0,
                FileProperties::NAME,
                format!(
                    "File Size is {} but the file is {} bytes",
                    fp.file_size,
                    file.encoded_len()
                ),
            );
        }
    }
}

fn check_data(
    f: &mut Findings,
    d: &crate::file::DataSection,
    off: u64,
    fp: Option<&FileProperties>,
    broadcast: bool,
    truncated: bool,
) {
    const NAME: &str = "Data Object";
    if d.size_field == 0 && !broadcast {
        f.push(
            Severity::Error,
            off + 16,
            NAME,
            "Object Size 0 without the Broadcast flag".into(),
        );
    }
    if d.size_field > DATA_OBJECT_HEADER_LEN as u64 && d.size_field > d.encoded_len() && !truncated
    {
        // ASF 5.1: the Object Size covers the packets; the parser found an index object where
        // the size says packets go on.
        f.push(
            Severity::Warning,
            off + 16,
            NAME,
            format!(
                "Object Size {} runs past its packets into the next object at byte {}",
                d.size_field,
                off + d.encoded_len()
            ),
        );
    }
    if d.reserved() != Some(0x0101) {
        f.push(
            Severity::Warning,
            off + 48,
            NAME,
            "Reserved is not 0x0101".into(),
        );
    }
    let Some(fp) = fp else { return };
    if d.file_id() != Some(fp.file_id) {
        f.push(
            Severity::Warning,
            off + 24,
            NAME,
            "File ID differs from the File Properties File ID".into(),
        );
    }
    let total = d.total_data_packets().unwrap_or(0);
    if !broadcast && total != fp.data_packets_count {
        f.push(
            Severity::Warning,
            off + 40,
            NAME,
            format!(
                "Total Data Packets {total} differs from File Properties Data Packets Count {}",
                fp.data_packets_count
            ),
        );
    }
    // Readers use the maximum packet size when min and max disagree (FFmpeg asfdec_f).
    let Some(size) = Some(fp.max_packet_size).filter(|&s| s > 0) else {
        return;
    };
    if truncated {
        // The truncation finding already says the packets are cut.
        return;
    }
    let packets = d.packets();
    let size = size as usize;
    if !packets.len().is_multiple_of(size) {
        f.push(
            Severity::Error,
            off + 50,
            NAME,
            format!(
                "{} bytes of packets are not a multiple of the packet size {size}",
                packets.len()
            ),
        );
    }
    let count = (packets.len() / size) as u64;
    if !broadcast && count != fp.data_packets_count {
        f.push(
            Severity::Warning,
            off + 50,
            NAME,
            format!(
                "{count} packets present, File Properties says {}",
                fp.data_packets_count
            ),
        );
    }
}

/// Bound on packets walked by `validate` (each is parsed with the data-side `PacketView`).
const MAX_PACKETS_CHECKED: usize = 1 << 20;

fn check_packets(f: &mut Findings, file: &AsfFile) {
    // ASF 5.2: packets are sent in non-decreasing Send Time order; each packet must parse.
    let mut last = 0u32;
    let mut order_reported = false;
    for p in file.packets().take(MAX_PACKETS_CHECKED) {
        match p {
            Err(e) => {
                f.push(
                    Severity::Error,
                    e.offset().unwrap_or(0),
                    "Data Packet",
                    format!("packet does not parse: {e}"),
                );
                return;
            }
            Ok(v) => {
                let t = v.send_time();
                if t < last && !order_reported {
                    f.push(
                        Severity::Warning,
                        v.offset(),
                        "Data Packet",
                        format!("Send Time {t} ms is before the previous packet's {last} ms"),
                    );
                    order_reported = true;
                }
                last = last.max(t);
            }
        }
    }
}

/// Absolute offsets of every header object (direct children and Header Extension children).
fn object_offsets(h: &crate::Header) -> Vec<(u64, &HeaderObject)> {
    let mut out = Vec::new();
    let mut off = 30u64;
    for o in &h.objects {
        out.push((off, o));
        if let HeaderObject::HeaderExtension(he) = o {
            let mut inner = off + 46;
            for c in &he.objects {
                out.push((inner, c));
                inner += c.encoded_len();
            }
        }
        off += o.encoded_len();
    }
    out
}

/// References between header objects: stream numbers and language indexes must point at
/// something that exists.
fn check_cross_references(f: &mut Findings, file: &AsfFile, streams: &[u8]) {
    let h = &file.header;
    let languages = h
        .all_objects()
        .find_map(|o| match o {
            HeaderObject::LanguageList(l) => Some(l.languages.len()),
            _ => None,
        })
        .unwrap_or(0);
    let known = |n: u16| n <= 127 && streams.contains(&(n as u8));
    for (off, o) in object_offsets(h) {
        let name = o.name();
        match o {
            // ASF 4.1: Extended Stream Properties describe a stream defined by a Stream
            // Properties Object (top level or embedded); the language index points into the
            // Language List.
            HeaderObject::ExtendedStreamProperties(e) => {
                if !known(e.stream_number) {
                    f.push(
                        Severity::Warning,
                        off + 72,
                        name,
                        format!("stream {} has no Stream Properties", e.stream_number),
                    );
                }
                if languages > 0 && usize::from(e.stream_language_index) >= languages {
                    f.push(Severity::Warning, off + 74, name, format!("Stream Language ID Index {} is outside the Language List ({languages} entries)", e.stream_language_index));
                }
            }
            // ASF 3.12: one record per stream.
            HeaderObject::StreamBitrateProperties(b) => {
                for r in &b.records {
                    if !known(r.stream_number().into()) {
                        f.push(
                            Severity::Warning,
                            off,
                            name,
                            format!(
                                "bitrate record for stream {} which has no Stream Properties",
                                r.stream_number()
                            ),
                        );
                    }
                }
            }
            // ASF 3.6: each command's Type Index points into the command types.
            HeaderObject::ScriptCommand(s) => {
                for c in &s.commands {
                    if usize::from(c.type_index) >= s.command_types.len() {
                        f.push(
                            Severity::Error,
                            off,
                            name,
                            format!(
                                "command type index {} outside {} command types",
                                c.type_index,
                                s.command_types.len()
                            ),
                        );
                        break;
                    }
                }
            }
            // ASF 4.7: the Metadata Object's first WORD is reserved and must be 0.
            HeaderObject::Metadata(m) if m.records.iter().any(|r| r.language_index != 0) => {
                f.push(
                    Severity::Warning,
                    off,
                    name,
                    "a record's Reserved field is not 0".into(),
                );
            }
            HeaderObject::MetadataLibrary(m) => {
                if let Some(r) = m
                    .records
                    .iter()
                    .find(|r| usize::from(r.language_index) >= languages.max(1))
                {
                    f.push(
                        Severity::Warning,
                        off,
                        name,
                        format!(
                            "Language List Index {} is outside the Language List",
                            r.language_index
                        ),
                    );
                }
            }
            // ASF 3.8 / 4.2 / 4.3 / 4.5: the streams listed must exist.
            HeaderObject::BitrateMutualExclusion(m) => {
                check_listed_streams(f, off, name, &m.stream_numbers, &known)
            }
            HeaderObject::AdvancedMutualExclusion(m) => {
                check_listed_streams(f, off, name, &m.stream_numbers, &known)
            }
            HeaderObject::BandwidthSharing(b) => {
                check_listed_streams(f, off, name, &b.stream_numbers, &known)
            }
            HeaderObject::GroupMutualExclusion(g) => {
                for rec in &g.records {
                    check_listed_streams(f, off, name, rec, &known);
                }
            }
            _ => {}
        }
    }
}

fn check_listed_streams(
    f: &mut Findings,
    off: u64,
    name: &'static str,
    list: &[u16],
    known: &dyn Fn(u16) -> bool,
) {
    if let Some(n) = list.iter().find(|&&n| !known(n)) {
        f.push(
            Severity::Warning,
            off,
            name,
            format!("lists stream {n} which has no Stream Properties"),
        );
    }
}

/// Index objects against the header: Index / Media Object Index / Timecode Index must match
/// their parameters objects (ASF 4.9 / 4.10 / 4.11), Simple Index entries must point at packets that exist and its
/// Maximum Packet Count must be the largest entry count (ASF 6.1).
fn check_indexes(f: &mut Findings, file: &AsfFile) {
    use crate::index::IndexObject;
    let h = &file.header;
    let fp = h.file_properties();
    let params = |g: Guid| {
        h.all_objects().find_map(|o| match (o, g) {
            (HeaderObject::IndexParameters(p), g) if g == guids::INDEX_PARAMETERS => {
                Some((p.interval, &p.specifiers))
            }
            (HeaderObject::MediaObjectIndexParameters(p), g)
                if g == guids::MEDIA_OBJECT_INDEX_PARAMETERS =>
            {
                Some((p.interval, &p.specifiers))
            }
            (HeaderObject::TimecodeIndexParameters(p), g)
                if g == guids::TIMECODE_INDEX_PARAMETERS =>
            {
                Some((p.interval, &p.specifiers))
            }
            _ => None,
        })
    };
    let mut off = h.encoded_len();
    for o in &file.objects {
        if let TopLevelObject::Index(idx) = o {
            let (name, interval, specs, pguid) = match idx {
                IndexObject::Index(i) => (
                    "Index Object",
                    i.entry_time_interval,
                    Some(&i.specifiers),
                    guids::INDEX_PARAMETERS,
                ),
                IndexObject::MediaObject(i) => (
                    "Media Object Index Object",
                    i.entry_count_interval,
                    Some(&i.specifiers),
                    guids::MEDIA_OBJECT_INDEX_PARAMETERS,
                ),
                IndexObject::Simple(si) => {
                    check_simple_index(f, si, off, fp);
                    ("Simple Index Object", 0, None, Guid::ZERO)
                }
                IndexObject::Timecode(t) => {
                    check_timecode_index(f, t, off);
                    // ASF 4.11: the parameters' first DWORD is not an interval the index
                    // repeats; compare the specifiers only.
                    let p_interval = params(guids::TIMECODE_INDEX_PARAMETERS).map_or(0, |p| p.0);
                    (
                        "Timecode Index Object",
                        p_interval,
                        Some(&t.specifiers),
                        guids::TIMECODE_INDEX_PARAMETERS,
                    )
                }
            };
            if let (Some(specs), Some((p_interval, p_specs))) = (specs, params(pguid)) {
                let same = specs.len() == p_specs.len()
                    && specs.iter().zip(p_specs.iter()).all(|(a, b)| {
                        a.stream_number == b.stream_number && a.index_type.0 == b.index_type
                    });
                if !same || interval != p_interval {
                    f.push(
                        Severity::Warning,
                        off,
                        name,
                        "interval or specifiers differ from its parameters object".into(),
                    );
                }
            }
        }
        off += o.encoded_len();
    }
}

/// ASF 6.4: Timecode Index specifiers use index type 2 (nearest past media object) or 3
/// (nearest past cleanpoint), and each block's Timecode Range is at least the previous one's.
fn check_timecode_index(f: &mut Findings, t: &crate::index::TimecodeIndex, off: u64) {
    const NAME: &str = "Timecode Index Object";
    for (i, s) in t.specifiers.iter().enumerate() {
        if !(2..=3).contains(&s.index_type.0) {
            f.push(
                Severity::Error,
                off + 34 + 4 * i as u64 + 2,
                NAME,
                format!(
                    "index type {} for stream {} (must be 2 or 3)",
                    s.index_type.0, s.stream_number
                ),
            );
        }
    }
    if let Some(i) = t
        .blocks
        .windows(2)
        .position(|w| w[1].timecode_range < w[0].timecode_range)
    {
        f.push(
            Severity::Error,
            off,
            NAME,
            format!(
                "block {} has a smaller Timecode Range than the block before it",
                i + 1
            ),
        );
    }
}

fn check_simple_index(
    f: &mut Findings,
    si: &crate::index::SimpleIndex,
    off: u64,
    fp: Option<&FileProperties>,
) {
    const NAME: &str = "Simple Index Object";
    let largest = si
        .entries
        .iter()
        .map(|e| u32::from(e.packet_count))
        .max()
        .unwrap_or(0);
    if si.max_packet_count < largest {
        f.push(
            Severity::Warning,
            off + 48,
            NAME,
            format!(
                "Maximum Packet Count {} is below the largest entry's {largest}",
                si.max_packet_count
            ),
        );
    }
    if let Some(fp) = fp.filter(|fp| !fp.is_broadcast() && fp.data_packets_count > 0)
        && let Some(e) = si
            .entries
            .iter()
            .find(|e| u64::from(e.packet_number) >= fp.data_packets_count)
    {
        f.push(
            Severity::Warning,
            off + 56,
            NAME,
            format!(
                "entry points at packet {} of {}",
                e.packet_number, fp.data_packets_count
            ),
        );
    }
}

/// Why bytes kept as `unparsed` did not form an object (re-parsed to recover the error).
fn why_unparsed(bytes: &[u8], offset: u64) -> String {
    match HeaderObject::parse(bytes, offset, &crate::Limits::default(), false) {
        Err(e) => e.to_string(),
        Ok(_) => "an object that exceeds the configured limits".to_string(),
    }
}

/// The type-specific and error-correction data of a stream (ASF 9.1, 9.2; asf-format.md
/// §1.2): audio must carry a WAVEFORMATEX, video the BITMAPINFOHEADER-based block with
/// consistent sizes, and Audio Spread must describe a usable interleaving.
fn check_type_specific(f: &mut Findings, sp: &crate::objects::StreamProperties, off: u64) {
    use crate::objects::{AudioSpread, VideoFormat, WaveFormatEx};
    const NAME: &str = "Stream Properties Object";
    let ts = off + 78;
    let n = sp.stream_number();
    if sp.is_audio() {
        match WaveFormatEx::parse(&sp.type_specific_data) {
            Err(_) => f.push(
                Severity::Error,
                ts,
                NAME,
                format!("stream {n}: audio type-specific data is not a WAVEFORMATEX"),
            ),
            Ok(w) if !w.trailing.is_empty() => f.push(
                Severity::Warning,
                ts,
                NAME,
                format!(
                    "stream {n}: {} bytes after the WAVEFORMATEX codec data (cbSize too small)",
                    w.trailing.len()
                ),
            ),
            Ok(_) => {}
        }
    }
    if sp.is_video() {
        match VideoFormat::parse(&sp.type_specific_data) {
            Err(_) => f.push(
                Severity::Error,
                ts,
                NAME,
                format!("stream {n}: video type-specific data is shorter than 51 bytes"),
            ),
            Ok(v) if usize::from(v.format_data_size) != 40 + v.codec_data.len() => f.push(
                Severity::Warning,
                ts + 9,
                NAME,
                format!(
                    "stream {n}: Format Data Size {} but the format block is {} bytes",
                    v.format_data_size,
                    40 + v.codec_data.len()
                ),
            ),
            Ok(_) => {}
        }
    }
    if sp.error_correction_type == guids::AUDIO_SPREAD {
        let ec = ts + sp.type_specific_data.len() as u64;
        match AudioSpread::parse(&sp.error_correction_data) {
            Err(_) => f.push(
                Severity::Error,
                ec,
                NAME,
                format!("stream {n}: Audio Spread data is truncated"),
            ),
            Ok(a) if a.span == 0 || a.virtual_chunk_length == 0 => f.push(
                Severity::Error,
                ec,
                NAME,
                format!("stream {n}: Audio Spread span and virtual chunk length must be non-zero"),
            ),
            Ok(a) if a.span > 1 && a.virtual_packet_length % a.virtual_chunk_length != 0 => f.push(
                Severity::Warning,
                ec,
                NAME,
                format!(
                    "stream {n}: Audio Spread virtual packet length {} is not a multiple of the chunk length {}",
                    a.virtual_packet_length, a.virtual_chunk_length
                ),
            ),
            Ok(_) => {}
        }
    }
}
