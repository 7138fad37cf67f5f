use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rolecall::cli::Cli::parse();
    // A one-shot command whose output is piped into `head` and closed early
    // ends quietly, as command-line tools do. Servers keep ignoring SIGPIPE
    // (Rust's default): a peer that closes its socket while a vectored write
    // is under way must cost that connection, not the process.
    #[cfg(unix)]
    if !cli.command.is_server() {
        // SAFETY: resetting a signal's disposition to its default before any
        // thread starts has no preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    rolecall::cli::run(cli)
}
