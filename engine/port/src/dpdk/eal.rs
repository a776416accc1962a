//! The Environment Abstraction Layer: initialised once per process with the
//! EAL arguments as the operator gave them (`anyedge run [EAL] -- [app]`).

use super::port::PortShared;
use super::{rte_errno, strerror, DpdkError};
use std::cell::Cell;
use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The initialised EAL. Cloning shares it; it is never torn down before the
/// process ends, because mbufs and pools live in its memory.
#[derive(Clone)]
pub struct Eal {
    inner: Arc<EalInner>,
}

struct EalInner {
    hugepage_size: u64,
    ports: Mutex<Vec<Arc<PortShared>>>,
}

impl std::fmt::Debug for Eal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eal")
            .field("hugepage_size", &self.inner.hugepage_size)
            .finish()
    }
}

impl Eal {
    /// Runs `rte_eal_init` with `args` (the EAL arguments, without a program
    /// name) and reports where memory comes from. Only once per process: a
    /// second call is an error, as in DPDK.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError(
                "the DPDK EAL is already initialised in this process".into(),
            ));
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("anyedge").expect("no NUL"));
        for a in args {
            owned.push(
                CString::new(a.as_str())
                    .map_err(|_| DpdkError(format!("EAL argument {a:?} contains a NUL byte")))?,
            );
        }
        // The EAL may keep pointers into argv (getopt permutes it, and some
        // options are stored as given): leak the strings and the array, a
        // few hundred bytes once per process.
        let mut argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        argv.push(std::ptr::null_mut());
        let argc = (argv.len() - 1) as i32;
        let argv = Box::leak(argv.into_boxed_slice());
        // SAFETY: argv is a NULL-terminated array of argc valid, NUL-terminated
        // strings that live for the rest of the process (leaked above), and
        // this is the only call of rte_eal_init in the process (INITIALISED).
        let ret = unsafe { dpdk_sys::ae_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError(format!(
                "rte_eal_init failed: {} (EAL arguments: {})",
                strerror(ret),
                args.join(" ")
            )));
        }
        // SAFETY: plain queries of the initialised EAL.
        let (huge, page) = unsafe {
            (
                dpdk_sys::ae_eal_has_hugepages() != 0,
                dpdk_sys::ae_hugepage_size(),
            )
        };
        let eal = Eal {
            inner: Arc::new(EalInner {
                hugepage_size: if huge { page } else { 0 },
                ports: Mutex::new(Vec::new()),
            }),
        };
        LCORE.with(|c| c.set(true)); // this thread is the main lcore now
        if huge {
            log::info!(
                "DPDK {}: EAL up, running on hugepages ({} kB pages)",
                dpdk_sys::DPDK_VERSION,
                page / 1024
            );
        } else {
            log::info!(
                "DPDK {}: EAL up, not on hugepages (--no-huge): mbufs in ordinary memory",
                dpdk_sys::DPDK_VERSION
            );
        }
        Ok(eal)
    }

    /// Whether the EAL's memory is on hugepages.
    pub fn hugepages(&self) -> bool {
        self.inner.hugepage_size != 0
    }

    /// Size of the hugepages in bytes, 0 with `--no-huge`.
    pub fn hugepage_size(&self) -> u64 {
        self.inner.hugepage_size
    }

    /// Number of ethdev ports the EAL probed (vdevs and `-a` devices).
    pub fn port_count(&self) -> u16 {
        // SAFETY: plain query of the initialised EAL.
        unsafe { dpdk_sys::ae_port_count() }
    }

    pub(crate) fn register_port(&self, p: Arc<PortShared>) {
        self.inner
            .ports
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(p);
    }

    /// Stops and closes every port opened on this EAL (net_tap removes its
    /// interface here). Call it after the cores stopped polling; later
    /// calls, and the ports' own drops, do nothing more.
    pub fn close_ports(&self) {
        let ports = self.inner.ports.lock().unwrap_or_else(|e| e.into_inner());
        for p in ports.iter() {
            p.close();
        }
    }
}

thread_local! {
    static LCORE: Cell<bool> = const { Cell::new(false) };
}

/// Makes sure the calling thread is a registered lcore, so that the mempool
/// serves it from a per-lcore cache rather than the shared ring. The node's
/// polling threads are plain Rust threads, so each registers on its first
/// burst; the check costs one thread-local read per burst.
#[inline]
pub(crate) fn ensure_lcore() {
    LCORE.with(|c| {
        if !c.get() {
            c.set(true);
            register_thread();
        }
    });
}

#[cold]
fn register_thread() {
    // SAFETY: rte_thread_register is safe to call from any thread after
    // rte_eal_init; ae_thread_register returns at once for a thread that
    // already is an lcore.
    let id = unsafe { dpdk_sys::ae_thread_register() };
    let name = std::thread::current().name().unwrap_or("?").to_string();
    if id < 0 {
        log::warn!(
            "thread {name}: rte_thread_register failed ({}); its mbufs bypass the per-lcore cache",
            strerror(rte_errno())
        );
    } else {
        log::debug!("thread {name} is DPDK lcore {id}");
    }
}
