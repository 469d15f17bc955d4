//! A loopback publishing point for the push sink tests: push-protocol's sans-IO
//! [`PushServer`] driven over real 127.0.0.1 sockets by a small tokio harness.
//!
//! The harness owns the listener and every connection; it feeds received bytes to
//! `PushServer::handle_input`, writes `poll_transmit`, closes on `ConnectionClose`, fires
//! `handle_timeout`, answers `SetupRequested` (accept, or refuse with a status) and records
//! every event in order. Faults for the tests: kill the connection carrying packets after N
//! `$D` (the server sees the close and keeps the session), kick it with an HTTP error after
//! N `$D` (an administrator ending the push, MS-WMHTTP 3.2.5.3), or stall (stop reading).
//! Every wait is bounded and the harness stops when dropped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use push_protocol::auth::{Credential, DigestAlgorithm, ServerScheme};
use push_protocol::push_server::{PushServer, PushServerConfig, ServerEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the server saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A PushSetup (the `SetupRequested` event).
    Setup {
        /// Publishing point path.
        path: String,
        /// `Template-URL` directive.
        template: Option<String>,
        /// `AutoDestroy` directive.
        auto_destroy: bool,
        /// Authenticated user.
        user: Option<String>,
        /// Push-id being resumed.
        resume: Option<String>,
    },
    /// `$H` of a session.
    Header { push_id: String, header: Vec<u8> },
    /// `$D`.
    Data { push_id: String, packet: Vec<u8> },
    /// `$C` (the new header).
    Change { push_id: String, header: Vec<u8> },
    /// `$E` other than 1 (the session ended).
    End { push_id: String, reason: u32 },
    /// A session timed out.
    Expired { push_id: String },
    /// The harness killed a connection (fault injection).
    Killed,
    /// The harness answered 403 mid-stream and closed (fault injection).
    Kicked,
    /// The harness redirected a PushSetup for this path (before `PushServer` saw it).
    Redirected(String),
}

/// Harness behaviour.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Offer Basic; users are `users`.
    pub basic: bool,
    /// Offer Digest (MD5); users are `users`.
    pub digest: bool,
    /// Offer Digest with SHA-256 (RFC 7616) instead of MD5.
    pub digest_sha256: bool,
    /// Accepted users and passwords.
    pub users: Vec<(String, String)>,
    /// Kill the connection carrying packets after this many `$D` (once).
    pub kill_after: Option<usize>,
    /// After this many `$D`, answer 403 at once and close (once).
    pub kick_after: Option<usize>,
    /// Stop reading once the first `$H` arrived (a stalled server).
    pub stall: bool,
    /// Refuse every PushSetup with this status.
    pub refuse: Option<u16>,
    /// `Server` header (default Cougar/9.01.01.3814).
    pub server_header: Option<String>,
    /// Forget a session this long after its connection went away (default 30 s).
    pub inactivity_timeout: Option<Duration>,
    /// Answer a PushSetup for any other path with `302 Found` and `Location` = this path
    /// (the harness does this itself: `PushServer` does not redirect).
    pub redirect_to: Option<String>,
}

enum Cmd {
    Write(Vec<u8>),
    /// Write what came before, then close.
    Close,
    /// Close at once (drops both halves).
    Kill,
}

enum Input {
    Opened(u64, mpsc::UnboundedSender<Cmd>),
    Data(u64, Vec<u8>),
    Closed(u64),
}

/// A running loopback publishing point.
pub struct Harness {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stalled: Arc<AtomicBool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Harness {
    /// Starts the harness on 127.0.0.1:0.
    pub fn start(config: ServerConfig) -> Harness {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("harness runtime");
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stalled = Arc::new(AtomicBool::new(false));
        let (seen2, stalled2) = (seen.clone(), stalled.clone());
        runtime.spawn(async move {
            let listener = TcpListener::from_std(std_listener).expect("tokio listener");
            serve(listener, config, seen2, stalled2).await;
        });
        Harness {
            addr,
            seen,
            stalled,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A copy of what was seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits until `pred` holds on what was seen (bounded); returns whether it did.
    pub fn wait_for(&self, limit: Duration, pred: impl Fn(&[Seen]) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if pred(&self.seen()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        pred(&self.seen())
    }

    /// Whether the harness stopped reading (stall mode, after the first `$H`).
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The `$D` payloads seen, in order.
pub fn data(seen: &[Seen]) -> Vec<Vec<u8>> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Data { packet, .. } => Some(packet.clone()),
            _ => None,
        })
        .collect()
}

/// How many `$H` were seen.
pub fn headers(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::Header { .. }))
        .count()
}

fn fixed_rng(buf: &mut [u8]) {
    // Push-ids and nonces only need to differ between calls in a test.
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    for b in buf {
        let n = N.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        *b = (n >> 56) as u8 ^ (n >> 17) as u8;
    }
}

async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    seen: Arc<Mutex<Vec<Seen>>>,
    stalled: Arc<AtomicBool>,
) {
    let mut server_config = PushServerConfig {
        // Quick expiry so an unresumed test session does not linger; long enough for the
        // reconnect backoff of the tests.
        inactivity_timeout: config.inactivity_timeout.unwrap_or(Duration::from_secs(30)),
        idle_timeout: Duration::from_secs(30),
        ..PushServerConfig::default()
    };
    if let Some(h) = &config.server_header {
        server_config.server_header = h.clone();
    }
    if config.digest {
        server_config
            .auth
            .push(ServerScheme::Digest(DigestAlgorithm::Md5));
    }
    if config.digest_sha256 {
        server_config
            .auth
            .push(ServerScheme::Digest(DigestAlgorithm::Sha256));
    }
    if config.basic {
        server_config.auth.push(ServerScheme::Basic);
    }
    let mut server = PushServer::new(server_config);
    for (user, password) in &config.users {
        server.add_user(user, Credential::Password(password.clone()));
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
    let mut conns: HashMap<u64, mpsc::UnboundedSender<Cmd>> = HashMap::new();
    let mut next_id = 0u64;
    let mut packets = 0usize;
    let mut killed = false;
    let mut kicked = false;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut fresh: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let id = next_id;
                next_id += 1;
                spawn_conn(id, stream, tx.clone(), stalled.clone(), config.stall);
            }
            Some(input) = rx.recv() => {
                let now = Instant::now();
                match input {
                    Input::Opened(id, cmd) => {
                        conns.insert(id, cmd);
                        fresh.insert(id);
                    }
                    Input::Data(id, bytes) => {
                        let first = fresh.remove(&id);
                        match (&config.redirect_to, first.then(|| setup_path(&bytes)).flatten()) {
                            (Some(to), Some(path)) if path != *to => {
                                seen.lock().expect("lock").push(Seen::Redirected(path));
                                if let Some(c) = conns.remove(&id) {
                                    let _ = c.send(Cmd::Write(format!(
                                        "HTTP/1.1 302 Found\r\nServer: Cougar/9.01.01.3814\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n"
                                    ).into_bytes()));
                                    let _ = c.send(Cmd::Close);
                                }
                            }
                            _ => server.handle_input(id, &bytes, now, &mut fixed_rng),
                        }
                    }
                    Input::Closed(id) => {
                        conns.remove(&id);
                        server.handle_connection_closed(id, now);
                    }
                }
            }
            _ = tick.tick() => server.handle_timeout(Instant::now()),
        }
        loop {
            // What the server wrote before an event (a refusal before its close) goes first.
            while let Some((id, bytes)) = server.poll_transmit() {
                if let Some(c) = conns.get(&id) {
                    let _ = c.send(Cmd::Write(bytes));
                }
            }
            let Some(event) = server.poll_event() else {
                break;
            };
            let record = |s: Seen| seen.lock().expect("lock").push(s);
            match event {
                ServerEvent::SetupRequested {
                    connection,
                    path,
                    template,
                    auto_destroy,
                    user,
                    resume,
                } => {
                    record(Seen::Setup {
                        path,
                        template,
                        auto_destroy,
                        user,
                        resume,
                    });
                    match config.refuse {
                        Some(status) => server.refuse(connection, status),
                        None => {
                            let _ = server.accept_setup(connection, Instant::now(), &mut fixed_rng);
                        }
                    }
                }
                ServerEvent::Header { push_id, header } => {
                    record(Seen::Header {
                        push_id,
                        header: header.to_vec(),
                    });
                    if config.stall {
                        stalled.store(true, Ordering::Relaxed);
                    }
                }
                ServerEvent::Packet { push_id, packet } => {
                    record(Seen::Data {
                        push_id,
                        packet: packet.to_vec(),
                    });
                    packets += 1;
                    // The connection carrying this session's packets (the only one open
                    // for the tests that inject faults).
                    let fault = (config.kill_after == Some(packets) && !killed)
                        .then_some(Cmd::Kill)
                        .or_else(|| {
                            (config.kick_after == Some(packets) && !kicked).then_some(Cmd::Close)
                        });
                    if let Some(cmd) = fault {
                        let kill = matches!(cmd, Cmd::Kill);
                        if kill {
                            killed = true;
                            record(Seen::Killed);
                        } else {
                            kicked = true;
                            record(Seen::Kicked);
                        }
                        for (id, c) in conns.drain() {
                            if !kill {
                                let _ = c.send(Cmd::Write(
                                    b"HTTP/1.1 403 Forbidden\r\nServer: Cougar/9.01.01.3814\r\nContent-Length: 0\r\n\r\n".to_vec(),
                                ));
                                let _ = c.send(Cmd::Close);
                            } else {
                                let _ = c.send(Cmd::Kill);
                            }
                            server.handle_connection_closed(id, Instant::now());
                        }
                    }
                }
                ServerEvent::StreamChange { push_id, header } => record(Seen::Change {
                    push_id,
                    header: header.to_vec(),
                }),
                ServerEvent::EndOfStream {
                    push_id, reason, ..
                } => record(Seen::End { push_id, reason }),
                ServerEvent::SessionExpired { push_id, .. } => record(Seen::Expired { push_id }),
                ServerEvent::ConnectionClose { connection } => {
                    if let Some(c) = conns.remove(&connection) {
                        let _ = c.send(Cmd::Close);
                    }
                }
            }
        }
    }
}

/// The request target of a PushSetup at the start of `bytes`, if it is one.
fn setup_path(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    if !text.contains("application/x-wms-pushsetup") {
        return None;
    }
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    (parts.next()? == "POST").then_some(())?;
    parts.next().map(str::to_string)
}

/// One connection: a reader feeding the harness and a writer taking its commands.
fn spawn_conn(
    id: u64,
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Input>,
    stalled: Arc<AtomicBool>,
    stall_mode: bool,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Cmd>();
    let _ = tx.send(Input::Opened(id, cmd_tx));
    let reader = tokio::spawn({
        let tx = tx.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                if stall_mode && stalled.load(Ordering::Relaxed) {
                    // A stalled server: stop reading, let the socket buffers fill.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let _ = tx.send(Input::Data(id, buf[..n].to_vec()));
                    }
                }
            }
            let _ = tx.send(Input::Closed(id));
        }
    });
    tokio::spawn(async move {
        while let Some(cmd) = cmd_rx.recv().await {
            match cmd {
                Cmd::Write(bytes) => {
                    if wr.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Cmd::Close => {
                    // A lingering close: the reader keeps reading (and discarding) until
                    // the client closes, so the answer before the FIN is not lost to a
                    // reset.
                    let _ = wr.shutdown().await;
                    return;
                }
                Cmd::Kill => break,
            }
        }
        // Dropping both halves at once closes the socket.
        reader.abort();
        drop(wr);
    });
}
