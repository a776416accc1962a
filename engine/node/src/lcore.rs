//! A polling core: owns its streams, polls them in bursts, and runs the mode.
//!
//! A [`Stream`] is one receive queue paired with the transmit queue its frames
//! leave by (testpmd's forwarding stream). An [`Lcore`] owns a set of streams for
//! as long as forwarding runs; no other thread touches them, so the fast path
//! takes no lock (DESIGN.md section 2). The same `Lcore` runs on a pinned thread
//! in production ([`crate::node`]) and is stepped in virtual time by the
//! simulator.

use crate::fwd::{self, FwdCtx, FwdMode, StreamMeta};
use crate::stats::{LcoreCounters, NodeDrop, StreamCounters};
use anyedge_port::{Port, RxQueue, TxQueue};
use std::sync::Arc;

/// One receive queue and the transmit queue its frames leave by.
pub struct Stream<P: Port> {
    /// Receiving port.
    pub rx_port: u16,
    /// Queue index on both ports.
    pub queue: u16,
    /// Transmitting port.
    pub tx_port: u16,
    /// The receive queue.
    pub rxq: P::Rx,
    /// The transmit queue.
    pub txq: P::Tx,
    /// Counters, kept across start/stop.
    pub counters: Arc<StreamCounters>,
}

impl<P: Port> Stream<P> {
    fn meta(&self) -> StreamMeta {
        StreamMeta {
            rx_port: self.rx_port,
            tx_port: self.tx_port,
        }
    }
}

/// A polling core.
pub struct Lcore<P: Port> {
    /// Index of this core among the forwarding cores.
    pub id: usize,
    streams: Vec<Stream<P>>,
    mode: FwdMode,
    ctx: FwdCtx,
    burst: usize,
    rx: Vec<P::Buf>,
    tx: Vec<P::Buf>,
    counters: Arc<LcoreCounters>,
}

impl<P: Port> Lcore<P> {
    /// Creates an idle core. `burst` is the most frames moved per call.
    pub fn new(id: usize, ctx: FwdCtx, burst: usize, counters: Arc<LcoreCounters>) -> Self {
        let burst = burst.clamp(1, 1024);
        let mut ctx = ctx;
        ctx.burst = burst;
        Lcore {
            id,
            streams: Vec::new(),
            mode: FwdMode::Io,
            ctx,
            burst,
            // Room for a full burst plus the start-up announcements: no growth later.
            rx: Vec::with_capacity(burst + 64),
            tx: Vec::with_capacity(burst + 64),
            counters,
        }
    }

    /// Takes streams and starts forwarding in `mode`. In answering modes the
    /// core announces its addresses with gratuitous ARP on each port it owns
    /// queue 0 of.
    pub fn start(&mut self, streams: Vec<Stream<P>>, mode: FwdMode, now: u64) {
        self.streams = streams;
        self.mode = mode;
        self.ctx.now = now;
        if mode.answers_in_place() {
            for s in self.streams.iter_mut().filter(|s| s.queue == 0) {
                fwd::icmpecho::gratuitous_arp(
                    &self.ctx,
                    s.tx_port,
                    &s.counters,
                    &mut s.txq,
                    &mut self.tx,
                );
                flush(s, &mut self.tx);
            }
        }
    }

    /// Stops forwarding and gives the streams back.
    pub fn stop(&mut self) -> Vec<Stream<P>> {
        std::mem::take(&mut self.streams)
    }

    /// Whether the core owns streams (is forwarding).
    pub fn is_running(&self) -> bool {
        !self.streams.is_empty()
    }

    /// The mode in use.
    pub fn mode(&self) -> FwdMode {
        self.mode
    }

    /// The core's ARP cache, for `show arp`.
    pub fn ctx(&self) -> &FwdCtx {
        &self.ctx
    }

    /// `show conn` rows of this core.
    pub fn conn_rows(&self) -> (Vec<crate::tcp::ConnRow>, Vec<crate::tcp::ConnRow>) {
        self.ctx
            .tcp
            .as_ref()
            .map(|t| t.rows(self.id))
            .unwrap_or_default()
    }

    /// Whether this core has TCP connections (whose timers need polls).
    pub fn tcp_busy(&self) -> bool {
        // Standby records count: a backup pokes the clients of silent primaries.
        self.ctx.tcp.as_ref().is_some_and(|t| {
            !t.table.is_empty() || t.overlay.as_ref().is_some_and(|o| o.repl.standby_len() > 0)
        })
    }

    /// TCP table counters of this core.
    pub fn tcp_stats(&self) -> anyedge_tcp::table::TableStats {
        self.ctx.tcp.as_ref().map(|t| t.stats()).unwrap_or_default()
    }

    /// Opens a TCP connection from this core (the engine as client).
    pub fn tcp_connect(
        &mut self,
        now: u64,
        remote: std::net::SocketAddrV4,
    ) -> Result<String, String> {
        let addrs = self.ctx.addrs.clone();
        let port = addrs
            .ports
            .iter()
            .position(|p| p.net.is_some_and(|n| n.contains(*remote.ip())))
            .unwrap_or(0) as u16;
        let FwdCtx { arp, tcp, .. } = &mut self.ctx;
        let tcp = tcp.as_mut().ok_or("no TCP stack on this core")?;
        tcp.connect(now, &addrs, arp, port, remote).map(|id| {
            format!(
                "connecting to {remote} (connection {id} on core {})",
                self.id
            )
        })
    }

    /// The core's counters.
    pub fn counters(&self) -> &Arc<LcoreCounters> {
        &self.counters
    }

    /// One pass over every stream: receive a burst, run the mode, send.
    /// Returns the number of frames received plus sent (0 means idle).
    #[inline]
    pub fn poll(&mut self, now: u64) -> usize {
        self.ctx.now = now;
        self.counters.polls.inc();
        if self.mode == FwdMode::Cdn {
            if let Some(t) = self.ctx.tcp.as_mut() {
                t.run_timers(now);
            }
        }
        let mut work = 0;
        if self.mode == FwdMode::Io {
            // io touches nothing: the burst is received straight into the
            // transmit vector (testpmd's io engine passes one array too).
            for s in self.streams.iter_mut() {
                let n = s.rxq.rx_burst(&mut self.tx, self.burst);
                if n > 0 {
                    s.counters.rx.add(n as u64);
                    work += n + flush(s, &mut self.tx);
                }
            }
            return work;
        }
        for s in self.streams.iter_mut() {
            let n = s.rxq.rx_burst(&mut self.rx, self.burst);
            if n > 0 {
                s.counters.rx.add(n as u64);
            }
            let meta = s.meta();
            let (ctx, c, rx, tx, txq) = (
                &mut self.ctx,
                &*s.counters,
                &mut self.rx,
                &mut self.tx,
                &mut s.txq,
            );
            match self.mode {
                FwdMode::Io => unreachable!("io streams are polled above"),
                FwdMode::Mac => fwd::mac::process(ctx, meta, c, rx, tx, txq),
                FwdMode::MacSwap => fwd::macswap::process(ctx, meta, c, rx, tx, txq),
                FwdMode::RxOnly => fwd::rxonly::process(ctx, meta, c, rx, tx, txq),
                FwdMode::TxOnly => fwd::txonly::process(ctx, meta, c, rx, tx, txq, self.burst),
                FwdMode::IcmpEcho => fwd::icmpecho::process(ctx, meta, c, rx, tx, txq),
                FwdMode::Cdn => fwd::cdn::process(ctx, meta, c, rx, tx, txq),
            }
            debug_assert!(self.rx.is_empty(), "a mode must consume its burst");
            self.rx.clear();
            work += n + flush(s, &mut self.tx);
        }
        work
    }
}

/// Sends what the mode produced; whatever the queue refuses is dropped and
/// counted as `tx_full`.
#[inline]
fn flush<P: Port>(s: &mut Stream<P>, tx: &mut Vec<P::Buf>) -> usize {
    if tx.is_empty() {
        return 0;
    }
    let sent = s.txq.tx_burst(tx);
    s.counters.tx.add(sent as u64);
    if !tx.is_empty() {
        s.counters.drop_n(NodeDrop::TxFull, tx.len() as u64);
        tx.clear();
    }
    sent
}
