//! The `tap` backend: a Linux TAP interface opened through /dev/net/tun.
//!
//! Selected by the DPDK-style device argument `--vdev net_tap<N>,iface=<name>`, so
//! that scripts written for the DPDK build run unchanged. The engine is the host
//! "behind" the interface: the kernel side of the TAP is an ordinary Linux
//! interface that a test (or an operator) addresses, and the engine answers with
//! its own MAC. Flags: `IFF_TAP | IFF_NO_PI`, non-blocking, and
//! `IFF_MULTI_QUEUE` with one file descriptor per queue when there is more than
//! one queue (the kernel then spreads flows over the queues).
//!
//! Frames are read and written one system call each: this backend is for
//! real-peer tests and small deployments, not for line rate. Payload sent by
//! reference ([`TxQueue::attach_tail`]) goes out with `writev`, headers
//! first, so a cached object's bytes are never copied in user space.
//!
//! The TAP is opened with `IFF_VNET_HDR` ([`vnet`]): every frame carries a
//! virtio-net header. On transmit it hands the kernel what a virtio NIC
//! would take: a TCP checksum to finish, and super-segments of up to 64 KiB
//! to cut into MSS-sized segments (TSO), so one `writev` carries up to 45
//! segments. On receive the kernel computes checksums and segments before
//! frames reach us (no `TUNSETOFFLOAD`), so no receive offload is reported.

use crate::buf::{BufPool, PktBuf, SharedBytes, TxOffload, MAX_FRAME};
use crate::counters::QueueCounters;
use crate::{FrameBuf, MacAddr, Port, PortCaps, PortInfo, RxQueue, TxQueue, TSO_MAX};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

mod sys;
mod vnet;

/// How to open a TAP port.
#[derive(Clone, Debug)]
pub struct TapConfig {
    /// Device name as given on the command line (`net_tap0`).
    pub name: String,
    /// Kernel interface name (`iface=` argument).
    pub iface: String,
    /// Queues (file descriptors); more than one sets `IFF_MULTI_QUEUE`.
    pub queues: u16,
    /// Buffers in the port's pool.
    pub pool_size: usize,
    /// The engine's MAC on this port; derived from `iface` when `None`.
    pub mac: Option<MacAddr>,
}

/// A TAP interface split into queues.
pub struct TapPort {
    info: PortInfo,
    fds: Vec<Arc<File>>,
    pool: BufPool,
    counters: Vec<Arc<QueueCounters>>,
    taken: bool,
}

impl TapPort {
    /// Creates (or attaches to) the interface, opens one descriptor per queue and
    /// brings the interface up.
    pub fn open(cfg: &TapConfig) -> io::Result<TapPort> {
        if cfg.iface.is_empty() || cfg.iface.len() > 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface name '{}' must be 1 to 15 characters", cfg.iface),
            ));
        }
        let q = cfg.queues.max(1);
        let mut fds = Vec::with_capacity(q as usize);
        for _ in 0..q {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open("/dev/net/tun")
                .map_err(|e| io::Error::new(e.kind(), format!("/dev/net/tun: {e}")))?;
            sys::tun_set_iff(&f, &cfg.iface, q > 1)?;
            fds.push(Arc::new(f));
        }
        sys::set_up(&cfg.iface)?;
        log::info!(
            "tap port {} on interface {} with {q} queue(s)",
            cfg.name,
            cfg.iface
        );
        Ok(TapPort {
            info: PortInfo {
                driver: "net_tap",
                name: cfg.name.clone(),
                iface: Some(cfg.iface.clone()),
                mac: cfg.mac.unwrap_or_else(|| crate::mac_from_name(&cfg.iface)),
                mtu: 1500,
                rxq: q,
                txq: q,
                caps: PortCaps {
                    tx_csum: true,
                    tx_multi_seg: true,
                    tx_tso: true,
                    ..PortCaps::default()
                },
            },
            fds,
            pool: BufPool::new(cfg.pool_size),
            counters: (0..2 * q as usize)
                .map(|_| Arc::new(QueueCounters::default()))
                .collect(),
            taken: false,
        })
    }
}

impl Port for TapPort {
    type Buf = PktBuf;
    type Rx = TapRx;
    type Tx = TapTx;

    fn info(&self) -> PortInfo {
        self.info.clone()
    }

    fn link_up(&self) -> bool {
        self.info
            .iface
            .as_deref()
            .map(|i| sys::is_up(i).unwrap_or(false))
            .unwrap_or(false)
    }

    fn queue_counters(&self) -> Vec<Arc<QueueCounters>> {
        self.counters.clone()
    }

    fn take_queues(&mut self) -> (Vec<TapRx>, Vec<TapTx>) {
        if self.taken {
            return (Vec::new(), Vec::new());
        }
        self.taken = true;
        let q = self.fds.len();
        let rx = (0..q)
            .map(|i| TapRx {
                fd: self.fds[i].clone(),
                pool: self.pool.clone(),
                counters: self.counters[i].clone(),
            })
            .collect();
        let tx = (0..q)
            .map(|i| TapTx {
                fd: self.fds[i].clone(),
                pool: self.pool.clone(),
                counters: self.counters[q + i].clone(),
            })
            .collect();
        (rx, tx)
    }
}

/// Receive queue of a TAP port.
pub struct TapRx {
    fd: Arc<File>,
    pool: BufPool,
    counters: Arc<QueueCounters>,
}

impl RxQueue for TapRx {
    type Buf = PktBuf;

    fn rx_burst(&mut self, out: &mut Vec<PktBuf>, max: usize) -> usize {
        let mut n = 0;
        let mut bytes = 0u64;
        while n < max {
            let Some(mut buf) = self.pool.alloc() else {
                // Leave the frames in the kernel's queue; count the pressure.
                self.counters.alloc_failed.inc();
                break;
            };
            let mut hdr = [0u8; vnet::LEN];
            let space = &mut buf.spare_mut()[..MAX_FRAME];
            let mut iov = [io::IoSliceMut::new(&mut hdr), io::IoSliceMut::new(space)];
            match (&*self.fd).read_vectored(&mut iov) {
                Ok(0) => break,
                Ok(got) => {
                    let len = got.saturating_sub(vnet::LEN);
                    if len >= MAX_FRAME || got < vnet::LEN || !vnet::plain(&hdr) {
                        // A frame that may have been cut, or one whose
                        // header asks for offloads we never offered: never
                        // pass on a partial or unchecked frame.
                        self.counters.rx_dropped.inc();
                        continue;
                    }
                    buf.set_len(len);
                    bytes += len as u64;
                    out.push(buf);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.counters.rx_dropped.inc();
                    break;
                }
            }
        }
        if n > 0 {
            self.counters.rx_packets.add(n as u64);
            self.counters.rx_bytes.add(bytes);
        }
        n
    }
}

/// Transmit queue of a TAP port.
pub struct TapTx {
    fd: Arc<File>,
    pool: BufPool,
    counters: Arc<QueueCounters>,
}

impl TxQueue for TapTx {
    type Buf = PktBuf;

    fn tx_burst(&mut self, bufs: &mut Vec<PktBuf>) -> usize {
        let mut done = 0;
        let mut sent = 0u64;
        let mut bytes = 0u64;
        for b in bufs.iter() {
            // One writev per frame (one frame for the TAP driver): the
            // virtio-net header, the frame's headers, then the payload
            // where it lies.
            let hdr = vnet::encode(&b.tx_offload());
            let head = [io::IoSlice::new(&hdr), io::IoSlice::new(b.data())];
            let r = match b.tail() {
                None => (&*self.fd).write_vectored(&head),
                Some(t) => {
                    (&*self.fd).write_vectored(&[head[0], head[1], io::IoSlice::new(t.bytes())])
                }
            };
            match r {
                Ok(_) => {
                    sent += 1;
                    bytes += b.wire_len() as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Interface down or frame refused: this frame is lost, count it.
                Err(_) => self.counters.tx_dropped.inc(),
            }
            done += 1;
        }
        bufs.drain(..done);
        if sent > 0 {
            self.counters.tx_packets.add(sent);
            self.counters.tx_bytes.add(bytes);
        }
        sent as usize
    }

    fn alloc(&mut self) -> Option<PktBuf> {
        let b = self.pool.alloc();
        if b.is_none() {
            self.counters.alloc_failed.inc();
        }
        b
    }

    #[inline]
    fn zero_copy(&self) -> bool {
        true
    }

    fn tx_csum(&self) -> bool {
        true
    }

    /// The kernel finishes the TCP checksum (virtio `NEEDS_CSUM`); the
    /// IPv4 one, which virtio does not offload, is filled here.
    fn request_tcp_csum(&mut self, buf: &mut PktBuf, l2_len: u8, l3_len: u16) {
        let (l2, l3) = (usize::from(l2_len), usize::from(l3_len));
        vnet::fill_ipv4_checksum(buf.data_mut(), l2, l3);
        let o = buf.tx_offload();
        buf.set_tx_offload(TxOffload {
            csum_start: (l2 + l3) as u16,
            csum_offset: 16,
            ..o
        });
    }

    fn request_tso(&mut self, buf: &mut PktBuf, l2_len: u8, l3_len: u16, l4_len: u16, mss: u16) {
        let o = buf.tx_offload();
        buf.set_tx_offload(TxOffload {
            gso_size: mss,
            hdr_len: u16::from(l2_len) + l3_len + l4_len,
            ..o
        });
    }

    fn tso_max(&self) -> usize {
        TSO_MAX
    }

    fn attach_tail(
        &mut self,
        buf: &mut PktBuf,
        data: &SharedBytes,
        off: usize,
        len: usize,
    ) -> bool {
        buf.attach(data, off, len, &self.counters)
    }
}
