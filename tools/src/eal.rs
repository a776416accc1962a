//! EAL arguments, in DPDK's syntax, before the `--`.
//!
//! The same command line runs on the DPDK build and on the built-in TAP port:
//! `--vdev net_tap<N>,iface=<name>` selects a TAP port either way. Options
//! that only mean something to DPDK's EAL (`--no-huge`, `-m`, `--file-prefix`,
//! `-n`, `--log-level`) are accepted and kept so that the DPDK port can hand
//! them to `rte_eal_init` as given.

use anyhow::{bail, Context, Result};

/// A `--vdev` or `-a` device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// `--vdev net_tapN,iface=NAME`
    Tap {
        /// `net_tapN`
        name: String,
        /// Interface name (defaults to `dtapN`, as DPDK's net_tap does).
        iface: String,
    },
    /// `--vdev net_nullN[,size=BYTES]`: endless receive, free on transmit.
    Null {
        /// `net_nullN`
        name: String,
        /// Frame length (default 64, as DPDK's net_null).
        size: usize,
    },
    /// Any other vdev or a PCI device (`-a`): needs the DPDK build.
    Dpdk(String),
}

/// Parsed EAL arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Eal {
    /// Lcores from `-l` (or `-c`), in the order given; the first is the main lcore.
    pub lcores: Option<Vec<usize>>,
    /// Devices in port-id order.
    pub devices: Vec<Device>,
    /// `--no-huge`
    pub no_huge: bool,
    /// `-m` in MiB.
    pub memory_mb: Option<u64>,
    /// `--file-prefix`
    pub file_prefix: Option<String>,
    /// Every argument exactly as given, for `rte_eal_init`.
    pub raw: Vec<String>,
}

/// Parses the EAL part of the command line.
pub fn parse(args: &[String]) -> Result<Eal> {
    let mut eal = Eal {
        raw: args.to_vec(),
        ..Eal::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("EAL option {flag} needs {what}")),
            }
        };
        match flag {
            "-l" | "--lcores" => eal.lcores = Some(parse_cores(&value("a core list like 0-1")?)?),
            "-c" => eal.lcores = Some(parse_mask(&value("a hex core mask")?)?),
            "--vdev" => eal.devices.push(parse_vdev(&value("a device")?)?),
            "-a" | "--allow" | "-w" => eal.devices.push(Device::Dpdk(value("a PCI address")?)),
            "--no-huge" => eal.no_huge = true,
            "-m" => {
                let v = value("megabytes")?;
                eal.memory_mb = Some(
                    v.parse()
                        .with_context(|| format!("-m {v}: not a number of MiB"))?,
                )
            }
            "--file-prefix" => eal.file_prefix = Some(value("a name")?),
            "-n" | "--log-level" | "--proc-type" | "--socket-mem" | "--huge-dir"
            | "--iova-mode" => {
                value("a value")?;
            }
            "--no-pci" | "--no-telemetry" | "--in-memory" | "--no-shconf" => {}
            other => bail!("unknown EAL option '{other}' (see 'anyedge run --help')"),
        }
    }
    Ok(eal)
}

/// Parses `0-1,3,5-6` (DPDK `-l`).
pub fn parse_cores(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let bad = || format!("core list '{s}': '{part}' is not a core or a range like 0-3");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().with_context(bad)?, b.parse().with_context(bad)?);
                if a > b || b > 1023 {
                    bail!(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().with_context(bad)?),
        }
    }
    let mut seen = out.clone();
    seen.sort();
    seen.dedup();
    if seen.len() != out.len() {
        bail!("core list '{s}' names a core twice");
    }
    Ok(out)
}

fn parse_mask(s: &str) -> Result<Vec<usize>> {
    let m = u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .with_context(|| format!("core mask '{s}' is not hexadecimal"))?;
    Ok((0..64).filter(|i| m & (1 << i) != 0).collect())
}

/// Parses a `--vdev` argument.
pub fn parse_vdev(s: &str) -> Result<Device> {
    let mut parts = s.split(',');
    let name = parts.next().unwrap_or_default().to_string();
    if let Some(n) = name.strip_prefix("net_tap") {
        let mut iface = format!("dtap{n}");
        for kv in parts {
            match kv.split_once('=') {
                Some(("iface", v)) => iface = v.to_string(),
                Some(("mac", _)) | Some(("persist", _)) | Some(("remote", _)) => {}
                _ => bail!("--vdev {s}: unknown net_tap argument '{kv}' (use iface=NAME)"),
            }
        }
        if iface.is_empty() || iface.len() > 15 {
            bail!("--vdev {s}: interface name must be 1 to 15 characters");
        }
        return Ok(Device::Tap { name, iface });
    }
    if name.starts_with("net_null") {
        let mut size = 64;
        for kv in parts {
            match kv.split_once('=') {
                Some(("size", v)) => {
                    size = v
                        .parse()
                        .ok()
                        .filter(|n| (14..=2048).contains(n))
                        .with_context(|| format!("--vdev {s}: size must be 14..2048 bytes"))?
                }
                Some(("copy", _)) => {}
                _ => bail!("--vdev {s}: unknown net_null argument '{kv}' (use size=BYTES)"),
            }
        }
        return Ok(Device::Null { name, size });
    }
    Ok(Device::Dpdk(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn testpmd_style_eal_line() {
        let e = parse(&args(
            "-l 0-1 --no-huge -m 512 --file-prefix a --vdev net_tap0,iface=ae0 --vdev=net_tap1",
        ))
        .unwrap();
        assert_eq!(e.lcores, Some(vec![0, 1]));
        assert!(e.no_huge);
        assert_eq!(e.memory_mb, Some(512));
        assert_eq!(
            e.devices,
            vec![
                Device::Tap {
                    name: "net_tap0".into(),
                    iface: "ae0".into()
                },
                Device::Tap {
                    name: "net_tap1".into(),
                    iface: "dtap1".into()
                },
            ]
        );
        assert_eq!(
            parse(&args("-a 0000:3b:00.0")).unwrap().devices,
            vec![Device::Dpdk("0000:3b:00.0".into())]
        );
        assert_eq!(parse(&args("-c 0x5")).unwrap().lcores, Some(vec![0, 2]));
    }

    #[test]
    fn bad_eal_arguments_are_named() {
        for (a, want) in [
            ("-l 3-1", "core list '3-1'"),
            ("-l 0,0", "twice"),
            ("-l", "needs"),
            ("--bogus", "unknown EAL option '--bogus'"),
            ("--vdev net_tap0,ifname=x", "unknown net_tap argument"),
            ("-m lots", "-m lots"),
        ] {
            let e = parse(&args(a)).unwrap_err().to_string();
            assert!(e.contains(want), "{a}: {e}");
        }
    }
}
