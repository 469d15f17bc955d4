//! The MS-WMSP player front-end: Describe, Play or (for browsers) an ASX metafile, served
//! from the point's broadcast hub by push-sink's `hub::serve_request` (one shared copy of
//! each packet, the hub's delivery engine writing every player's batches).
//!
//! The router's parsed head goes into push-protocol's [`PullServerConnection`] as is
//! ([`PullServerConnection::handle_request_head`]): the request is classified once, and the
//! same connection, with its pending request, is what push-sink answers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use push_protocol::pull_server::{
    PullRequestKind, PullServerConfig, PullServerConnection, PullServerEvent,
};
use push_sink::hub::{self, ServeConfig};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::{PlayerGuard, RoutedRequest, ServerState, point_name};

/// How long a player asking for a point that is not live waits for a stream
/// before it gets 503.
pub const PLAYER_HEADER_WAIT: Duration = Duration::from_secs(1);

/// Serves one player request. `stream` stays a [`TcpStream`]: a Play is handed to the
/// point's delivery engine, which writes to the socket itself with non-blocking vectored
/// writes.
pub(super) async fn serve(
    state: &Arc<ServerState>,
    mut stream: TcpStream,
    request: RoutedRequest,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let pull = PullServerConfig {
        fallback_host: state.config.listen.to_string(),
        ..PullServerConfig::default()
    };
    let serve = ServeConfig::default()
        .pull(pull.clone())
        .header_wait(PLAYER_HEADER_WAIT);
    let now = Instant::now();
    let mut conn = PullServerConnection::new(pull, now);
    conn.handle_request_head(&request.head, now)?;
    // Players send nothing after a GET's head (non-pipelined mode); whatever came is the
    // connection's to judge, not dropped here.
    conn.handle_input(&request.rest, now);
    let pull_request = loop {
        match conn.poll_event() {
            Some(PullServerEvent::Request(r)) => break r,
            Some(PullServerEvent::Refused { status, reason }) => {
                tracing::debug!(status, reason, "player request refused");
                return answer(&mut stream, &mut conn, &serve).await;
            }
            Some(_) => continue,
            None => return answer(&mut stream, &mut conn, &serve).await,
        }
    };
    let name = point_name(request.head.path());
    let Some(point) = state.points.get(name) else {
        hub::refuse_request(&mut stream, &mut conn, 404, &serve).await?;
        return Ok(());
    };
    let play = pull_request.kind == PullRequestKind::Play;
    if play && state.players_now.load(Ordering::Relaxed) as usize >= state.config.limits.max_players
    {
        hub::refuse_request(&mut stream, &mut conn, 503, &serve).await?;
        return Ok(());
    }
    let keep: Option<Box<dyn Send>> = if play {
        Some(Box::new(PlayerGuard::new(&point, state, permit)))
    } else {
        Some(Box::new(permit))
    };
    let outcome = hub::serve_request(point.hub(), stream, conn, pull_request, &serve, keep).await?;
    tracing::debug!(point = name, ?outcome, "player request answered");
    Ok(())
}

/// Writes what the connection answered by itself (a refusal) and closes.
async fn answer(
    stream: &mut TcpStream,
    conn: &mut PullServerConnection,
    serve: &ServeConfig,
) -> anyhow::Result<()> {
    hub::flush_connection(stream, conn, serve.write_timeout).await?;
    Ok(())
}
