//! `wmpush push` and `wmpush pull` through the built binary, into `wmpush serve`.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;
use wmpush::auth::AuthFile;

fn point<'a>(status: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    status["points"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn push_file_plays_and_ends_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 6);
    let (_server, addr) = start_serve(&[]);
    let url = format!("http://{addr}/live");
    let pusher = std::thread::spawn(move || {
        run_bounded(
            wmpush().args(["push", "-q"]).arg(&file).arg(&url),
            Duration::from_secs(40),
        )
    });
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "live"
    )
    .is_some_and(|p| p["live"] == true)));
    if have("ffmpeg") {
        assert_ffmpeg_plays(&format!("mmsh://{addr}/live"), 2, "pushed file");
    }
    let out = pusher.join().expect("thread");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("session ended"));
    let s = status_json(addr);
    let p = point(&s, "live").expect("point");
    assert_eq!(p["live"], false, "$E(0) ended the stream");
    assert_eq!(p["packets_in"], 6 * 10 * 10, "every packet arrived");
}

#[test]
fn ffmpeg_pipe_into_push_plays_wmv2_both_framings() {
    if !have("ffmpeg") {
        return;
    }
    let (_server, addr) = start_serve(&[]);
    for (format, point_name) in [("asf", "live"), ("asf_stream", "framed")] {
        let url = format!("http://{addr}/{point_name}");
        let mut encoder = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=320x240:rate=15",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                "7",
                "-c:v",
                "wmv2",
                "-b:v",
                "400k",
                "-c:a",
                "wmav2",
                "-b:a",
                "64k",
                "-f",
                format,
                "-",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg");
        let stdin = encoder.stdout.take().expect("piped");
        let pusher = Command::new(env!("CARGO_BIN_EXE_wmpush"))
            .args(["push", "-q", "-", &url])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wmpush");
        let _guard = (Running(encoder), ());
        let pusher = Running(pusher);
        assert!(
            wait_until(Duration::from_secs(10), || point(
                &status_json(addr),
                point_name
            )
            .is_some_and(|p| p["packets_in"].as_u64().unwrap_or(0) > 20)),
            "{format}: packets arrive"
        );
        assert_ffmpeg_plays(&format!("mmsh://{addr}/{point_name}"), 2, format);
        let mut pusher = pusher;
        let status = {
            let start = std::time::Instant::now();
            loop {
                if let Some(s) = pusher.0.try_wait().expect("wait") {
                    break Some(s);
                }
                if start.elapsed() > Duration::from_secs(20) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        assert!(
            status.is_some_and(|s| s.success()),
            "{format}: push exits 0 at the end of input: {status:?}"
        );
    }
}

#[test]
fn push_error_paths_have_distinct_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 1);
    let f = file.to_str().expect("utf-8");
    let code = |args: &[&str]| {
        let out = run_bounded(wmpush().args(args), Duration::from_secs(30));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // Missing file: input error.
    let (c, e) = code(&["push", "/nonexistent.asf", "http://127.0.0.1:9/x"]);
    assert_eq!(c, Some(3), "{e}");
    assert!(e.contains("no such file"), "{e}");
    // Malformed file: input error naming the byte offset.
    let junk = dir.path().join("junk.asf");
    std::fs::write(&junk, vec![0x42u8; 500]).expect("write");
    let (c, e) = code(&[
        "push",
        junk.to_str().expect("utf-8"),
        "http://127.0.0.1:9/x",
    ]);
    assert_eq!(c, Some(3), "{e}");
    assert!(e.contains("byte"), "{e}");
    // Bad URL: usage.
    let (c, e) = code(&["push", f, "ftp://host/x"]);
    assert_eq!(c, Some(2), "{e}");
    let (c, _) = code(&["push", f, "http://127.0.0.1:8080/"]);
    assert_eq!(c, Some(2));
    // Connection refused.
    let port = free_port();
    let (c, e) = code(&["push", f, &format!("http://127.0.0.1:{port}/x")]);
    assert_eq!(c, Some(4), "{e}");
    // --user without the password variable: usage.
    let (c, e) = code(&[
        "push",
        f,
        "http://127.0.0.1:9/x",
        "--user",
        "a",
        "--password-env",
        "WMPUSH_TEST_UNSET_VAR",
    ]);
    assert_eq!(c, Some(2), "{e}");

    // 401 without or with wrong credentials, success with the right ones.
    let htdigest = dir.path().join("users");
    std::fs::write(&htdigest, AuthFile::line("alice", "wmpush", "pw")).expect("write");
    let (_server, addr) = start_serve(&["--auth-file", htdigest.to_str().expect("utf-8")]);
    let url = format!("http://{addr}/sec");
    let (c, e) = code(&["push", "--no-pace", f, &url]);
    assert_eq!(c, Some(5), "{e}");
    let out = run_bounded(
        wmpush()
            .args(["push", "--no-pace", f, &url, "--user", "alice"])
            .env("WMPUSH_PASSWORD", "bad"),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_bounded(
        wmpush()
            .args(["push", "--no-pace", f, &url, "--user", "alice"])
            .env("WMPUSH_PASSWORD", "pw"),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(point(&status_json(addr), "sec").is_some_and(|p| p["packets_in"] == 100));
}

#[test]
fn second_pusher_and_unknown_template_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 6);
    let (_server, addr) = start_serve(&[]);
    let url = format!("http://{addr}/busy");
    let f = file.clone();
    let u = url.clone();
    let first = std::thread::spawn(move || {
        run_bounded(
            wmpush().args(["push", "-q"]).arg(&f).arg(&u),
            Duration::from_secs(40),
        )
    });
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "busy"
    )
    .is_some_and(|p| p["encoder_session"] == true)));
    let out = run_bounded(
        wmpush().args(["push", "-q"]).arg(&file).arg(&url),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(6),
        "409 is a refusal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("409"));
    let out = run_bounded(
        wmpush()
            .args(["push", "-q", "--template", "/nope"])
            .arg(&file)
            .arg(format!("http://{addr}/other")),
        Duration::from_secs(30),
    );
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(first.join().expect("thread").status.success());
}

#[test]
fn ctrl_c_ends_the_session_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 10);
    let (_server, addr) = start_serve(&[]);
    let mut pusher = wmpush()
        .args(["push", "--loop", "--auto-destroy"])
        .arg(&file)
        .arg(format!("http://{addr}/cc"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wmpush");
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "cc"
    )
    .is_some_and(|p| p["live"] == true)));
    let _ = Command::new("kill")
        .args(["-INT", &pusher.id().to_string()])
        .status();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = pusher.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = pusher.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 after Ctrl-C: {status:?}"
    );
    // $E(0) + AutoDestroy: the point is gone.
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "cc"
    )
    .is_none()));
}

#[test]
fn pull_saves_a_playable_file_and_reports_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, addr) = start_serve(&[]);
    // Errors: bad URL (2), refused connection (4), missing point (6), no -o (2).
    let code = |args: &[&str]| {
        run_bounded(wmpush().args(args), Duration::from_secs(30))
            .status
            .code()
    };
    assert_eq!(code(&["pull", "rtsp://x/y", "-o", "-"]), Some(2));
    assert_eq!(
        code(&[
            "pull",
            &format!("mmsh://127.0.0.1:{}/x", free_port()),
            "-o",
            "-"
        ]),
        Some(4)
    );
    assert_eq!(
        code(&["pull", &format!("mmsh://{addr}/missing"), "-o", "-"]),
        Some(6)
    );
    assert_eq!(code(&["pull", &format!("mmsh://{addr}/missing")]), Some(2));

    let file = dir.path().join("demo.asf");
    write_demo_asf(&file, 8);
    let url = format!("http://{addr}/p");
    let pusher = std::thread::spawn(move || {
        run_bounded(
            wmpush().args(["push", "-q"]).arg(&file).arg(&url),
            Duration::from_secs(40),
        )
    });
    assert!(wait_until(Duration::from_secs(5), || point(
        &status_json(addr),
        "p"
    )
    .is_some_and(|p| p["live"] == true)));
    let out_file = dir.path().join("pulled.asf");
    let out = run_bounded(
        wmpush()
            .args(["pull", &format!("mmsh://{addr}/p"), "--duration", "2", "-o"])
            .arg(&out_file),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&out_file).expect("pulled");
    assert!(
        bytes.len() > 10 * 3600,
        "about 2 s of packets: {}",
        bytes.len()
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
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Load generator: 3 clients, bounded.
    let out = run_bounded(
        wmpush().args([
            "pull",
            &format!("mmsh://{addr}/p"),
            "--clients",
            "3",
            "--duration",
            "1",
        ]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3 players: 3 played, 0 refused (503), 0 failed"),
        "{text}"
    );
    assert!(text.contains("first packet: p50 "), "{text}");
    assert_eq!(
        code(&["pull", &format!("mmsh://{addr}/p"), "--clients", "3"]),
        Some(2),
        "--clients needs --duration"
    );
    for bad in [
        &["--clients", "20001", "--duration", "1"][..],
        &["--clients", "3", "--duration", "1", "--ramp", "1"],
        &["--clients", "3", "--duration", "1", "--ramp", "-1"],
        &["--ramp", "1", "--duration", "1"],
    ] {
        let url = format!("mmsh://{addr}/p");
        let mut args = vec!["pull", url.as_str()];
        args.extend_from_slice(bad);
        assert_eq!(code(&args), Some(2), "usage error for {bad:?}");
    }
    assert!(pusher.join().expect("thread").status.success());
}
