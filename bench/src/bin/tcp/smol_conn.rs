//! smoltcp's handshakes: its connection-rate rounds.

use super::*;

/// Two smoltcp interfaces on one thread: `n` client sockets and `n`
/// listening server sockets on port 80.
pub(super) struct SmolHandshakes {
    pub(super) clock: Mono,
    pub(super) cdev: ChanDev,
    pub(super) sdev: ChanDev,
    pub(super) ciface: Interface,
    pub(super) siface: Interface,
    pub(super) cset: SocketSet<'static>,
    pub(super) sset: SocketSet<'static>,
    pub(super) clients: Vec<SocketHandle>,
    pub(super) servers: Vec<SocketHandle>,
    pub(super) next_port: u16,
}

impl SmolHandshakes {
    pub(super) fn new(clock: Mono) -> SmolHandshakes {
        let (mut sdev, mut cdev) = chan_pair(RING);
        let siface = smol_iface(&mut sdev, MAC_A, IP_A, clock);
        let ciface = smol_iface(&mut cdev, MAC_B, IP_B, clock);
        SmolHandshakes {
            clock,
            cdev,
            sdev,
            ciface,
            siface,
            cset: SocketSet::new(Vec::new()),
            sset: SocketSet::new(Vec::new()),
            clients: Vec::new(),
            servers: Vec::new(),
            next_port: 10000,
        }
    }

    /// Adds `n` client and `n` server sockets with `buf`-byte buffers.
    pub(super) fn add_sockets(&mut self, n: usize, buf: usize) -> Result<()> {
        self.cset = SocketSet::new(Vec::with_capacity(n));
        self.sset = SocketSet::new(Vec::with_capacity(n));
        for _ in 0..n {
            self.clients.push(self.cset.add(smol_socket(buf)));
            let h = self.sset.add(smol_socket(buf));
            self.sset
                .get_mut::<tcp::Socket>(h)
                .listen(80)
                .map_err(|e| anyhow::anyhow!("listen: {e:?}"))?;
            self.servers.push(h);
        }
        Ok(())
    }

    pub(super) fn poll(&mut self) {
        self.ciface
            .poll(self.clock.now(), &mut self.cdev, &mut self.cset);
        self.siface
            .poll(self.clock.now(), &mut self.sdev, &mut self.sset);
    }

    /// Connects every client and polls until both ends are ESTABLISHED.
    pub(super) fn open(&mut self) -> Result<usize> {
        for &h in &self.clients {
            self.next_port = if self.next_port >= 60000 {
                10000
            } else {
                self.next_port + 1
            };
            self.cset
                .get_mut::<tcp::Socket>(h)
                .connect(self.ciface.context(), (ip_a(), 80), self.next_port)
                .map_err(|e| anyhow::anyhow!("connect: {e:?}"))?;
        }
        let t = Instant::now();
        loop {
            self.poll();
            let up = |set: &SocketSet, hs: &[SocketHandle]| {
                hs.iter()
                    .filter(|&&h| set.get::<tcp::Socket>(h).state() == tcp::State::Established)
                    .count()
            };
            let (c, s) = (up(&self.cset, &self.clients), up(&self.sset, &self.servers));
            if c == self.clients.len() && s == self.servers.len() {
                return Ok(c);
            }
            if t.elapsed() > Duration::from_secs(5) {
                bail!(
                    "smoltcp: {c} clients and {s} servers ESTABLISHED of {} after 5 s",
                    self.clients.len()
                );
            }
        }
    }

    /// Aborts the clients (RST) and puts the servers back to LISTEN.
    pub(super) fn abort_all(&mut self) -> Result<()> {
        for &h in &self.clients {
            self.cset.get_mut::<tcp::Socket>(h).abort();
        }
        let t = Instant::now();
        loop {
            self.poll();
            let mut waiting = 0;
            for &h in &self.servers {
                let s = self.sset.get_mut::<tcp::Socket>(h);
                match s.state() {
                    tcp::State::Listen => {}
                    tcp::State::Closed => {
                        s.listen(80).map_err(|e| anyhow::anyhow!("listen: {e:?}"))?
                    }
                    _ => waiting += 1,
                }
            }
            if waiting == 0 {
                return Ok(());
            }
            if t.elapsed() > Duration::from_secs(5) {
                bail!("smoltcp: {waiting} server sockets did not see the clients' RST");
            }
        }
    }
}

/// smoltcp: connections established per second on one core.
pub(super) fn smoltcp_conn_rate(secs: f64) -> Result<f64> {
    on_cpu(SERVER_CPU, move || {
        let mut h = SmolHandshakes::new(Mono(Instant::now()));
        h.add_sockets(BATCH, DEFAULT_BUF)?;
        let t0 = Instant::now();
        let dur = Duration::from_secs_f64(secs);
        let mut n = 0u64;
        while t0.elapsed() < dur {
            n += h.open()? as u64;
            h.abort_all()?;
        }
        Ok(n as f64 / t0.elapsed().as_secs_f64())
    })
}
