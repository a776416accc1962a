//! An anyedge node inside the simulator: the real [`Node`] on mem ports,
//! stepped in virtual time. The simulator holds the far end of each mem port
//! and carries frames between it and the links.

use crate::Device;
use anyedge_node::clock::VirtualClock;
use anyedge_node::{FwdMode, Node, NodeConfig, RunOptions, Threading};
use anyedge_port::mem::{pair, MemConfig, MemPort, MemRx, MemTx};
use anyedge_port::{FrameBuf, Port, RxQueue, TxQueue};
use std::any::Any;
use std::sync::Arc;

/// A node in the simulation.
pub struct EngineNode {
    name: String,
    /// The node itself: console commands work on it as on a real one.
    pub node: Node<MemPort>,
    far: Vec<(MemRx, MemTx)>,
    clock: VirtualClock,
    /// Frames the simulator could not hand to the node (its ring was full).
    pub refused: u64,
    rx: Vec<anyedge_port::PktBuf>,
}

impl EngineNode {
    /// Builds a node with one mem port per `[[port]]` of `cfg` and starts it in `mode`.
    pub fn new(cfg: NodeConfig, mode: FwdMode) -> Result<Self, String> {
        let name = cfg.name.clone();
        let mut ports = Vec::new();
        let mut far = Vec::new();
        for i in 0..cfg.ports.len().max(1) {
            let (a, mut b) = pair(
                &format!("{name}-p{i}"),
                &format!("{name}-wire{i}"),
                MemConfig::default(),
            );
            let (mut rx, mut tx) = b.take_queues();
            far.push((rx.remove(0), tx.remove(0)));
            ports.push(a);
        }
        let opts = RunOptions {
            threading: Threading::Manual(1),
            mode,
            ..RunOptions::default()
        };
        let mut node = Node::new(ports, cfg, opts)?;
        let clock = VirtualClock::new();
        node.set_clock(Arc::new(clock.clone()));
        node.start()?;
        Ok(EngineNode {
            name,
            node,
            far,
            clock,
            refused: 0,
            rx: Vec::with_capacity(64),
        })
    }
}

impl Device for EngineNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&mut self, _now: u64, port: usize, frame: &[u8]) {
        let Some((_, tx)) = self.far.get_mut(port) else {
            return;
        };
        let Some(mut b) = tx.alloc() else {
            self.refused += 1;
            return;
        };
        if !b.set_len(frame.len()) {
            self.refused += 1;
            return;
        }
        b.data_mut().copy_from_slice(frame);
        let mut v = vec![b];
        if tx.tx_burst(&mut v) == 0 {
            self.refused += 1;
        }
    }

    fn poll(&mut self, now: u64, out: &mut Vec<(usize, Vec<u8>)>) {
        self.clock.set(now);
        // Poll until the node is idle, taking its output as it goes so its
        // transmit rings never fill.
        loop {
            let work = self.node.poll(now);
            let mut moved = 0;
            for (i, (rx, _)) in self.far.iter_mut().enumerate() {
                while rx.rx_burst(&mut self.rx, 64) > 0 {
                    for b in self.rx.drain(..) {
                        out.push((i, b.data().to_vec()));
                        moved += 1;
                    }
                }
            }
            if work == 0 && moved == 0 {
                break;
            }
        }
    }

    fn next_wakeup(&self, now: u64) -> Option<u64> {
        // TCP timers live in the node's cores; while it has connections, a
        // 1 ms tick runs them (finer than any RTO or delayed ACK).
        self.node.tcp_busy().then_some(now + 1_000_000)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
