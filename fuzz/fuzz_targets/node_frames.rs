//! Drives a `cdn` node (the real lcore and mode code on a mem port) with an
//! arbitrary sequence of frames and checks that it never panics and that every
//! frame is accounted for: answered, consumed, or dropped by one reason.
#![no_main]

use anyedge_node::{FwdMode, Node, NodeConfig, RunOptions};
use anyedge_port::mem::{pair, MemConfig};
use anyedge_port::{FrameBuf, Port, RxQueue, TxQueue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let small = MemConfig {
        queues: 1,
        ring_size: 64,
        pool_size: 320,
        offload: false,
    };
    let (a, mut b) = pair("node0", "host0", small);
    let cfg = NodeConfig::parse(
        "[[port]]\nip = \"10.0.2.2/24\"\n[anycast]\nvips = [\"203.0.113.10\"]\n",
    )
    .expect("config");
    let opts = RunOptions {
        mode: FwdMode::Cdn,
        ..RunOptions::default()
    };
    let mut node = Node::new(vec![a], cfg, opts).expect("node");
    let mac = node.port_infos()[0].mac;
    let (mut rx, mut tx) = b.take_queues();
    node.start().expect("start");
    let mut sink = Vec::with_capacity(64);
    let mut sent = 0u64;
    // Input: [len_hi, len_lo, flags, bytes...] repeated. Bit 0 of flags puts
    // the node's MAC in front so that the frame passes the L2 filter.
    let mut rest = data;
    while rest.len() >= 3 && sent < 256 {
        let len = (usize::from(rest[0]) << 8 | usize::from(rest[1])) % 1600;
        let ours = rest[2] & 1 == 1;
        rest = &rest[3..];
        let take = len.min(rest.len());
        let mut buf = tx[0].alloc().expect("buffer");
        let mut frame = rest[..take].to_vec();
        rest = &rest[take..];
        if ours && frame.len() >= 6 {
            frame[..6].copy_from_slice(&mac);
        }
        buf.set_len(frame.len());
        buf.data_mut().copy_from_slice(&frame);
        let mut v = vec![buf];
        if tx[0].tx_burst(&mut v) == 1 {
            sent += 1;
        }
        node.poll(sent);
        rx[0].rx_burst(&mut sink, 64);
        sink.clear();
    }
    let t = node.total_stats();
    assert_eq!(t.rx, sent);
    assert_eq!(t.rx, t.answered + t.consumed + t.dropped(), "every frame accounted");
});
