//! Counters written by one core and read by the control plane.
//!
//! Each counter has a single writer (the core that owns the queue or stream), so
//! an increment is a relaxed load and store: no locked instruction on the fast
//! path. Readers on other threads see a recent value. `clear` is done by the
//! reader keeping a baseline, so the writer never has to be asked.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing 64-bit counter with a single writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning core may call this (single writer).
    #[inline]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Reads the current value (from any thread).
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of one port queue, kept by the backend.
#[derive(Debug, Default)]
pub struct QueueCounters {
    /// Frames received.
    pub rx_packets: Counter,
    /// Bytes received.
    pub rx_bytes: Counter,
    /// Frames the queue could not receive because its pool was empty, or that
    /// were too big for a buffer.
    pub rx_dropped: Counter,
    /// Frames sent.
    pub tx_packets: Counter,
    /// Bytes sent.
    pub tx_bytes: Counter,
    /// Frames the queue refused (ring full, device error).
    pub tx_dropped: Counter,
    /// Buffer allocations refused because the pool was empty.
    pub alloc_failed: Counter,
    /// Frames whose payload was attached by reference, not copied
    /// ([`crate::TxQueue::attach_tail`], zero-copy TX).
    pub tx_zero_copy: Counter,
}

/// A plain snapshot of [`QueueCounters`], which can be added and subtracted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames lost on receive.
    pub rx_dropped: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames lost on transmit.
    pub tx_dropped: u64,
    /// Refused buffer allocations.
    pub alloc_failed: u64,
    /// Frames sent with their payload by reference.
    pub tx_zero_copy: u64,
}

impl QueueCounters {
    /// Reads every counter.
    pub fn snapshot(&self) -> QueueStats {
        QueueStats {
            rx_packets: self.rx_packets.get(),
            rx_bytes: self.rx_bytes.get(),
            rx_dropped: self.rx_dropped.get(),
            tx_packets: self.tx_packets.get(),
            tx_bytes: self.tx_bytes.get(),
            tx_dropped: self.tx_dropped.get(),
            alloc_failed: self.alloc_failed.get(),
            tx_zero_copy: self.tx_zero_copy.get(),
        }
    }
}

impl QueueStats {
    /// Field-wise sum.
    pub fn plus(&self, o: &QueueStats) -> QueueStats {
        QueueStats {
            rx_packets: self.rx_packets + o.rx_packets,
            rx_bytes: self.rx_bytes + o.rx_bytes,
            rx_dropped: self.rx_dropped + o.rx_dropped,
            tx_packets: self.tx_packets + o.tx_packets,
            tx_bytes: self.tx_bytes + o.tx_bytes,
            tx_dropped: self.tx_dropped + o.tx_dropped,
            alloc_failed: self.alloc_failed + o.alloc_failed,
            tx_zero_copy: self.tx_zero_copy + o.tx_zero_copy,
        }
    }

    /// Field-wise difference, saturating (for `clear` baselines).
    pub fn minus(&self, o: &QueueStats) -> QueueStats {
        QueueStats {
            rx_packets: self.rx_packets.saturating_sub(o.rx_packets),
            rx_bytes: self.rx_bytes.saturating_sub(o.rx_bytes),
            rx_dropped: self.rx_dropped.saturating_sub(o.rx_dropped),
            tx_packets: self.tx_packets.saturating_sub(o.tx_packets),
            tx_bytes: self.tx_bytes.saturating_sub(o.tx_bytes),
            tx_dropped: self.tx_dropped.saturating_sub(o.tx_dropped),
            alloc_failed: self.alloc_failed.saturating_sub(o.alloc_failed),
            tx_zero_copy: self.tx_zero_copy.saturating_sub(o.tx_zero_copy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_snapshot_and_baseline() {
        let c = QueueCounters::default();
        c.rx_packets.add(3);
        c.tx_bytes.inc();
        let base = c.snapshot();
        c.rx_packets.add(2);
        let d = c.snapshot().minus(&base);
        assert_eq!(d.rx_packets, 2);
        assert_eq!(d.tx_bytes, 0);
        assert_eq!(base.plus(&d).rx_packets, 5);
    }
}
