/*
 * anyedge_dpdk.h: the C shim between Rust and DPDK (>= 22.11).
 *
 * DPDK's fast path is made of static inline functions in its headers
 * (rte_eth_rx_burst, rte_pktmbuf_alloc, rte_pktmbuf_free, ...): they have no
 * symbol that Rust could link to. This file declares small exported wrappers
 * around them, plus a few slow-path helpers that hide DPDK's large
 * configuration structs (rte_eth_conf, rte_eth_dev_info) behind flat structs
 * defined here. Rust declares the same functions and structs by hand in
 * src/lib.rs (no bindgen, no libclang); the layouts that Rust reads directly
 * (the first 96 bytes of struct rte_mbuf, struct rte_mbuf_ext_shared_info)
 * are pinned by _Static_assert in anyedge_dpdk.c and by a Rust test against
 * ae_layout().
 *
 * Conventions: functions return 0 or a count on success and a negative errno
 * on failure, as DPDK does; nothing here allocates on the fast path.
 */
#ifndef ANYEDGE_DPDK_H
#define ANYEDGE_DPDK_H

#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct rte_mbuf_ext_shared_info;

/* ---- EAL ---------------------------------------------------------------- */

/* rte_eal_init(argc, argv). Returns the number of parsed arguments, or a
 * negative rte_errno. */
int ae_eal_init(int argc, char **argv);
/* rte_eal_cleanup(). */
int ae_eal_cleanup(void);
/* 1 when the EAL runs on hugepages, 0 with --no-huge. */
int ae_eal_has_hugepages(void);
/* rte_errno and its message. */
int ae_errno(void);
const char *ae_strerror(int err);
/* Registers the calling (non-EAL) thread as an lcore, so that mempool
 * per-lcore caches work for it. Returns the lcore id, or -1. */
int ae_thread_register(void);
/* rte_lcore_id() of the calling thread (UINT32_MAX = LCORE_ID_ANY). */
unsigned ae_lcore_id(void);
/* rte_socket_id() of the calling thread. */
int ae_socket_id(void);
/* Hugepage size in bytes of the memory the EAL uses (0 with --no-huge). */
uint64_t ae_hugepage_size(void);

/* ---- memzones (memory a device can read by DMA) ------------------------- */

struct rte_memzone;
/* rte_memzone_reserve_aligned of len bytes on any socket, preferring 2 MiB
 * pages (a hint only), aligned to 2 MiB; NULL with rte_errno set when the
 * EAL has no room. The memory is the EAL's own, so rte_mem_virt2iova knows
 * it and the IOMMU mapping (vfio) covers it. */
const struct rte_memzone *ae_memzone_reserve(const char *name, size_t len);
/* The memzone's virtual address. */
void *ae_memzone_addr(const struct rte_memzone *mz);
/* Its length in bytes. */
uint64_t ae_memzone_len(const struct rte_memzone *mz);
/* The page size under it (0 when the EAL runs with --no-huge). */
uint64_t ae_memzone_page_size(const struct rte_memzone *mz);

/* ---- external memory (a cache region too big for a memzone) ------------- */

/* rte_extmem_register of n_pages pages of page_sz at va, with their IOVAs:
 * the EAL's memory map then knows the region (rte_mem_virt2iova). 0, or a
 * negative errno. */
int ae_extmem_register(void *va, size_t len, const uint64_t *iovas, unsigned n_pages,
                       size_t page_sz);
/* rte_extmem_unregister: undoes ae_extmem_register (before unmapping). */
int ae_extmem_unregister(void *va, size_t len);
/* rte_dev_dma_map of [va, va+len) at iova for the device of every ethdev
 * port, so that an IOMMU (vfio) lets the NIC read it. The number of ports
 * mapped; a device with no DMA mapping of its own (-ENOTSUP: software
 * vdevs, or a bus that maps all memory) counts as mapped. A negative errno
 * when one refused. */
int ae_dma_map_all(void *va, uint64_t iova, size_t len);
/* 1 when the EAL runs with IOVA as VA. */
int ae_iova_is_va(void);
/* 1 when addr lies in memory the EAL knows (its own, or registered). */
int ae_mem_is_known(const void *addr);

/* ---- mempools ----------------------------------------------------------- */

/* rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket). */
struct rte_mempool *ae_pool_create(const char *name, unsigned n, unsigned cache,
                                   uint16_t data_room, int socket);
/* Free objects in the pool (ring plus caches). */
unsigned ae_pool_avail(const struct rte_mempool *mp);
/* Objects the pool was created with. */
unsigned ae_pool_size(const struct rte_mempool *mp);

/* ---- mbufs (fast path) -------------------------------------------------- */

struct rte_mbuf *ae_mbuf_alloc(struct rte_mempool *mp);
int ae_mbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n);
/* Frees a whole chain (every segment), detaching external buffers. */
void ae_mbuf_free(struct rte_mbuf *m);
void ae_mbuf_free_bulk(struct rte_mbuf **mbufs, unsigned n);
/* rte_pktmbuf_mtod(m, void *): start of the data of the first segment. */
void *ae_mbuf_data(struct rte_mbuf *m);
uint16_t ae_mbuf_data_len(const struct rte_mbuf *m);
uint32_t ae_mbuf_pkt_len(const struct rte_mbuf *m);
/* rte_pktmbuf_chain(head, tail): appends tail's segments to head. 0 or
 * -EOVERFLOW (too many segments). */
int ae_mbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
/* rte_pktmbuf_prepend / rte_pktmbuf_adj / rte_pktmbuf_append: NULL when the
 * room is missing. */
char *ae_mbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *ae_mbuf_adj(struct rte_mbuf *m, uint16_t len);
char *ae_mbuf_append(struct rte_mbuf *m, uint16_t len);
/* rte_pktmbuf_reset(m). */
void ae_mbuf_reset(struct rte_mbuf *m);
/* Points the (fresh, direct, single-segment) mbuf m at len bytes at buf_addr,
 * owned by shinfo, and sets data_len = pkt_len = len with no headroom:
 * rte_mbuf_ext_refcnt_update(shinfo, +1) then rte_pktmbuf_attach_extbuf().
 * When the last mbuf attached to shinfo is freed, shinfo->free_cb runs. */
void ae_mbuf_attach_extbuf(struct rte_mbuf *m, void *buf_addr, uint64_t buf_iova,
                           uint16_t len, struct rte_mbuf_ext_shared_info *shinfo);
/* Initialises a shared info in caller memory: refcnt 1, free_cb, opaque. */
void ae_ext_shinfo_init(struct rte_mbuf_ext_shared_info *shinfo,
                        void (*free_cb)(void *addr, void *opaque), void *opaque);
/* rte_mbuf_ext_refcnt_update(shinfo, delta); returns the new count. */
uint16_t ae_ext_refcnt_update(struct rte_mbuf_ext_shared_info *shinfo, int16_t delta);
uint16_t ae_ext_refcnt_read(const struct rte_mbuf_ext_shared_info *shinfo);
/* rte_mem_virt2iova(addr), RTE_BAD_IOVA (all ones) when unknown. */
uint64_t ae_virt2iova(const void *addr);
/* rte_prefetch0(p). */
void ae_prefetch0(const void *p);

/* ---- ethdev ------------------------------------------------------------- */

/* rte_eth_rx_burst / rte_eth_tx_burst / rte_eth_tx_prepare. */
uint16_t ae_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t ae_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t ae_tx_prepare(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);

/* rte_eth_dev_count_avail(). Ports are 0..count-1 for vdevs and -a devices
 * given on the command line (no hotplug). */
uint16_t ae_port_count(void);
/* Whether port is a valid, attached port. */
int ae_port_valid(uint16_t port);

/* The facts of rte_eth_dev_info_get() that the engine uses. */
struct ae_dev_info {
    char driver[64];       /* driver_name, e.g. net_tap */
    char name[64];         /* device name, e.g. net_tap0 or 0000:3b:00.0 */
    char iface[32];        /* kernel interface (if_index), or "" */
    uint8_t mac[6];        /* rte_eth_macaddr_get */
    uint16_t mtu;          /* rte_eth_dev_get_mtu */
    uint16_t min_mtu, max_mtu;
    uint16_t max_rx_queues, max_tx_queues;
    uint32_t max_rx_pktlen;
    uint64_t rx_offload_capa, tx_offload_capa;
    uint64_t flow_type_rss_offloads;
    uint16_t reta_size;
    uint8_t hash_key_size;
    uint16_t rx_desc_max, tx_desc_max;
    uint32_t speed_capa;
    int32_t socket;        /* NUMA socket, -1 when unknown */
};
int ae_port_info(uint16_t port, struct ae_dev_info *out);

/* What ae_port_setup() configures. */
struct ae_port_conf {
    uint16_t nb_rxq, nb_txq;   /* queues */
    uint16_t nb_rxd, nb_txd;   /* descriptors per queue (adjusted to the limits) */
    uint64_t rx_offloads;      /* RTE_ETH_RX_OFFLOAD_* to enable */
    uint64_t tx_offloads;      /* RTE_ETH_TX_OFFLOAD_* to enable */
    uint64_t rss_hf;           /* RTE_ETH_RSS_* hash functions; 0 = no RSS */
    int32_t socket;            /* socket of the queues */
    uint8_t promiscuous;       /* enable promiscuous mode after start */
};
/* rte_eth_dev_configure, rx/tx queue setup (every rx queue fills from pool),
 * rte_eth_dev_start, promiscuous mode. On failure returns a negative errno
 * and writes the failed step into err (err_len bytes). */
int ae_port_setup(uint16_t port, const struct ae_port_conf *conf, struct rte_mempool *pool,
                  char *err, size_t err_len);
int ae_port_stop(uint16_t port);
int ae_port_close(uint16_t port);

struct ae_link {
    uint32_t speed_mbps;
    uint8_t up;
    uint8_t full_duplex;
    uint8_t autoneg;
};
int ae_port_link(uint16_t port, struct ae_link *out);

/* rte_eth_stats_get, flattened. */
struct ae_stats {
    uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
};
int ae_port_stats(uint16_t port, struct ae_stats *out);

/* One extended statistic (rte_eth_xstats_get_names + rte_eth_xstats_get). */
struct ae_xstat {
    char name[64];
    uint64_t value;
};
/* Fills up to cap entries; returns the number of xstats the port has (may be
 * more than cap), or a negative errno. */
int ae_port_xstats(uint16_t port, struct ae_xstat *out, unsigned cap);

/* ---- layout check ------------------------------------------------------- */

/* Offsets and sizes that src/lib.rs relies on, for its layout test. */
struct ae_layout {
    uint32_t mbuf_size, buf_addr, data_off, refcnt, nb_segs, port, ol_flags, packet_type,
        pkt_len, data_len, buf_len, pool, next, tx_offload, shinfo_size, headroom;
};
void ae_layout(struct ae_layout *out);

#endif
