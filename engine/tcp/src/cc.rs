//! Congestion control behind a small trait: Reno (RFC 5681) and CUBIC
//! (RFC 9438, the default). The resume logic of the anycast issue plugs in
//! through [`Congestion::set_window`].
//!
//! Windows are in bytes. Slow start grows by the bytes acknowledged (RFC 3465
//! appropriate byte counting), with no per-ACK limit L: receivers that
//! coalesce a receive burst into one ACK (GRO/LRO on Linux, one ACK per poll
//! here) send stretch ACKs, and L = 2 segments would slow their slow start by
//! the coalescing factor (Linux counts all acked segments for the same reason).
//! Byte counting still keeps ACK division (RFC 3465 section 2.1) from
//! inflating the window.

/// RFC 9438 section 4.6: multiplicative decrease factor.
pub const BETA_CUBIC: f64 = 0.7;
/// RFC 9438 section 4.2: the constant C, in segments per second cubed.
pub const C_CUBIC: f64 = 0.4;

/// The initial window of RFC 6928: min(10 MSS, max(2 MSS, 14600 bytes)).
pub fn initial_window(mss: usize) -> usize {
    (10 * mss).min((2 * mss).max(14_600))
}

/// What the connection tells its congestion controller.
pub trait Congestion {
    /// Congestion window, bytes.
    fn cwnd(&self) -> usize;
    /// Slow-start threshold, bytes.
    fn ssthresh(&self) -> usize;
    /// `acked` new bytes were acknowledged at `now`; `srtt` is the smoothed RTT.
    fn on_ack(&mut self, now: u64, acked: usize, srtt: Option<u64>);
    /// Loss detected by duplicate ACKs or SACK: enter recovery (one decrease per window).
    fn on_congestion(&mut self, now: u64, in_flight: usize);
    /// The retransmission timer expired (RFC 5681 (4): cwnd to one segment).
    fn on_timeout(&mut self, now: u64, in_flight: usize);
    /// Sets the window directly (resume from saved path state; safe retreat).
    fn set_window(&mut self, cwnd: usize, ssthresh: usize);
    /// Algorithm name for `show conn`.
    fn name(&self) -> &'static str;
}

/// Which algorithm a connection uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CcKind {
    /// RFC 5681.
    Reno,
    /// RFC 9438.
    #[default]
    Cubic,
}

/// Reno (RFC 5681).
#[derive(Clone, Debug)]
pub struct Reno {
    mss: usize,
    cwnd: usize,
    ssthresh: usize,
    acked_in_ca: usize,
}

impl Reno {
    /// Starts in slow start with the RFC 6928 initial window.
    pub fn new(mss: usize) -> Self {
        Reno {
            mss,
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            acked_in_ca: 0,
        }
    }
}

/// One slow-start step: the bytes newly acknowledged (RFC 3465 section 2.1;
/// see the module doc for why no limit L).
fn slow_start_step(cwnd: usize, acked: usize) -> usize {
    cwnd + acked
}

impl Congestion for Reno {
    fn cwnd(&self) -> usize {
        self.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
    fn on_ack(&mut self, _now: u64, acked: usize, _srtt: Option<u64>) {
        if self.cwnd < self.ssthresh {
            self.cwnd = slow_start_step(self.cwnd, acked);
        } else {
            // RFC 5681 3.1: about one MSS per RTT, counted in bytes.
            self.acked_in_ca += acked;
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd += self.mss;
            }
        }
    }
    fn on_congestion(&mut self, _now: u64, in_flight: usize) {
        // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2 * SMSS).
        self.ssthresh = (in_flight / 2).max(2 * self.mss);
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }
    fn on_timeout(&mut self, _now: u64, in_flight: usize) {
        self.ssthresh = (in_flight / 2).max(2 * self.mss);
        self.cwnd = self.mss;
        self.acked_in_ca = 0;
    }
    fn set_window(&mut self, cwnd: usize, ssthresh: usize) {
        self.cwnd = cwnd.max(self.mss);
        self.ssthresh = ssthresh.max(2 * self.mss);
    }
    fn name(&self) -> &'static str {
        "reno"
    }
}

/// CUBIC (RFC 9438).
#[derive(Clone, Debug)]
pub struct Cubic {
    mss: usize,
    cwnd: usize,
    ssthresh: usize,
    /// W_max in segments (RFC 9438 4.1).
    w_max: f64,
    /// K in seconds (RFC 9438 eq. 2).
    k: f64,
    /// Start of the current congestion-avoidance epoch, ns.
    epoch: Option<u64>,
    /// Reno-friendly estimate W_est in segments (RFC 9438 4.3).
    w_est: f64,
    /// cwnd at the epoch start, segments.
    cwnd_epoch: f64,
}

impl Cubic {
    /// Starts in slow start with the RFC 6928 initial window.
    pub fn new(mss: usize) -> Self {
        Cubic {
            mss,
            cwnd: initial_window(mss),
            ssthresh: usize::MAX,
            w_max: 0.0,
            k: 0.0,
            epoch: None,
            w_est: 0.0,
            cwnd_epoch: 0.0,
        }
    }

    /// RFC 9438 eq. 1: W_cubic(t) = C (t - K)^3 + W_max, in segments.
    pub fn w_cubic(&self, t_secs: f64) -> f64 {
        C_CUBIC * (t_secs - self.k).powi(3) + self.w_max
    }

    /// K in seconds.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// W_max in segments.
    pub fn w_max(&self) -> f64 {
        self.w_max
    }

    fn segs(&self, bytes: usize) -> f64 {
        bytes as f64 / self.mss as f64
    }

    fn reduce(&mut self) {
        let cwnd = self.segs(self.cwnd);
        // RFC 9438 4.7 fast convergence.
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA_CUBIC) / 2.0
        } else {
            cwnd
        };
        self.ssthresh = ((cwnd * BETA_CUBIC) as usize * self.mss).max(2 * self.mss);
        self.epoch = None;
    }
}

impl Congestion for Cubic {
    fn cwnd(&self) -> usize {
        self.cwnd
    }
    fn ssthresh(&self) -> usize {
        self.ssthresh
    }
    fn on_ack(&mut self, now: u64, acked: usize, srtt: Option<u64>) {
        if self.cwnd < self.ssthresh {
            self.cwnd = slow_start_step(self.cwnd, acked);
            return;
        }
        let cwnd = self.segs(self.cwnd);
        let epoch = match self.epoch {
            Some(e) => e,
            None => {
                // RFC 9438 4.2: a new epoch; K from eq. 2 with cwnd_epoch.
                self.epoch = Some(now);
                self.cwnd_epoch = cwnd;
                self.w_est = cwnd;
                if self.w_max < cwnd {
                    self.w_max = cwnd;
                }
                self.k = ((self.w_max - cwnd) / C_CUBIC).cbrt();
                now
            }
        };
        let rtt = srtt.unwrap_or(100_000_000) as f64 / 1e9;
        let t = (now - epoch) as f64 / 1e9;
        // RFC 9438 4.2: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 cwnd].
        let target = self.w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
        let acked_segs = self.segs(acked);
        // RFC 9438 4.3: W_est += alpha * acked / cwnd, alpha = 3(1-beta)/(1+beta).
        let alpha = 3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC);
        self.w_est += alpha * acked_segs / cwnd;
        let next = if self.w_cubic(t) < self.w_est {
            self.w_est
        } else {
            cwnd + (target - cwnd) / cwnd * acked_segs
        };
        self.cwnd = ((next * self.mss as f64) as usize).max(self.cwnd);
    }
    fn on_congestion(&mut self, _now: u64, _in_flight: usize) {
        self.reduce();
        self.cwnd = self.ssthresh;
    }
    fn on_timeout(&mut self, _now: u64, _in_flight: usize) {
        // A repeated timeout (the window is already one segment) must not
        // cut ssthresh again (RFC 5681 3.1, eq. 4 uses the flight size).
        if self.cwnd > self.mss {
            self.reduce();
        }
        self.cwnd = self.mss;
    }
    fn set_window(&mut self, cwnd: usize, ssthresh: usize) {
        self.cwnd = cwnd.max(self.mss);
        self.ssthresh = ssthresh.max(2 * self.mss);
        self.epoch = None;
    }
    fn name(&self) -> &'static str {
        "cubic"
    }
}

/// The controller of one connection, statically dispatched.
#[derive(Clone, Debug)]
pub enum Cc {
    /// Reno.
    Reno(Reno),
    /// CUBIC.
    Cubic(Cubic),
}

impl Cc {
    /// A controller of `kind` for segments of `mss` bytes.
    pub fn new(kind: CcKind, mss: usize) -> Cc {
        match kind {
            CcKind::Reno => Cc::Reno(Reno::new(mss)),
            CcKind::Cubic => Cc::Cubic(Cubic::new(mss)),
        }
    }

    fn inner(&mut self) -> &mut dyn Congestion {
        match self {
            Cc::Reno(r) => r,
            Cc::Cubic(c) => c,
        }
    }

    fn inner_ref(&self) -> &dyn Congestion {
        match self {
            Cc::Reno(r) => r,
            Cc::Cubic(c) => c,
        }
    }
}

impl Congestion for Cc {
    fn cwnd(&self) -> usize {
        self.inner_ref().cwnd()
    }
    fn ssthresh(&self) -> usize {
        self.inner_ref().ssthresh()
    }
    fn on_ack(&mut self, now: u64, acked: usize, srtt: Option<u64>) {
        self.inner().on_ack(now, acked, srtt)
    }
    fn on_congestion(&mut self, now: u64, in_flight: usize) {
        self.inner().on_congestion(now, in_flight)
    }
    fn on_timeout(&mut self, now: u64, in_flight: usize) {
        self.inner().on_timeout(now, in_flight)
    }
    fn set_window(&mut self, cwnd: usize, ssthresh: usize) {
        self.inner().set_window(cwnd, ssthresh)
    }
    fn name(&self) -> &'static str {
        self.inner_ref().name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const MSS: usize = 1000;
    const MS: u64 = 1_000_000;

    #[test]
    fn slow_start_doubles_per_rtt_from_iw10() {
        for mut c in [Cc::new(CcKind::Reno, MSS), Cc::new(CcKind::Cubic, MSS)] {
            assert_eq!(c.cwnd(), 10 * MSS);
            // One RTT: every segment of the window acked, one ACK per segment.
            for _ in 0..10 {
                c.on_ack(0, MSS, Some(100 * MS));
            }
            assert_eq!(c.cwnd(), 20 * MSS, "{}", c.name());
        }
    }

    /// A receiver that acknowledges a whole burst at once (a stretch ACK)
    /// still doubles the window per RTT, and byte counting gives a 1-byte
    /// ACK 1 byte of window, not a segment (RFC 3465 section 2.1).
    #[test]
    fn slow_start_counts_stretch_acks_by_bytes() {
        for mut c in [Cc::new(CcKind::Reno, MSS), Cc::new(CcKind::Cubic, MSS)] {
            c.on_ack(0, 10 * MSS, Some(100 * MS));
            assert_eq!(c.cwnd(), 20 * MSS, "{}", c.name());
            c.on_ack(0, 1, Some(100 * MS));
            assert_eq!(c.cwnd(), 20 * MSS + 1, "{}", c.name());
        }
    }

    #[test]
    fn reno_halves_and_grows_one_segment_per_window() {
        let mut r = Reno::new(MSS);
        r.on_congestion(0, 40 * MSS);
        assert_eq!((r.cwnd(), r.ssthresh()), (20 * MSS, 20 * MSS));
        for _ in 0..20 {
            r.on_ack(0, MSS, None);
        }
        assert_eq!(r.cwnd(), 21 * MSS);
        r.on_timeout(0, 10 * MSS);
        assert_eq!((r.cwnd(), r.ssthresh()), (MSS, 5 * MSS));
    }

    /// RFC 9438 figure 1: after a reduction from W_max, cwnd follows
    /// W_cubic(t): concave up to K, where it reaches W_max, convex after.
    #[test]
    fn cubic_follows_its_curve_through_the_concave_and_convex_regions() {
        let mut c = Cubic::new(MSS);
        c.cwnd = 100 * MSS;
        c.on_congestion(0, 100 * MSS);
        assert_eq!(c.cwnd(), 70 * MSS, "beta = 0.7");
        let rtt = 100 * MS;
        let mut now = 0;
        let mut samples = Vec::new();
        // ACK a full window every RTT for 10 seconds.
        while now < 10_000 * MS {
            let w = c.cwnd() / MSS;
            for _ in 0..w {
                c.on_ack(now, MSS, Some(rtt));
            }
            now += rtt;
            samples.push((now, c.cwnd() as f64 / MSS as f64));
        }
        let k = c.k();
        // K = cbrt(W_max (1 - beta) / C) = cbrt(100 * 0.3 / 0.4) = 4.217 s.
        assert!((k - 4.217).abs() < 0.01, "K = {k}");
        for &(t, w) in &samples {
            let want = c.w_cubic(t as f64 / 1e9);
            // cwnd tracks W_cubic(t) from below within a few segments (it
            // aims at W_cubic(t + RTT) and grows per ACK).
            if want > 70.0 {
                assert!(
                    (w - want).abs() < 0.05 * want + 3.0,
                    "t={t} cwnd={w} W_cubic={want}"
                );
            }
        }
        let at = |secs: f64| samples.iter().find(|s| s.0 as f64 / 1e9 >= secs).unwrap().1;
        // Concave: growth slows towards K; convex: speeds up after K.
        let (a, b, c_, d) = (
            at(1.0) - at(0.5),
            at(4.0) - at(3.5),
            at(5.0) - at(4.5),
            at(8.0) - at(7.5),
        );
        assert!(a > b, "concave region slows: {a} > {b}");
        assert!(d > c_, "convex region speeds up: {d} > {c_}");
        assert!((at(k) - 100.0).abs() < 3.0, "reaches W_max at K");
    }
}
