//! The control socket (`--ctl-socket PATH`) and its client (`anyedge ctl`).
//!
//! One command per connection: the client writes one line, the engine answers
//! with a status line (`ok` or `error`) followed by the command's output, and
//! closes. Scripts and tests drive a running engine this way, with the same
//! commands as the console.

use crate::run::Engine;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long either side waits for the other.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the socket (replacing a stale one) and serves it on a thread.
pub fn serve(path: &Path, engine: Engine) -> Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("remove stale {}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("bind control socket {}", path.display()))?;
    log::info!("control socket listening on {}", path.display());
    std::thread::Builder::new()
        .name("ctl".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        if let Err(e) = answer(s, &engine) {
                            log::warn!("control connection: {e}");
                        }
                    }
                    Err(e) => log::warn!("control socket accept: {e}"),
                }
            }
        })?;
    Ok(())
}

fn answer(stream: UnixStream, engine: &Engine) -> Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new(stream.try_clone()?)
        .take(64 * 1024)
        .read_line(&mut line)?;
    let reply = engine.execute(line.trim());
    let mut w = stream;
    write!(
        w,
        "{}\n{}\n",
        if reply.ok { "ok" } else { "error" },
        reply.text
    )?;
    if reply.quit {
        engine.quit.store(true, Ordering::SeqCst);
    }
    Ok(())
}

/// Sends one command and prints the answer; returns the exit code (0 on success).
pub fn client(path: &PathBuf, command: &str) -> Result<i32> {
    let mut s = UnixStream::connect(path).with_context(|| {
        format!(
            "connect to {} (is the engine running with --ctl-socket?)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    writeln!(s, "{}", command.trim())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (status, body) = out.split_once('\n').unwrap_or((out.as_str(), ""));
    let body = body.strip_suffix('\n').unwrap_or(body);
    match status {
        "ok" => {
            if !body.is_empty() {
                println!("{body}");
            }
            Ok(0)
        }
        "error" => {
            eprintln!("{body}");
            Ok(1)
        }
        _ => bail!("unexpected answer from the engine: {out:?}"),
    }
}
