//! Keyed concurrency limits: at most `limit` holders per key, and no memory kept for a
//! key that nothing holds or awaits, so a stream of distinct keys (any bearer string
//! makes one) cannot grow the map. Used for requests in progress per caller
//! (src/http/mod.rs) and for upstream requests per caller and per tenant (src/call.rs,
//! docs/remote.md "Fair upstream slots").

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A stable, non-reversible key for a credential or a URL (seeded per process).
pub fn key_hash(text: &str) -> u64 {
    static SEED: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut h = SEED
        .get_or_init(std::collections::hash_map::RandomState::new)
        .build_hasher();
    h.write(text.as_bytes());
    h.finish()
}

/// At most `limit` slots per key.
#[derive(Debug)]
pub struct Buckets {
    limit: usize,
    map: Mutex<HashMap<u64, Arc<Semaphore>>>,
}

/// One holder's place in its key's bucket; on drop it is freed, and the bucket is
/// forgotten if nothing holds or awaits it.
#[derive(Debug)]
pub struct Slot<'a> {
    buckets: &'a Buckets,
    key: u64,
    semaphore: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Buckets {
    /// Buckets of `limit` slots each.
    pub fn new(limit: usize) -> Self {
        Buckets {
            limit,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Semaphore>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn semaphore(&self, key: u64) -> Arc<Semaphore> {
        self.lock()
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone()
    }

    fn slot(&self, key: u64, semaphore: Arc<Semaphore>, permit: OwnedSemaphorePermit) -> Slot<'_> {
        Slot {
            buckets: self,
            key,
            semaphore,
            permit: Some(permit),
        }
    }

    /// A slot for `key` now, or `None` when its `limit` slots are all held (their
    /// holders forget the bucket when done).
    pub fn try_take(&self, key: u64) -> Option<Slot<'_>> {
        let semaphore = self.semaphore(key);
        let permit = semaphore.clone().try_acquire_owned().ok()?;
        Some(self.slot(key, semaphore, permit))
    }

    /// A slot for `key`, waiting for one to be freed; only holders of the same key can
    /// make it wait.
    pub async fn take(&self, key: u64) -> Slot<'_> {
        let semaphore = self.semaphore(key);
        // The semaphore is never closed, so acquiring cannot fail; were it closed, the
        // caller would go on unlimited rather than hang.
        let permit = semaphore.clone().acquire_owned().await;
        match permit {
            Ok(permit) => self.slot(key, semaphore, permit),
            Err(_) => Slot {
                buckets: self,
                key,
                semaphore,
                permit: None,
            },
        }
    }

    /// How many keys have a bucket now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.permit.take();
        let mut map = self.buckets.lock();
        // Idle: only the map and this slot hold the bucket. Every holder or waiter holds a
        // reference from the moment it finds the bucket (under this same lock) until it
        // is done, so with none left every permit is back.
        if Arc::strong_count(&self.semaphore) <= 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key has at most `limit` slots held, and a key with none held leaves nothing
    /// behind: ten thousand distinct keys do not grow the map.
    #[test]
    fn buckets_limit_each_key_and_forget_idle_ones() {
        let buckets = Buckets::new(2);
        for key in 0..10_000 {
            drop(buckets.try_take(key).unwrap());
        }
        assert_eq!(buckets.len(), 0);
        let a = buckets.try_take(7).unwrap();
        let b = buckets.try_take(7).unwrap();
        assert!(buckets.try_take(7).is_none(), "a third at once is refused");
        assert!(buckets.try_take(8).is_some(), "another key is not held up");
        drop(a);
        assert_eq!(buckets.len(), 1, "7 is still held");
        let c = buckets.try_take(7).unwrap();
        drop((b, c));
        assert_eq!(buckets.len(), 0);
    }

    /// A waiter gets the slot its key frees, and once all are done nothing is kept.
    #[tokio::test]
    async fn a_waiter_gets_a_freed_slot_and_leaves_nothing_behind() {
        let buckets = Buckets::new(1);
        let first = buckets.take(1).await;
        let other = tokio::time::timeout(std::time::Duration::from_secs(1), buckets.take(2))
            .await
            .expect("another key does not wait");
        let waiting = buckets.take(1);
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), &mut waiting)
                .await
                .is_err(),
            "the second of key 1 waits"
        );
        drop(first);
        let second = tokio::time::timeout(std::time::Duration::from_secs(1), waiting)
            .await
            .expect("the freed slot goes to the waiter");
        drop((second, other));
        assert_eq!(buckets.len(), 0);
    }
}
