//! The publishing-point server behind `wmpush serve` and `wmpush demo`.
//!
//! A composition, and a router: for every TCP connection the router reads the first
//! request head once (bounded by [`MAX_HEAD`] and the configured head timeout; `400` to a
//! bad, oversized or late head, `503` when the server is at its connection limit), parses
//! it once with push-protocol's [`http::parse_request`], and hands the parsed
//! [`RequestHead`] with the connection, and every byte read past the head, to one
//! front-end per protocol:
//!
//! - `player` (MS-WMSP): Describe, Play and the ASX metafile for web clients, served from the
//!   [`PublishingPoint`]'s broadcast hub by push-sink's `hub::serve_request` with
//!   push-protocol's [`PullServerConnection`](push_protocol::pull_server::PullServerConnection)
//!   fed the parsed head;
//! - `plain`: `GET /POINT?format=asf`, the broadcast as a plain ASF byte stream over HTTP;
//! - `encoder` (MS-WMHTTP): pushes, handed to [`crate::ingest`]'s driver (push-protocol's
//!   `PushServer`, fed the parsed head); a keep-alive encoder's later requests on the same
//!   connection are the push server's to parse;
//! - `status`: `/_status`, `/_status.html` and `/_metrics` ([`status()`], [`metrics`]).
//!
//! A later protocol (MMS over TCP, RTSP) is one more front-end module and one more arm of
//! the router's `Route`; the front-ends do not know each other.

mod encoder;
mod plain;
mod player;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use push_protocol::http::{self, Headers, RequestHead};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::auth::AuthFile;
use crate::config::ServeConfig;
use crate::ingest;
use crate::outputs::{OutputFactories, OutputFactory};
use crate::point::{PointRegistry, PublishingPoint};
use push_sink::hub::DeliveryLoad;

pub use player::PLAYER_HEADER_WAIT;
/// Standard reason phrase of an HTTP status (push-protocol's, the one owner of HTTP heads).
pub use push_protocol::http::reason_phrase;
pub use status::{ServerStatus, StatusDocument, metrics, status};

/// Longest request head read: a longer one is answered 400 by the router (and the push
/// server, which reads an encoder's later heads, answers 413).
pub const MAX_HEAD: usize = 16 * 1024;

/// Everything the connection tasks share.
#[derive(Debug)]
pub struct ServerState {
    /// The configuration.
    pub config: ServeConfig,
    /// htdigest users, if authentication is on.
    pub auth: Option<AuthFile>,
    /// Publishing points.
    pub points: PointRegistry,
    /// Push sessions the push server holds (updated by the ingest driver).
    pub encoder_sessions: AtomicUsize,
    next_connection: AtomicU64,
    ingest: mpsc::Sender<ingest::Input>,
    /// When the server started.
    pub started: Instant,
    /// Connections accepted.
    pub connections_total: AtomicU64,
    /// Connections refused for limits.
    pub connections_refused: AtomicU64,
    /// Players connected now, over all points.
    pub players_now: AtomicU64,
    /// The load of every point's delivery engine: admission refuses newcomers (503 with
    /// Retry-After) when it says the server cannot keep its players at the live rate.
    pub delivery_load: Arc<DeliveryLoad>,
    /// Outputs added to every push session besides the configured archive and relays
    /// ([`Server::add_output`]).
    pub outputs: OutputFactories,
    shutdown: watch::Receiver<bool>,
}

impl ServerState {
    /// True once shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A receiver that changes to `true` at shutdown.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }

    /// A fresh id for an encoder connection (push-protocol's `ConnectionId`).
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Where encoder connections send their bytes (the ingest driver).
    pub fn ingest_sender(&self) -> mpsc::Sender<ingest::Input> {
        self.ingest.clone()
    }
}

/// A bound server; call [`Server::run`] to serve. Runs on any tokio runtime with a
/// blocking pool: archives and relays write from their own queues there
/// ([`crate::outputs`]), never on the tasks that serve connections.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown_tx: watch::Sender<bool>,
    connection_slots: Arc<Semaphore>,
    ingest_inputs: Option<mpsc::Receiver<ingest::Input>>,
    /// One descriptor held in reserve: when the process runs out (EMFILE), it is released
    /// so the newcomer can be accepted and refused (503) instead of waiting in the backlog.
    reserve_fd: Option<std::fs::File>,
    /// Accept errors so far (warnings are logged once per hundred).
    accept_errors: u64,
}

/// Stops a running server from another task.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    tx: watch::Sender<bool>,
}

impl ShutdownHandle {
    /// Begins graceful shutdown: players get `$E(0)`, the listener closes.
    pub fn shutdown(&self) {
        let _ = self.tx.send(true);
    }
}

impl Server {
    /// Binds the listener and prepares the points declared in `config`.
    pub async fn bind(config: ServeConfig, auth: Option<AuthFile>) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let points = PointRegistry::default();
        let delivery_load = Arc::new(DeliveryLoad::new());
        for (name, settings) in config.declared_points() {
            points.insert(PublishingPoint::with_load(
                &name,
                settings,
                delivery_load.clone(),
            ));
        }
        let slots = Arc::new(Semaphore::new(config.limits.max_connections));
        let (ingest_tx, ingest_rx) = mpsc::channel(ingest::INGEST_QUEUE);
        let state = Arc::new(ServerState {
            config,
            auth,
            points,
            encoder_sessions: AtomicUsize::new(0),
            next_connection: AtomicU64::new(1),
            ingest: ingest_tx,
            started: Instant::now(),
            connections_total: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            players_now: AtomicU64::new(0),
            delivery_load,
            outputs: OutputFactories::default(),
            shutdown: shutdown_rx,
        });
        Ok(Server {
            listener,
            state,
            shutdown_tx,
            connection_slots: slots,
            ingest_inputs: Some(ingest_rx),
            reserve_fd: std::fs::File::open("/dev/null").ok(),
            accept_errors: 0,
        })
    }

    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Shared state (points, sessions, counters).
    pub fn state(&self) -> Arc<ServerState> {
        self.state.clone()
    }

    /// Adds an output to every push session that starts streaming from now on (for the
    /// sessions `factory` returns an [`OutputSpec`](crate::outputs::OutputSpec) for): a new
    /// kind of output is one call. It gets the session's header, packets and end through
    /// its own bounded queue (push-sink's `QueuedSink`), so however slow it is it delays no
    /// player and no other output; its state, drops and reconnects show in `/_status`.
    pub fn add_output(&self, factory: OutputFactory) {
        self.state.outputs.add(factory);
    }

    /// A handle that stops [`Server::run`].
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            tx: self.shutdown_tx.clone(),
        }
    }

    /// Accepts connections until shutdown, then ends every point (players get
    /// `$E(0)`) and waits up to two seconds for connections to finish.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut shutdown = self.state.shutdown_signal();
        let driver = self
            .ingest_inputs
            .take()
            .map(|inputs| tokio::spawn(ingest::run_driver(self.state.clone(), inputs)));
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        Err(e) => {
                            // EMFILE and friends: refuse only the newcomer, keep serving
                            // everyone already connected (VLC's MMSH server drops them all).
                            self.refuse_without_descriptors(&e).await;
                            continue;
                        }
                    };
                    self.state.connections_total.fetch_add(1, Ordering::Relaxed);
                    let Ok(permit) = self.connection_slots.clone().try_acquire_owned() else {
                        self.state.connections_refused.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(refuse_busy(stream));
                        continue;
                    };
                    let state = self.state.clone();
                    tokio::spawn(async move {
                        // The permit lives as long as the connection: a player handed to a
                        // delivery engine takes it along.
                        if let Err(e) = route(state, stream, peer, permit).await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                _ = shutdown.changed() => break,
            }
        }
        tracing::info!("shutting down: ending every publishing point");
        for p in self.state.points.all() {
            p.end();
        }
        // The driver saw the same signal: it finalises archives and ends relays.
        if let Some(driver) = driver
            && let Err(e) = driver.await
        {
            tracing::warn!(error = %e, "ingest driver failed");
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.connection_slots.available_permits() < self.state.config.limits.max_connections
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Server {
    /// Out of descriptors (or another accept error): with the reserve descriptor released,
    /// accept the newcomer, answer 503 and close it, then take the reserve back. Without a
    /// reserve (it could not be reopened) the newcomer waits in the backlog and accepting is
    /// retried after a pause. Warnings are logged for the first error and every hundredth.
    async fn refuse_without_descriptors(&mut self, error: &std::io::Error) {
        self.accept_errors += 1;
        if self.accept_errors.is_multiple_of(100) || self.accept_errors == 1 {
            tracing::warn!(error = %error, errors = self.accept_errors, "accept failed: refusing newcomers");
        }
        let out_of_fds = matches!(error.raw_os_error(), Some(23 | 24)); // ENFILE, EMFILE
        if out_of_fds && self.reserve_fd.take().is_some() {
            if let Ok(Ok((stream, peer))) =
                tokio::time::timeout(Duration::from_millis(10), self.listener.accept()).await
            {
                self.state
                    .connections_refused
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, "out of file descriptors: newcomer refused (503)");
                let _ = tokio::time::timeout(Duration::from_secs(1), refuse_busy(stream)).await;
            }
            self.reserve_fd = std::fs::File::open("/dev/null").ok();
        } else {
            if self.reserve_fd.is_none() {
                self.reserve_fd = std::fs::File::open("/dev/null").ok();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Answers a newcomer the server has no room for: `503`, then close.
async fn refuse_busy(mut stream: TcpStream) {
    let _ = respond(&mut stream, 503, "text/plain", b"server busy\n").await;
}

/// A request as the router read it: the head, parsed once, and the bytes that came after
/// it in the same reads (a POST body's start, pipelined bytes), for the front-end to use
/// before it reads the connection itself.
#[derive(Debug)]
struct RoutedRequest {
    /// The parsed request head.
    head: RequestHead,
    /// Bytes read past the head, in order.
    rest: Vec<u8>,
}

/// Reads and parses one request head from `stream`: at most [`MAX_HEAD`] bytes (plus what
/// the last read brought past the head), all of it before `timeout`. `None` when the peer
/// closed before a whole head; an error for a malformed, oversized or late head.
async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> anyhow::Result<Option<RoutedRequest>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let mut scanned: usize = 0;
    loop {
        // Never hold more than one byte over the limit: that byte proves the head too large.
        let room = (MAX_HEAD + 1 - buf.len()).min(chunk.len());
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk[..room]))
            .await
            .map_err(|_| anyhow::anyhow!("request head not received in time"))??;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        // Parse once the blank line is there, not after every small read.
        if http::request_head_end(&buf, scanned).is_some()
            && let Some((head, len)) = http::parse_request(&buf, MAX_HEAD)?
        {
            let rest = buf.split_off(len);
            return Ok(Some(RoutedRequest { head, rest }));
        }
        scanned = buf.len();
        if buf.len() > MAX_HEAD {
            anyhow::bail!("request head larger than {MAX_HEAD} bytes");
        }
    }
}

/// Which front-end serves a request, decided from its head alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `GET /_status`, `/_status.html`, `/_metrics`.
    Status(status::StatusPage),
    /// `GET /POINT?format=asf`: plain-HTTP ASF.
    PlainAsf,
    /// Any other `GET` outside `/_`: an MS-WMSP player (or a browser, which gets an ASX).
    Player,
    /// `POST`: an MS-WMHTTP encoder.
    Encoder,
    /// `GET /_...` that is no status page: 404.
    NotFound,
    /// Any other method: 405.
    MethodNotAllowed,
}

impl Route {
    /// The front-end for `head`.
    fn of(head: &RequestHead) -> Route {
        let path = head.path();
        match head.method.as_str() {
            "GET" => {
                if let Some(page) = status::StatusPage::at(path) {
                    Route::Status(page)
                } else if head.query_param("format") == Some("asf") {
                    Route::PlainAsf
                } else if path.starts_with("/_") {
                    Route::NotFound
                } else {
                    Route::Player
                }
            }
            "POST" => Route::Encoder,
            _ => Route::MethodNotAllowed,
        }
    }
}

/// The router: reads the connection's first request head once, then hands the parsed head,
/// the bytes after it and the connection to its front-end.
async fn route(
    state: Arc<ServerState>,
    mut stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let _ = stream.set_nodelay(true);
    let request = match read_request(&mut stream, state.config.limits.head_timeout).await {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(()),
        Err(e) => {
            let _ = respond(&mut stream, 400, "text/plain", b"bad request head\n").await;
            return Err(e);
        }
    };
    let route = Route::of(&request.head);
    tracing::debug!(%peer, method = %request.head.method, target = %request.head.target, ?route, "request");
    match route {
        Route::Status(page) => status::serve(&state, &mut stream, page).await,
        Route::PlainAsf => plain::serve(&state, stream, &request.head, permit).await,
        Route::Player => player::serve(&state, stream, request, permit).await,
        Route::Encoder => encoder::serve(&state, stream, peer, request).await,
        Route::NotFound => respond(&mut stream, 404, "text/plain", b"not found\n").await,
        Route::MethodNotAllowed => {
            respond(&mut stream, 405, "text/plain", b"method not allowed\n").await
        }
    }
}

/// Point name from a URL path: without the leading `/`, percent-decoding not applied.
pub fn point_name(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// Writes a complete small response (HTTP/1.0, `Connection: close`) and flushes; the caller
/// closes.
async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<()> {
    let mut headers = Headers::default();
    headers.push("Server", push_protocol::pull_server::DEFAULT_SERVER);
    headers.push("Content-Type", content_type);
    headers.push("Content-Length", body.len().to_string());
    headers.push("Cache-Control", "no-cache");
    headers.push("Connection", "close");
    let mut out = Vec::with_capacity(160 + body.len());
    http::write_response(status, reason_phrase(status), 0, &headers, &mut out);
    out.extend_from_slice(body);
    stream.write_all(&out).await?;
    stream.flush().await?;
    Ok(())
}

/// Counts a player for as long as it is served, and holds its connection slot; handed to
/// the point's delivery engine with the player, dropped when the player is done.
struct PlayerGuard {
    point: Arc<PublishingPoint>,
    state: Arc<ServerState>,
    _permit: OwnedSemaphorePermit,
}

impl PlayerGuard {
    fn new(
        point: &Arc<PublishingPoint>,
        state: &Arc<ServerState>,
        permit: OwnedSemaphorePermit,
    ) -> PlayerGuard {
        point.counters.players.fetch_add(1, Ordering::Relaxed);
        point.counters.players_total.fetch_add(1, Ordering::Relaxed);
        state.players_now.fetch_add(1, Ordering::Relaxed);
        PlayerGuard {
            point: point.clone(),
            state: state.clone(),
            _permit: permit,
        }
    }
}

impl Drop for PlayerGuard {
    fn drop(&mut self) {
        self.point.counters.players.fetch_sub(1, Ordering::Relaxed);
        self.state.players_now.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> RequestHead {
        http::parse_request(bytes, MAX_HEAD)
            .expect("valid")
            .expect("complete")
            .0
    }

    #[test]
    fn routes_come_from_the_head_alone() {
        let cases: [(&[u8], Route); 9] = [
            (
                b"GET /_status HTTP/1.0\r\n\r\n",
                Route::Status(status::StatusPage::Json),
            ),
            (
                b"GET /_status.html HTTP/1.0\r\n\r\n",
                Route::Status(status::StatusPage::Html),
            ),
            (
                b"GET /_metrics?x HTTP/1.0\r\n\r\n",
                Route::Status(status::StatusPage::Metrics),
            ),
            (b"GET /live?format=asf HTTP/1.0\r\n\r\n", Route::PlainAsf),
            (b"GET /live?format=asfx HTTP/1.0\r\n\r\n", Route::Player),
            (b"GET /live HTTP/1.0\r\n\r\n", Route::Player),
            (b"GET /_other HTTP/1.0\r\n\r\n", Route::NotFound),
            (b"POST /live HTTP/1.1\r\n\r\n", Route::Encoder),
            (b"get /live HTTP/1.1\r\n\r\n", Route::MethodNotAllowed),
        ];
        for (bytes, route) in cases {
            assert_eq!(
                Route::of(&head(bytes)),
                route,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[tokio::test]
    async fn the_head_is_read_once_and_the_bytes_after_it_kept() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            // The head in small pieces, then the body's start in the head's last piece.
            for piece in [
                &b"POST /live HT"[..],
                b"TP/1.1\r\nContent-Length: 9\r",
                b"\n\r\nbody-part",
            ] {
                client.write_all(piece).await.expect("write");
                tokio::task::yield_now().await;
            }
            client
        });
        let request = read_request(&mut server, Duration::from_secs(5))
            .await
            .expect("a valid head")
            .expect("not closed");
        assert_eq!(request.head.method, "POST");
        assert_eq!(request.head.headers.get("content-length"), Some("9"));
        assert_eq!(request.rest, b"body-part");
        drop(writer.await);
    }

    #[tokio::test]
    async fn bad_oversized_late_and_missing_heads() {
        let read = |bytes: Vec<u8>| async move {
            let (mut client, mut server) = tokio::io::duplex(64 * 1024);
            client.write_all(&bytes).await.expect("write");
            drop(client);
            read_request(&mut server, Duration::from_secs(5)).await
        };
        assert!(read(b"\x00garbage\r\n\r\n".to_vec()).await.is_err());
        let mut big = b"GET / HTTP/1.0\r\n".to_vec();
        big.resize(MAX_HEAD + 100, b'a');
        assert!(read(big).await.is_err(), "over MAX_HEAD");
        assert!(read(Vec::new()).await.expect("closed").is_none());
        let (_client, mut server) = tokio::io::duplex(1024);
        let late = read_request(&mut server, Duration::from_millis(20)).await;
        assert!(late.is_err(), "no head in time");
    }
}
