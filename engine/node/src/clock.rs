//! The node's one clock seam (DESIGN.md section 2).
//!
//! Everything in the node that needs the time gets it from a [`Clock`]: the
//! monotonic clock in production, virtual time in the simulator. Time is plain
//! integer nanoseconds, which the protocol cores take as an argument.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A source of nanoseconds since an arbitrary start.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds now.
    fn now(&self) -> u64;
}

/// Monotonic wall time (`CLOCK_MONOTONIC` through `Instant`).
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    start: Instant,
}

impl MonotonicClock {
    /// A clock that starts at zero now.
    pub fn new() -> Self {
        MonotonicClock {
            start: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Virtual time that only moves when told to (the simulator's clock).
#[derive(Clone, Debug, Default)]
pub struct VirtualClock(Arc<AtomicU64>);

impl VirtualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the time. Time never goes backwards: an earlier value is ignored.
    pub fn set(&self, ns: u64) {
        self.0.fetch_max(ns, Ordering::Relaxed);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_only_moves_forward() {
        let c = VirtualClock::new();
        c.set(10);
        c.set(5);
        assert_eq!(c.now(), 10);
        let m = MonotonicClock::new();
        assert!(m.now() <= m.now());
    }
}
