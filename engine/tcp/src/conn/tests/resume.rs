//! Careful resume and jump (resume.rs) on a live connection: the
//! reconnaissance and validated jump, a jump to the saved window, no jump
//! when the RTT does not match, and the safe retreat after a loss.

use super::*;
use crate::resume::{Outcome, Phase, Policy};

pub(super) fn big() -> ConnConfig {
    ConnConfig {
        send_buf: 16 << 20,
        recv_buf: 16 << 20,
        ..ConnConfig::default()
    }
}

/// Transfers `n` bytes a -> b after `setup`; returns (virtual ms taken, a).
fn run(n: usize, setup: impl FnOnce(&mut Conn), drop_after_jump: bool) -> (u64, Pair) {
    let mut p = Pair::connected(5 * MS, big(), big());
    setup(&mut p.a);
    if drop_after_jump {
        // Lose one segment soon after the jump.
        let mut armed = 0;
        p.drop = Box::new(move |w, _| {
            if w.to_b && !w.payload.is_empty() {
                armed += 1;
                return armed == 40;
            }
            false
        });
    }
    let start = p.now;
    let data = pattern(n, 7);
    let (got, _) = p.transfer(&data, &[], 60_000 * MS);
    assert!(got == data);
    let took = (p.now - start) / MS;
    // Let the last ACKs reach the sender.
    p.run_until(|p| p.a.in_flight() == 0, 60_000 * MS);
    (took, p)
}

#[test]
fn careful_resume_jumps_after_reconnaissance_and_validates() {
    let (t_off, _) = run(4 << 20, |_| {}, false);
    let (t_careful, p) = run(
        4 << 20,
        |c| c.resume(Policy::Careful, 4 << 20, 10 * MS),
        false,
    );
    let r = p.a.resume_state().unwrap();
    assert_eq!(r.outcome, Some(Outcome::Validated), "{r:?}");
    assert_eq!(r.jump_cwnd, 2 << 20, "the jump is to half the saved window");
    assert!(
        t_careful < t_off,
        "careful {t_careful} ms beats slow start {t_off} ms"
    );
}

#[test]
fn jump_starts_at_the_saved_window() {
    let (t_off, _) = run(4 << 20, |_| {}, false);
    let (t_jump, p) = run(4 << 20, |c| c.resume(Policy::Jump, 4 << 20, 10 * MS), false);
    let r = p.a.resume_state().unwrap();
    assert_eq!(r.jump_cwnd, 4 << 20);
    assert_eq!(r.outcome, Some(Outcome::Validated));
    assert!(
        t_jump < t_off,
        "jump {t_jump} ms beats slow start {t_off} ms"
    );
}

#[test]
fn no_jump_when_the_rtt_does_not_match() {
    // Saved 100 ms; this path has about 10 ms: less than half.
    let (_, p) = run(
        1 << 20,
        |c| c.resume(Policy::Careful, 4 << 20, 100 * MS),
        false,
    );
    let r = p.a.resume_state().unwrap();
    assert_eq!(
        (r.phase, r.outcome),
        (Phase::Normal, Some(Outcome::RttMismatch))
    );
    assert_eq!(r.jump_cwnd, 0);
}

#[test]
fn loss_after_the_jump_is_a_safe_retreat() {
    let (_, p) = run(4 << 20, |c| c.resume(Policy::Jump, 8 << 20, 10 * MS), true);
    let r = p.a.resume_state().unwrap();
    assert_eq!(
        (r.phase, r.outcome),
        (Phase::SafeRetreat, Some(Outcome::Retreated))
    );
    assert!(
        p.a.cc_info().1 < 8 << 20,
        "ssthresh cut below the saved window"
    );
}
