//! The Header Object (ASF 3.1) and convenience accessors over its children.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Object ID (`75B22630-668E-11CF-A6D9-00AA0062CE6C`) |
//! | QWORD | Object Size |
//! | DWORD | Number of Header Objects (direct children; the Header Extension counts once) |
//! | BYTE | Reserved1 (= 0x01) |
//! | BYTE | Reserved2 (= 0x02) |
//! | objects | the children, in any order |
//!
//! Children are parsed by size, not by count: the count is kept as read (some writers,
//! e.g. GStreamer, miscount) and recomputed by [`AsfObject::fix`].

use crate::file::TruncationInfo;
use crate::object::AsfObject;
use crate::objects::header_extension::parse_children;
use crate::objects::{
    CodecList, ContentDescription, ExtendedContentDescription, ExtendedStreamProperties,
    FileProperties, HeaderExtension, HeaderObject, StreamProperties,
};
use crate::reader::{Reader, WriteLe};
use crate::{Guid, Limits, Result, guids};

/// The Header Object: all the metadata before the Data Object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Number of Header Objects as read (see [`Header::fix`] via [`AsfObject::fix`]).
    pub object_count: u32,
    /// Reserved1 as read (= 1).
    pub reserved1: u8,
    /// Reserved2 as read (= 2; the spec says readers should refuse other values).
    pub reserved2: u8,
    /// The children in file order.
    pub objects: Vec<HeaderObject>,
    /// Bytes at the end of the header that do not form an object (a validate finding).
    pub unparsed: Vec<u8>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            object_count: 0,
            reserved1: 1,
            reserved2: 2,
            objects: Vec::new(),
            unparsed: Vec::new(),
        }
    }
}

impl AsfObject for Header {
    const GUID: Guid = guids::HEADER;
    const NAME: &'static str = "Header Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let object_count = r.u32()?;
        let reserved1 = r.u8()?;
        let reserved2 = r.u8()?;
        let (objects, unparsed) = parse_children(r, limits, false)?;
        Ok(Header {
            object_count,
            reserved1,
            reserved2,
            objects,
            unparsed,
        })
    }

    fn body_len(&self) -> u64 {
        6 + self
            .objects
            .iter()
            .map(HeaderObject::encoded_len)
            .sum::<u64>()
            + self.unparsed.len() as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_u32_le(self.object_count);
        out.put_u8_le(self.reserved1);
        out.put_u8_le(self.reserved2);
        for o in &self.objects {
            o.write(out);
        }
        out.put_raw(&self.unparsed);
    }

    /// ASF 3.1: Number of Header Objects counts the direct children.
    fn fix(&mut self) {
        for o in &mut self.objects {
            o.fix();
        }
        self.object_count = u32::try_from(self.objects.len()).unwrap_or(u32::MAX);
    }
}

impl Header {
    /// Every object: the direct children, then (in place of each Header Extension) its
    /// children, depth first, in file order.
    pub fn all_objects(&self) -> impl Iterator<Item = &HeaderObject> {
        self.objects.iter().flat_map(|o| {
            let inner: &[HeaderObject] = match o {
                HeaderObject::HeaderExtension(he) => &he.objects,
                _ => &[],
            };
            core::iter::once(o).chain(inner.iter())
        })
    }

    /// The first File Properties Object (at either level).
    pub fn file_properties(&self) -> Option<&FileProperties> {
        self.all_objects().find_map(|o| match o {
            HeaderObject::FileProperties(fp) => Some(fp),
            _ => None,
        })
    }

    /// The first File Properties Object, mutable (direct children only).
    pub fn file_properties_mut(&mut self) -> Option<&mut FileProperties> {
        self.objects.iter_mut().find_map(|o| match o {
            HeaderObject::FileProperties(fp) => Some(fp),
            _ => None,
        })
    }

    /// The Header Extension Object, mutable; one is appended if there is none (ASF 3.4:
    /// it is mandatory).
    pub fn header_extension_mut(&mut self) -> &mut HeaderExtension {
        if self.header_extension().is_none() {
            self.objects
                .push(HeaderObject::HeaderExtension(HeaderExtension::default()));
        }
        self.objects
            .iter_mut()
            .find_map(|o| match o {
                HeaderObject::HeaderExtension(he) => Some(he),
                _ => None,
            })
            .expect("a Header Extension is present: it was appended above if missing")
    }

    /// The first Header Extension Object.
    pub fn header_extension(&self) -> Option<&HeaderExtension> {
        self.objects.iter().find_map(|o| match o {
            HeaderObject::HeaderExtension(he) => Some(he),
            _ => None,
        })
    }

    /// Every Stream Properties Object: top-level ones, ones placed in the Header Extension,
    /// and ones embedded in Extended Stream Properties (hidden streams), in file order.
    pub fn stream_properties(&self) -> Vec<&StreamProperties> {
        self.all_objects()
            .filter_map(|o| match o {
                HeaderObject::StreamProperties(sp) => Some(sp),
                HeaderObject::ExtendedStreamProperties(e) => e.stream_properties.as_ref(),
                _ => None,
            })
            .collect()
    }

    /// The Stream Properties of stream `number`.
    pub fn stream(&self, number: u8) -> Option<&StreamProperties> {
        self.stream_properties()
            .into_iter()
            .find(|s| s.stream_number() == number)
    }

    /// The Extended Stream Properties of stream `number`.
    pub fn extended_stream_properties(&self, number: u8) -> Option<&ExtendedStreamProperties> {
        self.all_objects().find_map(|o| match o {
            HeaderObject::ExtendedStreamProperties(e) if e.stream_number == u16::from(number) => {
                Some(e)
            }
            _ => None,
        })
    }

    /// The Content Description, if any.
    pub fn content_description(&self) -> Option<&ContentDescription> {
        self.all_objects().find_map(|o| match o {
            HeaderObject::ContentDescription(c) => Some(c),
            _ => None,
        })
    }

    /// The Extended Content Description, if any.
    pub fn extended_content_description(&self) -> Option<&ExtendedContentDescription> {
        self.all_objects().find_map(|o| match o {
            HeaderObject::ExtendedContentDescription(c) => Some(c),
            _ => None,
        })
    }

    /// The Codec List, if any.
    pub fn codec_list(&self) -> Option<&CodecList> {
        self.all_objects().find_map(|o| match o {
            HeaderObject::CodecList(c) => Some(c),
            _ => None,
        })
    }

    /// The data packet size (File Properties min == max), if known.
    pub fn packet_size(&self) -> Option<u32> {
        self.file_properties()?.packet_size()
    }

    /// The preroll in ms, if File Properties is present.
    pub fn preroll_ms(&self) -> Option<u64> {
        Some(self.file_properties()?.preroll)
    }

    /// True when File Properties has the Broadcast flag.
    pub fn is_broadcast(&self) -> bool {
        self.file_properties()
            .is_some_and(FileProperties::is_broadcast)
    }

    /// Parses a whole Header Object from the start of `input` (absolute offset `base`),
    /// enforcing `limits.max_header_size`.
    pub fn parse_header(input: &[u8], base: u64, limits: &Limits) -> Result<(Header, usize)> {
        let mut l = *limits;
        l.max_object_size = l.max_header_size;
        Header::parse(input, base, &l)
    }
}

/// What could be read of a Header Object that the input cuts short (see
/// [`Header::parse_partial`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialHeader {
    /// The Header Object's fields as read (defaults for those cut off) and its complete
    /// children before the cut; the bytes present of the cut child are in
    /// [`Header::unparsed`].
    pub header: Header,
    /// When the cut falls inside the Header Extension Object: its complete children before the
    /// cut (it is not in `header.objects`, being incomplete).
    pub extension_objects: Vec<HeaderObject>,
    /// The innermost object the input ends in, with its offset, declared size and the bytes
    /// present: a header child, a Header Extension child, `"object header"` when the cut falls
    /// inside a child's 24-byte GUID and size, or the Header Object itself.
    pub truncated: TruncationInfo,
}

impl Header {
    /// Reads what is complete of a Header Object that the input ends inside of: the objects
    /// before the cut, and where the cut is. `None` when `input` does not start with the
    /// Header Object GUID, when the Header Object is complete (use [`Header::parse_header`] /
    /// [`crate::AsfFile::parse`]), or when what is present cannot be read (a limit exceeded).
    ///
    /// ASF 3.1: the Header Object's size covers all of its children, so a shorter input cuts
    /// the last ones; every child before the cut is whole and parses as usual.
    pub fn parse_partial(input: &[u8], limits: &Limits) -> Option<PartialHeader> {
        if input.get(..16)? != guids::HEADER.as_bytes() {
            return None;
        }
        let declared = input.get(16..24).map(le_u64);
        if declared.is_some_and(|d| input.len() as u64 >= d) {
            return None;
        }
        let available = input.len() as u64;
        let whole_header = TruncationInfo {
            offset: 0,
            object: Self::NAME,
            declared_size: declared.unwrap_or(0),
            available,
        };
        let mut header = Header::default();
        if input.len() < 30 {
            return Some(PartialHeader {
                header,
                extension_objects: Vec::new(),
                truncated: whole_header,
            });
        }
        let mut r = Reader::new(input, 0, Self::NAME);
        r.bytes(24).ok()?;
        header.object_count = r.u32().ok()?;
        header.reserved1 = r.u8().ok()?;
        header.reserved2 = r.u8().ok()?;
        let (objects, unparsed) = parse_children(&mut r, limits, false).ok()?;
        header.objects = objects;
        let cut_at = input.len() - unparsed.len();
        let (truncated, extension_objects) = match cut_child(&unparsed, cut_at as u64) {
            Some(child) if child.object == HeaderExtension::NAME && unparsed.len() >= 46 => {
                // ASF 3.4: the extension's children start after its 46-byte fixed part.
                let inner_at = cut_at + 46;
                let mut inner = Reader::new(&input[inner_at..], inner_at as u64, child.object);
                let (children, rest) = parse_children(&mut inner, limits, true).ok()?;
                let rest_at = (input.len() - rest.len()) as u64;
                (cut_child(&rest, rest_at).unwrap_or(child), children)
            }
            Some(child) => (child, Vec::new()),
            None => (whole_header, Vec::new()),
        };
        header.unparsed = unparsed;
        Some(PartialHeader {
            header,
            extension_objects,
            truncated,
        })
    }
}

/// The child object that `rest` (the bytes from absolute offset `at` to the end of the input)
/// starts and that the input cuts: `None` when `rest` is empty or holds a whole object.
fn cut_child(rest: &[u8], at: u64) -> Option<TruncationInfo> {
    if rest.is_empty() {
        return None;
    }
    let available = rest.len() as u64;
    let Some(size) = rest.get(16..24).map(le_u64) else {
        return Some(TruncationInfo {
            offset: at,
            object: "object header",
            declared_size: 24,
            available,
        });
    };
    if size <= available {
        return None;
    }
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&rest[..16]);
    Some(TruncationInfo {
        offset: at,
        object: guids::name_of(&Guid(guid)).unwrap_or("unknown object"),
        declared_size: size,
        available,
    })
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}
