//! A backup edge's copy of what its primary relayed (issue 7, item 3).
//!
//! A primary edge answers a miss from the object its gateway brought into
//! its cache; the backup's cache may not have it. Rather than copying the
//! relayed bytes over the replication channel (which would double the
//! primary's output and need a reliable bulk transfer on the peer
//! channel), the backup fetches the object from its own gateway:
//!
//! - **ahead of time**: the first record of a response whose object the
//!   backup lacks starts a prefetch (one per key), so by the time the
//!   primary fails the object is usually cached here too;
//! - **at takeover**, if it is still missing (the prefetch is in flight, or
//!   the object was purged): the connection is continued at once (no RST,
//!   the client's segments are acknowledged) and its response is parked
//!   until the fetch ends; a prefetch in flight for the key is reused.
//!
//! The response goes on only with the bytes the primary was sending: the
//! fetched object must have the record's strong ETag (a SHA-256 of the
//! content, the same on every node). Otherwise, or if the fetch fails, the
//! connection is reset and counted (`takeover_missing`); the client's
//! Range request (with If-Range) then gets a consistent answer.

use super::repl::Resp;
use super::stack::OvSlot;
use crate::tcp::TcpStack;
use anyedge_http::Chunk;
use anyedge_tcp::table::ConnId;

/// Prefetches queued or in flight on one core, at most.
const PREFETCH_MAX: usize = 64;

/// Whether a response sends bytes of its object (not only a head).
pub(crate) fn has_body(r: &Resp) -> bool {
    r.chunks.iter().any(|c| matches!(c, Chunk::Object { .. }))
}

impl TcpStack {
    /// Backup: a record arrived on `port` with response `r`; fetch its
    /// object from our gateway if we lack it.
    pub(crate) fn repl_prefetch(&mut self, port: u16, r: &Resp) {
        let Some(ov) = self.overlay.as_ref() else {
            return;
        };
        if ov.gateway().is_none() || r.key.is_empty() || !has_body(r) {
            return;
        }
        let Some(cache) = self.cache.as_ref() else {
            return;
        };
        if cache.contains(&r.key)
            || self.prefetching.len() >= PREFETCH_MAX
            || self.prefetching.contains(&r.key)
        {
            return;
        }
        ov.repl.counters.prefetches.inc();
        self.prefetching.push(r.key.clone());
        self.prefetch_wait.push((port, r.key.clone()));
    }

    /// Backup: the connection `id` just taken over waits for `key`. A
    /// prefetch of it, queued or in flight, becomes its fetch; otherwise a
    /// fetch starts.
    pub(crate) fn repl_refetch(&mut self, id: ConnId, key: &str) {
        let Some(addr) = self.table.get(id).map(|c| c.remote) else {
            return;
        };
        if let Some(ov) = self.overlay.as_ref() {
            ov.repl.counters.takeover_fetches.inc();
        }
        if let Some(i) = self.prefetch_wait.iter().position(|(_, k)| k == key) {
            self.prefetch_wait.remove(i);
            self.fetch_wait.push((id, key.to_string()));
            return;
        }
        for slot in self.ov.iter_mut() {
            if let Some(OvSlot::EdgeUp(e)) = slot {
                let same = e.fetch.as_ref().is_some_and(|f| f.key == key);
                if same && e.client.is_none() {
                    e.client = Some((id, addr));
                    return;
                }
            }
        }
        self.fetch_wait.push((id, key.to_string()));
    }

    /// A fetch of `key` ended: it is no longer being prefetched.
    pub(crate) fn prefetch_done(&mut self, key: &str) {
        self.prefetching.retain(|k| k != key);
    }

    /// The fetch a parked takeover waited for ended with `status` (`None`:
    /// the object is in the cache). The response goes on if the cached
    /// object is the one the primary served; otherwise the connection is
    /// reset. Returns false when `id` was not a parked takeover.
    pub(crate) fn refill_done(&mut self, id: ConnId, status: Option<u16>) -> bool {
        let Some(h) = self.http[id].as_mut() else {
            return false;
        };
        let Some((key, etag)) = h.refill() else {
            return false;
        };
        let obj = match status {
            None => self
                .cache
                .as_ref()
                .and_then(|c| c.get(key))
                .filter(|o| o.etag == etag),
            Some(_) => None,
        };
        match obj {
            Some(o) => h.refilled(o),
            None => {
                log::warn!("overlay: a taken-over response's object /{key} could not be fetched with ETag {etag}: reset");
                if let Some(ov) = self.overlay.as_ref() {
                    ov.repl.counters.takeover_missing.inc();
                }
                if let Some(c) = self.table.get_mut(id) {
                    c.abort();
                }
            }
        }
        true
    }
}
