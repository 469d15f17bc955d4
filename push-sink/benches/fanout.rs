//! NetworkSink / BroadcastHub fan-out: one 4 Mbit/s stream (5,000-byte packets, 100 per
//! second) delivered unpaced to many loopback players over MS-WMSP. Each iteration publishes
//! one second of stream (100 packets) and waits until every player has received it.
//!
//! Bench ids: `fanout/players/10`, `fanout/players/100`, and `fanout/players/1000` (skipped
//! under `--test`, where criterion runs each bench once, to keep CI fast).
//!
//! Per client, it also prints (stderr) the process CPU time per second of stream and the RSS
//! growth from connecting the players (`/proc/self/stat`, `/proc/self/status`; Linux only).
//! Both include the in-process loopback players themselves (a tokio task and an 8 KiB read
//! buffer each), so they overstate what the sink alone costs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use push_sink::network_sink::{NetworkSink, NetworkSinkConfig};
use push_sink::testing::SyntheticStream;
use push_sink::{DataUnit, WriterSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PACKET_SIZE: usize = 5000;

/// Process CPU time (user + system) from `/proc/self/stat`, if readable. Clock ticks are
/// taken as 100 per second (`CLK_TCK` on Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Resident set size in KiB from `/proc/self/status`, if readable.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
const PACKETS_PER_ITER: usize = 100;

const PLAY: &[u8] = b"GET / HTTP/1.0\r\nUser-Agent: NSPlayer/7.10.0.3059\r\nPragma: no-cache,rate=1.000000,request-context=2\r\nPragma: xPlayStrm=1\r\nPragma: stream-switch-count=2\r\nPragma: stream-switch-entry=ffff:1:0 ffff:2:0 \r\n\r\n";

fn bench_fanout(c: &mut Criterion) {
    let test_mode = std::env::args().any(|a| a == "--test");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let stream = SyntheticStream::new(PACKET_SIZE, 10);
    let mut group = c.benchmark_group("fanout");
    group.sample_size(10);
    let counts: &[usize] = if test_mode {
        &[10, 100]
    } else {
        &[10, 100, 1000]
    };
    for &players in counts {
        let _guard = rt.enter();
        let mut sink =
            NetworkSink::new(NetworkSinkConfig::with_max_clients(players + 10)).expect("sink");
        let addr = sink.open(0).expect("open");
        sink.on_header(&stream.header).expect("header");
        // One key-frame packet so players have somewhere to start.
        sink.on_data_unit(DataUnit::shared(stream.packets[0].clone(), stream.infos[0]))
            .expect("first packet");
        let received = Arc::new(AtomicU64::new(0));
        let rss_before = rss_kib();
        for _ in 0..players {
            let received = received.clone();
            rt.spawn(async move {
                let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                    return;
                };
                if s.write_all(PLAY).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; 8 * 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    received.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
        let start = Instant::now();
        while sink.clients().len() < players {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "players did not connect"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let packet: Bytes = stream.packets[1].clone();
        let info = stream.infos[1];
        let per_player = (PACKETS_PER_ITER * (12 + packet.len())) as u64;
        group.throughput(Throughput::Bytes(per_player * players as u64));
        let rounds = Arc::new(AtomicU64::new(0));
        let cpu_before = cpu_time();
        group.bench_with_input(BenchmarkId::new("players", players), &players, |b, &n| {
            b.iter(|| {
                rounds.fetch_add(1, Ordering::Relaxed);
                let before = received.load(Ordering::Relaxed);
                for _ in 0..PACKETS_PER_ITER {
                    sink.on_data_unit(DataUnit::shared(packet.clone(), info))
                        .expect("publish");
                }
                let target = before + per_player * n as u64;
                let start = Instant::now();
                while received.load(Ordering::Relaxed) < target {
                    assert!(start.elapsed() < Duration::from_secs(60), "players stalled");
                    std::thread::yield_now();
                }
            })
        });
        assert_eq!(sink.stats().drops, 0, "no player was too slow");
        // Each round is one second of the 4 Mbit/s stream to every player.
        let rounds = rounds.load(Ordering::Relaxed).max(1);
        if let (Some(c0), Some(c1), Some(r0), Some(r1)) =
            (cpu_before, cpu_time(), rss_before, rss_kib())
        {
            let cpu_per_client = (c1 - c0).as_secs_f64() * 1e6 / (rounds as f64 * players as f64);
            let rss_per_client = r1.saturating_sub(r0) as f64 / players as f64;
            eprintln!(
                "fanout/players/{players}: {rounds} stream-seconds; process CPU {cpu_per_client:.1} µs per client per stream-second; RSS +{rss_per_client:.1} KiB per client"
            );
        }
        sink.close();
    }
    group.finish();
}

criterion_group!(benches, bench_fanout);
criterion_main!(benches);
