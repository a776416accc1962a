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
//! first, so a cached object's bytes are never copied in user space. Checksums are
//! computed by the kernel before frames reach us (no `TUNSETOFFLOAD`), so no
//! offload is reported.

use crate::buf::{BufPool, PktBuf, SharedBytes, Tail, MAX_FRAME};
use crate::counters::QueueCounters;
use crate::{FrameBuf, MacAddr, Port, PortCaps, PortInfo, RxQueue, TxQueue};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;

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
                caps: PortCaps::default(),
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
            let space = &mut buf.spare_mut()[..MAX_FRAME];
            match (&*self.fd).read(space) {
                Ok(0) => break,
                Ok(len) => {
                    if len >= MAX_FRAME {
                        // The frame may have been cut: never pass on a partial frame.
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
            // A frame with a tail goes out in one writev (one frame for the
            // TAP driver): its headers, then the payload where it lies.
            let r = match b.tail() {
                None => (&*self.fd).write(b.data()),
                Some(t) => (&*self.fd)
                    .write_vectored(&[io::IoSlice::new(b.data()), io::IoSlice::new(t.bytes())]),
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

    fn attach_tail(
        &mut self,
        buf: &mut PktBuf,
        data: &SharedBytes,
        off: usize,
        len: usize,
    ) -> bool {
        if buf.len() + len > MAX_FRAME {
            return false;
        }
        match Tail::new(data, off, len) {
            Some(t) => {
                buf.set_tail(Some(t));
                self.counters.tx_zero_copy.inc();
                true
            }
            None => false,
        }
    }
}

/// The few ioctls the TAP backend needs. This is the only unsafe code outside
/// the DPDK crates: the kernel's TUN/TAP interface has no other entry point.
#[allow(unsafe_code)]
mod sys {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    const IFF_TAP: libc::c_short = 0x0002;
    const IFF_NO_PI: libc::c_short = 0x1000;
    const IFF_MULTI_QUEUE: libc::c_short = 0x0100;

    /// `struct ifreq` with the flags member of its union (40 bytes on Linux).
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }

    fn ifreq(name: &str) -> IfReq {
        let mut r = IfReq {
            name: [0; 16],
            flags: 0,
            _pad: [0; 22],
        };
        let n = name.len().min(15);
        r.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        r
    }

    pub(super) fn tun_set_iff(f: &File, name: &str, multi_queue: bool) -> io::Result<()> {
        let mut req = ifreq(name);
        req.flags = IFF_TAP | IFF_NO_PI | if multi_queue { IFF_MULTI_QUEUE } else { 0 };
        // SAFETY: `f` is an open /dev/net/tun descriptor and `req` is a properly
        // sized, initialised `struct ifreq` that outlives the call.
        let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
        }
        Ok(())
    }

    fn flags_socket() -> io::Result<File> {
        // SAFETY: plain socket(2) call; the result is checked before use and
        // owned by a File, which closes it.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        use std::os::fd::FromRawFd;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    fn get_flags(s: &File, name: &str) -> io::Result<libc::c_short> {
        let mut req = ifreq(name);
        // SAFETY: `req` is a valid `struct ifreq` for SIOCGIFFLAGS and outlives the call.
        let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req as *mut IfReq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(req.flags)
    }

    pub(super) fn set_up(name: &str) -> io::Result<()> {
        let s = flags_socket()?;
        let mut req = ifreq(name);
        req.flags = get_flags(&s, name)? | libc::IFF_UP as libc::c_short;
        // SAFETY: `req` is a valid `struct ifreq` for SIOCSIFFLAGS and outlives the call.
        let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req as *mut IfReq) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("set {name} up: {e}")));
        }
        Ok(())
    }

    pub(super) fn is_up(name: &str) -> io::Result<bool> {
        let s = flags_socket()?;
        let f = get_flags(&s, name)?;
        let want = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        Ok(f & want == want)
    }
}
