//! One table of every named GUID of the ASF specification (and the payload-extension
//! systems used by Microsoft, FFmpeg and VLC), in on-disk byte order.
//!
//! ASF 3.1 / asf-format.md §0: GUIDs are open values; nothing in this crate rejects an
//! unknown GUID. [`name_of`] gives a human name for the ones listed here.

use crate::Guid;

macro_rules! guid_table {
    ($( $(#[$doc:meta])* $name:ident = $text:literal, $human:literal; )*) => {
        $( $(#[$doc])* pub const $name: Guid = Guid::from_str_const($text); )*
        /// Every named GUID with its human name, in table order.
        pub const ALL: &[(Guid, &str)] = &[ $( ($name, $human), )* ];
    };
}

guid_table! {
    // -- top-level objects (ASF 3.1, 4) --
    /// Header Object.
    HEADER = "75B22630-668E-11CF-A6D9-00AA0062CE6C", "Header Object";
    /// Data Object.
    DATA = "75B22636-668E-11CF-A6D9-00AA0062CE6C", "Data Object";
    /// Simple Index Object.
    SIMPLE_INDEX = "33000890-E5B1-11CF-89F4-00A0C90349CB", "Simple Index Object";
    /// Index Object.
    INDEX = "D6E229D3-35DA-11D1-9034-00A0C90349BE", "Index Object";
    /// Media Object Index Object.
    MEDIA_OBJECT_INDEX = "FEB103F8-12AD-4C64-840F-2A1D2F7AD48C", "Media Object Index Object";
    /// Timecode Index Object.
    TIMECODE_INDEX = "3CB73FD0-0C4A-4803-953D-EDF7B6228F0C", "Timecode Index Object";

    // -- Header Object children (ASF 3.2 - 3.17) --
    /// File Properties Object.
    FILE_PROPERTIES = "8CABDCA1-A947-11CF-8EE4-00C00C205365", "File Properties Object";
    /// Stream Properties Object.
    STREAM_PROPERTIES = "B7DC0791-A9B7-11CF-8EE6-00C00C205365", "Stream Properties Object";
    /// Header Extension Object.
    HEADER_EXTENSION = "5FBF03B5-A92E-11CF-8EE3-00C00C205365", "Header Extension Object";
    /// Codec List Object.
    CODEC_LIST = "86D15240-311D-11D0-A3A4-00A0C90348F6", "Codec List Object";
    /// Script Command Object.
    SCRIPT_COMMAND = "1EFB1A30-0B62-11D0-A39B-00A0C90348F6", "Script Command Object";
    /// Marker Object.
    MARKER = "F487CD01-A951-11CF-8EE6-00C00C205365", "Marker Object";
    /// Bitrate Mutual Exclusion Object.
    BITRATE_MUTUAL_EXCLUSION = "D6E229DC-35DA-11D1-9034-00A0C90349BE", "Bitrate Mutual Exclusion Object";
    /// Error Correction Object.
    ERROR_CORRECTION = "75B22635-668E-11CF-A6D9-00AA0062CE6C", "Error Correction Object";
    /// Content Description Object.
    CONTENT_DESCRIPTION = "75B22633-668E-11CF-A6D9-00AA0062CE6C", "Content Description Object";
    /// Extended Content Description Object.
    EXTENDED_CONTENT_DESCRIPTION = "D2D0A440-E307-11D2-97F0-00A0C95EA850", "Extended Content Description Object";
    /// Stream Bitrate Properties Object.
    STREAM_BITRATE_PROPERTIES = "7BF875CE-468D-11D1-8D82-006097C9A2B2", "Stream Bitrate Properties Object";
    /// Content Branding Object.
    CONTENT_BRANDING = "2211B3FA-BD23-11D2-B4B7-00A0C955FC6E", "Content Branding Object";
    /// Content Encryption Object (DRM v1).
    CONTENT_ENCRYPTION = "2211B3FB-BD23-11D2-B4B7-00A0C955FC6E", "Content Encryption Object";
    /// Extended Content Encryption Object (DRM v7+).
    EXTENDED_CONTENT_ENCRYPTION = "298AE614-2622-4C17-B935-DAE07EE9289C", "Extended Content Encryption Object";
    /// Digital Signature Object.
    DIGITAL_SIGNATURE = "2211B3FC-BD23-11D2-B4B7-00A0C955FC6E", "Digital Signature Object";
    /// Padding Object.
    PADDING = "1806D474-CADF-4509-A4BA-9AABCB96AAE8", "Padding Object";

    // -- Header Extension children (ASF 4.1 - 4.13) --
    /// Extended Stream Properties Object.
    EXTENDED_STREAM_PROPERTIES = "14E6A5CB-C672-4332-8399-A96952065B5A", "Extended Stream Properties Object";
    /// Advanced Mutual Exclusion Object.
    ADVANCED_MUTUAL_EXCLUSION = "A08649CF-4775-4670-8A16-6E35357566CD", "Advanced Mutual Exclusion Object";
    /// Group Mutual Exclusion Object.
    GROUP_MUTUAL_EXCLUSION = "D1465A40-5A79-4338-B71B-E36B8FD6C249", "Group Mutual Exclusion Object";
    /// Stream Prioritization Object.
    STREAM_PRIORITIZATION = "D4FED15B-88D3-454F-81F0-ED5C45999E24", "Stream Prioritization Object";
    /// Bandwidth Sharing Object.
    BANDWIDTH_SHARING = "A69609E6-517B-11D2-B6AF-00C04FD908E9", "Bandwidth Sharing Object";
    /// Language List Object.
    LANGUAGE_LIST = "7C4346A9-EFE0-4BFC-B229-393EDE415C85", "Language List Object";
    /// Metadata Object.
    METADATA = "C5F8CBEA-5BAF-4877-8467-AA8C44FA4CCA", "Metadata Object";
    /// Metadata Library Object.
    METADATA_LIBRARY = "44231C94-9498-49D1-A141-1D134E457054", "Metadata Library Object";
    /// Index Parameters Object.
    INDEX_PARAMETERS = "D6E229DF-35DA-11D1-9034-00A0C90349BE", "Index Parameters Object";
    /// Media Object Index Parameters Object.
    MEDIA_OBJECT_INDEX_PARAMETERS = "6B203BAD-3F11-48E4-ACA8-D7613DE2CFA7", "Media Object Index Parameters Object";
    /// Timecode Index Parameters Object.
    TIMECODE_INDEX_PARAMETERS = "F55E496D-9797-4B5D-8C8B-604DFE9BFB24", "Timecode Index Parameters Object";
    /// Compatibility Object.
    COMPATIBILITY = "26F18B5D-4584-47EC-9F5F-0E651F0452C9", "Compatibility Object";
    /// Advanced Content Encryption Object (PlayReady).
    ADVANCED_CONTENT_ENCRYPTION = "43058533-6981-49E6-9B74-AD12CB86D58C", "Advanced Content Encryption Object";
    /// Index Placeholder Object (reserves room for an index in the Header Extension).
    INDEX_PLACEHOLDER = "D9AADE20-7C17-4F9C-BC28-8555DD98E2A2", "Index Placeholder Object";

    // -- stream types (ASF 10.4) --
    /// Audio media stream.
    AUDIO_MEDIA = "F8699E40-5B4D-11CF-A8FD-00805F5C442B", "Audio Media";
    /// Video media stream.
    VIDEO_MEDIA = "BC19EFC0-5B4D-11CF-A8FD-00805F5C442B", "Video Media";
    /// Command (script) media stream.
    COMMAND_MEDIA = "59DACFC0-59E6-11D0-A3AC-00A0C90348F6", "Command Media";
    /// JFIF (JPEG) media stream.
    JFIF_MEDIA = "B61BE100-5B4E-11CF-A8FD-00805F5C442B", "JFIF Media";
    /// Degradable JPEG media stream.
    DEGRADABLE_JPEG_MEDIA = "35907DE0-E415-11CF-A917-00805F5C442B", "Degradable JPEG Media";
    /// File Transfer media stream.
    FILE_TRANSFER_MEDIA = "91BD222C-F21C-497A-8B6D-5AA86BFC0185", "File Transfer Media";
    /// Binary media stream (extended stream type).
    BINARY_MEDIA = "3AFB65E2-47EF-40F2-AC2C-70A90D71D343", "Binary Media";
    /// Extended "audio" stream subtype.
    EXTENDED_AUDIO_SUBTYPE = "31178C9D-03E1-4528-B582-3DF9DB22F503", "Extended Audio Subtype";

    // -- error-correction types (ASF 10.5) --
    /// No Error Correction.
    NO_ERROR_CORRECTION = "20FB5700-5B55-11CF-A8FD-00805F5C442B", "No Error Correction";
    /// Audio Spread error correction.
    AUDIO_SPREAD = "BFC3CD50-618F-11CF-8BB2-00AA00B4E220", "Audio Spread";

    // -- reserved GUIDs inside objects --
    /// Header Extension Reserved Field 1.
    HEADER_EXTENSION_RESERVED_1 = "ABD3D211-A9BA-11CF-8EE6-00C00C205365", "Reserved 1";
    /// Codec List Reserved field.
    CODEC_LIST_RESERVED = "86D15241-311D-11D0-A3A4-00A0C90348F6", "Reserved 2";
    /// Script Command Reserved field.
    SCRIPT_COMMAND_RESERVED = "4B1ACBE3-100B-11D0-A39B-00A0C90348F6", "Reserved 3";
    /// Marker Reserved field.
    MARKER_RESERVED = "4CFEDB20-75F6-11CF-9C0F-00A0C90349CB", "Reserved 4";

    // -- mutual exclusion types (ASF 10.6) --
    /// Mutual exclusion by language.
    MUTEX_LANGUAGE = "D6E22A00-35DA-11D1-9034-00A0C90349BE", "Mutex Language";
    /// Mutual exclusion by bitrate.
    MUTEX_BITRATE = "D6E22A01-35DA-11D1-9034-00A0C90349BE", "Mutex Bitrate";
    /// Mutual exclusion, unknown reason.
    MUTEX_UNKNOWN = "D6E22A02-35DA-11D1-9034-00A0C90349BE", "Mutex Unknown";

    // -- bandwidth sharing types (ASF 10.7) --
    /// Exclusive bandwidth sharing.
    BANDWIDTH_SHARING_EXCLUSIVE = "AF6060AA-5197-11D2-B6AF-00C04FD908E9", "Bandwidth Sharing Exclusive";
    /// Partial bandwidth sharing.
    BANDWIDTH_SHARING_PARTIAL = "AF6060AB-5197-11D2-B6AF-00C04FD908E9", "Bandwidth Sharing Partial";

    // -- payload extension systems (ASF 10.13) --
    /// Timecode payload extension.
    PAYLOAD_EXT_TIMECODE = "399595EC-8667-4E2D-8FDB-98814CE76C1E", "Payload Extension System Timecode";
    /// File Name payload extension.
    PAYLOAD_EXT_FILE_NAME = "E165EC0E-19ED-45D7-B4A7-25CBD1E28E9B", "Payload Extension System File Name";
    /// Content Type payload extension.
    PAYLOAD_EXT_CONTENT_TYPE = "D590DC20-07BC-436C-9CF7-F3BBFBF1A4DC", "Payload Extension System Content Type";
    /// Pixel Aspect Ratio payload extension.
    PAYLOAD_EXT_PIXEL_ASPECT_RATIO = "1B1EE554-F9EA-4BC8-821A-376B74E4C4B8", "Payload Extension System Pixel Aspect Ratio";
    /// Sample Duration payload extension.
    PAYLOAD_EXT_SAMPLE_DURATION = "C6BD9450-867F-4907-83A3-C77921B733AD", "Payload Extension System Sample Duration";
    /// Encryption Sample ID payload extension.
    PAYLOAD_EXT_ENCRYPTION_SAMPLE_ID = "6698B84E-0AFA-4330-AEB2-1C0A98D7A44D", "Payload Extension System Encryption Sample ID";
    /// Degradable JPEG payload extension.
    PAYLOAD_EXT_DEGRADABLE_JPEG = "00E1AF06-7BEC-11D1-A582-00C04FC29CFB", "Payload Extension System Degradable JPEG";
    /// Media Foundation output cleanpoint payload extension.
    PAYLOAD_EXT_OUTPUT_CLEANPOINT = "F72A3C6F-6EB4-4EBC-B192-09AD9759E828", "Payload Extension System Output Cleanpoint";
    /// Media Foundation encryption key ID payload extension.
    PAYLOAD_EXT_ENCRYPTION_KEY_ID = "76376591-795F-4DA1-86ED-9D46ECA10949", "Payload Extension System Encryption Key ID";
    /// DVR video frame payload extension.
    PAYLOAD_EXT_DVR_VIDEO_FRAME = "DD6432CC-E229-40DB-80F6-D26328D2761F", "Payload Extension System DVR Video Frame";
}

/// The human name of a GUID listed in this module, e.g. `"Header Object"`.
pub fn name_of(guid: &Guid) -> Option<&'static str> {
    ALL.iter().find(|(g, _)| g == guid).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uniqueness() {
        assert_eq!(name_of(&HEADER), Some("Header Object"));
        assert_eq!(
            HEADER.as_bytes(),
            &[
                0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62,
                0xCE, 0x6C
            ]
        );
        assert_eq!(name_of(&Guid::ZERO), None);
        for (i, (a, _)) in ALL.iter().enumerate() {
            for (b, _) in &ALL[i + 1..] {
                assert_ne!(a, b, "duplicate GUID {a}");
            }
        }
    }
}
