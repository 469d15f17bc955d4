//! Reading a file or a stream into pooled buffers handed out as [`Bytes`], so a parser can keep
//! slices of what it read (packets, media objects) without copying them, and the buffers are
//! used again once every slice is gone.
//!
//! `wmpush remux` reads its input this way: the kernel's copy out of the page cache lands in a
//! buffer that is then still in the CPU's caches while its packet headers are parsed, and the
//! media data goes from that buffer to the output's `writev` untouched. Measured here, reading
//! a page-cached 1 GB file into 256 KiB buffers costs about 100 ms of kernel time, against
//! about 140 ms for mapping it in 8 MiB windows, filling their page tables and unmapping them
//! (BENCHMARKS.md), and needs no `unsafe`.

use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

/// The default chunk: small enough to stay in a core's L2 cache between the read and the
/// parse, large enough that a syscall per chunk costs nothing measurable.
pub const DEFAULT_CHUNK: usize = 256 * 1024;

/// Buffers kept for reuse at most (more are freed when their last slice is dropped): about what
/// a remux holds in flight (8 MiB), bounded whatever the input.
const MAX_POOLED: usize = 32;

type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

fn lock(pool: &Pool) -> MutexGuard<'_, Vec<Vec<u8>>> {
    pool.lock().unwrap_or_else(|p| p.into_inner())
}

/// One chunk's buffer, the owner behind a [`Bytes`]: back to the pool when the last slice of
/// it is dropped (on whichever thread that happens).
struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Pool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut pool = lock(&self.pool);
        if pool.len() < MAX_POOLED {
            pool.push(std::mem::take(&mut self.buf));
        }
    }
}

/// Reads `R` in chunks of at most `chunk` bytes, each a [`Bytes`] over a pooled buffer.
pub struct ChunkReader<R> {
    reader: R,
    chunk: usize,
    pool: Pool,
}

impl<R: Read> ChunkReader<R> {
    /// Reads `reader` in chunks of at most `chunk` bytes (at least 1).
    pub fn new(reader: R, chunk: usize) -> Self {
        ChunkReader {
            reader,
            chunk: chunk.max(1),
            pool: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The next chunk: a full one, or less only at the end of the input (a pipe is read until
    /// the chunk is full, so its small reads do not each take a whole buffer); `None` at the
    /// end of the input.
    pub fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let mut buf = lock(&self.pool).pop().unwrap_or_default();
        buf.resize(self.chunk, 0);
        let mut n = 0;
        while n < buf.len() {
            match self.reader.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    lock(&self.pool).push(buf);
                    return Err(e);
                }
            }
        }
        if n == 0 {
            lock(&self.pool).push(buf);
            return Ok(None);
        }
        Ok(Some(Bytes::from_owner(Pooled {
            buf,
            len: n,
            pool: self.pool.clone(),
        })))
    }

    /// Buffers waiting in the pool for reuse.
    pub fn pooled(&self) -> usize {
        lock(&self.pool).len()
    }
}

impl<R> std::fmt::Debug for ChunkReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader")
            .field("chunk", &self.chunk)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_input_and_buffers_come_back() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = ChunkReader::new(&data[..], 4096);
        let mut chunks = Vec::new();
        while let Some(c) = r.next_chunk().expect("reads") {
            chunks.push(c);
        }
        // Full chunks but the last.
        let lens: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(lens, [4096, 4096, 1808]);
        assert_eq!(chunks.concat(), data);
        assert_eq!(r.pooled(), 1, "the buffer of the empty read at the end");
        // A slice keeps its buffer out of the pool; dropping the last one returns it.
        let piece = chunks[1].slice(10..20);
        drop(chunks);
        assert_eq!(r.pooled(), 3);
        assert_eq!(&piece[..], &data[4106..4116]);
        drop(piece);
        assert_eq!(r.pooled(), 4);
    }

    #[test]
    fn small_reads_fill_a_chunk() {
        /// A pipe that gives 100 bytes per read.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(100);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data = vec![3u8; 5000];
        let mut r = ChunkReader::new(Trickle(&data), 4096);
        assert_eq!(r.next_chunk().expect("reads").map(|c| c.len()), Some(4096));
        assert_eq!(r.next_chunk().expect("reads").map(|c| c.len()), Some(904));
        assert!(r.next_chunk().expect("reads").is_none());
    }

    #[test]
    fn the_pool_is_bounded() {
        let data = vec![7u8; 200 * 16];
        let mut r = ChunkReader::new(&data[..], 16);
        let mut held = Vec::new();
        while let Some(c) = r.next_chunk().expect("reads") {
            held.push(c);
        }
        assert_eq!(held.len(), 200);
        drop(held);
        assert_eq!(r.pooled(), MAX_POOLED);
    }

    #[test]
    fn read_errors_are_returned() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let e = ChunkReader::new(Broken, 16)
            .next_chunk()
            .expect_err("fails");
        assert_eq!(e.to_string(), "disk on fire");
    }
}
