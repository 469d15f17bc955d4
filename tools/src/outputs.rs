//! A push session's outputs: one push-sink [`SinkSet`] per session, holding the point's
//! players ([`PointSink`]), the archive ([`FileSink`]), one relay per target
//! ([`PushSessionSink`]) and whatever [`OutputFactory`]s the embedding program added.
//!
//! Every output but the players sits behind its own push-sink [`QueuedSink`]: a bounded
//! queue and a worker on the server's runtime, which makes the inner sink (opens the file,
//! connects the relay), writes to it on the blocking pool and re-makes it with backoff when
//! it fails. So the ingest driver never blocks on an output: a relay target that accepts TCP
//! and never answers, or a disk that takes seconds per write, delays only its own queue
//! (whose drops, reconnects and state show in `/_status` and `/_metrics`), never the point's
//! players nor another point.
//!
//! A new kind of output is one [`OutputFactory`] given to
//! [`Server::add_output`](crate::server::Server::add_output).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use push_sink::push_sink::{PushSessionSink, PushSinkConfig, ReconnectPolicy};
use push_sink::queued::MakeSink;
use push_sink::{
    FileSink, PacketInfo, QueuedHandle, QueuedSink, QueuedSinkConfig, SinkSet, WriterSink,
};
use serde::Serialize;

use crate::config::Template;
use crate::point::{PointSink, PublishingPoint};
use crate::push::SendTimeline;

/// What an [`OutputFactory`] is told about the session it may add an output to.
#[derive(Debug)]
#[non_exhaustive]
pub struct OutputContext<'a> {
    /// The publishing point's name.
    pub point: &'a str,
    /// The push session's push-id.
    pub push_id: &'a str,
    /// The template the point was made from.
    pub template: &'a Template,
}

/// One output to add to a session: how to make its sink (called on the blocking pool, again
/// after each failure and for each new stream) and how it is queued.
pub struct OutputSpec {
    /// Kind shown in `/_status` (`archive`, `relay`, or the embedder's word).
    pub kind: String,
    /// Target shown in `/_status` (a path, a URL, a name).
    pub target: String,
    /// Makes the inner sink.
    pub make: MakeSink,
    /// Queue bounds and retry policy.
    pub queue: QueuedSinkConfig,
}

impl std::fmt::Debug for OutputSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSpec")
            .field("kind", &self.kind)
            .field("target", &self.target)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

/// Adds an output to every push session it returns `Some` for (by point, template ...).
pub type OutputFactory = Arc<dyn Fn(&OutputContext<'_>) -> Option<OutputSpec> + Send + Sync>;

/// The output factories of a server (those added by [`Server::add_output`](crate::server::Server::add_output)).
#[derive(Default)]
pub struct OutputFactories {
    list: RwLock<Vec<OutputFactory>>,
}

impl std::fmt::Debug for OutputFactories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputFactories({})", self.read().len())
    }
}

impl OutputFactories {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<OutputFactory>> {
        self.list.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds one; it applies to sessions that start their stream from now on.
    pub fn add(&self, factory: OutputFactory) {
        self.list
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(factory);
    }

    fn specs(&self, cx: &OutputContext<'_>) -> Vec<OutputSpec> {
        self.read().iter().filter_map(|f| f(cx)).collect()
    }
}

/// One output of a point as `/_status` shows it (stable JSON field names).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutputStatus {
    /// `archive`, `relay` or an embedder's kind.
    pub kind: String,
    /// Archive folder, relay URL, or the embedder's target.
    pub target: String,
    /// `connecting`, `live`, `retrying`, `ended`, `failed` or `stopped`.
    pub state: String,
    /// The last failure to make or write to the output, if any.
    pub last_error: Option<String>,
    /// Bytes of packets queued for it now.
    pub queued_bytes: usize,
    /// Packets it dropped (its queue full, retrying, resuming at a key frame).
    pub drops: u64,
    /// Times it was made again after a failure (and its own reconnects).
    pub reconnects: u64,
    /// Packets it took.
    pub packets: u64,
}

/// A view of one queued output, kept by its point for `/_status`.
#[derive(Debug, Clone)]
pub struct OutputHandle {
    kind: String,
    target: String,
    queued: QueuedHandle,
}

impl OutputHandle {
    /// Its status now.
    pub fn status(&self) -> OutputStatus {
        let s = self.queued.status();
        OutputStatus {
            kind: self.kind.clone(),
            target: self.target.clone(),
            state: s.state.as_str().to_owned(),
            last_error: s.last_error,
            queued_bytes: s.queued_bytes,
            drops: s.drops,
            reconnects: s.reconnects,
            packets: s.packets_written,
        }
    }

    /// Waits up to `timeout` for everything queued for it to be handled.
    pub async fn finish(&self, timeout: Duration) -> bool {
        self.queued.finish(timeout).await
    }
}

/// Connect timeout of a relay's push sink: a target that accepts TCP and never answers
/// fails an attempt after about four of these (the PushSetup round trips).
const RELAY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A relay target is retried for as long as the session lives, at most every 30 s.
fn relay_retry() -> ReconnectPolicy {
    ReconnectPolicy {
        initial_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        max_attempts: u32::MAX,
        ..ReconnectPolicy::default()
    }
}

/// The archive output: a new file per stream in `dir` (made on the blocking pool).
fn archive_spec(dir: &Path, point: &str) -> OutputSpec {
    let dir = dir.to_owned();
    let point = point.to_owned();
    OutputSpec {
        kind: "archive".into(),
        target: dir.display().to_string(),
        make: Box::new(move || {
            let path = archive_path(&dir, &point);
            let sink = FileSink::create(&path)?;
            tracing::info!(path = %path.display(), "archiving");
            Ok(Box::new(sink) as Box<dyn WriterSink>)
        }),
        queue: QueuedSinkConfig::default(),
    }
}

/// One relay: a push session to a downstream server (PushSetup with AutoDestroy, so the
/// edge point goes away with the origin's session), as Windows Media Services chains origin
/// and edge servers.
fn relay_spec(target: &str, point: &str) -> OutputSpec {
    let url = target.to_owned();
    let point = point.to_owned();
    OutputSpec {
        kind: "relay".into(),
        target: target.to_owned(),
        make: Box::new(move || {
            let mut config = PushSinkConfig::default();
            config.connect_timeout = RELAY_CONNECT_TIMEOUT;
            let sink = PushSessionSink::connect(config, &url, None, true)
                .map_err(push_sink::Error::custom)?;
            tracing::info!(point = %point, target = %url, "relaying");
            Ok(Box::new(sink) as Box<dyn WriterSink>)
        }),
        queue: QueuedSinkConfig::default()
            .retry(relay_retry())
            .real_time(true),
    }
}

/// Where a push session's stream goes: its point's players and every other output.
#[derive(Debug, Default)]
pub(crate) struct SessionOutputs {
    sinks: SinkSet,
    /// Send times for the sinks, continuous across jumps.
    timeline: SendTimeline,
    index: u64,
    handles: Vec<OutputHandle>,
    started: bool,
}

impl SessionOutputs {
    /// At the session's first header: the point's players, then the archive, the relays and
    /// the embedder's outputs. Must run inside the server's runtime (the queued outputs'
    /// workers are spawned there).
    pub(crate) fn start(
        &mut self,
        point: &Arc<PublishingPoint>,
        push_id: &str,
        template: &Template,
        archive_dir: Option<&Path>,
        factories: &OutputFactories,
    ) {
        if self.started {
            return;
        }
        self.started = true;
        self.sinks
            .add(Box::new(PointSink::new(point.clone(), push_id)));
        let mut specs = Vec::new();
        if template.archive
            && let Some(dir) = archive_dir
        {
            specs.push(archive_spec(dir, point.name()));
        }
        for target in &template.relay {
            specs.push(relay_spec(target, point.name()));
        }
        specs.extend(factories.specs(&OutputContext {
            point: point.name(),
            push_id,
            template,
        }));
        for spec in specs {
            let name = format!("{} {}", spec.kind, spec.target);
            match QueuedSink::new(name, spec.queue, spec.make) {
                Ok(sink) => {
                    self.handles.push(OutputHandle {
                        kind: spec.kind,
                        target: spec.target,
                        queued: sink.handle(),
                    });
                    self.sinks.add(Box::new(sink));
                }
                Err(e) => tracing::warn!(point = %point.name(), error = %e, "output not started"),
            }
        }
        point.set_outputs(self.handles.clone());
    }

    /// A header (the first, or a stream change) to every output.
    pub(crate) fn header(&mut self, header: Bytes) {
        self.sinks.announce_header(header);
        self.sinks.take_failures();
    }

    /// One full-size packet to every output; `send_time_ms` is the packet's own.
    pub(crate) fn packet(&mut self, packet: Bytes, send_time_ms: u32, key_frame: bool) {
        // Sinks bound queues and build indexes from send times: give them a timeline
        // without the jumps some encoders make (GStreamer's live asfmux).
        let info = PacketInfo {
            send_time_ms: self.timeline.continuous(send_time_ms),
            duration_ms: 0,
            index: self.index,
            key_frame,
        };
        self.index += 1;
        self.sinks.deliver_bytes(packet, info);
        self.sinks.take_failures();
    }

    /// The stream ended (the encoder's connection closed): players get `$E(0)` (when the
    /// session still holds the point), the archive is finalised, relays end their session.
    /// The outputs stay for a resumed stream (a new archive file, a new relay session).
    pub(crate) fn end(&mut self) {
        if self.sinks.is_writing() {
            self.sinks.end();
            self.sinks.take_failures();
        }
    }

    /// The session is over: ends the stream, then lets the queued outputs finish (bounded by
    /// `timeout`) before they are dropped. The returned future owns them.
    pub(crate) fn finish(mut self, timeout: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.end();
        let handles = std::mem::take(&mut self.handles);
        async move {
            for h in &handles {
                if !h.finish(timeout).await {
                    tracing::warn!(kind = %h.kind, target = %h.target, "output did not finish in time");
                }
            }
            drop(self);
        }
    }
}

/// A fresh archive file name in `dir` for `point`: only `[A-Za-z0-9_-]` from the point name,
/// so it never leaves the folder.
pub(crate) fn archive_path(dir: &Path, point: &str) -> PathBuf {
    let safe: String = point
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut p = dir.join(format!("{safe}-{secs}.asf"));
    let mut n = 1;
    while p.exists() {
        p = dir.join(format!("{safe}-{secs}-{n}.asf"));
        n += 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_stay_in_folder() {
        let p = archive_path(Path::new("/tmp/a"), "../../etc/passwd");
        assert_eq!(p.parent(), Some(Path::new("/tmp/a")));
        assert!(!p.to_string_lossy().contains(".."));
    }
}
