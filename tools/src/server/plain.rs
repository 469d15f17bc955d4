//! The plain-HTTP ASF front-end: `GET /POINT?format=asf` gets the broadcast as one ASF byte
//! stream (header, then fixed-size packets), for players that speak no MS-WMSP
//! (`ffplay http://...`).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use push_protocol::http::{self, Headers, RequestHead};
use push_sink::hub::PlayerFraming;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::{PlayerGuard, ServerState, point_name, respond};
use crate::point::StreamFacts;

/// `GET /POINT?format=asf`: the broadcast as a plain ASF byte stream over
/// HTTP (header, then fixed-size packets), for `ffplay http://...`; the
/// packets are written by the point's delivery engine like a player's.
///
/// `stream` stays a [`TcpStream`]: the delivery engine writes to the socket itself.
pub(super) async fn serve(
    state: &Arc<ServerState>,
    mut stream: TcpStream,
    head: &RequestHead,
    permit: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let name = point_name(head.path());
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
    let mut headers = Headers::default();
    headers.push("Server", push_protocol::pull_server::DEFAULT_SERVER);
    headers.push("Content-Type", "video/x-ms-asf");
    headers.push("Cache-Control", "no-cache");
    headers.push("Connection", "close");
    let mut first = Vec::with_capacity(160 + sub.header().len());
    http::write_response(200, "OK", 0, &headers, &mut first);
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
