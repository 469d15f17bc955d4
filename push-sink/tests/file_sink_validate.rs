//! FileSink output checked by an independent implementation: asf-format parses the finished
//! file (and the broadcast-style file mid-write) and its validator reports no errors.

mod common;

use std::io::Cursor;

use asf_format::{AsfFile, Limits, Severity, validate};
use push_sink::testing::SimpleMux;
use push_sink::{FileSink, FileSinkConfig, Sample, Writer, WriterSink};

fn errors(bytes: &[u8]) -> Vec<String> {
    let file = AsfFile::parse(bytes, &Limits::default()).expect("asf-format parses the file");
    let findings = validate(&file);
    for f in &findings {
        eprintln!("{f}");
    }
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

fn synthetic_file(auto_index: bool) -> Vec<u8> {
    let sink = push_sink::SharedSink::new(FileSink::new(
        Cursor::new(Vec::new()),
        FileSinkConfig::default().auto_index(auto_index),
    ));
    let mut w = Writer::new(Box::new(SimpleMux::new(1400)));
    w.add_sink(Box::new(sink.clone()));
    w.begin_writing().expect("begin");
    for i in 0..100u64 {
        let v = vec![i as u8; 2500];
        w.write_sample(Sample {
            stream: 1,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: i.is_multiple_of(25),
            data: v.into(),
        })
        .expect("video");
        let a = vec![i as u8; 300];
        w.write_sample(Sample {
            stream: 2,
            presentation_time_ms: i * 40,
            duration_ms: 40,
            key_frame: true,
            data: a.into(),
        })
        .expect("audio");
    }
    w.end_writing().expect("end");
    assert!(w.take_sink_failures().is_empty());
    sink.lock().get_ref().expect("out").get_ref().clone()
}

#[test]
fn finished_synthetic_file_validates() {
    for auto_index in [true, false] {
        let bytes = synthetic_file(auto_index);
        assert_eq!(
            errors(&bytes),
            Vec::<String>::new(),
            "auto_index {auto_index}"
        );
        let file = AsfFile::parse(&bytes, &Limits::default()).expect("parse");
        assert!(file.truncated.is_none());
        assert_eq!(
            file.to_bytes(),
            bytes,
            "asf-format round-trips our file byte for byte"
        );
    }
}

#[test]
fn broadcast_file_mid_write_validates() {
    let s = push_sink::testing::SyntheticStream::new(600, 40);
    let mut sink = FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default());
    sink.on_header(&s.header).expect("header");
    for i in 0..40 {
        sink.on_data_unit(push_sink::DataUnit::shared(
            s.packets[i].clone(),
            s.infos[i],
        ))
        .expect("unit");
    }
    let bytes = sink.get_ref().expect("out").get_ref().clone();
    assert_eq!(errors(&bytes), Vec::<String>::new());
}

#[test]
fn finished_real_media_file_validates() {
    if !common::have_tool("ffmpeg", "finished_real_media_file_validates") {
        return;
    }
    let dir = common::tempdir();
    let input = common::generate_input(dir.path()).expect("ffmpeg makes the input");
    let split = common::split_asf(&std::fs::read(&input).expect("read"));
    let mut sink = FileSink::new(Cursor::new(Vec::new()), FileSinkConfig::default());
    sink.on_header(&split.header).expect("header");
    for (i, p) in split.packets.iter().enumerate() {
        let info = push_sink::PacketInfo {
            index: i as u64,
            ..Default::default()
        };
        sink.on_data_unit(push_sink::DataUnit::shared(p.clone(), info))
            .expect("unit");
    }
    sink.on_end_writing().expect("end");
    let bytes = sink.into_inner().expect("out").into_inner();
    assert_eq!(errors(&bytes), Vec::<String>::new());
}
