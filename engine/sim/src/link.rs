//! Point-to-point links: propagation delay, serialization rate, a bounded
//! queue, and seeded loss, duplication and reordering.
//!
//! The kernel on the test machines has no netem, so every impaired path in
//! the project's tests is built here, in virtual time and reproducibly.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What a link does to frames.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay, nanoseconds.
    pub delay_ns: u64,
    /// Serialization rate, bits per second (0 = infinite).
    pub rate_bps: u64,
    /// Bytes the sending queue holds before tail drop (0 = unbounded).
    pub queue_bytes: u64,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a frame is held back by `reorder_delay_ns`.
    pub reorder: f64,
    /// Extra delay of a reordered frame.
    pub reorder_delay_ns: u64,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            delay_ns: 1_000_000,
            rate_bps: 1_000_000_000,
            queue_bytes: 0,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ns: 0,
        }
    }
}

impl LinkParams {
    /// A clean link with this one-way delay in milliseconds and rate in Mbit/s.
    pub fn new(delay_ms: f64, rate_mbps: f64) -> Self {
        LinkParams {
            delay_ns: (delay_ms * 1e6) as u64,
            rate_bps: (rate_mbps * 1e6) as u64,
            ..LinkParams::default()
        }
    }
}

/// Counters of one direction of a link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames offered.
    pub sent: u64,
    /// Frames delivered (duplicates included).
    pub delivered: u64,
    /// Frames lost at random.
    pub lost: u64,
    /// Frames dropped because the queue was full.
    pub queue_drops: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames reordered.
    pub reordered: u64,
}

/// A link between two device ports; side 0 sends towards side 1 and back.
#[derive(Debug)]
pub struct Link {
    /// Parameters, changeable at run time.
    pub params: LinkParams,
    /// The two ends: (device, port).
    pub ends: [(usize, usize); 2],
    busy_until: [u64; 2],
    /// Counters per sending side.
    pub stats: [LinkStats; 2],
}

impl Link {
    /// A link between two ends.
    pub fn new(a: (usize, usize), b: (usize, usize), params: LinkParams) -> Self {
        Link {
            params,
            ends: [a, b],
            busy_until: [0; 2],
            stats: [LinkStats::default(); 2],
        }
    }

    /// Offers a frame of `len` bytes from `side` at `now`; returns the arrival
    /// times of its copies at the other end (none if lost).
    pub fn transmit(
        &mut self,
        side: usize,
        now: u64,
        len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Vec<u64> {
        let p = self.params;
        let st = &mut self.stats[side];
        st.sent += 1;
        let start = self.busy_until[side].max(now);
        let backlog_ns = start - now;
        if p.queue_bytes > 0 && p.rate_bps > 0 {
            let backlog_bytes = backlog_ns as u128 * p.rate_bps as u128 / 8 / 1_000_000_000;
            if backlog_bytes + len as u128 > p.queue_bytes as u128 {
                st.queue_drops += 1;
                return Vec::new();
            }
        }
        // Ethernet adds preamble, FCS and inter-frame gap: 24 bytes on the wire.
        let ser = if p.rate_bps == 0 {
            0
        } else {
            ((len as u128 + 24) * 8 * 1_000_000_000 / p.rate_bps as u128) as u64
        };
        self.busy_until[side] = start + ser;
        if p.loss > 0.0 && rng.random::<f64>() < p.loss {
            st.lost += 1;
            return Vec::new();
        }
        let mut at = start + ser + p.delay_ns;
        if p.reorder > 0.0 && rng.random::<f64>() < p.reorder {
            st.reordered += 1;
            at += p.reorder_delay_ns;
        }
        let mut out = vec![at];
        if p.duplicate > 0.0 && rng.random::<f64>() < p.duplicate {
            st.duplicated += 1;
            out.push(at + 1_000);
        }
        st.delivered += out.len() as u64;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delay_rate_and_queue() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut l = Link::new(
            (0, 0),
            (1, 0),
            LinkParams {
                queue_bytes: 3000,
                ..LinkParams::new(5.0, 8.0)
            },
        );
        // 976 + 24 bytes at 8 Mbit/s = 1 ms on the wire, then 5 ms delay.
        assert_eq!(l.transmit(0, 0, 976, &mut rng), vec![6_000_000]);
        assert_eq!(
            l.transmit(0, 0, 976, &mut rng),
            vec![7_000_000],
            "queues behind the first"
        );
        assert_eq!(l.transmit(0, 0, 976, &mut rng), vec![8_000_000]);
        assert!(l.transmit(0, 0, 976, &mut rng).is_empty(), "queue full");
        assert_eq!(l.stats[0].queue_drops, 1);
        assert_eq!(
            l.transmit(1, 0, 976, &mut rng),
            vec![6_000_000],
            "directions are independent"
        );
    }

    #[test]
    fn loss_is_seeded_and_close_to_its_rate() {
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut l = Link::new(
                (0, 0),
                (1, 0),
                LinkParams {
                    loss: 0.1,
                    rate_bps: 0,
                    ..LinkParams::default()
                },
            );
            (0..10_000)
                .filter(|_| l.transmit(0, 0, 100, &mut rng).is_empty())
                .count()
        };
        assert_eq!(run(7), run(7));
        let lost = run(7);
        assert!((800..1200).contains(&lost), "{lost}");
    }
}
