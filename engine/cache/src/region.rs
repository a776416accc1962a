//! The memory region that holds every cached object once.
//!
//! One anonymous mapping, on 2 MiB hugepages when the kernel has them
//! reserved (`MAP_HUGETLB`), on normal pages otherwise (one log line says
//! which); or memory the port hands over for the life of the process (on
//! DPDK an EAL memzone, which the device can read by DMA:
//! [`Region::from_static`]). Objects get extents of it from a first-fit allocator; an extent
//! is written once while its object is being loaded (owned by the loader,
//! unseen by any reader) and only read after the object is published.
//!
//! This module is one of the places DESIGN.md allows `unsafe`: turning an
//! extent of the shared mapping into a slice.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Extents are aligned to this (a cache line; DMA-friendly).
const ALIGN: usize = 64;

/// The mapping and its allocator.
pub struct Region {
    /// Keeps the mapping alive (none for static memory); never touched
    /// after creation except through `base`.
    _map: Option<memmap2::MmapMut>,
    base: *mut u8,
    len: usize,
    huge: bool,
    /// What the memory is, for `show cache`.
    backing: String,
    free: Mutex<Free>,
}

// SAFETY: the raw base pointer refers to a mapping owned by `_map` that lives
// as long as the Region, or to memory that lives for the process and was
// handed over exclusively (`from_static` takes a `&'static mut`). Disjoint extents are handed out by the allocator
// under a mutex; each extent is written by exactly one owner before it is
// shared and is immutable afterwards, so sharing the Region between threads
// cannot create a data race.
unsafe impl Send for Region {}
// SAFETY: see `Send` above.
unsafe impl Sync for Region {}

struct Free {
    /// offset -> length of each free extent, non-adjacent.
    extents: BTreeMap<usize, usize>,
    used: usize,
}

/// An extent of the region, owned until released.
#[derive(Debug, PartialEq, Eq)]
pub struct Extent {
    /// Offset in the region.
    pub offset: usize,
    /// Length in bytes (the requested length).
    pub len: usize,
    alloc: usize,
}

impl Region {
    /// Maps `len` bytes, trying hugepages first.
    pub fn new(len: usize) -> std::io::Result<Region> {
        let len = len.max(ALIGN);
        let huge_len = len.div_ceil(2 << 20) * (2 << 20);
        let (map, huge) = match memmap2::MmapOptions::new()
            .len(huge_len)
            .huge(Some(21))
            .map_anon()
        {
            Ok(m) => (m, true),
            Err(e) => {
                log::info!(
                    "cache region: no 2 MiB hugepages for {} MiB ({e}); using normal pages",
                    huge_len >> 20
                );
                (memmap2::MmapOptions::new().len(len).map_anon()?, false)
            }
        };
        let mut map = map;
        let base = map.as_mut_ptr();
        let len = map.len();
        if huge {
            log::info!("cache region: {} MiB on 2 MiB hugepages", len >> 20);
        }
        Ok(Region::over(
            Some(map),
            base,
            len,
            huge,
            "an anonymous mapping",
        ))
    }

    /// A region over memory that stays valid, and is nobody else's, for the
    /// rest of the process: on DPDK an EAL memzone, which the device can
    /// read by DMA (its IOVA is known and the IOMMU maps it), where an
    /// anonymous mapping is neither. `what` names it in the log line.
    pub fn from_static(mem: &'static mut [u8], huge: bool, what: &str) -> Region {
        log::info!(
            "cache region: {} MiB in {what}, {}",
            mem.len() >> 20,
            if huge {
                "on hugepages"
            } else {
                "on normal pages"
            }
        );
        let len = mem.len();
        Region::over(None, mem.as_mut_ptr(), len, huge, what)
    }

    fn over(
        map: Option<memmap2::MmapMut>,
        base: *mut u8,
        len: usize,
        huge: bool,
        backing: &str,
    ) -> Region {
        let mut extents = BTreeMap::new();
        extents.insert(0, len);
        Region {
            _map: map,
            base,
            len,
            huge,
            backing: backing.to_string(),
            free: Mutex::new(Free { extents, used: 0 }),
        }
    }

    /// Region size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never: at least one cache line).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What the memory is (`an anonymous mapping`, `DPDK memzone ae_cache0`).
    pub fn backing(&self) -> &str {
        &self.backing
    }

    /// Whether the region is on hugepages.
    pub fn huge(&self) -> bool {
        self.huge
    }

    /// Bytes allocated.
    pub fn used(&self) -> usize {
        self.free.lock().map(|f| f.used).unwrap_or(0)
    }

    /// First-fit allocation of `len` bytes, or `None` when no extent is big enough.
    pub fn alloc(&self, len: usize) -> Option<Extent> {
        let alloc = len.max(1).div_ceil(ALIGN) * ALIGN;
        let mut f = self.free.lock().ok()?;
        let (&off, &flen) = f.extents.iter().find(|(_, &l)| l >= alloc)?;
        f.extents.remove(&off);
        if flen > alloc {
            f.extents.insert(off + alloc, flen - alloc);
        }
        f.used += alloc;
        Some(Extent {
            offset: off,
            len,
            alloc,
        })
    }

    /// Returns an extent, merging it with free neighbours.
    pub fn release(&self, e: &Extent) {
        let Ok(mut f) = self.free.lock() else { return };
        let (mut off, mut len) = (e.offset, e.alloc);
        if let Some((&poff, &plen)) = f.extents.range(..off).next_back() {
            if poff + plen == off {
                f.extents.remove(&poff);
                off = poff;
                len += plen;
            }
        }
        if let Some(&nlen) = f.extents.get(&(off + len)) {
            f.extents.remove(&(off + len));
            len += nlen;
        }
        f.extents.insert(off, len);
        f.used -= e.alloc;
    }

    /// The bytes of an extent, for the loader that owns it (before publication).
    /// The `&mut Extent` (not `&self`) is what makes the slice exclusive: an
    /// extent is handed out once, so two writable slices of it cannot exist.
    #[allow(clippy::mut_from_ref)]
    pub fn write<'a>(&'a self, e: &'a mut Extent) -> &'a mut [u8] {
        assert!(e.offset + e.alloc <= self.len, "extent within the region");
        // SAFETY: the extent lies inside the mapping (checked above), was
        // handed out exactly once by `alloc`, and `&mut Extent` proves the
        // caller owns it exclusively; no reader sees it before publication.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(e.offset), e.len) }
    }

    /// The bytes of an extent, for readers after publication.
    pub fn read(&self, e: &Extent) -> &[u8] {
        assert!(e.offset + e.alloc <= self.len, "extent within the region");
        // SAFETY: inside the mapping (checked); published extents are never
        // written again, and the extent is not released while `e` exists.
        unsafe { std::slice::from_raw_parts(self.base.add(e.offset), e.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_first_fit_and_merges_on_release() {
        let r = Region::new(1 << 20).unwrap();
        let total = r.len();
        let mut a = r.alloc(1000).unwrap();
        let b = r.alloc(5000).unwrap();
        assert_eq!(a.offset, 0);
        assert_eq!(b.offset, 1024, "aligned to 64");
        r.write(&mut a).fill(7);
        assert!(r.read(&a).iter().all(|&x| x == 7));
        r.release(&a);
        let c = r.alloc(500).unwrap();
        assert_eq!(c.offset, 0, "first fit reuses the hole");
        r.release(&b);
        r.release(&c);
        assert_eq!(r.used(), 0);
        assert!(
            r.alloc(total).is_some(),
            "everything merged back into one extent"
        );
        assert!(r.alloc(1).is_none());
    }

    #[test]
    fn a_region_over_static_memory_hands_out_all_of_it() {
        let mem: &'static mut [u8] = Box::leak(vec![0u8; 64 << 10].into_boxed_slice());
        let r = Region::from_static(mem, false, "a test buffer");
        assert_eq!(r.len(), 64 << 10);
        assert!(!r.huge());
        assert_eq!(r.backing(), "a test buffer");
        let mut a = r.alloc(64 << 10).unwrap();
        r.write(&mut a).fill(9);
        assert!(r.read(&a).iter().all(|&x| x == 9));
        assert!(r.alloc(1).is_none(), "no more than it was given");
    }
}
