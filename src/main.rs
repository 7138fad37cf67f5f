use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the process quietly, as
    // command-line tools do, instead of panicking on the broken pipe.
    #[cfg(unix)]
    // SAFETY: resetting a signal's disposition to its default before any
    // thread starts has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    rolecall::cli::run(rolecall::cli::Cli::parse())
}
