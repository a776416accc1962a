//! The client against a real node on an offloaded mem pair: 64 KiB
//! super-segments by reference, no checksums, byte-exact all the same.

use super::download::Download;
use super::Fetcher;
use crate::clock::VirtualClock;
use crate::node::{Node, RunOptions, Threading};
use crate::{FwdMode, NodeConfig};
use anyedge_port::mem::{pair, MemConfig};
use anyedge_port::Port;
use anyedge_tcp::conn::ConnConfig;
use std::net::SocketAddrV4;
use std::sync::Arc;

#[test]
fn a_download_over_tso_super_segments_is_byte_exact() {
    let dir = std::env::temp_dir().join(format!("anyedge-tso-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body: Vec<u8> = (0..3u32 << 20).map(|i| (i * 31 + i / 4093) as u8).collect();
    std::fs::write(dir.join("big.bin"), &body).unwrap();
    let cfg = NodeConfig::parse(&format!(
        "[[port]]\nip = \"10.0.2.2/24\"\n[http]\nport = 80\n[cache]\ndir = \"{}\"\nsize = \"16MiB\"\n",
        dir.display()
    ))
    .unwrap();
    let (ps, pc) = pair(
        "tso-srv",
        "tso-cli",
        MemConfig {
            offload: true,
            ..MemConfig::default()
        },
    );
    let counters = pc.queue_counters();
    let opts = RunOptions {
        threading: Threading::Manual(1),
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    let mut node = Node::new(vec![ps], cfg, opts).unwrap();
    let clock = VirtualClock::new();
    node.set_clock(Arc::new(clock.clone()));
    node.start().unwrap();
    let server = SocketAddrV4::new([10, 0, 2, 2].into(), 80);
    let conn = ConnConfig {
        recv_buf: 4 << 20,
        ..ConnConfig::default()
    };
    let dl = Download::new(server, "/big.bin", 0, conn, 40000);
    let net = crate::config::Ipv4Net {
        addr: [10, 0, 2, 1].into(),
        prefix: 24,
    };
    let mut f = Fetcher::new(pc, net, [10, 0, 2, 254].into(), dl).unwrap();
    let mut now = 0;
    for _ in 0..200_000 {
        now += 10_000;
        clock.set(now);
        node.poll(now);
        f.poll(now);
        if f.download.finished() {
            break;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let d = &f.download;
    assert!(d.finished(), "error {:?}, {} bytes", d.error, d.data.len());
    assert!(d.data == body, "byte-exact");
    assert_eq!(f.stats.malformed, 0);
    // Received on queue 0: far fewer frames than 1448-byte segments.
    let rx = counters[0].snapshot();
    assert!(
        rx.rx_bytes / rx.rx_packets > 8000,
        "super-segments: {} bytes in {} frames",
        rx.rx_bytes,
        rx.rx_packets
    );
}
