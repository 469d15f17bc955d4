//! [`NetworkSink`]: the `IWMWriterNetworkSink` analog. The writer's own MS-WMSP (MMSH) server:
//! players (Windows Media Player, ffmpeg, VLC, mpv) pull the live stream straight from it.
//!
//! It is a [`WriterSink`] over a [`hub::BroadcastHub`]: headers and packets go
//! into the hub, and a listener task accepts players and serves each with
//! [`serve_player`](hub::serve_player) (Windows Media Format SDK, `IWMWriterNetworkSink`:
//! `Open`, `Close`, `Disconnect`, `Set/GetMaximumClients`, `GetHostURL`; MS-WMSP 4.11, the
//! encoder answers as `Server: Rex/9.0...` with `features="broadcast,playlist"`).
//!
//! ```no_run
//! use push_sink::network_sink::{NetworkSink, NetworkSinkConfig};
//! let mut sink = NetworkSink::new(NetworkSinkConfig::default())?;
//! let addr = sink.open(0)?; // 127.0.0.1, any free port
//! println!("play mmsh://{addr}/");
//! // writer.add_sink(Box::new(sink)) ...
//! # Ok::<(), push_sink::Error>(())
//! ```

pub mod hub;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::sink::{DataUnit, SinkStats, WriterSink};
use crate::transport::RuntimeHost;
use hub::{BroadcastHub, ClientInfo, HubConfig, ServeConfig};

/// Settings of a [`NetworkSink`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NetworkSinkConfig {
    /// Fan-out bounds and the slow-player policy (`max_clients` lives here).
    pub hub: HubConfig,
    /// How each player connection is served.
    pub serve: ServeConfig,
}

impl NetworkSinkConfig {
    /// Defaults with `max_clients` players.
    pub fn with_max_clients(max_clients: usize) -> NetworkSinkConfig {
        NetworkSinkConfig {
            hub: HubConfig::with_max_clients(max_clients),
            serve: ServeConfig::default(),
        }
    }

    /// Sets the fan-out bounds and slow-player policy.
    pub fn hub(mut self, hub: HubConfig) -> NetworkSinkConfig {
        self.hub = hub;
        self
    }

    /// Sets how player connections are served.
    pub fn serve(mut self, serve: ServeConfig) -> NetworkSinkConfig {
        self.serve = serve;
        self
    }
}

/// A [`WriterSink`] that feeds a [`BroadcastHub`]: `on_header` sets the hub's header,
/// `on_data_unit` publishes the packet (with its key-frame flag, so late joiners start there),
/// `on_end_writing` ends the stream for every player (MS-WMSP 3.2.4.1: `$E(0)`). It never
/// blocks: the hub queues per player, bounded, with its slow-player policy.
///
/// The hub is shared (a cheap clone), so whoever serves players from it (a
/// [`NetworkSink`]'s listener, a publishing-point server) keeps its own handle while the sink
/// sits in a writer or a [`SinkSet`](crate::SinkSet).
///
/// ```
/// use bytes::Bytes;
/// use push_sink::network_sink::HubSink;
/// use push_sink::hub::{BroadcastHub, HubConfig, HubItem};
/// use push_sink::{DataUnit, PacketInfo, SinkSet};
///
/// let hub = BroadcastHub::new(HubConfig::with_max_clients(8));
/// let mut sinks = SinkSet::new();
/// sinks.add(Box::new(HubSink::new(hub.clone())));
/// sinks.announce_header(Bytes::from_static(b"ASF header"));
/// let key = PacketInfo { key_frame: true, ..PacketInfo::default() };
/// sinks.deliver_bytes(Bytes::from_static(b"packet 0"), key);
/// let player = hub.subscribe(None, None).expect("a header is set");
/// assert_eq!(player.try_next(), Some(Some(HubItem::Packet(Bytes::from_static(b"packet 0")))));
/// sinks.end();
/// assert_eq!(player.try_next(), Some(Some(HubItem::End)));
/// ```
#[derive(Debug, Clone)]
pub struct HubSink {
    hub: BroadcastHub,
    name: String,
}

impl HubSink {
    /// A sink feeding `hub`.
    pub fn new(hub: BroadcastHub) -> HubSink {
        HubSink {
            hub,
            name: String::from("hub sink"),
        }
    }

    /// Sets the name reported by [`WriterSink::name`].
    pub fn with_name(mut self, name: impl Into<String>) -> HubSink {
        self.name = name.into();
        self
    }

    /// The hub the sink feeds.
    pub fn hub(&self) -> &BroadcastHub {
        &self.hub
    }
}

impl WriterSink for HubSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        self.hub.set_header(header.clone());
        Ok(())
    }

    fn is_real_time(&self) -> bool {
        true
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        let key = unit.is_key_frame();
        // One copy of the packet for every player: `Bytes` views share it.
        self.hub.publish(unit.into_packet(), key);
        Ok(())
    }

    fn on_end_writing(&mut self) -> Result<(), Error> {
        // MS-WMSP 3.2.4.1: end of stream is `$E(0)` to every player, then close.
        self.hub.end_of_stream();
        Ok(())
    }

    fn stats(&self) -> SinkStats {
        let h = self.hub.stats();
        let mut s = SinkStats::new();
        s.headers = h.headers;
        s.packets = h.packets;
        s.bytes = h.bytes;
        s.drops = h.drops;
        s
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Serves the writer's stream to players over MS-WMSP. See the [module docs](self).
#[derive(Debug)]
pub struct NetworkSink {
    sink: HubSink,
    serve: Arc<ServeConfig>,
    runtime: RuntimeHost,
    listener: Option<JoinHandle<()>>,
    local_addr: Option<SocketAddr>,
    served: Arc<AtomicU64>,
    closed: bool,
}

impl NetworkSink {
    /// A sink that is not listening yet (call [`open`](NetworkSink::open)). Uses the
    /// current tokio runtime when created inside one (its workers then serve the players, so
    /// do not block a current-thread runtime's only thread while players are connected),
    /// else a private runtime with one worker thread.
    pub fn new(config: NetworkSinkConfig) -> Result<NetworkSink, Error> {
        Ok(NetworkSink {
            sink: HubSink::new(BroadcastHub::new(config.hub)),
            serve: Arc::new(config.serve),
            runtime: RuntimeHost::current_or_new()?,
            listener: None,
            local_addr: None,
            served: Arc::new(AtomicU64::new(0)),
            closed: false,
        })
    }

    /// Listens on 127.0.0.1:`port` (0 = any free port) and returns the bound address
    /// (`IWMWriterNetworkSink::Open`, which reports the port).
    pub fn open(&mut self, port: u16) -> Result<SocketAddr, Error> {
        self.open_on(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// Listens on `addr` (port 0 = any) and returns the bound address.
    pub fn open_on(&mut self, addr: SocketAddr) -> Result<SocketAddr, Error> {
        if self.listener.is_some() {
            return Err(Error::Misuse("network sink is already open"));
        }
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::io("binding the network sink's port", e))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("configuring the network sink's socket", e))?;
        let local = std_listener
            .local_addr()
            .map_err(|e| Error::io("reading the network sink's address", e))?;
        let listener = {
            let _guard = self.runtime.handle().enter();
            tokio::net::TcpListener::from_std(std_listener)
                .map_err(|e| Error::io("registering the network sink's socket", e))?
        };
        let hub = self.sink.hub.clone();
        let serve = self.serve.clone();
        let served = self.served.clone();
        self.listener = Some(self.runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors and the like: back off a little.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let hub = hub.clone();
                let serve = serve.clone();
                let served = served.clone();
                tokio::spawn(async move {
                    match hub::serve_player(&hub, stream, &serve).await {
                        Ok(outcome) => tracing::debug!(?outcome, "player connection done"),
                        Err(e) => tracing::debug!(error = %e, "player connection failed"),
                    }
                    served.fetch_add(1, Ordering::Relaxed);
                });
            }
        }));
        self.local_addr = Some(local);
        self.closed = false;
        Ok(local)
    }

    /// The bound address while open.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The URL players use, e.g. `mmsh://127.0.0.1:8080/` (`IWMWriterNetworkSink::GetHostURL`).
    pub fn host_url(&self) -> Option<String> {
        self.local_addr.map(|a| format!("mmsh://{a}/"))
    }

    /// Sets the most players at once (`IWMWriterNetworkSink::SetMaximumClients`).
    pub fn set_max_clients(&self, max: usize) {
        self.sink.hub.set_max_clients(max);
    }

    /// The most players at once.
    pub fn max_clients(&self) -> usize {
        self.sink.hub.max_clients()
    }

    /// The players connected now (`IWMClientConnections`).
    pub fn clients(&self) -> Vec<ClientInfo> {
        self.sink.hub.clients()
    }

    /// Player connections finished so far (Describe, Play, refused ...).
    pub fn connections_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Drops every player; the port stays open (`IWMWriterNetworkSink::Disconnect`).
    pub fn disconnect_all(&self) {
        self.sink.hub.disconnect_all();
    }

    /// Drops every player and releases the port (`IWMWriterNetworkSink::Close`). The sink
    /// can be opened again.
    pub fn close(&mut self) {
        if let Some(l) = self.listener.take() {
            l.abort();
        }
        self.sink.hub.disconnect_all();
        self.local_addr = None;
        self.closed = true;
    }

    /// The hub behind the sink (to share the stream with other servers).
    pub fn hub(&self) -> &BroadcastHub {
        &self.sink.hub
    }
}

impl Drop for NetworkSink {
    fn drop(&mut self) {
        self.close();
    }
}

/// A network sink shared between a writer and the application (who keeps a clone to call
/// `clients`, `disconnect_all` or `close` while the writer writes). For most control calls
/// [`NetworkSink::hub`] (a cheap clone) is enough.
pub type SharedNetworkSink = std::sync::Arc<std::sync::Mutex<NetworkSink>>;

impl NetworkSink {
    /// Wraps the sink for sharing (see [`SharedNetworkSink`]).
    pub fn into_shared(self) -> SharedNetworkSink {
        std::sync::Arc::new(std::sync::Mutex::new(self))
    }
}

fn lock_sink(s: &SharedNetworkSink) -> std::sync::MutexGuard<'_, NetworkSink> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl WriterSink for SharedNetworkSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        lock_sink(self).on_header(header)
    }
    fn is_real_time(&self) -> bool {
        true
    }
    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        lock_sink(self).on_data_unit(unit)
    }
    fn on_end_writing(&mut self) -> Result<(), Error> {
        lock_sink(self).on_end_writing()
    }
    fn stats(&self) -> SinkStats {
        lock_sink(self).stats()
    }
    fn name(&self) -> String {
        lock_sink(self).name()
    }
}

impl WriterSink for NetworkSink {
    fn on_header(&mut self, header: &Bytes) -> Result<(), Error> {
        self.sink.on_header(header)
    }

    fn is_real_time(&self) -> bool {
        true
    }

    fn on_data_unit(&mut self, unit: DataUnit) -> Result<(), Error> {
        self.sink.on_data_unit(unit)
    }

    fn on_end_writing(&mut self) -> Result<(), Error> {
        self.sink.on_end_writing()
    }

    fn stats(&self) -> SinkStats {
        self.sink.stats()
    }

    fn name(&self) -> String {
        match self.local_addr {
            Some(a) => format!("network sink mmsh://{a}/"),
            None => String::from("network sink (not open)"),
        }
    }
}
