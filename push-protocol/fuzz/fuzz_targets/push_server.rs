#![no_main]
//! Arbitrary bytes into the push server, in chunks, with setups accepted and time moving:
//! no panic, and buffered memory stays bounded.

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use push_protocol::push_server::{MAX_SETUP_BODY, PushServer, PushServerConfig, ServerEvent};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    let config = PushServerConfig::default();
    // Per connection: one head, one PushSetup body, one push frame, one input chunk.
    let per_conn = config.max_head + MAX_SETUP_BODY as usize + 4 + 65_535 + 256;
    let mut server = PushServer::new(config);
    let mut now = Instant::now();
    let mut n = 0u8;
    let mut rng = move |buf: &mut [u8]| {
        for b in buf {
            n = n.wrapping_add(97);
            *b = n;
        }
    };
    for (i, chunk) in rest.chunks(usize::from(step).max(1)).enumerate() {
        let conn = (i % 3 == 2) as u64;
        server.handle_input(conn, chunk, now, &mut rng);
        while let Some(e) = server.poll_event() {
            if let ServerEvent::SetupRequested { connection, .. } = e {
                let _ = server.accept_setup(connection, now, &mut rng);
            }
        }
        assert!(
            server.buffered_bytes() <= 2 * per_conn + 64 * 1024,
            "buffered {} bytes",
            server.buffered_bytes()
        );
        while server.poll_transmit().is_some() {}
        now += Duration::from_secs(7);
        if server.poll_timeout().is_some_and(|t| t <= now) {
            server.handle_timeout(now);
        }
        assert!(server.session_count() <= 256);
    }
});
