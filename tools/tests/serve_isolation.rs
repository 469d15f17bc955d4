//! One output can stall no other (issue #15): on one server, point A relays to a target that
//! accepts TCP and never answers and writes to an added output that blocks for seconds, while
//! the players of point B, and A's own, see no gap over 500 ms; once the target answers, it
//! gets its session; `/_status` shows the outputs' state and drops all along.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use push_sink::{DataUnit, SinkStats, WriterSink};
use support::*;
use wmpush::config::{ServeConfig, Template};
use wmpush::outputs::{OutputContext, OutputSpec};
use wmpush::server::Server;

/// An output that blocks for 3 s on every 10th packet (a disk that stalls).
struct StallingSink {
    packets: Arc<AtomicU64>,
}

impl WriterSink for StallingSink {
    fn on_header(&mut self, _header: &Bytes) -> Result<(), push_sink::Error> {
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        false
    }

    fn on_data_unit(&mut self, _unit: DataUnit) -> Result<(), push_sink::Error> {
        let n = self.packets.fetch_add(1, Ordering::SeqCst);
        if n % 10 == 9 {
            std::thread::sleep(Duration::from_secs(3));
        }
        Ok(())
    }

    fn on_end_writing(&mut self) -> Result<(), push_sink::Error> {
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        SinkStats::new()
    }
}

/// A relay target that accepts TCP connections and never reads or writes, until stopped
/// (then every connection it holds is closed).
struct BlackHole {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlackHole {
    fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) if held.len() < 64 => held.push(s),
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        BlackHole {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn close(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("black hole thread");
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.close();
    }
}

fn output<'a>(
    status: &'a serde_json::Value,
    point_name: &str,
    kind: &str,
) -> Option<&'a serde_json::Value> {
    point(status, point_name)?["outputs"]
        .as_array()?
        .iter()
        .find(|o| o["kind"] == kind)
}

/// `wmpush pull --clients N --duration S --json --each` of `url`: the longest stall of
/// each player, ms (every player must have played to the end).
fn pull_stalls(url: String, clients: u32, seconds: u32) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let out = run_bounded(
            wmpush().args([
                "pull",
                &url,
                "--clients",
                &clients.to_string(),
                "--ramp",
                "0",
                "--duration",
                &seconds.to_string(),
                "--json",
                "--each",
            ]),
            Duration::from_secs(u64::from(seconds) + 20),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pull {url}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&text).expect("JSON report");
        report["each"]
            .as_array()
            .expect("each player")
            .iter()
            .map(|c| c["longest_stall_ms"].as_u64().expect("ms"))
            .collect()
    })
}

#[test]
fn a_dead_relay_and_a_stalling_output_stall_no_other_player() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut hole = BlackHole::start();
    let relay_target = hole.addr;

    let mut config = ServeConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServeConfig::default()
    };
    config.templates.insert(
        "relaying".into(),
        Template {
            relay: vec![format!("http://{relay_target}/edge")],
            ..Template::default()
        },
    );
    config.points = vec![("a".into(), Some("relaying".into())), ("b".into(), None)];
    let server = runtime.block_on(Server::bind(config, None)).expect("bind");
    let addr = server.local_addr().expect("addr");
    let stalled = Arc::new(AtomicU64::new(0));
    let counter = stalled.clone();
    server.add_output(Arc::new(move |cx: &OutputContext<'_>| {
        (cx.point == "a").then(|| {
            let packets = counter.clone();
            OutputSpec {
                kind: "stalling".into(),
                target: "a disk that stalls".into(),
                make: Box::new(move || {
                    Ok(Box::new(StallingSink {
                        packets: packets.clone(),
                    }) as Box<dyn WriterSink>)
                }),
                queue: push_sink::QueuedSinkConfig::default().queue_limits(64 * 1024, 1024),
            }
        })
    }));
    let shutdown = server.shutdown_handle();
    let serving = runtime.spawn(server.run());

    // Both points live, each from its own encoder, paced at 10 frames per second.
    let pushers: Vec<_> = ["/a", "/b"]
        .into_iter()
        .map(|path| {
            let mut p = RawPusher::new(addr, path);
            assert_eq!(p.setup("", None).status, 204, "setup {path}");
            p.start(None);
            let stream = test_stream(24);
            std::thread::spawn(move || p.push_stream(&stream, true))
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = status_json(addr);
            point(&s, "a").is_some_and(|p| p["live"] == true)
                && point(&s, "b").is_some_and(|p| p["live"] == true)
        }),
        "both points live: {}",
        status_json(addr)
    );

    // 10 s of players on both points while A's relay hangs and its added output stalls.
    let b_players = pull_stalls(format!("mmsh://{addr}/b"), 3, 10);
    let a_players = pull_stalls(format!("mmsh://{addr}/a"), 2, 10);
    std::thread::sleep(Duration::from_secs(6));
    let during = status_json(addr);
    let relay = output(&during, "a", "relay")
        .expect("A's relay in /_status")
        .clone();
    assert!(
        relay["state"] == "connecting" || relay["state"] == "retrying",
        "the relay waits for its target: {relay}"
    );
    assert_eq!(relay["target"], format!("http://{relay_target}/edge"));
    let slow = output(&during, "a", "stalling")
        .expect("the added output")
        .clone();
    assert!(
        slow["drops"].as_u64().unwrap_or(0) > 0,
        "the stalling output's 64 KiB queue overflowed and counted its drops: {slow}"
    );
    assert!(
        stalled.load(Ordering::SeqCst) > 0,
        "the stalling output got packets"
    );
    let metrics = http_get(addr, "/_metrics");
    let metrics = String::from_utf8_lossy(&metrics.body);
    assert!(
        metrics.contains("wmpush_output_drops_total{point=\"a\",kind=\"stalling\""),
        "{metrics}"
    );

    let b = b_players.join().expect("B's players");
    let a = a_players.join().expect("A's players");
    assert_eq!(b.len(), 3, "every player of B finished");
    assert_eq!(a.len(), 2, "every player of A finished");
    assert!(
        b.iter().all(|&ms| ms <= 500),
        "B's players' longest stalls (ms): {b:?}"
    );
    assert!(
        a.iter().all(|&ms| ms <= 500),
        "A's players' longest stalls (ms): {a:?}"
    );

    // The target comes back as a real server on the same address: the relay gets its session.
    hole.close();
    let edge_config = ServeConfig {
        listen: relay_target,
        ..ServeConfig::default()
    };
    let edge = runtime
        .block_on(Server::bind(edge_config, None))
        .expect("the edge takes the black hole's port");
    let edge_shutdown = edge.shutdown_handle();
    let edge_serving = runtime.spawn(edge.run());
    assert!(
        wait_until(Duration::from_secs(12), || point(
            &status_json(relay_target),
            "edge"
        )
        .is_some_and(|p| p["packets_in"].as_u64().unwrap_or(0) > 10)),
        "the edge gets the relay once it answers: origin {}",
        status_json(addr)
    );
    let after = status_json(addr);
    let relay = output(&after, "a", "relay").expect("relay").clone();
    assert_eq!(relay["state"], "live", "{relay}");
    assert!(relay["reconnects"].as_u64().unwrap_or(0) >= 1, "{relay}");

    for p in pushers {
        let _ = p.join().expect("pusher");
    }
    shutdown.shutdown();
    edge_shutdown.shutdown();
    runtime
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(40), async {
                let _ = serving.await;
                let _ = edge_serving.await;
            })
            .await
        })
        .expect("both servers stop");
}
