//! The send buffer and the receive buffer of a connection.
//!
//! Both are bounded by their capacity, so a peer can never make them grow
//! past it. Their storage is taken when the first byte needs it: the
//! receive ring in one allocation of its full size, the send ring as
//! copied bytes come (bodies sent by reference, [`Shared`], take none). A
//! connection that only handshakes, or sits idle, holds none (as Linux
//! allocates socket memory with the data). The connection table
//! keeps the storage of closed connections for the next ones
//! ([`crate::table::Table`]), so a busy core stops allocating and zeroing
//! buffers per connection. The receive buffer reassembles out-of-order data
//! in place and remembers at most [`MAX_OOO_RANGES`] holes' worth of
//! ranges; a segment that would need more is dropped and retransmitted by
//! the peer.

use std::collections::VecDeque;
use std::sync::Arc;

/// Out-of-order ranges the receive buffer keeps (beyond this, segments that
/// open new ranges are dropped).
pub const MAX_OOO_RANGES: usize = 1024;

/// Bytes the application shares instead of copying (a cached object): the
/// send buffer keeps a reference to them until they are acknowledged, and
/// segments are cut straight from them (issue 5's zero-copy TX: the object
/// is read where it lies, once per transmission).
pub type Shared = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A run of the send buffer: bytes copied into the ring, or a range of
/// shared bytes.
enum Part {
    /// The next this-many bytes of the ring.
    Owned(usize),
    /// `len` bytes of `data` from `start`.
    Shared {
        data: Shared,
        start: usize,
        len: usize,
    },
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Owned(n) => *n,
            Part::Shared { len, .. } => *len,
        }
    }
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Owned(n) => write!(f, "Owned({n})"),
            Part::Shared { start, len, .. } => write!(f, "Shared({start}..+{len})"),
        }
    }
}

/// Bytes the application has written and the peer has not acknowledged:
/// copied bytes in a ring and shared ranges ([`Shared`]), in stream order.
/// Both count against the capacity, so flow control is the same whichever
/// way bytes came in.
#[derive(Debug)]
pub struct SendBuf {
    ring: VecDeque<u8>,
    parts: VecDeque<Part>,
    len: usize,
    cap: usize,
}

/// Copies `out.len()` ring bytes from `from` into `out`.
fn ring_copy(ring: &VecDeque<u8>, from: usize, out: &mut [u8]) {
    let (a, b) = ring.as_slices();
    let n = out.len();
    let mut done = 0;
    if from < a.len() {
        let k = n.min(a.len() - from);
        out[..k].copy_from_slice(&a[from..from + k]);
        done = k;
    }
    if done < n {
        let start = from + done - a.len();
        out[done..].copy_from_slice(&b[start..start + n - done]);
    }
}

impl SendBuf {
    /// A buffer of `cap` bytes (no storage until the first write).
    pub fn new(cap: usize) -> Self {
        SendBuf {
            ring: VecDeque::new(),
            parts: VecDeque::new(),
            len: 0,
            cap,
        }
    }
    /// Appends as much of `bytes` as fits (copying them); returns how much.
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.free());
        if n == 0 {
            return 0;
        }
        self.ring.extend(&bytes[..n]);
        match self.parts.back_mut() {
            Some(Part::Owned(k)) => *k += n,
            _ => self.parts.push_back(Part::Owned(n)),
        }
        self.len += n;
        n
    }
    /// Appends as much of `data[start..start + len]` as fits, by reference;
    /// returns how much. A range that continues the last one of the same
    /// data extends it.
    pub fn write_shared(&mut self, data: &Shared, start: usize, len: usize) -> usize {
        let avail = (**data).as_ref().len().saturating_sub(start);
        let n = len.min(avail).min(self.free());
        if n == 0 {
            return 0;
        }
        match self.parts.back_mut() {
            Some(Part::Shared {
                data: d,
                start: s,
                len: l,
            }) if Arc::ptr_eq(d, data) && *s + *l == start => *l += n,
            _ => self.parts.push_back(Part::Shared {
                data: data.clone(),
                start,
                len: n,
            }),
        }
        self.len += n;
        n
    }
    /// Bytes held (from SND.UNA on).
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Room left.
    pub fn free(&self) -> usize {
        self.cap - self.len
    }
    /// Capacity, bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// Whether the ring's storage is allocated.
    pub fn has_storage(&self) -> bool {
        self.ring.capacity() > 0
    }
    /// Empties the buffer for another connection, keeping its storage.
    pub fn recycle(&mut self) {
        self.ring.clear();
        self.parts.clear();
        self.len = 0;
    }
    /// Copies bytes from `offset` (relative to SND.UNA) into `out`; returns how many.
    pub fn copy_at(&self, offset: usize, out: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - offset);
        let (mut pos, mut ring_pos, mut done) = (0, 0, 0);
        for p in &self.parts {
            let plen = p.len();
            if pos + plen > offset + done {
                let from = offset + done - pos;
                let k = (plen - from).min(n - done);
                let dst = &mut out[done..done + k];
                match p {
                    Part::Owned(_) => ring_copy(&self.ring, ring_pos + from, dst),
                    Part::Shared { data, start, .. } => {
                        let s = start + from;
                        dst.copy_from_slice(&(**data).as_ref()[s..s + k]);
                    }
                }
                done += k;
                if done == n {
                    break;
                }
            }
            pos += plen;
            if let Part::Owned(_) = p {
                ring_pos += plen;
            }
        }
        n
    }
    /// Where `len` bytes from `offset` lie when they all lie in one shared
    /// range: the shared bytes and the index of the first byte in them. The
    /// node then sends them by reference, with no copy at all (zero-copy TX
    /// on ports that take a frame's payload by reference); `None` when the
    /// bytes are copied ones or span two parts.
    pub fn shared_at(&self, offset: usize, len: usize) -> Option<(&Shared, usize)> {
        if len == 0 || offset + len > self.len {
            return None;
        }
        let mut pos = 0;
        for p in &self.parts {
            let plen = p.len();
            if offset < pos + plen {
                return match p {
                    Part::Shared { data, start, .. } if offset + len <= pos + plen => {
                        Some((data, start + offset - pos))
                    }
                    _ => None,
                };
            }
            pos += plen;
        }
        None
    }

    /// How many bytes from `offset` on lie in the same shared range as the
    /// byte at `offset` (0 when that byte is a copied one, or past the
    /// end): the most one by-reference segment may carry from there.
    pub fn shared_run(&self, offset: usize) -> usize {
        let mut pos = 0;
        for p in &self.parts {
            let plen = p.len();
            if offset < pos + plen {
                return match p {
                    Part::Shared { .. } => pos + plen - offset,
                    Part::Owned(_) => 0,
                };
            }
            pos += plen;
        }
        0
    }

    /// Drops `n` acknowledged bytes from the front.
    pub fn consume(&mut self, n: usize) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.parts.front_mut() else {
                break;
            };
            let plen = front.len();
            if plen <= n {
                if let Part::Owned(k) = front {
                    self.ring.drain(..*k);
                }
                self.parts.pop_front();
                n -= plen;
                continue;
            }
            match front {
                Part::Owned(k) => {
                    self.ring.drain(..n);
                    *k -= n;
                }
                Part::Shared { start, len, .. } => {
                    *start += n;
                    *len -= n;
                }
            }
            n = 0;
        }
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
        if offset == 0 && self.ooo.is_empty() {
            // In order with no hole behind: the common case, no range to merge.
            self.copy_in(0, &data[..n]);
            self.len += n;
            return n;
        }
        self.copy_in(offset, &data[..n]);
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

    /// Copies `src` into the ring at `offset` past the contiguous data
    /// (storage allocated, room checked by the caller).
    fn copy_in(&mut self, offset: usize, mut src: &[u8]) {
        let cap = self.buf.len();
        let mut pos = (self.head + self.len + offset) % cap;
        while !src.is_empty() {
            let k = src.len().min(cap - pos);
            self.buf[pos..pos + k].copy_from_slice(&src[..k]);
            src = &src[k..];
            pos = (pos + k) % cap;
        }
    }

    /// Reads up to `out.len()` bytes.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let mut done = 0;
        self.take_runs(out.len(), |run| {
            out[done..done + run.len()].copy_from_slice(run);
            done += run.len();
        })
    }

    /// Appends up to `max` readable bytes to `out`.
    pub fn read_append(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
        self.take_runs(max, |run| out.extend_from_slice(run))
    }

    /// Consumes up to `max` readable bytes, handing each contiguous run of
    /// the ring to `f` (one, or two where the ring wraps).
    fn take_runs(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let n = max.min(self.len);
        let cap = self.buf.len();
        let mut done = 0;
        while done < n {
            let k = (n - done).min(cap - self.head);
            f(&self.buf[self.head..self.head + k]);
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
    fn shared_ranges_and_copies_interleave_and_are_consumed_in_order() {
        let obj: Shared = Arc::new((0..=255u8).collect::<Vec<u8>>());
        let mut s = SendBuf::new(300);
        assert_eq!(s.write(b"HEAD"), 4);
        assert_eq!(s.write_shared(&obj, 10, 100), 100);
        assert_eq!(s.write_shared(&obj, 110, 50), 50, "continues the range");
        assert_eq!(s.parts.len(), 2);
        assert_eq!(s.write(b"--"), 2);
        assert_eq!(s.write_shared(&obj, 250, 100), 6, "clamped to the data");
        assert_eq!(s.write_shared(&obj, 0, 1000), 138, "clamped to the room");
        assert_eq!((s.len(), s.free()), (300, 0));
        let mut want = b"HEAD".to_vec();
        want.extend(10..160u8);
        want.extend_from_slice(b"--");
        want.extend(250..=255u8);
        want.extend(0..138u8);
        for off in [0, 3, 4, 5, 153, 154, 156, 161, 299] {
            let mut out = vec![0u8; 64];
            let n = s.copy_at(off, &mut out);
            assert_eq!(n, 64.min(300 - off));
            assert_eq!(&out[..n], &want[off..off + n], "at {off}");
        }
        s.consume(5);
        s.consume(150);
        let mut out = vec![0u8; 300];
        assert_eq!(s.copy_at(0, &mut out), 145);
        // Now: one "-", then 6 and 138 shared bytes (two ranges).
        assert!(s.shared_at(0, 1).is_none(), "copied bytes");
        let (d, at) = s.shared_at(1, 6).expect("inside one shared range");
        assert_eq!((Arc::ptr_eq(d, &obj), at), (true, 250));
        assert!(s.shared_at(0, 3).is_none(), "spans a copied part");
        assert!(s.shared_at(1, 7).is_none(), "spans two ranges");
        assert_eq!(s.shared_at(9, 100).map(|(_, at)| at), Some(2));
        assert!(s.shared_at(140, 10).is_none(), "past the end");
        assert!(s.shared_at(0, 0).is_none());
        assert_eq!(&out[..145], &want[155..]);
        s.consume(1000);
        assert!(s.is_empty() && s.parts.is_empty() && s.ring.is_empty());
        assert_eq!(
            Arc::strong_count(&obj),
            1,
            "references dropped when acknowledged"
        );
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
        // Appending reads wrap around the ring like `read`.
        let mut r = RecvBuf::new(8);
        let mut v = b"x".to_vec();
        assert_eq!(r.write_at(0, b"abcdef"), 6);
        assert_eq!(r.read_append(&mut v, 4), 4);
        assert_eq!(r.write_at(0, b"ghijk"), 5);
        assert_eq!(r.read_append(&mut v, 100), 7);
        assert_eq!(v, b"xabcdefghijk");
        assert_eq!(r.read_append(&mut v, 100), 0);
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
        /// Any mix of copied and shared writes, consumes and reads agrees
        /// with a plain byte vector holding the same stream.
        #[test]
        fn send_buffer_matches_a_plain_stream(ops in proptest::collection::vec((0u8..4, 0usize..700, 0usize..700), 1..60)) {
            let obj: Shared = Arc::new((0..5000).map(|i| (i * 13 % 251) as u8).collect::<Vec<u8>>());
            let mut s = SendBuf::new(2048);
            let mut model: Vec<u8> = Vec::new();
            for (op, a, b) in ops {
                match op {
                    0 => {
                        let bytes: Vec<u8> = (0..a).map(|i| (i + b) as u8).collect();
                        let n = s.write(&bytes);
                        prop_assert_eq!(n, a.min(2048 - model.len()));
                        model.extend_from_slice(&bytes[..n]);
                    }
                    1 => {
                        let start = a * 7;
                        let n = s.write_shared(&obj, start, b);
                        let want = b.min(5000usize.saturating_sub(start)).min(2048 - model.len());
                        prop_assert_eq!(n, want);
                        model.extend_from_slice(&(*obj).as_ref()[start..start + n]);
                    }
                    2 => {
                        s.consume(a);
                        model.drain(..a.min(model.len()));
                    }
                    _ => {
                        let mut out = vec![0u8; b];
                        let n = s.copy_at(a, &mut out);
                        let want = if a >= model.len() { 0 } else { b.min(model.len() - a) };
                        prop_assert_eq!(n, want);
                        prop_assert_eq!(&out[..n], &model[a.min(model.len())..a.min(model.len()) + n]);
                        // By reference, where the bytes lie in one shared
                        // range, they are the same bytes.
                        if let Some((data, at)) = s.shared_at(a, n) {
                            prop_assert!(Arc::ptr_eq(data, &obj));
                            prop_assert_eq!(&(**data).as_ref()[at..at + n], &out[..n]);
                        }
                    }
                }
                prop_assert_eq!(s.len(), model.len());
            }
        }

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
