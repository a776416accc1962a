//! The `anyedge` binary end to end, without root: net_null ports, the
//! console fed through stdin, `--cmdline-file`, the control socket, and the
//! one-line errors an operator sees for bad input.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_anyedge"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("anyedge-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn cmdline_file_runs_a_session_and_quits() {
    let d = tmp("cmdline");
    let f = d.join("cmds");
    std::fs::write(
        &f,
        "# a session\nshow port info all\nset fwd macswap\nstart\nshow fwd stats all json\nstop\nquit\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "run",
            "-l",
            "0-1",
            "--no-huge",
            "--vdev",
            "net_null0",
            "--vdev",
            "net_null1",
            "--",
        ])
        .arg(format!("--cmdline-file={}", f.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("anyedge> set fwd macswap"), "{text}");
    assert!(text.contains("Driver name: net_null"), "{text}");
    assert!(text.contains("macswap packet forwarding started"), "{text}");
    assert!(text.contains("Accumulated forward statistics"), "{text}");
    assert!(text.contains("\"mode\":\"macswap\""), "{text}");
}

#[test]
fn interactive_console_reads_commands_from_stdin() {
    let mut child = bin()
        .args([
            "run",
            "-l",
            "0-1",
            "--vdev",
            "net_null0",
            "--",
            "-i",
            "--forward-mode=rxonly",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "start\nshow drops json\nbogus command\nstop\nquit").unwrap();
    drop(stdin);
    let out = wait_bounded(child, Duration::from_secs(30));
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{so}\n{se}");
    assert!(so.contains("rxonly packet forwarding started"), "{so}");
    assert!(so.contains("\"total\":0"), "{so}");
    assert!(se.contains("unknown command 'bogus command'"), "{se}");
}

#[test]
fn a_closed_stdout_loses_output_not_the_engine() {
    // The operator's pipe closes (`anyedge run ... | head`): answers that
    // cannot be printed are dropped, and `quit` still stops cleanly.
    let mut child = bin()
        .args(["run", "-l", "0-1", "--vdev", "net_null0", "--", "-i"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        "start\nshow port stats all\nshow fwd stats\nstop\nquit"
    )
    .unwrap();
    drop(stdin);
    let out = wait_bounded(child, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ctl_socket_answers_and_quits_the_engine() {
    let d = tmp("ctl");
    let sock = d.join("ae.sock");
    let child = bin()
        .args([
            "run",
            "-l",
            "0-1",
            "--vdev",
            "net_null0",
            "--vdev",
            "net_null1",
            "--",
            "-a",
        ])
        .arg(format!("--ctl-socket={}", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let ctl = |cmd: &str| bin().arg("ctl").arg(&sock).arg(cmd).output().unwrap();
    let info = ctl("show port stats all json");
    assert!(info.status.success());
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(
        v["ports"][0]["rx_packets"].as_u64().unwrap() > 0,
        "net_null receives endlessly: {v}"
    );
    let bad = ctl("set fwd warp");
    assert_eq!(bad.status.code(), Some(1), "errors exit 1");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown forwarding mode 'warp'"));
    assert!(ctl("quit").status.success());
    let out = wait_bounded(child, Duration::from_secs(20));
    assert!(out.status.success());
    assert!(!sock.exists(), "socket removed at exit");
}

#[test]
fn bad_input_gets_one_clear_line_and_exit_code_2() {
    let d = tmp("bad");
    let cfg = d.join("node.toml");
    std::fs::write(&cfg, "[[port]]\nip = \"10.0.2.2/33\"\n").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "run".into(),
                "--vdev".into(),
                "net_null0".into(),
                "--".into(),
                format!("--config={}", cfg.display()),
            ],
            "[[port]] #0 ip: '10.0.2.2/33' is not valid",
        ),
        (
            vec!["run".into(), "--bogus".into()],
            "unknown EAL option '--bogus'",
        ),
        (vec!["run".into(), "--".into(), "-a".into()], "no ports"),
        (
            vec![
                "run".into(),
                "--vdev".into(),
                "net_null0".into(),
                "--".into(),
                "--forward-mode=5tswap".into(),
            ],
            "--forward-mode=5tswap: unknown mode",
        ),
        (
            vec![
                "run".into(),
                "-a".into(),
                "0000:3b:00.0".into(),
                "--".into(),
            ],
            "needs the DPDK build",
        ),
        (
            vec![
                "ctl".into(),
                d.join("nope.sock").display().to_string(),
                "show drops".into(),
            ],
            "is the engine running",
        ),
    ];
    for (args, want) in cases {
        let out = bin().args(&args).stdin(Stdio::null()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("anyedge: "))
            .unwrap_or_default();
        assert!(line.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn demo_tells_the_foundation_story() {
    let out = bin()
        .args(["demo", "--count", "2", "--size-mib", "4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ARP announce 203.0.113.10"), "{text}");
    assert!(
        text.contains("route 203.0.113.10/32 now via edge-b"),
        "{text}"
    );
    assert!(text.contains("ping 203.0.113.10    4/4 replies"), "{text}");
    assert!(text.contains("(RST for a stray ACK)"), "{text}");
    assert!(text.contains("Range: bytes="), "{text}");
    assert!(text.contains("byte-exact: yes"), "{text}");
}

#[test]
fn demo_tells_the_overlay_story() {
    let out = bin()
        .args(["demo", "--count", "1", "--size-mib", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("--- overlay: a miss through edge -> gateway -> origin"),
        "{text}"
    );
    assert!(
        text.contains("edge: early data opened 1, accepted 1"),
        "{text}"
    );
    // "... saved, 1.00 edge-gateway RTTs": early data saves one round trip.
    let rtts: f64 = text
        .split(" edge-gateway RTTs")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no saving in RTTs: {text}"));
    assert!((0.8..=1.2).contains(&rtts), "{rtts}: {text}");
}

#[test]
fn demo_tells_the_replication_story() {
    let out = bin()
        .args(["demo", "--count", "1", "--size-mib", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("replicated connection: edge-a (primary)"),
        "{text}"
    );
    // With replication the client keeps its one connection; without, it is reset.
    assert!(
        text.contains("byte-exact ; client saw 0 reset(s), 1 request(s) on one connection; edge-b takeovers 1"),
        "{text}"
    );
    assert!(
        text.contains("client saw 1 reset(s) and sent 2 requests"),
        "{text}"
    );
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
