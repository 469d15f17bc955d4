//! Client-ID bookkeeping across a player's connections (MS-WMSP 3.2.1
//! Client-ID and Session-State, 3.2.2 Idle-Timeout, 3.2.3 initialization),
//! for applications that want the spec's session rules on top of the
//! per-connection [`super::PullServerConnection`]s.
//!
//! ffmpeg never echoes the client id, so it always gets a new session;
//! Windows Media Player echoes it on Play and then keeps its session.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{PullRequest, PullRequestKind, Session};

/// MS-WMSP 3.2.2: "the timeout interval SHOULD be set to 60000 milliseconds".
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Entry {
    streaming: bool,
    idle_since: Instant,
}

/// Why [`PullSessions::session_for`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionRefusal {
    /// MS-WMSP 3.2.5.6: a Play for a session that is already streaming
    /// SHOULD fail (possible hijack). Answer with an error status (409).
    AlreadyStreaming,
    /// The table is full and no session is idle long enough to evict.
    TooManySessions,
}

/// A bounded table of pull sessions keyed by Client-ID.
#[derive(Debug)]
pub struct PullSessions {
    sessions: HashMap<u32, Entry>,
    capacity: usize,
    idle_timeout: Duration,
}

impl PullSessions {
    /// At most `capacity` sessions; an idle session expires after `idle_timeout`.
    pub fn new(capacity: usize, idle_timeout: Duration) -> PullSessions {
        PullSessions {
            sessions: HashMap::new(),
            capacity,
            idle_timeout,
        }
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// True if `client_id` is a live session.
    pub fn contains(&self, client_id: u32) -> bool {
        self.sessions.contains_key(&client_id)
    }

    /// The [`Session`] to pass to `accept` for `request`. A known, live
    /// client-id gives `Existing` (MS-WMSP 3.2.5.1: load that state); none or
    /// an unknown one creates a session with an id drawn from `draw` (the
    /// caller's RNG; drawn again, at most 16 times, on a collision or 0).
    /// A Play request marks the session streaming until [`PullSessions::stopped`].
    pub fn session_for(
        &mut self,
        request: &PullRequest,
        mut draw: impl FnMut() -> u32,
        now: Instant,
    ) -> Result<Session, SessionRefusal> {
        self.expire(now);
        let play = request.kind == PullRequestKind::Play;
        if let Some(id) = request.client_id()
            && let Some(entry) = self.sessions.get_mut(&id)
        {
            if play && entry.streaming {
                return Err(SessionRefusal::AlreadyStreaming);
            }
            entry.streaming = play;
            entry.idle_since = now;
            return Ok(Session::Existing { client_id: id });
        }
        if self.sessions.len() >= self.capacity {
            return Err(SessionRefusal::TooManySessions);
        }
        let mut id = draw();
        for _ in 0..16 {
            if id != 0 && !self.sessions.contains_key(&id) {
                break;
            }
            id = draw();
        }
        if id == 0 || self.sessions.contains_key(&id) {
            return Err(SessionRefusal::TooManySessions);
        }
        self.sessions.insert(
            id,
            Entry {
                streaming: play,
                idle_since: now,
            },
        );
        Ok(Session::New { client_id: id })
    }

    /// The session's Play connection ended (`$E` sent or the player left):
    /// it becomes idle and its Idle-Timeout starts (MS-WMSP 3.2.4.1).
    pub fn stopped(&mut self, client_id: u32, now: Instant) {
        if let Some(e) = self.sessions.get_mut(&client_id) {
            e.streaming = false;
            e.idle_since = now;
        }
    }

    /// Forgets a session.
    pub fn remove(&mut self, client_id: u32) {
        self.sessions.remove(&client_id);
    }

    /// Drops sessions idle for longer than the timeout; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.sessions.len();
        let timeout = self.idle_timeout;
        self.sessions
            .retain(|_, e| e.streaming || now.saturating_duration_since(e.idle_since) < timeout);
        before - self.sessions.len()
    }

    /// When the next idle session expires, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter(|e| !e.streaming)
            .filter_map(|e| e.idle_since.checked_add(self.idle_timeout))
            .min()
    }
}
