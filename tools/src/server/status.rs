//! The status front-end: `GET /_status` (JSON), `/_status.html` (the page a person reads,
//! [`crate::status_page`]) and `/_metrics` (Prometheus text), built from the shared
//! [`ServerState`] and every point's [`PointStatus`].

use std::sync::atomic::Ordering;

use serde::Serialize;
use tokio::io::AsyncWrite;

use super::{ServerState, respond};
use crate::outputs::OutputStatus;
use crate::point::PointStatus;

/// The documents the status front-end serves, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusPage {
    /// `/_status`: [`StatusDocument`] as JSON.
    Json,
    /// `/_status.html`: the same document as an HTML table.
    Html,
    /// `/_metrics`: Prometheus text exposition format.
    Metrics,
}

impl StatusPage {
    /// The page at `path`, if it is one.
    pub(super) fn at(path: &str) -> Option<StatusPage> {
        match path {
            "/_status" => Some(StatusPage::Json),
            "/_status.html" => Some(StatusPage::Html),
            "/_metrics" => Some(StatusPage::Metrics),
            _ => None,
        }
    }
}

/// Answers a `GET` of `page` with the current status, then closes.
pub(super) async fn serve<S: AsyncWrite + Unpin>(
    state: &ServerState,
    stream: &mut S,
    page: StatusPage,
) -> anyhow::Result<()> {
    let doc = status(state);
    let (content_type, body) = match page {
        StatusPage::Json => ("application/json", serde_json::to_string_pretty(&doc)?),
        StatusPage::Html => ("text/html; charset=utf-8", crate::status_page::render(&doc)),
        StatusPage::Metrics => ("text/plain; version=0.0.4", metrics(&doc)),
    };
    respond(stream, 200, content_type, body.as_bytes()).await
}

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

/// One metric family of `/_metrics`: name, type, help text, and the value of a sample.
struct Family<T> {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&T) -> String,
}

impl<T> Family<T> {
    const fn new(
        name: &'static str,
        kind: &'static str,
        help: &'static str,
        value: fn(&T) -> String,
    ) -> Family<T> {
        Family {
            name,
            kind,
            help,
            value,
        }
    }

    /// Writes the family's `# HELP` and `# TYPE` lines, then one line per sample: its labels
    /// (`point="live"`, empty for none) and the value.
    fn write<'a>(&self, m: &mut String, samples: impl IntoIterator<Item = (String, &'a T)>)
    where
        T: 'a,
    {
        let Family {
            name, kind, help, ..
        } = self;
        m.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, sample) in samples {
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            m.push_str(&format!("{name}{labels} {}\n", (self.value)(sample)));
        }
    }
}

const SERVER_FAMILIES: [Family<StatusDocument>; 4] = [
    Family::new(
        "wmpush_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        |d| format!("{:.3}", d.server.uptime_secs),
    ),
    Family::new(
        "wmpush_connections_total",
        "counter",
        "Connections accepted.",
        |d| d.server.connections_total.to_string(),
    ),
    Family::new(
        "wmpush_connections_refused_total",
        "counter",
        "Connections refused for limits.",
        |d| d.server.connections_refused.to_string(),
    ),
    Family::new("wmpush_points", "gauge", "Publishing points.", |d| {
        d.points.len().to_string()
    }),
];

const OUTPUT_FAMILIES: [Family<OutputStatus>; 4] = [
    Family::new(
        "wmpush_output_up",
        "gauge",
        "1 while the output (archive, relay, added) is live.",
        |o| u8::from(o.state == "live").to_string(),
    ),
    Family::new(
        "wmpush_output_queued_bytes",
        "gauge",
        "Bytes queued for the output.",
        |o| o.queued_bytes.to_string(),
    ),
    Family::new(
        "wmpush_output_drops_total",
        "counter",
        "Packets the output dropped.",
        |o| o.drops.to_string(),
    ),
    Family::new(
        "wmpush_output_reconnects_total",
        "counter",
        "Times the output was made again after a failure.",
        |o| o.reconnects.to_string(),
    ),
];

const POINT_FAMILIES: [Family<PointStatus>; 5] = [
    Family::new(
        "wmpush_point_packets_received_total",
        "counter",
        "Data packets received.",
        |p| p.packets_in.to_string(),
    ),
    Family::new(
        "wmpush_point_bytes_received_total",
        "counter",
        "Data bytes received.",
        |p| p.bytes_in.to_string(),
    ),
    Family::new(
        "wmpush_point_bitrate_bps",
        "gauge",
        "Average received bitrate.",
        |p| p.bitrate_bps.to_string(),
    ),
    Family::new("wmpush_point_players", "gauge", "Players connected.", |p| {
        p.players.to_string()
    }),
    Family::new(
        "wmpush_point_live",
        "gauge",
        "1 while a stream is live.",
        |p| u8::from(p.live).to_string(),
    ),
];

/// Prometheus text exposition format (version 0.0.4).
pub fn metrics(doc: &StatusDocument) -> String {
    let mut m = String::new();
    for family in &SERVER_FAMILIES {
        family.write(&mut m, [(String::new(), doc)]);
    }
    for family in &OUTPUT_FAMILIES {
        let samples = doc.points.iter().flat_map(|p| {
            p.outputs.iter().map(move |o| {
                let labels = format!(
                    "point=\"{}\",kind=\"{}\",target=\"{}\"",
                    prom_label(&p.name),
                    prom_label(&o.kind),
                    prom_label(&o.target)
                );
                (labels, o)
            })
        });
        family.write(&mut m, samples);
    }
    for family in &POINT_FAMILIES {
        let samples = doc
            .points
            .iter()
            .map(|p| (format!("point=\"{}\"", prom_label(&p.name)), p));
        family.write(&mut m, samples);
    }
    m
}
