//! # asf-packetizer
//!
//! The writer's multiplexer: media samples to fixed-size ASF data packets, live and file
//! headers, indexes and remuxing. No IO, no clock, no randomness: times and the File ID come
//! from the caller, output goes to caller-supplied buffers and callbacks.
//!
//! ```
//! use asf_packetizer::{Mode, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig};
//! use bytes::Bytes;
//!
//! let profile = Profile::new().with_stream(StreamConfig::pcm(1, 1, 8000, 16));
//! let mut p = Packetizer::new(profile, PacketizerOptions::new(Mode::Live)).unwrap();
//! let header = p.header().unwrap();
//! let mut packets = Vec::new();
//! for i in 0..50u64 {
//!     let s = Sample { stream: 1, presentation_time: i * 20, duration: 20, keyframe: true,
//!                      data: Bytes::from(vec![0u8; 320]) };
//!     p.push_sample(s, &mut packets).unwrap();
//! }
//! packets.extend(p.finish(0).unwrap().packets);
//! assert!(header.len() > 50);
//! assert!(packets.iter().all(|pk| pk.bytes().len() == 3200));
//! ```
#![forbid(unsafe_code)]

pub mod alloc;
pub mod error;
pub mod header;
pub mod index;
pub mod packetizer;
pub mod profile;
pub mod remux;

pub use alloc::{PacketAllocator, PoolAllocator};
pub use error::{Error, Result};
pub use header::{FinalValues, HeaderFixup, build_header};
pub use index::{IndexBuilder, KeyFrameSpan};
pub use packetizer::{
    FileEnd, Mode, Packet, Packetizer, PacketizerOptions, PacketizerStats, Sample, SampleParts,
    StreamSet,
};
pub use profile::{
    CodecInfo, FileMetadata, Profile, StreamConfig, StreamKind, VideoCodec, WmaVersion,
};
pub use remux::{
    OutputBatch, RemuxInput, RemuxInputStats, RemuxItem, RemuxOptions, RemuxOutput, RemuxSummary,
    Remuxer, remux, remux_to_vec,
};
