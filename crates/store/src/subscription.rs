//! Catch-up subscriptions over `$all`: history from a checkpoint, then live
//! appends, with no gap and no duplicate at the switch.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt};

use crate::api::EventStore;
use crate::error::Result;
use crate::types::{validate_category, RecordedEvent};

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// From global position 0.
    Beginning,
    /// Just after this position: the consumer's checkpoint, the last position it processed.
    After(u64),
}

/// Which events a subscription delivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Filter {
    /// Every event, including the store's own `$`-typed records.
    #[default]
    All,
    /// Only events whose stream is in one of these categories.
    Categories(Vec<String>),
    /// Only events of these types.
    EventTypes(Vec<String>),
}

impl Filter {
    fn accepts(&self, e: &RecordedEvent) -> bool {
        match self {
            Filter::All => true,
            Filter::Categories(cs) => cs.iter().any(|c| c == e.stream_id.category()),
            Filter::EventTypes(ts) => ts.contains(&e.event_type),
        }
    }
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionMessage {
    /// The next event, in global order.
    Event(Box<RecordedEvent>),
    /// Every event up to `head` (exclusive) was delivered; live events follow.
    /// Sent once, the first time the subscription reaches the head.
    CaughtUp {
        /// The head at that moment: the position the next live event will have.
        head: u64,
    },
}

/// Options of a catch-up subscription.
#[derive(Debug, Clone)]
pub struct SubscriptionOptions {
    /// Where to start.
    pub start: Start,
    /// Which events to deliver.
    pub filter: Filter,
    /// How many events are read and buffered at a time: the memory a slow consumer costs.
    pub batch_size: usize,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            start: Start::Beginning,
            filter: Filter::All,
            batch_size: 256,
        }
    }
}

struct State {
    store: Arc<dyn EventStore>,
    head: tokio::sync::watch::Receiver<u64>,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    options: SubscriptionOptions,
    caught_up: bool,
    done: bool,
}

/// Subscribes to `$all` from a checkpoint: an async stream of events in global
/// order, then a [`SubscriptionMessage::CaughtUp`], then live events.
///
/// The subscription pulls from the log in batches, so a slow consumer costs at
/// most one batch of memory and never makes the writers wait. It ends after
/// an error (yielded as its last item) or, once caught up, when the store closes.
pub fn subscribe(
    store: Arc<dyn EventStore>,
    options: SubscriptionOptions,
) -> BoxStream<'static, Result<SubscriptionMessage>> {
    if let Filter::Categories(cs) = &options.filter {
        if let Some(err) = cs.iter().find_map(|c| validate_category(c).err()) {
            return stream::once(async move { Err(err) }).boxed();
        }
    }
    let state = State {
        head: store.watch_head(),
        store,
        next: match options.start {
            Start::Beginning => 0,
            Start::After(p) => p.saturating_add(1),
        },
        buffer: VecDeque::new(),
        options,
        caught_up: false,
        done: false,
    };
    stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            if let Some(e) = s.buffer.pop_front() {
                return Some((Ok(SubscriptionMessage::Event(Box::new(e))), s));
            }
            let head = *s.head.borrow_and_update();
            if s.next < head {
                match s.store.read_all(s.next, s.options.batch_size.max(1)).await {
                    Ok(events) => {
                        let Some(last) = events.last() else {
                            // The head said there was more; an empty read means the log is damaged.
                            s.done = true;
                            let err = crate::StoreError::Corrupt {
                                position: s.next,
                                reason: "record missing".into(),
                            };
                            return Some((Err(err), s));
                        };
                        s.next = last.position + 1;
                        let filter = &s.options.filter;
                        s.buffer
                            .extend(events.into_iter().filter(|e| filter.accepts(e)));
                    }
                    Err(e) => {
                        s.done = true;
                        return Some((Err(e), s));
                    }
                }
                continue;
            }
            if !s.caught_up {
                s.caught_up = true;
                return Some((Ok(SubscriptionMessage::CaughtUp { head: s.next }), s));
            }
            if s.head.changed().await.is_err() {
                return None;
            }
        }
    })
    .boxed()
}
