//! smoltcp's link: an in-memory device pair with the same ring as the
//! mem port's.

use super::*;

/// One direction of the in-memory link: a ring of frames and the free
/// buffers they are taken from (preallocated, recycled by the receiver).
pub(super) struct Link {
    pub(super) ring: ArrayQueue<(Box<[u8]>, usize)>,
    pub(super) free: ArrayQueue<Box<[u8]>>,
    pub(super) dropped: AtomicU64,
}

impl Link {
    pub(super) fn new(frames: usize) -> Arc<Link> {
        let free = ArrayQueue::new(frames);
        for _ in 0..frames {
            let _ = free.push(vec![0u8; 2048].into_boxed_slice());
        }
        Arc::new(Link {
            ring: ArrayQueue::new(frames),
            free,
            dropped: AtomicU64::new(0),
        })
    }
}

/// A smoltcp Ethernet device over two [`Link`]s.
pub(super) struct ChanDev {
    pub(super) rx: Arc<Link>,
    pub(super) tx: Arc<Link>,
}

/// Two devices joined back to back.
pub(super) fn chan_pair(frames: usize) -> (ChanDev, ChanDev) {
    let (ab, ba) = (Link::new(frames), Link::new(frames));
    (
        ChanDev {
            rx: ba.clone(),
            tx: ab.clone(),
        },
        ChanDev { rx: ab, tx: ba },
    )
}

pub(super) struct ChanRx<'a> {
    pub(super) frame: (Box<[u8]>, usize),
    pub(super) link: &'a Link,
}

pub(super) struct ChanTx<'a> {
    pub(super) link: &'a Link,
}

impl phy::RxToken for ChanRx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let (buf, len) = self.frame;
        let r = f(&buf[..len]);
        let _ = self.link.free.push(buf);
        r
    }
}

impl phy::TxToken for ChanTx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        match self.link.free.pop() {
            Some(mut buf) => {
                let r = f(&mut buf[..len]);
                // Cannot fail: the ring holds as many frames as there are buffers.
                let _ = self.link.ring.push((buf, len));
                r
            }
            None => {
                // Only a reply token from `receive` can get here: the frame is lost.
                self.link.dropped.fetch_add(1, Ordering::Relaxed);
                f(&mut vec![0u8; len])
            }
        }
    }
}

impl Device for ChanDev {
    type RxToken<'a> = ChanRx<'a>;
    type TxToken<'a> = ChanTx<'a>;

    fn receive(
        &mut self,
        _t: smoltcp::time::Instant,
    ) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.ring.pop()?;
        Some((
            ChanRx {
                frame,
                link: &self.rx,
            },
            ChanTx { link: &self.tx },
        ))
    }

    fn transmit(&mut self, _t: smoltcp::time::Instant) -> Option<Self::TxToken<'_>> {
        if self.tx.free.is_empty() {
            return None;
        }
        Some(ChanTx { link: &self.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = FRAME_MTU;
        c
    }
}

/// smoltcp's clock: microseconds of a monotonic clock.
#[derive(Clone, Copy)]
pub(super) struct Mono(pub(super) Instant);

impl Mono {
    pub(super) fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.0.elapsed().as_micros() as i64)
    }
}

pub(super) fn smol_iface(dev: &mut ChanDev, mac: MacAddr, ip: Ipv4Addr, clock: Mono) -> Interface {
    let mut cfg = Config::new(EthernetAddress(mac).into());
    cfg.random_seed = u64::from_le_bytes([mac[5], 0x5e, 0xed, 1, 2, 3, 4, 5]);
    let mut iface = Interface::new(cfg, dev, clock.now());
    iface.update_ip_addrs(|a| {
        let o = ip.octets();
        let _ = a.push(IpCidr::new(IpAddress::v4(o[0], o[1], o[2], o[3]), 24));
    });
    iface
}

pub(super) fn smol_socket(buf: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buf]),
        tcp::SocketBuffer::new(vec![0u8; buf]),
    )
}

pub(super) fn ip_a() -> IpAddress {
    let o = IP_A.octets();
    IpAddress::v4(o[0], o[1], o[2], o[3])
}
