//! [`DpdkBuf`]: the frame buffer of the DPDK port is the mbuf itself.
//!
//! A `DpdkBuf` owns one mbuf chain (`*mut rte_mbuf`, refcount 1) and frees it
//! on drop. It has the same layout as the pointer (`repr(transparent)`), so a
//! `Vec<DpdkBuf>` is handed to `rte_eth_rx_burst`/`rte_eth_tx_burst` as the
//! `struct rte_mbuf **` array with no conversion. Field reads and writes go
//! straight to the mbuf through [`dpdk_sys::rte_mbuf`] (layout pinned by the
//! shim), so the per-packet path makes no function call.
//!
//! [`FrameBuf`] views the first segment: received frames are single-segment
//! (no RX scatter), and a chain built for zero-copy TX
//! ([`DpdkBuf::chain`]) starts with a header segment that the protocol code
//! writes, followed by read-only content segments
//! ([`super::ExtRegion`]). [`DpdkBuf::pkt_len`] and
//! [`DpdkBuf::segments`] see the whole chain.

use crate::FrameBuf;
use dpdk_sys::{mbuf_flags, rte_mbuf};
use std::ptr::NonNull;

/// An owned mbuf chain.
#[repr(transparent)]
pub struct DpdkBuf(NonNull<rte_mbuf>);

// SAFETY: a DpdkBuf is the only owner of its mbuf chain, and DPDK mbufs and
// mempools may be used and freed from any thread.
unsafe impl Send for DpdkBuf {}

/// Which L4 checksum to request from the port on transmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxL4Csum {
    /// None (only the IPv4 header checksum).
    None,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl DpdkBuf {
    /// Takes ownership of `m`.
    ///
    /// # Safety
    /// `m` must be null or an mbuf chain that nothing else uses or frees
    /// (refcount 1, not in any ring), whose pool outlives the buffer.
    #[inline]
    pub unsafe fn from_raw(m: *mut rte_mbuf) -> Option<DpdkBuf> {
        NonNull::new(m).map(DpdkBuf)
    }

    /// Gives up ownership without freeing.
    #[inline]
    pub fn into_raw(self) -> *mut rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// The mbuf pointer (still owned by `self`).
    #[inline]
    pub fn as_ptr(&self) -> *mut rte_mbuf {
        self.0.as_ptr()
    }

    #[inline]
    fn m(&self) -> &rte_mbuf {
        // SAFETY: self owns a valid mbuf (constructor contract).
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn m_mut(&mut self) -> &mut rte_mbuf {
        // SAFETY: self owns a valid mbuf exclusively (constructor contract).
        unsafe { self.0.as_mut() }
    }

    /// Length of the whole chain.
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.m().pkt_len as usize
    }

    /// Number of segments in the chain.
    #[inline]
    pub fn nb_segs(&self) -> u16 {
        self.m().nb_segs
    }

    /// Offload flags (`RTE_MBUF_F_*`, see [`dpdk_sys::mbuf_flags`]).
    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.m().ol_flags
    }

    /// Whether the first segment points at an external buffer.
    #[inline]
    pub fn is_external(&self) -> bool {
        self.m().ol_flags & mbuf_flags::EXTERNAL != 0
    }

    /// The data of every segment, in order.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut cur: *const rte_mbuf = self.as_ptr();
        std::iter::from_fn(move || {
            if cur.is_null() {
                return None;
            }
            // SAFETY: cur is a segment of the chain self owns; a segment's
            // data (buf_addr + data_off, data_len bytes) is valid memory of
            // its buffer for as long as the chain lives (borrowed from self).
            unsafe {
                let m = &*cur;
                let s = std::slice::from_raw_parts(
                    (m.buf_addr as *const u8).add(m.data_off as usize),
                    m.data_len as usize,
                );
                cur = m.next;
                Some(s)
            }
        })
    }

    /// The bytes of the whole chain, copied (for tests and diagnostics).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.pkt_len());
        for s in self.segments() {
            v.extend_from_slice(s);
        }
        v
    }

    /// Appends `tail`'s segments to this chain (`rte_pktmbuf_chain`). On
    /// failure (more than `RTE_MBUF_MAX_NB_SEGS` segments) `tail` comes back.
    pub fn chain(&mut self, tail: DpdkBuf) -> Result<(), DpdkBuf> {
        // SAFETY: both chains are owned (self and tail); on success the head
        // owns tail's segments, so tail's ownership ends without a free.
        let r = unsafe { dpdk_sys::ae_mbuf_chain(self.as_ptr(), tail.as_ptr()) };
        if r == 0 {
            std::mem::forget(tail);
            Ok(())
        } else {
            Err(tail)
        }
    }

    /// Asks the port to fill the IPv4 header checksum and, if `l4` says so,
    /// the TCP or UDP checksum on transmit (`RTE_MBUF_F_TX_*`, with
    /// `l2_len`/`l3_len`). Only meaningful on a port whose
    /// [`PortCaps::tx_csum`](crate::PortCaps) is set; the L4 checksum field
    /// must hold the pseudo-header sum (as `rte_ipv4_phdr_cksum` computes),
    /// which `rte_eth_tx_prepare` fixes up for drivers that need it.
    pub fn request_tx_csum(&mut self, l2_len: u8, l3_len: u16, l4: TxL4Csum) {
        let m = self.m_mut();
        let mut f = mbuf_flags::TX_IPV4 | mbuf_flags::TX_IP_CKSUM;
        f |= match l4 {
            TxL4Csum::None => 0,
            TxL4Csum::Tcp => mbuf_flags::TX_TCP_CKSUM,
            TxL4Csum::Udp => mbuf_flags::TX_UDP_CKSUM,
        };
        m.ol_flags |= f;
        // tx_offload: l2_len in bits 0..7, l3_len in bits 7..16.
        m.tx_offload =
            (m.tx_offload & !0xffff) | u64::from(l2_len & 0x7f) | (u64::from(l3_len & 0x1ff) << 7);
    }

    /// Asks the device to cut the frame's TCP payload into segments of at
    /// most `mss` bytes (`RTE_MBUF_F_TX_TCP_SEG`, with `l4_len` and
    /// `tso_segsz`), each with its own IPv4 and TCP checksums. Implies the
    /// checksum request; `rte_eth_tx_prepare` puts the pseudo-header sum
    /// in the form the driver's TSO wants (without the length).
    pub fn request_tso(&mut self, l2_len: u8, l3_len: u16, l4_len: u16, mss: u16) {
        self.request_tx_csum(l2_len, l3_len, TxL4Csum::Tcp);
        let m = self.m_mut();
        m.ol_flags |= mbuf_flags::TX_TCP_SEG;
        // tx_offload: l4_len in bits 16..24, tso_segsz in bits 24..40.
        m.tx_offload = (m.tx_offload & !(0xff_ffff << 16))
            | (u64::from(l4_len & 0xff) << 16)
            | (u64::from(mss) << 24);
    }
}

impl FrameBuf for DpdkBuf {
    /// `rte_prefetch0` of the frame's first cache line.
    #[inline]
    fn prefetch(&self) {
        let m = self.m();
        let p = m
            .buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(m.data_off));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint: it never faults or changes
        // memory, whatever the address.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: as above, through the shim.
        unsafe {
            dpdk_sys::ae_prefetch0(p.cast());
        }
    }

    #[inline]
    fn data(&self) -> &[u8] {
        let m = self.m();
        // SAFETY: the first segment's data lies inside its buffer (mbuf
        // invariant: data_off + data_len <= buf_len) and is owned by self.
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.m_mut();
        // SAFETY: as in data(); the mbuf is exclusively owned, so is its data.
        unsafe {
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    #[inline]
    fn set_len(&mut self, len: usize) -> bool {
        if len > self.capacity() {
            return false;
        }
        let m = self.m_mut();
        let rest = m.pkt_len - u32::from(m.data_len);
        m.data_len = len as u16;
        m.pkt_len = rest + len as u32;
        true
    }

    #[inline]
    fn capacity(&self) -> usize {
        let m = self.m();
        usize::from(m.buf_len).saturating_sub(usize::from(m.data_off))
    }

    #[inline]
    fn headroom(&self) -> usize {
        usize::from(self.m().data_off)
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        let m = self.m_mut();
        if n > usize::from(m.data_off) {
            return None;
        }
        m.data_off -= n as u16;
        m.data_len += n as u16;
        m.pkt_len += n as u32;
        Some(&mut self.data_mut()[..n])
    }

    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        let m = self.m_mut();
        if n > usize::from(m.data_len) {
            return false;
        }
        m.data_off += n as u16;
        m.data_len -= n as u16;
        m.pkt_len -= n as u32;
        true
    }

    fn reset(&mut self) {
        let next = self.m().next;
        if !next.is_null() {
            self.m_mut().next = std::ptr::null_mut();
            // SAFETY: the tail segments belong to this chain and nothing else
            // refers to them once unlinked; rte_pktmbuf_free frees a segment
            // and every segment after it.
            unsafe { dpdk_sys::ae_mbuf_free(next) };
        }
        // SAFETY: a direct, single-segment mbuf owned by self.
        unsafe { dpdk_sys::ae_mbuf_reset(self.as_ptr()) };
    }

    #[inline]
    fn len(&self) -> usize {
        usize::from(self.m().data_len)
    }
}

impl Drop for DpdkBuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: self owns the chain; rte_pktmbuf_free returns every segment
        // to its pool (and detaches external buffers, which may run their
        // free callback).
        unsafe { dpdk_sys::ae_mbuf_free(self.as_ptr()) };
    }
}

impl std::fmt::Debug for DpdkBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkBuf")
            .field("headroom", &self.headroom())
            .field("data_len", &self.len())
            .field("pkt_len", &self.pkt_len())
            .field("nb_segs", &self.nb_segs())
            .finish()
    }
}
