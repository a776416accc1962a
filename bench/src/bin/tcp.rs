//! bench/tcp: anyedge's TCP against smoltcp's, in the same run, on the same
//! cores, over the same kind of in-memory link.
//!
//! Rows (rounds alternate: anyedge, smoltcp, anyedge, ...):
//!
//! - **bulk TCP, 1 core each, mem pair**: one connection pulls data as fast
//!   as TCP allows, server on cpu 0, client on cpu 1, MTU 1500, 4 MiB send
//!   and receive buffers on both ends, each stack with its default
//!   congestion control (anyedge: CUBIC; smoltcp 0.14 without the
//!   `socket-tcp-cubic`/`-reno` features: none). anyedge: two engine nodes
//!   (`Node<MemPort>`, cdn mode, one polling thread each) joined by
//!   `anyedge_port::mem::pair`; node A (10.0.9.1/24) serves chargen on port
//!   19 (from a shared block of the pattern, by reference, as HTTP sends
//!   cached objects; the mem port copies it into each frame), node B
//!   (10.0.9.2/24) runs `tcp connect 10.0.9.1:19` (a sink that
//!   reads and drops), and the bytes come from B's `show conn json`
//!   (`bytes_in`). smoltcp: two `Interface`s, each on its own thread pinned
//!   to the same cpus, joined by two lock-free rings of recycled frame
//!   buffers (the smoltcp `Device` below); the server writes a constant
//!   buffer with `send_slice` in a loop, the client drops what it reads with
//!   `recv` and counts it. Both links are rings of 8192 frames each way
//!   with preallocated buffers, and nothing is copied on the way. Both
//!   stacks keep their defaults otherwise: anyedge offers timestamps and
//!   SACK (1448 payload bytes per segment), smoltcp sends no timestamps
//!   (1460 bytes), keeps Nagle on and delays ACKs by up to 10 ms. After the
//!   connection is ESTABLISHED both wait 200 ms, then count the bytes
//!   received over SECONDS.
//! - **connections established per second, 1 core**: both ends of the
//!   handshake on one thread (pinned to cpu 0), batches of 16: the clients
//!   open (SYN), the server answers (SYN-ACK), the clients complete (ACK)
//!   and are counted as ESTABLISHED, the server takes the ACK (and must be
//!   ESTABLISHED too), then the clients abort (RST) and the server frees
//!   its connections. anyedge: its sans-IO core directly, two
//!   `anyedge_tcp::table::Table`s (client and server) exchanging real
//!   Ethernet/IPv4/TCP frames in memory (built with `emit_tcp`, parsed and
//!   checksum-verified with `parse`); a connection's buffers come from its
//!   table's pool of freed ones (`anyedge_tcp::table`) or are allocated
//!   with its first byte. smoltcp: two
//!   interfaces in one thread joined by the same in-memory link as the bulk
//!   row (not the Loopback device), 16 listening sockets and 16 client
//!   sockets that are reused (smoltcp allocates nothing per connection).
//!   Both with the engine's default buffers, 256 KiB each way.
//! - **idle connections per GiB**: memory of an idle ESTABLISHED connection,
//!   measured with a counting global allocator over 512 connection pairs
//!   (64 with 4 MiB buffers; both ends counted): anyedge's connection slot,
//!   index entry and buffers in its table (less the table's fixed part;
//!   anyedge's rings take their storage with the first byte, so an idle
//!   connection that never carried data holds none, as in Linux, while
//!   smoltcp's sockets own theirs from the start);
//!   smoltcp's socket storage and buffers in its socket set. Printed in bytes per connection for 256 KiB and 4 MiB
//!   buffers; the row is GiB / bytes for 256 KiB buffers (higher is better,
//!   so the ratio reads like the others).
//!
//! The last line is the harness's summary over the rows.
//!
//! Investigation aids: `TCP_BENCH_ROWS=bulk,rate,mem` runs only those rows;
//! `TCP_BENCH_TRACE=1` prints both nodes' `show conn json` every 100 ms of
//! the anyedge bulk rounds.
//!
//! Usage: `cargo run --release -p anyedge-bench --bin tcp [-- SECONDS ROUNDS]`

use anyedge_bench::{report, Row};
use anyedge_node::{FwdMode, Node, NodeConfig, RunOptions, Threading};
use anyedge_port::mem::{self, MemConfig, MemPort};
use anyedge_tcp::conn::{ConnConfig, Segment, State};
use anyedge_tcp::table::{ConnId, Dispatch, Table, TableConfig};
use anyedge_wire::{emit_tcp, parse, ChecksumCaps, Ipv4Addr, MacAddr, L3, L4};
use anyhow::{bail, Context, Result};
use crossbeam_queue::ArrayQueue;
use serde_json::Value;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Socket buffers of the bulk row, each way, both stacks.
const BULK_BUF: usize = 4 << 20;
/// The engine's default buffers ([tcp] send_buf/recv_buf), used by the
/// connection-rate and memory rows.
const DEFAULT_BUF: usize = 256 << 10;
/// Frames each ring of a link holds (both stacks).
const RING: usize = 8192;
/// Buffers in each mem port's pool: a full ring plus what a core holds.
const POOL: usize = 2 * RING;
/// Ethernet frame size for an IP MTU of 1500.
const FRAME_MTU: usize = 1514;
/// Time between ESTABLISHED and the first sample.
const WARMUP: Duration = Duration::from_millis(200);
/// Connections per handshake batch in the connection-rate row.
const BATCH: usize = 16;
/// Connection pairs of the memory rows: 512 with the default buffers, 64
/// with 4 MiB ones (1 GiB of buffers per stack, mostly never touched).
fn mem_pairs(buf: usize) -> usize {
    if buf > DEFAULT_BUF {
        64
    } else {
        512
    }
}

const SERVER_CPU: usize = 0;
const CLIENT_CPU: usize = 1;
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 2);
const MAC_A: MacAddr = [0x02, 0xae, 0, 0, 9, 1];
const MAC_B: MacAddr = [0x02, 0xae, 0, 0, 9, 2];
const CHARGEN: u16 = 19;

// ------------------------------------------------------------ counting allocator

/// The system allocator, counting the bytes live while counting is on.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicI64 = AtomicI64::new(0);

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
static ALLOC: Counting = Counting;

/// Bytes allocated (and not freed) by `f` while it runs on this thread
/// (the memory rows run before any other thread exists); `f`'s result is
/// dropped after the count.
fn live_bytes_of<T>(f: impl FnOnce() -> Result<T>) -> Result<i64> {
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    let n = LIVE.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    drop(r?);
    Ok(n)
}

fn pin(cpu: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        eprintln!("warning: could not pin a thread to cpu {cpu}");
    }
}

// ------------------------------------------------------------ anyedge bulk

fn node_config(name: &str, ip: &str, chargen: bool) -> Result<NodeConfig> {
    let services = if chargen {
        format!("[services]\nchargen = {CHARGEN}\n")
    } else {
        String::new()
    };
    let text = format!(
        "[node]\nname = \"{name}\"\n[[port]]\nip = \"{ip}\"\n{services}[tcp]\nsend_buf = \"4MiB\"\nrecv_buf = \"4MiB\"\n"
    );
    NodeConfig::parse(&text).map_err(|e| anyhow::anyhow!("node config {name}: {e}"))
}

fn node(port: MemPort, cfg: NodeConfig, cpu: usize) -> Result<Node<MemPort>> {
    let opts = RunOptions {
        threading: Threading::Threads(vec![cpu]),
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    Node::new(vec![port], cfg, opts).map_err(|e| anyhow::anyhow!("node on cpu {cpu}: {e}"))
}

fn exec_json(n: &mut Node<MemPort>, cmd: &str) -> Result<Value> {
    let r = n.execute(cmd);
    if !r.ok {
        bail!("'{cmd}' failed: {}", r.text);
    }
    serde_json::from_str(&r.text).with_context(|| format!("'{cmd}' answered {}", r.text))
}

/// The client's sink connection on node B, from `show conn json`.
fn sink_conn(b: &mut Node<MemPort>) -> Result<Option<Value>> {
    let v = exec_json(b, "show conn json")?;
    Ok(v["conns"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["app"] == "sink").cloned()))
}

fn diag(a: &mut Node<MemPort>, b: &mut Node<MemPort>) -> String {
    let mut s = String::new();
    for (name, n) in [("A", a), ("B", b)] {
        let conn = exec_json(n, "show conn json").unwrap_or(Value::Null);
        let drops = exec_json(n, "show drops json").unwrap_or(Value::Null);
        let arp = exec_json(n, "show arp json").unwrap_or(Value::Null);
        s += &format!(
            "\n  node {name}: conn {conn}\n  node {name}: drops {drops}\n  node {name}: arp {arp}"
        );
    }
    s
}

/// One anyedge bulk round: Gbps received by node B over `secs`, and a
/// one-line summary of the connection's health.
fn anyedge_bulk(secs: f64) -> Result<(f64, String)> {
    let (pa, pb) = mem::pair(
        "bench-a",
        "bench-b",
        MemConfig {
            queues: 1,
            ring_size: RING,
            pool_size: POOL,
            // Like the smoltcp pair: MTU-sized, checksummed frames.
            offload: false,
        },
    );
    let mut a = node(pa, node_config("a", "10.0.9.1/24", true)?, SERVER_CPU)?;
    let mut b = node(pb, node_config("b", "10.0.9.2/24", false)?, CLIENT_CPU)?;
    for n in [&mut a, &mut b] {
        let r = n.execute("start");
        if !r.ok {
            bail!("start: {}", r.text);
        }
    }
    let r = b.execute(&format!("tcp connect {IP_A}:{CHARGEN}"));
    if !r.ok {
        bail!("tcp connect: {}", r.text);
    }
    // ARP (B asks for A) and the handshake: ESTABLISHED within 5 s.
    let t = Instant::now();
    loop {
        if let Some(c) = sink_conn(&mut b)? {
            if c["state"] == "ESTABLISHED" {
                break;
            }
        }
        if t.elapsed() > Duration::from_secs(5) {
            bail!(
                "anyedge: the connection from B to {IP_A}:{CHARGEN} did not reach ESTABLISHED within 5 s{}",
                diag(&mut a, &mut b)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARMUP);
    let bytes = |b: &mut Node<MemPort>| -> Result<u64> {
        let c = sink_conn(b)?.context("anyedge: the sink connection on B went away")?;
        c["bytes_in"].as_u64().context("bytes_in")
    };
    let (t0, b0) = (Instant::now(), bytes(&mut b)?);
    if std::env::var_os("TCP_BENCH_TRACE").is_some() {
        // Investigation aid: both ends' connection rows every 100 ms.
        while t0.elapsed().as_secs_f64() + 0.1 < secs {
            std::thread::sleep(Duration::from_millis(100));
            let (ca, cb) = (
                exec_json(&mut a, "show conn json")?,
                exec_json(&mut b, "show conn json")?,
            );
            eprintln!(
                "{:>6.2}s A {}\n        B {}",
                t0.elapsed().as_secs_f64(),
                ca["conns"],
                cb["conns"]
            );
        }
        std::thread::sleep(Duration::from_secs_f64(secs).saturating_sub(t0.elapsed()));
    } else {
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
    let (b1, dt) = (bytes(&mut b)?, t0.elapsed().as_secs_f64());
    let server = exec_json(&mut a, "show conn json")?;
    let sc = &server["conns"][0];
    let drops_a = exec_json(&mut a, "show drops json")?;
    let drops_b = exec_json(&mut b, "show drops json")?;
    // Busy share of each node's polling core (a poll that moved frames),
    // since its start: which end limits the transfer.
    // With the frames each sent and the polls that moved them: B's frames
    // per A frame is the ACK ratio, frames per busy poll the burst size.
    let busy = |n: &mut Node<MemPort>| -> Result<String> {
        let v = exec_json(n, "show fwd stats all json")?;
        Ok(format!(
            "{}% (rx {} tx {} polls {})",
            v["cores"][0]["busy_pct"], v["total"]["rx"], v["total"]["tx"], v["cores"][0]["polls"]
        ))
    };
    let (busy_a, busy_b) = (busy(&mut a)?, busy(&mut b)?);
    // Non-zero drop reasons, e.g. tx_full or no_buffer from small rings/pools.
    let nonzero = |d: &Value| -> String {
        let v: Vec<String> = d["drops"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                    .map(|(k, n)| format!("{k}={n}"))
                    .collect()
            })
            .unwrap_or_default();
        if v.is_empty() {
            "none".into()
        } else {
            v.join(",")
        }
    };
    let info = format!(
        "server cwnd {} ssthresh {} srtt {} us, retransmits {}; busy A {busy_a} B {busy_b}; drops A {} B {}",
        sc["cwnd"],
        sc["ssthresh"],
        sc["srtt_us"],
        sc["retransmits"],
        nonzero(&drops_a),
        nonzero(&drops_b)
    );
    a.shutdown();
    b.shutdown();
    Ok(((b1 - b0) as f64 * 8.0 / dt / 1e9, info))
}

// ------------------------------------------------------------ smoltcp's link

/// One direction of the in-memory link: a ring of frames and the free
/// buffers they are taken from (preallocated, recycled by the receiver).
struct Link {
    ring: ArrayQueue<(Box<[u8]>, usize)>,
    free: ArrayQueue<Box<[u8]>>,
    dropped: AtomicU64,
}

impl Link {
    fn new(frames: usize) -> Arc<Link> {
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
struct ChanDev {
    rx: Arc<Link>,
    tx: Arc<Link>,
}

/// Two devices joined back to back.
fn chan_pair(frames: usize) -> (ChanDev, ChanDev) {
    let (ab, ba) = (Link::new(frames), Link::new(frames));
    (
        ChanDev {
            rx: ba.clone(),
            tx: ab.clone(),
        },
        ChanDev { rx: ab, tx: ba },
    )
}

struct ChanRx<'a> {
    frame: (Box<[u8]>, usize),
    link: &'a Link,
}

struct ChanTx<'a> {
    link: &'a Link,
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
struct Mono(Instant);

impl Mono {
    fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.0.elapsed().as_micros() as i64)
    }
}

fn smol_iface(dev: &mut ChanDev, mac: MacAddr, ip: Ipv4Addr, clock: Mono) -> Interface {
    let mut cfg = Config::new(EthernetAddress(mac).into());
    cfg.random_seed = u64::from_le_bytes([mac[5], 0x5e, 0xed, 1, 2, 3, 4, 5]);
    let mut iface = Interface::new(cfg, dev, clock.now());
    iface.update_ip_addrs(|a| {
        let o = ip.octets();
        let _ = a.push(IpCidr::new(IpAddress::v4(o[0], o[1], o[2], o[3]), 24));
    });
    iface
}

fn smol_socket(buf: usize) -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buf]),
        tcp::SocketBuffer::new(vec![0u8; buf]),
    )
}

fn ip_a() -> IpAddress {
    let o = IP_A.octets();
    IpAddress::v4(o[0], o[1], o[2], o[3])
}

// ------------------------------------------------------------ smoltcp bulk

/// One smoltcp bulk round: Gbps received by the client over `secs`.
fn smoltcp_bulk(secs: f64) -> Result<(f64, String)> {
    let (mut dev_a, mut dev_b) = chan_pair(RING);
    let clock = Mono(Instant::now());
    let stop = Arc::new(AtomicBool::new(false));
    let listening = Arc::new(AtomicBool::new(false));
    let established = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let drops = (dev_a.tx.clone(), dev_b.tx.clone());

    let server = {
        let (stop, listening) = (stop.clone(), listening.clone());
        std::thread::spawn(move || -> Result<()> {
            pin(SERVER_CPU);
            let mut iface = smol_iface(&mut dev_a, MAC_A, IP_A, clock);
            let mut set = SocketSet::new(Vec::with_capacity(1));
            let h = set.add(smol_socket(BULK_BUF));
            set.get_mut::<tcp::Socket>(h)
                .listen(CHARGEN)
                .map_err(|e| anyhow::anyhow!("listen: {e:?}"))?;
            listening.store(true, Ordering::SeqCst);
            let data = [b'x'; 64 << 10];
            while !stop.load(Ordering::Relaxed) {
                iface.poll(clock.now(), &mut dev_a, &mut set);
                let s = set.get_mut::<tcp::Socket>(h);
                while s.can_send() {
                    match s.send_slice(&data) {
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
            }
            Ok(())
        })
    };
    let client = {
        let (stop, listening, established, received) = (
            stop.clone(),
            listening.clone(),
            established.clone(),
            received.clone(),
        );
        std::thread::spawn(move || -> Result<()> {
            pin(CLIENT_CPU);
            let mut iface = smol_iface(&mut dev_b, MAC_B, IP_B, clock);
            let mut set = SocketSet::new(Vec::with_capacity(1));
            let h = set.add(smol_socket(BULK_BUF));
            while !listening.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            set.get_mut::<tcp::Socket>(h)
                .connect(iface.context(), (ip_a(), CHARGEN), 49152u16)
                .map_err(|e| anyhow::anyhow!("connect: {e:?}"))?;
            let mut total = 0u64;
            while !stop.load(Ordering::Relaxed) {
                iface.poll(clock.now(), &mut dev_b, &mut set);
                let s = set.get_mut::<tcp::Socket>(h);
                if s.state() == tcp::State::Established {
                    established.store(true, Ordering::Relaxed);
                }
                while s.can_recv() {
                    match s.recv(|b| (b.len(), b.len())) {
                        Ok(n) if n > 0 => total += n as u64,
                        _ => break,
                    }
                }
                received.store(total, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let finish = |stop: &AtomicBool| -> Result<()> {
        stop.store(true, Ordering::SeqCst);
        server
            .join()
            .map_err(|_| anyhow::anyhow!("smoltcp server thread panicked"))??;
        client
            .join()
            .map_err(|_| anyhow::anyhow!("smoltcp client thread panicked"))??;
        Ok(())
    };
    let t = Instant::now();
    while !established.load(Ordering::SeqCst) {
        if t.elapsed() > Duration::from_secs(5) {
            finish(&stop)?;
            bail!("smoltcp: the connection did not reach ESTABLISHED within 5 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARMUP);
    let (t0, b0) = (Instant::now(), received.load(Ordering::SeqCst));
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (b1, dt) = (received.load(Ordering::SeqCst), t0.elapsed().as_secs_f64());
    finish(&stop)?;
    let info = format!(
        "link drops {} / {}",
        drops.0.dropped.load(Ordering::SeqCst),
        drops.1.dropped.load(Ordering::SeqCst)
    );
    Ok(((b1 - b0) as f64 * 8.0 / dt / 1e9, info))
}

// ------------------------------------------------------------ anyedge's core, in memory

fn ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

/// Frames in flight in one direction, in recycled buffers.
#[derive(Default)]
struct Frames {
    q: Vec<(Box<[u8]>, usize)>,
    free: Vec<Box<[u8]>>,
}

impl Frames {
    fn push(&mut self, build: impl FnOnce(&mut [u8]) -> Option<usize>) -> Result<()> {
        let mut buf = self
            .free
            .pop()
            .unwrap_or_else(|| vec![0u8; 2048].into_boxed_slice());
        let len = build(&mut buf).context("emit_tcp: frame does not fit")?;
        self.q.push((buf, len));
        Ok(())
    }
}

/// One end: a connection table with its addresses.
struct End {
    table: Table,
    mac: MacAddr,
    peer_mac: MacAddr,
    accepted: Vec<ConnId>,
}

impl End {
    fn new(capacity: usize, buf: usize, mac: MacAddr, peer_mac: MacAddr) -> End {
        End {
            table: Table::new(TableConfig {
                capacity,
                conn: ConnConfig {
                    mss: 1460,
                    send_buf: buf,
                    recv_buf: buf,
                    ..ConnConfig::default()
                },
                ..TableConfig::default()
            }),
            mac,
            peer_mac,
            accepted: Vec::with_capacity(capacity),
        }
    }

    /// Sends what connection `id` has to send, reads its events, rearms
    /// its timer, and frees it once closed (as the node's stack does).
    fn drain(&mut self, now: u64, id: ConnId, scratch: &mut [u8], out: &mut Frames) -> Result<()> {
        let Some(c) = self.table.get_mut(id) else {
            return Ok(());
        };
        let (src, dst) = (*c.local.ip(), *c.remote.ip());
        while let Some(o) = c.poll_transmit(now, scratch) {
            let payload = &scratch[..o.payload_len];
            out.push(|buf| {
                emit_tcp(
                    buf,
                    self.peer_mac,
                    self.mac,
                    None,
                    src,
                    dst,
                    64,
                    &o.hdr,
                    payload,
                )
            })?;
        }
        while c.poll_event().is_some() {}
        let closed = c.is_closed();
        self.table.rearm(id, now);
        if closed {
            self.table.reap(id);
        }
        Ok(())
    }

    /// Takes every frame of `input`, answers into `out`.
    fn deliver(
        &mut self,
        now: u64,
        input: &mut Frames,
        out: &mut Frames,
        scratch: &mut [u8],
    ) -> Result<()> {
        let caps = ChecksumCaps {
            ipv4_verified: false,
            l4_verified: false,
        };
        let mut q = std::mem::take(&mut input.q);
        for (buf, len) in q.drain(..) {
            {
                let f = parse(&buf[..len], caps).map_err(|e| anyhow::anyhow!("parse: {e:?}"))?;
                let L3::Ipv4(ip) = f.l3 else {
                    bail!("not IPv4")
                };
                let L4::Tcp(t) = ip.l4 else { bail!("not TCP") };
                let seg = Segment::from_wire(&t).map_err(|e| anyhow::anyhow!("options: {e:?}"))?;
                let local = SocketAddrV4::new(ip.dst, t.dst_port);
                let remote = SocketAddrV4::new(ip.src, t.src_port);
                match self.table.handle(now, local, remote, &seg) {
                    Dispatch::Accepted(id) => {
                        self.accepted.push(id);
                        self.drain(now, id, scratch, out)?;
                    }
                    Dispatch::Conn(id) => self.drain(now, id, scratch, out)?,
                    Dispatch::Reply(h) => {
                        let (src, dst) = (*local.ip(), *remote.ip());
                        out.push(|b| {
                            emit_tcp(b, self.peer_mac, self.mac, None, src, dst, 64, &h, &[])
                        })?
                    }
                    Dispatch::Dropped => {}
                }
            }
            input.free.push(buf);
        }
        input.q = q;
        Ok(())
    }
}

/// A client table and a server table (listening on port 80) on one thread.
struct AeHandshakes {
    client: End,
    server: End,
    c2s: Frames,
    s2c: Frames,
    scratch: Vec<u8>,
    next_port: u16,
    ids: Vec<ConnId>,
    touched: Vec<ConnId>,
}

impl AeHandshakes {
    fn new(capacity: usize, buf: usize) -> AeHandshakes {
        let mut server = End::new(capacity, buf, MAC_A, MAC_B);
        server.table.listen(80);
        AeHandshakes {
            client: End::new(capacity, buf, MAC_B, MAC_A),
            server,
            c2s: Frames::default(),
            s2c: Frames::default(),
            scratch: vec![0u8; 64 << 10],
            next_port: 10000,
            ids: Vec::with_capacity(capacity),
            touched: Vec::with_capacity(capacity),
        }
    }

    /// Opens `n` connections and completes their handshakes; returns how
    /// many reached ESTABLISHED (checked on both ends).
    fn open(&mut self, t0: Instant, n: usize) -> Result<usize> {
        self.ids.clear();
        self.server.accepted.clear();
        let now = ns(t0);
        for _ in 0..n {
            self.next_port = if self.next_port >= 60000 {
                10000
            } else {
                self.next_port + 1
            };
            let local = SocketAddrV4::new(IP_B, self.next_port);
            let id = self
                .client
                .table
                .connect(now, local, SocketAddrV4::new(IP_A, 80))
                .context("anyedge: client table full")?;
            self.ids.push(id);
            self.client
                .drain(now, id, &mut self.scratch, &mut self.c2s)?; // SYN
        }
        self.server
            .deliver(ns(t0), &mut self.c2s, &mut self.s2c, &mut self.scratch)?; // SYN-ACK
        self.client
            .deliver(ns(t0), &mut self.s2c, &mut self.c2s, &mut self.scratch)?; // ACK
        let mut up = 0;
        for &id in &self.ids {
            if self
                .client
                .table
                .get(id)
                .is_some_and(|c| c.state() == State::Established)
            {
                up += 1;
            }
        }
        self.server
            .deliver(ns(t0), &mut self.c2s, &mut self.s2c, &mut self.scratch)?;
        let server_up = self
            .server
            .accepted
            .iter()
            .filter(|&&id| {
                self.server
                    .table
                    .get(id)
                    .is_some_and(|c| c.state() == State::Established)
            })
            .count();
        if up != n || server_up != n {
            bail!("anyedge: {up} clients and {server_up} servers ESTABLISHED of {n}");
        }
        Ok(up)
    }

    /// Aborts the open connections (RST) and checks both tables are empty.
    fn abort_all(&mut self, t0: Instant) -> Result<()> {
        let now = ns(t0);
        for &id in &self.ids {
            if let Some(c) = self.client.table.get_mut(id) {
                c.abort();
            }
            self.client
                .drain(now, id, &mut self.scratch, &mut self.c2s)?; // RST, reaped
        }
        self.server
            .deliver(ns(t0), &mut self.c2s, &mut self.s2c, &mut self.scratch)?;
        if !self.client.table.is_empty() || !self.server.table.is_empty() {
            bail!(
                "anyedge: {} client and {} server connections left after abort",
                self.client.table.len(),
                self.server.table.len()
            );
        }
        let now = ns(t0);
        for end in [&mut self.client, &mut self.server] {
            self.touched.clear();
            end.table.handle_timeouts(now, &mut self.touched);
        }
        Ok(())
    }
}

/// anyedge: connections established per second on one core.
fn anyedge_conn_rate(secs: f64) -> Result<f64> {
    on_cpu(SERVER_CPU, move || {
        let mut h = AeHandshakes::new(4096, DEFAULT_BUF);
        let t0 = Instant::now();
        let dur = Duration::from_secs_f64(secs);
        let mut n = 0u64;
        while t0.elapsed() < dur {
            n += h.open(t0, BATCH)? as u64;
            h.abort_all(t0)?;
        }
        Ok(n as f64 / t0.elapsed().as_secs_f64())
    })
}

fn on_cpu<T: Send + 'static>(
    cpu: usize,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    std::thread::spawn(move || {
        pin(cpu);
        f()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("benchmark thread panicked"))?
}

// ------------------------------------------------------------ smoltcp handshakes

/// Two smoltcp interfaces on one thread: `n` client sockets and `n`
/// listening server sockets on port 80.
struct SmolHandshakes {
    clock: Mono,
    cdev: ChanDev,
    sdev: ChanDev,
    ciface: Interface,
    siface: Interface,
    cset: SocketSet<'static>,
    sset: SocketSet<'static>,
    clients: Vec<SocketHandle>,
    servers: Vec<SocketHandle>,
    next_port: u16,
}

impl SmolHandshakes {
    fn new(clock: Mono) -> SmolHandshakes {
        let (mut sdev, mut cdev) = chan_pair(RING);
        let siface = smol_iface(&mut sdev, MAC_A, IP_A, clock);
        let ciface = smol_iface(&mut cdev, MAC_B, IP_B, clock);
        SmolHandshakes {
            clock,
            cdev,
            sdev,
            ciface,
            siface,
            cset: SocketSet::new(Vec::new()),
            sset: SocketSet::new(Vec::new()),
            clients: Vec::new(),
            servers: Vec::new(),
            next_port: 10000,
        }
    }

    /// Adds `n` client and `n` server sockets with `buf`-byte buffers.
    fn add_sockets(&mut self, n: usize, buf: usize) -> Result<()> {
        self.cset = SocketSet::new(Vec::with_capacity(n));
        self.sset = SocketSet::new(Vec::with_capacity(n));
        for _ in 0..n {
            self.clients.push(self.cset.add(smol_socket(buf)));
            let h = self.sset.add(smol_socket(buf));
            self.sset
                .get_mut::<tcp::Socket>(h)
                .listen(80)
                .map_err(|e| anyhow::anyhow!("listen: {e:?}"))?;
            self.servers.push(h);
        }
        Ok(())
    }

    fn poll(&mut self) {
        self.ciface
            .poll(self.clock.now(), &mut self.cdev, &mut self.cset);
        self.siface
            .poll(self.clock.now(), &mut self.sdev, &mut self.sset);
    }

    /// Connects every client and polls until both ends are ESTABLISHED.
    fn open(&mut self) -> Result<usize> {
        for &h in &self.clients {
            self.next_port = if self.next_port >= 60000 {
                10000
            } else {
                self.next_port + 1
            };
            self.cset
                .get_mut::<tcp::Socket>(h)
                .connect(self.ciface.context(), (ip_a(), 80), self.next_port)
                .map_err(|e| anyhow::anyhow!("connect: {e:?}"))?;
        }
        let t = Instant::now();
        loop {
            self.poll();
            let up = |set: &SocketSet, hs: &[SocketHandle]| {
                hs.iter()
                    .filter(|&&h| set.get::<tcp::Socket>(h).state() == tcp::State::Established)
                    .count()
            };
            let (c, s) = (up(&self.cset, &self.clients), up(&self.sset, &self.servers));
            if c == self.clients.len() && s == self.servers.len() {
                return Ok(c);
            }
            if t.elapsed() > Duration::from_secs(5) {
                bail!(
                    "smoltcp: {c} clients and {s} servers ESTABLISHED of {} after 5 s",
                    self.clients.len()
                );
            }
        }
    }

    /// Aborts the clients (RST) and puts the servers back to LISTEN.
    fn abort_all(&mut self) -> Result<()> {
        for &h in &self.clients {
            self.cset.get_mut::<tcp::Socket>(h).abort();
        }
        let t = Instant::now();
        loop {
            self.poll();
            let mut waiting = 0;
            for &h in &self.servers {
                let s = self.sset.get_mut::<tcp::Socket>(h);
                match s.state() {
                    tcp::State::Listen => {}
                    tcp::State::Closed => {
                        s.listen(80).map_err(|e| anyhow::anyhow!("listen: {e:?}"))?
                    }
                    _ => waiting += 1,
                }
            }
            if waiting == 0 {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(5) {
                bail!("smoltcp: {waiting} server sockets did not see the clients' RST");
            }
        }
    }
}

/// smoltcp: connections established per second on one core.
fn smoltcp_conn_rate(secs: f64) -> Result<f64> {
    on_cpu(SERVER_CPU, move || {
        let mut h = SmolHandshakes::new(Mono(Instant::now()));
        h.add_sockets(BATCH, DEFAULT_BUF)?;
        let t0 = Instant::now();
        let dur = Duration::from_secs_f64(secs);
        let mut n = 0u64;
        while t0.elapsed() < dur {
            n += h.open()? as u64;
            h.abort_all()?;
        }
        Ok(n as f64 / t0.elapsed().as_secs_f64())
    })
}

// ------------------------------------------------------------ memory per idle connection

/// anyedge: bytes per idle ESTABLISHED connection with `buf`-byte buffers.
fn anyedge_idle_bytes(buf: usize) -> Result<f64> {
    let t0 = Instant::now();
    // Two tables of `pairs` slots holding `pairs` connections each,
    // less two empty one-slot tables (the fixed part: timer wheel, scratch).
    let pairs = mem_pairs(buf);
    let full = live_bytes_of(|| {
        let mut h = AeHandshakes::new(pairs, buf);
        h.open(t0, pairs)?;
        // Frames in flight and the harness's id lists are not the
        // connections' memory.
        (h.c2s, h.s2c) = (Frames::default(), Frames::default());
        (h.ids, h.touched) = (Vec::new(), Vec::new());
        (h.client.accepted, h.server.accepted) = (Vec::new(), Vec::new());
        Ok(h)
    })?;
    let empty = live_bytes_of(|| Ok(AeHandshakes::new(1, buf)))?;
    Ok((full - empty) as f64 / (2 * pairs) as f64)
}

/// smoltcp: bytes per idle ESTABLISHED socket with `buf`-byte buffers.
fn smoltcp_idle_bytes(buf: usize) -> Result<f64> {
    let pairs = mem_pairs(buf);
    let mut h = SmolHandshakes::new(Mono(Instant::now()));
    // The harness's handle lists are not the sockets' memory.
    h.clients.reserve(pairs);
    h.servers.reserve(pairs);
    let n = live_bytes_of(|| {
        h.add_sockets(pairs, buf)?;
        h.open()
    })?;
    Ok(n as f64 / (2 * pairs) as f64)
}

// ------------------------------------------------------------ main

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: f64 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    if !(0.5..=60.0).contains(&secs) || !(1..=20).contains(&rounds) {
        bail!("usage: tcp [SECONDS 0.5..60] [ROUNDS 1..20]");
    }
    println!(
        "tcp: anyedge (engine nodes on a mem pair, sans-IO core) against smoltcp 0.14; \
         {rounds} rounds of {secs} s per row; server cpu {SERVER_CPU}, client cpu {CLIENT_CPU}"
    );

    // TCP_BENCH_ROWS=bulk,rate,mem picks rows (for investigations; the
    // summary line then covers only those).
    let only = std::env::var("TCP_BENCH_ROWS").ok();
    let want = |r: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == r));

    let mut rows = Vec::new();
    // Memory first, while this is the only thread (the allocator counts
    // every thread's allocations).
    if want("mem") {
        println!(
            "\nmemory per idle ESTABLISHED connection (counting allocator, both ends counted):"
        );
        let mut first = None;
        for buf in [DEFAULT_BUF, BULK_BUF] {
            let (a, s) = (anyedge_idle_bytes(buf)?, smoltcp_idle_bytes(buf)?);
            println!(
                "  {:>4} KiB buffers each way, {} pairs: anyedge {a:.0} B (size_of::<Conn>() = {} B, {} B of buffers once data flows), \
                 smoltcp {s:.0} B (size_of::<tcp::Socket>() = {} B)",
                buf >> 10,
                mem_pairs(buf),
                std::mem::size_of::<anyedge_tcp::Conn>(),
                2 * buf,
                std::mem::size_of::<tcp::Socket>(),
            );
            first.get_or_insert((buf, a, s));
        }
        if let Some((buf, a, s)) = first {
            let gib = (1u64 << 30) as f64;
            rows.push(Row {
                name: format!("idle conns per GiB, {} KiB bufs", buf >> 10),
                unit: "conn",
                ours: vec![gib / a],
                peer: vec![gib / s],
            });
        }
    }

    if want("bulk") {
        let mut bulk = Row {
            name: "bulk TCP, 1 core each, mem pair".into(),
            unit: "Gbps",
            ours: Vec::new(),
            peer: Vec::new(),
        };
        for r in 0..rounds {
            let (a, ai) = anyedge_bulk(secs)?;
            println!("bulk round {}: anyedge {a:.2} Gbps ({ai})", r + 1);
            let (s, si) = smoltcp_bulk(secs)?;
            println!("bulk round {}: smoltcp {s:.2} Gbps ({si})", r + 1);
            bulk.ours.push(a);
            bulk.peer.push(s);
        }
        rows.insert(0, bulk);
    }

    if want("rate") {
        let mut rate = Row {
            name: "conns established/s, 1 core".into(),
            unit: "k/s",
            ours: Vec::new(),
            peer: Vec::new(),
        };
        for r in 0..rounds {
            let a = anyedge_conn_rate(secs)? / 1e3;
            let s = smoltcp_conn_rate(secs)? / 1e3;
            println!(
                "conn-rate round {}: anyedge {a:.1}k/s, smoltcp {s:.1}k/s",
                r + 1
            );
            rate.ours.push(a);
            rate.peer.push(s);
        }
        let at = rows.len().min(1);
        rows.insert(at, rate);
    }

    let cmd = format!("cargo run --release -p anyedge-bench --bin tcp -- {secs} {rounds}");
    report("tcp", "smoltcp", &cmd, &rows);
    Ok(())
}
