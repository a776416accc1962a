//! The head dictionary of replication records: a response head the backup
//! already holds goes by reference, not byte for byte.
//!
//! A record carries the response in progress, and its head (status line and
//! headers, about 230 bytes for a small object) was most of a 1 KiB
//! response's record: three records filled a datagram. Heads repeat: every
//! response for the same object within the same second (the Date header)
//! has the same one, whichever client connection it is on. So a primary
//! sends a head once with a key, [`HeadEnc::Remember`]; once the backup has
//! confirmed that record, later records name the head by its key,
//! [`HeadEnc::Ref`], and about nine records share a datagram.
//!
//! The key is a 64-bit SipHash of the bytes under a random per-process key:
//! a client cannot choose request bytes whose head collides with another's.
//! A reference the backup cannot resolve (it evicted the head, or the
//! record that taught it was lost) is not confirmed; the primary's retry
//! then sends the head whole, so the cost of a miss is one retry interval,
//! never a wrong byte.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddrV4;
use std::sync::{Mutex, OnceLock};

/// Heads shorter than this go whole: a reference (12 bytes) saves little.
const MIN_REF: usize = 48;
/// Keys a primary core remembers as held by the backup (per generation).
const PRIMARY_KEYS: usize = 2048;
/// Heads a backup keeps (per generation; two generations, so a head used
/// within the last `BACKUP_HEADS` distinct ones is always there).
const BACKUP_HEADS: usize = 16_384;

/// How a record carries its response's head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeadEnc {
    /// Whole, not kept by the backup.
    #[default]
    Plain,
    /// Whole; the backup keeps it under this key.
    Remember(u64),
    /// By key, with its length: the backup has it.
    Ref(u64, u16),
}

/// The process's key for head keys.
fn hasher() -> &'static RandomState {
    static H: OnceLock<RandomState> = OnceLock::new();
    H.get_or_init(RandomState::new)
}

/// A primary core's view of which heads its backup holds.
#[derive(Debug, Default)]
pub struct PrimaryHeads {
    cur: HashSet<u64>,
    prev: HashSet<u64>,
}

impl PrimaryHeads {
    /// How the next record should carry `head`, whose key is `known` when
    /// an earlier record of the same head computed it (a head is hashed
    /// once, not per record). A retry always sends it whole (its reference
    /// may be what the backup could not resolve).
    pub fn choose(&mut self, head: &[u8], known: Option<u64>, retry: bool) -> HeadEnc {
        if head.len() < MIN_REF || head.len() > u16::MAX as usize {
            return HeadEnc::Plain;
        }
        let key = known.unwrap_or_else(|| hasher().hash_one(head));
        if retry {
            self.cur.remove(&key);
            self.prev.remove(&key);
        } else if self.cur.contains(&key) || self.prev.contains(&key) {
            return HeadEnc::Ref(key, head.len() as u16);
        }
        HeadEnc::Remember(key)
    }

    /// The backup confirmed the very record that carried `key` whole.
    pub fn confirmed(&mut self, key: u64) {
        if self.cur.len() >= PRIMARY_KEYS {
            self.prev = std::mem::take(&mut self.cur);
        }
        self.cur.insert(key);
    }
}

/// Heads by (primary, key).
type HeadMap = HashMap<(SocketAddrV4, u64), Vec<u8>>;

/// The heads a backup keeps, per primary (all cores of a node share them):
/// the current generation and the one before.
#[derive(Debug, Default)]
pub struct BackupHeads {
    maps: Mutex<[HeadMap; 2]>,
}

impl BackupHeads {
    /// Keeps `head` from primary `from` under `key`.
    pub fn remember(&self, from: SocketAddrV4, key: u64, head: &[u8]) {
        let Ok(mut m) = self.maps.lock() else {
            return;
        };
        if m[0].len() >= BACKUP_HEADS {
            m[1] = std::mem::take(&mut m[0]);
        }
        m[0].insert((from, key), head.to_vec());
    }

    /// Writes the head that `from` keeps under `key` into `out`; false when
    /// there is none of length `len`.
    pub fn resolve(&self, from: SocketAddrV4, key: u64, len: u16, out: &mut Vec<u8>) -> bool {
        let Ok(mut m) = self.maps.lock() else {
            return false;
        };
        let k = (from, key);
        if !m[0].contains_key(&k) {
            // Used again: it moves to the current generation.
            let Some(v) = m[1].remove(&k) else {
                return false;
            };
            if m[0].len() >= BACKUP_HEADS {
                m[1] = std::mem::take(&mut m[0]);
            }
            m[0].insert(k, v);
        }
        match m[0].get(&k) {
            Some(v) if v.len() == usize::from(len) => {
                out.clear();
                out.extend_from_slice(v);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\nDate: Mon, 07 Dec 2026 14:00:00 GMT\r\nContent-Length: 1024\r\n\r\n";

    #[test]
    fn a_head_goes_whole_until_confirmed_then_by_reference() {
        let mut p = PrimaryHeads::default();
        let HeadEnc::Remember(k) = p.choose(HEAD, None, false) else {
            panic!("first use goes whole")
        };
        assert_eq!(
            p.choose(HEAD, None, false),
            HeadEnc::Remember(k),
            "not confirmed yet"
        );
        p.confirmed(k);
        assert_eq!(
            p.choose(HEAD, None, false),
            HeadEnc::Ref(k, HEAD.len() as u16)
        );
        // A retry goes whole, and the key is no longer trusted.
        assert_eq!(p.choose(HEAD, Some(k), true), HeadEnc::Remember(k));
        assert_eq!(p.choose(HEAD, None, false), HeadEnc::Remember(k));
        assert_eq!(
            p.choose(b"HTTP/1.1 304\r\n\r\n", None, false),
            HeadEnc::Plain,
            "short"
        );
    }

    #[test]
    fn the_backup_resolves_only_what_it_kept_from_that_primary() {
        let b = BackupHeads::default();
        let (a, other): (SocketAddrV4, SocketAddrV4) = (
            "10.0.2.2:7700".parse().unwrap(),
            "10.0.4.2:7700".parse().unwrap(),
        );
        let mut out = Vec::new();
        assert!(!b.resolve(a, 7, HEAD.len() as u16, &mut out));
        b.remember(a, 7, HEAD);
        assert!(b.resolve(a, 7, HEAD.len() as u16, &mut out));
        assert_eq!(out, HEAD);
        assert!(
            !b.resolve(other, 7, HEAD.len() as u16, &mut out),
            "another primary's key"
        );
        assert!(!b.resolve(a, 7, 3, &mut out), "another length");
    }

    #[test]
    fn the_backup_keeps_the_recent_heads_within_its_bound() {
        let b = BackupHeads::default();
        let a: SocketAddrV4 = "10.0.2.2:7700".parse().unwrap();
        let mut out = Vec::new();
        b.remember(a, 0, HEAD);
        for k in 1..=(BACKUP_HEADS as u64 + 10) {
            b.remember(a, k, HEAD);
            if k % 1000 == 0 {
                // Used now and then: it stays.
                assert!(b.resolve(a, 0, HEAD.len() as u16, &mut out));
            }
        }
        assert!(b.resolve(a, 0, HEAD.len() as u16, &mut out));
        for k in 1..=(3 * BACKUP_HEADS as u64) {
            b.remember(a, 1_000_000 + k, HEAD);
        }
        assert!(
            !b.resolve(a, 1, HEAD.len() as u16, &mut out),
            "old and unused: evicted"
        );
        let m = b.maps.lock().unwrap();
        assert!(m[0].len() <= BACKUP_HEADS && m[1].len() <= BACKUP_HEADS);
    }
}
