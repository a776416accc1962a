//! The interactive prompt (`-i`) and `--cmdline-file` scripts.
//!
//! Line editing and history come from rustyline. Each line goes to the same
//! command table as the control socket ([`anyedge_node::commands`]).

use crate::run::Engine;
use rustyline::error::ReadlineError;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

/// The prompt, as testpmd's `testpmd> `.
pub const PROMPT: &str = "anyedge> ";

/// Prints a line of console output on stdout. When stdout is gone (the
/// operator's terminal or pipe closed) the line is lost, not the engine: it
/// keeps serving, and the ctl socket, a signal or the end of input still
/// stop it cleanly (`println!` would panic, and the release build aborts
/// without closing its ports).
pub fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// As [`say`], on stderr: the answer to a command that failed.
pub fn complain(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Runs the prompt until `quit`, end of input, or the engine is told to quit.
pub fn interactive(engine: &Engine) {
    let mut rl = match rustyline::DefaultEditor::new() {
        Ok(rl) => rl,
        Err(e) => {
            complain(&format!("console: {e}"));
            engine.quit.store(true, Ordering::SeqCst);
            return;
        }
    };
    while !engine.quit.load(Ordering::SeqCst) {
        match rl.readline(PROMPT) {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = rl.add_history_entry(line);
                if run_line(engine, line) {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => {
                run_line(engine, "quit");
                break;
            }
            Err(e) => {
                complain(&format!("console: {e}"));
                break;
            }
        }
    }
    engine.quit.store(true, Ordering::SeqCst);
}

/// Runs one line, prints its answer, and tells whether it was `quit`.
pub fn run_line(engine: &Engine, line: &str) -> bool {
    let reply = engine.execute(line);
    if !reply.text.is_empty() {
        if reply.ok {
            say(&reply.text);
        } else {
            complain(&reply.text);
        }
    }
    if reply.quit {
        engine.quit.store(true, Ordering::SeqCst);
    }
    reply.quit
}

/// Runs a command file, echoing each command after the prompt as testpmd does.
/// Blank lines and lines starting with `#` are skipped.
pub fn cmdline_file(engine: &Engine, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--cmdline-file {}: {e}", path.display()))?;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        say(&format!("{PROMPT}{line}"));
        if run_line(engine, line) {
            break;
        }
    }
    say(&format!("Read CLI commands from {}", path.display()));
    Ok(())
}
