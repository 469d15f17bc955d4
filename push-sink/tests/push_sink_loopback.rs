//! PushSink against push-protocol's `PushServer` over loopback sockets (the harness in
//! `push_sink_support`): header once, every packet once and in order (padding stripped),
//! `$E(0)` at the end; template and auto-destroy as sent; Basic and Digest; resume by push-id
//! after a killed connection; a stalled server keeps memory bounded and drops counted; the
//! documented errors.

mod push_sink_support;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use push_sink::push_sink::asf_packet::strip_padding;
use push_sink::push_sink::{
    AuthScheme, Credentials, PushError, PushSink, PushSinkConfig, PushStatus, ReconnectPolicy,
};
use push_sink::testing::{self, SyntheticStream};
use push_sink::{DataUnit, WriterSink};
use push_sink_support::{Harness as PushServer, Seen, ServerConfig, data, headers};

fn sink(config: PushSinkConfig) -> PushSink {
    PushSink::new(config).expect("sink")
}

/// Feeds `stream` through allocate_data_unit (zero-copy path) and on_data_unit.
fn feed(sink: &mut PushSink, stream: &SyntheticStream, range: std::ops::Range<usize>) {
    for i in range {
        let buf = sink.allocate_data_unit(stream.packet_size);
        assert_eq!(buf.len(), 4, "4 bytes of headroom for $D");
        let unit = stream.unit_in(buf, i).expect("unit");
        sink.on_data_unit(unit).expect("on_data_unit");
    }
}

fn stripped(p: &Bytes) -> Vec<u8> {
    let mut b = BytesMut::from(&p[..]);
    strip_padding(&mut b).expect("synthetic packet parses");
    b.to_vec()
}

/// The session ended with `$E(0)`.
fn ended(seen: &[Seen]) -> bool {
    matches!(seen.last(), Some(Seen::End { reason: 0, .. }))
}

/// Every `$D` of the run carried this one push-id.
fn one_push_id(seen: &[Seen]) -> String {
    let ids: std::collections::BTreeSet<&String> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Data { push_id, .. } | Seen::Header { push_id, .. } => Some(push_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "one session: {ids:?}");
    ids.into_iter().next().cloned().unwrap_or_default()
}

/// Waits (bounded) for a status event matching `pred`.
fn wait_status(
    status: &mut tokio::sync::broadcast::Receiver<PushStatus>,
    pred: impl Fn(&PushStatus) -> bool,
) -> Option<PushStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        match status.try_recv() {
            Ok(e) if pred(&e) => return Some(e),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

fn setups(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter()
        .filter(|s| matches!(s, Seen::Setup { .. }))
        .collect()
}

fn setup(path: &str, template: Option<&str>, auto_destroy: bool) -> Seen {
    Seen::Setup {
        path: path.into(),
        template: template.map(str::to_string),
        auto_destroy,
        user: None,
        resume: None,
    }
}

#[test]
fn conformance_kit_passes_unconnected_and_connected() {
    testing::run_all(&mut || Box::new(sink(PushSinkConfig::default()))).assert_ok();
    let server = PushServer::start(ServerConfig::default());
    let url = server.url("/kit");
    testing::run_all(&mut || {
        let mut s = sink(PushSinkConfig::default());
        s.connect(&url, None, false).expect("connect");
        Box::new(s)
    })
    .assert_ok();
}

#[test]
fn conformance_kit_passes_for_a_shared_sink() {
    let server = PushServer::start(ServerConfig::default());
    let url = server.url("/kit-shared");
    testing::run_all(&mut || {
        let shared = sink(PushSinkConfig::default()).into_shared();
        shared
            .lock()
            .expect("lock")
            .connect(&url, None, false)
            .expect("connect");
        Box::new(shared)
    })
    .assert_ok();
}

#[test]
fn pushes_header_once_packets_in_order_and_end() {
    let server = PushServer::start(ServerConfig::default());
    let stream = SyntheticStream::new(1400, 200);
    let mut s = sink(PushSinkConfig::default());
    let mut status = s.status();
    // The header first: connect then blocks until the server accepted the session.
    s.on_header(&stream.header).expect("header");
    s.connect(&server.url("/live"), Some("/template"), true)
        .expect("connect");
    let push_id = s.push_id().expect("a push-id once accepted");
    assert!(push_id.len() >= 8, "{push_id}");
    assert_eq!(server.seen()[0], setup("/live", Some("/template"), true));
    feed(&mut s, &stream, 0..stream.len());
    s.on_end_writing().expect("end writing");
    s.end_session().expect("end session");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    assert_eq!(setups(&seen).len(), 1);
    assert_eq!(
        seen[1],
        Seen::Header {
            push_id: push_id.clone(),
            header: stream.header.to_vec()
        }
    );
    assert_eq!(one_push_id(&seen), push_id);
    let want: Vec<Vec<u8>> = stream.packets.iter().map(stripped).collect();
    assert_eq!(
        data(&seen),
        want,
        "every packet once, in order, padding stripped"
    );
    assert_eq!(headers(&seen), 1);
    assert_eq!(
        seen.last(),
        Some(&Seen::End {
            push_id: push_id.clone(),
            reason: 0
        })
    );
    let st = s.stats();
    assert_eq!((st.packets, st.drops, st.headers), (200, 0, 1));
    let mut events = Vec::new();
    while let Ok(e) = status.try_recv() {
        events.push(e);
    }
    assert!(
        events.contains(&PushStatus::Connecting { attempt: 1 }),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PushStatus::Connected { resumed: false, .. }))
    );
    assert_eq!(events.last(), Some(&PushStatus::Ended));
    assert_eq!(s.end_session(), Err(PushError::NoConnection));
}

#[test]
fn header_change_sends_end_entry_and_change() {
    let server = PushServer::start(ServerConfig::default());
    let a = SyntheticStream::new(1000, 4);
    let b = SyntheticStream::new(1200, 4);
    let mut s = sink(PushSinkConfig::default());
    s.connect(&server.url("/p"), None, false).expect("connect");
    s.on_header(&a.header).expect("header");
    feed(&mut s, &a, 0..4);
    s.on_end_writing().expect("end");
    s.on_header(&b.header).expect("header 2");
    feed(&mut s, &b, 0..4);
    s.end_session().expect("end session");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    let i = seen
        .iter()
        .position(|s| matches!(s, Seen::Change { .. }))
        .expect("$C");
    assert!(
        matches!(&seen[i], Seen::Change { header, .. } if header[..] == b.header[..]),
        "$C with the new header (the server checked the $E(1) before it)"
    );
    assert_eq!(data(&seen).len(), 8);
    let want: Vec<Vec<u8>> = a.packets.iter().chain(&b.packets).map(stripped).collect();
    assert_eq!(data(&seen), want);
    assert_eq!(headers(&seen), 1);
}

#[test]
fn basic_digest_md5_and_digest_sha256_authentication() {
    for (basic, digest, digest_sha256) in [
        (true, false, false),
        (false, true, false),
        (false, false, true),
    ] {
        let server = PushServer::start(ServerConfig {
            basic,
            digest,
            digest_sha256,
            users: vec![("enc".to_string(), "s3cret".to_string())],
            ..ServerConfig::default()
        });
        let good = PushSinkConfig::default().credentials(move |c| {
            assert_eq!(c.realm, "wmpush");
            let want = if basic {
                AuthScheme::Basic
            } else {
                AuthScheme::Digest
            };
            assert_eq!(c.scheme, want);
            Some(Credentials {
                user: "enc".into(),
                password: "s3cret".into(),
            })
        });
        let stream = SyntheticStream::new(800, 10);
        let mut s = sink(good);
        s.on_header(&stream.header).expect("header");
        s.connect(&server.url("/auth"), None, false)
            .expect("authenticated");
        feed(&mut s, &stream, 0..10);
        s.end_session().expect("end");
        assert!(server.wait_for(Duration::from_secs(5), ended));
        let seen = server.seen();
        assert_eq!(data(&seen).len(), 10);
        assert!(
            matches!(setups(&seen)[..], [Seen::Setup { user: Some(u), .. }] if u == "enc"),
            "{seen:?}"
        );

        let bad = PushSinkConfig::default().credentials(|_| {
            Some(Credentials {
                user: "enc".into(),
                password: "wrong".into(),
            })
        });
        let mut wrong = sink(bad.clone());
        wrong.on_header(&stream.header).expect("header");
        let err = wrong.connect(&server.url("/auth"), None, false);
        assert_eq!(err, Err(PushError::AuthenticationFailed { status: 401 }));
        let mut none = sink(PushSinkConfig::default());
        none.on_header(&stream.header).expect("header");
        let err = none.connect(&server.url("/auth"), None, false);
        assert_eq!(err, Err(PushError::AuthenticationFailed { status: 401 }));
        // Connected before the header (IWMWriterPushSink::Connect precedes BeginWriting):
        // the PushSetup goes out at once, so `connect` itself reports the refusal.
        let mut late = sink(bad);
        assert_eq!(
            late.connect(&server.url("/auth"), None, false),
            Err(PushError::AuthenticationFailed { status: 401 })
        );
        assert!(!late.is_connected());
        // With the right credentials and no header yet, connect is accepted and the header
        // given afterwards starts the stream.
        let ok = PushSinkConfig::default().credentials(|_| {
            Some(Credentials {
                user: "enc".into(),
                password: "s3cret".into(),
            })
        });
        let mut early = sink(ok);
        early
            .connect(&server.url("/auth-early"), None, false)
            .expect("accepted before any header");
        early.on_header(&stream.header).expect("header");
        feed(&mut early, &stream, 0..10);
        early.end_session().expect("end");
    }
}

#[test]
fn killed_connection_resumes_with_same_push_id_and_no_second_header() {
    let server = PushServer::start(ServerConfig {
        kill_after: Some(30),
        ..ServerConfig::default()
    });
    let policy = ReconnectPolicy {
        initial_delay: Duration::from_millis(20),
        ..ReconnectPolicy::default()
    };
    let mut s = sink(PushSinkConfig::default().reconnect(policy));
    let mut status = s.status();
    s.connect(&server.url("/resume"), None, false)
        .expect("connect");
    let stream = SyntheticStream::new(1000, 120);
    s.on_header(&stream.header).expect("header");
    for i in 0..stream.len() {
        feed(&mut s, &stream, i..i + 1);
        std::thread::sleep(Duration::from_millis(2));
    }
    s.end_session().expect("end session after resume");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    assert!(seen.contains(&Seen::Killed), "the fault fired");
    // Resumed through a PushSetup carrying the push-id (the server accepted it
    // explicitly), never a new session.
    let all = setups(&seen);
    assert!(all.len() >= 2, "{all:?}");
    assert!(matches!(all[0], Seen::Setup { resume: None, .. }));
    assert!(
        all[1..].iter().all(|s| matches!(
            s,
            Seen::Setup {
                resume: Some(_),
                ..
            }
        )),
        "every later PushSetup resumes: {all:?}"
    );
    assert_eq!(headers(&seen), 1, "no second $H");
    // Same push-id before and after the kill.
    one_push_id(&seen);
    // No duplicates, order kept. Bytes in the socket buffers at the kill are lost (the sink
    // cannot know what the server read); the packet being written is sent again.
    let want: Vec<Vec<u8>> = stream.packets.iter().map(stripped).collect();
    let got = data(&seen);
    let mut cursor = 0;
    for g in &got {
        let pos = want[cursor..]
            .iter()
            .position(|w| w == g)
            .expect("in order, no duplicate");
        cursor += pos + 1;
    }
    assert!(got.len() >= 100, "most packets arrive: {}", got.len());
    assert_eq!(got.last(), want.last(), "the stream continues to its end");
    assert!(s.stats().reconnects >= 1);
    let mut events = Vec::new();
    while let Ok(e) = status.try_recv() {
        events.push(e);
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PushStatus::Reconnecting { .. })),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, PushStatus::Connected { resumed: true, .. }))
    );
}

/// A packet the sink cannot parse is pushed as is (no padding to strip), so its size is known.
fn opaque_unit(i: usize, size: usize, key: bool) -> DataUnit {
    let info = push_sink::PacketInfo {
        send_time_ms: (i as u32) * 40,
        duration_ms: 0,
        index: i as u64,
        key_frame: key,
    };
    DataUnit::shared(Bytes::from(vec![0xFF; size]), info)
}

#[test]
fn stalled_server_keeps_memory_bounded_and_counts_drops() {
    let server = PushServer::start(ServerConfig {
        stall: true,
        ..ServerConfig::default()
    });
    let limit = 512 * 1024;
    let config = PushSinkConfig::default().queue_limits(limit, Duration::from_secs(3600));
    let mut s = sink(config);
    s.connect(&server.url("/stall"), None, false)
        .expect("connect");
    let stream = SyntheticStream::new(1000, 1);
    s.on_header(&stream.header).expect("header");
    // The session is up and the server stopped reading.
    assert!(server.wait_for(Duration::from_secs(5), |v| headers(v) == 1));
    assert!(server.is_stalled());
    for i in 0..2000 {
        s.on_data_unit(opaque_unit(i, 16_000, i % 25 == 0))
            .expect("unit");
        assert!(
            s.queued_bytes() <= limit,
            "queue {} > {limit}",
            s.queued_bytes()
        );
        // The depth stat: the queue plus what the network task took (under 1 MiB waiting to
        // be written when it takes a packet: the packets in it, one of them partly written,
        // plus the one that crossed the mark; and at most 64 KiB taken from the queue in its
        // last batch and not handed on yet).
        let depth = s.stats().queue_depth as usize;
        assert!(
            depth * 16_004 <= limit + 1024 * 1024 + 64 * 1024 + 2 * 16_004,
            "depth {depth}"
        );
    }
    let st = s.stats();
    // Kernel socket buffers take some; the rest is queued (bounded) or dropped (counted).
    assert_eq!(st.packets + st.drops + st.queue_depth, 2000, "{st:?}");
    assert!(st.drops > 1000, "drops {}", st.drops);
    assert!(st.queue_depth as usize * 16_004 <= limit + 1024 * 1024 + 64 * 1024 + 2 * 16_004);
}

/// A caller that never awaits: `write_sample` in a tight loop, never `deliver_due`, to a
/// PushSink whose server stopped reading. The writer's pacing queue stays within its bound
/// (the oldest packets go to the sink early), the sink's queue within its own, and every
/// packet the writer made is accounted for: written, queued, or dropped and counted.
#[test]
fn never_awaited_writer_to_a_stalled_server_stays_bounded() {
    use push_sink::testing::SimpleMux;
    use push_sink::{Sample, Writer, WriterConfig};
    let server = PushServer::start(ServerConfig {
        stall: true,
        ..ServerConfig::default()
    });
    let limit = 256 * 1024;
    let shared =
        sink(PushSinkConfig::default().queue_limits(limit, Duration::from_secs(2))).into_shared();
    shared
        .lock()
        .expect("lock")
        .connect(&server.url("/never"), None, false)
        .expect("connect");
    let packet_size = 1400;
    let backlog = Duration::from_secs(4);
    let mut w = Writer::with_config(
        Box::new(SimpleMux::new(packet_size)),
        WriterConfig::default().pacing_bounds(backlog, 1 << 20),
    );
    w.add_sink(Box::new(shared.clone()));
    w.begin_writing().expect("begin");
    assert!(w.is_real_time(), "a push sink asks for pacing");
    // The session is up and the server stopped reading.
    assert!(server.wait_for(Duration::from_secs(5), |v| headers(v) == 1));
    assert!(server.is_stalled());
    // 200 s of 1 Mbit/s video written as fast as the loop runs.
    for i in 0..5000u64 {
        w.write_sample(Sample {
            stream: 1,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: i.is_multiple_of(25),
            data: vec![i as u8; 5000].into(),
        })
        .expect("sample");
        // Writer: at most the backlog's worth of packets (plus the one just made).
        assert!(
            w.queued_packets() * packet_size <= (1 << 20) + packet_size,
            "writer queue {} packets",
            w.queued_packets()
        );
        // Sink: at most `limit` bytes of (padding-stripped) frames; three of every four
        // packets of a 5,000-byte sample are full, so the depth is bounded as well.
        let queued = shared.lock().expect("lock").queued_bytes();
        assert!(queued <= limit, "sink queue {queued} bytes");
        // The depth also counts what the task handed on for the socket (under 1 MiB).
        let depth = shared.stats().queue_depth as usize;
        assert!(
            depth <= (2 * limit + 1024 * 1024) / packet_size + 2,
            "sink depth {depth}"
        );
    }
    assert!(w.early_packets() > 0, "the writer's bound was reached");
    let made = w.packets_made();
    let st = shared.stats();
    assert_eq!(
        st.packets + st.drops + st.queue_depth + w.queued_packets() as u64,
        made,
        "{st:?}"
    );
    assert!(st.drops > made / 2, "drops counted: {st:?}");
    assert!(w.take_sink_failures().is_empty());
}

#[test]
fn drop_policy_prefers_non_key_packets() {
    // Not connected: nothing drains the queue, so the policy alone decides.
    let mut s = sink(PushSinkConfig::default().queue_limits(10 * 1004, Duration::from_secs(3600)));
    let stream = SyntheticStream::new(1000, 1);
    s.on_header(&stream.header).expect("header");
    for i in 0..40 {
        s.on_data_unit(opaque_unit(i, 1000, i % 10 == 0))
            .expect("unit");
    }
    let st = s.stats();
    assert_eq!((st.drops, st.queue_depth), (30, 10));
    assert_eq!(
        s.queued_key_frames(),
        4,
        "all four key-frame packets survive"
    );
    // Only key frames: the oldest goes.
    let mut s = sink(PushSinkConfig::default().queue_limits(2 * 1004, Duration::from_secs(3600)));
    for i in 0..5 {
        s.on_data_unit(opaque_unit(i, 1000, true)).expect("unit");
    }
    assert_eq!((s.stats().drops, s.stats().queue_depth), (3, 2));
    // Time bound: 40 ms per packet, 200 ms of stream time at most. Only dropping the oldest
    // shortens the span, so key frames go too when they are the oldest.
    let mut s =
        sink(PushSinkConfig::default().queue_limits(usize::MAX, Duration::from_millis(200)));
    for i in 0..40 {
        s.on_data_unit(opaque_unit(i, 1000, i % 10 == 0))
            .expect("unit");
    }
    assert_eq!((s.stats().drops, s.stats().queue_depth), (34, 6));
    assert_eq!(s.queued_key_frames(), 0, "packets 34..40 are left");
}

#[test]
fn documented_errors() {
    let mut s = sink(PushSinkConfig::default());
    assert!(matches!(
        s.connect("", None, false),
        Err(PushError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.connect("ftp://x/", None, false),
        Err(PushError::InvalidArgument(_))
    ));
    assert!(matches!(
        s.connect("http://no-such-host.invalid/p", None, false),
        Err(PushError::InvalidHostName(_))
    ));
    assert_eq!(s.end_session(), Err(PushError::NoConnection));
    assert_eq!(s.disconnect(), Err(PushError::NoConnection));
    // A closed port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    assert!(matches!(
        s.connect(&format!("http://127.0.0.1:{port}/p"), None, false),
        Err(PushError::ConnectionFailure(_))
    ));
    // With a header, connect waits for the PushSetup's answer.
    s.on_header(&SyntheticStream::new(500, 1).header)
        .expect("header");
    let refusing = PushServer::start(ServerConfig {
        refuse: Some(403),
        ..ServerConfig::default()
    });
    assert_eq!(
        s.connect(&refusing.url("/p"), None, false),
        Err(PushError::Refused { status: 403 })
    );
    let web = PushServer::start(ServerConfig {
        server_header: Some("Apache/2.4".into()),
        ..ServerConfig::default()
    });
    assert!(matches!(
        s.connect(&web.url("/p"), None, false),
        Err(PushError::NotAMediaServer(_))
    ));
}

#[test]
fn disconnect_then_connect_resumes_session() {
    let server = PushServer::start(ServerConfig::default());
    let stream = SyntheticStream::new(900, 20);
    let mut s = sink(PushSinkConfig::default());
    s.connect(&server.url("/d"), None, false).expect("connect");
    s.on_header(&stream.header).expect("header");
    feed(&mut s, &stream, 0..10);
    s.disconnect().expect("disconnect");
    assert!(!s.is_connected());
    s.connect(&server.url("/d"), None, false)
        .expect("reconnect");
    feed(&mut s, &stream, 10..20);
    s.end_session().expect("end");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    assert_eq!(headers(&seen), 1);
    assert_eq!(data(&seen).len(), 20);
    let all = setups(&seen);
    assert!(
        matches!(
            all[..],
            [
                Seen::Setup { resume: None, .. },
                Seen::Setup {
                    resume: Some(_),
                    ..
                }
            ]
        ),
        "a new session, then one PushSetup resuming it by push-id: {all:?}"
    );
    one_push_id(&seen);
    // Shared (fan-out) units are framed with one copy and still arrive.
    let _ = DataUnit::shared(stream.packets[0].clone(), stream.infos[0]);
}

#[test]
fn template_urls_arrive_as_paths_and_auto_destroy_as_sent() {
    let server = PushServer::start(ServerConfig::default());
    let header = SyntheticStream::new(500, 1).header;
    for (template, auto_destroy, want) in [
        (
            Some("http://origin:8080/tpl/live a"),
            false,
            Some("/tpl/live%20a"),
        ),
        (Some("tpl"), true, Some("/tpl")),
        (None, true, None),
    ] {
        let mut s = sink(PushSinkConfig::default());
        s.on_header(&header).expect("header");
        s.connect(&server.url("/point"), template, auto_destroy)
            .expect("connect");
        let seen = server.seen();
        assert_eq!(
            setups(&seen).last(),
            Some(&&setup("/point", want, auto_destroy))
        );
        s.end_session().expect("end");
    }
    let mut s = sink(PushSinkConfig::default());
    assert_eq!(
        s.connect(&server.url("/point"), Some("http://origin"), false),
        Err(PushError::InvalidArgument("the template URL has no path"))
    );
}

#[test]
fn a_forgotten_session_starts_again_with_a_new_header() {
    let server = PushServer::start(ServerConfig {
        inactivity_timeout: Some(Duration::from_millis(100)),
        ..ServerConfig::default()
    });
    let policy = ReconnectPolicy {
        initial_delay: Duration::from_millis(20),
        ..ReconnectPolicy::default()
    };
    let stream = SyntheticStream::new(900, 20);
    let mut s = sink(PushSinkConfig::default().reconnect(policy));
    let mut status = s.status();
    s.on_header(&stream.header).expect("header");
    s.connect(&server.url("/forget"), None, false)
        .expect("connect");
    let first_id = s.push_id().expect("push-id");
    feed(&mut s, &stream, 0..10);
    s.disconnect().expect("disconnect");
    // The server expires the session it kept for us.
    assert!(server.wait_for(Duration::from_secs(5), |v| {
        v.iter().any(|e| matches!(e, Seen::Expired { .. }))
    }));
    s.connect(&server.url("/forget"), None, false)
        .expect("reconnect");
    feed(&mut s, &stream, 10..20);
    s.end_session().expect("end");
    assert!(
        server.wait_for(Duration::from_secs(5), ended),
        "{:?}",
        server.seen()
    );
    let seen = server.seen();
    // The resume (PushStart with the old push-id) got 404; a new PushSetup and a new $H
    // followed, and every packet arrived once.
    assert_eq!(setups(&seen).len(), 2, "{seen:?}");
    assert_eq!(headers(&seen), 2, "$H again for the new session");
    let second_id = s.push_id();
    assert_eq!(second_id, None, "the ended session's push-id is gone");
    let ids: Vec<&String> = seen
        .iter()
        .filter_map(|e| match e {
            Seen::Header { push_id, .. } => Some(push_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids[0], &first_id);
    assert_ne!(ids[1], &first_id);
    let want: Vec<Vec<u8>> = stream.packets.iter().map(stripped).collect();
    assert_eq!(data(&seen), want);
    let resumed_then_new = wait_status(
        &mut status,
        |e| matches!(e, PushStatus::Connected { resumed: false, push_id } if *push_id != first_id),
    );
    assert!(resumed_then_new.is_some(), "a new session was reported");
}

#[test]
fn writer_pushes_through_a_shared_push_sink() {
    use push_sink::testing::SimpleMux;
    use push_sink::{Sample, Writer};
    let server = PushServer::start(ServerConfig::default());
    let shared = sink(PushSinkConfig::default()).into_shared();
    shared
        .lock()
        .expect("lock")
        .connect(&server.url("/writer"), Some("/pub"), true)
        .expect("connect");
    // The writer is the sink's only user while writing (zero-copy allocate_data_unit path).
    let mut w = Writer::new(Box::new(SimpleMux::new(1400)));
    w.add_sink(Box::new(shared.clone()));
    w.begin_writing().expect("begin");
    for i in 0..100u64 {
        w.write_sample(Sample {
            stream: 1,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: i.is_multiple_of(25),
            data: vec![i as u8; 3000].into(),
        })
        .expect("video");
        w.write_sample(Sample {
            stream: 2,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: true,
            data: vec![0xA0; 400].into(),
        })
        .expect("audio");
    }
    w.end_writing().expect("end writing");
    let made = w.packets_made();
    assert!(w.take_sink_failures().is_empty());
    shared
        .lock()
        .expect("lock")
        .end_session()
        .expect("end session");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    assert_eq!(seen[0], setup("/writer", Some("/pub"), true));
    assert_eq!(headers(&seen), 1);
    let got = data(&seen);
    assert_eq!(got.len() as u64, made, "every packet the writer made, once");
    // In order: send times never go backwards, and each $D is a padding-free ASF packet.
    let mut last = 0;
    for d in &got {
        let v = push_sink::push_sink::asf_packet::PacketView::parse(d, |s| s == 1)
            .expect("a valid ASF packet");
        assert_eq!(v.padding, 0, "padding stripped");
        assert!(v.send_time_ms >= last);
        last = v.send_time_ms;
    }
    assert_eq!(shared.stats().packets, made);
}

#[test]
fn redirect_is_followed() {
    let server = PushServer::start(ServerConfig {
        redirect_to: Some("/moved".into()),
        ..ServerConfig::default()
    });
    let stream = SyntheticStream::new(700, 3);
    let mut s = sink(PushSinkConfig::default());
    s.on_header(&stream.header).expect("header");
    s.connect(&server.url("/old"), Some("/tpl"), true)
        .expect("connect via redirect");
    feed(&mut s, &stream, 0..3);
    s.end_session().expect("end");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    assert_eq!(seen[0], Seen::Redirected("/old".into()));
    assert_eq!(seen[1], setup("/moved", Some("/tpl"), true));
    assert_eq!(data(&seen).len(), 3);
}

#[test]
fn a_server_that_never_answers_times_out() {
    // Accepts, reads nothing, answers nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let keep = std::thread::spawn(move || {
        let held: Vec<std::net::TcpStream> =
            listener.incoming().take(1).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_millis(1500));
        drop(held);
    });
    let mut config = PushSinkConfig::default();
    config.connect_timeout = Duration::from_millis(300);
    let mut s = sink(config);
    s.on_header(&SyntheticStream::new(500, 1).header)
        .expect("header");
    let start = std::time::Instant::now();
    let r = s.connect(&format!("http://{addr}/silent"), None, false);
    assert!(
        matches!(&r, Err(PushError::ConnectionFailure(m)) if m.contains("timed out")),
        "{r:?}"
    );
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "bounded by connect_timeout"
    );
    let _ = keep.join();
}

#[test]
fn administrator_kick_is_reported_and_not_retried() {
    let server = PushServer::start(ServerConfig {
        kick_after: Some(5),
        ..ServerConfig::default()
    });
    let mut s = sink(PushSinkConfig::default());
    let mut status = s.status();
    s.connect(&server.url("/kick"), None, false)
        .expect("connect");
    let stream = SyntheticStream::new(900, 40);
    s.on_header(&stream.header).expect("header");
    let mut refused = None;
    for i in 0..40 {
        let unit = stream
            .unit_in(s.allocate_data_unit(stream.packet_size), i)
            .expect("unit");
        if let Err(e) = s.on_data_unit(unit) {
            // Once the session is dead the sink says so (the writer then removes it).
            refused = Some(e.to_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    assert_eq!(
        refused.as_deref(),
        Some("refused by server: HTTP 403"),
        "later packets are refused with the typed error"
    );
    let start = std::time::Instant::now();
    let mut events = Vec::new();
    while start.elapsed() < Duration::from_secs(5) {
        match status.try_recv() {
            Ok(e) => {
                let done = matches!(e, PushStatus::Error(_));
                events.push(e);
                if done {
                    break;
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert!(
        events.contains(&PushStatus::Error(PushError::Refused { status: 403 })),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, PushStatus::Reconnecting { .. }))
    );
    assert!(!s.is_connected());
    assert_eq!(s.end_session(), Err(PushError::Refused { status: 403 }));
    let setups = server
        .seen()
        .iter()
        .filter(|s| matches!(s, Seen::Setup { .. }))
        .count();
    assert_eq!(setups, 1, "no reconnect after a refusal");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The drop policy on any run of packets into an unconnected sink (nothing drains the
    /// queue): the byte bound always holds (with or without a time bound) and every packet is
    /// queued or counted as dropped; with only the byte bound in play, a key-frame packet leaves the queue only
    /// when no other packet was left to drop.
    #[test]
    fn drop_policy_invariants(
        packets in proptest::collection::vec((16usize..3000, proptest::bool::ANY, 0u32..200), 1..120),
        max_bytes in 2_000usize..40_000,
        max_ms in proptest::option::of(100u64..5_000),
    ) {
        let time_bound = max_ms.map_or(Duration::from_secs(1 << 30), Duration::from_millis);
        let mut s = sink(PushSinkConfig::default().queue_limits(max_bytes, time_bound));
        let mut time = 0u32;
        for (i, &(size, key, gap)) in packets.iter().enumerate() {
            time += gap;
            let info = push_sink::PacketInfo {
                send_time_ms: time,
                duration_ms: 0,
                index: i as u64,
                key_frame: key,
            };
            let keys_before = s.queued_key_frames();
            s.on_data_unit(DataUnit::shared(Bytes::from(vec![0xFF; size]), info)).expect("unit");
            let st = s.stats();
            proptest::prop_assert!(s.queued_bytes() <= max_bytes);
            proptest::prop_assert_eq!(st.queue_depth + st.drops, i as u64 + 1);
            if max_ms.is_none() {
                let enqueued = size + 4 <= max_bytes;
                let keys_after = s.queued_key_frames();
                let keys_lost = (keys_before + usize::from(key && enqueued)).saturating_sub(keys_after);
                if keys_lost > 0 {
                    let non_key_left = st.queue_depth as usize - keys_after;
                    proptest::prop_assert!(
                        non_key_left <= usize::from(!key && enqueued),
                        "a key frame went while {non_key_left} other packets stayed"
                    );
                }
            }
        }
    }

}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]

    /// Any run of packets (sizes, key flags, shared or zero-copy units, header changes)
    /// reaches the server once each, in order, padding stripped, with one `$H`.
    #[test]
    fn any_packet_run_arrives_in_order(
        sizes in proptest::collection::vec(64usize..4000, 1..40),
        zero_copy in proptest::collection::vec(proptest::bool::ANY, 40),
        change_at in proptest::option::of(0usize..40),
    ) {
        let server = PushServer::start(ServerConfig::default());
        let mut s = sink(PushSinkConfig::default());
        s.connect(&server.url("/prop"), None, false).expect("connect");
        let streams: Vec<SyntheticStream> =
            sizes.iter().map(|&n| SyntheticStream::new(n, 2)).collect();
        s.on_header(&streams[0].header).expect("header");
        let mut want = Vec::new();
        let mut changes = 0;
        for (i, st) in streams.iter().enumerate() {
            if change_at == Some(i) && i > 0 {
                s.on_end_writing().expect("end entry");
                s.on_header(&st.header).expect("new header");
                changes += 1;
            }
            let unit = if zero_copy[i] {
                st.unit_in(s.allocate_data_unit(st.packet_size), i % 2).expect("unit")
            } else {
                DataUnit::shared(st.packets[i % 2].clone(), st.infos[i % 2])
            };
            want.push(stripped(&st.packets[i % 2]));
            s.on_data_unit(unit).expect("on_data_unit");
        }
        s.end_session().expect("end");
        proptest::prop_assert!(server.wait_for(Duration::from_secs(5), ended));
        let seen = server.seen();
        proptest::prop_assert_eq!(data(&seen), want);
        proptest::prop_assert_eq!(headers(&seen), 1);
        proptest::prop_assert_eq!(seen.iter().filter(|s| matches!(s, Seen::Change { .. })).count(), changes);
    }
}

#[test]
fn used_up_push_start_is_filled_with_filler_and_renewed() {
    let server = PushServer::start(ServerConfig::default());
    // The smallest body the spec allows (3 x 65,535 bytes): about 50 packets of 4,000 bytes.
    let config = PushSinkConfig::default().push_start_length(0);
    assert_eq!(
        config.push_start_length,
        push_sink::push_sink::MIN_PUSH_START_LENGTH
    );
    let mut s = sink(config);
    s.connect(&server.url("/renew"), None, false)
        .expect("connect");
    let stream = SyntheticStream::new(4000, 1);
    s.on_header(&stream.header).expect("header");
    // 250 opaque 4,000-byte packets (nothing to strip): about 1 MB, five bodies or more.
    let mut want = Vec::new();
    for i in 0..250usize {
        let mut p = vec![0xFF; 4000];
        p[1..3].copy_from_slice(&(i as u16).to_le_bytes());
        let unit = DataUnit::shared(Bytes::from(p.clone()), stream.infos[0]);
        want.push(p);
        s.on_data_unit(unit).expect("unit");
    }
    s.end_session().expect("end");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    // 1 MB through bodies of 196,605 bytes: the PushStart was renewed (after an exact $F
    // fill and the server's 204) at least five times on the one session, or the server
    // would have refused the overlong body.
    assert_eq!(
        data(&seen),
        want,
        "every packet once, in order, across PushStarts"
    );
    one_push_id(&seen);
    assert_eq!(
        seen.iter()
            .filter(|s| matches!(s, Seen::Setup { .. }))
            .count(),
        1
    );
    assert_eq!(headers(&seen), 1);
}

/// The async control calls do not block a single-threaded runtime.
#[tokio::test(flavor = "current_thread")]
async fn async_connect_and_end_session_on_a_current_thread_runtime() {
    let server = PushServer::start(ServerConfig::default());
    let stream = SyntheticStream::new(600, 6);
    let mut s = sink(PushSinkConfig::default());
    s.connect_async(&server.url("/async"), None, true)
        .await
        .expect("connect");
    s.on_header(&stream.header).expect("header");
    feed(&mut s, &stream, 0..6);
    s.disconnect_async().await.expect("disconnect");
    s.connect_async(&server.url("/async"), None, true)
        .await
        .expect("resume");
    s.end_session_async().await.expect("end");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    assert_eq!(data(&server.seen()).len(), 6);
}

#[test]
fn written_buffers_are_reused_by_allocate_data_unit() {
    let server = PushServer::start(ServerConfig::default());
    let stream = SyntheticStream::new(1500, 2);
    let mut s = sink(PushSinkConfig::default());
    s.connect(&server.url("/pool"), None, false)
        .expect("connect");
    s.on_header(&stream.header).expect("header");
    let buf = s.allocate_data_unit(1500);
    let first = buf.as_ptr();
    s.on_data_unit(stream.unit_in(buf, 0).expect("unit"))
        .expect("unit");
    let start = std::time::Instant::now();
    while s.stats().packets < 1 {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2));
    }
    // The task may still hold the buffer for an instant after counting it.
    let mut reused = false;
    for _ in 0..100 {
        let b = s.allocate_data_unit(1500);
        if b.as_ptr() == first {
            reused = true;
            break;
        }
        drop(b);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(reused, "the written packet's buffer came back to the pool");
    s.end_session().expect("end");
}

#[test]
fn repeated_headers_without_a_connection_stay_bounded() {
    let mut s = sink(PushSinkConfig::default());
    let a = SyntheticStream::new(700, 1);
    let b = SyntheticStream::new(800, 1);
    for _ in 0..10_000 {
        s.on_header(&a.header).expect("header");
        s.on_end_writing().expect("end");
    }
    s.on_header(&b.header).expect("header");
    assert_eq!(s.stats().headers, 10_001);
    // Only the last header is left to send, then this packet.
    s.on_data_unit(DataUnit::shared(b.packets[0].clone(), b.infos[0]))
        .expect("unit");
    let server = PushServer::start(ServerConfig::default());
    s.connect(&server.url("/hdr"), None, false)
        .expect("connect");
    s.end_session().expect("end");
    assert!(server.wait_for(Duration::from_secs(5), ended));
    let seen = server.seen();
    assert!(matches!(&seen[1], Seen::Header { header, .. } if header[..] == b.header[..]));
    assert_eq!(
        seen.iter()
            .filter(|s| matches!(s, Seen::Change { .. }))
            .count(),
        0
    );
    assert_eq!(data(&seen).len(), 1);
}

#[test]
fn reconnect_gives_up_after_bounded_attempts() {
    for enabled in [true, false] {
        let server = PushServer::start(ServerConfig {
            kill_after: Some(3),
            ..ServerConfig::default()
        });
        let policy = ReconnectPolicy {
            enabled,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
            max_attempts: 3,
        };
        assert_eq!(policy.delay(1), Duration::from_millis(10));
        assert_eq!(
            policy.delay(3),
            Duration::from_millis(40),
            "doubling, capped"
        );
        let mut s = sink(PushSinkConfig::default().reconnect(policy));
        let mut status = s.status();
        s.connect(&server.url("/gone"), None, false)
            .expect("connect");
        // The server stops listening and its connections close.
        drop(server);
        std::thread::sleep(Duration::from_millis(50));
        let stream = SyntheticStream::new(800, 10);
        // The session was set up at connect; without reconnects its lost connection may
        // already have ended the sink, and then the header is refused with that error.
        if let Err(e) = s.on_header(&stream.header) {
            assert!(!enabled, "a reconnecting sink takes the header: {e}");
            assert!(e.to_string().starts_with("connection failure"), "{e}");
        }
        // Once the sink gave up, later packets are refused with its error.
        for i in 0..10 {
            let unit = stream
                .unit_in(s.allocate_data_unit(stream.packet_size), i)
                .expect("unit");
            if let Err(e) = s.on_data_unit(unit) {
                assert!(e.to_string().starts_with("connection failure"), "{e}");
            }
        }
        let start = std::time::Instant::now();
        let mut events = Vec::new();
        while start.elapsed() < Duration::from_secs(10) {
            match status.try_recv() {
                Ok(e) => {
                    let done = matches!(e, PushStatus::Error(_));
                    events.push(e);
                    if done {
                        break;
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        assert!(
            matches!(
                events.last(),
                Some(PushStatus::Error(PushError::ConnectionFailure(_)))
            ),
            "{events:?}"
        );
        let retries = events
            .iter()
            .filter(|e| matches!(e, PushStatus::Reconnecting { .. }))
            .count();
        assert_eq!(retries, if enabled { 3 } else { 0 }, "{events:?}");
        assert_eq!(s.stats().reconnects, retries as u64);
        assert!(matches!(
            s.end_session(),
            Err(PushError::ConnectionFailure(_))
        ));
    }
}
