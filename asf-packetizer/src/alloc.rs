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
#[derive(Debug, Default)]
pub struct PoolAllocator {
    chunk: BytesMut,
    headroom: usize,
}

/// Packets per chunk of a [`PoolAllocator`].
const PACKETS_PER_CHUNK: usize = 32;

impl PoolAllocator {
    /// A pool whose buffers carry `headroom` zero bytes in front of the packet.
    pub fn with_headroom(headroom: usize) -> Self {
        PoolAllocator {
            chunk: BytesMut::new(),
            headroom,
        }
    }

    /// The headroom of every buffer.
    pub fn headroom(&self) -> usize {
        self.headroom
    }
}

impl PacketAllocator for PoolAllocator {
    fn allocate(&mut self, packet_size: usize) -> BytesMut {
        let need = self.headroom + packet_size;
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
    fn closure_is_an_allocator() {
        let mut f = |n: usize| BytesMut::with_capacity(n + 2);
        let b = PacketAllocator::allocate(&mut f, 100);
        assert!(b.capacity() >= 102);
    }
}
