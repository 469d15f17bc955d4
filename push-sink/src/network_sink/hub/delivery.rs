//! The delivery engine: a few sweeper tasks per hub write every player's share of the ring
//! in batched vectored writes (see the [hub documentation](super)).
//!
//! One sweeper owns a list of players (their sockets, positions and framing state). Each
//! sweep it copies the ring entries it does not have yet (reference counts only), then for
//! every player that is due forms the frames queued for it (per-player headers from a small
//! scratch buffer, shared packet bytes from the copy) and writes them with one
//! `try_write_vectored`. A write that the socket takes only in part keeps the rest of the
//! frame it cut (a few bytes of header and a view of the packet); frames formed but not
//! written are un-formed (positions and framing counters rewound), so the next sweep forms
//! them again. Nothing here waits for a player: a full socket is retried on the next sweep,
//! and a player that accepts nothing for its write timeout is dropped.

use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use push_protocol::pull_server::{FramerMark, PlayFramer};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::{
    ClientCounters, HubInner, Position, Ring, SlotKind, SlowClientPolicy, Subscription,
    packets_between,
};
use crate::error::Error;

/// Most frames in one vectored write (two buffers each; Linux takes 1,024 at most).
const MAX_FRAMES_PER_WRITE: usize = 480;
/// Sweeps without players before a sweeper ends (it is started again on demand).
const IDLE_SWEEPS_BEFORE_EXIT: u32 = 100;
/// Players served between two yields to the runtime.
const PLAYERS_PER_YIELD: usize = 64;

/// How the delivery engine batches writes and when it calls itself overloaded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// Sweeper tasks per hub; 0 = one per worker thread of the runtime.
    pub sweepers: usize,
    /// Time between two sweeps at light load (it grows with `max_delay`, see `busy_players`).
    pub sweep_interval: Duration,
    /// A player is written to once its oldest unsent packet is this old (or a whole batch
    /// is waiting), at light load. Larger means fewer, larger writes; players buffer
    /// seconds anyway.
    pub max_delay: Duration,
    /// The delay a sweeper with [`busy_players`](Self::busy_players) or more players
    /// batches to: between no players and that many, the delay grows linearly from
    /// `max_delay` to this, and the sweep interval with it in proportion. A busy server
    /// makes fewer, larger writes (fewer system calls, socket wake-ups and segments per
    /// byte); a quiet one keeps its players close to live.
    pub busy_max_delay: Duration,
    /// Players on one sweeper at which it batches at [`busy_max_delay`](Self::busy_max_delay).
    pub busy_players: usize,
    /// Most bytes in one vectored write to a player.
    pub batch_bytes: usize,
    /// Most writes to one player per sweep (a player catching up gets at most
    /// `batch_bytes` x this per sweep, so it cannot hold up the others).
    pub writes_per_sweep: usize,
    /// The load monitor the engine reports to and admission reads; share one between the
    /// hubs of a server. `None` gives every hub its own.
    pub load: Option<Arc<DeliveryLoad>>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            sweepers: 0,
            sweep_interval: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            busy_max_delay: Duration::from_millis(500),
            busy_players: 5000,
            batch_bytes: 64 * 1024,
            writes_per_sweep: 4,
            load: None,
        }
    }
}

impl DeliveryConfig {
    /// Sets the oldest age of an unsent packet before its player is written to.
    pub fn max_delay(mut self, delay: Duration) -> DeliveryConfig {
        self.max_delay = delay;
        self
    }

    /// Sets the delay of a busy sweeper and the player count at which it applies (see
    /// [`busy_max_delay`](Self::busy_max_delay)); `busy_max_delay` below `max_delay` is
    /// taken as `max_delay`.
    pub fn busy(mut self, delay: Duration, players: usize) -> DeliveryConfig {
        self.busy_max_delay = delay;
        self.busy_players = players;
        self
    }

    /// The (delay, sweep interval) of a sweeper serving `players`.
    fn pace(&self, players: usize) -> (Duration, Duration) {
        let busy = self.busy_max_delay.max(self.max_delay);
        let share = if self.busy_players == 0 {
            1.0
        } else {
            (players as f64 / self.busy_players as f64).min(1.0)
        };
        let delay = self.max_delay + (busy - self.max_delay).mul_f64(share);
        let scale = if self.max_delay.is_zero() {
            1.0
        } else {
            delay.as_secs_f64() / self.max_delay.as_secs_f64()
        };
        (delay, self.sweep_interval.mul_f64(scale))
    }

    /// Sets the time between sweeps.
    pub fn sweep_interval(mut self, interval: Duration) -> DeliveryConfig {
        self.sweep_interval = interval;
        self
    }

    /// Sets the number of sweeper tasks (0 = one per runtime worker).
    pub fn sweepers(mut self, sweepers: usize) -> DeliveryConfig {
        self.sweepers = sweepers;
        self
    }

    /// Shares a load monitor (admission control across hubs).
    pub fn load(mut self, load: Arc<DeliveryLoad>) -> DeliveryConfig {
        self.load = Some(load);
        self
    }
}

#[derive(Debug, Clone, Copy)]
struct SweeperLoad {
    /// Smoothed time from a sweep's scheduled start to its end.
    cycle: Duration,
    /// Smoothed share of the sweep interval spent sweeping (0.0 idle, 1.0 never resting).
    busy: f64,
    updated: Instant,
    players: usize,
}

/// What the delivery engines of one or more hubs measure about themselves: how long a sweep
/// takes from its scheduled start (runtime lateness included) to its end, and which share of
/// its interval a sweeper spends sweeping. When the cycle, smoothed, passes its threshold, the
/// server cannot keep its players at the live rate; when the busy share passes its limit, it
/// soon will not (a player admitted now adds work the engine has no room for). Either way
/// newcomers are refused ([`is_overloaded`](DeliveryLoad::is_overloaded)) and the admitted
/// players stay continuous.
#[derive(Debug)]
pub struct DeliveryLoad {
    threshold: Duration,
    max_busy: f64,
    sweepers: Mutex<HashMap<u64, SweeperLoad>>,
    next_id: AtomicUsize,
}

impl Default for DeliveryLoad {
    fn default() -> Self {
        DeliveryLoad::new()
    }
}

impl DeliveryLoad {
    /// A monitor that calls the engine overloaded past a smoothed sweep cycle of 400 ms
    /// (twice the default [`DeliveryConfig::max_delay`]) or sweepers busy 90 % of the time on average
    /// (the headroom left absorbs the players admitted while the figure catches up, and the
    /// connection work of newcomers).
    pub fn new() -> DeliveryLoad {
        DeliveryLoad::with_limits(Duration::from_millis(400), 0.9)
    }

    /// A monitor with another cycle threshold (and the default busy limit).
    pub fn with_threshold(threshold: Duration) -> DeliveryLoad {
        DeliveryLoad::with_limits(threshold, 0.9)
    }

    /// A monitor with a cycle threshold and a busy limit (share of a sweeper's time, e.g.
    /// 0.9; 1.0 or more turns that signal off: a sweeper never resting is then left to the
    /// cycle threshold).
    pub fn with_limits(threshold: Duration, max_busy: f64) -> DeliveryLoad {
        DeliveryLoad {
            threshold,
            max_busy,
            sweepers: Mutex::new(HashMap::new()),
            next_id: AtomicUsize::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, SweeperLoad>> {
        self.sweepers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) as u64
    }

    fn record(&self, id: u64, cycle: Duration, busy: f64, players: usize) {
        let mut map = self.lock();
        let now = Instant::now();
        let entry = map.entry(id).or_insert(SweeperLoad {
            cycle,
            busy,
            updated: now,
            players,
        });
        // The busy share: smoothed over about four sweeps (a fifth of a second when busy).
        entry.busy = (entry.busy * 3.0 + busy) / 4.0;
        // Exponential smoothing over about eight sweeps; a longer cycle counts at once
        // half, so a sudden overload is seen within a few sweeps.
        entry.cycle = if cycle > entry.cycle {
            (entry.cycle + cycle) / 2
        } else {
            (entry.cycle * 7 + cycle) / 8
        };
        entry.updated = now;
        entry.players = players;
    }

    fn forget(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// The load of the engines reporting now: the longest smoothed sweep cycle divided by
    /// the threshold, or the mean busy share of the sweepers divided by the busy limit,
    /// whichever is more. Below 1.0 the engine keeps up with room to spare. The busy share
    /// is a mean because one sweeper's thread can be slowed by another process on its core
    /// while the engine as a whole has room (and newcomers go to the least loaded sweeper).
    pub fn pressure(&self) -> f64 {
        let now = Instant::now();
        let map = self.lock();
        let live: Vec<&SweeperLoad> = map
            .values()
            .filter(|l| now.duration_since(l.updated) < Duration::from_secs(5))
            .collect();
        if live.is_empty() {
            return 0.0;
        }
        let cycle = live
            .iter()
            .map(|l| l.cycle.as_secs_f64() / self.threshold.as_secs_f64().max(1e-6))
            .fold(0.0, f64::max);
        if self.max_busy >= 1.0 {
            return cycle;
        }
        let busy = live.iter().map(|l| l.busy).sum::<f64>() / live.len() as f64;
        cycle.max(busy / self.max_busy.max(1e-6))
    }

    /// True when newcomers should be refused: some sweeper's smoothed cycle is over the
    /// threshold, or the sweepers' mean busy share over the limit.
    pub fn is_overloaded(&self) -> bool {
        self.pressure() > 1.0
    }

    /// Players held by the engines reporting to this monitor.
    pub fn players(&self) -> usize {
        self.lock().values().map(|l| l.players).sum()
    }

    /// Sweepers reporting to this monitor.
    pub fn sweepers(&self) -> usize {
        self.lock().len()
    }
}

/// How a delivered player's stream is framed on the wire.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlayerFraming {
    /// MS-WMSP (MMSH) Play: each packet as `$D` with this player's counters, header changes
    /// as `$C` + `$H`, the end as `$E(0)` (push-protocol's framer, taken from the accepted
    /// connection with `PullServerConnection::take_play_framer`).
    Wmsp(PlayFramer),
    /// A plain ASF byte stream over HTTP (`?format=asf`): packets back to back; a header
    /// change or the end closes the connection (a plain ASF stream has one header).
    PlainAsf,
}

/// The sweepers of one hub.
#[derive(Debug, Default)]
pub(crate) struct Engine {
    sweepers: Mutex<Vec<SweeperHandle>>,
}

#[derive(Debug)]
struct SweeperHandle {
    id: u64,
    tx: mpsc::UnboundedSender<Player>,
    players: Arc<AtomicUsize>,
}

impl Engine {
    fn lock(&self) -> MutexGuard<'_, Vec<SweeperHandle>> {
        self.sweepers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why the engine let a player go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// `$E(0)` (or the end of a plain stream) was written.
    Ended,
    /// The player closed its connection or it failed.
    Left,
    /// `disconnect`, `disconnect_all` or `close`.
    Kicked,
    /// Too far behind (slow-player policy Disconnect).
    Slow,
    /// Accepted nothing for its write timeout.
    TimedOut,
}

/// The state to rewind to when formed frames are not written.
#[derive(Debug, Clone, Copy)]
struct Mark {
    pos: Position,
    framer: Option<FramerMark>,
    dropped: u64,
}

struct Player {
    id: u64,
    stream: TcpStream,
    counters: Arc<ClientCounters>,
    pos: Position,
    framing: PlayerFraming,
    /// Bytes to write before any new frame: the rest of a frame a write cut, and control
    /// frames (`$C`/`$H`, `$E`).
    staged: VecDeque<Bytes>,
    /// The stream is over for this player once `staged` is written.
    closing: bool,
    /// Packets dropped for this player, counted as frames are formed.
    dropped: u64,
    /// Drops already reported to the counters.
    dropped_reported: u64,
    last_progress: Instant,
    write_timeout: Duration,
    /// Not written to yet: serve at the next sweep whatever its age.
    fresh: bool,
    done: Option<Outcome>,
    /// Whatever the caller wants dropped when the player is done (a connection permit,
    /// a player count).
    _keep: Option<Box<dyn Send>>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Player")
            .field("id", &self.id)
            .field("cursor", &self.pos.cursor)
            .field("staged", &self.staged.len())
            .field("done", &self.done)
            .finish()
    }
}

impl Subscription {
    /// Hands the player, whose response head and first header were already written to
    /// `stream`, to the hub's delivery engine, which writes it everything from its position
    /// on, framed as `framing`, until the stream ends, the player leaves, is disconnected,
    /// or accepts nothing for `write_timeout`. Returns at once. Needs a tokio runtime (the
    /// engine's sweepers run on it).
    pub fn deliver(
        self,
        stream: TcpStream,
        framing: PlayerFraming,
        write_timeout: Duration,
    ) -> Result<(), Error> {
        self.deliver_with(stream, framing, write_timeout, None)
    }

    /// [`deliver`](Subscription::deliver), keeping `keep` alive until the player is done
    /// (then it is dropped): a connection permit, a player count.
    pub fn deliver_with(
        self,
        stream: TcpStream,
        framing: PlayerFraming,
        write_timeout: Duration,
        keep: Option<Box<dyn Send>>,
    ) -> Result<(), Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Misuse("delivering a player needs a tokio runtime"))?;
        let Some(hub) = self.hub_inner() else {
            return Err(Error::Closed("the hub is gone"));
        };
        let (id, pos, counters, weak) = self.into_parts();
        let config = hub.lock().config.delivery.clone();
        let player = Player {
            id,
            stream,
            counters,
            pos,
            framing,
            staged: VecDeque::new(),
            closing: false,
            dropped: 0,
            dropped_reported: 0,
            last_progress: Instant::now(),
            write_timeout,
            fresh: true,
            done: None,
            _keep: keep,
        };
        let wanted = if config.sweepers == 0 {
            runtime.metrics().num_workers().max(1)
        } else {
            config.sweepers
        };
        let mut sweepers = hub.engine.lock();
        let mut player = Some(player);
        while let Some(p) = player.take() {
            // The least busy sweeper, or a new one while there are fewer than wanted and
            // every one has players.
            let least = sweepers
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.players.load(Ordering::Relaxed))
                .map(|(i, s)| (i, s.players.load(Ordering::Relaxed)));
            let index = match least {
                Some((i, n)) if n == 0 || sweepers.len() >= wanted => i,
                _ => {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let players = Arc::new(AtomicUsize::new(0));
                    let sweeper_id = hub.load.register();
                    runtime.spawn(run_sweeper(
                        weak.clone(),
                        sweeper_id,
                        rx,
                        players.clone(),
                        config.clone(),
                        hub.load.clone(),
                    ));
                    sweepers.push(SweeperHandle {
                        id: sweeper_id,
                        tx,
                        players,
                    });
                    sweepers.len() - 1
                }
            };
            let s = &sweepers[index];
            s.players.fetch_add(1, Ordering::Relaxed);
            if let Err(mpsc::error::SendError(back)) = s.tx.send(p) {
                // That sweeper ended: forget it and pick again.
                sweepers.remove(index);
                player = Some(back);
            }
        }
        Ok(())
    }
}

/// The sweeper's copy of the ring entries its players still need, and the hub's settings
/// that apply to them.
#[derive(Debug, Default)]
struct Mirror {
    ring: Ring,
    /// The hub ring's first entry at the last refresh (older ones are gone).
    ring_first: u64,
    last_key: Option<u64>,
    client_queue_bytes: u64,
    policy: SlowClientPolicy,
}

impl Mirror {
    fn end_seq(&self) -> u64 {
        self.ring.next_seq()
    }

    /// Copies the new ring entries (from `min_cursor` on) and the settings.
    fn refresh(&mut self, hub: &HubInner, min_cursor: u64) {
        let st = hub.lock();
        let ring = &st.ring;
        let want = min_cursor.max(ring.first_seq);
        if self.ring.slots.is_empty()
            || want < self.ring.first_seq
            || self.end_seq() < ring.first_seq
            || self.end_seq() > ring.next_seq()
        {
            self.ring.slots.clear();
            self.ring.first_seq = want;
        }
        for seq in self.end_seq()..ring.next_seq() {
            if let Some(slot) = ring.get(seq) {
                self.ring.slots.push_back(slot.clone());
            }
        }
        self.ring.total_bytes = ring.total_bytes;
        self.ring_first = ring.first_seq;
        self.last_key = st.last_key_seq;
        self.client_queue_bytes = st.config.client_queue_bytes as u64;
        self.policy = st.config.slow_client;
        drop(st);
        while self.ring.first_seq < want && !self.ring.slots.is_empty() {
            self.ring.slots.pop_front();
            self.ring.first_seq += 1;
        }
    }
}

/// Counts a sweep hands to the hub at its end.
#[derive(Debug, Default)]
struct SweepTally {
    drops: u64,
    slow_disconnects: u64,
}

/// Reused buffers of one sweeper.
#[derive(Debug, Default)]
struct Scratch {
    heads: Vec<[u8; 12]>,
    frames: Vec<Frame>,
    owned: Vec<Bytes>,
}

/// Where a frame's body comes from.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// A ring entry's packet (its join form when `join`).
    Slot { seq: u64, join: bool },
    /// A packet made for this player (payloads filtered), in `Scratch::owned`.
    Owned(usize),
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    /// State before this frame was formed.
    before: Mark,
    head: Option<usize>,
    body: Body,
    len: usize,
}

fn body_bytes<'a>(body: Body, mirror: &'a Mirror, owned: &'a [Bytes]) -> &'a Bytes {
    static EMPTY: Bytes = Bytes::new();
    match body {
        Body::Owned(i) => &owned[i],
        Body::Slot { seq, join } => match mirror.ring.get(seq).map(|s| &s.kind) {
            Some(SlotKind::Packet {
                join: Some(j),
                data: _,
                key: _,
            }) if join => j,
            Some(SlotKind::Packet { data, .. }) => data,
            _ => &EMPTY,
        },
    }
}

async fn run_sweeper(
    hub: Weak<HubInner>,
    id: u64,
    mut rx: mpsc::UnboundedReceiver<Player>,
    assigned: Arc<AtomicUsize>,
    config: DeliveryConfig,
    load: Arc<DeliveryLoad>,
) {
    let mut players: Vec<Player> = Vec::new();
    let mut mirror = Mirror::default();
    let mut scratch = Scratch::default();
    let mut next = tokio::time::Instant::now();
    let mut idle = 0u32;
    loop {
        // The pace follows the number of players (see `DeliveryConfig::busy_max_delay`);
        // a late sweep is not made up for (the next one is a whole interval later).
        let (delay, period) = config.pace(players.len());
        tokio::time::sleep_until(next).await;
        let scheduled = next.into_std();
        let began = Instant::now();
        let mut yielded = Duration::ZERO;
        let now = tokio::time::Instant::now();
        next = if next + period < now {
            now + period
        } else {
            next + period
        };
        loop {
            match rx.try_recv() {
                Ok(p) => players.push(p),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    // The hub is gone: dropping the players closes their connections.
                    load.forget(id);
                    return;
                }
            }
        }
        let Some(inner) = hub.upgrade() else {
            load.forget(id);
            return;
        };
        if players.is_empty() {
            idle += 1;
            if idle >= IDLE_SWEEPS_BEFORE_EXIT {
                let mut sweepers = inner.engine.lock();
                // Under the engine's lock nobody can hand this sweeper a player.
                match rx.try_recv() {
                    Ok(p) => players.push(p),
                    Err(_) => {
                        sweepers.retain(|s| s.id != id);
                        drop(sweepers);
                        load.forget(id);
                        return;
                    }
                }
            } else {
                load.record(id, Duration::ZERO, 0.0, 0);
                continue;
            }
        }
        idle = 0;
        let min_cursor = players.iter().map(|p| p.pos.cursor).min().unwrap_or(0);
        mirror.refresh(&inner, min_cursor);
        let mut tally = SweepTally::default();
        for (i, player) in players.iter_mut().enumerate() {
            let now = Instant::now();
            serve(
                player,
                &mirror,
                now,
                delay,
                &config,
                &mut scratch,
                &mut tally,
            );
            if (i + 1) % PLAYERS_PER_YIELD == 0 {
                // Time given to other tasks (a burst of newcomers' requests) is not this
                // sweeper's work: it is left out of the busy share.
                let paused = Instant::now();
                tokio::task::yield_now().await;
                yielded += paused.elapsed();
            }
        }
        let mut gone = Vec::new();
        players.retain(|p| match p.done {
            Some(outcome) => {
                tracing::debug!(player = p.id, ?outcome, "player done");
                gone.push(p.id);
                false
            }
            None => true,
        });
        if !gone.is_empty() || tally.drops > 0 {
            assigned.fetch_sub(gone.len(), Ordering::Relaxed);
            let mut st = inner.lock();
            for id in &gone {
                st.clients.remove(id);
            }
            st.stats.clients = st.clients.len() as u64;
            st.stats.drops += tally.drops;
            st.stats.slow_disconnects += tally.slow_disconnects;
        }
        drop(inner);
        let ended = Instant::now();
        let busy = ended
            .saturating_duration_since(began)
            .saturating_sub(yielded)
            .as_secs_f64()
            / period.as_secs_f64().max(1e-6);
        load.record(
            id,
            ended.saturating_duration_since(scheduled),
            busy.min(4.0),
            players.len(),
        );
    }
}

impl Player {
    fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            framer: match &self.framing {
                PlayerFraming::Wmsp(f) => Some(f.mark()),
                PlayerFraming::PlainAsf => None,
            },
            dropped: self.dropped,
        }
    }

    fn rewind(&mut self, mark: Mark) {
        self.pos = mark.pos;
        self.dropped = mark.dropped;
        if let (PlayerFraming::Wmsp(f), Some(m)) = (&mut self.framing, mark.framer) {
            f.rewind(m);
        }
    }

    /// False (and done) when the player closed its connection. Players send nothing
    /// after their request in non-pipelined mode; anything they send is read and dropped.
    fn check_open(&mut self) -> bool {
        let mut buf = [0u8; 256];
        for _ in 0..4 {
            match self.stream.try_read(&mut buf) {
                Ok(0) => {
                    self.done = Some(Outcome::Left);
                    return false;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => {
                    self.done = Some(Outcome::Left);
                    return false;
                }
            }
        }
        true
    }

    /// Stages a header change (or the end) for a player that skipped over it.
    fn stage_control(&mut self, kind: &SlotKind) {
        match (&mut self.framing, kind) {
            (_, SlotKind::Packet { .. }) => {}
            (PlayerFraming::Wmsp(f), SlotKind::Header(h)) => match f.change_header(h) {
                Ok(frames) => self.staged.extend(frames),
                Err(e) => {
                    tracing::debug!(player = self.id, error = %e, "unusable header change");
                    self.done = Some(Outcome::Left);
                }
            },
            (PlayerFraming::Wmsp(f), SlotKind::End) => {
                self.staged
                    .push_back(Bytes::copy_from_slice(&f.end_of_stream()));
                self.closing = true;
            }
            // A plain ASF stream cannot change its header: it ends.
            (PlayerFraming::PlainAsf, _) => self.closing = true,
        }
    }

    /// Applies the slow-player policy to a player too far behind.
    fn apply_policy(&mut self, m: &Mirror, tally: &mut SweepTally) {
        let head = m.end_seq();
        let lag = m.ring.total_bytes - m.ring.offset_before(self.pos.cursor);
        self.counters.lag_bytes.store(lag, Ordering::Relaxed);
        if self.pos.cursor >= m.ring_first && lag <= m.client_queue_bytes {
            return;
        }
        match m.policy {
            SlowClientPolicy::Disconnect => {
                let behind = packets_between(&m.ring, self.pos.cursor, head);
                self.dropped += behind;
                tally.slow_disconnects += 1;
                self.done = Some(Outcome::Slow);
            }
            SlowClientPolicy::SkipToKeyFrame => {
                let target = m.last_key.filter(|&k| k > self.pos.cursor);
                let to = target.unwrap_or(head);
                // Header changes and the end in the skipped range still reach the player.
                let mut header = None;
                let mut ended = false;
                for seq in self.pos.cursor.max(m.ring.first_seq)..to {
                    match m.ring.get(seq).map(|s| &s.kind) {
                        Some(k @ SlotKind::Header(_)) => header = Some(k),
                        Some(SlotKind::End) => ended = true,
                        _ => {}
                    }
                }
                self.dropped += packets_between(&m.ring, self.pos.cursor, to);
                if ended {
                    self.stage_control(&SlotKind::End);
                } else if let Some(h) = header {
                    self.stage_control(h);
                }
                self.pos = Position {
                    cursor: to,
                    waiting_key: target.is_none(),
                    join_first: target.is_some(),
                };
            }
        }
    }

    fn report_drops(&mut self, tally: &mut SweepTally) {
        let new = self.dropped - self.dropped_reported;
        if new > 0 {
            self.counters.drops.fetch_add(new, Ordering::Relaxed);
            tally.drops += new;
            self.dropped_reported = self.dropped;
        }
    }
}

/// Serves one player for one sweep.
fn serve(
    p: &mut Player,
    m: &Mirror,
    now: Instant,
    max_delay: Duration,
    config: &DeliveryConfig,
    scratch: &mut Scratch,
    tally: &mut SweepTally,
) {
    if p.counters.kicked.load(Ordering::Relaxed) {
        p.done = Some(Outcome::Kicked);
        return;
    }
    if !p.check_open() {
        return;
    }
    if !p.closing {
        p.apply_policy(m, tally);
    }
    let mut writes = 0;
    while p.done.is_none() && writes < config.writes_per_sweep.max(1) {
        // Control entries at the player's position become staged frames.
        while !p.closing
            && p.done.is_none()
            && let Some(slot) = m.ring.get(p.pos.cursor)
            && !matches!(slot.kind, SlotKind::Packet { .. })
        {
            p.pos.cursor += 1;
            p.stage_control(&slot.kind);
        }
        if p.done.is_some() {
            break;
        }
        let pending_packets = !p.closing && p.pos.cursor < m.end_seq();
        if p.staged.is_empty() && !pending_packets {
            if p.closing {
                p.done = Some(Outcome::Ended);
            }
            p.last_progress = now;
            break;
        }
        if writes == 0 && !p.fresh && p.staged.is_empty() {
            let waiting = m.ring.total_bytes - m.ring.offset_before(p.pos.cursor);
            let oldest = m.ring.get(p.pos.cursor).map(|s| s.at);
            let due = waiting >= config.batch_bytes as u64
                || oldest.is_some_and(|at| now.saturating_duration_since(at) >= max_delay);
            if !due {
                break;
            }
        }
        p.fresh = false;
        match write_once(p, m, config, scratch) {
            Written::All { more } => {
                p.last_progress = now;
                writes += 1;
                if !more {
                    // Skips alone, or everything pending written: look again only for
                    // staged control frames.
                    if p.staged.is_empty() && !(p.closing || control_at(m, p.pos.cursor)) {
                        break;
                    }
                }
            }
            Written::Part => {
                p.last_progress = now;
                break;
            }
            Written::Blocked => break,
            Written::Failed => p.done = Some(Outcome::Left),
        }
    }
    p.report_drops(tally);
    if p.done.is_none() && now.saturating_duration_since(p.last_progress) > p.write_timeout {
        tracing::debug!(
            player = p.id,
            "player accepted nothing for its write timeout"
        );
        p.done = Some(Outcome::TimedOut);
    }
}

fn control_at(m: &Mirror, seq: u64) -> bool {
    m.ring
        .get(seq)
        .is_some_and(|s| !matches!(s.kind, SlotKind::Packet { .. }))
}

enum Written {
    /// Everything formed was written; `more` when the batch was full.
    All { more: bool },
    /// The socket took only part.
    Part,
    /// The socket took nothing (full).
    Blocked,
    /// The connection failed.
    Failed,
}

/// Forms the player's next batch of frames and writes it in one vectored write.
fn write_once(
    p: &mut Player,
    m: &Mirror,
    config: &DeliveryConfig,
    scratch: &mut Scratch,
) -> Written {
    scratch.heads.clear();
    scratch.frames.clear();
    scratch.owned.clear();
    let staged_len: usize = p.staged.iter().map(Bytes::len).sum();
    let mut total = staged_len;
    let mut full = false;
    if !p.closing {
        while let Some(slot) = m.ring.get(p.pos.cursor) {
            if total >= config.batch_bytes || scratch.frames.len() >= MAX_FRAMES_PER_WRITE {
                full = true;
                break;
            }
            let SlotKind::Packet { data, key, join } = &slot.kind else {
                break;
            };
            let seq = p.pos.cursor;
            if p.pos.waiting_key && !key {
                p.pos.cursor += 1;
                p.dropped += 1;
                continue;
            }
            let before = p.mark();
            let use_join = (p.pos.join_first || p.pos.waiting_key) && join.is_some();
            p.pos.cursor += 1;
            p.pos.waiting_key = false;
            p.pos.join_first = false;
            let shared = if use_join {
                join.as_ref().unwrap_or(data)
            } else {
                data
            };
            let (head, body, body_len) = match &mut p.framing {
                PlayerFraming::Wmsp(f) => {
                    let (body, len) = if f.filters() {
                        match f.select(shared) {
                            Ok(Some(b)) => {
                                let len = b.len();
                                scratch.owned.push(b);
                                (Body::Owned(scratch.owned.len() - 1), len)
                            }
                            // No selected payload: skipped, not a drop.
                            Ok(None) => continue,
                            Err(_) => {
                                p.dropped += 1;
                                continue;
                            }
                        }
                    } else {
                        (
                            Body::Slot {
                                seq,
                                join: use_join,
                            },
                            shared.len(),
                        )
                    };
                    match f.data_head(len) {
                        Ok(h) => {
                            scratch.heads.push(h);
                            (Some(scratch.heads.len() - 1), body, len)
                        }
                        Err(_) => {
                            // Larger than one MMS packet: it cannot be framed.
                            p.dropped += 1;
                            continue;
                        }
                    }
                }
                PlayerFraming::PlainAsf => (
                    None,
                    Body::Slot {
                        seq,
                        join: use_join,
                    },
                    shared.len(),
                ),
            };
            let len = body_len + head.map_or(0, |_| 12);
            scratch.frames.push(Frame {
                before,
                head,
                body,
                len,
            });
            total += len;
        }
    }
    if total == 0 {
        // Only skipped packets: nothing to write, the skips stand.
        return Written::All { more: false };
    }
    let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(p.staged.len() + 2 * scratch.frames.len());
    for b in &p.staged {
        iov.push(IoSlice::new(b));
    }
    for f in &scratch.frames {
        if let Some(h) = f.head {
            iov.push(IoSlice::new(&scratch.heads[h]));
        }
        iov.push(IoSlice::new(body_bytes(f.body, m, &scratch.owned)));
    }
    let result = p.stream.try_write_vectored(&iov);
    drop(iov);
    let written = match result {
        Ok(0) => return Written::Failed,
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            if let Some(first) = scratch.frames.first() {
                p.rewind(first.before);
            }
            return Written::Blocked;
        }
        Err(_) => return Written::Failed,
    };
    p.counters
        .bytes
        .fetch_add(written as u64, Ordering::Relaxed);
    let mut left = written;
    while left > 0 {
        let Some(front) = p.staged.front_mut() else {
            break;
        };
        if left >= front.len() {
            left -= front.len();
            p.staged.pop_front();
        } else {
            front.advance(left);
            left = 0;
        }
    }
    let mut packets = 0u64;
    let mut cut = None;
    for (i, f) in scratch.frames.iter().enumerate() {
        if left >= f.len {
            left -= f.len;
            packets += 1;
            continue;
        }
        if left > 0 {
            // Cut inside this frame: keep its rest for the next write.
            packets += 1;
            let mut off = left;
            if let Some(h) = f.head {
                if off < 12 {
                    p.staged
                        .push_back(Bytes::copy_from_slice(&scratch.heads[h][off..]));
                    off = 0;
                } else {
                    off -= 12;
                }
            }
            let body = body_bytes(f.body, m, &scratch.owned);
            p.staged.push_back(body.slice(off..));
            cut = scratch.frames.get(i + 1).map(|n| n.before);
        } else {
            cut = Some(f.before);
        }
        break;
    }
    p.counters.packets.fetch_add(packets, Ordering::Relaxed);
    if written < total {
        if let Some(mark) = cut {
            p.rewind(mark);
        }
        return Written::Part;
    }
    Written::All { more: full }
}

#[cfg(test)]
mod pace_tests {
    use super::*;

    #[test]
    fn the_pace_grows_with_the_players_up_to_the_busy_delay() {
        let c = DeliveryConfig::default();
        let ms = |d: Duration| d.as_millis();
        let (d0, s0) = c.pace(0);
        assert_eq!((ms(d0), ms(s0)), (200, 20));
        let (d1, s1) = c.pace(2500);
        assert_eq!((ms(d1), ms(s1)), (350, 35));
        for players in [5000, 50_000] {
            let (d, s) = c.pace(players);
            assert_eq!((ms(d), ms(s)), (500, 50), "{players} players");
        }
        // A busy delay below the light one, or no busy count, never shortens anything.
        let flat = DeliveryConfig::default().busy(Duration::from_millis(50), 0);
        assert_eq!(ms(flat.pace(10).0), 200);
        let zero = DeliveryConfig::default()
            .max_delay(Duration::ZERO)
            .busy(Duration::ZERO, 10);
        assert_eq!(zero.pace(10), (Duration::ZERO, Duration::from_millis(20)));
    }

    #[test]
    fn a_sweeper_busy_most_of_its_interval_refuses_newcomers() {
        let load = DeliveryLoad::new();
        let id = load.register();
        // Short cycles, little work: room to spare.
        for _ in 0..20 {
            load.record(id, Duration::from_millis(5), 0.3, 100);
        }
        assert!(!load.is_overloaded(), "pressure {}", load.pressure());
        // Still short cycles (the engine keeps up), but busy 95 % of the time: no room
        // for more players, so newcomers are refused before anyone stalls.
        for _ in 0..20 {
            load.record(id, Duration::from_millis(45), 0.95, 10_000);
        }
        assert!(load.is_overloaded(), "pressure {}", load.pressure());
        // The busy signal can be turned off.
        let lenient = DeliveryLoad::with_limits(Duration::from_millis(400), 1.0);
        let id = lenient.register();
        for _ in 0..20 {
            lenient.record(id, Duration::from_millis(45), 2.0, 10_000);
        }
        assert!(!lenient.is_overloaded());
    }
}
