//! [`ExtRegion`]: memory the engine owns that mbufs point into, so content is
//! sent without a copy (DESIGN.md section 2, zero-copy content).
//!
//! A region holds its bytes and a `rte_mbuf_ext_shared_info` whose reference
//! count is one for the region handle plus one per attached mbuf. An mbuf made
//! by [`ExtRegion::segment`] points at a slice of the region
//! (`rte_pktmbuf_attach_extbuf`); the protocol code writes the headers into a
//! normal mbuf and [`DpdkBuf::chain`]s the content segment after it. When the
//! driver has sent the frame and frees the chain, DPDK drops the reference;
//! the memory is freed when the last mbuf and the last handle are gone, in
//! whichever order that happens.
//!
//! The region here is plain process memory, which software drivers (net_tap,
//! net_ring, net_memif) read by virtual address. A NIC that DMAs needs memory
//! the EAL knows (its own heap, or `rte_extmem_register` and
//! `rte_dev_dma_map`): the content cache's region is a memzone for that
//! reason ([`super::memzone`]). A shared segment whose bytes are not
//! IOVA-contiguous is refused, and the caller copies it.

use super::mbuf::DpdkBuf;
use crate::SharedBytes;
use dpdk_sys::{rte_mbuf_ext_shared_info, rte_mempool};
use std::os::raw::c_void;
use std::ptr::NonNull;

struct RegionInner {
    // Must stay first-touched by DPDK only through its pointer: the inner
    // block never moves (boxed) while any mbuf refers to it.
    shinfo: rte_mbuf_ext_shared_info,
    mem: Box<[u8]>,
}

/// An owned content region that mbufs can point into.
pub struct ExtRegion {
    inner: NonNull<RegionInner>,
}

// SAFETY: the region's bytes are immutable after creation, and the shared
// reference count is updated with DPDK's atomic helpers. ExtRegion is not
// Sync: rte_mbuf_ext_refcnt_update takes a non-atomic fast path when the
// count is 1, which is only sound while a single thread holds the only
// reference, as a !Sync, single-owner handle guarantees.
unsafe impl Send for ExtRegion {}

/// Frees the region when the last reference is gone (DPDK calls it from
/// `rte_pktmbuf_free` of the last attached mbuf; [`ExtRegion`]'s drop calls
/// it when no mbuf is left).
unsafe extern "C" fn free_region(_addr: *mut c_void, opaque: *mut c_void) {
    // SAFETY: opaque is the Box<RegionInner> leaked by ExtRegion::new, and the
    // reference count just reached zero, so nothing refers to it any more.
    drop(unsafe { Box::from_raw(opaque.cast::<RegionInner>()) });
}

impl ExtRegion {
    /// A region holding `bytes`.
    pub fn new(bytes: impl Into<Box<[u8]>>) -> ExtRegion {
        let inner = Box::new(RegionInner {
            shinfo: rte_mbuf_ext_shared_info {
                free_cb: None,
                fcb_opaque: std::ptr::null_mut(),
                refcnt: 0,
            },
            mem: bytes.into(),
        });
        let p = Box::into_raw(inner);
        // SAFETY: p is a valid, exclusively owned RegionInner; the shared
        // info gets refcount 1 (this handle) and the callback that frees p.
        unsafe {
            dpdk_sys::ae_ext_shinfo_init(
                std::ptr::addr_of_mut!((*p).shinfo),
                Some(free_region),
                p.cast::<c_void>(),
            );
        }
        ExtRegion {
            // SAFETY: Box::into_raw never returns null.
            inner: unsafe { NonNull::new_unchecked(p) },
        }
    }

    fn shinfo(&self) -> *mut rte_mbuf_ext_shared_info {
        // SAFETY: inner is alive while self holds a reference.
        unsafe { std::ptr::addr_of_mut!((*self.inner.as_ptr()).shinfo) }
    }

    /// The region's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: inner is alive while self holds a reference; the bytes are
        // never written after creation.
        unsafe { &(*self.inner.as_ptr()).mem }
    }

    /// Length of the region.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// Current reference count: 1 for this handle plus one per live mbuf
    /// (and per clone of the handle).
    pub fn refcnt(&self) -> u16 {
        // SAFETY: reads the count of a live shared info.
        unsafe { dpdk_sys::ae_ext_refcnt_read(self.shinfo()) }
    }

    /// An mbuf from `pool` pointing at `len` bytes of the region from `off`,
    /// with no copy; `None` when the range is outside the region, longer
    /// than 65535 bytes, or the pool is empty.
    pub(crate) fn segment_from(
        &self,
        pool: *mut rte_mempool,
        off: usize,
        len: usize,
    ) -> Option<DpdkBuf> {
        let end = off.checked_add(len)?;
        if end > self.len() || len > usize::from(u16::MAX) {
            return None;
        }
        // SAFETY: pool is a live mempool (pools are never freed).
        let m = unsafe { dpdk_sys::ae_mbuf_alloc(pool) };
        // SAFETY: a fresh mbuf from the pool is exclusively ours.
        let b = unsafe { DpdkBuf::from_raw(m) }?;
        // SAFETY: addr..addr+len lies inside the region (checked above); the
        // attach takes one reference on the shared info, which keeps the
        // region alive until the mbuf is freed; the mbuf is fresh and direct.
        unsafe {
            let addr = (*self.inner.as_ptr()).mem.as_ptr().add(off) as *mut c_void;
            let iova = match dpdk_sys::ae_virt2iova(addr) {
                u64::MAX => addr as u64, // not EAL memory: software drivers use the VA
                iova => iova,
            };
            dpdk_sys::ae_mbuf_attach_extbuf(b.as_ptr(), addr, iova, len as u16, self.shinfo());
        }
        Some(b)
    }
}

/// What a content mbuf made by [`shared_segment`] keeps in its own data room,
/// which nothing uses while the mbuf points at an external buffer: the shared
/// info DPDK counts the mbuf's reference on, and the reference to the object.
#[repr(C)]
struct SharedSlot {
    shinfo: rte_mbuf_ext_shared_info,
    data: SharedBytes,
}

/// Drops the object reference of a [`SharedSlot`] when its mbuf is freed
/// (DPDK calls it from `rte_pktmbuf_free`, before the mbuf is detached and
/// its data room reused).
unsafe extern "C" fn drop_shared(_addr: *mut c_void, opaque: *mut c_void) {
    // SAFETY: opaque is the SharedSlot that shared_segment wrote into the
    // mbuf's own data room; its count just reached zero (one mbuf, one
    // reference), so the reference is read out and dropped exactly once, and
    // nothing reads the slot afterwards.
    drop(unsafe { std::ptr::read(std::ptr::addr_of!((*opaque.cast::<SharedSlot>()).data)) });
}

/// An mbuf from `pool` pointing at `len` bytes of `data` from `off`, with no
/// copy and no allocation: the mbuf holds a reference to `data` (an atomic
/// increment) until it is freed. `va_ok` says the device reads memory by
/// virtual address (a software vdev): content outside the EAL's memory is
/// then fine; a DMA device needs an IOVA, so such content gives `None` (the
/// caller copies). `None` also when the range is outside `data`, longer than
/// 65535 bytes, or the pool is empty.
pub(crate) fn shared_segment(
    pool: *mut rte_mempool,
    data: &SharedBytes,
    off: usize,
    len: usize,
    va_ok: bool,
) -> Option<DpdkBuf> {
    let bytes = (**data).as_ref();
    let end = off.checked_add(len)?;
    if end > bytes.len() || len > usize::from(u16::MAX) || len == 0 {
        return None;
    }
    let addr = bytes[off..].as_ptr() as *mut c_void;
    // SAFETY: a lookup in the EAL's memory map; no memory is touched.
    let iova = match unsafe { dpdk_sys::ae_virt2iova(addr) } {
        u64::MAX if va_ok => addr as u64,
        u64::MAX => return None,
        iova => iova,
    };
    // The device reads the segment from one IOVA on. A segment inside one
    // 4 KiB page is contiguous; one that crosses into another page (IOVA as
    // PA: normal pages, or the end of a hugepage) is copied unless that page
    // follows in IOVA too. (The second lookup is only made then: with IOVA
    // as PA a lookup may read /proc/self/pagemap.)
    let last = bytes[end - 1..].as_ptr() as *mut c_void;
    if (addr as usize) >> 12 != (last as usize) >> 12 {
        // SAFETY: as above.
        let got = match unsafe { dpdk_sys::ae_virt2iova(last) } {
            u64::MAX if va_ok => last as u64,
            x => x,
        };
        if got != iova + (len as u64 - 1) {
            return None;
        }
    }
    // SAFETY: pool is a live mempool (pools are never freed).
    let m = unsafe { dpdk_sys::ae_mbuf_alloc(pool) };
    // SAFETY: a fresh mbuf from the pool is exclusively ours.
    let b = unsafe { DpdkBuf::from_raw(m) }?;
    // SAFETY: b is a fresh, direct mbuf: buf_addr is its own data room
    // (cache-line aligned, buf_len bytes), unused until the mbuf is freed
    // once it points elsewhere. The slot fits and is aligned (checked). The
    // shared info starts at count 0 and the attach takes the mbuf's one
    // reference; when the mbuf is freed the count drops to 0 and
    // drop_shared releases the object. addr..addr+len lies inside the
    // object (checked above), which the slot's reference keeps alive.
    unsafe {
        let room = (*m).buf_addr.cast::<SharedSlot>();
        if usize::from((*m).buf_len) < std::mem::size_of::<SharedSlot>()
            || room.align_offset(std::mem::align_of::<SharedSlot>()) != 0
        {
            return None;
        }
        std::ptr::write(std::ptr::addr_of_mut!((*room).data), data.clone());
        std::ptr::write(
            std::ptr::addr_of_mut!((*room).shinfo),
            rte_mbuf_ext_shared_info {
                free_cb: Some(drop_shared),
                fcb_opaque: room.cast::<c_void>(),
                refcnt: 0,
            },
        );
        dpdk_sys::ae_mbuf_attach_extbuf(
            m,
            addr,
            iova,
            len as u16,
            std::ptr::addr_of_mut!((*room).shinfo),
        );
    }
    Some(b)
}

impl Clone for ExtRegion {
    fn clone(&self) -> Self {
        // SAFETY: self holds a reference, so the count is >= 1 and the shared
        // info is alive; the new handle owns the added reference.
        unsafe { dpdk_sys::ae_ext_refcnt_update(self.shinfo(), 1) };
        ExtRegion { inner: self.inner }
    }
}

impl Drop for ExtRegion {
    fn drop(&mut self) {
        // SAFETY: this handle's reference is given up; if it was the last
        // one, no mbuf refers to the region any more and it is freed here.
        unsafe {
            if dpdk_sys::ae_ext_refcnt_update(self.shinfo(), -1) == 0 {
                free_region(std::ptr::null_mut(), self.inner.as_ptr().cast::<c_void>());
            }
        }
    }
}

impl std::fmt::Debug for ExtRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtRegion")
            .field("len", &self.len())
            .field("refcnt", &self.refcnt())
            .finish()
    }
}
