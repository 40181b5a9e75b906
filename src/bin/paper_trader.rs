//! The `paper_trader` command line: everything lives in the library (`paper_trader::cli`), so
//! a program with its own strategy kinds gets the same commands (`examples/custom_strategy`).

fn main() -> std::process::ExitCode {
    paper_trader::cli::main()
}
