//! Whatever parses as a whole ASF file must serialize back to the same bytes, and validate
//! must not panic on it.
#![no_main]

use asf_format::{AsfFile, Limits, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut limits = Limits::default();
    limits.max_header_size = 1 << 20;
    limits.max_object_size = 1 << 20;
    if let Ok(file) = AsfFile::parse(data, &limits) {
        assert_eq!(file.encoded_len(), data.len() as u64);
        assert!(file.to_bytes() == data, "model does not round trip");
        let _ = validate(&file);
        for p in file.packets().take(64) {
            let _ = p;
        }
        let mut fixed = file.clone();
        fixed.fix();
        assert_eq!(fixed.to_bytes().len() as u64, fixed.encoded_len());
    }
});
