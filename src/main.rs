//! The `flowsim` binary: parse the command line, dispatch. Nothing else.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, not the system allocator: the engine's hot path is many small,
/// short-lived allocations (history details, messages, JSON values), where
/// glibc's malloc spent about half of `flowsim bench`'s time and grew
/// slower as retained executions piled up. Measured with `flowsim bench`;
/// figures in the commit that chose it. The `system-allocator` feature
/// builds without it, so valgrind's DHAT can count allocations (see
/// CONTRIBUTING.md, Benchmarks).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    flowsim::cli::main(flowsim::cli::Cli::parse())
}
