//! The broadcast hub: one live ASF stream fanned out to many players.
//!
//! A [`BroadcastHub`] holds the current ASF header, the packets since the most recent
//! packet that begins a key frame (the *backlog*, bounded in bytes and packets), and one
//! bounded queue per subscribed player. The producer (a [`NetworkSink`](super::NetworkSink)
//! fed by a writer, or a publishing-point server fed by an encoder's push) calls
//! [`set_header`](BroadcastHub::set_header), [`publish`](BroadcastHub::publish) and
//! [`end_of_stream`](BroadcastHub::end_of_stream); these never block and never wait for a
//! player. Each player is served by [`serve_player`], which drives push-protocol's MS-WMSP
//! pull server connection over a `TcpStream`.
//!
//! # Sharing and memory
//!
//! A packet is stored once as [`Bytes`]; every queue holds a reference-counted view of it.
//! Memory is bounded by `backlog_max_bytes` + `max_clients` x `client_queue_bytes` (plus the
//! pull connection's own small write queue per player).
//!
//! # Late joiners
//!
//! A player that subscribes gets the current header and then the backlog, so it starts at
//! the most recent packet that begins a key frame (VLC and ffmpeg can decode from there), or
//! at the first packet after the header when no key frame came yet.
//! When the backlog overflows its bounds it is dropped, and new players wait for the next
//! key frame instead.
//!
//! # Slow players
//!
//! A player whose queue would exceed `client_queue_bytes` is handled by
//! [`SlowClientPolicy`]: disconnected (default), or skipped to the next key frame (its
//! queued packets are kept, new ones are dropped until a key frame arrives). Either way the
//! producer and the other players are not slowed, and each dropped packet is counted.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use push_sink::hub::{BroadcastHub, HubConfig, HubItem};
//!
//! let hub = BroadcastHub::new(HubConfig::with_max_clients(2));
//! hub.set_header(Bytes::from_static(b"ASF header"));
//! hub.publish(Bytes::from_static(b"packet 0"), true); // a join point
//! hub.publish(Bytes::from_static(b"packet 1"), false);
//! // A late joiner gets the header and the backlog from the last key frame.
//! let player = hub.subscribe(None, Some("NSPlayer/12.0".into())).expect("a header is set");
//! assert_eq!(player.header(), &Bytes::from_static(b"ASF header"));
//! assert_eq!(player.try_next(), Some(Some(HubItem::Packet(Bytes::from_static(b"packet 0")))));
//! assert_eq!(player.try_next(), Some(Some(HubItem::Packet(Bytes::from_static(b"packet 1")))));
//! assert_eq!(player.try_next(), Some(None)); // nothing queued, still subscribed
//! hub.end_of_stream();
//! assert_eq!(player.try_next(), Some(Some(HubItem::End)));
//! assert_eq!(hub.clients().len(), 0);
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use push_protocol::pull_server::{
    PullRequestKind, PullServerConfig, PullServerConnection, PullServerEvent, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use crate::error::Error;

/// What to do with a player that cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SlowClientPolicy {
    /// Disconnect the player (its packets are counted as drops).
    #[default]
    Disconnect,
    /// Drop new packets for this player until the next key frame, then resume.
    SkipToKeyFrame,
}

/// Bounds and policies of a [`BroadcastHub`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubConfig {
    /// Most players subscribed at once; more are refused (503).
    pub max_clients: usize,
    /// Most bytes kept in the late-joiner backlog.
    pub backlog_max_bytes: usize,
    /// Most packets kept in the late-joiner backlog.
    pub backlog_max_packets: usize,
    /// Most packet bytes queued for one player.
    pub client_queue_bytes: usize,
    /// What to do when a player's queue is full.
    pub slow_client: SlowClientPolicy,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_clients: 64,
            backlog_max_bytes: 4 * 1024 * 1024,
            backlog_max_packets: 8192,
            client_queue_bytes: 8 * 1024 * 1024,
            slow_client: SlowClientPolicy::Disconnect,
        }
    }
}

impl HubConfig {
    /// The default bounds with `max_clients` players.
    pub fn with_max_clients(max_clients: usize) -> HubConfig {
        HubConfig {
            max_clients,
            ..HubConfig::default()
        }
    }

    /// Sets the per-player queue limit in bytes.
    pub fn client_queue_bytes(mut self, bytes: usize) -> HubConfig {
        self.client_queue_bytes = bytes;
        self
    }

    /// Sets the backlog limit in bytes.
    pub fn backlog_max_bytes(mut self, bytes: usize) -> HubConfig {
        self.backlog_max_bytes = bytes;
        self
    }

    /// Sets the slow player policy.
    pub fn slow_client(mut self, policy: SlowClientPolicy) -> HubConfig {
        self.slow_client = policy;
        self
    }
}

/// One item a player's connection receives from the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubItem {
    /// The header changed mid-stream: send `$E(1)`, `$C`, `$H` (MS-WMSP 3.2.4.1).
    Header(Bytes),
    /// One ASF data packet.
    Packet(Bytes),
    /// The stream ended: send `$E(0)` and close.
    End,
}

/// A subscribed player, as listed by [`BroadcastHub::clients`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The hub's id for this player (unique per hub, never reused).
    pub id: u64,
    /// The player's address, when known.
    pub peer: Option<SocketAddr>,
    /// The player's User-Agent, when known.
    pub user_agent: Option<String>,
    /// Packets handed to this player's connection so far.
    pub packets: u64,
    /// Packets dropped for this player (slow, or waiting for a key frame after a skip).
    pub drops: u64,
}

/// Counters of a hub (all only grow, except `clients`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HubStats {
    /// Headers set.
    pub headers: u64,
    /// Packets published.
    pub packets: u64,
    /// Bytes of packets published.
    pub bytes: u64,
    /// Packet deliveries dropped, over all players.
    pub drops: u64,
    /// Players disconnected for being too slow.
    pub slow_disconnects: u64,
    /// Players subscribed over the hub's life.
    pub subscriptions: u64,
    /// Players subscribed now (a gauge).
    pub clients: u64,
}

#[derive(Debug, Default)]
struct ClientQueue {
    items: VecDeque<HubItem>,
    bytes: usize,
    waiting_key: bool,
    kicked: bool,
}

#[derive(Debug)]
struct ClientShared {
    queue: Mutex<ClientQueue>,
    notify: Notify,
    packets: AtomicU64,
    drops: AtomicU64,
}

impl ClientShared {
    fn lock(&self) -> MutexGuard<'_, ClientQueue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kick(&self) {
        self.lock().kicked = true;
        self.notify.notify_one();
    }
}

#[derive(Debug)]
struct ClientEntry {
    shared: Arc<ClientShared>,
    peer: Option<SocketAddr>,
    user_agent: Option<String>,
}

#[derive(Debug)]
struct HubState {
    config: HubConfig,
    header: Option<Bytes>,
    backlog: VecDeque<Bytes>,
    backlog_bytes: usize,
    /// True when the backlog starts at a key frame (false after an overflow until the next).
    backlog_valid: bool,
    /// The backlog's first packet rewritten for players that start there (payload tails
    /// before the key frame removed), when that was possible and needed.
    backlog_join: Option<Bytes>,
    /// Video stream numbers of the current header.
    video_streams: Vec<u8>,
    clients: BTreeMap<u64, ClientEntry>,
    next_id: u64,
    closed: bool,
    stats: HubStats,
}

#[derive(Debug)]
struct HubInner {
    state: Mutex<HubState>,
    header_tx: watch::Sender<Option<Bytes>>,
}

/// Fans one live stream out to many players. Cheap to clone (all clones are the same hub).
/// See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct BroadcastHub {
    inner: Arc<HubInner>,
}

/// Why a player could not subscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// No header has been set yet (nothing to describe or play).
    #[error("no stream yet: the hub has no header")]
    NoHeader,
    /// `max_clients` players are subscribed already.
    #[error("too many players ({0} max)")]
    Full(usize),
    /// The hub was closed.
    #[error("the hub is closed")]
    Closed,
}

impl BroadcastHub {
    /// An empty hub (no header yet).
    pub fn new(config: HubConfig) -> BroadcastHub {
        let (header_tx, _) = watch::channel(None);
        BroadcastHub {
            inner: Arc::new(HubInner {
                state: Mutex::new(HubState {
                    config,
                    header: None,
                    backlog: VecDeque::new(),
                    backlog_bytes: 0,
                    backlog_valid: false,
                    backlog_join: None,
                    video_streams: Vec::new(),
                    clients: BTreeMap::new(),
                    next_id: 1,
                    closed: false,
                    stats: HubStats::default(),
                }),
                header_tx,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current header, if any.
    pub fn header(&self) -> Option<Bytes> {
        self.lock().header.clone()
    }

    /// Waits up to `timeout` for a header (returns at once when there is one).
    pub async fn wait_header(&self, timeout: Duration) -> Option<Bytes> {
        let mut rx = self.inner.header_tx.subscribe();
        let wait = rx.wait_for(Option::is_some);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(h)) => h.clone(),
            _ => None,
        }
    }

    /// Sets the stream's ASF header (Header Object + 50 bytes of the Data Object). A header
    /// different from the current one reaches every subscribed player as
    /// [`HubItem::Header`]; the backlog restarts (old packets belong to the old header).
    pub fn set_header(&self, header: Bytes) {
        let mut st = self.lock();
        st.stats.headers += 1;
        if st.header.as_ref() == Some(&header) {
            return;
        }
        let had_header = st.header.is_some();
        st.video_streams = crate::push_sink::asf_file::header_video_streams(&header);
        st.backlog_join = None;
        st.header = Some(header.clone());
        st.backlog.clear();
        st.backlog_bytes = 0;
        st.backlog_valid = true;
        if had_header {
            for c in st.clients.values() {
                let mut q = c.shared.lock();
                q.items.push_back(HubItem::Header(header.clone()));
                drop(q);
                c.shared.notify.notify_one();
            }
        }
        drop(st);
        self.inner.header_tx.send_replace(Some(header));
    }

    /// Publishes one ASF data packet to every player; `key_frame` says a player can start
    /// decoding at it. Never blocks; applies the slow-player policy per player.
    pub fn publish(&self, packet: Bytes, key_frame: bool) {
        let mut guard = self.lock();
        let st = &mut *guard;
        let len = packet.len();
        st.stats.packets += 1;
        st.stats.bytes += len as u64;
        // Trust but verify the key-frame flag where the packet says otherwise: a join point
        // must begin a video key frame when the stream has video (a player starting at an
        // audio packet shows broken video until the next key frame). Unparseable packets
        // keep the caller's flag.
        let key_frame = key_frame
            && (st.video_streams.is_empty()
                || crate::push_sink::asf_packet::PacketView::parse(&packet, |s| {
                    st.video_streams.contains(&s)
                })
                .map_or(true, |v| v.key_frame));
        // Late-joiner backlog: restart at every key frame, drop on overflow.
        if key_frame {
            st.backlog.clear();
            st.backlog_bytes = 0;
            st.backlog_valid = true;
            let video = &st.video_streams;
            st.backlog_join = crate::push_sink::asf_packet::trim_before_key_frame(&packet, |s| {
                video.contains(&s)
            });
        }
        if st.backlog_valid {
            if st.backlog_bytes + len > st.config.backlog_max_bytes
                || st.backlog.len() >= st.config.backlog_max_packets
            {
                st.backlog.clear();
                st.backlog_bytes = 0;
                st.backlog_valid = false;
            } else {
                st.backlog.push_back(packet.clone());
                st.backlog_bytes += len;
            }
        }
        let limit = st.config.client_queue_bytes;
        let policy = st.config.slow_client;
        let mut kicked = Vec::new();
        for (&id, c) in &st.clients {
            let mut q = c.shared.lock();
            if q.kicked {
                continue;
            }
            if q.waiting_key {
                if !key_frame {
                    c.shared.drops.fetch_add(1, Ordering::Relaxed);
                    st.stats.drops += 1;
                    continue;
                }
                q.waiting_key = false;
            }
            if q.bytes + len > limit {
                c.shared.drops.fetch_add(1, Ordering::Relaxed);
                st.stats.drops += 1;
                match policy {
                    SlowClientPolicy::Disconnect => {
                        q.kicked = true;
                        kicked.push(id);
                    }
                    SlowClientPolicy::SkipToKeyFrame => q.waiting_key = true,
                }
                drop(q);
                c.shared.notify.notify_one();
                continue;
            }
            q.bytes += len;
            q.items.push_back(HubItem::Packet(packet.clone()));
            drop(q);
            c.shared.notify.notify_one();
        }
        for id in kicked {
            st.clients.remove(&id);
            st.stats.slow_disconnects += 1;
        }
        st.stats.clients = st.clients.len() as u64;
    }

    /// The stream ended: every player gets [`HubItem::End`] and leaves the hub; the header
    /// and backlog are forgotten (the next stream starts with a new `set_header`).
    pub fn end_of_stream(&self) {
        let mut st = self.lock();
        for c in st.clients.values() {
            c.shared.lock().items.push_back(HubItem::End);
            c.shared.notify.notify_one();
        }
        st.clients.clear();
        st.stats.clients = 0;
        st.header = None;
        st.backlog.clear();
        st.backlog_bytes = 0;
        st.backlog_valid = false;
        drop(st);
        self.inner.header_tx.send_replace(None);
    }

    /// Subscribes a player: its queue starts with the backlog (from the most recent key
    /// frame). Returns the header to send first with the subscription.
    pub fn subscribe(
        &self,
        peer: Option<SocketAddr>,
        user_agent: Option<String>,
    ) -> Result<Subscription, SubscribeError> {
        let mut st = self.lock();
        if st.closed {
            return Err(SubscribeError::Closed);
        }
        let Some(header) = st.header.clone() else {
            return Err(SubscribeError::NoHeader);
        };
        if st.clients.len() >= st.config.max_clients {
            return Err(SubscribeError::Full(st.config.max_clients));
        }
        let mut queue = ClientQueue::default();
        if st.backlog_valid {
            queue.items = st.backlog.iter().cloned().map(HubItem::Packet).collect();
            queue.bytes = st.backlog_bytes;
            // Start at the key frame itself, not at the tails of earlier frames in its packet.
            if let (Some(first), Some(join)) = (queue.items.front_mut(), &st.backlog_join) {
                *first = HubItem::Packet(join.clone());
            }
        } else {
            queue.waiting_key = true;
        }
        let shared = Arc::new(ClientShared {
            queue: Mutex::new(queue),
            notify: Notify::new(),
            packets: AtomicU64::new(0),
            drops: AtomicU64::new(0),
        });
        let id = st.next_id;
        st.next_id += 1;
        st.clients.insert(
            id,
            ClientEntry {
                shared: shared.clone(),
                peer,
                user_agent,
            },
        );
        st.stats.subscriptions += 1;
        st.stats.clients = st.clients.len() as u64;
        Ok(Subscription {
            id,
            header,
            shared,
            hub: Arc::downgrade(&self.inner),
        })
    }

    /// The players subscribed now.
    pub fn clients(&self) -> Vec<ClientInfo> {
        self.lock()
            .clients
            .iter()
            .map(|(&id, c)| ClientInfo {
                id,
                peer: c.peer,
                user_agent: c.user_agent.clone(),
                packets: c.shared.packets.load(Ordering::Relaxed),
                drops: c.shared.drops.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Disconnects one player; false if it was not subscribed.
    pub fn disconnect(&self, id: u64) -> bool {
        let mut st = self.lock();
        let removed = st.clients.remove(&id);
        st.stats.clients = st.clients.len() as u64;
        drop(st);
        removed.map(|c| c.shared.kick()).is_some()
    }

    /// Disconnects every player (new players may still subscribe).
    pub fn disconnect_all(&self) {
        let mut st = self.lock();
        let clients = std::mem::take(&mut st.clients);
        st.stats.clients = 0;
        drop(st);
        for c in clients.values() {
            c.shared.kick();
        }
    }

    /// Disconnects every player and refuses new ones from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.disconnect_all();
    }

    /// True after [`close`](BroadcastHub::close).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Sets the most players subscribed at once (players above it stay until they leave).
    pub fn set_max_clients(&self, max: usize) {
        self.lock().config.max_clients = max;
    }

    /// The most players subscribed at once.
    pub fn max_clients(&self) -> usize {
        self.lock().config.max_clients
    }

    /// The hub's counters.
    pub fn stats(&self) -> HubStats {
        self.lock().stats
    }

    /// Packets in the late-joiner backlog now (0 while it waits for a key frame).
    pub fn backlog_len(&self) -> usize {
        self.lock().backlog.len()
    }
}

/// One player's place in the hub. Dropping it unsubscribes the player.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    header: Bytes,
    shared: Arc<ClientShared>,
    hub: Weak<HubInner>,
}

impl Subscription {
    /// The player's id in the hub.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The header current when the player subscribed (send it first).
    pub fn header(&self) -> &Bytes {
        &self.header
    }

    /// The next item without waiting; `Ok(None)` when the queue is empty, `Err(())`-like
    /// `None` in the outer option when the player was disconnected.
    pub fn try_next(&self) -> Option<Option<HubItem>> {
        let mut q = self.shared.lock();
        if let Some(item) = q.items.pop_front() {
            if let HubItem::Packet(p) = &item {
                q.bytes -= p.len();
                self.shared.packets.fetch_add(1, Ordering::Relaxed);
            }
            return Some(Some(item));
        }
        if q.kicked { None } else { Some(None) }
    }

    /// The next item, waiting for one; `None` once the player was disconnected by the hub
    /// (slow, `disconnect_all`, `close`) and its queue is drained. Cancel safe.
    pub async fn next(&self) -> Option<HubItem> {
        loop {
            let notified = self.shared.notify.notified();
            match self.try_next() {
                Some(Some(item)) => return Some(item),
                None => return None,
                Some(None) => notified.await,
            }
        }
    }

    /// Items queued for this player now.
    pub fn queued(&self) -> usize {
        self.shared.lock().items.len()
    }

    /// Packets dropped for this player so far.
    pub fn drops(&self) -> u64 {
        self.shared.drops.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.hub.upgrade() {
            let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
            st.clients.remove(&self.id);
            st.stats.clients = st.clients.len() as u64;
        }
    }
}

/// Settings of [`serve_player`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The MS-WMSP pull server connection's settings.
    pub pull: PullServerConfig,
    /// How long a Describe or Play waits for the first header before getting 503.
    pub header_wait: Duration,
    /// Most bytes handed to the pull connection's write queue before leaving packets in
    /// the hub's queue (where the slow-player policy applies).
    pub write_queue_bytes: usize,
    /// A player whose socket accepts nothing for this long is disconnected.
    pub write_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            pull: PullServerConfig::default(),
            header_wait: Duration::from_secs(10),
            write_queue_bytes: 256 * 1024,
            write_timeout: Duration::from_secs(20),
        }
    }
}

impl ServeConfig {
    /// Sets the pull server connection's settings (e.g. the `Server` header).
    pub fn pull(mut self, pull: PullServerConfig) -> ServeConfig {
        self.pull = pull;
        self
    }

    /// Sets how long a request waits for the first header.
    pub fn header_wait(mut self, wait: Duration) -> ServeConfig {
        self.header_wait = wait;
        self
    }

    /// Sets the write timeout after which a silent player is disconnected.
    pub fn write_timeout(mut self, timeout: Duration) -> ServeConfig {
        self.write_timeout = timeout;
        self
    }
}

/// How a served connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeOutcome {
    /// A Describe was answered with the header.
    Described,
    /// A web client got an ASX metafile.
    Metafile,
    /// A Play streamed until the end of the stream (`$E(0)` sent).
    Ended,
    /// A Play streamed until the player closed its connection.
    PlayerLeft,
    /// The hub disconnected the player (slow, `disconnect_all`, `close`).
    Disconnected,
    /// The request was refused with this HTTP status.
    Refused(u16),
}

/// Serves one player connection from `hub`: MS-WMSP Describe (header only), Play (header,
/// backlog from the last key frame, then live packets, `$E(1)`/`$C`/`$H` on header changes,
/// `$E(0)` at the end), or an ASX metafile for a web client. Drives push-protocol's
/// [`PullServerConnection`]; returns when the connection is done.
pub async fn serve_player(
    hub: &BroadcastHub,
    mut stream: TcpStream,
    config: &ServeConfig,
) -> Result<ServeOutcome, Error> {
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let mut conn = PullServerConnection::new(config.pull.clone(), Instant::now());
    let mut buf = vec![0u8; 4096];
    // 1. Read the request head.
    let request = loop {
        if let Some(ev) = conn.poll_event() {
            match ev {
                PullServerEvent::Request(r) => break r,
                PullServerEvent::Refused { status, .. } => {
                    flush(&mut stream, &mut conn, config.write_timeout).await?;
                    return Ok(ServeOutcome::Refused(status));
                }
                _ => continue,
            }
        }
        if conn.is_done() {
            return Ok(ServeOutcome::PlayerLeft);
        }
        let read = match conn.poll_timeout() {
            Some(deadline) => {
                let dl = tokio::time::Instant::from_std(deadline);
                match tokio::time::timeout_at(dl, stream.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        conn.handle_timeout(Instant::now());
                        continue;
                    }
                }
            }
            None => stream.read(&mut buf).await,
        };
        let n = read.map_err(|e| Error::io("reading a player's request", e))?;
        if n == 0 {
            conn.handle_peer_closed();
            return Ok(ServeOutcome::PlayerLeft);
        }
        conn.handle_input(&buf[..n], Instant::now());
    };
    let client_id: u32 = rand::random();
    match request.kind {
        PullRequestKind::Metafile => {
            conn.accept(Bytes::new(), Session::New { client_id })
                .map_err(Error::custom)?;
            flush(&mut stream, &mut conn, config.write_timeout).await?;
            return Ok(ServeOutcome::Metafile);
        }
        PullRequestKind::Describe => {
            let Some(header) = hub.wait_header(config.header_wait).await else {
                return refuse(&mut stream, &mut conn, 503, config).await;
            };
            conn.accept(header, Session::New { client_id })
                .map_err(Error::custom)?;
            flush(&mut stream, &mut conn, config.write_timeout).await?;
            return Ok(ServeOutcome::Described);
        }
        _ => {}
    }
    // Play.
    let sub = loop {
        match hub.subscribe(peer, request.user_agent.clone()) {
            Ok(s) => break s,
            Err(SubscribeError::NoHeader) => {
                if hub.wait_header(config.header_wait).await.is_none() {
                    return refuse(&mut stream, &mut conn, 503, config).await;
                }
            }
            Err(_) => return refuse(&mut stream, &mut conn, 503, config).await,
        }
    };
    conn.accept(sub.header().clone(), Session::New { client_id })
        .map_err(Error::custom)?;
    let (mut rd, mut wr) = stream.split();
    let mut pending: Option<Bytes> = None;
    let mut ended = false;
    loop {
        if pending.is_none() {
            pending = conn.poll_transmit();
        }
        if pending.is_none() && conn.is_done() {
            let _ = wr.shutdown().await;
            return Ok(if ended {
                ServeOutcome::Ended
            } else {
                ServeOutcome::Disconnected
            });
        }
        let want_items = !ended && conn.queued_bytes() < config.write_queue_bytes;
        tokio::select! {
            // Write what is pending (cancel safe: a cancelled write wrote nothing).
            w = async {
                match pending.as_ref() {
                    Some(p) => tokio::time::timeout(config.write_timeout, wr.write(p)).await,
                    None => std::future::pending().await,
                }
            } => {
                let n = match w {
                    Ok(Ok(n)) if n > 0 => n,
                    Ok(Ok(_)) | Ok(Err(_)) => return Ok(ServeOutcome::PlayerLeft),
                    Err(_) => return Ok(ServeOutcome::Disconnected),
                };
                if let Some(p) = pending.as_mut() {
                    bytes::Buf::advance(p, n);
                    if p.is_empty() {
                        pending = None;
                    }
                }
            }
            item = async {
                if want_items { sub.next().await } else { std::future::pending().await }
            } => {
                match item {
                    Some(HubItem::Packet(p)) => {
                        if conn.send_packet(p).is_err() {
                            // The write queue is full despite `write_queue_bytes`: count it.
                            sub.shared.drops.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(HubItem::Header(h)) => conn.change_header(h).map_err(Error::custom)?,
                    Some(HubItem::End) => {
                        conn.end_of_stream().map_err(Error::custom)?;
                        ended = true;
                    }
                    None => {
                        // Disconnected by the hub: close without $E so the player notices.
                        return Ok(ServeOutcome::Disconnected);
                    }
                }
            }
            r = rd.read(&mut buf) => {
                match r {
                    Ok(0) | Err(_) => {
                        conn.handle_peer_closed();
                        return Ok(ServeOutcome::PlayerLeft);
                    }
                    // Non-pipelined mode: players send nothing more; ignore it.
                    Ok(_) => {}
                }
            }
        }
    }
}

async fn refuse(
    stream: &mut TcpStream,
    conn: &mut PullServerConnection,
    status: u16,
    config: &ServeConfig,
) -> Result<ServeOutcome, Error> {
    conn.reject(status).map_err(Error::custom)?;
    flush(stream, conn, config.write_timeout).await?;
    Ok(ServeOutcome::Refused(status))
}

async fn flush(
    stream: &mut TcpStream,
    conn: &mut PullServerConnection,
    timeout: Duration,
) -> Result<(), Error> {
    while let Some(b) = conn.poll_transmit() {
        crate::transport::write_all_timeout(stream, &[&b], timeout).await?;
    }
    let _ = stream.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(cfg: HubConfig) -> BroadcastHub {
        let h = BroadcastHub::new(cfg);
        h.set_header(Bytes::from_static(b"HEADER"));
        h
    }

    fn packets(sub: &Subscription) -> Vec<HubItem> {
        let mut v = Vec::new();
        while let Some(Some(i)) = sub.try_next() {
            v.push(i);
        }
        v
    }

    #[test]
    fn late_joiner_starts_at_last_key_frame() {
        let h = hub(HubConfig::default());
        h.publish(Bytes::from_static(b"k1"), true);
        h.publish(Bytes::from_static(b"d1"), false);
        h.publish(Bytes::from_static(b"k2"), true);
        h.publish(Bytes::from_static(b"d2"), false);
        let sub = h.subscribe(None, None).expect("subscribe");
        assert_eq!(sub.header(), &Bytes::from_static(b"HEADER"));
        assert_eq!(
            packets(&sub),
            vec![
                HubItem::Packet(Bytes::from_static(b"k2")),
                HubItem::Packet(Bytes::from_static(b"d2"))
            ]
        );
        h.publish(Bytes::from_static(b"d3"), false);
        assert_eq!(
            packets(&sub),
            vec![HubItem::Packet(Bytes::from_static(b"d3"))]
        );
    }

    #[test]
    fn overflowing_backlog_makes_joiners_wait_for_key_frame() {
        let h = hub(HubConfig::default().backlog_max_bytes(4));
        h.publish(Bytes::from_static(b"k1"), true);
        h.publish(Bytes::from_static(b"d1"), false);
        h.publish(Bytes::from_static(b"d2"), false); // overflow
        assert_eq!(h.backlog_len(), 0);
        let sub = h.subscribe(None, None).expect("subscribe");
        h.publish(Bytes::from_static(b"d3"), false);
        assert!(packets(&sub).is_empty());
        h.publish(Bytes::from_static(b"k4"), true);
        assert_eq!(
            packets(&sub),
            vec![HubItem::Packet(Bytes::from_static(b"k4"))]
        );
    }

    #[test]
    fn slow_client_is_disconnected_without_touching_others() {
        let h = hub(HubConfig::default().client_queue_bytes(10));
        let slow = h.subscribe(None, None).expect("subscribe");
        let fast = h.subscribe(None, None).expect("subscribe");
        for i in 0..20u8 {
            h.publish(Bytes::from(vec![i; 4]), i % 5 == 0);
            assert!(matches!(fast.try_next(), Some(Some(HubItem::Packet(_)))));
        }
        assert_eq!(h.clients().len(), 1);
        assert_eq!(h.stats().slow_disconnects, 1);
        assert_eq!(slow.drops(), 1);
        // The slow one drains what it had, then sees the disconnect.
        assert_eq!(packets(&slow).len(), 2);
        assert!(slow.try_next().is_none());
    }

    #[test]
    fn slow_client_skips_to_next_key_frame() {
        let cfg = HubConfig::default()
            .client_queue_bytes(8)
            .slow_client(SlowClientPolicy::SkipToKeyFrame);
        let h = hub(cfg);
        let sub = h.subscribe(None, None).expect("subscribe");
        h.publish(Bytes::from_static(b"k0k0"), true);
        h.publish(Bytes::from_static(b"d1d1"), false);
        h.publish(Bytes::from_static(b"d2d2"), false); // full: dropped, now waiting
        assert_eq!(packets(&sub).len(), 2);
        h.publish(Bytes::from_static(b"d3d3"), false); // still waiting: dropped
        h.publish(Bytes::from_static(b"k4k4"), true);
        assert_eq!(
            packets(&sub),
            vec![HubItem::Packet(Bytes::from_static(b"k4k4"))]
        );
        assert_eq!(sub.drops(), 2);
        assert_eq!(h.stats().drops, 2);
    }

    #[test]
    fn header_change_and_end_reach_players() {
        let h = hub(HubConfig::default());
        let sub = h.subscribe(None, None).expect("subscribe");
        h.set_header(Bytes::from_static(b"HEADER")); // same: nothing
        h.set_header(Bytes::from_static(b"HEADER2"));
        h.end_of_stream();
        assert_eq!(
            packets(&sub),
            vec![
                HubItem::Header(Bytes::from_static(b"HEADER2")),
                HubItem::End
            ]
        );
        assert!(h.header().is_none());
        assert_eq!(
            h.subscribe(None, None).err(),
            Some(SubscribeError::NoHeader)
        );
    }

    #[test]
    fn max_clients_close_and_drop_unsubscribe() {
        let h = hub(HubConfig::with_max_clients(1));
        let a = h
            .subscribe(None, Some("NSPlayer/7.0".into()))
            .expect("first");
        assert_eq!(h.subscribe(None, None).err(), Some(SubscribeError::Full(1)));
        assert_eq!(h.clients()[0].user_agent.as_deref(), Some("NSPlayer/7.0"));
        drop(a);
        assert!(h.clients().is_empty());
        let b = h.subscribe(None, None).expect("room again");
        assert!(h.disconnect(b.id()));
        assert!(b.try_next().is_none());
        h.close();
        assert_eq!(h.subscribe(None, None).err(), Some(SubscribeError::Closed));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Publish { key: bool },
        Subscribe,
        Drain(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => any::<bool>().prop_map(|key| Op::Publish { key }),
            1 => Just(Op::Subscribe),
            2 => (0usize..4).prop_map(Op::Drain),
        ]
    }

    proptest::proptest! {
        /// Model check: every player receives exactly the packets from the most recent key
        /// frame before it subscribed (or from the start of the stream, if none) onward, in
        /// order, with nothing dropped while queues have room.
        #[test]
        fn players_get_a_gapless_run_from_a_key_frame(ops in proptest::collection::vec(op(), 0..80)) {
            let h = hub(HubConfig::default());
            let mut published: Vec<(u32, bool)> = Vec::new();
            let mut players: Vec<(Subscription, usize, Vec<u32>)> = Vec::new();
            for o in ops {
                match o {
                    Op::Publish { key } => {
                        let n = published.len() as u32;
                        h.publish(Bytes::from(n.to_le_bytes().to_vec()), key);
                        published.push((n, key));
                    }
                    Op::Subscribe => {
                        let sub = h.subscribe(None, None).expect("room");
                        players.push((sub, published.len(), Vec::new()));
                    }
                    Op::Drain(k) => {
                        if let Some((sub, _, got)) = players.get_mut(k) {
                            while let Some(Some(HubItem::Packet(p))) = sub.try_next() {
                                got.push(u32::from_le_bytes(p[..4].try_into().expect("4 bytes")));
                            }
                        }
                    }
                }
            }
            for (sub, joined_at, mut got) in players {
                while let Some(Some(HubItem::Packet(p))) = sub.try_next() {
                    got.push(u32::from_le_bytes(p[..4].try_into().expect("4 bytes")));
                }
                // The most recent key frame before joining, else the start of the stream.
                let start = published[..joined_at].iter().rposition(|&(_, k)| k).unwrap_or(0);
                let want: Vec<u32> = published[start..].iter().map(|&(n, _)| n).collect();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
