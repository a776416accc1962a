//! EAL profiles: the EAL arguments for each way anyedge meets DPDK, as files
//! in `dpdk-sys-config/profiles/` (one argument per line, `#` comments,
//! `${VAR}` placeholders) that a shell can read and that Rust expands here.
//!
//! | profile        | for                                   | variables        |
//! |----------------|---------------------------------------|------------------|
//! | `nic`          | a real NIC bound to vfio-pci (`-a`)   | PCI, PREFIX      |
//! | `null`         | benchmarks on net_null                | PREFIX           |
//! | `tap`          | real-peer tests on net_tap            | IFACE, PREFIX    |
//! | `memif-server` | two engine processes over net_memif   | SOCKET, PREFIX   |
//! | `memif-client` | the other end                         | SOCKET, PREFIX   |
//!
//! From a shell: `anyedge run $(grep -v '^#' dpdk-sys-config/profiles/tap.eal |
//! sed "s/\${IFACE}/ae0/; s/\${PREFIX}/ae0/") -- --forward-mode=cdn -a`.
//! Every process needs its own `--file-prefix` (DPDK keeps its runtime state
//! under /var/run/dpdk/PREFIX).

/// Every profile: (name, file contents).
pub const PROFILES: &[(&str, &str)] = &[
    ("nic", include_str!("../profiles/nic.eal")),
    ("null", include_str!("../profiles/null.eal")),
    ("tap", include_str!("../profiles/tap.eal")),
    ("memif-server", include_str!("../profiles/memif-server.eal")),
    ("memif-client", include_str!("../profiles/memif-client.eal")),
];

/// The arguments of profile `name` with `${VAR}` replaced from `vars`, or an
/// error naming the unknown profile or the first variable left unset.
pub fn expand(name: &str, vars: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let text = PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            format!(
                "unknown EAL profile '{name}': one of {}",
                PROFILES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut arg = line.to_string();
        for (k, v) in vars {
            arg = arg.replace(&format!("${{{k}}}"), v);
        }
        if let Some(i) = arg.find("${") {
            return Err(format!("EAL profile '{name}': {} is not set", &arg[i..]));
        }
        out.extend(arg.split_whitespace().map(String::from));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_expand_and_never_probe_pci_unless_asked() {
        let tap = expand("tap", &[("IFACE", "ae0"), ("PREFIX", "t1")]).unwrap();
        assert!(tap
            .windows(2)
            .any(|w| w == ["--vdev", "net_tap0,iface=ae0"]));
        for (name, _) in PROFILES.iter().filter(|(n, _)| *n != "nic") {
            let a = expand(
                name,
                &[("IFACE", "x"), ("PREFIX", "p"), ("SOCKET", "/tmp/s")],
            )
            .unwrap();
            assert!(a.contains(&"--no-pci".to_string()), "{name}");
            assert!(a.contains(&"--file-prefix".to_string()), "{name}");
        }
        assert!(expand("nic", &[("PREFIX", "p")])
            .unwrap_err()
            .contains("${PCI}"));
        assert!(expand("bogus", &[])
            .unwrap_err()
            .contains("unknown EAL profile"));
    }
}
