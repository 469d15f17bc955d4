//! Drives push-protocol's sans-IO MS-WMSP [`PullClient`] over tokio TCP:
//! used by `wmpush pull`, `wmpush demo --check` and relays.

use std::time::{Duration, Instant};

use bytes::Bytes;
use push_protocol::pull_client::{PullClient, PullClientConfig, PullClientEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::exit::{CliError, Failure};

/// A parsed `mmsh://` / `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamUrl {
    /// `mmsh` or `http`.
    pub scheme: String,
    /// `host[:port]` as written.
    pub authority: String,
    /// Host only.
    pub host: String,
    /// Port (80 when absent).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl StreamUrl {
    /// Parses `scheme://host[:port]/path`; `schemes` lists the accepted schemes.
    pub fn parse(url: &str, schemes: &[&str]) -> Result<StreamUrl, CliError> {
        let bad = |why: &str| CliError::new(Failure::Usage, format!("bad URL {url:?}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host/path"))?;
        let scheme = scheme.to_ascii_lowercase();
        if !schemes.contains(&scheme.as_str()) {
            return Err(bad(&format!(
                "scheme must be one of {}",
                schemes.join(", ")
            )));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad(
                "missing host (user:password@ is not supported; use --user)",
            ));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| bad("port is not a number 1-65535"))?;
                (h.to_owned(), port)
            }
            _ => (authority.to_owned(), 80),
        };
        if host.is_empty() || port == 0 {
            return Err(bad("missing host or port 0"));
        }
        Ok(StreamUrl {
            scheme,
            authority: authority.to_owned(),
            host,
            port,
            path: path.to_owned(),
        })
    }
}

/// What a pull produced, handed to the caller as it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    /// The ASF header (first, and again after a stream change).
    Header(Bytes),
    /// One data packet.
    Packet(Bytes),
}

/// Summary of a finished pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullSummary {
    /// Data packets received.
    pub packets: u64,
    /// Bytes of data packets received.
    pub bytes: u64,
    /// `$E` reason if the server ended the stream.
    pub end_reason: Option<u32>,
    /// Header changes seen.
    pub header_changes: u64,
}

async fn connect(authority: &str) -> Result<TcpStream, CliError> {
    let addr = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr))
        .await
        .map_err(|_| {
            CliError::new(
                Failure::Connection,
                format!("connecting to {addr} timed out"),
            )
        })?
        .map_err(|e| {
            CliError::new(
                Failure::Connection,
                format!("cannot connect to {addr}: {e}"),
            )
        })
}

/// A fresh random `xClientGUID` in registry form with braces (MS-WMSP 2.2.1.4.33:
/// one per session, drawn by the caller).
pub fn client_guid() -> String {
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
        rand::random::<u32>(),
        rand::random::<u16>(),
        rand::random::<u16>(),
        rand::random::<u16>(),
        rand::random::<u64>() & 0xFFFF_FFFF_FFFF
    )
}

/// Pulls `url` until the server ends the stream, `duration` passes, or
/// `on_item` returns `false`.
pub async fn pull(
    url: &StreamUrl,
    duration: Option<Duration>,
    mut on_item: impl FnMut(Pulled) -> bool,
) -> Result<PullSummary, CliError> {
    let config = PullClientConfig {
        client_guid: client_guid(),
        ..PullClientConfig::default()
    };
    let mut client = PullClient::new(config, &url.authority, &url.path, Instant::now());
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut stream: Option<TcpStream> = None;
    let mut summary = PullSummary::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(ev) = client.poll_event() {
            match ev {
                PullClientEvent::Connect { authority } => {
                    drop(stream.take());
                    stream = Some(connect(&authority).await?);
                    client.handle_connected(Instant::now());
                }
                PullClientEvent::Playing { header } => {
                    let keep = on_item(Pulled::Header(header));
                    if !keep {
                        return Ok(summary);
                    }
                }
                PullClientEvent::HeaderChanged { header, .. } => {
                    summary.header_changes += 1;
                    if !on_item(Pulled::Header(header)) {
                        return Ok(summary);
                    }
                }
                PullClientEvent::Packet { data, .. } => {
                    summary.packets += 1;
                    summary.bytes += data.len() as u64;
                    if !on_item(Pulled::Packet(data)) {
                        return Ok(summary);
                    }
                }
                PullClientEvent::Ended { reason } => {
                    summary.end_reason = Some(reason);
                    return Ok(summary);
                }
                PullClientEvent::Failed(e) => {
                    let text = e.to_string();
                    let kind = match &e {
                        push_protocol::pull_server::PullError::HttpStatus { status: 401 | 403 } => {
                            Failure::Auth
                        }
                        push_protocol::pull_server::PullError::HttpStatus { .. } => {
                            Failure::Refused
                        }
                        _ => Failure::Connection,
                    };
                    return Err(CliError::new(
                        kind,
                        format!("pull from {}{} failed: {text}", url.authority, url.path),
                    ));
                }
                _ => {}
            }
        }
        let Some(s) = stream.as_mut() else {
            return Err(CliError::new(
                Failure::Connection,
                "pull client has no connection",
            ));
        };
        while let Some(b) = client.poll_transmit() {
            s.write_all(&b)
                .await
                .map_err(|e| CliError::new(Failure::Connection, format!("write failed: {e}")))?;
        }
        let wake = client.poll_timeout().map(tokio::time::Instant::from_std);
        let limit = match (wake, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let read = match limit {
            Some(t) => tokio::time::timeout_at(t, s.read(&mut buf)).await.ok(),
            None => Some(s.read(&mut buf).await),
        };
        match read {
            None => {
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return Ok(summary);
                }
                client.handle_timeout(Instant::now());
            }
            Some(Ok(0)) => client.handle_eof(Instant::now()),
            Some(Ok(n)) => client.handle_input(&buf[..n], Instant::now()),
            Some(Err(e)) => {
                return Err(CliError::new(
                    Failure::Connection,
                    format!("read failed: {e}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = StreamUrl::parse("mmsh://127.0.0.1:8080/live", &["mmsh", "http"]).expect("ok");
        assert_eq!(u.port, 8080);
        assert_eq!(u.path, "/live");
        let u = StreamUrl::parse("http://example.org", &["mmsh", "http"]).expect("ok");
        assert_eq!(u.port, 80);
        assert_eq!(u.path, "/");
        assert!(StreamUrl::parse("ftp://x/y", &["mmsh"]).is_err());
        assert!(StreamUrl::parse("mmsh://x:99999/y", &["mmsh"]).is_err());
        assert!(StreamUrl::parse("nonsense", &["mmsh"]).is_err());
    }
}
