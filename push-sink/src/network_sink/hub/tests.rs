use super::*;

fn hub(cfg: HubConfig) -> BroadcastHub {
    let h = BroadcastHub::new(cfg);
    h.set_header(Bytes::from_static(b"HEADER"));
    h
}

fn packets(sub: &Subscription) -> Vec<HubItem> {
    let mut v = Vec::new();
    while let Some(Some(i)) = sub.try_next() {
        v.push(i);
    }
    v
}

#[test]
fn late_joiner_starts_at_last_key_frame() {
    let h = hub(HubConfig::default());
    h.publish(Bytes::from_static(b"k1"), true);
    h.publish(Bytes::from_static(b"d1"), false);
    h.publish(Bytes::from_static(b"k2"), true);
    h.publish(Bytes::from_static(b"d2"), false);
    let sub = h.subscribe(None, None).expect("subscribe");
    assert_eq!(sub.header(), &Bytes::from_static(b"HEADER"));
    assert_eq!(
        packets(&sub),
        vec![
            HubItem::Packet(Bytes::from_static(b"k2")),
            HubItem::Packet(Bytes::from_static(b"d2"))
        ]
    );
    h.publish(Bytes::from_static(b"d3"), false);
    assert_eq!(
        packets(&sub),
        vec![HubItem::Packet(Bytes::from_static(b"d3"))]
    );
}

#[test]
fn overflowing_backlog_makes_joiners_wait_for_key_frame() {
    let h = hub(HubConfig::default().backlog_max_bytes(4));
    h.publish(Bytes::from_static(b"k1"), true);
    h.publish(Bytes::from_static(b"d1"), false);
    h.publish(Bytes::from_static(b"d2"), false); // overflow
    assert_eq!(h.backlog_len(), 0);
    let sub = h.subscribe(None, None).expect("subscribe");
    h.publish(Bytes::from_static(b"d3"), false);
    assert!(packets(&sub).is_empty());
    h.publish(Bytes::from_static(b"k4"), true);
    assert_eq!(
        packets(&sub),
        vec![HubItem::Packet(Bytes::from_static(b"k4"))]
    );
}

#[test]
fn slow_client_is_disconnected_without_touching_others() {
    let h = hub(HubConfig::default().client_queue_bytes(10));
    let slow = h.subscribe(None, None).expect("subscribe");
    let fast = h.subscribe(None, None).expect("subscribe");
    for i in 0..20u8 {
        h.publish(Bytes::from(vec![i; 4]), i % 5 == 0);
        assert!(matches!(fast.try_next(), Some(Some(HubItem::Packet(_)))));
    }
    // 80 bytes behind with 10 allowed: the slow one is disconnected when it next reads,
    // and every packet it missed is a drop.
    assert!(slow.try_next().is_none());
    assert_eq!(h.clients().len(), 1);
    assert_eq!(h.stats().slow_disconnects, 1);
    assert_eq!(slow.drops(), 20);
    assert_eq!(fast.drops(), 0);
    assert!(slow.try_next().is_none(), "stays disconnected");
}

#[test]
fn slow_client_skips_to_the_newest_key_frame() {
    let cfg = HubConfig::default()
        .client_queue_bytes(8)
        .slow_client(SlowClientPolicy::SkipToKeyFrame);
    let h = hub(cfg);
    let sub = h.subscribe(None, None).expect("subscribe");
    for p in [&b"k0k0"[..], b"d1d1", b"k2k2", b"d3d3"] {
        h.publish(Bytes::from_static(p), p[0] == b'k');
    }
    // 16 bytes behind, 8 allowed: on to k2, the newest key frame.
    assert_eq!(
        packets(&sub),
        vec![
            HubItem::Packet(Bytes::from_static(b"k2k2")),
            HubItem::Packet(Bytes::from_static(b"d3d3"))
        ]
    );
    assert_eq!(sub.drops(), 2);
    assert_eq!(h.stats().drops, 2);
    assert_eq!(h.clients().len(), 1, "still subscribed");
}

#[test]
fn slow_client_without_a_newer_key_frame_waits_for_the_next() {
    let cfg = HubConfig::default()
        .client_queue_bytes(8)
        .slow_client(SlowClientPolicy::SkipToKeyFrame);
    let h = hub(cfg);
    let sub = h.subscribe(None, None).expect("subscribe");
    h.publish(Bytes::from_static(b"k0k0"), true);
    h.publish(Bytes::from_static(b"d1d1"), false);
    h.publish(Bytes::from_static(b"d2d2"), false);
    assert!(packets(&sub).is_empty(), "skipped to the live edge");
    h.publish(Bytes::from_static(b"d3d3"), false); // waiting for a key frame: dropped
    h.publish(Bytes::from_static(b"k4k4"), true);
    h.publish(Bytes::from_static(b"d5d5"), false);
    assert_eq!(
        packets(&sub),
        vec![
            HubItem::Packet(Bytes::from_static(b"k4k4")),
            HubItem::Packet(Bytes::from_static(b"d5d5"))
        ]
    );
    assert_eq!(sub.drops(), 4);
}

#[test]
fn the_ring_is_bounded_whatever_the_players() {
    let h = hub(HubConfig::default()
        .backlog_max_bytes(1000)
        .client_queue_bytes(1000));
    let subs: Vec<_> = (0..10)
        .map(|_| h.subscribe(None, None).expect("room"))
        .collect();
    for i in 0..10_000u32 {
        h.publish(Bytes::from(vec![0u8; 100]), i % 100 == 0);
    }
    let st = h.inner.lock();
    assert!(st.ring.bytes <= 1000, "ring holds {} bytes", st.ring.bytes);
    drop(st);
    // Every player is far behind: disconnected on its next read, nobody else slowed.
    for s in &subs {
        assert!(s.try_next().is_none());
    }
    assert_eq!(h.stats().slow_disconnects, 10);
}

#[test]
fn header_change_and_end_reach_players() {
    let h = hub(HubConfig::default());
    let sub = h.subscribe(None, None).expect("subscribe");
    h.set_header(Bytes::from_static(b"HEADER")); // same: nothing
    h.set_header(Bytes::from_static(b"HEADER2"));
    h.end_of_stream();
    assert_eq!(
        packets(&sub),
        vec![
            HubItem::Header(Bytes::from_static(b"HEADER2")),
            HubItem::End
        ]
    );
    assert!(h.header().is_none());
    assert_eq!(
        h.subscribe(None, None).err(),
        Some(SubscribeError::NoHeader)
    );
}

#[test]
fn max_clients_close_and_drop_unsubscribe() {
    let h = hub(HubConfig::with_max_clients(1));
    let a = h
        .subscribe(None, Some("NSPlayer/7.0".into()))
        .expect("first");
    assert_eq!(h.subscribe(None, None).err(), Some(SubscribeError::Full(1)));
    assert_eq!(h.clients()[0].user_agent.as_deref(), Some("NSPlayer/7.0"));
    drop(a);
    assert!(h.clients().is_empty());
    let b = h.subscribe(None, None).expect("room again");
    assert!(h.disconnect(b.id()));
    assert!(b.try_next().is_none());
    h.close();
    assert_eq!(h.subscribe(None, None).err(), Some(SubscribeError::Closed));
}

#[derive(Debug, Clone)]
enum Op {
    Publish { key: bool },
    Subscribe,
    Drain(usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => any::<bool>().prop_map(|key| Op::Publish { key }),
        1 => Just(Op::Subscribe),
        2 => (0usize..4).prop_map(Op::Drain),
    ]
}

proptest::proptest! {
    /// Model check: every player receives exactly the packets from the most recent key
    /// frame before it subscribed (or from the start of the stream, if none) onward, in
    /// order, with nothing dropped while queues have room.
    #[test]
    fn players_get_a_gapless_run_from_a_key_frame(ops in proptest::collection::vec(op(), 0..80)) {
        let h = hub(HubConfig::default());
        let mut published: Vec<(u32, bool)> = Vec::new();
        let mut players: Vec<(Subscription, usize, Vec<u32>)> = Vec::new();
        for o in ops {
            match o {
                Op::Publish { key } => {
                    let n = published.len() as u32;
                    h.publish(Bytes::from(n.to_le_bytes().to_vec()), key);
                    published.push((n, key));
                }
                Op::Subscribe => {
                    let sub = h.subscribe(None, None).expect("room");
                    players.push((sub, published.len(), Vec::new()));
                }
                Op::Drain(k) => {
                    if let Some((sub, _, got)) = players.get_mut(k) {
                        while let Some(Some(HubItem::Packet(p))) = sub.try_next() {
                            got.push(u32::from_le_bytes(p[..4].try_into().expect("4 bytes")));
                        }
                    }
                }
            }
        }
        for (sub, joined_at, mut got) in players {
            while let Some(Some(HubItem::Packet(p))) = sub.try_next() {
                got.push(u32::from_le_bytes(p[..4].try_into().expect("4 bytes")));
            }
            // The most recent key frame before joining, else the start of the stream.
            let start = published[..joined_at].iter().rposition(|&(_, k)| k).unwrap_or(0);
            let want: Vec<u32> = published[start..].iter().map(|&(n, _)| n).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
