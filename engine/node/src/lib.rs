//! A node: where ports, clocks, threads and protocol cores meet.
//!
//! - [`config`]: the node file (`--config node.toml`), validated into typed values;
//! - [`fwd`]: the forwarding modes, one small file each, in testpmd's names;
//! - [`lcore`]: a polling core that owns streams and runs a mode on each burst;
//! - [`node`]: the control side: ports, queue bank, cores, start and stop;
//! - [`commands`]: the console commands that the prompt, scripts and the
//!   control socket share;
//! - [`client`]: the engine as an HTTP client (`anyedge get`, the simulator's hosts);
//! - [`stats`]: drop reasons and counters; [`arp`]: the neighbour cache;
//!   [`clock`]: the one clock seam.
#![forbid(unsafe_code)]

pub mod anycast;
pub mod arp;
pub mod client;
pub mod clock;
pub mod commands;
pub mod config;
pub mod fwd;
pub mod http;
pub mod lcore;
pub mod node;
pub mod overlay;
pub mod stats;
pub mod tcp;

pub use commands::Reply;
pub use config::NodeConfig;
pub use fwd::FwdMode;
pub use node::{Control, Node, RunOptions, Threading};

#[cfg(test)]
mod tests;
