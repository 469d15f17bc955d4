#![no_main]
//! Config files and auth files are operator input: errors, never panics.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wmpush::config::ServeConfig::parse(text);
        if let Ok(auth) = wmpush::auth::AuthFile::parse(text, "wmpush") {
            let _ = auth.verify(text, "POST");
        }
        let _ = wmpush::ingest::parse_directives(data);
    }
});
