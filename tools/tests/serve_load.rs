//! A bounded load test (issue #15): 2,000 loopback MS-WMSP players of a ~1 Mbit/s
//! WMV2/WMA2 broadcast for 10 s, from `wmpush pull --clients` against `wmpush serve`
//! fed by `wmpush push --loop`. It asserts what must hold on any machine — every player
//! admitted and continuous (no stall over 2 s), the server's memory bounded per player —
//! and no timings; the speed figures live in bench/fanout.sh and BENCHMARKS.md.
//! Alone in its test binary, so no other test shares the machine while it runs.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const PLAYERS: u32 = 2000;
/// Server RSS growth allowed per player (the bench's target is 8 KiB; this bound is
/// loose so a debug build on a busy CI machine passes, and tight enough to catch a
/// per-player copy of the stream or a leak).
const MAX_KIB_PER_PLAYER: u64 = 48;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("server status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The hard RLIMIT_NOFILE of this process (what `ulimit -n` may raise the soft one to).
fn hard_nofile() -> u64 {
    let out = Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .expect("sh");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if text == "unlimited" {
        u64::MAX
    } else {
        text.parse().expect("a number")
    }
}

#[test]
fn two_thousand_players_are_all_continuous_with_bounded_memory() {
    if !have("ffmpeg") {
        return;
    }
    let nofile = hard_nofile().min(65_536);
    assert!(
        nofile >= u64::from(PLAYERS) + 500,
        "the load test needs {} file descriptors per process; the hard limit is {nofile}",
        PLAYERS + 500
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // 10 s of 640x480 noise (so WMV2 spends its 900 kbit/s) + 128 kbit/s WMA2.
    let media = dir.path().join("1mbit.asf");
    let made = run_bounded(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc=size=640x480:rate=25:duration=10,noise=alls=30:allf=t")
            .args([
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=1000:sample_rate=44100:duration=10",
            ])
            .args(["-c:v", "wmv2", "-b:v", "900k", "-g", "50"])
            .args(["-c:a", "wmav2", "-b:a", "128k", "-ac", "2", "-f", "asf"])
            .arg(&media),
        Duration::from_secs(120),
    );
    assert!(
        made.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "[server]\nmax_connections = 4000\nmax_players = 4000\n\
         [default_template]\nallow_create = true\nmax_players = 4000\n",
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let (server, addr) = start_serve_with_nofile(nofile as u32, &["--config", &config]);
    let pid = server.0.id();
    let _pusher = Running(
        wmpush()
            .args(["push", "--loop"])
            .arg(&media)
            .arg(format!("http://{addr}/live"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("push"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            status_json(addr)["points"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "live" && p["live"] == true))
        }),
        "the point goes live: {}",
        status_json(addr)
    );
    let idle = rss_kib(pid);

    // 2,000 players over a 2 s ramp, 12 s in all; the server's RSS is read at 10 s.
    let load = std::thread::spawn(move || {
        run_bounded(
            Command::new("sh")
                .arg("-c")
                .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_wmpush"))
                .arg("pull")
                .arg(format!("mmsh://{addr}/live"))
                .args(["--clients", &PLAYERS.to_string()])
                .args(["--ramp", "2", "--duration", "12", "--json"]),
            Duration::from_secs(60),
        )
    });
    std::thread::sleep(Duration::from_secs(10));
    let loaded = rss_kib(pid);
    let players_now = status_json(addr)["server"]["players"].as_u64();
    let out = load.join().expect("load thread");
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "load report ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        report["played"], PLAYERS,
        "every player admitted and played: {report}"
    );
    assert_eq!(
        report["continuous"], PLAYERS,
        "no player stalled over 2 s: {report}"
    );
    assert!(
        report["mean_kbit_s"].as_f64().is_some_and(|k| k > 700.0),
        "players receive the live rate: {report}"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let per_player = loaded.saturating_sub(idle) / u64::from(PLAYERS);
    assert!(
        per_player <= MAX_KIB_PER_PLAYER,
        "server RSS {idle} KiB idle, {loaded} KiB with {PLAYERS} players ({players_now:?} in /_status): \
         {per_player} KiB per player"
    );
    println!(
        "{PLAYERS} players: RSS {idle} -> {loaded} KiB ({per_player} KiB/player), first packet p99 {} ms, \
         longest stall {} ms",
        report["first_packet_ms"]["p99"], report["longest_stall_ms"]["max"]
    );
}
