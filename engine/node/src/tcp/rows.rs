//! `show conn`: one row per connection, live or recently closed.

use super::*;

/// One row of `show conn`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnRow {
    /// Core that owns the connection.
    pub core: usize,
    /// Our address.
    pub local: SocketAddrV4,
    /// The peer.
    pub remote: SocketAddrV4,
    /// RFC 9293 state name.
    pub state: &'static str,
    /// Service.
    pub app: &'static str,
    /// Congestion window, bytes.
    pub cwnd: usize,
    /// Slow-start threshold, bytes (`usize::MAX` before the first loss).
    pub ssthresh: usize,
    /// Congestion control.
    pub cc: &'static str,
    /// Smoothed RTT, microseconds.
    pub srtt_us: Option<u64>,
    /// Pacing rate the connection asks for, bytes per second.
    pub pacing_bps: Option<u64>,
    /// RTT variation, microseconds.
    pub rttvar_us: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_out: u64,
    /// Retransmitted segments.
    pub retransmits: u64,
    /// SACK in use.
    pub sack: bool,
    /// SACK scoreboard blocks.
    pub sack_blocks: usize,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Tail loss probes sent (RFC 8985).
    pub tlp_probes: u64,
    /// Bytes RACK deemed lost (RFC 8985).
    pub rack_lost: u64,
}

impl TcpStack {
    /// `show conn` rows of this core: live connections, then recently closed ones.
    pub fn rows(&self, core: usize) -> (Vec<ConnRow>, Vec<ConnRow>) {
        let live = self
            .table
            .iter()
            .filter_map(|(id, _)| self.row(core, id))
            .collect();
        let recent = self
            .recent
            .iter()
            .map(|r| ConnRow { core, ..r.clone() })
            .collect();
        (live, recent)
    }

    pub(super) fn row(&self, core: usize, id: ConnId) -> Option<ConnRow> {
        self.table.get(id).map(|c| {
            let (cwnd, ssthresh, cc) = c.cc_info();
            let st = c.stats();
            let (sack, sack_blocks) = c.sack_info();
            ConnRow {
                core,
                local: c.local,
                remote: c.remote,
                state: c.state().name(),
                app: self.meta[id].map(|m| m.app.name()).unwrap_or("-"),
                cwnd,
                ssthresh,
                cc,
                srtt_us: c.rtt().srtt().map(|r| r / 1000),
                pacing_bps: c.pacing_rate(),
                rttvar_us: c.rtt().rttvar() / 1000,
                bytes_in: st.bytes_in,
                bytes_out: st.bytes_out,
                retransmits: st.retransmits,
                sack,
                sack_blocks,
                timeouts: st.timeouts,
                tlp_probes: st.tlp_probes,
                rack_lost: st.rack_lost,
            }
        })
    }
}
