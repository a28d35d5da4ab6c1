//! The series table: one slot per (title, region) stream the engine
//! follows, with the population counts root-cause scoring divides by.
//!
//! Rule state lives in per-rule vectors indexed by slot, so a sample costs
//! one hash lookup however many rules there are. Slots of forgotten
//! streams are reused.

use std::collections::HashMap;

use crate::content::{ContentType, RenditionId};
use crate::id::{ContentId, RegionId};

/// One followed stream.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) content: ContentId,
    pub(crate) region: RegionId,
    /// Unknown for streams only seen through anomalies.
    pub(crate) content_type: Option<ContentType>,
    /// The dominant rendition of the last sample.
    pub(crate) rendition: Option<RenditionId>,
    /// Time of the last sample or anomaly, epoch ms.
    pub(crate) last_seen: i64,
    /// Viewers of the last sample.
    pub(crate) viewers: u32,
}

/// Every followed stream, and how many there are per dimension value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    /// Title → (region, slot) of its streams; a title has few regions, so
    /// the inner lookup is a short scan.
    index: HashMap<ContentId, Vec<(RegionId, u32)>>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    pub(crate) by_region: HashMap<RegionId, u32>,
    pub(crate) by_type: [u32; 3],
    pub(crate) by_rendition: [u32; RenditionId::COUNT],
    live: usize,
}

pub(crate) fn type_index(t: ContentType) -> usize {
    match t {
        ContentType::Video => 0,
        ContentType::Audio => 1,
        ContentType::Live => 2,
    }
}

impl Table {
    /// The slot of a stream, created if new and there is room (`max`
    /// streams); `None` when the table is full. The flag tells whether it
    /// was created.
    pub(crate) fn touch(&mut self, content: &ContentId, region: &RegionId, t: i64, max: usize) -> Option<(u32, bool)> {
        if let Some(regions) = self.index.get(content)
            && let Some(&(_, id)) = regions.iter().find(|(r, _)| r == region)
        {
            let slot = self.slots[id as usize].as_mut().expect("indexed slots are occupied");
            slot.last_seen = slot.last_seen.max(t);
            return Some((id, false));
        }
        if self.live >= max {
            return None;
        }
        let slot = Slot {
            content: content.clone(),
            region: region.clone(),
            content_type: None,
            rendition: None,
            last_seen: t,
            viewers: 0,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.entry(content.clone()).or_default().push((region.clone(), id));
        *self.by_region.entry(region.clone()).or_default() += 1;
        self.live += 1;
        Some((id, true))
    }

    /// Records the content type, dominant rendition and viewers a sample
    /// reports.
    pub(crate) fn describe(&mut self, id: u32, content_type: ContentType, rendition: RenditionId, viewers: u32) {
        let slot = self.slots[id as usize].as_mut().expect("described slots are occupied");
        slot.viewers = viewers;
        if slot.content_type != Some(content_type) {
            if let Some(old) = slot.content_type.replace(content_type) {
                self.by_type[type_index(old)] -= 1;
            }
            self.by_type[type_index(content_type)] += 1;
        }
        if slot.rendition != Some(rendition) {
            if let Some(old) = slot.rendition.replace(rendition) {
                self.by_rendition[old.index()] -= 1;
            }
            self.by_rendition[rendition.index()] += 1;
        }
    }

    /// Records the viewers behind a stream, as an anomaly reports them.
    pub(crate) fn set_viewers(&mut self, id: u32, viewers: u32) {
        if let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) {
            slot.viewers = viewers;
        }
    }

    /// Forgets a slot, returning it to the free list.
    pub(crate) fn remove(&mut self, id: u32) {
        let Some(slot) = self.slots[id as usize].take() else { return };
        if let Some(regions) = self.index.get_mut(&slot.content) {
            regions.retain(|&(_, i)| i != id);
            if regions.is_empty() {
                self.index.remove(&slot.content);
            }
        }
        if let Some(n) = self.by_region.get_mut(&slot.region) {
            *n -= 1;
            if *n == 0 {
                self.by_region.remove(&slot.region);
            }
        }
        if let Some(t) = slot.content_type {
            self.by_type[type_index(t)] -= 1;
        }
        if let Some(r) = slot.rendition {
            self.by_rendition[r.index()] -= 1;
        }
        self.free.push(id);
        self.live -= 1;
    }

    /// The slot with this id, if occupied.
    pub(crate) fn get(&self, id: u32) -> Option<&Slot> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// Occupied slots with their ids, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Slot)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|s| (i as u32, s)))
    }

    /// The slots of one title.
    pub(crate) fn slots_of(&self, content: &ContentId) -> &[(RegionId, u32)] {
        self.index.get(content).map_or(&[], Vec::as_slice)
    }

    /// How many streams are followed.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The highest slot id ever used, plus one: the length rule state
    /// vectors need.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Approximate heap bytes held, for the memory bound.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Slot>>()
            + self.index.capacity() * (std::mem::size_of::<(ContentId, Vec<(RegionId, u32)>)>() + 1)
            + self.live * std::mem::size_of::<(RegionId, u32)>()
            + self.by_region.capacity() * (std::mem::size_of::<(RegionId, u32)>() + 1)
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_and_counts_follow() {
        let mut t = Table::default();
        let (c, r1, r2) = (ContentId::from("vod-1"), RegionId::from("eu"), RegionId::from("us"));
        let (a, new) = t.touch(&c, &r1, 0, 2).unwrap();
        assert!(new);
        assert_eq!(t.touch(&c, &r1, 5, 2), Some((a, false)));
        let (b, _) = t.touch(&c, &r2, 5, 2).unwrap();
        assert_eq!(t.touch(&"vod-2".into(), &r1, 5, 2), None, "full");
        t.describe(a, ContentType::Video, RenditionId::P720, 10);
        t.describe(a, ContentType::Video, RenditionId::P1080, 12);
        assert_eq!(t.get(a).unwrap().viewers, 12);
        assert_eq!(t.by_rendition[RenditionId::P720.index()], 0);
        assert_eq!(t.by_rendition[RenditionId::P1080.index()], 1);
        assert_eq!(t.slots_of(&c).len(), 2);
        t.remove(a);
        assert_eq!((t.len(), t.by_type[0], t.by_region.get(&r1)), (1, 0, None));
        let (again, _) = t.touch(&"vod-2".into(), &r1, 9, 2).unwrap();
        assert_eq!(again, a, "freed slot reused");
        assert_eq!(t.get(b).unwrap().last_seen, 5);
        assert_eq!(t.capacity(), 2);
    }
}
