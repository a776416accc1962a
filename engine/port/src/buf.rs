//! Owned frame buffers and their preallocated pool.
//!
//! [`FrameBuf`] is what a port hands to a core and takes back: the DPDK backend
//! implements it over an mbuf, the `mem` and `tap` backends over [`PktBuf`], a
//! fixed-size buffer from a [`BufPool`]. Every buffer has headroom in front of the
//! data so that a header can be prepended in place without a copy.

use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// Bytes reserved in front of received data, as in DPDK's RTE_PKTMBUF_HEADROOM.
pub const HEADROOM: usize = 128;
/// Largest frame a [`PktBuf`] holds (Ethernet with up to two VLAN tags and a
/// 1500-byte MTU fits with room to spare).
pub const MAX_FRAME: usize = 2048;
/// Size of each pooled buffer: headroom plus the largest frame.
pub const BUF_SIZE: usize = HEADROOM + MAX_FRAME;

/// An owned buffer holding one frame.
pub trait FrameBuf: Send + 'static {
    /// The frame bytes.
    fn data(&self) -> &[u8];
    /// The frame bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Sets the frame length, keeping the start. Returns false (and changes
    /// nothing) if the buffer has no room for `len` bytes.
    fn set_len(&mut self, len: usize) -> bool;
    /// Room for the frame from its current start to the end of the buffer.
    fn capacity(&self) -> usize;
    /// Free bytes in front of the frame.
    fn headroom(&self) -> usize;
    /// Grows the frame by `n` bytes at the front and returns them, or `None`
    /// when the headroom is too small.
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Removes `n` bytes from the front of the frame (strips a header). Returns
    /// false when the frame is shorter than `n`.
    fn adj(&mut self, n: usize) -> bool;
    /// Empties the buffer and restores the default headroom, for reuse.
    fn reset(&mut self);
    /// The frame length.
    fn len(&self) -> usize {
        self.data().len()
    }
    /// Whether the frame is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct PoolInner {
    free: ArrayQueue<Box<[u8]>>,
    buf_size: usize,
    count: usize,
}

/// A preallocated pool of fixed-size buffers, shared by the threads that use it.
///
/// All memory is allocated by [`BufPool::new`]. A buffer dropped on any thread
/// goes back to its own pool (lock-free), so frames can cross threads on a `mem`
/// port without any allocation on the way.
#[derive(Clone)]
pub struct BufPool(Arc<PoolInner>);

impl BufPool {
    /// Allocates `count` buffers of [`BUF_SIZE`] bytes.
    pub fn new(count: usize) -> Self {
        Self::with_buf_size(count, BUF_SIZE)
    }

    /// Allocates `count` buffers of `buf_size` bytes (at least `HEADROOM + 64`).
    pub fn with_buf_size(count: usize, buf_size: usize) -> Self {
        let buf_size = buf_size.max(HEADROOM + 64);
        let free = ArrayQueue::new(count.max(1));
        for _ in 0..count {
            // The queue was sized for exactly `count` buffers, so push cannot fail.
            let _ = free.push(vec![0u8; buf_size].into_boxed_slice());
        }
        BufPool(Arc::new(PoolInner {
            free,
            buf_size,
            count,
        }))
    }

    /// Takes a buffer, or `None` when every buffer is in use.
    #[inline]
    pub fn alloc(&self) -> Option<PktBuf> {
        let mem = self.0.free.pop()?;
        Some(PktBuf {
            mem,
            start: HEADROOM as u32,
            len: 0,
            pool: self.clone(),
        })
    }

    /// Buffers free right now.
    pub fn available(&self) -> usize {
        self.0.free.len()
    }

    /// Buffers the pool was created with.
    pub fn count(&self) -> usize {
        self.0.count
    }

    /// Size of each buffer in bytes.
    pub fn buf_size(&self) -> usize {
        self.0.buf_size
    }
}

impl std::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufPool")
            .field("count", &self.count())
            .field("available", &self.available())
            .finish()
    }
}

/// A pooled frame buffer; dropping it returns its memory to the pool.
pub struct PktBuf {
    mem: Box<[u8]>,
    start: u32,
    len: u32,
    pool: BufPool,
}

impl PktBuf {
    /// The whole buffer after the frame start, for a receive call to fill before
    /// [`FrameBuf::set_len`] fixes the length.
    #[inline]
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let start = self.start as usize;
        &mut self.mem[start..]
    }
}

impl FrameBuf for PktBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        let s = self.start as usize;
        &self.mem[s..s + self.len as usize]
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let s = self.start as usize;
        &mut self.mem[s..s + self.len as usize]
    }

    #[inline]
    fn set_len(&mut self, len: usize) -> bool {
        if len > self.capacity() {
            return false;
        }
        self.len = len as u32;
        true
    }

    #[inline]
    fn capacity(&self) -> usize {
        self.mem.len() - self.start as usize
    }

    #[inline]
    fn headroom(&self) -> usize {
        self.start as usize
    }

    #[inline]
    fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start as usize {
            return None;
        }
        self.start -= n as u32;
        self.len += n as u32;
        let s = self.start as usize;
        Some(&mut self.mem[s..s + n])
    }

    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        if n > self.len as usize {
            return false;
        }
        self.start += n as u32;
        self.len -= n as u32;
        true
    }

    #[inline]
    fn reset(&mut self) {
        self.start = HEADROOM.min(self.mem.len()) as u32;
        self.len = 0;
    }
}

impl Drop for PktBuf {
    fn drop(&mut self) {
        let mem = std::mem::take(&mut self.mem);
        // A pool never holds more than it created, so this push always succeeds.
        let _ = self.pool.0.free.push(mem);
    }
}

impl std::fmt::Debug for PktBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PktBuf")
            .field("headroom", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_hands_out_and_takes_back() {
        let pool = BufPool::new(2);
        let a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        assert!(
            pool.alloc().is_none(),
            "empty pool refuses, never allocates"
        );
        drop(a);
        assert_eq!(pool.available(), 1);
        drop(b);
        assert_eq!(pool.available(), 2);
    }

    #[test]
    fn buffers_return_across_threads() {
        let pool = BufPool::new(8);
        let bufs: Vec<_> = (0..8).map(|_| pool.alloc().unwrap()).collect();
        std::thread::spawn(move || drop(bufs)).join().unwrap();
        assert_eq!(pool.available(), 8);
    }

    #[test]
    fn prepend_and_adj_move_the_start() {
        let pool = BufPool::new(1);
        let mut b = pool.alloc().unwrap();
        assert!(b.set_len(10));
        b.data_mut().copy_from_slice(&[7; 10]);
        let hdr = b.prepend(4).unwrap();
        hdr.copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(b.len(), 14);
        assert_eq!(&b.data()[..5], &[1, 2, 3, 4, 7]);
        assert_eq!(b.headroom(), HEADROOM - 4);
        assert!(b.adj(4));
        assert_eq!(b.data(), &[7; 10]);
        assert!(b.prepend(HEADROOM + 1).is_none());
        assert!(!b.set_len(MAX_FRAME + 1));
        b.reset();
        assert!(b.is_empty());
        assert_eq!(b.headroom(), HEADROOM);
    }
}
