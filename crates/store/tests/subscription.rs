//! Catch-up subscriptions: every event exactly once, in order, across the
//! switch from history to live, under concurrent appends.

mod common;

use std::time::Duration;

use common::*;
use ecoute_store::*;
use futures::StreamExt;

async fn append_n(store: &dyn EventStore, stream_name: &str, from: u128, n: u128) {
    for i in from..from + n {
        store
            .append_to_stream(
                stream(stream_name),
                ExpectedVersion::Any,
                vec![event(i, &i.to_string())],
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_once_in_order_across_the_switch_to_live() {
    for (name, make) in implementations() {
        let h = make();
        append_n(h.store.as_ref(), "case-1", 0, 300).await;
        // Writers keep appending while the subscriber catches up and goes live.
        let writers: Vec<_> = (0..4u128)
            .map(|w| {
                let store = h.store.clone();
                tokio::spawn(async move {
                    append_n(store.as_ref(), &format!("call-{w}"), 10_000 * (w + 1), 150).await;
                })
            })
            .collect();
        let options = SubscriptionOptions {
            batch_size: 7,
            ..SubscriptionOptions::default()
        };
        let mut sub = subscribe(h.store.clone(), options);
        let mut next = 0u64;
        let mut caught_up = 0;
        let total = 300 + 4 * 150;
        while next < total {
            let msg = tokio::time::timeout(Duration::from_secs(30), sub.next())
                .await
                .expect("subscription stalled")
                .expect("subscription ended")
                .unwrap();
            match msg {
                SubscriptionMessage::Event(e) => {
                    assert_eq!(e.position, next, "{name}: gap or duplicate");
                    next += 1;
                }
                SubscriptionMessage::CaughtUp { head } => {
                    assert_eq!(head, next, "{name}");
                    caught_up += 1;
                }
            }
        }
        for w in writers {
            w.await.unwrap();
        }
        // Caught up exactly once (it may come before or after the writers finish).
        if caught_up == 0 {
            let msg = tokio::time::timeout(Duration::from_secs(30), sub.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(msg, SubscriptionMessage::CaughtUp { head: total }, "{name}");
            caught_up = 1;
        }
        assert_eq!(caught_up, 1, "{name}");
        // And live events keep coming.
        append_n(h.store.as_ref(), "case-9", 90_000, 1).await;
        let msg = tokio::time::timeout(Duration::from_secs(30), sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match msg {
            SubscriptionMessage::Event(e) => assert_eq!(e.position, total, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn starts_after_a_checkpoint_and_filters() {
    for (name, make) in implementations() {
        let h = make();
        for i in 0..10u128 {
            let s = if i % 2 == 0 { "case-1" } else { "call-1" };
            append_n(h.store.as_ref(), s, i, 1).await;
        }
        let collect = |options: SubscriptionOptions| {
            let store = h.store.clone();
            async move {
                let mut sub = subscribe(store, options);
                let mut seen = Vec::new();
                loop {
                    match sub.next().await.unwrap().unwrap() {
                        SubscriptionMessage::Event(e) => seen.push(e.position),
                        SubscriptionMessage::CaughtUp { head } => return (seen, head),
                    }
                }
            }
        };
        let (seen, head) = collect(SubscriptionOptions {
            start: Start::After(6),
            ..Default::default()
        })
        .await;
        assert_eq!((seen, head), (vec![7, 8, 9], 10), "{name}");
        let (seen, _) = collect(SubscriptionOptions {
            filter: Filter::Categories(vec!["call".into()]),
            batch_size: 3,
            ..Default::default()
        })
        .await;
        assert_eq!(seen, vec![1, 3, 5, 7, 9], "{name}");
        h.store
            .delete_stream(stream("case-1"), ExpectedVersion::Any, DeleteMode::Soft)
            .await
            .unwrap();
        let (seen, head) = collect(SubscriptionOptions {
            filter: Filter::EventTypes(vec![DELETED_EVENT_TYPE.into()]),
            ..Default::default()
        })
        .await;
        assert_eq!((seen, head), (vec![10], 11), "{name}");
        // An empty log catches up at once.
        let empty = memory();
        let mut sub = subscribe(empty.store.clone(), SubscriptionOptions::default());
        assert_eq!(
            sub.next().await.unwrap().unwrap(),
            SubscriptionMessage::CaughtUp { head: 0 }
        );
        // A bad category filter is an error, not a silent empty stream.
        let mut sub = subscribe(
            h.store.clone(),
            SubscriptionOptions {
                filter: Filter::Categories(vec!["no-such".into()]),
                ..Default::default()
            },
        );
        assert!(matches!(
            sub.next().await,
            Some(Err(StoreError::InvalidStreamId { .. }))
        ));
        assert!(sub.next().await.is_none());
    }
}

#[tokio::test]
async fn a_subscription_ends_when_the_store_closes() {
    let store = std::sync::Arc::new(MemoryStore::in_memory(StoreConfig::default()));
    append_n(store.as_ref(), "case-1", 0, 3).await;
    let mut sub = subscribe(store.clone(), SubscriptionOptions::default());
    let mut events = 0;
    while let SubscriptionMessage::Event(_) = sub.next().await.unwrap().unwrap() {
        events += 1;
    }
    assert_eq!(events, 3);
    store.close().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .expect("the subscription did not end");
    assert!(end.is_none());
}
