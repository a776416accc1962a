/*
 * anyedge_dpdk.c: the exported wrappers declared in anyedge_dpdk.h.
 *
 * Each fast-path wrapper is one call to a static inline DPDK function; the
 * cost is one direct call per burst (rx/tx) or per buffer (alloc/free),
 * which the Rust side keeps off the per-packet path where it can (bursts,
 * bulk frees, reading mbuf fields directly through the pinned layout).
 */
/* rte_dev_dma_map is still marked experimental in 22.11 (stable since);
 * DPDK's documented opt-in, for that one call. */
#define ALLOW_EXPERIMENTAL_API 1
#include "anyedge_dpdk.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_memzone.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_version.h>

#if RTE_VERSION < RTE_VERSION_NUM(22, 11, 0, 0)
#error "anyedge needs DPDK >= 22.11"
#endif

/* The layout src/lib.rs reads directly (struct MbufHead, ExtSharedInfo). */
_Static_assert(offsetof(struct rte_mbuf, buf_addr) == 0, "rte_mbuf.buf_addr");
_Static_assert(offsetof(struct rte_mbuf, data_off) == 16, "rte_mbuf.data_off");
_Static_assert(offsetof(struct rte_mbuf, refcnt) == 18, "rte_mbuf.refcnt");
_Static_assert(offsetof(struct rte_mbuf, nb_segs) == 20, "rte_mbuf.nb_segs");
_Static_assert(offsetof(struct rte_mbuf, port) == 22, "rte_mbuf.port");
_Static_assert(offsetof(struct rte_mbuf, ol_flags) == 24, "rte_mbuf.ol_flags");
_Static_assert(offsetof(struct rte_mbuf, packet_type) == 32, "rte_mbuf.packet_type");
_Static_assert(offsetof(struct rte_mbuf, pkt_len) == 36, "rte_mbuf.pkt_len");
_Static_assert(offsetof(struct rte_mbuf, data_len) == 40, "rte_mbuf.data_len");
_Static_assert(offsetof(struct rte_mbuf, buf_len) == 54, "rte_mbuf.buf_len");
_Static_assert(offsetof(struct rte_mbuf, pool) == 56, "rte_mbuf.pool");
_Static_assert(offsetof(struct rte_mbuf, next) == 64, "rte_mbuf.next");
_Static_assert(offsetof(struct rte_mbuf, tx_offload) == 72, "rte_mbuf.tx_offload");
_Static_assert(sizeof(struct rte_mbuf_ext_shared_info) == 24, "rte_mbuf_ext_shared_info");
_Static_assert(offsetof(struct rte_mbuf_ext_shared_info, refcnt) == 16, "shinfo.refcnt");

/* ---- EAL ---------------------------------------------------------------- */

int ae_eal_init(int argc, char **argv)
{
    int ret = rte_eal_init(argc, argv);
    return ret < 0 ? -rte_errno : ret;
}

int ae_eal_cleanup(void) { return rte_eal_cleanup(); }

int ae_eal_has_hugepages(void) { return rte_eal_has_hugepages(); }

int ae_errno(void) { return rte_errno; }

const char *ae_strerror(int err) { return rte_strerror(err < 0 ? -err : err); }

int ae_thread_register(void)
{
    if (rte_lcore_id() != LCORE_ID_ANY)
        return (int)rte_lcore_id();
    if (rte_thread_register() != 0)
        return -1;
    return (int)rte_lcore_id();
}

unsigned ae_lcore_id(void) { return rte_lcore_id(); }

int ae_socket_id(void) { return (int)rte_socket_id(); }

static int page_size_cb(const struct rte_memseg_list *msl, void *arg)
{
    uint64_t *sz = arg;
    if (msl->external)
        return 0;
    *sz = msl->page_sz;
    return 1;
}

uint64_t ae_hugepage_size(void)
{
    uint64_t sz = 0;
    if (!rte_eal_has_hugepages())
        return 0;
    rte_memseg_list_walk(page_size_cb, &sz);
    return sz;
}

const struct rte_memzone *ae_memzone_reserve(const char *name, size_t len)
{
    return rte_memzone_reserve_aligned(name, len, SOCKET_ID_ANY,
                                       RTE_MEMZONE_2MB | RTE_MEMZONE_SIZE_HINT_ONLY,
                                       2u << 20);
}

void *ae_memzone_addr(const struct rte_memzone *mz) { return mz->addr; }

uint64_t ae_memzone_len(const struct rte_memzone *mz) { return mz->len; }

uint64_t ae_memzone_page_size(const struct rte_memzone *mz)
{
    return rte_eal_has_hugepages() ? mz->hugepage_sz : 0;
}

/* ---- external memory ---------------------------------------------------- */

int ae_extmem_register(void *va, size_t len, const uint64_t *iovas, unsigned n_pages,
                       size_t page_sz)
{
    if (rte_extmem_register(va, len, (rte_iova_t *)iovas, n_pages, page_sz) != 0)
        return -rte_errno;
    return 0;
}

int ae_extmem_unregister(void *va, size_t len)
{
    return rte_extmem_unregister(va, len) == 0 ? 0 : -rte_errno;
}

int ae_dma_map_all(void *va, uint64_t iova, size_t len)
{
    uint16_t port;
    int n = 0;
    RTE_ETH_FOREACH_DEV(port) {
        struct rte_eth_dev_info info;
        if (rte_eth_dev_info_get(port, &info) != 0 || info.device == NULL)
            continue;
        if (rte_dev_dma_map(info.device, va, iova, len) != 0 && rte_errno != ENOTSUP)
            return -rte_errno;
        n++;
    }
    return n;
}

int ae_iova_is_va(void) { return rte_eal_iova_mode() == RTE_IOVA_VA; }

int ae_mem_is_known(const void *addr) { return rte_mem_virt2memseg_list(addr) != NULL; }

/* ---- mempools ----------------------------------------------------------- */

struct rte_mempool *ae_pool_create(const char *name, unsigned n, unsigned cache,
                                   uint16_t data_room, int socket)
{
    return rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket);
}

unsigned ae_pool_avail(const struct rte_mempool *mp) { return rte_mempool_avail_count(mp); }

unsigned ae_pool_size(const struct rte_mempool *mp) { return mp->size; }

/* ---- mbufs -------------------------------------------------------------- */

struct rte_mbuf *ae_mbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }

int ae_mbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned n)
{
    return rte_pktmbuf_alloc_bulk(mp, mbufs, n);
}

void ae_mbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }

void ae_mbuf_free_bulk(struct rte_mbuf **mbufs, unsigned n) { rte_pktmbuf_free_bulk(mbufs, n); }

void *ae_mbuf_data(struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }

uint16_t ae_mbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }

uint32_t ae_mbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }

int ae_mbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail) { return rte_pktmbuf_chain(head, tail); }

char *ae_mbuf_prepend(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_prepend(m, len); }

char *ae_mbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }

char *ae_mbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }

void ae_mbuf_reset(struct rte_mbuf *m) { rte_pktmbuf_reset(m); }

void ae_mbuf_attach_extbuf(struct rte_mbuf *m, void *buf_addr, uint64_t buf_iova,
                           uint16_t len, struct rte_mbuf_ext_shared_info *shinfo)
{
    rte_mbuf_ext_refcnt_update(shinfo, 1);
    rte_pktmbuf_attach_extbuf(m, buf_addr, buf_iova, len, shinfo);
    m->data_len = len;
    m->pkt_len = len;
}

void ae_ext_shinfo_init(struct rte_mbuf_ext_shared_info *shinfo,
                        void (*free_cb)(void *addr, void *opaque), void *opaque)
{
    shinfo->free_cb = free_cb;
    shinfo->fcb_opaque = opaque;
    rte_mbuf_ext_refcnt_set(shinfo, 1);
}

uint16_t ae_ext_refcnt_update(struct rte_mbuf_ext_shared_info *shinfo, int16_t delta)
{
    return rte_mbuf_ext_refcnt_update(shinfo, delta);
}

uint16_t ae_ext_refcnt_read(const struct rte_mbuf_ext_shared_info *shinfo)
{
    return rte_mbuf_ext_refcnt_read(shinfo);
}

uint64_t ae_virt2iova(const void *addr) { return rte_mem_virt2iova(addr); }

void ae_prefetch0(const void *p) { rte_prefetch0(p); }

/* ---- ethdev ------------------------------------------------------------- */

uint16_t ae_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t ae_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_tx_burst(port, queue, pkts, n);
}

uint16_t ae_tx_prepare(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_tx_prepare(port, queue, pkts, n);
}

uint16_t ae_port_count(void) { return rte_eth_dev_count_avail(); }

int ae_port_valid(uint16_t port) { return rte_eth_dev_is_valid_port(port); }

int ae_port_info(uint16_t port, struct ae_dev_info *out)
{
    struct rte_eth_dev_info di;
    struct rte_ether_addr mac;
    char ifname[IF_NAMESIZE];
    int ret;

    memset(out, 0, sizeof(*out));
    ret = rte_eth_dev_info_get(port, &di);
    if (ret != 0)
        return ret;
    snprintf(out->driver, sizeof(out->driver), "%s", di.driver_name ? di.driver_name : "?");
    if (rte_eth_dev_get_name_by_port(port, out->name) != 0)
        snprintf(out->name, sizeof(out->name), "port%u", port);
    if (di.if_index != 0 && if_indextoname(di.if_index, ifname) != NULL)
        snprintf(out->iface, sizeof(out->iface), "%s", ifname);
    if (rte_eth_macaddr_get(port, &mac) == 0)
        memcpy(out->mac, mac.addr_bytes, 6);
    if (rte_eth_dev_get_mtu(port, &out->mtu) != 0)
        out->mtu = RTE_ETHER_MTU;
    out->min_mtu = di.min_mtu;
    out->max_mtu = di.max_mtu;
    out->max_rx_queues = di.max_rx_queues;
    out->max_tx_queues = di.max_tx_queues;
    out->max_rx_pktlen = di.max_rx_pktlen;
    out->rx_offload_capa = di.rx_offload_capa;
    out->tx_offload_capa = di.tx_offload_capa;
    out->flow_type_rss_offloads = di.flow_type_rss_offloads;
    out->reta_size = di.reta_size;
    out->hash_key_size = di.hash_key_size;
    out->rx_desc_max = di.rx_desc_lim.nb_max;
    out->tx_desc_max = di.tx_desc_lim.nb_max;
    out->speed_capa = di.speed_capa;
    out->socket = rte_eth_dev_socket_id(port);
    return 0;
}

int ae_port_setup(uint16_t port, const struct ae_port_conf *c, struct rte_mempool *pool,
                  char *err, size_t err_len)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info di;
    struct rte_eth_rxconf rxconf;
    struct rte_eth_txconf txconf;
    uint16_t nb_rxd = c->nb_rxd, nb_txd = c->nb_txd, q;
    int ret;

#define FAIL(step)                                                                  \
    do {                                                                            \
        snprintf(err, err_len, "%s: %s", step, rte_strerror(ret < 0 ? -ret : ret)); \
        return ret < 0 ? ret : -ret;                                                \
    } while (0)

    ret = rte_eth_dev_info_get(port, &di);
    if (ret != 0)
        FAIL("rte_eth_dev_info_get");
    memset(&conf, 0, sizeof(conf));
    conf.rxmode.offloads = c->rx_offloads;
    conf.txmode.offloads = c->tx_offloads;
    if (c->rss_hf != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = NULL; /* the driver's default key */
        conf.rx_adv_conf.rss_conf.rss_hf = c->rss_hf;
    }
    ret = rte_eth_dev_configure(port, c->nb_rxq, c->nb_txq, &conf);
    if (ret != 0)
        FAIL("rte_eth_dev_configure");
    ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
    if (ret != 0)
        FAIL("rte_eth_dev_adjust_nb_rx_tx_desc");
    rxconf = di.default_rxconf;
    rxconf.offloads = c->rx_offloads;
    for (q = 0; q < c->nb_rxq; q++) {
        ret = rte_eth_rx_queue_setup(port, q, nb_rxd, c->socket, &rxconf, pool);
        if (ret != 0)
            FAIL("rte_eth_rx_queue_setup");
    }
    txconf = di.default_txconf;
    txconf.offloads = c->tx_offloads;
    for (q = 0; q < c->nb_txq; q++) {
        ret = rte_eth_tx_queue_setup(port, q, nb_txd, c->socket, &txconf);
        if (ret != 0)
            FAIL("rte_eth_tx_queue_setup");
    }
    ret = rte_eth_dev_start(port);
    if (ret != 0)
        FAIL("rte_eth_dev_start");
    if (c->promiscuous) {
        /* Not every driver has it (net_null, net_memif): not an error. */
        (void)rte_eth_promiscuous_enable(port);
    }
    return 0;
#undef FAIL
}

int ae_port_stop(uint16_t port) { return rte_eth_dev_stop(port); }

int ae_port_close(uint16_t port) { return rte_eth_dev_close(port); }

int ae_port_link(uint16_t port, struct ae_link *out)
{
    struct rte_eth_link l;
    int ret;

    memset(&l, 0, sizeof(l));
    ret = rte_eth_link_get_nowait(port, &l);
    if (ret != 0)
        return ret;
    out->speed_mbps = l.link_speed;
    out->up = l.link_status == RTE_ETH_LINK_UP;
    out->full_duplex = l.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
    out->autoneg = l.link_autoneg == RTE_ETH_LINK_AUTONEG;
    return 0;
}

int ae_port_stats(uint16_t port, struct ae_stats *out)
{
    struct rte_eth_stats s;
    int ret = rte_eth_stats_get(port, &s);
    if (ret != 0)
        return ret;
    out->ipackets = s.ipackets;
    out->opackets = s.opackets;
    out->ibytes = s.ibytes;
    out->obytes = s.obytes;
    out->imissed = s.imissed;
    out->ierrors = s.ierrors;
    out->oerrors = s.oerrors;
    out->rx_nombuf = s.rx_nombuf;
    return 0;
}

int ae_port_xstats(uint16_t port, struct ae_xstat *out, unsigned cap)
{
    /* Bounded stack buffers: xstats are a control-plane query. */
    struct rte_eth_xstat_name names[256];
    struct rte_eth_xstat vals[256];
    int n, m, i;

    n = rte_eth_xstats_get_names(port, NULL, 0);
    if (n < 0)
        return n;
    if (n > 256)
        n = 256;
    if (rte_eth_xstats_get_names(port, names, n) < 0)
        return -EIO;
    m = rte_eth_xstats_get(port, vals, n);
    if (m < 0)
        return m;
    if (m > n)
        m = n;
    for (i = 0; i < m && (unsigned)i < cap; i++) {
        uint64_t id = vals[i].id;
        snprintf(out[i].name, sizeof(out[i].name), "%s", id < (uint64_t)n ? names[id].name : "?");
        out[i].value = vals[i].value;
    }
    return m;
}

void ae_layout(struct ae_layout *o)
{
    o->mbuf_size = sizeof(struct rte_mbuf);
    o->buf_addr = offsetof(struct rte_mbuf, buf_addr);
    o->data_off = offsetof(struct rte_mbuf, data_off);
    o->refcnt = offsetof(struct rte_mbuf, refcnt);
    o->nb_segs = offsetof(struct rte_mbuf, nb_segs);
    o->port = offsetof(struct rte_mbuf, port);
    o->ol_flags = offsetof(struct rte_mbuf, ol_flags);
    o->packet_type = offsetof(struct rte_mbuf, packet_type);
    o->pkt_len = offsetof(struct rte_mbuf, pkt_len);
    o->data_len = offsetof(struct rte_mbuf, data_len);
    o->buf_len = offsetof(struct rte_mbuf, buf_len);
    o->pool = offsetof(struct rte_mbuf, pool);
    o->next = offsetof(struct rte_mbuf, next);
    o->tx_offload = offsetof(struct rte_mbuf, tx_offload);
    o->shinfo_size = sizeof(struct rte_mbuf_ext_shared_info);
    o->headroom = RTE_PKTMBUF_HEADROOM;
}

/* The constants src/lib.rs repeats. */
_Static_assert(RTE_PKTMBUF_HEADROOM == 128, "RTE_PKTMBUF_HEADROOM");
_Static_assert(RTE_MBUF_F_RX_IP_CKSUM_MASK == 0x90, "RX_IP_CKSUM_MASK");
_Static_assert(RTE_MBUF_F_RX_IP_CKSUM_BAD == 0x10, "RX_IP_CKSUM_BAD");
_Static_assert(RTE_MBUF_F_RX_IP_CKSUM_GOOD == 0x80, "RX_IP_CKSUM_GOOD");
_Static_assert(RTE_MBUF_F_RX_L4_CKSUM_MASK == 0x108, "RX_L4_CKSUM_MASK");
_Static_assert(RTE_MBUF_F_RX_L4_CKSUM_BAD == 0x8, "RX_L4_CKSUM_BAD");
_Static_assert(RTE_MBUF_F_RX_L4_CKSUM_GOOD == 0x100, "RX_L4_CKSUM_GOOD");
_Static_assert(RTE_MBUF_F_TX_IPV4 == (1ULL << 55), "TX_IPV4");
_Static_assert(RTE_MBUF_F_TX_IP_CKSUM == (1ULL << 54), "TX_IP_CKSUM");
_Static_assert(RTE_MBUF_F_TX_TCP_CKSUM == (1ULL << 52), "TX_TCP_CKSUM");
_Static_assert(RTE_MBUF_F_TX_UDP_CKSUM == (3ULL << 52), "TX_UDP_CKSUM");
_Static_assert(RTE_MBUF_F_TX_TCP_SEG == (1ULL << 50), "TX_TCP_SEG");
_Static_assert(RTE_MBUF_F_EXTERNAL == (1ULL << 61), "EXTERNAL");
_Static_assert(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM == 0x2, "RX_OFFLOAD_IPV4_CKSUM");
_Static_assert(RTE_ETH_RX_OFFLOAD_UDP_CKSUM == 0x4, "RX_OFFLOAD_UDP_CKSUM");
_Static_assert(RTE_ETH_RX_OFFLOAD_TCP_CKSUM == 0x8, "RX_OFFLOAD_TCP_CKSUM");
_Static_assert(RTE_ETH_TX_OFFLOAD_IPV4_CKSUM == 0x2, "TX_OFFLOAD_IPV4_CKSUM");
_Static_assert(RTE_ETH_TX_OFFLOAD_UDP_CKSUM == 0x4, "TX_OFFLOAD_UDP_CKSUM");
_Static_assert(RTE_ETH_TX_OFFLOAD_TCP_CKSUM == 0x8, "TX_OFFLOAD_TCP_CKSUM");
_Static_assert(RTE_ETH_TX_OFFLOAD_TCP_TSO == 0x20, "TX_OFFLOAD_TCP_TSO");
_Static_assert(RTE_ETH_TX_OFFLOAD_MULTI_SEGS == 0x8000, "TX_OFFLOAD_MULTI_SEGS");
_Static_assert(RTE_ETH_RSS_IP == 0xa38c, "RSS_IP");
_Static_assert(RTE_ETH_RSS_TCP == 0x10410, "RSS_TCP");
_Static_assert(RTE_ETH_RSS_UDP == 0x20820, "RSS_UDP");
