//! [`QueuedSink`]: puts any [`WriterSink`] behind its own bounded queue and worker, so a sink
//! that blocks (a slow disk, a relay whose server accepts TCP and never answers, a third
//! party's writer) delays only itself, never the caller or the caller's other sinks.
//!
//! # What the caller sees
//!
//! `on_header`, `on_data_unit` and `on_end_writing` only queue and return: they never block,
//! never do IO and never wait for the inner sink. The queue is bounded in bytes of packets and
//! in items ([`QueuedSinkConfig::max_bytes`], [`QueuedSinkConfig::max_items`]), counting the
//! batch the worker is writing. **Drop policy**: a packet that does not fit is dropped, and so
//! is every packet after it until the next one that begins a key frame
//! ([`PacketInfo::key_frame`](crate::PacketInfo::key_frame)) and fits, so the inner sink
//! always resumes where a player can start. Headers and the end are never dropped: a header
//! queued right after a header replaces it, an end right after an end is one end, so they stay
//! bounded too. Every dropped packet is counted ([`SinkStats::drops`],
//! [`QueuedStatus::drops`]).
//!
//! # The worker
//!
//! The inner sink is *made* by the worker, from a factory ([`MakeSink`]), so opening a file on
//! a slow disk or connecting a relay never runs on the caller either. The worker is a task on
//! the tokio runtime that was current when the [`QueuedSink`] was made (`tokio::spawn`); every
//! call into the factory or the inner sink runs on that runtime's blocking pool
//! (`spawn_blocking`), a batch of queued items (at most 64 items, 256 KiB of packets) per
//! call. Why both: the [`WriterSink`] contract is synchronous and its implementations may
//! block (a `FileSink` writes with `std::io`), which must not happen on an async worker thread;
//! and an idle output, or one waiting out its backoff, should hold no thread at all, which a
//! plain blocking thread per output would.
//!
//! # Failures and retries
//!
//! When making the sink fails, or the inner sink returns `Err`, the sink is dropped and made
//! again after an exponential backoff ([`ReconnectPolicy`]: first delay, largest delay, most
//! consecutive failures); each new attempt counts one [`QueuedStatus::reconnects`]. While it
//! waits, packets are dropped at once (they would be stale by the time a sink exists) and what
//! was queued is dropped too; headers and the end are kept. The new sink gets the current
//! header first and then data from the next packet that begins a key frame. When the policy
//! gives up, the state is [`OutputState::Failed`] and the caller's calls return `Err` from then
//! on (a [`SinkSet`](crate::SinkSet) then removes the sink and reports it).
//!
//! # Ending
//!
//! `on_end_writing` queues the end and returns at once. The worker hands it to the inner sink
//! (a `FileSink` writes its index and fixes its header up then) and drops the inner sink; a
//! later `on_header` makes a new one. [`QueuedSink::finish`] (or [`QueuedHandle::finish`])
//! waits, bounded, until everything queued before it was handled: shutdown uses it to let
//! archives be finalised. Dropping the [`QueuedSink`] stops the worker: it finishes the call in
//! progress (if any), handles nothing more and drops the inner sink on the blocking pool.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use std::time::Duration;
//! use push_sink::queued::{QueuedSink, QueuedSinkConfig, OutputState};
//! use push_sink::testing::{RecordingSink, SyntheticStream};
//! use push_sink::{DataUnit, WriterSink};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let recording = RecordingSink::new(false, 0);
//! let log = recording.log();
//! let mut slot = Some(recording);
//! let mut sink = QueuedSink::new(
//!     "recorder",
//!     QueuedSinkConfig::default(),
//!     Box::new(move || slot.take().map(|s| Box::new(s) as _).ok_or(push_sink::Error::Closed("made once"))),
//! )?;
//! let stream = SyntheticStream::new(512, 10);
//! sink.on_header(&stream.header)?;
//! for i in 0..stream.len() {
//!     // Returns at once, whatever the inner sink does.
//!     sink.on_data_unit(DataUnit::shared(stream.packets[i].clone(), stream.infos[i]))?;
//! }
//! sink.on_end_writing()?;
//! assert!(sink.finish(Duration::from_secs(5)).await, "handled in time");
//! assert_eq!(sink.status().state, OutputState::Ended);
//! assert_eq!(sink.status().packets_written, 10);
//! assert_eq!(log.lock().unwrap().len(), 12); // header, 10 packets, end
//! # Ok::<(), push_sink::Error>(())
//! # }).unwrap();
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, watch};

use crate::error::{Error, SinkError};
use crate::push_sink::ReconnectPolicy;
use crate::sink::{DataUnit, SinkStats, WriterSink};

/// Makes the inner sink of a [`QueuedSink`]; called on the blocking pool, again after every
/// failure (with backoff) and for every stream after an end.
pub type MakeSink = Box<dyn FnMut() -> Result<Box<dyn WriterSink>, SinkError> + Send>;

/// Most queued items handed to the inner sink in one blocking-pool call.
const BATCH_ITEMS: usize = 64;
/// Most packet bytes handed to the inner sink in one blocking-pool call (at least one item).
const BATCH_BYTES: usize = 256 * 1024;

/// Settings of a [`QueuedSink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueuedSinkConfig {
    /// Most bytes of packets queued, the batch being written included (default 8 MiB).
    pub max_bytes: usize,
    /// Most items queued, the batch being written included (default 16,384).
    pub max_items: usize,
    /// Backoff between attempts to make the inner sink again after a failure (default: 250 ms
    /// doubling to 8 s, at most 10 consecutive failures; `enabled: false`: the first failure is
    /// final).
    pub retry: ReconnectPolicy,
    /// What [`WriterSink::is_real_time`] answers (the inner sink does not exist yet when a
    /// writer asks). Default false.
    pub real_time: bool,
}

impl Default for QueuedSinkConfig {
    fn default() -> Self {
        QueuedSinkConfig {
            max_bytes: 8 * 1024 * 1024,
            max_items: 16 * 1024,
            retry: ReconnectPolicy::default(),
            real_time: false,
        }
    }
}

impl QueuedSinkConfig {
    /// Sets the queue bounds (each at least 1).
    pub fn queue_limits(mut self, max_bytes: usize, max_items: usize) -> Self {
        self.max_bytes = max_bytes.max(1);
        self.max_items = max_items.max(1);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: ReconnectPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets what [`WriterSink::is_real_time`] answers.
    pub fn real_time(mut self, real_time: bool) -> Self {
        self.real_time = real_time;
        self
    }
}

/// Where the worker of a [`QueuedSink`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputState {
    /// Making the inner sink (the first time, or again after a failure or an end).
    Connecting,
    /// The inner sink exists and takes what is queued.
    Live,
    /// Making or writing failed ([`QueuedStatus::last_error`]); waiting out the backoff.
    Retrying,
    /// The end was handed to the inner sink (or there was none to hand it to); idle until a
    /// new header.
    Ended,
    /// The retry policy gave up ([`QueuedStatus::last_error`]); the caller's calls fail.
    Failed,
    /// The [`QueuedSink`] was dropped; the worker is gone or about to be.
    Stopped,
}

impl OutputState {
    /// The state as a lower-case word (`connecting`, `live`, `retrying`, `ended`, `failed`,
    /// `stopped`), for status documents.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputState::Connecting => "connecting",
            OutputState::Live => "live",
            OutputState::Retrying => "retrying",
            OutputState::Ended => "ended",
            OutputState::Failed => "failed",
            OutputState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for OutputState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of a [`QueuedSink`]: richer than [`SinkStats`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueuedStatus {
    /// The sink's name.
    pub name: String,
    /// Where the worker is.
    pub state: OutputState,
    /// The last failure to make or write to the inner sink, if any (kept once live again).
    pub last_error: Option<String>,
    /// Bytes of packets queued or being written now.
    pub queued_bytes: usize,
    /// Items queued or being written now.
    pub queued_items: usize,
    /// Packets dropped: by the queue's policy, while retrying, to resume at a key frame, and
    /// by the inner sink's own policy (its [`SinkStats::drops`]).
    pub drops: u64,
    /// Attempts to make the inner sink again after a failure, plus the inner sink's own
    /// reconnects (its [`SinkStats::reconnects`]).
    pub reconnects: u64,
    /// Packets the inner sinks took (`on_data_unit` returned `Ok`).
    pub packets_written: u64,
    /// Bytes of those packets.
    pub bytes_written: u64,
}

#[derive(Debug)]
enum Item {
    Header(Bytes),
    Packet(DataUnit),
    End,
}

#[derive(Debug)]
struct Queued {
    /// Sequence number (1-based, in queue order).
    seq: u64,
    item: Item,
}

#[derive(Debug)]
struct State {
    items: VecDeque<Queued>,
    /// Packet bytes queued, the worker's batch included.
    bytes: usize,
    /// Items queued, the worker's batch included.
    count: usize,
    /// Caller side: dropping packets until a key frame that fits.
    skipping: bool,
    next_seq: u64,
    /// Every item with a sequence number up to this one was handled by the worker.
    handled: u64,
    state: OutputState,
    last_error: Option<String>,
    worker_gone: bool,
    // Caller-side counters (SinkStats).
    headers_in: u64,
    packets_in: u64,
    // Worker counters.
    drops: u64,
    reconnects: u64,
    packets_written: u64,
    bytes_written: u64,
    /// Stats of inner sinks already dropped, and of the current one.
    inner_retired: SinkStats,
    inner_now: SinkStats,
}

impl State {
    fn new() -> State {
        State {
            items: VecDeque::new(),
            bytes: 0,
            count: 0,
            skipping: false,
            next_seq: 1,
            handled: 0,
            state: OutputState::Connecting,
            last_error: None,
            worker_gone: false,
            headers_in: 0,
            packets_in: 0,
            drops: 0,
            reconnects: 0,
            packets_written: 0,
            bytes_written: 0,
            inner_retired: SinkStats::default(),
            inner_now: SinkStats::default(),
        }
    }

    fn push(&mut self, item: Item) {
        if let Item::Packet(u) = &item {
            self.bytes += u.len();
        }
        self.count += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.items.push_back(Queued { seq, item });
    }

    /// Removes the last queued item (not yet taken by the worker).
    fn pop_back(&mut self) {
        if let Some(q) = self.items.pop_back() {
            if let Item::Packet(u) = &q.item {
                self.bytes -= u.len();
            }
            self.count -= 1;
        }
    }

    /// Headers and ends: a header right after a header replaces it, a header right after
    /// [header, end] replaces both, an end right after an end is dropped. Markers are never
    /// dropped for space, and this keeps them bounded while nothing drains the queue.
    fn push_marker(&mut self, item: Item) {
        let last = self.items.back().map(|q| &q.item);
        let before_last = self.items.iter().rev().nth(1).map(|q| &q.item);
        match (last, &item) {
            (Some(Item::Header(_)), Item::Header(_)) => self.pop_back(),
            (Some(Item::End), Item::Header(_)) if matches!(before_last, Some(Item::Header(_))) => {
                self.pop_back();
                self.pop_back();
            }
            (Some(Item::End), Item::End) => return,
            _ => {}
        }
        self.push(item);
    }

    fn drops_total(&self) -> u64 {
        self.drops + self.inner_retired.drops + self.inner_now.drops
    }

    fn reconnects_total(&self) -> u64 {
        self.reconnects + self.inner_retired.reconnects + self.inner_now.reconnects
    }

    /// The current inner sink is gone: keep its counters.
    fn retire_inner(&mut self) {
        let now = std::mem::take(&mut self.inner_now);
        self.inner_retired.drops += now.drops;
        self.inner_retired.reconnects += now.reconnects;
    }
}

#[derive(Debug)]
struct Shared {
    name: String,
    state: Mutex<State>,
    /// Wakes the worker: something was queued, or stop.
    wake: Notify,
    /// Bumped whenever the worker handled items or changed state (for `finish`).
    progress: watch::Sender<u64>,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.progress.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn set_state(&self, state: OutputState, error: Option<String>) {
        let mut st = self.lock();
        if st.state != OutputState::Stopped {
            st.state = state;
        }
        if error.is_some() {
            st.last_error = error;
        }
        drop(st);
        self.bump();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn status(&self) -> QueuedStatus {
        let st = self.lock();
        QueuedStatus {
            name: self.name.clone(),
            state: st.state,
            last_error: st.last_error.clone(),
            queued_bytes: st.bytes,
            queued_items: st.count,
            drops: st.drops_total(),
            reconnects: st.reconnects_total(),
            packets_written: st.packets_written,
            bytes_written: st.bytes_written,
        }
    }

    /// Waits until every item queued before the call was handled, the worker is gone, or
    /// `timeout` passes. True unless the time ran out.
    async fn finish(&self, timeout: Duration) -> bool {
        let mut rx = self.progress.subscribe();
        let target = self.lock().next_seq - 1;
        let done = |st: &State| st.handled >= target || st.worker_gone;
        let wait = async {
            loop {
                if done(&self.lock()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        done(&self.lock())
    }
}

/// A cheap, clonable view of a [`QueuedSink`] for whoever does not own it (a status page, a
/// shutdown that waits for archives): its status, and a bounded wait for it to finish.
#[derive(Debug, Clone)]
pub struct QueuedHandle {
    shared: Arc<Shared>,
}

impl QueuedHandle {
    /// The sink's status now.
    pub fn status(&self) -> QueuedStatus {
        self.shared.status()
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// See [`QueuedSink::finish`].
    pub async fn finish(&self, timeout: Duration) -> bool {
        self.shared.finish(timeout).await
    }
}

/// A [`WriterSink`] that queues for an inner sink made and fed by its own worker. See the
/// [module documentation](self).
#[derive(Debug)]
pub struct QueuedSink {
    shared: Arc<Shared>,
    config: QueuedSinkConfig,
}

impl QueuedSink {
    /// A queued sink called `name` (its [`WriterSink::name`]) whose inner sink `make` makes.
    /// Must be called inside a tokio runtime: the worker and its blocking calls run there.
    /// The worker starts making the inner sink at once.
    pub fn new(
        name: impl Into<String>,
        config: QueuedSinkConfig,
        make: MakeSink,
    ) -> Result<QueuedSink, Error> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Misuse("QueuedSink::new needs a tokio runtime"))?;
        let (progress, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            name: name.into(),
            state: Mutex::new(State::new()),
            wake: Notify::new(),
            progress,
            stop: AtomicBool::new(false),
        });
        let worker = Worker {
            shared: shared.clone(),
            config,
            make: Some(make),
            header: None,
            failures: 0,
        };
        handle.spawn(worker.run());
        Ok(QueuedSink { shared, config })
    }

    /// A handle for status and [`finish`](QueuedHandle::finish) that does not keep the worker
    /// running (dropping the `QueuedSink` still stops it).
    pub fn handle(&self) -> QueuedHandle {
        QueuedHandle {
            shared: self.shared.clone(),
        }
    }

    /// The sink's status now.
    pub fn status(&self) -> QueuedStatus {
        self.shared.status()
    }

    /// Waits up to `timeout` until everything queued before this call was handled by the
    /// worker (written to the inner sink, or dropped by the policy), for example until an end
    /// queued by `on_end_writing` was handed to the inner sink. True when it was; false when
    /// the time ran out (the worker goes on).
    pub async fn finish(&self, timeout: Duration) -> bool {
        self.shared.finish(timeout).await
    }

    fn check_failed(&self, st: &State) -> Result<(), Error> {
        if st.state == OutputState::Failed {
            return Err(Error::custom(format!(
                "{} gave up: {}",
                self.shared.name,
                st.last_error.as_deref().unwrap_or("failed")
            )));
        }
        Ok(())
    }
}

impl Drop for QueuedSink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.lock().state = OutputState::Stopped;
        self.shared.wake.notify_one();
        self.shared.bump();
    }
}

impl WriterSink for QueuedSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), SinkError> {
        let mut st = self.shared.lock();
        self.check_failed(&st)?;
        st.headers_in += 1;
        st.push_marker(Item::Header(header.clone()));
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        self.config.real_time
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        let mut st = self.shared.lock();
        self.check_failed(&st)?;
        let len = unit.len();
        st.packets_in += 1;
        // No sink to write to: the packet would be stale by the time one exists.
        if st.state == OutputState::Retrying {
            st.drops += 1;
            return Ok(());
        }
        if st.skipping && !unit.is_key_frame() {
            st.drops += 1;
            return Ok(());
        }
        if st.bytes + len > self.config.max_bytes || st.count >= self.config.max_items {
            st.skipping = true;
            st.drops += 1;
            return Ok(());
        }
        st.skipping = false;
        st.push(Item::Packet(unit));
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        let mut st = self.shared.lock();
        self.check_failed(&st)?;
        st.push_marker(Item::End);
        drop(st);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        let st = self.shared.lock();
        let mut s = SinkStats::new();
        s.headers = st.headers_in;
        // Every packet taken is written, dropped or still queued: packets + drops +
        // queue_depth is what the caller gave (plus the inner sinks' own drops).
        s.packets = st.packets_written;
        s.bytes = st.bytes_written;
        s.queue_depth = st
            .packets_in
            .saturating_sub(st.drops)
            .saturating_sub(st.packets_written);
        s.drops = st.drops_total();
        s.reconnects = st.reconnects_total();
        s
    }

    fn name(&self) -> String {
        self.shared.name.clone()
    }
}

/// What one blocking-pool call over a batch did.
struct BatchOutcome {
    /// The inner sink, unless the batch ended it or it failed.
    sink: Option<Box<dyn WriterSink>>,
    /// Its counters after the batch (before it was dropped).
    inner: SinkStats,
    /// What the handled items held against the bounds, and the last one's sequence number.
    released: Released,
    /// Items of the batch not handled (after a failure, or when stopped).
    rest: Vec<Queued>,
    packets: u64,
    bytes: u64,
    /// Packets skipped to resume at a key frame.
    skipped: u64,
    /// Still waiting for a key frame after the batch.
    resume_at_key: bool,
    ended: bool,
    error: Option<String>,
}

/// Bytes, items and the last sequence number of some queued items.
#[derive(Debug, Clone, Copy, Default)]
struct Released {
    bytes: usize,
    count: usize,
    last_seq: u64,
    packets: u64,
}

impl Released {
    fn add(&mut self, q: &Queued) {
        if let Item::Packet(u) = &q.item {
            self.bytes += u.len();
            self.packets += 1;
        }
        self.count += 1;
        self.last_seq = self.last_seq.max(q.seq);
    }

    fn of(items: &[Queued]) -> Released {
        let mut r = Released::default();
        for q in items {
            r.add(q);
        }
        r
    }

    /// The items left the bounds and were handled.
    fn apply(self, st: &mut State) {
        st.bytes -= self.bytes;
        st.count -= self.count;
        st.handled = st.handled.max(self.last_seq);
    }
}

/// Writes `batch` to `sink` (on the blocking pool), moving each packet into it. Stops after
/// an end, a failure, or when the owner stopped the worker.
fn write_batch(
    mut sink: Box<dyn WriterSink>,
    batch: Vec<Queued>,
    resend: Option<Bytes>,
    mut resume_at_key: bool,
    stop: &AtomicBool,
) -> BatchOutcome {
    let mut out = BatchOutcome {
        sink: None,
        inner: SinkStats::default(),
        released: Released::default(),
        rest: Vec::new(),
        packets: 0,
        bytes: 0,
        skipped: 0,
        resume_at_key,
        ended: false,
        error: None,
    };
    let mut result = match &resend {
        Some(h) => sink.on_header(h),
        None => Ok(()),
    };
    let mut items = batch.into_iter();
    while result.is_ok() && !stop.load(Ordering::Acquire) {
        let Some(q) = items.next() else { break };
        out.released.add(&q);
        result = match q.item {
            Item::Header(h) => sink.on_header(&h),
            Item::Packet(u) if resume_at_key && !u.is_key_frame() => {
                out.skipped += 1;
                Ok(())
            }
            Item::Packet(u) => {
                resume_at_key = false;
                let len = u.len() as u64;
                let r = sink.on_data_unit(u);
                if r.is_ok() {
                    out.packets += 1;
                    out.bytes += len;
                }
                r
            }
            Item::End => {
                out.ended = true;
                sink.on_end_writing()
            }
        };
    }
    out.rest = items.collect();
    out.resume_at_key = resume_at_key;
    out.inner = sink.stats();
    match result {
        Ok(()) if !out.ended => out.sink = Some(sink),
        Ok(()) => {}
        Err(e) => out.error = Some(e.to_string()),
    }
    out
}

/// Why the worker waits.
enum Made {
    Sink(Box<dyn WriterSink>),
    Failed(String),
    Stopped,
}

struct Worker {
    shared: Arc<Shared>,
    config: QueuedSinkConfig,
    make: Option<MakeSink>,
    /// The last header taken from the queue: a re-made sink gets it first.
    header: Option<Bytes>,
    /// Consecutive failures.
    failures: u32,
}

impl Worker {
    async fn run(mut self) {
        let mut sink: Option<Box<dyn WriterSink>> = None;
        // The last stream ended: make no sink before the next header.
        let mut idle = false;
        // A re-made sink: resend the header, skip to a key frame.
        let mut remade = false;
        let mut resume_at_key = false;
        loop {
            if self.shared.stopped() {
                break;
            }
            if sink.is_none() {
                if idle {
                    if !self.wait_for_header().await {
                        break;
                    }
                    idle = false;
                }
                match self.make_sink().await {
                    Made::Sink(s) => {
                        sink = Some(s);
                        self.shared.set_state(OutputState::Live, None);
                        resume_at_key = remade;
                    }
                    Made::Stopped => break,
                    Made::Failed(e) => {
                        match self.after_failure(e).await {
                            AfterFailure::Retry => remade = true,
                            AfterFailure::Ended => {
                                idle = true;
                                remade = false;
                            }
                            AfterFailure::GiveUp | AfterFailure::Stopped => break,
                        }
                        continue;
                    }
                }
            }
            let Some(batch) = self.take_batch() else {
                self.shared.wake.notified().await;
                continue;
            };
            let resend = match batch.first() {
                Some(Queued {
                    item: Item::Header(_),
                    ..
                }) => None,
                _ if remade => self.header.clone(),
                _ => None,
            };
            remade = false;
            let Some(s) = sink.take() else { continue };
            let whole = Released::of(&batch);
            let shared = self.shared.clone();
            let joined = tokio::task::spawn_blocking(move || {
                write_batch(s, batch, resend, resume_at_key, &shared.stop)
            })
            .await;
            let Ok(out) = joined else {
                // The inner sink panicked with the batch: both are gone.
                {
                    let mut st = self.shared.lock();
                    st.drops += whole.packets;
                    whole.apply(&mut st);
                    st.retire_inner();
                }
                match self.after_failure("the sink panicked".into()).await {
                    AfterFailure::Retry => remade = true,
                    AfterFailure::Ended => idle = true,
                    AfterFailure::GiveUp | AfterFailure::Stopped => break,
                }
                continue;
            };
            resume_at_key = out.resume_at_key;
            self.settle(&out);
            sink = out.sink;
            match out.error {
                // The end itself failed: it was handed over all the same.
                Some(e) if out.ended => {
                    self.discard_items(out.rest);
                    self.shared.set_state(OutputState::Ended, Some(e));
                    idle = true;
                }
                Some(e) => {
                    // The rest of the batch is not written: dropped like the queue.
                    self.discard_items(out.rest);
                    match self.after_failure(e).await {
                        AfterFailure::Retry => remade = true,
                        AfterFailure::Ended => idle = true,
                        AfterFailure::GiveUp | AfterFailure::Stopped => break,
                    }
                }
                None => {
                    self.failures = 0;
                    if out.ended {
                        self.shared.set_state(OutputState::Ended, None);
                        idle = true;
                    }
                    // Stopped in the middle of the batch.
                    self.discard_items(out.rest);
                }
            }
        }
        if let Some(s) = sink.take() {
            // Dropping a sink may write (a file's buffer): not on an async worker thread.
            let _ = tokio::task::spawn_blocking(move || drop(s)).await;
        }
        let mut st = self.shared.lock();
        st.worker_gone = true;
        if st.state != OutputState::Failed {
            st.state = OutputState::Stopped;
        }
        drop(st);
        self.shared.bump();
    }

    /// Moves the next batch out of the queue (it still counts against the bounds until
    /// settled). `None` when the queue is empty. An end is always the last item of a batch.
    fn take_batch(&mut self) -> Option<Vec<Queued>> {
        let mut st = self.shared.lock();
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < BATCH_ITEMS {
            let next = match st.items.front() {
                None => break,
                Some(Queued {
                    item: Item::Packet(u),
                    ..
                }) => u.len(),
                Some(_) => 0,
            };
            if !batch.is_empty() && bytes + next > BATCH_BYTES {
                break;
            }
            bytes += next;
            let Some(q) = st.items.pop_front() else { break };
            let end = matches!(q.item, Item::End);
            if let Item::Header(h) = &q.item {
                self.header = Some(h.clone());
            }
            batch.push(q);
            if end {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    }

    /// Accounts for a written batch: counters, bounds, the handled sequence number.
    fn settle(&self, out: &BatchOutcome) {
        let mut st = self.shared.lock();
        st.packets_written += out.packets;
        st.bytes_written += out.bytes;
        st.drops += out.skipped;
        st.inner_now = out.inner;
        if out.sink.is_none() {
            st.retire_inner();
        }
        // The end was handed over: the state says so before `finish` can see it handled.
        if out.ended && st.state != OutputState::Stopped {
            st.state = OutputState::Ended;
            if let Some(e) = &out.error {
                st.last_error = Some(e.clone());
            }
        }
        out.released.apply(&mut st);
        drop(st);
        self.shared.bump();
    }

    /// Drops items that will not be written: packets count as drops, headers are remembered
    /// for the next sink. Returns true when an end was among them (the stream is over).
    fn discard_items(&mut self, items: Vec<Queued>) -> bool {
        if items.is_empty() {
            return false;
        }
        let mut st = self.shared.lock();
        let mut ended = false;
        let released = Released::of(&items);
        st.drops += released.packets;
        released.apply(&mut st);
        for q in items {
            match q.item {
                Item::Header(h) => self.header = Some(h),
                Item::End => ended = true,
                Item::Packet(_) => {}
            }
        }
        drop(st);
        self.shared.bump();
        ended
    }

    /// Drops everything queued now (see [`discard_items`](Self::discard_items)), up to and
    /// including the first end. True when there was an end.
    fn discard_queue(&mut self) -> bool {
        let taken: Vec<Queued> = {
            let mut st = self.shared.lock();
            let upto = st
                .items
                .iter()
                .position(|q| matches!(q.item, Item::End))
                .map_or(st.items.len(), |i| i + 1);
            st.items.drain(..upto).collect()
        };
        self.discard_items(taken)
    }

    /// Runs the factory on the blocking pool.
    async fn make_sink(&mut self) -> Made {
        self.shared.set_state(OutputState::Connecting, None);
        let Some(mut make) = self.make.take() else {
            return Made::Failed("the sink factory panicked earlier".into());
        };
        let joined = tokio::task::spawn_blocking(move || {
            let r = make();
            (make, r)
        })
        .await;
        match joined {
            Ok((make, r)) => {
                self.make = Some(make);
                if self.shared.stopped() {
                    if let Ok(s) = r {
                        let _ = tokio::task::spawn_blocking(move || drop(s)).await;
                    }
                    return Made::Stopped;
                }
                match r {
                    Ok(s) => Made::Sink(s),
                    Err(e) => Made::Failed(e.to_string()),
                }
            }
            Err(_) => Made::Failed("the sink factory panicked".into()),
        }
    }

    /// After a failure: drop what is queued, then wait out the backoff (or give up).
    async fn after_failure(&mut self, error: String) -> AfterFailure {
        tracing::warn!(output = %self.shared.name, error = %error, "output failed");
        self.failures += 1;
        let policy = self.config.retry;
        if !policy.enabled || self.failures > policy.max_attempts || self.make.is_none() {
            self.shared.set_state(OutputState::Failed, Some(error));
            self.discard_all();
            return AfterFailure::GiveUp;
        }
        self.shared.set_state(OutputState::Retrying, Some(error));
        if self.discard_queue() {
            self.shared.set_state(OutputState::Ended, None);
            return AfterFailure::Ended;
        }
        let deadline = tokio::time::Instant::now() + policy.delay(self.failures);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                () = self.shared.wake.notified() => {
                    if self.shared.stopped() {
                        return AfterFailure::Stopped;
                    }
                    // Headers are kept; an end finishes the stream without a sink.
                    if self.discard_queue() {
                        self.shared.set_state(OutputState::Ended, None);
                        return AfterFailure::Ended;
                    }
                }
            }
        }
        // What came during the backoff is dropped too: the new sink starts at a key frame.
        if self.discard_queue() {
            self.shared.set_state(OutputState::Ended, None);
            return AfterFailure::Ended;
        }
        self.shared.lock().reconnects += 1;
        AfterFailure::Retry
    }

    /// Failed for good: nothing queued will ever be written.
    fn discard_all(&mut self) {
        while !self.shared.lock().items.is_empty() {
            self.discard_queue();
        }
    }

    /// Idle after an end: waits for the next header (packets before it are dropped). False
    /// when stopped.
    async fn wait_for_header(&mut self) -> bool {
        loop {
            if self.shared.stopped() {
                return false;
            }
            let front_is_header = {
                let mut st = self.shared.lock();
                loop {
                    match st.items.front() {
                        Some(Queued {
                            item: Item::Header(_),
                            ..
                        }) => break true,
                        None => break false,
                        Some(_) => {
                            // A packet or an end with no stream: nothing to write it to.
                            let Some(q) = st.items.pop_front() else {
                                break false;
                            };
                            let released = Released::of(std::slice::from_ref(&q));
                            st.drops += released.packets;
                            released.apply(&mut st);
                        }
                    }
                }
            };
            self.shared.bump();
            if front_is_header {
                return true;
            }
            self.shared.wake.notified().await;
        }
    }
}

enum AfterFailure {
    Retry,
    Ended,
    GiveUp,
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_stay_bounded_while_nothing_drains() {
        let mut st = State::new();
        for _ in 0..1000 {
            st.push_marker(Item::Header(Bytes::from_static(b"h")));
            st.push_marker(Item::End);
            st.push_marker(Item::End);
        }
        assert_eq!(st.count, 2, "header + end");
        assert_eq!(st.items.len(), 2);
    }

    #[test]
    fn states_have_words() {
        assert_eq!(OutputState::Retrying.to_string(), "retrying");
        assert_eq!(OutputState::Live.as_str(), "live");
    }
}
