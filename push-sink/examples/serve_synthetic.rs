//! Serves a synthetic live stream to players over MS-WMSP (MMSH) with a `NetworkSink`, for a
//! few seconds, then checks what a subscriber of the sink's hub received:
//!
//! ```text
//! cargo run -p push-sink --example serve_synthetic -- [SECONDS]
//! ```
//!
//! While it runs, `ffplay mmsh://127.0.0.1:PORT/` (or VLC) can connect to the printed URL and
//! join at the latest key frame. The payloads are the conformance kit's placeholders, so a
//! player parses the stream but cannot decode the pictures.

use std::time::Duration;

use bytes::Bytes;
use push_sink::hub::HubItem;
use push_sink::network_sink::{NetworkSink, NetworkSinkConfig};
use push_sink::testing::SimpleMux;
use push_sink::{Clock, Sample, SystemClock, Writer};

fn main() -> Result<(), push_sink::Error> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .clamp(1, 3600);
    let mut sink = NetworkSink::new(NetworkSinkConfig::with_max_clients(8))?;
    let addr = sink.open(0)?; // 127.0.0.1, any free port
    println!("serving for {seconds} s: play mmsh://{addr}/");
    let hub = sink.hub().clone();

    let mut writer = Writer::new(Box::new(SimpleMux::new(1400)));
    writer.add_sink(Box::new(sink));
    writer.begin_writing()?;
    // An in-process "player": subscribes once the header is announced.
    let player = hub
        .subscribe(None, Some("serve_synthetic example".into()))
        .map_err(|e| push_sink::Error::Custom(e.to_string().into()))?;

    let mut packets = 0u64;
    let mut ended = false;
    let mut drain = |player: &push_sink::hub::Subscription| {
        while let Some(Some(item)) = player.try_next() {
            match item {
                HubItem::Packet(_) => packets += 1,
                HubItem::End => ended = true,
                _ => {}
            }
        }
    };
    let clock = SystemClock::new();
    let frames = seconds * 25;
    for i in 0..frames {
        let pt = i * 40;
        writer.write_sample(Sample {
            stream: 1,
            presentation_time_ms: pt,
            duration_ms: 40,
            key_frame: i % 25 == 0,
            data: Bytes::from(vec![0u8; 2000]),
        })?;
        writer.write_sample(Sample {
            stream: 2,
            presentation_time_ms: pt,
            duration_ms: 40,
            key_frame: true,
            data: Bytes::from(vec![0u8; 400]),
        })?;
        // The NetworkSink is real time: packets leave at their send times.
        while let Some(wait) = writer.deliver_due(clock.now()) {
            if wait > Duration::from_millis(40) {
                break;
            }
            std::thread::sleep(wait.max(Duration::from_millis(1)));
        }
        drain(&player);
    }
    writer.end_writing()?;
    drain(&player);
    let report = &writer.sink_reports()[0];
    println!(
        "made {} packets; the sink sent {} ({} dropped); the local player got {packets}, end {ended}",
        writer.packets_made(),
        report.stats.packets,
        report.stats.drops,
    );
    if packets != writer.packets_made() || !ended {
        return Err(push_sink::Error::Custom(
            "the local player missed packets".into(),
        ));
    }
    Ok(())
}
