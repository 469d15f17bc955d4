//! Whole ASF files: the Header Object, the Data Object, index objects and whatever else
//! follows, parsed into a model that serializes back to the identical bytes.
//!
//! ASF 2 / asf-format.md §0: a file is the Header Object, then the Data Object, then zero or
//! more top-level objects (normally index objects). This module also accepts what real files
//! contain: objects after the Data Object (XMP, unknown GUIDs), junk between or after objects
//! (FFmpeg's 12-byte `$E` MMSH end chunk), broadcast files whose Data Object size is 0 or 50
//! (the packets then run to the end of the input), and files cut inside the Data Object or a
//! later object (parsed up to the cut, with [`AsfFile::truncated`] saying where).
//!
//! The Data Object is kept as a view ([`DataSection`]: its declared size and its body as
//! [`Bytes`]; [`AsfFile::packets`] walks it with [`PacketView`]); index objects are parsed
//! into [`IndexObject`]s (kept raw, with the error, if they do not parse or round trip).

use bytes::Bytes;

use crate::data::DataObjectHeader;
use crate::header::Header;
use crate::index::IndexObject;
use crate::object::{OBJECT_HEADER_LEN, RawObject, read_object_header};
use crate::objects::InvalidObject;
use crate::packet::PacketView;
use crate::reader::{Reader, WriteLe};
use crate::{Error, Guid, Limits, Result, guids};

/// Length of the Data Object's fixed part: object header, File ID, Total Data Packets,
/// Reserved (ASF 5.1).
pub const DATA_OBJECT_HEADER_LEN: usize = 50;

/// The Data Object as a view: declared size (kept as read, since broadcast files write 0 or
/// 50) and the body that was actually present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    /// The Object Size field as read.
    pub size_field: u64,
    /// The body (after the 24-byte object header): File ID, Total Data Packets, Reserved,
    /// then the packets. Runs to the declared end, or to the end of the input for broadcast
    /// sizes and truncated files.
    pub body: Bytes,
}

impl DataSection {
    /// ASF 5.1: File ID (must equal the File Properties File ID), if present.
    pub fn file_id(&self) -> Option<Guid> {
        let b = self.body.get(..16)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Some(Guid(a))
    }

    /// ASF 5.1: Total Data Packets, if present.
    pub fn total_data_packets(&self) -> Option<u64> {
        let b = self.body.get(16..24)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }

    /// ASF 5.1: the Reserved WORD (0x0101), if present.
    pub fn reserved(&self) -> Option<u16> {
        let b = self.body.get(24..26)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    /// The 50-byte Data Object header as the data-side type, when all 50 bytes are present
    /// and valid.
    pub fn header(&self) -> Option<DataObjectHeader> {
        let fixed = self
            .body
            .get(..DATA_OBJECT_HEADER_LEN - OBJECT_HEADER_LEN as usize)?;
        let mut b = Vec::with_capacity(DATA_OBJECT_HEADER_LEN);
        b.put_guid(&guids::DATA);
        b.put_u64_le(self.size_field);
        b.put_raw(fixed);
        DataObjectHeader::parse(&b, 0).ok()
    }

    /// The packet bytes (everything after the 50-byte fixed part).
    pub fn packets(&self) -> Bytes {
        let start = (DATA_OBJECT_HEADER_LEN - OBJECT_HEADER_LEN as usize).min(self.body.len());
        self.body.slice(start..)
    }

    /// Encoded length (object header plus the body present).
    pub fn encoded_len(&self) -> u64 {
        OBJECT_HEADER_LEN + self.body.len() as u64
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.put_guid(&guids::DATA);
        out.put_u64_le(self.size_field);
        out.put_raw(&self.body);
    }
}

/// A top-level object after the Header Object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopLevelObject {
    /// The Data Object.
    Data(DataSection),
    /// An index object (Simple Index, Index, Media Object Index, Timecode Index).
    Index(IndexObject),
    /// An index object that did not parse (or would not serialize back identically), kept
    /// raw with the error.
    InvalidIndex(InvalidObject),
    /// Any other complete object (unknown GUID, XMP, ...), raw.
    Other(RawObject),
    /// Bytes that do not form an object: junk, FFmpeg's `$E` trailer, or the start of an
    /// object cut by the end of the input.
    Junk(Bytes),
}

impl TopLevelObject {
    /// Encoded length.
    pub fn encoded_len(&self) -> u64 {
        match self {
            TopLevelObject::Data(d) => d.encoded_len(),
            TopLevelObject::Index(i) => i.encoded_len(),
            TopLevelObject::InvalidIndex(i) => i.raw.encoded_len(),
            TopLevelObject::Other(r) => r.encoded_len(),
            TopLevelObject::Junk(b) => b.len() as u64,
        }
    }

    /// Writes the object (or junk) exactly as modelled.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            TopLevelObject::Data(d) => d.write(out),
            TopLevelObject::Index(i) => i.write(out),
            TopLevelObject::InvalidIndex(i) => i.raw.write(out),
            TopLevelObject::Other(r) => r.write(out),
            TopLevelObject::Junk(b) => out.put_raw(b),
        }
    }
}

/// One line of [`AsfFile::outline`]: an object (or junk) with its absolute offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlineEntry {
    /// Absolute offset of the first byte.
    pub offset: u64,
    /// Nesting depth: 0 top level, 1 Header Object child, 2 Header Extension child.
    pub depth: u8,
    /// Object name (`"junk"` for bytes that do not form an object, `"unparsed"` for the
    /// unparsed tail of the header or extension).
    pub name: &'static str,
    /// GUID when the entry is an object.
    pub guid: Option<Guid>,
    /// Bytes the entry covers in the input.
    pub len: u64,
}

/// Where the input ended inside an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncationInfo {
    /// Absolute offset of the cut object's first byte.
    pub offset: u64,
    /// The cut object's name.
    pub object: &'static str,
    /// Its declared size.
    pub declared_size: u64,
    /// The bytes of it actually present.
    pub available: u64,
}

/// A whole ASF file.
///
/// ```
/// use asf_format::objects::{
///     AudioSpread, FileProperties, HeaderExtension, HeaderObject, StreamProperties, WaveFormatEx,
/// };
/// use asf_format::{AsfFile, AsfObject, Header, Limits, guids, validate};
///
/// // Build a header from the model...
/// let wma2 = WaveFormatEx { format_tag: 0x0161, channels: 2, samples_per_sec: 44100,
///     block_align: 2973, codec_data: Some(vec![0; 10]), ..Default::default() };
/// let sp = StreamProperties::audio(1, &wma2, Some(&AudioSpread::no_interleave(2973)));
/// let fp = FileProperties { min_packet_size: 3200, max_packet_size: 3200, max_bitrate: 128_000,
///     ..Default::default() };
/// let mut header = Header {
///     objects: vec![
///         HeaderObject::FileProperties(fp),
///         HeaderObject::HeaderExtension(HeaderExtension::default()),
///         HeaderObject::StreamProperties(sp),
///     ],
///     ..Default::default()
/// };
/// header.fix(); // Number of Header Objects = 3
/// let mut bytes = header.to_bytes();
/// // ...followed by an empty Data Object (50 bytes: GUID, size, File ID, 0 packets, 0x0101).
/// bytes.extend_from_slice(guids::DATA.as_bytes());
/// bytes.extend_from_slice(&50u64.to_le_bytes());
/// bytes.extend_from_slice(&[0; 24]);
/// bytes.extend_from_slice(&[1, 1]);
///
/// let file = AsfFile::parse(&bytes, &Limits::default())?;
/// assert_eq!(file.header.packet_size(), Some(3200));
/// assert_eq!(file.header.stream(1).map(|s| s.is_audio()), Some(true));
/// assert_eq!(file.to_bytes(), bytes);
/// assert!(validate(&file).is_empty());
/// # Ok::<(), asf_format::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsfFile {
    /// The Header Object.
    pub header: Header,
    /// Everything after the header, in order.
    pub objects: Vec<TopLevelObject>,
    /// Set when the input ended inside an object.
    pub truncated: Option<TruncationInfo>,
}

const INDEX_GUIDS: [Guid; 4] = [
    guids::SIMPLE_INDEX,
    guids::INDEX,
    guids::MEDIA_OBJECT_INDEX,
    guids::TIMECODE_INDEX,
];

impl AsfFile {
    /// Parses a whole file from a byte slice (copies what it keeps; see
    /// [`AsfFile::parse_bytes`] for zero-copy).
    pub fn parse(input: &[u8], limits: &Limits) -> Result<AsfFile> {
        Self::parse_bytes(&Bytes::copy_from_slice(input), limits)
    }

    /// Parses a whole file; the Data Object body and raw objects are views into `input`.
    ///
    /// Fails only when the input does not start with a complete Header Object; everything
    /// else odd is kept in the model and reported by [`crate::validate::validate`].
    pub fn parse_bytes(input: &Bytes, limits: &Limits) -> Result<AsfFile> {
        let mut r = Reader::new(input, 0, "Header Object");
        let (guid, size) = read_object_header(&mut r)?;
        // ASF 3.1: the Header Object comes first.
        if guid != guids::HEADER {
            return Err(Error::Malformed {
                offset: 0,
                object: "Header Object",
                reason: "the input does not start with a Header Object GUID",
            });
        }
        if size < 30 {
            return Err(Error::Malformed {
                offset: 16,
                object: "Header Object",
                reason: "Header Object size below the 30-byte minimum",
            });
        }
        if size > limits.max_header_size {
            return Err(Error::LimitExceeded {
                offset: 16,
                object: "Header Object",
                what: "header size",
                value: size,
                limit: limits.max_header_size,
            });
        }
        let (header, used) = Header::parse_header(input, 0, limits)?;
        let mut file = AsfFile {
            header,
            objects: Vec::new(),
            truncated: None,
        };
        let broadcast = file.header.is_broadcast();
        let mut pos = used;
        while pos < input.len() {
            let rest = input.len() - pos;
            if rest < OBJECT_HEADER_LEN as usize {
                file.objects.push(TopLevelObject::Junk(input.slice(pos..)));
                break;
            }
            let mut r = Reader::new(&input[pos..], pos as u64, "object");
            let (guid, size) = read_object_header(&mut r)?;
            if guid == guids::DATA {
                let after = pos + DATA_OBJECT_HEADER_LEN;
                // ASF 5.1: size 0 means unknown (broadcast); FFmpeg's asf_stream and live
                // writers write 50 (GStreamer: WMP over WMSP rejects 0). Then the packets run
                // to the end of the input, unless (without the Broadcast flag) an object
                // header follows a real 50-byte empty Data Object.
                let unbounded = size < DATA_OBJECT_HEADER_LEN as u64
                    || (size == DATA_OBJECT_HEADER_LEN as u64
                        && rest > DATA_OBJECT_HEADER_LEN
                        && (broadcast || !plausible_object_at(&input[after..])));
                // ASF 5.1: the size covers the packets. When it claims more than the input
                // holds but an index object starts at a packet boundary before the end, the
                // size is a lie (as the streaming reader does): end the Data Object
                // there and keep the size field as read (validate reports it).
                let stops_at_index = || {
                    let end = unbounded_data_end(
                        input,
                        after.min(input.len()),
                        file.header.packet_size(),
                    );
                    let at_index = input
                        .get(end..end + 16)
                        .is_some_and(|g| INDEX_GUIDS.iter().any(|i| i.as_bytes() == g));
                    at_index.then_some(end)
                };
                let end = if unbounded {
                    unbounded_data_end(input, after, file.header.packet_size())
                } else if let Some(end) = (size > rest as u64).then(stops_at_index).flatten() {
                    end
                } else if size > rest as u64 {
                    file.truncated = Some(TruncationInfo {
                        offset: pos as u64,
                        object: "Data Object",
                        declared_size: size,
                        available: rest as u64,
                    });
                    input.len()
                } else {
                    pos + size as usize
                };
                file.objects.push(TopLevelObject::Data(DataSection {
                    size_field: size,
                    body: input.slice(pos + OBJECT_HEADER_LEN as usize..end),
                }));
                pos = end;
                continue;
            }
            if size < OBJECT_HEADER_LEN || size > rest as u64 || size > limits.max_object_size {
                let known = guids::name_of(&guid);
                if let (Some(name), true) = (known, size > rest as u64) {
                    // A known object cut by the end of the input.
                    file.truncated = Some(TruncationInfo {
                        offset: pos as u64,
                        object: name,
                        declared_size: size,
                        available: rest as u64,
                    });
                    file.objects.push(TopLevelObject::Junk(input.slice(pos..)));
                    break;
                }
                // Junk (e.g. left by tag editors between Header and Data): skip to the next
                // Data, index or Header Object GUID, or keep the rest of the input.
                let end = crate::stream::find_resync_guid(&input[pos + 1..])
                    .map_or(input.len(), |i| pos + 1 + i);
                file.objects
                    .push(TopLevelObject::Junk(input.slice(pos..end)));
                pos = end;
                continue;
            }
            if guids::name_of(&guid).is_none() {
                // An unknown GUID whose size covers a Data, index or Header GUID is junk that
                // happens to carry a plausible size: resync there (as the streaming reader does).
                if let Some(i) =
                    crate::stream::find_resync_guid(&input[pos + 1..pos + size as usize])
                {
                    file.objects
                        .push(TopLevelObject::Junk(input.slice(pos..pos + 1 + i)));
                    pos += 1 + i;
                    continue;
                }
            }
            let body = input.slice(pos + OBJECT_HEADER_LEN as usize..pos + size as usize);
            let raw = RawObject { guid, data: body };
            file.objects.push(if INDEX_GUIDS.contains(&guid) {
                parse_index(raw, &input[pos..pos + size as usize], pos as u64, limits)
            } else {
                TopLevelObject::Other(raw)
            });
            pos += size as usize;
        }
        Ok(file)
    }

    /// The Data Object, if present.
    pub fn data(&self) -> Option<&DataSection> {
        self.objects.iter().find_map(|o| match o {
            TopLevelObject::Data(d) => Some(d),
            _ => None,
        })
    }

    /// The index objects that parsed, in file order.
    pub fn index_objects(&self) -> impl Iterator<Item = &IndexObject> {
        self.objects.iter().filter_map(|o| match o {
            TopLevelObject::Index(i) => Some(i),
            _ => None,
        })
    }

    /// Every object with its absolute offset and size, in file order, header children and
    /// Header Extension children included (what `wmpush inspect` prints).
    pub fn outline(&self) -> Vec<OutlineEntry> {
        use crate::object::AsfObject;
        use crate::objects::HeaderObject;
        let mut out = vec![OutlineEntry {
            offset: 0,
            depth: 0,
            name: "Header Object",
            guid: Some(guids::HEADER),
            len: self.header.encoded_len(),
        }];
        let mut off = 30u64;
        for o in &self.header.objects {
            out.push(OutlineEntry {
                offset: off,
                depth: 1,
                name: o.name(),
                guid: Some(o.guid()),
                len: o.encoded_len(),
            });
            if let HeaderObject::HeaderExtension(he) = o {
                let mut inner = off + 46;
                for c in &he.objects {
                    out.push(OutlineEntry {
                        offset: inner,
                        depth: 2,
                        name: c.name(),
                        guid: Some(c.guid()),
                        len: c.encoded_len(),
                    });
                    inner += c.encoded_len();
                }
                if !he.unparsed.is_empty() {
                    out.push(OutlineEntry {
                        offset: inner,
                        depth: 2,
                        name: "unparsed",
                        guid: None,
                        len: he.unparsed.len() as u64,
                    });
                }
            }
            off += o.encoded_len();
        }
        if !self.header.unparsed.is_empty() {
            out.push(OutlineEntry {
                offset: off,
                depth: 1,
                name: "unparsed",
                guid: None,
                len: self.header.unparsed.len() as u64,
            });
        }
        let mut off = self.header.encoded_len();
        for o in &self.objects {
            let (name, guid) = match o {
                TopLevelObject::Data(_) => ("Data Object", Some(guids::DATA)),
                TopLevelObject::Index(i) => {
                    let g = index_guid(i);
                    (guids::name_of(&g).unwrap_or("index object"), Some(g))
                }
                TopLevelObject::InvalidIndex(i) => {
                    (i.raw.name().unwrap_or("index object"), Some(i.raw.guid))
                }
                TopLevelObject::Other(r) => (r.name().unwrap_or("unknown object"), Some(r.guid)),
                TopLevelObject::Junk(_) => ("junk", None),
            };
            out.push(OutlineEntry {
                offset: off,
                depth: 0,
                name,
                guid,
                len: o.encoded_len(),
            });
            off += o.encoded_len();
        }
        out
    }

    /// Absolute offset of the Data Object, if present.
    pub fn data_offset(&self) -> Option<u64> {
        use crate::object::AsfObject;
        let mut off = self.header.encoded_len();
        for o in &self.objects {
            if matches!(o, TopLevelObject::Data(_)) {
                return Some(off);
            }
            off += o.encoded_len();
        }
        None
    }

    /// Walks the data packets present (fixed size from File Properties; a final partial
    /// packet is not returned). Each item is a zero-copy [`PacketView`] or the error that
    /// packet gave, with its absolute offset.
    pub fn packets(&self) -> impl Iterator<Item = Result<PacketView<'_>>> {
        let size = self
            .header
            .file_properties()
            .map_or(0, |fp| fp.max_packet_size);
        let data = self.data();
        let base = self.data_offset().unwrap_or(0) + DATA_OBJECT_HEADER_LEN as u64;
        let body: &[u8] = match data {
            Some(d) if size > 0 => d
                .body
                .get(DATA_OBJECT_HEADER_LEN - OBJECT_HEADER_LEN as usize..)
                .unwrap_or(&[]),
            _ => &[],
        };
        let step = (size as usize).max(1);
        body.chunks_exact(step)
            .enumerate()
            .map(move |(i, p)| PacketView::parse(p, size, base + (i * step) as u64))
    }

    /// Exact encoded length of the whole file.
    pub fn encoded_len(&self) -> u64 {
        use crate::object::AsfObject;
        self.header.encoded_len()
            + self
                .objects
                .iter()
                .map(TopLevelObject::encoded_len)
                .sum::<u64>()
    }

    /// Serializes the model (fields as they are; call [`AsfFile::fix`] first after edits).
    pub fn write(&self, out: &mut Vec<u8>) {
        use crate::object::AsfObject;
        self.header.write(out);
        for o in &self.objects {
            o.write(out);
        }
    }

    /// Serializes the model to a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.encoded_len()).unwrap_or(0));
        self.write(&mut v);
        v
    }

    /// Recomputes counts and sizes in the header (STYLE habit 4). The Data Object size and
    /// the File Properties sizes are left as they are: they describe the data side.
    pub fn fix(&mut self) {
        use crate::object::AsfObject;
        self.header.fix();
    }
}

fn starts_with_known_guid(b: Option<&[u8]>) -> bool {
    let Some(b) = b.and_then(|b| b.get(..16)) else {
        return false;
    };
    guids::ALL.iter().any(|(g, _)| g.as_bytes() == b)
}

/// End of a Data Object of unknown size (broadcast): whole packets of the File Properties
/// packet size up to the first index object GUID (FFmpeg's non-seekable output still
/// appends its Simple Index and a 12-byte `$E` chunk), or the end of the input when the
/// packet size is unknown.
fn unbounded_data_end(input: &[u8], packets_start: usize, packet_size: Option<u32>) -> usize {
    let Some(size) = packet_size.filter(|&s| s > 0).map(|s| s as usize) else {
        return input.len();
    };
    let mut end = packets_start.min(input.len());
    while end + size <= input.len() {
        let next = &input[end..];
        if next.len() >= 16 && INDEX_GUIDS.iter().any(|g| g.as_bytes() == &next[..16]) {
            return end;
        }
        end += size;
    }
    // A tail shorter than one packet: keep it in the Data Object unless it is an object or
    // FFmpeg's `$E` end chunk (MMSH framing type 0x4524).
    let tail = &input[end..];
    if tail.starts_with(b"$E") || starts_with_known_guid(Some(tail)) {
        end
    } else {
        input.len()
    }
}

fn parse_index(raw: RawObject, bytes: &[u8], base: u64, limits: &Limits) -> TopLevelObject {
    match IndexObject::parse(bytes, base, limits) {
        Ok(Some((idx, used))) if used == bytes.len() => {
            let mut v = Vec::with_capacity(bytes.len());
            idx.write(&mut v);
            if v == bytes {
                return TopLevelObject::Index(idx);
            }
            TopLevelObject::InvalidIndex(InvalidObject {
                raw,
                error: Error::Malformed {
                    offset: base,
                    object: "index object",
                    reason: "object does not round trip through the model",
                },
            })
        }
        Ok(_) => TopLevelObject::InvalidIndex(InvalidObject {
            raw,
            error: Error::Malformed {
                offset: base,
                object: "index object",
                reason: "index object not fully parsed",
            },
        }),
        Err(error) => TopLevelObject::InvalidIndex(InvalidObject { raw, error }),
    }
}

/// True when `b` starts with something that looks like an object header: a known GUID, or
/// a size field that fits the bytes left.
fn plausible_object_at(b: &[u8]) -> bool {
    if starts_with_known_guid(Some(b)) {
        return true;
    }
    let Some(size) = b.get(16..24) else {
        return false;
    };
    let mut a = [0u8; 8];
    a.copy_from_slice(size);
    let size = u64::from_le_bytes(a);
    size >= OBJECT_HEADER_LEN && size <= b.len() as u64
}

/// The GUID of an index object.
pub(crate) fn index_guid(i: &IndexObject) -> Guid {
    match i {
        IndexObject::Simple(_) => guids::SIMPLE_INDEX,
        IndexObject::Index(_) => guids::INDEX,
        IndexObject::MediaObject(_) => guids::MEDIA_OBJECT_INDEX,
        IndexObject::Timecode(_) => guids::TIMECODE_INDEX,
    }
}
