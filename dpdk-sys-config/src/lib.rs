//! `dpdk-sys`: the DPDK FFI of anyedge.
//!
//! - With the `link` feature (turned on by anyedge-port's `dpdk` feature), the
//!   build script finds DPDK >= 22.11 with pkg-config (`libdpdk`), compiles the
//!   C shim in `shim/` and links DPDK. The shim wraps the static-inline fast
//!   path that Rust cannot bind (rx/tx burst, mbuf alloc/free/bulk-free, data
//!   pointer and lengths, chaining, `rte_pktmbuf_attach_extbuf`, prefetch) and
//!   flattens the configuration structs. Every declaration here is written by
//!   hand against `shim/anyedge_dpdk.h`: no bindgen, no libclang.
//! - The mbuf fields the fast path reads are declared in [`rte_mbuf`] with
//!   DPDK 22.11's layout. The shim pins that layout with `_Static_assert`, and
//!   a test compares it with [`ae_layout`] at run time.
//! - [`profiles`]: EAL argument presets for a real NIC, net_null, net_tap and
//!   net_memif (files in `profiles/`), usable without DPDK.
//!
//! Without the `link` feature only [`profiles`] and the constants are built,
//! so the workspace builds on machines without DPDK.
#![allow(unsafe_code)] // FFI: this crate is one of the two places unsafe lives.
#![allow(non_camel_case_types)]

#[cfg(feature = "link")]
use core::ffi::c_int;
use core::ffi::{c_char, c_uint, c_void};

pub mod profiles;

/// `RTE_PKTMBUF_HEADROOM` of the Debian build (checked by the shim).
pub const RTE_PKTMBUF_HEADROOM: u16 = 128;
/// `RTE_MBUF_DEFAULT_BUF_SIZE`: 2048 bytes of data room plus the headroom.
pub const RTE_MBUF_DEFAULT_BUF_SIZE: u16 = 2048 + RTE_PKTMBUF_HEADROOM;
/// `LCORE_ID_ANY`: the lcore id of a thread the EAL does not know.
pub const LCORE_ID_ANY: c_uint = u32::MAX;

/// mbuf `ol_flags` bits (`RTE_MBUF_F_*`).
pub mod mbuf_flags {
    /// Mask of the IPv4 header checksum status on receive.
    pub const RX_IP_CKSUM_MASK: u64 = 0x90;
    /// IPv4 header checksum is wrong.
    pub const RX_IP_CKSUM_BAD: u64 = 0x10;
    /// IPv4 header checksum is right.
    pub const RX_IP_CKSUM_GOOD: u64 = 0x80;
    /// Mask of the L4 checksum status on receive.
    pub const RX_L4_CKSUM_MASK: u64 = 0x108;
    /// L4 checksum is wrong.
    pub const RX_L4_CKSUM_BAD: u64 = 0x8;
    /// L4 checksum is right.
    pub const RX_L4_CKSUM_GOOD: u64 = 0x100;
    /// TX: the packet is IPv4.
    pub const TX_IPV4: u64 = 1 << 55;
    /// TX: compute the IPv4 header checksum.
    pub const TX_IP_CKSUM: u64 = 1 << 54;
    /// TX: compute the TCP checksum.
    pub const TX_TCP_CKSUM: u64 = 1 << 52;
    /// TX: compute the UDP checksum.
    pub const TX_UDP_CKSUM: u64 = 3 << 52;
    /// TX: TCP segmentation offload.
    pub const TX_TCP_SEG: u64 = 1 << 50;
    /// The mbuf points at an external buffer.
    pub const EXTERNAL: u64 = 1 << 61;
}

/// Port offload bits (`RTE_ETH_RX_OFFLOAD_*`, `RTE_ETH_TX_OFFLOAD_*`) and RSS
/// hash functions (`RTE_ETH_RSS_*`).
pub mod offload {
    /// RX: verify IPv4 header checksums.
    pub const RX_IPV4_CKSUM: u64 = 0x2;
    /// RX: verify UDP checksums.
    pub const RX_UDP_CKSUM: u64 = 0x4;
    /// RX: verify TCP checksums.
    pub const RX_TCP_CKSUM: u64 = 0x8;
    /// TX: fill IPv4 header checksums.
    pub const TX_IPV4_CKSUM: u64 = 0x2;
    /// TX: fill UDP checksums.
    pub const TX_UDP_CKSUM: u64 = 0x4;
    /// TX: fill TCP checksums.
    pub const TX_TCP_CKSUM: u64 = 0x8;
    /// TX: TCP segmentation.
    pub const TX_TCP_TSO: u64 = 0x20;
    /// TX: chained (multi-segment) mbufs.
    pub const TX_MULTI_SEGS: u64 = 0x8000;
    /// RSS over IPv4/IPv6 addresses.
    pub const RSS_IP: u64 = 0xa38c;
    /// RSS over TCP ports (with the addresses).
    pub const RSS_TCP: u64 = 0x10410;
    /// RSS over UDP ports (with the addresses).
    pub const RSS_UDP: u64 = 0x20820;
}

/// `struct rte_mbuf` of DPDK 22.11 (x86_64, `RTE_IOVA_AS_PA`): the fields of
/// the first cache line and the start of the second. Only ever used behind a
/// pointer that DPDK handed out; never constructed in Rust.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct rte_mbuf {
    /// Virtual address of the buffer.
    pub buf_addr: *mut c_void,
    /// IO address of the buffer.
    pub buf_iova: u64,
    /// Offset of the data in the buffer (the headroom).
    pub data_off: u16,
    /// Reference count.
    pub refcnt: u16,
    /// Number of segments in the chain (valid in the first segment).
    pub nb_segs: u16,
    /// Input port.
    pub port: u16,
    /// Offload flags (`RTE_MBUF_F_*`).
    pub ol_flags: u64,
    /// Packet type (`RTE_PTYPE_*`).
    pub packet_type: u32,
    /// Length of the whole chain (valid in the first segment).
    pub pkt_len: u32,
    /// Length of this segment's data.
    pub data_len: u16,
    /// VLAN TCI.
    pub vlan_tci: u16,
    /// RSS hash and other per-packet metadata.
    pub hash: [u32; 2],
    /// Outer VLAN TCI.
    pub vlan_tci_outer: u16,
    /// Size of the buffer.
    pub buf_len: u16,
    /// The pool the mbuf came from.
    pub pool: *mut rte_mempool,
    /// Next segment of the chain, or null.
    pub next: *mut rte_mbuf,
    /// TX offload lengths (l2_len:7, l3_len:9, l4_len:8, tso_segsz:16, ...).
    pub tx_offload: u64,
    /// Shared info of an external buffer.
    pub shinfo: *mut rte_mbuf_ext_shared_info,
    /// Size of the private area after the mbuf.
    pub priv_size: u16,
    /// Timesync flags.
    pub timesync: u16,
    /// Dynamic fields.
    pub dynfield1: [u32; 9],
}

/// `struct rte_mempool` (opaque).
#[repr(C)]
pub struct rte_mempool {
    _private: [u8; 0],
}

/// `struct rte_memzone` (opaque; read through the shim's accessors).
#[repr(C)]
pub struct rte_memzone {
    _private: [u8; 0],
}

/// Called when the last mbuf attached to an external buffer is freed.
pub type ExtFreeCb = unsafe extern "C" fn(addr: *mut c_void, opaque: *mut c_void);

/// `struct rte_mbuf_ext_shared_info`: owner of an external buffer.
#[repr(C)]
#[derive(Debug)]
pub struct rte_mbuf_ext_shared_info {
    /// Called when `refcnt` drops to zero.
    pub free_cb: Option<ExtFreeCb>,
    /// Argument of `free_cb`.
    pub fcb_opaque: *mut c_void,
    /// Number of owners (mbufs plus whoever created it).
    pub refcnt: u16,
}

/// Facts from `rte_eth_dev_info_get` and friends (`struct ae_dev_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ae_dev_info {
    /// Driver name, NUL-terminated.
    pub driver: [c_char; 64],
    /// Device name, NUL-terminated.
    pub name: [c_char; 64],
    /// Kernel interface, NUL-terminated, or empty.
    pub iface: [c_char; 32],
    /// MAC address.
    pub mac: [u8; 6],
    /// MTU.
    pub mtu: u16,
    /// Smallest MTU.
    pub min_mtu: u16,
    /// Largest MTU.
    pub max_mtu: u16,
    /// Most receive queues.
    pub max_rx_queues: u16,
    /// Most transmit queues.
    pub max_tx_queues: u16,
    /// Largest receivable frame.
    pub max_rx_pktlen: u32,
    /// `RTE_ETH_RX_OFFLOAD_*` the port has.
    pub rx_offload_capa: u64,
    /// `RTE_ETH_TX_OFFLOAD_*` the port has.
    pub tx_offload_capa: u64,
    /// `RTE_ETH_RSS_*` the port can hash.
    pub flow_type_rss_offloads: u64,
    /// RSS redirection table size.
    pub reta_size: u16,
    /// RSS key size.
    pub hash_key_size: u8,
    /// Most receive descriptors per queue.
    pub rx_desc_max: u16,
    /// Most transmit descriptors per queue.
    pub tx_desc_max: u16,
    /// `RTE_ETH_LINK_SPEED_*` bitmap.
    pub speed_capa: u32,
    /// NUMA socket, -1 when unknown.
    pub socket: i32,
}

impl Default for ae_dev_info {
    fn default() -> Self {
        ae_dev_info {
            driver: [0; 64],
            name: [0; 64],
            iface: [0; 32],
            mac: [0; 6],
            mtu: 0,
            min_mtu: 0,
            max_mtu: 0,
            max_rx_queues: 0,
            max_tx_queues: 0,
            max_rx_pktlen: 0,
            rx_offload_capa: 0,
            tx_offload_capa: 0,
            flow_type_rss_offloads: 0,
            reta_size: 0,
            hash_key_size: 0,
            rx_desc_max: 0,
            tx_desc_max: 0,
            speed_capa: 0,
            socket: -1,
        }
    }
}

/// What `ae_port_setup` configures (`struct ae_port_conf`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ae_port_conf {
    /// Receive queues.
    pub nb_rxq: u16,
    /// Transmit queues.
    pub nb_txq: u16,
    /// Receive descriptors per queue.
    pub nb_rxd: u16,
    /// Transmit descriptors per queue.
    pub nb_txd: u16,
    /// RX offloads to enable.
    pub rx_offloads: u64,
    /// TX offloads to enable.
    pub tx_offloads: u64,
    /// RSS hash functions; 0 = no RSS.
    pub rss_hf: u64,
    /// NUMA socket of the queues.
    pub socket: i32,
    /// Enable promiscuous mode.
    pub promiscuous: u8,
}

/// Link state (`struct ae_link`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ae_link {
    /// Speed in Mbit/s.
    pub speed_mbps: u32,
    /// 1 when up.
    pub up: u8,
    /// 1 for full duplex.
    pub full_duplex: u8,
    /// 1 for autonegotiation.
    pub autoneg: u8,
}

/// Basic port statistics (`struct ae_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ae_stats {
    /// Frames received.
    pub ipackets: u64,
    /// Frames sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Frames the hardware dropped for lack of descriptors.
    pub imissed: u64,
    /// Erroneous frames received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receive buffer allocation failures.
    pub rx_nombuf: u64,
}

/// One extended statistic (`struct ae_xstat`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ae_xstat {
    /// Name, NUL-terminated.
    pub name: [c_char; 64],
    /// Value.
    pub value: u64,
}

impl Default for ae_xstat {
    fn default() -> Self {
        ae_xstat {
            name: [0; 64],
            value: 0,
        }
    }
}

/// Offsets and sizes the shim was compiled with (`struct ae_layout`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ae_layout {
    /// `sizeof(struct rte_mbuf)`
    pub mbuf_size: u32,
    /// offset of `buf_addr`
    pub buf_addr: u32,
    /// offset of `data_off`
    pub data_off: u32,
    /// offset of `refcnt`
    pub refcnt: u32,
    /// offset of `nb_segs`
    pub nb_segs: u32,
    /// offset of `port`
    pub port: u32,
    /// offset of `ol_flags`
    pub ol_flags: u32,
    /// offset of `packet_type`
    pub packet_type: u32,
    /// offset of `pkt_len`
    pub pkt_len: u32,
    /// offset of `data_len`
    pub data_len: u32,
    /// offset of `buf_len`
    pub buf_len: u32,
    /// offset of `pool`
    pub pool: u32,
    /// offset of `next`
    pub next: u32,
    /// offset of `tx_offload`
    pub tx_offload: u32,
    /// `sizeof(struct rte_mbuf_ext_shared_info)`
    pub shinfo_size: u32,
    /// `RTE_PKTMBUF_HEADROOM`
    pub headroom: u32,
}

impl ae_layout {
    /// The layout this crate's Rust declarations assume.
    pub fn rust() -> ae_layout {
        use core::mem::{offset_of, size_of};
        ae_layout {
            mbuf_size: size_of::<rte_mbuf>() as u32,
            buf_addr: offset_of!(rte_mbuf, buf_addr) as u32,
            data_off: offset_of!(rte_mbuf, data_off) as u32,
            refcnt: offset_of!(rte_mbuf, refcnt) as u32,
            nb_segs: offset_of!(rte_mbuf, nb_segs) as u32,
            port: offset_of!(rte_mbuf, port) as u32,
            ol_flags: offset_of!(rte_mbuf, ol_flags) as u32,
            packet_type: offset_of!(rte_mbuf, packet_type) as u32,
            pkt_len: offset_of!(rte_mbuf, pkt_len) as u32,
            data_len: offset_of!(rte_mbuf, data_len) as u32,
            buf_len: offset_of!(rte_mbuf, buf_len) as u32,
            pool: offset_of!(rte_mbuf, pool) as u32,
            next: offset_of!(rte_mbuf, next) as u32,
            tx_offload: offset_of!(rte_mbuf, tx_offload) as u32,
            shinfo_size: size_of::<rte_mbuf_ext_shared_info>() as u32,
            headroom: RTE_PKTMBUF_HEADROOM as u32,
        }
    }
}

/// Reads a NUL-terminated C string from a fixed array.
pub fn c_str(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(feature = "link")]
extern "C" {
    /// `rte_eal_init`; the number of parsed arguments or a negative errno.
    pub fn ae_eal_init(argc: c_int, argv: *mut *mut c_char) -> c_int;
    /// `rte_eal_cleanup`.
    pub fn ae_eal_cleanup() -> c_int;
    /// 1 on hugepages, 0 with `--no-huge`.
    pub fn ae_eal_has_hugepages() -> c_int;
    /// `rte_errno`.
    pub fn ae_errno() -> c_int;
    /// `rte_strerror`.
    pub fn ae_strerror(err: c_int) -> *const c_char;
    /// Registers the calling thread as an lcore; its lcore id or -1.
    pub fn ae_thread_register() -> c_int;
    /// `rte_lcore_id()`.
    pub fn ae_lcore_id() -> c_uint;
    /// `rte_socket_id()`.
    pub fn ae_socket_id() -> c_int;
    /// Hugepage size in bytes, 0 with `--no-huge`.
    pub fn ae_hugepage_size() -> u64;

    /// `rte_memzone_reserve_aligned` (2 MiB pages preferred, 2 MiB aligned);
    /// null with `rte_errno` set on failure.
    pub fn ae_memzone_reserve(name: *const c_char, len: usize) -> *const rte_memzone;
    /// The memzone's virtual address.
    pub fn ae_memzone_addr(mz: *const rte_memzone) -> *mut c_void;
    /// The memzone's length.
    pub fn ae_memzone_len(mz: *const rte_memzone) -> u64;
    /// The page size under the memzone, 0 with `--no-huge`.
    pub fn ae_memzone_page_size(mz: *const rte_memzone) -> u64;

    /// `rte_extmem_register` of `n_pages` pages of `page_sz` at `va` with
    /// their IOVAs; 0 or a negative errno.
    pub fn ae_extmem_register(
        va: *mut c_void,
        len: usize,
        iovas: *const u64,
        n_pages: c_uint,
        page_sz: usize,
    ) -> c_int;
    /// `rte_extmem_unregister`: undoes [`ae_extmem_register`] before the
    /// memory is unmapped; 0 or a negative errno.
    pub fn ae_extmem_unregister(va: *mut c_void, len: usize) -> c_int;
    /// `rte_dev_dma_map` for the device of every ethdev port; the ports
    /// mapped (a device without its own DMA mapping counts), or a negative
    /// errno.
    pub fn ae_dma_map_all(va: *mut c_void, iova: u64, len: usize) -> c_int;
    /// 1 when the EAL runs with IOVA as VA.
    pub fn ae_iova_is_va() -> c_int;
    /// 1 when `addr` lies in memory the EAL knows (its own, or registered
    /// with `rte_extmem_register`).
    pub fn ae_mem_is_known(addr: *const c_void) -> c_int;

    /// `rte_pktmbuf_pool_create`.
    pub fn ae_pool_create(
        name: *const c_char,
        n: c_uint,
        cache: c_uint,
        data_room: u16,
        socket: c_int,
    ) -> *mut rte_mempool;
    /// Free objects of the pool.
    pub fn ae_pool_avail(mp: *const rte_mempool) -> c_uint;
    /// Objects of the pool.
    pub fn ae_pool_size(mp: *const rte_mempool) -> c_uint;

    /// `rte_pktmbuf_alloc`.
    pub fn ae_mbuf_alloc(mp: *mut rte_mempool) -> *mut rte_mbuf;
    /// `rte_pktmbuf_alloc_bulk`: 0 or a negative errno (then nothing is allocated).
    pub fn ae_mbuf_alloc_bulk(mp: *mut rte_mempool, mbufs: *mut *mut rte_mbuf, n: c_uint) -> c_int;
    /// `rte_pktmbuf_free` (the whole chain).
    pub fn ae_mbuf_free(m: *mut rte_mbuf);
    /// `rte_pktmbuf_free_bulk`.
    pub fn ae_mbuf_free_bulk(mbufs: *mut *mut rte_mbuf, n: c_uint);
    /// `rte_pktmbuf_mtod`.
    pub fn ae_mbuf_data(m: *mut rte_mbuf) -> *mut c_void;
    /// `rte_pktmbuf_data_len`.
    pub fn ae_mbuf_data_len(m: *const rte_mbuf) -> u16;
    /// `rte_pktmbuf_pkt_len`.
    pub fn ae_mbuf_pkt_len(m: *const rte_mbuf) -> u32;
    /// `rte_pktmbuf_chain`: 0 or `-EOVERFLOW`.
    pub fn ae_mbuf_chain(head: *mut rte_mbuf, tail: *mut rte_mbuf) -> c_int;
    /// `rte_pktmbuf_prepend`.
    pub fn ae_mbuf_prepend(m: *mut rte_mbuf, len: u16) -> *mut c_char;
    /// `rte_pktmbuf_adj`.
    pub fn ae_mbuf_adj(m: *mut rte_mbuf, len: u16) -> *mut c_char;
    /// `rte_pktmbuf_append`.
    pub fn ae_mbuf_append(m: *mut rte_mbuf, len: u16) -> *mut c_char;
    /// `rte_pktmbuf_reset`.
    pub fn ae_mbuf_reset(m: *mut rte_mbuf);
    /// Attaches `len` bytes at `buf_addr` (owned by `shinfo`) to a fresh mbuf.
    pub fn ae_mbuf_attach_extbuf(
        m: *mut rte_mbuf,
        buf_addr: *mut c_void,
        buf_iova: u64,
        len: u16,
        shinfo: *mut rte_mbuf_ext_shared_info,
    );
    /// Initialises a shared info: refcnt 1.
    pub fn ae_ext_shinfo_init(
        shinfo: *mut rte_mbuf_ext_shared_info,
        free_cb: Option<ExtFreeCb>,
        opaque: *mut c_void,
    );
    /// `rte_mbuf_ext_refcnt_update`.
    pub fn ae_ext_refcnt_update(shinfo: *mut rte_mbuf_ext_shared_info, delta: i16) -> u16;
    /// `rte_mbuf_ext_refcnt_read`.
    pub fn ae_ext_refcnt_read(shinfo: *const rte_mbuf_ext_shared_info) -> u16;
    /// `rte_mem_virt2iova`.
    pub fn ae_virt2iova(addr: *const c_void) -> u64;
    /// `rte_prefetch0`.
    pub fn ae_prefetch0(p: *const c_void);

    /// `rte_eth_rx_burst`.
    pub fn ae_rx_burst(port: u16, queue: u16, pkts: *mut *mut rte_mbuf, n: u16) -> u16;
    /// `rte_eth_tx_burst`.
    pub fn ae_tx_burst(port: u16, queue: u16, pkts: *mut *mut rte_mbuf, n: u16) -> u16;
    /// `rte_eth_tx_prepare`.
    pub fn ae_tx_prepare(port: u16, queue: u16, pkts: *mut *mut rte_mbuf, n: u16) -> u16;
    /// `rte_eth_dev_count_avail`.
    pub fn ae_port_count() -> u16;
    /// `rte_eth_dev_is_valid_port`.
    pub fn ae_port_valid(port: u16) -> c_int;
    /// Device facts.
    pub fn ae_port_info(port: u16, out: *mut ae_dev_info) -> c_int;
    /// Configure, set up queues, start.
    pub fn ae_port_setup(
        port: u16,
        conf: *const ae_port_conf,
        pool: *mut rte_mempool,
        err: *mut c_char,
        err_len: usize,
    ) -> c_int;
    /// `rte_eth_dev_stop`.
    pub fn ae_port_stop(port: u16) -> c_int;
    /// `rte_eth_dev_close`.
    pub fn ae_port_close(port: u16) -> c_int;
    /// `rte_eth_link_get_nowait`.
    pub fn ae_port_link(port: u16, out: *mut ae_link) -> c_int;
    /// `rte_eth_stats_get`.
    pub fn ae_port_stats(port: u16, out: *mut ae_stats) -> c_int;
    /// Extended statistics; returns how many the port has.
    pub fn ae_port_xstats(port: u16, out: *mut ae_xstat, cap: c_uint) -> c_int;
    /// The layout the shim was compiled with.
    pub fn ae_layout(out: *mut ae_layout);
}

/// DPDK version the shim was built against (from pkg-config).
#[cfg(feature = "link")]
pub const DPDK_VERSION: &str = env!("AE_DPDK_VERSION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_layout_is_dpdk_22_11() {
        let l = ae_layout::rust();
        assert_eq!(l.mbuf_size, 128);
        assert_eq!(
            (l.data_off, l.pkt_len, l.data_len, l.buf_len),
            (16, 36, 40, 54)
        );
        assert_eq!(
            (l.pool, l.next, l.tx_offload, l.shinfo_size),
            (56, 64, 72, 24)
        );
    }

    #[cfg(feature = "link")]
    #[test]
    fn rust_layout_matches_the_shim() {
        let mut c = ae_layout::default();
        // SAFETY: ae_layout only writes the struct it is given.
        unsafe { ae_layout(&mut c) };
        assert_eq!(c, ae_layout::rust());
    }
}
