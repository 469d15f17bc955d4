//! The load generator behind `wmpush pull --clients N`: N MS-WMSP players of one
//! stream, each push-protocol's [`PullClient`] in counting mode (packets counted,
//! payloads skipped uncopied), sharing one read buffer per runtime thread, with no
//! timer armed per read. It measures what a player would feel — time to the first
//! packet, the longest wait between two packets, the rate — and what the server
//! answered (played, refused with 503, failed), so a fan-out bench can run
//! thousands of players beside the server without becoming the bottleneck.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use push_protocol::pull_client::{PullClient, PullClientConfig, PullClientEvent};
use push_protocol::pull_server::PullError;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::pull::{StreamUrl, client_guid};

/// Most players one load generator runs.
pub const MAX_CLIENTS: u32 = 20_000;

/// A stall longer than this makes a player "not continuous" in the report.
pub const CONTINUITY_LIMIT: Duration = Duration::from_secs(2);

/// Bytes each runtime thread reads into (shared by every player it polls).
const READ_BUFFER: usize = 256 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The stream every player pulls.
    pub url: StreamUrl,
    /// Number of players (1..=[`MAX_CLIENTS`]).
    pub clients: u32,
    /// Players start evenly spread over this time.
    pub ramp: Duration,
    /// Every player stops this long after the first one started (ramp included).
    pub duration: Duration,
}

impl LoadConfig {
    /// The default ramp for `clients` players: 1 s per 2,000, so a burst of
    /// connections does not overflow the server's listen backlog.
    pub fn default_ramp(clients: u32) -> Duration {
        Duration::from_secs_f64(f64::from(clients) / 2000.0)
    }
}

/// How one player ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Received packets until the end of the run (or until the stream ended).
    Played,
    /// The server answered 503 (admission control or a cap).
    Refused,
    /// Anything else: connection refused or reset, another status, a protocol error.
    Failed,
}

/// What one player saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientReport {
    /// How it ended.
    pub outcome: Outcome,
    /// Time from its start (before connecting) to its first `$D` packet.
    pub first_packet_ms: Option<u64>,
    /// Longest time between two reads that brought packets, including the wait
    /// from the last packet to the end of the run.
    pub longest_stall_ms: u64,
    /// `$D` packets received.
    pub packets: u64,
    /// Payload bytes of those packets.
    pub bytes: u64,
    /// Seconds from its first packet to its end.
    pub seconds_playing: f64,
    /// Why it failed or was refused.
    pub error: Option<String>,
}

/// Percentiles of a set of milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Spread {
    fn of(mut values: Vec<u64>) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable();
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Spread {
            p50: at(0.5),
            p99: at(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    /// Players started.
    pub clients: u32,
    /// Players that played to the end.
    pub played: u32,
    /// Players the server refused with 503.
    pub refused: u32,
    /// Players that failed otherwise.
    pub failed: u32,
    /// Played players with no stall over [`CONTINUITY_LIMIT`].
    pub continuous: u32,
    /// Time to the first packet of the played players, ms.
    pub first_packet_ms: Spread,
    /// Longest stall of each played player, ms.
    pub longest_stall_ms: Spread,
    /// Mean rate of the played players that played at least a second, kbit/s of ASF
    /// packet payload.
    pub mean_kbit_s: f64,
    /// Total rate received by all players, Mbit/s.
    pub total_mbit_s: f64,
    /// Up to 5 distinct error messages, for the curious.
    pub errors: Vec<String>,
    /// Each player, in start order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub each: Vec<ClientReport>,
}

impl LoadReport {
    fn from_clients(each: Vec<ClientReport>, wall: Duration) -> LoadReport {
        let count = |o| each.iter().filter(|c| c.outcome == o).count() as u32;
        let played: Vec<&ClientReport> = each
            .iter()
            .filter(|c| c.outcome == Outcome::Played)
            .collect();
        let limit = CONTINUITY_LIMIT.as_millis() as u64;
        let rates: Vec<f64> = played
            .iter()
            // Players that got their first packet at the very end would say little.
            .filter(|c| c.seconds_playing >= 1.0)
            .map(|c| c.bytes as f64 * 8.0 / 1000.0 / c.seconds_playing)
            .collect();
        let mut errors: Vec<String> = Vec::new();
        for e in each.iter().filter_map(|c| c.error.as_ref()) {
            if errors.len() < 5 && !errors.contains(e) {
                errors.push(e.clone());
            }
        }
        LoadReport {
            clients: each.len() as u32,
            played: count(Outcome::Played),
            refused: count(Outcome::Refused),
            failed: count(Outcome::Failed),
            continuous: played
                .iter()
                .filter(|c| c.longest_stall_ms <= limit)
                .count() as u32,
            first_packet_ms: Spread::of(played.iter().filter_map(|c| c.first_packet_ms).collect()),
            longest_stall_ms: Spread::of(played.iter().map(|c| c.longest_stall_ms).collect()),
            mean_kbit_s: if rates.is_empty() {
                0.0
            } else {
                rates.iter().sum::<f64>() / rates.len() as f64
            },
            total_mbit_s: each.iter().map(|c| c.bytes).sum::<u64>() as f64 * 8.0
                / 1e6
                / wall.as_secs_f64().max(0.001),
            errors,
            each,
        }
    }
}

/// Runs the players to the end of `config.duration` and reports.
pub async fn run(config: &LoadConfig) -> LoadReport {
    let start = tokio::time::Instant::now();
    let end = start + config.duration;
    let mut players = JoinSet::new();
    let step = config.ramp.as_secs_f64() / f64::from(config.clients.max(1));
    for i in 0..config.clients {
        let url = config.url.clone();
        let at = start + Duration::from_secs_f64(step * f64::from(i));
        players.spawn(async move {
            tokio::time::sleep_until(at).await;
            (i, play(&url, end).await)
        });
    }
    let mut each = vec![None; config.clients as usize];
    while let Some(done) = players.join_next().await {
        if let Ok((i, report)) = done {
            each[i as usize] = Some(report);
        }
    }
    let each = each
        .into_iter()
        .map(|r| {
            r.unwrap_or(ClientReport {
                outcome: Outcome::Failed,
                first_packet_ms: None,
                longest_stall_ms: 0,
                packets: 0,
                bytes: 0,
                seconds_playing: 0.0,
                error: Some("player task panicked".into()),
            })
        })
        .collect();
    LoadReport::from_clients(each, start.elapsed())
}

thread_local! {
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER]);
}

/// What a player's socket loop saw.
struct Watch {
    started: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    longest: Duration,
    packets: u64,
}

impl Watch {
    fn saw(&mut self, packets: u64, now: Instant) {
        if packets > self.packets {
            self.packets = packets;
            if let Some(last) = self.last {
                self.longest = self.longest.max(now - last);
            }
            self.first.get_or_insert(now);
            self.last = Some(now);
        }
    }

    fn report(
        mut self,
        client: &PullClient,
        outcome: Outcome,
        error: Option<String>,
    ) -> ClientReport {
        let now = Instant::now();
        if outcome == Outcome::Played
            && let Some(last) = self.last
        {
            self.longest = self.longest.max(now - last);
        }
        let outcome = if outcome == Outcome::Played && self.first.is_none() {
            Outcome::Failed
        } else {
            outcome
        };
        ClientReport {
            outcome,
            first_packet_ms: self.first.map(|f| (f - self.started).as_millis() as u64),
            longest_stall_ms: self.longest.as_millis() as u64,
            packets: client.packets_received(),
            bytes: client.payload_bytes_received(),
            seconds_playing: self.first.map_or(0.0, |f| (now - f).as_secs_f64()),
            error: if outcome == Outcome::Played {
                None
            } else {
                error.or_else(|| Some("no packet before the end of the run".into()))
            },
        }
    }
}

/// One player until `end`.
async fn play(url: &StreamUrl, end: tokio::time::Instant) -> ClientReport {
    let config = PullClientConfig {
        client_guid: client_guid(),
        deliver_packets: false,
        ..PullClientConfig::default()
    };
    let started = Instant::now();
    let mut client = PullClient::new(config, &url.authority, &url.path, started);
    let mut watch = Watch {
        started,
        first: None,
        last: None,
        longest: Duration::ZERO,
        packets: 0,
    };
    let mut stream: Option<TcpStream> = None;
    let stop = tokio::time::sleep_until(end);
    tokio::pin!(stop);
    loop {
        while let Some(ev) = client.poll_event() {
            match ev {
                PullClientEvent::Connect { authority } => {
                    drop(stream.take());
                    let connect = tokio::select! {
                        c = TcpStream::connect(&authority) => c,
                        () = &mut stop => return watch.report(&client, Outcome::Failed, Some("connecting took the whole run".into())),
                    };
                    match connect {
                        Ok(s) => stream = Some(s),
                        Err(e) => {
                            return watch.report(
                                &client,
                                Outcome::Failed,
                                Some(format!("cannot connect to {authority}: {e}")),
                            );
                        }
                    }
                    client.handle_connected(Instant::now());
                }
                PullClientEvent::Ended { .. } => {
                    return watch.report(&client, Outcome::Played, None);
                }
                PullClientEvent::Failed(e) => {
                    let outcome = match e {
                        PullError::HttpStatus { status: 503 } => Outcome::Refused,
                        _ => Outcome::Failed,
                    };
                    return watch.report(&client, outcome, Some(e.to_string()));
                }
                _ => {}
            }
        }
        let Some(s) = stream.as_mut() else {
            return watch.report(&client, Outcome::Failed, Some("no connection".into()));
        };
        while let Some(b) = client.poll_transmit() {
            if let Err(e) = s.write_all(&b).await {
                return watch.report(&client, Outcome::Failed, Some(format!("write failed: {e}")));
            }
        }
        tokio::select! {
            ready = s.readable() => {
                if let Err(e) = ready {
                    return watch.report(&client, Outcome::Failed, Some(format!("read failed: {e}")));
                }
            }
            () = &mut stop => return watch.report(&client, Outcome::Played, None),
        }
        // Drain what the socket holds into this thread's buffer; no await in between.
        let read = READ_BUF.with_borrow_mut(|buf| {
            loop {
                match s.try_read(buf) {
                    Ok(0) => {
                        client.handle_eof(Instant::now());
                        return Ok(());
                    }
                    Ok(n) => {
                        let now = Instant::now();
                        client.handle_input(&buf[..n], now);
                        watch.saw(client.packets_received(), now);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        });
        if let Err(e) = read {
            return watch.report(&client, Outcome::Failed, Some(format!("read failed: {e}")));
        }
    }
}
