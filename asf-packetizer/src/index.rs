//! Index builders fed as packets are emitted: a Simple Index Object (ASF 3.3) per video stream
//! and one Index Object (ASF 3.4) for all of them, both with a 1 s entry interval and the
//! nearest past cleanpoint (key frame) rule.

use asf_format::Guid;
use asf_format::index::{
    Index, IndexBlock, IndexSpecifier, IndexType, SimpleIndex, SimpleIndexEntry,
};

/// A video key frame with the packets it occupies (what the indexes need).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFrameSpan {
    /// Stream number.
    pub stream: u8,
    /// Presentation time in ms, preroll included.
    pub presentation_time: u64,
    /// Index of the packet holding the key frame's first byte.
    pub first_packet: u64,
    /// Packets from the first to the last byte of the key frame.
    pub packet_count: u32,
}

/// The index entry interval in ms (1 s, what FFmpeg and the WM Format SDK write).
pub const INDEX_INTERVAL_MS: u64 = 1000;

/// Collects key frames per video stream and builds the index objects.
#[derive(Debug, Clone)]
pub struct IndexBuilder {
    /// (stream, key frames in packet order).
    streams: Vec<(u8, Vec<KeyFrameSpan>)>,
    packet_size: u32,
    packets: u64,
    play_end_ms: u64,
}

impl IndexBuilder {
    /// A builder for these video streams and packet size.
    pub fn new(video_streams: Vec<u8>, packet_size: u32) -> Self {
        IndexBuilder {
            streams: video_streams.into_iter().map(|s| (s, Vec::new())).collect(),
            packet_size,
            packets: 0,
            play_end_ms: 0,
        }
    }

    /// Records packet `index` and the key frames whose last byte is in it.
    pub fn push(&mut self, index: u64, key_frames: &[KeyFrameSpan]) {
        self.packets = self.packets.max(index + 1);
        for k in key_frames {
            if let Some((_, v)) = self.streams.iter_mut().find(|(s, _)| *s == k.stream) {
                v.push(*k);
            }
        }
    }

    /// Sets the end of the presentation (ms, preroll included): the indexes cover
    /// `0..=play_end_ms`.
    pub fn finish(&mut self, play_end_ms: u64) {
        self.play_end_ms = play_end_ms;
    }

    /// The indexed streams: video streams with at least one key frame, in profile order.
    pub fn streams(&self) -> Vec<u8> {
        self.streams
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .map(|(s, _)| *s)
            .collect()
    }

    fn entry_count(&self) -> u64 {
        self.play_end_ms / INDEX_INTERVAL_MS + 1
    }

    /// For each entry time, the key frame (nearest past cleanpoint) of `keys`; entries before
    /// the first key frame use the first one (players start there).
    fn entries<'a>(&self, keys: &'a [KeyFrameSpan]) -> impl Iterator<Item = KeyFrameSpan> + 'a {
        let n = self.entry_count();
        let mut j = 0usize;
        (0..n).filter_map(move |i| {
            let t = i * INDEX_INTERVAL_MS;
            while j + 1 < keys.len() && keys[j + 1].presentation_time <= t {
                j += 1;
            }
            keys.get(j).copied()
        })
    }

    /// One Simple Index per indexed stream (ASF 3.3; times include the preroll, asf-format.md
    /// §4.1). Entry *i* points at the packet holding the start of the latest key frame at or
    /// before *i* s. Packet numbers past 2^32 - 1 saturate (the Simple Index has DWORD packet
    /// numbers; the Index Object covers such files).
    pub fn simple_indexes(&self, file_id: Guid) -> Vec<SimpleIndex> {
        self.streams
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .map(|(_, keys)| {
                let entries: Vec<SimpleIndexEntry> = self
                    .entries(keys)
                    .map(|k| SimpleIndexEntry {
                        packet_number: u32::try_from(k.first_packet).unwrap_or(u32::MAX),
                        packet_count: u16::try_from(k.packet_count).unwrap_or(u16::MAX),
                    })
                    .collect();
                let max_packet_count = entries
                    .iter()
                    .map(|e| u32::from(e.packet_count))
                    .max()
                    .unwrap_or(0);
                SimpleIndex {
                    file_id,
                    entry_time_interval: INDEX_INTERVAL_MS * 10_000,
                    max_packet_count,
                    entries,
                }
            })
            .collect()
    }

    /// The Index Object (ASF 3.4): one specifier per indexed stream (nearest past cleanpoint),
    /// entries as byte offsets from the first data packet. A new block starts whenever an
    /// offset would not fit the DWORD field, so the QWORD block positions index files past
    /// 4 GB correctly.
    pub fn index_object(&self) -> Index {
        let streams: Vec<&Vec<KeyFrameSpan>> = self
            .streams
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .map(|(_, k)| k)
            .collect();
        let specifiers = self
            .streams()
            .into_iter()
            .map(|n| IndexSpecifier {
                stream_number: u16::from(n),
                index_type: IndexType::NEAREST_PAST_CLEANPOINT,
            })
            .collect();
        let ps = u64::from(self.packet_size);
        let columns: Vec<Vec<u64>> = streams
            .iter()
            .map(|k| self.entries(k).map(|k| k.first_packet * ps).collect())
            .collect();
        let n = columns.first().map_or(0, Vec::len);
        let mut blocks: Vec<IndexBlock> = Vec::new();
        let mut base: Vec<u64> = Vec::new();
        for e in 0..n {
            let fits = !blocks.is_empty()
                && columns
                    .iter()
                    .zip(&base)
                    .all(|(c, b)| c[e] >= *b && c[e] - b < u64::from(u32::MAX));
            if !fits {
                base = columns.iter().map(|c| c[e]).collect();
                blocks.push(IndexBlock {
                    entry_count: 0,
                    block_positions: base.clone(),
                    offsets: Vec::new(),
                });
            }
            let block = blocks.last_mut().expect("a block was pushed above");
            block.entry_count += 1;
            for (c, b) in columns.iter().zip(&base) {
                block
                    .offsets
                    .push(u32::try_from(c[e] - b).expect("checked to fit above"));
            }
        }
        Index {
            entry_time_interval: u32::try_from(INDEX_INTERVAL_MS).expect("1000 fits"),
            specifiers,
            blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(stream: u8, pt: u64, first: u64) -> KeyFrameSpan {
        KeyFrameSpan {
            stream,
            presentation_time: pt,
            first_packet: first,
            packet_count: 2,
        }
    }

    #[test]
    fn entries_point_at_latest_past_key_frame() {
        let mut b = IndexBuilder::new(vec![2, 3], 1000);
        b.push(0, &[]);
        b.push(1, &[k(2, 500, 0)]);
        b.push(9, &[k(2, 2500, 8)]);
        b.push(3, &[k(7, 0, 0)]);
        b.finish(3900);
        assert_eq!(b.streams(), vec![2]);
        let ix = b.simple_indexes(Guid([0; 16]));
        assert_eq!(ix.len(), 1);
        let e: Vec<u32> = ix[0].entries.iter().map(|e| e.packet_number).collect();
        assert_eq!(e, vec![0, 0, 0, 8]);
        assert_eq!(ix[0].max_packet_count, 2);
        let io = b.index_object();
        assert_eq!(io.blocks.len(), 1);
        assert_eq!(io.blocks[0].offsets, vec![0, 0, 0, 8000]);
    }

    #[test]
    fn index_object_starts_a_block_past_4_gb() {
        let mut b = IndexBuilder::new(vec![1], 65_535);
        b.push(0, &[k(1, 0, 0)]);
        b.push(60_000, &[k(1, 1000, 60_000)]);
        b.push(140_000, &[k(1, 2000, 140_000)]);
        b.finish(2000);
        let io = b.index_object();
        assert_eq!(io.blocks.len(), 2);
        assert_eq!(io.blocks[1].block_positions, vec![140_000 * 65_535]);
        let total: u32 = io.blocks.iter().map(|b| b.entry_count).sum();
        assert_eq!(total, 3);
        assert_eq!(io.blocks[0].position(1, 0), Some(60_000 * 65_535));
    }
}
