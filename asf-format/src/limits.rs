//! Configurable bounds on every size read from untrusted input.
//!
//! No allocation is ever made from a size read from the input without first checking it
//! against these limits (STYLE habit 2; Symphonia's `LimitError`).

/// Bounds applied while parsing. The defaults accept every real file we know of while keeping
/// a hostile file from making the parser allocate more than a few hundred MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest Header Object accepted, in bytes.
    pub max_header_size: u64,
    /// Largest number of child objects in the Header Object or the Header Extension.
    pub max_header_objects: u32,
    /// Largest single object (other than the Data Object) accepted, in bytes.
    pub max_object_size: u64,
    /// Largest data packet size accepted, in bytes.
    pub max_packet_size: u32,
    /// Largest media object reassembled from fragments, in bytes.
    pub max_media_object_size: u32,
    /// Largest number of entries in one list (index entries, descriptors, codec entries...).
    pub max_entries: u32,
    /// Largest number of media objects being reassembled at once (across streams).
    pub max_pending_media_objects: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_size: 64 << 20,
            max_header_objects: 4096,
            max_object_size: 256 << 20,
            max_packet_size: 1 << 20,
            max_media_object_size: 64 << 20,
            max_entries: 1 << 24,
            max_pending_media_objects: 1024,
        }
    }
}
