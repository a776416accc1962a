//! `anyedge`: the operator's binary.
//!
//! - `anyedge run [EAL args] -- [app args]`: the engine, driven like dpdk-testpmd;
//! - `anyedge demo`: the main job on the built-in simulator (no root, no NIC);
//! - `anyedge ctl PATH 'COMMAND'`: one console command to a running engine;
//! - `anyedge get [EAL args] -- --ip CIDR [options] URL`: download one object
//!   over the engine's TCP, resuming with Range after a reset.
#![forbid(unsafe_code)]

mod console;
mod ctl;
mod demo;
mod demo_overlay;
mod demo_replica;
mod eal;
mod get;
mod run;
#[cfg(feature = "dpdk")]
mod run_dpdk;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "anyedge",
    version,
    about = "Kernel-bypass packet engine for CDN edge nodes"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the engine: `anyedge run [EAL args] -- [app args]` (testpmd style;
    /// `anyedge run -- --help` lists the app args).
    Run {
        /// EAL arguments, `--`, application arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run the main job on the built-in simulator (no root, no DPDK, no NIC).
    Demo(demo::DemoArgs),
    /// Download one object over the engine's TCP, resuming with Range after
    /// a reset: `anyedge get [EAL args] -- --ip CIDR [--gateway IP] [-o FILE] URL`
    /// (`anyedge get -- --help` lists the options).
    Get {
        /// EAL arguments, `--`, options and the URL.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Send one console command to a running engine and print the answer.
    Ctl {
        /// The engine's --ctl-socket path.
        socket: PathBuf,
        /// The command, e.g. 'show port stats all json'.
        command: Vec<String>,
    },
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    let cli = Cli::parse();
    let result = match cli.cmd {
        // clap swallows a leading `--`, which separates EAL from app args here:
        // take the words after `run` exactly as the operator typed them.
        Cmd::Run { args: _ } => run::run(
            std::env::args()
                .skip_while(|a| a != "run")
                .skip(1)
                .collect(),
        )
        .map(|_| 0),
        Cmd::Get { args: _ } => get::get(
            std::env::args()
                .skip_while(|a| a != "get")
                .skip(1)
                .collect(),
        ),
        Cmd::Demo(a) => demo::main(a).map(|_| 0),
        Cmd::Ctl { socket, command } => ctl::client(&socket, &command.join(" ")),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One clear line, with its causes.
            eprintln!("anyedge: {e:#}");
            std::process::exit(2);
        }
    }
}
