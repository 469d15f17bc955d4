//! The Writer through its public API, with the kit's SimpleMux and RecordingSink: call order,
//! zero copy with one sink, sharing with several, late joiners, failures, new profiles,
//! statistics and pacing.

use std::time::Duration;

use bytes::Bytes;
use push_sink::testing::{FailingSink, RecordingSink, SimpleMux, SinkCall};
use push_sink::{Error, ManualClock, Sample, Writer, WriterConfig, WriterSink};

fn sample(stream: u16, t: u64, len: usize, key: bool) -> Sample {
    Sample {
        stream,
        presentation_time_ms: t,
        duration_ms: 40,
        key_frame: key,
        data: Bytes::from(vec![(t % 251) as u8; len]),
    }
}

/// 25 fps video with a key frame every 10 frames, audio every 40 ms.
fn media(frames: u64) -> Vec<Sample> {
    let mut v = Vec::new();
    for f in 0..frames {
        v.push(sample(
            1,
            f * 40,
            700 + (f as usize % 5) * 400,
            f.is_multiple_of(10),
        ));
        v.push(sample(2, f * 40, 300, true));
    }
    v
}

fn calls(log: &std::sync::Arc<std::sync::Mutex<Vec<SinkCall>>>) -> Vec<SinkCall> {
    log.lock().expect("log").clone()
}

fn data_units(calls: &[SinkCall]) -> Vec<(Bytes, push_sink::PacketInfo, usize, bool)> {
    calls
        .iter()
        .filter_map(|c| match c {
            SinkCall::DataUnit {
                packet,
                info,
                headroom,
                exclusive,
            } => Some((packet.clone(), *info, *headroom, *exclusive)),
            _ => None,
        })
        .collect()
}

#[test]
fn one_sink_gets_header_data_end_in_its_own_buffers() {
    let mut w = Writer::new(Box::new(SimpleMux::new(600)));
    let sink = RecordingSink::new(false, 4);
    let log = sink.log();
    w.add_sink(Box::new(sink));
    w.begin_writing().expect("begin");
    for s in media(20) {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    let c = calls(&log);
    assert!(
        matches!(c.first(), Some(SinkCall::Header(_))),
        "header first"
    );
    assert_eq!(c.last(), Some(&SinkCall::End));
    let units = data_units(&c);
    assert_eq!(units.len() as u64, w.packets_made());
    for (i, (packet, info, headroom, exclusive)) in units.iter().enumerate() {
        assert_eq!(packet.len(), 600);
        assert_eq!(info.index, i as u64);
        assert_eq!(*headroom, 4, "the sink's headroom is kept");
        assert!(*exclusive, "one sink: its own buffer, zero copy");
    }
    // Send times never go backwards.
    assert!(
        units
            .windows(2)
            .all(|w| w[0].1.send_time_ms <= w[1].1.send_time_ms)
    );
}

#[test]
fn several_sinks_share_one_copy_of_each_packet() {
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    let a = RecordingSink::new(false, 4);
    let b = RecordingSink::new(false, 12);
    let (la, lb) = (a.log(), b.log());
    w.add_sink(Box::new(a));
    w.add_sink(Box::new(b));
    w.begin_writing().expect("begin");
    for s in media(10) {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    let (ua, ub) = (data_units(&calls(&la)), data_units(&calls(&lb)));
    assert_eq!(ua.len(), ub.len());
    assert!(!ua.is_empty());
    for (x, y) in ua.iter().zip(&ub) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.0.as_ptr(), y.0.as_ptr(), "same bytes, not a copy");
        assert!(!x.3 && !y.3, "shared units");
        assert_eq!(x.2, 0);
    }
}

#[test]
fn late_joiner_gets_header_then_starts_at_a_key_frame() {
    let mut w = Writer::new(Box::new(SimpleMux::new(800)));
    w.add_sink(Box::new(RecordingSink::new(false, 0)));
    w.begin_writing().expect("begin");
    let all = media(40);
    for s in all[..25].iter().cloned() {
        w.write_sample(s).expect("sample");
    }
    let late = RecordingSink::new(false, 0);
    let log = late.log();
    let id = w.add_sink(Box::new(late));
    for s in all[25..].iter().cloned() {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    let c = calls(&log);
    assert!(
        matches!(c.first(), Some(SinkCall::Header(_))),
        "header at once"
    );
    let units = data_units(&c);
    assert!(!units.is_empty());
    assert!(units[0].1.key_frame, "first unit begins a key frame");
    assert!(units[0].1.index > 0);
    let report = w
        .sink_reports()
        .into_iter()
        .find(|r| r.id == id)
        .expect("report");
    assert!(report.skipped_waiting_for_key_frame > 0);
    assert_eq!(report.stats.packets, units.len() as u64);
}

#[test]
fn failing_sink_is_removed_and_reported_others_go_on() {
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    let good = RecordingSink::new(false, 0);
    let log = good.log();
    w.add_sink(Box::new(good));
    let bad = w.add_sink(Box::new(FailingSink::new(3)));
    w.begin_writing().expect("begin");
    for s in media(10) {
        w.write_sample(s)
            .expect("a sink failure is not a writer failure");
    }
    w.end_writing().expect("end");
    let failures = w.take_sink_failures();
    assert_eq!(failures.len(), 1);
    match &failures[0] {
        Error::SinkFailed { id, name, source } => {
            assert_eq!(*id, bad);
            assert_eq!(name, "failing sink");
            assert!(matches!(**source, Error::Disconnected(_)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(w.sinks().ids().len(), 1);
    assert!(w.remove_sink(bad).is_none());
    assert_eq!(data_units(&calls(&log)).len() as u64, w.packets_made());
}

#[test]
fn new_profile_is_announced_to_every_sink() {
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    let (a, b) = (RecordingSink::new(false, 0), RecordingSink::new(false, 0));
    let (la, lb) = (a.log(), b.log());
    w.add_sink(Box::new(a));
    w.add_sink(Box::new(b));
    w.begin_writing().expect("begin");
    w.write_sample(sample(1, 0, 100, true)).expect("sample");
    w.set_profile(Box::new(SimpleMux::audio_only(500)))
        .expect("new profile");
    w.write_sample(sample(2, 40, 100, true)).expect("sample");
    w.end_writing().expect("end");
    for log in [la, lb] {
        let c = calls(&log);
        let headers: Vec<_> = c
            .iter()
            .filter(|c| matches!(c, SinkCall::Header(_)))
            .collect();
        assert_eq!(headers.len(), 2, "both headers delivered");
        assert_ne!(headers[0], headers[1]);
        // The second header comes after the first profile's data and before the second's.
        let pos = c
            .iter()
            .rposition(|c| matches!(c, SinkCall::Header(_)))
            .expect("header");
        assert!(matches!(c[pos - 1], SinkCall::DataUnit { .. }));
        assert!(matches!(c[pos + 1], SinkCall::DataUnit { .. }));
    }
}

#[test]
fn call_order_misuse_is_an_error() {
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    assert!(matches!(
        w.write_sample(sample(1, 0, 10, true)),
        Err(Error::Misuse(_))
    ));
    assert!(matches!(w.end_writing(), Err(Error::Misuse(_))));
    w.begin_writing().expect("begin with no sinks is fine");
    assert!(matches!(w.begin_writing(), Err(Error::Misuse(_))));
    w.write_sample(sample(1, 0, 10, true))
        .expect("no sinks: packets go nowhere");
    w.end_writing().expect("end");
    // Writing again after the end.
    w.begin_writing().expect("second session");
    assert_eq!(w.packets_made(), 0);
    w.end_writing().expect("end");
}

#[test]
fn stream_statistics_count_samples_bytes_and_refusals() {
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    w.begin_writing().expect("begin");
    w.write_sample(sample(1, 0, 1000, true)).expect("video");
    w.write_sample(sample(2, 0, 200, true)).expect("audio");
    w.write_sample(sample(2, 40, 300, true)).expect("audio");
    assert!(
        w.write_sample(sample(9, 40, 300, true)).is_err(),
        "unknown stream refused"
    );
    let stats = w.stream_stats();
    let by = |n: u16| *stats.iter().find(|s| s.stream == n).expect("stream");
    assert_eq!((by(1).samples, by(1).bytes, by(1).dropped), (1, 1000, 0));
    assert_eq!((by(2).samples, by(2).bytes, by(2).dropped), (2, 500, 0));
    assert_eq!((by(9).samples, by(9).dropped), (0, 1));
}

#[test]
fn real_time_sink_is_paced_by_send_time_on_a_fake_clock() {
    let mut w = Writer::with_config(
        Box::new(SimpleMux::new(500)),
        WriterConfig::default().pacing_lead(Duration::ZERO),
    );
    let rt = RecordingSink::new(true, 0);
    let log = rt.log();
    w.add_sink(Box::new(rt));
    assert!(w.is_real_time());
    w.begin_writing().expect("begin");
    for f in 0..10u64 {
        w.write_sample(sample(2, f * 100, 100, true))
            .expect("sample");
    }
    assert_eq!(
        data_units(&calls(&log)).len(),
        0,
        "nothing delivered before the clock says so"
    );
    assert_eq!(w.queued_packets(), 10);
    let clock = ManualClock::new();
    let t0 = Duration::from_secs(50);
    clock.set(t0);
    use push_sink::Clock;
    // The first packet anchors the timeline and goes at once; the next is due 100 ms later.
    assert_eq!(w.deliver_due(clock.now()), Some(Duration::from_millis(100)));
    assert_eq!(data_units(&calls(&log)).len(), 1);
    clock.advance(Duration::from_millis(450));
    assert_eq!(w.deliver_due(clock.now()), Some(Duration::from_millis(50)));
    assert_eq!(data_units(&calls(&log)).len(), 5);
    clock.advance(Duration::from_secs(1));
    assert_eq!(w.deliver_due(clock.now()), None);
    assert_eq!(data_units(&calls(&log)).len(), 10);
    w.end_writing().expect("end");
}

#[test]
fn pacing_queue_is_bounded_when_nobody_delivers() {
    // 100 ms per packet, at most 1 s of send time or 4 packets' bytes queued.
    let mut w = Writer::with_config(
        Box::new(SimpleMux::new(500)),
        WriterConfig::default()
            .pacing_lead(Duration::ZERO)
            .pacing_bounds(Duration::from_secs(1), 100 * 500),
    );
    let rt = RecordingSink::new(true, 0);
    let log = rt.log();
    w.add_sink(Box::new(rt));
    w.begin_writing().expect("begin");
    for f in 0..100u64 {
        w.write_sample(sample(2, f * 100, 100, true))
            .expect("sample");
        // The newest minus the oldest send time stays within 1 s: 11 packets at most.
        assert!(w.queued_packets() <= 11, "{}", w.queued_packets());
    }
    assert_eq!(w.queued_packets(), 11);
    assert_eq!(w.early_packets(), 89);
    let units = data_units(&calls(&log));
    assert_eq!(units.len(), 89, "the oldest went to the sink early");
    // The byte bound holds too.
    let mut w = Writer::with_config(
        Box::new(SimpleMux::new(500)),
        WriterConfig::default().pacing_bounds(Duration::from_secs(3600), 4 * 500),
    );
    w.add_sink(Box::new(RecordingSink::new(true, 0)));
    w.begin_writing().expect("begin");
    for f in 0..50u64 {
        w.write_sample(sample(2, f * 100, 100, true))
            .expect("sample");
        assert!(w.queued_packets() <= 4);
    }
    assert_eq!(w.early_packets(), 46);
}

#[tokio::test]
async fn paced_writing_takes_real_time() {
    let mut w = Writer::with_config(
        Box::new(SimpleMux::new(500)),
        WriterConfig::default().pacing_lead(Duration::ZERO),
    );
    let rt = RecordingSink::new(true, 0);
    let log = rt.log();
    w.add_sink(Box::new(rt));
    let clock = push_sink::SystemClock::new();
    let start = std::time::Instant::now();
    w.begin_writing().expect("begin");
    for f in 0..5u64 {
        w.write_sample_paced(sample(2, f * 30, 100, true), &clock)
            .await
            .expect("sample");
    }
    w.end_writing_paced(&clock).await.expect("end");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(115),
        "paced over 120 ms of send time, took {took:?}"
    );
    assert!(took < Duration::from_secs(5));
    assert_eq!(data_units(&calls(&log)).len(), 5);
}

#[test]
fn writer_into_file_sink_writes_a_complete_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("w.asf");
    let mut w = Writer::new(Box::new(SimpleMux::new(1000)));
    let sink = push_sink::FileSink::create(&path).expect("create");
    w.add_sink(Box::new(sink));
    w.begin_writing().expect("begin");
    for s in media(50) {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    let report = &w.sink_reports()[0];
    assert_eq!(report.stats.packets, w.packets_made());
    let bytes = std::fs::read(&path).expect("read");
    let header_len = u64::from_le_bytes(bytes[16..24].try_into().expect("8")) as usize;
    let data_size = u64::from_le_bytes(
        bytes[header_len + 16..header_len + 24]
            .try_into()
            .expect("8"),
    );
    assert_eq!(data_size, 50 + w.packets_made() * 1000);
}

#[test]
fn sink_removed_mid_stream_gets_nothing_more() {
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    let a = RecordingSink::new(false, 0);
    let log = a.log();
    let id = w.add_sink(Box::new(a));
    w.begin_writing().expect("begin");
    w.write_sample(sample(1, 0, 100, true)).expect("sample");
    let mut back = w.remove_sink(id).expect("removed");
    assert_eq!(back.name(), "recording sink");
    w.write_sample(sample(1, 40, 100, true)).expect("sample");
    w.end_writing().expect("end");
    back.on_end_writing().expect("finish it ourselves");
    let c = calls(&log);
    assert_eq!(data_units(&c).len(), 1);
}

/// The writer, its sinks and its paced futures can move to other threads and tokio tasks.
#[test]
fn writer_and_paced_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_type<T: Send>() {}
    assert_send_type::<Writer>();
    assert_send_type::<push_sink::SinkSet>();
    assert_send_type::<push_sink::DataUnit>();
    assert_send_type::<push_sink::FileSink>();
    assert_send_type::<push_sink::FileSink<std::io::Cursor<Vec<u8>>>>();
    let mut w = Writer::new(Box::new(SimpleMux::new(500)));
    let clock = push_sink::SystemClock::new();
    w.begin_writing().expect("begin");
    let fut = w.write_sample_paced(sample(2, 0, 10, true), &clock);
    assert_send(&fut);
    drop(fut);
    let fut = w.end_writing_paced(&clock);
    assert_send(&fut);
}

/// A FileSink shared between the writer and the application: stop/start and the getters work
/// while writing (IWMWriterFileSink2 Stop/Start/GetFileSize on a sink the writer holds).
#[test]
fn shared_file_sink_handle_controls_a_running_file() {
    let sink = push_sink::SharedSink::new(push_sink::FileSink::new(
        std::io::Cursor::new(Vec::new()),
        push_sink::FileSinkConfig::default(),
    ));
    let mut w = Writer::new(Box::new(SimpleMux::new(800)));
    w.add_sink(Box::new(sink.clone()));
    w.begin_writing().expect("begin");
    let all = media(60);
    for s in all[..40].iter().cloned() {
        w.write_sample(s).expect("sample");
    }
    let written_before_stop = sink.lock().packet_count();
    assert!(written_before_stop > 0);
    sink.lock().stop();
    for s in all[40..80].iter().cloned() {
        w.write_sample(s).expect("sample");
    }
    assert_eq!(sink.lock().packet_count(), written_before_stop, "stopped");
    sink.lock().start();
    for s in all[80..].iter().cloned() {
        w.write_sample(s).expect("sample");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    // The writer's report locks the shared sink too: read it before taking our own lock.
    let reported = w.sink_reports()[0].stats;
    let s = sink.lock();
    assert!(s.is_closed());
    assert!(
        s.packet_count() > written_before_stop,
        "resumed at a key frame"
    );
    assert!(s.stats().drops > 0);
    assert_eq!(
        s.file_size(),
        s.get_ref().expect("out").get_ref().len() as u64
    );
    assert_eq!(reported, s.stats());
}
