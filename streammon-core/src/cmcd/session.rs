//! One viewer's playback session (`sid`), followed from its CMCD reports:
//! a state machine that derives the standard quality-of-experience figures
//! (CTA-2066 where it defines them).
//!
//! **State.** Version 2 players say their state (`sta`: starting,
//! playing, rebuffering, paused, seeking, …); for version 1 players it is
//! inferred: the session starts with its first media request and plays
//! from its first request that is not marked urgent (`su`), and each
//! `bs` (the buffer ran dry) is one stall. Time is accounted by the
//! server's clock at receipt (players' clocks drift), split into the ticks
//! it falls in.
//!
//! **Figures.** Startup time (`msd` when the player gives it, else first
//! report to playing), rebuffering time and count, exits before video
//! start, playback failures, the video bitrate and its time-weighted mean,
//! bitrate switches up and down, measured throughput (`mtp`), buffer
//! length (`bl`), live latency (`ltc`), dropped frames (`dfa`), requests,
//! failed requests (`rc` ≥ 400) and time to first byte (`ttfb`).

use super::report::{EventType, ObjectType, PlayerState, Report, StreamType};
use crate::id::{ContentId, RegionId};

/// Longest stall a version-1 `bs` is taken to stand for: the time since
/// the previous request, at most this.
pub(crate) const V1_STALL_CAP_MS: i64 = 5_000;

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked to play, nothing shown yet.
    Starting,
    /// Playing.
    Playing,
    /// Stalled, waiting for data.
    Rebuffering,
    /// Paused, seeking or waiting on the user: watching, not playing.
    Idle,
    /// Ended or quit.
    Ended,
    /// Stopped by a fatal error.
    Failed,
}

/// What one tick of a session adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct TickAcc {
    pub(crate) play_ms: f64,
    pub(crate) stall_ms: f64,
    pub(crate) stalls: u32,
    pub(crate) requests: u32,
    pub(crate) errors: u32,
    /// Kilobits of media requested (`br` × `d`).
    pub(crate) kbit: f64,
    pub(crate) segment_ms: f64,
    pub(crate) segments: u32,
    pub(crate) ttfb_ms: f64,
    pub(crate) ttfbs: u32,
    pub(crate) dropped_frames: u64,
    /// The session showed its first frame this tick.
    pub(crate) joined: bool,
}

/// One session's state and figures.
#[derive(Debug, Clone)]
pub struct Session {
    /// The title, once a report named it.
    pub content: Option<ContentId>,
    /// Where the viewer is, from the first report.
    pub region: RegionId,
    /// On demand or live, when said.
    pub stream_type: Option<StreamType>,
    /// Whether only audio objects were requested.
    pub audio_only: bool,
    /// Where it is now.
    pub phase: Phase,
    /// First report, server ms.
    pub first_ms: i64,
    /// Latest report, server ms.
    pub last_ms: i64,
    /// Startup time, ms, once it played.
    pub startup_ms: Option<f64>,
    /// Current video (or audio, for audio-only) bitrate, kbps.
    pub bitrate_kbps: Option<f64>,
    /// Latest measured throughput, kbps.
    pub throughput_kbps: Option<f64>,
    /// Latest buffer length, ms.
    pub buffer_ms: Option<f64>,
    /// Latest live latency, ms.
    pub live_latency_ms: Option<f64>,
    /// Time spent playing, ms.
    pub play_ms: f64,
    /// Time spent stalled, ms.
    pub stall_ms: f64,
    /// Stalls.
    pub stalls: u32,
    /// Bitrate switches up.
    pub switches_up: u32,
    /// Bitrate switches down.
    pub switches_down: u32,
    /// Frames dropped.
    pub dropped_frames: u64,
    /// Reports received.
    pub reports: u64,
    /// kbps × ms of playing time, for the time-weighted bitrate.
    bitrate_ms: f64,
    /// Whether the player says its state (`sta`): no inference then.
    says_state: bool,
    /// The player's timestamp (`ts`) of the latest state change taken:
    /// reports posted one by one can arrive out of order, and a state
    /// older than the one applied is stale.
    state_ts: Option<i64>,
    /// Time accounted up to, server ms.
    accounted_ms: i64,
    /// Latest media request, server ms.
    last_request_ms: Option<i64>,
    pub(crate) tick: TickAcc,
}

impl Session {
    pub(crate) fn new(region: RegionId, now_ms: i64) -> Self {
        Self {
            content: None,
            region,
            stream_type: None,
            audio_only: true,
            phase: Phase::Starting,
            first_ms: now_ms,
            last_ms: now_ms,
            startup_ms: None,
            bitrate_kbps: None,
            throughput_kbps: None,
            buffer_ms: None,
            live_latency_ms: None,
            play_ms: 0.0,
            stall_ms: 0.0,
            stalls: 0,
            switches_up: 0,
            switches_down: 0,
            dropped_frames: 0,
            reports: 0,
            bitrate_ms: 0.0,
            says_state: false,
            state_ts: None,
            accounted_ms: now_ms,
            last_request_ms: None,
            tick: TickAcc::default(),
        }
    }

    /// Whether the session is over.
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Ended | Phase::Failed)
    }

    /// Whether it ended before showing anything (an exit before video
    /// start, or a failure to start).
    pub fn never_started(&self) -> bool {
        self.startup_ms.is_none()
    }

    /// Whether it has shown video: a viewer, from then until it ends.
    pub fn started(&self) -> bool {
        self.startup_ms.is_some()
    }

    /// Bitrate over the time played, kbps.
    pub fn time_weighted_bitrate_kbps(&self) -> Option<f64> {
        (self.play_ms > 0.0).then(|| self.bitrate_ms / self.play_ms)
    }

    /// Share of watch time spent stalled.
    pub fn rebuffering_ratio(&self) -> f64 {
        let total = self.play_ms + self.stall_ms;
        if total > 0.0 { self.stall_ms / total } else { 0.0 }
    }

    /// Accounts the time since the last call to the current phase.
    pub(crate) fn advance(&mut self, now_ms: i64) {
        let dt = (now_ms - self.accounted_ms).max(0) as f64;
        self.accounted_ms = self.accounted_ms.max(now_ms);
        match self.phase {
            Phase::Playing => {
                self.play_ms += dt;
                self.tick.play_ms += dt;
                self.bitrate_ms += dt * self.bitrate_kbps.unwrap_or(0.0);
            }
            Phase::Rebuffering => {
                self.stall_ms += dt;
                self.tick.stall_ms += dt;
            }
            _ => {}
        }
    }

    fn enter(&mut self, phase: Phase, now_ms: i64, msd: Option<i64>) {
        // Waiting for data before the first frame is starting up, not
        // rebuffering (dash.js says `s`, `r`, then `p`).
        let phase = if phase == Phase::Rebuffering && self.startup_ms.is_none() { Phase::Starting } else { phase };
        if phase == self.phase {
            return;
        }
        if phase == Phase::Playing && self.startup_ms.is_none() {
            self.startup_ms = Some(msd.map_or((now_ms - self.first_ms).max(0) as f64, |m| m as f64));
            self.tick.joined = true;
        }
        if phase == Phase::Rebuffering && self.startup_ms.is_some() {
            self.stalls += 1;
            self.tick.stalls += 1;
        }
        self.phase = phase;
    }

    /// Applies one report received at `now_ms`.
    pub(crate) fn observe(&mut self, r: &Report<'_>, content: Option<&ContentId>, now_ms: i64) {
        if self.is_over() {
            return;
        }
        self.advance(now_ms);
        self.last_ms = self.last_ms.max(now_ms);
        self.reports += 1;
        if self.content.is_none() {
            self.content = content.cloned();
        }
        if r.st.is_some() {
            self.stream_type = r.st;
        }
        let media = matches!(r.ot, Some(ObjectType::Video | ObjectType::Muxed | ObjectType::Audio))
            || (r.ot.is_none() && !r.br.is_empty() && r.d.is_some());
        if matches!(r.ot, Some(ObjectType::Video | ObjectType::Muxed)) || (r.ot.is_none() && !r.br.is_empty()) {
            self.audio_only = false;
        }

        // Bitrate: the video's, or the audio's for an audio-only session.
        let video = matches!(r.ot, Some(ObjectType::Video | ObjectType::Muxed) | None);
        let kbps = if video {
            r.br.video()
        } else if self.audio_only {
            r.br.first()
        } else {
            None
        };
        if let Some(k) = kbps.map(|k| k as f64) {
            match self.bitrate_kbps {
                Some(old) if k > old => self.switches_up += 1,
                Some(old) if k < old => self.switches_down += 1,
                _ => {}
            }
            self.bitrate_kbps = Some(k);
        }
        if let Some(m) = r.mtp.first() {
            self.throughput_kbps = Some(m as f64);
        }
        if let Some(b) = r.bl.first() {
            self.buffer_ms = Some(b as f64);
        }
        if let Some(l) = r.ltc {
            self.live_latency_ms = Some(l as f64);
        }
        if let Some(df) = r.dfa {
            self.dropped_frames += df as u64;
            self.tick.dropped_frames += df as u64;
        }

        // Requests: request-mode reports of media objects, and responses.
        if media && r.e.is_none() {
            self.tick.requests += 1;
            if let (Some(br), Some(d)) = (r.br.first(), r.d) {
                self.tick.kbit += br as f64 * d as f64 / 1_000.0;
            }
            if let Some(d) = r.d {
                self.tick.segment_ms += d as f64;
                self.tick.segments += 1;
            }
        }
        if r.e == Some(EventType::ResponseReceived) {
            self.tick.requests += 1;
            if r.rc.is_some_and(|rc| rc >= 400) {
                self.tick.errors += 1;
            }
            if let Some(t) = r.ttfb {
                self.tick.ttfb_ms += t as f64;
                self.tick.ttfbs += 1;
            }
        }
        if r.e == Some(EventType::Error) {
            self.tick.errors += 1;
        }

        let stale = matches!((r.ts, self.state_ts), (Some(ts), Some(last)) if ts < last);
        if let Some(sta) = r.sta.filter(|_| !stale) {
            self.says_state = true;
            if r.ts.is_some() {
                self.state_ts = r.ts;
            }
            let phase = match sta {
                PlayerState::Starting | PlayerState::Preloading => Phase::Starting,
                PlayerState::Playing => Phase::Playing,
                PlayerState::Rebuffering => Phase::Rebuffering,
                PlayerState::Seeking | PlayerState::Paused | PlayerState::Waiting => Phase::Idle,
                PlayerState::Ended | PlayerState::Quit => Phase::Ended,
                PlayerState::Fatal => Phase::Failed,
                _ => self.phase,
            };
            self.enter(phase, now_ms, r.msd);
        } else if !self.says_state && media {
            // Version 1: infer.
            if self.phase == Phase::Starting && r.su != Some(true) && self.last_request_ms.is_some() {
                self.enter(Phase::Playing, now_ms, r.msd);
            }
            if r.bs == Some(true) && self.startup_ms.is_some() {
                let since = self.last_request_ms.map_or(0, |t| (now_ms - t).clamp(0, V1_STALL_CAP_MS)) as f64;
                let moved = since.min(self.tick.play_ms);
                self.tick.play_ms -= moved;
                self.play_ms -= moved;
                self.tick.stall_ms += since;
                self.stall_ms += since;
                self.stalls += 1;
                self.tick.stalls += 1;
            }
        }
        if let (false, Some(bsd)) = (self.says_state, r.bsd.first()) {
            // A version-2 starvation duration from a player that does not
            // say its state.
            self.tick.stall_ms += bsd as f64;
            self.stall_ms += bsd as f64;
        }
        if media {
            self.last_request_ms = Some(now_ms);
        }
    }

    /// Takes this tick's accumulators, leaving fresh ones.
    pub(crate) fn take_tick(&mut self) -> TickAcc {
        std::mem::take(&mut self.tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(RegionId::from("local"), 0)
    }

    fn feed(s: &mut Session, text: &str, at: i64) {
        let r = Report::parse(text).unwrap();
        s.observe(&r, Some(&ContentId::from("c")), at);
    }

    #[test]
    fn version_two_states_give_startup_stalls_and_time() {
        let mut s = session();
        feed(&mut s, "e=ps,sta=s,v=2", 0);
        feed(&mut s, "e=ps,sta=p,v=2,br=3000,ot=v", 1_200);
        feed(&mut s, "e=ps,sta=r,v=2", 11_200);
        feed(&mut s, "e=ps,sta=p,v=2", 13_200);
        s.advance(21_200);
        assert_eq!(s.startup_ms, Some(1_200.0));
        assert_eq!((s.play_ms, s.stall_ms, s.stalls), (18_000.0, 2_000.0, 1));
        assert!((s.rebuffering_ratio() - 0.1).abs() < 1e-12);
        assert_eq!(s.time_weighted_bitrate_kbps(), Some(3_000.0));
        feed(&mut s, "e=ps,sta=e,v=2", 22_000);
        assert!(s.is_over() && !s.never_started());
    }

    #[test]
    fn version_one_is_inferred_from_requests() {
        let mut s = session();
        feed(&mut s, "br=800,d=2000,ot=v,su,sid=\"x\"", 0);
        feed(&mut s, "br=800,d=2000,ot=v,su", 300);
        feed(&mut s, "br=1800,d=2000,ot=v,bl=4000", 900);
        assert_eq!(s.startup_ms, Some(900.0));
        assert_eq!((s.bitrate_kbps, s.switches_up, s.buffer_ms), (Some(1_800.0), 1, Some(4_000.0)));
        feed(&mut s, "br=300,d=2000,ot=v,bs", 4_900);
        assert_eq!((s.stalls, s.stall_ms, s.switches_down), (1, 4_000.0, 1));
        let tick = s.take_tick();
        assert_eq!((tick.requests, tick.segments), (4, 4));
        assert!((tick.kbit - (800.0 * 2.0 * 2.0 + 1_800.0 * 2.0 + 300.0 * 2.0)).abs() < 1e-9);
        assert!(tick.joined, "joined with its first frame");
        assert!(!s.take_tick().joined);
    }

    #[test]
    fn waiting_for_data_before_the_first_frame_is_startup_not_rebuffering() {
        // What dash.js reports at startup (found by scripts/player).
        let mut s = session();
        feed(&mut s, "e=ps,sta=s,v=2", 0);
        feed(&mut s, "e=ps,sta=r,v=2", 200);
        assert!(!s.take_tick().joined);
        feed(&mut s, "e=ps,sta=p,v=2", 700);
        s.advance(1_700);
        assert_eq!((s.startup_ms, s.stall_ms, s.stalls, s.play_ms), (Some(700.0), 0.0, 0, 1_000.0));
        assert!(s.take_tick().joined);
    }

    #[test]
    fn a_state_report_that_arrives_after_a_newer_one_is_stale() {
        // Posted one by one, `sta=r` (ts 1100) overtook `sta=p` (ts 1200)
        // on the way: the player never stalled after its first frame.
        let mut s = session();
        feed(&mut s, "e=ps,sta=s,ts=1000,v=2", 0);
        feed(&mut s, "e=ps,sta=p,ts=1200,v=2", 200);
        feed(&mut s, "e=ps,sta=r,ts=1100,v=2", 210);
        s.advance(1_200);
        assert_eq!((s.phase, s.stalls, s.stall_ms), (Phase::Playing, 0, 0.0));
        feed(&mut s, "e=ps,sta=r,ts=2000,v=2", 1_300);
        assert_eq!((s.phase, s.stalls), (Phase::Rebuffering, 1));
    }

    #[test]
    fn a_session_that_quits_before_playing_never_started_and_failures_count() {
        let mut s = session();
        feed(&mut s, "e=ps,sta=s,v=2", 0);
        feed(&mut s, "e=ps,sta=q,v=2", 3_000);
        assert!(s.is_over() && s.never_started());
        let mut f = session();
        feed(&mut f, "e=rr,rc=503,ttfb=40,url=\"https://x/a.m4s\",v=2", 10);
        feed(&mut f, "e=e,ec=(\"MEDIA_ERR\"),sta=f,v=2", 20);
        assert_eq!(f.phase, Phase::Failed);
        let tick = f.take_tick();
        assert_eq!((tick.requests, tick.errors, tick.ttfbs), (1, 2, 1));
    }
}
