//! Shared helpers for the binary-driven tests: run `wmpush`, a raw
//! spec-faithful push client, tiny HTTP GETs. Everything is bounded in time.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wmpush::generator::{SignalConfig, render_audio, render_frame};
use wmpush::live_mux::LiveMux;

pub fn wmpush() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wmpush"))
}

pub fn interop_required() -> bool {
    std::env::var("WMPUSH_INTEROP").is_ok_and(|v| v == "require")
}

/// True when `program` runs; otherwise prints a skip line (or fails under WMPUSH_INTEROP=require).
pub fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            !interop_required(),
            "{program} is required (WMPUSH_INTEROP=require) but missing"
        );
        println!("SKIP: {program} not found");
    }
    found
}

/// Kills the child on drop.
pub struct Running(pub Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `wmpush serve --listen 127.0.0.1:0 ARGS` and returns its address.
pub fn start_serve(args: &[&str]) -> (Running, SocketAddr) {
    let mut cmd = wmpush();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    spawn_serve(cmd)
}

/// [`start_serve`] with the process's file-descriptor limit (RLIMIT_NOFILE) set to `nofile`
/// (through `sh -c 'ulimit -n N; exec ...'`).
pub fn start_serve_with_nofile(nofile: u32, args: &[&str]) -> (Running, SocketAddr) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_wmpush"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args);
    spawn_serve(cmd)
}

fn spawn_serve(mut cmd: Command) -> (Running, SocketAddr) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("wmpush runs");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("listening line")
        .parse()
        .expect("address");
    std::thread::spawn(move || for _ in lines {});
    (Running(child), addr)
}

pub fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let out_pipe = child.stdout.take().expect("piped");
    let err_pipe = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = BufReader::new(out_pipe).read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = BufReader::new(err_pipe).read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "timed out after {limit:?}: {}",
                String::from_utf8_lossy(&err_t.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A response head: status and header lines.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Reads one response head (and `Content-Length` body bytes) from `s`.
pub fn read_response(s: &mut TcpStream) -> Response {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => panic!(
                "connection ended inside a response head: {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
        assert!(head.len() < 16 * 1024, "head too long");
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = r
        .header("Content-Length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).expect("body");
        r.body = body;
    }
    r
}

/// `GET path` and the whole response.
pub fn http_get(addr: SocketAddr, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: test\r\n\r\n"
    )
    .expect("write");
    read_response(&mut s)
}

/// The point named `name` in a `/_status` document.
pub fn point<'a>(status: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    status["points"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// `/_status` as JSON.
pub fn status_json(addr: SocketAddr) -> serde_json::Value {
    let r = http_get(addr, "/_status");
    assert_eq!(r.status, 200);
    serde_json::from_slice(&r.body).expect("JSON")
}

/// The generated demo stream as (header, padding-stripped packets per 100 ms frame).
pub struct TestStream {
    pub header: Vec<u8>,
    pub frames: Vec<Vec<Vec<u8>>>,
}

pub fn test_stream(seconds: u64) -> TestStream {
    let signal = SignalConfig::default();
    let mut mux = LiveMux::new(signal, 3600, 1000, [9; 16]).expect("valid");
    let header = mux.header().to_vec();
    let mut frames = Vec::new();
    let (mut pic, mut pcm) = (Vec::new(), Vec::new());
    for i in 0..seconds * u64::from(signal.fps) {
        render_frame(&signal, i, &mut pic);
        let (a, b) = signal.audio_range(i);
        render_audio(&signal, a, b, &mut pcm);
        frames.push(
            mux.packets_for_frame(i, &pic, &pcm)
                .into_iter()
                // MS-WMHTTP 2.2.3.1.2: $D padding SHOULD be stripped.
                .map(|p| {
                    let mut b = bytes::BytesMut::from(&p.data[..]);
                    push_sink::push_sink::asf_packet::strip_padding(&mut b).expect("well formed");
                    b.to_vec()
                })
                .collect(),
        );
    }
    TestStream { header, frames }
}

/// Push framing (MS-WMHTTP 2.2.3.1): `$` id length(u16 LE) payload, B bit 0.
pub fn frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x24, id];
    v.extend_from_slice(&u16::try_from(payload.len()).expect("fits").to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// A raw-socket encoder speaking MS-WMHTTP exactly as the spec's examples.
pub struct RawPusher {
    pub addr: SocketAddr,
    pub path: String,
    pub stream: Option<TcpStream>,
    pub push_id: String,
}

pub const ENCODER_UA: &str = "WMEncoder/11.0.5721.5145";

impl RawPusher {
    pub fn new(addr: SocketAddr, path: &str) -> RawPusher {
        RawPusher {
            addr,
            path: path.to_owned(),
            stream: None,
            push_id: "0".to_owned(),
        }
    }

    fn conn(&mut self) -> &mut TcpStream {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).expect("connect");
            s.set_write_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            self.stream = Some(s);
        }
        self.stream.as_mut().expect("just set")
    }

    /// PushSetup with `body` directives and optional Authorization; returns the response.
    pub fn setup(&mut self, body: &str, authorization: Option<&str>) -> Response {
        let (addr, path, id) = (self.addr, self.path.clone(), self.push_id.clone());
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "POST {path} HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nX-Accept-Authentication: Negotiate, NTLM, Digest\r\nUser-Agent: {ENCODER_UA}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: Keep-Alive\r\nCache-Control: no-cache\r\nCookie: push-id={id}\r\n{auth}\r\n{body}",
            body.len()
        );
        let s = self.conn();
        s.write_all(req.as_bytes()).expect("write");
        let r = read_response(s);
        if let Some(c) = r.header("Set-Cookie")
            && let Some(id) = c.strip_prefix("push-id=")
        {
            self.push_id = id.split(';').next().unwrap_or(id).to_owned();
        }
        if r.status != 204 && r.status != 200 {
            self.stream = None;
        }
        r
    }

    /// PushStart head with the no-proxy Content-Length of 2147483647 (MS-WMHTTP 3.1.5.2).
    pub fn start(&mut self, authorization: Option<&str>) {
        self.start_with(authorization, &[]);
    }

    /// [`RawPusher::start`] with the body's first bytes (`$H`, `$D`...) in the same write as
    /// the head, so they reach the server in the head's segment.
    pub fn start_with(&mut self, authorization: Option<&str>, first: &[u8]) {
        let (addr, path, id) = (self.addr, self.path.clone(), self.push_id.clone());
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "POST {path} HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nX-Accept-Authentication: Negotiate, NTLM, Digest\r\nUser-Agent: {ENCODER_UA}\r\nHost: {addr}\r\nContent-Length: 2147483647\r\nConnection: Keep-Alive\r\nCache-Control: no-cache\r\nCookie: push-id={id}\r\n{auth}\r\n"
        );
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(first);
        self.conn().write_all(&bytes).expect("write");
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.conn().write_all(bytes)
    }

    /// Reads a response on the push connection (e.g. a 409 to PushStart).
    pub fn response(&mut self) -> Response {
        read_response(self.conn())
    }

    /// Pushes `stream`'s header and frames paced at 10 per second, then `$E(0)`.
    pub fn push_stream(&mut self, stream: &TestStream, end: bool) -> std::io::Result<()> {
        self.send(&frame(b'H', &stream.header))?;
        let start = Instant::now();
        for (i, packets) in stream.frames.iter().enumerate() {
            let due = start + Duration::from_millis(i as u64 * 100);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            for p in packets {
                self.send(&frame(b'D', p))?;
            }
        }
        if end {
            self.send(&frame(b'E', &0u32.to_le_bytes()))?;
        }
        Ok(())
    }
}

/// ffmpeg plays `seconds` of `url` (e.g. `mmsh://ADDR/POINT`) and reports no
/// error at all (`-v error -xerror`); `what` names the case in the failure.
pub fn assert_ffmpeg_plays(url: &str, seconds: u32, what: &str) {
    let out = run_bounded(
        Command::new("ffmpeg").args([
            "-nostdin",
            "-v",
            "error",
            "-xerror",
            "-i",
            url,
            "-t",
            &seconds.to_string(),
            "-f",
            "null",
            "-",
        ]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{what}: ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `cond` holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Writes the generated demo stream as a plain ASF file (header + full-size packets).
pub fn write_demo_asf(path: &std::path::Path, seconds: u64) {
    let signal = SignalConfig::default();
    let mut mux = LiveMux::new(signal, 3600, 1000, [5; 16]).expect("valid");
    let mut out = mux.header().to_vec();
    let (mut pic, mut pcm) = (Vec::new(), Vec::new());
    for i in 0..seconds * u64::from(signal.fps) {
        render_frame(&signal, i, &mut pic);
        let (a, b) = signal.audio_range(i);
        render_audio(&signal, a, b, &mut pcm);
        for p in mux.packets_for_frame(i, &pic, &pcm) {
            out.extend_from_slice(&p.data);
        }
    }
    std::fs::write(path, out).expect("write");
}

/// A WMV2/WMA2 file made by ffmpeg (None when ffmpeg is missing).
pub fn ffmpeg_wmv(dir: &std::path::Path, seconds: u32) -> Option<std::path::PathBuf> {
    if !have("ffmpeg") {
        return None;
    }
    let path = dir.join("wmv2.asf");
    let out = run_bounded(
        Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=15",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                &seconds.to_string(),
                "-c:v",
                "wmv2",
                "-b:v",
                "400k",
                "-c:a",
                "wmav2",
                "-b:a",
                "64k",
                "-f",
                "asf",
            ])
            .arg(&path),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "ffmpeg makes test media: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(path)
}
