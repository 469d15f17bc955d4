//! The encoder side of `wmpush serve`: a tokio driver around push-protocol's
//! sans-IO [`PushServer`] (MS-WMHTTP 3.2.5), feeding [`PublishingPoint`]s.
//!
//! The wire is push-protocol's: request classification, directives, push-ids,
//! Digest/Basic challenges, the push framing and the idle/inactivity timers all
//! live in [`PushServer`]. This module only moves bytes and applies the
//! publishing-point rules the protocol leaves to the application:
//!
//! - one [`PushServer`] per server, owned by one driver task ([`run_driver`]);
//!   each encoder TCP connection gets a [`ConnectionId`] and a small task (the server's
//!   encoder front-end) that hands the driver the request head the router parsed
//!   ([`Input::Request`]), forwards the connection's bytes and writes what the driver sends
//!   back;
//! - [`ServerEvent::SetupRequested`]: the point must exist or be creatable from
//!   its `Template-URL` (or the default template), else 404; a point being
//!   pushed is exclusive (409) unless its template allows takeover; a user the
//!   template does not list gets 403;
//! - headers and packets go to the session's outputs ([`crate::outputs`]): one push-sink
//!   `SinkSet` holding the point's players, the archive (push-sink's `FileSink`), relays
//!   (push-sink's `PushSessionSink`) and added outputs, each but the players behind its own
//!   `QueuedSink`, so nothing an output does can block this driver;
//! - `$E(0)` or an expired session ends the point's stream and, with
//!   AutoDestroy, removes the point.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use push_protocol::auth::{Credential, DigestAlgorithm, ServerScheme};
use push_protocol::http::RequestHead;
use push_protocol::push_server::{ConnectionId, PushServer, PushServerConfig, ServerEvent};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::Template;
use crate::outputs::SessionOutputs;
use crate::point::{PublishingPoint, StreamFacts};
use crate::server::{MAX_HEAD, ServerState, point_name};

/// Chunks (of at most 64 KiB) queued from connection tasks to the driver before
/// readers wait: at most 16 MiB in flight, whatever the encoders send.
pub const INGEST_QUEUE: usize = 256;

/// What a connection task tells the driver.
#[derive(Debug)]
pub enum Input {
    /// A new encoder connection; `out` carries what to write back.
    Open {
        /// Id the connection task drew.
        conn: ConnectionId,
        /// The encoder's address.
        peer: SocketAddr,
        /// Bytes to write (and when to close) for this connection.
        out: mpsc::UnboundedSender<Output>,
    },
    /// The connection's first request head, read and parsed by the server's router (the
    /// bytes after it follow as [`Input::Data`]).
    Request {
        /// Connection.
        conn: ConnectionId,
        /// The parsed head.
        head: RequestHead,
    },
    /// Bytes received.
    Data {
        /// Connection.
        conn: ConnectionId,
        /// The bytes, in arrival order.
        bytes: Vec<u8>,
    },
    /// The peer closed the connection or it failed.
    Closed {
        /// Connection.
        conn: ConnectionId,
    },
}

/// What the driver tells a connection task.
#[derive(Debug)]
pub enum Output {
    /// Write these bytes.
    Bytes(Vec<u8>),
    /// Close the connection (after the bytes sent before).
    Close,
}

/// The push-protocol server settings for this `serve` configuration.
pub fn push_server_config(state: &ServerState) -> PushServerConfig {
    let config = &state.config;
    PushServerConfig {
        // Digest first (what Windows Media Encoder answers), then Basic; the htdigest
        // HA1 checks Digest MD5 and Basic only, so SHA-256 is not offered.
        auth: if state.auth.is_some() {
            vec![
                ServerScheme::Digest(DigestAlgorithm::Md5),
                ServerScheme::Basic,
            ]
        } else {
            Vec::new()
        },
        realm: config.realm.clone(),
        idle_timeout: config.default_template.idle_timeout,
        max_sessions: config.limits.max_sessions,
        max_head: MAX_HEAD,
        ..PushServerConfig::default()
    }
}

/// Owns the [`PushServer`] and serves every encoder connection until shutdown;
/// then finalises archives and ends relays.
pub async fn run_driver(state: Arc<ServerState>, mut inputs: mpsc::Receiver<Input>) {
    let config = push_server_config(&state);
    let inactivity_timeout = config.inactivity_timeout;
    let mut server = PushServer::new(config);
    if let Some(auth) = &state.auth {
        for (user, ha1) in auth.users() {
            server.add_user(user, Credential::Ha1(ha1.to_owned()));
        }
    }
    let mut driver = Driver {
        state: state.clone(),
        server,
        inactivity_timeout,
        conns: HashMap::new(),
        sessions: HashMap::new(),
        finishing: JoinSet::new(),
    };
    let mut shutdown = state.shutdown_signal();
    loop {
        let deadline = driver.server.poll_timeout();
        let timer = async move {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            input = inputs.recv() => match input {
                Some(input) => driver.input(input),
                None => break,
            },
            () = timer => {
                driver.server.handle_timeout(Instant::now());
                driver.pump(None);
            }
            _ = shutdown.changed() => break,
        }
    }
    driver.finish_all().await;
}

/// How long a finished session's outputs may take to finalise (archive index, relay `$E`)
/// before they are dropped, and how long shutdown waits for all of them.
const OUTPUT_FINISH: Duration = Duration::from_secs(30);

/// A push session as the application sees it.
struct Session {
    /// The point pushed to.
    point: String,
    /// The connection streaming it now, if any.
    conn: Option<ConnectionId>,
    /// Facts of the current header (`None` before the first `$H`).
    facts: Option<StreamFacts>,
    /// AutoDestroy from the PushSetup.
    auto_destroy: bool,
    /// The point's players, archive, relays and added outputs.
    outputs: SessionOutputs,
}

struct Connection {
    peer: SocketAddr,
    out: mpsc::UnboundedSender<Output>,
}

/// Why a PushSetup was refused, as an HTTP status.
struct Refusal(u16, &'static str);

struct Driver {
    state: Arc<ServerState>,
    server: PushServer,
    /// MS-WMHTTP 3.2.2 Inactivity-Timeout of every session.
    inactivity_timeout: Duration,
    conns: HashMap<ConnectionId, Connection>,
    sessions: HashMap<String, Session>,
    /// Outputs of ended sessions finishing in the background (bounded by
    /// [`OUTPUT_FINISH`] each).
    finishing: JoinSet<()>,
}

/// push-ids and Digest nonces: MS-WMHTTP 5.1 wants them unguessable, so they
/// come from the thread's cryptographically strong generator.
fn rng(buf: &mut [u8]) {
    rand::fill(buf);
}

impl Driver {
    fn input(&mut self, input: Input) {
        match input {
            Input::Open { conn, peer, out } => {
                self.conns.insert(conn, Connection { peer, out });
            }
            Input::Request { conn, head } => {
                let now = Instant::now();
                if let Err(e) = self.server.handle_request_head(conn, head, now, &mut rng) {
                    tracing::warn!(conn, error = %e, "parsed request head not taken");
                }
                self.pump(Some(conn));
            }
            Input::Data { conn, bytes } => {
                self.server
                    .handle_input(conn, &bytes, Instant::now(), &mut rng);
                self.pump(Some(conn));
            }
            Input::Closed { conn } => {
                self.server.handle_connection_closed(conn, Instant::now());
                self.conns.remove(&conn);
                self.connection_lost(conn);
                self.pump(None);
            }
        }
    }

    /// Writes what the server has to send and handles its events. `current` is
    /// the connection whose input produced them (Header/Packet events name only
    /// the push-id).
    fn pump(&mut self, current: Option<ConnectionId>) {
        loop {
            self.flush();
            let Some(event) = self.server.poll_event() else {
                break;
            };
            self.event(event, current);
        }
        self.flush();
        self.state
            .encoder_sessions
            .store(self.server.session_count(), Ordering::Relaxed);
    }

    fn flush(&mut self) {
        while let Some((conn, bytes)) = self.server.poll_transmit() {
            if let Some(c) = self.conns.get(&conn) {
                let _ = c.out.send(Output::Bytes(bytes));
            }
        }
    }

    fn event(&mut self, event: ServerEvent, current: Option<ConnectionId>) {
        match event {
            ServerEvent::SetupRequested {
                connection,
                path,
                template,
                auto_destroy,
                user,
                resume,
            } => self.setup_requested(
                connection,
                &path,
                template.as_deref(),
                auto_destroy,
                user.as_deref(),
                resume.as_deref(),
            ),
            ServerEvent::Header { push_id, header } => self.header(&push_id, header, current),
            ServerEvent::StreamChange { push_id, header } => {
                // A pull-style `$C` without a header: the header follows as `$H`.
                if !header.is_empty() {
                    self.header(&push_id, header, current);
                }
            }
            ServerEvent::Packet { push_id, packet } => self.packet(&push_id, packet, current),
            ServerEvent::EndOfStream {
                push_id,
                reason,
                auto_destroy,
                ..
            } => {
                tracing::info!(%push_id, reason, "push session ended ($E)");
                self.end_session(&push_id, auto_destroy);
            }
            ServerEvent::SessionExpired {
                push_id,
                auto_destroy,
                ..
            } => {
                tracing::info!(%push_id, "push session expired");
                self.end_session(&push_id, auto_destroy);
            }
            ServerEvent::ConnectionClose { connection } => {
                self.flush();
                if let Some(c) = self.conns.get(&connection) {
                    let _ = c.out.send(Output::Close);
                }
                self.connection_lost(connection);
            }
        }
    }

    fn setup_requested(
        &mut self,
        conn: ConnectionId,
        path: &str,
        template_url: Option<&str>,
        auto_destroy: bool,
        user: Option<&str>,
        resume: Option<&str>,
    ) {
        let name = point_name(path.split('?').next().unwrap_or("/")).to_owned();
        let peer = self.conns.get(&conn).map(|c| c.peer);
        match self.decide_setup(peer, &name, template_url, auto_destroy, user, resume) {
            Ok(created) => match self.server.accept_setup(conn, Instant::now(), &mut rng) {
                Ok(push_id) => {
                    tracing::info!(?peer, point = %name, %push_id, auto_destroy, "PushSetup accepted");
                    // MS-WMHTTP 3.2.2: the point's template sets this session's Idle-Timeout.
                    let idle = self
                        .state
                        .points
                        .get(&name)
                        .map_or(self.state.config.default_template.idle_timeout, |p| {
                            point_template(&self.state, &p).idle_timeout
                        });
                    self.server
                        .set_session_timeouts(&push_id, idle, self.inactivity_timeout);
                    self.sessions.entry(push_id).or_insert_with(|| Session {
                        point: name,
                        conn: None,
                        facts: None,
                        auto_destroy,
                        outputs: SessionOutputs::default(),
                    });
                }
                Err(e) => {
                    tracing::info!(?peer, point = %name, error = %e, "PushSetup refused by the push server");
                    if created {
                        self.state.points.remove(&name);
                    }
                }
            },
            Err(Refusal(status, why)) => {
                tracing::info!(?peer, point = %name, status, why, "PushSetup refused");
                self.server.refuse(conn, status);
            }
        }
    }

    /// MS-WMHTTP 3.2.5.1 step 6: the point must exist or be creatable from
    /// `Template-URL` (or the default template). `Ok(true)` when it was created.
    fn decide_setup(
        &self,
        peer: Option<SocketAddr>,
        name: &str,
        template_url: Option<&str>,
        auto_destroy: bool,
        user: Option<&str>,
        resume: Option<&str>,
    ) -> Result<bool, Refusal> {
        let state = &self.state;
        if name.is_empty() || name.starts_with('_') {
            return Err(Refusal(404, "not a publishing point name"));
        }
        if state.auth.is_none()
            && !state.config.allow_anonymous_push
            && !peer.is_some_and(|p| p.ip().is_loopback())
        {
            return Err(Refusal(
                403,
                "anonymous pushes are only taken from loopback",
            ));
        }
        if let Some(id) = resume
            && self.sessions.get(id).is_some_and(|s| s.point != name)
        {
            return Err(Refusal(400, "the push-id belongs to another point"));
        }
        if let Some(point) = state.points.get(name) {
            let template = point_template(state, &point);
            if !template.may_push(user) {
                return Err(Refusal(403, "user may not push to this point"));
            }
            if let Some(holder) = point.encoder()
                && Some(holder.as_str()) != resume
                && !template.takeover
            {
                return Err(Refusal(409, "another encoder is pushing to this point"));
            }
            return Ok(false);
        }
        // Create: Template-URL names a config template or an existing point.
        let template_name = template_url.map(|t| t.trim_start_matches('/').to_owned());
        let (template, label) = match &template_name {
            None => (state.config.default_template.clone(), None),
            Some(t) => {
                if let Some(tpl) = state.config.templates.get(t) {
                    (tpl.clone(), Some(t.clone()))
                } else if let Some(p) = state.points.get(t) {
                    (point_template(state, &p), Some(t.clone()))
                } else {
                    return Err(Refusal(404, "Template-URL names no template or point"));
                }
            }
        };
        if !template.allow_create {
            return Err(Refusal(
                404,
                "no such point and its template does not allow creation",
            ));
        }
        if !template.may_push(user) {
            return Err(Refusal(403, "user may not push with this template"));
        }
        if state.points.len() >= state.config.limits.max_points {
            return Err(Refusal(503, "publishing point limit reached"));
        }
        let settings = template.point_settings(label.as_deref(), auto_destroy);
        state.points.insert(PublishingPoint::with_load(
            name,
            settings,
            state.delivery_load.clone(),
        ));
        tracing::info!(point = name, template = ?label, "publishing point created");
        Ok(true)
    }

    /// A `$H` (or the header of a `$C`): check it, claim the point, start the
    /// archive and relays, and hand it to the players.
    fn header(&mut self, push_id: &str, header: Bytes, conn: Option<ConnectionId>) {
        let state = self.state.clone();
        let Some(session) = self.sessions.get_mut(push_id) else {
            return;
        };
        if conn.is_some() {
            session.conn = conn;
        }
        let Some(point) = state.points.get(&session.point) else {
            return self.refuse_stream(push_id, 404, "the point was removed");
        };
        let template = point_template(&state, &point);
        if header.len() > state.config.limits.max_header_bytes {
            return self.refuse_stream(push_id, 413, "ASF header over the size limit");
        }
        let facts = match StreamFacts::read(&header) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(%push_id, error = %e, "unreadable ASF header");
                return self.refuse_stream(push_id, 400, "$H does not hold a readable ASF header");
            }
        };
        if let Some(max) = template.max_bitrate
            && facts.max_bitrate > max
        {
            return self.refuse_stream(push_id, 413, "stream bitrate over the point's limit");
        }
        if !point.claim(push_id) {
            match point.encoder() {
                Some(old) if template.takeover => {
                    tracing::info!(point = %point.name(), old = %old, new = %push_id, "takeover");
                    point.release(&old);
                    point.claim(push_id);
                }
                _ => {
                    return self.refuse_stream(
                        push_id,
                        409,
                        "another encoder is pushing to this point",
                    );
                }
            }
        }
        session.outputs.start(
            &point,
            push_id,
            &template,
            state.config.archive_dir.as_deref(),
            &state.outputs,
        );
        session.outputs.header(header);
        session.facts = Some(facts);
    }

    /// A `$D`: full-size for players and files, then to the archive, the relays
    /// and the players.
    fn packet(&mut self, push_id: &str, packet: Bytes, conn: Option<ConnectionId>) {
        let state = self.state.clone();
        let Some(session) = self.sessions.get_mut(push_id) else {
            return;
        };
        if session.conn.is_none() {
            session.conn = conn;
        }
        let Some(facts) = session.facts.as_ref() else {
            return self.refuse_stream(push_id, 400, "$D before any $H (MS-WMHTTP 3.2.5.3)");
        };
        let Some(point) = state.points.get(&session.point) else {
            return self.refuse_stream(push_id, 404, "the point was removed");
        };
        if !point.claim(push_id) {
            // Taken over by another encoder.
            return self.refuse_stream(push_id, 409, "another encoder took the point over");
        }
        // Players and files get full-size packets: ffmpeg and VLC pad a short $D with
        // zeros but would read those zeros as payload when the packet has no explicit
        // length (ASF 5.2.2), so restore the padding once here and share that copy.
        let len = packet.len();
        let Some(packet) = facts.full_size(packet) else {
            point.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                len,
                packet_size = facts.packet_size,
                "dropping a $D that is malformed or larger than the packet size"
            );
            return;
        };
        // A full-size packet asf-format cannot parse (some GStreamer asfmux output that
        // ffmpeg still plays) is passed on as is, never as a join point.
        let (send_time_ms, key) = facts.packet(&packet).unwrap_or((0, false));
        session.outputs.packet(packet, send_time_ms, key);
    }

    /// Ends a stream the application refuses after its PushStart was accepted: the
    /// push server answers `status` on its connection, closes it and forgets the
    /// session; the point's stream ends (AutoDestroy applies).
    fn refuse_stream(&mut self, push_id: &str, status: u16, why: &'static str) {
        tracing::warn!(%push_id, status, why, "push stream refused");
        self.server.end_session(push_id, status);
        let auto_destroy = self.sessions.get(push_id).is_some_and(|s| s.auto_destroy);
        self.end_session(push_id, auto_destroy);
    }

    /// The connection streaming a session is gone: its point's stream ends
    /// (players get `$E(0)`), the archive is finalised, relays end. The session
    /// itself lives on in the push server until it resumes or expires.
    fn connection_lost(&mut self, conn: ConnectionId) {
        for (push_id, session) in self.sessions.iter_mut() {
            if session.conn != Some(conn) {
                continue;
            }
            session.conn = None;
            tracing::info!(point = %session.point, %push_id, "encoder connection closed");
            // Players get `$E(0)` while this session holds the point (PointSink).
            session.outputs.end();
        }
    }

    /// The session is over (`$E` or expiry): end its point's stream and, with
    /// AutoDestroy, remove the point.
    fn end_session(&mut self, push_id: &str, auto_destroy: bool) {
        let Some(session) = self.sessions.remove(push_id) else {
            return;
        };
        let point = self.state.points.get(&session.point);
        let held = point
            .as_ref()
            .is_some_and(|p| p.encoder().as_deref() == Some(push_id));
        // Ends the stream (the players' `$E(0)` while held) and lets the archive and relays
        // finish in the background: nothing here waits for them.
        while self.finishing.try_join_next().is_some() {}
        self.finishing.spawn(session.outputs.finish(OUTPUT_FINISH));
        let Some(point) = point else {
            return;
        };
        if auto_destroy && point.encoder().is_none() && (held || !point.is_live()) {
            tracing::info!(point = %point.name(), "AutoDestroy: removing the point");
            self.state.points.remove(point.name());
        }
    }

    /// Shutdown: every stream ended, every archive finalised and every relay ended (each
    /// within [`OUTPUT_FINISH`]).
    async fn finish_all(&mut self) {
        for (_, s) in self.sessions.drain() {
            self.finishing.spawn(s.outputs.finish(OUTPUT_FINISH));
        }
        for c in self.conns.values() {
            let _ = c.out.send(Output::Close);
        }
        let all = async { while self.finishing.join_next().await.is_some() {} };
        if tokio::time::timeout(OUTPUT_FINISH + Duration::from_secs(1), all)
            .await
            .is_err()
        {
            tracing::warn!("outputs still finishing at shutdown: dropped");
        }
    }
}

fn point_template(state: &ServerState, point: &PublishingPoint) -> Template {
    state
        .config
        .template(point.settings().template.as_deref())
        .cloned()
        .unwrap_or_default()
}
