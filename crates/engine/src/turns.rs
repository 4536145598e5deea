//! Commands on the same stream, in one process, take turns.

use std::hash::{Hash, Hasher};

/// Without turns, many concurrent commands on one busy stream would mostly lose the
/// optimistic race and burn their retries. Streams are hashed onto a fixed set of
/// async mutexes, taken in ascending order so that commands over several streams
/// cannot deadlock. Optimistic concurrency still guards the log against any other
/// writer.
pub(crate) struct Turns {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Turns {
    pub(crate) fn new(n: usize) -> Self {
        Turns {
            stripes: (0..n.max(1)).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }

    /// Waits for the turn of every stream named.
    pub(crate) async fn take(&self, streams: &[String]) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let n = self.stripes.len() as u64;
        let mut idx: Vec<usize> = streams
            .iter()
            .map(|s| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                s.hash(&mut h);
                usize::try_from(h.finish() % n).unwrap_or(0)
            })
            .collect();
        idx.sort_unstable();
        idx.dedup();
        let mut guards = Vec::with_capacity(idx.len());
        for i in idx {
            guards.push(self.stripes[i].lock().await);
        }
        guards
    }
}
