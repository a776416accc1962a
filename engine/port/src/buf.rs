//! Owned frame buffers and their preallocated pool.
//!
//! [`FrameBuf`] is what a port hands to a core and takes back: the DPDK backend
//! implements it over an mbuf, the `mem` and `tap` backends over [`PktBuf`], a
//! fixed-size buffer from a [`BufPool`]. Every buffer has headroom in front of the
//! data so that a header can be prepended in place without a copy.

use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes reserved in front of received data, as in DPDK's RTE_PKTMBUF_HEADROOM.
pub const HEADROOM: usize = 128;
/// Largest frame a [`PktBuf`] holds (Ethernet with up to two VLAN tags and a
/// 1500-byte MTU fits with room to spare).
pub const MAX_FRAME: usize = 2048;
/// Size of each pooled buffer: headroom plus the largest frame.
pub const BUF_SIZE: usize = HEADROOM + MAX_FRAME;

/// Bytes shared by reference: a cached object, held by the frames that send
/// parts of it (the same type as the TCP send buffer's shared ranges).
/// Cloning it is an atomic increment, never an allocation.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// The payload of a frame that stays where it lies (zero-copy TX, DESIGN.md
/// section 2): `len` bytes of `data` from `off`, sent after the frame's own
/// bytes, which hold the headers. A port that takes tails
/// ([`crate::TxQueue::zero_copy`]) writes both with one gather call (TAP:
/// `writev`); the reference is dropped with the buffer, after the send.
pub struct Tail {
    data: SharedBytes,
    off: u32,
    len: u32,
}

impl Tail {
    /// A tail of `len` bytes of `data` from `off`; `None` when the range is
    /// outside `data`.
    pub fn new(data: &SharedBytes, off: usize, len: usize) -> Option<Tail> {
        let end = off.checked_add(len)?;
        if end > (**data).as_ref().len() {
            return None;
        }
        Some(Tail {
            data: data.clone(),
            off: u32::try_from(off).ok()?,
            len: u32::try_from(len).ok()?,
        })
    }

    /// The tail's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        let off = self.off as usize;
        &(*self.data).as_ref()[off..off + self.len as usize]
    }
}

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
    /// Starts loading the frame's first cache line into the CPU cache, so
    /// that reading its headers a little later does not stall. Only a
    /// hint: buffers that are warm anyway (the software pools) do nothing.
    #[inline]
    fn prefetch(&self) {}
    /// Payload bytes that came by reference after the frame's own bytes
    /// (a [`Tail`]: a sender's zero-copy payload, delivered as is by an
    /// in-process port); parse them with `anyedge_wire::parse_split`.
    /// Empty for every buffer a device filled.
    #[inline]
    fn tail_data(&self) -> &[u8] {
        &[]
    }
    /// The frame length.
    fn len(&self) -> usize {
        self.data().len()
    }
    /// Whether the frame is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The shared part of a pool: its free list. Shells live for the whole
/// process and are reused by later pools of the same shape (see
/// [`BufPool`]), so a buffer reaches its pool through a plain `&'static`.
struct Shell {
    free: ArrayQueue<Box<[u8]>>,
    buf_size: usize,
    count: usize,
    /// Set when the pool's last handle drops: buffers dropped after that free
    /// their memory instead of going back.
    closed: AtomicBool,
}

impl Shell {
    /// Frees every buffer on the free list.
    fn drain(&self) {
        while self.free.pop().is_some() {}
    }
}

/// Closed shells waiting for a pool of the same shape (count, buffer size).
/// Touched only when a pool is created or its last handle drops.
static SHELLS: Mutex<Vec<&'static Shell>> = Mutex::new(Vec::new());

/// Takes a closed shell of this shape, or makes one (leaked on purpose: see
/// [`BufPool`]).
fn shell(count: usize, buf_size: usize) -> &'static Shell {
    let mut shells = SHELLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = shells
        .iter()
        .position(|s| s.count == count && s.buf_size == buf_size)
    {
        let s = shells.swap_remove(i);
        // Buffers dropped on other threads while the last pool closed may
        // have come back after its drain: free them.
        s.drain();
        return s;
    }
    Box::leak(Box::new(Shell {
        free: ArrayQueue::new(count.max(1)),
        buf_size,
        count,
        closed: AtomicBool::new(true),
    }))
}

/// What the clones of one [`BufPool`] share; its drop closes the pool.
struct Handle(&'static Shell);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.drain();
        SHELLS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.0);
    }
}

/// A preallocated pool of fixed-size buffers, shared by the threads that use it.
///
/// All memory is allocated by [`BufPool::new`]. A buffer dropped on any thread
/// goes back to its own pool (lock-free), so frames can cross threads on a `mem`
/// port without any allocation on the way. Buffers still out when the last
/// handle drops free their memory when they drop.
///
/// A buffer holds a `&'static` to its pool's free list, not an `Arc`: with an
/// `Arc` clone per buffer, the reference count was one cache line written by
/// both cores of a `mem` pair for every frame, 36% of the sender's time in
/// bench/tcp's bulk row. The free lists are therefore never freed; a closed
/// one is reused by the next pool of the same count and buffer size, so a
/// process holds at most as many as it ever had pools open at once.
#[derive(Clone)]
pub struct BufPool(Arc<Handle>);

impl BufPool {
    /// Allocates `count` buffers of [`BUF_SIZE`] bytes.
    pub fn new(count: usize) -> Self {
        Self::with_buf_size(count, BUF_SIZE)
    }

    /// Allocates `count` buffers of `buf_size` bytes (at least `HEADROOM + 64`).
    pub fn with_buf_size(count: usize, buf_size: usize) -> Self {
        let buf_size = buf_size.max(HEADROOM + 64);
        let shell = shell(count, buf_size);
        for _ in 0..count {
            // The queue was sized for exactly `count` buffers and is empty.
            let _ = shell.free.push(vec![0u8; buf_size].into_boxed_slice());
        }
        shell.closed.store(false, Ordering::SeqCst);
        BufPool(Arc::new(Handle(shell)))
    }

    fn shell(&self) -> &'static Shell {
        self.0 .0
    }

    /// Takes a buffer, or `None` when every buffer is in use.
    #[inline]
    pub fn alloc(&self) -> Option<PktBuf> {
        let shell = self.shell();
        let mem = shell.free.pop()?;
        Some(PktBuf {
            mem,
            start: HEADROOM as u32,
            len: 0,
            pool: shell,
            tail: None,
            offload: TxOffload::default(),
        })
    }

    /// Buffers free right now.
    pub fn available(&self) -> usize {
        self.shell().free.len()
    }

    /// Buffers the pool was created with.
    pub fn count(&self) -> usize {
        self.shell().count
    }

    /// Size of each buffer in bytes.
    pub fn buf_size(&self) -> usize {
        self.shell().buf_size
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

/// What a frame asks of its port's offloads on transmit: a TCP checksum
/// left to the port, and TCP segmentation (TSO). Software ports that pass
/// frames to a kernel (TAP's virtio-net header) carry it with the frame.
/// All zero: nothing asked, the frame is complete as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOffload {
    /// Where the TCP header starts (L2 plus L3 length), 0 for no checksum
    /// request: the TCP checksum field holds the pseudo-header sum.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start` (16 for TCP).
    pub csum_offset: u16,
    /// Most payload bytes per segment when the port segments the frame
    /// (the connection's MSS), 0 for no segmentation.
    pub gso_size: u16,
    /// All header bytes (L2 + L3 + L4) that every segment repeats.
    pub hdr_len: u16,
}

/// A pooled frame buffer; dropping it returns its memory to the pool.
///
/// It may carry a [`Tail`]: payload bytes sent by reference after the
/// frame's own bytes. [`FrameBuf::data`] and [`FrameBuf::len`] cover the
/// frame's own bytes only; only ports that take tails are given such frames.
pub struct PktBuf {
    mem: Box<[u8]>,
    start: u32,
    len: u32,
    pool: &'static Shell,
    tail: Option<Tail>,
    offload: TxOffload,
}

impl PktBuf {
    /// The transmit offloads this frame asks for.
    #[inline]
    pub fn tx_offload(&self) -> TxOffload {
        self.offload
    }

    /// Sets the transmit offloads this frame asks for.
    #[inline]
    pub fn set_tx_offload(&mut self, o: TxOffload) {
        self.offload = o;
    }

    /// The payload sent by reference after the frame's bytes, if any.
    #[inline]
    pub fn tail(&self) -> Option<&Tail> {
        self.tail.as_ref()
    }

    /// Attaches `len` bytes of `data` from `off` as the frame's tail, for a
    /// software port's [`TxQueue::attach_tail`](crate::TxQueue::attach_tail):
    /// at most [`TSO_MAX`](crate::TSO_MAX) bytes (one IPv4 packet), and
    /// counted in `counters.tx_zero_copy`. False, changing nothing, when
    /// the range is too long or outside `data`.
    pub fn attach(
        &mut self,
        data: &SharedBytes,
        off: usize,
        len: usize,
        counters: &crate::QueueCounters,
    ) -> bool {
        if len > crate::TSO_MAX {
            return false;
        }
        match Tail::new(data, off, len) {
            Some(t) => {
                self.tail = Some(t);
                counters.tx_zero_copy.inc();
                true
            }
            None => false,
        }
    }

    /// Sets (or clears) the by-reference payload.
    #[inline]
    pub fn set_tail(&mut self, tail: Option<Tail>) {
        self.tail = tail;
    }

    /// Length on the wire: the frame's bytes plus its tail.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.len as usize + self.tail.as_ref().map_or(0, |t| t.len as usize)
    }

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
    fn tail_data(&self) -> &[u8] {
        self.tail.as_ref().map_or(&[], |t| t.bytes())
    }

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
        self.tail = None;
        self.offload = TxOffload::default();
    }
}

impl Drop for PktBuf {
    fn drop(&mut self) {
        // The tail's reference (if any) goes with the buffer (field drop).
        if self.pool.closed.load(Ordering::Acquire) {
            return; // the pool has closed: the memory is freed
        }
        let mem = std::mem::take(&mut self.mem);
        // A pool never holds more than it created, so this push succeeds; if
        // it does not (a late buffer of a closed pool met the next pool of
        // its shape, already full), the buffer is freed.
        let _ = self.pool.free.push(mem);
    }
}

impl std::fmt::Debug for PktBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PktBuf")
            .field("headroom", &self.start)
            .field("len", &self.len)
            .field("tail", &self.tail.as_ref().map(|t| t.len))
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
    fn buffers_outliving_their_pool_are_freed_and_the_shell_reused() {
        // A shape no other test uses, so the shell is this test's own.
        let (count, size) = (3, HEADROOM + 977);
        let pool = BufPool::with_buf_size(count, size);
        let late = pool.alloc().unwrap();
        drop(pool);
        drop(late); // closed: freed, not pushed
        let again = BufPool::with_buf_size(count, size);
        assert_eq!(again.available(), count, "reused shell holds exactly count");
        let bufs: Vec<_> = (0..count).map(|_| again.alloc().unwrap()).collect();
        assert!(again.alloc().is_none());
        drop(bufs);
        assert_eq!(again.available(), count);
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

    #[test]
    fn a_tail_holds_its_object_until_the_buffer_goes() {
        let pool = BufPool::new(1);
        let obj: SharedBytes = Arc::new((0..=255u8).collect::<Vec<u8>>());
        assert!(Tail::new(&obj, 250, 7).is_none(), "past the end");
        let mut b = pool.alloc().unwrap();
        b.set_len(54);
        b.set_tail(Tail::new(&obj, 10, 100));
        assert_eq!(Arc::strong_count(&obj), 2);
        assert_eq!(b.wire_len(), 154);
        assert_eq!(b.len(), 54, "data() is the frame's own bytes");
        assert_eq!(
            b.tail().unwrap().bytes(),
            &(10..110u8).collect::<Vec<u8>>()[..]
        );
        b.reset();
        assert_eq!(Arc::strong_count(&obj), 1, "reset drops the tail");
        b.set_tail(Tail::new(&obj, 0, 1));
        drop(b);
        assert_eq!(Arc::strong_count(&obj), 1, "drop releases the reference");
        assert_eq!(pool.available(), 1);
    }
}
