//! Publishing points: the ASF header and live packets of one stream, shared by
//! every player through push-sink's [`BroadcastHub`].
//!
//! Each packet is held once (`Bytes` clones share the allocation); the hub keeps
//! the packets since the most recent join point for late joiners and one bounded
//! queue per player, so a slow player is dropped and never slows the encoder or
//! the other players.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use push_sink::hub::{
    BroadcastHub, DeliveryConfig, DeliveryLoad, HubConfig, SubscribeError, Subscription,
};
use push_sink::{DataUnit, SinkStats, WriterSink};
use serde::Serialize;

use crate::outputs::{OutputHandle, OutputStatus};

/// What the server reads from a pushed ASF header, parsed by asf-format
/// (ASF 3.1 Header Object, 3.2 File Properties, 3.3 Stream Properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamFacts {
    /// File Properties data packet size (minimum = maximum, ASF 3.2).
    pub packet_size: usize,
    /// File Properties Maximum Bitrate, bits per second.
    pub max_bitrate: u32,
    /// File Properties Preroll, milliseconds.
    pub preroll_ms: u64,
    /// Stream numbers of video streams (where players can start: key frames).
    pub video_streams: Vec<u8>,
}

impl StreamFacts {
    /// Reads the facts from an ASF header (Header Object first; the start of the
    /// Data Object may follow). The error says what is wrong, for logs.
    pub fn read(header: &[u8]) -> Result<StreamFacts, String> {
        let (h, _) = asf_format::Header::parse_header(header, 0, &asf_format::Limits::default())
            .map_err(|e| e.to_string())?;
        let fp = h
            .file_properties()
            .ok_or("no File Properties Object in the ASF header")?;
        let packet_size = fp
            .packet_size()
            .filter(|&s| s > 0)
            .ok_or("File Properties packet sizes differ or are 0")?;
        let mut video_streams = Vec::new();
        for sp in h.stream_properties() {
            if sp.is_video() && !video_streams.contains(&sp.stream_number()) {
                video_streams.push(sp.stream_number());
            }
        }
        Ok(StreamFacts {
            packet_size: packet_size as usize,
            max_bitrate: fp.max_bitrate,
            preroll_ms: fp.preroll,
            video_streams,
        })
    }

    /// Send time and join-point flag ([`join_point`]) of one whole data packet,
    /// parsed by asf-format (ASF 5.2). `None` when the packet does not parse.
    pub fn packet(&self, packet: &[u8]) -> Option<(u32, bool)> {
        let size = u32::try_from(packet.len()).ok()?;
        let view = asf_format::packet::PacketView::parse(packet, size, 0).ok()?;
        Some((view.send_time(), join_point(&view, &self.video_streams)))
    }

    /// `packet` at full packet size: a pushed `$D` may have had its padding
    /// stripped (MS-WMHTTP 2.2.3.1.2), which players and files need back
    /// (push-protocol's `restore_padding`). `None` when malformed or too large.
    pub fn full_size(&self, packet: Bytes) -> Option<Bytes> {
        if packet.len() == self.packet_size {
            return Some(packet);
        }
        push_protocol::pull_server::restore_padding(&packet, self.packet_size).ok()
    }
}

/// Whether a player can start at this packet: a payload of a video stream with
/// the key-frame bit starts its media object in it (ASF 5.2.3.1: Offset Into
/// Media Object 0, or a compressed payload). A stream without video can be
/// joined at any packet.
///
/// Payloads before the key frame in that packet (tails of earlier objects,
/// audio) are cut for a late joiner by push-sink's hub (`trim_before_key_frame`),
/// so the player still sees the key frame first; an ASF index points at such
/// packets too. Stream-level, unlike push-sink's per-packet `PacketView` rule,
/// which also counts an audio-only packet of an audio/video stream (a player
/// joining there would start without a picture).
pub fn join_point(view: &asf_format::packet::PacketView<'_>, video_streams: &[u8]) -> bool {
    video_streams.is_empty()
        || view.payloads().any(|p| {
            p.key_frame
                && (p.is_compressed() || p.offset_into_media_object == 0)
                && video_streams.contains(&p.stream_number)
        })
}

/// Settings of one publishing point (from the config file or a template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointSettings {
    /// Most players at once; further players get 503.
    pub max_players: usize,
    /// Bytes of packets kept for late joiners (from the last key frame).
    pub backlog_bytes: usize,
    /// Remove the point when its push session ends (MS-WMHTTP AutoDestroy).
    pub auto_destroy: bool,
    /// The template the point was created from, if any.
    pub template: Option<String>,
}

impl Default for PointSettings {
    fn default() -> Self {
        PointSettings {
            max_players: 100,
            backlog_bytes: 8 * 1024 * 1024,
            auto_destroy: false,
            template: None,
        }
    }
}

#[derive(Debug, Default)]
struct PointState {
    header: Option<Bytes>,
    ended: bool,
    encoder: Option<String>,
    started: Option<Instant>,
    /// The outputs of the last session that streamed here (kept after it ended, for status).
    outputs: Vec<OutputHandle>,
}

/// Counters of a point, readable without locking.
#[derive(Debug, Default)]
pub struct PointCounters {
    /// Data packets received.
    pub packets_in: AtomicU64,
    /// Bytes of data packets received.
    pub bytes_in: AtomicU64,
    /// Players connected now.
    pub players: AtomicU64,
    /// Players ever connected.
    pub players_total: AtomicU64,
    /// Pushed packets dropped as malformed (the hub counts those dropped for slow players).
    pub dropped: AtomicU64,
}

/// One publishing point.
#[derive(Debug)]
pub struct PublishingPoint {
    name: String,
    settings: PointSettings,
    state: Mutex<PointState>,
    hub: BroadcastHub,
    /// Live counters.
    pub counters: PointCounters,
    created: Instant,
}

impl PublishingPoint {
    /// A new, empty point called `name` (the URL path without the leading `/`).
    pub fn new(name: &str, settings: PointSettings) -> PublishingPoint {
        PublishingPoint::with_load(name, settings, Arc::new(DeliveryLoad::new()))
    }

    /// A new, empty point whose player delivery reports to `load`, shared with the
    /// server's other points (admission control sees the whole server).
    pub fn with_load(
        name: &str,
        settings: PointSettings,
        load: Arc<DeliveryLoad>,
    ) -> PublishingPoint {
        let hub = BroadcastHub::new(
            HubConfig::with_max_clients(settings.max_players)
                .backlog_max_bytes(settings.backlog_bytes)
                .delivery(DeliveryConfig::default().load(load)),
        );
        PublishingPoint {
            name: name.to_owned(),
            settings,
            state: Mutex::new(PointState::default()),
            hub,
            counters: PointCounters::default(),
            created: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PointState> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The point's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The point's settings.
    pub fn settings(&self) -> &PointSettings {
        &self.settings
    }

    /// Claims the point for an encoder session; `false` if another encoder holds it
    /// (the server answers 409).
    pub fn claim(&self, session: &str) -> bool {
        let mut s = self.lock();
        match &s.encoder {
            Some(other) if other != session => false,
            _ => {
                s.encoder = Some(session.to_owned());
                s.ended = false;
                true
            }
        }
    }

    /// Releases the encoder claim if `session` holds it.
    pub fn release(&self, session: &str) {
        let mut s = self.lock();
        if s.encoder.as_deref() == Some(session) {
            s.encoder = None;
        }
    }

    /// The encoder session holding the point, if any.
    pub fn encoder(&self) -> Option<String> {
        self.lock().encoder.clone()
    }

    /// Sets the ASF header (first `$H`, or a `$C` later: players then get a header change).
    pub fn set_header(&self, header: Bytes) {
        let mut s = self.lock();
        s.header = Some(header.clone());
        s.ended = false;
        if s.started.is_none() {
            s.started = Some(Instant::now());
        }
        drop(s);
        self.hub.set_header(header);
    }

    /// The current header, if a stream was ever started.
    pub fn header(&self) -> Option<Bytes> {
        self.lock().header.clone()
    }

    /// Publishes one data packet; `key` says a player can start at it ([`join_point`]).
    pub fn publish(&self, data: Bytes, key: bool) {
        self.counters.packets_in.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_in
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.hub.publish(data, key);
    }

    /// Ends the stream: players get `$E(0)`. The header is kept so `/_status`
    /// still shows the point; the next push starts it again.
    pub fn end(&self) {
        self.lock().ended = true;
        self.hub.end_of_stream();
    }

    /// True when a stream is live (header present and not ended).
    pub fn is_live(&self) -> bool {
        let s = self.lock();
        s.header.is_some() && !s.ended
    }

    /// The outputs of the session streaming here now (or of the last one), for status.
    pub fn set_outputs(&self, outputs: Vec<OutputHandle>) {
        self.lock().outputs = outputs;
    }

    /// The status of every output (archive, relays, added ones) of the current or last session.
    pub fn outputs(&self) -> Vec<OutputStatus> {
        let handles = self.lock().outputs.clone();
        handles.iter().map(OutputHandle::status).collect()
    }

    /// The hub the point's players are served from (push-sink's `serve_player`).
    pub fn hub(&self) -> &BroadcastHub {
        &self.hub
    }

    /// Joins as a player: the current header, then the packets from the most
    /// recent join point, then the live ones. Refused when nothing is live or
    /// `max_players` are watching.
    pub fn subscribe(
        &self,
        peer: Option<std::net::SocketAddr>,
        user_agent: Option<String>,
    ) -> Result<Subscription, SubscribeError> {
        self.hub.subscribe(peer, user_agent)
    }

    /// A JSON-friendly snapshot for `/_status`.
    pub fn status(&self) -> PointStatus {
        let outputs = self.outputs();
        let s = self.lock();
        let uptime = self.created.elapsed().as_secs_f64();
        let bytes = self.counters.bytes_in.load(Ordering::Relaxed);
        let live_secs = s.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        PointStatus {
            name: self.name.clone(),
            live: s.header.is_some() && !s.ended,
            encoder_session: s.encoder.is_some(),
            template: self.settings.template.clone(),
            auto_destroy: self.settings.auto_destroy,
            packets_in: self.counters.packets_in.load(Ordering::Relaxed),
            bytes_in: bytes,
            bitrate_bps: if live_secs > 0.5 {
                (bytes as f64 * 8.0 / live_secs) as u64
            } else {
                0
            },
            players: self.counters.players.load(Ordering::Relaxed),
            players_total: self.counters.players_total.load(Ordering::Relaxed),
            dropped_packets: self.counters.dropped.load(Ordering::Relaxed) + self.hub.stats().drops,
            uptime_secs: uptime,
            outputs,
        }
    }
}

/// A point's players as one output of a push session's push-sink `SinkSet`: the header and
/// packets go to the point's hub (and its counters); the end of the stream reaches the
/// players (`$E(0)`) only while this session still holds the point, so a session that was
/// taken over ends nothing of its successor's.
#[derive(Debug)]
pub struct PointSink {
    point: Arc<PublishingPoint>,
    push_id: String,
}

impl PointSink {
    /// The players of `point`, fed by the push session `push_id`.
    pub fn new(point: Arc<PublishingPoint>, push_id: &str) -> PointSink {
        PointSink {
            point,
            push_id: push_id.to_owned(),
        }
    }
}

impl WriterSink for PointSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), push_sink::Error> {
        self.point.set_header(header.clone());
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        true
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), push_sink::Error> {
        let key = unit.is_key_frame();
        self.point.publish(unit.into_packet(), key);
        Ok(())
    }

    fn on_end_writing(&mut self) -> Result<(), push_sink::Error> {
        if self.point.encoder().as_deref() == Some(self.push_id.as_str()) {
            self.point.release(&self.push_id);
            self.point.end();
            tracing::info!(point = %self.point.name(), push_id = %self.push_id, "stream ended");
        }
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        let h = self.point.hub.stats();
        let mut s = SinkStats::new();
        s.headers = h.headers;
        s.packets = h.packets;
        s.bytes = h.bytes;
        s.drops = h.drops;
        s
    }

    fn name(&self) -> String {
        format!("players of {}", self.point.name())
    }
}

/// One point in `/_status` (stable JSON field names).
#[derive(Debug, Clone, Serialize)]
pub struct PointStatus {
    /// Point name.
    pub name: String,
    /// A stream is live.
    pub live: bool,
    /// An encoder session holds the point.
    pub encoder_session: bool,
    /// Template the point was created from.
    pub template: Option<String>,
    /// AutoDestroy is set.
    pub auto_destroy: bool,
    /// Packets received.
    pub packets_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Average received bitrate since the stream started, bits per second.
    pub bitrate_bps: u64,
    /// Players connected now.
    pub players: u64,
    /// Players ever connected.
    pub players_total: u64,
    /// Packets dropped: malformed pushed packets, and packets slow players missed.
    pub dropped_packets: u64,
    /// Seconds since the point was created.
    pub uptime_secs: f64,
    /// The outputs of the current (or last) push session: archive, relays, added ones.
    pub outputs: Vec<OutputStatus>,
}

/// Every publishing point of a server, by name.
#[derive(Debug, Default)]
pub struct PointRegistry {
    points: Mutex<HashMap<String, Arc<PublishingPoint>>>,
}

impl PointRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<PublishingPoint>>> {
        self.points.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The point called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<PublishingPoint>> {
        self.lock().get(name).cloned()
    }

    /// Adds a point unless one with that name exists; returns the one in the registry.
    pub fn insert(&self, point: PublishingPoint) -> Arc<PublishingPoint> {
        self.lock()
            .entry(point.name.clone())
            .or_insert_with(|| Arc::new(point))
            .clone()
    }

    /// Removes the point called `name`.
    pub fn remove(&self, name: &str) -> Option<Arc<PublishingPoint>> {
        self.lock().remove(name)
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// All points, sorted by name.
    pub fn all(&self) -> Vec<Arc<PublishingPoint>> {
        let mut v: Vec<_> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use push_sink::hub::HubItem;

    fn header() -> Bytes {
        Bytes::from_static(b"header")
    }

    /// Every packet queued for `sub` now.
    fn queued(sub: &Subscription) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(Some(HubItem::Packet(p))) = sub.try_next() {
            out.push(p);
        }
        out
    }

    #[test]
    fn late_joiner_starts_at_last_key_frame_without_gap() {
        let p = PublishingPoint::new("live", PointSettings::default());
        assert!(p.subscribe(None, None).is_err(), "nothing live yet");
        p.set_header(header());
        p.publish(Bytes::from_static(b"k0"), true);
        p.publish(Bytes::from_static(b"d1"), false);
        p.publish(Bytes::from_static(b"k2"), true);
        p.publish(Bytes::from_static(b"d3"), false);
        let sub = p.subscribe(None, None).expect("live");
        assert_eq!(sub.header(), &header());
        assert_eq!(queued(&sub), vec![&b"k2"[..], &b"d3"[..]]);
        p.publish(Bytes::from_static(b"d4"), false);
        assert_eq!(queued(&sub), vec![&b"d4"[..]]);
        assert_eq!(
            p.status().players,
            0,
            "counted by the server's player guard"
        );
        p.end();
        assert_eq!(sub.try_next(), Some(Some(HubItem::End)));
        assert!(p.subscribe(None, None).is_err());
        assert!(!p.is_live());
        assert_eq!(p.header(), Some(header()), "header kept for a restart");
    }

    #[test]
    fn backlog_is_bounded() {
        let p = PublishingPoint::new(
            "x",
            PointSettings {
                backlog_bytes: 10,
                ..PointSettings::default()
            },
        );
        p.set_header(header());
        p.publish(Bytes::from_static(b"key"), true);
        for _ in 0..10 {
            p.publish(Bytes::from_static(b"four"), false);
        }
        let sub = p.subscribe(None, None).expect("live");
        assert!(queued(&sub).iter().map(|d| d.len()).sum::<usize>() <= 10);
    }

    #[test]
    fn max_players_are_enforced_by_the_hub() {
        let p = PublishingPoint::new(
            "x",
            PointSettings {
                max_players: 1,
                ..PointSettings::default()
            },
        );
        p.set_header(header());
        let first = p.subscribe(None, None).expect("first player");
        assert!(p.subscribe(None, None).is_err(), "second player refused");
        drop(first);
        assert!(p.subscribe(None, None).is_ok(), "a place is free again");
    }

    #[test]
    fn second_encoder_cannot_claim() {
        let p = PublishingPoint::new("x", PointSettings::default());
        assert!(p.claim("a"));
        assert!(p.claim("a"));
        assert!(!p.claim("b"));
        p.release("a");
        assert!(p.claim("b"));
    }

    #[test]
    fn header_change_reaches_players() {
        let p = PublishingPoint::new("x", PointSettings::default());
        p.set_header(header());
        let sub = p.subscribe(None, None).expect("live");
        p.set_header(Bytes::from_static(b"header2"));
        assert_eq!(
            sub.try_next(),
            Some(Some(HubItem::Header(Bytes::from_static(b"header2"))))
        );
    }
}
