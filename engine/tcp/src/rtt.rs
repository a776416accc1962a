//! The retransmission timer (RFC 6298).

/// Smallest RTO. RFC 6298 (2.4) says 1 s; Linux and most CDN stacks use
/// 200 ms, which RFC 6298 section 4 allows for finer clocks.
pub const MIN_RTO_NS: u64 = 200_000_000;
/// Largest RTO (RFC 6298 2.5 allows a maximum of at least 60 s).
pub const MAX_RTO_NS: u64 = 60_000_000_000;
/// RTO before the first sample (RFC 6298 2.1).
pub const INITIAL_RTO_NS: u64 = 1_000_000_000;

/// SRTT, RTTVAR and RTO, with exponential backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: u64,
    rttvar: u64,
    min_rtt: u64,
    has_sample: bool,
    backoff: u32,
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator {
            srtt: 0,
            rttvar: 0,
            min_rtt: u64::MAX,
            has_sample: false,
            backoff: 0,
        }
    }
}

impl RttEstimator {
    /// Takes one RTT measurement (RFC 6298 2.2 and 2.3, alpha 1/8, beta 1/4)
    /// and clears the backoff (RFC 6298 5.7 lets a new sample reset it).
    pub fn sample(&mut self, rtt: u64) {
        let rtt = rtt.max(1);
        self.min_rtt = self.min_rtt.min(rtt);
        if !self.has_sample {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
            self.has_sample = true;
        } else {
            let err = self.srtt.abs_diff(rtt);
            self.rttvar = (3 * self.rttvar + err) / 4;
            self.srtt = (7 * self.srtt + rtt) / 8;
        }
        self.backoff = 0;
    }

    /// The current RTO: SRTT + max(G, 4 RTTVAR), clamped, doubled per backoff (RFC 6298 5.5).
    pub fn rto(&self) -> u64 {
        let base = if self.has_sample {
            (self.srtt + (4 * self.rttvar).max(1_000_000)).clamp(MIN_RTO_NS, MAX_RTO_NS)
        } else {
            INITIAL_RTO_NS
        };
        base.saturating_mul(1u64 << self.backoff.min(16))
            .min(MAX_RTO_NS)
    }

    /// Starts from another estimator's figures (a replicated connection
    /// taken over by a backup): SRTT and the minimum RTT, with RTTVAR at
    /// half of SRTT as after a first sample (RFC 6298 2.2).
    pub fn seed(&mut self, srtt: u64, min_rtt: u64) {
        self.srtt = srtt.max(1);
        self.rttvar = srtt / 2;
        self.min_rtt = min_rtt.max(1).min(self.srtt);
        self.has_sample = true;
        self.backoff = 0;
    }

    /// Doubles the RTO after a timeout (RFC 6298 5.5).
    pub fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1);
    }

    /// Number of back-offs since the last sample.
    pub fn backoffs(&self) -> u32 {
        self.backoff
    }

    /// Smoothed RTT, or `None` before the first sample.
    pub fn srtt(&self) -> Option<u64> {
        self.has_sample.then_some(self.srtt)
    }

    /// RTT variation.
    pub fn rttvar(&self) -> u64 {
        self.rttvar
    }

    /// Smallest RTT seen.
    pub fn min_rtt(&self) -> Option<u64> {
        self.has_sample.then_some(self.min_rtt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const MS: u64 = 1_000_000;

    #[test]
    fn follows_rfc_6298() {
        let mut r = RttEstimator::default();
        assert_eq!(r.rto(), INITIAL_RTO_NS);
        r.sample(100 * MS);
        // SRTT = R, RTTVAR = R/2, RTO = R + 4 * R/2 = 300 ms.
        assert_eq!(r.srtt(), Some(100 * MS));
        assert_eq!(r.rto(), 300 * MS);
        r.sample(100 * MS);
        // RTTVAR = 3/4 * 50 = 37.5 ms; RTO = 100 + 150 = 250 ms.
        assert_eq!(r.rto(), 250 * MS);
        r.back_off();
        r.back_off();
        assert_eq!(r.rto(), 1000 * MS);
        r.sample(MS);
        assert_eq!(r.backoffs(), 0);
        assert!(r.rto() >= MIN_RTO_NS);
        for _ in 0..40 {
            r.back_off();
        }
        assert_eq!(r.rto(), MAX_RTO_NS);
    }
}
