//! MS-WMSP (MMSH) pull client, NSPlayer side, non-pipelined mode: Describe
//! on one TCP connection, then Play on a second one, as ffmpeg and VLC do.
//!
//! Used by `wmpush pull`, relays and load tests. Sans-IO: the application
//! opens sockets when asked and feeds bytes in.
//!
//! # Call order
//!
//! 1. [`PullClient::new`], then drain [`PullClient::poll_event`]: the first
//!    event is [`PullClientEvent::Connect`]. Close any previous socket, open
//!    a TCP connection to that authority, then call
//!    [`PullClient::handle_connected`].
//! 2. Write every buffer from [`PullClient::poll_transmit`] to the socket.
//! 3. Feed received bytes to [`PullClient::handle_input`] and EOF to
//!    [`PullClient::handle_eof`]; call [`PullClient::handle_timeout`] when
//!    [`PullClient::poll_timeout`] passes.
//! 4. Drain [`PullClient::poll_event`] after every input: header, packets,
//!    header changes, end, or a new `Connect` (Play after Describe, redirects).
//!
//! Bytes fed between a `Connect` event and `handle_connected` are dropped
//! (they belong to the old connection).

//! # Example
//!
//! ```
//! use std::time::Instant;
//! use push_protocol::pull_client::{PullClient, PullClientConfig, PullClientEvent};
//!
//! let now = Instant::now();
//! let mut client = PullClient::new(PullClientConfig::default(), "127.0.0.1:8080", "/live", now);
//! assert_eq!(
//!     client.poll_event(),
//!     Some(PullClientEvent::Connect { authority: "127.0.0.1:8080".into() })
//! );
//! client.handle_connected(now); // the socket is open
//! let request = client.poll_transmit().expect("the Describe request");
//! assert!(request.starts_with(b"GET /live HTTP/1.0\r\nAccept: */*\r\nUser-Agent: NSPlayer/"));
//! client.handle_input(b"HTTP/1.0 404 Not Found\r\n\r\n", now);
//! assert!(matches!(client.poll_event(), Some(PullClientEvent::Failed(_))));
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::pragma::{StreamSwitchEntry, stream_switch_line};
use crate::pull_server::PullError;
use crate::pull_server::wire::{self, PullFrame, PullFrameDecoder};

/// User-Agent of VLC's MMSH access (a real player string).
pub const DEFAULT_USER_AGENT: &str = "NSPlayer/7.10.0.3059";

/// Settings of a pull client.
#[derive(Debug, Clone)]
pub struct PullClientConfig {
    /// `User-Agent`; must start with `NSPlayer/` for real servers to stream.
    pub user_agent: String,
    /// `xClientGUID` value in registry form with braces; the caller draws it
    /// from its RNG (MS-WMSP 2.2.1.4.33: same for all requests of a session).
    pub client_guid: String,
    /// Redirects followed before failing.
    pub max_redirects: u32,
    /// Largest response head accepted, in bytes.
    pub max_head_size: usize,
    /// Largest reassembled ASF header, in bytes.
    pub max_header_size: usize,
    /// Fail when no byte arrives for this long.
    pub idle_timeout: Duration,
    /// Use HTTP/1.0 (VLC) rather than HTTP/1.1 (ffmpeg).
    pub http10: bool,
    /// Stop after the Describe (for probes and `inspect`): no Play request;
    /// `Described` is followed by `Ended { reason: 0 }`.
    pub describe_only: bool,
    /// Streams to request in Play; `None` requests every stream of the
    /// header (what ffmpeg does). Numbers not in the header are ignored.
    pub streams: Option<Vec<u16>>,
    /// `Authorization` header value sent on every request (e.g. `Basic ...`
    /// computed by the caller). On a 401 the session fails with
    /// `HttpStatus { status: 401 }` and [`PullClient::challenges`] holds the
    /// server's `WWW-Authenticate` values, so the caller can compute
    /// credentials (Digest) and start a new client.
    pub authorization: Option<String>,
    /// Hand each `$D` packet over as a [`PullClientEvent::Packet`] (the
    /// default). When `false`, packets after the Play header are only counted
    /// ([`PullClient::packets_received`]) and their payloads skipped without a
    /// copy: what a load generator or a liveness probe needs.
    pub deliver_packets: bool,
}

impl Default for PullClientConfig {
    fn default() -> Self {
        PullClientConfig {
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            client_guid: "{3300AD50-2C39-46c0-AE0A-70B2B2CBA2EB}".to_owned(),
            max_redirects: 5,
            max_head_size: 16 * 1024,
            max_header_size: 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
            http10: true,
            describe_only: false,
            streams: None,
            authorization: None,
            deliver_packets: true,
        }
    }
}

/// What the application must do or may look at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullClientEvent {
    /// Close the current socket (if any), connect to `authority`
    /// (`host[:port]`), then call [`PullClient::handle_connected`].
    Connect {
        /// `host[:port]` to connect to (also sent as `Host`).
        authority: String,
    },
    /// The server redirected us (the next event is a `Connect`).
    Redirected {
        /// The `Location` value.
        location: String,
    },
    /// The Describe response was complete.
    Described {
        /// The ASF header (Header Object + 50-byte Data Object start).
        header: Bytes,
        /// Stream numbers found in the header (these are selected in Play).
        streams: Vec<u16>,
        /// The server's `client-id`, if it sent one.
        client_id: Option<u32>,
    },
    /// The Play response's `$H` was complete; packets follow.
    Playing {
        /// The ASF header sent with the Play response.
        header: Bytes,
    },
    /// One ASF data packet (`$D` payload, padding possibly stripped).
    Packet {
        /// The `$D` LocationId (packet number in the virtual file).
        location_id: u32,
        /// The ASF packet.
        data: Bytes,
    },
    /// `$E(1)`, `$C`, `$H`: a new ASF header; packets of the new entry follow.
    HeaderChanged {
        /// The new ASF header.
        header: Bytes,
        /// Stream numbers in it.
        streams: Vec<u16>,
    },
    /// The stream ended (`$E` with this Reason, or EOF as 0 after the header).
    Ended {
        /// The `$E` Reason (0 = done; other HRESULTs are errors).
        reason: u32,
    },
    /// The session failed; nothing more will happen.
    Failed(PullError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Describe,
    Play,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// Waiting for `handle_connected`.
    Connecting,
    /// Reading the response head.
    Head,
    /// Reading the body.
    Body,
    /// Finished or failed.
    Done,
}

/// The pull client. See the module docs for the call order.
#[derive(Debug)]
pub struct PullClient {
    config: PullClientConfig,
    authority: String,
    path: String,
    phase: Phase,
    conn: Conn,
    redirects: u32,
    head: Vec<u8>,
    body_left: Option<u64>,
    decoder: PullFrameDecoder,
    header_buf: BytesMut,
    header_pending: bool,
    after_change: bool,
    expect_change: bool,
    header: Option<Bytes>,
    streams: Vec<u16>,
    client_id: Option<u32>,
    request_context: u32,
    events: VecDeque<PullClientEvent>,
    out: VecDeque<Bytes>,
    deadline: Option<Instant>,
    now: Instant,
    challenges: Vec<String>,
    /// `$D` packets and payload bytes of earlier connections' decoders, and of
    /// packets decoded (not skipped) on the current one.
    packets: u64,
    payload_bytes: u64,
}

impl PullClient {
    /// A client for `authority` (`host[:port]`) and `path` (starting with `/`).
    pub fn new(config: PullClientConfig, authority: &str, path: &str, now: Instant) -> PullClient {
        let mut c = PullClient {
            config,
            authority: authority.to_owned(),
            path: if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            },
            phase: Phase::Describe,
            conn: Conn::Connecting,
            redirects: 0,
            head: Vec::new(),
            body_left: None,
            decoder: PullFrameDecoder::new(),
            header_buf: BytesMut::new(),
            header_pending: false,
            after_change: false,
            expect_change: false,
            header: None,
            streams: Vec::new(),
            client_id: None,
            request_context: 0,
            events: VecDeque::new(),
            out: VecDeque::new(),
            deadline: None,
            now,
            challenges: Vec::new(),
            packets: 0,
            payload_bytes: 0,
        };
        c.events.push_back(PullClientEvent::Connect {
            authority: c.authority.clone(),
        });
        c
    }

    // ---- getters ----

    /// The current ASF header, once known.
    pub fn header(&self) -> Option<&Bytes> {
        self.header.as_ref()
    }

    /// Stream numbers of the current header.
    pub fn streams(&self) -> &[u16] {
        &self.streams
    }

    /// True once the session ended or failed.
    pub fn is_done(&self) -> bool {
        self.conn == Conn::Done
    }

    /// The server's client id, if any.
    pub fn client_id(&self) -> Option<u32> {
        self.client_id
    }

    /// `WWW-Authenticate` values of the last response (set on a 401).
    pub fn challenges(&self) -> &[String] {
        &self.challenges
    }

    /// `$D` packets received in Play so far (delivered or only counted).
    pub fn packets_received(&self) -> u64 {
        self.packets + self.decoder.discarded().0
    }

    /// Bytes of the `$D` packets' payloads received so far (after the
    /// 8-byte preheader).
    pub fn payload_bytes_received(&self) -> u64 {
        self.payload_bytes + self.decoder.discarded().1
    }

    // ---- input ----

    /// The socket asked for by the last `Connect` is open: the request is queued.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.conn != Conn::Connecting {
            return;
        }
        self.now = now;
        self.request_context += 1;
        let req = self.build_request();
        self.out.push_back(Bytes::from(req));
        self.conn = Conn::Head;
        self.head.clear();
        let (packets, bytes) = self.decoder.discarded();
        self.packets += packets;
        self.payload_bytes += bytes;
        self.decoder = PullFrameDecoder::new();
        self.body_left = None;
        self.touch(now);
    }

    /// Bytes read from the current socket.
    pub fn handle_input(&mut self, mut data: &[u8], now: Instant) {
        self.now = now;
        if matches!(self.conn, Conn::Connecting | Conn::Done) {
            return;
        }
        self.touch(now);
        if self.conn == Conn::Head {
            let room =
                self.config.max_head_size + 4 - self.head.len().min(self.config.max_head_size);
            let before = self.head.len();
            let take = data.len().min(room);
            self.head.extend_from_slice(&data[..take]);
            let from = before.saturating_sub(3);
            match crate::http::head_end(&self.head[from..]).map(|e| e + from) {
                Some(end) => {
                    let consumed = end - before;
                    data = &data[consumed..];
                    self.head.truncate(end);
                    if let Err(e) = self.parse_head() {
                        self.fail(e);
                        return;
                    }
                    if self.conn != Conn::Body {
                        return;
                    }
                }
                None => {
                    if self.head.len() > self.config.max_head_size {
                        self.fail(PullError::HeadTooLarge {
                            limit: self.config.max_head_size,
                        });
                    }
                    return;
                }
            }
        }
        if self.conn == Conn::Body {
            if let Some(left) = self.body_left {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                data = &data[..n];
                self.body_left = Some(left - n as u64);
            }
            self.decoder.push(data);
            self.drain_frames();
            if self.body_left == Some(0) && self.conn == Conn::Body {
                self.body_finished();
            }
        }
    }

    /// The current socket reached EOF.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        match self.conn {
            Conn::Head => self.fail(PullError::Protocol(
                "connection closed before the response head",
            )),
            Conn::Body => self.body_finished(),
            _ => {}
        }
    }

    /// When [`PullClient::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.conn {
            Conn::Head | Conn::Body => self.deadline,
            _ => None,
        }
    }

    /// Fails the session if nothing arrived for `idle_timeout`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(d) = self.poll_timeout()
            && now >= d
        {
            self.fail(PullError::Protocol(
                "no data from the server within the idle timeout",
            ));
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PullClientEvent> {
        self.events.pop_front()
    }

    /// The next buffer to write to the socket.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.pop_front()
    }

    // ---- internals ----

    fn touch(&mut self, now: Instant) {
        self.deadline = now.checked_add(self.config.idle_timeout);
    }

    fn fail(&mut self, e: PullError) {
        if self.conn != Conn::Done {
            self.conn = Conn::Done;
            self.events.push_back(PullClientEvent::Failed(e));
        }
    }

    fn build_request(&self) -> String {
        let mut s = String::with_capacity(512);
        let version = if self.config.http10 { "1.0" } else { "1.1" };
        let _ = write!(s, "GET {} HTTP/{version}\r\n", request_target(&self.path));
        s.push_str("Accept: */*\r\n");
        let _ = write!(s, "User-Agent: {}\r\n", self.config.user_agent);
        let _ = write!(s, "Host: {}\r\n", self.authority);
        if let Some(auth) = &self.config.authorization
            && !auth.bytes().any(|b| b == b'\r' || b == b'\n')
        {
            let _ = write!(s, "Authorization: {auth}\r\n");
        }
        match self.phase {
            Phase::Describe => {
                // Same Pragma lines as VLC's and ffmpeg's Describe (interop notes §4).
                let _ = write!(
                    s,
                    "Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context={},max-duration=0\r\n",
                    self.request_context
                );
                let _ = write!(s, "Pragma: xClientGUID={}\r\n", self.config.client_guid);
            }
            Phase::Play => {
                let _ = write!(
                    s,
                    "Pragma: no-cache,rate=1.000000,stream-time=0,stream-offset=4294967295:4294967295,request-context={},max-duration=0\r\n",
                    self.request_context
                );
                let _ = write!(s, "Pragma: xClientGUID={}\r\n", self.config.client_guid);
                s.push_str("Pragma: xPlayStrm=1\r\n");
                if let Some(id) = self.client_id {
                    let _ = write!(s, "Pragma: client-id={id}\r\n");
                }
                // MS-WMSP 2.2.1.4.26/27: one entry per stream, hex numbers,
                // on its own Pragma line.
                let wanted = self.config.streams.as_deref();
                let entries: Vec<StreamSwitchEntry> = self
                    .streams
                    .iter()
                    .filter(|n| wanted.is_none_or(|w| w.contains(n)))
                    .filter_map(|n| StreamSwitchEntry::parse(&format!("ffff:{n:x}:0")))
                    .collect();
                let _ = write!(s, "Pragma: stream-switch-count={}\r\n", entries.len());
                let _ = write!(s, "Pragma: {}\r\n", stream_switch_line(&entries));
            }
        }
        s.push_str("Connection: Close\r\n\r\n");
        s
    }

    fn parse_head(&mut self) -> Result<(), PullError> {
        let head = std::mem::take(&mut self.head);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(PullError::MalformedResponse("incomplete response head"));
            }
            Err(_) => {
                return Err(PullError::MalformedResponse(
                    "response head is not valid HTTP",
                ));
            }
        }
        let status = resp.code.unwrap_or(0);
        let mut location = None;
        let mut length = None;
        let mut client_id = None;
        let mut challenges = Vec::new();
        for h in resp.headers.iter() {
            let value = String::from_utf8_lossy(h.value);
            if h.name.eq_ignore_ascii_case("location") {
                location = Some(value.trim().to_owned());
            } else if h.name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<u64>().ok();
            } else if h.name.eq_ignore_ascii_case("www-authenticate") {
                if challenges.len() < 16 {
                    challenges.push(value.trim().to_owned());
                }
            } else if h.name.eq_ignore_ascii_case("pragma") {
                let p = crate::pragma::Pragmas::parse_all([value.as_ref()]);
                if let Some(id) = p.client_id() {
                    client_id = Some(id);
                }
            }
        }
        self.challenges = challenges;
        match status {
            200 => {
                if client_id.is_some() {
                    self.client_id = client_id;
                }
                self.conn = Conn::Body;
                self.body_left = length;
                self.header_buf.clear();
                self.header_pending = false;
                Ok(())
            }
            301 | 302 | 303 | 307 | 308 => {
                let Some(location) = location else {
                    return Err(PullError::Protocol("redirect without Location"));
                };
                self.redirects += 1;
                if self.redirects > self.config.max_redirects {
                    return Err(PullError::TooManyRedirects(self.config.max_redirects));
                }
                let (authority, path) = split_location(&location, &self.authority)
                    .ok_or(PullError::Protocol("unusable redirect Location"))?;
                self.authority = authority;
                self.path = path;
                self.phase = Phase::Describe;
                self.conn = Conn::Connecting;
                self.events
                    .push_back(PullClientEvent::Redirected { location });
                self.events.push_back(PullClientEvent::Connect {
                    authority: self.authority.clone(),
                });
                Ok(())
            }
            s => Err(PullError::HttpStatus { status: s }),
        }
    }

    fn drain_frames(&mut self) {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    if let Err(e) = self.on_frame(frame) {
                        self.fail(e);
                        return;
                    }
                    if self.conn != Conn::Body {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        }
    }

    fn on_frame(&mut self, frame: PullFrame) -> Result<(), PullError> {
        if frame.id != wire::ID_HEADER && self.header_pending {
            // A header whose last fragment was not flagged ends at the first
            // packet of another kind (what ffmpeg and VLC do).
            self.header_complete()?;
            if self.conn != Conn::Body {
                return Ok(());
            }
        }
        match frame.id {
            wire::ID_HEADER => {
                // MS-WMSP 2.2.3.1.2: AFFlags 0x04 = first fragment, 0x08 = last.
                if frame.af_flags & wire::AF_FIRST != 0 {
                    self.header_buf.clear();
                }
                if self.header_buf.len() + frame.payload.len() > self.config.max_header_size {
                    return Err(PullError::BadHeader {
                        offset: self.header_buf.len(),
                        what: "ASF header larger than the configured limit",
                    });
                }
                self.header_buf.extend_from_slice(&frame.payload);
                self.header_pending = true;
                if frame.af_flags & wire::AF_LAST != 0 {
                    self.header_complete()?;
                }
            }
            wire::ID_DATA => {
                if self.phase == Phase::Describe {
                    // Describe bodies end at the first non-$H packet (VLC).
                    self.body_finished();
                    return Ok(());
                }
                if self.header.is_none() {
                    return Err(PullError::Protocol("$D before any $H"));
                }
                self.packets += 1;
                self.payload_bytes += frame.payload.len() as u64;
                if self.config.deliver_packets {
                    self.events.push_back(PullClientEvent::Packet {
                        location_id: frame.location_id,
                        data: frame.payload,
                    });
                }
            }
            wire::ID_END => {
                let reason = frame.reason.unwrap_or(0);
                if reason == wire::REASON_ENTRY_DONE {
                    // MS-WMSP 2.2.3.4: S_FALSE, a $C follows.
                    self.expect_change = true;
                } else {
                    self.conn = Conn::Done;
                    self.events.push_back(PullClientEvent::Ended { reason });
                }
            }
            wire::ID_CHANGE => {
                // MS-WMSP 2.2.3.2: the new header follows as $H ($M first
                // from a Cougar server).
                self.after_change = true;
                self.expect_change = false;
                self.header_buf.clear();
            }
            // $M metadata, $P packet-pair, $T test: nothing to deliver.
            _ => {}
        }
        Ok(())
    }

    fn header_complete(&mut self) -> Result<(), PullError> {
        self.header_pending = false;
        let header = self.header_buf.split().freeze();
        let streams = stream_numbers(&header)?;
        match self.phase {
            Phase::Describe => {
                self.header = Some(header.clone());
                self.streams = streams.clone();
                self.events.push_back(PullClientEvent::Described {
                    header,
                    streams,
                    client_id: self.client_id,
                });
                if self.config.describe_only {
                    self.conn = Conn::Done;
                    self.events.push_back(PullClientEvent::Ended { reason: 0 });
                } else {
                    self.start_play();
                }
            }
            Phase::Play => {
                if self.after_change {
                    self.after_change = false;
                    self.header = Some(header.clone());
                    self.streams = streams.clone();
                    self.events
                        .push_back(PullClientEvent::HeaderChanged { header, streams });
                } else {
                    self.header = Some(header.clone());
                    self.streams = streams;
                    self.events.push_back(PullClientEvent::Playing { header });
                    if !self.config.deliver_packets {
                        // The header is known: later `$D` payloads are skipped uncopied.
                        self.decoder.discard_data();
                    }
                }
            }
        }
        Ok(())
    }

    fn start_play(&mut self) {
        self.phase = Phase::Play;
        self.conn = Conn::Connecting;
        self.events.push_back(PullClientEvent::Connect {
            authority: self.authority.clone(),
        });
    }

    fn body_finished(&mut self) {
        if self.header_pending
            && let Err(e) = self.header_complete()
        {
            self.fail(e);
            return;
        }
        match (self.phase, self.conn) {
            (_, Conn::Connecting | Conn::Done) => {}
            (Phase::Describe, _) => {
                self.fail(PullError::Protocol(
                    "Describe response carried no ASF header",
                ));
            }
            (Phase::Play, _) => {
                if self.header.is_none() {
                    self.fail(PullError::Protocol("Play response carried no ASF header"));
                } else {
                    self.conn = Conn::Done;
                    self.events.push_back(PullClientEvent::Ended { reason: 0 });
                }
            }
        }
    }
}

/// The path as a request target: spaces, controls and non-ASCII bytes are
/// percent-encoded so a path (or a redirect's) cannot break the request line.
fn request_target(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Splits a redirect `Location` into (authority, path). Absolute `http://`,
/// `mms://`, `mmsh://` URLs and absolute paths (same authority) are accepted.
fn split_location(location: &str, current: &str) -> Option<(String, String)> {
    if location.starts_with('/') {
        return Some((current.to_owned(), location.to_owned()));
    }
    // Compare bytes: the value may hold multi-byte characters (a fuzz
    // finding sliced one in half when this compared `&str` slices).
    let rest = ["http://", "mmsh://", "mms://"].iter().find_map(|p| {
        location
            .as_bytes()
            .get(..p.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(p.as_bytes()))
            .then(|| &location[p.len()..])
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['\r', '\n', ' ', '@']) {
        return None;
    }
    Some((authority.to_owned(), path.to_owned()))
}

/// Stream numbers of an ASF header (Header Object, optionally followed by the
/// Data Object start), in order of first appearance, parsed with asf-format
/// (ASF 3.3 Stream Properties, including ones in the Header Extension and
/// hidden in Extended Stream Properties; ASF 4.1 Extended Stream Properties
/// without a Stream Properties Object count too). A header with no stream
/// at all is an error.
pub fn stream_numbers(header: &[u8]) -> Result<Vec<u16>, PullError> {
    let (parsed, _) = asf_format::Header::parse_header(header, 0, &asf_format::Limits::default())?;
    let mut out: Vec<u16> = Vec::new();
    let mut push = |n: u16| {
        if n != 0 && !out.contains(&n) {
            out.push(n);
        }
    };
    for sp in parsed.stream_properties() {
        push(u16::from(sp.stream_number()));
    }
    for o in parsed.all_objects() {
        if let asf_format::HeaderObject::ExtendedStreamProperties(e) = o {
            push(e.stream_number & 0x7f);
        }
    }
    if out.is_empty() {
        // asf-format keeps objects it cannot walk as raw bytes; a header
        // without any stream cannot be played (ffmpeg's mms.c fails too).
        return Err(PullError::BadHeader {
            offset: 30,
            what: "no stream found in the ASF header",
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            split_location("http://a:1/x?y", "b"),
            Some(("a:1".into(), "/x?y".into()))
        );
        assert_eq!(split_location("/z", "b"), Some(("b".into(), "/z".into())));
        assert_eq!(
            split_location("mms://h", "b"),
            Some(("h".into(), "/".into()))
        );
        assert_eq!(split_location("ftp://h/", "b"), None);
        // Fuzz regression: multi-byte characters where a scheme would be.
        assert_eq!(split_location("yx\u{fffd}\u{fffd}", "b"), None);
        assert_eq!(split_location("\u{fffd}", "b"), None);
        assert_eq!(request_target("/a b\r\n\u{e9}"), "/a%20b%0D%0A%C3%A9");
    }
}
