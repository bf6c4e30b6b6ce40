//! The `flowsim` binary: parse the command line, dispatch. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    flowsim::cli::main(flowsim::cli::Cli::parse())
}
