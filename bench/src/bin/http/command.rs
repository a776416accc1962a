//! Commands run with a time bound, and the small process helpers of the
//! benchmark.

use super::*;

/// What a finished command printed.
pub(super) struct Out {
    pub(super) status: ExitStatus,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Out {
    pub(super) fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs a command to completion with stdin closed, killing it after
/// `timeout` (an error).
pub(super) fn run_bounded(what: &str, cmd: &mut Command, timeout: Duration) -> Result<Out> {
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
pub(super) fn run_ok(what: &str, cmd: &mut Command) -> Result<String> {
    let o = run_bounded(what, cmd, CMD_TIMEOUT)?;
    if !o.status.success() {
        bail!("{what} failed ({}): {}", o.status, o.both().trim());
    }
    Ok(o.stdout)
}

pub(super) fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

pub(super) fn kill_pid(signal: &str, pid: u32) {
    let _ = run_bounded(
        "kill",
        &mut cmd("kill", &[&format!("-{signal}"), &pid.to_string()]),
        Duration::from_secs(5),
    );
}

pub(super) fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
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

pub(super) fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    format!(
        "----- last lines of {} -----\n{}",
        path.display(),
        tail(&text, 25)
    )
}
