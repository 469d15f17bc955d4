//! In-memory client/server pair on virtual time: bytes shuttled by a tiny harness, no sockets, no sleeps.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use push_protocol::auth::{Credential, DigestAlgorithm, ServerScheme};
use push_protocol::push_client::{ClientEvent, PushClient, PushClientConfig};
use push_protocol::push_server::{PushServer, PushServerConfig, ServerEvent};

struct Pair {
    client: PushClient,
    server: PushServer,
    now: Instant,
    seed: u8,
    open: HashSet<u64>,
    accept: bool,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    to_client: Vec<(u64, Vec<u8>)>,
}

impl Pair {
    fn new(client: PushClientConfig, server: PushServerConfig) -> Pair {
        Pair {
            client: PushClient::new(client),
            server: PushServer::new(server),
            now: Instant::now(),
            seed: 1,
            open: HashSet::new(),
            accept: true,
            client_events: Vec::new(),
            server_events: Vec::new(),
            to_client: Vec::new(),
        }
    }

    fn rng(&mut self) -> impl FnMut(&mut [u8]) + use<> {
        self.seed = self.seed.wrapping_add(13);
        let mut n = self.seed;
        move |buf: &mut [u8]| {
            for b in buf {
                n = n.wrapping_mul(31).wrapping_add(7);
                *b = n;
            }
        }
    }

    /// Shuttles bytes and events until nothing moves (bounded).
    fn pump(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            let mut closes = Vec::new();
            while let Some(e) = self.client.poll_event() {
                moved = true;
                match &e {
                    ClientEvent::OpenConnection { id, .. } => {
                        self.open.insert(*id);
                    }
                    ClientEvent::CloseConnection { id } => closes.push(*id),
                    _ => {}
                }
                self.client_events.push(e);
            }
            while let Some((id, bytes)) = self.client.poll_transmit() {
                moved = true;
                if self.open.contains(&id) {
                    let mut r = self.rng();
                    self.server.handle_input(id, &bytes, self.now, &mut r);
                }
            }
            // A driver closes a socket after writing what was queued for it.
            for id in closes {
                if self.open.remove(&id) {
                    self.server.handle_connection_closed(id, self.now);
                }
            }
            while let Some((id, bytes)) = self.server.poll_transmit() {
                moved = true;
                self.to_client.push((id, bytes.clone()));
                if self.open.contains(&id) {
                    let mut r = self.rng();
                    self.client
                        .handle_input(id, &bytes, &mut r)
                        .expect("server responses parse");
                }
            }
            while let Some(e) = self.server.poll_event() {
                moved = true;
                match &e {
                    ServerEvent::SetupRequested { connection, .. } if self.accept => {
                        let mut r = self.rng();
                        self.server
                            .accept_setup(*connection, self.now, &mut r)
                            .expect("pending setup");
                    }
                    ServerEvent::ConnectionClose { connection } => {
                        while let Some((id, bytes)) = self.server.poll_transmit() {
                            self.to_client.push((id, bytes.clone()));
                            if self.open.contains(&id) {
                                let mut r = self.rng();
                                self.client.handle_input(id, &bytes, &mut r).expect("parse");
                            }
                        }
                        if self.open.remove(connection) {
                            self.client.handle_connection_closed(*connection);
                        }
                    }
                    _ => {}
                }
                self.server_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("harness did not settle");
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        self.pump();
    }

    fn packets(&self) -> Vec<Vec<u8>> {
        self.server_events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Packet { packet, .. } => Some(packet.to_vec()),
                _ => None,
            })
            .collect()
    }

    fn statuses(&self) -> Vec<u16> {
        self.to_client
            .iter()
            .filter_map(|(_, b)| {
                String::from_utf8_lossy(&b[..12.min(b.len())])
                    .get(9..12)?
                    .parse()
                    .ok()
            })
            .collect()
    }

    fn raw(&mut self, conn: u64, bytes: &[u8]) -> u16 {
        while let Some(t) = self.server.poll_transmit() {
            self.to_client.push(t);
        }
        let before = self.to_client.len();
        let mut r = self.rng();
        self.server.handle_input(conn, bytes, self.now, &mut r);
        while let Some(t) = self.server.poll_transmit() {
            self.to_client.push(t);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
        self.to_client[before..]
            .iter()
            .find(|(c, _)| *c == conn)
            .map(|(_, b)| String::from_utf8_lossy(&b[9..12]).parse().expect("status"))
            .unwrap_or(0)
    }
}

fn cfg() -> PushClientConfig {
    let mut c = PushClientConfig::new("127.0.0.1:8080", "/live");
    c.auto_destroy = Some(true);
    c.template_url = Some("/tmpl".into());
    c
}

fn header() -> Vec<u8> {
    let mut h = push_protocol::framing::ASF_HEADER_GUID.to_vec();
    h.extend_from_slice(&[0xAB; 60]);
    h
}

fn established(server: PushServerConfig, client: PushClientConfig) -> Pair {
    let mut p = Pair::new(client, server);
    p.client.connect(&header()).expect("connect");
    p.pump();
    p
}

#[test]
fn full_session() {
    let mut p = established(PushServerConfig::default(), cfg());
    match &p.server_events[0] {
        ServerEvent::SetupRequested {
            path,
            template,
            auto_destroy,
            user,
            resume,
            ..
        } => {
            assert_eq!(path, "/live");
            assert_eq!(template.as_deref(), Some("/tmpl"));
            assert!(*auto_destroy);
            assert_eq!((user, resume), (&None, &None));
        }
        e => panic!("unexpected {e:?}"),
    }
    let id = p.client.push_id().to_string();
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(
        matches!(&p.server_events[1], ServerEvent::Header { header: h, .. } if h[..] == header()[..])
    );
    for i in 0..5u8 {
        p.client.send_packet(&[i; 100]).expect("streaming");
    }
    p.client.end_session().expect("streaming");
    p.pump();
    assert_eq!(
        p.packets(),
        (0..5u8).map(|i| vec![i; 100]).collect::<Vec<_>>()
    );
    assert!(p.server_events.contains(&ServerEvent::EndOfStream {
        push_id: id,
        reason: 0,
        path: "/live".into(),
        auto_destroy: true
    }));
    assert_eq!(p.server.session_count(), 0);
    assert!(p.client_events.contains(&ClientEvent::Finished));
    let resp = String::from_utf8_lossy(&p.to_client[0].1).to_string();
    assert!(
        resp.starts_with("HTTP/1.1 204 No Content\r\nServer: Cougar/9.01.01.3814\r\n"),
        "{resp}"
    );
    assert!(resp.contains("\r\nPragma: no-cache, timeout=60000\r\n"));
    assert!(resp.contains("\r\nSet-Cookie: push-id="));
}

fn auth_session(scheme: ServerScheme, password: &str) -> Pair {
    let s = PushServerConfig {
        auth: vec![scheme],
        ..PushServerConfig::default()
    };
    let mut p = Pair::new(cfg(), s);
    p.server
        .add_user("enc", Credential::Password("secret".into()));
    p.client.connect(&header()).expect("connect");
    p.pump();
    assert!(matches!(
        p.client_events.last(),
        Some(ClientEvent::AuthenticationNeeded { .. })
    ));
    let mut r = p.rng();
    p.client
        .set_credentials("enc", password, &mut r)
        .expect("pending");
    p.pump();
    p
}

#[test]
fn digest_and_basic_sessions() {
    for scheme in [
        ServerScheme::Digest(DigestAlgorithm::Md5),
        ServerScheme::Digest(DigestAlgorithm::Sha256),
        ServerScheme::Basic,
    ] {
        let mut p = auth_session(scheme, "secret");
        assert!(
            p.server_events.iter().any(
                |e| matches!(e, ServerEvent::SetupRequested { user: Some(u), .. } if u == "enc")
            ),
            "{scheme:?}"
        );
        p.client.send_packet(b"pkt").expect("streaming");
        p.pump();
        assert_eq!(p.packets(), vec![b"pkt".to_vec()], "{scheme:?}");
        assert_eq!(p.statuses()[..2], [401, 204]);
    }
}

#[test]
fn wrong_password_is_asked_again() {
    let p = auth_session(ServerScheme::Digest(DigestAlgorithm::Md5), "wrong");
    assert_eq!(p.statuses(), vec![401, 401]);
    let asks = p
        .client_events
        .iter()
        .filter(|e| matches!(e, ClientEvent::AuthenticationNeeded { .. }))
        .count();
    assert_eq!(asks, 2);
    assert!(p.packets().is_empty());
    assert_eq!(p.server.session_count(), 0);
}

#[test]
fn one_unauthenticated_push_start_after_authenticated_setup() {
    let s = PushServerConfig {
        auth: vec![ServerScheme::Basic],
        ..PushServerConfig::default()
    };
    let mut p = Pair::new(cfg(), s);
    p.server.add_user("enc", Credential::Password("pw".into()));
    let setup = "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: h\r\nContent-Length: 0\r\nCookie: push-id=0\r\nAuthorization: Basic ZW5jOnB3\r\n\r\n";
    p.raw(7, setup.as_bytes());
    let mut r = p.rng();
    let id = p.server.accept_setup(7, p.now, &mut r).expect("pending");
    let start = format!(
        "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: h\r\nContent-Length: 8\r\nCookie: push-id={id}\r\n\r\n$F\x04\x00\x00\x00\x00\x00"
    );
    assert_eq!(p.raw(7, start.as_bytes()), 204, "one free PushStart");
    assert_eq!(p.raw(8, start.as_bytes()), 401, "only one");
}

#[test]
fn dropped_connection_resumed_by_push_id() {
    let mut p = established(PushServerConfig::default(), cfg());
    p.client.send_packet(b"a").expect("ok");
    p.pump();
    p.client.disconnect();
    p.pump();
    assert_eq!(p.server.session_count(), 1, "state kept after a drop");
    p.advance(Duration::from_secs(30));
    let mut r = p.rng();
    p.client.resume(&mut r).expect("dropped");
    p.client.send_packet(b"b").expect("ok");
    p.pump();
    assert_eq!(p.packets(), vec![b"a".to_vec(), b"b".to_vec()]);
    let headers = p
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Header { .. }))
        .count();
    assert_eq!(headers, 1, "no second $H");
}

#[test]
fn stream_change() {
    let mut p = established(PushServerConfig::default(), cfg());
    p.client.send_packet(b"a").expect("ok");
    p.client.change_stream(b"NEWHEADER").expect("ok");
    p.client.send_packet(b"b").expect("ok");
    p.pump();
    assert!(p.server_events.iter().any(
        |e| matches!(e, ServerEvent::StreamChange { header, .. } if &header[..] == b"NEWHEADER")
    ));
    assert_eq!(p.packets(), vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(p.server.session_count(), 1);
}

#[test]
fn fill_and_second_push_start() {
    let mut c = cfg();
    c.proxy = true;
    c.proxy_budget = 300;
    let mut p = established(PushServerConfig::default(), c);
    for i in 0..6u8 {
        p.client.send_packet(&[i; 96]).expect("ok");
        p.pump();
    }
    assert_eq!(p.packets().len(), 6);
    let renewals = p
        .client_events
        .iter()
        .filter(|e| **e == ClientEvent::PushStartRenewed)
        .count();
    assert!(renewals >= 2, "{renewals}");
    assert!(p.statuses().iter().all(|s| *s == 204));
}

#[test]
fn idle_and_inactivity_timeouts() {
    let mut p = established(PushServerConfig::default(), cfg());
    p.advance(Duration::from_secs(59));
    assert_eq!(p.server.session_count(), 1);
    p.advance(Duration::from_secs(2));
    assert_eq!(*p.statuses().last().expect("a response"), 408);
    assert!(
        p.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::SessionExpired { .. }))
    );
    assert!(
        p.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Rejected { status: 408, .. }))
    );

    let mut p = established(PushServerConfig::default(), cfg());
    p.client.disconnect();
    p.pump();
    p.advance(Duration::from_secs(119));
    assert_eq!(p.server.session_count(), 1);
    p.advance(Duration::from_secs(2));
    assert_eq!(p.server.session_count(), 0);
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::SessionExpired {
            auto_destroy: true,
            ..
        }
    )));
}

#[test]
fn error_statuses() {
    let mut p = established(PushServerConfig::default(), cfg());
    let id = p.client.push_id().to_string();
    let start = |id: &str| {
        format!(
            "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: h\r\nContent-Length: 100\r\nCookie: push-id={id}\r\n\r\n"
        )
    };
    assert_eq!(
        p.raw(50, start(&id).as_bytes()),
        409,
        "second live PushStart"
    );
    assert_eq!(p.raw(51, start("nope").as_bytes()), 404, "unknown push-id");
    assert_eq!(
        p.raw(
            52,
            b"POST /live HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
        ),
        415
    );
    assert_eq!(
        p.raw(
            53,
            b"POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\n\r\n"
        ),
        400,
        "no Content-Length"
    );
    assert_eq!(p.raw(54, b"GARBAGE\x00\x01 \r\n\r\n"), 400);
    let big = format!("POST /live HTTP/1.1\r\nX: {}\r\n", "a".repeat(20_000));
    assert_eq!(p.raw(55, big.as_bytes()), 413);
    let setup = b"POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup; charset=UTF-8\r\nUser-Agent: Mozilla/5.0\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        p.raw(56, setup),
        0,
        "lenient: a SetupRequested, no response yet"
    );
    p.server.refuse(56, 404);
    while let Some(t) = p.server.poll_transmit() {
        p.to_client.push(t);
    }
    assert_eq!(p.statuses().last(), Some(&404));
    let mut strict = Pair::new(
        cfg(),
        PushServerConfig {
            strict_user_agent: true,
            ..PushServerConfig::default()
        },
    );
    assert_eq!(strict.raw(1, setup), 403);
    // A $D before $H is a 400.
    let mut q = Pair::new(cfg(), PushServerConfig::default());
    q.raw(1, b"POST /x HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 0\r\n\r\n");
    let mut r = q.rng();
    let id = q.server.accept_setup(1, q.now, &mut r).expect("pending");
    let mut bad = start(&id).into_bytes();
    bad.extend_from_slice(b"$D\x01\x00x");
    assert_eq!(q.raw(1, &bad), 400);
}

#[test]
fn server_output_is_chunking_independent() {
    let mut whole = Pair::new(cfg(), PushServerConfig::default());
    let mut split = Pair::new(cfg(), PushServerConfig::default());
    let mut wire = b"POST /x HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nContent-Length: 30\r\nCookie: push-id=ID\r\n\r\n".to_vec();
    let mut body = Vec::new();
    push_protocol::framing::encode_header(&header(), &mut body).expect("small");
    wire.extend_from_slice(&body);
    for p in [&mut whole, &mut split] {
        p.raw(1, b"POST /x HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 0\r\n\r\n");
    }
    let mut r = whole.rng();
    let a = whole.server.accept_setup(1, whole.now, &mut r).expect("ok");
    let mut r = split.rng();
    let b = split.server.accept_setup(1, split.now, &mut r).expect("ok");
    let wire_a = String::from_utf8_lossy(&wire).replace("push-id=ID", &format!("push-id={a}"));
    let wire_b = String::from_utf8_lossy(&wire).replace("push-id=ID", &format!("push-id={b}"));
    whole.raw(1, wire_a.as_bytes());
    for ch in wire_b.as_bytes().chunks(3) {
        split.raw(1, ch);
    }
    let strip = |evs: &[ServerEvent]| {
        evs.iter()
            .map(|e| format!("{e:?}").replace(&a, "ID").replace(&b, "ID"))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&whole.server_events), strip(&split.server_events));
}

#[test]
fn server_redirects_a_setup_and_the_client_follows() {
    let mut p = Pair::new(cfg(), PushServerConfig::default());
    p.accept = false;
    p.client.connect(&header()).expect("connect");
    p.pump();
    let first = p
        .server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::SetupRequested {
                connection, path, ..
            } => Some((*connection, path.clone())),
            _ => None,
        })
        .expect("setup requested");
    assert_eq!(first.1, "/live");
    // A Location that would inject a header is refused and the setup stays pending.
    assert!(
        p.server
            .redirect(first.0, "http://edge\r\nX: y/live2")
            .is_err()
    );
    assert!(p.server.redirect(first.0, "/relative").is_err());
    p.server
        .redirect(first.0, "http://edge.example:8081/live2")
        .expect("pending setup");
    assert!(
        p.server.redirect(first.0, "http://x/y").is_err(),
        "only once"
    );
    p.accept = true;
    p.pump();
    let redirect = String::from_utf8_lossy(&p.to_client[0].1).to_string();
    assert!(redirect.starts_with("HTTP/1.1 302 Found\r\n"), "{redirect}");
    assert!(redirect.contains("\r\nLocation: http://edge.example:8081/live2\r\n"));
    assert!(
        !redirect.contains("Set-Cookie"),
        "no session for a redirect"
    );
    assert!(p.client_events.contains(&ClientEvent::Redirected {
        location: "http://edge.example:8081/live2".into()
    }));
    // The client starts over at the new URL (here the same in-memory server plays the edge).
    let second = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::SetupRequested { path, resume, .. } => {
                Some((path.clone(), resume.clone()))
            }
            _ => None,
        })
        .nth(1)
        .expect("second setup");
    assert_eq!(second, ("/live2".to_string(), None));
    p.client.send_packet(b"after redirect").expect("streaming");
    p.pump();
    assert_eq!(p.packets(), vec![b"after redirect".to_vec()]);
    assert_eq!(p.server.session_count(), 1);
}

#[test]
fn second_push_start_takes_over_when_configured() {
    let takeover = PushServerConfig {
        takeover: true,
        ..PushServerConfig::default()
    };
    for allowed in [false, true] {
        let config = if allowed {
            takeover.clone()
        } else {
            PushServerConfig::default()
        };
        let mut p = established(config, cfg());
        let id = p.client.push_id().to_string();
        let old = p.client.connection().expect("streaming connection");
        p.client.send_packet(&[1; 40]).expect("streaming");
        p.pump();
        let mut start = format!(
            "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: h\r\nContent-Length: 2147483647\r\nCookie: push-id={id}\r\n\r\n"
        )
        .into_bytes();
        // The new encoder goes on with data packets: the session already has its header.
        push_protocol::framing::encode_data(&[2; 8], &mut start).expect("small frame");
        let status = p.raw(77, &start);
        if allowed {
            assert_eq!(status, 0, "taken over: no response, the body is streaming");
            assert!(
                p.server_events
                    .contains(&ServerEvent::ConnectionClose { connection: old }),
                "the old encoder's connection is closed"
            );
            assert_eq!(p.packets(), vec![vec![1; 40], vec![2; 8]]);
        } else {
            assert_eq!(status, 409);
            assert_eq!(p.packets(), vec![vec![1; 40]]);
            // The first encoder is undisturbed.
            p.client.send_packet(&[3; 40]).expect("streaming");
            p.pump();
            assert_eq!(p.packets(), vec![vec![1; 40], vec![3; 40]]);
        }
        assert_eq!(p.server.session_count(), 1);
    }
}

#[test]
fn one_server_offers_digest_and_basic_against_htdigest() {
    let realm = "wmpush";
    // htdigest: HA1 = MD5(user:realm:password).
    let ha1 = DigestAlgorithm::Md5.hash_hex(&format!("enc:{realm}:secret"));
    let config = PushServerConfig {
        auth: vec![
            ServerScheme::Digest(DigestAlgorithm::Md5),
            ServerScheme::Basic,
        ],
        realm: realm.to_string(),
        ..PushServerConfig::default()
    };
    // Our client prefers Digest among the challenges.
    let mut p = Pair::new(cfg(), config.clone());
    p.server.add_user("enc", Credential::Ha1(ha1.clone()));
    p.client.connect(&header()).expect("connect");
    p.pump();
    let challenge = String::from_utf8_lossy(&p.to_client[0].1).to_string();
    assert!(challenge.starts_with("HTTP/1.1 401 "), "{challenge}");
    let offers: Vec<&str> = challenge
        .lines()
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .collect();
    assert_eq!(offers.len(), 2, "{challenge}");
    assert!(offers[0].starts_with("Digest realm=\"wmpush\", nonce=\""));
    assert_eq!(offers[1], "Basic realm=\"wmpush\"");
    assert!(
        p.client_events
            .contains(&ClientEvent::AuthenticationNeeded {
                scheme: "Digest",
                realm: realm.to_string()
            })
    );
    let mut r = p.rng();
    p.client
        .set_credentials("enc", "secret", &mut r)
        .expect("pending");
    p.pump();
    p.client.send_packet(b"digest").expect("streaming");
    p.pump();
    assert_eq!(p.packets(), vec![b"digest".to_vec()]);

    // A Basic-only client is checked against the same HA1.
    let basic = |password: &str| {
        let auth = push_protocol::auth::basic_authorization("enc", password);
        format!(
            "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nUser-Agent: WMEncoder/11.0.5721.5145\r\nHost: h\r\nContent-Length: 0\r\nAuthorization: {auth}\r\nCookie: push-id=0\r\n\r\n"
        )
    };
    let mut q = Pair::new(cfg(), config);
    q.server.add_user("enc", Credential::Ha1(ha1));
    q.accept = false;
    assert_eq!(q.raw(1, basic("wrong").as_bytes()), 401);
    assert_eq!(q.server.session_count(), 0);
    assert_eq!(
        q.raw(2, basic("secret").as_bytes()),
        0,
        "setup awaits the application"
    );
    assert!(q.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::SetupRequested { user: Some(u), connection: 2, .. } if u == "enc"
    )));
    // A scheme the server did not offer is challenged again, never accepted.
    let sha = "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 0\r\nAuthorization: Digest username=\"enc\", realm=\"wmpush\", nonce=\"x\", uri=\"/live\", response=\"0\", algorithm=SHA-256\r\n\r\n";
    assert_eq!(q.raw(3, sha.as_bytes()), 401);
}

#[test]
fn buffered_memory_is_bounded_per_connection() {
    use push_protocol::push_server::MAX_SETUP_BODY;
    let config = PushServerConfig::default();
    let per_conn = config.max_head + MAX_SETUP_BODY as usize + 4 + 65_535;
    // A peer that keeps sending while its PushSetup awaits the application is cut off (413).
    let mut p = Pair::new(cfg(), config.clone());
    p.accept = false;
    let setup = b"POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushsetup\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(p.raw(1, setup), 0);
    let mut last = 0;
    for _ in 0..100 {
        last = p.raw(1, &[b'x'; 4096]);
        assert!(p.server.buffered_bytes() <= per_conn + 4096);
        if last != 0 {
            break;
        }
    }
    assert_eq!(last, 413);
    // A streaming peer trickling one maximal frame holds at most that frame.
    let mut q = established(config, cfg());
    let id = q.client.push_id().to_string();
    let start = format!(
        "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nContent-Length: 2147483647\r\nCookie: push-id={id}\r\n\r\n"
    );
    q.client.disconnect();
    q.pump();
    assert_eq!(q.raw(9, start.as_bytes()), 0);
    let mut frame = Vec::new();
    push_protocol::framing::encode_data(&[7; 65_531], &mut frame).expect("largest frame");
    for piece in frame.chunks(1000) {
        q.raw(9, piece);
        assert!(
            q.server.buffered_bytes() <= per_conn,
            "{}",
            q.server.buffered_bytes()
        );
    }
    assert_eq!(q.packets().last().map(Vec::len), Some(65_531));
    assert!(q.server.buffered_bytes() < 1000);
}

#[test]
fn setup_before_the_header_then_push_start_with_it() {
    let mut p = Pair::new(cfg(), PushServerConfig::default());
    p.client.connect_setup().expect("idle");
    assert!(p.client.connect_setup().is_err(), "twice");
    p.pump();
    // The PushSetup is accepted with no header known: no PushStart yet.
    assert!(matches!(
        p.client_events
            .iter()
            .find(|e| matches!(e, ClientEvent::SetupAccepted { .. })),
        Some(ClientEvent::SetupAccepted { .. })
    ));
    assert!(!p.client.has_header());
    assert!(
        !p.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Header { .. })),
        "no $H before the header is given"
    );
    let mut r = p.rng();
    p.client
        .set_header(&header(), &mut r)
        .expect("session set up");
    let mut r = p.rng();
    assert!(p.client.set_header(&header(), &mut r).is_err(), "once");
    p.client.send_packet(b"one").expect("streaming");
    p.client.end_session().expect("streaming");
    p.pump();
    let headers: Vec<_> = p
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Header { .. }))
        .collect();
    assert_eq!(headers.len(), 1);
    assert_eq!(p.packets(), vec![b"one".to_vec()]);
    assert!(p.client_events.contains(&ClientEvent::Finished));

    // A refusal is known before any header exists.
    let mut q = Pair::new(cfg(), PushServerConfig::default());
    q.accept = false;
    q.client.connect_setup().expect("idle");
    q.pump();
    let conn = q
        .server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::SetupRequested { connection, .. } => Some(*connection),
            _ => None,
        })
        .expect("setup");
    q.server.refuse(conn, 404);
    q.pump();
    assert!(
        q.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Rejected { status: 404, .. })),
        "{:?}",
        q.client_events
    );
}

#[test]
fn resume_with_setup_is_accepted_explicitly_and_sends_no_new_header() {
    let mut p = established(PushServerConfig::default(), cfg());
    let id = p.client.push_id().to_string();
    p.client.send_packet(b"before").expect("streaming");
    p.pump();
    p.client.disconnect();
    p.pump();
    let accepted_before = p
        .client_events
        .iter()
        .filter(|e| matches!(e, ClientEvent::SetupAccepted { .. }))
        .count();
    let mut r = p.rng();
    p.client.resume_with_setup(&mut r).expect("dropped");
    p.client.send_packet(b"after").expect("queued");
    p.pump();
    assert!(p.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::SetupRequested { resume: Some(r), .. } if *r == id
    )));
    let accepted_after = p
        .client_events
        .iter()
        .filter(|e| matches!(e, ClientEvent::SetupAccepted { .. }))
        .count();
    assert_eq!(accepted_after, accepted_before + 1);
    assert_eq!(p.client.push_id(), id);
    let headers = p
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Header { .. }))
        .count();
    assert_eq!(headers, 1, "no second $H on resume");
    assert_eq!(p.packets(), vec![b"before".to_vec(), b"after".to_vec()]);

    // A server that forgot the session refuses the resume explicitly.
    let mut q = established(PushServerConfig::default(), cfg());
    q.client.disconnect();
    q.pump();
    q.advance(Duration::from_secs(600));
    assert_eq!(q.server.session_count(), 0, "expired");
    let mut r = q.rng();
    q.client.resume_with_setup(&mut r).expect("dropped");
    q.pump();
    assert!(
        q.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Rejected { .. })),
        "{:?}",
        q.client_events
    );
}

#[test]
fn application_ends_a_session_with_a_status() {
    let mut p = established(PushServerConfig::default(), cfg());
    let id = p.client.push_id().to_string();
    let conn = p.client.connection().expect("streaming");
    assert!(p.server.end_session(&id, 413));
    assert!(!p.server.end_session(&id, 413), "forgotten");
    p.pump();
    assert_eq!(p.statuses().last(), Some(&413));
    assert!(
        p.server_events
            .contains(&ServerEvent::ConnectionClose { connection: conn })
    );
    assert_eq!(p.server.session_count(), 0);
    assert!(!p.server.has_session(&id));
    // Its push-id is unknown now.
    let start = format!(
        "POST /live HTTP/1.1\r\nContent-Type: application/x-wms-pushstart\r\nContent-Length: 10\r\nCookie: push-id={id}\r\n\r\n"
    );
    assert_eq!(p.raw(90, start.as_bytes()), 404);
}

#[test]
fn per_session_timeouts_override_the_defaults() {
    let mut p = established(PushServerConfig::default(), cfg());
    let id = p.client.push_id().to_string();
    assert!(
        !p.server
            .set_session_timeouts("nope", Duration::from_secs(1), Duration::from_secs(1))
    );
    assert!(
        p.server
            .set_session_timeouts(&id, Duration::from_secs(5), Duration::from_secs(7))
    );
    // Idle: no packet for 5 s (the default would be 60 s) gets the 408.
    p.advance(Duration::from_secs(4));
    assert_eq!(p.server.session_count(), 1);
    p.advance(Duration::from_secs(2));
    assert!(p.statuses().contains(&408), "{:?}", p.statuses());
    assert_eq!(p.server.session_count(), 0);
    // Inactivity between requests: 7 s instead of 120 s.
    let mut q = established(PushServerConfig::default(), cfg());
    let id = q.client.push_id().to_string();
    assert!(
        q.server
            .set_session_timeouts(&id, Duration::from_secs(60), Duration::from_secs(7))
    );
    q.client.disconnect();
    q.pump();
    q.advance(Duration::from_secs(6));
    assert_eq!(q.server.session_count(), 1);
    q.advance(Duration::from_secs(2));
    assert_eq!(q.server.session_count(), 0);
    assert!(
        q.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::SessionExpired { .. }))
    );
}
