//! The pull side on a real ffmpeg-written ASF file (see
//! `pull_support/PROVENANCE.md`): serve it through the pull server, pull it
//! with the pull client, filter and re-pad its packets.

mod pull_support;

use bytes::Bytes;
use pull_support::*;
use push_protocol::pull_client::{PullClientConfig, PullClientEvent, stream_numbers};
use push_protocol::pull_server::{PullServerConfig, filter_packet, restore_padding};

const FILE: &[u8] = include_bytes!("pull_support/ffmpeg_wmv2_wmav2_ps512.asf");
const PACKET_SIZE: usize = 512;

/// (ASF header = Header Object + 50-byte Data Object start, data packets).
fn split_file() -> (Bytes, Vec<Bytes>) {
    let header_len = u64::from_le_bytes(FILE[16..24].try_into().expect("8 bytes")) as usize;
    let data_len = u64::from_le_bytes(
        FILE[header_len + 16..header_len + 24]
            .try_into()
            .expect("8 bytes"),
    ) as usize;
    let header = Bytes::copy_from_slice(&FILE[..header_len + 50]);
    let packets = FILE[header_len + 50..header_len + data_len]
        .chunks(PACKET_SIZE)
        .map(Bytes::copy_from_slice)
        .collect();
    (header, packets)
}

/// Stream numbers of every payload in a packet (through a keep-all filter
/// per stream: a stream is present if keeping only it leaves something).
fn streams_in(packet: &Bytes) -> Vec<u8> {
    (1u8..=2)
        .filter(|s| {
            filter_packet(packet, &|stream: u8, _k: bool| stream == *s)
                .expect("ffmpeg packet parses")
                .is_some()
        })
        .collect()
}

#[test]
fn header_walk_finds_both_streams() {
    let (header, packets) = split_file();
    assert_eq!(header.len(), 759 + 50);
    assert_eq!(packets.len(), 19);
    assert_eq!(stream_numbers(&header).expect("walk"), vec![1, 2]);
}

#[test]
fn served_and_pulled_packets_are_the_file_packets() {
    let (header, packets) = split_file();
    let mut script: Vec<Step> = packets.iter().cloned().map(Step::Packet).collect();
    script.push(Step::End);
    let (events, _, _) = run_session(
        PullClientConfig::default(),
        PullServerConfig::default(),
        header.clone(),
        &script,
        &[100, 1, 4096],
    );
    let pulled: Vec<Bytes> = events
        .iter()
        .filter_map(|e| match e {
            PullClientEvent::Packet { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(pulled, packets);
    assert!(
        matches!(&events[0], PullClientEvent::Described { header: h, streams, .. } if *h == header && *streams == vec![1, 2])
    );
    assert_eq!(events.last(), Some(&PullClientEvent::Ended { reason: 0 }));
}

#[test]
fn filtering_by_stream_and_restoring_padding() {
    let (_, packets) = split_file();
    let mut audio_only = 0;
    let mut stripped_total = 0;
    for p in &packets {
        let present = streams_in(p);
        assert!(!present.is_empty());
        // Keep-all strips the padding only; restoring it gives the packet back.
        let stripped = filter_packet(p, &|_s: u8, _k: bool| true)
            .expect("parses")
            .expect("kept");
        stripped_total += p.len() - stripped.len();
        assert_eq!(restore_padding(&stripped, PACKET_SIZE).expect("fits"), *p);
        // Dropping video leaves audio payloads only, or nothing.
        match filter_packet(p, &|s: u8, _k: bool| s == 2).expect("parses") {
            Some(a) => {
                audio_only += 1;
                assert_eq!(streams_in(&a), vec![2]);
                assert!(present.contains(&2));
                let padded = restore_padding(&a, PACKET_SIZE).expect("fits");
                assert_eq!(padded.len(), PACKET_SIZE);
            }
            None => assert_eq!(present, vec![1]),
        }
    }
    assert!(audio_only > 0 && audio_only < packets.len());
    assert!(stripped_total > 0, "ffmpeg pads its packets");
}
