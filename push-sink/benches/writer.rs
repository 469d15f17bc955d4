//! Writer throughput with null sinks: packets/s and bytes/s of the fan-out itself.
//!
//! The multiplexer of the `writer` groups copies one prebuilt packet per sample into the
//! supplied buffer, so those figures measure the writer (allocation, zero-copy hand-off,
//! sharing, bookkeeping), not a packetizer; `writer_packetizer` measures the production path
//! (asf-packetizer's Packetizer behind `Writer::from_profile`). Inputs are generated in code.

use std::hint::black_box;
use std::io::{Seek, SeekFrom, Write};

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use push_sink::testing::SyntheticStream;
use push_sink::{
    DataUnit, FileSink, FileSinkConfig, FinishedPacket, Multiplexer, PacketAllocator, PacketInfo,
    Sample, SinkError, Writer, WriterSink,
};

const PACKET_SIZE: usize = 3200;
const PACKETS: usize = 1000;

/// One packet per sample, copied from a prebuilt synthetic packet.
struct CopyMux {
    stream: SyntheticStream,
    next: usize,
}

impl Multiplexer for CopyMux {
    fn header(&mut self) -> push_sink::Result<Bytes> {
        Ok(self.stream.header.clone())
    }
    fn packet_size(&self) -> usize {
        self.stream.packet_size
    }
    fn push_sample(
        &mut self,
        _sample: Sample,
        alloc: &mut dyn PacketAllocator,
        out: &mut Vec<FinishedPacket>,
    ) -> push_sink::Result<()> {
        let i = self.next % self.stream.len();
        self.next += 1;
        let mut buffer = alloc.allocate(self.stream.packet_size);
        let headroom = buffer.len();
        buffer.extend_from_slice(&self.stream.packets[i]);
        let info = PacketInfo {
            send_time_ms: i as u32 * 10,
            key_frame: i.is_multiple_of(10),
            ..PacketInfo::default()
        };
        out.push(FinishedPacket {
            buffer,
            headroom,
            info,
        });
        Ok(())
    }
    fn flush(
        &mut self,
        _: &mut dyn PacketAllocator,
        _: &mut Vec<FinishedPacket>,
    ) -> push_sink::Result<()> {
        Ok(())
    }
}

/// Drops everything; asks for 4 bytes of headroom like the push sink.
struct NullSink;

impl WriterSink for NullSink {
    fn on_header(&mut self, _: &Bytes) -> Result<(), SinkError> {
        Ok(())
    }
    fn is_real_time(&self) -> bool {
        false
    }
    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        let mut b = BytesMut::with_capacity(4 + packet_size);
        b.resize(4, 0);
        b
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), SinkError> {
        black_box(unit.into_framed(b"$D\0\0"));
        Ok(())
    }
    fn on_end_writing(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A `Write + Seek` that keeps nothing.
#[derive(Default)]
struct NullFile(u64);

impl Write for NullFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for NullFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        if let SeekFrom::Start(p) = pos {
            self.0 = p;
        }
        Ok(self.0)
    }
}

fn run(make_sinks: &dyn Fn() -> Vec<Box<dyn WriterSink>>, stream: &SyntheticStream) {
    let mut w = Writer::new(Box::new(CopyMux {
        stream: stream.clone(),
        next: 0,
    }));
    for s in make_sinks() {
        w.add_sink(s);
    }
    w.begin_writing().expect("begin");
    let data = Bytes::from_static(b"x");
    for t in 0..PACKETS as u64 {
        let sample = Sample {
            stream: 1,
            presentation_time_ms: t,
            duration_ms: 0,
            key_frame: true,
            data: data.clone(),
        };
        w.write_sample(sample).expect("sample");
    }
    w.end_writing().expect("end");
    black_box(w.packets_made());
}

fn bench(c: &mut Criterion) {
    let stream = SyntheticStream::new(PACKET_SIZE, 64);
    let mut g = c.benchmark_group("writer");
    g.throughput(Throughput::Bytes((PACKETS * PACKET_SIZE) as u64));
    g.bench_function("one_null_sink_zero_copy", |b| {
        b.iter(|| run(&|| vec![Box::new(NullSink)], &stream))
    });
    g.bench_function("three_null_sinks_shared", |b| {
        b.iter(|| {
            run(
                &|| vec![Box::new(NullSink), Box::new(NullSink), Box::new(NullSink)],
                &stream,
            )
        })
    });
    g.bench_function("file_sink_to_null_file", |b| {
        b.iter(|| {
            run(
                &|| {
                    vec![Box::new(FileSink::new(
                        NullFile::default(),
                        FileSinkConfig::default(),
                    ))]
                },
                &stream,
            )
        })
    });
    g.finish();
    let mut g = c.benchmark_group("writer_packets");
    g.throughput(Throughput::Elements(PACKETS as u64));
    g.bench_function("one_null_sink_zero_copy", |b| {
        b.iter(|| run(&|| vec![Box::new(NullSink)], &stream))
    });
    g.finish();
}

/// Media bytes of one `run_packetizer` pass.
const PACKETIZER_MEDIA_BYTES: u64 = 500 * (6000 + 800);

/// The production path: samples through asf-packetizer's Packetizer (`Writer::from_profile`)
/// into one null sink (packets written straight into its buffers). 500 video samples of 6000
/// bytes and 500 audio samples of 800 bytes, interleaved at 40 ms.
fn run_packetizer(video: &Bytes, audio: &Bytes) {
    use asf_packetizer::{Mode, Profile, StreamConfig};
    let profile = Profile::new()
        .with_stream(StreamConfig::video_i420(1, 640, 480, 25))
        .with_stream(StreamConfig::pcm(2, 1, 8000, 16));
    let mut w =
        Writer::from_profile(profile, PACKET_SIZE as u32, 3100, Mode::Live).expect("valid profile");
    w.add_sink(Box::new(NullSink));
    w.begin_writing().expect("begin");
    for i in 0..500u64 {
        for (stream, data) in [(1u16, video), (2, audio)] {
            let sample = Sample {
                stream,
                presentation_time_ms: i * 40,
                duration_ms: 40,
                key_frame: stream == 2 || i.is_multiple_of(25),
                data: data.clone(),
            };
            w.write_sample(sample).expect("sample");
        }
    }
    w.end_writing().expect("end");
    black_box(w.packets_made());
}

fn bench_packetizer(c: &mut Criterion) {
    let video = Bytes::from(vec![0x5Au8; 6000]);
    let audio = Bytes::from(vec![0xA5u8; 800]);
    let mut g = c.benchmark_group("writer_packetizer");
    g.throughput(Throughput::Bytes(PACKETIZER_MEDIA_BYTES));
    g.bench_function("one_null_sink", |b| {
        b.iter(|| run_packetizer(&video, &audio))
    });
    g.finish();
}

criterion_group!(benches, bench, bench_packetizer);
criterion_main!(benches);
