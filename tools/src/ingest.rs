//! The encoder side of `wmpush serve`: MS-WMHTTP PushSetup and PushStart
//! (MS-WMHTTP 3.2.5), feeding a [`PublishingPoint`].
//!
//! push-protocol's sans-IO push server had not landed when this was written,
//! so this module reads the push framing itself (4-byte header, MS-WMHTTP
//! 2.2.3.1; the 8-byte preheader some receivers assume is sniffed and
//! accepted). It should be replaced by the shared state machine once it exists.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use push_sink::push_sink::{PushSink, PushSinkConfig};
use push_sink::{DataUnit, FileSink, PacketInfo, WriterSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::asf_bits::{self, HeaderFacts};
use crate::config::Template;
use crate::point::{PointSettings, PublishingPoint};
use crate::server::{ServerState, point_name, read_head, reason_phrase};

/// `Server` header on push responses: MS-WMHTTP 2.2.2.2 requires the MS-WMSP
/// syntax with token Cougar or Rex, or the encoder treats us as a web server.
pub const PUSH_SERVER_HEADER: &str = "Cougar/9.01.01.3814";

const ASF_HEADER_GUID: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// One push session (a push-id).
#[derive(Debug, Clone)]
pub struct PushSession {
    /// The point pushed to.
    pub point: String,
    /// AutoDestroy from the PushSetup.
    pub auto_destroy: bool,
    /// The session authenticated on its PushSetup (one PushStart without
    /// credentials is then allowed, as the real encoder sends it; MS-WMHTTP notes §1.4).
    pub authenticated: bool,
    /// An unauthenticated PushStart was already let through.
    pub free_start_used: bool,
    /// Authenticated user name.
    pub user: Option<String>,
    /// When the session was set up or last pushed.
    pub last_active: std::time::Instant,
}

/// A session set up but not pushing for this long is forgotten (MS-WMHTTP's
/// Inactivity timer; the notes give 120-150 s).
pub const SESSION_INACTIVITY: Duration = Duration::from_secs(120);

/// Push sessions by push-id.
#[derive(Debug, Default)]
pub struct SessionTable {
    sessions: Mutex<HashMap<String, PushSession>>,
}

impl SessionTable {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, PushSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
    fn get(&self, id: &str) -> Option<PushSession> {
        self.lock().get(id).cloned()
    }
    fn insert(&self, id: String, s: PushSession) {
        self.lock().insert(id, s);
    }

    /// Forgets sessions that are not pushing and were idle longer than
    /// `max_idle`, so PushSetups that never start cannot exhaust the session
    /// limit; their AutoDestroy points are removed when nothing is live on them.
    /// Returns the push-ids forgotten.
    pub fn purge_idle(
        &self,
        points: &crate::point::PointRegistry,
        max_idle: Duration,
    ) -> Vec<String> {
        let mut gone = Vec::new();
        let mut table = self.lock();
        table.retain(|id, s| {
            let point = points.get(&s.point);
            let pushing = point
                .as_ref()
                .is_some_and(|p| p.encoder().as_deref() == Some(id.as_str()));
            let stale = !pushing && s.last_active.elapsed() >= max_idle;
            if stale {
                if s.auto_destroy
                    && let Some(p) = point
                    && p.encoder().is_none()
                    && !p.is_live()
                {
                    points.remove(&s.point);
                }
                gone.push(id.clone());
            }
            !stale
        });
        gone
    }
    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
    fn update(&self, id: &str, f: impl FnOnce(&mut PushSession)) {
        if let Some(s) = self.lock().get_mut(id) {
            f(s);
        }
    }
}

/// A parsed push request head.
#[derive(Debug)]
struct PushRequest {
    path: String,
    kind: Kind,
    content_length: Option<u64>,
    push_id: Option<String>,
    authorization: Option<String>,
    chunked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Setup,
    Start,
    Other,
}

fn parse_request(head: &[u8]) -> Option<PushRequest> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let mut r = PushRequest {
        path: req.path?.split('?').next().unwrap_or("/").to_owned(),
        kind: Kind::Other,
        content_length: None,
        push_id: None,
        authorization: None,
        chunked: false,
    };
    for h in req.headers.iter() {
        let v = String::from_utf8_lossy(h.value).trim().to_owned();
        let n = h.name.to_ascii_lowercase();
        match n.as_str() {
            // MS-WMHTTP 2.2.2.1: the media type decides; a ";charset=UTF-8" suffix is allowed.
            "content-type" => {
                let media = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                r.kind = match media.as_str() {
                    "application/x-wms-pushsetup" => Kind::Setup,
                    "application/x-wms-pushstart" => Kind::Start,
                    _ => Kind::Other,
                };
            }
            "content-length" => r.content_length = v.parse().ok(),
            "cookie" => {
                for c in v.split(';') {
                    if let Some(id) = c.trim().strip_prefix("push-id=") {
                        r.push_id = Some(id.trim().to_owned());
                    }
                }
            }
            "authorization" => r.authorization = Some(v),
            "transfer-encoding" => r.chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    Some(r)
}

async fn reply(
    stream: &mut TcpStream,
    status: u16,
    push_id: Option<&str>,
    extra: &[(&str, String)],
    close: bool,
) -> anyhow::Result<()> {
    // MS-WMHTTP 2.2.2.2 / 3.2.5.2: Server, Cache-Control and Pragma on every
    // response; Set-Cookie with the push-id; exact header-name case.
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nServer: {PUSH_SERVER_HEADER}\r\nCache-Control: no-cache\r\nPragma: no-cache, timeout=60000\r\nContent-Length: 0\r\n",
        reason_phrase(status)
    );
    if let Some(id) = push_id {
        h.push_str(&format!("Set-Cookie: push-id={id}\r\n"));
    }
    if status == 204 {
        h.push_str("Supported: com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm, com.microsoft.wm.fastcache, com.microsoft.wm.startupprofile\r\n");
    }
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: Keep-Alive\r\n\r\n"
    });
    stream.write_all(h.as_bytes()).await?;
    stream.flush().await?;
    Ok(())
}

/// PushSetup directives (MS-WMHTTP 2.2.2.1.1).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Directives {
    /// `Template-URL` path, quotes removed.
    pub template_url: Option<String>,
    /// `AutoDestroy` (absent = 0).
    pub auto_destroy: bool,
}

/// Parses the PushSetup body.
pub fn parse_directives(body: &[u8]) -> Directives {
    let mut d = Directives::default();
    for line in String::from_utf8_lossy(body).lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.trim().eq_ignore_ascii_case("Template-URL") {
            d.template_url = Some(v.trim_matches('"').to_owned());
        } else if k.trim().eq_ignore_ascii_case("AutoDestroy") {
            d.auto_destroy = v == "1";
        }
    }
    d
}

/// Why a push was refused, as an HTTP status.
struct Refusal(u16, &'static str);

/// Handles one encoder connection: PushSetup and PushStart requests until close.
pub async fn handle_push(
    state: Arc<ServerState>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut buf: Vec<u8>,
    mut head_len: usize,
) -> anyhow::Result<()> {
    // Finished (archive finalised, relays ended) when dropped, on every exit path.
    let mut outputs = Outputs::default();
    loop {
        let Some(req) = parse_request(&buf[..head_len]) else {
            return reply(&mut stream, 400, None, &[], true).await;
        };
        buf.drain(..head_len);
        if req.chunked {
            // MS-WMHTTP 2.2.2.1: chunked transfer coding is not allowed.
            return reply(&mut stream, 400, None, &[], true).await;
        }
        if req.kind == Kind::Other {
            return reply(&mut stream, 415, None, &[], true).await;
        }
        let name = point_name(&req.path).to_owned();
        if name.is_empty() || name.starts_with('_') {
            return reply(&mut stream, 404, None, &[], true).await;
        }
        // Authentication (MS-WMHTTP 3.2.5.1 step 5).
        let known = req
            .push_id
            .as_deref()
            .filter(|id| *id != "0")
            .and_then(|id| state.sessions.get(id).map(|s| (id.to_owned(), s)));
        let mut user = None;
        let mut authenticated = false;
        if let Some(auth) = &state.auth {
            if let Some(u) = req
                .authorization
                .as_deref()
                .and_then(|a| auth.verify(a, "POST"))
            {
                user = Some(u);
                authenticated = true;
            } else if let Some((id, s)) = known.as_ref().filter(|(_, s)| {
                req.kind == Kind::Start && s.authenticated && !s.free_start_used && s.point == name
            }) {
                // The encoder sends its PushStart without credentials after an
                // authenticated PushSetup; let exactly one through for that push-id.
                state.sessions.update(id, |x| x.free_start_used = true);
                user = s.user.clone();
                authenticated = true;
            } else {
                let challenges: Vec<(&str, String)> = auth
                    .challenges()
                    .into_iter()
                    .map(|c| ("WWW-Authenticate", c))
                    .collect();
                tracing::info!(%peer, point = %name, "push needs credentials: 401");
                return reply(&mut stream, 401, None, &challenges, true).await;
            }
        } else if !peer.ip().is_loopback() && !state.config.allow_anonymous_push {
            return reply(&mut stream, 403, None, &[], true).await;
        }
        match req.kind {
            Kind::Setup => {
                let len = usize::try_from(req.content_length.unwrap_or(0)).unwrap_or(usize::MAX);
                if len > 64 * 1024 {
                    return reply(&mut stream, 413, None, &[], true).await;
                }
                while buf.len() < len {
                    let mut chunk = [0u8; 4096];
                    let n = tokio::time::timeout(
                        state.config.limits.head_timeout,
                        stream.read(&mut chunk),
                    )
                    .await
                    .context("PushSetup body not received in time")??;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body: Vec<u8> = buf.drain(..len).collect();
                let d = parse_directives(&body);
                let push_id = match known.as_ref() {
                    Some((id, _)) => id.clone(),
                    None => format!("{}", rand::random::<u64>() | 1 << 40),
                };
                match setup(&state, &name, &d, user.as_deref(), &push_id) {
                    Ok(()) => {}
                    Err(Refusal(status, why)) => {
                        tracing::info!(%peer, point = %name, status, why, "PushSetup refused");
                        return reply(&mut stream, status, None, &[], true).await;
                    }
                }
                state.sessions.insert(
                    push_id.clone(),
                    PushSession {
                        point: name.clone(),
                        auto_destroy: d.auto_destroy,
                        authenticated,
                        free_start_used: false,
                        user: user.clone(),
                        last_active: std::time::Instant::now(),
                    },
                );
                tracing::info!(%peer, point = %name, %push_id, auto_destroy = d.auto_destroy, "PushSetup accepted");
                reply(&mut stream, 204, Some(&push_id), &[], false).await?;
            }
            Kind::Start => {
                let push_id = match known {
                    Some((id, _)) => id,
                    None => {
                        // MS-WMHTTP says error; WMS creates the state. Do as WMS.
                        let id = format!("{}", rand::random::<u64>() | 1 << 40);
                        let d = Directives::default();
                        if let Err(Refusal(status, why)) =
                            setup(&state, &name, &d, user.as_deref(), &id)
                        {
                            tracing::info!(%peer, point = %name, status, why, "PushStart refused");
                            return reply(&mut stream, status, None, &[], true).await;
                        }
                        state.sessions.insert(
                            id.clone(),
                            PushSession {
                                point: name.clone(),
                                auto_destroy: false,
                                authenticated,
                                free_start_used: true,
                                user: user.clone(),
                                last_active: std::time::Instant::now(),
                            },
                        );
                        id
                    }
                };
                let Some(point) = state.points.get(&name) else {
                    return reply(&mut stream, 404, None, &[], true).await;
                };
                let template = point_template(&state, &point);
                if !point.claim(&push_id) {
                    if template.takeover {
                        if let Some(old) = point.encoder() {
                            point.release(&old);
                        }
                        point.claim(&push_id);
                    } else {
                        tracing::info!(%peer, point = %name, "point already pushed to: 409");
                        return reply(&mut stream, 409, Some(&push_id), &[], true).await;
                    }
                }
                tracing::info!(%peer, point = %name, %push_id, "PushStart: receiving");
                let outcome = receive(
                    &state,
                    &point,
                    &template,
                    &mut stream,
                    &mut buf,
                    req.content_length,
                    &mut outputs,
                )
                .await;
                point.release(&push_id);
                match outcome {
                    Ok(Outcome::BodyComplete) => {
                        state
                            .sessions
                            .update(&push_id, |x| x.last_active = std::time::Instant::now());
                        // MS-WMHTTP 3.2.5.3: Content-Length exhausted: 204, next request.
                        reply(&mut stream, 204, Some(&push_id), &[], false).await?;
                    }
                    Ok(Outcome::Ended) | Ok(Outcome::Closed) | Err(_) => {
                        outputs.finish();
                        point.end();
                        let auto = state.sessions.get(&push_id).is_some_and(|s| s.auto_destroy);
                        state.sessions.remove(&push_id);
                        if auto {
                            tracing::info!(point = %name, "AutoDestroy: removing the point");
                            state.points.remove(&name);
                        }
                        if let Err(e) = &outcome {
                            tracing::warn!(%peer, point = %name, error = %e, "push session failed");
                        } else {
                            tracing::info!(%peer, point = %name, "push session ended");
                        }
                        let _ = stream.shutdown().await;
                        return outcome.map(|_| ());
                    }
                }
            }
            Kind::Other => unreachable_kind()?,
        }
        // Next request on the same connection.
        let found = match read_head(&mut stream, &mut buf, state.config.limits.head_timeout).await {
            Ok(x) => x,
            Err(_) if buf.is_empty() => None,
            Err(e) => return Err(e),
        };
        match found {
            Some(end) => head_len = end,
            None => return Ok(()),
        }
    }
}

fn unreachable_kind() -> anyhow::Result<()> {
    anyhow::bail!("request kind checked above")
}

fn point_template(state: &ServerState, point: &PublishingPoint) -> Template {
    state
        .config
        .template(point.settings().template.as_deref())
        .cloned()
        .unwrap_or_default()
}

/// MS-WMHTTP 3.2.5.1 step 6: the point must exist or be creatable from
/// `Template-URL` (or the default template).
fn setup(
    state: &ServerState,
    name: &str,
    d: &Directives,
    user: Option<&str>,
    push_id: &str,
) -> Result<(), Refusal> {
    let purged = state.sessions.purge_idle(&state.points, SESSION_INACTIVITY);
    if !purged.is_empty() {
        tracing::info!(count = purged.len(), "forgot idle push sessions");
    }
    if let Some(point) = state.points.get(name) {
        let template = point_template(state, &point);
        if !template.may_push(user) {
            return Err(Refusal(403, "user may not push to this point"));
        }
        if let Some(holder) = point.encoder()
            && holder != push_id
            && !template.takeover
        {
            return Err(Refusal(409, "another encoder is pushing to this point"));
        }
        return Ok(());
    }
    // Create: Template-URL names a config template or an existing point.
    let template_name = d
        .template_url
        .as_deref()
        .map(|t| t.trim_start_matches('/').to_owned());
    let (template, label) = match &template_name {
        None => (state.config.default_template.clone(), None),
        Some(t) => {
            if let Some(tpl) = state.config.templates.get(t) {
                (tpl.clone(), Some(t.clone()))
            } else if let Some(p) = state.points.get(t) {
                let tpl = point_template(state, &p);
                (tpl, Some(t.clone()))
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
    if state.sessions.len() >= state.config.limits.max_sessions {
        return Err(Refusal(503, "push session limit reached"));
    }
    let settings: PointSettings = template.point_settings(label.as_deref(), d.auto_destroy);
    state.points.insert(PublishingPoint::new(name, settings));
    tracing::info!(point = name, template = ?label, "publishing point created");
    Ok(())
}

enum Outcome {
    /// Exactly Content-Length bytes were read; the session continues.
    BodyComplete,
    /// `$E` with a reason other than 1.
    Ended,
    /// The encoder closed the connection or went idle.
    Closed,
}

/// Archive of one push session.
struct Archive {
    sink: FileSink,
    path: PathBuf,
    index: u64,
}

fn archive_path(dir: &std::path::Path, point: &str) -> PathBuf {
    // Safe name: only [A-Za-z0-9_-] from the point name, so it never leaves the folder.
    let safe: String = point
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut p = dir.join(format!("{safe}-{secs}.asf"));
    let mut n = 1;
    while p.exists() {
        p = dir.join(format!("{safe}-{secs}-{n}.asf"));
        n += 1;
    }
    p
}

async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    idle: Duration,
) -> anyhow::Result<bool> {
    let mut chunk = vec![0u8; 64 * 1024];
    match tokio::time::timeout(idle, stream.read(&mut chunk)).await {
        Err(_) => {
            tracing::info!("encoder idle timeout");
            Ok(false)
        }
        Ok(Ok(0)) => Ok(false),
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(true)
        }
        Ok(Err(e)) => Err(e.into()),
    }
}

/// Reads the PushStart body: framed `$H`/`$D`/`$C`/`$E`/`$F` packets
/// (MS-WMHTTP 2.2.3.1) until `$E`, EOF, idle timeout or Content-Length.
async fn receive(
    state: &ServerState,
    point: &Arc<PublishingPoint>,
    template: &Template,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    content_length: Option<u64>,
    outputs: &mut Outputs,
) -> anyhow::Result<Outcome> {
    let mut left = content_length.unwrap_or(u64::MAX);
    let mut facts: Option<HeaderFacts> = None;
    let mut offset: u64 = 0;
    loop {
        if left == 0 {
            return Ok(Outcome::BodyComplete);
        }
        if buf.len() < 4 {
            if !read_more(stream, buf, template.idle_timeout).await? {
                return Ok(Outcome::Closed);
            }
            continue;
        }
        let frame = buf[0];
        let id = buf[1];
        let len = usize::from(u16::from_le_bytes([buf[2], buf[3]]));
        if frame & 0x7F != 0x24 {
            anyhow::bail!("push body byte {offset}: framing byte {frame:#04x} is not '$'");
        }
        if buf.len() < 4 + len {
            if !read_more(stream, buf, template.idle_timeout).await? {
                return Ok(Outcome::Closed);
            }
            continue;
        }
        let payload = Bytes::copy_from_slice(&buf[4..4 + len]);
        buf.drain(..4 + len);
        let at = offset;
        offset += 4 + len as u64;
        left = left.saturating_sub(4 + len as u64);
        match id {
            b'H' | b'C' => {
                let body = if id == b'C' {
                    if payload.len() <= 4 {
                        // A pull-style $C with no header: the header follows as $H.
                        continue;
                    }
                    payload.slice(4..)
                } else {
                    payload
                };
                let header = sniff_preheader(body);
                if header.len() > state.config.limits.max_header_bytes {
                    anyhow::bail!(
                        "push body byte {at}: header of {} bytes over the limit",
                        header.len()
                    );
                }
                let Some(f) = asf_bits::header_facts(&header) else {
                    anyhow::bail!(
                        "push body byte {at}: ${} does not hold a readable ASF header",
                        id as char
                    );
                };
                if let Some(max) = template.max_bitrate
                    && f.max_bitrate > max
                {
                    anyhow::bail!(
                        "stream announces {} bit/s, over this point's limit of {max}",
                        f.max_bitrate
                    );
                }
                if template.archive
                    && outputs.archive.is_none()
                    && let Some(dir) = &state.config.archive_dir
                {
                    let path = archive_path(dir, point.name());
                    match FileSink::create(&path) {
                        Ok(sink) => {
                            tracing::info!(path = %path.display(), "archiving");
                            outputs.archive = Some(Archive {
                                sink,
                                path,
                                index: 0,
                            });
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot create archive file"),
                    }
                }
                if let Some(a) = outputs.archive.as_mut()
                    && let Err(e) = a.sink.on_header(&header)
                {
                    tracing::warn!(path = %a.path.display(), error = %e, "archive stopped");
                    outputs.archive = None;
                }
                if outputs.relays.is_none() {
                    outputs.relays = Some(start_relays(&template.relay, point.name()));
                }
                for r in outputs.relays.iter_mut().flatten() {
                    r.header(&header);
                }
                point.set_header(header);
                facts = Some(f);
            }
            b'D' => {
                let Some(f) = facts.as_ref() else {
                    anyhow::bail!("push body byte {at}: $D before any $H (MS-WMHTTP 3.2.5.3)");
                };
                let packet = sniff_data_preheader(payload, f.packet_size as usize);
                // Players and files get full-size packets: ffmpeg and VLC pad a
                // short $D with zeros but would read those zeros as payload when
                // the packet has no explicit length (ASF 5.2.2), so restore the
                // padding once here and share that copy.
                let packet = match asf_bits::repad(&packet, f.packet_size as usize) {
                    Some(full) => Bytes::from(full),
                    // A full-size packet we cannot parse (GStreamer's asfmux
                    // writes some that ffmpeg still plays): pass it on as is.
                    None if packet.len() == f.packet_size as usize => packet,
                    None => {
                        point
                            .counters
                            .dropped
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(
                            offset = at,
                            len = packet.len(),
                            packet_size = f.packet_size,
                            "dropping a $D that is malformed or larger than the packet size"
                        );
                        continue;
                    }
                };
                let key = asf_bits::starts_key_frame(&packet, &f.video_streams);
                for r in outputs.relays.iter_mut().flatten() {
                    r.packet(&packet, key);
                }
                if let Some(a) = outputs.archive.as_mut() {
                    let info = PacketInfo {
                        send_time_ms: asf_bits::send_time(&packet).unwrap_or(0),
                        duration_ms: 0,
                        index: a.index,
                        key_frame: key,
                    };
                    a.index += 1;
                    if let Err(e) = a.sink.on_data_unit(DataUnit::shared(packet.clone(), info)) {
                        tracing::warn!(error = %e, "archive write failed");
                    }
                }
                point.publish(packet, key);
            }
            b'E' => {
                let reason = payload
                    .get(..4)
                    .map_or(0, |r| u32::from_le_bytes([r[0], r[1], r[2], r[3]]));
                // MS-WMHTTP 2.2.3.1.3: 1 = entry done and a $C follows; anything else ends.
                if reason != 1 {
                    return Ok(Outcome::Ended);
                }
            }
            b'F' => {}
            other => anyhow::bail!(
                "push body byte {at}: unknown packet type {:?}",
                other as char
            ),
        }
    }
}

/// Where a push session's packets go besides the players: the archive file
/// (push-sink's FileSink) and relays to downstream servers (push-sink's PushSink).
#[derive(Default)]
pub(crate) struct Outputs {
    archive: Option<Archive>,
    /// `None` until the first header (relays connect then).
    relays: Option<Vec<Relay>>,
}

impl Drop for Outputs {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Outputs {
    /// Ends everything: the archive is indexed and finalised, relays send `$E(0)`.
    fn finish(&mut self) {
        if let Some(mut a) = self.archive.take() {
            match a.sink.on_end_writing() {
                Ok(()) => tracing::info!(path = %a.path.display(), "archive finalised"),
                Err(e) => {
                    tracing::warn!(path = %a.path.display(), error = %e, "archive finalise failed")
                }
            }
        }
        for mut r in self.relays.take().into_iter().flatten() {
            let ended = tokio::task::block_in_place(|| r.sink.end_session());
            match ended {
                Ok(()) => tracing::info!(target = %r.target, "relay session ended"),
                Err(e) => {
                    tracing::warn!(target = %r.target, error = %e, "relay did not end cleanly")
                }
            }
        }
    }
}

/// One downstream server this point relays to (server-to-server distribution,
/// as Windows Media Services chains origin and edge servers).
struct Relay {
    target: String,
    sink: PushSink,
    index: u64,
    failed: bool,
}

impl Relay {
    fn header(&mut self, header: &Bytes) {
        if !self.failed
            && let Err(e) = self.sink.on_header(header)
        {
            tracing::warn!(target = %self.target, error = %e, "relay stopped");
            self.failed = true;
        }
    }

    fn packet(&mut self, packet: &Bytes, key: bool) {
        if self.failed {
            return;
        }
        let info = PacketInfo {
            send_time_ms: asf_bits::send_time(packet).unwrap_or(0),
            duration_ms: 0,
            index: self.index,
            key_frame: key,
        };
        self.index += 1;
        if let Err(e) = self
            .sink
            .on_data_unit(DataUnit::shared(packet.clone(), info))
        {
            tracing::warn!(target = %self.target, error = %e, "relay stopped");
            self.failed = true;
        }
    }
}

/// Connects one PushSink per relay target (PushSetup with AutoDestroy, so the
/// edge point goes away with the origin's session).
fn start_relays(targets: &[String], point: &str) -> Vec<Relay> {
    let mut out = Vec::new();
    for target in targets {
        let connected = tokio::task::block_in_place(|| {
            let mut sink = PushSink::new(PushSinkConfig::default()).map_err(|e| e.to_string())?;
            sink.connect(target, None, true)
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(sink)
        });
        match connected {
            Ok(sink) => {
                tracing::info!(point, %target, "relaying");
                out.push(Relay {
                    target: target.clone(),
                    sink,
                    index: 0,
                    failed: false,
                });
            }
            Err(e) => {
                tracing::warn!(point, %target, error = %e, "relay target refused or unreachable")
            }
        }
    }
    out
}

/// `$H` payload: the ASF header, or (PeerCastStation's reading) an 8-byte
/// MMS preheader then the header (push-protocol notes §2.2).
fn sniff_preheader(p: Bytes) -> Bytes {
    if p.len() >= 24 && p[..16] != ASF_HEADER_GUID && p[8..24] == ASF_HEADER_GUID {
        p.slice(8..)
    } else {
        p
    }
}

/// `$D` payload with an 8-byte preheader whose PacketSize field repeats the length.
fn sniff_data_preheader(p: Bytes, packet_size: usize) -> Bytes {
    if p.len() > 8 + 8
        && usize::from(u16::from_le_bytes([p[6], p[7]])) == p.len()
        && p.len() - 8 <= packet_size
        && p.len() > packet_size
    {
        p.slice(8..)
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_from_the_spec_example() {
        let d = parse_directives(b"Template-URL: \"/pub\"\r\nAutoDestroy: 1\r\n");
        assert_eq!(d.template_url.as_deref(), Some("/pub"));
        assert!(d.auto_destroy);
        assert_eq!(parse_directives(b""), Directives::default());
    }

    #[test]
    fn request_kinds_by_content_type() {
        let r = parse_request(b"POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup;charset=UTF-8\r\nContent-Length: 0\r\nCookie: push-id=42\r\n\r\n").expect("valid");
        assert_eq!(r.kind, Kind::Setup);
        assert_eq!(r.push_id.as_deref(), Some("42"));
        let r = parse_request(b"POST /live HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n")
            .expect("valid");
        assert_eq!(r.kind, Kind::Other);
    }

    #[test]
    fn preheader_is_sniffed() {
        let mut h = vec![0u8; 8];
        h.extend_from_slice(&ASF_HEADER_GUID);
        h.extend_from_slice(&[0; 14]);
        let out = sniff_preheader(Bytes::from(h));
        assert_eq!(&out[..16], &ASF_HEADER_GUID);
    }

    #[test]
    fn idle_sessions_are_purged_with_their_autodestroy_points() {
        let points = crate::point::PointRegistry::default();
        points.insert(PublishingPoint::new("a", PointSettings::default()));
        points.insert(PublishingPoint::new("b", PointSettings::default()));
        let table = SessionTable::default();
        let session = |point: &str| PushSession {
            point: point.to_owned(),
            auto_destroy: true,
            authenticated: false,
            free_start_used: false,
            user: None,
            last_active: std::time::Instant::now(),
        };
        table.insert("1".into(), session("a"));
        table.insert("2".into(), session("b"));
        // Session 2 is pushing: it stays, and so does its point.
        assert!(points.get("b").expect("b").claim("2"));
        assert!(
            table
                .purge_idle(&points, Duration::from_secs(60))
                .is_empty(),
            "not idle yet"
        );
        let gone = table.purge_idle(&points, Duration::ZERO);
        assert_eq!(gone, vec!["1".to_owned()]);
        assert!(
            points.get("a").is_none(),
            "AutoDestroy point of the idle session removed"
        );
        assert!(points.get("b").is_some());
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn archive_names_stay_in_folder() {
        let p = archive_path(std::path::Path::new("/tmp/a"), "../../etc/passwd");
        assert_eq!(p.parent(), Some(std::path::Path::new("/tmp/a")));
        assert!(!p.to_string_lossy().contains(".."));
    }
}
