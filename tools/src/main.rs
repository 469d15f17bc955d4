//! The `wmpush` command line: demo, serve, pull (push, inspect and remux follow
//! as their lower crates land; see the README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use wmpush::exit::{CliError, Failure};

mod commands;

/// Windows Media push sink, publishing-point server and tools.
#[derive(Debug, Parser)]
#[command(
    name = "wmpush",
    version,
    about = "Windows Media (ASF) streaming: push to a publishing point, serve one, pull, inspect",
    after_help = "Examples:\n  wmpush demo                                  # see it work: prints URLs to open in ffplay/VLC\n  wmpush demo --check                          # self-test: push, pull back, verify\n  wmpush serve --listen 127.0.0.1:8080         # run a publishing-point server\n  wmpush push movie.asf http://127.0.0.1:8080/live\n  wmpush inspect movie.asf --json\n  wmpush remux movie.asf small.asf --packet-size 1400\n  wmpush pull mmsh://127.0.0.1:8080/live -o out.asf --duration 10\n\nExit codes: 0 ok, 1 check failed, 2 usage, 3 input, 4 connection, 5 authentication, 6 server refused.\nLogging: -v/-vv or RUST_LOG (e.g. RUST_LOG=wmpush=debug)."
)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an embedded publishing point with a generated test stream.
    #[command(
        after_help = "Examples:\n  wmpush demo                      # until Ctrl-C; open the printed mmsh:// URL in ffplay or VLC\n  wmpush demo --duration 30        # stop after 30 s\n  wmpush demo --check              # run ~4 s, pull it back, exit 0 only if every packet arrived intact\n  wmpush demo --listen 127.0.0.1:8080 --size 320x240 --fps 15"
    )]
    Demo(DemoArgs),
    /// Run a publishing-point server: encoders push (MS-WMHTTP), players pull (MS-WMSP).
    #[command(
        after_help = "Examples:\n  wmpush serve                                         # 127.0.0.1:8080, loopback encoders may push\n  wmpush serve --listen 0.0.0.0:8080 --auth-file users.htdigest\n  wmpush serve --config tools/examples/wmpush.toml --archive-dir ./archive\n\nPlayers:  ffplay mmsh://HOST:PORT/POINT   vlc mmsh://HOST:PORT/POINT   ffplay 'http://HOST:PORT/POINT?format=asf'\nStatus:   http://HOST:PORT/_status (JSON), /_status.html, /_metrics (Prometheus)\nAuth file: Apache htdigest format, e.g. `htdigest -c users.htdigest wmpush alice`."
    )]
    Serve(ServeArgs),
    /// Push an ASF file, standard input or another server's stream to a publishing point (MS-WMHTTP).
    #[command(
        after_help = "Examples:\n  wmpush push movie.asf http://127.0.0.1:8080/live                 # paced in real time\n  wmpush push movie.asf http://server:8080/live --loop --template /live --auto-destroy\n  ffmpeg -re -i in.mp4 -c:v wmv2 -c:a wmav2 -f asf - | wmpush push - http://127.0.0.1:8080/live\n  ffmpeg -re -i in.mp4 -c:v wmv2 -c:a wmav2 -f asf_stream - | wmpush push - http://127.0.0.1:8080/live\n  WMPUSH_PASSWORD=secret wmpush push in.asf http://server/live --user alice\n  wmpush push mmsh://origin:8080/live http://edge:8080/live       # relay\n\nCtrl-C ends the session properly ($E(0))."
    )]
    Push(PushArgs),
    /// Show an ASF file's object tree, streams, validation findings and packets.
    #[command(
        after_help = "Examples:\n  wmpush inspect movie.wmv\n  wmpush inspect movie.wmv --packets\n  wmpush inspect movie.wmv --json | jq '.findings'\n\nJSON fields: file, size, objects[{offset,name,guid,size,fields,children}], file_properties,\nstreams[{number,kind,stream_type,encrypted,audio,video}], data_packets, truncated,\nfindings[{severity,offset,object,message}], packets[{index,offset,send_time_ms,duration_ms,payloads,padding,key_frame_start,error}],\nerror (set when the header is cut: objects then holds what precedes the cut, truncated names it).\nA file cut inside its header prints what could be read and exits 3; one that cannot be parsed at all exits 3\nwith the byte offset and prints nothing; findings do not change the exit code."
    )]
    Inspect(InspectArgs),
    /// Rewrite an ASF file with another packet size or preroll, or as a live (broadcast) stream.
    #[command(
        after_help = "Examples:\n  wmpush remux in.wmv out.wmv --packet-size 1400\n  wmpush remux in.wmv out.asf --preroll 3000\n  wmpush remux in.wmv - --live | wmpush push - http://127.0.0.1:8080/live\n\nUses asf-packetizer's remuxer: media objects are reassembled and packetized again, reading,\ndemuxing and packetizing on their own threads, without copying media data after the read;\nmemory does not grow with the file. File output gets indexes appended and, when\nOUT is a regular file, its header fixed up at the end; when OUT is - (standard output), a pipe or\na device such as /dev/null, the header is written first with the broadcast flag, as ffmpeg writes\nto a pipe. --live output has a broadcast header and no index."
    )]
    Remux(RemuxArgs),
    /// Pull a stream from an MMSH server and save it as an ASF file.
    #[command(
        after_help = "Examples:\n  wmpush pull mmsh://127.0.0.1:8080/live -o live.asf --duration 10\n  wmpush pull mmsh://127.0.0.1:8080/live -o - | ffplay -\n  wmpush pull mmsh://127.0.0.1:8080/live --clients 20 --duration 10   # loopback load test"
    )]
    Pull(PullArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Listening address of the embedded server (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Publishing point name.
    #[arg(long, default_value = "demo")]
    point: String,
    /// Stop after S seconds (default: until Ctrl-C; 4 with --check).
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
    /// Pull the stream back with the built-in client and verify every packet.
    #[arg(long)]
    check: bool,
    /// Picture size WxH (even numbers).
    #[arg(long, default_value = "160x120")]
    size: String,
    /// Pictures per second.
    #[arg(long, default_value_t = 10)]
    fps: u32,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or the config file's].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// TOML configuration (points, templates, limits); see tools/examples/wmpush.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// htdigest file (user:realm:HA1) enabling Digest and Basic authentication of encoders.
    #[arg(long, value_name = "FILE")]
    auth_file: Option<PathBuf>,
    /// Folder for archived push sessions (templates with archive = true; all points without a config).
    #[arg(long, value_name = "DIR")]
    archive_dir: Option<PathBuf>,
    /// Let encoders on other machines push without credentials.
    #[arg(long)]
    allow_anonymous_push: bool,
}

#[derive(Debug, Args)]
struct PushArgs {
    /// ASF file, - for standard input (plain ASF or MMSH-framed, detected), or mmsh://... / http://... to relay.
    input: String,
    /// Publishing point URL: http://HOST[:PORT]/POINT.
    url: String,
    /// Create the point from this template or point path if it does not exist (Template-URL).
    #[arg(long, value_name = "PATH")]
    template: Option<String>,
    /// Ask the server to remove the point when the session ends (AutoDestroy: 1).
    #[arg(long)]
    auto_destroy: bool,
    /// User name for Digest/Basic authentication.
    #[arg(long, value_name = "U")]
    user: Option<String>,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR", default_value = "WMPUSH_PASSWORD")]
    password_env: String,
    /// Start the file again at its end (each pass is a new playlist entry).
    #[arg(long = "loop")]
    loop_input: bool,
    /// Send as fast as the network allows instead of in real time.
    #[arg(long)]
    no_pace: bool,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// ASF file (.asf, .wmv, .wma).
    file: std::path::PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// List every data packet.
    #[arg(long)]
    packets: bool,
}

#[derive(Debug, Args)]
struct RemuxArgs {
    /// Input ASF file, or - for standard input.
    input: String,
    /// Output file, or - for standard output (not rewritable: broadcast-form header).
    output: String,
    /// Output data packet size in bytes (default: the input's).
    #[arg(long, value_name = "N")]
    packet_size: Option<u32>,
    /// Output preroll in ms (default: the input's).
    #[arg(long, value_name = "MS")]
    preroll: Option<u32>,
    /// Write a live (broadcast) stream: broadcast header, no index.
    #[arg(long)]
    live: bool,
}

#[derive(Debug, Args)]
struct PullArgs {
    /// Stream URL: mmsh://HOST[:PORT]/POINT (http:// is accepted too).
    url: String,
    /// Output ASF file, or - for standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<String>,
    /// Stop after S seconds.
    #[arg(long, value_name = "S")]
    duration: Option<f64>,
    /// Run N concurrent players (load test, 1..=20000; nothing is written) and report
    /// time to first packet, longest stall, rate, and refusals.
    #[arg(long, value_name = "N")]
    clients: Option<u32>,
    /// With --clients: start the players evenly over S seconds (default 1 s per 2,000).
    #[arg(long, value_name = "S", requires = "clients")]
    ramp: Option<f64>,
    /// With --clients: print the report as JSON on standard output.
    #[arg(long, requires = "clients")]
    json: bool,
    /// With --clients: report every player, not only the summary.
    #[arg(long, requires = "clients")]
    each: bool,
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn seconds(s: Option<f64>, what: &str) -> Result<Option<Duration>, CliError> {
    match s {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 && v < 1e9 => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err(CliError::new(
            Failure::Usage,
            format!("{what} {v} must be a positive number of seconds"),
        )),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            });
        }
    };
    init_logging(cli.verbose, cli.quiet);
    exit_code(run(cli.command, cli.quiet))
}

/// Runs a command: the file commands directly, the network ones on an async runtime (the file
/// commands need none: its worker threads would only sit idle).
fn run(command: Command, quiet: bool) -> Result<(), CliError> {
    match command {
        Command::Inspect(a) => commands::inspect(a),
        Command::Remux(a) => commands::remux(a),
        Command::Demo(a) => on_runtime(commands::demo(a, quiet)),
        Command::Serve(a) => on_runtime(commands::serve(a)),
        Command::Pull(a) => on_runtime(commands::pull(a)),
        Command::Push(a) => on_runtime(commands::push(a, quiet)),
    }
}

/// Runs `command` to its end on a multi-threaded tokio runtime.
fn on_runtime(
    command: impl std::future::Future<Output = Result<(), CliError>>,
) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::new(
                Failure::Failed,
                format!("cannot start the async runtime: {e}"),
            )
        })?;
    let result = runtime.block_on(command);
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The process exit code for a command's result (the error printed first).
fn exit_code(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wmpush: error: {e}");
            ExitCode::from(u8::try_from(e.kind.code()).unwrap_or(1))
        }
    }
}
