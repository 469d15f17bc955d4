//! Pushes an ASF file to a publishing point in real time (MS-WMHTTP push), the way an
//! encoder would: PushSetup, `$H`, paced `$D` packets, then `EndSession` (`$E(0)`).
//!
//! ```text
//! cargo run --release -p push-sink --example push_file -- INPUT URL [--template PATH]
//!     [--auto-destroy] [--user NAME --password SECRET] [--speed X]
//! ```
//!
//! The packets are read from the file and handed straight to `PushSink`'s `WriterSink`
//! methods, paced by their send times (a file is already packetized, so it does not go
//! through the `Writer`, which takes media samples). The header is rewritten as a live
//! encoder's (broadcast flag), see `AsfFile::live_header`.

use std::time::Duration;

use bytes::BytesMut;
use push_sink::push_sink::asf_file::AsfFile;
use push_sink::push_sink::{Credentials, PushSink, PushSinkConfig, PushStatus};
use push_sink::{Clock, DataUnit, Pacer, SystemClock, WriterSink};

struct Args {
    input: String,
    url: String,
    template: Option<String>,
    auto_destroy: bool,
    user: Option<String>,
    password: Option<String>,
    speed: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: push_file INPUT URL [--template PATH] [--auto-destroy] [--user NAME --password SECRET] [--speed X]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut args = Args {
        input: String::new(),
        url: String::new(),
        template: None,
        auto_destroy: false,
        user: None,
        password: None,
        speed: 1.0,
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--template" => args.template = Some(it.next().unwrap_or_else(|| usage())),
            "--auto-destroy" => args.auto_destroy = true,
            "--user" => args.user = Some(it.next().unwrap_or_else(|| usage())),
            "--password" => args.password = Some(it.next().unwrap_or_else(|| usage())),
            "--speed" => {
                args.speed = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &f64| *s > 0.0)
                    .unwrap_or_else(|| usage())
            }
            "-h" | "--help" => usage(),
            _ => positional.push(a),
        }
    }
    let [input, url] = <[String; 2]>::try_from(positional).unwrap_or_else(|_| usage());
    args.input = input;
    args.url = url;
    args
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args();
    let file = AsfFile::open(&args.input)?;
    println!(
        "{}: {} packets of {} bytes, video streams {:?}",
        args.input,
        file.packet_count(),
        file.packet_size(),
        file.video_streams()
    );
    let mut config = PushSinkConfig::default();
    if let (Some(user), Some(password)) = (args.user.clone(), args.password.clone()) {
        // The IWMCredentialCallback role: asked once per challenge.
        config = config.credentials(move |challenge| {
            eprintln!(
                "server asks for {:?} credentials (realm {:?})",
                challenge.scheme, challenge.realm
            );
            Some(Credentials {
                user: user.clone(),
                password: password.clone(),
            })
        });
    }
    let mut sink = PushSink::new(config)?;
    let mut status = sink.status();
    std::thread::spawn(move || {
        while let Ok(event) = status.blocking_recv() {
            match event {
                PushStatus::Connected { push_id, resumed } => {
                    eprintln!(
                        "connected, push-id {push_id}{}",
                        if resumed { " (resumed)" } else { "" }
                    )
                }
                other => eprintln!("status: {other:?}"),
            }
        }
    });
    // The header first: `connect` then waits for the server's answer to the PushSetup (and
    // reports a refusal or wrong credentials as its error).
    sink.on_header(&file.live_header())?;
    sink.connect(&args.url, args.template.as_deref(), args.auto_destroy)?;
    let clock = SystemClock::new();
    let mut pacer = Pacer::new(Duration::from_millis(500));
    for packet in file.packets() {
        let (packet, info) = packet?;
        let due = pacer
            .delay(info.send_time_ms, clock.now())
            .div_f64(args.speed);
        std::thread::sleep(due);
        // Zero copy into the sink: the packet goes into the sink's buffer after its headroom,
        // and the `$D` header is written into the headroom.
        let mut buf: BytesMut = sink.allocate_data_unit(packet.len());
        let headroom = buf.len();
        buf.extend_from_slice(&packet);
        sink.on_data_unit(DataUnit::new(buf, headroom, info)?)?;
    }
    sink.on_end_writing()?;
    sink.end_session()?;
    let stats = sink.stats();
    println!(
        "pushed {} packets ({} bytes), dropped {}, reconnects {}",
        stats.packets, stats.bytes, stats.drops, stats.reconnects
    );
    Ok(())
}
