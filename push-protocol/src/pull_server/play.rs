//! The streaming half of an accepted MS-WMSP Play: what a server writes
//! for each player after the response head and the first `$H`.
//!
//! [`PlayFramer`] holds the only state that differs between two players of
//! the same broadcast: the `$D` LocationId and sequence counters
//! (MS-WMSP 2.2.3.1.2), the player's stream selection when the server filters
//! payloads (MS-WMSP 3.2.5.6), and the Playlist-gen-id of `$M` packets
//! (MS-WMSP 2.2.3.6). It is what [`PullServerConnection`](super::PullServerConnection)
//! uses internally for `send_packet`, `change_header` and `end_of_stream`, and
//! it can be taken out of an accepted connection with
//! [`PullServerConnection::take_play_framer`](super::PullServerConnection::take_play_framer)
//! so that a fan-out engine writes each player's 12-byte `$D` preheader next
//! to a payload shared by every player, in vectored writes, without a
//! connection object per player.
//!
//! ```
//! use bytes::Bytes;
//! use push_protocol::pull_server::PlayFramer;
//!
//! let mut framer = PlayFramer::default();
//! let packet = Bytes::from_static(&[0x82, 0, 0]);
//! let head = framer.data_head(packet.len())?;
//! assert_eq!(&head[..4], &[0x24, b'D', 11, 0]); // "$D", 8-byte preheader + 3
//! assert_eq!(framer.packets_sent(), 1);
//! assert_eq!(framer.end_of_stream(), [0x24, b'E', 4, 0, 0, 0, 0, 0]);
//! # Ok::<(), push_protocol::pull_server::PullError>(())
//! ```

use bytes::{Bytes, BytesMut};

use super::error::PullError;
use super::{StreamSelection, filter_packet, wire};

/// Where a [`PlayFramer`]'s counters stand; restore it with
/// [`PlayFramer::rewind`] when frames formed for a write were not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerMark {
    location_id: u32,
    sequence: u8,
    packets_sent: u64,
    packets_filtered_out: u64,
}

/// What `$M` packets carry (MS-WMSP 2.2.3.6); only a `Cougar` >= 9 server
/// sends them to clients >= 9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetadataSettings {
    pub(crate) broadcast_id: u32,
    pub(crate) features: String,
}

/// The per-player framing state of a Play in progress. See the
/// [module documentation](self).
#[derive(Debug, Clone, Default)]
pub struct PlayFramer {
    location_id: u32,
    sequence: u8,
    packets_sent: u64,
    packets_filtered_out: u64,
    selection: Option<StreamSelection>,
    metadata: Option<MetadataSettings>,
    playlist_gen_id: u32,
    end_entry_before_change: bool,
}

impl PlayFramer {
    pub(crate) fn configure(
        &mut self,
        selection: Option<StreamSelection>,
        metadata: Option<MetadataSettings>,
        end_entry_before_change: bool,
    ) {
        self.selection = selection;
        self.metadata = metadata;
        self.end_entry_before_change = end_entry_before_change;
    }

    // ---- getters ----

    /// `$D` packets framed so far.
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent
    }

    /// Packets skipped because the player selected none of their payloads.
    pub fn packets_filtered_out(&self) -> u64 {
        self.packets_filtered_out
    }

    /// The LocationId the next `$D` carries.
    pub fn next_location_id(&self) -> u32 {
        self.location_id
    }

    /// True when packets must go through [`PlayFramer::select`] (the server
    /// filters payloads of streams the player did not select).
    pub fn filters(&self) -> bool {
        self.selection.is_some()
    }

    /// The Playlist-gen-id of the current entry (0 when no `$M` is sent).
    pub fn playlist_gen_id(&self) -> u32 {
        self.playlist_gen_id
    }

    /// The counters now, to [`rewind`](PlayFramer::rewind) to.
    pub fn mark(&self) -> FramerMark {
        FramerMark {
            location_id: self.location_id,
            sequence: self.sequence,
            packets_sent: self.packets_sent,
            packets_filtered_out: self.packets_filtered_out,
        }
    }

    /// Puts the counters back where `mark` was taken (frames formed since
    /// were not sent).
    pub fn rewind(&mut self, mark: FramerMark) {
        self.location_id = mark.location_id;
        self.sequence = mark.sequence;
        self.packets_sent = mark.packets_sent;
        self.packets_filtered_out = mark.packets_filtered_out;
    }

    // ---- framing ----

    /// The packet as this player gets it: unchanged without filtering; with
    /// filtering, only the payloads of selected streams, or `None` when none
    /// is selected (the packet is skipped: MS-WMSP 2.2.3.1.2 "a server MAY
    /// skip ASF packets"; LocationId still counts it, the `$D` sequence does
    /// not).
    pub fn select(&mut self, packet: &Bytes) -> Result<Option<Bytes>, PullError> {
        let Some(selection) = &self.selection else {
            return Ok(Some(packet.clone()));
        };
        match filter_packet(packet, selection)? {
            Some(p) => Ok(Some(p)),
            None => {
                self.location_id = self.location_id.wrapping_add(1);
                self.packets_filtered_out += 1;
                Ok(None)
            }
        }
    }

    /// The 12-byte framing header and preheader of the next `$D`, carrying a
    /// `payload_len`-byte ASF packet; counts the packet. MS-WMSP 2.2.3.1.2:
    /// LocationId is the ASF packet number in the (virtual) file, AFFlags the
    /// `$D` sequence number from 0.
    pub fn data_head(&mut self, payload_len: usize) -> Result<[u8; 12], PullError> {
        let mut buf = BytesMut::with_capacity(12);
        wire::put_preheader(
            &mut buf,
            wire::ID_DATA,
            payload_len,
            self.location_id,
            0,
            self.sequence,
        )?;
        let mut head = [0u8; 12];
        head.copy_from_slice(&buf);
        self.location_id = self.location_id.wrapping_add(1);
        self.sequence = self.sequence.wrapping_add(1);
        self.packets_sent += 1;
        Ok(head)
    }

    /// The buffers that tell the player the stream goes on with a new ASF
    /// header: `$E(1)` (when configured), `$C(0)`, `$M` (Cougar servers), then
    /// the header as `$H` packet(s) (MS-WMSP 3.2.4.1, 3.2.4.2).
    pub fn change_header(&mut self, header: &Bytes) -> Result<Vec<Bytes>, PullError> {
        super::check_asf_header(header)?;
        let mut out = Vec::new();
        if self.end_entry_before_change {
            out.push(Bytes::copy_from_slice(&wire::reason_packet(
                wire::ID_END,
                wire::REASON_ENTRY_DONE,
            )));
        }
        out.push(Bytes::copy_from_slice(&wire::reason_packet(
            wire::ID_CHANGE,
            0,
        )));
        let mut scratch = BytesMut::new();
        if self.metadata.is_some() {
            // MS-WMSP 3.2.4.2: a new entry gets a new Playlist-gen-id, and
            // $M goes immediately before the $H packets.
            self.playlist_gen_id = self.playlist_gen_id.wrapping_add(1).max(1);
            self.metadata_packets(&mut scratch, &mut out);
        }
        wire::header_packets(header, &mut scratch, &mut out);
        Ok(out)
    }

    /// `$E(0)`: the stream ended (MS-WMSP 3.2.4.1); the server closes after it.
    pub fn end_of_stream(&self) -> [u8; 8] {
        wire::reason_packet(wire::ID_END, wire::REASON_END)
    }

    /// Starts the first entry's `$M` numbering (Playlist-gen-id 1) and
    /// appends its `$M` packet(s) to `out`; nothing without metadata.
    pub(crate) fn first_metadata(&mut self, scratch: &mut BytesMut, out: &mut Vec<Bytes>) {
        if self.metadata.is_some() {
            self.playlist_gen_id = 1;
            self.metadata_packets(scratch, out);
        }
    }

    /// The `$M` packet(s): `playlist-gen-id=N, broadcast-id=M, features="..."`
    /// + NUL (MS-WMSP 2.2.3.6; no content description list).
    fn metadata_packets(&self, scratch: &mut BytesMut, out: &mut Vec<Bytes>) {
        let Some(meta) = &self.metadata else {
            return;
        };
        let text = format!(
            "playlist-gen-id={}, broadcast-id={}, features=\"{}\"\0",
            self.playlist_gen_id, meta.broadcast_id, meta.features
        );
        wire::fragment_packets(wire::ID_METADATA, &Bytes::from(text), scratch, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_heads_count_and_rewind() {
        let mut f = PlayFramer::default();
        let a = f.data_head(100).expect("fits");
        let mark = f.mark();
        let b = f.data_head(100).expect("fits");
        assert_eq!(&a[4..8], &0u32.to_le_bytes());
        assert_eq!(&b[4..8], &1u32.to_le_bytes());
        assert_eq!(b[9], 1, "AFFlags is the $D sequence");
        assert_eq!(u16::from_le_bytes([b[2], b[3]]), 108);
        assert_eq!(u16::from_le_bytes([b[10], b[11]]), 108);
        f.rewind(mark);
        assert_eq!(f.data_head(100).expect("fits"), b);
        assert_eq!(f.packets_sent(), 2);
        assert!(f.data_head(65_528).is_err(), "over one MMS packet");
    }

    #[test]
    fn unfiltered_select_shares_the_packet() {
        let mut f = PlayFramer::default();
        let p = Bytes::from_static(b"\x82\0\0");
        let got = f.select(&p).expect("ok").expect("kept");
        assert_eq!(got.as_ptr(), p.as_ptr());
        assert!(!f.filters());
    }
}
