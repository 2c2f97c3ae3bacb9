//! usearch's thread slots as a blocking pool: a usearch call grabs a slot without waiting and
//! fails when none is free, so every call first takes one of ours (as many as usearch was
//! given) and waits here instead.

use std::sync::{Condvar, Mutex, PoisonError};

/// A counting pool of usearch thread slots.
#[derive(Debug)]
pub(super) struct SlotPool {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A slot held, given back when dropped.
pub(super) struct Slot<'a>(&'a SlotPool);

impl SlotPool {
    /// A pool of `slots` slots.
    pub(super) fn new(slots: usize) -> Self {
        SlotPool {
            free: Mutex::new(slots),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot and takes it.
    pub(super) fn take(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self
                .freed
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn never_more_holders_than_slots() {
        let pool = SlotPool::new(2);
        let (inside, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let _slot = pool.take();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
    }
}
