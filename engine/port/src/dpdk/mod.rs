//! The DPDK port: any DPDK ethdev behind the [`Port`](crate::Port) trait, with
//! the mbuf as the frame buffer (no copy between the NIC and the protocol
//! code).
//!
//! - [`eal`]: `rte_eal_init` with the EAL arguments exactly as given, the
//!   hugepage report, lcore registration of the node's polling threads (so
//!   that mempool per-lcore caches work for them);
//! - [`mbuf`]: [`DpdkBuf`], a [`FrameBuf`](crate::FrameBuf) over an owned
//!   `*mut rte_mbuf`, freed on drop; chaining and TX offload requests;
//! - [`port`]: [`DpdkPort`] and its queues: configuration from `--rxq/--txq`,
//!   RSS over IP addresses and TCP ports when there is more than one receive
//!   queue, offloads read from `dev_info` and reported in
//!   [`PortCaps`](crate::PortCaps), link status, statistics and xstats,
//!   stop and close;
//! - [`ext`]: [`ExtRegion`], engine-owned memory that mbufs point into
//!   (`rte_pktmbuf_attach_extbuf`) so that content is sent without a copy;
//! - [`memzone`]: the content cache's memory, from the EAL, so the device
//!   can read it by DMA;
//! - `csum`: the receive checksum check behind the offload (drop what the
//!   hardware marks bad, verify in software what it could not judge).
//!
//! Every `unsafe` block in this module carries a `// SAFETY:` comment. The
//! invariants they rely on: a [`DpdkBuf`] is the only owner of its mbuf
//! chain; a queue is used by one thread at a time (the `Port` contract); the
//! mempool outlives every mbuf (pools are never freed); a port is closed only
//! after the cores stopped polling it.

pub mod eal;
pub mod ext;
pub mod extmem;
pub mod mbuf;
pub mod memzone;
pub mod port;

mod csum;

#[cfg(test)]
mod tests;

pub use eal::Eal;
pub use ext::ExtRegion;
pub use mbuf::{DpdkBuf, TxL4Csum};
pub use port::{DpdkConfig, DpdkPort, DpdkRx, DpdkTx};

/// An error from DPDK: what failed and DPDK's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpdkError(pub String);

impl std::fmt::Display for DpdkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DpdkError {}

/// `rte_errno` of the calling thread.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads the thread-local rte_errno.
    unsafe { dpdk_sys::ae_errno() }
}

/// DPDK's message for a (negative or positive) errno.
pub(crate) fn strerror(err: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string, valid until the next call on this thread; it is
    // copied at once.
    unsafe {
        let p = dpdk_sys::ae_strerror(err);
        if p.is_null() {
            return format!("error {err}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
