//! Parses an ASF file into the model and serializes the MODEL back out.
//!
//! `cargo run --release -p asf-format --example roundtrip -- IN OUT`
//!
//! Exits non-zero with the error on stderr when IN does not parse. Prints validate findings
//! and, if the input was truncated, where.

use std::process::ExitCode;

use asf_format::file::AsfFile;
use asf_format::{Limits, validate};

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
    let file = match AsfFile::parse(&bytes, &Limits::default()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::from(1);
        }
    };
    for f in validate::validate(&file) {
        eprintln!("{input}: {f}");
    }
    if let Some(t) = &file.truncated {
        eprintln!(
            "{input}: truncated inside the {} at offset {} ({} of {} bytes present)",
            t.object, t.offset, t.available, t.declared_size
        );
    }
    let out = file.to_bytes();
    if let Err(e) = std::fs::write(output, &out) {
        eprintln!("{output}: {e}");
        return ExitCode::from(1);
    }
    println!(
        "{input}: {} bytes in, {} bytes out, {}",
        bytes.len(),
        out.len(),
        if out == bytes {
            "identical"
        } else {
            "different"
        }
    );
    ExitCode::SUCCESS
}
