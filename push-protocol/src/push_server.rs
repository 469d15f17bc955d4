//! The publishing-point side of MS-WMHTTP push, as a sans-IO state machine handling many
//! connections (keyed by a [`ConnectionId`] the driver assigns).
//!
//! # Call order
//! 1. [`PushServer::new`], optionally [`PushServer::add_user`].
//! 2. Per received chunk: [`PushServer::handle_input`] (or, for a request head the caller
//!    read and parsed itself, [`PushServer::handle_request_head`], then `handle_input` with the
//!    bytes after it); per closed socket:
//!    [`PushServer::handle_connection_closed`]; when [`PushServer::poll_timeout`]'s instant
//!    passes: [`PushServer::handle_timeout`].
//! 3. Then drain [`PushServer::poll_transmit`] (bytes to write) and [`PushServer::poll_event`].
//!    On [`ServerEvent::SetupRequested`] answer with [`PushServer::accept_setup`] or
//!    [`PushServer::refuse`]; on [`ServerEvent::ConnectionClose`] close the socket after writing
//!    what `poll_transmit` gave for it.
//!
//! Statuses: 400 malformed, 401 credentials needed or wrong, 403 user agent refused (strict mode),
//! 404 unknown push-id, 408 idle timeout, 409 a PushStart is already live for the session,
//! 413 head, directives or a limit exceeded, 415 wrong Content-Type; the application picks the
//! status of a refused PushSetup (e.g. 404 unknown point and no template).
//!
//! # Example: a client and a server shuttled in memory
//! ```
//! use std::time::Instant;
//! use push_protocol::push_client::{ClientEvent, PushClient, PushClientConfig};
//! use push_protocol::push_server::{PushServer, PushServerConfig, ServerEvent};
//!
//! let now = Instant::now();
//! let mut rng = |buf: &mut [u8]| buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8 * 7);
//! let mut client = PushClient::new(PushClientConfig::new("127.0.0.1:8080", "/live"));
//! let mut server = PushServer::new(PushServerConfig::default());
//! client.connect(b"ASF header + 50 Data Object bytes").unwrap();
//! let mut packets = 0;
//! for round in 0..10 {
//!     if round == 3 {
//!         client.send_packet(b"one ASF data packet").unwrap();
//!         client.end_session().unwrap();
//!     }
//!     while client.poll_event().is_some() {}
//!     while let Some((conn, bytes)) = client.poll_transmit() {
//!         server.handle_input(conn, &bytes, now, &mut rng);
//!     }
//!     while let Some(event) = server.poll_event() {
//!         match event {
//!             ServerEvent::SetupRequested { connection, .. } => {
//!                 server.accept_setup(connection, now, &mut rng).unwrap();
//!             }
//!             ServerEvent::Packet { .. } => packets += 1,
//!             _ => {}
//!         }
//!     }
//!     while let Some((conn, bytes)) = server.poll_transmit() {
//!         client.handle_input(conn, &bytes, &mut rng).unwrap();
//!     }
//! }
//! assert_eq!(packets, 1);
//! assert_eq!(server.session_count(), 0, "$E(0) ended the session");
//! ```

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::auth::{AuthFailure, Credential, ServerAuth, ServerScheme};
use crate::error::Error;
use crate::framing::{PushFrameDecoder, PushFrameKind};
use crate::http::{self, Headers, RequestHead};
use crate::rng::{self, Rng};

/// A connection as numbered by the driver.
pub type ConnectionId = u64;

/// Largest PushSetup directive body accepted.
pub const MAX_SETUP_BODY: u64 = 4096;

/// Server settings.
#[derive(Debug, Clone)]
pub struct PushServerConfig {
    /// `Server` header: MS-WMHTTP 2.2.1.5 requires the Cougar/Rex syntax or encoders give up.
    pub server_header: String,
    /// Refuse (403) requests whose User-Agent is not `WMEncoder/...`.
    pub strict_user_agent: bool,
    /// Authentication schemes offered, in order of preference (one `WWW-Authenticate`
    /// header each); empty for open access. `vec![Digest(Md5), Basic]` serves both encoders
    /// that only do Digest (Windows Media Encoder) and clients that only do Basic.
    pub auth: Vec<ServerScheme>,
    /// Authentication realm.
    pub realm: String,
    /// MS-WMHTTP 3.2.2: Idle-Timeout during a PushStart (default 60 s).
    pub idle_timeout: Duration,
    /// MS-WMHTTP 3.2.2: Inactivity-Timeout between requests (default 120 s).
    pub inactivity_timeout: Duration,
    /// A second PushStart for a live session takes over instead of getting 409.
    pub takeover: bool,
    /// Most sessions held.
    pub max_sessions: usize,
    /// Largest request head.
    pub max_head: usize,
}

impl Default for PushServerConfig {
    fn default() -> PushServerConfig {
        PushServerConfig {
            server_header: "Cougar/9.01.01.3814".to_string(),
            strict_user_agent: false,
            auth: Vec::new(),
            realm: "wmpush".to_string(),
            idle_timeout: Duration::from_secs(60),
            inactivity_timeout: Duration::from_secs(120),
            takeover: false,
            max_sessions: 256,
            max_head: http::DEFAULT_MAX_HEAD,
        }
    }
}

/// What the server tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A PushSetup awaits [`PushServer::accept_setup`] or [`PushServer::refuse`].
    SetupRequested {
        /// Connection it arrived on.
        connection: ConnectionId,
        /// Publishing point path (request target).
        path: String,
        /// `Template-URL` directive.
        template: Option<String>,
        /// `AutoDestroy` directive (0 when absent).
        auto_destroy: bool,
        /// Authenticated user, if authentication is on.
        user: Option<String>,
        /// Push-id of the session being resumed, `None` for a new one.
        resume: Option<String>,
    },
    /// The `$H` of a session.
    Header {
        /// Session.
        push_id: String,
        /// ASF header object + first 50 bytes of the Data Object.
        header: Bytes,
    },
    /// A `$D` data packet.
    Packet {
        /// Session.
        push_id: String,
        /// The packet (padding possibly stripped).
        packet: Bytes,
    },
    /// A `$C` new header after `$E(1)`.
    StreamChange {
        /// Session.
        push_id: String,
        /// The new ASF file header.
        header: Bytes,
    },
    /// `$E` with a Reason other than 1: the session is over and forgotten.
    EndOfStream {
        /// Session.
        push_id: String,
        /// HRESULT (0 normal end).
        reason: u32,
        /// Path of the publishing point.
        path: String,
        /// Whether the point should be removed (AutoDestroy).
        auto_destroy: bool,
    },
    /// A session timed out (idle or inactivity) and was forgotten.
    SessionExpired {
        /// Session.
        push_id: String,
        /// Path of the publishing point.
        path: String,
        /// Whether the point should be removed (AutoDestroy).
        auto_destroy: bool,
    },
    /// Close this connection once its pending transmits are written.
    ConnectionClose {
        /// Connection.
        connection: ConnectionId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Header,
    Any,
    Change,
}

#[derive(Debug)]
struct Session {
    path: String,
    auto_destroy: bool,
    expect: Expect,
    active: Option<ConnectionId>,
    last_seen: Instant,
    allow_unauth_start: bool,
    idle_timeout: Duration,
    inactivity_timeout: Duration,
}

#[derive(Debug)]
struct PendingSetup {
    path: String,
    auto_destroy: bool,
    resume: Option<String>,
    authenticated: bool,
}

#[derive(Debug)]
enum ConnState {
    Head,
    Setup(PendingSetup),
    Streaming {
        push_id: String,
        decoder: PushFrameDecoder,
        remaining: u64,
        last_packet: Instant,
    },
    Closed,
}

#[derive(Debug)]
struct Conn {
    state: ConnState,
    /// Received bytes not consumed yet (a head, a body, frames).
    buf: Vec<u8>,
    /// A parsed request head whose body (a PushSetup's directives) is not all in `buf` yet,
    /// or a head the caller parsed ([`PushServer::handle_request_head`]).
    head: Option<RequestHead>,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            state: ConnState::Head,
            buf: Vec::new(),
            head: None,
        }
    }
}

/// The push server.
#[derive(Debug)]
pub struct PushServer {
    config: PushServerConfig,
    auth: Option<ServerAuth>,
    users: HashMap<String, Credential>,
    sessions: HashMap<String, Session>,
    conns: HashMap<ConnectionId, Conn>,
    transmit: VecDeque<(ConnectionId, Vec<u8>)>,
    events: VecDeque<ServerEvent>,
}

impl PushServer {
    /// A server with `config`.
    pub fn new(config: PushServerConfig) -> PushServer {
        let auth = (!config.auth.is_empty()).then(|| {
            ServerAuth::with_schemes(&config.realm, &config.auth, 256, Duration::from_secs(300))
        });
        PushServer {
            config,
            auth,
            users: HashMap::new(),
            sessions: HashMap::new(),
            conns: HashMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Adds or replaces a user the authentication accepts.
    pub fn add_user(&mut self, user: &str, credential: Credential) {
        self.users.insert(user.to_string(), credential);
    }

    /// Bytes the server holds on behalf of its peers: unparsed input of every connection,
    /// partial frames in the body decoders, and responses not yet taken by `poll_transmit`.
    /// Bounded per connection by the largest head, a PushSetup body
    /// ([`MAX_SETUP_BODY`]), one push frame (4 + 65,535 bytes) and the last input chunk.
    pub fn buffered_bytes(&self) -> usize {
        let conns: usize = self
            .conns
            .values()
            .map(|c| {
                c.buf.len()
                    + match &c.state {
                        ConnState::Streaming { decoder, .. } => decoder.buffered(),
                        _ => 0,
                    }
            })
            .sum();
        conns + self.transmit.iter().map(|(_, b)| b.len()).sum::<usize>()
    }

    /// Number of sessions held.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Whether `push_id` is a known session.
    pub fn has_session(&self, push_id: &str) -> bool {
        self.sessions.contains_key(push_id)
    }

    fn respond(
        &mut self,
        conn: ConnectionId,
        status: u16,
        push_id: Option<&str>,
        extra: &[(&str, String)],
    ) {
        let mut h = Headers::default();
        h.push("Server", self.config.server_header.clone());
        h.push("Content-Length", "0");
        h.push(
            "Pragma",
            format!("no-cache, timeout={}", self.config.idle_timeout.as_millis()),
        );
        h.push("Cache-Control", "no-cache");
        if let Some(id) = push_id {
            h.push("Set-Cookie", format!("push-id={id}"));
        }
        h.push(
            "Supported",
            "com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm, com.microsoft.wm.fastcache, com.microsoft.wm.startupprofile",
        );
        for (n, v) in extra {
            h.push(n, v.clone());
        }
        let mut out = Vec::new();
        http::write_response(status, http::reason_phrase(status), 1, &h, &mut out);
        self.transmit.push_back((conn, out));
    }

    fn fail(&mut self, conn: ConnectionId, status: u16, push_id: Option<&str>) {
        self.respond(conn, status, push_id, &[]);
        self.close_conn(conn);
    }

    fn close_conn(&mut self, conn: ConnectionId) {
        if let Some(c) = self.conns.get_mut(&conn)
            && !matches!(c.state, ConnState::Closed)
        {
            c.state = ConnState::Closed;
            c.buf.clear();
            c.head = None;
            self.events
                .push_back(ServerEvent::ConnectionClose { connection: conn });
        }
        for s in self.sessions.values_mut() {
            if s.active == Some(conn) {
                s.active = None;
            }
        }
    }

    /// Bytes received on `conn` (a new id opens a connection). `rng` draws push-ids and nonces.
    pub fn handle_input(
        &mut self,
        conn: ConnectionId,
        data: &[u8],
        now: Instant,
        rng: &mut dyn Rng,
    ) {
        let c = self.conns.entry(conn).or_insert_with(Conn::new);
        if matches!(c.state, ConnState::Closed) {
            return;
        }
        c.buf.extend_from_slice(data);
        // Bounded memory: while a PushSetup waits for the application, a peer that keeps
        // sending cannot grow the buffer past one more head and body.
        if matches!(c.state, ConnState::Setup(_))
            && c.buf.len() > self.config.max_head + MAX_SETUP_BODY as usize
        {
            return self.fail(conn, 413, None);
        }
        self.process(conn, now, rng);
    }

    /// A request head the caller already read and parsed on `conn` (with
    /// [`http::parse_request`], e.g. a server that routes each request by its head before
    /// choosing a protocol), instead of its bytes: the same events and responses as
    /// [`PushServer::handle_input`] with those bytes, through the same path. The bytes the caller
    /// read past the head (the body's start) follow with `handle_input`. A new id opens a
    /// connection; the caller bounded the head's size ([`PushServerConfig::max_head`] is not
    /// checked again).
    ///
    /// Fails with [`Error::Misuse`] unless `conn` is between requests with no byte of the next
    /// one received (a new connection, or one whose previous request is done); on a closed
    /// connection the head is ignored, as input is.
    pub fn handle_request_head(
        &mut self,
        conn: ConnectionId,
        head: RequestHead,
        now: Instant,
        rng: &mut dyn Rng,
    ) -> Result<(), Error> {
        let c = self.conns.entry(conn).or_insert_with(Conn::new);
        match c.state {
            ConnState::Closed => return Ok(()),
            ConnState::Head if c.buf.is_empty() && c.head.is_none() => {}
            _ => {
                return Err(Error::Misuse(
                    "handle_request_head on a connection in the middle of a request",
                ));
            }
        }
        c.head = Some(head);
        self.process(conn, now, rng);
        Ok(())
    }

    fn process(&mut self, conn: ConnectionId, now: Instant, rng: &mut dyn Rng) {
        // Bounded: every pass consumes bytes or changes state, and stops otherwise.
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match &mut c.state {
                ConnState::Closed | ConnState::Setup(_) => return,
                ConnState::Streaming { .. } => {
                    if !self.stream(conn, now) {
                        return;
                    }
                }
                ConnState::Head => {
                    let head = match c.head.take() {
                        Some(head) => head,
                        None => match http::parse_request(&c.buf, self.config.max_head) {
                            Ok(None) => return,
                            Err(Error::TooLarge { .. }) => return self.fail(conn, 413, None),
                            Err(_) => return self.fail(conn, 400, None),
                            Ok(Some((head, n))) => {
                                c.buf.drain(..n);
                                head
                            }
                        },
                    };
                    if !self.request(conn, head, now, rng) {
                        return;
                    }
                }
            }
        }
    }

    /// Handles one request head (its bytes already taken from the connection's buffer, so the
    /// body starts there): the one path of [`PushServer::handle_input`] and
    /// [`PushServer::handle_request_head`]. Returns whether processing can continue.
    fn request(
        &mut self,
        conn: ConnectionId,
        head: RequestHead,
        now: Instant,
        rng: &mut dyn Rng,
    ) -> bool {
        let Ok(length) = head.headers.content_length() else {
            self.fail(conn, 400, None);
            return false;
        };
        // MS-WMHTTP 2.2.1: chunked transfer coding is not allowed; Content-Length is required.
        let (Some(length), None) = (length, head.headers.get("Transfer-Encoding")) else {
            self.fail(conn, 400, None);
            return false;
        };
        if !head.method.eq_ignore_ascii_case("POST") {
            self.fail(conn, 400, None);
            return false;
        }
        // MS-WMHTTP 2.2.1.4: User-Agent WMEncoder/<major>.<minor>...
        let ua = head.headers.get("User-Agent").unwrap_or_default();
        if self.config.strict_user_agent && !ua.starts_with("WMEncoder/") {
            self.fail(conn, 403, None);
            return false;
        }
        let cookie = head.headers.cookie("push-id").map(str::to_string);
        let kind = head.headers.media_type();
        let authorization = head.headers.get("Authorization").map(str::to_string);
        match kind.as_deref() {
            // MS-WMHTTP 3.2.5.2: PushSetup is recognised by its media type only.
            Some("application/x-wms-pushsetup") => {
                if length > MAX_SETUP_BODY {
                    self.fail(conn, 413, None);
                    return false;
                }
                let Some(c) = self.conns.get_mut(&conn) else {
                    return false;
                };
                if (c.buf.len() as u64) < length {
                    // The directives are still coming: keep the parsed head for them.
                    c.head = Some(head);
                    return false;
                }
                let body: Vec<u8> = c.buf.drain(..length as usize).collect();
                let user = match self.authenticate(
                    conn,
                    authorization.as_deref(),
                    cookie.as_deref(),
                    now,
                    rng,
                ) {
                    Ok(u) => u,
                    Err(()) => return false,
                };
                let resume = match cookie.as_deref() {
                    None | Some("0") => None,
                    Some(id) => match self.sessions.get(id) {
                        None => {
                            // MS-WMHTTP 3.2.5.2: an unknown non-zero push-id is an error.
                            self.fail(conn, 404, None);
                            return false;
                        }
                        Some(s) if s.active.is_some() && !self.config.takeover => {
                            self.fail(conn, 409, Some(id));
                            return false;
                        }
                        Some(_) => Some(id.to_string()),
                    },
                };
                let (template, auto_destroy) = parse_directives(&String::from_utf8_lossy(&body));
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.state = ConnState::Setup(PendingSetup {
                        path: head.target.clone(),
                        auto_destroy,
                        resume: resume.clone(),
                        authenticated: user.is_some(),
                    });
                }
                self.events.push_back(ServerEvent::SetupRequested {
                    connection: conn,
                    path: head.target,
                    template,
                    auto_destroy,
                    user,
                    resume,
                });
                false
            }
            Some("application/x-wms-pushstart") => {
                let Some(id) = cookie.filter(|id| self.sessions.contains_key(id)) else {
                    // MS-WMHTTP 3.2.5.3: a PushStart with an unknown push-id is an error.
                    self.fail(conn, 404, None);
                    return false;
                };
                let free_pass = self.sessions.get(&id).is_some_and(|s| s.allow_unauth_start)
                    && authorization.is_none();
                if !free_pass
                    && self
                        .authenticate(conn, authorization.as_deref(), Some(&id), now, rng)
                        .is_err()
                {
                    return false;
                }
                let old = self.sessions.get(&id).and_then(|s| s.active);
                if let Some(old) = old.filter(|o| *o != conn) {
                    if self.config.takeover {
                        self.close_conn(old);
                    } else {
                        self.fail(conn, 409, Some(&id));
                        return false;
                    }
                }
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.allow_unauth_start = false;
                    s.active = Some(conn);
                    s.last_seen = now;
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.state = ConnState::Streaming {
                        push_id: id,
                        decoder: PushFrameDecoder::new(),
                        remaining: length,
                        last_packet: now,
                    };
                }
                true
            }
            _ => {
                self.fail(conn, 415, None);
                false
            }
        }
    }

    fn authenticate(
        &mut self,
        conn: ConnectionId,
        authorization: Option<&str>,
        push_id: Option<&str>,
        now: Instant,
        rng: &mut dyn Rng,
    ) -> Result<Option<String>, ()> {
        let Some(auth) = self.auth.as_mut() else {
            return Ok(None);
        };
        let users = &self.users;
        let lookup = |u: &str| users.get(u).cloned();
        match auth.verify(authorization, "POST", &lookup, now) {
            Ok(user) => Ok(Some(user)),
            Err(failure) => {
                let challenges: Vec<(&str, String)> = auth
                    .challenges(rng, now)
                    .into_iter()
                    .map(|c| ("WWW-Authenticate", c))
                    .collect();
                let id = push_id.filter(|p| *p != "0").map(str::to_string);
                self.respond(conn, 401, id.as_deref(), &challenges);
                // MS-WMHTTP 3.1.5.2: the client retries on a new connection. A stale nonce
                // and a missing header get the same fresh challenge.
                let _: AuthFailure = failure;
                self.close_conn(conn);
                Err(())
            }
        }
    }

    /// Accepts the PushSetup pending on `conn`: issues or keeps the push-id and answers 204.
    pub fn accept_setup(
        &mut self,
        conn: ConnectionId,
        now: Instant,
        rng: &mut dyn Rng,
    ) -> Result<String, Error> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(Error::Misuse("unknown connection"));
        };
        let ConnState::Setup(_) = &c.state else {
            return Err(Error::Misuse("no PushSetup is pending on this connection"));
        };
        let ConnState::Setup(p) = std::mem::replace(&mut c.state, ConnState::Head) else {
            return Err(Error::Misuse("no PushSetup is pending on this connection"));
        };
        let id = match p.resume {
            Some(id) => id,
            None => {
                if self.sessions.len() >= self.config.max_sessions {
                    self.fail(conn, 503, None);
                    return Err(Error::TooLarge {
                        what: "session table",
                        len: self.sessions.len() + 1,
                        limit: self.config.max_sessions,
                    });
                }
                // MS-WMHTTP 5.1: unguessable ids; 16 alphanumerics is about 95 bits.
                let mut id = rng::alphanumeric(rng, 16);
                while id == "0" || self.sessions.contains_key(&id) {
                    id = rng::alphanumeric(rng, 16);
                }
                self.sessions.insert(
                    id.clone(),
                    Session {
                        path: p.path,
                        auto_destroy: p.auto_destroy,
                        expect: Expect::Header,
                        active: None,
                        last_seen: now,
                        allow_unauth_start: false,
                        idle_timeout: self.config.idle_timeout,
                        inactivity_timeout: self.config.inactivity_timeout,
                    },
                );
                id
            }
        };
        if let Some(s) = self.sessions.get_mut(&id) {
            s.last_seen = now;
            // Flumotion: the encoder sends its PushStart without credentials after an
            // authenticated PushSetup; let exactly one through for this push-id.
            s.allow_unauth_start = p.authenticated;
        }
        self.respond(conn, 204, Some(&id), &[]);
        self.process(conn, now, rng);
        Ok(id)
    }

    /// Refuses the PushSetup pending on `conn` with `status` and closes the connection.
    pub fn refuse(&mut self, conn: ConnectionId, status: u16) {
        self.fail(conn, status, None);
    }

    /// Redirects the PushSetup pending on `conn` and closes the connection: 302 with
    /// `Location: location` sends the encoder to another server (MS-WMHTTP 3.2.5: the server
    /// may redirect a PushSetup; the client starts over at the new URL with push-id 0). No
    /// session state is kept. (The spec's 305 "use proxy" is not offered: our client has no
    /// proxy-forwarding mode to honour it.)
    ///
    /// `location` must be an absolute `http://` URL without control characters (it becomes a
    /// header value); anything else is a [`Error::Misuse`] and the setup stays pending.
    pub fn redirect(&mut self, conn: ConnectionId, location: &str) -> Result<(), Error> {
        let pending = self
            .conns
            .get(&conn)
            .is_some_and(|c| matches!(c.state, ConnState::Setup(_)));
        if !pending {
            return Err(Error::Misuse("no PushSetup is pending on this connection"));
        }
        let scheme_ok = location
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("http://"));
        if !scheme_ok || location.len() <= 7 || location.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::Misuse(
                "redirect Location must be an absolute http:// URL without control characters",
            ));
        }
        self.respond(conn, 302, None, &[("Location", location.to_string())]);
        self.close_conn(conn);
        Ok(())
    }

    /// Feeds the body of a PushStart; returns whether processing can continue with a new head.
    fn stream(&mut self, conn: ConnectionId, now: Instant) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let ConnState::Streaming {
            push_id,
            decoder,
            remaining,
            last_packet,
        } = &mut c.state
        else {
            return false;
        };
        let take = (c.buf.len() as u64).min(*remaining) as usize;
        decoder.push(&c.buf[..take]);
        c.buf.drain(..take);
        *remaining -= take as u64;
        let id = push_id.clone();
        let mut frames = Vec::new();
        let mut bad = false;
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(_) => {
                    bad = true;
                    break;
                }
            }
        }
        let done = *remaining == 0;
        let leftover = decoder.buffered();
        if frames.iter().any(|f| f.kind != PushFrameKind::Fill) {
            *last_packet = now;
        }
        for f in frames {
            if !self.frame(conn, &id, f.kind, f.reason, f.payload, now) {
                return false;
            }
        }
        if bad || (done && leftover > 0) {
            self.fail(conn, 400, Some(&id));
            return false;
        }
        if done {
            // MS-WMHTTP 3.2.5.3: the 204 goes out when the declared body is fully received.
            if let Some(s) = self.sessions.get_mut(&id) {
                s.active = None;
                s.last_seen = now;
            }
            if let Some(c) = self.conns.get_mut(&conn) {
                c.state = ConnState::Head;
            }
            self.respond(conn, 204, Some(&id), &[]);
            return true;
        }
        false
    }

    fn frame(
        &mut self,
        conn: ConnectionId,
        id: &str,
        kind: PushFrameKind,
        reason: Option<u32>,
        payload: Bytes,
        now: Instant,
    ) -> bool {
        let Some(s) = self.sessions.get_mut(id) else {
            return false;
        };
        s.last_seen = now;
        // MS-WMHTTP 3.2.5.3: $H first in a session; $D after $H/$C/$D; after $E(1) only $C/$E/$F.
        let ok = matches!(
            (s.expect, kind),
            (_, PushFrameKind::Fill)
                | (Expect::Header, PushFrameKind::Header)
                | (Expect::Any, PushFrameKind::Data | PushFrameKind::End)
                | (Expect::Change, PushFrameKind::Change | PushFrameKind::End)
        );
        if !ok {
            self.fail(conn, 400, Some(id));
            return false;
        }
        let push_id = id.to_string();
        match kind {
            PushFrameKind::Fill => {}
            PushFrameKind::Header => {
                s.expect = Expect::Any;
                self.events.push_back(ServerEvent::Header {
                    push_id,
                    header: payload,
                });
            }
            PushFrameKind::Data => self.events.push_back(ServerEvent::Packet {
                push_id,
                packet: payload,
            }),
            PushFrameKind::Change => {
                s.expect = Expect::Any;
                self.events.push_back(ServerEvent::StreamChange {
                    push_id,
                    header: payload,
                });
            }
            PushFrameKind::End => {
                let reason = reason.unwrap_or_default();
                if reason == 1 {
                    s.expect = Expect::Change;
                } else {
                    // MS-WMHTTP 3.2.5.3: $E other than S_FALSE ends the session; the server may close.
                    let (path, auto_destroy) = (s.path.clone(), s.auto_destroy);
                    self.sessions.remove(id);
                    self.events.push_back(ServerEvent::EndOfStream {
                        push_id,
                        reason,
                        path,
                        auto_destroy,
                    });
                    self.close_conn(conn);
                    return false;
                }
            }
        }
        true
    }

    /// The connection was closed by the peer. A PushStart cut mid-body leaves the session to be
    /// resumed (MS-WMHTTP 3.2.5.3); the inactivity timer runs from `now`.
    pub fn handle_connection_closed(&mut self, conn: ConnectionId, now: Instant) {
        self.conns.remove(&conn);
        for s in self.sessions.values_mut() {
            if s.active == Some(conn) {
                s.active = None;
                s.last_seen = now;
            }
        }
    }

    /// Sets the Idle-Timeout and Inactivity-Timeout (MS-WMHTTP 3.2.2) of one session, e.g.
    /// from the settings of the publishing point it pushes to; the configured values are the
    /// defaults. Returns whether the session exists.
    pub fn set_session_timeouts(
        &mut self,
        push_id: &str,
        idle: Duration,
        inactivity: Duration,
    ) -> bool {
        match self.sessions.get_mut(push_id) {
            Some(s) => {
                s.idle_timeout = idle;
                s.inactivity_timeout = inactivity;
                true
            }
            None => false,
        }
    }

    /// Ends a session on the application's behalf (an unreadable `$H`, a stream over the
    /// point's limits, a point removed by its operator): answers `status` on the session's
    /// live PushStart connection, if any, closes it ([`ServerEvent::ConnectionClose`]) and
    /// forgets the session, so a later PushStart or PushSetup with its push-id is an unknown
    /// id. Returns whether the session existed.
    pub fn end_session(&mut self, push_id: &str, status: u16) -> bool {
        let Some(s) = self.sessions.remove(push_id) else {
            return false;
        };
        if let Some(conn) = s.active {
            self.fail(conn, status, Some(push_id));
        }
        true
    }

    fn idle_timeout_of(&self, push_id: &str) -> Duration {
        self.sessions
            .get(push_id)
            .map_or(self.config.idle_timeout, |s| s.idle_timeout)
    }

    /// The earliest instant [`handle_timeout`](Self::handle_timeout) has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idle = self.conns.values().filter_map(|c| match &c.state {
            ConnState::Streaming {
                last_packet,
                push_id,
                ..
            } => Some(*last_packet + self.idle_timeout_of(push_id)),
            _ => None,
        });
        let inactive = self
            .sessions
            .values()
            .filter(|s| s.active.is_none())
            .map(|s| s.last_seen + s.inactivity_timeout);
        idle.chain(inactive).min()
    }

    /// Fires timers due at `now`: 408 for idle PushStarts, expiry of inactive sessions.
    pub fn handle_timeout(&mut self, now: Instant) {
        let idle: Vec<(ConnectionId, String)> = self
            .conns
            .iter()
            .filter_map(|(id, c)| match &c.state {
                ConnState::Streaming {
                    last_packet,
                    push_id,
                    ..
                } if now >= *last_packet + self.idle_timeout_of(push_id) => {
                    Some((*id, push_id.clone()))
                }
                _ => None,
            })
            .collect();
        for (conn, push_id) in idle {
            // MS-WMHTTP 3.2.2: Idle-Timeout: respond at once (408), close, delete the state.
            self.fail(conn, 408, Some(&push_id));
            self.expire(&push_id);
        }
        let inactive: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.active.is_none() && now >= s.last_seen + s.inactivity_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in inactive {
            self.expire(&id);
        }
    }

    fn expire(&mut self, push_id: &str) {
        if let Some(s) = self.sessions.remove(push_id) {
            self.events.push_back(ServerEvent::SessionExpired {
                push_id: push_id.to_string(),
                path: s.path,
                auto_destroy: s.auto_destroy,
            });
        }
    }

    /// Next bytes to write and their connection.
    pub fn poll_transmit(&mut self) -> Option<(ConnectionId, Vec<u8>)> {
        self.transmit.pop_front()
    }

    /// Next event for the application.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }
}

/// MS-WMHTTP 2.2.2: `Template-URL: "<path>"` and `AutoDestroy: 0|1` directive lines.
fn parse_directives(body: &str) -> (Option<String>, bool) {
    let mut template = None;
    let mut auto_destroy = false;
    for line in body.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("Template-URL") {
            template = Some(value.trim_matches('"').to_string());
        } else if name.trim().eq_ignore_ascii_case("AutoDestroy") {
            auto_destroy = value == "1";
        }
    }
    (template, auto_destroy)
}
