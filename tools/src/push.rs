//! `wmpush push INPUT URL`: reads ASF (a file, standard input as plain ASF or
//! MMSH-framed, or another server's stream) and pushes it to a publishing
//! point through push-sink's [`PushSink`] (MS-WMHTTP).

use std::io::{IsTerminal as _, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use push_protocol::pull_server::wire::PullFrameDecoder;
use push_sink::push_sink::asf_file::AsfFile;
use push_sink::push_sink::{Credentials, PushError, PushSink, PushSinkConfig};
use push_sink::{DataUnit, PacketInfo, WriterSink};

use crate::exit::{CliError, Failure};
use crate::point::StreamFacts;
use crate::pull::{Pulled, StreamUrl};

/// Settings of a push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// File path, `-` for standard input, or an `mmsh://`/`http://` URL to relay.
    pub input: String,
    /// Publishing point URL, `http://host[:port]/point`.
    pub url: String,
    /// `Template-URL` path for creating the point.
    pub template: Option<String>,
    /// Remove the point when the session ends.
    pub auto_destroy: bool,
    /// User name for Digest/Basic.
    pub user: Option<String>,
    /// Password (taken from the environment variable named on the command line).
    pub password: Option<String>,
    /// Repeat a file forever (each pass is a new entry: `$E(1)`, `$C`).
    pub loop_input: bool,
    /// Send as fast as possible instead of in real time.
    pub no_pace: bool,
    /// Show progress.
    pub progress: bool,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Packets handed to the push sink.
    pub packets: u64,
    /// Packets the sink dropped (network slower than the stream).
    pub drops: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
}

/// One item of the input.
#[derive(Debug)]
enum Item {
    Header(Bytes),
    Packet(Bytes, PacketInfo),
    /// End of one pass (file end); a loop starts again with a header.
    End,
}

fn input_error(what: String) -> CliError {
    CliError::new(Failure::Input, what)
}

fn map_push_error(e: PushError, url: &str) -> CliError {
    let kind = match &e {
        PushError::InvalidArgument(_) => Failure::Usage,
        PushError::AuthenticationFailed { .. } => Failure::Auth,
        PushError::Refused { .. } | PushError::NotAMediaServer(_) => Failure::Refused,
        _ => Failure::Connection,
    };
    CliError::new(kind, format!("push to {url}: {e}"))
}

/// Largest wait for one packet's send time; a longer one is a timestamp jump.
pub const MAX_PACING_JUMP: Duration = Duration::from_secs(10);

/// Send times as the push sink sees them: continuous across a jump of more
/// than [`MAX_PACING_JUMP`] (GStreamer's live asfmux leaps from the audio clock
/// to its running time, about 1000 h, at the first picture). The sink bounds its
/// queue by the span of send times, so a raw jump would make it drop everything
/// queued, the key frame before the jump included. The packets' own bytes are
/// not changed.
#[derive(Debug, Default)]
pub struct SendTimeline {
    last_raw: Option<u32>,
    shift: u32,
}

impl SendTimeline {
    /// The send time to hand a sink for a packet whose own Send Time is `raw`.
    pub fn continuous(&mut self, raw: u32) -> u32 {
        let jump = u32::try_from(MAX_PACING_JUMP.as_millis()).unwrap_or(u32::MAX);
        if let Some(last) = self.last_raw
            && raw > last.saturating_add(jump)
        {
            tracing::info!(
                from = last,
                to = raw,
                "send time jumps ahead: treated as continuous"
            );
            self.shift = self.shift.saturating_add(raw - last);
        }
        self.last_raw = Some(raw);
        raw.saturating_sub(self.shift)
    }
}

/// A sink call failed: a refusal, auth or usage problem the push sink found on the
/// wire keeps its own exit code; anything else is a broken connection.
fn map_sink_error(e: push_sink::Error, url: &str) -> CliError {
    if let push_sink::Error::Custom(inner) = &e
        && let Some(p) = inner.downcast_ref::<PushError>()
    {
        return map_push_error(p.clone(), url);
    }
    CliError::new(Failure::Connection, format!("push: {e}"))
}

/// Reads exactly `n` bytes, or `None` at a clean EOF before the first byte.
fn read_exact_or_eof(r: &mut dyn Read, n: usize, at: u64) -> Result<Option<Vec<u8>>, CliError> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(input_error(format!(
                    "input ends inside a {n}-byte unit at byte {}",
                    at + got as u64
                )));
            }
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(input_error(format!("cannot read input: {e}"))),
        }
    }
    Ok(Some(buf))
}

/// The live form of a header (broadcast flag, no file size) via push-sink's AsfFile.
fn live_header(header: Bytes) -> Bytes {
    AsfFile::parse(header.clone()).map_or(header, |f| f.live_header())
}

/// When a packet is due, in ms from the stream start: its Send Time, or
/// earlier when its payloads' presentation times (minus preroll) say so.
/// GStreamer's asfmux derives Send Time from the announced bitrate, which
/// can trail the media by far; pacing by it alone would starve players.
fn pacing_time_ms(packet: &[u8], packet_size: usize, preroll_ms: u64, send_time_ms: u32) -> u32 {
    let Ok(size) = u32::try_from(packet_size) else {
        return send_time_ms;
    };
    let Ok(view) = asf_format::packet::PacketView::parse(packet, size, 0) else {
        return send_time_ms;
    };
    let preroll = u32::try_from(preroll_ms).unwrap_or(u32::MAX);
    view.payloads()
        .filter_map(|p| p.presentation_time())
        .map(|pt| pt.saturating_sub(preroll))
        .fold(send_time_ms, u32::min)
}

fn packet_info(packet: &[u8], index: u64, facts: &StreamFacts) -> PacketInfo {
    let (send_time_ms, key_frame) = facts.packet(packet).unwrap_or((0, false));
    PacketInfo {
        send_time_ms,
        duration_ms: 0,
        index,
        key_frame,
    }
}

fn is_index_guid(b: &[u8]) -> bool {
    // ASF 6.1-6.4: Simple Index, Index, Media Object Index, Timecode Index.
    const GUIDS: [asf_format::Guid; 4] = [
        asf_format::Guid::from_str_const("33000890-E5B1-11CF-89F4-00A0C90349CB"),
        asf_format::Guid::from_str_const("D6E229D3-35DA-11D1-9034-00A0C90349BE"),
        asf_format::Guid::from_str_const("FEB103F8-12AD-4C64-840F-2A1D2F7AD48C"),
        asf_format::Guid::from_str_const("3CB73FD0-0C4A-4803-953D-EDF7B6228F0C"),
    ];
    GUIDS.iter().any(|g| b.get(..16) == Some(g.as_bytes()))
}

/// Plain ASF as a stream (ffmpeg `-f asf -`): Header Object, 50-byte Data
/// Object start, then fixed-size packets until EOF or the index objects.
fn read_plain(
    r: &mut dyn Read,
    first: Vec<u8>,
    tx: &mpsc::SyncSender<Item>,
) -> Result<(), CliError> {
    let mut head = first;
    let rest = read_exact_or_eof(r, 30 - head.len(), head.len() as u64)?
        .ok_or_else(|| input_error("input ends inside the ASF Header Object at byte 2".into()))?;
    head.extend_from_slice(&rest);
    if head[..16]
        != *asf_format::Guid::from_str_const("75B22630-668E-11CF-A6D9-00AA0062CE6C").as_bytes()
    {
        return Err(input_error(
            "byte 0: not an ASF file (no Header Object GUID)".into(),
        ));
    }
    let size = u64::from_le_bytes(
        head[16..24]
            .try_into()
            .map_err(|_| input_error("short".into()))?,
    );
    if !(30..=16 * 1024 * 1024).contains(&size) {
        return Err(input_error(format!(
            "byte 16: Header Object size {size} is not 30..=16 MiB"
        )));
    }
    let more = read_exact_or_eof(r, size as usize - 30 + 50, 30)?
        .ok_or_else(|| input_error("input ends inside the ASF header at byte 30".into()))?;
    head.extend_from_slice(&more);
    let facts = StreamFacts::read(&head)
        .map_err(|e| input_error(format!("the ASF header is not readable: {e}")))?;
    let size = facts.packet_size;
    if !(32..=65_535).contains(&size) {
        return Err(input_error(format!(
            "File Properties packet size {size} is not 32..=65535"
        )));
    }
    if tx
        .send(Item::Header(live_header(Bytes::from(head.clone()))))
        .is_err()
    {
        return Ok(());
    }
    let mut at = head.len() as u64;
    let mut index = 0;
    // After the packets a file may carry index objects (ASF 6): stop at
    // the first top-level object GUID instead of a packet.
    while let Some(lead) = read_exact_or_eof(r, 16, at)? {
        if is_index_guid(&lead) {
            break;
        }
        let Some(rest) = read_exact_or_eof(r, size - 16, at + 16)? else {
            return Err(input_error(format!(
                "input ends inside a {size}-byte packet at byte {at}"
            )));
        };
        let mut p = lead;
        p.extend_from_slice(&rest);
        let info = packet_info(&p, index, &facts);
        if tx.send(Item::Packet(Bytes::from(p), info)).is_err() {
            return Ok(());
        }
        index += 1;
        at += size as u64;
    }
    let _ = tx.send(Item::End);
    Ok(())
}

/// MMSH-framed ASF (ffmpeg `-f asf_stream -`): `$H` (possibly in fragments),
/// `$D`, `$E`, each with the 8-byte preheader (MS-WMSP 2.2.3.1).
fn read_framed(
    r: &mut dyn Read,
    first: Vec<u8>,
    tx: &mpsc::SyncSender<Item>,
) -> Result<(), CliError> {
    let mut dec = PullFrameDecoder::new();
    dec.push(&first);
    let mut header = BytesMut::new();
    let mut facts: Option<StreamFacts> = None;
    let mut index = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let frame = dec
            .next_frame()
            .map_err(|e| input_error(format!("MMSH-framed input: {e}")))?;
        let Some(f) = frame else {
            let n = loop {
                match r.read(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(input_error(format!("cannot read input: {e}"))),
                }
            };
            if n == 0 {
                if dec.buffered() > 0 {
                    return Err(input_error(format!(
                        "MMSH-framed input ends inside a packet at byte {}",
                        dec.offset()
                    )));
                }
                let _ = tx.send(Item::End);
                return Ok(());
            }
            dec.push(&buf[..n]);
            continue;
        };
        match f.id {
            b'H' => {
                if facts.is_some() {
                    // A new header after a stream change.
                    facts = None;
                    header.clear();
                }
                header.extend_from_slice(&f.payload);
                if header.len() > 16 * 1024 * 1024 {
                    return Err(input_error("MMSH-framed header larger than 16 MiB".into()));
                }
            }
            b'D' => {
                if facts.is_none() {
                    let h = header.split().freeze();
                    let fx = StreamFacts::read(&h).map_err(|e| {
                        input_error(format!(
                            "byte {}: $D before a readable ASF header ({e})",
                            dec.offset()
                        ))
                    })?;
                    if tx.send(Item::Header(live_header(h))).is_err() {
                        return Ok(());
                    }
                    facts = Some(fx);
                }
                let fx = facts
                    .as_ref()
                    .ok_or_else(|| input_error("no header".into()))?;
                let Some(p) = fx.full_size(f.payload.clone()) else {
                    return Err(input_error(format!(
                        "byte {}: $D packet is malformed or larger than the packet size",
                        dec.offset()
                    )));
                };
                let info = packet_info(&p, index, fx);
                index += 1;
                if tx.send(Item::Packet(p, info)).is_err() {
                    return Ok(());
                }
            }
            b'E' => {
                let _ = tx.send(Item::End);
                return Ok(());
            }
            _ => {}
        }
    }
}

/// Reads `-` (standard input), detecting plain ASF or MMSH framing from the first two bytes.
fn read_stdin(tx: mpsc::SyncSender<Item>) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let Some(first) = read_exact_or_eof(&mut lock, 2, 0)? else {
        return Err(input_error("standard input is empty".into()));
    };
    match first.as_slice() {
        [0x30, 0x26] => read_plain(&mut lock, first, &tx),
        [0x24, 0x48] => read_framed(&mut lock, first, &tx),
        _ => Err(input_error(format!(
            "byte 0: standard input is neither ASF (Header Object GUID) nor MMSH-framed ($H), starts with {:02x} {:02x}",
            first[0], first[1]
        ))),
    }
}

fn read_file(
    path: &str,
    tx: mpsc::SyncSender<Item>,
    loop_input: bool,
    stop: &AtomicBool,
) -> Result<(), CliError> {
    let mut lead = [0u8; 2];
    let sniffed = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut lead));
    if sniffed.is_ok() && lead == [0x24, 0x48] {
        // An MMSH-framed capture (`ffmpeg -f asf_stream`).
        return read_file_streaming(path, tx, loop_input, stop);
    }
    let file = AsfFile::open(path).map_err(|e| input_error(format!("{path}: {e}")))?;
    if file.packet_count() == 0 {
        // A broadcast-style file (Data Object size unknown, as a live capture
        // or a cut-off archive has): read packets up to the end instead.
        return read_file_streaming(path, tx, loop_input, stop);
    }
    let mut packets = Vec::with_capacity(file.packet_count());
    for p in file.packets() {
        match p {
            Ok(p) => packets.push(p),
            Err(e) => {
                // A packet push-sink cannot read (GStreamer's asfmux writes some
                // that ffmpeg still plays): send the file as it is, packet by
                // packet, and let the players judge.
                tracing::warn!(file = path, error = %e, "unreadable data packet; sending the file unchecked");
                return read_file_streaming(path, tx, loop_input, stop);
            }
        }
    }
    let header = file.live_header();
    loop {
        if tx.send(Item::Header(header.clone())).is_err() {
            return Ok(());
        }
        for (p, info) in &packets {
            if stop.load(Ordering::Relaxed) || tx.send(Item::Packet(p.clone(), *info)).is_err() {
                return Ok(());
            }
        }
        if tx.send(Item::End).is_err() || !loop_input {
            return Ok(());
        }
    }
}

fn read_file_streaming(
    path: &str,
    tx: mpsc::SyncSender<Item>,
    loop_input: bool,
    stop: &AtomicBool,
) -> Result<(), CliError> {
    loop {
        let f = std::fs::File::open(path).map_err(|e| input_error(format!("{path}: {e}")))?;
        let mut r = std::io::BufReader::new(f);
        let Some(first) = read_exact_or_eof(&mut r, 2, 0)? else {
            return Err(input_error(format!("{path}: empty file")));
        };
        if first == [0x24, 0x48] {
            read_framed(&mut r, first, &tx)?;
        } else {
            read_plain(&mut r, first, &tx)?;
        }
        if !loop_input || stop.load(Ordering::Relaxed) {
            return Ok(());
        }
    }
}

fn relay(url: StreamUrl, tx: mpsc::SyncSender<Item>) -> Result<(), CliError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(Failure::Failed, format!("runtime: {e}")))?;
    rt.block_on(async move {
        let mut facts: Option<StreamFacts> = None;
        let mut index = 0;
        crate::pull::pull(&url, None, |item| {
            let out = match item {
                Pulled::Header(h) => {
                    facts = StreamFacts::read(&h).ok();
                    Item::Header(h)
                }
                Pulled::Packet(p) => {
                    let Some(f) = facts.as_ref() else {
                        return false;
                    };
                    let Some(full) = f.full_size(p) else {
                        return true;
                    };
                    let info = packet_info(&full, index, f);
                    index += 1;
                    Item::Packet(full, info)
                }
            };
            tx.send(out).is_ok()
        })
        .await?;
        let _ = tx.send(Item::End);
        Ok(())
    })
}

/// Runs a push to completion (or until `stop` is set). Blocking: call it from
/// a thread of its own (PushSink runs its network task on a private runtime).
pub fn run(opts: PushOptions, stop: Arc<AtomicBool>) -> Result<PushReport, CliError> {
    let target = StreamUrl::parse(&opts.url, &["http"])?;
    if target.path == "/" {
        return Err(CliError::new(
            Failure::Usage,
            format!("{}: the URL needs a publishing point path", opts.url),
        ));
    }
    // Start the reader first so a bad input fails before connecting.
    let (tx, rx) = mpsc::sync_channel::<Item>(256);
    let input = opts.input.clone();
    let reader_stop = stop.clone();
    let loop_input = opts.loop_input;
    let reader = if input == "-" {
        std::thread::spawn(move || read_stdin(tx))
    } else if input.starts_with("mmsh://") || input.starts_with("http://") {
        let url = StreamUrl::parse(&input, &["mmsh", "http"])?;
        std::thread::spawn(move || relay(url, tx))
    } else {
        if !std::path::Path::new(&input).is_file() {
            return Err(input_error(format!("{input}: no such file")));
        }
        std::thread::spawn(move || read_file(&input, tx, loop_input, &reader_stop))
    };
    let first = match rx.recv() {
        Ok(Item::Header(h)) => h,
        _ => {
            return match reader.join() {
                Ok(Err(e)) => Err(e),
                _ => Err(input_error("the input produced no ASF header".into())),
            };
        }
    };

    let mut config = PushSinkConfig::default();
    if let Some(user) = opts.user.clone() {
        let password = opts.password.clone().unwrap_or_default();
        config = config.credentials(move |_| {
            Some(Credentials {
                user: user.clone(),
                password: password.clone(),
            })
        });
    }
    let mut sink =
        PushSink::new(config).map_err(|e| CliError::new(Failure::Failed, format!("{e}")))?;
    let mut status = sink.status();
    sink.connect(&opts.url, opts.template.as_deref(), opts.auto_destroy)
        .map_err(|e| map_push_error(e, &opts.url))?;
    match sink.push_id() {
        Some(id) => eprintln!("wmpush push: connected to {} (push-id {id})", opts.url),
        None => eprintln!("wmpush push: connecting to {}", opts.url),
    }
    sink.on_header(&first)
        .map_err(|e| map_sink_error(e, &opts.url))?;

    let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b
    });
    let mut report = PushReport::default();
    let started = Instant::now();
    let mut last_log = Instant::now();
    let mut pace_origin: Option<(Instant, u32)> = None;
    let mut pace_facts = StreamFacts::read(&first).ok();
    let mut last_send = 0u32;
    let mut send_times = SendTimeline::default();
    let mut bytes = 0u64;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
            break Ok(());
        }
        let item = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(i) => i,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
        };
        while let Ok(s) = status.try_recv() {
            if let push_sink::push_sink::PushStatus::Error(e) = s {
                return Err(map_push_error(e, &opts.url));
            }
        }
        match item {
            Item::Header(h) => {
                pace_origin = None;
                send_times = SendTimeline::default();
                pace_facts = StreamFacts::read(&h).ok();
                if let Err(e) = sink.on_header(&h) {
                    break Err(map_sink_error(e, &opts.url));
                }
            }
            Item::Packet(p, mut info) => {
                info.send_time_ms = send_times.continuous(info.send_time_ms);
                if !opts.no_pace {
                    let at = pace_facts.as_ref().map_or(info.send_time_ms, |f| {
                        pacing_time_ms(&p, f.packet_size, f.preroll_ms, info.send_time_ms)
                    });
                    let (origin, t0) = *pace_origin.get_or_insert((Instant::now(), at));
                    let mut due = origin + Duration::from_millis(u64::from(at.saturating_sub(t0)));
                    // A send time far ahead of the clock is a discontinuity, not a wait:
                    // GStreamer's live asfmux jumps to its running time (1000 h) when the
                    // first video arrives. Re-anchor the pacing there instead of stalling.
                    if due > Instant::now() + MAX_PACING_JUMP {
                        tracing::info!(
                            send_time_ms = at,
                            "send time jumps ahead: pacing re-anchored"
                        );
                        pace_origin = Some((Instant::now(), at));
                        due = Instant::now();
                    }
                    while let Some(wait) = due.checked_duration_since(Instant::now()) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(wait.min(Duration::from_millis(100)));
                    }
                }
                last_send = info.send_time_ms;
                bytes += p.len() as u64;
                let mut buf = sink.allocate_data_unit(p.len());
                let headroom = buf.len();
                buf.extend_from_slice(&p);
                let unit = match DataUnit::new(buf, headroom, info) {
                    Ok(u) => u,
                    Err(_) => DataUnit::shared(p, info),
                };
                if let Err(e) = sink.on_data_unit(unit) {
                    break Err(map_sink_error(e, &opts.url));
                }
                report.packets += 1;
            }
            Item::End => {
                if let Err(e) = sink.on_end_writing() {
                    break Err(map_sink_error(e, &opts.url));
                }
            }
        }
        let stats = sink.stats();
        report.drops = stats.drops;
        report.reconnects = stats.reconnects;
        let msg = format!(
            "media {:.1} s, {:.0} kbit/s, {} packets, {} drops, {} reconnects",
            f64::from(last_send) / 1000.0,
            bytes as f64 * 8.0 / started.elapsed().as_secs_f64().max(0.001) / 1000.0,
            report.packets,
            report.drops,
            report.reconnects
        );
        if let Some(b) = &bar {
            b.set_message(msg);
            b.tick();
        } else if opts.progress && last_log.elapsed() >= Duration::from_secs(5) {
            eprintln!("wmpush push: {msg}");
            last_log = Instant::now();
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    drop(rx);
    // Ctrl-C or the end of the input: $E(0) (IWMWriterPushSink::EndSession).
    let ended = sink.end_session();
    let read_result = if report.interrupted {
        Ok(())
    } else {
        reader.join().unwrap_or(Ok(()))
    };
    result?;
    read_result?;
    ended.map_err(|e| map_push_error(e, &opts.url))?;
    eprintln!(
        "wmpush push: session ended, {} packets, {} drops{}",
        report.packets,
        report.drops,
        if report.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_time_jumps_are_made_continuous() {
        let mut t = SendTimeline::default();
        assert_eq!(t.continuous(0), 0);
        assert_eq!(t.continuous(5806), 5806);
        // GStreamer's live asfmux: the running time (1000 h) at the first picture.
        assert_eq!(t.continuous(3_600_000_000), 5806);
        assert_eq!(t.continuous(3_600_000_066), 5872);
        // Ordinary steps and small backward steps pass through.
        assert_eq!(t.continuous(3_600_009_000), 14_806);
        assert_eq!(t.continuous(3_600_008_000), 13_806);
    }
}
