//! The DPDK build of `anyedge run` (cargo feature `dpdk`).
//!
//! The EAL arguments go to `rte_eal_init` exactly as given (`eal.raw`), so
//! every device DPDK knows works: a NIC with `-a`, and the net_tap, net_null,
//! net_ring, net_memif and net_af_packet vdevs. Every probed port becomes a
//! [`DpdkPort`] of one `Node<DpdkPort>`, with `--rxq/--txq` queues, an mbuf
//! pool sized from the queues and cores (at least `--total-num-mbufs`), and
//! the offloads the device has. On `quit`, SIGINT or SIGTERM the caller
//! stops the node and then [`Dpdk::close`] stops and closes the ports.

use crate::eal;
use crate::run::AppArgs;
use anyedge_node::{Control, Node, NodeConfig, RunOptions, Threading};
use anyedge_port::dpdk::{DpdkConfig, DpdkPort, Eal};
use anyedge_port::Port;
use anyhow::{anyhow, Context, Result};

/// The DPDK side of a running engine, for closing the ports at the end.
pub struct Dpdk {
    eal: Eal,
}

impl Dpdk {
    /// Stops and closes every port (net_tap removes its interface). Call
    /// after the node's cores have stopped.
    pub fn close(&self) {
        self.eal.close_ports();
    }
}

/// Initialises the EAL, opens every port it probed and builds the node.
pub fn build_node(
    eal_args: &eal::Eal,
    app: &AppArgs,
    cfg: NodeConfig,
    opts: RunOptions,
) -> Result<(Box<dyn Control>, Dpdk)> {
    let eal = Eal::init(&eal_args.raw).map_err(|e| anyhow!(e))?;
    let cores = match &opts.threading {
        Threading::Threads(c) => c.len(),
        Threading::Manual(n) => *n,
    };
    let dcfg = DpdkConfig {
        rxq: app.rxq,
        txq: app.txq,
        cores,
        burst: app.burst,
        total_mbufs: app.total_num_mbufs,
        ..DpdkConfig::default()
    };
    let ports = DpdkPort::open_all(&eal, &dcfg)
        .map_err(|e| anyhow!(e))
        .context("DPDK port setup")?;
    if ports.len() != eal_args.devices.len() {
        log::warn!(
            "DPDK probed {} port(s) for {} device argument(s)",
            ports.len(),
            eal_args.devices.len()
        );
    }
    for p in &ports {
        let i = p.info();
        log::info!(
            "port {}: {} ({}){} caps: rx csum {}/{}, tx csum {}, multi-seg {}, tso {}",
            p.id(),
            i.name,
            i.driver,
            i.iface.map(|n| format!(" iface {n}")).unwrap_or_default(),
            i.caps.rx_ipv4_csum,
            i.caps.rx_l4_csum,
            i.caps.tx_csum,
            i.caps.tx_multi_seg,
            i.caps.tx_tso
        );
    }
    let node = Node::new(ports, cfg, opts).map_err(|e| anyhow!(e))?;
    Ok((Box::new(node), Dpdk { eal }))
}
