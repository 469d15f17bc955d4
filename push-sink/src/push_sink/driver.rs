//! The push sink's network task: a tokio driver of push-protocol's sans-IO
//! [`PushClient`]. One task per `connect`; it owns the TCP connection the client asks for,
//! feeds it what the server sends, writes what the client transmits, answers its events,
//! and takes packets off the sink's bounded queue one at a time, only when the socket has
//! taken everything before (so the client's own buffers never hold more than one packet).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use push_protocol::push_client::{ClientEvent, ConnectionId, PushClient, PushClientConfig};
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::Instant;

use super::url::split_authority;
use super::{
    AuthScheme, Challenge, Credentials, Item, MAX_PUSH_START_LENGTH, PushError, PushSinkConfig,
    PushStatus, Session, Shared, lock,
};

/// How a network task ended.
#[derive(Debug)]
pub(super) enum TaskEnd {
    /// `end_session`: `$E(0)` written.
    Ended,
    /// `disconnect`: closed without `$E`; the client is parked for a resume.
    Disconnected,
    /// Stopped for good.
    Failed(PushError),
}

/// Why a connection stopped short.
enum Trouble {
    /// The connection broke or could not be made: reconnect, resuming when possible.
    Broken(PushError),
    /// The server no longer has the session (unknown push-id, taken, timed out): start a
    /// new one, with `$H`.
    SessionLost(PushError),
    /// No retry (refused, wrong credentials, not a media server).
    Fatal(PushError),
}

impl Trouble {
    fn error(&self) -> &PushError {
        match self {
            Trouble::Broken(e) | Trouble::SessionLost(e) | Trouble::Fatal(e) => e,
        }
    }
}

/// The random source for Digest client nonces.
fn rng() -> impl FnMut(&mut [u8]) {
    |buf: &mut [u8]| rand::rng().fill_bytes(buf)
}

/// The open connection and the bytes still to write on it.
struct Sock {
    id: ConnectionId,
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    out: VecDeque<bytes::Bytes>,
    /// Bytes of `out[0]` already written.
    off: usize,
    /// Last time a write made progress (or the connection opened).
    progress: Instant,
    /// Bytes put in `out` since the connection opened.
    queued: u64,
    /// Bytes written since the connection opened.
    written: u64,
}

impl Sock {
    fn pending(&self) -> u64 {
        self.queued - self.written
    }
}

/// What one wait on the socket and the queue produced.
enum Woke {
    Queue,
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Timeout(&'static str),
}

/// Most chunks handed to one vectored write (a packet is one chunk: 256 carry 800 KB of
/// 3,200-byte packets; the slices live on the stack of the write, no allocation).
const MAX_IOV: usize = 256;

/// The client is handed more packets while less than this is waiting to be written, so
/// writes carry many frames at once; it also bounds what sits outside the sink's queue.
pub(super) const FEED_AHEAD: u64 = 1024 * 1024;

/// Most items handed to the client before the task writes and looks at the socket again.
const MAX_BATCH: usize = 512;

/// Writes some of `out` (starting `off` bytes into its first chunk) in one vectored write.
async fn write_some(
    wr: &mut OwnedWriteHalf,
    out: &VecDeque<bytes::Bytes>,
    off: usize,
) -> std::io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); MAX_IOV];
    let mut n = 0;
    for (i, c) in out.iter().take(MAX_IOV).enumerate() {
        slices[i] = IoSlice::new(if i == 0 { &c[off..] } else { c });
        n += 1;
    }
    let slices = &slices[..n];
    wr.write_vectored(slices).await
}

/// The network task of one `connect`.
pub(super) struct Driver {
    config: PushSinkConfig,
    shared: Arc<Shared>,
    session: Arc<Mutex<Option<Session>>>,
    /// Answers the `connect` call once (accepted, resumed, reachable, or why not).
    first: Option<Sender<Result<(), PushError>>>,
    client: Option<PushClient>,
    /// The header the client's session carries (its `$H`, or its last `$C`).
    header: Option<bytes::Bytes>,
    /// `on_end_writing` came; the next header goes as `$E(1)` + `$C` even if unchanged.
    entry_ended: bool,
    sock: Option<Sock>,
    /// Transmits taken from the client, not yet moved to their connection.
    stash: VecDeque<(ConnectionId, bytes::Bytes)>,
    /// Packets handed to the client whose bytes are not all written yet, each with the
    /// connection's byte count at its end (`u64::MAX` until its bytes are in `out`).
    unsettled: VecDeque<(u64, Item)>,
    /// Credentials were given in the current PushSetup round (a second challenge fails).
    creds_given: bool,
    /// The credentials that worked, reused for a new session after a reconnect.
    cached_creds: Option<Credentials>,
    finished: bool,
    /// A write of the connection's last bytes failed while closing it.
    close_failed: Option<PushError>,
    /// The client resumes: its next SetupAccepted reports `Connected { resumed: true }`.
    resuming: bool,
    last_error: Option<PushError>,
    /// Since when the client waits for a response (PushSetup, or a used-up PushStart).
    waiting_since: Option<Instant>,
    /// The server accepted a session of this task once.
    had_session: bool,
    failures: u32,
    read_buf: Vec<u8>,
    /// Items taken from the sink's queue a batch at a time (one lock per batch), not handled
    /// yet; they go back to the front of the queue whenever the connection is dropped.
    taken: VecDeque<Item>,
}

/// Items taken from the sink's queue at once (one lock)...
const TAKE_BATCH: usize = 32;
/// ... and at most this many bytes of packets (what the task holds beyond [`FEED_AHEAD`]).
const TAKE_BYTES: usize = 64 * 1024;

impl Driver {
    pub(super) fn new(
        config: PushSinkConfig,
        shared: Arc<Shared>,
        session: Arc<Mutex<Option<Session>>>,
        first: Sender<Result<(), PushError>>,
    ) -> Driver {
        Driver {
            config,
            shared,
            session,
            first: Some(first),
            client: None,
            header: None,
            entry_ended: false,
            sock: None,
            stash: VecDeque::new(),
            unsettled: VecDeque::new(),
            creds_given: false,
            cached_creds: None,
            finished: false,
            close_failed: None,
            resuming: false,
            last_error: None,
            waiting_since: None,
            had_session: false,
            failures: 0,
            read_buf: vec![0; 16 * 1024],
            taken: VecDeque::new(),
        }
    }

    /// Runs the session: resumes `parked` (a client left by `disconnect`) or starts a new
    /// one, then streams until `end_session`, `disconnect` or a failure.
    pub(super) async fn run(mut self, parked: Option<PushClient>) -> TaskEnd {
        let mut attempt = 1u32;
        self.shared.report(PushStatus::Connecting { attempt });
        self.header = lock(&self.shared.header).clone();
        let started = if let Some(client) = parked {
            self.client = Some(client);
            self.had_session = true;
            self.resume()
        } else {
            // With or without a header: the PushSetup goes out now (IWMWriterPushSink::Connect
            // creates the session before BeginWriting delivers the header), so `connect`
            // reports a refusal, a redirect or wrong credentials itself.
            self.new_client()
        };
        let mut next = started.err();
        loop {
            let trouble = match next.take() {
                Some(t) => t,
                None => match self.step().await {
                    Ok(None) => continue,
                    Ok(Some(end)) => return self.end(end),
                    Err(t) => t,
                },
            };
            self.drop_connection();
            // `connect` resuming a session the server forgot: a new session at once (with
            // `$H`), still on behalf of that `connect`.
            if let (Trouble::SessionLost(e), true) = (&trouble, self.first.is_some()) {
                tracing::debug!(error = %e, "push sink: session forgotten, starting a new one");
                self.set_push_id(None);
                next = self.new_client().err();
                continue;
            }
            // The first connect reports its error to the caller, no retry.
            if let Some(tx) = self.first.take() {
                let e = trouble.error().clone();
                let _ = tx.send(Err(e.clone()));
                return TaskEnd::Failed(e);
            }
            let (lost, e) = match trouble {
                Trouble::Fatal(e) => return self.fail(e),
                Trouble::Broken(e) => (false, e),
                Trouble::SessionLost(e) => (true, e),
            };
            self.failures += 1;
            let policy = self.config.reconnect;
            if !policy.enabled || self.failures > policy.max_attempts {
                return self.fail(e);
            }
            attempt += 1;
            let delay = policy.delay(self.failures);
            self.shared.report(PushStatus::Reconnecting {
                attempt,
                delay,
                error: e.to_string(),
            });
            self.shared.counters().reconnects += 1;
            if self.backoff(delay).await {
                // `disconnect` during the backoff: stop now, keep the session resumable.
                self.park();
                return TaskEnd::Disconnected;
            }
            self.shared.report(PushStatus::Connecting { attempt });
            next = if lost {
                self.set_push_id(None);
                self.new_client()
            } else {
                self.resume()
            }
            .err();
        }
    }

    fn set_push_id(&self, id: Option<String>) {
        if let Some(s) = lock(&self.session).as_mut() {
            s.push_id = id;
        }
    }

    /// A new `PushClient` for a new session (push-id 0, `$H` first). Without a header the
    /// PushSetup goes out alone and the PushStart waits for the queue's next header.
    fn new_client(&mut self) -> Result<(), Trouble> {
        self.client = None;
        self.creds_given = false;
        self.entry_ended = false;
        self.resuming = false;
        // A refusal of this new session is not the loss of an earlier one.
        self.had_session = false;
        let header = self.header.clone();
        let config = {
            let guard = lock(&self.session);
            let Some(s) = guard.as_ref() else {
                return Err(Trouble::Fatal(PushError::Misuse("no session to connect")));
            };
            let mut c = PushClientConfig::new(&s.url.authority, &s.url.path);
            // What this client answers (MS-WMHTTP 2.2.1: X-Accept-Authentication).
            c.accept_authentication = Some("Digest, Basic".to_string());
            c.template_url = s.template.clone();
            c.auto_destroy = Some(s.auto_destroy);
            if self.config.push_start_length < MAX_PUSH_START_LENGTH {
                c.proxy = true;
                c.proxy_budget = u64::from(self.config.push_start_length);
            }
            c
        };
        let mut client = PushClient::new(config);
        match &header {
            Some(h) => client.connect(h),
            None => client.connect_setup(),
        }
        .map_err(|e| Trouble::Fatal(PushError::ConnectionFailure(e.to_string())))?;
        self.client = Some(client);
        Ok(())
    }

    /// Resumes the client's session on a new connection: a PushSetup with its push-id,
    /// which the server accepts (then the PushStart follows without `$H`) or refuses (the
    /// session is lost: a new one starts); a client that cannot resume (no accepted session)
    /// starts a new session.
    fn resume(&mut self) -> Result<(), Trouble> {
        self.creds_given = false;
        let resumed = match self.client.as_mut() {
            Some(c) => c.resume_with_setup(&mut rng()).is_ok(),
            None => false,
        };
        if resumed {
            self.resuming = true;
            Ok(())
        } else {
            self.new_client()
        }
    }

    /// One round: drain the client, hand it the next item if it can take one, else wait
    /// for the socket or the queue.
    async fn step(&mut self) -> Result<Option<TaskEnd>, Trouble> {
        self.pump().await?;
        if self.finished {
            if let Some(e) = self.close_failed.take() {
                return Err(Trouble::Fatal(e));
            }
            return Ok(Some(TaskEnd::Ended));
        }
        if let Some(c) = &self.client
            && self.sock.is_none()
            && c.connection().is_none()
        {
            let e = self.last_error.take().unwrap_or_else(|| {
                PushError::ConnectionFailure("the connection closed".to_string())
            });
            return Err(Trouble::Broken(e));
        }
        let mut fed = 0;
        while fed < MAX_BATCH && (self.client.is_none() || self.awaits_header() || self.ready()) {
            if self.taken.is_empty() {
                self.shared
                    .pop_up_to(TAKE_BATCH, TAKE_BYTES, &mut self.taken);
            }
            let Some(item) = self.taken.pop_front() else {
                break;
            };
            if let Some(end) = self.handle_item(item).await? {
                return Ok(Some(end));
            }
            self.pump().await?;
            self.mark_unsettled();
            fed += 1;
            if self.finished {
                break;
            }
        }
        if fed > 0 {
            return Ok(None);
        }
        self.wait().await
    }

    /// The session was set up without a header: the queue's next header starts it.
    fn awaits_header(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.has_header())
    }

    /// The client streams on the open connection and everything before is written.
    fn ready(&self) -> bool {
        match (&self.client, &self.sock) {
            (Some(c), Some(s)) => {
                c.connection() == Some(s.id)
                    && c.remaining() > 0
                    && s.pending() < FEED_AHEAD
                    && self.stash.is_empty()
            }
            _ => false,
        }
    }

    async fn handle_item(&mut self, item: Item) -> Result<Option<TaskEnd>, Trouble> {
        match item {
            Item::Header(h) => {
                *lock(&self.shared.header) = Some(h.clone());
                match self.client.as_mut() {
                    None => {
                        self.header = Some(h);
                        self.new_client()?;
                    }
                    Some(c) if !c.has_header() => {
                        // Set up by `connect` before the header: the PushStart goes out with it.
                        c.set_header(&h, &mut rng()).map_err(|e| {
                            Trouble::Fatal(PushError::ConnectionFailure(e.to_string()))
                        })?;
                        self.header = Some(h);
                    }
                    Some(c) => {
                        if self.header.as_ref() != Some(&h) || self.entry_ended {
                            // MS-WMHTTP 2.2.3.4/2.2.3.5: $E(1) then $C with the new header.
                            c.change_stream(&h).map_err(|e| {
                                Trouble::Fatal(PushError::ConnectionFailure(e.to_string()))
                            })?;
                            self.header = Some(h);
                            self.entry_ended = false;
                        }
                    }
                }
            }
            Item::Packet { ref frame, .. } => match self.client.as_mut() {
                // MS-WMHTTP 3.2.5.3: a session starts with $H; a packet before any header
                // cannot be sent.
                None => self.settle_dropped(item),
                Some(c) if !c.has_header() => self.settle_dropped(item),
                // Zero copy: the client hands the pooled buffer itself, the whole `$D` frame
                // (framing header in its headroom), to the socket write.
                Some(c) => match c.send_data_frame(frame.clone()) {
                    Ok(()) => self.unsettled.push_back((u64::MAX, item)),
                    Err(_) => self.settle_dropped(item),
                },
            },
            Item::EndEntry => self.entry_ended = true,
            Item::EndSession => match self.client.as_mut() {
                // No header ever came: nothing was streamed. A session set up without one is
                // left to the server's Inactivity-Timeout (MS-WMHTTP 3.2.2).
                None => return Ok(Some(TaskEnd::Ended)),
                Some(c) if !c.has_header() => {
                    c.disconnect();
                    self.pump().await?;
                    self.drop_connection();
                    return Ok(Some(TaskEnd::Ended));
                }
                Some(c) => c
                    .end_session()
                    .map_err(|e| Trouble::Fatal(PushError::ConnectionFailure(e.to_string())))?,
            },
            Item::Disconnect => {
                if let Some(c) = self.client.as_mut() {
                    c.disconnect();
                }
                self.pump().await?;
                self.drop_connection();
                self.park();
                return Ok(Some(TaskEnd::Disconnected));
            }
        }
        Ok(None)
    }

    fn settle_dropped(&self, item: Item) {
        if let Item::Packet { frame, .. } = item {
            self.shared.settle_dropped();
            self.shared.recycle(frame);
        }
    }

    /// Marks the packets just handed to the client with the byte count at their end, once
    /// their bytes are in `out`.
    fn mark_unsettled(&mut self) {
        let Some(sock) = &self.sock else { return };
        for (end, _) in self.unsettled.iter_mut().rev() {
            if *end != u64::MAX {
                break;
            }
            *end = sock.queued;
        }
    }

    /// Counts delivered the packets whose bytes are all written (`all`: every packet handed
    /// to the client, after a complete flush).
    fn settle_written(&mut self, all: bool) {
        let written = self.sock.as_ref().map_or(0, |s| s.written);
        let done = self
            .unsettled
            .iter()
            .take_while(|(end, _)| all || *end <= written)
            .count();
        if done == 0 {
            return;
        }
        // One lock for the counters and one for the pool, whatever the number of packets.
        let mut bytes = 0u64;
        let frames = self
            .unsettled
            .drain(..done)
            .filter_map(|(_, item)| match item {
                Item::Packet {
                    frame,
                    original_len,
                    ..
                } => {
                    bytes += original_len as u64;
                    Some(frame)
                }
                _ => None,
            });
        let frames: Vec<bytes::Bytes> = frames.collect();
        self.shared.settle_written(frames.len(), bytes);
        self.shared.recycle_all(frames.into_iter());
        // Packets flow again on this connection.
        self.failures = 0;
    }

    /// Drains the client: its transmits into the stash, its events acted on.
    async fn pump(&mut self) -> Result<(), Trouble> {
        while let Some(client) = self.client.as_mut() {
            while let Some(t) = client.poll_transmit_bytes() {
                self.stash.push_back(t);
            }
            let Some(event) = client.poll_event() else {
                break;
            };
            match event {
                ClientEvent::OpenConnection { id, authority } => {
                    // The client is done with the old connection (an answered challenge, a
                    // redirect): how its close went does not matter.
                    let _ = self.close_sock().await;
                    match self.open(&authority).await {
                        Ok(stream) => {
                            let (rd, wr) = stream.into_split();
                            self.sock = Some(Sock {
                                id,
                                rd,
                                wr,
                                out: VecDeque::new(),
                                off: 0,
                                progress: Instant::now(),
                                queued: 0,
                                written: 0,
                            });
                            self.waiting_since = None;
                        }
                        Err(e) => {
                            if let Some(c) = self.client.as_mut() {
                                c.handle_connection_closed(id);
                            }
                            self.last_error = Some(e);
                        }
                    }
                }
                ClientEvent::CloseConnection { id } => {
                    if self.sock.as_ref().is_some_and(|s| s.id == id) {
                        self.move_stash();
                        // The last bytes of a session ($E(0)) must reach the server.
                        self.close_failed = self.close_sock().await.err();
                    }
                }
                ClientEvent::SetupAccepted { push_id } => {
                    self.had_session = true;
                    self.creds_given = false;
                    self.failures = 0;
                    let resumed = std::mem::take(&mut self.resuming);
                    self.connected(push_id, resumed);
                }
                ClientEvent::Rejected { status, reason } => {
                    return Err(self.rejected(status, reason));
                }
                ClientEvent::AuthenticationNeeded { scheme, realm } => {
                    self.answer_challenge(scheme, realm)?;
                }
                ClientEvent::Redirected { location } => {
                    tracing::debug!(%location, "push sink redirected");
                }
                ClientEvent::PushStartRenewed => {
                    tracing::debug!("push sink renewed its PushStart");
                }
                ClientEvent::Finished => self.finished = true,
            }
        }
        self.move_stash();
        // Whatever is left belongs to connections that are gone.
        self.stash.clear();
        Ok(())
    }

    /// Moves the stashed transmits of the open connection onto it, in order.
    fn move_stash(&mut self) {
        let Some(sock) = self.sock.as_mut() else {
            return;
        };
        let mut rest = VecDeque::new();
        for (id, bytes) in self.stash.drain(..) {
            if id == sock.id {
                sock.queued += bytes.len() as u64;
                sock.out.push_back(bytes);
            } else {
                rest.push_back((id, bytes));
            }
        }
        self.stash = rest;
    }

    /// Writes what is left for the open connection (bounded by the write timeout), then
    /// closes it.
    async fn close_sock(&mut self) -> Result<(), PushError> {
        let Some(mut sock) = self.sock.take() else {
            return Ok(());
        };
        let limit = self.config.write_timeout;
        let write = async {
            while !sock.out.is_empty() {
                let n = write_some(&mut sock.wr, &sock.out, sock.off).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                advance(&mut sock.out, &mut sock.off, n);
            }
            sock.wr.shutdown().await
        };
        match tokio::time::timeout(limit, write).await {
            Ok(Ok(())) => {
                self.settle_written(true);
                Ok(())
            }
            Ok(Err(e)) => Err(PushError::ConnectionFailure(e.to_string())),
            Err(_) => Err(PushError::ConnectionFailure(
                "timed out writing the last bytes".to_string(),
            )),
        }
    }

    /// Forgets the connection after a failure: what was not written is sent again later.
    fn drop_connection(&mut self) {
        if let Some(sock) = self.sock.take()
            && let Some(c) = self.client.as_mut()
        {
            c.handle_connection_closed(sock.id);
        }
        self.stash.clear();
        self.waiting_since = None;
        let unsent = std::mem::take(&mut self.unsettled);
        let taken = std::mem::take(&mut self.taken);
        self.shared
            .unpop(unsent.into_iter().map(|(_, item)| item).chain(taken));
    }

    /// Keeps the client (and its push-id) for a `connect` that resumes the session.
    fn park(&mut self) {
        let client = self.client.take();
        if let Some(s) = lock(&self.session).as_mut() {
            s.parked = client;
        }
    }

    fn connected(&mut self, push_id: String, resumed: bool) {
        self.set_push_id(Some(push_id.clone()));
        self.shared
            .report(PushStatus::Connected { push_id, resumed });
        if let Some(tx) = self.first.take() {
            let _ = tx.send(Ok(()));
        }
    }

    fn rejected(&self, status: u16, reason: String) -> Trouble {
        let e = match status {
            // A 2xx refusal: the peer is not a Windows Media server (MS-WMHTTP 3.1.5.2).
            200..=299 => PushError::NotAMediaServer(reason),
            401 | 407 => PushError::AuthenticationFailed { status },
            _ => PushError::Refused { status },
        };
        // After a session existed, these mean the server no longer has it for us.
        if self.had_session && matches!(status, 401 | 404 | 407 | 408 | 409 | 410) {
            Trouble::SessionLost(e)
        } else {
            Trouble::Fatal(e)
        }
    }

    /// The `IWMCredentialCallback` role: asks the application once per PushSetup round.
    fn answer_challenge(&mut self, scheme: &'static str, realm: String) -> Result<(), Trouble> {
        let refused = || Trouble::Fatal(PushError::AuthenticationFailed { status: 401 });
        if self.creds_given {
            // A second challenge after an answer: the credentials are wrong.
            return Err(refused());
        }
        let creds = match self.cached_creds.clone() {
            Some(c) => Some(c),
            None => {
                let challenge = Challenge {
                    scheme: if scheme.eq_ignore_ascii_case("Basic") {
                        AuthScheme::Basic
                    } else {
                        AuthScheme::Digest
                    },
                    realm,
                };
                self.config
                    .credentials
                    .as_ref()
                    .and_then(|cb| cb(&challenge))
            }
        };
        let Some(creds) = creds else {
            return Err(refused());
        };
        let Some(client) = self.client.as_mut() else {
            return Err(refused());
        };
        client
            .set_credentials(&creds.user, &creds.password, &mut rng())
            .map_err(|_| refused())?;
        self.creds_given = true;
        self.cached_creds = Some(creds);
        Ok(())
    }

    /// Waits for the socket (bytes in, room to write) or the queue, bounded by the write
    /// and response timeouts.
    async fn wait(&mut self) -> Result<Option<TaskEnd>, Trouble> {
        let notified = self.shared.notify.notified();
        // Could take packets and found none: ask to be woken by the next one. Otherwise
        // (waiting for the socket or the server) packets do not wake the task, markers do.
        let wants_packets =
            self.client.is_none() || self.sock.is_none() || self.awaits_header() || self.ready();
        if wants_packets {
            self.shared.wants_packets.store(true, Ordering::SeqCst);
            // One may have come between the last look and the flag (its producer saw no
            // flag and did not wake us).
            if !self.taken.is_empty() || !self.shared.queue().items.is_empty() {
                self.shared.wants_packets.store(false, Ordering::SeqCst);
                return Ok(None);
            }
        }
        let Some(sock) = self.sock.as_mut() else {
            notified.await;
            return Ok(None);
        };
        let now = Instant::now();
        let awaiting = self.client.as_ref().is_some_and(|c| c.remaining() == 0);
        if awaiting {
            self.waiting_since.get_or_insert(now);
        } else {
            self.waiting_since = None;
        }
        let write_deadline =
            (!sock.out.is_empty()).then(|| (sock.progress + self.config.write_timeout, "write"));
        let response_deadline = self
            .waiting_since
            .map(|t| (t + self.config.connect_timeout, "response"));
        let deadline = match (write_deadline, response_deadline) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        };
        let Sock {
            rd, wr, out, off, ..
        } = sock;
        let buf = &mut self.read_buf;
        let woke = tokio::select! {
            _ = notified => Woke::Queue,
            r = rd.read(buf) => Woke::Read(r),
            r = write_some(wr, out, *off), if !out.is_empty() => Woke::Wrote(r),
            _ = tokio::time::sleep_until(deadline.map_or(now, |d| d.0)), if deadline.is_some() => {
                Woke::Timeout(deadline.map_or("", |d| d.1))
            }
        };
        match woke {
            Woke::Queue => {}
            Woke::Read(Ok(n)) if n > 0 => {
                let id = sock.id;
                if let Some(c) = self.client.as_mut() {
                    c.handle_input(id, &self.read_buf[..n], &mut rng())
                        .map_err(|e| Trouble::Fatal(PushError::NotAMediaServer(e.to_string())))?;
                }
            }
            Woke::Read(r) => {
                self.last_error = Some(PushError::ConnectionFailure(match r {
                    Err(e) => e.to_string(),
                    Ok(_) => "server closed the connection".to_string(),
                }));
                self.drop_connection();
            }
            Woke::Wrote(Ok(n)) if n > 0 => {
                advance(&mut sock.out, &mut sock.off, n);
                sock.written += n as u64;
                sock.progress = Instant::now();
                self.settle_written(false);
            }
            Woke::Wrote(r) => {
                // The server may have answered (an error status) before it closed: read
                // what already arrived so the refusal, not the broken pipe, is reported.
                let id = sock.id;
                let mut early = Vec::new();
                let mut chunk = [0u8; 4096];
                while early.len() < 64 * 1024 {
                    match sock.rd.try_read(&mut chunk) {
                        Ok(n) if n > 0 => early.extend_from_slice(&chunk[..n]),
                        _ => break,
                    }
                }
                if let Some(c) = self.client.as_mut()
                    && !early.is_empty()
                {
                    let _ = c.handle_input(id, &early, &mut rng());
                }
                self.last_error = Some(PushError::ConnectionFailure(match r {
                    Err(e) => e.to_string(),
                    Ok(_) => "the connection took no bytes".to_string(),
                }));
                self.drop_connection();
            }
            Woke::Timeout(what) => {
                return Err(Trouble::Broken(PushError::ConnectionFailure(format!(
                    "timed out waiting for the server ({what})"
                ))));
            }
        }
        Ok(None)
    }

    /// Resolves `authority` (`host[:port]`) and opens a TCP connection to it.
    async fn open(&self, authority: &str) -> Result<TcpStream, PushError> {
        let (host, port) = split_authority(authority).map_err(PushError::InvalidArgument)?;
        let limit = self.config.connect_timeout;
        let addrs: Vec<SocketAddr> =
            tokio::time::timeout(limit, tokio::net::lookup_host((host.as_str(), port)))
                .await
                .map_err(|_| PushError::InvalidHostName(format!("{host}: lookup timed out")))?
                .map_err(|e| PushError::InvalidHostName(format!("{host}: {e}")))?
                .collect();
        if addrs.is_empty() {
            return Err(PushError::InvalidHostName(host));
        }
        let mut last = String::new();
        for a in addrs {
            match tokio::time::timeout(limit, TcpStream::connect(a)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("{a}: {e}"),
                Err(_) => last = format!("{a}: connect timed out"),
            }
        }
        Err(PushError::ConnectionFailure(last))
    }

    /// Waits `delay` before the next attempt; true when `disconnect` came meanwhile.
    async fn backoff(&self, delay: std::time::Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            if self.shared.take_disconnect() {
                return true;
            }
            let notified = self.shared.notify.notified();
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return false,
                _ = notified => {}
            }
        }
    }

    fn fail(&mut self, e: PushError) -> TaskEnd {
        self.drop_connection();
        self.shared.report(PushStatus::Error(e.clone()));
        self.shared.set_failed(Some(e.clone()));
        TaskEnd::Failed(e)
    }

    fn end(&mut self, end: TaskEnd) -> TaskEnd {
        // What was taken and not handled stays queued (for the next `connect`).
        let taken = std::mem::take(&mut self.taken);
        self.shared.unpop(taken.into_iter());
        if matches!(end, TaskEnd::Ended) {
            self.settle_written(true);
            self.set_push_id(None);
            self.shared.report(PushStatus::Ended);
        }
        end
    }
}

/// Drops `n` written bytes from the front of `out`.
fn advance(out: &mut VecDeque<bytes::Bytes>, off: &mut usize, mut n: usize) {
    while n > 0 {
        let Some(front) = out.front() else { break };
        let left = front.len() - *off;
        if n >= left {
            n -= left;
            *off = 0;
            out.pop_front();
        } else {
            *off += n;
            n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::broadcast;

    #[test]
    fn advance_drops_written_bytes_across_chunks() {
        let mut out: VecDeque<bytes::Bytes> = [vec![1; 3], vec![2; 4], vec![3; 2]]
            .map(bytes::Bytes::from)
            .into();
        let mut off = 0;
        advance(&mut out, &mut off, 2);
        assert_eq!((out.len(), off), (3, 2));
        advance(&mut out, &mut off, 3);
        assert_eq!(
            (out.len(), off),
            (2, 2),
            "first chunk gone, 2 of the second written"
        );
        advance(&mut out, &mut off, 4);
        assert_eq!((out.len(), off), (0, 0));
        advance(&mut out, &mut off, 5);
        assert!(out.is_empty(), "writing past the end is harmless");
    }

    fn driver() -> Driver {
        let (status, _) = broadcast::channel(4);
        let shared = Arc::new(Shared::new(status));
        let (tx, _rx) = std::sync::mpsc::channel();
        Driver::new(
            PushSinkConfig::default(),
            shared,
            Arc::new(Mutex::new(None)),
            tx,
        )
    }

    #[test]
    fn refusals_map_to_the_documented_errors() {
        let mut d = driver();
        let fatal = |t: Trouble| match t {
            Trouble::Fatal(e) => Some(e),
            _ => None,
        };
        assert_eq!(
            fatal(d.rejected(204, "Server header is not Cougar or Rex".into())),
            Some(PushError::NotAMediaServer(
                "Server header is not Cougar or Rex".into()
            ))
        );
        assert_eq!(
            fatal(d.rejected(401, "Unauthorized".into())),
            Some(PushError::AuthenticationFailed { status: 401 })
        );
        assert_eq!(
            fatal(d.rejected(404, "Not Found".into())),
            Some(PushError::Refused { status: 404 }),
            "before any session, a 404 is the server's answer to the PushSetup"
        );
        d.had_session = true;
        for status in [401, 404, 407, 408, 409, 410] {
            assert!(
                matches!(d.rejected(status, String::new()), Trouble::SessionLost(_)),
                "{status} after a session: start a new one"
            );
        }
        assert_eq!(
            fatal(d.rejected(403, "Forbidden".into())),
            Some(PushError::Refused { status: 403 }),
            "an administrator's refusal is final"
        );
    }
}
