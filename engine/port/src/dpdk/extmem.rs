//! External memory: a cache region too big for a memzone, made DMA-able.
//!
//! The EAL's memory is what `-m`/hugepages gave it, usually far less than
//! a CDN node's cache. When the region does not fit a memzone
//! ([`super::memzone`]), the port maps it itself and registers it with the
//! EAL (`rte_extmem_register`, with the IOVA of every page), so that
//! `rte_mem_virt2iova` and the extbuf mbufs that point into it are right,
//! and maps it for every port's device (`rte_dev_dma_map`), so that an
//! IOMMU (vfio) lets the NIC read it. The pages are locked: a NIC reads
//! them at any time, and a page moved by the kernel would change its IOVA.
//!
//! With IOVA as VA a page's IOVA is its address; with IOVA as PA it is the
//! physical address from `/proc/self/pagemap` (root only). Like memzones,
//! the mapping is never freed: mbufs may point into it until the driver
//! frees them.

use crate::DmaMemory;

const HUGE: usize = 2 << 20;
const SMALL: usize = 4096;

/// Maps, locks and registers `len` bytes (rounded up to the page size),
/// on 2 MiB hugepages when the kernel has them. The error is one line.
pub fn register(len: usize) -> Result<DmaMemory, String> {
    let (va, page) = map(len)?;
    let size = len.div_ceil(page) * page;
    match setup(va, size, page) {
        Ok(mapped) => {
            // SAFETY: [va, va+size) is our own mapping, never unmapped from
            // here on (module doc), and nothing else has its address.
            let bytes = unsafe { std::slice::from_raw_parts_mut(va.cast::<u8>(), len) };
            Ok(DmaMemory {
                bytes,
                huge: page == HUGE,
                what: format!(
                    "external memory registered with DPDK ({} MiB on {} pages, DMA-mapped for {mapped} port(s))",
                    size >> 20,
                    if page == HUGE { "2 MiB" } else { "4 KiB" }
                ),
            })
        }
        Err(e) => {
            // SAFETY: the mapping made above, not registered (or its
            // registration failed), and no reference to it escaped.
            unsafe { libc::munmap(va, size) };
            Err(e)
        }
    }
}

/// An anonymous, populated and locked mapping: hugepages first.
fn map(len: usize) -> Result<(*mut libc::c_void, usize), String> {
    let base = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE | libc::MAP_LOCKED;
    let mut why = String::new();
    for (page, flags) in [(HUGE, base | libc::MAP_HUGETLB), (SMALL, base)] {
        let size = len.div_ceil(page) * page;
        // SAFETY: a new anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return Ok((p, page));
        }
        why = std::io::Error::last_os_error().to_string();
    }
    Err(format!(
        "cannot map and lock {} MiB for the cache: {why}",
        len >> 20
    ))
}

/// Registers [va, va+size) of `page`-sized pages and DMA-maps it; the
/// number of ports mapped.
fn setup(va: *mut libc::c_void, size: usize, page: usize) -> Result<i32, String> {
    let n = size / page;
    // SAFETY: reads the EAL's IOVA mode; the EAL is up (ports exist).
    let iova_va = unsafe { dpdk_sys::ae_iova_is_va() } == 1;
    let iovas: Vec<u64> = if iova_va {
        (0..n).map(|i| va as u64 + (i * page) as u64).collect()
    } else {
        physical(va as usize, n, page)?
    };
    let pages = u32::try_from(n).map_err(|_| "too many pages".to_string())?;
    // SAFETY: va..va+size is a live mapping of n pages of `page` bytes,
    // and iovas holds n entries; DPDK copies the table.
    let rc = unsafe { dpdk_sys::ae_extmem_register(va, size, iovas.as_ptr(), pages, page) };
    if rc != 0 {
        return Err(format!(
            "rte_extmem_register of {} MiB: {}",
            size >> 20,
            super::strerror(-rc)
        ));
    }
    // One DMA mapping per run of IOVA-contiguous pages.
    let mut mapped = 0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && iovas[j] == iovas[j - 1] + page as u64 {
            j += 1;
        }
        // SAFETY: [va + i*page, va + j*page) lies in the registered mapping.
        let rc = unsafe {
            dpdk_sys::ae_dma_map_all(
                va.cast::<u8>().add(i * page).cast(),
                iovas[i],
                (j - i) * page,
            )
        };
        if rc < 0 {
            // The caller unmaps the region: the EAL must forget it first.
            // SAFETY: the region registered above, with no mbuf in it yet.
            unsafe { dpdk_sys::ae_extmem_unregister(va, size) };
            return Err(format!("rte_dev_dma_map: {}", super::strerror(-rc)));
        }
        mapped = rc;
        i = j;
    }
    Ok(mapped)
}

/// Physical addresses of `n` pages of `page` bytes from `va`
/// (`/proc/self/pagemap`: bit 63 present, bits 0-54 the 4 KiB frame).
fn physical(va: usize, n: usize, page: usize) -> Result<Vec<u64>, String> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open("/proc/self/pagemap")
        .map_err(|e| format!("IOVA as PA needs /proc/self/pagemap: {e}"))?;
    let mut out = Vec::with_capacity(n);
    let mut e = [0u8; 8];
    for i in 0..n {
        let at = (va + i * page) / SMALL * 8;
        f.read_exact_at(&mut e, at as u64)
            .map_err(|err| format!("reading /proc/self/pagemap: {err}"))?;
        let v = u64::from_le_bytes(e);
        let pfn = v & ((1 << 55) - 1);
        if v >> 63 == 0 || pfn == 0 {
            return Err(
                "IOVA as PA: /proc/self/pagemap gives no physical address (not root?)".into(),
            );
        }
        out.push(pfn * SMALL as u64);
    }
    Ok(out)
}
