//! `wmpush demo`: an embedded publishing point fed with a generated test
//! stream (colour bars with a running clock, a beep every second) through
//! push-sink's `Writer` and `PushSink`, and `--check`, which pulls the stream
//! back with the MS-WMSP client and verifies every packet.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use asf_packetizer::{Mode, Profile, StreamConfig};
use push_sink::push_sink::{PushSink, PushSinkConfig};
use push_sink::{DataUnit, Sample, SystemClock, Writer, WriterSink};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::ServeConfig;
use crate::exit::{CliError, Failure};
use crate::generator::{SignalConfig, render_audio, render_frame};
use crate::live_mux::{AUDIO_STREAM, VIDEO_STREAM};
use crate::pull::{Pulled, StreamUrl, pull};
use crate::server::Server;

/// Settings of a demo run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the embedded server listens (port 0 = any free port).
    pub listen: SocketAddr,
    /// Publishing point name.
    pub point: String,
    /// Stop after this long (`None` = until Ctrl-C).
    pub duration: Option<Duration>,
    /// Pull the stream back and verify it.
    pub check: bool,
    /// Picture and sound.
    pub signal: SignalConfig,
    /// ASF packet size.
    pub packet_size: u32,
    /// Show progress (a live line on a terminal, log lines otherwise).
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            point: "demo".to_owned(),
            duration: None,
            check: false,
            signal: SignalConfig::default(),
            packet_size: 3600,
            progress: true,
        }
    }
}

/// What a demo run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Pictures generated.
    pub frames: u64,
    /// Packets published.
    pub packets: u64,
    /// Packets pulled back and verified (check mode).
    pub verified: u64,
}

/// Compares what was pulled with what was published: the same header, and a
/// contiguous run of identical packets that starts at a key frame and ends
/// with the last packet published.
pub fn verify(
    header: &Bytes,
    published: &[(Bytes, bool)],
    pulled: &[Pulled],
) -> Result<u64, String> {
    let mut packets = Vec::new();
    let mut headers = 0;
    for item in pulled {
        match item {
            Pulled::Header(h) => {
                headers += 1;
                if h != header {
                    return Err("the pulled ASF header differs from the published one".into());
                }
            }
            Pulled::Packet(p) => packets.push(p),
        }
    }
    if headers == 0 {
        return Err("no ASF header was pulled".into());
    }
    let Some(first) = packets.first() else {
        return Err("no data packet was pulled".into());
    };
    // A player joining mid-stream starts at a packet that begins a key frame. The server may
    // hand it that packet as published, or with the payloads before the key frame (tails of
    // objects the player never saw) turned into padding (push-sink's join-packet trim, so
    // decoders do not get a broken first frame); both are correct starts.
    let video = push_sink::push_sink::asf_file::header_video_streams(header);
    let is_video = |s: u8| video.contains(&s);
    let Some(start) = published.iter().position(|(p, key)| {
        p == *first
            || (*key
                && push_sink::push_sink::asf_packet::trim_before_key_frame(p, is_video)
                    .is_some_and(|t| t == **first))
    }) else {
        return Err("the first pulled packet was never published (corrupted?)".into());
    };
    if !published[start].1 {
        return Err(format!(
            "the pulled stream starts at packet {start}, which is not a key frame"
        ));
    }
    for (i, p) in packets.iter().enumerate().skip(1) {
        match published.get(start + i) {
            Some((q, _)) if q == *p => {}
            Some(_) => {
                return Err(format!(
                    "pulled packet {i} (published #{}) differs",
                    start + i
                ));
            }
            None => return Err(format!("pulled packet {i} was never published")),
        }
    }
    let got_to = start + packets.len();
    if got_to != published.len() {
        return Err(format!(
            "missing packets: pulled up to #{got_to} of {} published",
            published.len()
        ));
    }
    Ok(packets.len() as u64)
}

/// Every packet published, with its key-frame flag (check mode).
type Published = Arc<Mutex<Vec<(Bytes, bool)>>>;

/// A second sink on the demo's [`Writer`] that records the header and every
/// packet it hands out, so `--check` can compare what players receive.
struct CheckSink {
    header: Arc<Mutex<Option<Bytes>>>,
    published: Published,
}

impl WriterSink for CheckSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), push_sink::SinkError> {
        *self.header.lock().unwrap_or_else(|e| e.into_inner()) = Some(header.clone());
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), push_sink::SinkError> {
        let key = unit.is_key_frame();
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((unit.into_packet(), key));
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), push_sink::SinkError> {
        Ok(())
    }
}

/// Lets the demo keep its [`PushSink`] (to call `end_session` after the
/// writer is done) while the [`Writer`] owns a sink.
struct SharedPushSink(Arc<Mutex<PushSink>>);

impl SharedPushSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, PushSink> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl WriterSink for SharedPushSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), push_sink::SinkError> {
        self.lock().on_header(header)
    }
    fn is_real_time(&self) -> bool {
        self.lock().is_real_time()
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> bytes::BytesMut {
        self.lock().allocate_data_unit(packet_size)
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), push_sink::SinkError> {
        self.lock().on_data_unit(unit)
    }
    fn on_end_writing(&mut self) -> Result<(), push_sink::SinkError> {
        self.lock().on_end_writing()
    }
    fn stats(&self) -> push_sink::SinkStats {
        self.lock().stats()
    }
    fn name(&self) -> String {
        self.lock().name()
    }
}

fn sink_error(e: impl std::fmt::Display) -> CliError {
    CliError::new(Failure::Failed, format!("demo writer: {e}"))
}

/// Runs the demo until `duration`, Ctrl-C, or (with `check`) the check's end.
///
/// The generated samples go through push-sink's [`Writer`] and [`PushSink`]
/// (MS-WMHTTP push over loopback) into the embedded server, exactly as an
/// external encoder's would. Needs tokio's multi-threaded runtime (the push
/// sink's blocking calls run in `block_in_place`).
pub async fn run(opts: DemoOptions) -> Result<DemoReport, CliError> {
    opts.signal
        .validate()
        .map_err(|e| CliError::new(Failure::Usage, e))?;
    let config = ServeConfig {
        listen: opts.listen,
        ..ServeConfig::default()
    };
    let server = Server::bind(config, None)
        .await
        .map_err(|e| CliError::new(Failure::Connection, format!("{e:#}")))?;
    let addr = server.local_addr()?;
    let state = server.state();
    let shutdown = server.shutdown_handle();
    let server_task = tokio::spawn(server.run());
    let published: Published = Arc::new(Mutex::new(Vec::new()));

    // The push sink: PushSetup + PushStart to our own server (AutoDestroy).
    let push_url = format!("http://{addr}/{}", opts.point);
    let push = tokio::task::block_in_place(|| {
        let mut sink = PushSink::new(PushSinkConfig::default()).map_err(sink_error)?;
        sink.connect(&push_url, None, true).map_err(|e| {
            CliError::new(Failure::Connection, format!("demo push to {push_url}: {e}"))
        })?;
        Ok::<_, CliError>(Arc::new(Mutex::new(sink)))
    })?;
    // asf-packetizer's packetizer behind push-sink's Writer: I420 video and
    // PCM audio (interop notes §7), a live (broadcast) header.
    let profile = Profile::new()
        .with_stream(StreamConfig::video_i420(
            VIDEO_STREAM,
            opts.signal.width,
            opts.signal.height,
            opts.signal.fps,
        ))
        .with_stream(StreamConfig::pcm(
            AUDIO_STREAM,
            1,
            opts.signal.sample_rate,
            16,
        ));
    let mut writer = Writer::from_profile(profile, opts.packet_size, 1000, Mode::Live)
        .map_err(|e| CliError::new(Failure::Usage, format!("demo profile: {e}")))?;
    let header_seen: Arc<Mutex<Option<Bytes>>> = Arc::new(Mutex::new(None));
    if opts.check {
        writer.add_sink(Box::new(CheckSink {
            header: header_seen.clone(),
            published: published.clone(),
        }));
    }
    writer.add_sink(Box::new(SharedPushSink(push.clone())));
    writer.begin_writing().map_err(sink_error)?;

    let mmsh = format!("mmsh://{addr}/{}", opts.point);
    println!("wmpush demo: publishing point {mmsh}");
    println!("  play it:   ffplay {mmsh}");
    println!("             vlc {mmsh}");
    println!(
        "             ffplay 'http://{addr}/{}?format=asf'",
        opts.point
    );
    println!("  status:    http://{addr}/_status.html");
    let duration = match (opts.duration, opts.check) {
        (None, true) => Some(Duration::from_secs(4)),
        (d, _) => d,
    };
    match duration {
        Some(d) => println!("  running for {} s (Ctrl-C stops earlier)", d.as_secs_f64()),
        None => println!("  press Ctrl-C to stop"),
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("wmpush demo: stopping (Ctrl-C)");
            flag.store(true, Ordering::Relaxed);
        }
    });
    let mut pull_task = None;
    let fps = u64::from(opts.signal.fps);
    let bar = if opts.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        Some(b)
    } else {
        None
    };
    let mut report = DemoReport::default();
    let clock = SystemClock::new();
    let started = tokio::time::Instant::now();
    let mut picture = Vec::new();
    let mut pcm = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let index = report.frames;
        let t = opts.signal.frame_time_ms(index);
        if duration.is_some_and(|d| Duration::from_millis(t) >= d) {
            break;
        }
        // Generate in real time, like a capture device: picture `index` is
        // made at its presentation time (the writer then paces delivery by
        // send time on top of that).
        tokio::time::sleep_until(started + Duration::from_millis(t)).await;
        render_frame(&opts.signal, index, &mut picture);
        let (a, b) = opts.signal.audio_range(index);
        render_audio(&opts.signal, a, b, &mut pcm);
        let frame_ms = u32::try_from(1000 / fps).unwrap_or(100);
        for (stream, data) in [(AUDIO_STREAM, &pcm), (VIDEO_STREAM, &picture)] {
            let sample = Sample {
                stream: u16::from(stream),
                presentation_time_ms: t,
                duration_ms: frame_ms,
                key_frame: true,
                data: Bytes::copy_from_slice(data),
            };
            // Delivers each packet at its send time (the push sink is real-time).
            writer
                .write_sample_paced(sample, &clock)
                .await
                .map_err(sink_error)?;
        }
        report.frames += 1;
        report.packets = writer.packets_made();
        if let Some(failure) = writer.take_sink_failures().into_iter().next() {
            return Err(CliError::new(
                Failure::Connection,
                format!("demo push sink failed: {failure}"),
            ));
        }
        // Start the checking player once the point is live and 0.7 s have
        // passed, so it joins late (exercising the key-frame start) but sees
        // most of the stream.
        if opts.check
            && pull_task.is_none()
            && started.elapsed() >= Duration::from_millis(700)
            && state.points.get(&opts.point).is_some_and(|p| p.is_live())
        {
            let url = StreamUrl::parse(&mmsh, &["mmsh"])?;
            pull_task = Some(tokio::spawn(async move {
                let mut items = Vec::new();
                let r = pull(&url, Some(Duration::from_secs(120)), |item| {
                    items.push(item);
                    true
                })
                .await;
                r.map(|s| (s, items))
            }));
        }
        let secs = started.elapsed().as_secs_f64();
        let players = state
            .points
            .get(&opts.point)
            .map_or(0, |p| p.counters.players.load(Ordering::Relaxed));
        let msg = format!(
            "media {:.1} s, {} packets, {:.0} kbit/s, {} player(s)",
            opts.signal.frame_time_ms(report.frames) as f64 / 1000.0,
            report.packets,
            (report.packets * u64::from(opts.packet_size) * 8) as f64 / secs.max(0.001) / 1000.0,
            players,
        );
        if let Some(b) = &bar {
            b.set_message(msg);
            b.tick();
        } else if opts.progress && index > 0 && index % (fps * 5) == 0 {
            eprintln!("wmpush demo: {msg}");
        }
    }
    ctrl_c.abort();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    writer.end_writing_paced(&clock).await.map_err(sink_error)?;
    // IWMWriterPushSink::EndSession: $E(0); the server ends the point (AutoDestroy).
    let ended = tokio::task::block_in_place(|| {
        push.lock().unwrap_or_else(|e| e.into_inner()).end_session()
    });
    if let Err(e) = ended {
        tracing::warn!(error = %e, "demo push sink did not end cleanly");
    }
    let result = if let Some(task) = pull_task {
        let joined = tokio::time::timeout(Duration::from_secs(15), task).await;
        let (summary, items) = match joined {
            Ok(Ok(Ok(x))) => x,
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => {
                return Err(CliError::new(
                    Failure::Failed,
                    format!("check task failed: {e}"),
                ));
            }
            Err(_) => {
                return Err(CliError::new(
                    Failure::Failed,
                    "check: the pull did not finish in time",
                ));
            }
        };
        if summary.end_reason != Some(0) {
            Err(CliError::new(
                Failure::Failed,
                "check: the stream did not end with $E(0)",
            ))
        } else {
            let published = published.lock().unwrap_or_else(|e| e.into_inner());
            let header = header_seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .unwrap_or_default();
            match verify(&header, &published, &items) {
                Ok(n) => {
                    report.verified = n;
                    println!(
                        "wmpush demo --check: OK, {n} of {} packets pulled back intact (joined at a key frame)",
                        published.len()
                    );
                    Ok(report.clone())
                }
                Err(why) => Err(CliError::new(
                    Failure::Failed,
                    format!("check failed: {why}"),
                )),
            }
        }
    } else if opts.check {
        Err(CliError::new(
            Failure::Failed,
            "check: the stream was too short to start a player",
        ))
    } else {
        Ok(report.clone())
    };
    shutdown.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(3), server_task).await;
    println!(
        "wmpush demo: done, {} pictures, {} packets",
        report.frames, report.packets
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    #[test]
    fn verify_accepts_late_contiguous_tail() {
        let h = b(b"H");
        let published = vec![
            (b(b"a"), true),
            (b(b"b"), false),
            (b(b"c"), true),
            (b(b"d"), false),
        ];
        let pulled = vec![
            Pulled::Header(h.clone()),
            Pulled::Packet(b(b"c")),
            Pulled::Packet(b(b"d")),
        ];
        assert_eq!(verify(&h, &published, &pulled), Ok(2));
    }

    #[test]
    fn verify_rejects_gaps_corruption_and_bad_start() {
        let h = b(b"H");
        let published = vec![
            (b(b"a"), true),
            (b(b"b"), false),
            (b(b"c"), true),
            (b(b"d"), false),
        ];
        let gap = vec![
            Pulled::Header(h.clone()),
            Pulled::Packet(b(b"a")),
            Pulled::Packet(b(b"c")),
        ];
        assert!(verify(&h, &published, &gap).is_err());
        let corrupt = vec![
            Pulled::Header(h.clone()),
            Pulled::Packet(b(b"c")),
            Pulled::Packet(b(b"x")),
        ];
        assert!(verify(&h, &published, &corrupt).is_err());
        let mid = vec![Pulled::Header(h.clone()), Pulled::Packet(b(b"b"))];
        assert!(verify(&h, &published, &mid).is_err());
        let short = vec![Pulled::Header(h.clone()), Pulled::Packet(b(b"c"))];
        assert!(
            verify(&h, &published, &short).is_err(),
            "last packet missing"
        );
        let wrong_header = vec![
            Pulled::Header(b(b"X")),
            Pulled::Packet(b(b"c")),
            Pulled::Packet(b(b"d")),
        ];
        assert!(verify(&h, &published, &wrong_header).is_err());
    }
}
