//! The encoder side of MS-WMHTTP push: what `IWMWriterPushSink` Connect / Disconnect / EndSession
//! do on the wire, as a sans-IO state machine.
//!
//! # Call order
//! 1. [`PushClient::new`], then [`PushClient::connect`] with the ASF file header (`$H` payload).
//! 2. Loop: drain [`PushClient::poll_event`] (it tells the driver to open connections, reports
//!    acceptance, asks for credentials...) and [`PushClient::poll_transmit`] (bytes for a
//!    connection); feed received bytes with [`PushClient::handle_input`] and closes with
//!    [`PushClient::handle_connection_closed`].
//! 3. After [`ClientEvent::SetupAccepted`], call [`PushClient::send_packet`] per data packet,
//!    [`PushClient::change_stream`] for a new header, [`PushClient::end_session`] to finish, or
//!    [`PushClient::resume`] after a dropped connection.
//!
//! Connections are numbered by the client ([`ConnectionId`]); the driver opens one per
//! [`ClientEvent::OpenConnection`] and closes one per [`ClientEvent::CloseConnection`].

use std::collections::VecDeque;

use bytes::Bytes;

use crate::auth::{self, ClientAuth};
use crate::error::Error;
use crate::framing;
use crate::http::{self, Headers};
use crate::rng::Rng;

/// MS-WMHTTP 3.1.5.4: Content-Length of a PushStart when no proxy is involved (0x7FFFFFFF).
pub const UNBOUNDED_CONTENT_LENGTH: u64 = 2_147_483_647;

/// A connection opened on the client's behalf.
pub type ConnectionId = u64;

/// Settings of a push client.
#[derive(Debug, Clone)]
pub struct PushClientConfig {
    /// `Host` header value (`host[:port]`).
    pub authority: String,
    /// Publishing point path, e.g. `/pubPoint`.
    pub path: String,
    /// MS-WMHTTP 2.2.1.4: `WMEncoder/<major>.<minor>...`.
    pub user_agent: String,
    /// `X-Accept-Authentication` value, `None` to leave it out.
    pub accept_authentication: Option<String>,
    /// `Template-URL` directive (path, written in double quotes).
    pub template_url: Option<String>,
    /// `AutoDestroy` directive.
    pub auto_destroy: Option<bool>,
    /// Whether a proxy is configured (the PushStart then carries `proxy_budget` bytes).
    pub proxy: bool,
    /// Content-Length of a PushStart through a proxy (about 60 s of data).
    pub proxy_budget: u64,
    /// Most redirects followed.
    pub max_redirects: u32,
    /// Largest response head accepted.
    pub max_head: usize,
}

impl PushClientConfig {
    /// Defaults of the spec's examples for `authority` and `path`.
    pub fn new(authority: &str, path: &str) -> PushClientConfig {
        PushClientConfig {
            authority: authority.to_string(),
            path: path.to_string(),
            user_agent: "WMEncoder/11.0.5721.5145".to_string(),
            accept_authentication: Some("Negotiate, NTLM, Digest".to_string()),
            template_url: None,
            auto_destroy: None,
            proxy: false,
            proxy_budget: 4 * 1024 * 1024,
            max_redirects: 5,
            max_head: http::DEFAULT_MAX_HEAD,
        }
    }
}

/// What the driver must do or learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Open a TCP connection to `authority` and call it `id`.
    OpenConnection {
        /// Connection number.
        id: ConnectionId,
        /// `host[:port]`.
        authority: String,
    },
    /// Close connection `id`.
    CloseConnection {
        /// Connection number.
        id: ConnectionId,
    },
    /// The PushSetup succeeded; packets may be sent.
    SetupAccepted {
        /// The session id issued by the server.
        push_id: String,
    },
    /// The server refused (status other than 2xx/3xx/401/407).
    Rejected {
        /// HTTP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// Credentials are needed: call [`PushClient::set_credentials`].
    AuthenticationNeeded {
        /// `Basic` or `Digest`.
        scheme: &'static str,
        /// Realm.
        realm: String,
    },
    /// The server redirected the session to `location`.
    Redirected {
        /// New URL or path.
        location: String,
    },
    /// A budgeted PushStart was used up and acknowledged; a new one was started.
    PushStartRenewed,
    /// The session ended (`$E(0)` sent).
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    AwaitSetup,
    AwaitCredentials,
    /// PushSetup accepted, waiting for the header (`connect_setup` without one).
    Ready,
    Streaming,
    AwaitStartResponse,
    Dropped,
    Done,
    Failed,
}

/// A frame waiting for room in the PushStart body: built whole, a `$D` whose packet is kept
/// as the caller's `Bytes` (sent after its 4-byte framing header, never copied), or a whole
/// frame the caller built in its own buffer (sent as is).
#[derive(Debug)]
enum Frame {
    Whole(Vec<u8>),
    Data { head: [u8; 4], packet: Bytes },
    Framed(Bytes),
}

impl Frame {
    fn len(&self) -> usize {
        match self {
            Frame::Whole(v) => v.len(),
            Frame::Data { head, packet } => head.len() + packet.len(),
            Frame::Framed(b) => b.len(),
        }
    }
}

/// The push client state machine (one session).
#[derive(Debug)]
pub struct PushClient {
    config: PushClientConfig,
    state: State,
    next_conn: ConnectionId,
    conn: Option<ConnectionId>,
    push_id: String,
    header: Vec<u8>,
    header_set: bool,
    sent_header: bool,
    credentials: Option<(String, String)>,
    auth: Option<ClientAuth>,
    proxy_auth: bool,
    redirects: u32,
    remaining: u64,
    recv: Vec<u8>,
    pending: VecDeque<Frame>,
    transmit: VecDeque<(ConnectionId, Bytes)>,
    events: VecDeque<ClientEvent>,
}

impl PushClient {
    /// A client that has not connected yet.
    pub fn new(config: PushClientConfig) -> PushClient {
        PushClient {
            config,
            state: State::Idle,
            next_conn: 0,
            conn: None,
            push_id: "0".to_string(),
            header: Vec::new(),
            header_set: false,
            sent_header: false,
            credentials: None,
            auth: None,
            proxy_auth: false,
            redirects: 0,
            remaining: 0,
            recv: Vec::new(),
            pending: VecDeque::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The current push-id (`"0"` before the server issued one).
    pub fn push_id(&self) -> &str {
        &self.push_id
    }

    /// The current connection, if any.
    pub fn connection(&self) -> Option<ConnectionId> {
        self.conn
    }

    /// Bytes left in the current PushStart's Content-Length.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether PushStarts use a bounded budget (proxy configured or `Via` seen).
    pub fn uses_proxy_budget(&self) -> bool {
        self.config.proxy
    }

    /// Starts a session: opens a connection and sends the PushSetup. `header` is the `$H`
    /// payload (ASF Header Object + first 50 bytes of the Data Object, at most 65,531 bytes).
    pub fn connect(&mut self, header: &[u8]) -> Result<(), Error> {
        if self.state != State::Idle {
            return Err(Error::Misuse("connect called twice"));
        }
        self.keep_header(header)?;
        self.send_setup(true, None);
        Ok(())
    }

    /// Keeps `header` as the session's `$H` payload (at most 65,531 bytes: push cannot
    /// fragment a header, MS-WMHTTP 2.2.3.1).
    fn keep_header(&mut self, header: &[u8]) -> Result<(), Error> {
        if header.len() > framing::MAX_PAYLOAD {
            return Err(Error::TooLarge {
                what: "ASF file header for $H",
                len: header.len(),
                limit: framing::MAX_PAYLOAD,
            });
        }
        self.header = header.to_vec();
        self.header_set = true;
        Ok(())
    }

    /// Starts a session before the header is known (what `IWMWriterPushSink::Connect` does:
    /// the application connects, then `BeginWriting` delivers the header): sends the
    /// PushSetup now, so a refusal, a redirect or an authentication challenge is known early,
    /// and the PushStart with `$H` follows [`set_header`](Self::set_header). Between the two
    /// the server's Inactivity-Timeout runs (MS-WMHTTP 3.2.2, 120 s by default).
    pub fn connect_setup(&mut self) -> Result<(), Error> {
        if self.state != State::Idle {
            return Err(Error::Misuse("connect called twice"));
        }
        self.header_set = false;
        self.send_setup(true, None);
        Ok(())
    }

    /// Gives the header of a session begun with [`connect_setup`](Self::connect_setup); once
    /// the PushSetup is accepted the PushStart goes out with `$H` = `header`. A later new
    /// header is a stream change ([`change_stream`](Self::change_stream)).
    pub fn set_header(&mut self, header: &[u8], rng: &mut dyn Rng) -> Result<(), Error> {
        if self.header_set {
            return Err(Error::Misuse(
                "the session already has its header; a new one is change_stream",
            ));
        }
        if matches!(self.state, State::Idle | State::Done | State::Failed) {
            return Err(Error::Misuse("no push session is being set up"));
        }
        self.keep_header(header)?;
        if self.state == State::Ready {
            self.start_push(rng);
        }
        Ok(())
    }

    /// Whether the session's header is known (given to `connect` or `set_header`).
    pub fn has_header(&self) -> bool {
        self.header_set
    }

    /// Answers [`ClientEvent::AuthenticationNeeded`]: retries the PushSetup on a new connection.
    pub fn set_credentials(
        &mut self,
        user: &str,
        password: &str,
        rng: &mut dyn Rng,
    ) -> Result<(), Error> {
        if self.state != State::AwaitCredentials {
            return Err(Error::Misuse("no authentication challenge is pending"));
        }
        self.credentials = Some((user.to_string(), password.to_string()));
        let authz = self.authorization(rng);
        // MS-WMHTTP 3.1.5.2: after a 401 to PushSetup the client retries on a new connection.
        self.send_setup(true, authz);
        Ok(())
    }

    fn authorization(&mut self, rng: &mut dyn Rng) -> Option<String> {
        let (user, password) = self.credentials.clone()?;
        let path = self.config.path.clone();
        self.auth
            .as_mut()
            .map(|a| a.authorization(&user, &password, "POST", &path, rng))
    }

    fn open(&mut self) -> ConnectionId {
        if let Some(old) = self.conn.take() {
            self.events
                .push_back(ClientEvent::CloseConnection { id: old });
        }
        let id = self.next_conn;
        self.next_conn += 1;
        self.conn = Some(id);
        self.recv.clear();
        self.events.push_back(ClientEvent::OpenConnection {
            id,
            authority: self.config.authority.clone(),
        });
        id
    }

    fn base_headers(&self, content_type: &str, content_length: u64) -> Headers {
        // Order and casing of MS-WMHTTP 4.8's requests.
        let mut h = Headers::default();
        h.push("Content-Type", content_type);
        if let Some(a) = &self.config.accept_authentication {
            h.push("X-Accept-Authentication", a.clone());
        }
        h.push("User-Agent", self.config.user_agent.clone());
        h.push("Host", self.config.authority.clone());
        h.push("Content-Length", content_length.to_string());
        h.push("Cache-Control", "no-cache");
        h.push("Cookie", format!("push-id={}", self.push_id));
        h
    }

    /// The PushSetup request bytes (head + directive body) for the current state.
    pub fn setup_request(&self, authorization: Option<&str>) -> Vec<u8> {
        // MS-WMHTTP 2.2.2: CRLF-terminated directive lines.
        let mut body = String::new();
        if let Some(t) = &self.config.template_url {
            body.push_str(&format!("Template-URL: \"{t}\"\r\n"));
        }
        if let Some(a) = self.config.auto_destroy {
            body.push_str(&format!("AutoDestroy: {}\r\n", u8::from(a)));
        }
        let mut h = self.base_headers("application/x-wms-pushsetup", body.len() as u64);
        if let Some(a) = authorization {
            h.push(
                if self.proxy_auth {
                    "Proxy-Authorization"
                } else {
                    "Authorization"
                },
                a,
            );
        }
        let mut out = Vec::new();
        http::write_request("POST", &self.config.path, 1, &h, &mut out);
        out.extend_from_slice(body.as_bytes());
        out
    }

    fn send_setup(&mut self, new_connection: bool, authorization: Option<String>) {
        let id = match (new_connection, self.conn) {
            (false, Some(id)) => id,
            _ => self.open(),
        };
        let bytes = self.setup_request(authorization.as_deref());
        self.transmit.push_back((id, bytes.into()));
        self.state = State::AwaitSetup;
    }

    fn start_push(&mut self, rng: &mut dyn Rng) {
        let Some(id) = self.conn else { return };
        if !self.header_set {
            // Nothing to push before the header: wait for set_header.
            self.state = State::Ready;
            return;
        }
        let length = if self.config.proxy {
            self.config.proxy_budget
        } else {
            UNBOUNDED_CONTENT_LENGTH
        };
        let mut h = self.base_headers("application/x-wms-pushstart", length);
        // Real encoders send the PushStart after an authenticated PushSetup without credentials;
        // servers allow that once. Digest answers stay valid, so send them when we have them.
        if let Some(a) = self.authorization(rng) {
            h.push(
                if self.proxy_auth {
                    "Proxy-Authorization"
                } else {
                    "Authorization"
                },
                a,
            );
        }
        let mut out = Vec::new();
        http::write_request("POST", &self.config.path, 1, &h, &mut out);
        self.transmit.push_back((id, out.into()));
        self.remaining = length;
        self.state = State::Streaming;
        // MS-WMHTTP 3.1.5.4: the first PushStart of a session starts with $H.
        if !self.sent_header {
            let mut frame = Vec::new();
            // Length was checked in connect().
            if framing::encode_header(&self.header, &mut frame).is_ok() {
                self.sent_header = true;
                self.pending.push_front(Frame::Whole(frame));
            }
        }
        self.flush_pending();
    }

    fn flush_pending(&mut self) {
        while self.state == State::Streaming {
            let Some(frame) = self.pending.pop_front() else {
                break;
            };
            if !self.fits(frame.len() as u64) {
                self.pending.push_front(frame);
                self.fill_rest();
                break;
            }
            self.remaining -= frame.len() as u64;
            if let Some(id) = self.conn {
                match frame {
                    Frame::Whole(v) => self.transmit.push_back((id, v.into())),
                    Frame::Data { head, packet } => {
                        self.transmit.push_back((id, Bytes::copy_from_slice(&head)));
                        self.transmit.push_back((id, packet));
                    }
                    Frame::Framed(frame) => self.transmit.push_back((id, frame)),
                }
            }
            if self.remaining == 0 {
                // The body is complete: the server answers 204 and a new PushStart follows.
                self.state = State::AwaitStartResponse;
            }
        }
    }

    fn fits(&self, len: u64) -> bool {
        // A frame fits if what remains afterwards is 0 or can still hold a $F header.
        len <= self.remaining && (self.remaining - len == 0 || self.remaining - len >= 4)
    }

    fn fill_rest(&mut self) {
        // MS-WMHTTP 3.1.5.4: fill exactly the rest with $F, then wait for the response.
        let mut fill = Vec::new();
        let rest = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        if framing::encode_fill(rest, &mut fill).is_ok() {
            if let Some(id) = self.conn {
                self.transmit.push_back((id, fill.into()));
            }
            self.remaining = 0;
            self.state = State::AwaitStartResponse;
        } else {
            self.state = State::Failed;
        }
    }

    fn queue(&mut self, frame: Frame) -> Result<(), Error> {
        match self.state {
            State::Streaming
            | State::AwaitStartResponse
            | State::Dropped
            | State::AwaitSetup
            | State::Ready => {
                self.pending.push_back(frame);
                self.flush_pending();
                Ok(())
            }
            _ => Err(Error::Misuse("no push session is established")),
        }
    }

    /// Sends one data packet as `$D` (strip its padding first with [`framing::strip_padding`]).
    /// The packet is copied once; [`send_packet_bytes`](Self::send_packet_bytes) does not copy.
    pub fn send_packet(&mut self, packet: &[u8]) -> Result<(), Error> {
        self.send_packet_bytes(Bytes::copy_from_slice(packet))
    }

    /// Sends one data packet as `$D` without copying it:
    /// [`poll_transmit_bytes`](Self::poll_transmit_bytes) hands out the 4-byte framing header
    /// and then `packet` itself, for a vectored write.
    pub fn send_packet_bytes(&mut self, packet: Bytes) -> Result<(), Error> {
        let mut head = [0u8; framing::FRAME_HEADER_LEN];
        framing::check_payload_len(framing::PushFrameKind::Data, packet.len())?;
        head[0] = b'$';
        head[1] = framing::PushFrameKind::Data.id();
        head[2..].copy_from_slice(&(packet.len() as u16).to_le_bytes());
        self.queue(Frame::Data { head, packet })
    }

    /// Sends a whole `$D` frame the caller built in its own buffer (the 4-byte framing header,
    /// see [`framing::encode_data`], then the packet; typically written into the headroom the
    /// packet buffer was allocated with): [`poll_transmit_bytes`](Self::poll_transmit_bytes)
    /// hands out `frame` itself, one piece per packet, with no allocation or copy. The framing
    /// header is checked: `$D`, and a length that matches the rest of `frame`.
    pub fn send_data_frame(&mut self, frame: Bytes) -> Result<(), Error> {
        let malformed = Error::Malformed {
            what: "$D frame given to send_data_frame (framing header and packet length)",
            offset: 0,
        };
        let Some(head) = frame.get(..framing::FRAME_HEADER_LEN) else {
            return Err(malformed);
        };
        let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
        if head[0] != b'$'
            || head[1] != framing::PushFrameKind::Data.id()
            || len != frame.len() - framing::FRAME_HEADER_LEN
        {
            return Err(malformed);
        }
        framing::check_payload_len(framing::PushFrameKind::Data, len)?;
        self.queue(Frame::Framed(frame))
    }

    /// A new ASF header mid-session: `$E(1)` then `$C` with the header.
    pub fn change_stream(&mut self, header: &[u8]) -> Result<(), Error> {
        let mut end = Vec::new();
        framing::encode_end(framing::REASON_ENTRY_CHANGE, &mut end);
        let mut change = Vec::new();
        framing::encode_change(header, &mut change)?;
        self.queue(Frame::Whole(end))?;
        self.queue(Frame::Whole(change))
    }

    /// Ends the session: `$E(0)`, then the connection is closed ([`ClientEvent::Finished`]).
    pub fn end_session(&mut self) -> Result<(), Error> {
        let mut end = Vec::new();
        framing::encode_end(framing::REASON_END_OF_SESSION, &mut end);
        self.queue(Frame::Whole(end))?;
        if self.state == State::Streaming && self.pending.is_empty() {
            self.finish();
        }
        Ok(())
    }

    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(id) = self.conn.take() {
            self.events.push_back(ClientEvent::CloseConnection { id });
        }
        self.events.push_back(ClientEvent::Finished);
    }

    /// Disconnect without `$E` (IWMWriterPushSink::Disconnect): the server keeps the session.
    pub fn disconnect(&mut self) {
        if let Some(id) = self.conn.take() {
            self.events.push_back(ClientEvent::CloseConnection { id });
        }
        if self.state != State::Done {
            self.state = State::Dropped;
        }
    }

    /// After a dropped connection: a new connection and a PushStart with the same push-id and
    /// no new `$H` (MS-WMHTTP 3.2.5.3 resume).
    pub fn resume(&mut self, rng: &mut dyn Rng) -> Result<(), Error> {
        if self.state != State::Dropped || self.push_id == "0" {
            return Err(Error::Misuse(
                "resume needs a dropped session with a push-id",
            ));
        }
        self.open();
        self.start_push(rng);
        Ok(())
    }

    /// After a dropped connection: a new connection and a PushSetup carrying the session's
    /// push-id (MS-WMHTTP 3.2.5.2: a PushSetup with a known push-id loads that state), then,
    /// once it is accepted ([`ClientEvent::SetupAccepted`]), the PushStart without a new `$H`.
    /// Unlike [`resume`](Self::resume), the server says explicitly whether it still knows the
    /// session: a server that forgot it answers with an error ([`ClientEvent::Rejected`]),
    /// and the application then starts a new session.
    pub fn resume_with_setup(&mut self, rng: &mut dyn Rng) -> Result<(), Error> {
        if self.state != State::Dropped || self.push_id == "0" {
            return Err(Error::Misuse(
                "resume needs a dropped session with a push-id",
            ));
        }
        let authz = self.authorization(rng);
        self.send_setup(true, authz);
        Ok(())
    }

    /// The connection was closed by the peer or the network.
    pub fn handle_connection_closed(&mut self, conn: ConnectionId) {
        if self.conn == Some(conn) {
            self.conn = None;
            if matches!(
                self.state,
                State::Streaming | State::AwaitStartResponse | State::Ready
            ) {
                self.state = State::Dropped;
            }
        }
    }

    /// Bytes received on `conn`. `rng` draws Digest cnonces for automatic re-sends.
    pub fn handle_input(
        &mut self,
        conn: ConnectionId,
        data: &[u8],
        rng: &mut dyn Rng,
    ) -> Result<(), Error> {
        if self.conn != Some(conn) {
            return Ok(());
        }
        self.recv.extend_from_slice(data);
        while let Some((head, n)) = http::parse_response(&self.recv, self.config.max_head)? {
            let body = head.headers.content_length()?.unwrap_or(0);
            let total = n as u64 + body;
            if (self.recv.len() as u64) < total {
                break;
            }
            self.recv.drain(..total as usize);
            self.handle_response(head, rng)?;
        }
        Ok(())
    }

    fn handle_response(
        &mut self,
        head: http::ResponseHead,
        rng: &mut dyn Rng,
    ) -> Result<(), Error> {
        if let Some(id) = head
            .headers
            .get_all("Set-Cookie")
            .filter_map(|c| c.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("push-id"))
            .map(|(_, v)| v.trim().to_string())
            && !id.is_empty()
            && id != "0"
        {
            self.push_id = id;
        }
        if head.headers.get("Via").is_some() {
            // MS-WMHTTP 3.1.5.4: a Via header reveals a proxy: budget the PushStarts.
            self.config.proxy = true;
        }
        match (self.state, head.status) {
            (State::AwaitSetup, 200 | 204) => {
                // MS-WMHTTP 3.1.5.2: a Server other than Cougar/Rex is an ordinary web server.
                let server = head.headers.get("Server").unwrap_or_default();
                if !(server.starts_with("Cougar") || server.starts_with("Rex")) {
                    self.state = State::Failed;
                    self.events.push_back(ClientEvent::Rejected {
                        status: head.status,
                        reason: "Server header is not Cougar or Rex".to_string(),
                    });
                    return Ok(());
                }
                self.events.push_back(ClientEvent::SetupAccepted {
                    push_id: self.push_id.clone(),
                });
                if self.header_set {
                    self.start_push(rng);
                } else {
                    self.state = State::Ready;
                }
            }
            (State::AwaitSetup, 300..=305 | 307 | 308) => {
                self.redirects += 1;
                let location = head.headers.get("Location").map(str::to_string);
                match location {
                    Some(loc) if self.redirects <= self.config.max_redirects => {
                        self.apply_location(&loc);
                        self.events
                            .push_back(ClientEvent::Redirected { location: loc });
                        // A new session at the new URL: it needs the header again.
                        self.push_id = "0".to_string();
                        self.sent_header = false;
                        self.send_setup(true, None);
                    }
                    _ => {
                        self.state = State::Failed;
                        self.events.push_back(ClientEvent::Rejected {
                            status: head.status,
                            reason: "redirect without Location or too many redirects".to_string(),
                        });
                    }
                }
            }
            (State::AwaitSetup, 401 | 407) => {
                let name = if head.status == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                self.proxy_auth = head.status == 407;
                let challenge = head
                    .headers
                    .get_all(name)
                    .filter_map(|v| auth::parse_challenge(v).ok())
                    .max_by_key(|c| u8::from(c.scheme() == "Digest"));
                match challenge {
                    Some(c) => {
                        // A second 401 after credentials (wrong password or new nonce) asks the
                        // application again, so a wrong password cannot loop.
                        let (scheme, realm) = (c.scheme(), c.realm().to_string());
                        self.auth = Some(ClientAuth::new(c));
                        self.state = State::AwaitCredentials;
                        self.events
                            .push_back(ClientEvent::AuthenticationNeeded { scheme, realm });
                    }
                    None => {
                        self.state = State::Failed;
                        self.events.push_back(ClientEvent::Rejected {
                            status: head.status,
                            reason: head.reason,
                        });
                    }
                }
            }
            (State::AwaitStartResponse, 200 | 204) => {
                self.events.push_back(ClientEvent::PushStartRenewed);
                self.start_push(rng);
            }
            (State::Streaming, 200 | 204) => {}
            (_, status) => {
                self.state = State::Failed;
                if let Some(id) = self.conn.take() {
                    self.events.push_back(ClientEvent::CloseConnection { id });
                }
                self.events.push_back(ClientEvent::Rejected {
                    status,
                    reason: head.reason,
                });
            }
        }
        Ok(())
    }

    fn apply_location(&mut self, location: &str) {
        let rest = location
            .strip_prefix("http://")
            .or_else(|| location.strip_prefix("HTTP://"));
        match rest {
            Some(r) => {
                let (auth, path) = r.split_at(r.find('/').unwrap_or(r.len()));
                self.config.authority = auth.to_string();
                self.config.path = if path.is_empty() {
                    "/".to_string()
                } else {
                    path.to_string()
                };
            }
            None => self.config.path = location.to_string(),
        }
    }

    /// Next bytes to send and the connection they go on.
    ///
    /// A packet given to [`send_packet_bytes`](Self::send_packet_bytes) comes out as its own
    /// transmit; this copies it into a `Vec` only when other `Bytes` handles share it
    /// ([`poll_transmit_bytes`](Self::poll_transmit_bytes) never copies).
    pub fn poll_transmit(&mut self) -> Option<(ConnectionId, Vec<u8>)> {
        self.transmit.pop_front().map(|(id, b)| (id, Vec::from(b)))
    }

    /// Next bytes to send and the connection they go on, without a copy.
    pub fn poll_transmit_bytes(&mut self) -> Option<(ConnectionId, Bytes)> {
        self.transmit.pop_front()
    }

    /// Next event for the driver.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }
}
