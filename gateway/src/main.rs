//! The `tiergate` binary.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tiergate_gateway::cli::main()
}
