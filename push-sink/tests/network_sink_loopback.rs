//! NetworkSink and the broadcast hub over loopback with a scripted MMSH player: the
//! conformance kit, Describe, Play from the last key frame, header changes, end of stream,
//! max clients, disconnect/close, and a stalled player that is dropped without slowing the
//! writer or the other players.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use push_protocol::pull_server::wire::{PullFrame, PullFrameDecoder};
use push_sink::hub::{HubConfig, SlowClientPolicy};
use push_sink::network_sink::{NetworkSink, NetworkSinkConfig};
use push_sink::testing::{self, SyntheticStream};
use push_sink::{DataUnit, WriterSink};

const DESCRIBE: &str = "GET / HTTP/1.1\r\nAccept: */*\r\nUser-Agent: NSPlayer/4.1.0.3856\r\nHost: 127.0.0.1\r\nPragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0\r\nPragma: xClientGUID={c77e7400-738a-11d2-9add-0020af0a3278}\r\nConnection: Close\r\n\r\n";
const PLAY: &str = "GET / HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: no-cache,rate=1.000000,request-context=2\r\nPragma: xPlayStrm=1\r\nPragma: stream-switch-count=2\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0 \r\n\r\n";

/// A scripted player: sends a request, reads the response head, then decodes frames.
struct Player {
    stream: TcpStream,
    head: String,
    decoder: PullFrameDecoder,
}

impl Player {
    fn request(addr: SocketAddr, request: &str) -> Player {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream.write_all(request.as_bytes()).expect("request");
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).expect("response head");
            assert!(n == 1, "closed before the response head ended");
            buf.push(byte[0]);
        }
        Player {
            stream,
            head: String::from_utf8(buf).expect("ASCII head"),
            decoder: PullFrameDecoder::new(),
        }
    }

    /// The next frame, or None at EOF (bounded by the read timeout).
    fn frame(&mut self) -> Option<PullFrame> {
        loop {
            if let Some(f) = self.decoder.next_frame().expect("valid pull framing") {
                return Some(f);
            }
            let mut buf = [0u8; 16384];
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.push(&buf[..n]),
            }
        }
    }
}

fn open(config: NetworkSinkConfig) -> (NetworkSink, SocketAddr) {
    let mut sink = NetworkSink::new(config).expect("sink");
    let addr = sink.open(0).expect("open");
    (sink, addr)
}

/// Publishes packets `range`; key frames are the video packets the synthetic stream marks
/// with the key bit (every 10th), not its audio packets.
fn publish(sink: &mut NetworkSink, stream: &SyntheticStream, range: std::ops::Range<usize>) {
    for i in range {
        let mut info = stream.infos[i];
        info.key_frame = i % 10 == 0;
        sink.on_data_unit(DataUnit::shared(stream.packets[i].clone(), info))
            .expect("publish");
    }
}

fn wait_clients(sink: &NetworkSink, n: usize) {
    let start = Instant::now();
    while sink.clients().len() != n {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "expected {n} players"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn conformance_kit_passes_closed_and_open() {
    testing::run_all(&mut || {
        Box::new(NetworkSink::new(NetworkSinkConfig::default()).expect("sink"))
    })
    .assert_ok();
    testing::run_all(&mut || Box::new(open(NetworkSinkConfig::default()).0)).assert_ok();
}

#[test]
fn describe_gets_the_header_only() {
    let stream = SyntheticStream::new(1000, 10);
    let (mut sink, addr) = open(NetworkSinkConfig::default());
    sink.on_header(&stream.header).expect("header");
    publish(&mut sink, &stream, 0..10);
    let mut p = Player::request(addr, DESCRIBE);
    assert!(p.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", p.head);
    assert!(p.head.contains("Server: Rex/"));
    assert!(p.head.contains("features=\"broadcast,playlist\""));
    assert!(p.head.contains("application/vnd.ms.wms-hdr.asfv1"));
    let h = p.frame().expect("$H");
    assert_eq!((h.id, &h.payload[..]), (b'H', &stream.header[..]));
    assert!(p.frame().is_none(), "Describe carries the header only");
    assert!(
        sink.host_url()
            .expect("open")
            .starts_with("mmsh://127.0.0.1:")
    );
}

#[test]
fn play_starts_at_last_key_frame_then_live_change_and_end() {
    // Synthetic stream: key frames at packets 0, 10, 20 ...
    let stream = SyntheticStream::new(1000, 40);
    let (mut sink, addr) = open(NetworkSinkConfig::default());
    sink.on_header(&stream.header).expect("header");
    publish(&mut sink, &stream, 0..14);
    let mut p = Player::request(addr, PLAY);
    assert!(
        p.head.contains("Content-Type: application/x-mms-framed"),
        "{}",
        p.head
    );
    assert_eq!(p.frame().expect("$H").payload, stream.header);
    wait_clients(&sink, 1);
    publish(&mut sink, &stream, 14..20);
    for (seq, i) in (10..20).enumerate() {
        let f = p.frame().expect("$D");
        assert_eq!(f.id, b'D');
        assert_eq!(f.af_flags as usize, seq, "AFFlags counts $D from 0");
        assert_eq!(f.payload, stream.packets[i], "packet {i}");
    }
    // A new header mid-stream: [$E(1)], $C, $H (MS-WMSP 3.2.4.1; push-protocol leaves the
    // optional $E(1) out by default because ffmpeg and VLC handle a bare $C better).
    let other = SyntheticStream::new(1200, 2);
    sink.on_header(&other.header).expect("new header");
    publish(&mut sink, &other, 0..2);
    let mut f = p.frame().expect("$E(1) or $C");
    if f.id == b'E' {
        assert_eq!(f.reason, Some(1));
        f = p.frame().expect("$C");
    }
    assert_eq!((f.id, f.reason), (b'C', Some(0)));
    assert_eq!(p.frame().expect("$H").payload, other.header);
    assert_eq!(p.frame().expect("$D").payload, other.packets[0]);
    assert_eq!(p.frame().expect("$D").payload, other.packets[1]);
    sink.on_end_writing().expect("end");
    let e = p.frame().expect("$E(0)");
    assert_eq!((e.id, e.reason), (b'E', Some(0)));
    assert!(p.frame().is_none(), "closed after $E(0)");
    assert_eq!(sink.stats().packets, 22);
}

#[test]
fn max_clients_disconnect_all_and_close() {
    let stream = SyntheticStream::new(800, 5);
    let (mut sink, addr) = open(NetworkSinkConfig::with_max_clients(1));
    assert_eq!(sink.max_clients(), 1);
    sink.on_header(&stream.header).expect("header");
    publish(&mut sink, &stream, 0..2);
    let mut first = Player::request(addr, PLAY);
    wait_clients(&sink, 1);
    let refused = Player::request(addr, PLAY);
    assert!(refused.head.starts_with("HTTP/1.0 503"), "{}", refused.head);
    let info = &sink.clients()[0];
    assert_eq!(info.user_agent.as_deref(), Some("NSPlayer/7.10.0.3059"));
    assert!(info.peer.is_some_and(|a| a.ip().is_loopback()));
    sink.disconnect_all();
    // The player sees its stream end without $E(0): the header, backlog, then EOF.
    let mut frames = 0;
    while let Some(f) = first.frame() {
        assert_ne!(f.id, b'E');
        frames += 1;
    }
    assert!(frames >= 1);
    wait_clients(&sink, 0);
    sink.set_max_clients(5);
    let _again = Player::request(addr, PLAY);
    wait_clients(&sink, 1);
    sink.close();
    assert!(sink.local_addr().is_none());
    assert!(
        TcpStream::connect(addr).is_err() || {
            // The port may linger until the listener task is dropped; give it a moment.
            std::thread::sleep(Duration::from_millis(200));
            TcpStream::connect(addr).is_err()
        }
    );
    // Reopen on another port.
    let again = sink.open(0).expect("reopen");
    assert_ne!(again.port(), 0);
}

#[test]
fn stalled_player_is_dropped_without_slowing_the_others() {
    let config = NetworkSinkConfig::default().hub(
        HubConfig::default()
            .client_queue_bytes(2 * 1024 * 1024)
            .slow_client(SlowClientPolicy::Disconnect),
    );
    let stream = SyntheticStream::new(16_000, 10);
    let (mut sink, addr) = open(config);
    sink.on_header(&stream.header).expect("header");
    publish(&mut sink, &stream, 0..1);
    // The stalled player sends Play and never reads.
    let stalled = Player::request(addr, PLAY);
    let mut live = Player::request(addr, PLAY);
    wait_clients(&sink, 2);
    let reader = std::thread::spawn(move || {
        let mut n = 0;
        while let Some(f) = live.frame() {
            if f.id == b'D' {
                n += 1;
            }
            if f.id == b'E' {
                break;
            }
        }
        n
    });
    let start = Instant::now();
    // 1,500 x 16 kB = 24 MB: far more than the stalled player's queue and socket buffers.
    for round in 0..1500 {
        publish(&mut sink, &stream, (round % 10)..(round % 10 + 1));
        // About 16 MB/s: a reading player keeps up even on a loaded machine.
        std::thread::sleep(Duration::from_millis(1));
    }
    let publish_time = start.elapsed();
    sink.on_end_writing().expect("end");
    let got = reader.join().expect("reader");
    assert_eq!(got, 1501, "the live player got every packet");
    assert!(
        sink.stats().drops >= 1,
        "the stalled player's drops are counted"
    );
    assert_eq!(sink.hub().stats().slow_disconnects, 1);
    assert!(
        publish_time < Duration::from_secs(10),
        "the writer was not slowed"
    );
    drop(stalled);
}

#[test]
fn join_point_is_a_video_key_frame_even_if_audio_is_flagged_key() {
    // The synthetic stream flags its audio packets as key frames too; the hub checks the
    // packet itself (video stream, key bit, object start) before using it as a join point.
    let stream = SyntheticStream::new(1000, 14);
    let (mut sink, addr) = open(NetworkSinkConfig::default());
    sink.on_header(&stream.header).expect("header");
    for i in 0..14 {
        sink.on_data_unit(DataUnit::shared(stream.packets[i].clone(), stream.infos[i]))
            .expect("publish");
    }
    assert!(
        stream.infos[13].key_frame,
        "the input flags audio packet 13 as key"
    );
    assert_eq!(
        sink.hub().backlog_len(),
        4,
        "backlog starts at video key frame 10"
    );
    let mut p = Player::request(addr, PLAY);
    assert_eq!(p.frame().expect("$H").id, b'H');
    assert_eq!(p.frame().expect("$D").payload, stream.packets[10]);
}

#[test]
fn writer_feeds_a_shared_network_sink() {
    use push_sink::testing::SimpleMux;
    use push_sink::{Sample, Writer};
    let (sink, addr) = open(NetworkSinkConfig::default());
    let shared = sink.into_shared();
    let mut w = Writer::new(Box::new(SimpleMux::new(1400)));
    w.add_sink(Box::new(shared.clone()));
    w.begin_writing().expect("begin");
    let sample = |i: u64| Sample {
        stream: 1,
        presentation_time_ms: i * 40,
        duration_ms: 40,
        key_frame: i.is_multiple_of(5),
        data: vec![i as u8; 2000].into(),
    };
    for i in 0..7 {
        w.write_sample(sample(i)).expect("video");
    }
    let mut p = Player::request(addr, PLAY);
    assert_eq!(p.frame().expect("$H").id, b'H');
    let start = Instant::now();
    while shared.lock().expect("lock").clients().len() != 1 {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 7..50 {
        w.write_sample(sample(i)).expect("video");
    }
    w.end_writing().expect("end");
    let mut frames = Vec::new();
    while let Some(f) = p.frame() {
        frames.push(f.id);
    }
    assert_eq!(frames.last(), Some(&b'E'), "$E(0) at the end");
    let d = frames.iter().filter(|&&id| id == b'D').count();
    assert!(
        d >= 40,
        "the late player got the packets from its join point on: {d}"
    );
    assert_eq!(shared.lock().expect("lock").stats().drops, 0);
}

#[test]
fn web_clients_get_an_asx_and_players_wait_for_a_header() {
    use push_sink::hub::ServeConfig;
    let config = NetworkSinkConfig::default()
        .serve(ServeConfig::default().header_wait(Duration::from_millis(200)));
    let (mut sink, addr) = open(config);
    // MS-WMSP 3.2.5.1: a browser (not NSPlayer) gets a metafile pointing back here.
    let mut web = TcpStream::connect(addr).expect("connect");
    web.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    web.write_all(b"GET /live HTTP/1.1\r\nHost: example.test\r\nUser-Agent: curl/8\r\n\r\n")
        .expect("request");
    let mut text = String::new();
    web.read_to_string(&mut text).expect("response");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("example.test/live"), "{text}");
    // No header yet: a Describe waits header_wait, then 503.
    let p = Player::request(addr, DESCRIBE);
    assert!(p.head.contains(" 503 "), "{}", p.head);
    // A header arriving while a Play waits is served at once.
    let waiting = std::thread::spawn(move || {
        let mut p = Player::request(addr, PLAY);
        p.frame().map(|f| f.id)
    });
    let stream = SyntheticStream::new(900, 1);
    std::thread::sleep(Duration::from_millis(50));
    sink.on_header(&stream.header).expect("header");
    assert_eq!(waiting.join().expect("player"), Some(b'H'));
}
