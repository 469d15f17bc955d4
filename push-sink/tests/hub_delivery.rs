//! The broadcast hub's delivery engine over loopback: batched vectored writes cut anywhere
//! by a small receive buffer still give every player every packet, in order, with its own
//! consecutive `$D` counters; a player that stops reading is dropped at its write timeout
//! while the others go on; an overloaded engine refuses newcomers with 503 and Retry-After
//! and keeps its admitted players.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use push_protocol::pull_server::wire::{PullFrame, PullFrameDecoder};
use push_sink::hub::{DeliveryConfig, DeliveryLoad, HubConfig, ServeConfig};
use push_sink::network_sink::{NetworkSink, NetworkSinkConfig};
use push_sink::testing::SyntheticStream;
use push_sink::{DataUnit, WriterSink};

const PLAY: &str = "GET / HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: no-cache,rate=1.000000,request-context=2\r\nPragma: xPlayStrm=1\r\nPragma: stream-switch-count=2\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0 \r\n\r\n";

/// Connects with a receive buffer of `rcvbuf` bytes (small: the server's writes are cut).
fn connect(addr: SocketAddr, rcvbuf: u32) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(rcvbuf).expect("rcvbuf");
        socket.connect(addr).await.expect("connect")
    });
    let std = stream.into_std().expect("std stream");
    std.set_nonblocking(false).expect("blocking");
    std.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    std
}

/// Sends a Play request, reads the response head; returns the status line and the
/// connection with any body bytes already read.
fn play(addr: SocketAddr, rcvbuf: u32) -> (String, TcpStream, PullFrameDecoder) {
    let mut stream = connect(addr, rcvbuf);
    stream.write_all(PLAY.as_bytes()).expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("response head");
        assert_eq!(n, 1, "closed before the response head ended");
        head.push(byte[0]);
    }
    (
        String::from_utf8(head).expect("ASCII head"),
        stream,
        PullFrameDecoder::new(),
    )
}

fn next_frame(
    stream: &mut TcpStream,
    dec: &mut PullFrameDecoder,
    chunk: usize,
) -> Option<PullFrame> {
    loop {
        if let Some(f) = dec.next_frame().expect("valid pull framing") {
            return Some(f);
        }
        let mut buf = vec![0u8; chunk];
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => dec.push(&buf[..n]),
        }
    }
}

fn sink(hub: HubConfig) -> (NetworkSink, SocketAddr) {
    let config = NetworkSinkConfig::default()
        .hub(hub)
        .serve(ServeConfig::default().write_timeout(Duration::from_secs(2)));
    let mut sink = NetworkSink::new(config).expect("sink");
    let addr = sink.open(0).expect("open");
    (sink, addr)
}

fn wait_clients(sink: &NetworkSink, n: usize) {
    let start = Instant::now();
    while sink.clients().len() != n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "expected {n} players, have {}",
            sink.clients().len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cut_writes_give_every_packet_in_order_with_consecutive_counters() {
    let stream = Arc::new(SyntheticStream::new(3200, 600));
    let (mut sink, addr) = sink(HubConfig::with_max_clients(8));
    sink.on_header(&stream.header).expect("header");
    // Key frame first, so players start at packet 0.
    fn publish(sink: &mut NetworkSink, stream: &SyntheticStream, range: std::ops::Range<usize>) {
        for i in range {
            let mut info = stream.infos[i];
            info.key_frame = i == 0;
            sink.on_data_unit(DataUnit::shared(stream.packets[i].clone(), info))
                .expect("publish");
        }
    }
    publish(&mut sink, &stream, 0..1);
    // A 4 KiB receive buffer and 700-byte reads: the server's 64 KiB batches are cut
    // mid-frame over and over.
    let (head, mut conn, mut dec) = play(addr, 4096);
    assert!(head.starts_with("HTTP/1.0 200 OK"), "{head}");
    wait_clients(&sink, 1);
    let fed = stream.clone();
    let feeder = std::thread::spawn(move || {
        publish(&mut sink, &fed, 1..600);
        sink.on_end_writing().expect("end");
        sink
    });
    let header = next_frame(&mut conn, &mut dec, 700).expect("$H");
    assert_eq!(header.id, b'H');
    let mut got = 0usize;
    loop {
        let f = next_frame(&mut conn, &mut dec, 700).expect("a frame before the end");
        match f.id {
            b'D' => {
                assert_eq!(f.location_id as usize, got, "consecutive LocationId");
                assert_eq!(f.af_flags, got as u8, "consecutive $D sequence");
                assert_eq!(f.payload, stream.packets[got], "packet {got} intact");
                got += 1;
            }
            b'E' => {
                assert_eq!(f.reason, Some(0));
                break;
            }
            other => panic!("unexpected frame ${}", other as char),
        }
    }
    assert_eq!(got, 600, "every packet, none twice");
    let sink = feeder.join().expect("feeder");
    wait_clients(&sink, 0);
}

#[test]
fn a_player_that_stops_reading_is_dropped_and_the_others_go_on() {
    let stream = SyntheticStream::new(3200, 400);
    let (mut sink, addr) = sink(HubConfig::with_max_clients(8).client_queue_bytes(64 << 20));
    sink.on_header(&stream.header).expect("header");
    let mut info = stream.infos[0];
    info.key_frame = true;
    sink.on_data_unit(DataUnit::shared(stream.packets[0].clone(), info))
        .expect("publish");
    let (_, stalled, _) = play(addr, 4096);
    let (_, mut reader, mut dec) = play(addr, 1 << 16);
    wait_clients(&sink, 2);
    let start = Instant::now();
    let mut i = 1;
    let mut got = 0;
    // 2.5 MB/s for four seconds (more than the kernel buffers of the stalled player's
    // connection); the reader reads all of it.
    while start.elapsed() < Duration::from_secs(4) {
        for _ in 0..40 {
            let mut info = stream.infos[i % 400];
            info.key_frame = false;
            sink.on_data_unit(DataUnit::shared(stream.packets[i % 400].clone(), info))
                .expect("publish");
            i += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
        while dec.buffered() < 1 << 20 {
            reader
                .set_read_timeout(Some(Duration::from_millis(5)))
                .expect("timeout");
            let mut buf = [0u8; 65536];
            match reader.read(&mut buf) {
                Ok(n) if n > 0 => dec.push(&buf[..n]),
                _ => break,
            }
        }
        while let Ok(Some(f)) = dec.next_frame() {
            if f.id == b'D' {
                got += 1;
            }
        }
    }
    // The stalled player's socket filled up; after its 2 s write timeout it is gone.
    assert_eq!(sink.clients().len(), 1, "the stalled player was dropped");
    assert!(got + 400 >= i, "the reader kept up: {got} of {i}");
    drop(stalled);
}

#[test]
fn an_overloaded_engine_refuses_newcomers_and_keeps_its_players() {
    let stream = SyntheticStream::new(3200, 200);
    // A threshold no sweep can stay under: the engine calls itself overloaded as soon as
    // it has swept once.
    let load = Arc::new(DeliveryLoad::with_threshold(Duration::from_nanos(1)));
    let hub = HubConfig::with_max_clients(8).delivery(DeliveryConfig::default().load(load.clone()));
    let (mut sink, addr) = sink(hub);
    sink.on_header(&stream.header).expect("header");
    let mut info = stream.infos[0];
    info.key_frame = true;
    sink.on_data_unit(DataUnit::shared(stream.packets[0].clone(), info))
        .expect("publish");
    let (head, mut first, mut dec) = play(addr, 1 << 16);
    assert!(
        head.starts_with("HTTP/1.0 200 OK"),
        "admitted before any sweep: {head}"
    );
    let start = Instant::now();
    while !load.is_overloaded() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the engine reports its load"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (head, _, _) = play(addr, 1 << 16);
    assert!(head.starts_with("HTTP/1.0 503"), "{head}");
    assert!(head.contains("\r\nRetry-After: 10\r\n"), "{head}");
    assert_eq!(sink.hub().stats().overload_refusals, 1);
    for i in 1..50 {
        let mut info = stream.infos[i];
        info.key_frame = false;
        sink.on_data_unit(DataUnit::shared(stream.packets[i].clone(), info))
            .expect("publish");
    }
    sink.on_end_writing().expect("end");
    let mut packets = 0;
    while let Some(f) = next_frame(&mut first, &mut dec, 65536) {
        if f.id == b'D' {
            packets += 1;
        }
        if f.id == b'E' {
            break;
        }
    }
    assert_eq!(packets, 50, "the admitted player got everything");
}
