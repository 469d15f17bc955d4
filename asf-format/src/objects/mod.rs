//! One module per ASF header object, and [`HeaderObject`], the enum of everything that can
//! appear inside the Header Object or the Header Extension.
//!
//! One enum serves both levels: ASF 3.4 asks readers to accept Header Object children inside
//! the Header Extension too, so the same dispatch is used (a Header Extension nested in a
//! Header Extension is kept opaque, which also bounds recursion).

pub mod advanced_mutual_exclusion;
pub mod bandwidth_sharing;
pub mod bitrate_mutual_exclusion;
pub mod codec_list;
pub mod compatibility;
pub mod content_branding;
pub mod content_description;
pub mod error_correction;
pub mod extended_content_description;
pub mod extended_stream_properties;
pub mod file_properties;
pub mod group_mutual_exclusion;
pub mod header_extension;
pub mod index_parameters;
pub mod language_list;
pub mod marker;
pub mod metadata;
pub mod padding;
pub mod script_command;
pub mod stream_bitrate_properties;
pub mod stream_prioritization;
pub mod stream_properties;

pub use advanced_mutual_exclusion::AdvancedMutualExclusion;
pub use bandwidth_sharing::BandwidthSharing;
pub use bitrate_mutual_exclusion::BitrateMutualExclusion;
pub use codec_list::{CodecEntry, CodecList};
pub use compatibility::Compatibility;
pub use content_branding::ContentBranding;
pub use content_description::ContentDescription;
pub use error_correction::ErrorCorrection;
pub use extended_content_description::{
    ContentDescriptor, ExtendedContentDescription, TypedValue, Value,
};
pub use extended_stream_properties::{
    ExtendedStreamProperties, PayloadExtensionSystem, StreamName,
};
pub use file_properties::FileProperties;
pub use group_mutual_exclusion::GroupMutualExclusion;
pub use header_extension::HeaderExtension;
pub use index_parameters::{
    IndexParameters, IndexSpecifier, MediaObjectIndexParameters, TimecodeIndexParameters,
};
pub use language_list::LanguageList;
pub use marker::{Marker, MarkerEntry};
pub use metadata::{Metadata, MetadataLibrary, MetadataRecord};
pub use padding::Padding;
pub use script_command::{ScriptCommand, ScriptCommandEntry};
pub use stream_bitrate_properties::{BitrateRecord, StreamBitrateProperties};
pub use stream_prioritization::{PriorityRecord, StreamPrioritization};
pub use stream_properties::{AudioSpread, StreamProperties, VideoFormat, WaveFormatEx};

use crate::object::{AsfObject, RawObject};
use crate::{Error, Guid, Limits, Result, guids};

/// A known object that could not be parsed into its model (or whose model would not
/// serialize back to the same bytes). Kept raw with the reason, so the file still round
/// trips and `validate` reports it (STYLE habit 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidObject {
    /// The object, raw.
    pub raw: RawObject,
    /// Why it could not be modelled.
    pub error: Error,
}

macro_rules! header_objects {
    ($( $variant:ident($ty:ty) ),* $(,)?) => {
        /// Any object inside the Header Object or the Header Extension.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum HeaderObject {
            $(
                #[doc = concat!("A parsed [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
            /// A known object kept as opaque bytes (encryption, signature, index
            /// placeholder, or a nested Header Extension).
            Opaque(RawObject),
            /// An object with an unknown GUID, kept raw.
            Unknown(RawObject),
            /// A known object that failed to parse, kept raw with the error.
            Invalid(InvalidObject),
        }

        impl HeaderObject {
            /// The object's GUID.
            pub fn guid(&self) -> Guid {
                match self {
                    $( HeaderObject::$variant(_) => <$ty as AsfObject>::GUID, )*
                    HeaderObject::Opaque(r) | HeaderObject::Unknown(r) => r.guid,
                    HeaderObject::Invalid(i) => i.raw.guid,
                }
            }

            /// Exact encoded length including the 24-byte object header.
            pub fn encoded_len(&self) -> u64 {
                match self {
                    $( HeaderObject::$variant(o) => o.encoded_len(), )*
                    HeaderObject::Opaque(r) | HeaderObject::Unknown(r) => r.encoded_len(),
                    HeaderObject::Invalid(i) => i.raw.encoded_len(),
                }
            }

            /// Writes the whole object.
            pub fn write(&self, out: &mut Vec<u8>) {
                match self {
                    $( HeaderObject::$variant(o) => o.write(out), )*
                    HeaderObject::Opaque(r) | HeaderObject::Unknown(r) => r.write(out),
                    HeaderObject::Invalid(i) => i.raw.write(out),
                }
            }

            /// Recomputes counts and sizes kept as read (STYLE habit 4).
            pub fn fix(&mut self) {
                match self {
                    $( HeaderObject::$variant(o) => o.fix(), )*
                    _ => {}
                }
            }

            fn parse_typed(guid: &Guid, input: &[u8], base: u64, limits: &Limits) -> Option<Result<(HeaderObject, usize)>> {
                $(
                    if *guid == <$ty as AsfObject>::GUID {
                        return Some(<$ty as AsfObject>::parse(input, base, limits)
                            .map(|(o, n)| (HeaderObject::$variant(o), n)));
                    }
                )*
                None
            }
        }
    };
}

header_objects! {
    FileProperties(FileProperties),
    StreamProperties(StreamProperties),
    HeaderExtension(HeaderExtension),
    CodecList(CodecList),
    ScriptCommand(ScriptCommand),
    Marker(Marker),
    BitrateMutualExclusion(BitrateMutualExclusion),
    ErrorCorrection(ErrorCorrection),
    ContentDescription(ContentDescription),
    ExtendedContentDescription(ExtendedContentDescription),
    StreamBitrateProperties(StreamBitrateProperties),
    ContentBranding(ContentBranding),
    Padding(Padding),
    ExtendedStreamProperties(ExtendedStreamProperties),
    AdvancedMutualExclusion(AdvancedMutualExclusion),
    GroupMutualExclusion(GroupMutualExclusion),
    StreamPrioritization(StreamPrioritization),
    BandwidthSharing(BandwidthSharing),
    LanguageList(LanguageList),
    Metadata(Metadata),
    MetadataLibrary(MetadataLibrary),
    IndexParameters(IndexParameters),
    MediaObjectIndexParameters(MediaObjectIndexParameters),
    TimecodeIndexParameters(TimecodeIndexParameters),
    Compatibility(Compatibility),
}

/// GUIDs of known objects kept as opaque bytes (asf-format.md §1.2: a parser keeps
/// encryption objects as opaque bytes so they round-trip).
const OPAQUE: &[Guid] = &[
    guids::CONTENT_ENCRYPTION,
    guids::EXTENDED_CONTENT_ENCRYPTION,
    guids::DIGITAL_SIGNATURE,
    guids::ADVANCED_CONTENT_ENCRYPTION,
    guids::INDEX_PLACEHOLDER,
];

impl HeaderObject {
    /// The object's name (from the GUID table), or `"unknown object"`.
    pub fn name(&self) -> &'static str {
        guids::name_of(&self.guid()).unwrap_or("unknown object")
    }

    /// Serializes the object to a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(usize::try_from(self.encoded_len()).unwrap_or(0));
        self.write(&mut v);
        v
    }

    /// Parses one object from the start of `input` (absolute offset `base`). Fails only when
    /// the 24-byte object header is missing or its size does not fit in `input`; a known
    /// object whose body does not parse becomes [`HeaderObject::Invalid`].
    pub fn parse(
        input: &[u8],
        base: u64,
        limits: &Limits,
        in_extension: bool,
    ) -> Result<(HeaderObject, usize)> {
        let mut r = crate::reader::Reader::new(input, base, "object");
        let (guid, size) = crate::object::read_object_header(&mut r)?;
        let name = guids::name_of(&guid).unwrap_or("unknown object");
        crate::object::check_object_size(size, base, name, limits.max_object_size)?;
        r.sub(size - crate::object::OBJECT_HEADER_LEN, name)?;
        let used = size as usize;
        let bytes = &input[..used];
        // The raw copy is made only when the object is kept raw.
        let raw = || RawObject {
            guid,
            data: bytes::Bytes::copy_from_slice(
                &bytes[crate::object::OBJECT_HEADER_LEN as usize..],
            ),
        };
        if OPAQUE.contains(&guid) || (in_extension && guid == guids::HEADER_EXTENSION) {
            return Ok((HeaderObject::Opaque(raw()), used));
        }
        match Self::parse_typed(&guid, bytes, base, limits) {
            None => Ok((HeaderObject::Unknown(raw()), used)),
            Some(Err(error)) => Ok((
                HeaderObject::Invalid(InvalidObject { raw: raw(), error }),
                used,
            )),
            Some(Ok((obj, n))) => {
                // The model must reproduce the input exactly; if it does not (a modelling
                // gap), keep the object raw rather than change the file.
                if n == used && obj.encoded_len() == used as u64 && obj.to_bytes() == bytes {
                    Ok((obj, used))
                } else {
                    let error = Error::Malformed {
                        offset: base,
                        object: obj.name(),
                        reason: "object does not round trip through the model",
                    };
                    Ok((
                        HeaderObject::Invalid(InvalidObject { raw: raw(), error }),
                        used,
                    ))
                }
            }
        }
    }
}
