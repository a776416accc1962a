//! anyedge's TCP core in memory: the connection-rate rounds.

use super::*;

pub(super) fn ns(t0: Instant) -> u64 {
    t0.elapsed().as_nanos() as u64
}

/// Frames in flight in one direction, in recycled buffers.
#[derive(Default)]
pub(super) struct Frames {
    pub(super) q: Vec<(Box<[u8]>, usize)>,
    pub(super) free: Vec<Box<[u8]>>,
}

impl Frames {
    pub(super) fn push(&mut self, build: impl FnOnce(&mut [u8]) -> Option<usize>) -> Result<()> {
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
pub(super) struct End {
    pub(super) table: Table,
    pub(super) mac: MacAddr,
    pub(super) peer_mac: MacAddr,
    pub(super) accepted: Vec<ConnId>,
}

impl End {
    pub(super) fn new(capacity: usize, buf: usize, mac: MacAddr, peer_mac: MacAddr) -> End {
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
    pub(super) fn drain(
        &mut self,
        now: u64,
        id: ConnId,
        scratch: &mut [u8],
        out: &mut Frames,
    ) -> Result<()> {
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
    pub(super) fn deliver(
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
pub(super) struct AeHandshakes {
    pub(super) client: End,
    pub(super) server: End,
    pub(super) c2s: Frames,
    pub(super) s2c: Frames,
    pub(super) scratch: Vec<u8>,
    pub(super) next_port: u16,
    pub(super) ids: Vec<ConnId>,
    pub(super) touched: Vec<ConnId>,
}

impl AeHandshakes {
    pub(super) fn new(capacity: usize, buf: usize) -> AeHandshakes {
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
    pub(super) fn open(&mut self, t0: Instant, n: usize) -> Result<usize> {
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
    pub(super) fn abort_all(&mut self, t0: Instant) -> Result<()> {
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
pub(super) fn anyedge_conn_rate(secs: f64) -> Result<f64> {
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

pub(super) fn on_cpu<T: Send + 'static>(
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
