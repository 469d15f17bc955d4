//! A small MS-WMHTTP push server for the push sink tests: answers PushSetup (with optional
//! Basic/Digest authentication and push-id resume) and PushStart, parses the framed body, and
//! records everything it sees. It can kill the first PushStart after N `$D` packets, stall
//! (stop reading), or refuse. Threads and std sockets only; every wait is bounded.
#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use push_sink::push_sink::wire::md5_hex;

/// What the server saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A PushSetup: its push-id cookie and directive body.
    Setup { cookie: String, body: String },
    /// A PushStart with this push-id cookie.
    Start { cookie: String },
    /// `$H` payload.
    Header(Vec<u8>),
    /// `$D` payload.
    Data(Vec<u8>),
    /// `$C` payload (reason + header).
    Change(Vec<u8>),
    /// `$E` reason.
    End(u32),
    /// `$F` length.
    Filler(usize),
    /// A PushSetup that arrived at the redirect target (its path).
    Redirected(String),
}

/// Server behaviour.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Require Basic with these credentials.
    pub basic: Option<(String, String)>,
    /// Require Digest with these credentials.
    pub digest: Option<(String, String)>,
    /// Close the first PushStart connection after this many `$D` packets.
    pub kill_after: Option<usize>,
    /// Stop reading PushStart bodies (a stalled server).
    pub stall: bool,
    /// Answer every PushSetup with this status.
    pub refuse: Option<u16>,
    /// Server header (default Cougar/9.01.01.3814).
    pub server_header: Option<String>,
    /// PushSetup to a path other than this one gets `302` with `Location` = this path.
    pub redirect_to: Option<String>,
    /// After this many `$D` packets the server sends `403` at once and closes (an
    /// administrator ending the push, MS-WMHTTP 3.2.5.3).
    pub kick_after: Option<usize>,
}

/// A running test server.
pub struct PushServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl PushServer {
    /// Starts the server on 127.0.0.1:0.
    pub fn start(config: ServerConfig) -> PushServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(State {
            config,
            seen: seen.clone(),
            ids: Mutex::new(HashSet::new()),
            next_id: AtomicUsize::new(4_124_758_405),
            data_count: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            stop: stop.clone(),
        });
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop2.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let st = state.clone();
                        std::thread::spawn(move || {
                            let _ = s.set_nonblocking(false);
                            let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
                            let _ = handle(&st, s);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        PushServer { addr, seen, stop }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A copy of what was seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits until `pred` holds on what was seen (bounded).
    pub fn wait_for(&self, limit: Duration, pred: impl Fn(&[Seen]) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if pred(&self.seen()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

impl Drop for PushServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct State {
    config: ServerConfig,
    seen: Arc<Mutex<Vec<Seen>>>,
    ids: Mutex<HashSet<String>>,
    next_id: AtomicUsize,
    data_count: AtomicUsize,
    killed: AtomicBool,
    stop: Arc<AtomicBool>,
}

impl State {
    fn record(&self, s: Seen) {
        self.seen.lock().expect("lock").push(s);
    }
}

fn read_head(s: &mut TcpStream, carry: &mut Vec<u8>) -> Option<Vec<(String, String)>> {
    loop {
        if let Some(p) = carry.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&carry[..p]).into_owned();
            carry.drain(..p + 4);
            let mut lines = head.split("\r\n");
            let first = lines.next()?.to_owned();
            let mut v = vec![(String::from(":line"), first)];
            for l in lines {
                let (n, val) = l.split_once(':')?;
                v.push((n.trim().to_ascii_lowercase(), val.trim().to_owned()));
            }
            return Some(v);
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).ok()?;
        if n == 0 || carry.len() > 64 * 1024 {
            return None;
        }
        carry.extend_from_slice(&buf[..n]);
    }
}

fn get<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn cookie(h: &[(String, String)]) -> String {
    get(h, "cookie")
        .and_then(|c| {
            c.split(';')
                .find_map(|kv| kv.trim().strip_prefix("push-id="))
        })
        .unwrap_or("")
        .to_owned()
}

fn respond(s: &mut TcpStream, st: &State, status: &str, push_id: &str, extra: &str) {
    let server = st
        .config
        .server_header
        .clone()
        .unwrap_or_else(|| "Cougar/9.01.01.3814".into());
    let r = format!(
        "HTTP/1.1 {status}\r\nServer: {server}\r\nCache-Control: no-cache\r\nPragma: no-cache, timeout=60000\r\nSet-Cookie: push-id={push_id}\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    let _ = s.write_all(r.as_bytes());
}

fn params(v: &str) -> Vec<(String, String)> {
    v.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

fn authorized(st: &State, h: &[(String, String)]) -> bool {
    let auth = get(h, "authorization").unwrap_or("");
    if let Some((user, pass)) = &st.config.basic {
        let want = format!(
            "Basic {}",
            push_sink::push_sink::wire::base64(format!("{user}:{pass}").as_bytes())
        );
        return auth == want;
    }
    if let Some((user, pass)) = &st.config.digest {
        let Some(rest) = auth.strip_prefix("Digest ") else {
            return false;
        };
        let p = params(rest);
        let g = |k: &str| {
            p.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        if g("username") != user || g("nonce") != "testnonce" || g("opaque") != "op" {
            return false;
        }
        let ha1 = md5_hex(&format!("{user}:wmpush:{pass}"));
        let ha2 = md5_hex(&format!("POST:{}", g("uri")));
        let want = md5_hex(&format!(
            "{ha1}:testnonce:{}:{}:auth:{ha2}",
            g("nc"),
            g("cnonce")
        ));
        return g("response") == want && g("qop") == "auth";
    }
    true
}

fn handle(st: &State, mut s: TcpStream) -> Option<()> {
    let mut carry = Vec::new();
    loop {
        let h = read_head(&mut s, &mut carry)?;
        let ctype = get(&h, "content-type").unwrap_or("").to_owned();
        let c = cookie(&h);
        if ctype.starts_with("application/x-wms-pushsetup") {
            let len: usize = get(&h, "content-length")?.parse().ok()?;
            while carry.len() < len {
                let mut b = [0u8; 1024];
                let n = s.read(&mut b).ok()?;
                if n == 0 {
                    return None;
                }
                carry.extend_from_slice(&b[..n]);
            }
            let body: Vec<u8> = carry.drain(..len).collect();
            if let Some(target) = &st.config.redirect_to {
                let path = get(&h, ":line")
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap_or("");
                if path != target {
                    respond(
                        &mut s,
                        st,
                        "302 Found",
                        "0",
                        &format!("Location: {target}\r\n"),
                    );
                    return None;
                }
                st.record(Seen::Redirected(path.to_owned()));
            }
            if let Some(code) = st.config.refuse {
                respond(&mut s, st, &format!("{code} Refused"), "0", "");
                return None;
            }
            if !authorized(st, &h) {
                let challenge = if st.config.basic.is_some() {
                    "WWW-Authenticate: Basic realm=\"wmpush\"\r\n".to_owned()
                } else {
                    "WWW-Authenticate: Digest realm=\"wmpush\", nonce=\"testnonce\", opaque=\"op\", qop=\"auth\", algorithm=MD5\r\n".to_owned()
                };
                respond(&mut s, st, "401 Unauthorized", &c, &challenge);
                // MS-WMHTTP 3.1.5.2: the client retries on a new connection.
                let _ = s.shutdown(Shutdown::Both);
                return None;
            }
            st.record(Seen::Setup {
                cookie: c.clone(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let id = if c == "0" || c.is_empty() {
                let id = st.next_id.fetch_add(1, Ordering::Relaxed).to_string();
                st.ids.lock().expect("lock").insert(id.clone());
                id
            } else if st.ids.lock().expect("lock").contains(&c) {
                c.clone()
            } else {
                respond(&mut s, st, "404 Not Found", &c, "");
                continue;
            };
            respond(
                &mut s,
                st,
                "204 No Content",
                &id,
                "Connection: Keep-Alive\r\n",
            );
        } else if ctype.starts_with("application/x-wms-pushstart") {
            if !st.ids.lock().expect("lock").contains(&c) {
                respond(&mut s, st, "404 Not Found", &c, "");
                return None;
            }
            if !authorized(st, &h) {
                respond(&mut s, st, "401 Unauthorized", &c, "");
                return None;
            }
            st.record(Seen::Start { cookie: c.clone() });
            if st.config.stall {
                // Never read again; hold the socket until the test ends.
                while !st.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return None;
            }
            let declared: u64 = get(&h, "content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(u64::MAX);
            match body(st, &mut s, carry, declared) {
                // MS-WMHTTP 3.2.5.3: the declared body is complete: 204, then the next
                // request on the same connection.
                Some(rest) => {
                    respond(&mut s, st, "204 No Content", &c, "");
                    carry = rest;
                }
                None => return None,
            }
        } else {
            respond(&mut s, st, "400 Bad Request", "0", "");
            return None;
        }
    }
}

/// Reads framed packets until `declared` body bytes were read (returns the bytes after the
/// body) or the stream ends (`None`).
fn body(st: &State, s: &mut TcpStream, mut carry: Vec<u8>, declared: u64) -> Option<Vec<u8>> {
    let mut consumed = 0u64;
    loop {
        while carry.len() >= 4 && consumed < declared {
            let len = usize::from(u16::from_le_bytes([carry[2], carry[3]]));
            if carry.len() < 4 + len {
                break;
            }
            assert_eq!(carry[0], 0x24, "push framing byte must be 0x24 (B = 0)");
            let id = carry[1];
            let payload: Vec<u8> = carry[4..4 + len].to_vec();
            carry.drain(..4 + len);
            consumed += 4 + len as u64;
            assert!(
                consumed <= declared,
                "a packet crosses the declared Content-Length"
            );
            match id {
                b'H' => st.record(Seen::Header(payload)),
                b'D' => {
                    st.record(Seen::Data(payload));
                    let n = st.data_count.fetch_add(1, Ordering::Relaxed) + 1;
                    if st.config.kick_after == Some(n) {
                        respond(s, st, "403 Forbidden", "0", "");
                        let _ = s.shutdown(Shutdown::Both);
                        return None;
                    }
                    if st.config.kill_after == Some(n) && !st.killed.swap(true, Ordering::Relaxed) {
                        let _ = s.shutdown(Shutdown::Both);
                        return None;
                    }
                }
                b'C' => st.record(Seen::Change(payload)),
                b'E' => {
                    let r = u32::from_le_bytes(payload[..4].try_into().ok()?);
                    st.record(Seen::End(r));
                    if r != 1 {
                        // MS-WMHTTP 3.2.5.3: after $E(0) the server may close without a reply.
                        return None;
                    }
                }
                b'F' => st.record(Seen::Filler(len)),
                other => panic!("unexpected push packet id {other:#x}"),
            }
        }
        if consumed == declared {
            return Some(carry);
        }
        let mut b = [0u8; 16384];
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        carry.extend_from_slice(&b[..n]);
    }
}
