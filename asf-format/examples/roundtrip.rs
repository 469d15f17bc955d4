//! Parses an ASF file into the model and serializes the MODEL back out.
//!
//! `cargo run --release -p asf-format --example roundtrip -- IN OUT`
//!
//! Exits non-zero with the error on stderr when IN does not parse. Prints validate findings
//! and, if the input was truncated, where.
//!
//! The work is done by [`round_trip`], which the integration test `generated_media.rs` includes
//! so that the files written by FFmpeg and GStreamer go through exactly this code path.

use std::process::ExitCode;

use asf_format::file::AsfFile;
use asf_format::{Limits, validate};

/// What one round trip produced.
pub struct RoundTrip {
    /// The bytes serialized from the model.
    pub output: Vec<u8>,
    /// One line per validation finding and per truncation note.
    pub notes: Vec<String>,
}

/// Parses `input` into the model and serializes the model (not the input) back.
pub fn round_trip(input: &[u8]) -> Result<RoundTrip, asf_format::Error> {
    let file = AsfFile::parse(input, &Limits::default())?;
    let mut notes: Vec<String> = validate::validate(&file)
        .iter()
        .map(ToString::to_string)
        .collect();
    if let Some(t) = &file.truncated {
        notes.push(format!(
            "truncated inside the {} at offset {} ({} of {} bytes present)",
            t.object, t.offset, t.available, t.declared_size
        ));
    }
    Ok(RoundTrip {
        output: file.to_bytes(),
        notes,
    })
}

#[allow(dead_code)] // unused when the test includes this file
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        eprintln!("usage: roundtrip IN OUT");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(input) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::from(1);
        }
    };
    let done = match round_trip(&bytes) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::from(1);
        }
    };
    for note in &done.notes {
        eprintln!("{input}: {note}");
    }
    if let Err(e) = std::fs::write(output, &done.output) {
        eprintln!("{output}: {e}");
        return ExitCode::from(1);
    }
    println!(
        "{input}: {} bytes in, {} bytes out, {}",
        bytes.len(),
        done.output.len(),
        if done.output == bytes {
            "identical"
        } else {
            "different"
        }
    );
    ExitCode::SUCCESS
}
