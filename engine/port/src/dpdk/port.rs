//! [`DpdkPort`]: a DPDK ethdev split into per-core queues.
//!
//! [`DpdkPort::open_all`] sets up every port the EAL probed, in port-id order
//! (the order of `-a` and `--vdev` on the command line): one mbuf pool shared
//! by the ports, sized from the queue, descriptor and core counts;
//! `--rxq/--txq` queues per port; RSS over IP addresses and TCP ports when
//! there is more than one receive queue; the checksum, multi-segment and TSO
//! offloads the device reports in `dev_info`; promiscuous mode.
//!
//! Counters: packets and bytes come from the device (`rte_eth_stats_get`,
//! read by the control plane when it asks), so the fast path counts nothing
//! per packet. The queues count only what the device cannot see: transmit
//! refusals, failed allocations and frames dropped for a bad checksum.

use super::csum::{self, Verdict};
use super::eal::{ensure_lcore, Eal};
use super::ext::ExtRegion;
use super::mbuf::DpdkBuf;
use super::{rte_errno, strerror, DpdkError};
use crate::counters::{Counter, QueueCounters};
use crate::{FrameBuf, MacAddr, Port, PortCaps, PortInfo, RxQueue, SharedBytes, TxQueue};
use dpdk_sys::{offload, rte_mbuf, rte_mempool};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Per-lcore mempool cache size (testpmd's default, DEF_MBUF_CACHE).
pub const MBUF_CACHE: u32 = 250;
/// Receive and transmit descriptors per queue (adjusted to the device limits).
pub const NB_DESC: u16 = 1024;

/// How to set up the ports.
#[derive(Clone, Debug)]
pub struct DpdkConfig {
    /// Receive queues per port (`--rxq`).
    pub rxq: u16,
    /// Transmit queues per port (`--txq`).
    pub txq: u16,
    /// Receive descriptors per queue.
    pub nb_rxd: u16,
    /// Transmit descriptors per queue.
    pub nb_txd: u16,
    /// Polling cores that will use the pool (for its cache reserve).
    pub cores: usize,
    /// Frames per burst.
    pub burst: u16,
    /// Mbufs in the pool (`--total-num-mbufs`); raised to the minimum the
    /// queues need.
    pub total_mbufs: usize,
    /// Enable promiscuous mode.
    pub promiscuous: bool,
}

impl Default for DpdkConfig {
    fn default() -> Self {
        DpdkConfig {
            rxq: 1,
            txq: 1,
            nb_rxd: NB_DESC,
            nb_txd: NB_DESC,
            cores: 1,
            burst: 32,
            total_mbufs: 8192,
            promiscuous: true,
        }
    }
}

impl DpdkConfig {
    /// The fewest mbufs that `nports` ports never run dry with: every
    /// descriptor filled, every core's cache full, a burst in flight per queue.
    pub fn min_mbufs(&self, nports: usize) -> usize {
        let q = usize::from(self.rxq.max(self.txq));
        nports
            * (usize::from(self.rxq) * usize::from(self.nb_rxd)
                + usize::from(self.txq) * usize::from(self.nb_txd)
                + 2 * q * usize::from(self.burst))
            + (self.cores + 1) * (MBUF_CACHE as usize + usize::from(self.burst))
            + 1024
    }
}

/// A mempool pointer that may cross threads (mempools are thread-safe).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pool(NonNull<rte_mempool>);

// SAFETY: DPDK mempools (ring_mp_mc) may be used from any thread, and pools
// are never freed.
unsafe impl Send for Pool {}
// SAFETY: as above; the pointer itself is never written.
unsafe impl Sync for Pool {}

impl Pool {
    pub(crate) fn as_ptr(self) -> *mut rte_mempool {
        self.0.as_ptr()
    }

    /// Free mbufs now.
    pub(crate) fn avail(self) -> u32 {
        // SAFETY: a live pool.
        unsafe { dpdk_sys::ae_pool_avail(self.as_ptr()) }
    }
}

/// The state every handle of a port shares: its id and whether it is closed.
#[derive(Debug)]
pub(crate) struct PortShared {
    id: u16,
    closed: AtomicBool,
}

impl PortShared {
    #[inline]
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Stops and closes the device, once.
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        // SAFETY: the port is valid (opened by open_all) and, by the Eal's
        // contract, no core polls it any more.
        let (s, c) = unsafe {
            (
                dpdk_sys::ae_port_stop(self.id),
                dpdk_sys::ae_port_close(self.id),
            )
        };
        if s != 0 || c != 0 {
            log::warn!(
                "port {}: stop {} / close {}",
                self.id,
                if s == 0 { "ok".into() } else { strerror(s) },
                if c == 0 { "ok".into() } else { strerror(c) }
            );
        } else {
            log::info!("port {}: stopped and closed", self.id);
        }
    }
}

/// Receive-side drops the port itself makes (checksum offload).
#[derive(Debug, Default)]
struct CsumDrops {
    bad_ip: Counter,
    bad_l4: Counter,
}

/// A DPDK ethdev.
pub struct DpdkPort {
    shared: Arc<PortShared>,
    info: PortInfo,
    dev: dpdk_sys::ae_dev_info,
    pool: Pool,
    rx_offloads: u64,
    tx_offloads: u64,
    rss_hf: u64,
    /// Device totals, refreshed from rte_eth_stats_get by queue_counters().
    hw: Arc<QueueCounters>,
    rxc: Vec<Arc<QueueCounters>>,
    txc: Vec<Arc<QueueCounters>>,
    drops: Vec<Arc<CsumDrops>>,
    taken: bool,
}

impl std::fmt::Debug for DpdkPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkPort")
            .field("id", &self.shared.id)
            .field("info", &self.info)
            .finish()
    }
}

fn pool_name() -> &'static std::ffi::CStr {
    c"ae_mbuf_pool"
}

/// Driver names as `&'static str` (PortInfo's type), leaked once per name.
fn static_name(s: &str) -> &'static str {
    static NAMES: OnceLock<std::sync::Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut m = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    m.entry(s.to_string())
        .or_insert_with(|| Box::leak(s.to_string().into_boxed_str()))
}

impl DpdkPort {
    /// Sets up and starts every port the EAL probed, sharing one mbuf pool.
    pub fn open_all(eal: &Eal, cfg: &DpdkConfig) -> Result<Vec<DpdkPort>, DpdkError> {
        let n = eal.port_count();
        if n == 0 {
            return Err(DpdkError(
                "DPDK found no ports: give a device, e.g. --vdev net_tap0,iface=ae0 or -a 0000:3b:00.0"
                    .into(),
            ));
        }
        let need = cfg.min_mbufs(usize::from(n));
        let count = cfg.total_mbufs.max(need);
        if count > cfg.total_mbufs {
            log::info!(
                "mbuf pool: {} mbufs asked, {count} needed for {n} port(s) x ({} rxq x {} + {} txq x {} descriptors) and {} core(s)",
                cfg.total_mbufs, cfg.rxq, cfg.nb_rxd, cfg.txq, cfg.nb_txd, cfg.cores
            );
        }
        let mut info0 = dpdk_sys::ae_dev_info::default();
        // SAFETY: port 0 exists (n > 0); info0 is written by the call.
        unsafe { dpdk_sys::ae_port_info(0, &mut info0) };
        // SAFETY: name is a valid C string; the EAL is initialised.
        let pool = unsafe {
            dpdk_sys::ae_pool_create(
                pool_name().as_ptr(),
                count as u32,
                MBUF_CACHE,
                dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE,
                info0.socket.max(-1),
            )
        };
        let pool = NonNull::new(pool).map(Pool).ok_or_else(|| {
            DpdkError(format!(
                "cannot create the mbuf pool ({count} mbufs of {} bytes): {}; give the EAL more memory (-m) or fewer --total-num-mbufs",
                dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE,
                strerror(rte_errno())
            ))
        })?;
        log::info!(
            "mbuf pool: {count} mbufs of {} bytes, cache {MBUF_CACHE} per lcore, {}",
            dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE,
            if eal.hugepages() {
                format!("on {} kB hugepages", eal.hugepage_size() / 1024)
            } else {
                "not on hugepages (--no-huge)".to_string()
            }
        );
        (0..n)
            .map(|id| DpdkPort::open(eal, id, cfg, pool))
            .collect()
    }

    fn open(eal: &Eal, id: u16, cfg: &DpdkConfig, pool: Pool) -> Result<DpdkPort, DpdkError> {
        let mut dev = dpdk_sys::ae_dev_info::default();
        // SAFETY: id < rte_eth_dev_count_avail(); dev is written by the call.
        let r = unsafe { dpdk_sys::ae_port_info(id, &mut dev) };
        if r != 0 {
            return Err(DpdkError(format!(
                "port {id}: rte_eth_dev_info_get: {}",
                strerror(r)
            )));
        }
        let name = dpdk_sys::c_str(&dev.name);
        let driver = dpdk_sys::c_str(&dev.driver);
        if cfg.rxq > dev.max_rx_queues || cfg.txq > dev.max_tx_queues {
            return Err(DpdkError(format!(
                "port {id} ({name}, {driver}): --rxq={} --txq={} but the device has at most {} rx and {} tx queues",
                cfg.rxq, cfg.txq, dev.max_rx_queues, dev.max_tx_queues
            )));
        }
        let rx_want = offload::RX_IPV4_CKSUM | offload::RX_TCP_CKSUM | offload::RX_UDP_CKSUM;
        let rx_offloads = dev.rx_offload_capa & rx_want;
        let tx_want = offload::TX_IPV4_CKSUM
            | offload::TX_TCP_CKSUM
            | offload::TX_UDP_CKSUM
            | offload::TX_MULTI_SEGS
            | offload::TX_TCP_TSO;
        let tx_offloads = dev.tx_offload_capa & tx_want;
        let rss_hf = if cfg.rxq > 1 {
            let hf = (offload::RSS_IP | offload::RSS_TCP) & dev.flow_type_rss_offloads;
            if hf == 0 {
                log::warn!("port {id} ({name}): no RSS over IP/TCP; {} receive queues will not share the load", cfg.rxq);
            }
            hf
        } else {
            0
        };
        let conf = dpdk_sys::ae_port_conf {
            nb_rxq: cfg.rxq,
            nb_txq: cfg.txq,
            nb_rxd: cfg.nb_rxd,
            nb_txd: cfg.nb_txd,
            rx_offloads,
            tx_offloads,
            rss_hf,
            socket: dev.socket,
            promiscuous: u8::from(cfg.promiscuous),
        };
        let mut err = [0 as std::os::raw::c_char; 256];
        // SAFETY: a valid port, a live pool, conf and err outlive the call.
        let r = unsafe {
            dpdk_sys::ae_port_setup(id, &conf, pool.as_ptr(), err.as_mut_ptr(), err.len())
        };
        if r != 0 {
            return Err(DpdkError(format!(
                "port {id} ({name}, {driver}): {}",
                dpdk_sys::c_str(&err)
            )));
        }
        let caps = PortCaps {
            rx_ipv4_csum: rx_offloads & offload::RX_IPV4_CKSUM != 0,
            rx_l4_csum: rx_offloads & (offload::RX_TCP_CKSUM | offload::RX_UDP_CKSUM)
                == (offload::RX_TCP_CKSUM | offload::RX_UDP_CKSUM),
            tx_csum: tx_offloads & (offload::TX_IPV4_CKSUM | offload::TX_TCP_CKSUM)
                == (offload::TX_IPV4_CKSUM | offload::TX_TCP_CKSUM),
            tx_multi_seg: tx_offloads & offload::TX_MULTI_SEGS != 0,
            tx_tso: tx_offloads & offload::TX_TCP_TSO != 0,
        };
        let iface = dpdk_sys::c_str(&dev.iface);
        // DPDK's net_tap gives the kernel side of the TAP the PMD's own MAC,
        // so the kernel would see frames from its own address. The engine
        // answers with the address the software TAP port uses instead (same
        // on both builds, stable across restarts); promiscuous mode lets the
        // frames to it in.
        let mac: MacAddr = if driver == "net_tap" && !iface.is_empty() && cfg.promiscuous {
            crate::mac_from_name(&iface)
        } else {
            dev.mac
        };
        let info = PortInfo {
            driver: static_name(&driver),
            name: name.clone(),
            iface: (!iface.is_empty()).then_some(iface),
            mac,
            mtu: dev.mtu,
            rxq: cfg.rxq,
            txq: cfg.txq,
            caps,
        };
        log::info!(
            "port {id}: {name} ({driver}) mac {} mtu {} rxq {} txq {} max rxq/txq {}/{} rx offloads {rx_offloads:#x} of {:#x}, tx offloads {tx_offloads:#x} of {:#x}, rss {rss_hf:#x}, socket {}",
            crate::fmt_mac(&mac),
            dev.mtu,
            cfg.rxq,
            cfg.txq,
            dev.max_rx_queues,
            dev.max_tx_queues,
            dev.rx_offload_capa,
            dev.tx_offload_capa,
            dev.socket
        );
        let shared = Arc::new(PortShared {
            id,
            closed: AtomicBool::new(false),
        });
        eal.register_port(shared.clone());
        Ok(DpdkPort {
            shared,
            info,
            dev,
            pool,
            rx_offloads,
            tx_offloads,
            rss_hf,
            hw: Arc::new(QueueCounters::default()),
            rxc: (0..cfg.rxq)
                .map(|_| Arc::new(QueueCounters::default()))
                .collect(),
            txc: (0..cfg.txq)
                .map(|_| Arc::new(QueueCounters::default()))
                .collect(),
            drops: (0..cfg.rxq)
                .map(|_| Arc::new(CsumDrops::default()))
                .collect(),
            taken: false,
        })
    }

    /// The DPDK port id.
    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// Stops and closes the device (also done on drop and by
    /// [`Eal::close_ports`]). The queues must no longer be polled.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Device facts beyond [`PortInfo`]: (name, value) pairs for logs and
    /// diagnostics.
    pub fn dev_info(&self) -> Vec<(&'static str, String)> {
        let d = &self.dev;
        vec![
            ("min_mtu", d.min_mtu.to_string()),
            ("max_mtu", d.max_mtu.to_string()),
            ("max_rx_queues", d.max_rx_queues.to_string()),
            ("max_tx_queues", d.max_tx_queues.to_string()),
            ("max_rx_pktlen", d.max_rx_pktlen.to_string()),
            ("rx_offload_capa", format!("{:#x}", d.rx_offload_capa)),
            ("tx_offload_capa", format!("{:#x}", d.tx_offload_capa)),
            ("rx_offloads", format!("{:#x}", self.rx_offloads)),
            ("tx_offloads", format!("{:#x}", self.tx_offloads)),
            (
                "flow_type_rss_offloads",
                format!("{:#x}", d.flow_type_rss_offloads),
            ),
            ("rss_hf", format!("{:#x}", self.rss_hf)),
            ("reta_size", d.reta_size.to_string()),
            ("rx_desc_max", d.rx_desc_max.to_string()),
            ("tx_desc_max", d.tx_desc_max.to_string()),
            ("speed_capa", format!("{:#x}", d.speed_capa)),
            ("socket", d.socket.to_string()),
        ]
    }

    /// Link speed in Mbit/s (0 when unknown or down).
    pub fn link_speed(&self) -> u32 {
        self.link().map(|l| l.speed_mbps).unwrap_or(0)
    }

    fn link(&self) -> Option<dpdk_sys::ae_link> {
        if self.shared.is_closed() {
            return None;
        }
        let mut l = dpdk_sys::ae_link::default();
        // SAFETY: an open port; l is written by the call.
        (unsafe { dpdk_sys::ae_port_link(self.shared.id, &mut l) } == 0).then_some(l)
    }

    /// Copies the device totals into the port-level counters (single writer:
    /// the control plane, which holds the node).
    fn refresh_hw(&self) {
        if self.shared.is_closed() {
            return;
        }
        let mut s = dpdk_sys::ae_stats::default();
        // SAFETY: an open port; s is written by the call.
        if unsafe { dpdk_sys::ae_port_stats(self.shared.id, &mut s) } != 0 {
            return;
        }
        let set = |c: &Counter, v: u64| c.add(v.wrapping_sub(c.get()));
        set(&self.hw.rx_packets, s.ipackets);
        set(&self.hw.rx_bytes, s.ibytes);
        set(&self.hw.rx_dropped, s.imissed + s.ierrors);
        set(&self.hw.tx_packets, s.opackets);
        set(&self.hw.tx_bytes, s.obytes);
        set(&self.hw.tx_dropped, s.oerrors);
        set(&self.hw.alloc_failed, s.rx_nombuf);
    }
}

impl Drop for DpdkPort {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl Port for DpdkPort {
    type Buf = DpdkBuf;
    type Rx = DpdkRx;
    type Tx = DpdkTx;

    fn info(&self) -> PortInfo {
        self.info.clone()
    }

    fn link_up(&self) -> bool {
        self.link().is_some_and(|l| l.up != 0)
    }

    /// The receive queues, the transmit queues, then one port-level entry
    /// with the device's packet and byte totals (read now from
    /// `rte_eth_stats_get`); the queue entries count only the port's own
    /// drops and refusals, so the sum is the port's view.
    fn queue_counters(&self) -> Vec<Arc<QueueCounters>> {
        self.refresh_hw();
        let mut v: Vec<_> = self.rxc.iter().chain(self.txc.iter()).cloned().collect();
        v.push(self.hw.clone());
        v
    }

    fn take_queues(&mut self) -> (Vec<DpdkRx>, Vec<DpdkTx>) {
        if self.taken {
            return (Vec::new(), Vec::new());
        }
        self.taken = true;
        let rx_csum = self.info.caps.rx_ipv4_csum || self.info.caps.rx_l4_csum;
        let rx = (0..self.info.rxq)
            .map(|q| DpdkRx {
                port: self.shared.id,
                queue: q,
                shared: self.shared.clone(),
                rx_csum,
                counters: self.rxc[usize::from(q)].clone(),
                drops: self.drops[usize::from(q)].clone(),
            })
            .collect();
        let prepare = self.tx_offloads
            & (offload::TX_IPV4_CKSUM
                | offload::TX_TCP_CKSUM
                | offload::TX_UDP_CKSUM
                | offload::TX_TCP_TSO)
            != 0;
        let tx = (0..self.info.txq)
            .map(|q| DpdkTx {
                port: self.shared.id,
                queue: q,
                shared: self.shared.clone(),
                pool: self.pool,
                prepare,
                multi_seg: self.info.caps.tx_multi_seg,
                tx_csum: self.info.caps.tx_csum,
                tso: self.info.caps.tx_tso && self.info.caps.tx_multi_seg && self.info.caps.tx_csum,
                tso_wire_max: if self.info.driver == "net_tap" {
                    self.info.mtu.saturating_sub(14)
                } else {
                    self.info.mtu
                },
                va_ok: SOFTWARE_DRIVERS.contains(&self.info.driver),
                counters: self.txc[usize::from(q)].clone(),
            })
            .collect();
        (rx, tx)
    }

    fn dma_memory(&self, len: usize) -> Option<crate::DmaMemory> {
        let e = match super::memzone::reserve(len) {
            Ok(m) => return Some(m),
            Err(e) => e,
        };
        // Bigger than the EAL's memory: our own mapping, registered.
        match super::extmem::register(len) {
            Ok(m) => {
                log::info!("{e}; the cache region is {}", m.what);
                Some(m)
            }
            Err(e2) => {
                log::warn!(
                    "{e}; {e2}; the cache maps its own memory, which a NIC that DMAs may not reach (give the EAL more memory with -m or hugepages)"
                );
                None
            }
        }
    }

    fn xstats(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        if !self.shared.is_closed() {
            let mut buf = vec![dpdk_sys::ae_xstat::default(); 256];
            // SAFETY: an open port; buf has room for buf.len() entries.
            let n = unsafe {
                dpdk_sys::ae_port_xstats(self.shared.id, buf.as_mut_ptr(), buf.len() as u32)
            };
            for x in buf.iter().take(n.max(0) as usize) {
                out.push((dpdk_sys::c_str(&x.name), x.value));
            }
        }
        let sum = |f: &dyn Fn(&QueueCounters) -> u64, v: &[Arc<QueueCounters>]| {
            v.iter().map(|c| f(c)).sum::<u64>()
        };
        out.push((
            "anyedge_rx_bad_ip_csum".into(),
            self.drops.iter().map(|d| d.bad_ip.get()).sum(),
        ));
        out.push((
            "anyedge_rx_bad_l4_csum".into(),
            self.drops.iter().map(|d| d.bad_l4.get()).sum(),
        ));
        out.push((
            "anyedge_tx_refused".into(),
            sum(&|c| c.tx_dropped.get(), &self.txc),
        ));
        out.push((
            "anyedge_alloc_failed".into(),
            sum(&|c| c.alloc_failed.get(), &self.txc),
        ));
        out.push((
            "anyedge_mbuf_pool_avail".into(),
            u64::from(self.pool.avail()),
        ));
        out
    }
}

/// A receive queue of a DPDK port.
pub struct DpdkRx {
    port: u16,
    queue: u16,
    shared: Arc<PortShared>,
    rx_csum: bool,
    counters: Arc<QueueCounters>,
    drops: Arc<CsumDrops>,
}

impl RxQueue for DpdkRx {
    type Buf = DpdkBuf;

    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<DpdkBuf>, max: usize) -> usize {
        ensure_lcore();
        let start = out.len();
        let n = max.min(out.capacity() - start).min(usize::from(u16::MAX));
        if n == 0 || self.shared.is_closed() {
            return 0;
        }
        // SAFETY: out has room for n more elements after its length;
        // DpdkBuf is repr(transparent) over a non-null mbuf pointer, so the
        // spare capacity is a valid `struct rte_mbuf *[n]` for the driver to
        // fill; the queue is polled by this thread only (Port contract).
        let got = unsafe {
            let dst = out.as_mut_ptr().add(start).cast::<*mut rte_mbuf>();
            usize::from(dpdk_sys::ae_rx_burst(self.port, self.queue, dst, n as u16))
        };
        // SAFETY: the driver wrote `got` owned, non-null mbuf pointers.
        unsafe { out.set_len(start + got) };
        // No prefetch of the frame data here: on net_null (bench/fwd),
        // prefetching every received frame made macswap 15-25% slower.
        // Protocol code that reads the headers of cold frames can call
        // DpdkBuf::prefetch itself.
        if self.rx_csum && got > 0 {
            return self.filter_csum(out, start);
        }
        got
    }
}

impl DpdkRx {
    /// Drops the frames of `out[start..]` whose checksums are bad, keeping
    /// the order of the rest; returns how many remain.
    #[inline]
    fn filter_csum(&self, out: &mut Vec<DpdkBuf>, start: usize) -> usize {
        let mut keep = start;
        for i in start..out.len() {
            let v = csum::check(out[i].ol_flags(), out[i].data());
            if v == Verdict::Pass {
                out.swap(keep, i);
                keep += 1;
            } else {
                self.counters.rx_dropped.inc();
                match v {
                    Verdict::BadIp => self.drops.bad_ip.inc(),
                    _ => self.drops.bad_l4.inc(),
                }
            }
        }
        out.truncate(keep); // frees the bad ones
        keep - start
    }
}

/// A transmit queue of a DPDK port.
pub struct DpdkTx {
    port: u16,
    queue: u16,
    shared: Arc<PortShared>,
    pool: Pool,
    prepare: bool,
    /// The port sends mbuf chains (zero-copy TX, [`TxQueue::attach_tail`]).
    multi_seg: bool,
    /// The port fills IPv4 and TCP checksums ([`TxQueue::request_tcp_csum`]).
    tx_csum: bool,
    /// The port segments TCP (TSO, [`TxQueue::request_tso`]): only with
    /// chains and checksums, since a super-segment is a header mbuf plus
    /// its payload by reference and TSO fills every segment's checksums.
    tso: bool,
    /// The most bytes a segment cut by TSO may have on the wire beyond the
    /// TCP payload's own headers: the MTU (L3), or for net_tap, which
    /// compares the whole frame with its MTU, the MTU less the Ethernet
    /// header.
    tso_wire_max: u16,
    /// The driver reads frames by virtual address (a software vdev), so
    /// content outside the EAL's memory may be attached.
    va_ok: bool,
    counters: Arc<QueueCounters>,
}

/// Drivers that copy frames in software (by virtual address) rather than
/// let a device DMA them: content anywhere in the process may be attached.
const SOFTWARE_DRIVERS: &[&str] = &[
    "net_tap",
    "net_memif",
    "net_ring",
    "net_null",
    "net_af_packet",
    "net_pcap",
    "net_virtio_user",
    "net_vhost",
];

impl DpdkTx {
    /// A content segment: an mbuf pointing at `len` bytes of `region` from
    /// `off`, with no copy; chain it after a header mbuf
    /// ([`DpdkBuf::chain`]). Needs a port with
    /// [`PortCaps::tx_multi_seg`](crate::PortCaps).
    pub fn ext_segment(&mut self, region: &ExtRegion, off: usize, len: usize) -> Option<DpdkBuf> {
        ensure_lcore();
        let b = region.segment_from(self.pool.as_ptr(), off, len);
        if b.is_none() {
            self.counters.alloc_failed.inc();
        }
        b
    }
}

impl TxQueue for DpdkTx {
    type Buf = DpdkBuf;

    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<DpdkBuf>) -> usize {
        ensure_lcore();
        let len = bufs.len();
        let mut n = len.min(usize::from(u16::MAX));
        if n == 0 || self.shared.is_closed() {
            return 0;
        }
        let p = bufs.as_mut_ptr().cast::<*mut rte_mbuf>();
        if self.prepare {
            // SAFETY: p points at n owned mbufs; tx_prepare only adjusts
            // their offload fields.
            n = usize::from(unsafe { dpdk_sys::ae_tx_prepare(self.port, self.queue, p, n as u16) });
        }
        // SAFETY: p points at n owned mbufs; the driver takes ownership of
        // the first `sent` of them; this thread is the queue's only user.
        let sent =
            usize::from(unsafe { dpdk_sys::ae_tx_burst(self.port, self.queue, p, n as u16) });
        if sent == len {
            // SAFETY: every element now belongs to the driver: forget them
            // without dropping (freeing) any.
            unsafe { bufs.set_len(0) };
            return sent;
        }
        if sent > 0 {
            // SAFETY: the first `sent` elements now belong to the driver: move
            // the unsent ones to the front and shorten the vector without
            // dropping (freeing) anything.
            unsafe {
                std::ptr::copy(p.add(sent), p, len - sent);
                bufs.set_len(len - sent);
            }
        }
        self.counters.tx_dropped.add((len - sent) as u64);
        sent
    }

    #[inline]
    fn alloc(&mut self) -> Option<DpdkBuf> {
        ensure_lcore();
        // SAFETY: a live pool; a fresh mbuf is exclusively ours.
        let b = unsafe { DpdkBuf::from_raw(dpdk_sys::ae_mbuf_alloc(self.pool.as_ptr())) };
        if b.is_none() {
            self.counters.alloc_failed.inc();
        }
        b
    }

    #[inline]
    fn zero_copy(&self) -> bool {
        self.multi_seg
    }

    #[inline]
    fn tx_csum(&self) -> bool {
        self.tx_csum
    }

    #[inline]
    fn request_tcp_csum(&mut self, buf: &mut DpdkBuf, l2_len: u8, l3_len: u16) {
        buf.request_tx_csum(l2_len, l3_len, super::mbuf::TxL4Csum::Tcp);
    }

    #[inline]
    fn request_tso(&mut self, buf: &mut DpdkBuf, l2_len: u8, l3_len: u16, l4_len: u16, mss: u16) {
        if self.tso {
            // No segment above the MTU, whatever the peer's MSS allows (a
            // segment may always be shorter than the MSS).
            let fit = self.tso_wire_max.saturating_sub(l3_len + l4_len).max(1);
            buf.request_tso(l2_len, l3_len, l4_len, mss.min(fit));
        }
    }

    #[inline]
    fn tso_max(&self) -> usize {
        if self.tso {
            crate::TSO_MAX
        } else {
            0
        }
    }

    /// Chains an external-buffer mbuf pointing into `data` after the header
    /// mbuf ([`super::ext::shared_segment`]).
    fn attach_tail(
        &mut self,
        buf: &mut DpdkBuf,
        data: &SharedBytes,
        off: usize,
        len: usize,
    ) -> bool {
        if !self.multi_seg {
            return false;
        }
        ensure_lcore();
        let Some(seg) = super::ext::shared_segment(self.pool.as_ptr(), data, off, len, self.va_ok)
        else {
            return false;
        };
        // Two segments never exceed RTE_MBUF_MAX_NB_SEGS; on the impossible
        // failure the segment is freed (dropping its reference).
        if buf.chain(seg).is_err() {
            return false;
        }
        self.counters.tx_zero_copy.inc();
        true
    }
}
