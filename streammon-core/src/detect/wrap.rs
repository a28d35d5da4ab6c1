//! Cross-cutting behaviour as wrappers that are themselves detectors:
//! warm-up, gating of thin series, persistence, and ensembles.

use super::{Detector, Point, Verdict};

/// Quiet until the inner detector has seen `min_samples` valid points
/// (it learns from them all the same).
#[derive(Debug, Clone)]
pub struct Warmup<D> {
    inner: D,
    min_samples: u64,
    seen: u64,
}

impl<D: Detector> Warmup<D> {
    /// Wraps `inner`.
    pub fn new(inner: D, min_samples: u64) -> Self {
        Self { inner, min_samples, seen: 0 }
    }
}

impl<D: Detector> Detector for Warmup<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn update(&mut self, point: Point) -> Verdict {
        if !point.value.is_finite() {
            return Verdict::QUIET;
        }
        let verdict = self.inner.update(point);
        self.seen += 1;
        if self.seen > self.min_samples { verdict } else { Verdict { score: 0.0, reason: None, ..verdict } }
    }

    fn state_bytes(&self) -> usize {
        self.inner.state_bytes() + 16
    }
}

/// Gates out points that speak for fewer than `min_weight` viewers: they
/// are learned from but never flagged, because on a thin series a single
/// viewer's stall is a 100 % buffering ratio.
#[derive(Debug, Clone)]
pub struct MinWeight<D> {
    inner: D,
    min_weight: f64,
}

impl<D: Detector> MinWeight<D> {
    /// Wraps `inner`.
    pub fn new(inner: D, min_weight: f64) -> Self {
        Self { inner, min_weight }
    }
}

impl<D: Detector> Detector for MinWeight<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn update(&mut self, point: Point) -> Verdict {
        let verdict = self.inner.update(point);
        if point.weight >= self.min_weight { verdict } else { Verdict { score: 0.0, reason: None, ..verdict } }
    }

    fn state_bytes(&self) -> usize {
        self.inner.state_bytes() + 8
    }
}

/// Flags a point only when it is the `n`-th consecutive point at or above
/// 0.5: a single noisy point on one of thousands of series is not an
/// incident, while every fault worth an alert lasts several ticks. Below
/// that, scores are capped just under 0.5 (the ranking is kept).
#[derive(Debug, Clone)]
pub struct Persistence<D> {
    inner: D,
    needed: u32,
    run: u32,
}

impl<D: Detector> Persistence<D> {
    /// Wraps `inner`; `needed` of at least 1 (1 changes nothing).
    pub fn new(inner: D, needed: u32) -> Self {
        Self { inner, needed: needed.max(1), run: 0 }
    }
}

impl<D: Detector> Detector for Persistence<D> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn update(&mut self, point: Point) -> Verdict {
        if !point.value.is_finite() {
            return Verdict::QUIET;
        }
        let verdict = self.inner.update(point);
        self.run = if verdict.score >= 0.5 { self.run + 1 } else { 0 };
        if self.run >= self.needed {
            verdict
        } else {
            Verdict { score: verdict.score.min(0.499), reason: None, ..verdict }
        }
    }

    fn state_bytes(&self) -> usize {
        self.inner.state_bytes() + 8
    }
}

/// Several detectors judging the same series; the loudest wins. The
/// expected band is the first member's (members are listed in order of
/// how well their band describes the series), or the loudest member's
/// while the first has none yet or when the loudest flags the point (its
/// band is the one the point is outside). Calibrate the members
/// ([`Calibrated`](super::Calibrated)) so their scores compare.
#[derive(Debug)]
pub struct Ensemble {
    members: Vec<Box<dyn Detector>>,
}

impl Ensemble {
    /// An ensemble of `members` (at least one, or every point is quiet).
    pub fn new(members: Vec<Box<dyn Detector>>) -> Self {
        Self { members }
    }
}

impl Detector for Ensemble {
    fn name(&self) -> &'static str {
        "ensemble"
    }

    fn update(&mut self, point: Point) -> Verdict {
        let mut verdicts = self.members.iter_mut().map(|m| m.update(point));
        let Some(first) = verdicts.next() else { return Verdict::QUIET };
        let best = verdicts.fold(first, |best, v| if v.score > best.score { v } else { best });
        if best.score >= 0.5 { best } else { Verdict { expected: first.expected.or(best.expected), ..best } }
    }

    fn state_bytes(&self) -> usize {
        self.members.iter().map(|m| m.state_bytes()).sum::<usize>() + std::mem::size_of::<Self>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::MadConfig;

    #[test]
    fn warmup_and_gating_silence_without_forgetting() {
        let mut d = Warmup::new(MinWeight::new(MadConfig::default().build().unwrap(), 10.0), 50);
        for i in 0..50 {
            assert_eq!(d.update(Point::new(i, if i == 20 { 1e6 } else { (i % 5) as f64 })).score, 0.0);
        }
        assert!(d.update(Point::new(50, 1e6).with_weight(100.0)).score > 0.9);
        assert_eq!(d.update(Point::new(51, 1e6).with_weight(3.0)).score, 0.0);
    }

    #[test]
    fn an_ensemble_takes_the_loudest_member_and_the_first_band() {
        use crate::detect::{CusumConfig, ZScoreConfig};
        let mut e = Ensemble::new(vec![
            Box::new(MadConfig::default().build().unwrap()),
            Box::new(ZScoreConfig::default().build().unwrap()),
            Box::new(CusumConfig::default().build().unwrap()),
        ]);
        let mut mad = MadConfig::default().build().unwrap();
        for i in 0..200 {
            let p = Point::new(i, (i % 7) as f64);
            let (v, m) = (e.update(p), mad.update(p));
            if v.score >= 0.5 {
                assert!(!v.expected.unwrap().contains(p.value), "{i}: {v:?}");
            } else if m.expected.is_some() {
                assert_eq!(v.expected, m.expected);
            }
            assert!(v.score >= m.score);
        }
        let v = e.update(Point::new(200, 1e3));
        assert!(v.score > crate::detect::score::ratio_score(2.58), "{v:?}");
        assert!(!v.expected.unwrap().contains(1e3), "the loudest member's band, which it is outside");
        assert_eq!(Ensemble::new(Vec::new()).update(Point::new(0, 1.0)), Verdict::QUIET);
    }

    #[test]
    fn persistence_needs_consecutive_alarms() {
        let mut d = Persistence::new(MadConfig::default().build().unwrap(), 2);
        for i in 0..100 {
            d.update(Point::new(i, (i % 5) as f64));
        }
        assert!(d.update(Point::new(100, 1e6)).score < 0.5);
        assert!(d.update(Point::new(101, 1e6)).score > 0.9);
        assert!(d.update(Point::new(102, 2.0)).score < 0.5);
    }
}
