//! Remux an ASF file into new packets: `remux IN OUT [--packet-size N] [--preroll MS] [--live]
//! [--compressed]`.
//!
//! The library does no IO: this example streams the input in 64 KiB chunks, writes the output
//! as it comes, and in file mode seeks back to write the header fix-up.

use std::io::{Read, Seek, SeekFrom, Write};

use asf_packetizer::{Mode, RemuxOptions, Remuxer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = RemuxOptions::default();
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packet-size" => {
                opts.packet_size = Some(it.next().ok_or("--packet-size N")?.parse()?)
            }
            "--preroll" => opts.preroll = Some(it.next().ok_or("--preroll MS")?.parse()?),
            "--live" => opts.mode = Mode::Live,
            "--compressed" => opts.compressed_payloads = true,
            f => files.push(f.to_owned()),
        }
    }
    let [input, output] = files.as_slice() else {
        return Err(
            "usage: remux IN OUT [--packet-size N] [--preroll MS] [--live] [--compressed]".into(),
        );
    };
    let mut inp = std::fs::File::open(input)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(output)?);
    let mut err: Option<std::io::Error> = None;
    let mut sink = |b: &[u8]| {
        if err.is_none()
            && let Err(e) = out.write_all(b)
        {
            err = Some(e);
        }
    };
    let mut r = Remuxer::new(opts);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = inp.read(&mut buf)?;
        if n == 0 {
            break;
        }
        r.push(&buf[..n], &mut sink)?;
    }
    let summary = r.finish(&mut sink)?;
    if let Some(e) = err {
        return Err(e.into());
    }
    if let Some(f) = &summary.fixup {
        out.seek(SeekFrom::Start(f.offset))?;
        out.write_all(&f.bytes)?;
    }
    out.flush()?;
    eprintln!(
        "{} bytes, {} packets, {} late payloads, {} bad input packets, {} dropped objects",
        summary.bytes_written,
        summary.stats.packets,
        summary.stats.late_payloads,
        summary.bad_packets,
        summary.dropped_objects
    );
    Ok(())
}
