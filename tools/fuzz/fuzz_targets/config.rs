#![no_main]
//! Config files and auth files are operator input: errors, never panics. The users an
//! htdigest file yields are then checked the way `wmpush serve` checks them (push-protocol's
//! `ServerAuth` offering Digest and Basic against each HA1), with the same bytes as the
//! `Authorization` header: still errors, never panics. (PushSetup directives are parsed and
//! fuzzed inside push-protocol's `PushServer`, target `push_server`.)

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use push_protocol::auth::{Credential, DigestAlgorithm, ServerAuth, ServerScheme};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wmpush::config::ServeConfig::parse(text);
        if let Ok(auth) = wmpush::auth::AuthFile::parse(text, "wmpush") {
            let users: HashMap<String, String> = auth
                .users()
                .map(|(u, h)| (u.to_string(), h.to_string()))
                .collect();
            let lookup = |u: &str| users.get(u).map(|h| Credential::Ha1(h.clone()));
            let mut verifier = ServerAuth::with_schemes(
                auth.realm(),
                &[
                    ServerScheme::Digest(DigestAlgorithm::Md5),
                    ServerScheme::Basic,
                ],
                4,
                Duration::from_secs(60),
            );
            let _ = verifier.verify(Some(text), "POST", &lookup, Instant::now());
        }
    }
});
