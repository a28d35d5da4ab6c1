//! Cluster mode's shared state on a real server: one lead at a time, the
//! partition streams, commits that move a cursor only forward, claims that
//! hand an uncommitted read to the next lead and drop what the cursor
//! shows stored, the backlog bound, and the tick channel.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use streammon_core::store::conformance::frames;
use streammon_core::{Sample, StoreError};
use streammon_redis::cluster::{Channel, Cluster, EntryId, partition_of};
use support::target;

fn batch(n: usize) -> Vec<Sample> {
    frames(n).into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_leads_until_its_lease_lapses_or_it_resigns() {
    let t = target();
    let a = Cluster::connect(&t.config, "a", 4).await.unwrap();
    let b = Cluster::connect(&t.config, "b", 4).await.unwrap();
    let ttl = Duration::from_millis(300);
    assert!(a.lead(ttl, 1).await.unwrap());
    assert!(!b.lead(ttl, 1).await.unwrap(), "b must not lead while a's lease holds");
    assert!(a.lead(ttl, 2).await.unwrap(), "a renews its own lease");
    assert_eq!(b.leader().await.unwrap().as_deref(), Some("a"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(b.lead(ttl, 3).await.unwrap(), "a lapsed lease goes to the next node that asks");
    assert!(!a.lead(ttl, 3).await.unwrap());
    a.resign().await.unwrap();
    assert_eq!(a.leader().await.unwrap().as_deref(), Some("b"), "resigning gives up only one's own lease");
    b.resign().await.unwrap();
    assert_eq!(a.leader().await.unwrap(), None);
    assert_eq!(a.nodes(3, Duration::from_secs(1)).await.unwrap(), ["a", "b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_lead_gets_what_the_last_read_but_never_committed_and_nothing_it_stored() {
    let t = target();
    let (partitions, per_read) = (4, 1_000);
    let old = Cluster::connect(&t.config, "old", partitions).await.unwrap();
    let samples = batch(3);
    for chunk in samples.chunks(7) {
        old.append(chunk).await.unwrap();
    }
    // Every sample lands in its series' partition, each once.
    let read = old.read(per_read).await.unwrap();
    let got: usize = read.iter().map(|e| e.samples.len()).sum();
    assert_eq!(got, samples.len());
    for e in &read {
        for s in &e.samples {
            assert_eq!(partition_of(s.content_id.as_str(), s.region.as_str(), partitions), e.partition);
        }
    }
    assert!(old.read(per_read).await.unwrap().is_empty(), "a read takes each entry once");
    // The old lead stored and committed the first half, then died.
    let (done, left) = read.split_at(read.len() / 2);
    let ids: Vec<(u16, EntryId)> = done.iter().map(|e| (e.partition, e.id)).collect();
    old.commit(&ids).await.unwrap();

    let new = Cluster::connect(&t.config, "new", partitions).await.unwrap();
    let claimed = new.claim(Duration::ZERO).await.unwrap();
    let mut want: Vec<(u16, EntryId)> = left.iter().map(|e| (e.partition, e.id)).collect();
    let mut have: Vec<(u16, EntryId)> = claimed.entries.iter().map(|e| (e.partition, e.id)).collect();
    // Entries of a partition below its cursor were stored by the old lead
    // in an earlier tick: dropped as duplicates, not processed twice.
    let cursor = |p: u16| ids.iter().filter(|(q, _)| *q == p).map(|(_, id)| *id).max();
    want.retain(|(p, id)| cursor(*p).is_none_or(|c| *id > c));
    want.sort();
    have.sort();
    assert_eq!(have, want);
    assert_eq!(claimed.duplicates, left.len() - want.len());
    new.commit(&have).await.unwrap();
    assert!(new.claim(Duration::ZERO).await.unwrap().entries.is_empty(), "nothing pending after the commit");
    assert_eq!(new.backlog().await.unwrap(), 0, "committed entries are trimmed away");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_never_moves_back_and_a_full_backlog_refuses_appends() {
    let t = target();
    let c = Cluster::connect(&t.config, "n", 1).await.unwrap().with_max_backlog(3);
    let samples = batch(1);
    for _ in 0..3 {
        c.append(&samples[..1]).await.unwrap();
    }
    match c.append(&samples[..1]).await {
        Err(StoreError::BufferFull { capacity: 3, dropped: 1 }) => {}
        other => panic!("a full backlog must refuse: {other:?}"),
    }
    let read = c.read(10).await.unwrap();
    assert_eq!(read.len(), 3);
    c.commit(&[(0, read[2].id)]).await.unwrap();
    c.commit(&[(0, read[0].id), (0, read[1].id)]).await.unwrap();
    // The cursor stayed at the newest: nothing is claimed back as new.
    let claimed = c.claim(Duration::ZERO).await.unwrap();
    assert!(claimed.entries.is_empty(), "{claimed:?}");
    c.append(&samples[..1]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_published_reaches_every_subscriber_of_its_channel() {
    let t = target();
    let a = Cluster::connect(&t.config, "a", 1).await.unwrap();
    let b = Cluster::connect(&t.config, "b", 1).await.unwrap();
    let mut on_a = a.subscribe(Channel::Ticks).await.unwrap();
    let mut on_b = b.subscribe(Channel::Ticks).await.unwrap();
    let mut notes_b = b.subscribe(Channel::Notes).await.unwrap();
    a.publish(Channel::Ticks, b"tick 1").await.unwrap();
    a.publish(Channel::Notes, b"ack").await.unwrap();
    for sub in [&mut on_a, &mut on_b] {
        let got = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"tick 1"[..]), "ticks only on the tick channel");
    }
    let got = tokio::time::timeout(Duration::from_secs(5), notes_b.next()).await.unwrap();
    assert_eq!(got.as_deref(), Some(&b"ack"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_count_out_of_range_is_refused() {
    let t = target();
    for bad in [0, streammon_redis::cluster::MAX_PARTITIONS + 1] {
        let err = Cluster::connect(&t.config, "n", bad).await.unwrap_err();
        assert!(err.to_string().contains("partitions"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_whose_stream_went_is_made_again_and_keeps_what_came_since() {
    let t = target();
    let c = Cluster::connect(&t.config, "n", 1).await.unwrap();
    let mut raw = support::raw(&t.config).await;
    let _: i64 = redis::cmd("DEL").arg(format!("{}{{p000}}:in", t.config.prefix)).query_async(&mut raw).await.unwrap();
    let samples = batch(1);
    c.append(&samples).await.unwrap();
    assert!(c.read(10).await.unwrap().is_empty(), "the read that finds the group gone makes it again");
    let read = c.read(10).await.unwrap();
    assert_eq!(read.iter().map(|e| e.samples.len()).sum::<usize>(), samples.len(), "what came meanwhile is read");
}
