//! What operators say about alerts: acknowledgements ("I am on it") and
//! silences ("do not page anyone about this until then").
//!
//! Both are plain values with their validation here, and bounded
//! collections ([`Acks`], [`Silences`]) that a server keeps in memory and
//! mirrors into its store. A silence never hides an alert: the engine and
//! the dashboard still show it; a notifier asks
//! [`Silences::matching`] and does not deliver it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Alert, AlertLabels};
use crate::error::{Error, Result};
use crate::id::{ContentId, RegionId};
use crate::sample::maxima::TIMESTAMP_MS as MAX_TIMESTAMP_MS;
use crate::sample::{MAX_ID_LEN, Metric};

/// Longest `by` / `author`, bytes.
pub const MAX_AUTHOR_LEN: usize = 64;
/// Longest comment, bytes.
pub const MAX_COMMENT_LEN: usize = 1_024;
/// Longest silence: 90 days.
pub const MAX_SILENCE_MS: i64 = 90 * 24 * 3_600_000;
/// Most silences kept that have not expired; [`Silences::insert`] refuses
/// more.
pub const MAX_SILENCES: usize = 1_000;
/// How long an expired silence stays listed, ms (24 hours).
pub const EXPIRED_KEPT_MS: i64 = 24 * 3_600_000;
/// Most acknowledgements kept; past it the oldest is forgotten.
pub const MAX_ACKS: usize = 10_000;

/// Checks a short human text: `by`, `author`.
fn check_name(field: &str, s: &str) -> Result<()> {
    if s.trim().is_empty() {
        return Err(Error::config(field, "is empty; say who you are"));
    }
    if s.len() > MAX_AUTHOR_LEN {
        return Err(Error::config(field, format!("is {} bytes long, more than {MAX_AUTHOR_LEN}", s.len())));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::config(field, "holds a control character"));
    }
    Ok(())
}

/// Checks a free-text comment.
fn check_comment(field: &str, s: &str) -> Result<()> {
    if s.len() > MAX_COMMENT_LEN {
        return Err(Error::config(field, format!("is {} bytes long, more than {MAX_COMMENT_LEN}", s.len())));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::config(field, "holds a control character"));
    }
    Ok(())
}

/// Checks an identifier a matcher compares against.
fn check_id(field: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Error::config(field, "is empty; leave it out to match any"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(Error::config(field, format!("is {} bytes long, more than {MAX_ID_LEN}", s.len())));
    }
    if !s.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::config(field, "must be printable ASCII without spaces"));
    }
    Ok(())
}

/// Checks an epoch-ms time is within 1970–9999.
fn check_time(field: &str, t: i64) -> Result<()> {
    if !(0..=MAX_TIMESTAMP_MS).contains(&t) {
        return Err(Error::config(field, format!("{t} is outside 1970–9999 (epoch ms)")));
    }
    Ok(())
}

/// An operator's acknowledgement of one alert: someone is on it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The alert, e.g. `alrt-000042`.
    pub alert_id: String,
    /// Who acknowledged it.
    pub by: String,
    /// When, epoch ms.
    pub at_ms: i64,
    /// What they said, possibly empty.
    #[serde(default)]
    pub comment: String,
}

impl Ack {
    /// A validated acknowledgement.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming `alert_id`, `by`, `comment` or
    /// `at_ms`.
    ///
    /// ```
    /// use streammon_core::alert::Ack;
    /// let ack = Ack::new("alrt-000042", "alice", 1_700_000_000_000, "on it").unwrap();
    /// assert_eq!(ack.by, "alice");
    /// assert!(Ack::new("alrt-000042", " ", 0, "").is_err());
    /// ```
    pub fn new(alert_id: &str, by: &str, at_ms: i64, comment: &str) -> Result<Self> {
        check_id("alert_id", alert_id)?;
        check_name("by", by)?;
        check_comment("comment", comment)?;
        check_time("at_ms", at_ms)?;
        Ok(Self { alert_id: alert_id.to_owned(), by: by.trim().to_owned(), at_ms, comment: comment.to_owned() })
    }

    /// Checks a value read back from storage as [`new`](Self::new) would.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn validate(&self) -> Result<()> {
        Self::new(&self.alert_id, &self.by, self.at_ms, &self.comment).map(drop)
    }
}

/// Which alerts a silence covers: every matcher given must equal the
/// alert's label of that name ([`Alert::labels`]); an alert without that
/// label does not match. At least one matcher is required.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matchers {
    /// Only alerts of this CDN region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionId>,
    /// Only alerts of this title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    /// Only alerts about this metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Only alerts of this rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Matchers {
    /// Whether no matcher is set.
    pub fn is_empty(&self) -> bool {
        self.region.is_none() && self.content_id.is_none() && self.metric.is_none() && self.rule.is_none()
    }

    /// Whether an alert with `labels` matches.
    pub fn matches(&self, labels: &AlertLabels) -> bool {
        fn eq<T: PartialEq>(want: Option<&T>, have: Option<&T>) -> bool {
            want.is_none_or(|w| have == Some(w))
        }
        eq(self.region.as_ref(), labels.region.as_ref())
            && eq(self.content_id.as_ref(), labels.content_id.as_ref())
            && eq(self.metric.as_ref(), labels.metric.as_ref())
            && eq(self.rule.as_ref(), Some(&labels.rule))
    }

    /// Checks every matcher, naming it as `matchers.<name>`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for an empty set or a bad value.
    pub fn validate(&self) -> Result<()> {
        if self.is_empty() {
            return Err(Error::config("matchers", "name at least one of region, content_id, metric or rule"));
        }
        if let Some(r) = &self.region {
            check_id("matchers.region", r.as_str())?;
        }
        if let Some(c) = &self.content_id {
            check_id("matchers.content_id", c.as_str())?;
        }
        if let Some(r) = &self.rule {
            check_id("matchers.rule", r)?;
        }
        Ok(())
    }
}

/// Where a silence stands at a given time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceState {
    /// It starts later.
    Pending,
    /// It silences now.
    Active,
    /// It has ended (or was expired by hand).
    Expired,
}

/// A silence: alerts its matchers cover are not delivered between
/// `starts_ms` and `ends_ms`. They still show, marked silenced.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Its id, e.g. `sil-3f9a0c1d5e7b2a64`.
    pub id: String,
    /// Which alerts it covers.
    pub matchers: Matchers,
    /// From, epoch ms.
    pub starts_ms: i64,
    /// Until, epoch ms (exclusive).
    pub ends_ms: i64,
    /// Who made it.
    pub author: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
    /// When it was made, epoch ms.
    pub created_ms: i64,
}

/// A request for a silence, as a client sends it: [`into_silence`]
/// validates it and fills in the defaults.
///
/// [`into_silence`]: SilenceRequest::into_silence
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Which alerts it covers; at least one matcher.
    pub matchers: Matchers,
    /// From, epoch ms; defaults to now.
    #[serde(default)]
    pub starts_ms: Option<i64>,
    /// Until, epoch ms. Give this or `duration_ms`.
    #[serde(default)]
    pub ends_ms: Option<i64>,
    /// How long from `starts_ms`, ms, when `ends_ms` is not given.
    #[serde(default)]
    pub duration_ms: Option<i64>,
    /// Who makes it.
    pub author: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl SilenceRequest {
    /// The silence this request asks for, with `id`, made at `now_ms`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field: no matcher, a bad
    /// matcher, an empty or long author, neither or both of `ends_ms` and
    /// `duration_ms`, an end not after both the start and now, a span past
    /// [`MAX_SILENCE_MS`], a time outside 1970–9999.
    ///
    /// ```
    /// use streammon_core::alert::{Matchers, SilenceRequest, SilenceState};
    /// let req = SilenceRequest {
    ///     matchers: Matchers { region: Some("eu-west".into()), ..Matchers::default() },
    ///     duration_ms: Some(3_600_000),
    ///     author: "alice".into(),
    ///     comment: "CDN maintenance".into(),
    ///     ..SilenceRequest::default()
    /// };
    /// let s = req.into_silence("sil-1".into(), 1_000).unwrap();
    /// assert_eq!((s.starts_ms, s.ends_ms), (1_000, 3_601_000));
    /// assert_eq!(s.state(2_000), SilenceState::Active);
    /// ```
    pub fn into_silence(self, id: String, now_ms: i64) -> Result<Silence> {
        self.matchers.validate()?;
        check_name("author", &self.author)?;
        check_comment("comment", &self.comment)?;
        let starts_ms = self.starts_ms.unwrap_or(now_ms);
        check_time("starts_ms", starts_ms)?;
        let ends_ms = match (self.ends_ms, self.duration_ms) {
            (Some(end), None) => end,
            (None, Some(d)) if d <= 0 => return Err(Error::config("duration_ms", format!("{d} is not positive"))),
            (None, Some(d)) if d > MAX_SILENCE_MS => {
                return Err(Error::config("duration_ms", format!("{d} is longer than {MAX_SILENCE_MS} (90 days)")));
            }
            (None, Some(d)) => starts_ms.saturating_add(d),
            (None, None) => return Err(Error::config("ends_ms", "give ends_ms or duration_ms")),
            (Some(_), Some(_)) => return Err(Error::config("duration_ms", "give ends_ms or duration_ms, not both")),
        };
        check_time("ends_ms", ends_ms)?;
        if ends_ms <= starts_ms {
            return Err(Error::config("ends_ms", format!("{ends_ms} is not after starts_ms {starts_ms}")));
        }
        if ends_ms <= now_ms {
            return Err(Error::config("ends_ms", format!("{ends_ms} is in the past (now {now_ms})")));
        }
        if ends_ms - starts_ms > MAX_SILENCE_MS {
            return Err(Error::config("ends_ms", format!("the silence lasts more than {MAX_SILENCE_MS} ms (90 days)")));
        }
        Ok(Silence {
            id,
            matchers: self.matchers,
            starts_ms,
            ends_ms,
            author: self.author.trim().to_owned(),
            comment: self.comment,
            created_ms: now_ms,
        })
    }
}

impl Silence {
    /// Where it stands at `now_ms`.
    pub fn state(&self, now_ms: i64) -> SilenceState {
        if now_ms < self.starts_ms {
            SilenceState::Pending
        } else if now_ms < self.ends_ms {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }

    /// Whether it silences `alert` at `now_ms`.
    pub fn silences(&self, labels: &AlertLabels, now_ms: i64) -> bool {
        self.state(now_ms) == SilenceState::Active && self.matchers.matches(labels)
    }

    /// Checks a value read back from storage.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<()> {
        check_id("id", &self.id)?;
        self.matchers.validate()?;
        check_name("author", &self.author)?;
        check_comment("comment", &self.comment)?;
        for (field, t) in [("starts_ms", self.starts_ms), ("ends_ms", self.ends_ms), ("created_ms", self.created_ms)] {
            check_time(field, t)?;
        }
        if self.ends_ms < self.starts_ms {
            return Err(Error::config("ends_ms", "is before starts_ms"));
        }
        Ok(())
    }
}

/// The acknowledgements a server holds, by alert id, at most [`MAX_ACKS`]:
/// past that the oldest is forgotten.
#[derive(Debug, Clone, Default)]
pub struct Acks {
    by_alert: HashMap<String, Ack>,
}

impl Acks {
    /// No acknowledgements.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `ack`, replacing the alert's earlier one; returns the
    /// acknowledgement it forgot to stay within [`MAX_ACKS`], if any.
    pub fn insert(&mut self, ack: Ack) -> Option<Ack> {
        self.by_alert.insert(ack.alert_id.clone(), ack);
        if self.by_alert.len() <= MAX_ACKS {
            return None;
        }
        let oldest = self.by_alert.values().min_by(|a, b| a.at_ms.cmp(&b.at_ms).then(a.alert_id.cmp(&b.alert_id)))?;
        let id = oldest.alert_id.clone();
        self.by_alert.remove(&id)
    }

    /// Forgets the alert's acknowledgement, returning it.
    pub fn remove(&mut self, alert_id: &str) -> Option<Ack> {
        self.by_alert.remove(alert_id)
    }

    /// The alert's acknowledgement.
    pub fn get(&self, alert_id: &str) -> Option<&Ack> {
        self.by_alert.get(alert_id)
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.by_alert.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.by_alert.is_empty()
    }

    /// Every acknowledgement, newest first.
    pub fn sorted(&self) -> Vec<Ack> {
        let mut v: Vec<Ack> = self.by_alert.values().cloned().collect();
        v.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.alert_id.cmp(&b.alert_id)));
        v
    }
}

/// Why a silence was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceRefusal {
    /// [`MAX_SILENCES`] unexpired silences exist already.
    #[error("{MAX_SILENCES} silences are pending or active; expire one first")]
    Full,
    /// A silence with that id exists.
    #[error("silence {0} exists")]
    Duplicate(String),
}

/// The silences a server holds: unexpired ones, at most
/// [`MAX_SILENCES`], and expired ones for [`EXPIRED_KEPT_MS`] after their
/// end.
#[derive(Debug, Clone, Default)]
pub struct Silences {
    items: Vec<Silence>,
}

impl Silences {
    /// No silences.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `silence`.
    ///
    /// # Errors
    /// [`SilenceRefusal`] when full at `now_ms` or when its id is taken.
    pub fn insert(&mut self, silence: Silence, now_ms: i64) -> Result<(), SilenceRefusal> {
        if self.items.iter().any(|s| s.id == silence.id) {
            return Err(SilenceRefusal::Duplicate(silence.id));
        }
        let live = self.items.iter().filter(|s| s.state(now_ms) != SilenceState::Expired).count();
        if live >= MAX_SILENCES {
            return Err(SilenceRefusal::Full);
        }
        self.items.push(silence);
        Ok(())
    }

    /// Puts back a silence read from storage, replacing one with its id;
    /// past the bound it is dropped (returns false).
    pub fn restore(&mut self, silence: Silence, now_ms: i64) -> bool {
        self.items.retain(|s| s.id != silence.id);
        self.insert(silence, now_ms).is_ok()
    }

    /// Ends the silence `id` at `now_ms` (if it had not ended), keeping it
    /// listed as expired; returns it as it is now.
    pub fn expire(&mut self, id: &str, now_ms: i64) -> Option<&Silence> {
        let s = self.items.iter_mut().find(|s| s.id == id)?;
        if s.ends_ms > now_ms {
            s.ends_ms = now_ms.max(s.starts_ms);
        }
        Some(s)
    }

    /// Forgets the silence `id` at once, whatever its state (a silence
    /// storage would not take); returns it.
    pub fn remove(&mut self, id: &str) -> Option<Silence> {
        let at = self.items.iter().position(|s| s.id == id)?;
        Some(self.items.remove(at))
    }

    /// The silence `id`.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.items.iter().find(|s| s.id == id)
    }

    /// Forgets silences that expired more than [`EXPIRED_KEPT_MS`] before
    /// `now_ms`; returns their ids.
    pub fn purge(&mut self, now_ms: i64) -> Vec<String> {
        let mut gone = Vec::new();
        self.items.retain(|s| {
            let keep = s.ends_ms.saturating_add(EXPIRED_KEPT_MS) > now_ms;
            if !keep {
                gone.push(s.id.clone());
            }
            keep
        });
        gone
    }

    /// The first active silence that covers `alert` at `now_ms`.
    pub fn matching(&self, alert: &Alert, now_ms: i64) -> Option<&Silence> {
        let labels = alert.labels();
        self.items.iter().find(|s| s.silences(&labels, now_ms))
    }

    /// Every active silence that covers `alert` at `now_ms`, by id.
    pub fn matching_ids(&self, alert: &Alert, now_ms: i64) -> Vec<String> {
        self.covering(&alert.labels(), now_ms)
    }

    /// Every active silence that covers an alert with `labels` at
    /// `now_ms`, by id.
    pub fn covering(&self, labels: &AlertLabels, now_ms: i64) -> Vec<String> {
        self.items.iter().filter(|s| s.silences(labels, now_ms)).map(|s| s.id.clone()).collect()
    }

    /// Every silence, newest first.
    pub fn sorted(&self) -> Vec<Silence> {
        let mut v = self.items.clone();
        v.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then_with(|| a.id.cmp(&b.id)));
        v
    }

    /// How many are held, expired ones included.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;

    fn labels(region: Option<&str>, content: Option<&str>, metric: Option<Metric>) -> AlertLabels {
        AlertLabels {
            rule: "buffering".into(),
            severity: Severity::Critical,
            region: region.map(Into::into),
            content_id: content.map(Into::into),
            metric,
        }
    }

    fn request(m: Matchers) -> SilenceRequest {
        SilenceRequest { matchers: m, duration_ms: Some(60_000), author: "alice".into(), ..Default::default() }
    }

    #[test]
    fn every_given_matcher_must_equal_a_present_label() {
        let m = Matchers { region: Some("eu-west".into()), metric: Some(Metric::BufferingRatio), ..Default::default() };
        assert!(m.matches(&labels(Some("eu-west"), None, Some(Metric::BufferingRatio))));
        assert!(m.matches(&labels(Some("eu-west"), Some("vod-1"), Some(Metric::BufferingRatio))));
        assert!(!m.matches(&labels(Some("eu-west"), None, Some(Metric::LatencyMs))));
        assert!(!m.matches(&labels(None, None, Some(Metric::BufferingRatio))), "no region label: no match");
        let rule = Matchers { rule: Some("buffering".into()), ..Default::default() };
        assert!(rule.matches(&labels(None, None, None)));
        assert!(!Matchers { rule: Some("latency".into()), ..Default::default() }.matches(&labels(None, None, None)));
    }

    #[test]
    fn a_request_is_checked_field_by_field() {
        let field = |r: SilenceRequest, now: i64| match r.into_silence("sil-1".into(), now) {
            Err(Error::InvalidConfig { field, .. }) => field,
            other => panic!("accepted: {other:?}"),
        };
        assert_eq!(field(request(Matchers::default()), 0), "matchers");
        let eu = || Matchers { region: Some("eu-west".into()), ..Default::default() };
        assert_eq!(field(SilenceRequest { author: " ".into(), ..request(eu()) }, 0), "author");
        assert_eq!(field(SilenceRequest { duration_ms: None, ..request(eu()) }, 0), "ends_ms");
        assert_eq!(field(SilenceRequest { ends_ms: Some(5), ..request(eu()) }, 0), "duration_ms");
        assert_eq!(field(SilenceRequest { duration_ms: Some(0), ..request(eu()) }, 0), "duration_ms");
        assert_eq!(field(SilenceRequest { duration_ms: Some(MAX_SILENCE_MS + 1), ..request(eu()) }, 0), "duration_ms");
        let past = SilenceRequest { duration_ms: None, starts_ms: Some(0), ends_ms: Some(10), ..request(eu()) };
        assert_eq!(field(past, 100), "ends_ms");
        assert_eq!(field(SilenceRequest { starts_ms: Some(-1), ..request(eu()) }, 0), "starts_ms");
        let bad_region = Matchers { region: Some("eu west".into()), ..Default::default() };
        assert_eq!(field(request(bad_region), 0), "matchers.region");
        assert_eq!(field(SilenceRequest { comment: "x".repeat(MAX_COMMENT_LEN + 1), ..request(eu()) }, 0), "comment");
    }

    #[test]
    fn silences_are_active_in_their_window_and_expire_by_hand() {
        let eu = Matchers { region: Some("eu-west".into()), ..Default::default() };
        let s = SilenceRequest { starts_ms: Some(1_000), ..request(eu) }.into_silence("sil-1".into(), 0).unwrap();
        let l = labels(Some("eu-west"), None, None);
        assert_eq!(s.state(999), SilenceState::Pending);
        assert!(!s.silences(&l, 999));
        assert!(s.silences(&l, 1_000));
        assert!(!s.silences(&l, 61_000), "the end is exclusive");

        let mut set = Silences::new();
        set.insert(s.clone(), 0).unwrap();
        assert_eq!(set.insert(s, 0), Err(SilenceRefusal::Duplicate("sil-1".into())));
        assert_eq!(set.expire("sil-1", 2_000).map(|s| s.state(2_000)), Some(SilenceState::Expired));
        assert_eq!(set.len(), 1, "an expired silence stays listed");
        assert!(set.purge(2_000 + EXPIRED_KEPT_MS - 1).is_empty());
        assert_eq!(set.purge(2_000 + EXPIRED_KEPT_MS), vec!["sil-1".to_owned()]);
        let eu = Matchers { region: Some("eu-west".into()), ..Default::default() };
        let (a, b) = (
            request(eu.clone()).into_silence("a".into(), 0).unwrap(),
            request(eu).into_silence("b".into(), 0).unwrap(),
        );
        set.insert(a, 0).unwrap();
        set.insert(b, 0).unwrap();
        set.expire("b", 1);
        assert_eq!(set.remove("a").map(|s| s.id), Some("a".into()));
        assert_eq!((set.len(), set.remove("a")), (1, None), "only that one goes, expired ones stay");
    }

    #[test]
    fn silences_and_acks_are_bounded() {
        let mut set = Silences::new();
        for i in 0..MAX_SILENCES {
            let s = request(Matchers { rule: Some(format!("r{i}")), ..Default::default() })
                .into_silence(format!("sil-{i}"), 0)
                .unwrap();
            set.insert(s, 0).unwrap();
        }
        let one_more = request(Matchers { rule: Some("x".into()), ..Default::default() });
        assert_eq!(set.insert(one_more.clone().into_silence("sil-x".into(), 0).unwrap(), 0), Err(SilenceRefusal::Full));
        set.expire("sil-0", 1);
        assert!(set.insert(one_more.into_silence("sil-x".into(), 1).unwrap(), 1).is_ok(), "an expired one frees room");

        let mut acks = Acks::new();
        for i in 0..MAX_ACKS {
            assert_eq!(acks.insert(Ack::new(&format!("alrt-{i}"), "bob", 10 + i as i64, "").unwrap()), None);
        }
        let forgotten = acks.insert(Ack::new("alrt-new", "bob", 1 << 40, "").unwrap());
        assert_eq!(forgotten.map(|a| a.alert_id), Some("alrt-0".into()), "the oldest goes");
        assert_eq!(acks.len(), MAX_ACKS);
    }
}
