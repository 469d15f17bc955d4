//! The publishing-point server embedded as a library (`wmpush::server::Server`),
//! fed by `wmpush::push` (push-sink's PushSink) with every kind of test media
//! (ffmpeg and GStreamer writers, plain, broadcast-pipe and MMSH-framed), and
//! ffmpeg playing each stream from the point over MMSH.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wmpush::config::ServeConfig;
use wmpush::push::{PushOptions, run as push_run};
use wmpush::server::Server;
use wmpush_tests::{Media, Tool, missing, run_with_timeout};

#[test]
fn every_media_kind_pushes_and_plays() {
    if Tool::Ffmpeg.find().is_none() {
        let _: Option<()> = missing("ffmpeg");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServeConfig::default()
    };
    let server = rt.block_on(Server::bind(config, None)).expect("bind");
    let addr = server.local_addr().expect("addr");
    let state = server.state();
    let shutdown = server.shutdown_handle();
    let server_task = rt.spawn(server.run());

    for media in Media::ALL {
        let Some(path) = media.path() else { return };
        let point = format!("{media:?}").to_ascii_lowercase();
        let stop = Arc::new(AtomicBool::new(false));
        let opts = PushOptions {
            input: path.to_string_lossy().into_owned(),
            url: format!("http://{addr}/{point}"),
            progress: false,
            ..PushOptions::default()
        };
        let flag = stop.clone();
        let pusher = std::thread::spawn(move || push_run(opts, flag));
        let start = Instant::now();
        while !state.points.get(&point).is_some_and(|p| p.is_live()) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{media:?}: the point goes live"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(700));
        let out = run_with_timeout(
            Command::new("ffmpeg").args([
                "-nostdin",
                "-v",
                "error",
                "-xerror",
                "-i",
                &format!("mmsh://{addr}/{point}"),
                "-t",
                "2",
                "-f",
                "null",
                "-",
            ]),
            Duration::from_secs(30),
        );
        assert!(out.success(), "{media:?}: ffmpeg failed: {}", out.stderr);
        assert!(
            out.stderr.trim().is_empty(),
            "{media:?}: ffmpeg reported: {}",
            out.stderr
        );
        // Ctrl-C equivalent: the push ends with $E(0).
        stop.store(true, Ordering::Relaxed);
        let report = pusher
            .join()
            .expect("push thread")
            .unwrap_or_else(|e| panic!("{media:?}: {e}"));
        assert!(report.packets > 0, "{media:?}");
        // The server handles the final `$E(0)` on its own task: give it a bounded moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let live = state
                .points
                .get(&point)
                .expect("point kept (no AutoDestroy)")
                .is_live();
            if !live {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{media:?}: $E(0) did not end the point within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    shutdown.shutdown();
    let _ = rt.block_on(server_task);
}

#[test]
fn embedded_demo_check_passes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt
        .block_on(wmpush::demo::run(wmpush::demo::DemoOptions {
            duration: Some(Duration::from_secs(3)),
            check: true,
            progress: false,
            ..wmpush::demo::DemoOptions::default()
        }))
        .expect("demo check passes");
    assert!(report.verified > 50, "{report:?}");
    assert_eq!(report.frames, 30);
}
