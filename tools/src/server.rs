//! The publishing-point server behind `wmpush serve` and `wmpush demo`.
//!
//! A composition: every TCP connection is classified by its first request
//! line, peeked without reading it; `GET` from players goes to push-sink's
//! `hub::serve_player` (push-protocol's MS-WMSP [`PullServerConnection`] fed
//! from the [`PublishingPoint`]'s broadcast hub); `POST` from encoders goes to
//! [`crate::ingest`] (push-protocol's `PushServer`); `/_status`,
//! `/_status.html` and `/_metrics` report on everything.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use push_protocol::pull_server::{
    PullRequestKind, PullServerConfig, PullServerConnection, PullServerEvent,
};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use crate::auth::AuthFile;
use crate::config::ServeConfig;
use crate::ingest;
use crate::outputs::{OutputFactories, OutputFactory};
use crate::point::{PointRegistry, PointStatus, PublishingPoint, StreamFacts};
use push_sink::hub::{DeliveryLoad, PlayerFraming};

/// Longest request head read before answering 431.
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
                        if let Err(e) = handle_connection(state, stream, peer, permit).await {
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

async fn refuse_busy(mut stream: TcpStream) {
    let _ = stream
        .write_all(
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .await;
}

/// Waits until a whole request head (up to and including the blank line) is in
/// the socket's receive buffer, without consuming it: the player path hands the
/// untouched connection to push-sink's `serve_player`, which reads the request
/// itself. Returns the bytes seen (the head and maybe more) and the head length,
/// `None` when the peer closed first. Bounded by `timeout` and [`MAX_HEAD`].
pub(crate) async fn peek_head(
    stream: &TcpStream,
    timeout: Duration,
) -> anyhow::Result<Option<(Vec<u8>, usize)>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let late = || anyhow::anyhow!("request head not received in time");
    let mut buf = vec![0u8; MAX_HEAD + 1];
    let mut seen = 0;
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf))
            .await
            .map_err(|_| late())??;
        if n == 0 {
            return Ok(None);
        }
        if let Some(end) = find_head_end(&buf[..n]) {
            buf.truncate(n);
            return Ok(Some((buf, end)));
        }
        if n > MAX_HEAD {
            anyhow::bail!("request head larger than {MAX_HEAD} bytes");
        }
        if n == seen {
            // Peeking again returns the same bytes at once: wait a little for more.
            let next = (tokio::time::Instant::now() + Duration::from_millis(5)).min(deadline);
            tokio::time::sleep_until(next).await;
            if tokio::time::Instant::now() >= deadline {
                return Err(late());
            }
        }
        seen = n;
    }
}

/// Reads (consumes) the `len` bytes of a head seen by [`peek_head`].
async fn consume(stream: &mut TcpStream, len: usize) -> anyhow::Result<Vec<u8>> {
    let mut head = vec![0u8; len];
    stream.read_exact(&mut head).await?;
    Ok(head)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

async fn handle_connection(
    state: Arc<ServerState>,
    mut stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let _ = stream.set_nodelay(true);
    let timeout = state.config.limits.head_timeout;
    let Some((buf, head_len)) = (match peek_head(&stream, timeout).await {
        Ok(x) => x,
        Err(e) => {
            let _ = stream
                .write_all(
                    b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            return Err(e);
        }
    }) else {
        return Ok(());
    };
    let first_line = buf
        .split(|b| *b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .unwrap_or_default();
    let mut parts = first_line.split_ascii_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    tracing::debug!(%peer, %method, %target, "request");
    // Every path but the player's reads its head now (the player's is read by
    // push-sink's serve_player).
    let player = method == "GET"
        && !path.starts_with("/_")
        && !query.split('&').any(|kv| kv == "format=asf");
    let head = if player {
        Vec::new()
    } else {
        consume(&mut stream, head_len).await?
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/_status") => {
            let body = serde_json::to_string_pretty(&status(&state))?;
            respond(&mut stream, 200, "application/json", body.as_bytes()).await
        }
        ("GET", "/_status.html") => {
            let body = crate::status_page::render(&status(&state));
            respond(
                &mut stream,
                200,
                "text/html; charset=utf-8",
                body.as_bytes(),
            )
            .await
        }
        ("GET", "/_metrics") => {
            let body = metrics(&status(&state));
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4",
                body.as_bytes(),
            )
            .await
        }
        ("GET", _) if query.split('&').any(|kv| kv == "format=asf") => {
            serve_plain_asf(&state, stream, point_name(&path), permit).await
        }
        ("GET", _) if player => serve_player(&state, stream, &buf[..head_len], permit).await,
        ("POST", _) => ingest::handle_push(state.clone(), stream, peer, head).await,
        _ => respond(&mut stream, 405, "text/plain", b"method not allowed\n").await,
    }
}

/// Point name from a URL path: without the leading `/`, percent-decoding not applied.
pub fn point_name(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// Writes a complete small response and closes.
pub(crate) async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<()> {
    let head = format!(
        "HTTP/1.0 {status} {}\r\nServer: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        reason_phrase(status),
        push_protocol::pull_server::DEFAULT_SERVER,
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    Ok(())
}

/// Standard reason phrase of an HTTP status.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
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

async fn flush(conn: &mut PullServerConnection, stream: &mut TcpStream) -> anyhow::Result<()> {
    while let Some(b) = conn.poll_transmit() {
        stream.write_all(&b).await?;
    }
    Ok(())
}

/// MS-WMSP player: Describe, Play or (for browsers) an ASX metafile, served from
/// the point's hub by push-sink's `serve_player` (one shared copy of each packet,
/// a bounded queue per player). `head` is the request head, still unread in
/// `stream`: it is only looked at here to find the point and apply the limits.
async fn serve_player(
    state: &Arc<ServerState>,
    stream: TcpStream,
    head: &[u8],
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let config = PullServerConfig {
        fallback_host: state.config.listen.to_string(),
        ..PullServerConfig::default()
    };
    // A throwaway connection classifies the request; refusals are answered from it.
    let mut probe = PullServerConnection::new(config.clone(), Instant::now());
    probe.handle_input(head, Instant::now());
    let request = loop {
        match probe.poll_event() {
            Some(PullServerEvent::Request(r)) => break Some(r),
            Some(PullServerEvent::Refused { status, reason }) => {
                tracing::debug!(status, reason, "player request refused");
                break None;
            }
            Some(_) => continue,
            None => break None,
        }
    };
    let Some(request) = request else {
        return refuse_player(stream, head.len(), probe, None).await;
    };
    let path = request.path.split('?').next().unwrap_or("/").to_owned();
    let name = point_name(&path);
    let Some(point) = state.points.get(name) else {
        return refuse_player(stream, head.len(), probe, Some(404)).await;
    };
    let play = request.kind == PullRequestKind::Play;
    if play && state.players_now.load(Ordering::Relaxed) as usize >= state.config.limits.max_players
    {
        return refuse_player(stream, head.len(), probe, Some(503)).await;
    }
    let keep: Option<Box<dyn Send>> = if play {
        Some(Box::new(PlayerGuard::new(&point, state, permit)))
    } else {
        Some(Box::new(permit))
    };
    let serve = push_sink::hub::ServeConfig::default()
        .pull(config)
        .header_wait(PLAYER_HEADER_WAIT);
    let outcome = push_sink::hub::serve_player_with(point.hub(), stream, &[], &serve, keep).await?;
    tracing::debug!(point = name, ?outcome, "player request answered");
    Ok(())
}

/// Answers a player request the server refuses itself (`status`, or what the
/// classifying connection already decided), after reading its head.
async fn refuse_player(
    mut stream: TcpStream,
    head_len: usize,
    mut probe: PullServerConnection,
    status: Option<u16>,
) -> anyhow::Result<()> {
    consume(&mut stream, head_len).await?;
    if let Some(status) = status {
        probe.reject(status)?;
    }
    flush(&mut probe, &mut stream).await
}

/// How long a player asking for a point that is not live waits for a stream
/// before it gets 503.
pub const PLAYER_HEADER_WAIT: Duration = Duration::from_secs(1);

/// `GET /POINT?format=asf`: the broadcast as a plain ASF byte stream over
/// HTTP (header, then fixed-size packets), for `ffplay http://...`; the
/// packets are written by the point's delivery engine like a player's.
async fn serve_plain_asf(
    state: &Arc<ServerState>,
    mut stream: TcpStream,
    name: &str,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let Some(point) = state.points.get(name) else {
        return respond(
            &mut stream,
            404,
            "text/plain",
            b"no such publishing point\n",
        )
        .await;
    };
    if state.players_now.load(Ordering::Relaxed) as usize >= state.config.limits.max_players {
        return respond(&mut stream, 503, "text/plain", b"too many players\n").await;
    }
    let sub = match point.subscribe(stream.peer_addr().ok(), Some("plain HTTP ASF".into())) {
        Ok(s) => s,
        Err(e) => {
            let why = format!("{e}\n");
            return respond(&mut stream, 503, "text/plain", why.as_bytes()).await;
        }
    };
    if StreamFacts::read(sub.header()).is_err() {
        return respond(
            &mut stream,
            503,
            "text/plain",
            b"the pushed ASF header is unreadable\n",
        )
        .await;
    }
    let guard = PlayerGuard::new(&point, state, permit);
    let mut first = format!(
        "HTTP/1.0 200 OK\r\nServer: {}\r\nContent-Type: video/x-ms-asf\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        push_protocol::pull_server::DEFAULT_SERVER
    )
    .into_bytes();
    first.extend_from_slice(sub.header());
    let write = tokio::time::timeout(PLAIN_WRITE_TIMEOUT, stream.write_all(&first));
    match write.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => anyhow::bail!("plain ASF client accepted nothing for {PLAIN_WRITE_TIMEOUT:?}"),
    }
    sub.deliver_with(
        stream,
        PlayerFraming::PlainAsf,
        PLAIN_WRITE_TIMEOUT,
        Some(Box::new(guard)),
    )?;
    Ok(())
}

/// A plain-HTTP ASF client whose socket accepts nothing for this long is dropped.
const PLAIN_WRITE_TIMEOUT: Duration = Duration::from_secs(20);

/// The server part of `/_status` (stable JSON field names).
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    /// wmpush version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_secs: f64,
    /// Listening address.
    pub listen: String,
    /// Connections accepted.
    pub connections_total: u64,
    /// Connections refused for limits.
    pub connections_refused: u64,
    /// Encoder sessions known.
    pub encoder_sessions: usize,
    /// Players connected now.
    pub players: u64,
}

/// `/_status` document.
#[derive(Debug, Clone, Serialize)]
pub struct StatusDocument {
    /// Server-wide numbers.
    pub server: ServerStatus,
    /// Every publishing point, by name.
    pub points: Vec<PointStatus>,
}

/// Builds the `/_status` document.
pub fn status(state: &ServerState) -> StatusDocument {
    StatusDocument {
        server: ServerStatus {
            version: env!("CARGO_PKG_VERSION"),
            uptime_secs: state.started.elapsed().as_secs_f64(),
            listen: state.config.listen.to_string(),
            connections_total: state.connections_total.load(Ordering::Relaxed),
            connections_refused: state.connections_refused.load(Ordering::Relaxed),
            encoder_sessions: state.encoder_sessions.load(Ordering::Relaxed),
            players: state.players_now.load(Ordering::Relaxed),
        },
        points: state.points.all().iter().map(|p| p.status()).collect(),
    }
}

fn prom_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition format (version 0.0.4).
pub fn metrics(doc: &StatusDocument) -> String {
    let mut m = String::new();
    m.push_str("# HELP wmpush_uptime_seconds Seconds since the server started.\n# TYPE wmpush_uptime_seconds gauge\n");
    m.push_str(&format!(
        "wmpush_uptime_seconds {:.3}\n",
        doc.server.uptime_secs
    ));
    m.push_str("# HELP wmpush_connections_total Connections accepted.\n# TYPE wmpush_connections_total counter\n");
    m.push_str(&format!(
        "wmpush_connections_total {}\n",
        doc.server.connections_total
    ));
    m.push_str("# HELP wmpush_connections_refused_total Connections refused for limits.\n# TYPE wmpush_connections_refused_total counter\n");
    m.push_str(&format!(
        "wmpush_connections_refused_total {}\n",
        doc.server.connections_refused
    ));
    m.push_str("# HELP wmpush_points Publishing points.\n# TYPE wmpush_points gauge\n");
    m.push_str(&format!("wmpush_points {}\n", doc.points.len()));
    type Field = fn(&PointStatus) -> String;
    let per_point: [(&str, &str, &str, Field); 5] = [
        (
            "wmpush_point_packets_received_total",
            "counter",
            "Data packets received.",
            |p| p.packets_in.to_string(),
        ),
        (
            "wmpush_point_bytes_received_total",
            "counter",
            "Data bytes received.",
            |p| p.bytes_in.to_string(),
        ),
        (
            "wmpush_point_bitrate_bps",
            "gauge",
            "Average received bitrate.",
            |p| p.bitrate_bps.to_string(),
        ),
        ("wmpush_point_players", "gauge", "Players connected.", |p| {
            p.players.to_string()
        }),
        (
            "wmpush_point_live",
            "gauge",
            "1 while a stream is live.",
            |p| u8::from(p.live).to_string(),
        ),
    ];
    type OutputField = fn(&crate::outputs::OutputStatus) -> String;
    let per_output: [(&str, &str, &str, OutputField); 4] = [
        (
            "wmpush_output_up",
            "gauge",
            "1 while the output (archive, relay, added) is live.",
            |o| u8::from(o.state == "live").to_string(),
        ),
        (
            "wmpush_output_queued_bytes",
            "gauge",
            "Bytes queued for the output.",
            |o| o.queued_bytes.to_string(),
        ),
        (
            "wmpush_output_drops_total",
            "counter",
            "Packets the output dropped.",
            |o| o.drops.to_string(),
        ),
        (
            "wmpush_output_reconnects_total",
            "counter",
            "Times the output was made again after a failure.",
            |o| o.reconnects.to_string(),
        ),
    ];
    for (name, kind, help, f) in per_output {
        m.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for p in &doc.points {
            for o in &p.outputs {
                m.push_str(&format!(
                    "{name}{{point=\"{}\",kind=\"{}\",target=\"{}\"}} {}\n",
                    prom_label(&p.name),
                    prom_label(&o.kind),
                    prom_label(&o.target),
                    f(o)
                ));
            }
        }
    }
    for (name, kind, help, f) in per_point {
        m.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for p in &doc.points {
            m.push_str(&format!(
                "{name}{{point=\"{}\"}} {}\n",
                prom_label(&p.name),
                f(p)
            ));
        }
    }
    m
}
