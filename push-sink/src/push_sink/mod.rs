//! [`PushSink`]: the `IWMWriterPushSink` analog. Pushes the writer's stream to a publishing
//! point over MS-WMHTTP (HTTP POST PushSetup + PushStart, `$H`/`$D`/`$E`/`$C`/`$F` framing).
//!
//! # Layering
//!
//! Everything on the wire is push-protocol's sans-IO
//! [`PushClient`]: request heads, Digest/Basic
//! answers, redirects, the PushStart budget with its `$F` fill, resume by push-id, `$H`,
//! `$D`, `$E(0)`, `$E(1)` + `$C`. This module is its tokio driver: one task per `connect`
//! owns the TCP connection the client asks for, feeds it received bytes
//! (`handle_input`), writes what `poll_transmit` gives, reacts to `poll_event` (credentials,
//! acceptance, refusal), and adds what is not protocol: the bounded queue and its drop
//! policy, reconnect with backoff, the status stream and the statistics.
//!
//! # Semantics (Windows Media Format SDK, `IWMWriterPushSink`)
//!
//! - [`connect`](PushSink::connect)`(url, template_url, auto_destroy)`: PushSetup. The server
//!   creates the publishing point from the template when it does not exist (`Template-URL`
//!   and `AutoDestroy` directives, MS-WMHTTP 2.2.2.1); `auto_destroy` asks the server to
//!   remove it when the session ends. `connect` blocks until the server accepted the session
//!   or refused it, whether or not the sink has the ASF header yet: without one (the SDK's
//!   order, `Connect` before `BeginWriting`) the PushSetup goes out alone and the PushStart
//!   with `$H` follows the first `on_header` (push-protocol's `PushClient::connect_setup` and
//!   `set_header`). The server forgets a set-up session after its Inactivity-Timeout
//!   (MS-WMHTTP 3.2.2, 120 s by default); a header given later starts a new session.
//! - [`disconnect`](PushSink::disconnect): drops the TCP connection without `$E(0)`; the
//!   server keeps the session for a while (the SDK says 5 minutes) so a later `connect` to
//!   the same URL resumes it: a PushSetup carrying the push-id, which the server accepts or
//!   refuses, then a PushStart with no `$H` (MS-WMHTTP 3.2.5.2, 3.2.5.3).
//! - [`end_session`](PushSink::end_session): sends what is queued, then `$E(0)`, and closes:
//!   the server deletes the session and honours AutoDestroy.
//! - Dropping the sink closes the connection at once, like `disconnect` without sending
//!   what is still queued.
//! - `connect_async`, `disconnect_async` and `end_session_async` do the same for callers on
//!   a tokio runtime without blocking its worker.
//!
//! # The data path
//!
//! The [`WriterSink`] methods are synchronous and never block on the network: they strip
//! the packet's padding in place (MS-WMHTTP 2.2.3.2), write the `$D` framing header into the
//! buffer's headroom (from [`PushSink::allocate_data_unit`]: no copy) and put the frame on a
//! bounded queue. The sink's task takes queued items in batches and hands frames to the
//! `PushClient` (`PushClient::send_data_frame`) while less than 1 MiB waits to be written;
//! the socket gets the pooled buffers themselves, many per vectored write, and each returns to
//! the pool once written. A packet wakes the task only when the task waits for packets (not
//! when it waits for the socket to drain).
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
//! When the connection breaks the task reconnects with exponential backoff (bounded delay
//! and attempts, [`ReconnectPolicy`]) and resumes the session by push-id
//! ([`PushClient::resume_with_setup`](push_protocol::push_client::PushClient::resume_with_setup):
//! a PushSetup with the same `push-id` cookie, answered explicitly, then a PushStart with
//! **no** `$H`, the server kept the header). A packet that was being written
//! when the connection broke is sent again on the new connection. If the
//! server no longer knows the push-id (404, 408, 409 or a new challenge), a new session
//! starts: PushSetup with `push-id=0`, then `$H` again. Progress is reported on the status
//! stream ([`PushSink::status`]); `Connected { resumed: true }` is reported when the server
//! accepts the resume; a refused resume shows as `Connected { resumed: false }` with the new
//! push-id.
//!
//! # Mapping of WriterSink calls (implementation notes §4.1, inferred)
//!
//! - first `on_header` of a session: `$H`; a later, different one (or any after
//!   `on_end_writing`): `$E(1)` then `$C` with the new header.
//! - `on_data_unit`: `$D` with padding stripped.
//! - `on_end_writing`: ends the entry; the next `on_header` continues with `$E(1)`/`$C`, and
//!   `end_session` sends `$E(0)`.

pub mod asf_file;
pub mod asf_packet;
mod driver;
mod session;
mod url;

pub use session::PushSessionSink;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use push_protocol::framing;
use push_protocol::push_client::{PushClient, UNBOUNDED_CONTENT_LENGTH};
use tokio::sync::{Notify, broadcast};

use crate::error::Error;
use crate::sink::{DataUnit, SinkStats, WriterSink};
use crate::transport::RuntimeHost;
use driver::{Driver, TaskEnd};
use url::PushUrl;

/// The credentials the application supplies for a challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// A server's authentication challenge, as shown to the credentials callback. The answer
/// itself (Digest MD5 or SHA-256, or Basic) is computed by push-protocol's `PushClient`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge {
    /// `Digest` or `Basic`.
    pub scheme: AuthScheme,
    /// The realm.
    pub realm: String,
}

/// Authentication schemes the push sink speaks (MS-WMHTTP 3.1.5.2; NTLM and Negotiate are
/// Windows-only and not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthScheme {
    /// RFC 7616 Digest (MD5 or SHA-256).
    Digest,
    /// RFC 7617 Basic.
    Basic,
}

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
    /// used up the client fills it exactly with `$F` and starts a new PushStart.
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

/// Largest PushStart Content-Length (2^31-1, MS-WMHTTP 3.1.5.3: no proxy involved).
pub const MAX_PUSH_START_LENGTH: u32 = UNBOUNDED_CONTENT_LENGTH as u32;

/// Largest push packet on the wire, 4-byte framing header included (MS-WMHTTP 2.2.3).
const MAX_PUSH_PACKET: usize = framing::FRAME_HEADER_LEN + framing::MAX_PAYLOAD;

impl Default for PushSinkConfig {
    fn default() -> Self {
        PushSinkConfig {
            reconnect: ReconnectPolicy::default(),
            queue_max_bytes: 8 * 1024 * 1024,
            queue_max_duration: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            credentials: None,
            push_start_length: MAX_PUSH_START_LENGTH,
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
    /// most 2^31-1. Below 2^31-1 the PushStarts are budgeted as behind a proxy.
    pub fn push_start_length(mut self, length: u32) -> Self {
        self.push_start_length = length.clamp(MIN_PUSH_START_LENGTH, MAX_PUSH_START_LENGTH);
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
pub const MIN_PUSH_START_LENGTH: u32 = 3 * MAX_PUSH_PACKET as u32;

/// Headroom [`PushSink::allocate_data_unit`] leaves in front of a packet (room for the `$D`
/// framing header, so buffers stay interchangeable with other sinks' framing).
pub const PUSH_HEADROOM: usize = framing::FRAME_HEADER_LEN;

#[derive(Debug, Clone)]
enum Item {
    /// An ASF header: `$H` at the start of a session, `$E(1)` + `$C` later.
    Header(Bytes),
    /// A data packet, padding stripped, as its whole `$D` frame (framing header written into
    /// the packet buffer's headroom: one piece for the socket).
    Packet {
        frame: Bytes,
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

/// Bytes a queued packet counts for: its `$D` frame on the wire.
fn wire_len(frame: &Bytes) -> usize {
    frame.len()
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    bytes: usize,
    packets: usize,
    /// Packets taken by the network task and not yet written.
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
    /// Wakes the task for markers always, and for packets only when it asked
    /// (`wants_packets`): a task that waits for the socket would only wake, find it cannot
    /// take them, and sleep again, twice per packet (measured: most of the sink's overhead).
    notify: Notify,
    /// The task waits for the queue (it could take packets and found none): the next packet
    /// wakes it, and clears this.
    wants_packets: AtomicBool,
    counters: Mutex<Counters>,
    status: broadcast::Sender<PushStatus>,
    /// The last header the task handled, kept across connects (resent for a new session).
    header: Mutex<Option<Bytes>>,
    /// Packet buffers to reuse in `allocate_data_unit` (at most [`POOL_BYTES`] of them).
    pool: Mutex<Vec<BytesMut>>,
    /// Why the session stopped for good after a successful `connect` (the data path is dead).
    failed: Mutex<Option<PushError>>,
    /// `failed` holds an error (read without its lock on every packet).
    has_failed: AtomicBool,
}

/// Most buffers kept for reuse by a push sink: see [`POOL_BYTES`].
///
/// Bytes of buffers a push sink keeps for reuse: enough for every packet the task may have in
/// flight ([`driver::FEED_AHEAD`] plus a write's worth), so a sink streaming flat out
/// allocates nothing (freeing buffers on the task's thread and allocating them on the
/// writer's was a tenth of the sink's cost), and bounded whatever the packet size.
const POOL_BYTES: usize = 2 * driver::FEED_AHEAD as usize;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Empty queue, counters and pool, reporting on `status`.
    fn new(status: broadcast::Sender<PushStatus>) -> Shared {
        Shared {
            queue: Mutex::new(Queue::default()),
            notify: Notify::new(),
            counters: Mutex::new(Counters::default()),
            status,
            header: Mutex::new(None),
            pool: Mutex::new(Vec::new()),
            failed: Mutex::new(None),
            has_failed: AtomicBool::new(false),
            wants_packets: AtomicBool::new(false),
        }
    }

    /// Takes a packet's buffer back for reuse when nothing else holds it.
    fn recycle(&self, packet: Bytes) {
        self.recycle_all(core::iter::once(packet));
    }

    /// [`Shared::recycle`] for many packets, under one lock.
    fn recycle_all(&self, packets: impl Iterator<Item = Bytes>) {
        let mut pool = lock(&self.pool);
        for packet in packets {
            let size = packet.len().max(1);
            if (pool.len() + 1) * size > POOL_BYTES {
                break;
            }
            if let Ok(b) = packet.try_into_mut() {
                pool.push(b);
            }
        }
    }

    /// Records why the session stopped for good (`None`: a new `connect` starts afresh).
    fn set_failed(&self, e: Option<PushError>) {
        let mut f = lock(&self.failed);
        self.has_failed.store(e.is_some(), Ordering::Release);
        *f = e;
    }

    /// Wakes the task for a packet just queued, if it waits for one.
    fn packet_queued(&self) {
        if self.wants_packets.swap(false, Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }
    fn queue(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }
    fn counters(&self) -> MutexGuard<'_, Counters> {
        lock(&self.counters)
    }
    fn report(&self, s: PushStatus) {
        let _ = self.status.send(s);
    }
    fn push(&self, item: Item) {
        let mut q = self.queue();
        if let Item::Packet { frame, .. } = &item {
            q.bytes += wire_len(frame);
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

    /// Moves up to `n` items, and packets of at most `max_bytes` on the wire (at least one
    /// item), from the front of the queue to `out`, under one lock.
    fn pop_up_to(&self, n: usize, max_bytes: usize, out: &mut VecDeque<Item>) {
        let mut q = self.queue();
        let mut bytes = 0;
        for i in 0..n {
            let next = match q.items.front() {
                None => break,
                Some(Item::Packet { frame, .. }) => wire_len(frame),
                Some(_) => 0,
            };
            if i > 0 && bytes + next > max_bytes {
                break;
            }
            bytes += next;
            let Some(item) = q.items.pop_front() else {
                break;
            };
            if let Item::Packet { frame, .. } = &item {
                q.bytes -= wire_len(frame);
                q.packets -= 1;
                q.in_flight += 1;
            }
            out.push_back(item);
        }
    }
    /// Puts packets taken by the task back in front of the queue, in their order (the
    /// connection broke before they were written).
    fn unpop(&self, items: impl DoubleEndedIterator<Item = Item>) {
        let mut q = self.queue();
        for item in items.rev() {
            if let Item::Packet { frame, .. } = &item {
                q.bytes += wire_len(frame);
                q.packets += 1;
                q.in_flight = q.in_flight.saturating_sub(1);
            }
            q.items.push_front(item);
        }
    }
    /// A packet taken by the task was dropped (it cannot be sent). Lock order everywhere:
    /// queue, then counters (so stats add up at every instant).
    fn settle_dropped(&self) {
        let mut q = self.queue();
        q.in_flight = q.in_flight.saturating_sub(1);
        self.counters().drops += 1;
    }

    /// `packets` packets taken by the task, of `bytes` original bytes in all, were written.
    fn settle_written(&self, packets: usize, bytes: u64) {
        let mut q = self.queue();
        q.in_flight = q.in_flight.saturating_sub(packets);
        let mut c = self.counters();
        c.packets += packets as u64;
        c.bytes += bytes;
    }
    /// Takes the first `Disconnect` marker out of the queue, if there is one.
    fn take_disconnect(&self) -> bool {
        let mut q = self.queue();
        match q.items.iter().position(|i| matches!(i, Item::Disconnect)) {
            Some(at) => {
                q.items.remove(at);
                true
            }
            None => false,
        }
    }
}

/// The session state the sink keeps between connections.
#[derive(Debug)]
struct Session {
    url: PushUrl,
    /// `Template-URL` path, percent-encoded.
    template: Option<String>,
    auto_destroy: bool,
    push_id: Option<String>,
    /// The client of a session left by `disconnect`, kept to resume it.
    parked: Option<PushClient>,
}

/// Pushes the writer's stream to a publishing point. See the [module docs](self).
pub struct PushSink {
    config: PushSinkConfig,
    runtime: RuntimeHost,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<TaskEnd>>,
    /// Stops the task of a `disconnect`/`end_session` that timed out waiting for it.
    stopping: Option<tokio::task::AbortHandle>,
    session: Arc<Mutex<Option<Session>>>,
    connected: bool,
    ended: bool,
    name: String,
    /// Buffers taken from the shared pool a batch at a time (one lock per batch).
    spare: Vec<BytesMut>,
}

/// Buffers [`PushSink::allocate_data_unit`] takes from the shared pool at once.
const SPARE_BATCH: usize = 32;

impl std::fmt::Debug for PushSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSink")
            .field("name", &self.name)
            .field("connected", &self.connected)
            .finish_non_exhaustive()
    }
}

impl PushSink {
    /// A sink that is not connected yet. It runs its network task on a private tokio
    /// runtime (one worker), so its methods may be called from any thread, async or not.
    pub fn new(config: PushSinkConfig) -> Result<PushSink, Error> {
        Ok(PushSink::with_runtime(config, RuntimeHost::private()?))
    }

    /// A sink that is not connected yet, whose network task runs on `runtime` (for example
    /// [`RuntimeHost::current_or_new`] from a server's blocking pool, so a server's relays
    /// share its runtime instead of one thread each). The blocking methods
    /// ([`connect`](PushSink::connect), [`end_session`](PushSink::end_session)) must then not
    /// be called on one of that runtime's async worker threads: call them from its blocking
    /// pool or another thread, or use the `_async` variants.
    pub fn with_runtime(config: PushSinkConfig, runtime: RuntimeHost) -> PushSink {
        let (status, _) = broadcast::channel(256);
        PushSink {
            config,
            runtime,
            shared: Arc::new(Shared::new(status)),
            task: None,
            stopping: None,
            session: Arc::new(Mutex::new(None)),
            connected: false,
            ended: false,
            name: String::from("push sink (not connected)"),
            spare: Vec::new(),
        }
    }

    /// The status stream: connecting, connected, reconnecting, error, ended. Each call
    /// gives a new receiver that sees events from now on (a slow receiver skips old ones).
    pub fn status(&self) -> broadcast::Receiver<PushStatus> {
        self.shared.status.subscribe()
    }

    /// The session's push-id once the server gave one.
    pub fn push_id(&self) -> Option<String> {
        lock(&self.session).as_ref().and_then(|s| s.push_id.clone())
    }

    /// True between a successful `connect` and `disconnect`/`end_session`/a fatal error.
    pub fn is_connected(&self) -> bool {
        self.connected && self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Connects to the publishing point at `url` (`http://host[:port]/path`) with a
    /// PushSetup, creating it from `template_url` if the server does not have it, removing
    /// it at the end of the session if `auto_destroy` (`IWMWriterPushSink::Connect`).
    ///
    /// Blocks until the server accepted the session (or refused it) when the sink has a
    /// header; without one, until the host is resolved and reachable (see the
    /// [module docs](self)). After a [`disconnect`](PushSink::disconnect), connecting to the
    /// same URL resumes the session.
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
    /// outcome of the first PushSetup (or resume, or reachability check).
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
        let template = template_url
            .map(url::template_path)
            .transpose()
            .map_err(PushError::InvalidArgument)?;
        // A task of an earlier run (failed, or timed out) must not touch this run's queue.
        if let Some(t) = self.task.take() {
            t.abort();
        }
        // Resume the session left by `disconnect` when reconnecting to the same point.
        let parked = {
            let mut guard = lock(&self.session);
            guard
                .as_mut()
                .filter(|s| s.url == parsed && !self.ended)
                .and_then(|s| s.parked.take())
        };
        let push_id = parked.as_ref().map(|c| c.push_id().to_string());
        *lock(&self.session) = Some(Session {
            url: parsed,
            template,
            auto_destroy,
            push_id,
            parked: None,
        });
        self.shared.set_failed(None);
        // Drop what is left of an earlier run's queue markers (not packets).
        self.shared
            .queue()
            .items
            .retain(|i| !matches!(i, Item::Disconnect | Item::EndSession));
        let (tx, rx) = std::sync::mpsc::channel();
        let driver = Driver::new(
            self.config.clone(),
            self.shared.clone(),
            self.session.clone(),
            tx,
        );
        self.task = Some(self.runtime.spawn(driver.run(parked)));
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
        if let Some(h) = self.stopping.take() {
            h.abort();
        }
        self.connected = false;
    }

    /// A receiver for the network task's end (`None` when there is no task).
    fn task_end(&mut self) -> Option<Receiver<Option<TaskEnd>>> {
        let task = self.task.take()?;
        self.stopping = Some(task.abort_handle());
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

    /// The task did not finish in time: stop it (it would otherwise run on unseen).
    fn stop_unfinished(&mut self, end: &Option<TaskEnd>) {
        if let Some(h) = self.stopping.take()
            && end.is_none()
        {
            h.abort();
        }
    }

    fn end_disconnect(&mut self, end: Option<TaskEnd>) -> Result<(), PushError> {
        self.stop_unfinished(&end);
        self.connected = false;
        self.shared.report(PushStatus::Disconnected);
        match end {
            Some(TaskEnd::Failed(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn end_end_session(&mut self, end: Option<TaskEnd>) -> Result<(), PushError> {
        self.stop_unfinished(&end);
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

    /// Bytes queued for the network now (`$D` frames, headers not counted).
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

    /// Puts a packet on the queue, applying the drop policy.
    fn enqueue_packet(&self, frame: Bytes, send_time_ms: u32, key: bool, original_len: usize) {
        let mut q = self.shared.queue();
        let max_bytes = self.config.queue_max_bytes;
        let max_ms = u32::try_from(self.config.queue_max_duration.as_millis()).unwrap_or(u32::MAX);
        let len = wire_len(&frame);
        let mut dropped = 0u64;
        loop {
            let oldest_time = q.items.iter().find_map(|i| match i {
                Item::Packet { send_time_ms, .. } => Some(*send_time_ms),
                _ => None,
            });
            let over_time = oldest_time.is_some_and(|t| send_time_ms.saturating_sub(t) > max_ms);
            let over_bytes = q.bytes + len > max_bytes;
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
            if let Some(Item::Packet { frame: p, .. }) = q.items.remove(at) {
                q.bytes -= wire_len(&p);
                q.packets -= 1;
                dropped += 1;
            }
        }
        if len > max_bytes {
            // A single packet larger than the whole queue: drop it.
            dropped += 1;
        } else {
            q.bytes += len;
            q.packets += 1;
            q.items.push_back(Item::Packet {
                frame,
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
        self.shared.packet_queued();
    }

    /// The error of a session that stopped for good after `connect` succeeded.
    fn check_failed(&self) -> Result<(), Error> {
        if !self.shared.has_failed.load(Ordering::Acquire) {
            return Ok(());
        }
        match lock(&self.shared.failed).as_ref() {
            Some(e) => Err(Error::custom(e.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for PushSink {
    fn drop(&mut self) {
        self.abort_task();
    }
}

impl WriterSink for PushSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        // MS-WMHTTP 2.2.3: $H payload at most 65,531 bytes; $C (Reason + header) 65,527.
        if header.len() > framing::MAX_CHANGE_HEADER {
            return Err(Error::Unsupported(
                "ASF header larger than 65,527 bytes cannot be pushed (MS-WMHTTP 2.2.3)",
            ));
        }
        self.check_failed()?;
        self.shared.counters().headers += 1;
        self.shared.push_marker(Item::Header(header.clone()));
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        true
    }

    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        // Pooled: buffers come back from the network task once their packet is handed on.
        if self.spare.is_empty() {
            let mut pool = lock(&self.shared.pool);
            let from = pool.len().saturating_sub(SPARE_BATCH);
            self.spare.extend(pool.drain(from..));
        }
        let mut b = self.spare.pop().unwrap_or_default();
        b.clear();
        b.reserve(PUSH_HEADROOM + packet_size);
        b.resize(PUSH_HEADROOM, 0);
        b
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        self.check_failed()?;
        let info = unit.info();
        let len = unit.len();
        // No copy when the unit owns its buffer (from `allocate_data_unit`): the padding is cut
        // in place and the `$D` framing header written into the headroom, so the socket gets
        // the frame as one piece.
        let (mut buf, at) = unit.into_writable(framing::FRAME_HEADER_LEN);
        let mut packet = buf.split_off(at);
        // MS-WMHTTP 2.2.3.2: padding SHOULD be stripped and Padding Length set to 0. A packet
        // we cannot parse is sent as is (the server re-pads or rejects it, not us).
        let _ = asf_packet::strip_padding(&mut packet);
        if packet.len() > framing::MAX_PAYLOAD {
            return Err(Error::Unsupported(
                "data packet larger than 65,531 bytes cannot be pushed (MS-WMHTTP 2.2.3)",
            ));
        }
        let mut frame = buf.split_off(at - framing::FRAME_HEADER_LEN);
        frame[0] = b'$';
        frame[1] = framing::PushFrameKind::Data.id();
        frame[2..].copy_from_slice(&(packet.len() as u16).to_le_bytes());
        // Contiguous with the header: joined without copying.
        frame.unsplit(packet);
        self.enqueue_packet(frame.freeze(), info.send_time_ms, info.key_frame, len);
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

impl WriterSink for SharedPushSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        lock(self).on_header(header)
    }
    fn is_real_time(&self) -> bool {
        true
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        lock(self).allocate_data_unit(packet_size)
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        lock(self).on_data_unit(unit)
    }
    fn on_end_writing(&mut self) -> Result<(), Error> {
        lock(self).on_end_writing()
    }
    fn stats(&self) -> SinkStats {
        lock(self).stats()
    }
    fn name(&self) -> String {
        lock(self).name()
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
