//! The broadcast hub: one live ASF stream fanned out to many players.
//!
//! A [`BroadcastHub`] holds the current ASF header and a *ring* of the most recent packets
//! (bounded in bytes and packets). Each packet is stored once; a player is not a queue of its
//! own but a position in that shared ring. The producer (a [`NetworkSink`](super::NetworkSink)
//! fed by a writer, or a publishing-point server fed by an encoder's push) calls
//! [`set_header`](BroadcastHub::set_header), [`publish`](BroadcastHub::publish) and
//! [`end_of_stream`](BroadcastHub::end_of_stream); these never block and never wait for a
//! player: they append to the ring under a short lock.
//!
//! # Delivery
//!
//! Players served with [`serve_player`] are handed, once their response head and first
//! header are written, to the hub's *delivery engine* (a few sweeper tasks, one per runtime
//! worker by default, not one task per player): each sweep, a sweeper copies the new ring
//! entries (reference counts, no bytes), and for every player that is due writes everything
//! queued for it in one vectored write of at most [`DeliveryConfig::batch_bytes`]: its own
//! small framing headers (MS-WMSP's `$D` preheader with its per-player counters, from
//! push-protocol's [`PlayFramer`](push_protocol::pull_server::PlayFramer)) interleaved with
//! the shared packet bytes. A player is due when [`DeliveryConfig::max_delay`] has passed
//! since its oldest unsent packet arrived, or when a whole batch is waiting, so a busy
//! server makes a few system calls per player per second. Every player has one write
//! deadline, checked by the sweep (no timer per write). Pull-style consumers can instead
//! read the ring through a [`Subscription`] ([`Subscription::try_next`], [`Subscription::next`]).
//!
//! # Memory
//!
//! The ring is the only copy of the stream: `max(backlog_max_bytes, client_queue_bytes)`
//! bytes and `max(backlog_max_packets, 4096)` packets at most, whatever the number of
//! players. A player costs a few hundred bytes of state plus its socket.
//!
//! # Late joiners
//!
//! A player that subscribes gets the current header and then starts at the most recent
//! packet that begins a key frame (VLC and ffmpeg can decode from there; payload tails of
//! earlier frames in that packet are cut for it), or at the first packet after the header
//! when no key frame came yet. When that would be more than the backlog bounds behind the
//! newest packet, the player waits for the next key frame instead.
//!
//! # Slow players
//!
//! A player more than `client_queue_bytes` behind the newest packet (or whose next packet
//! left the ring) is handled by [`SlowClientPolicy`]: disconnected (default), or skipped to
//! the newest key frame in the ring (the packets in between are dropped and counted). Either
//! way the producer and the other players are not slowed.
//!
//! # Admission
//!
//! The engine measures itself: how long its sweeps take and how late they start. When that
//! says it can no longer keep its players at the live rate ([`DeliveryLoad::is_overloaded`]),
//! newcomers are refused ([`SubscribeError::Overloaded`]; `serve_player` answers `503` with
//! `Retry-After`) and the admitted players stay continuous. Share one [`DeliveryLoad`] between
//! the hubs of a server ([`DeliveryConfig::load`]) so that admission sees the whole server.
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
//! // A late joiner gets the header and the packets from the last key frame.
//! let player = hub.subscribe(None, Some("NSPlayer/12.0".into())).expect("a header is set");
//! assert_eq!(player.header(), &Bytes::from_static(b"ASF header"));
//! assert_eq!(player.try_next(), Some(Some(HubItem::Packet(Bytes::from_static(b"packet 0")))));
//! assert_eq!(player.try_next(), Some(Some(HubItem::Packet(Bytes::from_static(b"packet 1")))));
//! assert_eq!(player.try_next(), Some(None)); // nothing new, still subscribed
//! hub.end_of_stream();
//! assert_eq!(player.try_next(), Some(Some(HubItem::End)));
//! ```

mod delivery;
mod serve;

pub use delivery::{DeliveryConfig, DeliveryLoad, PlayerFraming};
pub use serve::{
    ServeConfig, ServeOutcome, flush_connection, refuse_request, serve_player, serve_player_with,
    serve_request,
};

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, watch};

/// What to do with a player that cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SlowClientPolicy {
    /// Disconnect the player (the packets it missed are counted as drops).
    #[default]
    Disconnect,
    /// Skip the player to the newest key frame (or, when the ring holds none, to the next
    /// one); the packets skipped are counted as drops.
    SkipToKeyFrame,
}

/// Bounds and policies of a [`BroadcastHub`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HubConfig {
    /// Most players subscribed at once; more are refused (503).
    pub max_clients: usize,
    /// Most bytes a late joiner starts behind the newest packet.
    pub backlog_max_bytes: usize,
    /// Most packets a late joiner starts behind the newest packet.
    pub backlog_max_packets: usize,
    /// Most packet bytes a player may be behind the newest packet before the slow-player
    /// policy applies.
    pub client_queue_bytes: usize,
    /// What to do when a player falls too far behind.
    pub slow_client: SlowClientPolicy,
    /// How the delivery engine batches writes and measures its load.
    pub delivery: DeliveryConfig,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_clients: 64,
            backlog_max_bytes: 4 * 1024 * 1024,
            backlog_max_packets: 8192,
            client_queue_bytes: 8 * 1024 * 1024,
            slow_client: SlowClientPolicy::Disconnect,
            delivery: DeliveryConfig::default(),
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

    /// Sets how far behind the newest packet a player may fall, in bytes.
    pub fn client_queue_bytes(mut self, bytes: usize) -> HubConfig {
        self.client_queue_bytes = bytes;
        self
    }

    /// Sets the late-joiner backlog limit in bytes.
    pub fn backlog_max_bytes(mut self, bytes: usize) -> HubConfig {
        self.backlog_max_bytes = bytes;
        self
    }

    /// Sets the slow player policy.
    pub fn slow_client(mut self, policy: SlowClientPolicy) -> HubConfig {
        self.slow_client = policy;
        self
    }

    /// Sets the delivery engine's settings.
    pub fn delivery(mut self, delivery: DeliveryConfig) -> HubConfig {
        self.delivery = delivery;
        self
    }

    fn ring_max_bytes(&self) -> usize {
        self.backlog_max_bytes.max(self.client_queue_bytes)
    }

    fn ring_max_packets(&self) -> usize {
        self.backlog_max_packets.max(4096)
    }
}

/// One item a player receives from the hub.
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
#[non_exhaustive]
pub struct ClientInfo {
    /// The hub's id for this player (unique per hub, never reused).
    pub id: u64,
    /// The player's address, when known.
    pub peer: Option<SocketAddr>,
    /// The player's User-Agent, when known.
    pub user_agent: Option<String>,
    /// When the player subscribed.
    pub since: Instant,
    /// Packets delivered to this player so far.
    pub packets: u64,
    /// Bytes written to this player's connection so far (framing included).
    pub bytes: u64,
    /// Packets dropped for this player (too slow, or waiting for a key frame).
    pub drops: u64,
    /// Bytes of packets between this player's position and the newest packet.
    pub lag_bytes: u64,
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
    /// Players refused because the delivery engine was overloaded.
    pub overload_refusals: u64,
    /// Players subscribed now (a gauge).
    pub clients: u64,
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
    /// The delivery engine cannot keep the admitted players at the live rate.
    #[error("the server is at capacity: players already admitted come first")]
    Overloaded,
    /// The hub was closed.
    #[error("the hub is closed")]
    Closed,
}

/// What a ring entry holds.
#[derive(Debug, Clone)]
pub(crate) enum SlotKind {
    Packet {
        data: Bytes,
        key: bool,
        /// The packet without payload tails before its key frame, for a player starting here.
        join: Option<Bytes>,
    },
    Header(Bytes),
    End,
}

/// One ring entry.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) kind: SlotKind,
    /// Packet bytes published up to and including this entry.
    pub(crate) end_offset: u64,
    /// When it was published.
    pub(crate) at: Instant,
}

/// The shared ring: entry `first_seq + i` is `slots[i]`.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    pub(crate) slots: VecDeque<Slot>,
    pub(crate) first_seq: u64,
    /// Packet bytes in the ring.
    bytes: usize,
    packets: usize,
    /// Packet bytes published over the hub's life.
    pub(crate) total_bytes: u64,
}

impl Ring {
    /// The sequence number the next entry gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.first_seq + self.slots.len() as u64
    }

    pub(crate) fn get(&self, seq: u64) -> Option<&Slot> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.slots.get(i)
    }

    /// Packet bytes published before entry `seq` (`total_bytes` for the next entry).
    pub(crate) fn offset_before(&self, seq: u64) -> u64 {
        if seq <= self.first_seq {
            return self
                .slots
                .front()
                .map_or(self.total_bytes, |s| s.end_offset - slot_bytes(s) as u64);
        }
        match self.get(seq - 1) {
            Some(s) => s.end_offset,
            None => self.total_bytes,
        }
    }

    fn push(&mut self, kind: SlotKind, at: Instant, max_bytes: usize, max_packets: usize) {
        let len = match &kind {
            SlotKind::Packet { data, .. } => data.len(),
            _ => 0,
        };
        self.total_bytes += len as u64;
        self.bytes += len;
        if matches!(kind, SlotKind::Packet { .. }) {
            self.packets += 1;
        }
        self.slots.push_back(Slot {
            kind,
            end_offset: self.total_bytes,
            at,
        });
        while (self.bytes > max_bytes || self.packets > max_packets) && self.slots.len() > 1 {
            let Some(old) = self.slots.pop_front() else {
                break;
            };
            if let SlotKind::Packet { data, .. } = &old.kind {
                self.bytes -= data.len();
                self.packets -= 1;
            }
            self.first_seq += 1;
        }
    }
}

pub(crate) fn slot_bytes(s: &Slot) -> usize {
    match &s.kind {
        SlotKind::Packet { data, .. } => data.len(),
        _ => 0,
    }
}

/// Per-player counters, shared by the hub's client list and whoever serves the player.
#[derive(Debug, Default)]
pub(crate) struct ClientCounters {
    pub(crate) packets: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) drops: AtomicU64,
    pub(crate) lag_bytes: AtomicU64,
    /// Set by `disconnect`, `disconnect_all`, `close`, or the slow-player policy.
    pub(crate) kicked: AtomicBool,
}

#[derive(Debug)]
struct ClientEntry {
    counters: Arc<ClientCounters>,
    peer: Option<SocketAddr>,
    user_agent: Option<String>,
    since: Instant,
}

#[derive(Debug)]
pub(crate) struct HubState {
    pub(crate) config: HubConfig,
    header: Option<Bytes>,
    pub(crate) ring: Ring,
    /// Where a late joiner starts: the newest key-frame packet, or the first entry after
    /// the header when no key frame came since.
    join_seq: Option<u64>,
    /// The newest key-frame packet still in the ring (the slow-player skip target).
    pub(crate) last_key_seq: Option<u64>,
    /// Video stream numbers of the current header.
    video_streams: Vec<u8>,
    clients: BTreeMap<u64, ClientEntry>,
    next_id: u64,
    closed: bool,
    pub(crate) stats: HubStats,
}

#[derive(Debug)]
pub(crate) struct HubInner {
    state: Mutex<HubState>,
    header_tx: watch::Sender<Option<Bytes>>,
    /// Woken on every new ring entry (for pull-style subscribers).
    changed: Notify,
    pub(crate) engine: delivery::Engine,
    pub(crate) load: Arc<DeliveryLoad>,
}

impl HubInner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Removes players from the client list (they left or were dropped).
    pub(crate) fn forget(&self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        let mut st = self.lock();
        for id in ids {
            st.clients.remove(id);
        }
        st.stats.clients = st.clients.len() as u64;
    }
}

/// Fans one live stream out to many players. Cheap to clone (all clones are the same hub).
/// See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct BroadcastHub {
    pub(crate) inner: Arc<HubInner>,
}

impl BroadcastHub {
    /// An empty hub (no header yet).
    pub fn new(config: HubConfig) -> BroadcastHub {
        let (header_tx, _) = watch::channel(None);
        let load = config
            .delivery
            .load
            .clone()
            .unwrap_or_else(|| Arc::new(DeliveryLoad::new()));
        BroadcastHub {
            inner: Arc::new(HubInner {
                state: Mutex::new(HubState {
                    config,
                    header: None,
                    ring: Ring::default(),
                    join_seq: None,
                    last_key_seq: None,
                    video_streams: Vec::new(),
                    clients: BTreeMap::new(),
                    next_id: 1,
                    closed: false,
                    stats: HubStats::default(),
                }),
                header_tx,
                changed: Notify::new(),
                engine: delivery::Engine::default(),
                load,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.inner.lock()
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

    fn push(st: &mut HubState, kind: SlotKind) {
        let (max_bytes, max_packets) = (st.config.ring_max_bytes(), st.config.ring_max_packets());
        st.ring.push(kind, Instant::now(), max_bytes, max_packets);
        let first = st.ring.first_seq;
        if st.last_key_seq.is_some_and(|k| k < first) {
            st.last_key_seq = None;
        }
        if st.join_seq.is_some_and(|j| j < first) {
            st.join_seq = None;
        }
    }

    /// Sets the stream's ASF header (Header Object + 50 bytes of the Data Object). A header
    /// different from the current one reaches every subscribed player as
    /// [`HubItem::Header`]; late joiners start after it (old packets belong to the old
    /// header).
    pub fn set_header(&self, header: Bytes) {
        let mut st = self.lock();
        st.stats.headers += 1;
        if st.header.as_ref() == Some(&header) {
            return;
        }
        let had_header = st.header.is_some();
        st.video_streams = crate::push_sink::asf_file::header_video_streams(&header);
        st.header = Some(header.clone());
        if had_header {
            Self::push(&mut st, SlotKind::Header(header.clone()));
        }
        st.join_seq = Some(st.ring.next_seq());
        st.last_key_seq = None;
        drop(st);
        self.inner.changed.notify_waiters();
        self.inner.header_tx.send_replace(Some(header));
    }

    /// Publishes one ASF data packet to every player; `key_frame` says a player can start
    /// decoding at it. Never blocks and never waits for a player.
    pub fn publish(&self, packet: Bytes, key_frame: bool) {
        let mut guard = self.lock();
        let st = &mut *guard;
        st.stats.packets += 1;
        st.stats.bytes += packet.len() as u64;
        // Trust but verify the key-frame flag where the packet says otherwise: a join point
        // must begin a video key frame when the stream has video (a player starting at an
        // audio packet shows broken video until the next key frame). Unparseable packets
        // keep the caller's flag.
        let video = &st.video_streams;
        let key_frame = key_frame
            && (video.is_empty()
                || crate::push_sink::asf_packet::PacketView::parse(&packet, |s| {
                    video.contains(&s)
                })
                .map_or(true, |v| v.key_frame));
        let join = if key_frame {
            crate::push_sink::asf_packet::trim_before_key_frame(&packet, |s| video.contains(&s))
        } else {
            None
        };
        let seq = st.ring.next_seq();
        Self::push(
            st,
            SlotKind::Packet {
                data: packet,
                key: key_frame,
                join,
            },
        );
        if key_frame {
            st.join_seq = Some(seq);
            st.last_key_seq = Some(seq);
        }
        drop(guard);
        self.inner.changed.notify_waiters();
    }

    /// Ends the stream: every player gets [`HubItem::End`] (`$E(0)`, then close) once it
    /// has received what came before. New players are refused until the next header.
    pub fn end_of_stream(&self) {
        let mut st = self.lock();
        if st.header.is_none() {
            return;
        }
        Self::push(&mut st, SlotKind::End);
        st.header = None;
        st.join_seq = None;
        st.last_key_seq = None;
        drop(st);
        self.inner.changed.notify_waiters();
        self.inner.header_tx.send_replace(None);
    }

    /// Subscribes a player: it starts at the most recent key frame (see the module docs).
    /// Returns the header to send first with the subscription. Refused when nothing is
    /// live, `max_clients` are subscribed, or the delivery engine is overloaded.
    pub fn subscribe(
        &self,
        peer: Option<SocketAddr>,
        user_agent: Option<String>,
    ) -> Result<Subscription, SubscribeError> {
        let overloaded = self.inner.load.is_overloaded();
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
        if overloaded {
            st.stats.overload_refusals += 1;
            return Err(SubscribeError::Overloaded);
        }
        let head = st.ring.next_seq();
        let (cursor, waiting_key) = match st.join_seq {
            Some(j)
                if (head - j) as usize <= st.config.backlog_max_packets
                    && st.ring.total_bytes - st.ring.offset_before(j)
                        <= st.config.backlog_max_bytes as u64 =>
            {
                (j, false)
            }
            _ => (head, true),
        };
        let counters = Arc::new(ClientCounters::default());
        let id = st.next_id;
        st.next_id += 1;
        st.clients.insert(
            id,
            ClientEntry {
                counters: counters.clone(),
                peer,
                user_agent,
                since: Instant::now(),
            },
        );
        st.stats.subscriptions += 1;
        st.stats.clients = st.clients.len() as u64;
        Ok(Subscription {
            id,
            header,
            position: Mutex::new(Position {
                cursor,
                waiting_key,
                join_first: !waiting_key,
            }),
            counters,
            hub: Arc::downgrade(&self.inner),
            handed_over: false,
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
                since: c.since,
                packets: c.counters.packets.load(Ordering::Relaxed),
                bytes: c.counters.bytes.load(Ordering::Relaxed),
                drops: c.counters.drops.load(Ordering::Relaxed),
                lag_bytes: c.counters.lag_bytes.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Disconnects one player (closed without `$E`); false if it was not subscribed.
    pub fn disconnect(&self, id: u64) -> bool {
        let mut st = self.lock();
        let removed = st.clients.remove(&id);
        st.stats.clients = st.clients.len() as u64;
        drop(st);
        self.inner.changed.notify_waiters();
        removed
            .map(|c| c.counters.kicked.store(true, Ordering::Relaxed))
            .is_some()
    }

    /// Disconnects every player (new players may still subscribe).
    pub fn disconnect_all(&self) {
        let mut st = self.lock();
        let clients = std::mem::take(&mut st.clients);
        st.stats.clients = 0;
        drop(st);
        for c in clients.values() {
            c.counters.kicked.store(true, Ordering::Relaxed);
        }
        self.inner.changed.notify_waiters();
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

    /// The delivery engine's load monitor (shared with other hubs when configured so).
    pub fn load(&self) -> &Arc<DeliveryLoad> {
        &self.inner.load
    }

    /// Packets a late joiner would get now (from the join point to the newest packet; 0
    /// while joiners wait for a key frame).
    pub fn backlog_len(&self) -> usize {
        let st = self.lock();
        let head = st.ring.next_seq();
        match st.join_seq {
            Some(j) if st.header.is_some() => {
                let bytes = st.ring.total_bytes - st.ring.offset_before(j);
                let packets = (j..head)
                    .filter(|&s| {
                        st.ring
                            .get(s)
                            .is_some_and(|s| matches!(s.kind, SlotKind::Packet { .. }))
                    })
                    .count();
                if bytes <= st.config.backlog_max_bytes as u64
                    && packets <= st.config.backlog_max_packets
                {
                    packets
                } else {
                    0
                }
            }
            _ => 0,
        }
    }
}

/// A player's place in the ring.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    /// The next ring entry to deliver.
    pub(crate) cursor: u64,
    /// Packets are skipped (and counted) until a key-frame packet.
    pub(crate) waiting_key: bool,
    /// The packet at `cursor` is the player's first: use its trimmed join form.
    pub(crate) join_first: bool,
}

/// One player's place in the hub. Read it yourself with [`try_next`](Self::try_next) /
/// [`next`](Self::next), or hand it with its connection to the delivery engine
/// ([`serve_player`] does). Dropping it unsubscribes the player.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    header: Bytes,
    position: Mutex<Position>,
    counters: Arc<ClientCounters>,
    hub: Weak<HubInner>,
    /// Handed to the delivery engine, which unsubscribes the player when it is done.
    handed_over: bool,
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

    fn position(&self) -> MutexGuard<'_, Position> {
        self.position.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next item without waiting: `Some(Some(item))`, `Some(None)` when nothing new
    /// has been published, `None` once the player was disconnected (by the hub, or by the
    /// slow-player policy). Applies the slow-player policy like the delivery engine.
    pub fn try_next(&self) -> Option<Option<HubItem>> {
        if self.counters.kicked.load(Ordering::Relaxed) {
            return None;
        }
        let hub = self.hub.upgrade()?;
        let mut pos = self.position();
        let mut st = hub.lock();
        let st = &mut *st;
        loop {
            let head = st.ring.next_seq();
            let lag = st.ring.total_bytes - st.ring.offset_before(pos.cursor);
            self.counters.lag_bytes.store(lag, Ordering::Relaxed);
            if pos.cursor < st.ring.first_seq || lag > st.config.client_queue_bytes as u64 {
                let behind = packets_between(&st.ring, pos.cursor, head);
                match st.config.slow_client {
                    SlowClientPolicy::Disconnect => {
                        self.counters.drops.fetch_add(behind, Ordering::Relaxed);
                        self.counters.kicked.store(true, Ordering::Relaxed);
                        st.stats.drops += behind;
                        st.stats.slow_disconnects += 1;
                        st.clients.remove(&self.id);
                        st.stats.clients = st.clients.len() as u64;
                        return None;
                    }
                    SlowClientPolicy::SkipToKeyFrame => {
                        let target = st.last_key_seq.filter(|&k| k > pos.cursor);
                        let to = target.unwrap_or(head);
                        let skipped = packets_between(&st.ring, pos.cursor, to);
                        self.counters.drops.fetch_add(skipped, Ordering::Relaxed);
                        st.stats.drops += skipped;
                        pos.cursor = to;
                        pos.waiting_key = target.is_none();
                        pos.join_first = target.is_some();
                    }
                }
            }
            let Some(slot) = st.ring.get(pos.cursor) else {
                return Some(None);
            };
            pos.cursor += 1;
            match &slot.kind {
                SlotKind::Packet { data, key, join } => {
                    if pos.waiting_key && !key {
                        self.counters.drops.fetch_add(1, Ordering::Relaxed);
                        st.stats.drops += 1;
                        continue;
                    }
                    let first = pos.join_first || pos.waiting_key;
                    pos.waiting_key = false;
                    pos.join_first = false;
                    self.counters.packets.fetch_add(1, Ordering::Relaxed);
                    let packet = match join {
                        Some(j) if first => j.clone(),
                        _ => data.clone(),
                    };
                    return Some(Some(HubItem::Packet(packet)));
                }
                SlotKind::Header(h) => return Some(Some(HubItem::Header(h.clone()))),
                SlotKind::End => return Some(Some(HubItem::End)),
            }
        }
    }

    /// The next item, waiting for one; `None` once the player was disconnected. Cancel
    /// safe.
    pub async fn next(&self) -> Option<HubItem> {
        let hub = self.hub.upgrade()?;
        loop {
            let changed = hub.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.try_next() {
                Some(Some(item)) => return Some(item),
                None => return None,
                Some(None) => changed.await,
            }
        }
    }

    /// Ring entries between this player's position and the newest one.
    pub fn queued(&self) -> usize {
        let Some(hub) = self.hub.upgrade() else {
            return 0;
        };
        let cursor = self.position().cursor;
        let st = hub.lock();
        (st.ring.next_seq().saturating_sub(cursor)) as usize
    }

    /// Packets dropped for this player so far.
    pub fn drops(&self) -> u64 {
        self.counters.drops.load(Ordering::Relaxed)
    }

    pub(crate) fn hub_inner(&self) -> Option<Arc<HubInner>> {
        self.hub.upgrade()
    }

    pub(crate) fn into_parts(mut self) -> (u64, Position, Arc<ClientCounters>, Weak<HubInner>) {
        self.handed_over = true;
        let pos = *self.position();
        (self.id, pos, self.counters.clone(), self.hub.clone())
    }
}

/// Packets (not headers or ends) in ring entries `from..to`.
pub(crate) fn packets_between(ring: &Ring, from: u64, to: u64) -> u64 {
    (from.max(ring.first_seq)..to)
        .filter(|&s| {
            ring.get(s)
                .is_some_and(|s| matches!(s.kind, SlotKind::Packet { .. }))
        })
        .count() as u64
        + ring
            .first_seq
            .saturating_sub(from)
            .min(to.saturating_sub(from))
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.handed_over {
            return;
        }
        if let Some(inner) = self.hub.upgrade() {
            inner.forget(&[self.id]);
        }
    }
}

#[cfg(test)]
mod tests;
