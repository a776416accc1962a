//! Memzones: EAL memory that the device can read by DMA, for the content
//! cache ([`crate::Port::dma_memory`]).
//!
//! An mbuf that points into the cache (`rte_pktmbuf_attach_extbuf`) carries
//! the IOVA of its bytes. For memory of the EAL's own heap
//! `rte_mem_virt2iova` knows it, and with vfio the IOMMU maps it; for an
//! anonymous mapping of the process neither holds (with IOVA as VA the
//! device faults, with IOVA as PA normal pages are not contiguous). So on
//! DPDK the cache region is a memzone, on hugepages when the EAL has them;
//! a region too big for the EAL's memory is registered instead
//! ([`super::extmem`]).
//!
//! A memzone made here is never freed, as mempools are not: the cache lives
//! as long as the node, and mbufs that point into it may outlive the cache
//! handle until the driver frees them.

use super::{rte_errno, strerror};
use crate::DmaMemory;
use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Reserves `len` bytes in a new memzone (`ae_cache0`, `ae_cache1`, ...).
/// The error is one line naming the size and DPDK's reason.
pub fn reserve(len: usize) -> Result<DmaMemory, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!("ae_cache{}", N.fetch_add(1, Ordering::Relaxed));
    let cname = CString::new(name.clone()).expect("no NUL in the name");
    // SAFETY: the EAL is initialised (ports exist only after Eal::init);
    // the name is a valid C string that DPDK copies.
    let mz = unsafe { dpdk_sys::ae_memzone_reserve(cname.as_ptr(), len) };
    if mz.is_null() {
        return Err(format!(
            "DPDK memzone of {} MiB for the cache: {}",
            len >> 20,
            strerror(rte_errno())
        ));
    }
    // SAFETY: mz is a live memzone; the accessors only read its fields.
    let (addr, got, page) = unsafe {
        (
            dpdk_sys::ae_memzone_addr(mz),
            dpdk_sys::ae_memzone_len(mz) as usize,
            dpdk_sys::ae_memzone_page_size(mz),
        )
    };
    // SAFETY: the memzone is at least `len` bytes at `addr`, is never freed
    // (module doc), so it lives for the rest of the process, and only this
    // handle has its address: exclusive and 'static.
    let bytes = unsafe { std::slice::from_raw_parts_mut(addr.cast::<u8>(), got.min(len)) };
    Ok(DmaMemory {
        bytes,
        huge: page >= 2 << 20,
        what: format!("DPDK memzone {name}"),
    })
}
