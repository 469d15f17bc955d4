//! Serving a player request someone else read and parsed (a router that reads each head once):
//! `hub::serve_request` answers Describe and Play from the hub without reading the socket
//! again, and `hub::refuse_request` answers a request the caller refuses itself.

use std::time::{Duration, Instant};

use push_protocol::http;
use push_protocol::pull_server::wire::{PullFrame, PullFrameDecoder};
use push_protocol::pull_server::{PullServerConfig, PullServerConnection, PullServerEvent};
use push_sink::hub::{
    BroadcastHub, HubConfig, ServeConfig, ServeOutcome, refuse_request, serve_request,
};
use push_sink::testing::SyntheticStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PLAY: &str = "GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: xPlayStrm=1\r\nPragma: stream-switch-count=2\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0 \r\n\r\n";
const DESCRIBE: &str = "GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\n\r\n";

/// What a router does: reads the head once, parses it once, feeds the parsed head to a new
/// connection and returns the connection with its request.
async fn accept_request(
    listener: &TcpListener,
) -> (
    TcpStream,
    PullServerConnection,
    push_protocol::pull_server::PullRequest,
) {
    let (mut stream, _) = listener.accept().await.expect("accept");
    let mut buf = Vec::new();
    let head = loop {
        let mut chunk = [0u8; 512];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before the head ended");
        buf.extend_from_slice(&chunk[..n]);
        if let Some((head, _)) = http::parse_request(&buf, 16 * 1024).expect("valid head") {
            break head;
        }
    };
    let now = Instant::now();
    let mut conn = PullServerConnection::new(PullServerConfig::default(), now);
    conn.handle_request_head(&head, now)
        .expect("new connection");
    let Some(PullServerEvent::Request(request)) = conn.poll_event() else {
        panic!("a player request");
    };
    (stream, conn, request)
}

async fn player(addr: std::net::SocketAddr, request: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("request");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    out
}

/// A player sends `request`; the server side reads it like a router and serves it from `hub`.
async fn serve_one(
    hub: &BroadcastHub,
    listener: &TcpListener,
    request: &'static str,
) -> (tokio::task::JoinHandle<Vec<u8>>, ServeOutcome) {
    let addr = listener.local_addr().expect("addr");
    let client = tokio::spawn(player(addr, request));
    let (tcp, conn, request) = accept_request(listener).await;
    let outcome = serve_request(hub, tcp, conn, request, &ServeConfig::default(), None)
        .await
        .expect("served");
    (client, outcome)
}

fn frames(body: &[u8]) -> Vec<PullFrame> {
    let mut dec = PullFrameDecoder::new();
    dec.push(body);
    std::iter::from_fn(|| dec.next_frame().expect("valid framing")).collect()
}

fn split_head(response: &[u8]) -> (String, &[u8]) {
    let end = http::head_end(response).expect("a response head");
    (
        String::from_utf8_lossy(&response[..end]).into_owned(),
        &response[end..],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parsed_play_is_delivered_from_the_hub() {
    let stream = SyntheticStream::new(3200, 20);
    let hub = BroadcastHub::new(HubConfig::default());
    hub.set_header(stream.header.clone());
    hub.publish(stream.packets[0].clone(), true);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (client, outcome) = serve_one(&hub, &listener, PLAY).await;
    assert_eq!(outcome, ServeOutcome::Delivering);
    for p in &stream.packets[1..] {
        hub.publish(p.clone(), false);
    }
    hub.end_of_stream();
    let response = client.await.expect("player task");
    let (head, body) = split_head(&response);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("application/x-mms-framed"), "{head}");
    let frames = frames(body);
    assert_eq!(frames.first().map(|f| f.id), Some(b'H'));
    assert_eq!(frames.last().map(|f| f.id), Some(b'E'));
    let packets: Vec<_> = frames
        .into_iter()
        .filter(|f| f.id == b'D')
        .map(|f| f.payload)
        .collect();
    assert_eq!(packets, stream.packets, "every packet once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parsed_describe_gets_the_header_and_a_refusal_its_status() {
    let stream = SyntheticStream::new(3200, 1);
    let hub = BroadcastHub::new(HubConfig::default());
    hub.set_header(stream.header.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, outcome) = serve_one(&hub, &listener, DESCRIBE).await;
    assert_eq!(outcome, ServeOutcome::Described);
    let response = client.await.expect("player task");
    let (head, body) = split_head(&response);
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    assert!(head.contains("application/vnd.ms.wms-hdr.asfv1"), "{head}");
    let frames = frames(body);
    assert_eq!(frames.first().map(|f| f.id), Some(b'H'));
    assert_eq!(frames[0].payload, stream.header);

    let client = tokio::spawn(player(addr, PLAY));
    let (mut tcp, mut conn, _) = accept_request(&listener).await;
    let outcome = refuse_request(&mut tcp, &mut conn, 404, &ServeConfig::default())
        .await
        .expect("answered");
    assert_eq!(outcome, ServeOutcome::Refused(404));
    drop(tcp);
    let response = client.await.expect("player task");
    assert!(
        split_head(&response)
            .0
            .starts_with("HTTP/1.0 404 Not Found\r\n"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}
