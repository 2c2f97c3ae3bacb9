//! A counting gate for CPU-heavy requests (embedding a query, walking the index): at most a
//! given number run at once and the rest wait their turn, so 200 clients searching at once
//! queue instead of time-slicing every core, and a running crawl keeps a core of its own.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The gate.
#[derive(Debug, Default)]
pub struct Gate {
    busy: Mutex<usize>,
    freed: Condvar,
}

/// A place inside the gate, given back when dropped.
#[derive(Debug)]
pub struct Pass<'a> {
    gate: &'a Gate,
}

impl Gate {
    fn busy(&self) -> MutexGuard<'_, usize> {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits (blocking) until fewer than `limit()` holders are inside, then enters. `limit` is
    /// asked again whenever a place frees up, so it may change (at least one always enters).
    pub fn enter(&self, limit: impl Fn() -> usize) -> Pass<'_> {
        let mut busy = self.busy();
        while *busy >= limit().max(1) {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *busy += 1;
        Pass { gate: self }
    }

    /// Holders inside now.
    pub fn inside(&self) -> usize {
        *self.busy()
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        *self.gate.busy() -= 1;
        self.gate.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn never_more_than_the_limit_inside_and_everyone_gets_through() {
        let gate = Gate::default();
        let peak = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    let _pass = gate.enter(|| 3);
                    peak.fetch_max(gate.inside(), Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 16);
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak}");
        assert_eq!(gate.inside(), 0);
    }

    #[test]
    fn a_zero_limit_still_lets_one_through() {
        let gate = Gate::default();
        let pass = gate.enter(|| 0);
        assert_eq!(gate.inside(), 1);
        drop(pass);
        assert_eq!(gate.inside(), 0);
    }
}
