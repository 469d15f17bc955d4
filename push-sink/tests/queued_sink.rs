//! `QueuedSink`: a slow, blocking or failing inner sink never blocks the caller; drops,
//! key-frame resumption, retries, bounds, end and finish, through the public API only.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use push_sink::push_sink::ReconnectPolicy;
use push_sink::queued::{MakeSink, OutputState, QueuedSink, QueuedSinkConfig};
use push_sink::testing::{self, RecordingSink, SinkCall};
use push_sink::{DataUnit, Error, HubSink, PacketInfo, SinkSet, SinkStats, WriterSink};

const PACKET: usize = 1000;

/// Packet `i`: 1000 bytes, a key frame every 10th.
fn unit(i: u64) -> DataUnit {
    let info = PacketInfo {
        send_time_ms: i as u32 * 40,
        duration_ms: 40,
        index: i,
        key_frame: i.is_multiple_of(10),
    };
    DataUnit::shared(Bytes::from(vec![(i % 251) as u8; PACKET]), info)
}

fn header() -> Bytes {
    Bytes::from_static(b"the ASF header")
}

/// A gate the test opens; a sink waiting on it gives up after 20 s (so nothing can hang) and
/// records that it did.
#[derive(Clone, Default)]
struct Gate {
    inner: Arc<(Mutex<bool>, Condvar)>,
    timed_out: Arc<AtomicBool>,
}

impl Gate {
    fn open(&self) {
        *self.inner.0.lock().expect("gate") = true;
        self.inner.1.notify_all();
    }

    fn wait(&self) {
        let (m, cv) = &*self.inner;
        let guard = m.lock().expect("gate");
        let (guard, timeout) = cv
            .wait_timeout_while(guard, Duration::from_secs(20), |open| !*open)
            .expect("gate");
        if timeout.timed_out() && !*guard {
            self.timed_out.store(true, Ordering::SeqCst);
        }
    }
}

/// Records every call it takes, after waiting on the gate for each data unit.
struct GatedSink {
    gate: Gate,
    log: Arc<Mutex<Vec<SinkCall>>>,
    dropped: Arc<AtomicBool>,
}

impl WriterSink for GatedSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        self.log
            .lock()
            .expect("log")
            .push(SinkCall::Header(header.clone()));
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        self.gate.wait();
        let info = unit.info();
        self.log.lock().expect("log").push(SinkCall::DataUnit {
            headroom: unit.headroom(),
            exclusive: unit.is_exclusive(),
            packet: unit.into_packet(),
            info,
        });
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), Error> {
        self.log.lock().expect("log").push(SinkCall::End);
        Ok(())
    }
}

impl Drop for GatedSink {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

struct Rig {
    gate: Gate,
    log: Arc<Mutex<Vec<SinkCall>>>,
    made: Arc<AtomicU32>,
    dropped: Arc<AtomicBool>,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            gate: Gate::default(),
            log: Arc::default(),
            made: Arc::default(),
            dropped: Arc::default(),
        }
    }

    /// A factory of gated sinks sharing the rig's gate and log.
    fn factory(&self) -> MakeSink {
        let (gate, log, made, dropped) = (
            self.gate.clone(),
            self.log.clone(),
            self.made.clone(),
            self.dropped.clone(),
        );
        Box::new(move || {
            made.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(GatedSink {
                gate: gate.clone(),
                log: log.clone(),
                dropped: dropped.clone(),
            }) as Box<dyn WriterSink>)
        })
    }

    fn calls(&self) -> Vec<SinkCall> {
        self.log.lock().expect("log").clone()
    }

    /// Indexes of the data units the inner sinks got, in order.
    fn indexes(&self) -> Vec<u64> {
        self.calls()
            .iter()
            .filter_map(|c| match c {
                SinkCall::DataUnit { info, .. } => Some(info.index),
                _ => None,
            })
            .collect()
    }
}

fn fast_retry() -> ReconnectPolicy {
    ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_attempts: 10,
    }
}

/// Waits (bounded) until `cond` holds on the sink's status.
async fn wait_for(sink: &QueuedSink, what: &str, cond: impl Fn(&push_sink::QueuedStatus) -> bool) {
    let start = Instant::now();
    while !cond(&sink.status()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}: {:?}",
            sink.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_inner_sink_never_blocks_the_caller() {
    let rig = Rig::new();
    let mut sink =
        QueuedSink::new("gated", QueuedSinkConfig::default(), rig.factory()).expect("in a runtime");
    sink.on_header(&header()).expect("queued");
    for i in 0..2000 {
        sink.on_data_unit(unit(i)).expect("queued");
    }
    sink.on_end_writing().expect("queued");
    // Every call returned while the inner sink was stuck in its first data unit: it has taken
    // the header and nothing else yet.
    let written_while_blocked = rig.indexes().len();
    assert_eq!(
        written_while_blocked, 0,
        "the inner sink is still on its first unit"
    );
    assert!(
        !rig.gate.timed_out.load(Ordering::SeqCst),
        "the caller never waited"
    );
    let s = sink.status();
    assert_eq!(s.drops, 0, "8 MiB holds all 2000 packets");
    assert_eq!(
        s.queued_items, 2002,
        "header, 2000 packets and the end are counted until written"
    );
    wait_for(&sink, "the inner sink", |s| s.state == OutputState::Live).await;
    rig.gate.open();
    assert!(
        sink.finish(Duration::from_secs(10)).await,
        "drained in time"
    );
    assert_eq!(rig.indexes(), (0..2000).collect::<Vec<_>>());
    assert_eq!(rig.calls().last(), Some(&SinkCall::End));
    let s = sink.status();
    assert_eq!(
        (s.state, s.packets_written, s.drops),
        (OutputState::Ended, 2000, 0)
    );
    assert_eq!((s.queued_bytes, s.queued_items), (0, 0));
    assert_eq!(sink.stats().packets, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_until_a_key_frame_and_stays_in_its_bound() {
    let rig = Rig::new();
    let limit = 10 * PACKET;
    let config = QueuedSinkConfig::default().queue_limits(limit, 1000);
    let mut sink = QueuedSink::new("gated", config, rig.factory()).expect("in a runtime");
    sink.on_header(&header()).expect("queued");
    // Packet 0 goes to the stuck inner sink; 1..=9 fill the queue (the unit being written
    // counts against the bound); 10.. are dropped, key frames included, as nothing drains.
    wait_for(&sink, "the inner sink", |s| s.state == OutputState::Live).await;
    for i in 0..500 {
        sink.on_data_unit(unit(i)).expect("queued");
        assert!(
            sink.status().queued_bytes <= limit,
            "bound held at packet {i}"
        );
    }
    assert_eq!(sink.status().drops, 490);
    rig.gate.open();
    assert!(sink.finish(Duration::from_secs(10)).await);
    // Room again: 503..=509 are not key frames and still dropped; 510 resumes. Fed ten at
    // a time with a drain in between, so the 10-packet bound is never what drops them.
    for i in 503..530 {
        sink.on_data_unit(unit(i)).expect("queued");
        if i % 10 == 9 {
            assert!(sink.finish(Duration::from_secs(10)).await);
        }
    }
    assert!(sink.finish(Duration::from_secs(10)).await);
    let mut expected: Vec<u64> = (0..10).collect();
    expected.extend(510..530);
    assert_eq!(rig.indexes(), expected, "resumed at the key frame 510");
    let s = sink.status();
    assert_eq!(
        s.drops,
        490 + 7,
        "503..=509 dropped waiting for the key frame"
    );
    assert_eq!(s.packets_written, 30);
    assert_eq!(sink.stats().drops, s.drops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_within_the_item_bound_too() {
    let rig = Rig::new();
    let config = QueuedSinkConfig::default().queue_limits(usize::MAX, 16);
    let mut sink = QueuedSink::new("gated", config, rig.factory()).expect("in a runtime");
    sink.on_header(&header()).expect("queued");
    wait_for(&sink, "the inner sink", |s| s.state == OutputState::Live).await;
    for i in 0..10_000 {
        sink.on_data_unit(unit(i)).expect("queued");
        let s = sink.status();
        assert!(s.queued_items <= 16, "{s:?}");
        assert!(s.queued_bytes <= 16 * PACKET, "{s:?}");
    }
    assert!(sink.status().drops >= 10_000 - 16);
    rig.gate.open();
}

/// Fails to make its sink `failures` times, then makes recording sinks.
fn flaky_factory(failures: u32, log_out: Arc<Mutex<Vec<SinkCall>>>) -> MakeSink {
    let attempts = Arc::new(AtomicU32::new(0));
    Box::new(move || {
        if attempts.fetch_add(1, Ordering::SeqCst) < failures {
            return Err(Error::Disconnected("the disk is not there yet"));
        }
        let sink = LoggingSink {
            log: log_out.clone(),
            fail_at: None,
            calls: 0,
        };
        Ok(Box::new(sink) as Box<dyn WriterSink>)
    })
}

/// Logs calls into a shared log; fails at call `fail_at` (0-based) if set.
struct LoggingSink {
    log: Arc<Mutex<Vec<SinkCall>>>,
    fail_at: Option<u32>,
    calls: u32,
}

impl LoggingSink {
    fn call(&mut self, c: SinkCall) -> Result<(), Error> {
        let n = self.calls;
        self.calls += 1;
        if self.fail_at == Some(n) {
            return Err(Error::Disconnected("write failed on purpose"));
        }
        self.log.lock().expect("log").push(c);
        Ok(())
    }
}

impl WriterSink for LoggingSink {
    fn on_header(&mut self, h: &Bytes) -> Result<(), Error> {
        self.call(SinkCall::Header(h.clone()))
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        let info = unit.info();
        self.call(SinkCall::DataUnit {
            headroom: 0,
            exclusive: false,
            packet: unit.into_packet(),
            info,
        })
    }
    fn on_end_writing(&mut self) -> Result<(), Error> {
        self.call(SinkCall::End)
    }
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }
}

fn indexes(log: &Mutex<Vec<SinkCall>>) -> Vec<u64> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|c| match c {
            SinkCall::DataUnit { info, .. } => Some(info.index),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_failing_n_times_is_retried_and_the_sink_resumes_at_a_key_frame() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let config = QueuedSinkConfig::default().retry(fast_retry());
    let mut sink =
        QueuedSink::new("flaky", config, flaky_factory(3, log.clone())).expect("in a runtime");
    sink.on_header(&header()).expect("queued");
    wait_for(&sink, "the fourth attempt", |s| {
        s.state == OutputState::Live
    })
    .await;
    let s = sink.status();
    assert_eq!(s.reconnects, 3);
    assert!(
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("not there yet")),
        "{s:?}"
    );
    // Packets 5..=9 come before any key frame: the re-made sink starts at 10.
    for i in 5..40 {
        sink.on_data_unit(unit(i)).expect("queued");
    }
    sink.on_end_writing().expect("queued");
    assert!(sink.finish(Duration::from_secs(10)).await);
    let calls = log.lock().expect("log").clone();
    assert_eq!(
        calls.first(),
        Some(&SinkCall::Header(header())),
        "header again first"
    );
    assert_eq!(indexes(&log), (10..40).collect::<Vec<_>>());
    assert_eq!(calls.last(), Some(&SinkCall::End));
    let s = sink.status();
    assert_eq!((s.state, s.reconnects, s.drops), (OutputState::Ended, 3, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_remakes_the_sink_with_the_header_from_a_key_frame() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let made = Arc::new(AtomicU32::new(0));
    let factory: MakeSink = {
        let (log, made) = (log.clone(), made.clone());
        Box::new(move || {
            // The first sink fails at its 6th call (header + 4 packets written).
            let fail_at = (made.fetch_add(1, Ordering::SeqCst) == 0).then_some(5);
            Ok(Box::new(LoggingSink {
                log: log.clone(),
                fail_at,
                calls: 0,
            }) as Box<dyn WriterSink>)
        })
    };
    let config = QueuedSinkConfig::default().retry(fast_retry());
    let mut sink = QueuedSink::new("fails once", config, factory).expect("in a runtime");
    sink.on_header(&header()).expect("queued");
    for i in 0..5 {
        sink.on_data_unit(unit(i)).expect("queued");
    }
    wait_for(&sink, "the failure", |s| {
        s.reconnects == 1 && s.state == OutputState::Live
    })
    .await;
    for i in 5..25 {
        sink.on_data_unit(unit(i)).expect("queued");
    }
    assert!(sink.finish(Duration::from_secs(10)).await);
    let calls = log.lock().expect("log").clone();
    let headers: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, SinkCall::Header(_)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(headers, vec![0, 5], "the new sink got the header first");
    let mut expected: Vec<u64> = (0..4).collect();
    expected.extend(10..25);
    assert_eq!(
        indexes(&log),
        expected,
        "packet 4 failed; resumed at key frame 10"
    );
    assert_eq!(made.load(Ordering::SeqCst), 2);
    assert_eq!(sink.status().reconnects, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_is_queued_finish_is_bounded_and_a_new_header_makes_a_new_sink() {
    let rig = Rig::new();
    let mut sink =
        QueuedSink::new("gated", QueuedSinkConfig::default(), rig.factory()).expect("in a runtime");
    sink.on_header(&header()).expect("queued");
    sink.on_data_unit(unit(0)).expect("queued");
    sink.on_end_writing().expect("returns at once");
    assert!(
        !sink.finish(Duration::from_millis(200)).await,
        "the inner sink is stuck: finish gives up in time"
    );
    assert_ne!(sink.status().state, OutputState::Ended);
    rig.gate.open();
    assert!(sink.finish(Duration::from_secs(10)).await);
    assert_eq!(sink.status().state, OutputState::Ended);
    assert_eq!(rig.calls().last(), Some(&SinkCall::End));
    assert!(
        rig.dropped.load(Ordering::SeqCst),
        "ended sinks are dropped"
    );
    // The next stream: a new inner sink (a new file, a new session).
    sink.on_header(&header()).expect("queued");
    sink.on_data_unit(unit(10)).expect("queued");
    assert!(sink.finish(Duration::from_secs(10)).await);
    assert_eq!(rig.made.load(Ordering::SeqCst), 2);
    assert_eq!(rig.indexes(), vec![0, 10]);
    assert_eq!(sink.status().reconnects, 0, "an end is not a failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_sink_stops_the_worker() {
    let rig = Rig::new();
    let mut sink =
        QueuedSink::new("gated", QueuedSinkConfig::default(), rig.factory()).expect("in a runtime");
    let handle = sink.handle();
    sink.on_header(&header()).expect("queued");
    for i in 0..100 {
        sink.on_data_unit(unit(i)).expect("queued");
    }
    wait_for(&sink, "the inner sink", |s| s.state == OutputState::Live).await;
    drop(sink);
    rig.gate.open();
    assert!(
        handle.finish(Duration::from_secs(10)).await,
        "the worker ends"
    );
    let start = Instant::now();
    while !rig.dropped.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "inner sink dropped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(handle.status().state, OutputState::Stopped);
    assert!(
        rig.indexes().len() < 100,
        "nothing more is written after the drop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_fails_the_calls_and_the_sink_set_removes_it() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let config = QueuedSinkConfig::default().retry(ReconnectPolicy {
        max_attempts: 2,
        ..fast_retry()
    });
    let sink = QueuedSink::new("hopeless", config, flaky_factory(u32::MAX, log)).expect("runtime");
    let handle = sink.handle();
    let mut set = SinkSet::new();
    set.add(Box::new(sink));
    let start = Instant::now();
    while handle.status().state != OutputState::Failed {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            handle.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(handle.status().reconnects, 2);
    set.announce_header(header());
    let failures = set.take_failures();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].to_string().contains("not there yet"),
        "{}",
        failures[0]
    );
    assert!(set.is_empty());
}

#[test]
fn outside_a_runtime_it_is_a_clear_error() {
    let rig = Rig::new();
    let err =
        QueuedSink::new("x", QueuedSinkConfig::default(), rig.factory()).expect_err("no runtime");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[test]
fn queued_and_hub_sinks_conform() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _inside = rt.enter();
    testing::run_all(&mut || {
        let mut one = Some(RecordingSink::new(false, 0));
        let make: MakeSink = Box::new(move || {
            one.take()
                .map(|s| Box::new(s) as Box<dyn WriterSink>)
                .ok_or(Error::Closed("made once"))
        });
        Box::new(QueuedSink::new("recorder", QueuedSinkConfig::default(), make).expect("runtime"))
    })
    .assert_ok();
    testing::run_all(&mut || {
        Box::new(HubSink::new(push_sink::hub::BroadcastHub::new(
            push_sink::hub::HubConfig::default(),
        )))
    })
    .assert_ok();
}
