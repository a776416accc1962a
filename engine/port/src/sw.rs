//! [`SwPort`]: any of the software backends behind one type, so that a node
//! can mix them (`--vdev net_tap0,... --vdev net_null0`). The backend is
//! chosen once per burst by a `match`; every backend moves the same
//! [`PktBuf`], so nothing is dispatched per packet.

use crate::buf::{PktBuf, SharedBytes};
use crate::counters::QueueCounters;
use crate::mem::{MemPort, MemRx, MemTx};
use crate::null::{NullPort, NullRx, NullTx};
use crate::tap::{TapPort, TapRx, TapTx};
use crate::{Port, PortInfo, RxQueue, TxQueue};
use std::sync::Arc;

/// A software port.
pub enum SwPort {
    /// Linux TAP.
    Tap(TapPort),
    /// net_null.
    Null(NullPort),
    /// In-process pair end.
    Mem(MemPort),
}

/// Receive queue of a [`SwPort`].
pub enum SwRx {
    /// TAP.
    Tap(TapRx),
    /// net_null.
    Null(NullRx),
    /// mem.
    Mem(MemRx),
}

/// Transmit queue of a [`SwPort`].
pub enum SwTx {
    /// TAP.
    Tap(TapTx),
    /// net_null.
    Null(NullTx),
    /// mem.
    Mem(MemTx),
}

fn wrap<A, B, C, D>(
    q: (Vec<A>, Vec<B>),
    rx: impl Fn(A) -> C,
    tx: impl Fn(B) -> D,
) -> (Vec<C>, Vec<D>) {
    (
        q.0.into_iter().map(rx).collect(),
        q.1.into_iter().map(tx).collect(),
    )
}

impl Port for SwPort {
    type Buf = PktBuf;
    type Rx = SwRx;
    type Tx = SwTx;

    fn info(&self) -> PortInfo {
        match self {
            SwPort::Tap(p) => p.info(),
            SwPort::Null(p) => p.info(),
            SwPort::Mem(p) => p.info(),
        }
    }

    fn link_up(&self) -> bool {
        match self {
            SwPort::Tap(p) => p.link_up(),
            SwPort::Null(p) => p.link_up(),
            SwPort::Mem(p) => p.link_up(),
        }
    }

    fn queue_counters(&self) -> Vec<Arc<QueueCounters>> {
        match self {
            SwPort::Tap(p) => p.queue_counters(),
            SwPort::Null(p) => p.queue_counters(),
            SwPort::Mem(p) => p.queue_counters(),
        }
    }

    fn take_queues(&mut self) -> (Vec<SwRx>, Vec<SwTx>) {
        match self {
            SwPort::Tap(p) => wrap(p.take_queues(), SwRx::Tap, SwTx::Tap),
            SwPort::Null(p) => wrap(p.take_queues(), SwRx::Null, SwTx::Null),
            SwPort::Mem(p) => wrap(p.take_queues(), SwRx::Mem, SwTx::Mem),
        }
    }
}

impl RxQueue for SwRx {
    type Buf = PktBuf;

    #[inline]
    fn rx_burst(&mut self, out: &mut Vec<PktBuf>, max: usize) -> usize {
        match self {
            SwRx::Tap(q) => q.rx_burst(out, max),
            SwRx::Null(q) => q.rx_burst(out, max),
            SwRx::Mem(q) => q.rx_burst(out, max),
        }
    }
}

/// Calls the same method on whichever queue `$q` holds.
macro_rules! each {
    ($q:expr, $t:ident => $call:expr) => {
        match $q {
            SwTx::Tap($t) => $call,
            SwTx::Null($t) => $call,
            SwTx::Mem($t) => $call,
        }
    };
}

impl TxQueue for SwTx {
    type Buf = PktBuf;

    #[inline]
    fn tx_burst(&mut self, bufs: &mut Vec<PktBuf>) -> usize {
        each!(self, q => q.tx_burst(bufs))
    }

    #[inline]
    fn alloc(&mut self) -> Option<PktBuf> {
        each!(self, q => q.alloc())
    }

    #[inline]
    fn zero_copy(&self) -> bool {
        each!(self, q => q.zero_copy())
    }

    #[inline]
    fn tx_csum(&self) -> bool {
        each!(self, q => q.tx_csum())
    }

    #[inline]
    fn request_tcp_csum(&mut self, buf: &mut PktBuf, l2_len: u8, l3_len: u16) {
        each!(self, q => q.request_tcp_csum(buf, l2_len, l3_len))
    }

    #[inline]
    fn request_tso(&mut self, buf: &mut PktBuf, l2_len: u8, l3_len: u16, l4_len: u16, mss: u16) {
        each!(self, q => q.request_tso(buf, l2_len, l3_len, l4_len, mss))
    }

    #[inline]
    fn tso_max(&self) -> usize {
        each!(self, q => q.tso_max())
    }

    #[inline]
    fn attach_tail(
        &mut self,
        buf: &mut PktBuf,
        data: &SharedBytes,
        off: usize,
        len: usize,
    ) -> bool {
        each!(self, q => q.attach_tail(buf, data, off, len))
    }
}
