//! `wmpush serve` against a raw-socket, spec-faithful MS-WMHTTP encoder
//! (PushSetup then PushStart exactly as the spec's examples), with real
//! players on the other side.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;
use wmpush::auth::{AuthFile, answer_challenge};

#[test]
fn raw_encoder_push_plays_in_ffmpeg_and_autodestroys() {
    let (_server, addr) = start_serve(&[]);
    let stream = test_stream(10);
    let mut pusher = RawPusher::new(addr, "/live");
    let r = pusher.setup("AutoDestroy: 1\r\n", None);
    assert_eq!(r.status, 204, "PushSetup accepted");
    // MS-WMHTTP 2.2.2.2: Server must be Cougar or Rex, or the encoder gives up.
    assert!(r.header("Server").is_some_and(|s| s.starts_with("Cougar/")));
    assert!(pusher.push_id != "0" && !pusher.push_id.is_empty());
    assert_eq!(r.header("Cache-Control"), Some("no-cache"));
    pusher.start(None);
    let push = std::thread::spawn(move || {
        pusher.push_stream(&stream, true).expect("push");
        pusher
    });
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "live"
    )
    .is_some_and(|p| p["live"] == true)));
    let s = status_json(addr);
    let p = point(&s, "live").expect("listed");
    assert_eq!(p["auto_destroy"], true);
    assert_eq!(p["encoder_session"], true);

    if have("ffmpeg") {
        assert_ffmpeg_plays(&format!("mmsh://{addr}/live"), 3, "raw encoder's push");
    }
    // A second encoder is refused while the first one pushes.
    let mut second = RawPusher::new(addr, "/live");
    let r = second.setup("", None);
    assert_eq!(r.status, 409, "second encoder gets 409");

    push.join().expect("pusher thread");
    // $E(0) with AutoDestroy: the point disappears.
    assert!(
        wait_until(Duration::from_secs(5), || point(&status_json(addr), "live")
            .is_none()),
        "AutoDestroy removed the point: {}",
        status_json(addr)
    );
}

#[test]
fn players_get_end_of_stream_and_late_join_at_key_frame() {
    let (_server, addr) = start_serve(&[]);
    let stream = test_stream(4);
    let mut pusher = RawPusher::new(addr, "/keep");
    assert_eq!(pusher.setup("", None).status, 204);
    pusher.start(None);
    let push = std::thread::spawn(move || pusher.push_stream(&stream, true));
    std::thread::sleep(Duration::from_millis(1500));
    // Late joiner with the built-in pull client (wmpush pull).
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("pulled.asf");
    let out = run_bounded(
        wmpush()
            .args(["pull", &format!("mmsh://{addr}/keep"), "-o"])
            .arg(&out_file),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stream ended"),
        "ended by $E(0)"
    );
    push.join().expect("thread").expect("push");
    let bytes = std::fs::read(&out_file).expect("file");
    let facts = wmpush::point::StreamFacts::read(&bytes).expect("header");
    let header_len = u64::from_le_bytes(bytes[16..24].try_into().expect("8")) as usize + 50;
    let first = &bytes[header_len..header_len + facts.packet_size];
    // The first payload the late joiner gets starts a video key frame: no tail of an
    // earlier media object comes before it (ASF 5.2.3.1 key bit, offset 0).
    let view = asf_format::packet::PacketView::parse(first, facts.packet_size as u32, 0)
        .expect("first packet parses");
    let payload = view.payloads().next().expect("a payload");
    assert!(
        facts.video_streams.contains(&payload.stream_number)
            && payload.key_frame
            && payload.offset_into_media_object == 0,
        "late joiner starts at a video key frame: {payload:?}"
    );
    assert_eq!(
        (bytes.len() - header_len) % facts.packet_size,
        0,
        "fixed-size packets"
    );
    if have("ffmpeg") {
        let out = run_bounded(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-xerror", "-i"])
                .arg(&out_file)
                .args(["-f", "null", "-"]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "pulled file decodes: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // After $E(0) without AutoDestroy the point stays, not live.
    let s = status_json(addr);
    assert_eq!(point(&s, "keep").expect("kept")["live"], false);
}

fn auth_server() -> (Running, std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.htdigest");
    std::fs::write(
        &file,
        format!("{}\n", AuthFile::line("alice", "wmpush", "s3cret")),
    )
    .expect("write");
    let (srv, addr) = start_serve(&["--auth-file", file.to_str().expect("utf-8")]);
    (srv, addr, dir)
}

#[test]
fn digest_and_basic_auth() {
    let (_server, addr, _dir) = auth_server();
    // No credentials: 401 with both schemes, and nothing is created.
    let mut p = RawPusher::new(addr, "/secure");
    let r = p.setup("AutoDestroy: 0\r\n", None);
    assert_eq!(r.status, 401);
    let challenges = r.all("WWW-Authenticate");
    assert!(
        challenges.iter().any(|c| c.starts_with("Digest ")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic ")),
        "{challenges:?}"
    );
    assert!(
        point(&status_json(addr), "secure").is_none(),
        "no point created on 401"
    );
    assert_eq!(status_json(addr)["server"]["encoder_sessions"], 0);

    // Wrong password: 401 again.
    let digest = challenges
        .iter()
        .find(|c| c.starts_with("Digest "))
        .expect("digest");
    let bad = answer_challenge(digest, "alice", "wrong", "POST", "/secure").expect("answer");
    let mut p = RawPusher::new(addr, "/secure");
    assert_eq!(p.setup("", Some(&bad)).status, 401);
    assert!(point(&status_json(addr), "secure").is_none());

    // Digest with the right password (new connection, as the encoder does).
    let mut p = RawPusher::new(addr, "/secure");
    let r = p.setup("", None);
    let digest = r
        .all("WWW-Authenticate")
        .into_iter()
        .find(|c| c.starts_with("Digest "))
        .expect("digest")
        .to_owned();
    let mut p = RawPusher::new(addr, "/secure");
    let good = answer_challenge(&digest, "alice", "s3cret", "POST", "/secure").expect("answer");
    assert_eq!(p.setup("", Some(&good)).status, 204);
    // The encoder sends PushStart without credentials after an authenticated setup.
    p.start(None);
    let s = test_stream(1);
    p.push_stream(&s, true).expect("push");
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "secure"
    )
    .is_some_and(|p| p["packets_in"].as_u64().unwrap_or(0) > 0)));

    // Basic.
    let basic =
        answer_challenge("Basic realm=\"wmpush\"", "alice", "s3cret", "POST", "/b").expect("basic");
    let mut p = RawPusher::new(addr, "/b");
    assert_eq!(p.setup("", Some(&basic)).status, 204);
    let bad_basic =
        answer_challenge("Basic realm=\"wmpush\"", "alice", "nope", "POST", "/c").expect("basic");
    let mut p = RawPusher::new(addr, "/c");
    assert_eq!(p.setup("", Some(&bad_basic)).status, 401);
    assert!(point(&status_json(addr), "c").is_none());

    // A PushStart with an unknown push-id and no credentials is refused too:
    // MS-WMHTTP 3.2.5.3 makes an unknown push-id an error (push-protocol's
    // PushServer answers 404 before asking for credentials), and nothing is created.
    let mut p = RawPusher::new(addr, "/d");
    p.push_id = "12345".into();
    p.start(None);
    assert_eq!(p.response().status, 404);
    assert!(point(&status_json(addr), "d").is_none());
}

#[test]
fn templates_create_points_and_status_shows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("wmpush.toml");
    std::fs::write(
        &cfg,
        "[default_template]\nallow_create = false\n\n[templates.live]\nallow_create = true\nmax_players = 5\n\n[[points]]\nname = \"fixed\"\n",
    )
    .expect("write");
    let (_server, addr) = start_serve(&["--config", cfg.to_str().expect("utf-8")]);
    let s = status_json(addr);
    assert!(point(&s, "fixed").is_some(), "declared point exists: {s}");
    // No Template-URL and the default template forbids creation: 404.
    let mut p = RawPusher::new(addr, "/new");
    assert_eq!(p.setup("", None).status, 404);
    // Template-URL naming an unknown template: 404.
    let mut p = RawPusher::new(addr, "/new");
    assert_eq!(
        p.setup("Template-URL: \"/nope\"\r\nAutoDestroy: 1\r\n", None)
            .status,
        404
    );
    // Template-URL "/live": created from the template, visible in /_status.
    let mut p = RawPusher::new(addr, "/new");
    assert_eq!(
        p.setup("Template-URL: \"/live\"\r\nAutoDestroy: 1\r\n", None)
            .status,
        204
    );
    let s = status_json(addr);
    let created = point(&s, "new").expect("created");
    assert_eq!(created["template"], "live");
    assert_eq!(created["auto_destroy"], true);
    // Pushing to the declared point works without a template.
    let mut q = RawPusher::new(addr, "/fixed");
    assert_eq!(q.setup("", None).status, 204);
    // HTML and metrics pages name the points.
    let html = http_get(addr, "/_status.html");
    let text = String::from_utf8_lossy(&html.body);
    assert!(
        text.contains("http-equiv=\"refresh\"") && text.contains(">new<"),
        "{text}"
    );
    let m = http_get(addr, "/_metrics");
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains("wmpush_point_live{point=\"new\"} 0"),
        "{text}"
    );
    assert!(text.contains("# TYPE wmpush_points gauge"));
}

#[test]
fn bad_requests_are_refused_cleanly() {
    let (_server, addr) = start_serve(&[]);
    // Unknown content type.
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    use std::io::Write as _;
    s.write_all(b"POST /x HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n")
        .expect("write");
    assert_eq!(read_response(&mut s).status, 415);
    // Chunked PushStart (MS-WMHTTP forbids chunked).
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(b"POST /x HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nTransfer-Encoding: chunked\r\n\r\n").expect("write");
    assert_eq!(read_response(&mut s).status, 400);
    // Players on a missing point: 404; browsers get an ASX.
    assert_eq!(http_get(addr, "/missing").status, 404);
    // $D before $H breaks the session; the point ends and the server keeps serving.
    let mut p = RawPusher::new(addr, "/broken");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    let _ = p.send(&frame(b'D', &[0u8; 40]));
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "broken"
    )
    .is_some_and(|p| p["encoder_session"] == false)));
    assert_eq!(http_get(addr, "/_status").status, 200);
}

#[test]
fn serve_refuses_public_address_without_auth() {
    let out = run_bounded(
        wmpush().args(["serve", "--listen", "0.0.0.0:0"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auth-file"));
    let out = run_bounded(
        wmpush().args(["serve", "--config", "/nonexistent/wmpush.toml"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(3));
}

fn archive_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn archive_is_indexed_and_decodes_also_after_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("archive");
    let (server, addr) = start_serve(&["--archive-dir", archive.to_str().expect("utf-8")]);
    let mut p = RawPusher::new(addr, "/rec/../../evil");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    p.push_stream(&test_stream(3), true).expect("push");
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "rec/../../evil"
    )
    .is_some_and(|p| p["live"] == false)));
    let files = archive_files(&archive);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    assert!(
        name.starts_with("rec_______evil-") && name.ends_with(".asf"),
        "{name}"
    );
    if have("ffmpeg") {
        let out = run_bounded(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-xerror", "-i"])
                .arg(&files[0])
                .args(["-f", "null", "-"]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "archive decodes: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Seek into the middle.
        let out = run_bounded(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-ss", "1.5", "-i"])
                .arg(&files[0])
                .args(["-frames:v", "1", "-f", "null", "-"]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "archive seeks: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Killed mid-stream: the archive written so far still plays.
    let mut p = RawPusher::new(addr, "/killed");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    let stream = test_stream(2);
    p.push_stream(&stream, false).expect("push");
    std::thread::sleep(Duration::from_millis(300));
    drop(server); // SIGKILL
    let files = archive_files(&archive);
    let killed = files
        .iter()
        .find(|f| f.to_string_lossy().contains("killed-"))
        .expect("archive of the killed session");
    if have("ffmpeg") {
        let out = run_bounded(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-i"])
                .arg(killed)
                .args(["-f", "null", "-"]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "cut-off archive plays: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // ...and seeks: to a second in, one picture decoded.
        let out = run_bounded(
            Command::new("ffmpeg")
                .args(["-nostdin", "-v", "error", "-ss", "1.0", "-i"])
                .arg(killed)
                .args(["-frames:v", "1", "-f", "null", "-"]),
            Duration::from_secs(30),
        );
        assert!(
            out.status.success(),
            "cut-off archive seeks: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn graceful_shutdown_sends_end_to_players() {
    let (mut server, addr) = start_serve(&[]);
    let mut p = RawPusher::new(addr, "/live");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    let stream = test_stream(6);
    let push = std::thread::spawn(move || {
        let _ = p.push_stream(&stream, false);
    });
    std::thread::sleep(Duration::from_millis(800));
    let player = std::thread::spawn(move || {
        run_bounded(
            wmpush().args(["pull", &format!("mmsh://{addr}/live"), "-o", "/dev/null"]),
            Duration::from_secs(30),
        )
    });
    std::thread::sleep(Duration::from_millis(800));
    // SIGTERM.
    let pid = server.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = {
        let start = std::time::Instant::now();
        loop {
            if let Some(s) = server.0.try_wait().expect("wait") {
                break Some(s);
            }
            if start.elapsed() > Duration::from_secs(10) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "serve exits 0 on SIGTERM: {status:?}"
    );
    let out = player.join().expect("player");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stream ended"),
        "player got $E"
    );
    let _ = push.join();
}

#[test]
fn relay_chain_origin_to_edge_plays() {
    let (_edge, edge_addr) = start_serve(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("origin.toml");
    std::fs::write(
        &cfg,
        format!("[templates.live]\nrelay = [\"http://{edge_addr}/edge\"]\n\n[[points]]\nname = \"live\"\ntemplate = \"live\"\n"),
    )
    .expect("write");
    let (_origin, origin_addr) = start_serve(&["--config", cfg.to_str().expect("utf-8")]);
    let mut p = RawPusher::new(origin_addr, "/live");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    let stream = test_stream(8);
    let push = std::thread::spawn(move || p.push_stream(&stream, true));
    assert!(
        wait_until(Duration::from_secs(8), || point(
            &status_json(edge_addr),
            "edge"
        )
        .is_some_and(|p| p["packets_in"].as_u64().unwrap_or(0) > 20)),
        "edge receives the relay: {}",
        status_json(edge_addr)
    );
    if have("ffmpeg") {
        assert_ffmpeg_plays(&format!("mmsh://{edge_addr}/edge"), 2, "from the edge");
    }
    push.join().expect("thread").expect("push");
    // The origin's $E(0) ends the relay session; AutoDestroy removes the edge point.
    assert!(wait_until(Duration::from_secs(8), || point(
        &status_json(edge_addr),
        "edge"
    )
    .is_none()));
}

#[test]
fn browsers_get_asx_plain_http_asf_and_player_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[default_template]\nmax_players = 1\n").expect("write");
    let (_server, addr) = start_serve(&["--config", cfg.to_str().expect("utf-8")]);
    let mut p = RawPusher::new(addr, "/tv");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    let stream = test_stream(8);
    let push = std::thread::spawn(move || p.push_stream(&stream, true));
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "tv"
    )
    .is_some_and(|p| p["live"] == true)));
    // A browser (User-Agent not NSPlayer) gets an ASX pointing back at the point.
    let r = http_get(addr, "/tv");
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.to_ascii_lowercase().contains("<asx") && body.contains("/tv"),
        "{body}"
    );
    // Plain ASF over HTTP: header then fixed-size packets.
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    use std::io::{Read as _, Write as _};
    s.write_all(format!("GET /tv?format=asf HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .expect("write");
    let r = read_response(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("video/x-ms-asf"));
    let mut head = vec![0u8; 30];
    s.read_exact(&mut head).expect("header");
    assert_eq!(&head[..4], &[0x30, 0x26, 0xB2, 0x75]);
    // With max_players = 1 that plain-HTTP player is the one: an MMSH Play gets 503.
    assert_play_refused_503(addr, "tv");
    drop(s);
    push.join().expect("thread").expect("push");
}

/// `wmpush pull` of `/name` is refused with 503 (exit 6).
fn assert_play_refused_503(addr: std::net::SocketAddr, name: &str) {
    let out = run_bounded(
        wmpush().args(["pull", &format!("mmsh://{addr}/{name}"), "-o", "-"]),
        Duration::from_secs(20),
    );
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("503"));
}

/// `wmpush serve` with `config` (TOML text, written into `dir`), and a raw
/// encoder pushing 8 s of the test stream to `/name`, live when this returns.
fn serve_with_live_push(
    dir: &std::path::Path,
    config: &str,
    name: &str,
) -> (
    Running,
    std::net::SocketAddr,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let cfg = dir.join("serve.toml");
    std::fs::write(&cfg, config).expect("write");
    let (server, addr) = start_serve(&["--config", cfg.to_str().expect("utf-8")]);
    (server, addr, live_push(addr, name, 8))
}

/// A raw encoder pushing `seconds` of the test stream to `/name` on `addr`, live when this
/// returns.
fn live_push(
    addr: std::net::SocketAddr,
    name: &str,
    seconds: u64,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    let mut p = RawPusher::new(addr, &format!("/{name}"));
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    let stream = test_stream(seconds);
    let push = std::thread::spawn(move || p.push_stream(&stream, true));
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        name
    )
    .is_some_and(|p| p["live"] == true)));
    push
}

/// The background player ended well and saved more than 20 packets.
fn assert_player_played(
    player: std::thread::JoinHandle<std::process::Output>,
    file: &std::path::Path,
) {
    let out = player.join().expect("player");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(file).map(|m| m.len()).unwrap_or(0) > 20 * 3600);
}

/// `wmpush pull mmsh://ADDR/NAME --duration 4 -o FILE` in a thread.
fn pull_in_background(
    addr: std::net::SocketAddr,
    name: &str,
    file: &std::path::Path,
) -> std::thread::JoinHandle<std::process::Output> {
    let url = format!("mmsh://{addr}/{name}");
    let file = file.to_owned();
    std::thread::spawn(move || {
        run_bounded(
            wmpush()
                .args(["pull", &url, "--duration", "4", "-o"])
                .arg(&file),
            Duration::from_secs(30),
        )
    })
}

#[test]
fn limits_refuse_only_newcomers_and_slow_heads_time_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr, push) = serve_with_live_push(
        dir.path(),
        "[server]\nmax_connections = 4\nheader_timeout_secs = 1\n",
        "lim",
    );
    let out_file = dir.path().join("player.asf");
    let player = pull_in_background(addr, "lim", &out_file);
    std::thread::sleep(Duration::from_millis(1000));
    // Two clients that never finish their request head (slowloris) fill the slots.
    let mut idle_a = std::net::TcpStream::connect(addr).expect("connect");
    let _idle_b = std::net::TcpStream::connect(addr).expect("connect");
    std::thread::sleep(Duration::from_millis(200));
    // The newcomer is refused with 503...
    let r = http_get(addr, "/_status");
    assert_eq!(r.status, 503, "connection limit reached");
    // ...the slow clients are cut off after the head timeout...
    use std::io::Read as _;
    idle_a
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let n = idle_a.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf.starts_with(b"HTTP/1.0 400"),
        "slow client gets 400 or a close"
    );
    std::thread::sleep(Duration::from_millis(300));
    // ...and the server serves again, with the refusal counted.
    let s = status_json(addr);
    assert!(
        s["server"]["connections_refused"].as_u64().unwrap_or(0) >= 1,
        "{s}"
    );
    // The player connected before was never disturbed.
    assert_player_played(player, &out_file);
    push.join().expect("thread").expect("push");
}

#[test]
fn session_and_player_limits_refuse_only_newcomers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr, push) = serve_with_live_push(
        dir.path(),
        "[server]\nmax_sessions = 1\n\n[default_template]\nmax_players = 1\n",
        "one",
    );
    // The one player allowed.
    let out_file = dir.path().join("player.asf");
    let player = pull_in_background(addr, "one", &out_file);
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "one"
    )
    .is_some_and(|p| p["players"] == 1)));
    // A second encoder is over the session limit: 503, and no point is left behind.
    let mut second = RawPusher::new(addr, "/two");
    assert_eq!(second.setup("", None).status, 503, "session limit");
    let s = status_json(addr);
    assert!(point(&s, "two").is_none(), "{s}");
    assert_eq!(s["server"]["encoder_sessions"], 1);
    // A second player is over the point's player limit: 503 (exit 6).
    assert_play_refused_503(addr, "one");
    // The first player played on, undisturbed.
    assert_player_played(player, &out_file);
    push.join().expect("thread").expect("push");
}

#[test]
fn refused_streams_get_a_status_and_their_session_is_forgotten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("limits.toml");
    std::fs::write(&cfg, "[default_template]\nmax_bitrate = 1000\n").expect("write");
    let (_server, addr) = start_serve(&["--config", cfg.to_str().expect("utf-8")]);
    // An unreadable $H: 400 on the PushStart, the session is gone, AutoDestroy applies.
    let mut p = RawPusher::new(addr, "/junk");
    assert_eq!(p.setup("AutoDestroy: 1\r\n", None).status, 204);
    p.start(None);
    p.send(&frame(b'H', b"this is not an ASF header"))
        .expect("send");
    assert_eq!(p.response().status, 400);
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = status_json(addr);
            s["server"]["encoder_sessions"] == 0 && point(&s, "junk").is_none()
        }),
        "{}",
        status_json(addr)
    );
    // Its push-id is unknown now.
    let mut again = RawPusher::new(addr, "/junk");
    again.push_id = p.push_id.clone();
    again.start(None);
    assert_eq!(again.response().status, 404);
    // A stream over the template's bitrate limit: 413, nothing goes live.
    let mut p = RawPusher::new(addr, "/big");
    assert_eq!(p.setup("", None).status, 204);
    p.start(None);
    p.send(&frame(b'H', &test_stream(1).header)).expect("send");
    assert_eq!(p.response().status, 413);
    let s = status_json(addr);
    assert!(point(&s, "big").is_some_and(|p| p["live"] == false), "{s}");
    assert_eq!(s["server"]["encoder_sessions"], 0);
}

/// VLC's MMSH server drops every client when it runs out of file descriptors; ours refuses
/// only the newcomers. `wmpush serve` runs with RLIMIT_NOFILE 48, an encoder pushes and a
/// player plays, then 80 idle connections arrive (far more than the descriptors left): the
/// player and the encoder are undisturbed, the server counts the refusals, and once the flood
/// is gone (closed by the client, or by the server's header timeout) a new player plays.
#[test]
fn descriptor_exhaustion_refuses_only_newcomers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, "[server]\nheader_timeout_secs = 2\n").expect("write");
    let (_server, addr) = start_serve_with_nofile(48, &["--config", cfg.to_str().expect("utf-8")]);
    let push = live_push(addr, "fd", 8);
    let out_file = dir.path().join("player.asf");
    let player = pull_in_background(addr, "fd", &out_file);
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "fd"
    )
    .is_some_and(|p| p["players"] == 1)));
    // The flood: idle connections that never send a request head. Connecting succeeds (the
    // kernel queues them) even when the server has no descriptor left to accept them.
    let flood: Vec<std::net::TcpStream> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(addr).ok())
        .collect();
    assert!(flood.len() >= 40, "only {} flood connections", flood.len());
    std::thread::sleep(Duration::from_millis(700));
    // Newcomers past the limit are accepted on the reserve descriptor and told 503 at once.
    let told_503 = flood
        .iter()
        .filter(|c| {
            use std::io::Read as _;
            let _ = c.set_read_timeout(Some(Duration::from_millis(50)));
            let mut buf = [0u8; 64];
            let mut reader: &std::net::TcpStream = c;
            matches!(reader.read(&mut buf), Ok(n) if buf[..n].starts_with(b"HTTP/1.0 503"))
        })
        .count();
    assert!(told_503 > 0, "no newcomer was refused with 503");
    std::thread::sleep(Duration::from_secs(1));
    drop(flood);
    // The player and the encoder were not disturbed.
    assert_player_played(player, &out_file);
    push.join()
        .expect("thread")
        .expect("the encoder pushed to the end");
    // The server is healthy and says it refused newcomers.
    let mut refused = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let s = std::net::TcpStream::connect(addr)
                .is_ok()
                .then(|| status_json(addr));
            refused = s.map_or(0, |s| {
                s["server"]["connections_refused"].as_u64().unwrap_or(0)
            });
            refused > 0
        }),
        "no refusal counted"
    );
    // A new encoder and player are served again.
    let push = live_push(addr, "fd2", 6);
    let out_file = dir.path().join("player2.asf");
    assert_player_played(pull_in_background(addr, "fd2", &out_file), &out_file);
    push.join().expect("thread").expect("push");
}
