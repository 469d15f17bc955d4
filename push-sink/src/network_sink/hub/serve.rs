//! One player connection's request: MS-WMSP Describe, Play or an ASX metafile, answered
//! with push-protocol's [`PullServerConnection`]; a Play is then handed to the hub's
//! delivery engine.

use std::time::{Duration, Instant};

use push_protocol::pull_server::{
    PullRequest, PullRequestKind, PullServerConfig, PullServerConnection, PullServerEvent, Session,
};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{BroadcastHub, PlayerFraming, SubscribeError};
use crate::error::Error;

/// `Retry-After` seconds sent with a `503` when the delivery engine is at capacity
/// (RFC 9110 10.2.3).
pub const RETRY_AFTER_SECS: u32 = 10;

/// Settings of [`serve_player`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The MS-WMSP pull server connection's settings.
    pub pull: PullServerConfig,
    /// How long a Describe or Play waits for the first header before getting 503.
    pub header_wait: Duration,
    /// A player whose socket accepts nothing for this long is disconnected.
    pub write_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            pull: PullServerConfig::default(),
            header_wait: Duration::from_secs(10),
            write_timeout: Duration::from_secs(20),
        }
    }
}

impl ServeConfig {
    /// Sets the pull server connection's settings (e.g. the `Server` header).
    pub fn pull(mut self, pull: PullServerConfig) -> ServeConfig {
        self.pull = pull;
        self
    }

    /// Sets how long a request waits for the first header.
    pub fn header_wait(mut self, wait: Duration) -> ServeConfig {
        self.header_wait = wait;
        self
    }

    /// Sets the write timeout after which a silent player is disconnected.
    pub fn write_timeout(mut self, timeout: Duration) -> ServeConfig {
        self.write_timeout = timeout;
        self
    }
}

/// How a served connection's request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServeOutcome {
    /// A Describe was answered with the header.
    Described,
    /// A web client got an ASX metafile.
    Metafile,
    /// A Play was answered and the player handed to the hub's delivery engine, which
    /// streams to it from now on.
    Delivering,
    /// The player closed its connection before its request was answered.
    PlayerLeft,
    /// The request was refused with this HTTP status.
    Refused(u16),
}

/// Serves one player connection from `hub`: MS-WMSP Describe (header only), Play (header,
/// then the hub's delivery engine streams the packets from the last key frame on, `$C`/`$H`
/// on header changes, `$E(0)` at the end), or an ASX metafile for a web client. Returns
/// once the request is answered (a Play goes on in the engine). Newcomers get `503` with
/// `Retry-After` when the engine is at capacity.
pub async fn serve_player(
    hub: &BroadcastHub,
    stream: TcpStream,
    config: &ServeConfig,
) -> Result<ServeOutcome, Error> {
    serve_player_with(hub, stream, &[], config, None).await
}

/// [`serve_player`] for a connection whose first bytes (`received`, the request head or
/// part of it) were already read from `stream`, keeping `keep` alive for as long as the
/// player is served (a connection permit, a player count). Reads the request, then serves
/// it with [`serve_request`].
pub async fn serve_player_with(
    hub: &BroadcastHub,
    mut stream: TcpStream,
    received: &[u8],
    config: &ServeConfig,
    keep: Option<Box<dyn Send>>,
) -> Result<ServeOutcome, Error> {
    let _ = stream.set_nodelay(true);
    let mut conn = PullServerConnection::new(config.pull.clone(), Instant::now());
    if !received.is_empty() {
        conn.handle_input(received, Instant::now());
    }
    let mut buf = [0u8; 2048];
    // 1. The request head.
    let request = loop {
        if let Some(ev) = conn.poll_event() {
            match ev {
                PullServerEvent::Request(r) => break r,
                PullServerEvent::Refused { status, .. } => {
                    flush_connection(&mut stream, &mut conn, config.write_timeout).await?;
                    return Ok(ServeOutcome::Refused(status));
                }
                _ => continue,
            }
        }
        if conn.is_done() {
            return Ok(ServeOutcome::PlayerLeft);
        }
        let read = match conn.poll_timeout() {
            Some(deadline) => {
                let dl = tokio::time::Instant::from_std(deadline);
                match tokio::time::timeout_at(dl, stream.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => {
                        conn.handle_timeout(Instant::now());
                        continue;
                    }
                }
            }
            None => stream.read(&mut buf).await,
        };
        let n = read.map_err(|e| Error::io("reading a player's request", e))?;
        if n == 0 {
            conn.handle_peer_closed();
            return Ok(ServeOutcome::PlayerLeft);
        }
        conn.handle_input(&buf[..n], Instant::now());
    };
    serve_request(hub, stream, conn, request, config, keep).await
}

/// Serves a player request someone else read: `conn` is the connection's
/// [`PullServerConnection`], already fed the request (its bytes, or a head parsed once by a
/// router, with [`PullServerConnection::handle_request_head`]), and `request` is the
/// [`PullServerEvent::Request`] it gave, not answered yet. Answers it like [`serve_player`]
/// (Describe, Play handed to the hub's delivery engine with `keep`, ASX metafile, 503 when no
/// header comes or the engine is at capacity) without reading from `stream` again.
///
/// `stream` is a [`TcpStream`], not any `AsyncRead + AsyncWrite`: a Play goes on in the
/// delivery engine, which writes each player's batch with non-blocking vectored writes on the
/// socket itself.
pub async fn serve_request(
    hub: &BroadcastHub,
    mut stream: TcpStream,
    mut conn: PullServerConnection,
    request: PullRequest,
    config: &ServeConfig,
    keep: Option<Box<dyn Send>>,
) -> Result<ServeOutcome, Error> {
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let client_id: u32 = rand::random();
    match request.kind {
        PullRequestKind::Metafile => {
            conn.accept(bytes::Bytes::new(), Session::New { client_id })
                .map_err(Error::custom)?;
            flush_connection(&mut stream, &mut conn, config.write_timeout).await?;
            return Ok(ServeOutcome::Metafile);
        }
        PullRequestKind::Describe => {
            let Some(header) = hub.wait_header(config.header_wait).await else {
                return refuse_request(&mut stream, &mut conn, 503, config).await;
            };
            conn.accept(header, Session::New { client_id })
                .map_err(Error::custom)?;
            flush_connection(&mut stream, &mut conn, config.write_timeout).await?;
            return Ok(ServeOutcome::Described);
        }
        _ => {}
    }
    // Play.
    let sub = loop {
        match hub.subscribe(peer, request.user_agent.clone()) {
            Ok(s) => break s,
            Err(SubscribeError::NoHeader) => {
                if hub.wait_header(config.header_wait).await.is_none() {
                    return refuse_request(&mut stream, &mut conn, 503, config).await;
                }
            }
            Err(SubscribeError::Overloaded) => {
                // RFC 9110 15.6.4: 503 with Retry-After; the admitted players come first.
                let after = RETRY_AFTER_SECS.to_string();
                conn.reject_with_headers(503, &[("Retry-After", &after)])
                    .map_err(Error::custom)?;
                flush_connection(&mut stream, &mut conn, config.write_timeout).await?;
                return Ok(ServeOutcome::Refused(503));
            }
            Err(_) => return refuse_request(&mut stream, &mut conn, 503, config).await,
        }
    };
    conn.accept(sub.header().clone(), Session::New { client_id })
        .map_err(Error::custom)?;
    // The response head and `$H` now (the first byte a player waits for), in one write.
    let mut first = Vec::with_capacity(conn.queued_bytes());
    for b in conn.transmit_slices() {
        first.extend_from_slice(b);
    }
    let n = first.len();
    conn.consume_transmit(n);
    crate::transport::write_all_timeout(&mut stream, &[&first], config.write_timeout).await?;
    let framer = conn
        .take_play_framer()
        .ok_or(Error::Misuse("an accepted Play has a framer"))?;
    sub.deliver_with(
        stream,
        PlayerFraming::Wmsp(framer),
        config.write_timeout,
        keep,
    )?;
    Ok(ServeOutcome::Delivering)
}

/// Answers the request pending on `conn` with `status` (e.g. 404 for an unknown publishing
/// point, 503 over a player limit), writes it to `stream` and shuts the write side.
pub async fn refuse_request<S: AsyncWrite + Unpin>(
    stream: &mut S,
    conn: &mut PullServerConnection,
    status: u16,
    config: &ServeConfig,
) -> Result<ServeOutcome, Error> {
    conn.reject(status).map_err(Error::custom)?;
    flush_connection(stream, conn, config.write_timeout).await?;
    Ok(ServeOutcome::Refused(status))
}

/// Writes everything `conn` has queued to `stream` (each write bounded by `timeout`), then
/// shuts the write side: for a response the connection made by itself (a
/// [`PullServerEvent::Refused`], a player POST's 200) or a refusal made with
/// [`PullServerConnection::reject`].
pub async fn flush_connection<S: AsyncWrite + Unpin>(
    stream: &mut S,
    conn: &mut PullServerConnection,
    timeout: Duration,
) -> Result<(), Error> {
    while let Some(b) = conn.poll_transmit() {
        crate::transport::write_all_timeout(stream, &[&b], timeout).await?;
    }
    let _ = stream.shutdown().await;
    Ok(())
}
