//! SinkSet used alone, the way a relay (publishing point) fans out packets it received
//! instead of samples: header announcement, shared delivery, late joiners, failures, the end.

use push_sink::testing::{FailingSink, RecordingSink, SinkCall, SyntheticStream};
use push_sink::{Error, SinkSet};

#[test]
fn relay_fans_out_received_packets() {
    let stream = SyntheticStream::new(400, 30);
    let mut set = SinkSet::new();
    assert!(set.is_empty() && !set.is_writing() && set.header().is_none());
    let a = RecordingSink::new(false, 0);
    let la = a.log();
    let ida = set.add(Box::new(a));
    set.announce_header(stream.header.clone());
    assert!(set.is_writing());
    assert_eq!(set.header(), Some(&stream.header));
    for i in 0..15 {
        set.deliver_bytes(stream.packets[i].clone(), stream.infos[i]);
    }
    // Late joiner: header now, data from the next packet flagged key (the synthetic stream
    // flags audio packets too, so packet 15).
    let b = RecordingSink::new(true, 0);
    let lb = b.log();
    let idb = set.add(Box::new(b));
    assert!(set.any_real_time());
    assert_eq!(set.ids(), vec![ida, idb]);
    for i in 15..30 {
        set.deliver_bytes(stream.packets[i].clone(), stream.infos[i]);
    }
    set.end();
    assert!(!set.is_writing());
    let ca = la.lock().expect("log").clone();
    let cb = lb.lock().expect("log").clone();
    assert_eq!(ca.len(), 1 + 30 + 1);
    assert_eq!(cb.first(), Some(&SinkCall::Header(stream.header.clone())));
    let first_b = cb.iter().find_map(|c| match c {
        SinkCall::DataUnit { info, packet, .. } => Some((*info, packet.clone())),
        _ => None,
    });
    let (info, packet) = first_b.expect("late joiner got data");
    assert!(info.key_frame);
    assert_eq!(
        info.index, 15,
        "first packet flagged key after the join (audio 15)"
    );
    assert_eq!(packet, stream.packets[15]);
    assert_eq!(cb.last(), Some(&SinkCall::End));
    let reports = set.reports();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].skipped_waiting_for_key_frame, 0);
    assert!(reports[1].real_time);
    assert_eq!(reports[0].stats.packets, 30);
}

#[test]
fn failing_sink_is_reported_once_and_removed() {
    let stream = SyntheticStream::new(400, 5);
    let mut set = SinkSet::default();
    let bad = set.add(Box::new(FailingSink::new(0)));
    set.announce_header(stream.header.clone());
    assert!(set.is_empty());
    let failures = set.take_failures();
    assert_eq!(failures.len(), 1);
    assert!(matches!(&failures[0], Error::SinkFailed { id, .. } if *id == bad));
    assert!(set.take_failures().is_empty(), "reported once");
    // A sink added while writing that fails on the header is reported too.
    let bad2 = set.add(Box::new(FailingSink::new(0)));
    assert!(set.is_empty());
    assert!(matches!(&set.take_failures()[0], Error::SinkFailed { id, .. } if *id == bad2));
    assert!(set.remove(bad2).is_none());
}

#[test]
fn removed_sink_comes_back_untouched() {
    let stream = SyntheticStream::new(400, 5);
    let mut set = SinkSet::new();
    let rec = RecordingSink::new(false, 0);
    let log = rec.log();
    let id = set.add(Box::new(rec));
    set.announce_header(stream.header.clone());
    set.deliver_bytes(stream.packets[0].clone(), stream.infos[0]);
    let back = set.remove(id).expect("attached");
    assert_eq!(back.name(), "recording sink");
    set.deliver_bytes(stream.packets[1].clone(), stream.infos[1]);
    set.end();
    assert_eq!(
        log.lock().expect("log").len(),
        2,
        "header and one unit, no end"
    );
}
