//! Media-object reassembly (ASF 5.2.3 / asf-format.md §2.4-2.5): payloads in, whole media
//! objects (codec frames) out.
//!
//! - A payload that carries a whole object becomes a [`MediaObject`] whose `data` is a
//!   zero-copy slice of the packet's [`Bytes`].
//! - Fragments of one object (same stream and media object number, offsets in order) are
//!   joined; the buffer grows with the data received, never from the declared size alone, and
//!   the declared size is checked against [`Limits::max_media_object_size`].
//! - Compressed payloads (replicated data length 1) are expanded into one object per
//!   sub-payload.
//! - Lost fragments are tolerated: an incomplete object is dropped, and counted in
//!   [`DropCounts`], when a new object starts on its stream (as FFmpeg's `asfdec_o` does), when
//!   a fragment does not continue it, or at [`Reassembler::finish`].
//!
//! - With [`Reassembler::keep_fragments`], fragments are not joined: an object comes out of
//!   [`poll_parts`](Reassembler::poll_parts) as the slices of the packets it arrived in
//!   ([`ObjectParts`]), so a remuxer can write it out again without copying it. The slices keep
//!   their packets' buffers alive until dropped.
//!
//! Call order: [`Reassembler::push_packet`] (or [`push_payload`](Reassembler::push_payload))
//! for each packet in order, then [`poll_object`](Reassembler::poll_object) (or
//! [`poll_parts`](Reassembler::poll_parts)) until `None`.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::limits::Limits;
use crate::packet::{PacketView, PayloadView, slice_of};

/// Capacity reserved for an object being assembled when its declared size is larger (the
/// buffer then doubles with the data).
const INITIAL_OBJECT_CAPACITY: usize = 64 * 1024;

/// One complete media object (a codec frame).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaObject {
    /// Stream number, 1..127.
    pub stream: u8,
    /// Media Object Number (as on the wire; wraps at the field width).
    pub number: u32,
    /// Presentation time in ms, including the preroll (the packet's send time when the
    /// payload had no replicated data, as VLC does).
    pub presentation_time: u32,
    /// Key frame (cleanpoint) bit of the object's first payload.
    pub keyframe: bool,
    /// The object's bytes.
    pub data: Bytes,
}

/// One complete media object as the pieces it arrived in (see [`Reassembler::keep_fragments`]):
/// one part for an object carried whole, one per fragment otherwise, each a slice of its
/// packet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectParts {
    /// Stream number, 1..127.
    pub stream: u8,
    /// Media Object Number (as on the wire; wraps at the field width).
    pub number: u32,
    /// Presentation time in ms, including the preroll (as [`MediaObject::presentation_time`]).
    pub presentation_time: u32,
    /// Key frame (cleanpoint) bit of the object's first payload.
    pub keyframe: bool,
    /// The object's bytes, in order; never empty parts.
    pub parts: Vec<Bytes>,
}

impl ObjectParts {
    /// The object's size in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    /// Whether the object has no bytes.
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Bytes::is_empty)
    }

    /// The object in one buffer: its only part without copying, else the parts joined.
    pub fn join(mut self) -> MediaObject {
        let data = if self.parts.len() == 1 {
            self.parts.pop().unwrap_or_default()
        } else {
            let mut buf = BytesMut::with_capacity(self.len());
            for p in &self.parts {
                buf.extend_from_slice(p);
            }
            buf.freeze()
        };
        MediaObject {
            stream: self.stream,
            number: self.number,
            presentation_time: self.presentation_time,
            keyframe: self.keyframe,
            data,
        }
    }
}

/// Why objects or fragments were dropped, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct DropCounts {
    /// Objects dropped incomplete (a new object started on the stream, a fragment did not
    /// continue it, or the input ended).
    pub incomplete: u64,
    /// Fragments that did not start an object and did not continue the pending one.
    pub orphan_fragments: u64,
    /// Objects whose declared size is over `max_media_object_size`.
    pub oversized: u64,
    /// Objects not started because `max_pending_media_objects` were already being assembled.
    pub too_many_pending: u64,
    /// Payloads whose fragment runs past the declared object size.
    pub inconsistent: u64,
}

impl DropCounts {
    /// Everything dropped.
    pub fn total(&self) -> u64 {
        self.incomplete
            + self.orphan_fragments
            + self.oversized
            + self.too_many_pending
            + self.inconsistent
    }
}

#[derive(Debug)]
struct Pending {
    stream: u8,
    number: u32,
    presentation_time: u32,
    keyframe: bool,
    size: u32,
    /// The bytes received, joined (unless fragments are kept).
    buf: BytesMut,
    /// The fragments received, as slices of their packets (when fragments are kept).
    parts: Vec<Bytes>,
    /// Bytes received.
    received: usize,
}

/// Reassembles media objects from packets, bounded by [`Limits`].
#[derive(Debug)]
pub struct Reassembler {
    limits: Limits,
    pending: Vec<Pending>,
    ready: VecDeque<ObjectParts>,
    drops: DropCounts,
    keep_fragments: bool,
    /// Emptied part lists given back ([`Reassembler::recycle_parts`]) for later objects.
    spare_parts: Vec<Vec<Bytes>>,
}

/// Part lists kept for reuse at most, and the largest capacity kept: a bound whatever a caller
/// gives back.
const MAX_SPARE_PARTS: usize = 64;
const MAX_SPARE_CAPACITY: usize = 256;

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            pending: Vec::new(),
            ready: VecDeque::new(),
            drops: DropCounts::default(),
            keep_fragments: false,
            spare_parts: Vec::new(),
        }
    }

    /// Keeps the fragments of an object as slices of their packets instead of joining them
    /// (see the module documentation and [`Reassembler::poll_parts`]). Off by default: joined
    /// objects hold only their own bytes, while kept fragments hold their packets' buffers.
    pub fn keep_fragments(&mut self, keep: bool) {
        self.keep_fragments = keep;
    }

    /// Takes back the part list of an object given by [`Reassembler::poll_parts`] once its
    /// parts are used: later objects reuse it instead of allocating one (bounded: at most 64
    /// lists are kept). Optional.
    pub fn recycle_parts(&mut self, mut parts: Vec<Bytes>) {
        if self.spare_parts.len() < MAX_SPARE_PARTS
            && (1..=MAX_SPARE_CAPACITY).contains(&parts.capacity())
        {
            parts.clear();
            self.spare_parts.push(parts);
        }
    }

    /// A list holding `first`: a spare one, or a new one with room for `capacity` parts.
    fn parts_with(&mut self, first: Bytes, capacity: usize) -> Vec<Bytes> {
        let mut v = self
            .spare_parts
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(capacity));
        v.push(first);
        v
    }

    /// Feeds every payload of a packet. `packet` should be the bytes `view` was parsed from, so
    /// whole objects are zero-copy slices of it (other bytes are copied).
    pub fn push_packet(&mut self, packet: &Bytes, view: &PacketView<'_>) {
        for p in view.payloads() {
            self.push_payload(packet, &p, view.send_time());
        }
    }

    /// Parses `packet` (one packet of `packet_size` bytes at absolute offset `offset`) and feeds
    /// its payloads; a malformed packet is returned as the error and feeds nothing.
    pub fn push_packet_bytes(
        &mut self,
        packet: &Bytes,
        packet_size: u32,
        offset: u64,
    ) -> crate::Result<()> {
        let view = PacketView::parse(packet, packet_size, offset)?;
        self.push_packet(packet, &view);
        Ok(())
    }

    /// Parses `packet` (one packet of `packet_size` bytes at absolute offset `offset`, a slice
    /// of `whole`) and feeds each payload as soon as it is validated, in one walk over the
    /// packet: what [`Reassembler::push_packet_bytes`] does, without a second walk and with
    /// objects as slices of `whole` (for a reader that gives packets as slices of the chunk
    /// they came in, [`StreamReader::poll_packets`](crate::stream::StreamReader::poll_packets)).
    /// A malformed packet is returned as the error; the payloads before the bad one have been
    /// fed by then (where [`Reassembler::push_packet_bytes`] feeds nothing of it).
    pub fn push_packet_in(
        &mut self,
        whole: &Bytes,
        packet: &[u8],
        packet_size: u32,
        offset: u64,
    ) -> crate::Result<()> {
        PacketView::parse_each(packet, packet_size, offset, |p| {
            self.push_payload(whole, p, p.packet_send_time());
        })?;
        Ok(())
    }

    /// Whether a complete object is waiting for [`Reassembler::poll_parts`] or
    /// [`Reassembler::poll_object`].
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Feeds one payload; `send_time` is its packet's Send Time.
    pub fn push_payload(&mut self, packet: &Bytes, p: &PayloadView<'_>, send_time: u32) {
        let stream = p.stream_number;
        if p.is_compressed() {
            // ASF 5.2.3.3: each sub-payload is a complete media object; a new object number
            // on this stream ends any unfinished one.
            self.drop_pending(stream);
            for s in p.sub_payloads() {
                let parts = self.parts_with(slice_of(packet, s.data), 1);
                self.ready.push_back(ObjectParts {
                    stream,
                    number: s.media_object_number,
                    presentation_time: s.presentation_time,
                    keyframe: p.key_frame,
                    parts,
                });
            }
            return;
        }
        let (Some(size), Some(pt)) = (p.media_object_size(), p.presentation_time()) else {
            // No replicated data: the payload is the whole object, timed by the packet.
            self.drop_pending(stream);
            let parts = self.parts_with(slice_of(packet, p.data), 1);
            self.ready.push_back(ObjectParts {
                stream,
                number: p.media_object_number,
                presentation_time: send_time,
                keyframe: p.key_frame,
                parts,
            });
            return;
        };
        let offset = p.offset_into_media_object;
        if let Some(i) = self.pending.iter().position(|q| q.stream == stream) {
            let q = &mut self.pending[i];
            if q.number == p.media_object_number && offset as usize == q.received {
                if q.received + p.data.len() > q.size as usize {
                    self.pending.swap_remove(i);
                    self.drops.inconsistent += 1;
                    return;
                }
                if self.keep_fragments {
                    if !p.data.is_empty() {
                        q.parts.push(slice_of(packet, p.data));
                    }
                } else {
                    q.buf.extend_from_slice(p.data);
                }
                q.received += p.data.len();
                if q.received == q.size as usize {
                    let mut q = self.pending.swap_remove(i);
                    if !self.keep_fragments {
                        q.parts.push(q.buf.freeze());
                    }
                    self.ready.push_back(ObjectParts {
                        stream,
                        number: q.number,
                        presentation_time: q.presentation_time,
                        keyframe: q.keyframe,
                        parts: q.parts,
                    });
                }
                return;
            }
            // ASF 5.2.3 / asf-format.md §2.3: fragments of one object arrive in order with the
            // same number; anything else means fragments were lost.
            self.pending.swap_remove(i);
            self.drops.incomplete += 1;
        }
        if offset != 0 {
            self.drops.orphan_fragments += 1;
            return;
        }
        if size > self.limits.max_media_object_size {
            self.drops.oversized += 1;
            return;
        }
        if p.data.len() > size as usize {
            self.drops.inconsistent += 1;
            return;
        }
        if p.data.len() == size as usize {
            let parts = self.parts_with(slice_of(packet, p.data), 1);
            self.ready.push_back(ObjectParts {
                stream,
                number: p.media_object_number,
                presentation_time: pt,
                keyframe: p.key_frame,
                parts,
            });
            return;
        }
        if self.pending.len() >= self.limits.max_pending_media_objects as usize {
            self.drops.too_many_pending += 1;
            return;
        }
        // Grow with the data, not from the declared size (a hostile size costs at most 64 KiB
        // per pending object): up to 64 KiB at once, so a typical video frame is one
        // allocation instead of a chain of reallocations.
        let (buf, parts) = if self.keep_fragments {
            // Room for the fragments of an object of the declared size in packets like this
            // one (bounded: the Vec grows past it if they are smaller).
            let fragments = (size as usize).div_ceil(p.data.len().max(1)).clamp(1, 64);
            let mut parts = self
                .spare_parts
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(fragments));
            if !p.data.is_empty() {
                parts.push(slice_of(packet, p.data));
            }
            (BytesMut::new(), parts)
        } else {
            let first = p.data.len().saturating_mul(2).max(INITIAL_OBJECT_CAPACITY);
            let mut buf = BytesMut::with_capacity(first.min(size as usize));
            buf.extend_from_slice(p.data);
            (buf, Vec::new())
        };
        self.pending.push(Pending {
            stream,
            number: p.media_object_number,
            presentation_time: pt,
            keyframe: p.key_frame,
            size,
            buf,
            parts,
            received: p.data.len(),
        });
    }

    fn drop_pending(&mut self, stream: u8) {
        if let Some(i) = self.pending.iter().position(|q| q.stream == stream) {
            self.pending.swap_remove(i);
            self.drops.incomplete += 1;
        }
    }

    /// The next complete object, in completion order, in one buffer (with
    /// [`Reassembler::keep_fragments`] on, an object of several fragments is joined here).
    pub fn poll_object(&mut self) -> Option<MediaObject> {
        self.ready.pop_front().map(ObjectParts::join)
    }

    /// The next complete object, in completion order, as the parts it arrived in (one part,
    /// unless [`Reassembler::keep_fragments`] is on and it came in fragments).
    pub fn poll_parts(&mut self) -> Option<ObjectParts> {
        self.ready.pop_front()
    }

    /// End of input: drops (and counts) every unfinished object.
    pub fn finish(&mut self) {
        self.drops.incomplete += self.pending.len() as u64;
        self.pending.clear();
    }

    /// Objects being assembled right now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// What was dropped so far.
    pub fn drops(&self) -> DropCounts {
        self.drops
    }
}
