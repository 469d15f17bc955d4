//! Packet buffers: the [`PacketAllocator`] contract and a pooled default.

use bytes::{BufMut, BytesMut};

/// Supplies the buffer each packet is written into.
///
/// The returned buffer's `len()` is *headroom*: bytes the caller wants in front of the packet
/// (for example 4 bytes for the MS-WMHTTP `$D` framing header, 12 for MMSH). Its capacity
/// should be at least headroom + `packet_size` (the packetizer grows it otherwise). The
/// packetizer appends exactly `packet_size` bytes after the headroom and never touches the
/// headroom itself. This is how a sink's `allocate_data_unit` supplies buffers.
pub trait PacketAllocator {
    /// A buffer for one packet of `packet_size` bytes.
    fn allocate(&mut self, packet_size: usize) -> BytesMut;
}

impl<F: FnMut(usize) -> BytesMut> PacketAllocator for F {
    fn allocate(&mut self, packet_size: usize) -> BytesMut {
        self(packet_size)
    }
}

/// The default allocator: carves packet buffers out of large chunks, so one heap allocation
/// serves many packets, and a chunk whose packets have all been dropped is reused by
/// [`BytesMut::reserve`] instead of allocating again.
///
/// Buffers of packets the caller is done with can also be given back
/// ([`PoolAllocator::recycle`]): they are handed out again before the chunk is cut further.
#[derive(Debug, Default)]
pub struct PoolAllocator {
    chunk: BytesMut,
    headroom: usize,
    /// Buffers given back, handed out again first.
    spare: Vec<BytesMut>,
    /// Their capacity, bytes.
    spare_bytes: usize,
}

/// Packets per chunk of a [`PoolAllocator`].
const PACKETS_PER_CHUNK: usize = 32;

/// Buffers a [`PoolAllocator`] keeps for reuse at most: the packets of a 1 MiB write of
/// 1 KiB packets (`wmpush remux` writes about 1 MiB at a time).
const MAX_SPARE: usize = 1024;

/// Bytes of buffers a [`PoolAllocator`] keeps for reuse at most.
const MAX_SPARE_BYTES: usize = 1 << 20;

impl PoolAllocator {
    /// A pool whose buffers carry `headroom` zero bytes in front of the packet.
    pub fn with_headroom(headroom: usize) -> Self {
        PoolAllocator {
            headroom,
            ..PoolAllocator::default()
        }
    }

    /// The headroom of every buffer.
    pub fn headroom(&self) -> usize {
        self.headroom
    }

    /// Takes back the buffer of a packet that has been written out, to hand it out again
    /// (cleared) instead of cutting a new one: a writer that gives every buffer back makes
    /// the pool allocate nothing in the steady state. The pool keeps at most 1,024 buffers and
    /// 1 MiB; a buffer past that is dropped.
    pub fn recycle(&mut self, mut buf: BytesMut) {
        let cap = buf.capacity();
        if self.spare.len() >= MAX_SPARE || self.spare_bytes + cap > MAX_SPARE_BYTES {
            return;
        }
        buf.clear();
        self.spare_bytes += cap;
        self.spare.push(buf);
    }

    /// Buffers waiting in the pool for reuse.
    pub fn spare_buffers(&self) -> usize {
        self.spare.len()
    }
}

impl PacketAllocator for PoolAllocator {
    fn allocate(&mut self, packet_size: usize) -> BytesMut {
        let need = self.headroom + packet_size;
        if let Some(mut buf) = self.spare.pop() {
            self.spare_bytes -= buf.capacity();
            if buf.capacity() >= need {
                buf.put_bytes(0, self.headroom);
                return buf;
            }
        }
        if self.chunk.capacity() < need {
            // A new chunk (or the old one reclaimed, when every packet cut from it is gone).
            self.chunk.reserve(need * PACKETS_PER_CHUNK);
        }
        // Cut `need` bytes of capacity off the chunk without initializing them: the piece
        // owns headroom + packet capacity, the chunk keeps the rest for the next packets.
        let rest = self.chunk.split_off(need);
        let mut piece = core::mem::replace(&mut self.chunk, rest);
        piece.put_bytes(0, self.headroom);
        piece
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_gives_headroom_and_capacity() {
        let mut p = PoolAllocator::with_headroom(4);
        for _ in 0..100 {
            let b = p.allocate(1500);
            assert_eq!(b.len(), 4);
            assert!(b.capacity() >= 1504);
            assert!(b.iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn recycled_buffers_come_back_cleared_with_headroom() {
        let mut p = PoolAllocator::with_headroom(4);
        let mut b = p.allocate(1500);
        b.extend_from_slice(&[0xAB; 1500]);
        let at = b.as_ptr();
        p.recycle(b);
        assert_eq!(p.spare_buffers(), 1);
        let again = p.allocate(1500);
        assert_eq!(again.as_ptr(), at, "the same buffer");
        assert_eq!(&again[..], &[0; 4], "cleared, headroom zeroed");
        assert!(again.capacity() >= 1504);
        assert_eq!(p.spare_buffers(), 0);
        // One too small for the packet asked is dropped, not handed out.
        p.recycle(BytesMut::with_capacity(10));
        assert!(p.allocate(1500).capacity() >= 1504);
        // Bounded.
        for _ in 0..MAX_SPARE + 100 {
            p.recycle(BytesMut::with_capacity(100));
        }
        assert_eq!(p.spare_buffers(), MAX_SPARE);
        for _ in 0..1000 {
            p.recycle(BytesMut::with_capacity(64 * 1024));
        }
        assert!(p.spare_bytes <= MAX_SPARE_BYTES);
    }

    #[test]
    fn closure_is_an_allocator() {
        let mut f = |n: usize| BytesMut::with_capacity(n + 2);
        let b = PacketAllocator::allocate(&mut f, 100);
        assert!(b.capacity() >= 102);
    }
}
