#!/usr/bin/env bash
# The project's single test command. As root, on Debian 12 or in CI:
#
#   bash tools/scripts/test-all.sh
#
# Steps (each announced by a banner; the first failure stops the run with a
# non-zero exit and names the step):
#   1. system packages (apt-get; skipped only when all are already installed)
#   2. scapy for the python3 on PATH
#   3. cargo fmt --check        4. cargo clippy -D warnings
#   5. cargo clippy with the DPDK feature (-D warnings)
#   6. cargo test               7. cargo test of the DPDK port (--features dpdk)
#   8. cargo build --release -p anyedge-tools, with and without the DPDK
#      feature (the DPDK build is kept as target/release/anyedge-dpdk)
#   9. real-peer tests (tests/realpeer/run-all.sh, namespaces + TAPs; the
#      test_dpdk_* ones run ANYEDGE_DPDK)
#  10. fuzz smoke (each fuzz target 30 s)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
exec </dev/null # CI has no stdin; nothing here may wait for one
export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=never

T0=$SECONDS
STEP="startup"
DONE=()
REALPEER_LINE=""

banner() {
    STEP=$1
    printf '\n==================== [%s +%ss] %s ====================\n' "$(date +%H:%M:%S)" $((SECONDS - T0)) "$1"
}

step_ok() { DONE+=("ok    $STEP${1:+ ($1)}"); }

on_exit() {
    local rc=$?
    if ((rc != 0)); then
        echo
        echo "test-all.sh: FAILED in step '$STEP' (exit $rc) after $((SECONDS - T0))s"
        ((${#DONE[@]})) && printf '  %s\n' "${DONE[@]}"
    fi
}
trap on_exit EXIT

if [[ $(id -u) -ne 0 ]]; then
    echo "test-all.sh: must run as root (it installs packages and creates network namespaces and TAP devices)" >&2
    exit 1
fi

# ---------------------------------------------------------------------------
banner "1/10 system packages"
PKGS=(iproute2 iputils-ping arping curl wget socat python3 python3-pip pkg-config
    dpdk dpdk-dev libdpdk-dev nginx-light wrk nftables
    build-essential) # build-essential: C/C++ compiler for cargo-fuzz's libFuzzer; nftables: random loss in test_tcp_loss.sh
missing=()
for p in "${PKGS[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "all ${#PKGS[@]} packages already installed (dpkg): ${PKGS[*]}"
    echo "apt-get update/install not needed"
    step_ok "already installed"
else
    echo "missing: ${missing[*]}"
    apt-get update
    apt-get install -y -o DPkg::Lock::Timeout=600 "${PKGS[@]}"
    step_ok "installed ${missing[*]}"
fi

# ---------------------------------------------------------------------------
banner "2/10 scapy for $(command -v python3 || echo 'python3 (not found!)')"
command -v python3 >/dev/null || { echo "python3 is not on PATH" >&2; exit 1; }
if python3 -c 'import scapy' 2>/dev/null; then
    echo "scapy already importable"
else
    python3 -m pip install --quiet scapy ||
        python3 -m pip install --quiet --break-system-packages scapy ||
        apt-get install -y -o DPkg::Lock::Timeout=600 python3-scapy ||
        true
fi
if ! python3 -c 'import scapy; print("scapy", scapy.VERSION, "at", scapy.__file__)'; then
    echo "scapy could not be installed for $(command -v python3)" >&2
    exit 1
fi
step_ok

# ---------------------------------------------------------------------------
command -v cargo >/dev/null || {
    echo "cargo not found (looked in PATH=$PATH); install the Rust toolchain with rustup" >&2
    exit 1
}
cargo --version
rustc --version

banner "3/10 cargo fmt --all -- --check"
cargo fmt --all -- --check
step_ok

banner "4/10 cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step_ok

banner "5/10 cargo clippy with the DPDK feature -- -D warnings"
# dpdk-sys finds DPDK with pkg-config (packages dpdk, dpdk-dev, libdpdk-dev,
# pkg-config from step 1); no bindgen, so no libclang.
pkg-config --modversion libdpdk
cargo clippy -p anyedge-tools --features dpdk -- -D warnings
cargo clippy -p anyedge-port -p dpdk-sys -p anyedge-bench --features anyedge-port/dpdk,dpdk-sys/link,anyedge-bench/dpdk --all-targets -- -D warnings
step_ok

banner "6/10 cargo test --workspace"
cargo test --workspace
step_ok

banner "7/10 cargo test -p anyedge-port --features dpdk (EAL in-process, net_ring + net_null)"
cargo test -p anyedge-port --features dpdk
cargo test -p dpdk-sys --features link
step_ok

banner "8/10 cargo build --release -p anyedge-tools (with and without --features dpdk)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}/release"
# The DPDK build first, kept under its own name; then the plain build, which
# puts the software-port binary back at target/release/anyedge.
cargo build --release -p anyedge-tools --features dpdk
cp "$TARGET/anyedge" "$TARGET/anyedge-dpdk"
cargo build --release -p anyedge-tools
ANYEDGE="$TARGET/anyedge"
ANYEDGE_DPDK="$TARGET/anyedge-dpdk"
[[ -x $ANYEDGE ]] || { echo "build succeeded but $ANYEDGE is missing" >&2; exit 1; }
[[ -x $ANYEDGE_DPDK ]] || { echo "build succeeded but $ANYEDGE_DPDK is missing" >&2; exit 1; }
if ldd "$ANYEDGE" | grep -c librte_eal >/dev/null; then
    echo "$ANYEDGE is linked with DPDK: the plain build did not replace it" >&2
    exit 1
fi
ldd "$ANYEDGE_DPDK" | grep -c librte_eal >/dev/null || { echo "$ANYEDGE_DPDK is not linked with DPDK" >&2; exit 1; }
export ANYEDGE ANYEDGE_DPDK
step_ok "anyedge and anyedge-dpdk"

# ---------------------------------------------------------------------------
banner "9/10 real-peer tests (tests/realpeer/run-all.sh, FWD=anyedge, ANYEDGE_DPDK for test_dpdk_*)"
REALPEER_LOG=$(mktemp /tmp/anyedge-realpeer.XXXXXX.log)
FWD=anyedge bash tests/realpeer/run-all.sh 2>&1 | tee "$REALPEER_LOG"
REALPEER_LINE=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$REALPEER_LOG" | tail -n 1 || true)
rm -f "$REALPEER_LOG"
step_ok "$REALPEER_LINE"

# ---------------------------------------------------------------------------
banner "10/10 fuzz smoke (30 s per target)"
# fuzz/ is part of the repository: a missing project is a failure, not a skip.
[[ -f fuzz/Cargo.toml ]] || { echo "fuzz/Cargo.toml is missing" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz missing: cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked
fi
cargo fuzz --version
# the targets are the [[bin]]s of fuzz/Cargo.toml (fuzz/fuzz_targets/*.rs)
mapfile -t targets < <(cd fuzz && cargo fuzz list)
if ((${#targets[@]} == 0)); then
    echo "fuzz/Cargo.toml declares no fuzz target" >&2
    exit 1
fi
for t in "${targets[@]}"; do
    echo "--- fuzz target $t (30 s)"
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time=30)
done
step_ok "${#targets[@]} target(s): ${targets[*]}"

echo
echo "test-all.sh: all steps passed in $((SECONDS - T0))s"
printf '  %s\n' "${DONE[@]}"
# The real-peer tally last, as the run's closing line.
if [[ -n $REALPEER_LINE ]]; then
    echo "realpeer: $REALPEER_LINE"
fi
