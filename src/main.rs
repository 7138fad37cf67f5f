use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    rolecall::cli::run(rolecall::cli::Cli::parse())
}
