//! The two servers of a round: nginx and the engine, started in the lab
//! and stopped with their logs checked.

use super::*;

/// A running server; killed on drop if still running.
pub(super) struct Server {
    pub(super) kind: Kind,
    pub(super) child: Child,
    pub(super) log: PathBuf,
    pub(super) sock: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    pub(super) fn fail_context(&self) -> String {
        let mut s = log_tail(&self.log);
        if self.kind == Kind::Nginx {
            let lab_dir = self.log.parent().unwrap_or(Path::new("/"));
            s += "\n";
            s += &log_tail(&lab_dir.join("nginx-error.log"));
        }
        s
    }

    /// One console command over the control socket (`anyedge ctl`).
    pub(super) fn ctl(&self, lab: &Lab, command: &str) -> Result<String> {
        let sock = self.sock.to_string_lossy().to_string();
        let engine = lab.engine.to_string_lossy().to_string();
        run_ok(
            &format!("anyedge ctl '{command}'"),
            &mut cmd(&engine, &["ctl", &sock, command]),
        )
    }

    pub(super) fn ctl_json(&self, lab: &Lab, command: &str) -> Result<Value> {
        let out = self.ctl(lab, command)?;
        serde_json::from_str(&out).with_context(|| format!("'{command}' answered: {out}"))
    }
}

pub(super) fn start_nginx(lab: &mut Lab, file: &str) -> Result<Server> {
    let (log, f, g) = lab.new_log("nginx")?;
    let child = lab
        .nginx_cmd(&[])
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(g)
        .spawn()
        .context("start nginx")?;
    let mut s = Server {
        kind: Kind::Nginx,
        child,
        log,
        sock: PathBuf::new(),
    };
    let end = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(st)) = s.child.try_wait() {
            bail!("nginx exited during startup ({st})\n{}", s.fail_context());
        }
        match lab.check_get(&Kind::Nginx.url(file), file) {
            Ok(()) => return Ok(s),
            Err(e) if Instant::now() >= end => {
                bail!(
                    "nginx did not serve within {} s: {e:#}\n{}",
                    START_TIMEOUT.as_secs(),
                    s.fail_context()
                )
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

pub(super) fn start_engine(lab: &mut Lab, file: &str) -> Result<Server> {
    let sock = lab.path("engine.sock");
    let _ = std::fs::remove_file(&sock);
    let (log, f, g) = lab.new_log("engine")?;
    let engine = lab.engine.to_string_lossy().to_string();
    let vdev = format!("net_tap0,iface={TAP}");
    let config = lab.path("node.toml").to_string_lossy().to_string();
    let sock_s = sock.to_string_lossy().to_string();
    let args = [
        "run",
        "-l",
        "0-1",
        "--vdev",
        &vdev,
        "--",
        "--forward-mode=cdn",
        "--config",
        &config,
        "-a",
        "--ctl-socket",
        &sock_s,
    ];
    let child = lab
        .exec(&engine, &args)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(g)
        .spawn()
        .context("start anyedge")?;
    let mut s = Server {
        kind: Kind::Anyedge,
        child,
        log,
        sock,
    };
    let end = Instant::now() + START_TIMEOUT;
    // The control socket answers once the port is up.
    loop {
        if let Ok(Some(st)) = s.child.try_wait() {
            bail!("anyedge exited during startup ({st})\n{}", s.fail_context());
        }
        if s.sock.exists() && s.ctl(lab, "show port info all json").is_ok() && lab.tap_exists() {
            break;
        }
        if Instant::now() >= end {
            bail!(
                "anyedge: control socket or {TAP} not up within {} s\n{}",
                START_TIMEOUT.as_secs(),
                s.fail_context()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    run_ok(
        "ip addr add",
        &mut cmd(
            "ip",
            &[
                "-n",
                &lab.ns,
                "addr",
                "add",
                &format!("{HOST_IP}/24"),
                "dev",
                TAP,
            ],
        ),
    )?;
    run_ok(
        "ip link set up",
        &mut cmd("ip", &["-n", &lab.ns, "link", "set", TAP, "up"]),
    )?;
    loop {
        if let Ok(Some(st)) = s.child.try_wait() {
            bail!("anyedge exited during startup ({st})\n{}", s.fail_context());
        }
        match lab.check_get(&Kind::Anyedge.url(file), file) {
            Ok(()) => return Ok(s),
            Err(e) if Instant::now() >= end => bail!(
                "anyedge did not serve within {} s: {e:#}\n{}",
                START_TIMEOUT.as_secs(),
                s.fail_context()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

pub(super) fn stop(lab: &Lab, mut s: Server) -> Result<()> {
    match s.kind {
        Kind::Nginx => kill_pid("TERM", s.child.id()),
        Kind::Anyedge => {
            if let Err(e) = s.ctl(lab, "quit") {
                eprintln!("anyedge: quit over the control socket failed: {e:#}");
            }
        }
    }
    let st = wait_exit(&mut s.child, STOP_TIMEOUT);
    let (name, ctx) = (s.kind.name(), s.fail_context());
    drop(s); // kills it if it is still running
    let left = lab.kill_leftovers();
    match st {
        None => bail!(
            "{name} did not exit within {} s of being asked to\n{ctx}",
            STOP_TIMEOUT.as_secs()
        ),
        Some(st) if !st.success() => {
            eprintln!("warning: {name} exited with {st}\n{ctx}");
        }
        Some(_) => {}
    }
    if !left.is_empty() {
        eprintln!(
            "warning: killed {} process(es) left in the namespace: {left:?}",
            left.len()
        );
    }
    // The TAP goes with the engine; the next engine creates it again.
    let end = Instant::now() + Duration::from_secs(5);
    while lab.tap_exists() {
        if Instant::now() >= end {
            bail!("{TAP} still exists 5 s after the engine exited");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
