//! Reading a file or a stream in chunks, in order, into pooled buffers handed out as [`Bytes`],
//! so a parser can keep slices of what it read (packets, media objects) without copying them,
//! and the buffers are used again once every slice is gone.
//!
//! `wmpush remux` reads its input this way. Copying a page-cached file out of the kernel is the
//! largest single cost of a remux (about 125 ms of CPU for 1 GB here, more than all the
//! parsing and packetizing together), and one core copies no faster than that, so a file is
//! read by two threads: a helper thread reads ahead chunk after chunk, and the consumer, when
//! the chunk it needs next is still being read, reads a later one itself (`pread` at the
//! chunk's offset, so any thread can read any chunk) instead of waiting. The copies then share
//! both cores whatever the balance between reading and the consumer's own work. Measured here
//! (BENCHMARKS.md), this beats memory-mapping the file, whose page-table set-up and tear-down
//! cost more than the copy, and needs no `unsafe`; a mapped file that shrinks under the reader
//! also kills it with SIGBUS, where a read just ends early.
//!
//! A stream (standard input) is read in order by the helper thread alone.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// The default chunk: small enough to stay in a core's L2 cache between the read and the
/// parse, large enough that a syscall per chunk costs nothing measurable.
pub const DEFAULT_CHUNK: usize = 256 * 1024;

/// The default number of chunks read ahead of the consumer (3 MiB with [`DEFAULT_CHUNK`]).
pub const DEFAULT_AHEAD: usize = 12;

/// Buffers kept for reuse at most (more are freed when their last slice is dropped): about what
/// a remux holds in flight (8 MiB), bounded whatever the input.
const MAX_POOLED: usize = 32;

/// How long a thread that has nothing to do spins before it sleeps. A chunk is read in about
/// 30 µs, so the two threads mostly hand over without sleeping; sleeping and waking at every
/// chunk would cost more than the handover is worth.
const SPIN: Duration = Duration::from_micros(100);

/// The longest a sleeping thread waits before it looks again (a wake-up is also sent).
const NAP: Duration = Duration::from_millis(10);

type Pool = Arc<Mutex<Vec<Vec<u8>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
        give_back(&self.pool, std::mem::take(&mut self.buf));
    }
}

/// Returns a buffer to the pool, unless the pool is full.
fn give_back(pool: &Pool, buf: Vec<u8>) {
    let mut pool = lock(pool);
    if pool.len() < MAX_POOLED {
        pool.push(buf);
    }
}

/// Where the chunks come from.
enum Source {
    /// A file: chunk `k` is read at offset `k * chunk` by whichever thread claims it.
    File(File),
    /// A stream: read in order by the helper thread alone (the lock is only ever taken there).
    Stream(Mutex<Box<dyn Read + Send>>),
}

/// What the two threads share.
struct Shared {
    source: Source,
    chunk: usize,
    ahead: u64,
    pool: Pool,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// The next chunk to claim for reading.
    claimed: u64,
    /// The next chunk the consumer takes.
    consumed: u64,
    /// Chunks `consumed..claimed`: `None` while being read.
    slots: VecDeque<Option<io::Result<Bytes>>>,
    /// The first chunk past the end of the input, once a short read or an error told.
    end: Option<u64>,
    /// Threads waiting on `wake`.
    sleepers: u32,
    /// The consumer is gone: the helper stops.
    stop: bool,
}

impl State {
    /// Claims the next chunk for reading, if the read-ahead bound and the end allow.
    fn claim(&mut self, ahead: u64) -> Option<u64> {
        let k = self.claimed;
        if k >= self.consumed + ahead || self.end.is_some_and(|e| k >= e) {
            return None;
        }
        self.claimed += 1;
        self.slots.push_back(None);
        Some(k)
    }
}

impl Shared {
    /// A pooled buffer of `chunk` bytes.
    fn buffer(&self) -> Vec<u8> {
        let mut buf = lock(&self.pool).pop().unwrap_or_default();
        buf.resize(self.chunk, 0);
        buf
    }

    /// Claims the next chunk and reads it; false when there was nothing to claim.
    fn read_next(&self) -> bool {
        let (k, read) = match &self.source {
            Source::File(f) => {
                let Some(k) = lock(&self.state).claim(self.ahead) else {
                    return false;
                };
                let mut buf = self.buffer();
                let at = k * self.chunk as u64;
                let read = fill(&mut buf, |b, n| f.read_at(b, at + n as u64));
                (k, self.wrap(buf, read))
            }
            Source::Stream(r) => {
                // Claimed, read and stored under the stream's lock: chunks are read in the
                // order claimed, and none is claimed past a known end.
                let mut r = lock(r);
                let Some(k) = lock(&self.state).claim(self.ahead) else {
                    return false;
                };
                let mut buf = self.buffer();
                let read = fill(&mut buf, |b, _| r.read(b));
                self.store(k, self.wrap(buf, read));
                return true;
            }
        };
        self.store(k, read);
        true
    }

    fn wrap(&self, buf: Vec<u8>, read: io::Result<usize>) -> io::Result<Bytes> {
        let pool = self.pool.clone();
        read.map(|len| {
            if len == 0 {
                give_back(&pool, buf);
                Bytes::new()
            } else {
                Bytes::from_owner(Pooled { buf, len, pool })
            }
        })
    }

    /// Puts chunk `k`'s read where the consumer finds it; a short read or an error ends the
    /// input there (a file cut while being read ends at the cut, as a sequential read would).
    fn store(&self, k: u64, read: io::Result<Bytes>) {
        let mut st = lock(&self.state);
        let end = match &read {
            Ok(b) if b.is_empty() => Some(k),
            Ok(b) if b.len() < self.chunk => Some(k + 1),
            Ok(_) => None,
            Err(_) => Some(k + 1),
        };
        if let Some(e) = end {
            st.end = Some(st.end.map_or(e, |old| old.min(e)));
        }
        let i = (k - st.consumed) as usize;
        st.slots[i] = Some(read);
        self.notify(&st);
    }

    fn notify(&self, st: &State) {
        if st.sleepers > 0 {
            self.wake.notify_all();
        }
    }

    /// Waits for the other thread: spins for [`SPIN`] since `since`, then sleeps until woken
    /// (at most [`NAP`] at a time).
    fn wait<'a>(&'a self, st: MutexGuard<'a, State>, since: Instant) -> MutexGuard<'a, State> {
        if since.elapsed() < SPIN {
            drop(st);
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            return lock(&self.state);
        }
        let mut st = st;
        st.sleepers += 1;
        let (mut st, _) = self
            .wake
            .wait_timeout(st, NAP)
            .unwrap_or_else(|p| p.into_inner());
        st.sleepers -= 1;
        st
    }

    /// The helper thread: reads ahead until the input ends or the consumer is gone.
    fn help(&self) {
        let mut idle_since = None;
        loop {
            {
                let st = lock(&self.state);
                if st.stop || st.end.is_some_and(|e| st.claimed >= e) {
                    return;
                }
            }
            if self.read_next() {
                idle_since = None;
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            let st = lock(&self.state);
            if !st.stop && st.claim_blocked(self.ahead) {
                drop(self.wait(st, since));
            }
        }
    }
}

impl State {
    /// Whether the helper can only wait: the read-ahead bound is reached and the input has not
    /// ended.
    fn claim_blocked(&self, ahead: u64) -> bool {
        self.claimed >= self.consumed + ahead && self.end.is_none_or(|e| self.claimed < e)
    }
}

/// Reads into `buf` until it is full or the input ends; the bytes read.
fn fill(
    buf: &mut [u8],
    mut read: impl FnMut(&mut [u8], usize) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read(&mut buf[n..], n) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a file or a stream in chunks of a fixed size (the last one shorter), in order, each a
/// [`Bytes`] over a pooled buffer, with a helper thread reading ahead. See the module
/// documentation.
pub struct ChunkReader {
    shared: Arc<Shared>,
    helper: Option<std::thread::JoinHandle<()>>,
    next: u64,
}

impl ChunkReader {
    /// Reads `file` from its start in chunks of `chunk` bytes (at least 1), up to `ahead`
    /// chunks (at least 1) ahead of [`ChunkReader::next_chunk`], on two threads.
    pub fn file(file: File, chunk: usize, ahead: usize) -> io::Result<Self> {
        Self::start(Source::File(file), chunk, ahead)
    }

    /// Reads `stream` in order in chunks of `chunk` bytes (at least 1; a chunk is filled by as
    /// many reads as it takes, so a pipe's small reads do not each take a buffer), up to
    /// `ahead` chunks (at least 1) ahead of [`ChunkReader::next_chunk`], on a helper thread.
    pub fn stream(
        stream: impl Read + Send + 'static,
        chunk: usize,
        ahead: usize,
    ) -> io::Result<Self> {
        Self::start(Source::Stream(Mutex::new(Box::new(stream))), chunk, ahead)
    }

    fn start(source: Source, chunk: usize, ahead: usize) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            source,
            chunk: chunk.max(1),
            ahead: ahead.max(1) as u64,
            pool: Arc::new(Mutex::new(Vec::new())),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let s = shared.clone();
        let helper = std::thread::Builder::new()
            .name("read-ahead".into())
            .spawn(move || s.help())?;
        Ok(ChunkReader {
            shared,
            helper: Some(helper),
            next: 0,
        })
    }

    /// The next chunk: a full one, or less only at the end of the input; `None` at the end.
    /// A read error is returned where it happened, after every chunk before it; the input ends
    /// there.
    pub fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let sh = &*self.shared;
        let steal = matches!(sh.source, Source::File(_));
        let mut since = None;
        let mut st = lock(&sh.state);
        loop {
            if st.end.is_some_and(|e| self.next >= e) {
                return Ok(None);
            }
            if st.slots.front().is_some_and(Option::is_some)
                && let Some(Some(read)) = st.slots.pop_front()
            {
                st.consumed += 1;
                self.next += 1;
                sh.notify(&st);
                return read.map(|b| (!b.is_empty()).then_some(b));
            }
            if steal {
                // A file: read a later chunk here while the helper reads this one, rather
                // than wait (a stream is read by the helper alone).
                drop(st);
                if sh.read_next() {
                    since = None;
                    st = lock(&sh.state);
                    continue;
                }
                st = lock(&sh.state);
                if st.slots.front().is_some_and(Option::is_some) {
                    continue;
                }
            }
            let t = *since.get_or_insert_with(Instant::now);
            st = sh.wait(st, t);
        }
    }

    /// Buffers waiting in the pool for reuse.
    pub fn pooled(&self) -> usize {
        lock(&self.shared.pool).len()
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        st.stop = true;
        self.shared.wake.notify_all();
        drop(st);
        // A file's helper ends within one read; a stream's may wait on a silent pipe, and is
        // left to end with the process.
        if let (Some(h), Source::File(_)) = (self.helper.take(), &self.shared.source) {
            let _ = h.join();
        }
    }
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader")
            .field("chunk", &self.shared.chunk)
            .field("ahead", &self.shared.ahead)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    fn temp_file(data: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("input");
        std::fs::write(&path, data).expect("write");
        let f = File::open(&path).expect("open");
        (dir, f)
    }

    fn read_all(r: &mut ChunkReader) -> Vec<Bytes> {
        let mut chunks = Vec::new();
        while let Some(c) = r.next_chunk().expect("reads") {
            chunks.push(c);
        }
        // The end stays the end.
        assert!(r.next_chunk().expect("reads").is_none());
        chunks
    }

    #[test]
    fn a_file_comes_whole_and_in_order_whoever_reads_each_chunk() {
        let data = pattern(1_000_003);
        // Small chunks and short read-ahead make the two threads interleave their reads.
        for (chunk, ahead) in [
            (4096, 1),
            (4096, 2),
            (1000, 7),
            (65_536, 12),
            (2_000_000, 3),
        ] {
            let (_dir, f) = temp_file(&data);
            let mut r = ChunkReader::file(f, chunk, ahead).expect("starts");
            let chunks = read_all(&mut r);
            assert!(chunks[..chunks.len() - 1].iter().all(|c| c.len() == chunk));
            assert_eq!(chunks.concat(), data, "chunk {chunk}, ahead {ahead}");
        }
    }

    #[test]
    fn an_empty_input_and_one_of_whole_chunks_end_cleanly() {
        let (_dir, f) = temp_file(&[]);
        let mut r = ChunkReader::file(f, 4096, 4).expect("starts");
        assert!(read_all(&mut r).is_empty());
        let data = pattern(3 * 4096);
        let (_dir, f) = temp_file(&data);
        let mut r = ChunkReader::file(f, 4096, 4).expect("starts");
        let lens: Vec<usize> = read_all(&mut r).iter().map(Bytes::len).collect();
        assert_eq!(lens, [4096; 3]);
        let mut r = ChunkReader::stream(&[][..], 4096, 4).expect("starts");
        assert!(read_all(&mut r).is_empty());
    }

    #[test]
    fn buffers_come_back_when_their_last_slice_goes() {
        let data = pattern(10_000);
        // A stream: nothing is read past the short last chunk, so the count is exact.
        let mut r =
            ChunkReader::stream(std::io::Cursor::new(data.clone()), 4096, 2).expect("starts");
        let chunks = read_all(&mut r);
        let lens: Vec<usize> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(lens, [4096, 4096, 1808]);
        assert_eq!(r.pooled(), 0);
        let piece = chunks[1].slice(10..20);
        drop(chunks);
        assert_eq!(r.pooled(), 2, "all but the sliced chunk's buffer");
        assert_eq!(&piece[..], &data[4106..4116]);
        drop(piece);
        assert_eq!(r.pooled(), 3);
    }

    #[test]
    fn the_pool_is_bounded() {
        let data = pattern(200 * 16);
        let (_dir, f) = temp_file(&data);
        let mut r = ChunkReader::file(f, 16, 8).expect("starts");
        let held = read_all(&mut r);
        assert_eq!(held.len(), 200);
        drop(held);
        assert_eq!(r.pooled(), MAX_POOLED);
    }

    #[test]
    fn small_reads_of_a_stream_fill_a_chunk() {
        /// A pipe that gives 100 bytes per read.
        struct Trickle(Vec<u8>);
        impl Read for Trickle {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(100);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0.drain(..n);
                Ok(n)
            }
        }
        let data = pattern(50_000);
        let mut r = ChunkReader::stream(Trickle(data.clone()), 4096, 3).expect("starts");
        let chunks = read_all(&mut r);
        assert_eq!(chunks.len(), 13);
        assert!(chunks[..12].iter().all(|c| c.len() == 4096));
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn a_read_error_comes_after_the_chunks_before_it_and_ends_the_input() {
        /// 10,000 good bytes, then an error.
        struct Breaks(usize);
        impl Read for Breaks {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = self.0.min(out.len());
                out[..n].fill(7);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut r = ChunkReader::stream(Breaks(10_000), 4096, 4).expect("starts");
        assert_eq!(r.next_chunk().expect("first").map(|c| c.len()), Some(4096));
        assert_eq!(r.next_chunk().expect("second").map(|c| c.len()), Some(4096));
        let e = r.next_chunk().expect_err("the chunk holding the error");
        assert_eq!(e.to_string(), "disk on fire");
        assert!(r.next_chunk().expect("after the error").is_none());
    }

    #[test]
    fn a_file_cut_while_being_read_ends_at_a_prefix_of_it() {
        let data = pattern(400 * 4096);
        let (dir, f) = temp_file(&data);
        let mut r = ChunkReader::file(f, 4096, 8).expect("starts");
        let mut got = r.next_chunk().expect("reads").expect("a chunk").to_vec();
        // Another process truncates the file under the reader.
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("input"))
            .expect("open for writing")
            .set_len(10 * 4096 + 100)
            .expect("truncate");
        while let Some(c) = r.next_chunk().expect("reads") {
            got.extend_from_slice(&c);
        }
        // The read-ahead (at most 9 chunks) stayed before the cut, so the input ends exactly
        // there: the chunks before it whole, then the 100 bytes of the cut one.
        assert_eq!(got.len(), 10 * 4096 + 100);
        assert_eq!(got, data[..got.len()]);
    }

    #[test]
    fn dropping_the_reader_early_stops_its_helper() {
        let data = pattern(4 << 20);
        let (_dir, f) = temp_file(&data);
        let mut r = ChunkReader::file(f, 4096, 16).expect("starts");
        assert_eq!(
            r.next_chunk().expect("reads").as_deref(),
            Some(&data[..4096])
        );
        let start = Instant::now();
        // Joins the helper: it must not read the rest of the file first.
        drop(r);
        assert!(start.elapsed() < Duration::from_secs(5));
        // A stream's helper blocked on a silent pipe does not hold the drop up either.
        let (_keep, rx) = std::os::unix::net::UnixStream::pair().expect("pair");
        let r = ChunkReader::stream(rx, 4096, 2).expect("starts");
        std::thread::sleep(Duration::from_millis(20));
        drop(r);
    }
}
