//! [`PushSessionSink`]: one whole push session as a [`WriterSink`], for a worker that may
//! block (a [`QueuedSink`](crate::QueuedSink)'s factory and batches run on tokio's blocking
//! pool): made connected, ended with `$E(0)` by `on_end_writing`.

use bytes::{Bytes, BytesMut};

use super::{PushError, PushSink, PushSinkConfig};
use crate::error::Error;
use crate::sink::{DataUnit, SinkStats, WriterSink};
use crate::transport::RuntimeHost;

/// A [`PushSink`] that owns one session from `connect` to `$E(0)`: server-to-server relays,
/// where the end of the stream is the end of the session (the downstream point goes away
/// with AutoDestroy).
///
/// - [`connect`](PushSessionSink::connect) **blocks** (as [`PushSink::connect`]) until the
///   server accepted the PushSetup or refused it; call it where blocking is allowed (a
///   `QueuedSink` factory, a thread), never on an async worker thread.
/// - `on_header` / `on_data_unit` are the push sink's (queue and return; its bounded queue,
///   drop policy and reconnect-with-resume apply, [`PushSinkConfig`]).
/// - `on_end_writing` ends the entry and then the session ([`PushSink::end_session`]: what
///   is queued, then `$E(0)`), blocking up to twice the write timeout plus a second.
///
/// The network task runs on the runtime current at `connect` (a private one outside a
/// runtime, [`RuntimeHost::current_or_new`]).
#[derive(Debug)]
pub struct PushSessionSink {
    sink: PushSink,
}

impl PushSessionSink {
    /// Connects a new push sink to the publishing point at `url` (see [`PushSink::connect`]
    /// for `template_url` and `auto_destroy`). Blocks; see the type's documentation.
    pub fn connect(
        config: PushSinkConfig,
        url: &str,
        template_url: Option<&str>,
        auto_destroy: bool,
    ) -> Result<PushSessionSink, PushError> {
        let runtime = RuntimeHost::current_or_new()
            .map_err(|e| PushError::ConnectionFailure(e.to_string()))?;
        let mut sink = PushSink::with_runtime(config, runtime);
        sink.connect(url, template_url, auto_destroy)?;
        Ok(PushSessionSink { sink })
    }

    /// The push sink (status stream, push-id, queue).
    pub fn push_sink(&self) -> &PushSink {
        &self.sink
    }
}

impl WriterSink for PushSessionSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        self.sink.on_header(header)
    }

    fn is_real_time(&self) -> bool {
        true
    }

    fn allocate_data_unit(&mut self, packet_size: usize) -> BytesMut {
        self.sink.allocate_data_unit(packet_size)
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        self.sink.on_data_unit(unit)
    }

    fn on_end_writing(&mut self) -> Result<(), Error> {
        self.sink.on_end_writing()?;
        // MS-WMHTTP 2.2.3.3: `$E(0)`, the session is over; the server applies AutoDestroy.
        self.sink.end_session().map_err(Error::custom)
    }

    fn stats(&self) -> SinkStats {
        self.sink.stats()
    }

    fn name(&self) -> String {
        self.sink.name()
    }
}
