//! `wmpush remux` through the built binary (asf-packetizer's remuxer).

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

fn inspect_json(path: &std::path::Path) -> serde_json::Value {
    let out = run_bounded(
        wmpush().args(["inspect", "--json"]).arg(path),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Runs `wmpush remux ARGS` (bounded) and checks it succeeded.
fn remux_ok(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = run_bounded(wmpush().arg("remux").args(args), Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ffmpeg -v error -xerror -i FILE -f null -` decodes the file cleanly (when ffmpeg is there).
fn assert_ffmpeg_decodes(file: &std::path::Path) {
    if !have("ffmpeg") {
        return;
    }
    let out = run_bounded(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-xerror", "-i"])
            .arg(file)
            .args(["-f", "null", "-"]),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn remux_packet_size_preroll_and_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.asf");
    write_demo_asf(&input, 2);
    let out_file = dir.path().join("out.asf");
    remux_ok(&[
        input.as_os_str(),
        out_file.as_os_str(),
        "--packet-size".as_ref(),
        "8000".as_ref(),
        "--preroll".as_ref(),
        "2000".as_ref(),
    ]);
    let v = inspect_json(&out_file);
    assert_eq!(v["file_properties"]["packet_size"], 8000);
    assert_eq!(v["file_properties"]["preroll_ms"], 2000);
    assert_eq!(v["file_properties"]["broadcast"], false);
    assert_eq!(v["streams"].as_array().map(Vec::len), Some(2));
    assert_ffmpeg_decodes(&out_file);
    // Live output to standard output.
    let out = run_bounded(
        wmpush().arg("remux").arg(&input).args(["-", "--live"]),
        Duration::from_secs(30),
    );
    assert!(out.status.success());
    let live = dir.path().join("live.asf");
    std::fs::write(&live, &out.stdout).expect("write");
    assert_eq!(inspect_json(&live)["file_properties"]["broadcast"], true);
}

#[test]
fn remux_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let code = |args: &[&str]| {
        run_bounded(wmpush().args(args), Duration::from_secs(20))
            .status
            .code()
    };
    assert_eq!(code(&["remux", "/nonexistent.asf", "-"]), Some(3));
    let input = dir.path().join("in.asf");
    write_demo_asf(&input, 1);
    let i = input.to_str().expect("utf-8");
    assert_eq!(code(&["remux", i, "-", "--packet-size", "10"]), Some(2));
    let junk = dir.path().join("junk.asf");
    std::fs::write(&junk, [0x11u8; 300]).expect("write");
    assert_eq!(
        code(&["remux", junk.to_str().expect("utf-8"), "-"]),
        Some(3)
    );
    assert_eq!(code(&["remux", i, "/nonexistent-dir/out.asf"]), Some(3));
}

/// A broadcast-form ASF stream (video ~4 Mbit/s + audio) of `seconds`, made with
/// asf-packetizer and handed to `sink` packet by packet, so no test holds it whole.
fn generate_stream(seconds: u64, sink: &mut dyn FnMut(&[u8])) {
    use asf_packetizer::{Mode, Packetizer, PacketizerOptions, Profile, Sample, StreamConfig};
    use bytes::Bytes;
    let profile = Profile::new()
        .with_stream(StreamConfig::new(
            1,
            asf_packetizer::StreamKind::Video,
            vec![0; 40],
            4_000_000,
        ))
        .with_stream(StreamConfig::pcm(2, 2, 8_000, 16));
    let mut p = Packetizer::new(profile, PacketizerOptions::new(Mode::Live)).expect("profile");
    sink(&p.header().expect("header"));
    let mut packets = Vec::new();
    for f in 0..seconds * 25 {
        let key = f % 25 == 0;
        let len = if key { 60_000 } else { 18_000 };
        let video = Sample {
            stream: 1,
            presentation_time: f * 40,
            duration: 40,
            keyframe: key,
            data: Bytes::from(vec![(f % 251) as u8; len]),
        };
        p.push_sample(video, &mut packets).expect("video");
        let audio = Sample {
            stream: 2,
            presentation_time: f * 40,
            duration: 40,
            keyframe: true,
            data: Bytes::from(vec![0x22; 1280]),
        };
        p.push_sample(audio, &mut packets).expect("audio");
        for pk in packets.drain(..) {
            sink(pk.bytes());
        }
    }
    for pk in p.finish(0).expect("finish").packets {
        sink(pk.bytes());
    }
}

/// VmHWM (peak resident set) of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Streams `seconds` of generated input through `wmpush remux - /dev/null` and returns the
/// child's peak RSS (KiB), read from /proc after all input was consumed but before the end
/// of input is signalled (the child is then still alive), and the input size.
fn remux_peak_rss(seconds: u64) -> (u64, u64) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = wmpush()
        .args(["remux", "-", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wmpush runs");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped");
    let mut fed = 0u64;
    let mut write_failed = None;
    generate_stream(seconds, &mut |b| {
        if write_failed.is_none() {
            match stdin.write_all(b) {
                Ok(()) => fed += b.len() as u64,
                Err(e) => write_failed = Some(e),
            }
        }
    });
    stdin.flush().expect("flush");
    // Everything but the last pipe-buffer and read chunk was processed: the peak so far is the
    // steady-state peak.
    let peak = peak_rss_kib(pid).expect("VmHWM of the running child");
    drop(stdin);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "remux did not end"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    use std::io::Read as _;
    let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
    assert!(
        write_failed.is_none(),
        "feeding stdin: {write_failed:?}: {err}"
    );
    assert!(status.success(), "{err}");
    (peak, fed)
}

#[test]
fn remux_memory_does_not_grow_with_the_input() {
    let (small, small_len) = remux_peak_rss(40);
    let (large, large_len) = remux_peak_rss(160);
    eprintln!(
        "peak RSS: {small} KiB for {small_len} input bytes, {large} KiB for {large_len} input bytes"
    );
    assert!(small_len > 20_000_000 && large_len > 80_000_000);
    assert!(small < 64 * 1024, "peak RSS {small} KiB for 20 MB");
    assert!(large < 64 * 1024, "peak RSS {large} KiB for 80 MB");
    assert!(
        large < small + 8 * 1024,
        "peak RSS grew from {small} KiB to {large} KiB with 4x the input"
    );
}

#[test]
fn remux_file_mode_header_depends_on_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.asf");
    write_demo_asf(&input, 2);
    // A regular file gets the final header (seek back at the end).
    let file = dir.path().join("out.asf");
    remux_ok(&[input.as_os_str(), file.as_os_str()]);
    let v = inspect_json(&file);
    assert_eq!(v["file_properties"]["broadcast"], false);
    let len = std::fs::metadata(&file).expect("metadata").len();
    let packets = v["file_properties"]["data_packets_count"]
        .as_u64()
        .expect("packet count");
    assert!(packets > 0);
    assert_eq!(v["data_packets"].as_u64(), Some(packets), "{v}");
    // Standard output cannot be rewritten: the first header is broadcast-form, the packets and
    // the index the same as in the file.
    let out = remux_ok(&[input.as_os_str(), "-".as_ref()]);
    assert_eq!(out.stdout.len() as u64, len);
    let piped = dir.path().join("piped.asf");
    std::fs::write(&piped, &out.stdout).expect("write");
    let v = inspect_json(&piped);
    assert_eq!(v["file_properties"]["broadcast"], true);
    let file_bytes = std::fs::read(&file).expect("read");
    let header_len = v["objects"][0]["size"].as_u64().expect("header size") as usize + 50;
    assert_eq!(file_bytes[header_len..], out.stdout[header_len..]);
    assert_ffmpeg_decodes(&file);
    assert_ffmpeg_decodes(&piped);
    // The same file as input and output is refused before anything is overwritten.
    let before = std::fs::read(&input).expect("read");
    let out = run_bounded(
        wmpush().arg("remux").arg(&input).arg(&input),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&input).expect("read"), before);
    // A failed remux leaves no partial output file behind.
    let junk = dir.path().join("junk.asf");
    std::fs::write(&junk, [0x11u8; 300]).expect("write");
    let partial = dir.path().join("partial.asf");
    let out = run_bounded(
        wmpush().arg("remux").arg(&junk).arg(&partial),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!partial.exists());
}

/// A file, the same bytes through standard input and through a FIFO named as IN give the same
/// output (to a pipe, the header and the Data Object header aside: there they are the broadcast
/// form written first).
#[test]
fn remux_output_does_not_depend_on_how_the_input_is_read() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.asf");
    {
        use std::io::Write as _;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("create"));
        // Many read chunks, with packets straddling them.
        generate_stream(24, &mut |b| f.write_all(b).expect("write"));
        f.flush().expect("flush");
    }
    assert!(std::fs::metadata(&input).expect("metadata").len() > 9 << 20);
    let from_file = dir.path().join("file.asf");
    remux_ok(&[input.as_os_str(), from_file.as_os_str()]);
    let from_stdin = dir.path().join("stdin.asf");
    let out = run_bounded(
        wmpush()
            .args(["remux", "-"])
            .arg(&from_stdin)
            .stdin(Stdio::from(std::fs::File::open(&input).expect("open"))),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let piped = run_bounded(
        wmpush()
            .args(["remux", "-", "-"])
            .stdin(Stdio::from(std::fs::File::open(&input).expect("open"))),
        Duration::from_secs(30),
    );
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    // A FIFO named as IN is read as a stream (a pipe cannot be read at offsets).
    let fifo = dir.path().join("in.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let writer = {
        let (input, fifo) = (input.clone(), fifo.clone());
        std::thread::spawn(move || {
            let mut to = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open fifo");
            std::io::copy(&mut std::fs::File::open(&input).expect("open"), &mut to)
                .expect("copy into the fifo")
        })
    };
    let from_fifo = dir.path().join("fifo.asf");
    remux_ok(&[fifo.as_os_str(), from_fifo.as_os_str()]);
    assert!(writer.join().expect("writer") > 9 << 20);
    let from_file = std::fs::read(&from_file).expect("read");
    assert!(
        from_file == std::fs::read(&from_stdin).expect("read"),
        "file and stdin outputs differ"
    );
    assert!(
        from_file == std::fs::read(&from_fifo).expect("read"),
        "file and FIFO outputs differ"
    );
    // The Header Object's size is the QWORD after its GUID (ASF 3.1); the Data Object header
    // is 50 bytes.
    let header_len = u64::from_le_bytes(from_file[16..24].try_into().expect("8 bytes")) as usize;
    assert_eq!(piped.stdout.len(), from_file.len());
    let first_difference = piped.stdout[header_len + 50..]
        .iter()
        .zip(&from_file[header_len + 50..])
        .position(|(a, b)| a != b);
    assert_eq!(
        first_difference, None,
        "piped output differs after the headers"
    );
}

/// A file input (read into pooled buffers, reused once written out): peak memory does not
/// grow with the file. The output goes to a FIFO this test reads, so the child is alive (and
/// its VmHWM readable) after it has read almost all of its input.
#[test]
fn remux_of_a_file_stays_flat_in_memory() {
    use std::io::Read as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tempdir");
    let peak_for = |seconds: u64| -> (u64, u64) {
        let input = dir.path().join(format!("in{seconds}.asf"));
        {
            use std::io::Write as _;
            let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("create"));
            generate_stream(seconds, &mut |b| f.write_all(b).expect("write"));
            f.flush().expect("flush");
        }
        let len = std::fs::metadata(&input).expect("metadata").len();
        let fifo = dir.path().join(format!("out{seconds}.fifo"));
        let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
        assert!(made.success());
        let mut child = wmpush()
            .arg("remux")
            .arg(&input)
            .arg(&fifo)
            .stderr(Stdio::piped())
            .spawn()
            .expect("wmpush runs");
        let mut out = std::fs::File::open(&fifo).expect("open fifo");
        let mut buf = vec![0u8; 64 * 1024];
        let (mut got, mut peak) = (0u64, 0u64);
        let start = std::time::Instant::now();
        loop {
            let n = out.read(&mut buf).expect("read fifo");
            if n == 0 {
                break;
            }
            got += n as u64;
            // Near the end the whole input has been read and mapped once.
            if got > len * 9 / 10
                && let Some(p) = peak_rss_kib(child.id())
            {
                peak = peak.max(p);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "remux did not end"
            );
        }
        let status = child.wait().expect("wait");
        assert!(status.success());
        assert!(got > len * 99 / 100, "{got} of {len} bytes out");
        assert!(peak > 0, "VmHWM was read");
        (peak, len)
    };
    // Both over the memory the pipeline holds in steady state.
    let (small, small_len) = peak_for(80);
    let (large, large_len) = peak_for(320);
    eprintln!("peak RSS: {small} KiB for {small_len} bytes, {large} KiB for {large_len} bytes");
    assert!(large_len > 3 * small_len);
    // Bounded far below the input (170 MB): the buffers in flight, not the file.
    assert!(
        large < 64 * 1024,
        "peak RSS {large} KiB for {large_len} bytes"
    );
    // How many buffers are in flight at the peak depends on timing between the two threads.
    assert!(
        large < small + 16 * 1024,
        "peak RSS grew from {small} KiB to {large} KiB with 4x the input"
    );
}
