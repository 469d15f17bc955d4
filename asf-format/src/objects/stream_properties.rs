//! Stream Properties Object (ASF 3.3), with the audio (WAVEFORMATEX), video
//! (BITMAPINFOHEADER-based) and Audio Spread decoders.
//!
//! | Type | Field |
//! |---|---|
//! | GUID | Stream Type |
//! | GUID | Error Correction Type |
//! | QWORD | Time Offset (100 ns) |
//! | DWORD | Type-Specific Data Length |
//! | DWORD | Error Correction Data Length |
//! | WORD | Flags: bits 0-6 stream number, bit 15 encrypted content |
//! | DWORD | Reserved |
//! | BYTE[] | Type-Specific Data |
//! | BYTE[] | Error Correction Data |
//!
//! The type-specific and error-correction data are kept raw (so round trip is exact) and
//! decoded on demand.

use crate::object::AsfObject;
use crate::reader::{Reader, WriteLe};
use crate::{Guid, Limits, Result, guids};

/// Stream Properties: one media stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamProperties {
    /// Stream type GUID (audio, video, command, ...; see [`crate::guids`]).
    pub stream_type: Guid,
    /// Error correction type GUID.
    pub error_correction_type: Guid,
    /// Time offset added to every presentation time of the stream, 100 ns.
    pub time_offset: u64,
    /// Flags word: bits 0-6 the stream number, bit 15 encrypted content.
    pub flags: u16,
    /// The reserved DWORD, as read.
    pub reserved: u32,
    /// Type-specific data, raw (decode with [`StreamProperties::audio_format`] /
    /// [`StreamProperties::video_format`]).
    pub type_specific_data: Vec<u8>,
    /// Error correction data, raw (decode with [`StreamProperties::audio_spread`]).
    pub error_correction_data: Vec<u8>,
    /// Bytes after the declared data (none in a valid file).
    pub trailing: Vec<u8>,
}

impl StreamProperties {
    /// An audio stream: WAVEFORMATEX type-specific data and, when `spread` is given, Audio
    /// Spread error correction (what WMP-era players expect for WMA; asf-format.md §1.2),
    /// otherwise No Error Correction.
    pub fn audio(stream_number: u8, format: &WaveFormatEx, spread: Option<&AudioSpread>) -> Self {
        let mut sp = StreamProperties {
            stream_type: guids::AUDIO_MEDIA,
            error_correction_type: if spread.is_some() {
                guids::AUDIO_SPREAD
            } else {
                guids::NO_ERROR_CORRECTION
            },
            type_specific_data: format.to_bytes(),
            error_correction_data: spread.map(AudioSpread::to_bytes).unwrap_or_default(),
            ..Default::default()
        };
        sp.set_stream_number(stream_number);
        sp
    }

    /// A video stream with the given format (call [`VideoFormat::fix`] first if its sizes
    /// are not set) and No Error Correction.
    pub fn video(stream_number: u8, format: &VideoFormat) -> Self {
        let mut sp = StreamProperties {
            stream_type: guids::VIDEO_MEDIA,
            error_correction_type: guids::NO_ERROR_CORRECTION,
            type_specific_data: format.to_bytes(),
            ..Default::default()
        };
        sp.set_stream_number(stream_number);
        sp
    }

    /// ASF 3.3: the stream number is the low 7 bits of the flags (1..=127 valid).
    pub fn stream_number(&self) -> u8 {
        (self.flags & 0x7F) as u8
    }

    /// Sets the stream number (low 7 bits of the flags).
    pub fn set_stream_number(&mut self, n: u8) {
        self.flags = (self.flags & !0x7F) | u16::from(n & 0x7F);
    }

    /// ASF 3.3: flags bit 15, Encrypted Content.
    pub fn is_encrypted(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// True for the Audio Media stream type.
    pub fn is_audio(&self) -> bool {
        self.stream_type == guids::AUDIO_MEDIA
    }

    /// True for the Video Media stream type.
    pub fn is_video(&self) -> bool {
        self.stream_type == guids::VIDEO_MEDIA
    }

    /// Decodes the type-specific data as a WAVEFORMATEX when this is an audio stream.
    pub fn audio_format(&self) -> Option<WaveFormatEx> {
        if !self.is_audio() {
            return None;
        }
        WaveFormatEx::parse(&self.type_specific_data).ok()
    }

    /// Decodes the type-specific data as the video format when this is a video stream.
    pub fn video_format(&self) -> Option<VideoFormat> {
        if !self.is_video() {
            return None;
        }
        VideoFormat::parse(&self.type_specific_data).ok()
    }

    /// Decodes the error-correction data when the type is Audio Spread.
    pub fn audio_spread(&self) -> Option<AudioSpread> {
        if self.error_correction_type != guids::AUDIO_SPREAD {
            return None;
        }
        AudioSpread::parse(&self.error_correction_data).ok()
    }
}

impl AsfObject for StreamProperties {
    const GUID: Guid = guids::STREAM_PROPERTIES;
    const NAME: &'static str = "Stream Properties Object";

    fn parse_body(r: &mut Reader<'_>, limits: &Limits) -> Result<Self> {
        let stream_type = r.guid()?;
        let error_correction_type = r.guid()?;
        let time_offset = r.u64()?;
        let ts_len = r.u32()?;
        let ec_len = r.u32()?;
        let flags = r.u16()?;
        let reserved = r.u32()?;
        let max = limits.max_object_size;
        // ASF 3.3: the two variable parts have exactly the declared lengths.
        let type_specific_data = r
            .bytes_limited(ts_len.into(), max, "type-specific data length")?
            .to_vec();
        let error_correction_data = r
            .bytes_limited(ec_len.into(), max, "error correction data length")?
            .to_vec();
        Ok(StreamProperties {
            stream_type,
            error_correction_type,
            time_offset,
            flags,
            reserved,
            type_specific_data,
            error_correction_data,
            trailing: r.rest().to_vec(),
        })
    }

    fn body_len(&self) -> u64 {
        54 + (self.type_specific_data.len()
            + self.error_correction_data.len()
            + self.trailing.len()) as u64
    }

    fn write_body(&self, out: &mut Vec<u8>) {
        out.put_guid(&self.stream_type);
        out.put_guid(&self.error_correction_type);
        out.put_u64_le(self.time_offset);
        out.put_u32_le(crate::reader::len_as(self.type_specific_data.len()));
        out.put_u32_le(crate::reader::len_as(self.error_correction_data.len()));
        out.put_u16_le(self.flags);
        out.put_u32_le(self.reserved);
        out.put_raw(&self.type_specific_data);
        out.put_raw(&self.error_correction_data);
        out.put_raw(&self.trailing);
    }
}

/// WAVEFORMATEX, the audio type-specific data (ASF 9.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaveFormatEx {
    /// wFormatTag: 0x0160 WMA1, 0x0161 WMA2, 0x0162 WMA Pro, 0x0163 WMA Lossless, 0x0055 MP3,
    /// 0x0001 PCM.
    pub format_tag: u16,
    /// nChannels.
    pub channels: u16,
    /// nSamplesPerSec.
    pub samples_per_sec: u32,
    /// nAvgBytesPerSec.
    pub avg_bytes_per_sec: u32,
    /// nBlockAlign.
    pub block_align: u16,
    /// wBitsPerSample.
    pub bits_per_sample: u16,
    /// Codec-specific data (`cbSize` bytes). Absent `cbSize` (a 16-byte WAVEFORMAT) is
    /// `None`.
    pub codec_data: Option<Vec<u8>>,
    /// Bytes after the codec data.
    pub trailing: Vec<u8>,
}

impl WaveFormatEx {
    /// Parses a WAVEFORMATEX (or a bare 16-byte WAVEFORMAT).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, 0, "WAVEFORMATEX");
        let mut w = WaveFormatEx {
            format_tag: r.u16()?,
            channels: r.u16()?,
            samples_per_sec: r.u32()?,
            avg_bytes_per_sec: r.u32()?,
            block_align: r.u16()?,
            bits_per_sample: r.u16()?,
            ..Default::default()
        };
        if !r.is_empty() {
            let cb = r.u16()?;
            w.codec_data = Some(r.bytes(cb.into())?.to_vec());
        }
        w.trailing = r.rest().to_vec();
        Ok(w)
    }

    /// Serializes back to type-specific data bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(18);
        v.put_u16_le(self.format_tag);
        v.put_u16_le(self.channels);
        v.put_u32_le(self.samples_per_sec);
        v.put_u32_le(self.avg_bytes_per_sec);
        v.put_u16_le(self.block_align);
        v.put_u16_le(self.bits_per_sample);
        if let Some(cd) = &self.codec_data {
            v.put_u16_le(crate::reader::len_as(cd.len()));
            v.put_raw(cd);
        }
        v.put_raw(&self.trailing);
        v
    }
}

/// The video type-specific data (ASF 9.2): encoded size, then a BITMAPINFOHEADER-style
/// format block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoFormat {
    /// Encoded image width.
    pub encoded_width: u32,
    /// Encoded image height.
    pub encoded_height: u32,
    /// Reserved flags byte (= 2).
    pub reserved_flags: u8,
    /// Format Data Size field as read (normally 40 + codec data length).
    pub format_data_size: u16,
    /// biSize.
    pub bi_size: u32,
    /// biWidth.
    pub width: i32,
    /// biHeight.
    pub height: i32,
    /// biPlanes.
    pub planes: u16,
    /// biBitCount.
    pub bit_count: u16,
    /// biCompression (FourCC, e.g. `WMV3`).
    pub compression: [u8; 4],
    /// biSizeImage.
    pub size_image: u32,
    /// biXPelsPerMeter.
    pub x_pels_per_meter: i32,
    /// biYPelsPerMeter.
    pub y_pels_per_meter: i32,
    /// biClrUsed.
    pub clr_used: u32,
    /// biClrImportant.
    pub clr_important: u32,
    /// Codec extradata (everything after the 40-byte BITMAPINFOHEADER).
    pub codec_data: Vec<u8>,
}

impl VideoFormat {
    /// A video format for a `width` x `height` picture coded as `fourcc` with codec
    /// extradata, sizes fixed (reserved flags 2, 24 bits per pixel, one plane, as FFmpeg and
    /// VLC write).
    pub fn new(width: u32, height: u32, fourcc: [u8; 4], codec_data: Vec<u8>) -> Self {
        let mut v = VideoFormat {
            encoded_width: width,
            encoded_height: height,
            reserved_flags: 2,
            width: i32::try_from(width).unwrap_or(i32::MAX),
            height: i32::try_from(height).unwrap_or(i32::MAX),
            planes: 1,
            bit_count: 24,
            compression: fourcc,
            size_image: width.saturating_mul(height).saturating_mul(3),
            codec_data,
            ..Default::default()
        };
        v.fix();
        v
    }

    /// Parses the video type-specific data.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, 0, "video format data");
        let v = VideoFormat {
            encoded_width: r.u32()?,
            encoded_height: r.u32()?,
            reserved_flags: r.u8()?,
            format_data_size: r.u16()?,
            bi_size: r.u32()?,
            width: r.u32()? as i32,
            height: r.u32()? as i32,
            planes: r.u16()?,
            bit_count: r.u16()?,
            compression: {
                let b = r.bytes(4)?;
                [b[0], b[1], b[2], b[3]]
            },
            size_image: r.u32()?,
            x_pels_per_meter: r.u32()? as i32,
            y_pels_per_meter: r.u32()? as i32,
            clr_used: r.u32()?,
            clr_important: r.u32()?,
            codec_data: r.rest().to_vec(),
        };
        Ok(v)
    }

    /// The FourCC as text (lossy).
    pub fn fourcc(&self) -> String {
        String::from_utf8_lossy(&self.compression).into_owned()
    }

    /// Serializes back to type-specific data bytes (fields as they are; see
    /// [`VideoFormat::fix`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(51 + self.codec_data.len());
        v.put_u32_le(self.encoded_width);
        v.put_u32_le(self.encoded_height);
        v.put_u8_le(self.reserved_flags);
        v.put_u16_le(self.format_data_size);
        v.put_u32_le(self.bi_size);
        v.put_u32_le(self.width as u32);
        v.put_u32_le(self.height as u32);
        v.put_u16_le(self.planes);
        v.put_u16_le(self.bit_count);
        v.put_raw(&self.compression);
        v.put_u32_le(self.size_image);
        v.put_u32_le(self.x_pels_per_meter as u32);
        v.put_u32_le(self.y_pels_per_meter as u32);
        v.put_u32_le(self.clr_used);
        v.put_u32_le(self.clr_important);
        v.put_raw(&self.codec_data);
        v
    }

    /// ASF 9.2: Format Data Size and biSize are 40 + the codec data length.
    pub fn fix(&mut self) {
        let n = 40 + self.codec_data.len();
        self.format_data_size = crate::reader::len_as(n);
        self.bi_size = crate::reader::len_as(n);
    }
}

/// Audio Spread error-correction data (ASF spec, Stream Properties error correction data for
/// the Audio Spread type).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioSpread {
    /// Span: number of packets interleaved (1 = no interleaving).
    pub span: u8,
    /// Virtual packet length.
    pub virtual_packet_length: u16,
    /// Virtual chunk length.
    pub virtual_chunk_length: u16,
    /// Silence data.
    pub silence_data: Vec<u8>,
    /// Bytes after the silence data.
    pub trailing: Vec<u8>,
}

impl AudioSpread {
    /// The no-op spread FFmpeg and VLC write for audio: span 1, virtual packet and chunk
    /// length = `block_align`, one byte of silence 0 (asf-format.md §1.2).
    pub fn no_interleave(block_align: u16) -> Self {
        AudioSpread {
            span: 1,
            virtual_packet_length: block_align,
            virtual_chunk_length: block_align,
            silence_data: vec![0],
            trailing: Vec::new(),
        }
    }

    /// Parses Audio Spread data.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut r = Reader::new(data, 0, "Audio Spread data");
        let span = r.u8()?;
        let virtual_packet_length = r.u16()?;
        let virtual_chunk_length = r.u16()?;
        let silence_len = r.u16()?;
        let silence_data = r.bytes(silence_len.into())?.to_vec();
        Ok(AudioSpread {
            span,
            virtual_packet_length,
            virtual_chunk_length,
            silence_data,
            trailing: r.rest().to_vec(),
        })
    }

    /// Serializes back to error-correction data bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(7 + self.silence_data.len());
        v.put_u8_le(self.span);
        v.put_u16_le(self.virtual_packet_length);
        v.put_u16_le(self.virtual_chunk_length);
        v.put_u16_le(crate::reader::len_as(self.silence_data.len()));
        v.put_raw(&self.silence_data);
        v.put_raw(&self.trailing);
        v
    }
}
