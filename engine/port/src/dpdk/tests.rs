//! Tests of the DPDK port in-process, on vdevs that need no NIC and no root
//! network setup: net_ring0 (its TX ring is its RX ring, a loopback) and
//! net_null0. The EAL is initialised once per test process (`--no-shconf
//! --no-huge --no-pci`), and the tests share the ports under a lock.

use super::*;
use crate::{FrameBuf, Port, RxQueue, TxQueue};
use std::sync::{Mutex, MutexGuard, OnceLock};

struct Fixture {
    eal: Eal,
    ring: (DpdkRx, DpdkTx),
    null: (DpdkRx, DpdkTx),
    ports: Vec<DpdkPort>,
}

fn fixture() -> MutexGuard<'static, Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        remove_stale_runtime_dirs();
        let args: Vec<String> = format!(
            "-l 0 --no-huge -m 256 --no-pci --no-shconf --no-telemetry --log-level=warning \
             --file-prefix ae-port-test-{} --vdev net_ring0 --vdev net_null0",
            std::process::id()
        )
        .split_whitespace()
        .map(String::from)
        .collect();
        let eal = Eal::init(&args).expect("rte_eal_init (needs root)");
        assert!(Eal::init(&args).is_err(), "a second EAL init is refused");
        assert!(!eal.hugepages());
        let cfg = DpdkConfig {
            total_mbufs: 4096,
            ..DpdkConfig::default()
        };
        let mut ports = DpdkPort::open_all(&eal, &cfg).expect("open ports");
        assert_eq!(ports.len(), 2);
        let (mut rx, mut tx) = ports[0].take_queues();
        let ring = (rx.remove(0), tx.remove(0));
        let (mut rx, mut tx) = ports[1].take_queues();
        let null = (rx.remove(0), tx.remove(0));
        Mutex::new(Fixture {
            eal,
            ring,
            null,
            ports,
        })
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

/// DPDK leaves /var/run/dpdk/PREFIX behind; remove those of earlier test
/// processes that are gone (bounded: only this test's own prefix).
fn remove_stale_runtime_dirs() {
    let Ok(dir) = std::fs::read_dir("/var/run/dpdk") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("ae-port-test-") {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

#[test]
fn ports_report_dev_info_and_link() {
    let f = fixture();
    let ring = f.ports[0].info();
    assert_eq!(ring.driver, "net_ring");
    assert_eq!(ring.name, "net_ring0");
    assert_eq!((ring.rxq, ring.txq), (1, 1));
    let null = f.ports[1].info();
    assert_eq!(null.driver, "net_null");
    assert!(f.ports.iter().all(|p| p.link_up()));
    assert!(f.ports[1]
        .dev_info()
        .iter()
        .any(|(k, _)| *k == "max_rx_queues"));
    let x = f.ports[0].xstats();
    assert!(x.iter().any(|(k, _)| k == "rx_good_packets"), "{x:?}");
    assert!(x.iter().any(|(k, _)| k == "anyedge_mbuf_pool_avail"));
    assert!(f.eal.port_count() >= 2);
}

#[test]
fn mbuf_is_the_frame_buffer_with_headroom() {
    let mut f = fixture();
    let mut b = f.ring.1.alloc().expect("mbuf");
    assert_eq!(b.headroom(), usize::from(dpdk_sys::RTE_PKTMBUF_HEADROOM));
    assert!(b.is_empty());
    assert_eq!(b.capacity(), 2048);
    assert!(b.set_len(60));
    b.data_mut().copy_from_slice(&[0xab; 60]);
    b.prepend(4).unwrap().copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!((b.len(), b.pkt_len()), (64, 64));
    assert_eq!(&b.data()[..5], &[1, 2, 3, 4, 0xab]);
    assert!(b.adj(4));
    assert_eq!(b.data(), &[0xab; 60][..]);
    assert!(!b.set_len(4096));
    assert!(b.prepend(1000).is_none());
    b.reset();
    assert!(b.is_empty());
    assert_eq!(b.headroom(), 128);
}

#[test]
fn frames_loop_through_net_ring_unchanged() {
    let mut f = fixture();
    let (rx, tx) = &mut f.ring;
    let mut out = Vec::with_capacity(64);
    for i in 0..10u8 {
        let mut b = tx.alloc().unwrap();
        assert!(b.set_len(100 + usize::from(i)));
        b.data_mut().fill(i);
        out.push(b);
    }
    assert_eq!(tx.tx_burst(&mut out), 10);
    assert!(out.is_empty());
    let mut got = Vec::with_capacity(64);
    assert_eq!(rx.rx_burst(&mut got, 32), 10);
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b.len(), 100 + i);
        assert!(b.data().iter().all(|&x| usize::from(x) == i));
    }
    // rx_burst never grows the vector beyond its capacity.
    let mut tiny: Vec<DpdkBuf> = Vec::with_capacity(2);
    tx.tx_burst(&mut got);
    assert_eq!(rx.rx_burst(&mut tiny, 32), 2);
    let mut rest = Vec::with_capacity(32);
    assert_eq!(rx.rx_burst(&mut rest, 32), 8);
}

#[test]
fn net_null_bursts_and_device_counters() {
    let mut f = fixture();
    let before = f.ports[1]
        .queue_counters()
        .iter()
        .map(|c| c.snapshot().rx_packets)
        .sum::<u64>();
    let (rx, tx) = &mut f.null;
    let mut v = Vec::with_capacity(64);
    assert_eq!(rx.rx_burst(&mut v, 32), 32);
    assert!(v.iter().all(|b| b.len() == 64));
    assert_eq!(tx.tx_burst(&mut v), 32);
    let after = f.ports[1]
        .queue_counters()
        .iter()
        .map(|c| c.snapshot().rx_packets)
        .sum::<u64>();
    assert_eq!(after - before, 32, "rx_packets from rte_eth_stats_get");
}

#[test]
fn zero_copy_payload_from_an_engine_region() {
    let mut f = fixture();
    let content: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let region = ExtRegion::new(content.clone());
    assert_eq!(region.refcnt(), 1);
    let avail0 = f.ports[0].xstats();
    let (rx, tx) = &mut f.ring;

    // Header mbuf (written by the protocol code) + content segment (no copy).
    let mut head = tx.alloc().unwrap();
    assert!(head.set_len(14));
    head.data_mut().copy_from_slice(b"HEADER--HEADER");
    let seg = tx.ext_segment(&region, 100, 1400).expect("ext segment");
    assert!(seg.is_external());
    assert_eq!(
        seg.data().as_ptr(),
        region.bytes()[100..].as_ptr(),
        "the segment points into the region: no copy"
    );
    assert_eq!(region.refcnt(), 2);
    head.chain(seg).unwrap();
    assert_eq!((head.len(), head.pkt_len(), head.nb_segs()), (14, 1414, 2));
    assert!(
        tx.ext_segment(&region, 2900, 200).is_none(),
        "out of the region"
    );

    let mut out = vec![head];
    assert_eq!(tx.tx_burst(&mut out), 1);
    let mut got = Vec::with_capacity(4);
    assert_eq!(rx.rx_burst(&mut got, 4), 1);
    let mut want = b"HEADER--HEADER".to_vec();
    want.extend_from_slice(&content[100..1500]);
    assert_eq!(got[0].to_vec(), want, "bytes arrive exactly");
    drop(got);
    assert_eq!(
        region.refcnt(),
        1,
        "freeing the frame gives the reference back"
    );

    // The region may go first: the last mbuf frees it.
    let clone = region.clone();
    assert_eq!(region.refcnt(), 2);
    drop(clone);
    let seg = tx.ext_segment(&region, 0, 10).unwrap();
    drop(region);
    assert_eq!(seg.to_vec(), content[..10].to_vec());
    drop(seg);
    assert_eq!(
        avail(&f.ports[0].xstats()),
        avail(&avail0),
        "no mbuf leaked"
    );
}

#[test]
fn a_shared_tail_is_chained_by_reference_and_released_after_the_send() {
    let mut f = fixture();
    let content: Vec<u8> = (0..5000u32).map(|i| (i * 11 % 253) as u8).collect();
    let obj: crate::SharedBytes = std::sync::Arc::new(content.clone());
    let avail0 = f.ports[0].xstats();
    let zc0 = f.ports[0].queue_counters()[1].snapshot().tx_zero_copy;
    let (rx, tx) = &mut f.ring;
    assert!(tx.zero_copy(), "net_ring sends mbuf chains");

    let mut head = tx.alloc().unwrap();
    assert!(head.set_len(54));
    head.data_mut().fill(0xee);
    assert!(!tx.attach_tail(&mut head, &obj, 4990, 20), "past the end");
    assert!(tx.attach_tail(&mut head, &obj, 1000, 1448));
    assert_eq!(
        std::sync::Arc::strong_count(&obj),
        2,
        "the mbuf holds one reference"
    );
    assert_eq!(
        (head.len(), head.pkt_len(), head.nb_segs()),
        (54, 54 + 1448, 2)
    );
    let tail = head.segments().nth(1).unwrap();
    assert_eq!(
        tail.as_ptr(),
        content_ptr(&obj, 1000),
        "points into the object"
    );

    let mut out = vec![head];
    assert_eq!(tx.tx_burst(&mut out), 1);
    let mut got = Vec::with_capacity(4);
    assert_eq!(rx.rx_burst(&mut got, 4), 1);
    let mut want = vec![0xee; 54];
    want.extend_from_slice(&content[1000..2448]);
    assert_eq!(got[0].to_vec(), want, "bytes arrive exactly");
    drop(got);
    assert_eq!(
        std::sync::Arc::strong_count(&obj),
        1,
        "freed with the frame"
    );

    // A dropped, never-sent frame gives its reference back too.
    let mut head = tx.alloc().unwrap();
    assert!(tx.attach_tail(&mut head, &obj, 0, 100));
    drop(head);
    assert_eq!(std::sync::Arc::strong_count(&obj), 1);
    assert_eq!(
        f.ports[0].queue_counters()[1].snapshot().tx_zero_copy - zc0,
        2,
        "counted per attached tail"
    );
    assert_eq!(
        avail(&f.ports[0].xstats()),
        avail(&avail0),
        "no mbuf leaked"
    );
}

#[test]
fn the_cache_memory_is_a_memzone_that_frames_point_into() {
    let mut f = fixture();
    let m = f.ports[0]
        .dma_memory(4 << 20)
        .expect("a 4 MiB memzone in -m 256");
    assert_eq!(m.bytes.len(), 4 << 20);
    assert!(!m.huge, "the test EAL runs --no-huge");
    assert!(m.what.starts_with("DPDK memzone ae_cache"), "{}", m.what);
    for (i, b) in m.bytes.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    let mem: &'static [u8] = m.bytes;
    // SAFETY: a lookup in the EAL's memory map; no memory is touched.
    let iova = unsafe { dpdk_sys::ae_virt2iova(mem[4096..].as_ptr().cast()) };
    assert_ne!(iova, u64::MAX, "rte_mem_virt2iova knows memzone memory");
    send_by_reference(&mut f, mem, 1 << 20);
    let err = super::memzone::reserve(1 << 40).unwrap_err();
    assert!(err.contains("DPDK memzone of 1048576 MiB"), "{err}");
}

/// A region bigger than the EAL's memory (-m 256) is the port's own
/// mapping, registered with the EAL, and frames point into it as into a
/// memzone.
#[test]
fn a_cache_bigger_than_eal_memory_is_registered_external_memory() {
    let mut f = fixture();
    let len = 300 << 20;
    let m = f.ports[0].dma_memory(len).expect("extmem for 300 MiB");
    assert_eq!(m.bytes.len(), len);
    assert!(
        m.what
            .starts_with("external memory registered with DPDK (300 MiB"),
        "{}",
        m.what
    );
    let heap = Box::new([0u8; 64]);
    // SAFETY: lookups in the EAL's memory map; no memory is touched.
    unsafe {
        assert_eq!(
            dpdk_sys::ae_mem_is_known(m.bytes[len - 1..].as_ptr().cast()),
            1
        );
        assert_eq!(
            dpdk_sys::ae_mem_is_known(heap.as_ptr().cast()),
            0,
            "ordinary memory is not"
        );
    }
    for (i, b) in m.bytes[(200 << 20)..(200 << 20) + 4096]
        .iter_mut()
        .enumerate()
    {
        *b = (i % 253) as u8;
    }
    let mem: &'static [u8] = m.bytes;
    send_by_reference(&mut f, mem, 200 << 20);
}

/// Sends 1448 bytes of `mem` from `off` by reference over the ring pair:
/// the frame's second segment is those very bytes, and they arrive intact.
fn send_by_reference(f: &mut Fixture, mem: &'static [u8], off: usize) {
    let obj: crate::SharedBytes = std::sync::Arc::new(mem);
    let (rx, tx) = &mut f.ring;
    let mut head = tx.alloc().unwrap();
    assert!(head.set_len(54));
    assert!(tx.attach_tail(&mut head, &obj, off, 1448));
    assert_eq!(
        head.segments().nth(1).unwrap().as_ptr(),
        mem[off..].as_ptr()
    );
    let mut out = vec![head];
    assert_eq!(tx.tx_burst(&mut out), 1);
    let mut got = Vec::with_capacity(4);
    assert_eq!(rx.rx_burst(&mut got, 4), 1);
    assert_eq!(&got[0].to_vec()[54..], &mem[off..off + 1448]);
}

/// The port's free mbufs, from its xstats.
fn avail(x: &[(String, u64)]) -> u64 {
    x.iter()
        .find(|(k, _)| k == "anyedge_mbuf_pool_avail")
        .map(|(_, v)| *v)
        .unwrap()
}

fn content_ptr(obj: &crate::SharedBytes, off: usize) -> *const u8 {
    (**obj).as_ref()[off..].as_ptr()
}

#[test]
fn tx_checksum_offload_request_sets_the_mbuf_fields() {
    use super::mbuf::TxL4Csum;
    use dpdk_sys::mbuf_flags::{TX_IPV4, TX_IP_CKSUM, TX_TCP_CKSUM, TX_UDP_CKSUM};
    let mut f = fixture();
    let mut b = f.ring.1.alloc().unwrap();
    b.request_tx_csum(14, 20, TxL4Csum::Tcp);
    assert_eq!(
        b.ol_flags() & (TX_IPV4 | TX_IP_CKSUM | TX_UDP_CKSUM),
        TX_IPV4 | TX_IP_CKSUM | TX_TCP_CKSUM
    );
    // SAFETY: reads a field of the mbuf b owns.
    let tx_offload = unsafe { (*b.as_ptr()).tx_offload };
    assert_eq!(tx_offload & 0x7f, 14, "l2_len");
    assert_eq!((tx_offload >> 7) & 0x1ff, 20, "l3_len");
    b.reset();
    assert_eq!(b.ol_flags(), 0, "reset clears the request");
}
