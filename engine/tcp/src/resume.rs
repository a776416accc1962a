//! Resuming a path's congestion state on a new connection, as the anycast
//! takeover needs: the node that receives the client's Range request knows
//! (from its site peers) the window the path had, and need not start from
//! slow start.
//!
//! Two policies. `Careful` follows draft-ietf-tsvwg-careful-resume:
//! **Reconnaissance** sends the usual initial window and measures the RTT;
//! once that window is acknowledged without loss, and only if the RTT is
//! more than half the saved RTT and at most ten times it, the window
//! **jumps** to half the saved cwnd (**Unvalidated**, paced over the RTT);
//! when that data is acknowledged the connection **Validates** and goes on
//! normally. A loss while unvalidated or validating is a **Safe Retreat**:
//! the window drops to at most half the flight size and the saved entry is
//! to be deleted. `Jump` is the patent's literal reading: start at the saved
//! cwnd at once, paced, with the same retreat.

use crate::seq::Seq;

/// Which resume to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// draft-ietf-tsvwg-careful-resume.
    Careful,
    /// Jump to the saved window at once.
    Jump,
}

/// Where a resumed connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// First RTT: initial window, RTT measured.
    Reconnaissance,
    /// The window has jumped; its data is not yet acknowledged.
    Unvalidated,
    /// The jumped window's data is being acknowledged.
    Validating,
    /// Resume is over (validated, not applicable, or lost in reconnaissance).
    Normal,
    /// A loss after the jump: window cut, entry to be deleted.
    SafeRetreat,
}

/// How a resume ended, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The window jumped (still being validated).
    Jumped,
    /// The jumped window was delivered without loss.
    Validated,
    /// The RTT on this path did not match the saved one: no jump.
    RttMismatch,
    /// Loss before the jump: no jump.
    LostInReconnaissance,
    /// Loss after the jump: safe retreat.
    Retreated,
}

/// The resume state of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// Policy in force.
    pub policy: Policy,
    /// Saved congestion window, bytes.
    pub saved_cwnd: usize,
    /// Saved RTT, nanoseconds.
    pub saved_rtt: u64,
    /// Current phase.
    pub phase: Phase,
    /// Sequence number whose acknowledgment ends the current phase.
    pub mark: Seq,
    /// The window the jump set, bytes.
    pub jump_cwnd: usize,
    /// Latest outcome.
    pub outcome: Option<Outcome>,
}

impl Resume {
    /// Whether the RTT seen now is close enough to the saved one to trust
    /// the saved window (draft-ietf-tsvwg-careful-resume: more than half and
    /// at most ten times).
    pub fn rtt_matches(&self, rtt: u64) -> bool {
        rtt > self.saved_rtt / 2 && rtt <= self.saved_rtt.saturating_mul(10)
    }

    /// Whether the connection must pace (the unvalidated jump).
    pub fn pacing(&self) -> bool {
        matches!(self.phase, Phase::Unvalidated)
    }

    /// Whether a loss now is a safe retreat.
    pub fn at_risk(&self) -> bool {
        matches!(self.phase, Phase::Unvalidated | Phase::Validating)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_window_is_half_to_ten_times() {
        let r = Resume {
            policy: Policy::Careful,
            saved_cwnd: 1 << 20,
            saved_rtt: 50_000_000,
            phase: Phase::Reconnaissance,
            mark: Seq(0),
            jump_cwnd: 0,
            outcome: None,
        };
        assert!(
            !r.rtt_matches(25_000_000),
            "exactly half is not more than half"
        );
        assert!(r.rtt_matches(25_000_001));
        assert!(r.rtt_matches(500_000_000));
        assert!(!r.rtt_matches(500_000_001));
        assert!(!r.pacing() && !r.at_risk());
    }
}
