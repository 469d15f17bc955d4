//! The MS-WMHTTP encoder front-end: each encoder connection is a small task between the
//! socket and [`crate::ingest`]'s driver, which owns push-protocol's `PushServer`. The
//! router's parsed head goes to the driver as it is ([`Input::Request`], fed to
//! `PushServer::handle_request_head`), then the bytes read past it, then the connection's
//! bytes as they come; a keep-alive encoder's later requests are parsed by the push server.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{RoutedRequest, ServerState};
use crate::ingest::{Input, Output};

/// Serves one encoder connection: hands the driver the parsed head, then the bytes read
/// past it and everything the encoder sends after, and writes the driver's responses, until
/// either side closes. Any `AsyncRead + AsyncWrite` connection will do.
pub(super) async fn serve<S>(
    state: &ServerState,
    stream: S,
    peer: SocketAddr,
    request: RoutedRequest,
) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let RoutedRequest { head, rest } = request;
    let conn = state.next_connection_id();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel();
    let tx = state.ingest_sender();
    let gone = || anyhow::anyhow!("the server is shutting down");
    tx.send(Input::Open {
        conn,
        peer,
        out: out_tx,
    })
    .await
    .map_err(|_| gone())?;
    tx.send(Input::Request { conn, head })
        .await
        .map_err(|_| gone())?;
    if !rest.is_empty() {
        // The body's start came with the head (a PushSetup's directives, the first frames).
        tx.send(Input::Data { conn, bytes: rest })
            .await
            .map_err(|_| gone())?;
    }
    // A connection that sends nothing for this long is dropped, so a client that
    // stops between requests cannot hold a connection slot (PushServer times out
    // PushStart bodies with 408 and forgets sessions; this bounds the rest).
    let longest_idle = state
        .config
        .templates
        .values()
        .map(|t| t.idle_timeout)
        .fold(state.config.default_template.idle_timeout, Duration::max);
    let silence = longest_idle + state.config.limits.head_timeout;
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut chunk = vec![0u8; 64 * 1024];
    let result = loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(Output::Bytes(b)) => {
                    if let Err(e) = writer.write_all(&b).await {
                        break Err(e.into());
                    }
                }
                Some(Output::Close) | None => {
                    let _ = writer.shutdown().await;
                    break Ok(());
                }
            },
            r = tokio::time::timeout(silence, reader.read(&mut chunk)) => match r {
                Err(_) => {
                    tracing::info!(%peer, "encoder connection silent too long: closing");
                    break Ok(());
                }
                Ok(Ok(0)) => break Ok(()),
                Ok(Ok(n)) => {
                    if tx.send(Input::Data { conn, bytes: chunk[..n].to_vec() }).await.is_err() {
                        break Ok(());
                    }
                }
                Ok(Err(e)) => break Err(e.into()),
            },
        }
    };
    let _ = tx.send(Input::Closed { conn }).await;
    result
}
