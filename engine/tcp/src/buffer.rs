//! The send buffer and the receive buffer of a connection.
//!
//! Both are fixed-size rings, so a peer can never make them grow. Their
//! storage is taken when the first byte needs it, in one allocation of the
//! full size: a connection that only handshakes, or sits idle, holds none
//! (as Linux allocates socket memory with the data). The connection table
//! keeps the storage of closed connections for the next ones
//! ([`crate::table::Table`]), so a busy core stops allocating and zeroing
//! buffers per connection. The receive buffer reassembles out-of-order data
//! in place and remembers at most [`MAX_OOO_RANGES`] holes' worth of
//! ranges; a segment that would need more is dropped and retransmitted by
//! the peer.

use std::collections::VecDeque;

/// Out-of-order ranges the receive buffer keeps (beyond this, segments that
/// open new ranges are dropped).
pub const MAX_OOO_RANGES: usize = 1024;

/// Bytes the application has written and the peer has not acknowledged.
#[derive(Debug)]
pub struct SendBuf {
    data: VecDeque<u8>,
    cap: usize,
}

impl SendBuf {
    /// A buffer of `cap` bytes (no storage until the first write).
    pub fn new(cap: usize) -> Self {
        SendBuf {
            data: VecDeque::new(),
            cap,
        }
    }
    /// Appends as much of `bytes` as fits; returns how much.
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.free());
        if n > 0 && self.data.capacity() < self.cap {
            // The whole ring at once: it never reallocates afterwards.
            self.data.reserve_exact(self.cap - self.data.len());
        }
        self.data.extend(&bytes[..n]);
        n
    }
    /// Capacity, bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// Whether the ring's storage is allocated.
    pub fn has_storage(&self) -> bool {
        self.data.capacity() > 0
    }
    /// Empties the buffer for another connection, keeping its storage.
    pub fn recycle(&mut self) {
        self.data.clear();
    }
    /// Bytes held (from SND.UNA on).
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Room left.
    pub fn free(&self) -> usize {
        self.cap - self.data.len()
    }
    /// Copies bytes from `offset` (relative to SND.UNA) into `out`; returns how many.
    pub fn copy_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.data.len() {
            return 0;
        }
        let n = out.len().min(self.data.len() - offset);
        let (a, b) = self.data.as_slices();
        let mut done = 0;
        if offset < a.len() {
            let k = n.min(a.len() - offset);
            out[..k].copy_from_slice(&a[offset..offset + k]);
            done = k;
        }
        if done < n {
            let start = offset + done - a.len();
            out[done..n].copy_from_slice(&b[start..start + n - done]);
        }
        n
    }
    /// Drops `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.data.len());
        self.data.drain(..n);
    }
}

/// Received bytes: a contiguous readable part, then out-of-order ranges.
#[derive(Debug)]
pub struct RecvBuf {
    /// The ring: empty until the first byte arrives, then `cap` bytes.
    buf: Box<[u8]>,
    cap: usize,
    head: usize,
    len: usize,
    /// (offset after the contiguous part, length), sorted, disjoint, not adjacent.
    ooo: Vec<(usize, usize)>,
}

impl RecvBuf {
    /// A buffer of `cap` bytes (no storage until the first byte arrives).
    pub fn new(cap: usize) -> Self {
        RecvBuf {
            buf: Box::default(),
            cap: cap.max(1),
            head: 0,
            len: 0,
            ooo: Vec::new(),
        }
    }
    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// Whether the ring's storage is allocated.
    pub fn has_storage(&self) -> bool {
        !self.buf.is_empty()
    }
    /// Empties the buffer for another connection, keeping its storage. The
    /// old bytes stay in the ring but are never readable: only bytes
    /// written since are.
    pub fn recycle(&mut self) {
        self.head = 0;
        self.len = 0;
        self.ooo.clear();
    }
    /// Readable bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether nothing is readable.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The receive window: room after the readable part (RFC 9293 RCV.WND).
    pub fn window(&self) -> usize {
        self.cap - self.len
    }
    /// Out-of-order ranges, relative to RCV.NXT, for SACK blocks (RFC 2018).
    pub fn ooo_ranges(&self) -> &[(usize, usize)] {
        &self.ooo
    }

    /// Stores `data` at `offset` bytes after RCV.NXT (trimmed to the window)
    /// and returns by how much the contiguous part grew (RCV.NXT advances
    /// by that much).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> usize {
        let win = self.window();
        if offset >= win || data.is_empty() {
            return 0;
        }
        let n = data.len().min(win - offset);
        // Where (offset, n) goes among the sorted ranges, and what it touches.
        let end = offset + n;
        let i = self.ooo.partition_point(|r| r.0 <= offset);
        let touches_prev = i > 0 && self.ooo[i - 1].0 + self.ooo[i - 1].1 >= offset;
        let touches_next = i < self.ooo.len() && self.ooo[i].0 <= end;
        // Refuse a segment that would open one range too many; the peer
        // will retransmit it. Never refuse the one at the front: it joins
        // the contiguous part, and refusing it would stall the connection.
        if !touches_prev && !touches_next && offset != 0 && self.ooo.len() >= MAX_OOO_RANGES {
            return 0;
        }
        // Copy the bytes into the ring.
        if self.buf.is_empty() {
            self.buf = vec![0u8; self.cap].into_boxed_slice();
        }
        let cap = self.buf.len();
        let mut pos = (self.head + self.len + offset) % cap;
        let mut src = &data[..n];
        while !src.is_empty() {
            let k = src.len().min(cap - pos);
            self.buf[pos..pos + k].copy_from_slice(&src[..k]);
            src = &src[k..];
            pos = (pos + k) % cap;
        }
        // Merge with the neighbours it overlaps or touches (O(ranges)).
        let (mut lo, mut start, mut stop) = (i, offset, end);
        if touches_prev {
            lo = i - 1;
            start = self.ooo[lo].0;
            stop = stop.max(self.ooo[lo].0 + self.ooo[lo].1);
        }
        let mut hi = i;
        while hi < self.ooo.len() && self.ooo[hi].0 <= stop {
            stop = stop.max(self.ooo[hi].0 + self.ooo[hi].1);
            hi += 1;
        }
        self.ooo.splice(lo..hi, [(start, stop - start)]);
        // A range at offset 0 joins the contiguous part.
        let mut grew = 0;
        if let Some(&(0, l)) = self.ooo.first() {
            grew = l;
            self.ooo.remove(0);
            for r in self.ooo.iter_mut() {
                r.0 -= l;
            }
            self.len += l;
        }
        grew
    }

    /// Reads up to `out.len()` bytes.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        let cap = self.buf.len();
        let mut done = 0;
        while done < n {
            let k = (n - done).min(cap - self.head);
            out[done..done + k].copy_from_slice(&self.buf[self.head..self.head + k]);
            self.head = (self.head + k) % cap;
            done += k;
        }
        self.len -= n;
        n
    }

    /// Drops up to `n` readable bytes (for services that discard).
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        if n == 0 {
            return 0;
        }
        self.head = (self.head + n) % self.buf.len();
        self.len -= n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn send_buffer_wraps_and_copies_from_any_offset() {
        let mut s = SendBuf::new(8);
        assert_eq!(s.write(b"abcdef"), 6);
        s.consume(4);
        assert_eq!(s.write(b"ghijklm"), 6);
        let mut out = [0u8; 8];
        assert_eq!(s.copy_at(1, &mut out), 7);
        assert_eq!(&out[..7], b"fghijkl");
        assert_eq!(s.copy_at(8, &mut out), 0);
    }

    #[test]
    fn storage_comes_with_the_first_byte_and_survives_recycling() {
        let mut s = SendBuf::new(1 << 16);
        let mut r = RecvBuf::new(1 << 16);
        assert!(!s.has_storage() && !r.has_storage());
        assert_eq!(
            (s.free(), r.window(), r.capacity()),
            (1 << 16, 1 << 16, 1 << 16)
        );
        let mut out = [0u8; 8];
        assert_eq!(
            (r.read(&mut out), r.discard(8)),
            (0, 0),
            "empty, no storage"
        );
        assert_eq!(s.write(b"abc"), 3);
        assert_eq!(r.write_at(0, b"xyz"), 3);
        assert!(s.has_storage() && r.has_storage());
        s.recycle();
        r.recycle();
        assert!(
            s.has_storage() && r.has_storage(),
            "kept for the next connection"
        );
        assert_eq!((s.len(), r.len(), r.window()), (0, 0, 1 << 16));
        assert_eq!(r.read(&mut out), 0, "old bytes are not readable");
        assert_eq!(r.write_at(1, b"2"), 0);
        assert_eq!(r.write_at(0, b"1"), 2);
        assert_eq!(r.read(&mut out), 2);
        assert_eq!(&out[..2], b"12");
    }

    #[test]
    fn receive_buffer_reassembles_out_of_order() {
        let mut r = RecvBuf::new(16);
        assert_eq!(r.write_at(4, b"efgh"), 0);
        assert_eq!(r.ooo_ranges(), &[(4, 4)]);
        assert_eq!(r.write_at(10, b"kl"), 0);
        assert_eq!(
            r.write_at(0, b"abcd"),
            8,
            "fills the hole up to the next gap"
        );
        assert_eq!(r.ooo_ranges(), &[(2, 2)]);
        let mut out = [0u8; 16];
        assert_eq!(r.read(&mut out), 8);
        assert_eq!(&out[..8], b"abcdefgh");
        assert_eq!(r.write_at(0, b"ij"), 4);
        assert_eq!(r.read(&mut out), 4);
        assert_eq!(&out[..4], b"ijkl");
        assert_eq!(r.write_at(20, b"zz"), 0, "beyond the window");
    }

    #[test]
    fn a_full_range_table_still_takes_the_next_in_order_bytes() {
        let mut r = RecvBuf::new(1 << 20);
        for i in 0..MAX_OOO_RANGES {
            r.write_at(100 + i * 10, b"x");
        }
        assert_eq!(r.ooo_ranges().len(), MAX_OOO_RANGES);
        assert_eq!(
            r.write_at(5000, b"y"),
            0,
            "a new range beyond the table is refused"
        );
        assert_eq!(r.ooo_ranges().len(), MAX_OOO_RANGES);
        assert_eq!(r.write_at(0, &[7u8; 100]), 101, "the front is always taken");
    }

    proptest! {
        /// Any arrival order of any segmentation gives back the stream.
        #[test]
        fn any_order_reassembles(data in proptest::collection::vec(any::<u8>(), 1..2000), cuts in proptest::collection::vec(1usize..300, 1..40), seed: u64) {
            let mut segs = Vec::new();
            let mut off = 0;
            let mut i = 0;
            while off < data.len() {
                let n = cuts[i % cuts.len()].min(data.len() - off);
                segs.push((off, n));
                off += n;
                i += 1;
            }
            // Shuffle deterministically, and duplicate some.
            let mut order: Vec<usize> = (0..segs.len()).collect();
            let mut x = seed | 1;
            for k in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(k, (x % (k as u64 + 1)) as usize);
            }
            order.extend(order.clone().into_iter().step_by(3));
            let mut r = RecvBuf::new(4096);
            let mut nxt = 0;
            // A refused segment (range table full) comes again, as a
            // retransmission would: in order, on the next pass.
            for pass in 0..2 {
                let ks: Vec<usize> = if pass == 0 { order.clone() } else { (0..segs.len()).collect() };
                for k in ks {
                    let (o, n) = segs[k];
                    if o + n <= nxt { continue; }
                    let (o2, skip) = if o < nxt { (0, nxt - o) } else { (o - nxt, 0) };
                    nxt += r.write_at(o2, &data[o + skip..o + n]);
                }
            }
            prop_assert_eq!(nxt, data.len());
            let mut out = vec![0u8; data.len()];
            prop_assert_eq!(r.read(&mut out), data.len());
            prop_assert_eq!(out, data);
        }
    }
}
