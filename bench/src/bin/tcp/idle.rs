//! Memory per idle connection, for both stacks.

use super::*;

/// anyedge: bytes per idle ESTABLISHED connection with `buf`-byte buffers.
pub(super) fn anyedge_idle_bytes(buf: usize) -> Result<f64> {
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
pub(super) fn smoltcp_idle_bytes(buf: usize) -> Result<f64> {
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
