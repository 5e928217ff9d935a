//! The dashboard binary, built beside the tests so that they can run it as a process
//! of its own: to kill it with SIGKILL, or stop it with SIGTERM.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
