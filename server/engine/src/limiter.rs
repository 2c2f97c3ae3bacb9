//! A first-come-first-served limit for CPU-heavy requests (embedding a query, walking the
//! index): at most a given number run at once and the rest wait their turn in arrival order, so
//! 200 clients searching at once queue in order instead of time-slicing every core against each
//! other and against a running crawl.
//!
//! Invariant: never more than `limit()` holders inside (at least one), and holders enter in
//! the order they asked.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The limiter.
#[derive(Debug, Default)]
pub struct FifoLimiter {
    state: Mutex<State>,
    freed: Condvar,
}

/// Holders inside, and the tickets of the queue: the next to hand out, the next to enter.
#[derive(Debug, Default)]
struct State {
    busy: usize,
    next_ticket: u64,
    serving: u64,
}

/// A place inside, given back when dropped.
#[derive(Debug)]
pub struct Pass<'a> {
    limiter: &'a FifoLimiter,
}

impl FifoLimiter {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits (blocking) for its turn and until fewer than `limit()` holders are inside, then
    /// enters. `limit` is asked again whenever a place frees up, so it may change (at least
    /// one always enters).
    pub fn enter(&self, limit: impl Fn() -> usize) -> Pass<'_> {
        let mut state = self.state();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        while state.serving != ticket || state.busy >= limit().max(1) {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.busy += 1;
        state.serving += 1;
        drop(state);
        // The next in line may fit too.
        self.freed.notify_all();
        Pass { limiter: self }
    }

    /// Holders inside now.
    pub fn inside(&self) -> usize {
        self.state().busy
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.limiter.state().busy -= 1;
        self.limiter.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn never_more_than_the_limit_inside_and_everyone_gets_through() {
        let gate = FifoLimiter::default();
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
    fn waiters_enter_in_the_order_they_came() {
        let gate = FifoLimiter::default();
        let order = Mutex::new(Vec::new());
        let first = gate.enter(|| 1);
        std::thread::scope(|s| {
            for i in 0..5 {
                let (gate, order) = (&gate, &order);
                s.spawn(move || {
                    let _pass = gate.enter(|| 1);
                    order.lock().expect("lock").push(i);
                });
                // Each takes its ticket before the next starts.
                while gate.state().next_ticket < i as u64 + 2 {
                    std::thread::yield_now();
                }
            }
            drop(first);
        });
        assert_eq!(*order.lock().expect("lock"), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_zero_limit_still_lets_one_through() {
        let gate = FifoLimiter::default();
        let pass = gate.enter(|| 0);
        assert_eq!(gate.inside(), 1);
        drop(pass);
        assert_eq!(gate.inside(), 0);
    }
}
