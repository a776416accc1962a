//! Finds DPDK >= 22.11 with pkg-config (libdpdk), compiles the C shim
//! (shim/anyedge_dpdk.c) with its flags and links the DPDK libraries.
//! Only with the `link` feature; without it there is nothing to build.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "link")]
    link::main();
}

#[cfg(feature = "link")]
mod link {
    use std::process::Command;

    const MIN_VERSION: &str = "22.11";

    fn missing(why: &str) -> ! {
        panic!(
            "\n\ndpdk-sys: {why}.\n\
             The DPDK build of anyedge (cargo feature `dpdk`) needs DPDK >= {MIN_VERSION} found \
             through pkg-config (libdpdk.pc).\n\
             On Debian 12: apt-get install dpdk dpdk-dev libdpdk-dev pkg-config\n\
             (for a DPDK installed elsewhere, point PKG_CONFIG_PATH at its libdpdk.pc).\n\
             Or build without the feature: the software ports need no DPDK.\n"
        )
    }

    fn pkg_config(args: &[&str]) -> Result<String, String> {
        let out = Command::new(std::env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
            .args(args)
            .output()
            .map_err(|e| format!("cannot run pkg-config ({e})"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(if err.is_empty() {
                format!("pkg-config {} exited with {}", args.join(" "), out.status)
            } else {
                err
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    pub fn main() {
        println!("cargo:rerun-if-changed=shim/anyedge_dpdk.c");
        println!("cargo:rerun-if-changed=shim/anyedge_dpdk.h");
        println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
        println!("cargo:rerun-if-env-changed=PKG_CONFIG");
        let version = match pkg_config(&["--modversion", "libdpdk"]) {
            Ok(v) => v,
            Err(e) => missing(&format!("pkg-config does not find libdpdk ({e})")),
        };
        if pkg_config(&["--atleast-version", MIN_VERSION, "libdpdk"]).is_err() {
            missing(&format!("libdpdk {version} is too old"));
        }
        let cflags = pkg_config(&["--cflags", "libdpdk"])
            .unwrap_or_else(|e| missing(&format!("pkg-config --cflags libdpdk failed: {e}")));
        let libs = pkg_config(&["--libs", "libdpdk"])
            .unwrap_or_else(|e| missing(&format!("pkg-config --libs libdpdk failed: {e}")));

        let mut build = cc::Build::new();
        build
            .file("shim/anyedge_dpdk.c")
            .include("shim")
            .opt_level(3)
            .warnings(true)
            .extra_warnings(true)
            .flag_if_supported("-Wno-unused-parameter");
        // -include rte_config.h and -march=... come as two words.
        let mut words = cflags.split_whitespace();
        while let Some(w) = words.next() {
            if w == "-include" {
                if let Some(f) = words.next() {
                    build.flag("-include").flag(f);
                }
            } else {
                build.flag(w);
            }
        }
        build.compile("anyedge_dpdk_shim");

        for w in libs.split_whitespace() {
            if let Some(dir) = w.strip_prefix("-L") {
                println!("cargo:rustc-link-search=native={dir}");
            } else if let Some(lib) = w.strip_prefix("-l") {
                // Only the libraries the shim and the port use: the PMDs are
                // loaded by the EAL as plugins from its driver directory.
                if matches!(
                    lib,
                    "rte_ethdev"
                        | "rte_mbuf"
                        | "rte_mempool"
                        | "rte_ring"
                        | "rte_eal"
                        | "rte_kvargs"
                        | "rte_telemetry"
                        | "rte_net"
                        | "rte_meter"
                ) {
                    println!("cargo:rustc-link-lib=dylib={lib}");
                }
            }
        }
        println!("cargo:version={version}");
        println!("cargo:rustc-env=AE_DPDK_VERSION={version}");
    }
}
