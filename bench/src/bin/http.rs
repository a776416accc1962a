//! bench/http: HTTP/1.1 from the engine's cache against nginx, in the same
//! run, on the same cores, with the same load generator.
//!
//! What is compared, each against the same nginx rounds:
//!
//! - **anyedge (engine client, mem)**, the issue's first figure: the
//!   engine serving its cache on one polling core (cpu 1) and the engine's
//!   own TCP in client mode as the load generator on the other (cpu 0;
//!   `anyedge_bench::loadgen`, 64 connections, keep-alive or a new
//!   connection per request, latency in hdrhistogram), joined by a mem port
//!   pair (`anyedge_bench::http_mem`): no kernel on the path.
//! - **anyedge (wrk -> TAP)**, the second figure: the engine runs in cdn
//!   mode on a
//!   TAP port it creates (`aeb0`) in a network namespace of its own, as
//!   10.0.2.2 (`-l 0-1`: it polls on cpu 1), serving its cache, loaded from
//!   a tmpfs directory; the kernel side of the TAP is 10.0.2.1/24. Every
//!   frame costs the engine a read(2) or write(2) on the TAP and a copy, and
//!   the kernel side runs Linux's TCP for wrk.
//! - **nginx**: `wrk -> loopback -> nginx`, Debian's nginx-light with one
//!   worker pinned to cpu 1 (`worker_cpu_affinity 10`), `sendfile on`,
//!   `keepalive_requests 100000`, listening on 127.0.0.1:80 in the same
//!   namespace, serving the same files from the same tmpfs directory.
//!
//! The load generator of the TAP and nginx rounds is `taskset -c 0 wrk -t1
//! -c64 -dSECONDSs --latency URL`, run in the namespace with `ip netns
//! exec`. The mem rounds cannot use wrk (it needs the kernel's TCP); the
//! engine's client does what wrk does (one request per connection in
//! flight, the next once the whole response is in).
//!
//! Rows (rounds alternate: nginx, anyedge, nginx, ...; every round starts
//! its server, checks one response byte for byte with curl, measures, and
//! stops the server, so that the engine's busy-polling core never competes
//! with nginx, and every engine round starts with an empty connection
//! table). There is no wrk warm-up run: when wrk stops it closes its
//! connections in the middle of responses, and what a server does with
//! those (the engine keeps them in CLOSE-WAIT, see bench/RESULTS.md) would
//! weigh on the measured run.
//!
//! - **1 KiB keep-alive**: requests/s for a 1 KiB file over 64 keep-alive
//!   connections;
//! - **1 KiB new connection per request**: the same with `-H "Connection:
//!   close"`: wrk opens a connection for every request (the server closes);
//! - **1 MiB keep-alive**: Gbps (wrk's Transfer/sec, headers included) for a
//!   1 MiB file over 64 keep-alive connections.
//!
//! wrk's p50 and p99 latencies are printed for every round and, as medians,
//! in a table before the summary. wrk records the latency of completed
//! requests only: a connection that stalls does not show in them. Every
//! keep-alive round therefore also prints how many of the 64 connections
//! were busy on average (Little's law: requests/s x mean latency), flagged
//! when it is under half. A round in which wrk reports socket errors
//! (connect, read, write, timeout), non-2xx/3xx responses or no request at
//! all is a failed round: it is reported with wrk's output, left out of the
//! medians, and the benchmark exits with status 1 after the summary line.
//! After every engine round the benchmark prints what the engine counted
//! (responses by status, drops by reason, resets, refused connections, the
//! polling core's busy share, the connections still open 1 s after wrk
//! ended) and, for both servers, the kernel's TCP counters in the namespace
//! (resets sent, established connections reset, failed connection
//! attempts, retransmissions), from just before wrk starts to 1 s after it
//! ends.
//!
//! Everything lives in a namespace `aebench-http-PID` and a directory
//! `/dev/shm/anyedge-bench-http-PID`; a guard removes both (and kills every
//! process left in the namespace) when the benchmark ends, also on error. As
//! the release profile aborts on panic (no unwinding, no Drop), and a signal
//! does not run Drop either, a watchdog shell in its own process group waits
//! on a pipe from the benchmark and does the same cleanup when the pipe
//! closes, however the benchmark ends.
//!
//! Needs root, iproute2, util-linux (taskset), wrk, curl and nginx-light.
//!
//! Usage: `cargo run --release -p anyedge-bench --bin http [-- SECONDS ROUNDS]`
//! (defaults 10 s, 3 rounds).

use anyedge_bench::{anyedge_bin, median, report, tail, Row};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// nginx from Debian's nginx-light.
const NGINX: &str = "/usr/sbin/nginx";
/// wrk's connections (one thread).
const CONNS: u32 = 64;
/// Pause after wrk ends before the counters are read (closing handshakes).
const SETTLE: Duration = Duration::from_secs(1);
/// The TAP interface the engine creates.
const TAP: &str = "aeb0";
/// The engine's address (port 0) and the kernel side of the TAP.
const ENGINE_IP: &str = "10.0.2.2";
const HOST_IP: &str = "10.0.2.1";
/// nginx's address in the namespace.
const NGINX_IP: &str = "127.0.0.1";
/// CPU of wrk; the engine polls on and nginx's worker is pinned to the other.
const WRK_CPU: u32 = 0;
/// Bounds of every wait.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const CMD_TIMEOUT: Duration = Duration::from_secs(15);

/// One row of the table.
struct Case {
    name: &'static str,
    unit: &'static str,
    file: &'static str,
    close: bool,
    gbps: bool,
}

const CASES: [Case; 3] = [
    Case {
        name: "1 KiB keep-alive",
        unit: "req/s",
        file: "1k.bin",
        close: false,
        gbps: false,
    },
    Case {
        name: "1 KiB new connection per request",
        unit: "req/s",
        file: "1k.bin",
        close: true,
        gbps: false,
    },
    Case {
        name: "1 MiB keep-alive",
        unit: "Gbps",
        file: "1m.bin",
        close: false,
        gbps: true,
    },
];

const FILES: [(&str, usize); 2] = [("1k.bin", 1 << 10), ("1m.bin", 1 << 20)];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Nginx,
    Anyedge,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Anyedge => "anyedge",
        }
    }

    fn url(self, file: &str) -> String {
        match self {
            Kind::Nginx => format!("http://{NGINX_IP}/{file}"),
            Kind::Anyedge => format!("http://{ENGINE_IP}/{file}"),
        }
    }
}

// ------------------------------------------------------------ bounded commands

/// What a finished command printed.
struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs a command to completion with stdin closed, killing it after
/// `timeout` (an error).
fn run_bounded(what: &str, cmd: &mut Command, timeout: Duration) -> Result<Out> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {what}"))?;
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let mut b = Vec::new();
                let _ = r.read_to_end(&mut b);
                s = String::from_utf8_lossy(&b).into_owned();
            }
            s
        })
    };
    let so = reader(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let se = reader(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "{what} did not finish within {} s and was killed",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Out {
        status,
        stdout: so.join().unwrap_or_default(),
        stderr: se.join().unwrap_or_default(),
    })
}

/// Like `run_bounded`, and a non-zero exit is an error with the output.
fn run_ok(what: &str, cmd: &mut Command) -> Result<String> {
    let o = run_bounded(what, cmd, CMD_TIMEOUT)?;
    if !o.status.success() {
        bail!("{what} failed ({}): {}", o.status, o.both().trim());
    }
    Ok(o.stdout)
}

fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

fn kill_pid(signal: &str, pid: u32) {
    let _ = run_bounded(
        "kill",
        &mut cmd("kill", &[&format!("-{signal}"), &pid.to_string()]),
        Duration::from_secs(5),
    );
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + timeout;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    format!(
        "----- last lines of {} -----\n{}",
        path.display(),
        tail(&text, 25)
    )
}

// ------------------------------------------------------------ the lab

/// The namespace, the tmpfs directory and the watchdog; dropping it kills
/// every process in the namespace and removes both.
struct Lab {
    ns: String,
    dir: PathBuf,
    engine: PathBuf,
    /// Held open for the watchdog: it cleans up when this pipe closes.
    watchdog: Option<(Child, ChildStdin)>,
    logs: u32,
}

/// The watchdog's script: `$1` namespace, `$2` directory.
const WATCHDOG: &str = r#"
cat >/dev/null
for p in $(ip netns pids "$1" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
sleep 0.2
ip netns del "$1" 2>/dev/null
rm -rf -- "$2"
"#;

impl Lab {
    fn new(engine: PathBuf) -> Result<Lab> {
        let pid = std::process::id();
        let ns = format!("aebench-http-{pid}");
        let dir = PathBuf::from(format!("/dev/shm/anyedge-bench-http-{pid}"));
        // The watchdog first, so that anything created after it is covered.
        let mut wd = Command::new("sh")
            .args(["-c", WATCHDOG, "sh", &ns])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("start the cleanup watchdog (sh)")?;
        let stdin = wd.stdin.take().context("watchdog stdin")?;
        let lab = Lab {
            ns,
            dir,
            engine,
            watchdog: Some((wd, stdin)),
            logs: 0,
        };
        std::fs::create_dir_all(lab.dir.join("content"))
            .with_context(|| format!("create {}", lab.dir.display()))?;
        for (name, size) in FILES {
            // Printable, not compressible by accident, the same for both servers.
            let body: Vec<u8> = (0..size)
                .map(|i| b"0123456789abcdefghijklmnopqrstuvwxyz"[(i * 7 + i / 97) % 36])
                .collect();
            std::fs::write(lab.dir.join("content").join(name), body)?;
        }
        run_ok("ip netns add", &mut cmd("ip", &["netns", "add", &lab.ns]))
            .with_context(|| format!("create namespace {}", lab.ns))?;
        run_ok(
            "ip link set lo up",
            &mut cmd("ip", &["-n", &lab.ns, "link", "set", "lo", "up"]),
        )?;
        lab.write_configs()?;
        let t = run_bounded("nginx -t", &mut lab.nginx_cmd(&["-t"]), CMD_TIMEOUT)?;
        if !t.status.success() {
            bail!("nginx -t rejects the generated config: {}", t.both().trim());
        }
        Ok(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write_configs(&self) -> Result<()> {
        let d = self.dir.display();
        std::fs::create_dir_all(self.path("nginx-tmp"))?;
        let nginx = format!(
            "# generated by bench/http\n\
             worker_processes 1;\n\
             worker_cpu_affinity 10;\n\
             daemon off;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   sendfile on;\n\
             \x20   keepalive_requests 100000;\n\
             \x20   default_type application/octet-stream;\n\
             \x20   client_body_temp_path {d}/nginx-tmp/body;\n\
             \x20   proxy_temp_path {d}/nginx-tmp/proxy;\n\
             \x20   fastcgi_temp_path {d}/nginx-tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/nginx-tmp/uwsgi;\n\
             \x20   scgi_temp_path {d}/nginx-tmp/scgi;\n\
             \x20   server {{\n\
             \x20       listen {NGINX_IP}:80;\n\
             \x20       root {d}/content;\n\
             \x20       location / {{ }}\n\
             \x20   }}\n\
             }}\n"
        );
        std::fs::write(self.path("nginx.conf"), nginx)?;
        let node = format!(
            "[node]\nname = \"bench\"\n[[port]]\nip = \"{ENGINE_IP}/24\"\ngateway = \"{HOST_IP}\"\n\
             [http]\nport = 80\n[cache]\ndir = \"{d}/content\"\nsize = \"256MiB\"\n\
             [tcp]\nmax_conns = 4096\n"
        );
        std::fs::write(self.path("node.toml"), node)?;
        Ok(())
    }

    /// `ip netns exec NS PROGRAM ARGS...`
    fn exec(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]).args(args);
        c
    }

    fn nginx_cmd(&self, extra: &[&str]) -> Command {
        let d = self.dir.display().to_string();
        let mut args = vec![
            "-p".to_string(),
            format!("{d}/"),
            "-c".to_string(),
            format!("{d}/nginx.conf"),
            "-e".to_string(),
            format!("{d}/nginx-error.log"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.exec(NGINX, &a)
    }

    fn new_log(&mut self, name: &str) -> Result<(PathBuf, File, File)> {
        self.logs += 1;
        let p = self.path(&format!("{name}-{}.log", self.logs));
        let f = File::create(&p)?;
        let g = f.try_clone()?;
        Ok((p, f, g))
    }

    fn ns_pids(&self) -> Vec<u32> {
        run_bounded(
            "ip netns pids",
            &mut cmd("ip", &["netns", "pids", &self.ns]),
            CMD_TIMEOUT,
        )
        .map(|o| {
            o.stdout
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
    }

    /// Kills (SIGKILL) whatever is still running in the namespace; returns
    /// the pids it found.
    fn kill_leftovers(&self) -> Vec<u32> {
        let pids = self.ns_pids();
        for p in &pids {
            kill_pid("KILL", *p);
        }
        let end = Instant::now() + Duration::from_secs(5);
        while !self.ns_pids().is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        pids
    }

    /// `curl` in the namespace: the file must come back 200 and byte for byte.
    fn check_get(&self, url: &str, file: &str) -> Result<()> {
        let got = self.path("check.bin");
        let _ = std::fs::remove_file(&got);
        let o = run_bounded(
            "curl",
            &mut self.exec(
                "curl",
                &[
                    "-sS",
                    "--max-time",
                    "5",
                    "-o",
                    &got.to_string_lossy(),
                    "-w",
                    "%{http_code}",
                    url,
                ],
            ),
            CMD_TIMEOUT,
        )?;
        let code = o.stdout.trim().to_string();
        if !o.status.success() || code != "200" {
            bail!(
                "GET {url}: status '{code}' ({}) {}",
                o.status,
                o.stderr.trim()
            );
        }
        let want = std::fs::read(self.path("content").join(file))?;
        let have = std::fs::read(&got).unwrap_or_default();
        if want != have {
            bail!(
                "GET {url}: body differs from {file} ({} bytes, expected {})",
                have.len(),
                want.len()
            );
        }
        Ok(())
    }

    /// Kernel TCP counters of the namespace (/proc/net/snmp and netstat,
    /// read from inside it).
    fn kernel_tcp(&self) -> BTreeMap<String, i64> {
        let mut m = BTreeMap::new();
        let Ok(o) = run_bounded(
            "cat /proc/net/snmp",
            &mut self.exec("cat", &["/proc/net/snmp", "/proc/net/netstat"]),
            CMD_TIMEOUT,
        ) else {
            return m;
        };
        let lines: Vec<&str> = o.stdout.lines().collect();
        for pair in lines.chunks(2) {
            let [h, v] = pair else { continue };
            let (Some((hp, hk)), Some((vp, vv))) = (h.split_once(':'), v.split_once(':')) else {
                continue;
            };
            if hp != vp {
                continue;
            }
            for (k, x) in hk.split_whitespace().zip(vv.split_whitespace()) {
                if let Ok(x) = x.parse() {
                    m.insert(format!("{hp}.{k}"), x);
                }
            }
        }
        m
    }

    /// A counter of the TAP's kernel side (`ip -s -j link`), e.g. "tx.dropped".
    fn tap_stat(&self, path: &str) -> i64 {
        run_bounded(
            "ip -s link",
            &mut cmd("ip", &["-n", &self.ns, "-s", "-j", "link", "show", TAP]),
            CMD_TIMEOUT,
        )
        .ok()
        .and_then(|o| serde_json::from_str::<Value>(&o.stdout).ok())
        .map(|v| num(&v, &format!("0.stats64.{path}")))
        .unwrap_or(0)
    }

    fn tap_exists(&self) -> bool {
        run_bounded(
            "ip link show",
            &mut cmd("ip", &["-n", &self.ns, "link", "show", TAP]),
            CMD_TIMEOUT,
        )
        .map(|o| o.status.success())
        .unwrap_or(false)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let left = self.kill_leftovers();
        if !left.is_empty() {
            eprintln!(
                "cleanup: killed {} process(es) left in {}: {left:?}",
                left.len(),
                self.ns
            );
        }
        if let Err(e) = run_ok("ip netns del", &mut cmd("ip", &["netns", "del", &self.ns])) {
            eprintln!("cleanup: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((mut wd, stdin)) = self.watchdog.take() {
            drop(stdin); // the watchdog repeats the (now empty) cleanup and exits
            if wait_exit(&mut wd, Duration::from_secs(5)).is_none() {
                let _ = wd.kill();
                let _ = wd.wait();
            }
        }
    }
}

// ------------------------------------------------------------ the servers

/// A running server; killed on drop if still running.
struct Server {
    kind: Kind,
    child: Child,
    log: PathBuf,
    sock: PathBuf,
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
    fn fail_context(&self) -> String {
        let mut s = log_tail(&self.log);
        if self.kind == Kind::Nginx {
            let lab_dir = self.log.parent().unwrap_or(Path::new("/"));
            s += "\n";
            s += &log_tail(&lab_dir.join("nginx-error.log"));
        }
        s
    }

    /// One console command over the control socket (`anyedge ctl`).
    fn ctl(&self, lab: &Lab, command: &str) -> Result<String> {
        let sock = self.sock.to_string_lossy().to_string();
        let engine = lab.engine.to_string_lossy().to_string();
        run_ok(
            &format!("anyedge ctl '{command}'"),
            &mut cmd(&engine, &["ctl", &sock, command]),
        )
    }

    fn ctl_json(&self, lab: &Lab, command: &str) -> Result<Value> {
        let out = self.ctl(lab, command)?;
        serde_json::from_str(&out).with_context(|| format!("'{command}' answered: {out}"))
    }
}

fn start_nginx(lab: &mut Lab, file: &str) -> Result<Server> {
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

fn start_engine(lab: &mut Lab, file: &str) -> Result<Server> {
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

fn stop(lab: &Lab, mut s: Server) -> Result<()> {
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

// ------------------------------------------------------------ wrk

/// What one wrk run reported.
#[derive(Clone, Debug, Default, PartialEq)]
struct Wrk {
    requests: u64,
    rps: f64,
    bytes_per_s: f64,
    /// 50, 75, 90, 99 % latencies in microseconds.
    lat_us: [f64; 4],
    /// Mean and max latency ("Thread Stats" line) in microseconds.
    mean_us: f64,
    max_us: f64,
    socket_errors: [u64; 4],
    non2xx: u64,
}

impl Wrk {
    /// Connections that were completing requests on average (Little's law:
    /// requests/s x mean latency). wrk only records the latency of requests
    /// that complete, so connections that stall show up here, not in the
    /// percentiles.
    fn busy_conns(&self) -> f64 {
        self.rps * self.mean_us / 1e6
    }

    /// Why this run does not count, if it does not.
    fn problem(&self) -> Option<String> {
        let mut p = Vec::new();
        if self.requests == 0 {
            p.push("no request completed".to_string());
        }
        if self.socket_errors.iter().any(|&e| e > 0) {
            let [c, r, w, t] = self.socket_errors;
            p.push(format!(
                "socket errors: connect {c}, read {r}, write {w}, timeout {t}"
            ));
        }
        if self.non2xx > 0 {
            p.push(format!("{} non-2xx/3xx responses", self.non2xx));
        }
        (!p.is_empty()).then(|| p.join("; "))
    }
}

/// A wrk duration ("420.00us", "1.23ms", "2.00s", "1.00m", "1.00h") in µs.
fn parse_time_us(s: &str) -> Option<f64> {
    let i = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (n, u) = s.split_at(i);
    let n: f64 = n.parse().ok()?;
    let f = match u {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(n * f)
}

/// A wrk byte rate ("512.00B", "30.00MB", "1.17GB"; binary prefixes) in bytes.
fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.strip_suffix('B')?;
    let (n, f) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1024f64),
        'M' => (&s[..s.len() - 1], 1024f64.powi(2)),
        'G' => (&s[..s.len() - 1], 1024f64.powi(3)),
        'T' => (&s[..s.len() - 1], 1024f64.powi(4)),
        'P' => (&s[..s.len() - 1], 1024f64.powi(5)),
        _ => (s, 1.0),
    };
    Some(n.parse::<f64>().ok()? * f)
}

/// Parses wrk's `--latency` output.
fn parse_wrk(text: &str) -> Result<Wrk> {
    let mut w = Wrk::default();
    let mut lat = [None; 4];
    let mut in_dist = false;
    let (mut have_rps, mut have_tps, mut have_req) = (false, false, false);
    for line in text.lines() {
        let t = line.trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        if t.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist {
            if let [p, v] = words[..] {
                if let Some(p) = p.strip_suffix('%') {
                    let i = match p {
                        "50" => 0,
                        "75" => 1,
                        "90" => 2,
                        "99" => 3,
                        _ => continue,
                    };
                    lat[i] = parse_time_us(v);
                    continue;
                }
            }
            in_dist = false;
        }
        if let ["Latency", mean, _stdev, max, _] = words[..] {
            w.mean_us = parse_time_us(mean).context("mean latency")?;
            w.max_us = parse_time_us(max).context("max latency")?;
        } else if words.len() >= 3 && words[1] == "requests" && words[2] == "in" {
            w.requests = words[0].parse().context("requests count")?;
            have_req = true;
        } else if let Some(r) = t.strip_prefix("Socket errors:") {
            // " connect 0, read 12, write 0, timeout 0"
            for part in r.split(',') {
                let kv: Vec<&str> = part.split_whitespace().collect();
                if let [k, v] = kv[..] {
                    let i = match k {
                        "connect" => 0,
                        "read" => 1,
                        "write" => 2,
                        "timeout" => 3,
                        _ => continue,
                    };
                    w.socket_errors[i] = v.parse().context("socket errors")?;
                }
            }
        } else if let Some(r) = t.strip_prefix("Non-2xx or 3xx responses:") {
            w.non2xx = r.trim().parse().context("non-2xx count")?;
        } else if let Some(r) = t.strip_prefix("Requests/sec:") {
            w.rps = r.trim().parse().context("Requests/sec")?;
            have_rps = true;
        } else if let Some(r) = t.strip_prefix("Transfer/sec:") {
            w.bytes_per_s = parse_bytes(r.trim()).context("Transfer/sec")?;
            have_tps = true;
        }
    }
    if !(have_rps && have_tps && have_req) {
        bail!("no 'N requests in', 'Requests/sec' or 'Transfer/sec' line in wrk's output");
    }
    for (i, l) in lat.iter().enumerate() {
        w.lat_us[i] = l.context("no latency distribution (50/75/90/99%) in wrk's output")?;
    }
    Ok(w)
}

/// Runs wrk in the namespace on cpu WRK_CPU; Err is a failed round, with
/// wrk's output.
fn run_wrk(lab: &Lab, url: &str, secs: u32, close: bool) -> Result<Wrk> {
    let cpu = WRK_CPU.to_string();
    let conns = format!("-c{CONNS}");
    let dur = format!("-d{secs}s");
    let mut args = vec!["-c", &cpu, "wrk", "-t1", &conns, &dur, "--latency"];
    if close {
        args.extend(["-H", "Connection: close"]);
    }
    args.push(url);
    let o = run_bounded(
        "wrk",
        &mut lab.exec("taskset", &args),
        Duration::from_secs(u64::from(secs) + 30),
    )?;
    let text = o.both();
    if !o.status.success() {
        bail!("wrk exited with {}:\n{}", o.status, text.trim_end());
    }
    let w = parse_wrk(&text).with_context(|| format!("wrk's output:\n{}", text.trim_end()))?;
    if let Some(p) = w.problem() {
        bail!("{p}; wrk's output:\n{}", text.trim_end());
    }
    Ok(w)
}

// ------------------------------------------------------------ counters

/// A number at a dotted path of a JSON value (object keys, list indexes).
fn num(v: &Value, path: &str) -> i64 {
    let mut v = v;
    for k in path.split('.') {
        v = match k.parse::<usize>() {
            Ok(i) if v.is_array() => &v[i],
            _ => &v[k],
        };
    }
    v.as_i64().unwrap_or(0)
}

/// What the engine counted, for one round.
fn engine_snapshot(lab: &Lab, s: &Server) -> Result<Value> {
    let conn = s.ctl_json(lab, "show conn json")?;
    let mut states = BTreeMap::<String, u64>::new();
    for c in conn["conns"].as_array().into_iter().flatten() {
        *states
            .entry(c["state"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    Ok(serde_json::json!({
        "http": s.ctl_json(lab, "show http json")?,
        "drops": s.ctl_json(lab, "show drops json")?,
        "table": conn["table"],
        "fwd": s.ctl_json(lab, "show fwd stats all json")?,
        "states": states,
        "tap_tx_dropped": lab.tap_stat("tx.dropped"),
        "tap_rx_dropped": lab.tap_stat("rx.dropped"),
    }))
}

/// The engine's counters over the measured run, in one line.
fn engine_delta(a: &Value, b: &Value, wrk_requests: Option<u64>) -> String {
    let d = |p: &str| num(b, p) - num(a, p);
    let mut out = Vec::new();
    let req = d("http.requests");
    let ok = d("http.status.200");
    let mut s = format!("http: {req} requests, {ok} x 200");
    if let Some(w) = wrk_requests {
        s += &format!(" (wrk counted {w})");
    }
    if let Some(st) = b["http"]["status"].as_object() {
        for (k, v) in st {
            let dv = v.as_i64().unwrap_or(0) - num(a, &format!("http.status.{k}"));
            if k != "200" && dv != 0 {
                s += &format!(", {dv} x {k}");
            }
        }
    }
    for t in ["header_timeouts", "idle_timeouts"] {
        let v = d(&format!("http.{t}"));
        if v != 0 {
            s += &format!(", {t} {v}");
        }
    }
    out.push(s);
    let mut drops = format!("drops: {}", d("drops.total"));
    if let Some(m) = b["drops"]["drops"].as_object() {
        let nz: Vec<String> = m
            .keys()
            .filter_map(|k| {
                let v = d(&format!("drops.drops.{k}"));
                (v != 0).then(|| format!("{k} {v}"))
            })
            .collect();
        if !nz.is_empty() {
            drops += &format!(" ({})", nz.join(", "));
        }
    }
    for k in ["rx_dropped", "rx_nombuf", "tx_dropped"] {
        let v = d(&format!("drops.ports.0.{k}"));
        if v != 0 {
            drops += &format!(", port {k} {v}");
        }
    }
    out.push(drops);
    let mut tcp = format!("tcp: opened {}", d("table.opened"));
    for k in [
        "rst_sent",
        "rst_ignored",
        "rst_stray_ack",
        "rst_rate_limited",
        "refused_full",
        "cookies_sent",
        "cookies_accepted",
        "cookies_invalid",
    ] {
        let v = d(&format!("table.{k}"));
        if v != 0 || k == "rst_sent" {
            tcp += &format!(", {k} {v}");
        }
    }
    out.push(tcp);
    if let Some(st) = b["states"].as_object() {
        let v: Vec<String> = st.iter().map(|(k, n)| format!("{n} {k}")).collect();
        out.push(format!(
            "connections {} s after wrk: {}",
            SETTLE.as_secs(),
            if v.is_empty() {
                "none".into()
            } else {
                v.join(", ")
            }
        ));
    }
    let (mut busy, mut all) = (0i64, 0i64);
    if let Some(cores) = b["fwd"]["cores"].as_array() {
        for i in 0..cores.len() {
            let bz = d(&format!("fwd.cores.{i}.busy_ns"));
            busy += bz;
            all += bz + d(&format!("fwd.cores.{i}.idle_ns"));
        }
    }
    if all > 0 {
        out.push(format!(
            "polling core busy {:.0}%",
            100.0 * busy as f64 / all as f64
        ));
    }
    let tap = (d("tap_tx_dropped"), d("tap_rx_dropped"));
    out.push(format!(
        "{TAP} kernel tx_dropped {} rx_dropped {}",
        tap.0, tap.1
    ));
    out.join("; ")
}

/// The kernel's TCP counters in the namespace over the measured run.
fn kernel_delta(a: &BTreeMap<String, i64>, b: &BTreeMap<String, i64>) -> String {
    let d = |k: &str| b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0);
    let keys = [
        ("Tcp.ActiveOpens", "active opens"),
        ("Tcp.OutRsts", "resets sent"),
        ("Tcp.EstabResets", "established reset"),
        ("Tcp.AttemptFails", "attempt fails"),
        ("Tcp.RetransSegs", "retransmitted segments"),
        ("TcpExt.ListenOverflows", "listen overflows"),
        ("TcpExt.TCPAbortOnData", "aborts on data"),
    ];
    let parts: Vec<String> = keys
        .iter()
        .map(|(k, n)| (n, d(k)))
        .filter(|(n, v)| *v != 0 || **n == "resets sent")
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    format!("kernel tcp: {}", parts.join(", "))
}

// ------------------------------------------------------------ rounds

/// A measured round.
struct Meas {
    value: f64,
    wrk: Wrk,
}

/// One round of one server: Ok(Err(msg)) is a failed round (wrk errors),
/// Err an infrastructure failure that ends the benchmark.
fn round(
    lab: &mut Lab,
    kind: Kind,
    case: &Case,
    secs: u32,
) -> Result<std::result::Result<Meas, String>> {
    let s = match kind {
        Kind::Nginx => start_nginx(lab, case.file)?,
        Kind::Anyedge => start_engine(lab, case.file)?,
    };
    let url = kind.url(case.file);
    let r = measure(lab, &s, &url, case, secs);
    let stopped = stop(lab, s);
    let r = r?;
    stopped?;
    Ok(r)
}

fn measure(
    lab: &Lab,
    s: &Server,
    url: &str,
    case: &Case,
    secs: u32,
) -> Result<std::result::Result<Meas, String>> {
    let k0 = lab.kernel_tcp();
    let e0 = match s.kind {
        Kind::Anyedge => Some(engine_snapshot(lab, s)?),
        Kind::Nginx => None,
    };
    let w = run_wrk(lab, url, secs, case.close);
    std::thread::sleep(SETTLE);
    let k1 = lab.kernel_tcp();
    let mut notes = vec![kernel_delta(&k0, &k1)];
    if let Some(e0) = &e0 {
        let e1 = engine_snapshot(lab, s)?;
        notes.push(engine_delta(e0, &e1, w.as_ref().ok().map(|w| w.requests)));
    }
    for n in &notes {
        println!("    {}: {n}", s.kind.name());
    }
    Ok(match w {
        Ok(w) => Ok(Meas {
            value: if case.gbps {
                w.bytes_per_s * 8.0 / 1e9
            } else {
                w.rps
            },
            wrk: w,
        }),
        Err(e) => Err(format!("{e:#}\n    {}", notes.join("\n    "))),
    })
}

fn fmt_us(us: f64) -> String {
    if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// Median p50 and p99 of the rounds that counted.
fn lat_medians(v: &[[f64; 4]]) -> Option<(f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let p50: Vec<f64> = v.iter().map(|l| l[0]).collect();
    let p99: Vec<f64> = v.iter().map(|l| l[3]).collect();
    Some((median(&p50), median(&p99)))
}

fn preflight() -> Result<PathBuf> {
    let uid = run_ok("id -u", &mut cmd("id", &["-u"]))?;
    if uid.trim() != "0" {
        bail!("bench/http must run as root (network namespace, TAP device)");
    }
    for (tool, pkg) in [
        ("ip", "iproute2"),
        ("taskset", "util-linux"),
        ("wrk", "wrk"),
        ("curl", "curl"),
    ] {
        let ok = run_bounded("which", &mut cmd("which", &[tool]), CMD_TIMEOUT)
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            bail!("{tool} not found: apt-get install {pkg}");
        }
    }
    if !Path::new(NGINX).exists() {
        bail!("{NGINX} not found: apt-get install nginx-light");
    }
    let engine = anyedge_bin()?;
    // The TAP port built into the software build; the DPDK build would
    // hand net_tap to DPDK and need EAL memory options.
    let ldd = run_bounded(
        "ldd",
        &mut cmd("ldd", &[&engine.to_string_lossy()]),
        CMD_TIMEOUT,
    )
    .map(|o| o.stdout)
    .unwrap_or_default();
    if ldd.contains("librte_eal") {
        bail!(
            "{} is the DPDK build; bench/http runs the software build (its own TAP port): \
             cargo build --release -p anyedge-tools, or set ANYEDGE",
            engine.display()
        );
    }
    Ok(engine)
}

type Outcome = (
    Vec<Row>,
    Vec<(String, Option<(f64, f64)>, Option<(f64, f64)>)>,
    Vec<String>,
);

fn run_all(lab: &mut Lab, secs: u32, rounds: usize) -> Result<Outcome> {
    let mut rows = Vec::new();
    let mut lat = Vec::new();
    let mut failed = Vec::new();
    for case in &CASES {
        let mut row = Row {
            name: format!("{} (wrk -> TAP)", case.name),
            unit: case.unit,
            ours: Vec::new(),
            peer: Vec::new(),
        };
        let mut mem_row = Row {
            name: format!("{} (engine client, mem)", case.name),
            ..row.clone()
        };
        let (mut lat_ours, mut lat_peer, mut lat_mem) = (Vec::new(), Vec::new(), Vec::new());
        for r in 1..=rounds {
            match mem_round(&lab.dir.join("content"), case, secs) {
                Ok(m) => {
                    println!(
                        "{} round {r}: anyedge, engine client over mem ports: {:.2} {} ({:.0} req/s, \
                         {:.1} MiB/s; latency p50 {}, p99 {}, p99.9 {}; server core busy {:.0}%)",
                        case.name,
                        m.value,
                        case.unit,
                        m.round.rps,
                        m.round.bytes_per_s / (1u64 << 20) as f64,
                        fmt_us(m.round.lat_us[0]),
                        fmt_us(m.round.lat_us[1]),
                        fmt_us(m.round.lat_us[2]),
                        m.round.server_busy_pct,
                    );
                    mem_row.ours.push(m.value);
                    lat_mem.push([m.round.lat_us[0], 0.0, 0.0, m.round.lat_us[1]]);
                }
                Err(e) => {
                    println!("{} round {r}: anyedge (mem) FAILED: {e:#}", case.name);
                    failed.push(format!("{} round {r}: anyedge (mem)", case.name));
                }
            }
            for kind in [Kind::Nginx, Kind::Anyedge] {
                match round(lab, kind, case, secs)? {
                    Ok(m) => {
                        // Little's law only holds with keep-alive: with a
                        // new connection per request wrk's latency leaves
                        // out the handshake.
                        let busy = if case.close {
                            String::new()
                        } else {
                            let n = m.wrk.busy_conns();
                            format!(
                                "; ~{n:.1} of {CONNS} connections busy{}",
                                if n < f64::from(CONNS) / 2.0 {
                                    " (!): fewer than half were completing requests on average \
                                     (stalled connections, or wrk saturated); wrk's percentiles \
                                     count only requests that completed"
                                } else {
                                    ""
                                }
                            )
                        };
                        println!(
                            "{} round {r}: {} {:.2} {} ({:.0} req/s, {:.1} MiB/s; latency p50 {}, \
                             p75 {}, p90 {}, p99 {}, mean {}, max {}{busy})",
                            case.name,
                            kind.name(),
                            m.value,
                            case.unit,
                            m.wrk.rps,
                            m.wrk.bytes_per_s / (1u64 << 20) as f64,
                            fmt_us(m.wrk.lat_us[0]),
                            fmt_us(m.wrk.lat_us[1]),
                            fmt_us(m.wrk.lat_us[2]),
                            fmt_us(m.wrk.lat_us[3]),
                            fmt_us(m.wrk.mean_us),
                            fmt_us(m.wrk.max_us),
                        );
                        match kind {
                            Kind::Anyedge => {
                                row.ours.push(m.value);
                                lat_ours.push(m.wrk.lat_us);
                            }
                            Kind::Nginx => {
                                row.peer.push(m.value);
                                lat_peer.push(m.wrk.lat_us);
                            }
                        }
                    }
                    Err(msg) => {
                        let m = format!("{} round {r}: {} FAILED: {msg}", case.name, kind.name());
                        println!("{m}");
                        failed.push(format!("{} round {r}: {}", case.name, kind.name()));
                    }
                }
            }
        }
        mem_row.peer = row.peer.clone();
        lat.push((
            mem_row.name.clone(),
            lat_medians(&lat_mem),
            lat_medians(&lat_peer),
        ));
        lat.push((
            row.name.clone(),
            lat_medians(&lat_ours),
            lat_medians(&lat_peer),
        ));
        rows.push(mem_row);
        rows.push(row);
    }
    Ok((rows, lat, failed))
}

/// A mem-pair round's figure and its details.
struct MemMeas {
    value: f64,
    round: anyedge_bench::http_mem::MemRound,
}

/// One engine-to-engine round (`anyedge_bench::http_mem`): the server on
/// cpu 1 like nginx's worker, the load generator (CONNS connections) on
/// cpu WRK_CPU like wrk, in a thread of its own so that this thread's cpu
/// affinity stays as it was.
fn mem_round(dir: &Path, case: &Case, secs: u32) -> Result<MemMeas> {
    let (dir, file, close) = (dir.to_path_buf(), case.file, case.close);
    let r = std::thread::spawn(move || {
        anyedge_bench::http_mem::round(
            &dir,
            file,
            close,
            CONNS as usize,
            f64::from(secs),
            1,
            WRK_CPU as usize,
        )
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the mem round panicked"))??;
    if r.errors > 0 {
        bail!("{} errors (non-200 or broken responses)", r.errors);
    }
    Ok(MemMeas {
        value: if case.gbps {
            r.bytes_per_s * 8.0 / 1e9
        } else {
            r.rps
        },
        round: r,
    })
}

/// The first three fields of /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secs: u32 = args.first().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let rounds: usize = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(3);
    if !(1..=600).contains(&secs) || !(1..=20).contains(&rounds) {
        bail!("usage: http [SECONDS 1..600] [ROUNDS 1..20]");
    }
    let engine = preflight()?;
    println!(
        "http: anyedge ({}) against nginx ({NGINX}); wrk -t1 -c{CONNS} on cpu {WRK_CPU}, \
         {rounds} rounds of {secs} s per row",
        engine.display()
    );
    println!(
        "  anyedge: wrk -> TAP {TAP} -> engine at {ENGINE_IP} (cdn mode, -l 0-1, polling on cpu 1); \
         the TAP costs the engine a syscall and a copy per frame"
    );
    println!(
        "  nginx:   wrk -> loopback -> nginx at {NGINX_IP} (1 worker pinned to cpu 1, sendfile)"
    );
    println!(
        "  anyedge (engine client, mem): the engine serving on cpu 1, the engine's own TCP as the \
         load generator ({CONNS} connections) on cpu {WRK_CPU}, joined by mem ports (no kernel)"
    );
    let load0 = loadavg();
    let outcome = {
        let mut lab = Lab::new(engine)?;
        println!(
            "  namespace {}, content in {}; load average {load0}",
            lab.ns,
            lab.dir.display()
        );
        run_all(&mut lab, secs, rounds)
        // lab dropped here: processes killed, namespace and directory removed
    };
    let (rows, lat, failed) = outcome?;
    println!(
        "\nload average (1, 5, 15 min) at the start: {load0}; at the end: {} \
         (anything else running on the 2 cpus weighs on both contenders)",
        loadavg()
    );

    println!(
        "\nlatency (wrk --latency, or the engine client's hdrhistogram; medians of the rounds \
         that counted; 64 connections):"
    );
    let mut md = String::from(
        "| row | anyedge p50 | anyedge p99 | nginx p50 | nginx p99 |\n|---|---|---|---|---|\n",
    );
    for (name, ours, peer) in &lat {
        let f = |x: &Option<(f64, f64)>, i: usize| {
            x.map(|v| fmt_us(if i == 0 { v.0 } else { v.1 }))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "  {name:<34} anyedge p50 {:>10} p99 {:>10}   nginx p50 {:>10} p99 {:>10}",
            f(ours, 0),
            f(ours, 1),
            f(peer, 0),
            f(peer, 1)
        );
        md += &format!(
            "| {name} | {} | {} | {} | {} |\n",
            f(ours, 0),
            f(ours, 1),
            f(peer, 0),
            f(peer, 1)
        );
    }
    println!("\n{md}");
    if !failed.is_empty() {
        println!(
            "{} failed round(s), left out of the medians: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    let cmd = format!("cargo run --release -p anyedge-bench --bin http -- {secs} {rounds}");
    report("http", "nginx", &cmd, &rows);
    if !failed.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "Running 5s test @ http://127.0.0.1/1k.bin
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  200.00us   9.87ms   90.00%
    Req/Sec    58.00k     2.00k   60.00k    80.00%
  Latency Distribution
     50%  980.00us
     75%    1.20ms
     90%    1.50ms
     99%    2.00s
  290000 requests in 5.00s, 350.00MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  58000.50
Transfer/sec:      1.17GB
";

    #[test]
    fn parses_wrk_output() {
        let w = parse_wrk(OUT).unwrap();
        assert_eq!(w.requests, 290000);
        assert_eq!(w.rps, 58000.5);
        assert_eq!(w.bytes_per_s, 1.17 * 1024f64.powi(3));
        assert_eq!(w.lat_us, [980.0, 1200.0, 1500.0, 2e6]);
        assert_eq!((w.mean_us, w.max_us), (1100.0, 9870.0));
        assert!((w.busy_conns() - 63.8).abs() < 0.1);
        assert_eq!(w.socket_errors, [0, 12, 0, 3]);
        assert_eq!(w.non2xx, 7);
        let p = w.problem().unwrap();
        assert!(p.contains("read 12") && p.contains("7 non-2xx"), "{p}");
        let clean: String = OUT
            .lines()
            .filter(|l| !l.contains("Socket errors") && !l.contains("Non-2xx"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse_wrk(&clean).unwrap().problem(), None);
        assert!(parse_wrk("unable to connect to 10.0.2.2:80 Connection refused").is_err());
    }

    #[test]
    fn parses_units() {
        assert_eq!(parse_bytes("512.00B"), Some(512.0));
        assert_eq!(parse_bytes("30.00MB"), Some(30.0 * 1048576.0));
        assert_eq!(parse_bytes("2.00KB"), Some(2048.0));
        assert_eq!(parse_time_us("420.00us"), Some(420.0));
        assert_eq!(parse_time_us("1.00m"), Some(60e6));
        assert_eq!(parse_time_us("abc"), None);
    }

    #[test]
    fn json_paths() {
        let v = serde_json::json!({"a": {"b": [1, {"c": 5}]}});
        assert_eq!(num(&v, "a.b.1.c"), 5);
        assert_eq!(num(&v, "a.x"), 0);
    }
}
