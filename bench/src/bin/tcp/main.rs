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
/// Buffers in each mem port's pool: as many as each direction of
/// smoltcp's link has (a full ring). Twice that measured slower: the
/// pool is first-in first-out, so more buffers are colder ones.
const POOL: usize = RING;
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

mod alloc;
mod anyedge_bulk;
mod core;
mod idle;
mod smol_bulk;
mod smol_conn;
mod smol_link;

use alloc::*;
use anyedge_bulk::*;
use core::*;
use idle::*;
use smol_bulk::*;
use smol_conn::*;
use smol_link::*;

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
