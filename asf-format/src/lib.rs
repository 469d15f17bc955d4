//! # asf-format
//!
//! The Advanced Systems Format (ASF, the container of WMV and WMA) as a Rust object model:
//! every object of the ASF specification (revision 01.20.03/01.20.05) parsed, serialized
//! back byte for byte, and validated, plus zero-copy data-packet views, index objects,
//! media-object reassembly and a sans-IO streaming reader.
//!
//! This crate does no IO and reads no clock: it works on byte slices and [`bytes::Bytes`].
#![forbid(unsafe_code)]

pub mod error;
pub mod guid;
pub mod limits;

// -- header-side modules (objects, header, whole file, validate) --
pub mod file;
pub mod guids;
pub mod header;
pub mod object;
pub mod objects;
pub mod reader;
pub mod strings;
pub mod validate;

// -- data-side modules (data object, packets, index objects, reassembly, streaming reader) --
pub mod data;
pub mod index;
pub mod media_object;
pub mod packet;
pub mod stream;

pub use error::{Error, Result};
pub use guid::Guid;
pub use limits::Limits;

pub use file::AsfFile;
pub use header::Header;
pub use object::{AsfObject, RawObject};
pub use objects::HeaderObject;
pub use validate::{Finding, Severity, validate};
