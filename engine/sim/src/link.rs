//! Point-to-point links: propagation delay, serialization rate, a bounded
//! queue, and seeded loss, duplication and reordering.
//!
//! The kernel on the test machines has no netem, so every impaired path in
//! the project's tests is built here, in virtual time and reproducibly.
//!
//! Besides random loss, a link can drop one chosen frame: [`Link::drop_once`]
//! takes a predicate over the frame's bytes, and the first frame from that
//! side which it accepts is lost (once). Tests use it to lose exactly the
//! SYN, the first data segment or the SYN/ACK of a handshake, whatever the
//! seed.

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
    /// Frames taken by a one-shot drop ([`Link::drop_once`]).
    pub dropped_once: u64,
}

/// Decides whether a frame (its bytes, Ethernet header first) is the one to drop.
pub type FramePredicate = Box<dyn FnMut(&[u8]) -> bool>;

/// A one-shot drop armed on one side of a link.
struct DropOnce {
    side: usize,
    matches: FramePredicate,
    fired_at: Option<u64>,
}

impl std::fmt::Debug for DropOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropOnce")
            .field("side", &self.side)
            .field("fired_at", &self.fired_at)
            .finish_non_exhaustive()
    }
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
    drops: Vec<DropOnce>,
}

impl Link {
    /// A link between two ends.
    pub fn new(a: (usize, usize), b: (usize, usize), params: LinkParams) -> Self {
        Link {
            params,
            ends: [a, b],
            busy_until: [0; 2],
            stats: [LinkStats::default(); 2],
            drops: Vec::new(),
        }
    }

    /// Arms a one-shot drop: the first frame sent from `side` (0 is the
    /// end given first to [`crate::Sim::connect`]) for which `matches`
    /// returns true is lost, before it takes its place in the queue. The
    /// predicate sees every frame from that side until it fires, and never
    /// again after. Returns an id for [`Link::drop_fired`].
    pub fn drop_once(
        &mut self,
        side: usize,
        matches: impl FnMut(&[u8]) -> bool + 'static,
    ) -> usize {
        self.drops.push(DropOnce {
            side,
            matches: Box::new(matches),
            fired_at: None,
        });
        self.drops.len() - 1
    }

    /// When the one-shot drop `id` took its frame, if it has.
    pub fn drop_fired(&self, id: usize) -> Option<u64> {
        self.drops.get(id).and_then(|d| d.fired_at)
    }

    /// Offers `frame` from `side` at `now`: a one-shot drop that matches
    /// takes it, otherwise it goes through [`Link::transmit`]. Returns the
    /// arrival times of its copies (none if lost).
    pub fn offer(&mut self, side: usize, now: u64, frame: &[u8], rng: &mut ChaCha8Rng) -> Vec<u64> {
        let armed = self
            .drops
            .iter_mut()
            .filter(|d| d.side == side && d.fired_at.is_none())
            .find_map(|d| (d.matches)(frame).then_some(d));
        if let Some(d) = armed {
            d.fired_at = Some(now);
            let st = &mut self.stats[side];
            st.sent += 1;
            st.dropped_once += 1;
            return Vec::new();
        }
        self.transmit(side, now, frame.len(), rng)
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
    fn a_one_shot_drop_takes_the_first_matching_frame_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut l = Link::new((0, 0), (1, 0), LinkParams::new(1.0, 0.0));
        let id = l.drop_once(0, |f| f[0] == 7);
        assert!(!l.offer(1, 0, &[7], &mut rng).is_empty(), "other side");
        assert!(!l.offer(0, 1, &[6], &mut rng).is_empty(), "no match");
        assert_eq!(l.drop_fired(id), None);
        assert!(l.offer(0, 2, &[7], &mut rng).is_empty(), "dropped");
        assert_eq!(l.drop_fired(id), Some(2));
        assert!(!l.offer(0, 3, &[7], &mut rng).is_empty(), "once only");
        assert_eq!((l.stats[0].sent, l.stats[0].dropped_once), (3, 1));
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
