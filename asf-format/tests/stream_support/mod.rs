//! Shared helpers for the data-side integration tests: a hand-built minimal header, a tiny
//! test packetizer, and a file builder.
#![allow(dead_code)]

use asf_format::Guid;
use asf_format::data::DataObjectHeader;
use asf_format::index::{SimpleIndex, SimpleIndexEntry};
use asf_format::object::AsfObject;
use asf_format::packet::{DataPacket, Payload};
use bytes::Bytes;

pub const HEADER_GUID: Guid = Guid::from_str_const("75B22630-668E-11CF-A6D9-00AA0062CE6C");
pub const FILE_PROPERTIES_GUID: Guid = Guid::from_str_const("8CABDCA1-A947-11CF-8EE4-00C00C205365");

/// A minimal Header Object: just File Properties (enough for the data-side reader).
pub fn minimal_header(packet_size: u32, packets: u64, broadcast: bool) -> Vec<u8> {
    let mut fp = Vec::new();
    fp.extend_from_slice(FILE_PROPERTIES_GUID.as_bytes());
    fp.extend_from_slice(&104u64.to_le_bytes());
    fp.extend_from_slice(&[0x11; 16]); // file id
    fp.extend_from_slice(&0u64.to_le_bytes()); // file size
    fp.extend_from_slice(&0u64.to_le_bytes()); // creation
    fp.extend_from_slice(&packets.to_le_bytes());
    fp.extend_from_slice(&0u64.to_le_bytes()); // play
    fp.extend_from_slice(&0u64.to_le_bytes()); // send
    fp.extend_from_slice(&3100u64.to_le_bytes()); // preroll
    fp.extend_from_slice(&(if broadcast { 3u32 } else { 2 }).to_le_bytes());
    fp.extend_from_slice(&packet_size.to_le_bytes());
    fp.extend_from_slice(&packet_size.to_le_bytes());
    fp.extend_from_slice(&1_000_000u32.to_le_bytes());
    assert_eq!(fp.len(), 104);
    let mut h = Vec::new();
    h.extend_from_slice(HEADER_GUID.as_bytes());
    h.extend_from_slice(&(30 + fp.len() as u64).to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&[1, 2]);
    h.extend_from_slice(&fp);
    h
}

/// One media object to packetize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    pub stream: u8,
    pub number: u8,
    pub pt: u32,
    pub key: bool,
    pub data: Vec<u8>,
}

/// A deliberately simple packetizer: multi-payload packets (standard flags), objects split
/// into fragments wherever the packet fills up.
pub fn packetize(objs: &[Obj], packet_size: u32) -> Vec<Bytes> {
    // EC 3 + flags 2 + padding WORD 2 + send 4 + duration 2 + payload flags 1
    let header = 14usize;
    let per_payload = 17usize;
    let mut packets = Vec::new();
    let mut cur = DataPacket::new(true, 0);
    let mut used = header;
    for o in objs {
        let mut off = 0usize;
        loop {
            if used + per_payload >= packet_size as usize || cur.payloads.len() == 63 {
                flush(&mut cur, &mut packets, packet_size);
                used = header;
                cur.send_time = o.pt;
            }
            if cur.payloads.is_empty() {
                cur.send_time = o.pt;
            }
            let room = packet_size as usize - used - per_payload;
            let n = room.min(o.data.len() - off);
            cur.payloads.push(Payload::fragment(
                o.stream,
                o.key,
                u32::from(o.number),
                off as u32,
                o.data.len() as u32,
                o.pt,
                Bytes::copy_from_slice(&o.data[off..off + n]),
            ));
            used += per_payload + n;
            off += n;
            if off >= o.data.len() {
                break;
            }
        }
    }
    if !cur.payloads.is_empty() {
        flush(&mut cur, &mut packets, packet_size);
    }
    packets
}

fn flush(cur: &mut DataPacket, out: &mut Vec<Bytes>, packet_size: u32) {
    let mut p = std::mem::replace(cur, DataPacket::new(true, 0));
    p.fix(packet_size).expect("fits");
    let b = p.to_bytes().expect("writes");
    assert_eq!(b.len(), packet_size as usize);
    out.push(b);
}

/// A whole file: minimal header, Data Object, packets, a Simple Index; `broadcast` makes the
/// Data Object size 50 (unbounded) and leaves the packet count 0.
pub fn build_file(
    packets: &[Bytes],
    packet_size: u32,
    broadcast: bool,
    with_index: bool,
) -> Vec<u8> {
    let mut f = minimal_header(packet_size, packets.len() as u64, broadcast);
    let d = if broadcast {
        DataObjectHeader::broadcast(Guid([0x11; 16]))
    } else {
        DataObjectHeader::new(Guid([0x11; 16]), packets.len() as u64, packet_size)
    };
    d.write_to(&mut f);
    for p in packets {
        f.extend_from_slice(p);
    }
    if with_index {
        let mut idx = SimpleIndex {
            file_id: Guid([0x11; 16]),
            entry_time_interval: 10_000_000,
            max_packet_count: 0,
            entries: (0..packets.len() as u32)
                .map(|i| SimpleIndexEntry {
                    packet_number: i,
                    packet_count: 1,
                })
                .collect(),
        };
        idx.fix();
        idx.write(&mut f);
    }
    f
}
