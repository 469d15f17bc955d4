//! Reading a regular file through memory maps, one window at a time, as [`Bytes`].
//!
//! This is the workspace's one module with `unsafe` code (STYLE.md: "any `unsafe` elsewhere
//! sits in one module with its invariants written"). `wmpush remux` reads its input this way
//! because copying a page-cached file out with `read()` was a third of the remux's work
//! (BENCHMARKS.md); a mapped window is handed to the remuxer as [`Bytes`] and its packets are
//! read in place.
//!
//! # The invariant, and what breaks it
//!
//! [`memmap2::Mmap::map`] is `unsafe` because the mapped bytes are shared with the file: if
//! another process changes the file while a window is mapped, the `&[u8]` this module hands
//! out changes under the reader, and if the file is *truncated* below a mapped window, touching
//! the lost pages raises `SIGBUS` and the process dies. Nothing a process can do prevents
//! another process from doing that (advisory locks do not bind it), so the invariant is a
//! documented precondition, as in ripgrep, which maps files by default for the same reason:
//! **the input file is not truncated or rewritten while it is read.** The damage when it is
//! broken stays bounded: the parsers take every byte as untrusted input (changed bytes give a
//! parse error or different media, never memory unsafety in the parser's own logic), and a
//! truncation ends the process instead of producing a wrong file. Callers that cannot promise
//! it read with `read()` instead (`wmpush remux --no-mmap`).
//!
//! Windows are mapped read-only and private, at page-aligned offsets, with `MAP_POPULATE`, so
//! the page tables are filled by the mapping call (on whichever thread makes it) instead of by
//! one fault per 64 KiB while the data is read. A window is unmapped when the last [`Bytes`]
//! referring to it is dropped, so memory stays bounded by the windows in use, whatever the
//! file size.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;

use bytes::Bytes;

/// The default window: large enough that mapping costs nothing measurable (one `mmap` and one
/// `munmap` per 8 MiB), small enough that resident memory stays a few windows.
pub const DEFAULT_WINDOW: usize = 8 << 20;

/// A window is handed out in pieces of at most this size, each with a reference count of its
/// own: two threads working on different pieces (one reading packets, one writing the slices
/// it got earlier) then never update the same counter, which costs a cache-line transfer
/// between cores per slice.
pub const PIECE: usize = 1 << 20;

/// One piece of a mapped window: the owner behind a [`Bytes`]. When the last piece of a
/// window is gone, the map goes to the file's unmapping thread (see [`MappedFile`]).
struct Piece {
    /// `None` only while being dropped.
    map: Option<std::sync::Arc<memmap2::Mmap>>,
    range: core::ops::Range<usize>,
    unmap: std::sync::mpsc::SyncSender<memmap2::Mmap>,
}

impl AsRef<[u8]> for Piece {
    fn as_ref(&self) -> &[u8] {
        self.map
            .as_ref()
            .map_or(&[][..], |m| &m[self.range.clone()])
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        if let Some(map) = self.map.take().and_then(std::sync::Arc::into_inner) {
            // The unmapping thread busy (or gone): unmap here, so maps never pile up.
            let _ = self.unmap.try_send(map);
        }
    }
}

/// Windows waiting for the unmapping thread; more are unmapped by whoever drops them.
const UNMAP_QUEUE: usize = 1;

/// A regular file read as a sequence of memory-mapped windows.
///
/// Yields windows in file order until the end of the file, re-reading the file's size when it
/// reaches it, so a file that grows while it is read (an archive being recorded) is followed
/// to its end as `read()` would; see the module documentation for what must not happen to
/// the file meanwhile.
///
/// Mapping a window (filling its page tables) and unmapping it each cost about as much as
/// reading its packet headers, so both run on threads of their own: a `map` thread maps the
/// next window while the caller reads this one (one window ahead, no more), and an `unmap`
/// thread unmaps windows whose last piece was dropped (by the caller or by whoever it handed
/// pieces to). A remux then packs its work onto two cores instead of stalling one on it. Both
/// threads end when the file and every piece are dropped.
#[derive(Debug)]
pub struct MappedFile {
    /// Windows mapped ahead by the `map` thread (`None` there: the end of the file as it was).
    ahead: Option<std::sync::mpsc::Receiver<io::Result<Option<Vec<Bytes>>>>>,
    thread: Option<std::thread::JoinHandle<Mapper>>,
    /// The mapper, back from its thread once that reached the end of the file (the file may
    /// still grow: later calls map here).
    mapper: Option<Mapper>,
}

/// Maps the windows of a file in order (on the `map` thread, then on the caller's).
#[derive(Debug)]
struct Mapper {
    file: File,
    len: u64,
    next: u64,
    window: usize,
    unmap: std::sync::mpsc::SyncSender<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps `file` (which must be a regular file) in windows of `window` bytes (rounded up to
    /// a multiple of 64 KiB, so that windows start on page boundaries).
    pub fn new(file: File, window: usize) -> io::Result<Self> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only a regular file can be memory-mapped",
            ));
        }
        const ALIGN: usize = 64 * 1024;
        let window = window.max(1).div_ceil(ALIGN) * ALIGN;
        let (unmap, maps) = std::sync::mpsc::sync_channel::<memmap2::Mmap>(UNMAP_QUEUE);
        std::thread::Builder::new()
            .name("unmap".into())
            .spawn(move || maps.into_iter().for_each(drop))?;
        let mut mapper = Mapper {
            file,
            len: meta.len(),
            next: 0,
            window,
            unmap,
        };
        // A rendezvous channel: the thread maps one window ahead and waits for it to be taken.
        let (tx, ahead) = std::sync::mpsc::sync_channel(0);
        let thread = std::thread::Builder::new()
            .name("map".into())
            .spawn(move || {
                loop {
                    let next = mapper.map_next();
                    let last = !matches!(next, Ok(Some(_)));
                    if tx.send(next).is_err() || last {
                        return mapper;
                    }
                }
            })?;
        Ok(MappedFile {
            ahead: Some(ahead),
            thread: Some(thread),
            mapper: None,
        })
    }

    /// The next window, in pieces of at most [`PIECE`] bytes (in order), or `None` at the end
    /// of the file.
    pub fn next_window(&mut self) -> io::Result<Option<Vec<Bytes>>> {
        if let Some(ahead) = &self.ahead {
            match ahead.recv() {
                Ok(Ok(Some(pieces))) => return Ok(Some(pieces)),
                Ok(Err(e)) => return Err(e),
                // The end of the file as the thread saw it: map here from now on.
                Ok(Ok(None)) | Err(_) => {
                    self.ahead = None;
                    self.mapper = self.thread.take().and_then(|t| t.join().ok());
                }
            }
        }
        match &mut self.mapper {
            Some(m) => m.map_next(),
            None => Err(io::Error::other("the mapping thread stopped")),
        }
    }
}

impl Mapper {
    fn map_next(&mut self) -> io::Result<Option<Vec<Bytes>>> {
        if self.next >= self.len {
            // The file may have grown since its size was read.
            self.len = self.file.metadata()?.len();
            if self.next >= self.len {
                return Ok(None);
            }
        }
        let n = usize::try_from(self.len - self.next)
            .unwrap_or(usize::MAX)
            .min(self.window);
        // SAFETY: the map is read-only and private, of a range inside the file's size as just
        // read (memmap2 aligns the offset down to a page and hides the difference). The remaining
        // hazard, the file being truncated or rewritten by another process while the window is
        // mapped, is the precondition written in the module documentation.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(self.next)
                .len(n)
                .populate()
                .map(&self.file)?
        };
        // Read once, front to back: the kernel may read ahead and drop pages behind.
        let _ = map.advise(memmap2::Advice::Sequential);
        self.next += n as u64;
        let map = std::sync::Arc::new(map);
        let pieces = (0..n)
            .step_by(PIECE)
            .map(|at| {
                Bytes::from_owner(Piece {
                    map: Some(map.clone()),
                    range: at..(at + PIECE).min(n),
                    unmap: self.unmap.clone(),
                })
            })
            .collect();
        Ok(Some(pieces))
    }
}

/// Asks the CPU to start loading the 64-byte lines at these offsets of `bytes` into its caches
/// (out-of-range offsets are skipped), without waiting for them. A remux reads only the packet
/// and payload headers of a mapped window, one or two lines every packet: read in turn, each is
/// a full memory latency; prefetched a window ahead, the loads overlap. A no-op on targets
/// other than x86-64.
pub fn prefetch(bytes: &[u8], offsets: impl Iterator<Item = usize>) {
    for at in offsets {
        let Some(line) = bytes.get(at..) else {
            continue;
        };
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `_mm_prefetch` is only a hint: it reads nothing into the program and never
        // faults, and the address is inside `bytes` anyway. SSE, which it needs, is part of
        // the x86-64 baseline.
        unsafe {
            use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = line;
    }
}

impl Iterator for MappedFile {
    type Item = io::Result<Vec<Bytes>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_window().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn windows(data: &[u8], window: usize) -> Vec<Bytes> {
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(data).expect("write");
        let windows = MappedFile::new(f, window)
            .expect("maps")
            .collect::<io::Result<Vec<_>>>()
            .expect("reads");
        // Pieces never exceed PIECE, and only a window's last piece is shorter.
        for w in &windows {
            assert!(w.iter().all(|p| p.len() <= PIECE && !p.is_empty()));
            assert!(w[..w.len() - 1].iter().all(|p| p.len() == PIECE));
        }
        windows.into_iter().map(|w| w.concat().into()).collect()
    }

    #[test]
    fn windows_cover_the_file_in_order() {
        let data: Vec<u8> = (0..(3 * 65_536 + 1234))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let w = windows(&data, 65_536);
        assert_eq!(w.len(), 4);
        assert_eq!(w.concat(), data);
        // A window size that is not a multiple of 64 KiB is rounded up (page alignment).
        let w = windows(&data, 1000);
        assert_eq!(w.len(), 4);
        assert_eq!(w.concat(), data);
    }

    #[test]
    fn prefetch_takes_any_offset() {
        let data = vec![7u8; 10_000];
        // In range, at the end, past the end: hints only, nothing read or changed.
        prefetch(&data, [0, 64, 9_999, 10_000, usize::MAX].into_iter());
        assert!(data.iter().all(|&b| b == 7));
    }

    #[test]
    fn an_empty_file_has_no_window() {
        assert!(windows(&[], DEFAULT_WINDOW).is_empty());
    }

    #[test]
    fn a_window_comes_in_pieces() {
        let data: Vec<u8> = (0..(PIECE * 2 + 77)).map(|i| (i % 253) as u8).collect();
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(&data).expect("write");
        let mut m = MappedFile::new(f, DEFAULT_WINDOW).expect("maps");
        let pieces = m.next_window().expect("reads").expect("a window");
        assert_eq!(
            pieces.iter().map(Bytes::len).collect::<Vec<_>>(),
            [PIECE, PIECE, 77]
        );
        // Each piece outlives the others and the reader.
        drop(m);
        let last = pieces[2].clone();
        drop(pieces);
        assert_eq!(&last[..], &data[2 * PIECE..]);
    }

    #[test]
    fn a_file_that_grows_is_followed_to_its_end() {
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(&[1; 70_000]).expect("write");
        let mut m = MappedFile::new(f.try_clone().expect("clone"), 65_536).expect("maps");
        let len = |w: Option<Vec<Bytes>>| w.map(|w| w.iter().map(Bytes::len).sum::<usize>());
        assert_eq!(len(m.next_window().expect("reads")), Some(65_536));
        assert_eq!(len(m.next_window().expect("reads")), Some(4_464));
        f.write_all(&[2; 10]).expect("grow");
        let tail = m.next_window().expect("reads").expect("the new bytes");
        assert_eq!(tail.concat(), [2; 10]);
        assert!(m.next_window().expect("reads").is_none());
    }

    #[test]
    fn only_regular_files_are_mapped() {
        let dev = File::open("/dev/null").expect("open");
        let e = MappedFile::new(dev, DEFAULT_WINDOW).expect_err("refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
