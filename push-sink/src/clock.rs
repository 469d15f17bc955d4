//! Monotonic time for pacing real-time delivery, kept out of the writer's core.
//!
//! The [`Writer`](crate::writer::Writer) never reads a clock itself: its pacing methods take
//! `now` as a [`Duration`] since an arbitrary origin, and a [`Pacer`] turns send times into due
//! times. A [`Clock`] supplies `now`: [`SystemClock`] in production (a [`std::time::Instant`]),
//! [`ManualClock`] in tests (time moves only when the test says so).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock: time since the clock's own origin, never going backwards.
pub trait Clock: Send + Sync {
    /// Time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// The system's monotonic clock ([`Instant`]), with its origin at construction.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that moves only when told to; clones share the same time. For tests.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    micros: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` microseconds).
    pub fn advance(&self, by: Duration) {
        let add = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        let mut cur = self.micros.load(Ordering::Acquire);
        loop {
            let next = cur.saturating_add(add);
            match self
                .micros
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Sets the clock to `to` if that is later than now (a monotonic clock never goes back).
    pub fn set(&self, to: Duration) {
        let to = u64::try_from(to.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_max(to, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Acquire))
    }
}

/// Turns packet send times into due times on a monotonic clock.
///
/// The first packet after [`reset`](Pacer::reset) (or construction) anchors the timeline: a
/// packet with send time `s` is due at `anchor_now + (s - anchor_send)`, minus the configured
/// `lead` (packets may go out that much early, so a player's preroll buffer fills quickly at
/// the start and jitter does not starve it). Send times that go backwards are due at once.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    lead: Duration,
    anchor: Option<(Duration, u32)>,
}

impl Pacer {
    /// A pacer that lets packets out up to `lead` before their send time.
    pub fn new(lead: Duration) -> Self {
        Pacer { lead, anchor: None }
    }

    /// The configured lead.
    pub fn lead(&self) -> Duration {
        self.lead
    }

    /// Forgets the anchor: the next packet is due at once and anchors a new timeline (call
    /// at `begin_writing` and after a discontinuity).
    pub fn reset(&mut self) {
        self.anchor = None;
    }

    /// How long to wait, from `now`, before a packet with `send_time_ms` is due (zero when it
    /// is due already). Anchors the timeline on the first call after a reset.
    pub fn delay(&mut self, send_time_ms: u32, now: Duration) -> Duration {
        let (anchor_now, anchor_send) = *self.anchor.get_or_insert((now, send_time_ms));
        let offset = Duration::from_millis(u64::from(send_time_ms.saturating_sub(anchor_send)));
        let due = (anchor_now + offset).saturating_sub(self.lead);
        due.saturating_sub(now)
    }
}

impl Default for Pacer {
    /// A pacer with no lead.
    fn default() -> Self {
        Pacer::new(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward() {
        let c = ManualClock::new();
        let c2 = c.clone();
        c.advance(Duration::from_millis(5));
        assert_eq!(c2.now(), Duration::from_millis(5));
        c.set(Duration::from_millis(2));
        assert_eq!(c.now(), Duration::from_millis(5));
        c.set(Duration::from_millis(9));
        assert_eq!(c.now(), Duration::from_millis(9));
    }

    #[test]
    fn system_clock_is_monotonic() {
        let c = SystemClock::new();
        let a = c.now();
        let b = c.now();
        assert!(b >= a);
    }

    #[test]
    fn pacer_anchors_on_first_packet() {
        let mut p = Pacer::new(Duration::ZERO);
        let t0 = Duration::from_secs(100);
        assert_eq!(p.delay(3100, t0), Duration::ZERO);
        assert_eq!(p.delay(3200, t0), Duration::from_millis(100));
        assert_eq!(
            p.delay(3200, t0 + Duration::from_millis(40)),
            Duration::from_millis(60)
        );
        assert_eq!(
            p.delay(3200, t0 + Duration::from_millis(140)),
            Duration::ZERO
        );
        // Send time going backwards: due at once.
        assert_eq!(p.delay(10, t0), Duration::ZERO);
        p.reset();
        assert_eq!(p.delay(9000, t0), Duration::ZERO);
    }

    #[test]
    fn pacer_lead_lets_packets_out_early() {
        let mut p = Pacer::new(Duration::from_millis(500));
        let t0 = Duration::from_secs(1);
        assert_eq!(p.delay(0, t0), Duration::ZERO);
        assert_eq!(p.delay(400, t0), Duration::ZERO);
        assert_eq!(p.delay(800, t0), Duration::from_millis(300));
    }
}
