//! The smoltcp bulk rounds over its in-memory link.

use super::*;

/// One smoltcp bulk round: Gbps received by the client over `secs`.
pub(super) fn smoltcp_bulk(secs: f64) -> Result<(f64, String)> {
    let (mut dev_a, mut dev_b) = chan_pair(RING);
    let clock = Mono(Instant::now());
    let stop = Arc::new(AtomicBool::new(false));
    let listening = Arc::new(AtomicBool::new(false));
    let established = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let drops = (dev_a.tx.clone(), dev_b.tx.clone());

    let server = {
        let (stop, listening) = (stop.clone(), listening.clone());
        std::thread::spawn(move || -> Result<()> {
            pin(SERVER_CPU);
            let mut iface = smol_iface(&mut dev_a, MAC_A, IP_A, clock);
            let mut set = SocketSet::new(Vec::with_capacity(1));
            let h = set.add(smol_socket(BULK_BUF));
            set.get_mut::<tcp::Socket>(h)
                .listen(CHARGEN)
                .map_err(|e| anyhow::anyhow!("listen: {e:?}"))?;
            listening.store(true, Ordering::SeqCst);
            let data = [b'x'; 64 << 10];
            while !stop.load(Ordering::Relaxed) {
                iface.poll(clock.now(), &mut dev_a, &mut set);
                let s = set.get_mut::<tcp::Socket>(h);
                while s.can_send() {
                    match s.send_slice(&data) {
                        Ok(n) if n > 0 => {}
                        _ => break,
                    }
                }
            }
            Ok(())
        })
    };
    let client = {
        let (stop, listening, established, received) = (
            stop.clone(),
            listening.clone(),
            established.clone(),
            received.clone(),
        );
        std::thread::spawn(move || -> Result<()> {
            pin(CLIENT_CPU);
            let mut iface = smol_iface(&mut dev_b, MAC_B, IP_B, clock);
            let mut set = SocketSet::new(Vec::with_capacity(1));
            let h = set.add(smol_socket(BULK_BUF));
            while !listening.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            set.get_mut::<tcp::Socket>(h)
                .connect(iface.context(), (ip_a(), CHARGEN), 49152u16)
                .map_err(|e| anyhow::anyhow!("connect: {e:?}"))?;
            let mut total = 0u64;
            while !stop.load(Ordering::Relaxed) {
                iface.poll(clock.now(), &mut dev_b, &mut set);
                let s = set.get_mut::<tcp::Socket>(h);
                if s.state() == tcp::State::Established {
                    established.store(true, Ordering::Relaxed);
                }
                while s.can_recv() {
                    match s.recv(|b| (b.len(), b.len())) {
                        Ok(n) if n > 0 => total += n as u64,
                        _ => break,
                    }
                }
                received.store(total, Ordering::Relaxed);
            }
            Ok(())
        })
    };
    let finish = |stop: &AtomicBool| -> Result<()> {
        stop.store(true, Ordering::SeqCst);
        server
            .join()
            .map_err(|_| anyhow::anyhow!("smoltcp server thread panicked"))??;
        client
            .join()
            .map_err(|_| anyhow::anyhow!("smoltcp client thread panicked"))??;
        Ok(())
    };
    let t = Instant::now();
    while !established.load(Ordering::SeqCst) {
        if t.elapsed() > Duration::from_secs(5) {
            finish(&stop)?;
            bail!("smoltcp: the connection did not reach ESTABLISHED within 5 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARMUP);
    let (t0, b0) = (Instant::now(), received.load(Ordering::SeqCst));
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (b1, dt) = (received.load(Ordering::SeqCst), t0.elapsed().as_secs_f64());
    finish(&stop)?;
    let info = format!(
        "link drops {} / {}",
        drops.0.dropped.load(Ordering::SeqCst),
        drops.1.dropped.load(Ordering::SeqCst)
    );
    Ok(((b1 - b0) as f64 * 8.0 / dt / 1e9, info))
}
