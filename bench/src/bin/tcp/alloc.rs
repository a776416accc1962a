//! A counting allocator: the memory a connection holds, measured.

use super::*;

/// The system allocator, counting the bytes live while counting is on.
pub(super) struct Counting;

pub(super) static COUNTING: AtomicBool = AtomicBool::new(false);
pub(super) static LIVE: AtomicI64 = AtomicI64::new(0);

#[allow(unsafe_code)] // A GlobalAlloc is unsafe by definition; it only forwards to System.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(new as i64 - l.size() as i64, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
pub(super) static ALLOC: Counting = Counting;

/// Bytes allocated (and not freed) by `f` while it runs on this thread
/// (the memory rows run before any other thread exists); `f`'s result is
/// dropped after the count.
pub(super) fn live_bytes_of<T>(f: impl FnOnce() -> Result<T>) -> Result<i64> {
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    let n = LIVE.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    drop(r?);
    Ok(n)
}

pub(super) fn pin(cpu: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        eprintln!("warning: could not pin a thread to cpu {cpu}");
    }
}
