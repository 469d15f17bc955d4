//! [`PushSink`]: the `IWMWriterPushSink` analog. Pushes the writer's stream to a publishing
//! point over MS-WMHTTP (HTTP POST PushSetup + PushStart, `$H`/`$D`/`$E`/`$C` framing).
//!
//! # Semantics (Windows Media Format SDK, `IWMWriterPushSink`)
//!
//! - [`connect`](PushSink::connect)`(url, template_url, auto_destroy)`: PushSetup. The server
//!   creates the publishing point from the template when it does not exist (we send
//!   `Template-URL` and `AutoDestroy`, MS-WMHTTP 2.2.2.1); `auto_destroy` asks the server to
//!   remove it when the session ends. Blocks until the server accepted the session.
//! - [`disconnect`](PushSink::disconnect): drops the TCP connection without `$E(0)`; the
//!   server keeps the session for a while (the SDK says 5 minutes) so a later `connect`
//!   resumes it with the same push-id (MS-WMHTTP 3.2.5.1, resume).
//! - [`end_session`](PushSink::end_session): sends `$E(0)` and closes: the server deletes
//!   the session and honours AutoDestroy (MS-WMHTTP 3.2.5.3).
//! - Dropping the sink closes the connection at once, like `disconnect` without sending
//!   what is still queued.
//! - `connect_async`, `disconnect_async` and `end_session_async` do the same for callers on
//!   a tokio runtime without blocking its worker.
//!
//! # The data path
//!
//! The [`WriterSink`] methods are synchronous and never block on the network: they frame the
//! packet (padding stripped in place, the 4-byte `$D` header written into the headroom of
//! the buffer [`allocate_data_unit`](WriterSink::allocate_data_unit) handed out, so nothing
//! is copied) and put it on a bounded queue that the sink's own tokio task drains.
//!
//! When the network is slower than the stream the queue fills. It is bounded in bytes
//! ([`PushSinkConfig::queue_max_bytes`]) and in stream time
//! ([`PushSinkConfig::queue_max_duration`], by send time). **Drop policy**: when a new packet
//! does not fit in the byte bound, the oldest queued packets that do not begin a key frame
//! are dropped first; only when every queued packet begins a key frame are the oldest of
//! those dropped. When the queue spans more stream time than the time bound, the oldest
//! packets are dropped (only they shorten the span). Headers and end markers are never
//! dropped. Every dropped packet is counted in [`SinkStats::drops`].
//!
//! # Reconnect
//!
//! On a network failure the task reconnects with exponential backoff (bounded delay and
//! attempts, [`ReconnectPolicy`]), and resumes the session by push-id: PushSetup then
//! PushStart with the same `push-id` cookie and **no** `$H` (the server kept the header,
//! MS-WMHTTP 3.2.5.1). If the server no longer knows the push-id, a new session starts with
//! `push-id=0` and `$H` is sent again. Progress is reported on the status stream
//! ([`PushSink::status`]).
//!
//! # Mapping of WriterSink calls (implementation notes §4.1, inferred)
//!
//! - first `on_header` of a session: `$H`; a later one: `$E(1)` then `$C` with the new header.
//! - `on_data_unit`: `$D` with padding stripped.
//! - `on_end_writing`: ends the entry; the next `on_header` continues with `$E(1)`/`$C`, and
//!   `end_session` sends `$E(0)`.

pub mod asf_file;
pub mod asf_packet;
pub mod wire;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, broadcast};

use crate::error::Error;
use crate::sink::{DataUnit, SinkStats, WriterSink};
use crate::transport::{RuntimeHost, read_head, write_all_timeout};
pub use wire::{AuthScheme, Challenge, Credentials};
use wire::{PushUrl, ResponseHead};

/// Why a push sink call failed; mirrors the documented `IWMWriterPushSink` results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// E_INVALIDARG: the URL (or template) is missing or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// NS_E_INVALID_NAME: the host name does not resolve.
    #[error("invalid host name: {0}")]
    InvalidHostName(String),
    /// NS_E_CONNECTION_FAILURE: the server could not be reached or the connection broke.
    #[error("connection failure: {0}")]
    ConnectionFailure(String),
    /// NS_E_NOCONNECTION: there is no connection (never connected, or disconnected).
    #[error("no connection")]
    NoConnection,
    /// The server asked for credentials and the callback gave none, or they were refused.
    #[error("authentication failed (HTTP {status})")]
    AuthenticationFailed {
        /// 401 or 407.
        status: u16,
    },
    /// The server refused with an HTTP error status.
    #[error("refused by server: HTTP {status}")]
    Refused {
        /// The status code.
        status: u16,
    },
    /// The peer is not a Windows Media server (no `Server: Cougar/...` or `Rex/...`,
    /// MS-WMHTTP 3.1.5.1) or broke the protocol.
    #[error("not a Windows Media server: {0}")]
    NotAMediaServer(String),
    /// The call is not allowed now (e.g. `connect` while connected).
    #[error("misuse: {0}")]
    Misuse(&'static str),
}

/// What the sink reports on its status stream (the `IWMStatusCallback` role).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushStatus {
    /// Opening a connection (attempt 1 is the first connect).
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// The server accepted the session; packets flow.
    Connected {
        /// The session's push-id.
        push_id: String,
        /// True when an existing session was resumed (no new `$H`).
        resumed: bool,
    },
    /// The connection broke; the sink waits `delay` and retries.
    Reconnecting {
        /// Attempt number about to be made.
        attempt: u32,
        /// Backoff before it.
        delay: Duration,
        /// What broke.
        error: String,
    },
    /// A failure the sink will not retry (the data path stopped).
    Error(PushError),
    /// `disconnect` closed the connection (the server keeps the session).
    Disconnected,
    /// `end_session` sent `$E(0)`: the session is over.
    Ended,
}

/// Automatic reconnect settings (exponential backoff, bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Reconnect at all (on by default).
    pub enabled: bool,
    /// First delay.
    pub initial_delay: Duration,
    /// Largest delay (the delay doubles up to this).
    pub max_delay: Duration,
    /// Most consecutive failed attempts before giving up.
    pub max_attempts: u32,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_attempts: 10,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `n` (1-based retries).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32
            .checked_shl(n.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX);
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

/// The credentials callback (the `IWMCredentialCallback` role): called with the server's
/// challenge, returns credentials or `None` to give up.
pub type CredentialCallback = Arc<dyn Fn(&Challenge) -> Option<Credentials> + Send + Sync>;

/// Settings of a [`PushSink`].
#[derive(Clone)]
#[non_exhaustive]
pub struct PushSinkConfig {
    /// Reconnect and resume (on by default).
    pub reconnect: ReconnectPolicy,
    /// Most bytes queued for the network.
    pub queue_max_bytes: usize,
    /// Most stream time queued (send time of newest minus oldest queued packet).
    pub queue_max_duration: Duration,
    /// Time allowed to connect, and for each response.
    pub connect_timeout: Duration,
    /// Time a single write may take before the connection counts as broken.
    pub write_timeout: Duration,
    /// Credentials for Digest/Basic challenges.
    pub credentials: Option<CredentialCallback>,
    /// Content-Length declared on each PushStart (MS-WMHTTP 3.1.5.3): 2^31-1 (the default)
    /// streams "forever" on one request; behind a proxy about 60 s of bytes. When a body is
    /// used up the sink fills it exactly with `$F` and starts a new PushStart.
    pub push_start_length: u32,
}

impl std::fmt::Debug for PushSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSinkConfig")
            .field("reconnect", &self.reconnect)
            .field("queue_max_bytes", &self.queue_max_bytes)
            .field("queue_max_duration", &self.queue_max_duration)
            .field("connect_timeout", &self.connect_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("credentials", &self.credentials.is_some())
            .field("push_start_length", &self.push_start_length)
            .finish()
    }
}

impl Default for PushSinkConfig {
    fn default() -> Self {
        PushSinkConfig {
            reconnect: ReconnectPolicy::default(),
            queue_max_bytes: 8 * 1024 * 1024,
            queue_max_duration: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            credentials: None,
            push_start_length: wire::PUSH_START_LENGTH,
        }
    }
}

impl PushSinkConfig {
    /// Sets the credentials callback.
    pub fn credentials(
        mut self,
        f: impl Fn(&Challenge) -> Option<Credentials> + Send + Sync + 'static,
    ) -> Self {
        self.credentials = Some(Arc::new(f));
        self
    }

    /// Sets the reconnect policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Sets the PushStart Content-Length, clamped to at least three maximum-size packets
    /// (MS-WMHTTP 3.1.5.3: "MUST NOT be smaller than 3 times the maximum $D packet") and at
    /// most 2^31-1.
    pub fn push_start_length(mut self, length: u32) -> Self {
        self.push_start_length = length.clamp(MIN_PUSH_START_LENGTH, wire::PUSH_START_LENGTH);
        self
    }

    /// Sets the queue bounds.
    pub fn queue_limits(mut self, max_bytes: usize, max_duration: Duration) -> Self {
        self.queue_max_bytes = max_bytes;
        self.queue_max_duration = max_duration;
        self
    }
}

/// Smallest PushStart Content-Length: three packets of the largest size.
pub const MIN_PUSH_START_LENGTH: u32 = 3 * wire::MAX_PUSH_PACKET as u32;

/// Headroom [`PushSink::allocate_data_unit`] leaves for the `$D` framing header.
pub const PUSH_HEADROOM: usize = 4;

#[derive(Debug, Clone)]
enum Item {
    /// An ASF header: `$H` at the start of a session, `$E(1)` + `$C` later.
    Header(Bytes),
    /// A framed `$D` packet.
    Packet {
        framed: Bytes,
        send_time_ms: u32,
        key: bool,
        /// Packet length before padding was stripped (what `SinkStats::bytes` counts).
        original_len: usize,
    },
    /// `on_end_writing`: the entry ended.
    EndEntry,
    /// `end_session`: `$E(0)` and close.
    EndSession,
    /// `disconnect`: close without `$E`.
    Disconnect,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    bytes: usize,
    packets: usize,
    /// Packets taken by the network task and not yet written (0 or 1).
    in_flight: usize,
}

#[derive(Debug, Default)]
struct Counters {
    headers: u64,
    packets: u64,
    bytes: u64,
    drops: u64,
    reconnects: u64,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    notify: Notify,
    counters: Mutex<Counters>,
    status: broadcast::Sender<PushStatus>,
    /// The last header the task handled, kept across connects (resent for a new session).
    header: Mutex<Option<Bytes>>,
    /// Packet buffers to reuse in `allocate_data_unit` (at most [`POOL_BUFFERS`]).
    pool: Mutex<Vec<BytesMut>>,
}

/// Most buffers kept for reuse by a push sink.
const POOL_BUFFERS: usize = 64;

impl Shared {
    /// Takes a written packet's buffer back for reuse when nothing else holds it.
    fn recycle(&self, framed: Bytes) {
        if let Ok(b) = framed.try_into_mut() {
            let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < POOL_BUFFERS {
                pool.push(b);
            }
        }
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn counters(&self) -> MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn report(&self, s: PushStatus) {
        let _ = self.status.send(s);
    }
    fn push(&self, item: Item) {
        let mut q = self.queue();
        if let Item::Packet { framed, .. } = &item {
            q.bytes += framed.len();
            q.packets += 1;
        }
        q.items.push_back(item);
        drop(q);
        self.notify.notify_one();
    }
    /// Queues a header or end-of-entry marker. Markers are never dropped, so to keep the
    /// queue bounded while nothing drains it, a header replaces a header queued right before
    /// it with no packet between (the server would only see the last one matter), and an
    /// end-of-entry right after another is dropped.
    fn push_marker(&self, item: Item) {
        let mut q = self.queue();
        match (q.items.back(), &item) {
            (Some(Item::Header(_)), Item::Header(_)) => {
                q.items.pop_back();
            }
            // A header after [header, end-of-entry] supersedes both.
            (Some(Item::EndEntry), Item::Header(_))
                if matches!(q.items.iter().rev().nth(1), Some(Item::Header(_))) =>
            {
                q.items.pop_back();
                q.items.pop_back();
            }
            (Some(Item::EndEntry), Item::EndEntry) => return,
            _ => {}
        }
        q.items.push_back(item);
        drop(q);
        self.notify.notify_one();
    }

    fn pop(&self) -> Option<Item> {
        let mut q = self.queue();
        let item = q.items.pop_front()?;
        if let Item::Packet { framed, .. } = &item {
            q.bytes -= framed.len();
            q.packets -= 1;
            q.in_flight += 1;
        }
        Some(item)
    }
    fn unpop(&self, item: Item) {
        let mut q = self.queue();
        if let Item::Packet { framed, .. } = &item {
            q.bytes += framed.len();
            q.packets += 1;
            q.in_flight = q.in_flight.saturating_sub(1);
        }
        q.items.push_front(item);
    }
    /// The packet in flight was written (`Some(original length)`) or dropped (`None`).
    /// Lock order everywhere: queue, then counters (so stats add up at every instant).
    fn settle(&self, sent: Option<usize>) {
        let mut q = self.queue();
        q.in_flight = q.in_flight.saturating_sub(1);
        let mut c = self.counters();
        match sent {
            Some(len) => {
                c.packets += 1;
                c.bytes += len as u64;
            }
            None => c.drops += 1,
        }
    }
}

/// The session state the sink keeps between connections.
#[derive(Debug, Clone)]
struct Session {
    url: PushUrl,
    template: Option<String>,
    auto_destroy: bool,
    push_id: Option<String>,
}

/// Pushes the writer's stream to a publishing point. See the [module docs](self).
pub struct PushSink {
    config: PushSinkConfig,
    runtime: RuntimeHost,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<TaskEnd>>,
    session: Arc<Mutex<Option<Session>>>,
    connected: bool,
    ended: bool,
    name: String,
}

impl std::fmt::Debug for PushSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSink")
            .field("name", &self.name)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum TaskEnd {
    Ended,
    Disconnected,
    Failed(PushError),
}

impl PushSink {
    /// A sink that is not connected yet. It runs its network task on a private tokio
    /// runtime (one worker), so its methods may be called from any thread, async or not.
    pub fn new(config: PushSinkConfig) -> Result<PushSink, Error> {
        let (status, _) = broadcast::channel(256);
        Ok(PushSink {
            config,
            runtime: RuntimeHost::private()?,
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                notify: Notify::new(),
                counters: Mutex::new(Counters::default()),
                status,
                header: Mutex::new(None),
                pool: Mutex::new(Vec::new()),
            }),
            task: None,
            session: Arc::new(Mutex::new(None)),
            connected: false,
            ended: false,
            name: String::from("push sink (not connected)"),
        })
    }

    /// The status stream: connecting, connected, reconnecting, error, ended. Each call
    /// gives a new receiver that sees events from now on (a slow receiver skips old ones).
    pub fn status(&self) -> broadcast::Receiver<PushStatus> {
        self.shared.status.subscribe()
    }

    /// The session's push-id once the server gave one.
    pub fn push_id(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|s| s.push_id.clone())
    }

    /// True between a successful `connect` and `disconnect`/`end_session`/a fatal error.
    pub fn is_connected(&self) -> bool {
        self.connected && self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Connects to the publishing point at `url` (`http://host[:port]/path`) with a
    /// PushSetup, creating it from `template_url` if the server does not have it, removing
    /// it at the end of the session if `auto_destroy` (`IWMWriterPushSink::Connect`).
    ///
    /// Blocks until the server accepted the session (or refused it). After a
    /// [`disconnect`](PushSink::disconnect), connecting to the same URL resumes the session.
    pub fn connect(
        &mut self,
        url: &str,
        template_url: Option<&str>,
        auto_destroy: bool,
    ) -> Result<(), PushError> {
        let (rx, limit) = self.begin_connect(url, template_url, auto_destroy)?;
        let waited = rx.recv_timeout(limit);
        self.end_connect(url, waited)
    }

    /// [`connect`](PushSink::connect) for async callers: waits without blocking the
    /// runtime's worker (must be awaited on a tokio runtime).
    pub async fn connect_async(
        &mut self,
        url: &str,
        template_url: Option<&str>,
        auto_destroy: bool,
    ) -> Result<(), PushError> {
        let (rx, limit) = self.begin_connect(url, template_url, auto_destroy)?;
        let waited = wait_off_runtime(rx, limit).await;
        self.end_connect(url, waited)
    }

    /// Validates, stores the session and starts the network task; the receiver reports the
    /// outcome of the first PushSetup.
    fn begin_connect(
        &mut self,
        url: &str,
        template_url: Option<&str>,
        auto_destroy: bool,
    ) -> Result<(Receiver<Result<(), PushError>>, Duration), PushError> {
        if self.is_connected() {
            return Err(PushError::Misuse("connect while connected"));
        }
        if url.is_empty() {
            return Err(PushError::InvalidArgument("the URL is empty"));
        }
        let parsed = PushUrl::parse(url).map_err(PushError::InvalidArgument)?;
        if let Some(t) = template_url {
            wire::template_directive(t).map_err(PushError::InvalidArgument)?;
        }
        // Reuse the push-id when reconnecting to the same publishing point after disconnect.
        let push_id = {
            let guard = self.session.lock().unwrap_or_else(|p| p.into_inner());
            guard
                .as_ref()
                .filter(|s| s.url == parsed && !self.ended)
                .and_then(|s| s.push_id.clone())
        };
        let resumed = push_id.is_some();
        let session = Session {
            url: parsed.clone(),
            template: template_url.map(str::to_owned),
            auto_destroy,
            push_id,
        };
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(session);
        // Drop what is left of an earlier run's queue markers (not packets).
        self.shared
            .queue()
            .items
            .retain(|i| !matches!(i, Item::Disconnect | Item::EndSession));
        let (tx, rx) = std::sync::mpsc::channel();
        let task = SessionTask {
            config: self.config.clone(),
            shared: self.shared.clone(),
            session: self.session.clone(),
            header: self
                .shared
                .header
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            header_sent: resumed,
            entry_ended: false,
            auth: None,
            nc: 0,
            url: None,
        };
        self.task = Some(self.runtime.spawn(task.run(tx)));
        Ok((rx, self.config.connect_timeout * 4 + Duration::from_secs(1)))
    }

    fn end_connect(
        &mut self,
        url: &str,
        waited: Result<Result<(), PushError>, RecvTimeoutError>,
    ) -> Result<(), PushError> {
        match waited {
            Ok(Ok(())) => {
                self.connected = true;
                self.ended = false;
                self.name = format!("push sink {url}");
                Ok(())
            }
            Ok(Err(e)) => {
                self.abort_task();
                Err(e)
            }
            Err(_) => {
                self.abort_task();
                Err(PushError::ConnectionFailure(
                    "timed out waiting for the server".into(),
                ))
            }
        }
    }

    fn abort_task(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.connected = false;
    }

    /// A receiver for the network task's end (`None` when there is no task).
    fn task_end(&mut self) -> Option<Receiver<Option<TaskEnd>>> {
        let task = self.task.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(task.await.ok());
        });
        Some(rx)
    }

    /// Drops the connection without ending the session (`IWMWriterPushSink::Disconnect`):
    /// queued packets are sent first (bounded by the write timeout), then the TCP connection
    /// closes without `$E(0)`. The server keeps the session for a while; `connect` resumes it.
    pub fn disconnect(&mut self) -> Result<(), PushError> {
        let rx = self.begin_stop(Item::Disconnect)?;
        let end = rx
            .recv_timeout(self.config.write_timeout * 2)
            .ok()
            .flatten();
        self.end_disconnect(end)
    }

    /// [`disconnect`](PushSink::disconnect) for async callers (on a tokio runtime).
    pub async fn disconnect_async(&mut self) -> Result<(), PushError> {
        let rx = self.begin_stop(Item::Disconnect)?;
        let end = wait_off_runtime(rx, self.config.write_timeout * 2)
            .await
            .ok()
            .flatten();
        self.end_disconnect(end)
    }

    /// Ends the session (`IWMWriterPushSink::EndSession`): sends what is queued, then `$E(0)`,
    /// and closes; the server deletes the session and applies AutoDestroy.
    /// `NoConnection` when the sink never connected.
    pub fn end_session(&mut self) -> Result<(), PushError> {
        let rx = self.begin_stop(Item::EndSession)?;
        let end = rx.recv_timeout(self.end_limit()).ok().flatten();
        self.end_end_session(end)
    }

    /// [`end_session`](PushSink::end_session) for async callers (on a tokio runtime).
    pub async fn end_session_async(&mut self) -> Result<(), PushError> {
        let rx = self.begin_stop(Item::EndSession)?;
        let end = wait_off_runtime(rx, self.end_limit()).await.ok().flatten();
        self.end_end_session(end)
    }

    fn end_limit(&self) -> Duration {
        self.config.write_timeout * 2 + Duration::from_secs(1)
    }

    fn begin_stop(&mut self, marker: Item) -> Result<Receiver<Option<TaskEnd>>, PushError> {
        if self.task.is_none() {
            return Err(PushError::NoConnection);
        }
        self.shared.push(marker);
        self.task_end().ok_or(PushError::NoConnection)
    }

    fn end_disconnect(&mut self, end: Option<TaskEnd>) -> Result<(), PushError> {
        self.connected = false;
        self.shared.report(PushStatus::Disconnected);
        match end {
            Some(TaskEnd::Failed(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn end_end_session(&mut self, end: Option<TaskEnd>) -> Result<(), PushError> {
        self.connected = false;
        self.ended = true;
        match end {
            Some(TaskEnd::Ended) => Ok(()),
            Some(TaskEnd::Failed(e)) => Err(e),
            Some(TaskEnd::Disconnected) => Err(PushError::NoConnection),
            None => Err(PushError::ConnectionFailure(
                "timed out sending the end of the session".into(),
            )),
        }
    }

    /// Bytes queued for the network now.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queue().bytes
    }

    /// Queued packets that begin a key frame (to observe the drop policy).
    pub fn queued_key_frames(&self) -> usize {
        self.shared
            .queue()
            .items
            .iter()
            .filter(|i| matches!(i, Item::Packet { key: true, .. }))
            .count()
    }

    /// Puts a framed packet on the queue, applying the drop policy.
    fn enqueue_packet(&self, framed: Bytes, send_time_ms: u32, key: bool, original_len: usize) {
        let mut q = self.shared.queue();
        let max_bytes = self.config.queue_max_bytes;
        let max_ms = u32::try_from(self.config.queue_max_duration.as_millis()).unwrap_or(u32::MAX);
        let mut dropped = 0u64;
        loop {
            let oldest_time = q.items.iter().find_map(|i| match i {
                Item::Packet { send_time_ms, .. } => Some(*send_time_ms),
                _ => None,
            });
            let over_time = oldest_time.is_some_and(|t| send_time_ms.saturating_sub(t) > max_ms);
            let over_bytes = q.bytes + framed.len() > max_bytes;
            if !(over_time || over_bytes) || q.packets == 0 {
                break;
            }
            // Policy: over the byte bound, the oldest packet that begins no key frame, else
            // the oldest packet. Over the time bound only the oldest packet helps (the span
            // is measured from it), key frame or not.
            let oldest = q
                .items
                .iter()
                .position(|i| matches!(i, Item::Packet { .. }));
            let victim = if over_time {
                oldest
            } else {
                q.items
                    .iter()
                    .position(|i| matches!(i, Item::Packet { key: false, .. }))
                    .or(oldest)
            };
            let Some(at) = victim else { break };
            if let Some(Item::Packet { framed: f, .. }) = q.items.remove(at) {
                q.bytes -= f.len();
                q.packets -= 1;
                dropped += 1;
            }
        }
        if framed.len() > max_bytes {
            // A single packet larger than the whole queue: drop it.
            dropped += 1;
        } else {
            q.bytes += framed.len();
            q.packets += 1;
            q.items.push_back(Item::Packet {
                framed,
                send_time_ms,
                key,
                original_len,
            });
        }
        if dropped > 0 {
            // Still holding the queue lock (order: queue, then counters) so stats add up.
            self.shared.counters().drops += dropped;
        }
        drop(q);
        self.shared.notify.notify_one();
    }
}

impl Drop for PushSink {
    fn drop(&mut self) {
        self.abort_task();
    }
}

impl WriterSink for PushSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        // MS-WMHTTP 2.2.3.2: $H payload at most 65,531 bytes; $C at most 65,527.
        if header.len() > wire::MAX_PUSH_PACKET - 8 {
            return Err(Error::Unsupported(
                "ASF header larger than 65,527 bytes cannot be pushed (MS-WMHTTP 2.2.3.2)",
            ));
        }
        self.shared.counters().headers += 1;
        self.shared.push_marker(Item::Header(header.clone()));
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        true
    }

    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        // Pooled: buffers come back from the network task once their packet is written.
        let mut b = self
            .shared
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        b.clear();
        b.reserve(PUSH_HEADROOM + packet_size);
        b.resize(PUSH_HEADROOM, 0);
        b
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        let info = unit.info();
        let len = unit.len();
        // Zero copy when the unit came from allocate_data_unit: the header goes into the
        // headroom, the padding is cut in place.
        let framed = unit.into_framed(&wire::frame_header(b'D', 0));
        let mut framed = framed
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        let mut packet = framed.split_off(PUSH_HEADROOM);
        // MS-WMHTTP 2.2.3.3: padding SHOULD be stripped and Padding Length set to 0. A packet
        // we cannot parse is sent as is (the server re-pads or rejects it, not us).
        let _ = asf_packet::strip_padding(&mut packet);
        framed.unsplit(packet);
        let payload = framed.len() - PUSH_HEADROOM;
        let Ok(plen) = u16::try_from(payload).map(|p| p.min(u16::MAX - 3)) else {
            return Err(Error::Unsupported(
                "data packet larger than 65,531 bytes cannot be pushed (MS-WMHTTP 2.2.3.3)",
            ));
        };
        if payload > wire::MAX_PUSH_PACKET - PUSH_HEADROOM {
            return Err(Error::Unsupported(
                "data packet larger than 65,531 bytes cannot be pushed (MS-WMHTTP 2.2.3.3)",
            ));
        }
        framed[2..4].copy_from_slice(&plen.to_le_bytes());
        self.enqueue_packet(framed.freeze(), info.send_time_ms, info.key_frame, len);
        Ok(())
    }

    fn on_end_writing(&mut self) -> Result<(), Error> {
        self.shared.push_marker(Item::EndEntry);
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        let q = self.shared.queue();
        let c = self.shared.counters();
        let mut s = SinkStats::new();
        s.headers = c.headers;
        s.packets = c.packets;
        s.bytes = c.bytes;
        s.drops = c.drops;
        s.reconnects = c.reconnects;
        s.queue_depth = (q.packets + q.in_flight) as u64;
        s
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// A push sink shared between a writer and the application: the writer holds one clone as
/// its sink (`Writer::add_sink(Box::new(shared.clone()))`), the application keeps another to
/// call [`PushSink::end_session`] after `end_writing` (the SDK's order: AddSink, Connect,
/// write, RemoveSink, EndSession).
pub type SharedPushSink = Arc<Mutex<PushSink>>;

impl PushSink {
    /// Wraps the sink for sharing (see [`SharedPushSink`]).
    pub fn into_shared(self) -> SharedPushSink {
        Arc::new(Mutex::new(self))
    }
}

fn lock_sink(s: &SharedPushSink) -> MutexGuard<'_, PushSink> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl WriterSink for SharedPushSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        lock_sink(self).on_header(header)
    }
    fn is_real_time(&self) -> bool {
        true
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        lock_sink(self).allocate_data_unit(packet_size)
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        lock_sink(self).on_data_unit(unit)
    }
    fn on_end_writing(&mut self) -> Result<(), Error> {
        lock_sink(self).on_end_writing()
    }
    fn stats(&self) -> SinkStats {
        lock_sink(self).stats()
    }
    fn name(&self) -> String {
        lock_sink(self).name()
    }
}

/// Waits on a std channel from async code without blocking the runtime's worker thread.
async fn wait_off_runtime<T: Send + 'static>(
    rx: Receiver<T>,
    limit: Duration,
) -> Result<T, RecvTimeoutError> {
    tokio::task::spawn_blocking(move || rx.recv_timeout(limit))
        .await
        .unwrap_or(Err(RecvTimeoutError::Disconnected))
}

/// The sink's network task: one per `connect`.
struct SessionTask {
    config: PushSinkConfig,
    shared: Arc<Shared>,
    session: Arc<Mutex<Option<Session>>>,
    /// The current header (sent again as `$H` only for a new session).
    header: Option<Bytes>,
    /// True once the server has the header of this session.
    header_sent: bool,
    /// `on_end_writing` came; a following header goes as `$E(1)` + `$C`.
    entry_ended: bool,
    /// The challenge answered on this connection and its credentials (Digest nonce count
    /// in `nc`), reused for a renewed PushStart.
    auth: Option<(Challenge, Credentials)>,
    nc: u32,
    /// The URL the session ended up on (after redirects).
    url: Option<PushUrl>,
}

/// What the server sending bytes (or closing) in the middle of a PushStart body means:
/// EOF or a reset is a broken connection (retry); an HTTP error status is a refusal.
fn server_spoke(read: std::io::Result<usize>, buf: &[u8]) -> Stop {
    match read {
        Ok(0) => Stop::Broken(PushError::ConnectionFailure(
            "server closed the connection".into(),
        )),
        Err(e) => Stop::Broken(PushError::ConnectionFailure(e.to_string())),
        Ok(n) => match ResponseHead::parse(&buf[..n.min(buf.len())]) {
            Ok(h) if h.status >= 400 => Stop::Refused(PushError::Refused { status: h.status }),
            Ok(_) => Stop::Broken(PushError::ConnectionFailure(
                "server answered the PushStart early".into(),
            )),
            Err(_) => Stop::Broken(PushError::ConnectionFailure(
                "server sent unexpected bytes".into(),
            )),
        },
    }
}

/// Why a connection stopped.
enum Stop {
    /// Finished on purpose.
    Done(TaskEnd),
    /// Broke; may retry.
    Broken(PushError),
    /// The server refused mid-stream (e.g. an administrator ended the push); no retry.
    Refused(PushError),
}

impl SessionTask {
    fn session(&self) -> Session {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .expect("a session task only runs after connect stored the session")
    }

    fn set_push_id(&self, id: Option<String>) {
        if let Some(s) = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            s.push_id = id;
        }
    }

    async fn run(mut self, first: std::sync::mpsc::Sender<Result<(), PushError>>) -> TaskEnd {
        let mut first = Some(first);
        let mut attempt = 1u32;
        let mut failures = 0u32;
        loop {
            self.shared.report(PushStatus::Connecting { attempt });
            let result = match self.establish().await {
                Ok((stream, resumed)) => {
                    failures = 0;
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Ok(()));
                    }
                    let push_id = self.session().push_id.unwrap_or_default();
                    self.shared
                        .report(PushStatus::Connected { push_id, resumed });
                    self.stream(stream).await
                }
                Err(e) => Stop::Broken(e),
            };
            match result {
                Stop::Refused(e) => {
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(e.clone()));
                    }
                    self.shared.report(PushStatus::Error(e.clone()));
                    return TaskEnd::Failed(e);
                }
                Stop::Done(end) => {
                    if matches!(end, TaskEnd::Ended) {
                        self.set_push_id(None);
                        self.shared.report(PushStatus::Ended);
                    }
                    return end;
                }
                Stop::Broken(e) => {
                    // The first connect reports its error to the caller, no retry.
                    if let Some(tx) = first.take() {
                        let _ = tx.send(Err(e.clone()));
                        return TaskEnd::Failed(e);
                    }
                    let fatal = matches!(
                        e,
                        PushError::AuthenticationFailed { .. }
                            | PushError::InvalidArgument(_)
                            | PushError::NotAMediaServer(_)
                    );
                    failures += 1;
                    if fatal
                        || !self.config.reconnect.enabled
                        || failures > self.config.reconnect.max_attempts
                    {
                        self.shared.report(PushStatus::Error(e.clone()));
                        return TaskEnd::Failed(e);
                    }
                    attempt += 1;
                    let delay = self.config.reconnect.delay(failures);
                    self.shared.report(PushStatus::Reconnecting {
                        attempt,
                        delay,
                        error: e.to_string(),
                    });
                    self.shared.counters().reconnects += 1;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn open(&self, url: &PushUrl) -> Result<TcpStream, PushError> {
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            self.config.connect_timeout,
            tokio::net::lookup_host((url.host.as_str(), url.port)),
        )
        .await
        .map_err(|_| PushError::InvalidHostName(format!("{}: lookup timed out", url.host)))?
        .map_err(|e| PushError::InvalidHostName(format!("{}: {e}", url.host)))?
        .collect();
        if addrs.is_empty() {
            return Err(PushError::InvalidHostName(url.host.clone()));
        }
        let mut last = String::new();
        for a in addrs {
            match tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(a)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("{a}: {e}"),
                Err(_) => last = format!("{a}: connect timed out"),
            }
        }
        Err(PushError::ConnectionFailure(last))
    }

    async fn exchange(
        &self,
        stream: &mut TcpStream,
        request: &[u8],
    ) -> Result<ResponseHead, PushError> {
        write_all_timeout(stream, &[request], self.config.write_timeout)
            .await
            .map_err(|e| PushError::ConnectionFailure(e.to_string()))?;
        let mut buf = Vec::new();
        let end = read_head(stream, &mut buf, 16 * 1024, self.config.connect_timeout)
            .await
            .map_err(|e| PushError::ConnectionFailure(e.to_string()))?;
        let head =
            ResponseHead::parse(&buf[..end]).map_err(|w| PushError::NotAMediaServer(w.into()))?;
        // Read a declared body (a 200 may carry one; 204 carries none) so the socket stays usable.
        let len: usize = head
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            .min(64 * 1024);
        let mut have = buf.len() - end;
        while have < len {
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(self.config.connect_timeout, stream.read(&mut chunk))
                .await
                .map_err(|_| PushError::ConnectionFailure("response body timed out".into()))?
                .map_err(|e| PushError::ConnectionFailure(e.to_string()))?;
            if n == 0 {
                break;
            }
            have += n;
        }
        Ok(head)
    }

    /// The `Authorization` value for the next request, when a challenge was answered.
    fn authorization(&mut self, path: &str) -> Option<String> {
        let (challenge, creds) = self.auth.as_ref()?;
        self.nc += 1;
        Some(challenge.authorization(
            creds,
            path,
            self.nc,
            &format!("{:016x}", rand::random::<u64>()),
        ))
    }

    /// The PushStart body is used up (MS-WMHTTP 3.1.5.3): fill exactly what is left with
    /// `$F` (payloads of at most 65,531 bytes), wait for the server's response, and send
    /// the next PushStart head on the same connection.
    async fn renew_push_start(
        &mut self,
        rd: &mut tokio::net::tcp::OwnedReadHalf,
        wr: &mut tokio::net::tcp::OwnedWriteHalf,
        mut remaining: u64,
    ) -> Result<(), Stop> {
        let broken = |e: Error| Stop::Broken(PushError::ConnectionFailure(e.to_string()));
        let zeros = [0u8; 4096];
        while remaining > 0 {
            // Never leave 1-3 bytes: a $F needs its 4-byte header.
            let mut n = remaining.min(wire::MAX_PUSH_PACKET as u64);
            if remaining - n > 0 && remaining - n < 4 {
                n = remaining - 4;
            }
            let payload = u16::try_from(n - 4).unwrap_or(u16::MAX);
            write_all_timeout(
                wr,
                &[&wire::frame_header(b'F', payload)],
                self.config.write_timeout,
            )
            .await
            .map_err(broken)?;
            let mut left = usize::from(payload);
            while left > 0 {
                let k = left.min(zeros.len());
                write_all_timeout(wr, &[&zeros[..k]], self.config.write_timeout)
                    .await
                    .map_err(broken)?;
                left -= k;
            }
            remaining -= n;
        }
        let mut buf = Vec::new();
        let end = read_head(rd, &mut buf, 16 * 1024, self.config.connect_timeout)
            .await
            .map_err(broken)?;
        let head = ResponseHead::parse(&buf[..end])
            .map_err(|w| Stop::Broken(PushError::NotAMediaServer(w.into())))?;
        if head.status >= 400 {
            return Err(Stop::Refused(PushError::Refused {
                status: head.status,
            }));
        }
        if head
            .get("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            // A new connection resumes the session (PushSetup with the push-id).
            return Err(Stop::Broken(PushError::ConnectionFailure(
                "server closed after the PushStart body".into(),
            )));
        }
        let url = self.url.clone().unwrap_or_else(|| self.session().url);
        let push_id = self.session().push_id.unwrap_or_else(|| "0".into());
        let authorization = self.authorization(&url.path);
        let start = wire::push_start(
            &url,
            &push_id,
            self.config.push_start_length,
            authorization.as_deref(),
        );
        write_all_timeout(wr, &[&start], self.config.write_timeout)
            .await
            .map_err(broken)
    }

    /// PushSetup (with authentication and resume), then the PushStart head. Returns the
    /// socket ready for the body and whether the session was resumed.
    async fn establish(&mut self) -> Result<(TcpStream, bool), PushError> {
        let session = self.session();
        let mut url = session.url.clone();
        let mut redirects = 0u32;
        let mut push_id = session.push_id.clone().unwrap_or_else(|| "0".into());
        self.auth = None;
        self.nc = 0;
        let mut tried_new_session = false;
        let mut tries = 0;
        loop {
            tries += 1;
            if tries > 6 {
                return Err(PushError::NotAMediaServer(
                    "too many PushSetup rounds".into(),
                ));
            }
            let authorization = self.authorization(&url.path);
            let req = wire::push_setup(
                &url,
                &push_id,
                session.template.as_deref(),
                session.auto_destroy,
                authorization.as_deref(),
            )
            .map_err(PushError::InvalidArgument)?;
            let mut stream = self.open(&url).await?;
            let head = self.exchange(&mut stream, &req).await?;
            match head.status {
                200 | 204 => {
                    // MS-WMHTTP 3.1.5.1: the client fails unless Server is Cougar or Rex.
                    if !head.is_media_server() {
                        return Err(PushError::NotAMediaServer(
                            head.get("server")
                                .unwrap_or("(no Server header)")
                                .to_owned(),
                        ));
                    }
                    let new_id = head.push_id().unwrap_or_else(|| push_id.clone());
                    let resumed = push_id != "0" && new_id == push_id;
                    if !resumed {
                        // A new session: the server needs $H again.
                        self.header_sent = false;
                    }
                    self.set_push_id(Some(new_id.clone()));
                    // PushStart on the same connection (MS-WMHTTP 3.1.5.3); a fresh one if the
                    // server closed it.
                    let authorization = self.authorization(&url.path);
                    let start = wire::push_start(
                        &url,
                        &new_id,
                        self.config.push_start_length,
                        authorization.as_deref(),
                    );
                    self.url = Some(url.clone());
                    if head
                        .get("connection")
                        .is_some_and(|c| c.eq_ignore_ascii_case("close"))
                    {
                        stream = self.open(&url).await?;
                    }
                    write_all_timeout(&mut stream, &[&start], self.config.write_timeout)
                        .await
                        .map_err(|e| PushError::ConnectionFailure(e.to_string()))?;
                    return Ok((stream, resumed));
                }
                401 | 407 => {
                    if let Some(id) = head.push_id() {
                        push_id = id;
                    }
                    if self.auth.is_some() {
                        return Err(PushError::AuthenticationFailed {
                            status: head.status,
                        });
                    }
                    let challenge =
                        Challenge::from_response(&head).ok_or(PushError::AuthenticationFailed {
                            status: head.status,
                        })?;
                    let creds = self
                        .config
                        .credentials
                        .as_ref()
                        .and_then(|cb| cb(&challenge))
                        .ok_or(PushError::AuthenticationFailed {
                            status: head.status,
                        })?;
                    self.auth = Some((challenge, creds));
                    self.nc = 0;
                }
                300..=303 | 307 | 308 => {
                    // MS-WMHTTP 3.1.5.1: replace the URL with Location and start over.
                    redirects += 1;
                    let location = head.get("location").unwrap_or("");
                    let next = if location.starts_with('/') {
                        let mut u = url.clone();
                        u.path = location.to_owned();
                        Ok(u)
                    } else {
                        PushUrl::parse(location)
                    };
                    let Ok(next) = next else {
                        return Err(PushError::NotAMediaServer(format!(
                            "redirect to an unusable Location {location:?}"
                        )));
                    };
                    if redirects > 5 {
                        return Err(PushError::Refused {
                            status: head.status,
                        });
                    }
                    url = next;
                    if let Some(s) = self
                        .session
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_mut()
                    {
                        s.url = url.clone();
                    }
                    tries = 0;
                }
                s if push_id != "0" && !tried_new_session && (400..500).contains(&s) => {
                    // MS-WMHTTP 3.2.5.1: an unknown push-id is an error: start a new session.
                    tried_new_session = true;
                    push_id = "0".into();
                    self.set_push_id(None);
                }
                s => return Err(PushError::Refused { status: s }),
            }
        }
    }

    /// Sends queued items until the queue says stop or the connection breaks.
    async fn stream(&mut self, stream: TcpStream) -> Stop {
        let (mut rd, mut wr) = stream.into_split();
        let mut remaining: u64 = u64::from(self.config.push_start_length);
        if !self.header_sent
            && let Some(h) = self.header.clone()
        {
            // A new session after a reconnect: the server needs the header again.
            let len = u16::try_from(h.len()).unwrap_or(u16::MAX);
            let fh = wire::frame_header(b'H', len);
            if let Err(e) = write_all_timeout(&mut wr, &[&fh, &h], self.config.write_timeout).await
            {
                return Stop::Broken(PushError::ConnectionFailure(e.to_string()));
            }
            remaining -= 4 + h.len() as u64;
            self.header_sent = true;
            self.entry_ended = false;
        }
        let mut probe = [0u8; 512];
        loop {
            let item = loop {
                let notified = self.shared.notify.notified();
                if let Some(i) = self.shared.pop() {
                    break i;
                }
                // While idle, watch the socket: the server may answer early (error) or close.
                tokio::select! {
                    _ = notified => {}
                    r = rd.read(&mut probe) => return server_spoke(r, &probe),
                }
            };
            let mut bufs: Vec<Bytes> = Vec::with_capacity(3);
            let mut done = None;
            match &item {
                Item::Header(h) => {
                    let changed = self.header.as_ref() != Some(h);
                    self.header = Some(h.clone());
                    *self.shared.header.lock().unwrap_or_else(|p| p.into_inner()) = Some(h.clone());
                    if !self.header_sent {
                        // MS-WMHTTP 2.2.3.2: $H, first in the first PushStart of a session.
                        let len = u16::try_from(h.len()).unwrap_or(u16::MAX);
                        bufs.push(Bytes::copy_from_slice(&wire::frame_header(b'H', len)));
                        bufs.push(h.clone());
                    } else if changed || self.entry_ended {
                        // MS-WMHTTP 2.2.3.4/2.2.3.5: $E(1) then $C(0) + the new header.
                        bufs.push(Bytes::copy_from_slice(&wire::end_packet(1)));
                        let len = u16::try_from(h.len() + 4).unwrap_or(u16::MAX);
                        let mut c = BytesMut::with_capacity(8);
                        c.extend_from_slice(&wire::frame_header(b'C', len));
                        c.extend_from_slice(&0u32.to_le_bytes());
                        bufs.push(c.freeze());
                        bufs.push(h.clone());
                    }
                }
                Item::Packet { framed, .. } => {
                    if self.header_sent {
                        bufs.push(framed.clone());
                    } else {
                        // MS-WMHTTP 3.2.5.3: the first packet of a session must be $H; a
                        // packet before any header cannot be sent.
                        self.shared.settle(None);
                    }
                }
                Item::EndEntry => self.entry_ended = true,
                Item::EndSession => {
                    bufs.push(Bytes::copy_from_slice(&wire::end_packet(0)));
                    done = Some(TaskEnd::Ended);
                }
                Item::Disconnect => done = Some(TaskEnd::Disconnected),
            }
            let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
            // Keep room for a final $E (8 bytes) in every body; renew when the next item
            // would not leave it.
            if total + 8 > remaining {
                if let Err(stop) = self.renew_push_start(&mut rd, &mut wr, remaining).await {
                    if !matches!(item, Item::Disconnect) {
                        self.shared.unpop(item);
                    }
                    return stop;
                }
                remaining = u64::from(self.config.push_start_length);
            }
            let slices: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
            // Write, while watching for the server speaking first (MS-WMHTTP 3.2.5.3: an
            // administrator's disconnect is an error status sent at once) or closing.
            let written = tokio::select! {
                r = write_all_timeout(&mut wr, &slices, self.config.write_timeout) => {
                    r.map_err(|e| Stop::Broken(PushError::ConnectionFailure(e.to_string())))
                }
                r = rd.read(&mut probe) => Err(server_spoke(r, &probe)),
            };
            if let Err(stop) = written {
                // Not (wholly) sent: keep it for the next connection.
                if !matches!(item, Item::Disconnect) {
                    self.shared.unpop(item);
                }
                return stop;
            }
            remaining -= total;
            if let Item::Packet { original_len, .. } = &item {
                // SinkStats: a packet counts as delivered once written to the socket.
                // (A packet with no header before it was counted as a drop above.)
                if !bufs.is_empty() {
                    self.shared.settle(Some(*original_len));
                }
            }
            if matches!(item, Item::Header(_)) && !bufs.is_empty() {
                self.header_sent = true;
                self.entry_ended = false;
            }
            drop(bufs);
            if let Item::Packet { framed, .. } = item {
                self.shared.recycle(framed);
            }
            if let Some(end) = done {
                let _ = wr.flush().await;
                let _ = wr.shutdown().await;
                return Stop::Done(end);
            }
        }
    }
}
