//! Subcommand implementations (glue between clap arguments and the library).

use std::io::Write as _;
use std::time::Duration;

use wmpush::auth::AuthFile;
use wmpush::config::ServeConfig;
use wmpush::demo::{self, DemoOptions};
use wmpush::exit::{CliError, Failure};
use wmpush::generator::SignalConfig;
use wmpush::load::{self, LoadConfig};
use wmpush::pull::{Pulled, StreamUrl, pull as pull_stream};
use wmpush::server::Server;

use crate::{DemoArgs, InspectArgs, PullArgs, PushArgs, RemuxArgs, ServeArgs, seconds};

pub(crate) async fn demo(a: DemoArgs, quiet: bool) -> Result<(), CliError> {
    let (w, h) = a
        .size
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or_else(|| {
            CliError::new(
                Failure::Usage,
                format!("--size {:?} must look like 160x120", a.size),
            )
        })?;
    let signal = SignalConfig {
        width: w,
        height: h,
        fps: a.fps,
        ..SignalConfig::default()
    };
    signal
        .validate()
        .map_err(|e| CliError::new(Failure::Usage, e))?;
    // Large pictures need larger packets; keep within the 65,535-byte MMSH limit.
    let packet_size = if signal.frame_len() > 200_000 {
        16_000
    } else {
        3600
    };
    let opts = DemoOptions {
        listen: a.listen,
        point: a.point,
        duration: seconds(a.duration, "--duration")?,
        check: a.check,
        signal,
        packet_size,
        progress: !quiet,
    };
    demo::run(opts).await.map(|_| ())
}

pub(crate) async fn serve(a: ServeArgs) -> Result<(), CliError> {
    let mut config = match &a.config {
        Some(p) => {
            ServeConfig::load(p).map_err(|e| CliError::new(Failure::Input, format!("{e:#}")))?
        }
        None => ServeConfig::default(),
    };
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if a.allow_anonymous_push {
        config.allow_anonymous_push = true;
    }
    if let Some(d) = a.archive_dir {
        std::fs::create_dir_all(&d).map_err(|e| {
            CliError::new(
                Failure::Input,
                format!("cannot create archive folder {}: {e}", d.display()),
            )
        })?;
        config.archive_dir = Some(d);
        if a.config.is_none() {
            // Without a config file, --archive-dir archives every point.
            config.default_template.archive = true;
        }
    }
    let auth = match &a.auth_file {
        Some(p) => Some(
            AuthFile::load(p, &config.realm)
                .map_err(|e| CliError::new(Failure::Input, format!("{e:#}")))?,
        ),
        None => None,
    };
    if auth.is_none() && !config.listen.ip().is_loopback() && !config.allow_anonymous_push {
        return Err(CliError::new(
            Failure::Usage,
            format!(
                "refusing to listen on {} without --auth-file: anyone could push; add --auth-file FILE or --allow-anonymous-push",
                config.listen
            ),
        ));
    }
    let server = Server::bind(config, auth)
        .await
        .map_err(|e| CliError::new(Failure::Connection, format!("{e:#}")))?;
    let addr = server.local_addr()?;
    println!("wmpush serve: listening on http://{addr}/ (status: http://{addr}/_status.html)");
    let handle = server.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received, shutting down");
        handle.shutdown();
    });
    server.run().await?;
    println!("wmpush serve: stopped");
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) async fn pull(a: PullArgs) -> Result<(), CliError> {
    let url = StreamUrl::parse(&a.url, &["mmsh", "http"])?;
    let duration = seconds(a.duration, "--duration")?;
    if let Some(n) = a.clients {
        if n == 0 || n > load::MAX_CLIENTS {
            return Err(CliError::new(
                Failure::Usage,
                format!("--clients must be 1..={}", load::MAX_CLIENTS),
            ));
        }
        let Some(duration) = duration else {
            return Err(CliError::new(
                Failure::Usage,
                "--clients needs --duration (the load test is bounded)",
            ));
        };
        return load_test(&a, url, n, duration).await;
    }
    let output = a.output.ok_or_else(|| {
        CliError::new(Failure::Usage, "give -o FILE (or -o - for standard output)")
    })?;
    let mut out: Box<dyn std::io::Write + Send> = if output == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        let f = std::fs::File::create(&output)
            .map_err(|e| CliError::new(Failure::Input, format!("cannot create {output}: {e}")))?;
        Box::new(std::io::BufWriter::new(f))
    };
    let mut facts: Option<wmpush::point::StreamFacts> = None;
    let mut write_error = None;
    let mut headers = 0u32;
    let summary = pull_stream(&url, duration, |item| {
        let r = match item {
            Pulled::Header(h) => {
                headers += 1;
                if headers > 1 {
                    // A plain ASF file has one header: stop at a stream change.
                    return false;
                }
                facts = wmpush::point::StreamFacts::read(&h).ok();
                out.write_all(&h)
            }
            Pulled::Packet(p) => match facts.as_ref().and_then(|f| f.full_size(p)) {
                Some(full) => out.write_all(&full),
                None => Ok(()),
            },
        };
        match r {
            Ok(()) => true,
            Err(e) => {
                write_error = Some(e);
                false
            }
        }
    })
    .await?;
    if let Some(e) = write_error {
        return Err(CliError::new(
            Failure::Input,
            format!("cannot write {output}: {e}"),
        ));
    }
    out.flush()
        .map_err(|e| CliError::new(Failure::Input, format!("cannot write {output}: {e}")))?;
    if headers == 0 {
        return Err(CliError::new(Failure::Refused, "the server sent no stream"));
    }
    eprintln!(
        "wmpush pull: {} packets, {} bytes{}",
        summary.packets,
        summary.bytes,
        match summary.end_reason {
            Some(0) => ", stream ended".to_owned(),
            Some(r) => format!(", stream ended with reason {r:#x}"),
            None => String::new(),
        }
    );
    Ok(())
}

async fn load_test(
    a: &PullArgs,
    url: StreamUrl,
    n: u32,
    duration: Duration,
) -> Result<(), CliError> {
    let ramp = match a.ramp {
        Some(r) if r.is_finite() && r >= 0.0 => Duration::from_secs_f64(r),
        Some(r) => {
            return Err(CliError::new(
                Failure::Usage,
                format!("--ramp {r} must be 0 or more seconds"),
            ));
        }
        None => LoadConfig::default_ramp(n),
    };
    if ramp >= duration {
        return Err(CliError::new(
            Failure::Usage,
            "--ramp must be shorter than --duration",
        ));
    }
    let config = LoadConfig {
        url,
        clients: n,
        ramp,
        duration,
    };
    let mut report = load::run(&config).await;
    if a.json {
        if !a.each {
            report.each.clear();
        }
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::new(Failure::Input, format!("cannot write the report: {e}")))?;
        println!("{text}");
    } else {
        if a.each {
            for (i, c) in report.each.iter().enumerate() {
                let rate = if c.seconds_playing > 0.0 {
                    c.bytes as f64 * 8.0 / 1000.0 / c.seconds_playing
                } else {
                    0.0
                };
                let first = c
                    .first_packet_ms
                    .map_or_else(|| "none".to_owned(), |ms| format!("{ms} ms"));
                println!(
                    "client {i}: {:?}, {} packets, {rate:.0} kbit/s, first packet {first}, longest stall {} ms{}",
                    c.outcome,
                    c.packets,
                    c.longest_stall_ms,
                    c.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
        }
        let limit = load::CONTINUITY_LIMIT.as_secs();
        let (f, s) = (report.first_packet_ms, report.longest_stall_ms);
        println!(
            "{n} players: {} played, {} refused (503), {} failed; {} continuous (no stall over {limit} s)",
            report.played, report.refused, report.failed, report.continuous
        );
        println!(
            "first packet: p50 {} ms, p99 {} ms, max {} ms",
            f.p50, f.p99, f.max
        );
        println!(
            "longest stall: p50 {} ms, p99 {} ms, max {} ms",
            s.p50, s.p99, s.max
        );
        println!(
            "rate: {:.0} kbit/s per player, {:.1} Mbit/s in all",
            report.mean_kbit_s, report.total_mbit_s
        );
        for e in &report.errors {
            println!("error: {e}");
        }
    }
    if report.played < n {
        // Refusals alone are the server's answer (exit 6); anything else is a broken run.
        let kind = if report.failed == 0 {
            Failure::Refused
        } else {
            Failure::Connection
        };
        return Err(CliError::new(
            kind,
            format!(
                "{} of {n} players refused (503), {} failed",
                report.refused, report.failed
            ),
        ));
    }
    Ok(())
}

pub(crate) async fn push(a: PushArgs, quiet: bool) -> Result<(), CliError> {
    let password = match &a.user {
        Some(_) => Some(std::env::var(&a.password_env).map_err(|_| {
            CliError::new(
                Failure::Usage,
                format!(
                    "--user needs the password in the environment variable {}",
                    a.password_env
                ),
            )
        })?),
        None => None,
    };
    let opts = wmpush::push::PushOptions {
        input: a.input,
        url: a.url,
        template: a.template,
        auto_destroy: a.auto_destroy,
        user: a.user,
        password,
        loop_input: a.loop_input,
        no_pace: a.no_pace,
        progress: !quiet,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("wmpush push: Ctrl-C, ending the session");
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let joined = tokio::task::spawn_blocking(move || wmpush::push::run(opts, stop)).await;
    match joined {
        Ok(r) => r.map(|_| ()),
        Err(e) => Err(CliError::new(Failure::Failed, format!("push task: {e}"))),
    }
}

pub(crate) fn inspect(a: InspectArgs) -> Result<(), CliError> {
    let name = a.file.display().to_string();
    let bytes = std::fs::read(&a.file)
        .map_err(|e| CliError::new(Failure::Input, format!("cannot read {name}: {e}")))?;
    let result = wmpush::inspect::inspect(&name, &bytes, a.packets)?;
    let text = if a.json {
        serde_json::to_string_pretty(&result)
            .map_err(|e| CliError::new(Failure::Failed, format!("JSON: {e}")))?
    } else {
        wmpush::inspect::to_text(&result)
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error.
    let _ = writeln!(out, "{text}");
    // A file cut inside its header: what precedes the cut is printed above, and the exit
    // status says the input is broken (findings alone never change it).
    match result.error {
        Some(error) => Err(CliError::new(Failure::Input, error)),
        None => Ok(()),
    }
}

/// `wmpush remux` writes in chunks of about this size (constant memory; large enough that
/// syscalls cost nothing measurable).
const REMUX_CHUNK: usize = 1 << 20;

/// `wmpush remux IN OUT`: streams IN (a file or `-` for standard input) through
/// asf-packetizer's [`Remuxer`](asf_packetizer::Remuxer), reading it in pooled chunks with a
/// read-ahead thread ([`wmpush::chunk_reader`]: a file is copied out of the kernel by both
/// cores), and writes the output as it is produced (packet headers and slices of the input's
/// chunks, about 1 MiB per `writev`, no media byte copied), so memory does not grow with the
/// file.
///
/// File mode: when OUT is a regular file the final header (sizes, counts, durations, Seekable
/// flag) is written over the first one at the end. When OUT is `-` (always treated as a
/// stream, as FFmpeg treats `pipe:`), a FIFO or a device such as /dev/null, it cannot be
/// rewritten: the header written first carries the Broadcast flag with zero sizes, as FFmpeg
/// writes to a pipe, and players read it as a stream (the index objects still follow the
/// packets). On failure a partly written regular OUT file is removed.
pub(crate) fn remux(a: RemuxArgs) -> Result<(), CliError> {
    use asf_packetizer::{Mode, OutputBatch, RemuxOptions, Remuxer};
    use std::io::{Seek as _, SeekFrom};
    use wmpush::chunk_reader::{ChunkReader, DEFAULT_AHEAD, DEFAULT_CHUNK};

    /// The output: a batch of whole packets (whose media data are slices of the input's
    /// chunks) kept up to [`REMUX_CHUNK`] bytes and written with `writev`s of its borrowed
    /// slices.
    struct Output {
        sink: Box<dyn std::io::Write>,
        written: u64,
    }
    impl Output {
        /// Slices per `writev` (IOV_MAX is 1024 on Linux).
        const MAX_SLICES: usize = 1024;

        /// Writes the batch out (the caller then recycles it).
        fn write(&mut self, batch: &OutputBatch) -> std::io::Result<()> {
            let mut slices = Vec::with_capacity(batch.packets().len() * 4 + 4);
            batch.for_each_slice(|s| slices.push(std::io::IoSlice::new(s)));
            let mut rest = &mut slices[..];
            loop {
                if rest.is_empty() {
                    break Ok(());
                }
                let n = rest.len().min(Self::MAX_SLICES);
                match self.sink.write_vectored(&rest[..n]) {
                    Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.written += n as u64;
                        std::io::IoSlice::advance_slices(&mut rest, n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            }
        }
    }

    if let Some(n) = a.packet_size
        && !(100..=65_535).contains(&n)
    {
        return Err(CliError::new(
            Failure::Usage,
            format!("--packet-size {n} must be 100..=65535"),
        ));
    }
    let read_error =
        |e: std::io::Error| CliError::new(Failure::Input, format!("cannot read {}: {e}", a.input));
    let write_error = |e: std::io::Error| {
        CliError::new(Failure::Input, format!("cannot write {}: {e}", a.output))
    };
    let input_file = if a.input == "-" {
        None
    } else {
        Some(std::fs::File::open(&a.input).map_err(read_error)?)
    };
    // The output replaces nothing before the input is known to differ from it.
    let (sink, file): (Box<dyn std::io::Write>, Option<std::fs::File>) = if a.output == "-" {
        (Box::new(std::io::stdout().lock()), None)
    } else {
        if let (Some(i), Ok(o)) = (&input_file, std::fs::metadata(&a.output)) {
            use std::os::unix::fs::MetadataExt as _;
            let i = i.metadata().map_err(read_error)?;
            if i.dev() == o.dev() && i.ino() == o.ino() && o.is_file() {
                return Err(CliError::new(
                    Failure::Usage,
                    format!("input and output are the same file: {}", a.output),
                ));
            }
        }
        let f = std::fs::File::create(&a.output).map_err(write_error)?;
        let regular = f.metadata().map_err(write_error)?.is_file();
        let sink = Box::new(f.try_clone().map_err(write_error)?);
        (sink, regular.then_some(f))
    };
    let opts = RemuxOptions {
        packet_size: a.packet_size,
        preroll: a.preroll,
        mode: if a.live { Mode::Live } else { Mode::File },
        seekable_output: file.is_some(),
        ..RemuxOptions::default()
    };
    let mut out = Output { sink, written: 0 };
    let mut batch = OutputBatch::new();
    let mut remuxer = Remuxer::new(opts);
    // A regular file is read at offsets by two threads; anything else (standard input, a
    // FIFO or a device named as IN) in order, as a stream.
    let mut chunks = match input_file {
        Some(f) if f.metadata().is_ok_and(|m| m.is_file()) => {
            ChunkReader::file(f, DEFAULT_CHUNK, DEFAULT_AHEAD)
        }
        Some(f) => ChunkReader::stream(f, DEFAULT_CHUNK, DEFAULT_AHEAD),
        None => ChunkReader::stream(std::io::stdin(), DEFAULT_CHUNK, DEFAULT_AHEAD),
    }
    .map_err(read_error)?;
    let result = (|| -> Result<asf_packetizer::RemuxSummary, CliError> {
        let remux_error =
            |e: asf_packetizer::Error| CliError::new(Failure::Input, format!("{}: {e}", a.input));
        while let Some(chunk) = chunks.next_chunk().map_err(read_error)? {
            remuxer
                .push_bytes_batch(chunk, &mut batch)
                .map_err(remux_error)?;
            if batch.len() >= REMUX_CHUNK {
                out.write(&batch).map_err(write_error)?;
                // Its buffers serve the next packets: no allocation per packet.
                remuxer.recycle_batch(&mut batch);
            }
        }
        let summary = remuxer.finish_batch(&mut batch).map_err(remux_error)?;
        out.write(&batch).map_err(write_error)?;
        remuxer.recycle_batch(&mut batch);
        out.sink.flush().map_err(write_error)?;
        if let (Some(f), Some(fix)) = (&file, &summary.fixup) {
            let mut f = f;
            f.seek(SeekFrom::Start(fix.offset))
                .and_then(|_| f.write_all(&fix.bytes))
                .and_then(|()| f.flush())
                .map_err(write_error)?;
        }
        Ok(summary)
    })();
    // The read-ahead thread stops (a stream's may be left waiting on a silent pipe).
    drop(chunks);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            if file.is_some() {
                drop(out);
                let _ = std::fs::remove_file(&a.output);
            }
            return Err(e);
        }
    };
    eprintln!(
        "wmpush remux: {} -> {} ({} bytes, {} unreadable input packets skipped, {} media objects dropped)",
        a.input, a.output, out.written, summary.bad_packets, summary.dropped_objects
    );
    Ok(())
}
