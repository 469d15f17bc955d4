//! tokio glue shared by the push and network sinks (and reusable by servers): where the
//! sinks' tasks run, and small socket helpers.
//!
//! The [`WriterSink`](crate::sink::WriterSink) methods are synchronous, so a sink that does
//! network IO needs a runtime to run its task on. [`RuntimeHost`] uses the caller's tokio
//! runtime when there is one (the sink is created inside a runtime) and otherwise owns a
//! small runtime of its own (one worker thread), shut down in the background when the host
//! is dropped.

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::error::Error;

/// Where a sink's tasks run: the current tokio runtime, or a private one.
#[derive(Debug)]
pub struct RuntimeHost {
    handle: Handle,
    owned: Option<Runtime>,
}

impl RuntimeHost {
    /// The current runtime if called inside one, else a new private runtime with one worker.
    pub fn current_or_new() -> Result<RuntimeHost, Error> {
        match Handle::try_current() {
            Ok(handle) => Ok(RuntimeHost {
                handle,
                owned: None,
            }),
            Err(_) => RuntimeHost::private(),
        }
    }

    /// A private runtime with one worker thread, whatever the caller runs on.
    pub fn private() -> Result<RuntimeHost, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("push-sink-io")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the sink's tokio runtime", e))?;
        Ok(RuntimeHost {
            handle: rt.handle().clone(),
            owned: Some(rt),
        })
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a task on the runtime.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }
}

impl Drop for RuntimeHost {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.take() {
            // Dropping a runtime inside async context panics; shut down without blocking.
            rt.shutdown_background();
        }
    }
}

/// Reads an HTTP response or request head (up to and including the blank line) from
/// `reader`, keeping any bytes read past it in `buf`. Returns the head's length in `buf`.
/// Fails when the head grows past `limit` bytes, the peer closes, or `timeout` passes.
pub async fn read_head<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
    timeout: Duration,
) -> Result<usize, Error> {
    let work = async {
        let mut scanned = 0usize;
        loop {
            if let Some(end) = find_head_end(buf, scanned) {
                return Ok(end);
            }
            scanned = buf.len().saturating_sub(3);
            if buf.len() > limit {
                return Err(Error::Disconnected(
                    "peer sent an HTTP head larger than the limit",
                ));
            }
            let mut chunk = [0u8; 4096];
            let n = reader
                .read(&mut chunk)
                .await
                .map_err(|e| Error::io("reading an HTTP head", e))?;
            if n == 0 {
                return Err(Error::Disconnected(
                    "peer closed before the end of the HTTP head",
                ));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::Disconnected("timed out waiting for an HTTP head"))?
}

fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| from + p + 4)
}

/// Writes every buffer to `writer`, in order, within `timeout`.
pub async fn write_all_timeout<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bufs: &[&[u8]],
    timeout: Duration,
) -> Result<(), Error> {
    let work = async {
        for b in bufs {
            writer
                .write_all(b)
                .await
                .map_err(|e| Error::io("writing to the peer", e))?;
        }
        Ok(())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| Error::Disconnected("timed out writing to the peer"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_runtime_runs_tasks_and_drops_cleanly() {
        let host = RuntimeHost::current_or_new().expect("runtime");
        let h = host.spawn(async { 21 * 2 });
        let v = host.handle().block_on(h).expect("task ran");
        assert_eq!(v, 42);
    }

    #[tokio::test]
    async fn read_head_keeps_the_rest() {
        let data: &[u8] = b"HTTP/1.1 204 No Content\r\nA: b\r\n\r\n$H..";
        let mut r = data;
        let mut buf = Vec::new();
        let end = read_head(&mut r, &mut buf, 1024, Duration::from_secs(1))
            .await
            .expect("head");
        assert_eq!(&buf[end..], b"$H..");
        let mut short: &[u8] = b"HTTP/1.1 204";
        let mut buf = Vec::new();
        assert!(
            read_head(&mut short, &mut buf, 1024, Duration::from_secs(1))
                .await
                .is_err()
        );
    }
}
