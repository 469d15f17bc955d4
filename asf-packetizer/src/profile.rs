//! The profile: which streams a presentation has (their codec type-specific data, bitrate and
//! buffer window, language, name) and the file's descriptive metadata.
//!
//! A profile is what the header is built from ([`crate::header`]) and what the packetizer
//! schedules against (each stream's leaky bucket: bitrate and buffer window).

use asf_format::objects::{AudioSpread, MetadataRecord, TypedValue, VideoFormat, WaveFormatEx};
use asf_format::{Guid, Header, HeaderObject, guids};

use crate::{Error, Result};

/// What a stream carries (the Stream Type GUID of its Stream Properties Object, ASF 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// Audio (`ASF_Audio_Media`): type-specific data is a WAVEFORMATEX.
    Audio,
    /// Video (`ASF_Video_Media`): type-specific data is the ASF video format block.
    Video,
    /// Script commands (`ASF_Command_Media`).
    Script,
    /// Anything else, by its stream type GUID (JFIF, binary media, ...).
    Other(Guid),
}

impl StreamKind {
    /// The Stream Type GUID.
    pub fn guid(self) -> Guid {
        match self {
            StreamKind::Audio => guids::AUDIO_MEDIA,
            StreamKind::Video => guids::VIDEO_MEDIA,
            StreamKind::Script => guids::COMMAND_MEDIA,
            StreamKind::Other(g) => g,
        }
    }

    /// The kind for a Stream Type GUID.
    pub fn from_guid(g: Guid) -> Self {
        if g == guids::AUDIO_MEDIA {
            StreamKind::Audio
        } else if g == guids::VIDEO_MEDIA {
            StreamKind::Video
        } else if g == guids::COMMAND_MEDIA {
            StreamKind::Script
        } else {
            StreamKind::Other(g)
        }
    }
}

/// One stream of a [`Profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Stream number, 1..=127 (ASF 3.3: 0 is invalid).
    pub number: u8,
    /// What the stream carries.
    pub kind: StreamKind,
    /// Type-specific data of the Stream Properties Object (WAVEFORMATEX, video format, ...).
    pub type_specific_data: Vec<u8>,
    /// Error correction of the Stream Properties Object: `Some` writes Audio Spread with these
    /// parameters (what WMP-era players expect for WMA, asf-format.md §1.2), `None` writes No
    /// Error Correction.
    pub audio_spread: Option<AudioSpread>,
    /// Average bitrate in bits per second: the leaky bucket's rate (Extended Stream Properties
    /// Data Bitrate, Stream Bitrate Properties). Must not be 0.
    pub bitrate: u32,
    /// Buffer window in ms: the leaky bucket's size (Extended Stream Properties Buffer Size).
    pub buffer_window: u32,
    /// Language tag (RFC 1766, e.g. `en-us`), written to the Language List.
    pub language: Option<String>,
    /// Stream name, written to the Extended Stream Properties stream names.
    pub name: Option<String>,
    /// Average time per frame, 100 ns units (0 when unknown), for Extended Stream Properties.
    pub average_time_per_frame: u64,
    /// Codec List entry (type, name, description, information); `None` derives one from the
    /// type-specific data.
    pub codec: Option<CodecInfo>,
}

/// One Codec List entry for a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecInfo {
    /// Codec name shown by players.
    pub name: String,
    /// Codec description.
    pub description: String,
}

/// WMA versions the [`StreamConfig::wma`] helper knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WmaVersion {
    /// Windows Media Audio v1 (format tag 0x0160).
    V1,
    /// Windows Media Audio v2 (format tag 0x0161).
    V2,
}

/// Video codecs the [`StreamConfig::video`] helper knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// Windows Media Video 7 (`WMV1`).
    Wmv1,
    /// Windows Media Video 8 (`WMV2`).
    Wmv2,
    /// Windows Media Video 9 (`WMV3`).
    Wmv3,
    /// Microsoft MPEG-4 v3 (`MP43`).
    Msmpeg4v3,
}

impl VideoCodec {
    /// The FourCC.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            VideoCodec::Wmv1 => *b"WMV1",
            VideoCodec::Wmv2 => *b"WMV2",
            VideoCodec::Wmv3 => *b"WMV3",
            VideoCodec::Msmpeg4v3 => *b"MP43",
        }
    }
}

/// Format tags (WAVEFORMATEX `wFormatTag`, asf-format.md §1.2).
pub mod format_tag {
    /// PCM.
    pub const PCM: u16 = 0x0001;
    /// MPEG layer 3.
    pub const MP3: u16 = 0x0055;
    /// WMA v1.
    pub const WMA1: u16 = 0x0160;
    /// WMA v2.
    pub const WMA2: u16 = 0x0161;
    /// WMA Pro.
    pub const WMA_PRO: u16 = 0x0162;
    /// WMA Lossless.
    pub const WMA_LOSSLESS: u16 = 0x0163;
}

/// The default buffer window (ms) of the helpers.
pub const DEFAULT_BUFFER_WINDOW: u32 = 3000;

impl StreamConfig {
    /// A stream with raw type-specific data, no error correction, the default buffer window.
    pub fn new(number: u8, kind: StreamKind, type_specific_data: Vec<u8>, bitrate: u32) -> Self {
        StreamConfig {
            number,
            kind,
            type_specific_data,
            audio_spread: None,
            bitrate,
            buffer_window: DEFAULT_BUFFER_WINDOW,
            language: None,
            name: None,
            average_time_per_frame: 0,
            codec: None,
        }
    }

    fn audio(number: u8, w: &WaveFormatEx, bitrate: u32) -> Self {
        StreamConfig::new(number, StreamKind::Audio, w.to_bytes(), bitrate)
    }

    /// Uncompressed PCM audio (`WAVE_FORMAT_PCM`, cbSize 0).
    pub fn pcm(number: u8, channels: u16, sample_rate: u32, bits_per_sample: u16) -> Self {
        let block_align = channels.saturating_mul(bits_per_sample.div_ceil(8));
        let avg = sample_rate.saturating_mul(u32::from(block_align));
        let w = WaveFormatEx {
            format_tag: format_tag::PCM,
            channels,
            samples_per_sec: sample_rate,
            avg_bytes_per_sec: avg,
            block_align,
            bits_per_sample,
            codec_data: Some(Vec::new()),
            trailing: Vec::new(),
        };
        StreamConfig::audio(number, &w, avg.saturating_mul(8))
    }

    /// WMA v1 or v2 with the encoder's codec private data (WMA1: 4 bytes, WMA2: 10 bytes, as
    /// the encoder produced them) and Audio Spread error correction with span 1, as FFmpeg and
    /// VLC write for WMA (asf-format.md §1.2: WMP-era players expect it).
    pub fn wma(
        number: u8,
        version: WmaVersion,
        channels: u16,
        sample_rate: u32,
        bitrate: u32,
        block_align: u16,
        codec_private: Vec<u8>,
    ) -> Self {
        let w = WaveFormatEx {
            format_tag: match version {
                WmaVersion::V1 => format_tag::WMA1,
                WmaVersion::V2 => format_tag::WMA2,
            },
            channels,
            samples_per_sec: sample_rate,
            avg_bytes_per_sec: bitrate / 8,
            block_align,
            bits_per_sample: 16,
            codec_data: Some(codec_private),
            trailing: Vec::new(),
        };
        let mut s = StreamConfig::audio(number, &w, bitrate);
        s.audio_spread = Some(AudioSpread::no_interleave(block_align));
        s
    }

    /// MPEG-1/2 layer 3 audio with an MPEGLAYER3WAVEFORMAT tail (wID 1, fdwFlags 2,
    /// nBlockSize 1152, nFramesPerBlock 1, nCodecDelay 1393: the values of a constant-bitrate
    /// layer 3 stream at 1152 samples per frame).
    pub fn mp3(number: u8, channels: u16, sample_rate: u32, bitrate: u32) -> Self {
        let mut extra = Vec::with_capacity(12);
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&2u32.to_le_bytes());
        extra.extend_from_slice(&1152u16.to_le_bytes());
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&1393u16.to_le_bytes());
        let w = WaveFormatEx {
            format_tag: format_tag::MP3,
            channels,
            samples_per_sec: sample_rate,
            avg_bytes_per_sec: bitrate / 8,
            block_align: 1,
            bits_per_sample: 0,
            codec_data: Some(extra),
            trailing: Vec::new(),
        };
        StreamConfig::audio(number, &w, bitrate)
    }

    fn video_format(number: u8, v: &VideoFormat, bitrate: u32) -> Self {
        StreamConfig::new(number, StreamKind::Video, v.to_bytes(), bitrate)
    }

    /// Compressed video (WMV1/2/3, MSMPEG4v3) of `width` x `height` with the encoder's
    /// extradata (BITMAPINFOHEADER tail).
    pub fn video(
        number: u8,
        codec: VideoCodec,
        width: u32,
        height: u32,
        bitrate: u32,
        extradata: Vec<u8>,
    ) -> Self {
        let v = VideoFormat::new(width, height, codec.fourcc(), extradata);
        StreamConfig::video_format(number, &v, bitrate)
    }

    /// Uncompressed bottom-up RGB video (`BI_RGB`, 24 or 32 bits per pixel).
    pub fn video_rgb(number: u8, width: u32, height: u32, bits_per_pixel: u16, fps: u32) -> Self {
        let mut v = VideoFormat::new(width, height, [0; 4], Vec::new());
        v.bit_count = bits_per_pixel;
        let frame = width
            .saturating_mul(height)
            .saturating_mul(u32::from(bits_per_pixel))
            / 8;
        v.size_image = frame;
        v.fix();
        let mut s =
            StreamConfig::video_format(number, &v, frame.saturating_mul(8).saturating_mul(fps));
        s.average_time_per_frame = 10_000_000 / u64::from(fps.max(1));
        s
    }

    /// Uncompressed planar YUV 4:2:0 video (`I420`, 12 bits per pixel).
    pub fn video_i420(number: u8, width: u32, height: u32, fps: u32) -> Self {
        let mut v = VideoFormat::new(width, height, *b"I420", Vec::new());
        v.bit_count = 12;
        let frame = width.saturating_mul(height).saturating_mul(3) / 2;
        v.size_image = frame;
        v.fix();
        let mut s =
            StreamConfig::video_format(number, &v, frame.saturating_mul(8).saturating_mul(fps));
        s.average_time_per_frame = 10_000_000 / u64::from(fps.max(1));
        s
    }

    /// A script command stream (type-specific data empty).
    pub fn script(number: u8, bitrate: u32) -> Self {
        StreamConfig::new(number, StreamKind::Script, Vec::new(), bitrate)
    }

    /// Sets the buffer window (ms).
    pub fn with_buffer_window(mut self, ms: u32) -> Self {
        self.buffer_window = ms;
        self
    }

    /// Sets the language tag.
    pub fn with_language(mut self, tag: &str) -> Self {
        self.language = Some(tag.to_owned());
        self
    }

    /// Sets the stream name.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// True for audio streams (never split across packets unless larger than one,
    /// asf-format.md §2.4).
    pub fn is_audio(&self) -> bool {
        self.kind == StreamKind::Audio
    }

    /// True for video streams (indexed, key frames flagged).
    pub fn is_video(&self) -> bool {
        self.kind == StreamKind::Video
    }

    /// The Codec List entry: (type 1 video / 2 audio / 0xFFFF other, name, description,
    /// information bytes: the format tag for audio, the FourCC for video).
    pub fn codec_entry(&self) -> (u16, String, String, Vec<u8>) {
        let (ty, name, info) = match self.kind {
            StreamKind::Audio => {
                let tag = self
                    .type_specific_data
                    .get(..2)
                    .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
                let name = match tag {
                    format_tag::PCM => "PCM",
                    format_tag::MP3 => "MPEG Layer-3",
                    format_tag::WMA1 => "Windows Media Audio V1",
                    format_tag::WMA2 => "Windows Media Audio V2",
                    format_tag::WMA_PRO => "Windows Media Audio 9 Professional",
                    format_tag::WMA_LOSSLESS => "Windows Media Audio 9 Lossless",
                    _ => "Audio",
                };
                (2, name.to_owned(), tag.to_le_bytes().to_vec())
            }
            StreamKind::Video => {
                let fourcc: [u8; 4] = self
                    .type_specific_data
                    .get(27..31)
                    .and_then(|b| b.try_into().ok())
                    .unwrap_or([0; 4]);
                let name = match &fourcc {
                    b"WMV1" => "Windows Media Video 7".to_owned(),
                    b"WMV2" => "Windows Media Video 8".to_owned(),
                    b"WMV3" => "Windows Media Video 9".to_owned(),
                    b"MP43" => "Microsoft MPEG-4 Video Codec V3".to_owned(),
                    [0, 0, 0, 0] => "Uncompressed RGB".to_owned(),
                    other => String::from_utf8_lossy(other).into_owned(),
                };
                (1, name, fourcc.to_vec())
            }
            _ => (0xFFFF, "Data".to_owned(), Vec::new()),
        };
        match &self.codec {
            Some(c) => (ty, c.name.clone(), c.description.clone(), info),
            None => (ty, name, String::new(), info),
        }
    }
}

/// The file's descriptive metadata (Content Description and Extended Content Description).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileMetadata {
    /// Title.
    pub title: String,
    /// Author.
    pub author: String,
    /// Copyright.
    pub copyright: String,
    /// Description.
    pub description: String,
    /// Rating.
    pub rating: String,
    /// Extended Content Description attributes (`WM/AlbumTitle`, ...), in order.
    pub attributes: Vec<(String, TypedValue)>,
    /// Metadata Object records (per-stream values such as `AspectRatioX`/`AspectRatioY`),
    /// written to the Header Extension when not empty.
    pub records: Vec<MetadataRecord>,
    /// Metadata Library Object records (large or language-specific values such as a
    /// `WM/Picture` cover), written to the Header Extension when not empty.
    pub library_records: Vec<MetadataRecord>,
}

impl FileMetadata {
    /// True when nothing is set (no Content Description is written then).
    pub fn has_content_description(&self) -> bool {
        !(self.title.is_empty()
            && self.author.is_empty()
            && self.copyright.is_empty()
            && self.description.is_empty()
            && self.rating.is_empty())
    }
}

/// The streams and metadata of a presentation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    /// The streams, in header order.
    pub streams: Vec<StreamConfig>,
    /// File metadata.
    pub metadata: FileMetadata,
}

impl Profile {
    /// An empty profile.
    pub fn new() -> Self {
        Profile::default()
    }

    /// Adds a stream.
    pub fn with_stream(mut self, s: StreamConfig) -> Self {
        self.streams.push(s);
        self
    }

    /// The stream with this number.
    pub fn stream(&self, number: u8) -> Option<&StreamConfig> {
        self.streams.iter().find(|s| s.number == number)
    }

    /// Checks the profile: at least one stream (ASF 3.1: at least one Stream Properties
    /// Object), stream numbers 1..=127 and distinct (ASF 3.3), bitrates not 0 (the leaky
    /// bucket needs a rate; Maximum Bitrate 0 breaks WMP12 and Silverlight, asf-format.md §5).
    pub fn validate(&self) -> Result<()> {
        if self.streams.is_empty() {
            return Err(Error::InvalidArgument(
                "a profile needs at least one stream",
            ));
        }
        let mut seen = [false; 128];
        for s in &self.streams {
            if s.number == 0 || s.number > 127 {
                return Err(Error::InvalidArgument("stream numbers must be 1..=127"));
            }
            if seen[usize::from(s.number)] {
                return Err(Error::InvalidArgument("stream numbers must be distinct"));
            }
            seen[usize::from(s.number)] = true;
            if s.bitrate == 0 {
                return Err(Error::InvalidArgument("a stream's bitrate must not be 0"));
            }
            if s.buffer_window == 0 {
                return Err(Error::InvalidArgument(
                    "a stream's buffer window must not be 0",
                ));
            }
        }
        Ok(())
    }

    /// The profile of an existing ASF header: every stream (Stream Properties, also those
    /// embedded in Extended Stream Properties) with its type-specific data and Audio Spread,
    /// its bitrate (Stream Bitrate Properties, else Extended Stream Properties Data Bitrate,
    /// else the WAVEFORMATEX average bytes per second, else a fallback of 128 kbit/s audio
    /// and 1 Mbit/s for other streams, as VLC does rather than write 0), its buffer window
    /// (Extended Stream Properties Buffer Size, else the preroll, else 3 s), language and
    /// name; and the Content Description and Extended Content Description.
    ///
    /// Payload extension systems are not carried over: the packetizer writes 8 bytes of
    /// replicated data (size and presentation time) only.
    pub fn from_header(header: &Header) -> Result<Self> {
        let preroll = header.preroll_ms().unwrap_or(0);
        let languages: Vec<String> = header
            .all_objects()
            .find_map(|o| match o {
                HeaderObject::LanguageList(l) => {
                    Some(l.languages.iter().map(|w| w.to_string_lossy()).collect())
                }
                _ => None,
            })
            .unwrap_or_default();
        let sbp = header.all_objects().find_map(|o| match o {
            HeaderObject::StreamBitrateProperties(s) => Some(s),
            _ => None,
        });
        let mut streams = Vec::new();
        for sp in header.stream_properties() {
            let number = sp.stream_number();
            let kind = StreamKind::from_guid(sp.stream_type);
            let esp = header.extended_stream_properties(number);
            let audio_spread = if sp.error_correction_type == guids::AUDIO_SPREAD {
                sp.audio_spread()
            } else {
                None
            };
            let bitrate = sbp
                .and_then(|s| {
                    s.records
                        .iter()
                        .find(|r| r.stream_number() == number)
                        .map(|r| r.average_bitrate)
                })
                .filter(|&b| b > 0)
                .or(esp.map(|e| e.data_bitrate).filter(|&b| b > 0))
                .or(sp
                    .audio_format()
                    .map(|w| w.avg_bytes_per_sec.saturating_mul(8))
                    .filter(|&b| b > 0))
                .unwrap_or(if kind == StreamKind::Audio {
                    128_000
                } else {
                    1_000_000
                });
            let buffer_window = esp
                .map(|e| e.buffer_size)
                .filter(|&b| b > 0)
                .or(u32::try_from(preroll).ok().filter(|&p| p > 0))
                .unwrap_or(DEFAULT_BUFFER_WINDOW);
            let language = esp.and_then(|e| {
                languages
                    .get(usize::from(e.stream_language_index))
                    .filter(|_| !languages.is_empty())
                    .cloned()
            });
            let name = esp.and_then(|e| e.stream_names.first().map(|n| n.name.to_string_lossy()));
            let codec = header.codec_list().and_then(|cl| {
                // Codec List entries are in stream order of their type; match by information.
                let (ty, _, _, info) =
                    StreamConfig::new(number, kind, sp.type_specific_data.clone(), bitrate)
                        .codec_entry();
                cl.entries
                    .iter()
                    .find(|e| e.codec_type == ty && !info.is_empty() && e.information == info)
                    .map(|e| CodecInfo {
                        name: e.name.to_string_lossy(),
                        description: e.description.to_string_lossy(),
                    })
            });
            streams.push(StreamConfig {
                number,
                kind,
                type_specific_data: sp.type_specific_data.clone(),
                audio_spread,
                bitrate,
                buffer_window,
                language,
                name,
                average_time_per_frame: esp.map_or(0, |e| e.average_time_per_frame),
                codec,
            });
        }
        let mut metadata = FileMetadata::default();
        if let Some(cd) = header.content_description() {
            metadata.title = cd.title.to_string_lossy();
            metadata.author = cd.author.to_string_lossy();
            metadata.copyright = cd.copyright.to_string_lossy();
            metadata.description = cd.description.to_string_lossy();
            metadata.rating = cd.rating.to_string_lossy();
        }
        if let Some(ecd) = header.extended_content_description() {
            metadata.attributes = ecd
                .descriptors
                .iter()
                .map(|d| (d.name.to_string_lossy(), d.value.clone()))
                .collect();
        }
        if let Some(md) = header.all_objects().find_map(|o| match o {
            HeaderObject::Metadata(m) => Some(m),
            _ => None,
        }) {
            metadata.records = md.records.clone();
        }
        if let Some(ml) = header.all_objects().find_map(|o| match o {
            HeaderObject::MetadataLibrary(m) => Some(m),
            _ => None,
        }) {
            metadata.library_records = ml.records.clone();
        }
        let p = Profile { streams, metadata };
        p.validate()?;
        Ok(p)
    }
}
